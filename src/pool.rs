//! A thread-safe pool of connections to one server.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::client::Client;
use crate::config::Config;
use crate::deadline::Bound;
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
    pub fn with_max_size(mut self, max_size: usize) -> Self {
        self.max_size = max_size.max(1);
        self
    }

    /// How long [`Pool::get`] waits for a connection when all are in use, before it fails
    /// with [`Error::PoolTimeout`]. Default: 1 s.
    pub fn with_checkout_timeout(mut self, timeout: Duration) -> Self {
        self.checkout_timeout = timeout;
        self
    }

    /// A connection idle for longer than this is closed instead of reused (servers and
    /// firewalls drop idle connections). Default: 5 minutes.
    pub fn with_max_idle_time(mut self, idle: Duration) -> Self {
        self.max_idle_time = idle;
        self
    }

    /// See [`PoolConfig::with_max_size`].
    pub fn max_size(&self) -> usize {
        self.max_size
    }

    /// See [`PoolConfig::with_checkout_timeout`].
    pub fn checkout_timeout(&self) -> Duration {
        self.checkout_timeout
    }

    /// See [`PoolConfig::with_max_idle_time`].
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
/// use memcache_sync::{Config, Expiry, Pool, PoolConfig};
/// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
/// let pool = Pool::new(&addr, Config::default(), PoolConfig::default().with_max_size(4));
/// let threads: Vec<_> = (0..8)
///     .map(|i| {
///         let pool = pool.clone();
///         std::thread::spawn(move || -> memcache_sync::Result<()> {
///             let mut client = pool.get()?;
///             client.set(format!("doc:pool:{i}").as_bytes(), b"v", 0, Expiry::after_secs(60))
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

#[derive(Debug)]
struct Shared {
    addr: String,
    config: Config,
    pool_config: PoolConfig,
    state: Mutex<State>,
    returned: Condvar,
}

#[derive(Debug)]
struct State {
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

impl Pool {
    /// A pool for the server at `addr`. No connection is opened until the first
    /// [`Pool::get`].
    pub fn new(addr: &str, config: Config, pool_config: PoolConfig) -> Self {
        Self {
            shared: Arc::new(Shared {
                addr: addr.to_owned(),
                config,
                pool_config,
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
    pub fn addr(&self) -> &str {
        &self.shared.addr
    }

    /// Takes a connection: an idle one, a new one, or one returned by another thread within
    /// the checkout timeout ([`Error::PoolTimeout`] after that). Opening a new connection can
    /// fail like [`Client::connect`].
    pub fn get(&self) -> Result<PooledClient> {
        let shared = &self.shared;
        let bound = Bound::from_now(shared.pool_config.checkout_timeout);
        let mut state = shared.lock();
        loop {
            while let Some(idle) = state.idle.pop() {
                if idle.since.elapsed() <= shared.pool_config.max_idle_time {
                    return Ok(self.guard(idle.client));
                }
                state.open -= 1;
            }
            if state.open < shared.pool_config.max_size {
                state.open += 1;
                drop(state);
                return match Client::connect_with(&shared.addr, shared.config.clone()) {
                    Ok(client) => Ok(self.guard(client)),
                    Err(error) => {
                        shared.release_slot();
                        Err(error)
                    }
                };
            }
            let remaining = bound.remaining();
            if remaining.is_zero() {
                return Err(match bound.expired(Phase::Connect) {
                    Error::Timeout { .. } => Error::PoolTimeout {
                        waited: shared.pool_config.checkout_timeout,
                        max_size: shared.pool_config.max_size,
                    },
                    callers => callers,
                });
            }
            state.waiting += 1;
            state = shared
                .returned
                .wait_timeout(state, remaining)
                .map_or_else(|poisoned| poisoned.into_inner().0, |(state, _)| state);
            state.waiting -= 1;
        }
    }

    /// An idle connection if there is one, without opening one or waiting for one: a call
    /// across several servers takes these at once on its own thread and opens the others
    /// together, so that it waits for all of its connects at the same time.
    pub(crate) fn try_idle(&self) -> Option<PooledClient> {
        let shared = &self.shared;
        let mut state = shared.lock();
        let mut expired = false;
        let mut taken = None;
        while let Some(idle) = state.idle.pop() {
            if idle.since.elapsed() <= shared.pool_config.max_idle_time {
                taken = Some(idle.client);
                break;
            }
            state.open -= 1;
            expired = true;
        }
        // A closed stale connection frees a slot this caller does not fill: a waiter may.
        if expired {
            shared.wake_one(state);
        }
        taken.map(|client| self.guard(client))
    }

    /// How many connections are open now, in use or idle.
    pub fn open_connections(&self) -> usize {
        self.shared.lock().open
    }

    /// How many open connections are idle now.
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
}

/// A connection taken from a [`Pool`]; it derefs to [`Client`]. Dropping it returns the
/// connection to the pool, unless an error closed it.
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
            state.idle.push(Idle {
                client,
                since: Instant::now(),
            });
            self.pool.wake_one(state);
        } else {
            drop(client);
            self.pool.release_slot();
        }
    }
}
