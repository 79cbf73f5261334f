//! Connection settings: timeouts, socket options, limits and credentials, each with a finite
//! default.

use std::fmt;
use std::time::Duration;

/// How a [`Client`](crate::Client) connects and how long it may wait.
///
/// Every timeout is a deadline for the whole phase of one operation, never per system call: a
/// server that trickles a byte at a time cannot stretch a read past `read_timeout`. A
/// [`Deadline`](crate::Deadline) of the caller's own bounds a whole call on top of these.
///
/// ```
/// use memcache_sync::Config;
/// use std::time::Duration;
///
/// let config = Config::default()
///     .with_connect_timeout(Duration::from_millis(250))
///     .with_read_timeout(Duration::from_millis(300))
///     .with_tcp_keepalive(Some(Duration::from_secs(30)));
/// assert_eq!(config.write_timeout(), Duration::from_secs(1)); // the default
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    connect_timeout: Duration,
    read_timeout: Duration,
    write_timeout: Duration,
    server_kind: ServerKind,
    nodelay: bool,
    tcp_keepalive: Option<Duration>,
    max_value_size: usize,
    quiet_batches: bool,
    credentials: Option<Credentials>,
    #[cfg(feature = "tls")]
    tls: Option<crate::TlsConfig>,
}

/// A user name and the password that goes with it; the password never prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Credentials {
    pub(crate) user: String,
    pub(crate) password: Secret,
}

/// A password: bytes that no `Debug` output, log line or error of this crate shows. Its
/// `Debug` is `Secret(<redacted>)`, and it has no `Display`.
///
/// ```
/// use memcache_sync::Secret;
/// let password = Secret::from("hunter2");
/// assert_eq!(format!("{password:?}"), "Secret(<redacted>)");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// The secret's bytes, for the one place that must send them.
    pub(crate) fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl From<&str> for Secret {
    fn from(password: &str) -> Self {
        Self(password.as_bytes().to_vec())
    }
}

impl From<String> for Secret {
    fn from(password: String) -> Self {
        Self(password.into_bytes())
    }
}

impl From<&[u8]> for Secret {
    fn from(password: &[u8]) -> Self {
        Self(password.to_vec())
    }
}

impl From<Vec<u8>> for Secret {
    fn from(password: Vec<u8>) -> Self {
        Self(password)
    }
}

/// What answers on the far end of the connection: memcached itself, or a proxy that speaks
/// its protocol but lacks some of its commands. Set it with [`Config::with_server_kind`].
///
/// ```
/// use memcache_sync::{Config, ServerKind};
/// assert_eq!(Config::default().server_kind(), ServerKind::Memcached);
/// let proxy = Config::default().with_server_kind(ServerKind::Twemproxy);
/// assert_eq!(proxy.server_kind().to_string(), "twemproxy");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ServerKind {
    /// memcached, or anything that answers every command it does. The default.
    #[default]
    Memcached,
    /// twemproxy (nutcracker). nutcracker 0.5 answers a command it does not proxy by closing
    /// the connection, which would read as a lost connection; with this kind the client
    /// refuses those commands before sending, with
    /// [`Error::NotSupportedByServer`](crate::Error::NotSupportedByServer): `gat`, `gats`,
    /// `flush_all` ([`Client::flush_all`](crate::Client::flush_all) and
    /// [`Client::flush_all_after`](crate::Client::flush_all_after)), every `stats` call and
    /// `verbosity`. Everything else, `touch` and `version` included, is sent as usual.
    Twemproxy,
}

impl ServerKind {
    /// Whether this kind of server answers `command` (the command's name as
    /// [`Error::NotSupportedByServer`](crate::Error::NotSupportedByServer) reports it).
    /// Observed through nutcracker 0.5: it closes the connection on each of these.
    pub(crate) fn supports(self, command: &str) -> bool {
        match self {
            Self::Memcached => true,
            Self::Twemproxy => !matches!(
                command,
                "gat" | "gats" | "flush_all" | "stats" | "verbosity" | "meta"
            ),
        }
    }
}

impl fmt::Display for ServerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Memcached => "memcached",
            Self::Twemproxy => "twemproxy",
        })
    }
}

/// The shortest timeout: a zero timeout would mean "wait forever" to the socket layer.
const MIN_TIMEOUT: Duration = Duration::from_millis(1);

impl Default for Config {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(1),
            read_timeout: Duration::from_secs(1),
            write_timeout: Duration::from_secs(1),
            server_kind: ServerKind::Memcached,
            nodelay: true,
            tcp_keepalive: None,
            max_value_size: 1024 * 1024,
            quiet_batches: false,
            credentials: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl Config {
    /// The limit on resolving the address and opening the connection, across every address
    /// the name resolves to. Default: 1 s. A zero duration is raised to 1 ms.
    ///
    /// The system resolver cannot be interrupted, so a name (not a literal IP address) is
    /// resolved on a helper thread that this limit stops waiting for; the thread ends when the
    /// resolver answers. At most 32 such threads run at once in the process: a connect that
    /// would start another while the resolver is that far behind fails at once with
    /// [`Error::Connect`](crate::Error::Connect) whose source is of kind
    /// [`std::io::ErrorKind::WouldBlock`]. Like a resolution timeout, that is transient
    /// ([`Error::is_transient`](crate::Error::is_transient)), nothing was sent, and a
    /// [`Cluster`](crate::Cluster) weighs it against the server exactly as it weighs a
    /// resolution timeout.
    ///
    /// ```
    /// use memcache_sync::Config;
    /// use std::time::Duration;
    /// let config = Config::default().with_connect_timeout(Duration::from_millis(100));
    /// assert_eq!(config.connect_timeout(), Duration::from_millis(100));
    /// ```
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout.max(MIN_TIMEOUT);
        self
    }

    /// The limit on waiting for and reading one operation's whole reply, counted from when
    /// its request was sent; in a batch, every reply to one window must arrive within this of
    /// the window's send. Default: 1 s. A zero duration is raised to 1 ms. To bound a whole
    /// call (every window, reconnect and retry), use a [`Deadline`](crate::Deadline).
    ///
    /// ```
    /// use memcache_sync::Config;
    /// use std::time::Duration;
    /// let config = Config::default().with_read_timeout(Duration::from_millis(50));
    /// assert_eq!(config.read_timeout(), Duration::from_millis(50));
    /// assert_eq!(Config::default().with_read_timeout(Duration::ZERO).read_timeout(), Duration::from_millis(1));
    /// ```
    pub fn with_read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout.max(MIN_TIMEOUT);
        self
    }

    /// The limit on sending one operation's whole request. Default: 1 s. A zero duration is
    /// raised to 1 ms.
    ///
    /// ```
    /// use memcache_sync::Config;
    /// use std::time::Duration;
    /// let config = Config::default().with_write_timeout(Duration::from_millis(500));
    /// assert_eq!(config.write_timeout(), Duration::from_millis(500));
    /// ```
    pub fn with_write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout.max(MIN_TIMEOUT);
        self
    }

    /// Whether to set `TCP_NODELAY`, so small requests leave at once. Default: on.
    ///
    /// ```
    /// use memcache_sync::Config;
    /// assert!(!Config::default().with_nodelay(false).nodelay());
    /// ```
    pub fn with_nodelay(mut self, nodelay: bool) -> Self {
        self.nodelay = nodelay;
        self
    }

    /// TCP keepalive: the idle time before the first probe, or `None` for no keepalive.
    /// Default: `None`.
    ///
    /// ```
    /// use memcache_sync::Config;
    /// use std::time::Duration;
    /// let config = Config::default().with_tcp_keepalive(Some(Duration::from_secs(60)));
    /// assert_eq!(config.tcp_keepalive(), Some(Duration::from_secs(60)));
    /// ```
    pub fn with_tcp_keepalive(mut self, idle: Option<Duration>) -> Self {
        self.tcp_keepalive = idle;
        self
    }

    /// The largest value this client sends or accepts, in bytes. A longer value is refused
    /// before sending, and a reply claiming a longer one is a protocol error before anything is
    /// allocated. Default: 1 MiB, memcached's default item size (`-I 1m`); memcached's limit
    /// counts the key and about 50 bytes of item header too, so a value of exactly 1 MiB is
    /// refused by a default server with `SERVER_ERROR object too large for cache`.
    ///
    /// ```
    /// use memcache_sync::Config;
    /// // For a server started with `-I 8m`.
    /// let config = Config::default().with_max_value_size(8 * 1024 * 1024 - 4096);
    /// assert_eq!(config.max_value_size(), 8 * 1024 * 1024 - 4096);
    /// ```
    pub fn with_max_value_size(mut self, bytes: usize) -> Self {
        self.max_value_size = bytes;
        self
    }

    /// Whether store, delete and touch batches ([`Client::set_many`](crate::Client::set_many)
    /// and its siblings) go out as quiet meta commands (`ms`/`md`/`mg … q`), each window
    /// closed by `mn`. Default: off, the classic commands, one reply per item.
    ///
    /// Quiet, the server answers only the items that did not simply succeed, each naming its
    /// item by an opaque token, and `MN` once it has processed the window: every item still
    /// gets its exact outcome, the same as the classic batch's, but a successful item costs no
    /// reply to write, send or parse. An item is reported done only once its window's `MN`
    /// has arrived; a connection lost before that leaves it
    /// [`Unconfirmed`](crate::ItemResult::Unconfirmed). Values of 8 KiB or more are sent
    /// without `q`, so that the one failure memcached reports without an opaque (`SERVER_ERROR
    /// object too large for cache`) is still matched to its item; if memcached ever reports
    /// such a failure where it cannot be matched (out of memory among many quiet items), the
    /// items it may belong to are left `Unconfirmed` and the batch stops.
    ///
    /// Needs the meta protocol (memcached 1.6 or later). With
    /// [`ServerKind::Twemproxy`], which has none, a batch is refused before anything is sent
    /// or taken from its input: its [`stop_error`](crate::BatchReport::stop_error) is
    /// [`Error::NotSupportedByServer`](crate::Error::NotSupportedByServer).
    ///
    /// ```
    /// use memcache_sync::{Client, Config, Entry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let config = Config::default().with_quiet_batches(true);
    /// assert!(config.quiet_batches());
    /// let mut client = Client::builder(&addr).config(config).connect()?;
    /// let report = client.set_many((0..1000).map(|i| Entry::new(format!("doc:quiet:{i}"), "v")))?;
    /// assert_eq!(report.done_count(), 1000);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn with_quiet_batches(mut self, quiet: bool) -> Self {
        self.quiet_batches = quiet;
        self
    }

    /// See [`Config::with_quiet_batches`].
    ///
    /// ```
    /// use memcache_sync::Config;
    /// assert!(!Config::default().quiet_batches());
    /// ```
    pub fn quiet_batches(&self) -> bool {
        self.quiet_batches
    }

    /// What the client talks to: memcached (the default) or a proxy such as twemproxy
    /// ([`ServerKind`]). With [`ServerKind::Twemproxy`], the commands nutcracker lacks are
    /// refused before anything is sent, with
    /// [`Error::NotSupportedByServer`](crate::Error::NotSupportedByServer), and the
    /// connection is kept.
    ///
    /// Without it, nutcracker answers such a command by closing the connection: the client
    /// reports [`Error::ConnectionClosed`](crate::Error::ConnectionClosed), which is
    /// transient, and a [`Cluster`](crate::Cluster) counts it as a failure of the proxy. The
    /// client cannot tell that close from a proxy that died, so only this setting keeps a
    /// `gat` from taking the proxy out of the ring: it is never sent.
    pub fn with_server_kind(mut self, kind: ServerKind) -> Self {
        self.server_kind = kind;
        self
    }

    /// See [`Config::with_server_kind`].
    pub fn server_kind(&self) -> ServerKind {
        self.server_kind
    }

    /// See [`Config::with_connect_timeout`].
    ///
    /// ```
    /// use memcache_sync::Config;
    /// use std::time::Duration;
    /// assert_eq!(Config::default().connect_timeout(), Duration::from_secs(1));
    /// ```
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// See [`Config::with_read_timeout`].
    ///
    /// ```
    /// use memcache_sync::Config;
    /// use std::time::Duration;
    /// assert_eq!(Config::default().read_timeout(), Duration::from_secs(1));
    /// ```
    pub fn read_timeout(&self) -> Duration {
        self.read_timeout
    }

    /// See [`Config::with_write_timeout`].
    ///
    /// ```
    /// use memcache_sync::Config;
    /// use std::time::Duration;
    /// assert_eq!(Config::default().write_timeout(), Duration::from_secs(1));
    /// ```
    pub fn write_timeout(&self) -> Duration {
        self.write_timeout
    }

    /// See [`Config::with_nodelay`].
    ///
    /// ```
    /// use memcache_sync::Config;
    /// assert!(Config::default().nodelay());
    /// ```
    pub fn nodelay(&self) -> bool {
        self.nodelay
    }

    /// See [`Config::with_tcp_keepalive`].
    ///
    /// ```
    /// use memcache_sync::Config;
    /// assert_eq!(Config::default().tcp_keepalive(), None);
    /// ```
    pub fn tcp_keepalive(&self) -> Option<Duration> {
        self.tcp_keepalive
    }

    /// See [`Config::with_max_value_size`].
    ///
    /// ```
    /// use memcache_sync::Config;
    /// assert_eq!(Config::default().max_value_size(), 1024 * 1024);
    /// ```
    pub fn max_value_size(&self) -> usize {
        self.max_value_size
    }

    /// Credentials for memcached's ASCII authentication (a server started with `-Y FILE`).
    /// Default: none.
    ///
    /// Every connection authenticates once, right after it opens and before anything else is
    /// sent on it, including the reconnects a [`Pool`](crate::Pool) and a
    /// [`Cluster`](crate::Cluster) make. It first asks `version`: a server that requires
    /// authentication answers `CLIENT_ERROR unauthenticated`, and only then are the
    /// credentials sent (`set <user> 0 0 <len>`, data `<user> <password>`). memcached takes
    /// *any* `set` on an authenticated connection, or on a server without `-Y`, as an ordinary
    /// store, so sending the credentials blind would store them as an item that every client
    /// can read; a server that answers `version` normally gets no credentials (and the crate
    /// logs a warning). A new connection so costs two round trips before its first command;
    /// each is held to the read and write timeouts like any other.
    ///
    /// A wrong user or password is [`Error::AuthenticationFailed`](crate::Error) at connect;
    /// memcached keeps such a connection open and unauthenticated, and this crate closes it.
    /// Without credentials, a server that requires them answers every command with
    /// [`Error::AuthenticationRequired`](crate::Error). Neither is transient, and a
    /// [`Cluster`](crate::Cluster) counts both as answers from a healthy server.
    ///
    /// The user name travels as the `set`'s key, so it follows the key rules (1 to 250 bytes,
    /// no spaces or control bytes); another is [`Error::InvalidArgument`](crate::Error) at
    /// connect, before anything is sent. Neither the password nor the data block holding it
    /// appears in any `Debug` output, log line or error.
    ///
    /// # memcached's auth file
    /// As memcached 1.6.18 reads it (observed on Debian's build, and in its `authfile.c`):
    /// - one `user:password` per line, split at the **first** `:` (so a user name cannot hold
    ///   a `:`, and a password can);
    /// - **a file without a final newline loses the last character of its last password**:
    ///   `user:secret` with no newline after it authenticates `secret` minus its `t`. End the
    ///   file with a newline;
    /// - a password that contains a space never authenticates;
    /// - only the first 8 lines are read (a ninth user never authenticates), each at most
    ///   255 bytes with its newline (`authfile.c`'s limits).
    ///
    /// ```
    /// use memcache_sync::Config;
    /// let config = Config::default().with_credentials("app", "s3cret");
    /// assert_eq!(config.username(), Some("app"));
    /// assert!(!format!("{config:?}").contains("s3cret"));
    /// ```
    pub fn with_credentials(
        mut self,
        user: impl Into<String>,
        password: impl Into<Secret>,
    ) -> Self {
        self.credentials = Some(Credentials {
            user: user.into(),
            password: password.into(),
        });
        self
    }

    /// The user name set by [`Config::with_credentials`], if any. (The password cannot be
    /// read back.)
    ///
    /// ```
    /// use memcache_sync::Config;
    /// assert_eq!(Config::default().username(), None);
    /// assert_eq!(Config::default().with_credentials("app", "pw").username(), Some("app"));
    /// ```
    pub fn username(&self) -> Option<&str> {
        self.credentials.as_ref().map(|c| c.user.as_str())
    }

    /// See [`Config::with_credentials`].
    pub(crate) fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    /// TLS on every connection (the `tls` cargo feature). Default: none, plain TCP.
    ///
    /// Each connection runs its handshake right after the socket connects and before
    /// anything else, authentication included; [`Config::with_connect_timeout`] bounds the
    /// connect and the handshake together, and the read and write timeouts bound each
    /// operation across however many TLS records it takes. Failures are
    /// [`Error::Tls`](crate::Error::Tls), never retried. A [`Pool`](crate::Pool) keeps its
    /// connections, TLS sessions and all, so a checkout costs no handshake.
    ///
    /// ```
    /// use memcache_sync::{Config, TlsConfig};
    /// let tls = TlsConfig::new().server_name("cache.example.com")?;
    /// let config = Config::default().with_tls(tls);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    #[cfg(feature = "tls")]
    pub fn with_tls(mut self, tls: crate::TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// See [`Config::with_tls`].
    #[cfg(feature = "tls")]
    pub fn tls(&self) -> Option<&crate::TlsConfig> {
        self.tls.as_ref()
    }
}
