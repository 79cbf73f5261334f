//! `Cluster::get_many`'s and `gets_many`'s `found`: one `Found` filled from every server's
//! replies, on both of the calls' paths (every request written before any reply is read,
//! from the calling thread; and a thread per server for a read too big to write whole), with
//! each item's own value, flags and CAS token, a key asked twice found once, and nothing of
//! a server that failed part-way through its reply.

mod support;

use std::collections::HashMap;

use memcache_sync::{CasToken, Cluster, Error, Item, ItemRef, StoreOptions};
use support::fault_server::{Fault, FaultServer};
use support::{unique_key, Memcached};

fn value(i: usize) -> Vec<u8> {
    format!("value {i} {}", "v".repeat(i % 90)).into_bytes()
}

fn flags(i: usize) -> u32 {
    (i as u32).wrapping_mul(2_654_435_761)
}

/// `n` fresh keys stored through `cluster`, key `i` with [`value`] and [`flags`] of `i`.
fn store(cluster: &Cluster, prefix: &str, n: usize) -> Vec<Vec<u8>> {
    let keys: Vec<Vec<u8>> = (0..n).map(|_| unique_key(prefix)).collect();
    for (i, key) in keys.iter().enumerate() {
        let options = StoreOptions::new().flags(flags(i));
        cluster.set(key, value(i), options).unwrap();
    }
    keys
}

fn four_servers() -> (Vec<Memcached>, Cluster) {
    let servers: Vec<Memcached> = (0..4).map(|_| Memcached::start()).collect();
    let cluster = Cluster::builder(servers.iter().map(Memcached::addr))
        .build()
        .unwrap();
    (servers, cluster)
}

/// Reads `keys` (each once, then the first again and a missing key) with `get_many` and
/// `gets_many`, and checks each finds every key with its own value and flags, and nothing else.
fn assert_found_whole(cluster: &Cluster, keys: &[Vec<u8>]) {
    for server in 0..cluster.servers().len() {
        assert!(
            keys.iter().any(|key| cluster.server_for(key) == server),
            "every server owns some of the keys"
        );
    }
    let missing = unique_key("cluster_found:missing:");
    let mut asked = keys.to_vec();
    asked.push(keys[0].clone());
    asked.push(missing.clone());

    let report = cluster.get_many(&asked).unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed.first());
    assert_eq!(report.found.len(), keys.len());
    for (i, key) in keys.iter().enumerate() {
        let item = ItemRef {
            value: &value(i),
            flags: flags(i),
        };
        assert_eq!(report.found.get(key), Some(item));
        assert_eq!(report.found[key], value(i));
    }
    assert!(!report.found.contains_key(&missing));
    assert_eq!(report.found.iter().count(), keys.len());
    let expected: HashMap<Vec<u8>, Item> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let item = Item {
                value: value(i),
                flags: flags(i),
            };
            (key.clone(), item)
        })
        .collect();
    assert_eq!(report.found.into_inner(), expected);

    let report = cluster.gets_many(&asked).unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed.first());
    assert_eq!(report.found.len(), keys.len());
    for (i, key) in keys.iter().enumerate() {
        let (item, token): (ItemRef<'_>, CasToken) = report.found.get(key).expect("stored");
        assert_eq!((item.value, item.flags), (&value(i)[..], flags(i)));
        // Each item's own token, as a single `gets` of its key reports it.
        let single = cluster.gets(key).unwrap().map(|(_, token)| token);
        assert_eq!(Some(token), single, "{}", String::from_utf8_lossy(key));
    }
}

#[test]
fn a_read_written_whole_finds_every_servers_items_in_one_map_with_their_own_flags() {
    let (_servers, cluster) = four_servers();
    // A few dozen keys a server: each server's request fits one window.
    let keys = store(&cluster, "cluster_found:small:", 200);
    assert_found_whole(&cluster, &keys);
}

#[test]
fn a_read_too_big_to_write_whole_finds_every_servers_items_in_one_map_too() {
    let (_servers, cluster) = four_servers();
    // Some 500 keys of ~45 bytes a server: more than one window (16 KiB) of request each,
    // which the cluster reads on a thread per server.
    let keys = store(&cluster, "cluster_found:large:", 2000);
    assert_found_whole(&cluster, &keys);
}

#[test]
fn a_server_that_closes_after_answering_some_keys_leaves_none_of_its_keys_in_found() {
    let healthy = Memcached::start();
    // Sends its first key's whole `VALUE` frame, then closes before `END`.
    let faulty = FaultServer::start(vec![Fault::CloseBeforeEnd, Fault::Healthy]);
    // The healthy server first: its items are in the map when the faulty server's are read.
    let cluster = Cluster::builder([healthy.addr(), faulty.addr()])
        .build()
        .unwrap();
    let keys: Vec<Vec<u8>> = (0..60)
        .map(|_| unique_key("cluster_found:closed:"))
        .collect();
    let (on_healthy, on_faulty): (Vec<_>, Vec<_>) =
        keys.iter().partition(|key| cluster.server_for(key) == 0);
    assert!(on_healthy.len() >= 2 && on_faulty.len() >= 2);
    for key in &on_healthy {
        cluster.set(key, *key, StoreOptions::new()).unwrap();
    }
    for key in &on_faulty {
        faulty.insert(key, key);
    }

    let report = cluster.get_many(&keys).unwrap();
    assert_eq!(report.failed.len(), 1, "{:?}", report.failed);
    let failure = &report.failed[0];
    assert_eq!(failure.server, faulty.addr());
    assert!(
        matches!(
            failure.error,
            Error::ConnectionClosed { .. } | Error::Io { .. }
        ),
        "{:?}",
        failure.error
    );
    let failed: Vec<&Vec<u8>> = failure.keys.iter().collect();
    assert_eq!(failed, on_faulty);
    // Its first key's item arrived whole before the close: it is still no part of `found`.
    assert_eq!(report.found.len(), on_healthy.len());
    for key in &on_healthy {
        assert_eq!(&report.found[key], key.as_slice());
    }
    for key in &on_faulty {
        assert!(!report.found.contains_key(key));
        assert!(report.error_for(key).is_some());
    }
    // The next call reconnects and reads the faulty server's keys too.
    let report = cluster.get_many(&keys).unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed.first());
    assert_eq!(report.found.len(), keys.len());
}
