//! Batches fan out across servers, and a dead server fails only its own keys.

use std::collections::HashSet;

use memcache_sync::{Entry, Error, Expiry, ItemResult};
use memcache_sync_test_support::{batch_report, raw_get_many, unique_key};

use crate::fixtures::{addrs, builder, keys_on, start, text};

#[test]
fn batches_fan_out_across_servers_and_a_dead_server_fails_only_its_own_keys() {
    let mut servers = start(3);
    let all = addrs(&servers);
    let cluster = builder(&servers).build().unwrap();
    const DEAD: usize = 2;
    let owned: Vec<Vec<Vec<u8>>> = (0..3).map(|i| keys_on(&cluster, i, "fan:", 20)).collect();
    // Interleaved, so that each server's keys are spread through the input.
    let keys: Vec<Vec<u8>> = (0..20)
        .flat_map(|i| owned.iter().map(move |keys| keys[i].clone()))
        .collect();
    let owner: Vec<usize> = keys.iter().map(|k| cluster.server_for(k)).collect();

    cluster
        .set_many(keys.iter().map(|k| Entry::new(k.clone(), b"one".to_vec())))
        .unwrap();
    for (index, expected) in owned.iter().enumerate() {
        assert_eq!(raw_get_many(&all[index], &keys).len(), expected.len());
    }
    let read = cluster.get_many(&keys).unwrap();
    assert_eq!(read.found.len(), keys.len());
    assert!(read.failed.is_empty());

    servers[DEAD].kill();

    // get_many: the dead server's keys fail with a typed error; the others are read.
    let read = cluster.get_many(&keys).unwrap();
    let failed: HashSet<&[u8]> = read.failed_keys().collect();
    let expected: HashSet<&[u8]> = owned[DEAD].iter().map(Vec::as_slice).collect();
    assert_eq!(failed, expected, "exactly the dead server's keys fail");
    for failure in &read.failed {
        let error = &failure.error;
        assert!(error.is_connection_error(), "{}: {error:?}", failure.server);
    }
    for (key, owner) in keys.iter().zip(&owner) {
        if *owner != DEAD {
            assert_eq!(read.found.get(key).map(|i| i.value), Some(&b"one"[..]));
        }
    }

    // set_many: the live servers' entries are done; the dead one's failed, unconfirmed or
    // not sent, never done.
    let report =
        batch_report(cluster.set_many(keys.iter().map(|k| Entry::new(k.clone(), b"two".to_vec()))));
    assert_eq!(report.len(), keys.len());
    for (i, result) in report.results().iter().enumerate() {
        if owner[i] == DEAD {
            match result {
                ItemResult::Failed(error) => assert!(error.is_connection_error(), "{error:?}"),
                ItemResult::Unconfirmed | ItemResult::NotSent => {}
                ItemResult::Done(()) => panic!("{} stored on a dead server", text(&keys[i])),
            }
        } else {
            assert!(result.is_done(), "{}: {result:?}", text(&keys[i]));
        }
    }
    if let Some(error) = report.stop_error() {
        assert!(error.is_connection_error(), "{error:?}");
    }
    for index in [0, 1] {
        let held = raw_get_many(&all[index], &keys);
        assert_eq!(held.len(), owned[index].len(), "server {index}");
        assert!(held.values().all(|v| v == b"two"));
    }
    assert!(
        cluster.is_down(DEAD),
        "two failed batches reach the threshold"
    );

    // delete_many with the server marked down: its keys fail with ServerDown.
    let report = batch_report(cluster.delete_many(keys.iter()));
    for (i, result) in report.results().iter().enumerate() {
        if owner[i] == DEAD {
            assert!(
                matches!(result, ItemResult::Failed(Error::ServerDown { .. })),
                "{}: {result:?}",
                text(&keys[i])
            );
        } else {
            assert!(
                matches!(result, ItemResult::Done(true)),
                "{}: {result:?}",
                text(&keys[i])
            );
        }
    }
    for index in [0, 1] {
        assert!(
            raw_get_many(&all[index], &keys).is_empty(),
            "server {index}"
        );
    }
    let read = cluster.get_many(&keys).unwrap();
    assert!(read.found.is_empty());
    assert_eq!(read.failed_keys().count(), owned[DEAD].len());
    assert!(read
        .failed
        .iter()
        .all(|failure| matches!(failure.error, Error::ServerDown { .. })));
}

#[test]
fn a_batch_with_an_invalid_key_is_refused_before_anything_is_sent() {
    let servers = start(3);
    let cluster = builder(&servers).build().unwrap();
    let good = unique_key("fan:good:");
    cluster.set(&good, b"v", Expiry::after_secs(300)).unwrap();
    let error = cluster
        .get_many(&[good.clone(), b"bad key".to_vec()])
        .expect_err("a key with a space was sent");
    assert!(error.is_invalid_input(), "{error:?}");
}
