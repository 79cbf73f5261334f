//! Many servers: each key lives on one server chosen by a [`Distribution`], each server has a
//! [`Pool`] and a shared health state, and retries and failover are explicit policies.

mod batch;
mod health;
mod jitter;
mod observer;
mod retry;
mod route;

use std::sync::Arc;
use std::time::Instant;

use crate::client::Client;
use crate::config::Config;
use crate::deadline::Deadline;
use crate::distribution::{Distribution, Ketama};
use crate::error::{Error, Result};
use crate::expiry::Expiry;
use crate::item::{CasOutcome, CasToken, Item, StoreOutcome};
use crate::pool::{Pool, PoolConfig, PooledClient};
use crate::protocol::validate_key;
use crate::transport::Endpoint;

pub use batch::GetManyReport;
pub use health::HealthConfig;
use health::{Admission, Health, Transition, Verdict};
pub use observer::{Event, Observer};
pub use retry::{Failover, RetryPolicy};

/// A client for several memcached servers, shared by threads: `Send + Sync` and cheap to
/// clone (clones share pools and health).
///
/// Each key goes to the one server its [`Distribution`] names, so services written with other
/// clients that use the same distribution find the same keys (see [`crate::distribution`]).
/// By default that is libmemcached's ketama (pylibmc's `ketama` behaviour).
///
/// When a server fails, its keys fail with typed errors; after
/// [`HealthConfig::with_failure_threshold`] consecutive connection failures it is marked down
/// and its keys fail at once with [`Error::ServerDown`] until one caller's probe, after a
/// growing jittered backoff, finds it up again. Keys are never moved to another server unless
/// [`Failover::NextServer`] is chosen, and operations are retried only under a
/// [`RetryPolicy`].
///
/// ```
/// use memcache_sync::{Cluster, Expiry};
/// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
/// let cluster = Cluster::builder([addr.as_str()]).build()?;
/// cluster.set(b"doc:cluster", b"v", 0, Expiry::after_secs(60))?;
/// assert_eq!(cluster.get(b"doc:cluster")?.map(|item| item.value), Some(b"v".to_vec()));
/// # Ok::<(), memcache_sync::Error>(())
/// ```
#[derive(Clone)]
pub struct Cluster {
    shared: Arc<Shared>,
}

struct Shared {
    nodes: Vec<Node>,
    distribution: Box<dyn Distribution>,
    retry: RetryPolicy,
    failover: Failover,
    observer: Option<Box<dyn Observer>>,
}

struct Node {
    pool: Pool,
    health: Health,
}

/// A connection to one server, and how the server's health admitted it.
struct Lease<'c> {
    index: usize,
    admission: Admission,
    client: PooledClient,
    /// Set once the outcome is recorded; a lease dropped without one (the caller's closure
    /// panicked) gives up its probe, so the server is not left down with nobody probing.
    health: Option<&'c Health>,
}

impl Lease<'_> {
    fn recorded(mut self) -> usize {
        self.health = None;
        self.index
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let (Some(health), Admission::Probe(probe)) = (self.health, self.admission) {
            health.abandon_probe(probe);
        }
    }
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let servers: Vec<&str> = self.shared.nodes.iter().map(|n| n.pool.addr()).collect();
        f.debug_struct("Cluster")
            .field("servers", &servers)
            .field("distribution", &self.shared.distribution)
            .field("retry", &self.shared.retry)
            .field("failover", &self.shared.failover)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Cluster`]; see [`Cluster::builder`].
pub struct ClusterBuilder {
    addrs: Vec<String>,
    config: Config,
    pool: PoolConfig,
    health: HealthConfig,
    retry: RetryPolicy,
    failover: Failover,
    observer: Option<Box<dyn Observer>>,
    distribution: Option<Box<dyn Distribution>>,
}

impl Cluster {
    /// Starts building a cluster of the servers at `addrs` (`"host:port"`, or a Unix domain
    /// socket's path, `/…` or `unix:…`, each), in the order the distribution numbers them.
    pub fn builder<S: AsRef<str>>(addrs: impl IntoIterator<Item = S>) -> ClusterBuilder {
        ClusterBuilder {
            addrs: addrs.into_iter().map(|a| a.as_ref().to_owned()).collect(),
            config: Config::default(),
            pool: PoolConfig::default(),
            health: HealthConfig::default(),
            retry: RetryPolicy::default(),
            failover: Failover::default(),
            observer: None,
            distribution: None,
        }
    }

    /// The servers' addresses, in order.
    pub fn servers(&self) -> Vec<&str> {
        self.shared
            .nodes
            .iter()
            .map(|node| node.pool.addr())
            .collect()
    }

    /// The index (into [`Cluster::servers`]) of the server that owns `key`.
    ///
    /// # Panics
    /// If the distribution names a server past the end of the list: a broken
    /// [`Distribution`] implementation.
    pub fn server_for(&self, key: &[u8]) -> usize {
        let index = self.shared.distribution.server_for(key);
        let servers = self.shared.nodes.len();
        assert!(
            index < servers,
            "the distribution chose server {index} of {servers}"
        );
        index
    }

    /// Whether the server at `index` is marked down now.
    pub fn is_down(&self, index: usize) -> bool {
        self.shared
            .nodes
            .get(index)
            .is_some_and(|node| node.health.is_down())
    }

    /// The pool of the server at `index`, for work this type has no method for.
    pub fn pool(&self, index: usize) -> Option<&Pool> {
        self.shared.nodes.get(index).map(|node| &node.pool)
    }

    /// Runs `op` on a connection to the server that owns `key`, under the cluster's health,
    /// retry and failover rules, as every single-key method here does. `idempotent` says
    /// whether `op` may be repeated after it may have reached the server.
    ///
    /// ```
    /// # use memcache_sync::{Cluster, Expiry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let cluster = Cluster::builder([addr.as_str()]).build()?;
    /// let key = b"doc:cluster:append";
    /// cluster.set(key, b"a", 0, Expiry::after_secs(60))?;
    /// let outcome = cluster.with_key(key, "append", false, |client| client.append(key, b"b"))?;
    /// assert!(outcome.is_stored());
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn with_key<R>(
        &self,
        key: &[u8],
        command: &'static str,
        idempotent: bool,
        mut op: impl FnMut(&mut Client) -> Result<R>,
    ) -> Result<R> {
        validate_key(key)?;
        let started = Instant::now();
        let owner = self.server_for(key);
        let mut attempt = 1;
        let (index, result) = loop {
            let (index, result) = match self.lease(owner) {
                Ok(mut lease) => {
                    let result = op(&mut lease.client);
                    self.record(lease.index, lease.admission, result.as_ref().err());
                    (lease.recorded(), result)
                }
                Err(error) => (owner, Err(error)),
            };
            match result {
                Err(error)
                    if attempt < self.shared.retry.max_attempts()
                        && error.is_safe_to_retry(idempotent)
                        && !matches!(error, Error::ServerDown { .. })
                        && leaves_time_for(self.shared.retry.backoff(attempt)) =>
                {
                    let backoff = self.shared.retry.backoff(attempt);
                    self.emit(&Event::Retry {
                        server: self.shared.nodes[index].pool.addr(),
                        command,
                        attempt,
                        error: &error,
                        backoff,
                    });
                    std::thread::sleep(backoff);
                    attempt += 1;
                }
                result => break (index, result),
            }
        };
        self.emit(&Event::Operation {
            server: self.shared.nodes[index].pool.addr(),
            command,
            latency: started.elapsed(),
            error: result.as_ref().err(),
        });
        result
    }

    /// A connection to the server for a key owned by `owner`, if its health admits the call.
    /// A failure to connect counts against the server's health. Under
    /// [`Failover::NextServer`], a server marked down (or whose probe finds it still dead)
    /// passes the call to the next one in the list.
    fn lease(&self, owner: usize) -> Result<Lease<'_>> {
        let nodes = &self.shared.nodes;
        let mut owner_error = None;
        for index in self.failover_order(owner) {
            let node = &nodes[index];
            let admission = match node.health.admit(node.pool.addr()) {
                Ok(admission) => admission,
                Err(refused) => {
                    owner_error.get_or_insert(refused);
                    continue;
                }
            };
            match node.pool.get() {
                Ok(client) => {
                    return Ok(Lease {
                        index,
                        admission,
                        client,
                        health: Some(&node.health),
                    })
                }
                Err(error) => {
                    self.record(index, admission, Some(&error));
                    let still_down = passes_on(admission, &error);
                    owner_error.get_or_insert(error);
                    if !still_down {
                        break;
                    }
                }
            }
        }
        Err(owner_error.expect("the owner is always tried"))
    }

    /// The servers a call for a key owned by `owner` may go to, in the order it tries them:
    /// the owner, then under [`Failover::NextServer`] every other server in list order.
    fn failover_order(&self, owner: usize) -> impl Iterator<Item = usize> {
        let servers = self.shared.nodes.len();
        let candidates = match self.shared.failover {
            Failover::NextServer => servers,
            Failover::Never => 1,
        };
        (0..candidates).map(move |step| (owner + step) % servers)
    }

    /// Feeds the outcome of a call, `error` or success, to the server's health.
    fn record(&self, index: usize, admission: Admission, error: Option<&Error>) {
        self.record_verdict(index, admission, Verdict::of(error));
    }

    /// Feeds what a call learnt to the server's health, and announces a change of state.
    fn record_verdict(&self, index: usize, admission: Admission, verdict: Verdict) {
        let node = &self.shared.nodes[index];
        let server = node.pool.addr();
        match node.health.record(admission, verdict) {
            Some(Transition::Down { retry_in }) => {
                log::warn!("memcached at {server} marked down; next probe in {retry_in:?}");
                self.emit(&Event::ServerDown { server, retry_in });
            }
            Some(Transition::Up) => {
                log::info!("memcached at {server} is up again");
                self.emit(&Event::ServerUp { server });
            }
            None => {}
        }
    }

    fn emit(&self, event: &Event<'_>) {
        if let Some(observer) = &self.shared.observer {
            observer.on_event(event);
        }
    }

    /// [`Client::get`] on the key's server; retried under the [`RetryPolicy`].
    pub fn get(&self, key: &[u8]) -> Result<Option<Item>> {
        self.with_key(key, "get", true, |client| client.get(key))
    }

    /// [`Client::gets`] on the key's server; retried under the [`RetryPolicy`].
    pub fn gets(&self, key: &[u8]) -> Result<Option<(Item, CasToken)>> {
        self.with_key(key, "gets", true, |client| client.gets(key))
    }

    /// [`Client::gat`] on the key's server; retried under the [`RetryPolicy`].
    pub fn gat(&self, key: &[u8], expiry: Expiry) -> Result<Option<Item>> {
        self.with_key(key, "gat", true, |client| client.gat(key, expiry))
    }

    /// [`Client::gats`] on the key's server; retried under the [`RetryPolicy`].
    pub fn gats(&self, key: &[u8], expiry: Expiry) -> Result<Option<(Item, CasToken)>> {
        self.with_key(key, "gats", true, |client| client.gats(key, expiry))
    }

    /// [`Client::touch`] on the key's server; retried under the [`RetryPolicy`].
    pub fn touch(&self, key: &[u8], expiry: Expiry) -> Result<bool> {
        self.with_key(key, "touch", true, |client| client.touch(key, expiry))
    }

    /// [`Client::set`] on the key's server; retried only if it cannot have reached it.
    pub fn set(&self, key: &[u8], value: &[u8], flags: u32, expiry: Expiry) -> Result<()> {
        self.with_key(key, "set", false, |client| {
            client.set(key, value, flags, expiry)
        })
    }

    /// [`Client::add`] on the key's server; retried only if it cannot have reached it.
    pub fn add(
        &self,
        key: &[u8],
        value: &[u8],
        flags: u32,
        expiry: Expiry,
    ) -> Result<StoreOutcome> {
        self.with_key(key, "add", false, |client| {
            client.add(key, value, flags, expiry)
        })
    }

    /// [`Client::replace`] on the key's server; retried only if it cannot have reached it.
    pub fn replace(
        &self,
        key: &[u8],
        value: &[u8],
        flags: u32,
        expiry: Expiry,
    ) -> Result<StoreOutcome> {
        self.with_key(key, "replace", false, |client| {
            client.replace(key, value, flags, expiry)
        })
    }

    /// [`Client::append`] on the key's server; retried only if it cannot have reached it.
    pub fn append(&self, key: &[u8], value: &[u8]) -> Result<StoreOutcome> {
        self.with_key(key, "append", false, |client| client.append(key, value))
    }

    /// [`Client::prepend`] on the key's server; retried only if it cannot have reached it.
    pub fn prepend(&self, key: &[u8], value: &[u8]) -> Result<StoreOutcome> {
        self.with_key(key, "prepend", false, |client| client.prepend(key, value))
    }

    /// [`Client::cas`] on the key's server; retried only if it cannot have reached it.
    pub fn cas(
        &self,
        key: &[u8],
        value: &[u8],
        flags: u32,
        expiry: Expiry,
        token: CasToken,
    ) -> Result<CasOutcome> {
        self.with_key(key, "cas", false, |client| {
            client.cas(key, value, flags, expiry, token)
        })
    }

    /// [`Client::delete`] on the key's server; retried only if it cannot have reached it (a
    /// repeated delete would report `false` for a key the first one deleted).
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        self.with_key(key, "delete", false, |client| client.delete(key))
    }

    /// [`Client::incr`] on the key's server; retried only if it cannot have reached it.
    pub fn incr(&self, key: &[u8], delta: u64) -> Result<Option<u64>> {
        self.with_key(key, "incr", false, |client| client.incr(key, delta))
    }

    /// [`Client::decr`] on the key's server; retried only if it cannot have reached it.
    pub fn decr(&self, key: &[u8], delta: u64) -> Result<Option<u64>> {
        self.with_key(key, "decr", false, |client| client.decr(key, delta))
    }
}

/// Whether a call whose connection to a server failed with `error` goes on to the next server
/// in its [`Cluster::failover_order`]. Only a server that was already down (this call was its
/// probe) passes the call on; one that merely failed once keeps its keys.
fn passes_on(admission: Admission, error: &Error) -> bool {
    matches!(admission, Admission::Probe(_)) && error.is_connection_error()
}

/// Whether the caller's [`Deadline`], if any, leaves time for another attempt after sleeping
/// `backoff`: a retry that could only end in [`Error::DeadlineExceeded`] is not started.
fn leaves_time_for(backoff: std::time::Duration) -> bool {
    Deadline::current().is_none_or(|deadline| deadline.remaining() > backoff)
}

impl ClusterBuilder {
    /// Connection settings for every server. Default: [`Config::default`].
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Pool settings for every server. Default: [`PoolConfig::default`].
    pub fn pool(mut self, pool: PoolConfig) -> Self {
        self.pool = pool;
        self
    }

    /// When servers are marked down and probed. Default: [`HealthConfig::default`].
    pub fn health(mut self, health: HealthConfig) -> Self {
        self.health = health;
        self
    }

    /// How failed operations are retried. Default: not at all.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// What happens to keys of a server marked down. Default: [`Failover::Never`].
    pub fn failover(mut self, failover: Failover) -> Self {
        self.failover = failover;
        self
    }

    /// Receives the cluster's events: operations, retries, servers down and up.
    pub fn observer(mut self, observer: impl Observer + 'static) -> Self {
        self.observer = Some(Box::new(observer));
        self
    }

    /// How keys map to servers; it must be built for the same servers, in the same order.
    /// Default: libmemcached's ketama over the servers' host and port, weight 1 each. A Unix
    /// domain socket is hashed by its path and port 0 (points named `PATH:0-i`), as
    /// libmemcached's `memcached_server_add_unix_socket` (and so pylibmc, and a `--SOCKET=`
    /// configuration string) names it; `unix:/x.sock` and `/x.sock` are one server to the
    /// continuum. (python-memcached hashes no server name at all, only positions: its
    /// `unix:` servers place keys as [`Modulo::python_memcached`](crate::distribution::Modulo)
    /// says, by their place in the list.)
    pub fn distribution(mut self, distribution: impl Distribution + 'static) -> Self {
        self.distribution = Some(Box::new(distribution));
        self
    }

    /// Builds the cluster. No connection is opened until a key needs one. Fails with
    /// [`Error::InvalidArgument`] for an empty server list, a TCP address without a port, or a
    /// distribution built for another number of servers.
    pub fn build(self) -> Result<Cluster> {
        let invalid = |reason: String| Error::InvalidArgument {
            what: "cluster",
            reason,
        };
        if self.addrs.is_empty() {
            return Err(invalid("a cluster needs at least one server".into()));
        }
        let distribution = match self.distribution {
            Some(distribution) => distribution,
            None => {
                let servers = self
                    .addrs
                    .iter()
                    .map(|addr| {
                        Endpoint::parse(addr).ketama_server().ok_or_else(|| {
                            invalid(format!("{addr:?} is neither host:port nor a socket path"))
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                Box::new(Ketama::libmemcached_ketama(&servers).map_err(|e| invalid(e.to_string()))?)
            }
        };
        if distribution.server_count() != self.addrs.len() {
            return Err(invalid(format!(
                "the distribution is built for {} servers, the cluster has {}",
                distribution.server_count(),
                self.addrs.len()
            )));
        }
        let nodes = self
            .addrs
            .iter()
            .map(|addr| Node {
                pool: Pool::new(addr, self.config.clone(), self.pool.clone()),
                health: Health::new(self.health.clone()),
            })
            .collect();
        Ok(Cluster {
            shared: Arc::new(Shared {
                nodes,
                distribution,
                retry: self.retry,
                failover: self.failover,
                observer: self.observer,
            }),
        })
    }
}
