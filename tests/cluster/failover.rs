//! Failover and retries: only when asked for, and only when safe.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use memcache_sync::distribution::Distribution;
use memcache_sync::{
    Cluster, Entry, Error, Event, Expiry, Failover, HealthConfig, Observer, Phase, PoolConfig,
    RetryPolicy,
};
use memcache_sync_test_support::{batch_report, raw_get, raw_get_many, raw_set, timed, Memcached};

use crate::fixtures::{
    addrs, builder, config, health, item, key_failing_over, key_on, keys_on, next_owner, ring_of,
    start, text, FAST, PATIENCE, READ_TIMEOUT,
};
use crate::recorder::{observed, retries, transitions, Kind, Recorder, Seen};

#[test]
fn next_server_failover_is_opt_in_and_moves_a_down_servers_keys_to_their_next_owner() {
    let mut servers = start(3);
    let all = addrs(&servers);
    const DEAD: usize = 1;
    const NEXT: usize = 2;
    // A long backoff: no probe (which would go to the dead owner) during the test.
    let long = HealthConfig::default()
        .with_failure_threshold(2)
        .with_backoff(Duration::from_secs(30), Duration::from_secs(30));
    let (failover, recorder) = observed(
        builder(&servers)
            .health(long.clone())
            .failover(Failover::NextServer),
    );
    let never = builder(&servers).health(long).build().unwrap();
    let keys: Vec<Vec<u8>> = (0..5)
        .map(|_| key_failing_over(&failover, &servers, DEAD, NEXT, "failover:"))
        .collect();
    for key in &keys {
        assert_eq!(never.server_for(key), DEAD);
    }

    servers[DEAD].kill();
    // Failover happens only once the server is marked down; until then its keys fail.
    for _ in 0..2 {
        let error = failover
            .get(&keys[0])
            .expect_err("a killed server answered");
        assert!(Kind::of(&error).is_reach_failure(), "{error:?}");
    }
    assert!(failover.is_down(DEAD));
    recorder.take();

    for key in &keys {
        failover
            .set(key, b"moved", Expiry::after_secs(300))
            .unwrap();
        assert_eq!(failover.get(key).unwrap(), item(b"moved"));
        assert_eq!(raw_get(&all[NEXT], key), Some(b"moved".to_vec()));
        assert_eq!(raw_get(&all[0], key), None);
    }
    for event in recorder.take() {
        if let Seen::Operation { server, error, .. } = &event {
            assert_eq!(server, &all[NEXT], "{event:?}");
            assert_eq!(*error, None, "{event:?}");
        }
    }

    // The default policy never moves a key: connection errors, then ServerDown.
    let fresh = key_on(&never, DEAD, "failover:never:");
    let mut kinds = Vec::new();
    for _ in 0..4 {
        let error = never
            .set(&fresh, b"nowhere", Expiry::after_secs(300))
            .expect_err("the default policy stored a dead server's key");
        kinds.push(Kind::of(&error));
    }
    assert!(kinds[..2].iter().all(|k| k.is_reach_failure()), "{kinds:?}");
    assert_eq!(kinds[2..], [Kind::ServerDown, Kind::ServerDown]);
    for index in [0, NEXT] {
        assert_eq!(
            raw_get(&all[index], &fresh),
            None,
            "moved to server {index}"
        );
    }
}

/// `Failover::NextServer` promises that a call for a down server's key "goes to the next
/// server in the list that is up". The one caller admitted as the probe of the dead owner
/// should still be served (by the next server) when the probe fails, rather than get the
/// probe's connection error.
#[test]
fn with_failover_the_caller_that_probes_a_still_dead_server_is_served_by_the_next_one() {
    let mut servers = start(3);
    let all = addrs(&servers);
    const DEAD: usize = 1;
    let backoff = Duration::from_millis(100);
    let cluster = builder(&servers)
        .health(health().with_backoff(backoff, backoff))
        .failover(Failover::NextServer)
        .build()
        .unwrap();
    let key = key_on(&cluster, DEAD, "failover:probe:");
    let next = next_owner(&servers, &key, DEAD);
    servers[DEAD].kill();
    while !cluster.is_down(DEAD) {
        let _ = cluster.get(&key);
    }
    cluster
        .set(&key, b"moved", Expiry::after_secs(300))
        .unwrap();
    assert_eq!(raw_get(&all[next], &key), Some(b"moved".to_vec()));

    thread::sleep(backoff + Duration::from_millis(50));
    // This call is admitted as the probe of the dead owner.
    let probed = cluster.get(&key);
    assert!(cluster.is_down(DEAD));
    assert_eq!(
        probed.unwrap(),
        item(b"moved"),
        "the probing caller was not failed over"
    );
}

/// Fails naming how many keys were not answered, and the first few with what they got.
fn assert_all_answered(unanswered: &[String], what: &str) {
    assert!(
        unanswered.is_empty(),
        "{what}: {} keys not answered, such as {:?}",
        unanswered.len(),
        &unanswered[..unanswered.len().min(3)]
    );
}

/// With `Failover::NextServer`, a down server's keys go to the next server, which the same
/// batch also reads or writes its own keys on: both groups share the one connection the call
/// holds. With a pool of one connection per server, a call that asked the pool for a second
/// connection would wait for itself and fail the next server's own keys, or the moved ones,
/// with `PoolTimeout`. The next server is frozen for longer than the checkout timeout while
/// each batch runs, so that a second checkout could not succeed by luck.
#[test]
fn with_failover_a_batch_moves_a_down_servers_keys_onto_the_connection_it_holds_to_the_next() {
    let mut servers = start(3);
    let all = addrs(&servers);
    const DEAD: usize = 1;
    const NEXT: usize = 2;
    let checkout = Duration::from_millis(100);
    let frozen_for = Duration::from_millis(300);
    let cluster = builder(&servers)
        .config(config().with_read_timeout(PATIENCE))
        .pool(
            PoolConfig::default()
                .with_max_size(1)
                .with_checkout_timeout(checkout),
        )
        // A long backoff: no probe (which would go to the dead owner) during the test.
        .health(health().with_backoff(Duration::from_secs(30), Duration::from_secs(30)))
        .failover(Failover::NextServer)
        .build()
        .unwrap();
    // About 1,000 keys of 40 bytes per server: more than one window, so a get_many of all
    // of them runs a thread per server; the first 30 fit one window and are read from the
    // calling thread.
    let keys: Vec<Vec<u8>> = (0..3000)
        .map(|i| format!("failover:share:{i:024}").into_bytes())
        .collect();
    let small = &keys[..30];
    for server in 0..3 {
        assert!(small.iter().any(|key| cluster.server_for(key) == server));
    }
    let ring = ring_of(&servers);
    let holder = |key: &[u8]| match cluster.server_for(key) {
        DEAD => ring
            .server_for_excluding(key, &|index| index == DEAD)
            .unwrap(),
        owner => owner,
    };
    assert!(
        small
            .iter()
            .any(|key| cluster.server_for(key) == DEAD && holder(key) == NEXT),
        "no key of the dead server fails over to the frozen one"
    );

    servers[DEAD].kill();
    let dead_key = small.iter().find(|key| cluster.server_for(key) == DEAD);
    while !cluster.is_down(DEAD) {
        cluster
            .get(dead_key.unwrap())
            .expect_err("a killed server answered");
    }

    // Runs `call` while the next server is frozen, thawing it after `frozen_for`.
    let mut while_frozen = |call: &dyn Fn() -> Vec<String>| {
        servers[NEXT].freeze();
        thread::scope(|scope| {
            let next = &mut servers[NEXT];
            scope.spawn(move || {
                thread::sleep(frozen_for);
                next.thaw();
            });
            call()
        })
    };

    let unanswered = while_frozen(&|| {
        let report = batch_report(cluster.set_many(keys.iter().map(|key| Entry::new(key, key))));
        (keys.iter().zip(report.results()))
            .filter(|(_, result)| !result.is_done())
            .map(|(key, result)| format!("{}: {result:?}", text(key)))
            .collect()
    });
    assert_all_answered(&unanswered, "set_many");
    for (index, addr) in all.iter().enumerate().filter(|(index, _)| *index != DEAD) {
        let held = raw_get_many(addr, &keys);
        let expected = keys.iter().filter(|key| holder(key) == index).count();
        assert_eq!(held.len(), expected, "keys stored on server {index}");
        assert!(held.iter().all(|(key, value)| key == value));
    }

    for (what, keys) in [
        ("a get_many from one thread", small),
        ("a get_many on threads", &keys[..]),
    ] {
        let unanswered = while_frozen(&|| {
            let report = cluster.get_many(keys).unwrap();
            keys.iter()
                .filter(|key| report.found.get(*key).map(|item| item.value) != Some(key.as_slice()))
                .map(|key| format!("{}: {:?}", text(key), report.error_for(key)))
                .collect()
        });
        assert_all_answered(&unanswered, what);
    }
}

/// A batch admitted as the probe of a down server that is still dead passes that server's
/// keys on to the next one, as a single call does, and there they join the next server's own
/// keys on the one connection the batch holds.
#[test]
fn with_failover_a_batch_that_probes_a_still_dead_server_is_served_by_the_next_one() {
    let mut servers = start(3);
    let all = addrs(&servers);
    const DEAD: usize = 1;
    let backoff = Duration::from_millis(100);
    let (cluster, recorder) = observed(
        builder(&servers)
            .pool(PoolConfig::default().with_max_size(1))
            .health(health().with_backoff(backoff, backoff))
            .failover(Failover::NextServer),
    );
    let keys: Vec<Vec<u8>> = (0..3)
        .flat_map(|server| keys_on(&cluster, server, "failover:batch-probe:", 5))
        .collect();
    servers[DEAD].kill();
    while !cluster.is_down(DEAD) {
        let _ = cluster.get(&keys[5]);
    }
    cluster
        .set_many(keys.iter().map(|key| Entry::new(key, key)))
        .unwrap();

    thread::sleep(backoff + Duration::from_millis(50));
    recorder.take();
    // This call is admitted as the probe of the dead owner.
    let report = cluster.get_many(&keys).unwrap();
    let events = recorder.take();
    assert_eq!(
        transitions(&events, &all[DEAD]),
        ["down"],
        "the batch did not probe the dead server: {events:?}"
    );
    let failed: Vec<String> = (report.failed.iter())
        .map(|failure| format!("{}: {:?}", failure.server, failure.error))
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    for key in &keys {
        assert_eq!(
            report.found.get(key).map(|item| item.value),
            Some(key.as_slice())
        );
    }
}

/// A cluster of `servers` that retries up to 3 attempts after `backoff` (jittered to between
/// half and all of it), with a failure threshold high enough that no server is marked down,
/// and whose observer also reports each retry on `retried`.
fn retrying_cluster(
    servers: &[Memcached],
    backoff: Duration,
    recorder: &Recorder,
    retried: mpsc::Sender<()>,
) -> Cluster {
    let record = recorder.observer();
    builder(servers)
        .health(health().with_failure_threshold(10))
        .retry(RetryPolicy::attempts(3).with_backoff(backoff, backoff))
        .observer(move |event: &Event<'_>| {
            if let Event::Retry { .. } = event {
                let _ = retried.send(());
            }
            record.on_event(event);
        })
        .build()
        .unwrap()
}

#[test]
fn a_read_that_timed_out_is_retried_on_a_fresh_connection() {
    let mut servers = start(3);
    let addr = servers[0].addr();
    let recorder = Recorder::default();
    let (retried, retry_seen) = mpsc::channel();
    let backoff = Duration::from_millis(150);
    let cluster = retrying_cluster(&servers, backoff, &recorder, retried);
    let key = key_on(&cluster, 0, "retry:get:");
    cluster.set(&key, b"v1", Expiry::after_secs(300)).unwrap();
    recorder.take();

    // The first attempt times out on the frozen server; the server is thawed as soon as the
    // retry is announced, during the retry's backoff.
    servers[0].freeze();
    let (result, announced) = thread::scope(|scope| {
        let server = &mut servers[0];
        let thawer = scope.spawn(move || {
            let announced = retry_seen.recv_timeout(PATIENCE).is_ok();
            server.thaw();
            announced
        });
        let result = cluster.get(&key);
        (result, thawer.join().unwrap())
    });
    assert!(announced, "no retry was announced");
    assert_eq!(result.unwrap(), item(b"v1"), "the retry read the value");

    let events = recorder.take();
    let retried = retries(&events);
    assert_eq!(retried.len(), 1, "{events:?}");
    assert!(
        matches!(
            retried[0],
            Seen::Retry { server, command: "get", attempt: 1, error: Kind::Timeout(Phase::Read), backoff: b }
                if server == &addr && *b >= backoff / 2 && *b <= backoff
        ),
        "{events:?}"
    );
    match events.last() {
        Some(Seen::Operation {
            server,
            command: "get",
            latency,
            error: None,
        }) => {
            assert_eq!(server, &addr);
            assert!(*latency >= READ_TIMEOUT + backoff / 2, "{latency:?}");
        }
        other => panic!("expected the get's operation event, got {other:?}"),
    }
}

#[test]
fn an_incr_that_timed_out_is_not_retried_and_counts_at_most_once() {
    let mut servers = start(3);
    let addr = servers[0].addr();
    let recorder = Recorder::default();
    let (retried, retry_seen) = mpsc::channel();
    let cluster = retrying_cluster(&servers, Duration::from_millis(10), &recorder, retried);
    let key = key_on(&cluster, 0, "retry:incr:");
    cluster.set(&key, b"5", Expiry::after_secs(300)).unwrap();
    recorder.take();

    servers[0].freeze();
    let (result, elapsed) = timed(|| cluster.incr(&key, 1));
    servers[0].thaw();
    let error = result.expect_err("a frozen server answered");
    assert_eq!(Kind::of(&error), Kind::Timeout(Phase::Read), "{error:?}");
    assert!(error.may_have_reached_server());
    assert!(elapsed < READ_TIMEOUT * 2, "{elapsed:?}: retried?");
    assert!(retry_seen.try_recv().is_err(), "an incr was retried");
    let events = recorder.take();
    assert!(retries(&events).is_empty(), "{events:?}");
    assert!(
        matches!(
            &events[..],
            [Seen::Operation {
                command: "incr",
                error: Some(Kind::Timeout(Phase::Read)),
                ..
            }]
        ),
        "{events:?}"
    );

    // The request did reach memcached, which applies it once thawed: that is why it must not
    // be repeated. Whatever memcached did with it, the counter moved at most once.
    thread::sleep(Duration::from_millis(100));
    let value = raw_get(&addr, &key).expect("the counter is gone");
    assert!(
        value == b"5" || value == b"6",
        "the counter reads {:?}",
        text(&value)
    );
    let before = text(&value).parse::<u64>().unwrap();
    assert_eq!(cluster.incr(&key, 1).unwrap(), Some(before + 1));
    assert!(retries(&recorder.take()).is_empty());
}

#[test]
fn after_a_restart_a_stale_pooled_connection_neither_loses_a_read_nor_repeats_an_incr() {
    let mut servers = start(3);
    let addr = servers[0].addr();
    let recorder = Recorder::default();
    let (retried, _retry_seen) = mpsc::channel();
    let cluster = retrying_cluster(&servers, Duration::from_millis(10), &recorder, retried);
    let (key, counter) = (
        key_on(&cluster, 0, "restart:get:"),
        key_on(&cluster, 0, "restart:incr:"),
    );
    cluster.set(&key, b"old", Expiry::after_secs(300)).unwrap();
    cluster
        .set(&counter, b"5", Expiry::after_secs(300))
        .unwrap();
    assert_eq!(cluster.pool(0).unwrap().idle_connections(), 1);

    // The pooled connection now leads to a dead process. Either the client notices the close
    // before sending (no failure at all), or the first attempt fails with the connection
    // closed or reset and the read is retried on a fresh connection. Never a stale answer.
    servers[0].restart();
    raw_set(&addr, &key, b"fresh");
    raw_set(&addr, &counter, b"5");
    recorder.take();
    assert_eq!(cluster.get(&key).unwrap(), item(b"fresh"));
    let events = recorder.take();
    let retried = retries(&events);
    assert!(retried.len() <= 1, "{events:?}");
    for event in retried {
        assert!(
            matches!(
                event,
                Seen::Retry {
                    command: "get",
                    attempt: 1,
                    error: Kind::Closed | Kind::Io,
                    ..
                }
            ),
            "{event:?}"
        );
    }

    // The same for an incr, except that a failure after sending is not retried: the counter
    // moves at most once, and only a success moves it.
    cluster.set(&key, b"warm", Expiry::after_secs(300)).unwrap();
    servers[0].restart();
    raw_set(&addr, &counter, b"5");
    recorder.take();
    match cluster.incr(&counter, 1) {
        Ok(value) => {
            assert_eq!(value, Some(6));
            assert_eq!(raw_get(&addr, &counter), Some(b"6".to_vec()));
        }
        Err(error) => {
            assert!(
                matches!(Kind::of(&error), Kind::Closed | Kind::Io),
                "{error:?}"
            );
            assert_eq!(raw_get(&addr, &counter), Some(b"5".to_vec()));
        }
    }
    let events = recorder.take();
    assert!(
        retries(&events).is_empty(),
        "an incr was retried: {events:?}"
    );
}

#[test]
fn writes_are_retried_only_when_nothing_was_sent_and_a_down_server_is_not_retried() {
    let mut servers = start(3);
    let all = addrs(&servers);
    let (cluster, recorder) = observed(
        builder(&servers)
            .retry(
                RetryPolicy::attempts(3)
                    .with_backoff(Duration::from_millis(5), Duration::from_millis(20)),
            )
            .health(
                health()
                    .with_failure_threshold(3)
                    .with_backoff(Duration::from_secs(30), Duration::from_secs(30)),
            ),
    );
    let key = key_on(&cluster, 2, "retry:set:");
    servers[2].kill();

    // Nothing listens: the request cannot have been sent, so even a set is retried.
    let error = cluster
        .set(&key, b"v", Expiry::after_secs(300))
        .expect_err("a killed server stored");
    assert_eq!(Kind::of(&error), Kind::Connect, "{error:?}");
    let events = recorder.take();
    let retried = retries(&events);
    assert_eq!(retried.len(), 2, "{events:?}");
    for (n, event) in retried.iter().enumerate() {
        assert!(
            matches!(event, Seen::Retry { command: "set", error: Kind::Connect, attempt, server, .. }
                if *attempt == n as u32 + 1 && server == &all[2]),
            "{event:?}"
        );
    }
    assert!(
        cluster.is_down(2),
        "three connect failures reach the threshold"
    );

    // A server marked down is not retried: one ServerDown, at once.
    let (result, elapsed) = timed(|| cluster.get(&key));
    assert!(
        matches!(result, Err(Error::ServerDown { .. })),
        "{result:?}"
    );
    assert!(elapsed < FAST, "{elapsed:?}");
    assert!(retries(&recorder.take()).is_empty());
}
