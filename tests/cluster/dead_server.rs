//! A dead server under the default policy: it fails only its own keys, first with
//! connection errors and then fast, recovers after a restart, and threads hammering it do not
//! reconnect in a herd.

use std::io::ErrorKind as IoErrorKind;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use memcache_sync::{Error, Event, Expiry, PoolConfig};
use memcache_sync_test_support::{raw_get, raw_get_many, timed};

use crate::fixtures::{
    addrs, builder, item, keys_on, start, text, FAST, INITIAL_BACKOFF, MAX_BACKOFF, PATIENCE,
};
use crate::recorder::{observed, transitions, Kind, Seen};

#[test]
fn a_killed_server_fails_only_its_own_keys_then_fast_and_recovers_after_restart() {
    let mut servers = start(3);
    let all = addrs(&servers);
    let (cluster, recorder) = observed(builder(&servers));
    const DEAD: usize = 1;
    let dead_addr = all[DEAD].clone();

    let owned: Vec<Vec<Vec<u8>>> = (0..3).map(|i| keys_on(&cluster, i, "down:", 10)).collect();
    for keys in &owned {
        for key in keys {
            cluster
                .set(key, b"before", Expiry::after_secs(300))
                .unwrap();
        }
    }
    recorder.take();

    servers[DEAD].kill();

    // Connection errors first (the pooled connection is dead, then nothing listens), as many
    // as the failure threshold; then the server is marked down.
    for call in 0..2 {
        let error = cluster
            .get(&owned[DEAD][0])
            .expect_err("a killed server answered");
        assert!(
            Kind::of(&error).is_reach_failure(),
            "call {call}: expected a connection error, got {error:?}"
        );
        assert!(error.is_connection_error());
    }
    assert!(cluster.is_down(DEAD), "not marked down after 2 failures");
    assert_eq!(transitions(&recorder.snapshot(), &dead_addr), ["down"]);

    // Now its keys fail at once, without touching the network.
    for key in &owned[DEAD] {
        let (result, elapsed) = timed(|| cluster.get(key));
        match result {
            Err(Error::ServerDown { addr, retry_in }) => {
                assert_eq!(addr, dead_addr);
                assert!(retry_in <= MAX_BACKOFF);
                assert!(elapsed < FAST, "a down server took {elapsed:?} to refuse");
            }
            // The backoff may have run out already: then this caller is the one probe.
            Err(error) if Kind::of(&error).is_reach_failure() => {}
            other => panic!("expected ServerDown, got {other:?}"),
        }
    }
    // Writes fail too, and never go to another server.
    for key in &owned[DEAD] {
        let error = cluster
            .set(key, b"after-kill", Expiry::after_secs(300))
            .expect_err("a write to a dead server succeeded");
        assert!(error.is_connection_error(), "{error:?}");
    }
    // The other servers' keys keep working.
    for index in [0, 2] {
        for key in &owned[index] {
            assert_eq!(cluster.get(key).unwrap(), item(b"before"));
            cluster
                .set(key, b"during", Expiry::after_secs(300))
                .unwrap();
            assert_eq!(cluster.get(key).unwrap(), item(b"during"));
        }
    }
    for index in [0, 2] {
        let held = raw_get_many(&all[index], &owned[DEAD]);
        assert!(
            held.is_empty(),
            "server {index} holds keys of the dead server: {:?}",
            held.keys().map(|k| text(k)).collect::<Vec<_>>()
        );
    }
    // No operation on a dead key was ever reported against another server.
    for event in recorder.snapshot() {
        if let Seen::Operation { server, error, .. } = &event {
            if error.is_some() {
                assert_eq!(server, &dead_addr, "{event:?}");
            }
        }
    }

    servers[DEAD].restart();
    let deadline = Instant::now() + PATIENCE;
    let probe_key = &owned[DEAD][0];
    loop {
        match cluster.get(probe_key) {
            Ok(found) => {
                assert_eq!(found, None, "data does not survive a restart");
                break;
            }
            Err(error) => {
                assert!(error.is_connection_error(), "{error:?}");
                assert!(
                    Instant::now() < deadline,
                    "still failing {PATIENCE:?} after the restart: {error:?}"
                );
            }
        }
        thread::sleep(Duration::from_millis(20));
    }
    assert!(!cluster.is_down(DEAD));
    for key in &owned[DEAD] {
        cluster.set(key, b"back", Expiry::after_secs(300)).unwrap();
        assert_eq!(cluster.get(key).unwrap(), item(b"back"));
        assert_eq!(raw_get(&dead_addr, key), Some(b"back".to_vec()));
    }
    let events = recorder.snapshot();
    let seen = transitions(&events, &dead_addr);
    assert_eq!(seen.first(), Some(&"down"), "{seen:?}");
    assert_eq!(seen.last(), Some(&"up"), "{seen:?}");
    assert_eq!(seen.iter().filter(|t| **t == "up").count(), 1, "{seen:?}");
    for index in [0, 2] {
        assert!(transitions(&events, &all[index]).is_empty());
    }
}

#[test]
fn threads_hammering_a_dead_server_do_not_reconnect_in_a_herd() {
    const THREADS: usize = 32;
    const HAMMER: Duration = Duration::from_secs(1);
    let mut servers = start(3);
    let all = addrs(&servers);
    const DEAD: usize = 0;

    let attempts = Arc::new(AtomicUsize::new(0));
    let refusals = Arc::new(AtomicUsize::new(0));
    let downs = Arc::new(AtomicUsize::new(0));
    let ups = Arc::new(AtomicUsize::new(0));
    let observer = {
        let (attempts, refusals) = (Arc::clone(&attempts), Arc::clone(&refusals));
        let (downs, ups) = (Arc::clone(&downs), Arc::clone(&ups));
        move |event: &Event<'_>| match event {
            Event::Operation {
                error: Some(Error::ServerDown { .. }),
                ..
            } => {
                refusals.fetch_add(1, Ordering::Relaxed);
            }
            Event::Operation {
                error: Some(error), ..
            } if error.is_connection_error() => {
                attempts.fetch_add(1, Ordering::Relaxed);
            }
            Event::ServerDown { .. } => {
                downs.fetch_add(1, Ordering::Relaxed);
            }
            Event::ServerUp { .. } => {
                ups.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    };
    let cluster = builder(&servers)
        .pool(PoolConfig::default().with_max_size(8))
        .observer(observer)
        .build()
        .unwrap();
    let keys = keys_on(&cluster, DEAD, "herd:", 64);

    servers[DEAD].kill();
    while !cluster.is_down(DEAD) {
        let error = cluster.get(&keys[0]).expect_err("a killed server answered");
        assert!(error.is_connection_error(), "{error:?}");
        assert!(attempts.load(Ordering::Relaxed) <= 2, "not marked down");
    }
    let marked_down = Instant::now();

    // A listener of our own on the dead server's port counts every TCP connection that
    // reaches it, and closes each at once: a probe connects, fails, and the server stays
    // down.
    let listener = TcpListener::bind(&all[DEAD]).expect("rebinding the dead server's port");
    listener.set_nonblocking(true).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let acceptor = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let mut accepted = 0usize;
            loop {
                match listener.accept() {
                    Ok((stream, _)) => {
                        accepted += 1;
                        drop(stream);
                    }
                    Err(e) if e.kind() == IoErrorKind::WouldBlock => {
                        if stop.load(Ordering::Acquire) {
                            return accepted;
                        }
                        thread::sleep(Duration::from_millis(2));
                    }
                    Err(e) => panic!("accept: {e}"),
                }
            }
        })
    };

    attempts.store(0, Ordering::Relaxed);
    downs.store(0, Ordering::Relaxed);
    let started = Instant::now();
    let barrier = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (cluster, barrier) = (cluster.clone(), Arc::clone(&barrier));
            let key = keys[t % keys.len()].clone();
            thread::spawn(move || {
                barrier.wait();
                let mut calls = 0usize;
                while started.elapsed() < HAMMER {
                    let error = cluster.get(&key).expect_err("a dead server answered");
                    assert!(error.is_connection_error(), "{error:?}");
                    calls += 1;
                    thread::sleep(Duration::from_millis(1));
                }
                calls
            })
        })
        .collect();
    let calls: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Release);
    let accepted = acceptor.join().unwrap();

    let attempts = attempts.load(Ordering::Relaxed);
    let refusals = refusals.load(Ordering::Relaxed);
    let downs = downs.load(Ordering::Relaxed);
    // Each probe window admits one caller. Windows open after the backoff, which doubles
    // after each failed probe up to its cap and is jittered to no less than half: count the
    // windows that could have opened since the server was marked down, at the shortest waits.
    let since_down = marked_down.elapsed();
    let (mut windows, mut waited, mut base) = (0usize, Duration::ZERO, INITIAL_BACKOFF);
    loop {
        waited += base / 2;
        if waited > since_down {
            break;
        }
        windows += 1;
        base = (base * 2).min(MAX_BACKOFF);
    }
    let report = format!(
        "{calls} calls by {THREADS} threads in {elapsed:?}: {attempts} reached the network, \
         {accepted} TCP connections accepted, {refusals} refused as down, {downs} re-marked down, \
         {windows} probe windows"
    );
    assert!(calls > THREADS, "{report}");
    assert!(attempts >= 1, "no probe in {elapsed:?}: {report}");
    assert!(attempts <= 1 + windows, "a herd: {report}");
    // Each probe opens one connection, or two when the connection it opened is found closed
    // (by this listener) before the request is sent and the client reconnects at once.
    assert!(attempts <= accepted && accepted <= 2 * attempts, "{report}");
    assert_eq!(
        downs, attempts,
        "every failed probe re-marks the server down: {report}"
    );
    assert_eq!(ups.load(Ordering::Relaxed), 0, "{report}");
    assert!(refusals >= calls - attempts, "{report}");
}
