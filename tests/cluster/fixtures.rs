//! The servers, timeouts and keys every area of this file starts from.

use std::time::Duration;

use memcache_sync::distribution::{Distribution, Ketama, Server};
use memcache_sync::{Cluster, ClusterBuilder, Config, HealthConfig, Item};
use memcache_sync_test_support::{unique_key, Memcached};

pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(200);
pub const READ_TIMEOUT: Duration = Duration::from_millis(300);
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(200);
pub const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// A call on a server marked down must fail at least this fast.
pub const FAST: Duration = Duration::from_millis(50);
/// How long a recovery may take on a loaded machine before the test gives up.
pub const PATIENCE: Duration = Duration::from_secs(5);

pub fn config() -> Config {
    Config::default()
        .with_connect_timeout(CONNECT_TIMEOUT)
        .with_write_timeout(READ_TIMEOUT)
        .with_read_timeout(READ_TIMEOUT)
}

pub fn health() -> HealthConfig {
    HealthConfig::default()
        .with_failure_threshold(2)
        .with_backoff(INITIAL_BACKOFF, MAX_BACKOFF)
}

pub fn start(n: usize) -> Vec<Memcached> {
    (0..n).map(|_| Memcached::start()).collect()
}

pub fn addrs(servers: &[Memcached]) -> Vec<String> {
    servers.iter().map(Memcached::addr).collect()
}

/// A cluster over `servers` with short timeouts and a short backoff.
pub fn builder(servers: &[Memcached]) -> ClusterBuilder {
    Cluster::builder(addrs(servers))
        .config(config())
        .health(health())
}

pub fn item(value: &[u8]) -> Option<Item> {
    Some(Item {
        value: value.to_vec(),
        flags: 0,
    })
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh key that `cluster` places on server `index`.
pub fn key_on(cluster: &Cluster, index: usize, prefix: &str) -> Vec<u8> {
    for _ in 0..100_000 {
        let key = unique_key(prefix);
        if cluster.server_for(&key) == index {
            return key;
        }
    }
    panic!("no key of 100000 maps to server {index}");
}

pub fn keys_on(cluster: &Cluster, index: usize, prefix: &str, n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|_| key_on(cluster, index, prefix)).collect()
}

/// The default distribution of a cluster over `servers`, built apart from the cluster.
pub fn ring_of(servers: &[Memcached]) -> Ketama {
    Ketama::libmemcached_ketama(
        &servers
            .iter()
            .map(|s| Server::new("127.0.0.1", s.port()))
            .collect::<Vec<_>>(),
    )
    .unwrap()
}

/// The server a cluster over `servers` with the default distribution fails `key` over to
/// while server `dead` is down: the next point of its ketama ring.
pub fn next_owner(servers: &[Memcached], key: &[u8], dead: usize) -> usize {
    ring_of(servers)
        .server_for_excluding(key, &|index| index == dead)
        .unwrap()
}

/// A fresh key that `cluster` places on server `owner` and fails over to server `next`.
pub fn key_failing_over(
    cluster: &Cluster,
    servers: &[Memcached],
    owner: usize,
    next: usize,
    prefix: &str,
) -> Vec<u8> {
    loop {
        let key = key_on(cluster, owner, prefix);
        if next_owner(servers, &key, owner) == next {
            return key;
        }
    }
}
