//! Health must not count a pool timeout as a sign of life.

use std::thread;
use std::time::Duration;

use memcache_sync::{Error, Expiry, Phase, PoolConfig};
use memcache_sync_test_support::{unique_key, wait_for};

use crate::fixtures::{builder, health, start, PATIENCE};
use crate::recorder::{observed, transitions, Kind};

/// A probe that never reached the server (its checkout timed out because every pooled
/// connection was in use) must not end the outage: the server is frozen and has answered
/// nothing.
#[test]
fn a_probe_that_times_out_on_checkout_does_not_mark_a_frozen_server_up() {
    let mut servers = start(1);
    let backoff = Duration::from_millis(100);
    let (cluster, recorder) = observed(
        builder(&servers)
            .pool(
                PoolConfig::default()
                    .with_max_size(2)
                    .with_checkout_timeout(Duration::from_millis(100)),
            )
            .health(health().with_backoff(backoff, backoff)),
    );
    let key = unique_key("health:pool-timeout:");
    cluster.set(&key, b"v", Expiry::after_secs(300)).unwrap();

    servers[0].freeze();
    for _ in 0..2 {
        let error = cluster.get(&key).expect_err("a frozen server answered");
        assert_eq!(Kind::of(&error), Kind::Timeout(Phase::Read), "{error:?}");
    }
    assert!(cluster.is_down(0));

    // Every slot of the server's pool is taken (the kernel still accepts connections for a
    // frozen process).
    let pool = cluster.pool(0).unwrap();
    let held = [pool.get().unwrap(), pool.get().unwrap()];
    thread::sleep(backoff + Duration::from_millis(50));

    let probe = cluster.get(&key);
    let still_down = cluster.is_down(0);
    let events = recorder.take();
    drop(held);
    servers[0].thaw();

    assert!(matches!(probe, Err(Error::PoolTimeout { .. })), "{probe:?}");
    assert_eq!(
        transitions(&events, &servers[0].addr()),
        ["down"],
        "a probe that reached no server marked it up: {events:?}"
    );
    assert!(still_down, "a frozen server is no longer marked down");
}

/// Consecutive connection failures are counted across callers; a caller that timed out
/// waiting for a pooled connection learned nothing about the server and must not reset the
/// count.
#[test]
fn a_pool_timeout_between_two_failures_does_not_reset_the_failure_count() {
    let mut servers = start(1);
    let cluster = builder(&servers)
        .pool(
            PoolConfig::default()
                .with_max_size(1)
                .with_checkout_timeout(Duration::from_millis(50)),
        )
        .health(health().with_backoff(Duration::from_secs(30), Duration::from_secs(30)))
        .build()
        .unwrap();
    let key = unique_key("health:count:");
    cluster.set(&key, b"v", Expiry::after_secs(300)).unwrap();

    servers[0].freeze();
    let first = cluster.get(&key).expect_err("a frozen server answered");
    assert_eq!(Kind::of(&first), Kind::Timeout(Phase::Read));
    assert!(
        !cluster.is_down(0),
        "one failure is below the threshold of 2"
    );

    // A second failure, during which another caller waits for the one connection in vain.
    let failing = {
        let (cluster, key) = (cluster.clone(), key.clone());
        thread::spawn(move || cluster.get(&key))
    };
    let pool = cluster.pool(0).unwrap();
    wait_for("the second call taking the connection", PATIENCE, || {
        pool.open_connections() == 1 && pool.idle_connections() == 0
    });
    let waiting = cluster.get(&key);
    assert!(
        matches!(waiting, Err(Error::PoolTimeout { .. })),
        "{waiting:?}"
    );
    let second = failing
        .join()
        .unwrap()
        .expect_err("a frozen server answered");
    servers[0].thaw();
    assert_eq!(Kind::of(&second), Kind::Timeout(Phase::Read));

    assert!(
        cluster.is_down(0),
        "two consecutive read timeouts, with only a pool timeout between them, did not mark \
         the server down"
    );
}
