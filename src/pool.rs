//! A thread-safe pool of connections to one server.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::client::Client;
use crate::config::Config;
use crate::deadline::{Bound, Deadline};
use crate::error::{Error, Phase, Result};

/// How many connections a [`Pool`] may open, how long a caller waits for one, and how long
/// an idle one is kept.
///
/// ```
/// use memcache_sync::PoolConfig;
/// use std::time::Duration;
/// let config = PoolConfig::default().with_max_size(4).with_checkout_timeout(Duration::from_millis(100));
/// assert_eq!(config.max_idle_time(), Duration::from_secs(300)); // the default
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    max_size: usize,
    checkout_timeout: Duration,
    max_idle_time: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_size: 8,
            checkout_timeout: Duration::from_secs(1),
            max_idle_time: Duration::from_secs(300),
        }
    }
}

impl PoolConfig {
    /// The most connections open at once, in use or idle. Default: 8. Raised to 1 if 0.
    ///
    /// ```
    /// use memcache_sync::PoolConfig;
    /// assert_eq!(PoolConfig::default().with_max_size(16).max_size(), 16);
    /// assert_eq!(PoolConfig::default().with_max_size(0).max_size(), 1);
    /// ```
    pub fn with_max_size(mut self, max_size: usize) -> Self {
        self.max_size = max_size.max(1);
        self
    }

    /// How long [`Pool::get`] waits for a connection when all are in use, before it fails
    /// with [`Error::PoolTimeout`]. Default: 1 s.
    ///
    /// A wait does not add to the connect timeout: [`Pool::get`] returns within the longer of
    /// this and [`Config::with_connect_timeout`], so a connect that starts after a wait gets
    /// only what is left of that.
    ///
    /// ```
    /// use memcache_sync::PoolConfig;
    /// use std::time::Duration;
    /// let config = PoolConfig::default().with_checkout_timeout(Duration::from_millis(50));
    /// assert_eq!(config.checkout_timeout(), Duration::from_millis(50));
    /// ```
    pub fn with_checkout_timeout(mut self, timeout: Duration) -> Self {
        self.checkout_timeout = timeout;
        self
    }

    /// A connection idle for longer than this is closed instead of reused (servers and
    /// firewalls drop idle connections). Default: 5 minutes.
    ///
    /// Every checkout and every return closes all the connections idle for longer, not only
    /// one it would have taken: under light load, when the most recently used connection is
    /// the only one taken, the others are closed at the first pool call after they pass this
    /// age. A pool nobody calls closes nothing (there is no background thread).
    ///
    /// ```
    /// use memcache_sync::PoolConfig;
    /// use std::time::Duration;
    /// // Below a firewall that drops connections idle for a minute.
    /// let config = PoolConfig::default().with_max_idle_time(Duration::from_secs(50));
    /// assert_eq!(config.max_idle_time(), Duration::from_secs(50));
    /// ```
    pub fn with_max_idle_time(mut self, idle: Duration) -> Self {
        self.max_idle_time = idle;
        self
    }

    /// See [`PoolConfig::with_max_size`].
    ///
    /// ```
    /// use memcache_sync::PoolConfig;
    /// assert_eq!(PoolConfig::default().max_size(), 8);
    /// ```
    pub fn max_size(&self) -> usize {
        self.max_size
    }

    /// See [`PoolConfig::with_checkout_timeout`].
    ///
    /// ```
    /// use memcache_sync::PoolConfig;
    /// use std::time::Duration;
    /// assert_eq!(PoolConfig::default().checkout_timeout(), Duration::from_secs(1));
    /// ```
    pub fn checkout_timeout(&self) -> Duration {
        self.checkout_timeout
    }

    /// See [`PoolConfig::with_max_idle_time`].
    ///
    /// ```
    /// use memcache_sync::PoolConfig;
    /// use std::time::Duration;
    /// assert_eq!(PoolConfig::default().max_idle_time(), Duration::from_secs(300));
    /// ```
    pub fn max_idle_time(&self) -> Duration {
        self.max_idle_time
    }
}

/// A pool of [`Client`]s for one server, shared by threads: `Send + Sync`, and cheap to clone
/// (clones share the connections).
///
/// [`Pool::get`] hands out a connection for as long as the returned guard lives: an idle one
/// if there is one (most recently used first, with no probe round trip), a new one while fewer
/// than the maximum are open, or else the first one returned within the checkout timeout. A
/// connection that saw an error that left it out of step is closed, never returned to the
/// pool. The server never sees more connections from the pool than its maximum.
///
/// ```
/// use memcache_sync::{Expiry, Pool, PoolConfig};
/// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
/// let pool = Pool::builder(&addr).pool(PoolConfig::default().with_max_size(4)).build();
/// let threads: Vec<_> = (0..8)
///     .map(|i| {
///         let pool = pool.clone();
///         std::thread::spawn(move || -> memcache_sync::Result<()> {
///             let mut client = pool.get()?;
///             client.set(format!("doc:pool:{i}"), "v", Expiry::after_secs(60))
///         })
///     })
///     .collect();
/// for thread in threads {
///     thread.join().unwrap()?;
/// }
/// assert!(pool.open_connections() <= 4);
/// # Ok::<(), memcache_sync::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Pool {
    shared: Arc<Shared>,
}

/// How a pool opens a connection: [`Client::open`], or a stand-in that unit tests make fail
/// or panic.
type Connector = fn(&str, Config) -> Result<Client>;

#[derive(Debug)]
struct Shared {
    addr: String,
    config: Config,
    pool_config: PoolConfig,
    connect: Connector,
    state: Mutex<State>,
    returned: Condvar,
}

#[derive(Debug)]
struct State {
    /// Oldest first: a return pushes at the end and a checkout takes from the end, so the ones
    /// idle too long are always at the front.
    idle: Vec<Idle>,
    /// Connections open now: idle, in use, or being opened.
    open: usize,
    /// Callers waiting for a connection: a return wakes one only if there is one, since a
    /// wake-up is a system call even with nobody waiting.
    waiting: usize,
}

#[derive(Debug)]
struct Idle {
    client: Client,
    since: Instant,
}

/// Builds a [`Pool`] with settings other than the defaults; see [`Pool::builder`].
#[derive(Debug, Clone)]
#[must_use = "a builder makes no pool until `build` is called"]
pub struct PoolBuilder {
    addr: String,
    config: Config,
    pool: PoolConfig,
}

impl PoolBuilder {
    /// Connection settings for every connection the pool opens. Default: [`Config::default`].
    ///
    /// ```
    /// use memcache_sync::{Config, Pool};
    /// use std::time::Duration;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let config = Config::default().with_read_timeout(Duration::from_millis(200));
    /// let pool = Pool::builder(&addr).config(config).build();
    /// assert_eq!(pool.get()?.config().read_timeout(), Duration::from_millis(200));
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// How many connections, how long a checkout waits, how long one may idle. Default:
    /// [`PoolConfig::default`].
    ///
    /// ```
    /// use memcache_sync::{Pool, PoolConfig};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let pool = Pool::builder(&addr).pool(PoolConfig::default().with_max_size(2)).build();
    /// let (_a, _b) = (pool.get()?, pool.get()?);
    /// assert_eq!(pool.open_connections(), 2);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn pool(mut self, pool: PoolConfig) -> Self {
        self.pool = pool;
        self
    }

    /// Makes the pool. No connection is opened until the first [`Pool::get`], so this cannot
    /// fail.
    ///
    /// ```
    /// use memcache_sync::Pool;
    /// // Nothing listens on port 1, and nothing is tried yet.
    /// let pool = Pool::builder("127.0.0.1:1").build();
    /// assert_eq!(pool.open_connections(), 0);
    /// assert!(pool.get().is_err()); // the first checkout connects, and fails
    /// ```
    pub fn build(self) -> Pool {
        Pool::with_connector(self.addr, self.config, self.pool, Client::open)
    }
}

impl Pool {
    /// A pool for the server at `addr` with the default [`Config`] and [`PoolConfig`]. No
    /// connection is opened until the first [`Pool::get`]. The shortcut for
    /// `Pool::builder(addr).build()`.
    ///
    /// ```
    /// use memcache_sync::{Expiry, Pool};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let pool = Pool::new(&addr);
    /// pool.get()?.set("doc:pool_new", "v", Expiry::after_secs(60))?;
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn new(addr: &str) -> Self {
        Self::builder(addr).build()
    }

    /// Starts building a pool for the server at `addr`, with settings of its own: the same
    /// shape as [`Client::builder`] and [`Cluster::builder`](crate::Cluster::builder).
    ///
    /// ```
    /// use memcache_sync::{Config, Pool, PoolConfig};
    /// use std::time::Duration;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let pool = Pool::builder(&addr)
    ///     .config(Config::default().with_read_timeout(Duration::from_millis(300)))
    ///     .pool(PoolConfig::default().with_max_size(4))
    ///     .build();
    /// pool.get()?.version()?;
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn builder(addr: &str) -> PoolBuilder {
        PoolBuilder {
            addr: addr.to_owned(),
            config: Config::default(),
            pool: PoolConfig::default(),
        }
    }

    /// A pool that opens its connections with `connect`: [`PoolBuilder::build`] passes
    /// [`Client::open`]; unit tests pass connectors that fail or panic on cue.
    fn with_connector(
        addr: String,
        config: Config,
        pool_config: PoolConfig,
        connect: Connector,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                addr,
                config,
                pool_config,
                connect,
                state: Mutex::new(State {
                    idle: Vec::new(),
                    open: 0,
                    waiting: 0,
                }),
                returned: Condvar::new(),
            }),
        }
    }

    /// The server's address, as given.
    ///
    /// ```
    /// use memcache_sync::Pool;
    /// let pool = Pool::new("127.0.0.1:11211");
    /// assert_eq!(pool.addr(), "127.0.0.1:11211");
    /// ```
    pub fn addr(&self) -> &str {
        &self.shared.addr
    }

    /// Takes a connection: an idle one, a new one, or one returned by another thread within
    /// the checkout timeout ([`Error::PoolTimeout`] after that). Opening a new connection can
    /// fail like [`Client::connect`].
    ///
    /// # Time limit
    /// `get` returns within the longer of the checkout timeout
    /// ([`PoolConfig::with_checkout_timeout`]) and the connect timeout
    /// ([`Config::with_connect_timeout`]), never their sum: a connect that starts after a wait
    /// (a slot freed by a connection that broke) gets only what is left of that limit, and
    /// fails with [`Error::Timeout`] in [`Phase::Connect`] naming the limit if it runs out
    /// first. A slot freed when nothing is left is an [`Error::PoolTimeout`]. The caller's
    /// [`Deadline`] cuts all of this short, as everywhere.
    ///
    /// ```
    /// use memcache_sync::{Expiry, Pool};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let pool = Pool::new(&addr);
    /// {
    ///     let mut client = pool.get()?; // derefs to a Client
    ///     client.set("doc:pool_get", "v", Expiry::after_secs(60))?;
    /// } // dropped: the connection goes back to the pool
    /// assert_eq!(pool.idle_connections(), 1);
    /// assert!(pool.get()?.get("doc:pool_get")?.is_some()); // the same connection, reused
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn get(&self) -> Result<PooledClient> {
        let shared = &self.shared;
        let limits = &shared.pool_config;
        let start = Instant::now();
        let checkout = Bound::new(start, limits.checkout_timeout);
        let mut state = shared.lock();
        loop {
            let expired = state.take_expired(limits.max_idle_time);
            if !expired.is_empty() {
                // Closing a socket is a system call: never under the lock.
                shared.wake_all(state);
                drop(expired);
                state = shared.lock();
                continue;
            }
            if let Some(idle) = state.idle.pop() {
                return Ok(self.guard(idle.client));
            }
            if state.open < limits.max_size {
                state.open += 1;
                let slot = Slot(shared);
                drop(state);
                return self.open(slot, start, &checkout);
            }
            let remaining = checkout.remaining();
            if remaining.is_zero() {
                return Err(self.checkout_expired(&checkout));
            }
            state.waiting += 1;
            state = shared
                .returned
                .wait_timeout(state, remaining)
                .map_or_else(|poisoned| poisoned.into_inner().0, |(state, _)| state);
            state.waiting -= 1;
        }
    }

    /// Opens a connection into `slot`, within what is left of the one limit on [`Pool::get`]
    /// that started at `start`. The slot is given back however this ends, a panic included.
    fn open(&self, slot: Slot<'_>, start: Instant, checkout: &Bound) -> Result<PooledClient> {
        let shared = &self.shared;
        let timeout = shared
            .pool_config
            .checkout_timeout
            .max(shared.config.connect_timeout());
        let limit = Bound::new(start, timeout);
        if limit.passed() {
            // A connect given no time would blame the server for the wait.
            return Err(self.checkout_expired(checkout));
        }
        match Deadline::at(limit.at()).run(|| (shared.connect)(&shared.addr, shared.config.clone()))
        {
            Ok(client) => {
                // From here the guard's drop gives the slot back.
                std::mem::forget(slot);
                Ok(self.guard(client))
            }
            // The limit, standing in as a deadline, cut the connect short: report it as the
            // limit it is, unless the caller's own deadline came first.
            Err(Error::DeadlineExceeded { phase }) => Err(limit.expired(phase)),
            Err(error) => Err(error),
        }
    }

    /// The error for a checkout whose wait ran out: the pool's, or the caller's deadline's.
    fn checkout_expired(&self, checkout: &Bound) -> Error {
        match checkout.expired(Phase::Connect) {
            Error::Timeout { .. } => Error::PoolTimeout {
                waited: self.shared.pool_config.checkout_timeout,
                max_size: self.shared.pool_config.max_size,
            },
            callers => callers,
        }
    }

    /// An idle connection if there is one, without opening one or waiting for one: a call
    /// across several servers takes these at once on its own thread and opens the others
    /// together, so that it waits for all of its connects at the same time.
    pub(crate) fn try_idle(&self) -> Option<PooledClient> {
        let shared = &self.shared;
        let mut state = shared.lock();
        let expired = state.take_expired(shared.pool_config.max_idle_time);
        let taken = state.idle.pop();
        // A closed stale connection frees a slot this caller does not fill: a waiter may.
        if expired.is_empty() {
            drop(state);
        } else {
            shared.wake_all(state);
        }
        // Closing a socket is a system call: never under the lock.
        drop(expired);
        taken.map(|idle| self.guard(idle.client))
    }

    /// How many connections are open now, in use or idle.
    ///
    /// ```
    /// use memcache_sync::Pool;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let pool = Pool::new(&addr);
    /// assert_eq!(pool.open_connections(), 0); // none until the first checkout
    /// let client = pool.get()?;
    /// assert_eq!(pool.open_connections(), 1);
    /// # drop(client);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn open_connections(&self) -> usize {
        self.shared.lock().open
    }

    /// How many open connections are idle now.
    ///
    /// ```
    /// use memcache_sync::Pool;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let pool = Pool::new(&addr);
    /// let client = pool.get()?;
    /// assert_eq!(pool.idle_connections(), 0); // in use
    /// drop(client);
    /// assert_eq!(pool.idle_connections(), 1);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn idle_connections(&self) -> usize {
        self.shared.lock().idle.len()
    }

    fn guard(&self, client: Client) -> PooledClient {
        PooledClient {
            client: Some(client),
            pool: Arc::clone(&self.shared),
        }
    }
}

/// A counted slot not yet handed out in a [`PooledClient`]: dropping it, on an error or on a
/// panic unwinding through the connect, gives the slot back and wakes a waiter, so no failure
/// shrinks the pool for good.
struct Slot<'a>(&'a Shared);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.release_slot();
    }
}

impl State {
    /// Takes out every idle connection unused for longer than `max_idle`, for the caller to
    /// close once the lock is released; they no longer count as open.
    fn take_expired(&mut self, max_idle: Duration) -> Vec<Idle> {
        let Some(oldest) = self.idle.first() else {
            return Vec::new();
        };
        let now = Instant::now();
        if now.saturating_duration_since(oldest.since) <= max_idle {
            return Vec::new();
        }
        let stale = self
            .idle
            .partition_point(|idle| now.saturating_duration_since(idle.since) > max_idle);
        self.open -= stale;
        self.idle.drain(..stale).collect()
    }
}

impl Shared {
    /// The state stays consistent across a panic elsewhere (every update is a single step),
    /// so a poisoned lock is still usable.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn release_slot(&self) {
        let mut state = self.lock();
        state.open -= 1;
        self.wake_one(state);
    }

    /// Wakes one waiting caller, if any, after the change `state` holds.
    fn wake_one(&self, state: MutexGuard<'_, State>) {
        let someone_waits = state.waiting > 0;
        drop(state);
        if someone_waits {
            self.returned.notify_one();
        }
    }

    /// Wakes every waiting caller, if any, after a change that freed several slots at once.
    fn wake_all(&self, state: MutexGuard<'_, State>) {
        let someone_waits = state.waiting > 0;
        drop(state);
        if someone_waits {
            self.returned.notify_all();
        }
    }
}

/// A connection taken from a [`Pool`]; it derefs to [`Client`]. Dropping it returns the
/// connection to the pool, unless an error closed it.
///
/// ```
/// use memcache_sync::{Expiry, Pool, PooledClient};
/// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
/// let pool = Pool::new(&addr);
/// let mut client: PooledClient = pool.get()?;
/// client.set("doc:pooled", "v", Expiry::after_secs(60))?; // any Client method
/// drop(client); // back to the pool
/// assert_eq!(pool.idle_connections(), 1);
/// # Ok::<(), memcache_sync::Error>(())
/// ```
#[derive(Debug)]
pub struct PooledClient {
    client: Option<Client>,
    pool: Arc<Shared>,
}

impl Deref for PooledClient {
    type Target = Client;

    fn deref(&self) -> &Client {
        self.client.as_ref().expect("present until drop")
    }
}

impl DerefMut for PooledClient {
    fn deref_mut(&mut self) -> &mut Client {
        self.client.as_mut().expect("present until drop")
    }
}

impl Drop for PooledClient {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        if client.is_connected() {
            let mut state = self.pool.lock();
            let expired = state.take_expired(self.pool.pool_config.max_idle_time);
            // Stamped under the lock, so the idle list stays in order of age.
            state.idle.push(Idle {
                client,
                since: Instant::now(),
            });
            if expired.is_empty() {
                self.pool.wake_one(state);
            } else {
                self.pool.wake_all(state);
                drop(expired);
            }
        } else {
            drop(client);
            self.pool.release_slot();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::thread;

    /// A listening socket: the kernel completes connects to it, which is all a `Client`
    /// needs to open, and no request is ever sent in these tests.
    fn listener() -> (TcpListener, String) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        (listener, addr)
    }

    fn pool_of_one(addr: &str, connect: Connector) -> Pool {
        let pool_config = PoolConfig::default()
            .with_max_size(1)
            .with_checkout_timeout(Duration::from_secs(5));
        Pool::with_connector(addr.to_owned(), Config::default(), pool_config, connect)
    }

    #[test]
    fn a_panic_inside_connect_gives_the_slot_back() {
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        fn first_panics(addr: &str, config: Config) -> Result<Client> {
            if CALLS.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("the first connect panics");
            }
            Client::open(addr, config)
        }
        let (_listener, addr) = listener();
        let pool = pool_of_one(&addr, first_panics);

        assert!(catch_unwind(AssertUnwindSafe(|| pool.get())).is_err());
        assert_eq!(pool.open_connections(), 0, "the panic kept its slot");
        let started = Instant::now();
        let client = pool.get().expect("a pool of one after a panic");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(pool.open_connections(), 1);
        drop(client);
        assert_eq!(pool.idle_connections(), 1);
    }

    #[test]
    fn a_caller_waiting_for_the_slot_of_a_connect_that_panics_is_woken_and_takes_it() {
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        fn first_stalls_then_panics(addr: &str, config: Config) -> Result<Client> {
            if CALLS.fetch_add(1, Ordering::SeqCst) == 0 {
                thread::sleep(Duration::from_millis(300));
                panic!("the first connect panics");
            }
            Client::open(addr, config)
        }
        let (_listener, addr) = listener();
        let pool = pool_of_one(&addr, first_stalls_then_panics);

        let panicking = {
            let pool = pool.clone();
            thread::spawn(move || pool.get().map(drop))
        };
        while CALLS.load(Ordering::SeqCst) == 0 {
            thread::yield_now();
        }
        // The one slot is taken by the stalled connect: this checkout waits for it.
        let started = Instant::now();
        let result = pool.get();
        let waited = started.elapsed();
        assert!(panicking.join().is_err(), "the first connect did not panic");
        let client = result.expect("the waiter took the freed slot");
        assert!(
            waited < Duration::from_secs(2),
            "woken only after {waited:?}: by its checkout timeout, not by the panic"
        );
        assert_eq!(pool.open_connections(), 1);
        drop(client);
    }

    #[test]
    fn a_panic_while_a_connection_is_checked_out_returns_it_to_the_pool() {
        let (_listener, addr) = listener();
        let pool = pool_of_one(&addr, Client::open);
        let unwound = catch_unwind(AssertUnwindSafe(|| {
            let _client = pool.get().unwrap();
            panic!("the caller panics while holding the connection");
        }));
        assert!(unwound.is_err());
        assert_eq!(pool.open_connections(), 1);
        assert_eq!(pool.idle_connections(), 1);
        drop(pool.get().expect("the returned connection"));
    }

    #[test]
    fn a_failed_connect_gives_the_slot_back() {
        fn refused(addr: &str, _: Config) -> Result<Client> {
            Err(Error::Connect {
                addr: addr.to_owned(),
                source: std::io::Error::from(std::io::ErrorKind::ConnectionRefused).into(),
            })
        }
        let pool = pool_of_one("127.0.0.1:1", refused);
        for _ in 0..3 {
            assert!(matches!(pool.get(), Err(Error::Connect { .. })));
            assert_eq!(pool.open_connections(), 0);
        }
    }

    #[test]
    fn a_return_closes_the_connections_idle_past_max_idle_time() {
        let (_listener, addr) = listener();
        let max_idle = Duration::from_millis(100);
        let pool = Pool::builder(&addr)
            .pool(
                PoolConfig::default()
                    .with_max_size(2)
                    .with_max_idle_time(max_idle),
            )
            .build();
        let (first, second) = (pool.get().unwrap(), pool.get().unwrap());
        drop(first);
        thread::sleep(max_idle + Duration::from_millis(50));
        drop(second);
        assert_eq!(pool.idle_connections(), 1, "the stale one is still idle");
        assert_eq!(pool.open_connections(), 1);
    }
}
