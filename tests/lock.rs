//! `Lock` against a real memcached: two owners, expiry and takeover, refusals to a non-owner,
//! a server restart, the bounded wait, and the same over a `Cluster`.

use memcache_sync_test_support as support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use memcache_sync::{Client, Cluster, Deadline, Lock, LockOptions, MetaSetOptions};
use support::{shared_server, unique_key, Memcached};

fn client(addr: &str) -> Client {
    Client::connect(addr).unwrap()
}

fn secs(n: u64) -> LockOptions {
    LockOptions::new(Duration::from_secs(n))
}

#[test]
fn a_second_owner_cannot_acquire_a_held_lock_until_it_is_released() {
    let server = shared_server();
    let (mut a, mut b) = (client(&server.addr()), client(&server.addr()));
    let key = unique_key("lock:two:");
    let first = Lock::acquire(&mut a, &key, &secs(30))
        .unwrap()
        .expect("free");
    assert!(Lock::acquire(&mut b, &key, &secs(30)).unwrap().is_none());
    assert!(first.release().unwrap());
    let second = Lock::acquire(&mut b, &key, &secs(30)).unwrap();
    assert!(second.is_some(), "free again after release");
}

#[test]
fn dropping_a_lock_releases_it() {
    let server = shared_server();
    let (mut a, mut b) = (client(&server.addr()), client(&server.addr()));
    let key = unique_key("lock:drop:");
    {
        let _held = Lock::acquire(&mut a, &key, &secs(30))
            .unwrap()
            .expect("free");
    }
    assert!(Lock::acquire(&mut b, &key, &secs(30)).unwrap().is_some());
}

#[test]
fn an_expired_lock_is_taken_over_and_the_first_owner_can_neither_release_nor_extend_it() {
    let server = shared_server();
    let (mut a, mut b) = (client(&server.addr()), client(&server.addr()));
    let key = unique_key("lock:expiry:");
    let mut first = Lock::acquire(&mut a, &key, &secs(1))
        .unwrap()
        .expect("free");
    // memcached's clock ticks in whole seconds: a 1 s TTL is gone within 2.
    thread::sleep(Duration::from_millis(2100));
    let mut second = Lock::acquire(&mut b, &key, &secs(30))
        .unwrap()
        .expect("the expired lock is free");
    assert!(
        !first.extend(Duration::from_secs(30)).unwrap(),
        "ownership was lost"
    );
    assert!(!first.release().unwrap(), "a lost lock is not released");
    assert!(
        second.extend(Duration::from_secs(30)).unwrap(),
        "the new owner still holds it"
    );
    assert!(second.release().unwrap());
}

#[test]
fn release_by_a_non_owner_is_refused_even_with_the_owners_token_overwritten() {
    let server = shared_server();
    let (mut a, mut b) = (client(&server.addr()), client(&server.addr()));
    let key = unique_key("lock:nonowner:");
    let first = Lock::acquire(&mut a, &key, &secs(30))
        .unwrap()
        .expect("free");
    let token = first.token().to_vec();
    // Someone else writes the key (its CAS changes, even with the same bytes).
    let rewritten = b.meta_set(&key, &token, &MetaSetOptions::new()).unwrap();
    assert!(rewritten.is_stored());
    assert!(!first.release().unwrap(), "the CAS no longer matches");
    assert!(
        b.get(&key).unwrap().is_some(),
        "the other writer's value survives"
    );
}

#[test]
fn extend_keeps_the_lock_past_its_first_ttl() {
    let server = shared_server();
    let (mut a, mut b) = (client(&server.addr()), client(&server.addr()));
    let key = unique_key("lock:extend:");
    let mut lock = Lock::acquire(&mut a, &key, &secs(1))
        .unwrap()
        .expect("free");
    assert!(lock.extend(Duration::from_secs(30)).unwrap());
    thread::sleep(Duration::from_millis(2100));
    assert!(Lock::acquire(&mut b, &key, &secs(30)).unwrap().is_none());
    assert!(
        lock.extend(Duration::from_secs(30)).unwrap(),
        "extend twice"
    );
    assert!(lock.release().unwrap());
}

#[test]
fn a_server_restart_loses_the_lock_and_the_old_owner_cannot_touch_the_new_one() {
    let mut server = Memcached::start();
    let addr = server.addr();
    let (mut a, mut b) = (client(&addr), client(&addr));
    let key = unique_key("lock:restart:");
    let mut first = Lock::acquire(&mut a, &key, &secs(30))
        .unwrap()
        .expect("free");
    server.restart();
    // The restart reset memcached's CAS counter: the new owner's CAS may well equal the
    // old one's, and only the token tells them apart.
    let mut second = Lock::acquire(&mut b, &key, &secs(30))
        .unwrap()
        .expect("a restarted server holds no locks");
    assert!(!first.extend(Duration::from_secs(30)).unwrap());
    assert!(!first.release().unwrap());
    assert!(second.extend(Duration::from_secs(30)).unwrap());
    assert!(second.release().unwrap());
}

#[test]
fn acquire_waits_for_a_release_within_its_bounded_wait() {
    let server = shared_server();
    let addr = server.addr();
    let key = unique_key("lock:wait:");
    let mut a = client(&addr);
    let held = Lock::acquire(&mut a, &key, &secs(30))
        .unwrap()
        .expect("free");
    let waiter = {
        let (addr, key) = (addr.clone(), key.clone());
        thread::spawn(move || {
            let mut b = client(&addr);
            let options = secs(30).wait(Duration::from_secs(5));
            let started = Instant::now();
            let lock = Lock::acquire(&mut b, &key, &options).unwrap();
            (lock.map(|l| l.release().unwrap()), started.elapsed())
        })
    };
    thread::sleep(Duration::from_millis(300));
    assert!(held.release().unwrap());
    let (released, waited) = waiter.join().unwrap();
    assert_eq!(released, Some(true), "the waiter took it once it was free");
    assert!(waited >= Duration::from_millis(250) && waited < Duration::from_secs(4));
}

#[test]
fn acquire_gives_up_when_its_wait_runs_out() {
    let server = shared_server();
    let (mut a, mut b) = (client(&server.addr()), client(&server.addr()));
    let key = unique_key("lock:giveup:");
    let _held = Lock::acquire(&mut a, &key, &secs(30))
        .unwrap()
        .expect("free");
    let started = Instant::now();
    let options = secs(30).wait(Duration::from_millis(300));
    assert!(Lock::acquire(&mut b, &key, &options).unwrap().is_none());
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
}

#[test]
fn acquire_never_waits_past_the_callers_deadline() {
    let server = shared_server();
    let (mut a, mut b) = (client(&server.addr()), client(&server.addr()));
    let key = unique_key("lock:deadline:");
    let _held = Lock::acquire(&mut a, &key, &secs(30))
        .unwrap()
        .expect("free");
    let started = Instant::now();
    let options = secs(30).wait(Duration::from_secs(10));
    let got = Deadline::after(Duration::from_millis(300))
        .run(|| Lock::acquire(&mut b, &key, &options).unwrap().is_some());
    assert!(!got);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_zero_ttl_is_refused() {
    let server = shared_server();
    let mut a = client(&server.addr());
    let result = Lock::acquire(&mut a, "lock:zero", &LockOptions::new(Duration::ZERO));
    assert!(matches!(
        result,
        Err(memcache_sync::Error::InvalidArgument { .. })
    ));
}

#[test]
fn a_lock_over_a_cluster_excludes_a_second_owner_and_releases() {
    let servers = [Memcached::start(), Memcached::start()];
    let addrs: Vec<String> = servers.iter().map(Memcached::addr).collect();
    let cluster = Cluster::builder(addrs).build().unwrap();
    let key = unique_key("lock:cluster:");
    let mut first = Lock::acquire(&cluster, &key, &secs(30))
        .unwrap()
        .expect("free");
    assert!(Lock::acquire(&cluster, &key, &secs(30)).unwrap().is_none());
    assert!(first.extend(Duration::from_secs(30)).unwrap());
    assert!(first.release().unwrap());
    assert!(Lock::acquire(&cluster, &key, &secs(30)).unwrap().is_some());
}

#[test]
fn many_contending_owners_never_hold_the_lock_at_the_same_time() {
    let server = shared_server();
    let addr = server.addr();
    let key = unique_key("lock:contend:");
    let holders = Arc::new(AtomicUsize::new(0));
    let taken = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let (addr, key) = (addr.clone(), key.clone());
            let (holders, taken) = (Arc::clone(&holders), Arc::clone(&taken));
            thread::spawn(move || {
                let mut c = client(&addr);
                let options = secs(30).wait(Duration::from_secs(20));
                for _ in 0..10 {
                    let lock = Lock::acquire(&mut c, &key, &options)
                        .unwrap()
                        .expect("in time");
                    assert_eq!(
                        holders.fetch_add(1, Ordering::SeqCst),
                        0,
                        "two owners at once"
                    );
                    thread::sleep(Duration::from_millis(1));
                    holders.fetch_sub(1, Ordering::SeqCst);
                    taken.fetch_add(1, Ordering::SeqCst);
                    assert!(lock.release().unwrap());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(taken.load(Ordering::SeqCst), 60);
}
