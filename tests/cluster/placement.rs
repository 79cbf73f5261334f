//! Keys land exactly where the cluster's distribution says, and nowhere else.

use memcache_sync::distribution::{Distribution, Ketama, Modulo, Server};
use memcache_sync::{Cluster, Entry, Expiry};
use memcache_sync_test_support::{raw_get_many, unique_key, Memcached};

use crate::fixtures::{addrs, builder, item, start, text};

/// For each server, exactly the keys `cluster` places on it are there, with their values.
fn assert_placement(
    cluster: &Cluster,
    servers: &[Memcached],
    keys: &[Vec<u8>],
    value: &dyn Fn(usize) -> Vec<u8>,
) {
    let mut per_server = vec![0usize; servers.len()];
    for (index, server) in servers.iter().enumerate() {
        let held = raw_get_many(&server.addr(), keys);
        for (i, key) in keys.iter().enumerate() {
            let owner = cluster.server_for(key);
            match held.get(key) {
                Some(found) => {
                    assert_eq!(
                        owner,
                        index,
                        "{} is on server {index}, but the distribution says {owner}",
                        text(key)
                    );
                    assert_eq!(found, &value(i), "{}", text(key));
                    per_server[index] += 1;
                }
                None => assert_ne!(
                    owner,
                    index,
                    "{} is missing from its server {index}",
                    text(key)
                ),
            }
        }
    }
    assert_eq!(
        per_server.iter().sum::<usize>(),
        keys.len(),
        "{per_server:?}"
    );
    assert!(
        per_server
            .iter()
            .all(|&n| n > keys.len() / (servers.len() * 4)),
        "a very uneven spread: {per_server:?}"
    );
}

#[test]
fn keys_land_exactly_where_the_default_ketama_distribution_says() {
    let servers = start(4);
    let cluster = builder(&servers).build().unwrap();
    assert_eq!(cluster.servers(), addrs(&servers));

    // The default is libmemcached's ketama over the servers' host and port, so a pylibmc
    // client with ketama over the same list finds the same keys.
    let ring = Ketama::libmemcached_ketama(
        &servers
            .iter()
            .map(|s| Server::new("127.0.0.1", s.port()))
            .collect::<Vec<_>>(),
    )
    .unwrap();

    let keys: Vec<Vec<u8>> = (0..1000).map(|_| unique_key("land:ketama:")).collect();
    let value = |i: usize| format!("value-{i}").into_bytes();
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(cluster.server_for(key), ring.server_for(key));
        cluster.set(key, value(i), Expiry::after_secs(300)).unwrap();
    }
    assert_placement(&cluster, &servers, &keys, &value);
    for (i, key) in keys.iter().enumerate().step_by(37) {
        assert_eq!(cluster.get(key).unwrap(), item(&value(i)));
    }
}

#[test]
fn keys_land_exactly_where_an_explicit_modulo_distribution_says_also_in_batches() {
    let servers = start(3);
    let cluster = builder(&servers)
        .distribution(Modulo::gomemcache(3).unwrap())
        .build()
        .unwrap();
    let go = Modulo::gomemcache(3).unwrap();

    let keys: Vec<Vec<u8>> = (0..1000).map(|_| unique_key("land:modulo:")).collect();
    let value = |i: usize| format!("batch-{i}").into_bytes();
    for key in &keys {
        assert_eq!(cluster.server_for(key), go.server_for(key));
    }
    let report =
        cluster
            .set_many(keys.iter().enumerate().map(|(i, key)| {
                Entry::new(key.clone(), value(i)).with_expiry(Expiry::after_secs(300))
            }))
            .unwrap();
    assert_eq!(report.len(), keys.len());
    assert_placement(&cluster, &servers, &keys, &value);

    let found = cluster.get_many(&keys).unwrap();
    assert!(found.failed.is_empty());
    assert_eq!(found.found.len(), keys.len());
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(found.found[key], value(i));
    }
}
