//! Connection settings: timeouts, socket options and limits, each with a finite default.

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
    nodelay: bool,
    tcp_keepalive: Option<Duration>,
    max_value_size: usize,
}

/// The shortest timeout: a zero timeout would mean "wait forever" to the socket layer.
const MIN_TIMEOUT: Duration = Duration::from_millis(1);

impl Default for Config {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(1),
            read_timeout: Duration::from_secs(1),
            write_timeout: Duration::from_secs(1),
            nodelay: true,
            tcp_keepalive: None,
            max_value_size: 1024 * 1024,
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
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout.max(MIN_TIMEOUT);
        self
    }

    /// The limit on waiting for and reading one operation's whole reply, counted from when
    /// its request was sent; in a batch, every reply to one window must arrive within this of
    /// the window's send. Default: 1 s. A zero duration is raised to 1 ms. To bound a whole
    /// call (every window, reconnect and retry), use a [`Deadline`](crate::Deadline).
    pub fn with_read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout.max(MIN_TIMEOUT);
        self
    }

    /// The limit on sending one operation's whole request. Default: 1 s. A zero duration is
    /// raised to 1 ms.
    pub fn with_write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout.max(MIN_TIMEOUT);
        self
    }

    /// Whether to set `TCP_NODELAY`, so small requests leave at once. Default: on.
    pub fn with_nodelay(mut self, nodelay: bool) -> Self {
        self.nodelay = nodelay;
        self
    }

    /// TCP keepalive: the idle time before the first probe, or `None` for no keepalive.
    /// Default: `None`.
    pub fn with_tcp_keepalive(mut self, idle: Option<Duration>) -> Self {
        self.tcp_keepalive = idle;
        self
    }

    /// The largest value this client sends or accepts, in bytes. A longer value is refused
    /// before sending, and a reply claiming a longer one is a protocol error before anything is
    /// allocated. Default: 1 MiB, memcached's default item size (`-I 1m`); memcached's limit
    /// counts the key and about 50 bytes of item header too, so a value of exactly 1 MiB is
    /// refused by a default server with `SERVER_ERROR object too large for cache`.
    pub fn with_max_value_size(mut self, bytes: usize) -> Self {
        self.max_value_size = bytes;
        self
    }

    /// See [`Config::with_connect_timeout`].
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// See [`Config::with_read_timeout`].
    pub fn read_timeout(&self) -> Duration {
        self.read_timeout
    }

    /// See [`Config::with_write_timeout`].
    pub fn write_timeout(&self) -> Duration {
        self.write_timeout
    }

    /// See [`Config::with_nodelay`].
    pub fn nodelay(&self) -> bool {
        self.nodelay
    }

    /// See [`Config::with_tcp_keepalive`].
    pub fn tcp_keepalive(&self) -> Option<Duration> {
        self.tcp_keepalive
    }

    /// See [`Config::with_max_value_size`].
    pub fn max_value_size(&self) -> usize {
        self.max_value_size
    }
}
