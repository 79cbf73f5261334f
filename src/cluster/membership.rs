//! The server list a cluster routes by: one immutable snapshot (servers, their pools and
//! health, the distribution over them), replaced whole while other threads use the cluster.
//!
//! # Invariant
//! Every call takes the current snapshot once, at its start, and routes, fails over and
//! records health only through it. A change builds a new snapshot and swaps it in one step
//! (the write lock is held for the pointer's exchange only), so a call sees the old list or
//! the new one, never a mix. A server whose address is in both keeps its [`Node`] (the same
//! pool, the same health): its connections and its outage survive the change. A server left
//! out is retired: its place in the fleet's counts is given back under its own lock, and what
//! calls still in flight on it learn afterwards changes no count.
//!
//! Why a lock and an `Arc` rather than an atomic pointer: the standard library has no atomic
//! `Arc`, and one read lock plus one reference-count increment per call is a few
//! uncontended atomic operations (`benches/compare` and `benches/fanout` show no change).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use super::health::{Change, FailOpen, Fleet, Health};
use super::{parse_server, Cluster, Event};
use crate::config::Config;
use crate::distribution::{Distribution, Ketama, Server};
use crate::error::{Error, Result};
use crate::pool::{Pool, PoolConfig};

/// One server of a snapshot: its pool and its health, shared by every snapshot that keeps it.
pub(super) struct Node {
    pub(super) pool: Pool,
    pub(super) health: Health,
}

/// One server list, fixed for its life.
pub(super) struct Ring {
    pub(super) nodes: Vec<Arc<Node>>,
    pub(super) distribution: Box<dyn Distribution>,
    /// As parsed, weights included: a new list equal to it changes nothing.
    servers: Vec<Server>,
    generation: u64,
}

impl Ring {
    /// The address of server `index`.
    pub(super) fn addr(&self, index: usize) -> &str {
        self.nodes[index].pool.addr()
    }

    /// The index of the server that owns `key`.
    ///
    /// # Panics
    /// If the distribution names a server past the end of the list: a broken
    /// [`Distribution`] implementation.
    #[inline]
    pub(super) fn server_for(&self, key: &[u8]) -> usize {
        let index = self.distribution.server_for(key);
        let servers = self.nodes.len();
        assert!(
            index < servers,
            "the distribution chose server {index} of {servers}"
        );
        index
    }
}

/// What a cluster keeps to make servers it was not built with, and the current snapshot.
pub(super) struct Members {
    current: RwLock<Arc<Ring>>,
    /// Held by a change from reading the current list to swapping in the new one, so two
    /// changes at once cannot both build on the same old list and lose one.
    changing: Mutex<()>,
    settings: NodeSettings,
    fleet: Arc<Fleet>,
}

/// The settings a cluster's servers are made with.
pub(super) struct NodeSettings {
    pub(super) config: Config,
    pub(super) pool: PoolConfig,
    pub(super) health: super::HealthConfig,
    /// Whether the distribution is the default ketama, which a new list rebuilds; one of the
    /// caller's own cannot be rebuilt here.
    pub(super) default_distribution: bool,
}

impl Members {
    /// The first snapshot, of `servers` at `addrs`.
    pub(super) fn new(
        settings: NodeSettings,
        fleet: Arc<Fleet>,
        addrs: &[String],
        servers: Vec<Server>,
        distribution: Box<dyn Distribution>,
    ) -> Self {
        let nodes = addrs
            .iter()
            .map(|addr| make_node(&settings, &fleet, addr))
            .collect();
        Self {
            current: RwLock::new(Arc::new(Ring {
                nodes,
                distribution,
                servers,
                generation: 1,
            })),
            changing: Mutex::new(()),
            settings,
            fleet,
        }
    }

    /// The current snapshot.
    #[inline]
    pub(super) fn current(&self) -> Arc<Ring> {
        // A panic cannot happen while the lock is held (it guards one pointer's exchange):
        // a poisoned lock still holds a whole snapshot.
        Arc::clone(&self.current.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Arc<Ring>> {
        self.current.write().unwrap_or_else(|p| p.into_inner())
    }
}

fn make_node(settings: &NodeSettings, fleet: &Arc<Fleet>, addr: &str) -> Arc<Node> {
    Arc::new(Node {
        pool: Pool::builder(addr)
            .config(settings.config.clone())
            .pool(settings.pool.clone())
            .build(),
        health: Health::new(settings.health.clone(), Arc::clone(fleet)),
    })
}

/// What [`Cluster::set_servers`] changed: the servers added, removed and kept, by address.
/// An unchanged list changes nothing, and [`ServersChange::swapped`] is then false.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServersChange {
    /// Servers in the new list and not in the old one: new pools, fresh health.
    pub added: Vec<String>,
    /// Servers in the old list and not in the new one: their pools drain as calls in flight
    /// on them finish, and their health no longer counts.
    pub removed: Vec<String>,
    /// Servers in both: the same pools (their idle connections stay open) and the same health
    /// (a server marked down stays down).
    pub kept: Vec<String>,
    /// Whether a new list was swapped in: false for a list equal to the old one, servers,
    /// order and weights.
    pub swapped: bool,
}

/// One snapshot of a [`Cluster`]'s servers, from [`Cluster::membership`]: indices taken from
/// it ([`Membership::server_for`]) mean the same server in every method of it, however the
/// cluster's list changes meanwhile. Cheap to clone; holding it keeps its servers' pools.
///
/// ```
/// use memcache_sync::Cluster;
///
/// let cluster = Cluster::builder(["10.0.0.1:11211", "10.0.0.2:11211"]).build()?;
/// let members = cluster.membership();
/// let index = members.server_for("user:42");
/// assert_eq!(members.addr_for("user:42"), members.servers()[index]);
/// assert!(!members.is_down(index));
/// cluster.set_servers(["10.0.0.3:11211"])?;
/// assert_eq!(members.servers().len(), 2, "a snapshot never changes");
/// assert_eq!(cluster.membership().servers(), ["10.0.0.3:11211"]);
/// # Ok::<(), memcache_sync::Error>(())
/// ```
#[derive(Clone)]
pub struct Membership {
    ring: Arc<Ring>,
}

impl std::fmt::Debug for Membership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Membership")
            .field("servers", &self.servers())
            .field("generation", &self.ring.generation)
            .finish_non_exhaustive()
    }
}

impl Membership {
    /// The servers' addresses, in the order the distribution numbers them.
    pub fn servers(&self) -> Vec<&str> {
        self.ring
            .nodes
            .iter()
            .map(|node| node.pool.addr())
            .collect()
    }

    /// The index (into [`Membership::servers`]) of the server that owns `key`.
    ///
    /// # Panics
    /// If the distribution names a server past the end of the list: a broken
    /// [`Distribution`] implementation.
    pub fn server_for(&self, key: impl AsRef<[u8]>) -> usize {
        self.ring.server_for(key.as_ref())
    }

    /// The address of the server that owns `key`: what stays true of the owner across
    /// changes that keep it, where its index may move.
    pub fn addr_for(&self, key: impl AsRef<[u8]>) -> &str {
        self.ring.addr(self.ring.server_for(key.as_ref()))
    }

    /// Whether the server at `index` is marked down now.
    pub fn is_down(&self, index: usize) -> bool {
        self.ring
            .nodes
            .get(index)
            .is_some_and(|node| node.health.is_down())
    }

    /// The pool of the server at `index`.
    pub fn pool(&self, index: usize) -> Option<&Pool> {
        self.ring.nodes.get(index).map(|node| &node.pool)
    }

    /// The snapshot's number: 1 for the list the cluster was built with, one more for each
    /// list swapped in since.
    pub fn generation(&self) -> u64 {
        self.ring.generation
    }
}

impl Cluster {
    /// The current snapshot of the servers. Every call takes one at its start and routes by
    /// it alone.
    #[inline]
    pub(super) fn ring(&self) -> Arc<Ring> {
        self.shared.members.current()
    }

    /// The servers as they are now, as one snapshot whose indices stay consistent: see
    /// [`Membership`].
    pub fn membership(&self) -> Membership {
        Membership { ring: self.ring() }
    }

    /// Replaces the server list, while other threads go on using the cluster. `servers` are
    /// read as [`Cluster::builder`] reads them; a bad list fails with
    /// [`Error::InvalidArgument`] and changes nothing. The new distribution is the default
    /// ketama over the new list; a cluster built with a
    /// [`distribution`](super::ClusterBuilder::distribution) of its own needs
    /// [`Cluster::set_servers_with`].
    ///
    /// - **Atomic**: each call routes by the old list or the new one, never a mix; a call in
    ///   flight on a removed server finishes there.
    /// - **Kept servers** (same address) keep their pools, with their open connections, and
    ///   their health: one marked down stays down, its backoff running. A server removed and
    ///   added back later starts afresh.
    /// - **With ketama only the moved share of keys changes owner**: adding a fifth server to
    ///   four moves about a fifth of the keys, all to the new one, and none between the four;
    ///   removing one moves only its keys. A [`Modulo`](crate::distribution::Modulo)
    ///   distribution moves most keys on any change.
    /// - **Fail-open** counts only servers of the new list: a removed server that was down
    ///   gives its place back.
    /// - An unchanged list (servers, order and weights) is a no-op.
    /// - Under [`Failover::Gutter`](super::Failover::Gutter) the gutter's own list is not
    ///   changed: a down server kept in the list still sends its keys to the gutter, a removed
    ///   one sends none. A list naming a gutter server fails with [`Error::InvalidArgument`].
    ///
    /// **Costs:** keys that move find their new owner empty (misses until refilled), and a
    /// value written through the old list just before the change is read from the new owner
    /// after it. **Breaks**, for the keys that move, what relies on one key living in one
    /// place, as [`Failover::NextServer`](super::Failover::NextServer) does: a lock or a
    /// [`CasToken`](crate::CasToken) taken on the old owner means nothing on the new one.
    /// Indices ([`Cluster::server_for`], [`Cluster::is_down`], [`Cluster::pool`],
    /// [`PerServer::get`](super::PerServer::get)) are per snapshot: they may name another
    /// server after a change. Addresses do not.
    ///
    /// Announces [`Event::ServersChanged`] and logs the change at info level.
    ///
    /// ```
    /// use memcache_sync::Cluster;
    ///
    /// let cluster = Cluster::builder(["10.0.0.1:11211", "10.0.0.2:11211"]).build()?;
    /// let change = cluster.set_servers(["10.0.0.2:11211", "10.0.0.3:11211"])?;
    /// assert_eq!(change.added, ["10.0.0.3:11211"]);
    /// assert_eq!(change.removed, ["10.0.0.1:11211"]);
    /// assert_eq!(change.kept, ["10.0.0.2:11211"]);
    /// assert!(!cluster.set_servers(["10.0.0.2:11211", "10.0.0.3:11211"])?.swapped);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn set_servers<S: AsRef<str>>(
        &self,
        servers: impl IntoIterator<Item = S>,
    ) -> Result<ServersChange> {
        if !self.shared.members.settings.default_distribution {
            return Err(invalid(
                "the cluster was built with a distribution of its own: give the new one \
                 with set_servers_with"
                    .into(),
            ));
        }
        self.change_servers(servers, None)
    }

    /// [`Cluster::set_servers`] with the distribution for the new list, which must be built
    /// for the same servers in the same order; for a cluster built with a
    /// [`distribution`](super::ClusterBuilder::distribution) of its own. The list is swapped
    /// in even if it is unchanged, since the distribution may not be.
    ///
    /// ```
    /// use memcache_sync::distribution::Modulo;
    /// use memcache_sync::Cluster;
    ///
    /// let cluster = Cluster::builder(["10.0.0.1:11211", "10.0.0.2:11211"])
    ///     .distribution(Modulo::gomemcache(2)?)
    ///     .build()?;
    /// let three = ["10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211"];
    /// cluster.set_servers_with(three, Modulo::gomemcache(3)?)?;
    /// assert_eq!(cluster.servers(), three);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_servers_with<S: AsRef<str>>(
        &self,
        servers: impl IntoIterator<Item = S>,
        distribution: impl Distribution + 'static,
    ) -> Result<ServersChange> {
        self.change_servers(servers, Some(Box::new(distribution)))
    }

    fn change_servers<S: AsRef<str>>(
        &self,
        servers: impl IntoIterator<Item = S>,
        distribution: Option<Box<dyn Distribution>>,
    ) -> Result<ServersChange> {
        let (addrs, servers) = parse_list(servers)?;
        self.refuse_gutter_servers(&addrs)?;
        let members = &self.shared.members;
        let changing = members.changing.lock().unwrap_or_else(|p| p.into_inner());
        let old = members.current();
        let old_addrs: Vec<&str> = (0..old.nodes.len()).map(|i| old.addr(i)).collect();
        if distribution.is_none() && old.servers == servers && old_addrs == addrs {
            return Ok(ServersChange {
                added: Vec::new(),
                removed: Vec::new(),
                kept: addrs,
                swapped: false,
            });
        }
        let distribution = placing(distribution, &servers, "the list")?;
        // By address: the same server listed twice is one node, as it is one server.
        let mut nodes: HashMap<&str, Arc<Node>> = old
            .nodes
            .iter()
            .map(|node| (node.pool.addr(), Arc::clone(node)))
            .collect();
        let mut added = Vec::new();
        let mut kept = Vec::new();
        let new_nodes: Vec<Arc<Node>> = addrs
            .iter()
            .map(|addr| match nodes.get(addr.as_str()) {
                Some(node) => {
                    if old_addrs.contains(&addr.as_str()) && !kept.contains(addr) {
                        kept.push(addr.clone());
                    }
                    Arc::clone(node)
                }
                None => {
                    let node = make_node(&members.settings, &members.fleet, addr);
                    added.push(addr.clone());
                    nodes.insert(addr.as_str(), Arc::clone(&node));
                    node
                }
            })
            .collect();
        let removed_nodes: Vec<Arc<Node>> = old
            .nodes
            .iter()
            .filter(|node| !addrs.iter().any(|addr| addr == node.pool.addr()))
            .fold(Vec::new(), |mut unique, node| {
                if !unique.iter().any(|n: &Arc<Node>| Arc::ptr_eq(n, node)) {
                    unique.push(Arc::clone(node));
                }
                unique
            });
        let removed: Vec<String> = removed_nodes
            .iter()
            .map(|node| node.pool.addr().to_owned())
            .collect();
        let count = new_nodes.len();
        let generation = old.generation + 1;
        let ring = Arc::new(Ring {
            nodes: new_nodes,
            distribution,
            servers,
            generation,
        });
        drop(nodes);
        drop(old_addrs);
        drop(old);
        *members.write() = ring;
        // After the swap no new call reaches a removed server; those in flight on it may
        // still mark it down, which its retirement, under its lock, then gives back.
        members
            .fleet
            .resize(count, members.settings.health.max_down(count));
        let retired: Vec<Change> = removed_nodes
            .iter()
            .map(|node| node.health.retire())
            .collect();
        // The observer runs without the lock: one that changes the list itself must not wait
        // for its own change.
        drop(changing);
        self.gutter_forgets(&removed);
        for change in retired {
            self.announce_change(change);
        }
        log::info!(
            "memcached server list changed (generation {generation}): {count} servers; \
             added {added:?}, removed {removed:?}, {} kept",
            kept.len()
        );
        self.emit(&Event::ServersChanged {
            added: &added,
            removed: &removed,
            kept: kept.len(),
            servers: count,
        });
        Ok(ServersChange {
            added,
            removed,
            kept,
            swapped: true,
        })
    }

    /// Announces what a retired server's leaving changed in the fleet: fail-open's end, if
    /// it was the last server kept up.
    fn announce_change(&self, change: Change) {
        if let Some(FailOpen::Ended { down }) = change.fail_open {
            let servers = self.shared.fleet.servers();
            log::info!(
                "fail-open ended: the last memcached server it kept up left the list; \
                 {down} of {servers} are down"
            );
            self.emit(&Event::FailOpenEnded {
                down: down as usize,
                servers,
            });
        }
    }
}

pub(super) fn invalid(reason: String) -> Error {
    Error::InvalidArgument {
        what: "cluster",
        reason,
    }
}

/// A server list as written: each server's address and the server a ketama ring hashes for
/// it. An empty list, or a server that does not parse, is refused.
pub(super) fn parse_list<S: AsRef<str>>(
    specs: impl IntoIterator<Item = S>,
) -> Result<(Vec<String>, Vec<Server>)> {
    let parsed = specs
        .into_iter()
        .map(|spec| parse_server(spec.as_ref()))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(invalid)?;
    if parsed.is_empty() {
        return Err(invalid("a cluster needs at least one server".into()));
    }
    Ok(parsed.into_iter().unzip())
}

/// The distribution that places keys over `servers`: the one `given`, which must be built for
/// as many servers, or libmemcached's ketama of them. `list` names the list in the error.
pub(super) fn placing(
    given: Option<Box<dyn Distribution>>,
    servers: &[Server],
    list: &str,
) -> Result<Box<dyn Distribution>> {
    let distribution = match given {
        Some(distribution) => distribution,
        None => Box::new(Ketama::libmemcached_ketama(servers).map_err(|e| invalid(e.to_string()))?),
    };
    if distribution.server_count() != servers.len() {
        return Err(invalid(format!(
            "the distribution is built for {} servers, {list} has {}",
            distribution.server_count(),
            servers.len()
        )));
    }
    Ok(distribution)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use super::super::health::assert_fleet_consistent;
    use super::*;
    use crate::HealthConfig;

    /// Addresses nothing listens on: every connect is refused at once, so servers go down
    /// and (after the short backoff) are probed, all the time.
    fn refused(ports: std::ops::Range<u16>) -> Vec<String> {
        ports.map(|port| format!("127.0.0.1:{port}")).collect()
    }

    #[test]
    fn the_fleet_counts_exactly_the_current_lists_servers_while_lists_change_under_load() {
        let all = refused(1..9);
        let cluster = Cluster::builder(&all[..4])
            .config(Config::default().with_connect_timeout(Duration::from_millis(50)))
            .health(
                HealthConfig::default()
                    .with_failure_threshold(1)
                    .with_backoff(Duration::from_millis(1), Duration::from_millis(2))
                    .with_max_down_share(0.5),
            )
            .build()
            .unwrap();
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            for thread in 0..8 {
                let (cluster, stop) = (&cluster, &stop);
                scope.spawn(move || {
                    let mut n = thread;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let _ = cluster.get(format!("key:{n}"));
                    }
                });
            }
            // Lists of four of the eight, so the cap stays two: added, removed, replaced.
            for round in 0..60 {
                let start = round % 5;
                cluster.set_servers(&all[start..start + 4]).unwrap();
                let ring = cluster.ring();
                let (down, kept_up) = cluster.shared.fleet.counts();
                assert!(
                    down <= 2 && kept_up <= 4,
                    "({down}, {kept_up}) in {}",
                    ring.generation
                );
            }
            stop.store(true, Ordering::Relaxed);
        });
        let ring = cluster.ring();
        let healths: Vec<&Health> = ring.nodes.iter().map(|node| &node.health).collect();
        assert_fleet_consistent(&cluster.shared.fleet, &healths);
        for health in healths {
            health.assert_consistent();
        }
    }

    #[test]
    fn concurrent_changes_are_applied_one_after_another_and_none_is_lost() {
        let all = refused(1..9);
        let cluster = Cluster::builder(&all[..1]).build().unwrap();
        let swapped: usize = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..8)
                .map(|thread| {
                    let (cluster, all) = (&cluster, &all);
                    scope.spawn(move || {
                        let mut swapped = 0;
                        for round in 0..10 {
                            let len = 1 + (thread + round) % 8;
                            swapped +=
                                usize::from(cluster.set_servers(&all[..len]).unwrap().swapped);
                            let members = cluster.membership();
                            assert_eq!(members.servers(), all[..members.servers().len()]);
                        }
                        swapped
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).sum()
        });
        // Two changes built on one old list would share a generation: none did.
        assert_eq!(cluster.membership().generation(), 1 + swapped as u64);
        // Each server has one node, whichever changes kept it.
        let ring = cluster.ring();
        for (i, a) in ring.nodes.iter().enumerate() {
            for b in &ring.nodes[i + 1..] {
                assert!(!Arc::ptr_eq(a, b));
            }
        }
    }
}
