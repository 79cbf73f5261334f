//! Server-wide commands across the cluster: each goes to every server at once, and each
//! server's answer or error comes back on its own.
//!
//! These never fail over: a `stats` of server B is no answer for server A. Each server's call
//! is admitted by its health (a server marked down answers [`Error::ServerDown`] at once) and
//! retried under the [`RetryPolicy`](super::RetryPolicy) where the command is safe to repeat.

use std::collections::HashMap;
use std::time::Duration;

use super::route::all_at_once;
use super::Cluster;
use crate::client::{CachedumpItem, Client, PrefixStats};
use crate::error::Result;

/// One result per server of a [`Cluster`], in the order of [`Cluster::servers`] as the list
/// was when the command started (see [`Cluster::set_servers`]): what a server-wide command
/// ([`Cluster::version`], [`Cluster::stats`], [`Cluster::flush_all`], …) got from each.
///
/// ```
/// # use memcache_sync::Cluster;
/// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
/// # let cluster = Cluster::builder([addr.as_str()]).build()?;
/// let versions = cluster.version();
/// for (server, version) in versions.iter() {
///     match version {
///         Ok(version) => println!("{server}: memcached {version}"),
///         Err(error) => eprintln!("{server}: {error}"),
///     }
/// }
/// // Or, when any failure should fail the whole call:
/// let versions: Vec<String> = cluster.version().all_ok()?;
/// assert_eq!(versions.len(), cluster.servers().len());
/// # Ok::<(), memcache_sync::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct PerServer<T> {
    results: Vec<(String, Result<T>)>,
}

impl<T> PerServer<T> {
    /// Each server's address, as the cluster was built with it, with its result.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Result<T>)> {
        self.results
            .iter()
            .map(|(server, result)| (server.as_str(), result))
    }

    /// The result of the server at `index` (into [`Cluster::servers`] as the list was when
    /// the command started: after a change of list, [`PerServer::iter`]'s addresses are the
    /// ones to go by).
    ///
    /// ```
    /// # use memcache_sync::Cluster;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let cluster = Cluster::builder([addr.as_str()]).build()?;
    /// assert!(cluster.version().get(0).is_some_and(|version| version.is_ok()));
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn get(&self, index: usize) -> Option<&Result<T>> {
        self.results.get(index).map(|(_, result)| result)
    }

    /// How many servers answered or failed: every server of the cluster.
    pub fn len(&self) -> usize {
        self.results.len()
    }

    /// Whether there are no results; never, for a built cluster has a server.
    pub fn is_empty(&self) -> bool {
        self.results.is_empty()
    }

    /// Whether every server succeeded.
    pub fn is_all_ok(&self) -> bool {
        self.results.iter().all(|(_, result)| result.is_ok())
    }

    /// Each server's address with its result, to keep.
    pub fn into_results(self) -> Vec<(String, Result<T>)> {
        self.results
    }

    /// Every server's value, in server order, or the error of the first server (in that
    /// order) that failed.
    pub fn all_ok(self) -> Result<Vec<T>> {
        self.results.into_iter().map(|(_, result)| result).collect()
    }
}

impl<T> IntoIterator for PerServer<T> {
    type Item = (String, Result<T>);
    type IntoIter = std::vec::IntoIter<(String, Result<T>)>;

    fn into_iter(self) -> Self::IntoIter {
        self.results.into_iter()
    }
}

impl Cluster {
    /// Runs `op` on every server at once, each under its health and the retry policy, and
    /// never anywhere else. Each server is bounded by its own timeouts, and the call by the
    /// slowest of them, not their sum.
    fn on_every_server<T: Send>(
        &self,
        command: &'static str,
        idempotent: bool,
        op: impl Fn(&mut Client) -> Result<T> + Sync,
    ) -> PerServer<T> {
        let ring = self.ring();
        let indices: Vec<usize> = (0..ring.nodes.len()).collect();
        let results = all_at_once(indices, |index| {
            self.run_on(&ring, index, None, command, idempotent, &mut |client| {
                op(client)
            })
        });
        PerServer {
            results: (0..ring.nodes.len())
                .map(|index| ring.addr(index).to_owned())
                .zip(results)
                .collect(),
        }
    }

    /// [`Client::flush_all`] on every server. Not retried: a repeat would also flush what
    /// was stored between the two.
    ///
    /// (Not run as a doc test: it would flush the keys of the examples running beside it.)
    ///
    /// ```no_run
    /// # use memcache_sync::{Cluster, Expiry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let cluster = Cluster::builder([addr.as_str()]).build()?;
    /// cluster.set("doc:cluster:flushed", "v", Expiry::after_secs(60))?;
    /// cluster.flush_all().all_ok()?;
    /// assert!(cluster.get("doc:cluster:flushed")?.is_none());
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn flush_all(&self) -> PerServer<()> {
        self.on_every_server("flush_all", false, Client::flush_all)
    }

    /// [`Client::flush_all_after`] on every server: each flushes after `delay`, counted by
    /// its own clock. Not retried, as [`Cluster::flush_all`].
    ///
    /// (Not run as a doc test: it would flush the keys of the examples running beside it.)
    ///
    /// ```no_run
    /// # use memcache_sync::Cluster;
    /// # use std::time::Duration;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let cluster = Cluster::builder([addr.as_str()]).build()?;
    /// assert!(cluster.flush_all_after(Duration::from_secs(3600)).is_all_ok());
    /// cluster.flush_all_after(Duration::ZERO).all_ok()?; // supersedes the delayed flush
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn flush_all_after(&self, delay: Duration) -> PerServer<()> {
        self.on_every_server("flush_all", false, |client| client.flush_all_after(delay))
    }

    /// [`Client::version`] of every server.
    ///
    /// ```
    /// # use memcache_sync::Cluster;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let cluster = Cluster::builder([addr.as_str()]).build()?;
    /// for version in cluster.version().all_ok()? {
    ///     assert!(version.starts_with("1."));
    /// }
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn version(&self) -> PerServer<String> {
        self.on_every_server("version", true, Client::version)
    }

    /// [`Client::stats`] of every server.
    ///
    /// ```
    /// # use memcache_sync::Cluster;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let cluster = Cluster::builder([addr.as_str()]).build()?;
    /// let items: u64 = cluster
    ///     .stats()
    ///     .all_ok()?
    ///     .iter()
    ///     .map(|stats| stats["curr_items"].parse::<u64>().unwrap())
    ///     .sum();
    /// println!("{items} items in the cluster");
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn stats(&self) -> PerServer<HashMap<String, String>> {
        self.on_every_server("stats", true, Client::stats)
    }

    /// [`Client::stats_group`] of every server; a group it refuses is refused for each.
    ///
    /// ```
    /// # use memcache_sync::Cluster;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let cluster = Cluster::builder([addr.as_str()]).build()?;
    /// let settings = cluster.stats_group("settings").all_ok()?;
    /// assert!(settings[0].contains_key("maxbytes"));
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn stats_group(&self, group: &str) -> PerServer<HashMap<String, String>> {
        self.on_every_server("stats", true, |client| client.stats_group(group))
    }

    /// [`Client::stats_reset`] on every server.
    ///
    /// ```
    /// # use memcache_sync::Cluster;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let cluster = Cluster::builder([addr.as_str()]).build()?;
    /// cluster.stats_reset().all_ok()?;
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn stats_reset(&self) -> PerServer<()> {
        self.on_every_server("stats", true, Client::stats_reset)
    }

    /// [`Client::stats_detail`] on every server.
    ///
    /// ```
    /// # use memcache_sync::Cluster;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let cluster = Cluster::builder([addr.as_str()]).build()?;
    /// cluster.stats_detail(true).all_ok()?;
    /// cluster.stats_detail(false).all_ok()?;
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn stats_detail(&self, enabled: bool) -> PerServer<()> {
        self.on_every_server("stats", true, |client| client.stats_detail(enabled))
    }

    /// [`Client::stats_detail_dump`] of every server.
    ///
    /// ```
    /// # use memcache_sync::Cluster;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let cluster = Cluster::builder([addr.as_str()]).build()?;
    /// for (server, prefixes) in cluster.stats_detail_dump() {
    ///     println!("{server}: {} prefixes", prefixes?.len());
    /// }
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn stats_detail_dump(&self) -> PerServer<Vec<PrefixStats>> {
        self.on_every_server("stats", true, Client::stats_detail_dump)
    }

    /// [`Client::stats_cachedump`] of every server.
    ///
    /// ```
    /// # use memcache_sync::Cluster;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let cluster = Cluster::builder([addr.as_str()]).build()?;
    /// for (server, items) in cluster.stats_cachedump(1, 10) {
    ///     println!("{server}: {} items listed", items?.len());
    /// }
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn stats_cachedump(&self, slab_class: u32, limit: u32) -> PerServer<Vec<CachedumpItem>> {
        self.on_every_server("stats", true, |client| {
            client.stats_cachedump(slab_class, limit)
        })
    }

    /// [`Client::verbosity`] on every server.
    ///
    /// ```
    /// # use memcache_sync::Cluster;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let cluster = Cluster::builder([addr.as_str()]).build()?;
    /// cluster.verbosity(0).all_ok()?;
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn verbosity(&self, level: u32) -> PerServer<()> {
        self.on_every_server("verbosity", true, |client| client.verbosity(level))
    }
}
