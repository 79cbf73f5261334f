//! Many servers: each key lives on one server chosen by a [`Distribution`], each server has a
//! [`Pool`] and a shared health state, and retries and failover are explicit policies.

mod admin;
mod batch;
mod gutter;
mod health;
mod jitter;
mod membership;
mod meta;
mod observer;
mod retry;
mod route;

use std::sync::Arc;
use std::time::Instant;

use crate::client::Client;
use crate::config::Config;
use crate::deadline::Deadline;
use crate::distribution::{Distribution, Server};
use crate::error::{Error, Result};
use crate::expiry::Expiry;
use crate::item::{CasOutcome, CasToken, Item, StoreOutcome};
use crate::pool::{Pool, PoolConfig, PooledClient};
use crate::protocol::validate_key;
use crate::store_options::StoreOptions;
use crate::transport::Endpoint;

pub use admin::PerServer;
pub use batch::{GetManyReport, ServerFailure};
use gutter::Gutter;
pub use gutter::GutterConfig;
pub use health::HealthConfig;
use health::{Admission, FailoverBudget, Fleet, Health, Verdict};
use membership::{Members, NodeSettings, Ring};
pub use membership::{Membership, ServersChange};
pub use meta::MetaGetManyReport;
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
/// The server list can be replaced while threads use the cluster ([`Cluster::set_servers`]):
/// each call routes by the list current when it started, and servers kept keep their pools
/// and health.
///
/// ```
/// use memcache_sync::{Cluster, Expiry};
/// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
/// let cluster = Cluster::builder([addr.as_str()]).build()?;
/// cluster.set("doc:cluster", "v", Expiry::after_secs(60))?;
/// assert_eq!(cluster.get("doc:cluster")?.map(|item| item.value), Some(b"v".to_vec()));
/// # Ok::<(), memcache_sync::Error>(())
/// ```
#[derive(Clone)]
pub struct Cluster {
    shared: Arc<Shared>,
}

struct Shared {
    members: Members,
    retry: RetryPolicy,
    failover: Failover,
    observer: Option<Arc<dyn Observer>>,
    fleet: Arc<Fleet>,
    /// Under [`Failover::Gutter`], where the keys of a server marked down go.
    gutter: Option<Gutter>,
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
        let ring = self.ring();
        let servers: Vec<&str> = ring.nodes.iter().map(|n| n.pool.addr()).collect();
        f.debug_struct("Cluster")
            .field("servers", &servers)
            .field("distribution", &ring.distribution)
            .field("retry", &self.shared.retry)
            .field("failover", &self.shared.failover)
            .field("gutter", &self.gutter_servers())
            .finish_non_exhaustive()
    }
}

/// Builds a [`Cluster`]; see [`Cluster::builder`].
#[must_use = "a builder makes no cluster until `build` is called"]
pub struct ClusterBuilder {
    /// As given: each is parsed as a [`Server`] by [`ClusterBuilder::build`], the one place
    /// a bad list is reported.
    servers: Vec<String>,
    config: Config,
    pool: PoolConfig,
    health: HealthConfig,
    retry: RetryPolicy,
    failover: Failover,
    failover_rate: Option<(f64, u32)>,
    observer: Option<Box<dyn Observer>>,
    distribution: Option<Box<dyn Distribution>>,
    gutter: Option<GutterConfig>,
}

impl Cluster {
    /// Starts building a cluster of `servers`, each `"host:port"` or `"host:port:weight"`
    /// (an IPv6 address in brackets: `"[::1]:11211"`), or a Unix domain socket's path (`/…`
    /// or `unix:…`), in the order the distribution numbers them; the text is read as [`Server`]'s `FromStr` reads it, and a malformed one fails
    /// [`ClusterBuilder::build`]. Weights are for the default distribution, libmemcached's
    /// ketama, which weighs servers as libmemcached does when any weight is above 1 and
    /// places keys exactly as before when every weight is 1; a
    /// [`distribution`](ClusterBuilder::distribution) of your own carries its own weights.
    ///
    /// ```
    /// use memcache_sync::{Cluster, Config};
    /// use std::time::Duration;
    ///
    /// // cache-b holds twice the keys of each of the others.
    /// let cluster = Cluster::builder(["cache-a:11211", "cache-b:11211:2", "cache-c:11211"])
    ///     .config(Config::default().with_read_timeout(Duration::from_millis(300)))
    ///     .build()?;
    /// assert_eq!(cluster.servers(), ["cache-a:11211", "cache-b:11211", "cache-c:11211"]);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn builder<S: AsRef<str>>(servers: impl IntoIterator<Item = S>) -> ClusterBuilder {
        ClusterBuilder {
            servers: servers
                .into_iter()
                .map(|server| server.as_ref().to_owned())
                .collect(),
            config: Config::default(),
            pool: PoolConfig::default(),
            health: HealthConfig::default(),
            retry: RetryPolicy::default(),
            failover: Failover::default(),
            failover_rate: None,
            observer: None,
            distribution: None,
            gutter: None,
        }
    }

    /// [`Cluster::builder`] over a server list written as one string, as a configuration
    /// file or an environment variable holds it: servers separated by commas, whitespace or
    /// both (`"a:11211, b:11211:2"`), each read as [`Cluster::builder`] reads one. Empty
    /// pieces are skipped, so a trailing comma is harmless; an empty list fails
    /// [`ClusterBuilder::build`], as it does there.
    ///
    /// ```
    /// use memcache_sync::Cluster;
    ///
    /// let servers = "10.0.0.1:11211, 10.0.0.2:11211:2\n[::1]:11211";
    /// let cluster = Cluster::builder_from_str(servers).build()?;
    /// assert_eq!(cluster.servers(), ["10.0.0.1:11211", "10.0.0.2:11211", "[::1]:11211"]);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn builder_from_str(servers: &str) -> ClusterBuilder {
        Self::builder(
            servers
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|server| !server.is_empty()),
        )
    }

    /// The servers' addresses, in order, as the list is now (see [`Cluster::set_servers`]).
    pub fn servers(&self) -> Vec<String> {
        let ring = self.ring();
        ring.nodes
            .iter()
            .map(|node| node.pool.addr().to_owned())
            .collect()
    }

    /// The index (into [`Cluster::servers`]) of the server that owns `key`, in the list as
    /// it is now: after [`Cluster::set_servers`] an index may name another server. For an
    /// index that stays consistent with [`Membership::is_down`] and [`Membership::pool`], or
    /// the owner's address, use [`Cluster::membership`].
    ///
    /// # Panics
    /// If the distribution names a server past the end of the list: a broken
    /// [`Distribution`] implementation.
    #[inline]
    pub fn server_for(&self, key: impl AsRef<[u8]>) -> usize {
        self.ring().server_for(key.as_ref())
    }

    /// Whether the server at `index` (in the list as it is now) is marked down now.
    pub fn is_down(&self, index: usize) -> bool {
        self.membership().is_down(index)
    }

    /// The pool of the server at `index` (in the list as it is now), for work this type has
    /// no method for.
    pub fn pool(&self, index: usize) -> Option<Pool> {
        self.membership().pool(index).cloned()
    }

    /// Runs `op` on a connection to the server that owns `key`, under the cluster's health,
    /// retry and failover rules, as every single-key method here does. `idempotent` says
    /// whether `op` may be repeated after it may have reached the server. An `op` that
    /// returns `Ok` without writing a request tells the server's health nothing (it cannot
    /// end an outage as its probe).
    ///
    /// ```
    /// # use memcache_sync::{Cluster, Expiry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let cluster = Cluster::builder([addr.as_str()]).build()?;
    /// let key = "doc:cluster:append";
    /// cluster.set(key, "a", Expiry::after_secs(60))?;
    /// let outcome = cluster.with_key(key, "append", false, |client| client.append(key, "b"))?;
    /// assert!(outcome.is_stored());
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    #[inline]
    pub fn with_key<R>(
        &self,
        key: impl AsRef<[u8]>,
        command: &'static str,
        idempotent: bool,
        mut op: impl FnMut(&mut Client) -> Result<R>,
    ) -> Result<R> {
        // Never to a gutter: its closure could store past the gutter's TTL cap.
        let key = key.as_ref();
        validate_key(key)?;
        let ring = self.ring();
        self.run_on(
            &ring,
            ring.server_for(key),
            Some(key),
            command,
            idempotent,
            &mut op,
        )
    }

    /// One key's command that sends no expiry, routed as every single-key command is (the
    /// gutter included), and generic only over what `op` returns: every call site's closure
    /// shares it.
    fn with_key_bytes<R>(
        &self,
        key: &[u8],
        command: &'static str,
        idempotent: bool,
        op: &mut dyn FnMut(&mut Client) -> Result<R>,
    ) -> Result<R> {
        self.with_key_ttl(key, command, idempotent, &mut |client, _| op(client))
    }

    /// Runs `op` on server `owner` under its health and the retry policy. With `key`, the
    /// call may fail over as the key's does; without one (a command for that very server)
    /// it never leaves `owner`.
    fn run_on<R>(
        &self,
        ring: &Ring,
        owner: usize,
        key: Option<&[u8]>,
        command: &'static str,
        idempotent: bool,
        op: &mut dyn FnMut(&mut Client) -> Result<R>,
    ) -> Result<R> {
        let started = Instant::now();
        let mut attempt = 1;
        let (index, result) = loop {
            let (index, result) = match self.lease(ring, owner, key) {
                Ok(mut lease) => {
                    let before = lease.client.activity();
                    let result = op(&mut lease.client);
                    // A closure that returned without asking the server anything (a value it
                    // had already, say) proves nothing about it, and must not end an outage
                    // when it was the probe.
                    let verdict = match &result {
                        Ok(_) if lease.client.activity() == before => Verdict::Unknown,
                        result => Verdict::of(result.as_ref().err()),
                    };
                    self.record_verdict(ring, lease.index, lease.admission, verdict);
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
                        server: ring.addr(index),
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
            server: ring.addr(index),
            command,
            latency: started.elapsed(),
            error: result.as_ref().err(),
        });
        result
    }

    /// A connection to the server for `key`, owned by `owner`, if its health admits the call.
    /// A failure to connect counts against the server's health. Under
    /// [`Failover::NextServer`], a server marked down (or whose probe finds it still dead)
    /// passes the call to the key's next owner (see [`Cluster::failover_order`]). Without a
    /// key the call stays on `owner`.
    fn lease<'c>(&self, ring: &'c Ring, owner: usize, key: Option<&[u8]>) -> Result<Lease<'c>> {
        let nodes = &ring.nodes;
        let mut owner_error = None;
        for index in self.failover_order(ring, owner, key) {
            let node = &nodes[index];
            let admission = match node.health.admit(node.pool.addr()) {
                Ok(admission) => admission,
                Err(refused) => {
                    owner_error.get_or_insert(refused);
                    continue;
                }
            };
            if !self.may_fail_over(ring, owner, index, admission) {
                break;
            }
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
                    self.record(ring, index, admission, Some(&error));
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

    /// The servers a call for `key`, owned by `owner`, may go to, in the order it tries them:
    /// the owner, then under [`Failover::NextServer`] the server the distribution names when
    /// the owner is out ([`Distribution::server_for_excluding`]), then the one it names with
    /// both out, and so on, each computed only if the one before passed the call on. A call
    /// without a key (for the owner itself) goes nowhere else.
    fn failover_order<'k>(
        &'k self,
        ring: &'k Ring,
        owner: usize,
        key: Option<&'k [u8]>,
    ) -> impl Iterator<Item = usize> + 'k {
        let candidates = match (self.shared.failover, key) {
            (Failover::NextServer, Some(_)) => ring.nodes.len(),
            _ => 1,
        };
        // Filled only once the call fails over: a call its owner takes allocates nothing.
        let mut passed: Vec<usize> = Vec::new();
        let mut next = Some(owner);
        std::iter::from_fn(move || {
            if let Some(owner) = next.take() {
                return Some(owner);
            }
            if passed.is_empty() {
                passed.push(owner);
            }
            let next = self.next_owner(ring, key?, &passed)?;
            passed.push(next);
            Some(next)
        })
        .take(candidates)
    }

    /// The server that takes `key` when every server in `out` is out of service, if any is
    /// left.
    ///
    /// # Panics
    /// If the distribution names a server past the end of the list, or one of `out`: a
    /// broken [`Distribution`] implementation.
    fn next_owner(&self, ring: &Ring, key: &[u8], out: &[usize]) -> Option<usize> {
        let next = ring
            .distribution
            .server_for_excluding(key, &|index| out.contains(&index))?;
        assert!(
            next < ring.nodes.len() && !out.contains(&next),
            "the distribution chose server {next}, excluded or past the end"
        );
        Some(next)
    }

    /// Feeds the outcome of a call, `error` or success, to the server's health.
    fn record(&self, ring: &Ring, index: usize, admission: Admission, error: Option<&Error>) {
        self.record_verdict(ring, index, admission, Verdict::of(error));
    }

    /// Feeds what a call learnt to the server's health, and announces a change of state.
    fn record_verdict(&self, ring: &Ring, index: usize, admission: Admission, verdict: Verdict) {
        let change = ring.nodes[index].health.record(admission, verdict);
        self.announce(ring, index, change);
    }

    fn emit(&self, event: &Event<'_>) {
        if let Some(observer) = &self.shared.observer {
            observer.on_event(event);
        }
    }

    /// [`Client::get`] on the key's server; retried under the [`RetryPolicy`].
    #[inline]
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Item>> {
        self.get_bytes(key.as_ref())
    }

    fn get_bytes(&self, key: &[u8]) -> Result<Option<Item>> {
        self.with_key_bytes(key, "get", true, &mut |client| client.get(key))
    }

    /// [`Client::get_into`] on the key's server: the value into `buf` (cleared first), its
    /// flags returned; retried under the [`RetryPolicy`].
    ///
    /// ```
    /// # use memcache_sync::{Cluster, Expiry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let cluster = Cluster::builder([addr.as_str()]).build()?;
    /// cluster.set("doc:cluster:into", "v", Expiry::after_secs(60))?;
    /// let mut buf = Vec::new();
    /// assert_eq!(cluster.get_into("doc:cluster:into", &mut buf)?, Some(0));
    /// assert_eq!(buf, b"v");
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    #[inline]
    pub fn get_into(&self, key: impl AsRef<[u8]>, buf: &mut Vec<u8>) -> Result<Option<u32>> {
        self.get_into_bytes(key.as_ref(), buf)
    }

    fn get_into_bytes(&self, key: &[u8], buf: &mut Vec<u8>) -> Result<Option<u32>> {
        self.with_key_bytes(key, "get_into", true, &mut |client| {
            client.get_into(key, buf)
        })
    }

    /// [`Client::gets`] on the key's server; retried under the [`RetryPolicy`].
    #[inline]
    pub fn gets(&self, key: impl AsRef<[u8]>) -> Result<Option<(Item, CasToken)>> {
        self.gets_bytes(key.as_ref())
    }

    fn gets_bytes(&self, key: &[u8]) -> Result<Option<(Item, CasToken)>> {
        self.with_key_bytes(key, "gets", true, &mut |client| client.gets(key))
    }

    /// [`Client::gat`] on the key's server; retried under the [`RetryPolicy`].
    #[inline]
    pub fn gat(&self, key: impl AsRef<[u8]>, expiry: impl Into<Expiry>) -> Result<Option<Item>> {
        self.gat_bytes(key.as_ref(), expiry.into())
    }

    fn gat_bytes(&self, key: &[u8], expiry: Expiry) -> Result<Option<Item>> {
        self.with_key_ttl(key, "gat", true, &mut |client, ttl| {
            client.gat(key, ttl.expiry(expiry))
        })
    }

    /// [`Client::gats`] on the key's server; retried under the [`RetryPolicy`].
    #[inline]
    pub fn gats(
        &self,
        key: impl AsRef<[u8]>,
        expiry: impl Into<Expiry>,
    ) -> Result<Option<(Item, CasToken)>> {
        self.gats_bytes(key.as_ref(), expiry.into())
    }

    fn gats_bytes(&self, key: &[u8], expiry: Expiry) -> Result<Option<(Item, CasToken)>> {
        self.with_key_ttl(key, "gats", true, &mut |client, ttl| {
            client.gats(key, ttl.expiry(expiry))
        })
    }

    /// [`Client::touch`] on the key's server; retried under the [`RetryPolicy`].
    #[inline]
    pub fn touch(&self, key: impl AsRef<[u8]>, expiry: impl Into<Expiry>) -> Result<bool> {
        self.touch_bytes(key.as_ref(), expiry.into())
    }

    fn touch_bytes(&self, key: &[u8], expiry: Expiry) -> Result<bool> {
        self.with_key_ttl(key, "touch", true, &mut |client, ttl| {
            client.touch(key, ttl.expiry(expiry))
        })
    }

    /// [`Client::set`] on the key's server; retried only if it cannot have reached it.
    #[inline]
    pub fn set(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        options: impl Into<StoreOptions>,
    ) -> Result<()> {
        self.set_bytes(key.as_ref(), value.as_ref(), options.into())
    }

    fn set_bytes(&self, key: &[u8], value: &[u8], options: StoreOptions) -> Result<()> {
        self.with_key_ttl(key, "set", false, &mut |client, ttl| {
            client.set(key, value, ttl.store(options))
        })
    }

    /// [`Client::add`] on the key's server; retried only if it cannot have reached it.
    #[inline]
    pub fn add(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        options: impl Into<StoreOptions>,
    ) -> Result<StoreOutcome> {
        self.add_bytes(key.as_ref(), value.as_ref(), options.into())
    }

    fn add_bytes(&self, key: &[u8], value: &[u8], options: StoreOptions) -> Result<StoreOutcome> {
        self.with_key_ttl(key, "add", false, &mut |client, ttl| {
            client.add(key, value, ttl.store(options))
        })
    }

    /// [`Client::replace`] on the key's server; retried only if it cannot have reached it.
    #[inline]
    pub fn replace(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        options: impl Into<StoreOptions>,
    ) -> Result<StoreOutcome> {
        self.replace_bytes(key.as_ref(), value.as_ref(), options.into())
    }

    fn replace_bytes(
        &self,
        key: &[u8],
        value: &[u8],
        options: StoreOptions,
    ) -> Result<StoreOutcome> {
        self.with_key_ttl(key, "replace", false, &mut |client, ttl| {
            client.replace(key, value, ttl.store(options))
        })
    }

    /// [`Client::append`] on the key's server; retried only if it cannot have reached it.
    #[inline]
    pub fn append(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<StoreOutcome> {
        self.append_bytes(key.as_ref(), value.as_ref())
    }

    fn append_bytes(&self, key: &[u8], value: &[u8]) -> Result<StoreOutcome> {
        self.with_key_bytes(key, "append", false, &mut |client| {
            client.append(key, value)
        })
    }

    /// [`Client::prepend`] on the key's server; retried only if it cannot have reached it.
    #[inline]
    pub fn prepend(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<StoreOutcome> {
        self.prepend_bytes(key.as_ref(), value.as_ref())
    }

    fn prepend_bytes(&self, key: &[u8], value: &[u8]) -> Result<StoreOutcome> {
        self.with_key_bytes(key, "prepend", false, &mut |client| {
            client.prepend(key, value)
        })
    }

    /// [`Client::cas`] on the key's server; retried only if it cannot have reached it.
    #[inline]
    pub fn cas(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        token: CasToken,
        options: impl Into<StoreOptions>,
    ) -> Result<CasOutcome> {
        self.cas_bytes(key.as_ref(), value.as_ref(), token, options.into())
    }

    fn cas_bytes(
        &self,
        key: &[u8],
        value: &[u8],
        token: CasToken,
        options: StoreOptions,
    ) -> Result<CasOutcome> {
        self.with_key_ttl(key, "cas", false, &mut |client, ttl| {
            client.cas(key, value, token, ttl.store(options))
        })
    }

    /// [`Client::delete`] on the key's server; retried only if it cannot have reached it (a
    /// repeated delete would report `false` for a key the first one deleted).
    #[inline]
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        self.delete_bytes(key.as_ref())
    }

    fn delete_bytes(&self, key: &[u8]) -> Result<bool> {
        self.with_key_bytes(key, "delete", false, &mut |client| client.delete(key))
    }

    /// [`Client::incr`] on the key's server; retried only if it cannot have reached it.
    #[inline]
    pub fn incr(&self, key: impl AsRef<[u8]>, delta: u64) -> Result<Option<u64>> {
        self.incr_bytes(key.as_ref(), delta)
    }

    fn incr_bytes(&self, key: &[u8], delta: u64) -> Result<Option<u64>> {
        self.with_key_bytes(key, "incr", false, &mut |client| client.incr(key, delta))
    }

    /// [`Client::decr`] on the key's server; retried only if it cannot have reached it.
    #[inline]
    pub fn decr(&self, key: impl AsRef<[u8]>, delta: u64) -> Result<Option<u64>> {
        self.decr_bytes(key.as_ref(), delta)
    }

    fn decr_bytes(&self, key: &[u8], delta: u64) -> Result<Option<u64>> {
        self.with_key_bytes(key, "decr", false, &mut |client| client.decr(key, delta))
    }
}

/// Whether a call whose connection to a server failed with `error` goes on to the next server
/// of its [`Cluster::failover_order`]. Only a server that was already down (this call was its
/// probe) passes the call on; one that merely failed once keeps its keys.
fn passes_on(admission: Admission, error: &Error) -> bool {
    matches!(admission, Admission::Probe(_)) && error.is_connection_error()
}

/// Whether the caller's [`Deadline`], if any, leaves time for another attempt after sleeping
/// `backoff`: a retry that could only end in [`Error::DeadlineExceeded`] is not started.
fn leaves_time_for(backoff: std::time::Duration) -> bool {
    Deadline::current().is_none_or(|deadline| deadline.remaining() > backoff)
}

/// Shows every setting; an observer, being any closure, only as present or absent.
impl std::fmt::Debug for ClusterBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let observer = if self.observer.is_some() {
            "present"
        } else {
            "absent"
        };
        f.debug_struct("ClusterBuilder")
            .field("servers", &self.servers)
            .field("config", &self.config)
            .field("pool", &self.pool)
            .field("health", &self.health)
            .field("retry", &self.retry)
            .field("failover", &self.failover)
            .field("observer", &format_args!("{observer}"))
            .field("distribution", &self.distribution)
            .field("gutter", &self.gutter)
            .finish()
    }
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

    /// Limits failovers under [`Failover::NextServer`] to `per_second` on average, with
    /// bursts of up to `burst` (a token bucket, shared by every thread and clone). Each call,
    /// or each server's group of a batch, that goes to a server other than its key's owner
    /// takes a token; with none left it fails with the owner's error
    /// ([`Error::ServerDown`], or its probe's failure), and [`Event::FailoverRefused`] says
    /// so. A `per_second` that is not a positive number never refills. Default: unlimited.
    ///
    /// When a server dies, its keys' next owners take them on top of their own: with many
    /// clients, a survivor can be pushed over and fail in turn. The limit caps that extra
    /// load. **Costs:** past the limit, keys of a down server fail as under
    /// [`Failover::Never`].
    ///
    /// ```
    /// # use memcache_sync::{Cluster, Failover};
    /// let cluster = Cluster::builder(["10.0.0.1:11211", "10.0.0.2:11211"])
    ///     .failover(Failover::NextServer)
    ///     .failover_rate(100.0, 200)
    ///     .build()?;
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn failover_rate(mut self, per_second: f64, burst: u32) -> Self {
        self.failover_rate = Some((per_second, burst));
        self
    }

    /// Receives the cluster's events: operations, retries, servers down and up.
    pub fn observer(mut self, observer: impl Observer + 'static) -> Self {
        self.observer = Some(Box::new(observer));
        self
    }

    /// How keys map to servers; it must be built for the same servers, in the same order, and
    /// the weights written in the server list are then not used. Default: libmemcached's
    /// ketama over the servers' hosts, ports and weights
    /// ([`Ketama::libmemcached_ketama`](crate::distribution::Ketama::libmemcached_ketama)). A
    /// Unix domain socket is hashed by its path and port 0 (points named `PATH:0-i`), as
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
    /// [`Error::InvalidArgument`] for an empty server list, a server that is neither a socket
    /// path nor `host:port[:weight]` (the reason says which and why, as
    /// [`ServerParseError`](crate::distribution::ServerParseError) does), or a distribution
    /// built for another number of servers.
    pub fn build(mut self) -> Result<Cluster> {
        let (addrs, servers) = membership::parse_list(&self.servers)?;
        let default_distribution = self.distribution.is_none();
        let distribution = membership::placing(self.distribution.take(), &servers, "the cluster")?;
        let count = servers.len();
        let failover = self
            .failover_rate
            .map(|(per_second, burst)| FailoverBudget::new(per_second, burst));
        let observer: Option<Arc<dyn Observer>> = self.observer.take().map(Arc::from);
        let gutter = gutter::build(&self, &addrs, observer.as_ref())?;
        let fleet = Arc::new(Fleet::new(count, self.health.max_down(count), failover));
        let settings = NodeSettings {
            config: self.config,
            pool: self.pool,
            health: self.health,
            default_distribution,
        };
        let members = Members::new(settings, Arc::clone(&fleet), &addrs, servers, distribution);
        Ok(Cluster {
            shared: Arc::new(Shared {
                members,
                retry: self.retry,
                failover: self.failover,
                observer,
                fleet,
                gutter,
            }),
        })
    }
}

/// The address a server's pool connects to, and the server a ketama ring hashes for it: a
/// Unix domain socket by its path with port 0 (as libmemcached names one), anything else as
/// `host:port[:weight]` reads.
fn parse_server(spec: &str) -> std::result::Result<(String, Server), String> {
    match Endpoint::parse(spec) {
        Endpoint::Unix(path) => Ok((spec.to_owned(), Server::new(path.to_string_lossy(), 0))),
        Endpoint::Tcp(_) => spec
            .parse::<Server>()
            .map(|server| (server.addr(), server))
            .map_err(|error| error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_is_hashed_by_its_path_with_port_zero_and_tcp_by_host_and_port() {
        let (addr, socket) = parse_server("unix:/tmp/mc.sock").unwrap();
        assert_eq!(
            (addr.as_str(), &socket),
            ("unix:/tmp/mc.sock", &Server::new("/tmp/mc.sock", 0))
        );
        assert_eq!(
            parse_server("/tmp/mc.sock").unwrap().1,
            socket,
            "both spellings are one server"
        );
        assert_eq!(
            parse_server("10.0.0.1:11211:2").unwrap(),
            (
                "10.0.0.1:11211".to_owned(),
                Server::new("10.0.0.1", 11211).with_weight(2)
            )
        );
        assert_eq!(
            parse_server("[::1]:11212").unwrap().1,
            Server::new("::1", 11212)
        );
        assert!(parse_server("cache").is_err());
        assert!(parse_server("cache:http").is_err());
    }
}
