//! [`Client::connect`], [`Client::builder`] and the [`ClientBuilder`]: making a client.

use super::Client;
use crate::config::Config;
use crate::connection::Connection;
use crate::error::Result;

/// Builds a [`Client`] with settings other than the defaults; see [`Client::builder`].
#[derive(Debug, Clone)]
#[must_use = "a builder connects nothing until `connect` is called"]
pub struct ClientBuilder {
    addr: String,
    config: Config,
}

impl ClientBuilder {
    /// Connection settings: timeouts, socket options, limits. Default: [`Config::default`].
    ///
    /// ```
    /// use memcache_sync::{Client, Config};
    /// use std::time::Duration;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let config = Config::default().with_connect_timeout(Duration::from_millis(250));
    /// let client = Client::builder(&addr).config(config).connect()?;
    /// assert_eq!(client.config().connect_timeout(), Duration::from_millis(250));
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Connects, eagerly: a dead server is an error here, not at the first command.
    ///
    /// ```
    /// use memcache_sync::{Client, Config, Error, Phase};
    /// use std::time::{Duration, Instant};
    ///
    /// // Nothing listens on port 1: a typed error, quickly.
    /// let config = Config::default().with_connect_timeout(Duration::from_millis(200));
    /// let started = Instant::now();
    /// let error = Client::builder("127.0.0.1:1").config(config).connect().unwrap_err();
    /// assert!(error.is_connection_error());
    /// assert!(matches!(error, Error::Connect { .. } | Error::Timeout { phase: Phase::Connect, .. }));
    /// assert!(started.elapsed() < Duration::from_secs(1));
    /// ```
    pub fn connect(self) -> Result<Client> {
        Client::open(&self.addr, self.config)
    }
}

/// # Connecting
///
/// A client is built for one server address and connects at once, so a dead server or a
/// wrong address is an error where the client is made, not at its first command. Settings
/// other than the defaults go through [`Client::builder`] and a [`Config`]. After an error
/// that drops the connection, the next command reconnects on its own; [`Client::is_connected`]
/// says whether a connection is open now.
impl Client {
    /// Connects to the server at `addr` (`"host:port"`; a name may resolve to several IPv4 and
    /// IPv6 addresses, tried in turn) with the default [`Config`]. Connecting is eager: a dead
    /// server is an error here, not at the first command. The shortcut for
    /// `Client::builder(addr).connect()`.
    ///
    /// ```
    /// use memcache_sync::Client;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let mut client = Client::connect(&addr)?; // "127.0.0.1:11211", "cache.internal:11211", "/run/memcached.sock"
    /// assert!(client.is_connected());
    /// # client.version()?;
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn connect(addr: &str) -> Result<Self> {
        Self::builder(addr).connect()
    }

    /// Starts building a client for the server at `addr`, to connect with settings of its own:
    /// the same shape as [`Pool::builder`](crate::Pool::builder) and
    /// [`Cluster::builder`](crate::Cluster::builder).
    ///
    /// ```
    /// use memcache_sync::{Client, Config};
    /// use std::time::Duration;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let mut client = Client::builder(&addr)
    ///     .config(Config::default().with_read_timeout(Duration::from_millis(300)))
    ///     .connect()?;
    /// assert_eq!(client.config().read_timeout(), Duration::from_millis(300));
    /// # client.version()?;
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn builder(addr: &str) -> ClientBuilder {
        ClientBuilder {
            addr: addr.to_owned(),
            config: Config::default(),
        }
    }

    /// Opens the connection and the client around it: what [`ClientBuilder::connect`] does,
    /// in the shape a [`Pool`](crate::Pool) keeps as its connector.
    pub(crate) fn open(addr: &str, config: Config) -> Result<Self> {
        let connection = Connection::open(addr, &config)?;
        Ok(Self {
            addr: addr.to_owned(),
            config,
            connection: Some(connection),
            request: Vec::new(),
            answered: Vec::new(),
        })
    }

    /// The address this client connects to, as given.
    ///
    /// ```
    /// # use memcache_sync::Client;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let client = Client::connect(&addr)?;
    /// assert_eq!(client.addr(), addr);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The settings this client was built with.
    ///
    /// ```
    /// # use memcache_sync::{Client, Config};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let client = Client::connect(&addr)?;
    /// assert_eq!(client.config().read_timeout(), Config::default().read_timeout());
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether a connection is open now. After an error that dropped it, this is `false` until
    /// the next command reconnects.
    ///
    /// ```
    /// # use memcache_sync::Client;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let mut client = Client::connect(&addr)?;
    /// assert!(client.is_connected());
    /// client.quit()?; // closes the connection
    /// assert!(!client.is_connected());
    /// client.version()?; // reconnects
    /// assert!(client.is_connected());
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn is_connected(&self) -> bool {
        self.connection.is_some()
    }
}
