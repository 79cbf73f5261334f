//! Batches cut short by a dying server or too big to send whole, and a prober that panics.

use std::thread;
use std::time::{Duration, Instant};

use memcache_sync::{Entry, Error, HealthConfig, ItemResult};
use memcache_sync_test_support::batch_report;

use crate::fixtures::{builder, key_on, start, text, PATIENCE};

#[test]
fn a_batch_spanning_many_windows_on_a_server_that_dies_reports_every_item_without_panicking() {
    let mut servers = start(2);
    let cluster = builder(&servers).build().unwrap();
    const COUNT: usize = 20_000;
    let keys: Vec<Vec<u8>> = (0..COUNT)
        .map(|i| format!("cut:{i:06}").into_bytes())
        .collect();
    // A pooled connection to server 1, then server 1 dies: the batch finds it gone at its
    // first window and takes no more of that server's items.
    let warm = key_on(&cluster, 1, "cut:warm:");
    assert_eq!(cluster.get(&warm).unwrap(), None);
    servers[1].kill();

    let report = batch_report(cluster.set_many(keys.iter().map(|key| Entry::new(key, b"v"))));
    assert_eq!(report.len(), COUNT, "every item is reported");
    assert_eq!(report.not_taken(), Some(0));
    for (key, result) in keys.iter().zip(report.results()) {
        match cluster.server_for(key) {
            0 => assert!(result.is_done(), "{}: {result:?}", text(key)),
            _ => assert!(
                matches!(result, ItemResult::NotSent | ItemResult::Failed(_)),
                "{}: {result:?}",
                text(key)
            ),
        }
    }
    assert!(report.stop_error().is_some_and(Error::is_connection_error));
}

#[test]
fn a_probe_whose_caller_panics_does_not_leave_the_server_down_with_nobody_probing() {
    let mut servers = start(1);
    let cluster = builder(&servers)
        .health(
            HealthConfig::default()
                .with_failure_threshold(1)
                .with_backoff(Duration::from_millis(50), Duration::from_millis(50)),
        )
        .build()
        .unwrap();
    let key = key_on(&cluster, 0, "probe:panic:");
    servers[0].kill();
    assert!(cluster.get(&key).is_err());
    assert!(cluster.is_down(0));
    servers[0].restart();

    thread::sleep(Duration::from_millis(120));
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        cluster.with_key(&key, "get", true, |_| -> Result<(), Error> {
            panic!("the probe's caller panics")
        })
    }));
    assert!(panicked.is_err());
    // The next caller probes in its place (within one more backoff) and finds the server up.
    let deadline = Instant::now() + PATIENCE;
    loop {
        match cluster.get(&key) {
            Ok(found) => break assert_eq!(found, None),
            Err(Error::ServerDown { .. }) if Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(20))
            }
            Err(error) => {
                panic!("the server stayed down after the probe's caller panicked: {error:?}")
            }
        }
    }
    assert!(!cluster.is_down(0));
}

#[test]
fn a_get_many_too_big_to_send_whole_still_fails_only_the_dead_servers_keys() {
    let mut servers = start(3);
    let cluster = builder(&servers).build().unwrap();
    // About 30 KiB of keys per server: more than one window, so each server's share runs
    // through its own pipeline on its own thread.
    let keys: Vec<Vec<u8>> = (0..3000)
        .map(|i| format!("big:{i:028}").into_bytes())
        .collect();
    cluster
        .set_many(keys.iter().map(|key| Entry::new(key, b"v")))
        .unwrap();
    servers[2].kill();
    let report = cluster.get_many(&keys).unwrap();
    for key in &keys {
        if cluster.server_for(key) == 2 {
            let error = report.error_for(key).expect("the dead server's key failed");
            assert!(error.is_connection_error(), "{error:?}");
            assert!(!report.found.contains_key(key));
        } else {
            assert_eq!(&report.found[key], b"v", "{}", text(key));
        }
    }
    assert_eq!(
        report.found.len() + report.failed_keys().count(),
        keys.len()
    );
    assert_eq!(
        report.failed.len(),
        1,
        "one failure for the one dead server"
    );
}
