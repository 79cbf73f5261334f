//! `Pool` against real memcached: the connection cap as the server sees it, checkout
//! timeouts, reuse of idle connections without a probe round trip, no reuse of a connection
//! that saw an error, expiry of idle connections, one bound on a checkout that waits and then
//! connects, and a dead address.
//!
//! Server-side counters are read over a persistent raw TCP connection ([`StatsProbe`]), so the
//! probe itself adds no connection churn and a known number of bytes to what is measured.

use memcache_sync_test_support as support;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use memcache_sync::{Config, Error, Expiry, Item, Phase, Pool, PoolConfig};
use support::fault_server::{Fault, FaultServer};
use support::{dead_addr, raw_set, raw_stats, unique_key, Memcached};

const CONNECT_TIMEOUT: Duration = Duration::from_millis(200);
const READ_TIMEOUT: Duration = Duration::from_millis(300);
/// What a bound may exceed its timeout by on a shared, loaded 2-core machine.
const MARGIN: Duration = Duration::from_millis(700);

fn config() -> Config {
    Config::default()
        .with_connect_timeout(CONNECT_TIMEOUT)
        .with_write_timeout(READ_TIMEOUT)
        .with_read_timeout(READ_TIMEOUT)
}

fn item(value: &[u8]) -> Option<Item> {
    Some(Item {
        value: value.to_vec(),
        flags: 0,
    })
}

/// One persistent raw connection that reads `stats`: opened before the pool opens anything,
/// so it is part of the baseline, and each probe adds exactly `stats\r\n` (7 bytes) to
/// `bytes_read` and nothing to `total_connections`.
struct StatsProbe {
    stream: TcpStream,
}

impl StatsProbe {
    const REQUEST: &'static [u8] = b"stats\r\n";

    fn open(addr: &str) -> Self {
        let stream = TcpStream::connect(addr).expect("stats connection");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        Self { stream }
    }

    fn stats(&mut self) -> HashMap<String, u64> {
        self.stream.write_all(Self::REQUEST).unwrap();
        let mut reply = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        while !reply.ends_with(b"END\r\n") {
            let n = self.stream.read(&mut chunk).expect("stats reply");
            assert!(n > 0, "memcached closed the stats connection");
            reply.extend_from_slice(&chunk[..n]);
        }
        String::from_utf8_lossy(&reply)
            .split("\r\n")
            .filter_map(|line| line.strip_prefix("STAT "))
            .filter_map(|rest| rest.split_once(' '))
            .filter_map(|(name, value)| Some((name.to_string(), value.parse().ok()?)))
            .collect()
    }

    fn stat(&mut self, name: &str) -> u64 {
        self.stats()[name]
    }

    /// `curr_connections` once connections closed just before (the harness's readiness
    /// check, raw exchanges) are gone: memcached counts a close only when its worker thread
    /// gets to it. Only this probe's own connection remains.
    fn quiet_baseline(&mut self) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let current = self.stat("curr_connections");
            if current <= 1 || Instant::now() >= deadline {
                return current;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }
}

#[test]
fn sixteen_threads_never_make_the_server_see_more_than_max_size_connections() {
    const MAX: usize = 4;
    const THREADS: usize = 16;
    const ROUNDS: usize = 150;
    let server = Memcached::start();
    let mut probe = StatsProbe::open(&server.addr());
    // The probe's own connection is in the baseline.
    let baseline = probe.quiet_baseline();
    let total_before = probe.stat("total_connections");

    let pool = Pool::builder(&server.addr())
        .config(config())
        .pool(
            PoolConfig::default()
                .with_max_size(MAX)
                .with_checkout_timeout(Duration::from_secs(10)),
        )
        .build();
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (pool, done) = (pool.clone(), Arc::clone(&done));
        thread::spawn(move || {
            let (mut max_server, mut max_pool, mut samples) = (0u64, 0usize, 0usize);
            while !done.load(Ordering::Acquire) {
                let current = probe.stat("curr_connections");
                max_server = max_server.max(current.saturating_sub(baseline));
                max_pool = max_pool.max(pool.open_connections());
                samples += 1;
                thread::sleep(Duration::from_millis(1));
            }
            (max_server, max_pool, samples, probe)
        })
    };

    let start = Arc::new(Barrier::new(THREADS));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (pool, start) = (pool.clone(), Arc::clone(&start));
            thread::spawn(move || {
                start.wait();
                let mut max_open = 0;
                for round in 0..ROUNDS {
                    let key = format!("pool:cap:{t}:{round}");
                    let value = format!("value {t} {round}");
                    pool.get()
                        .unwrap()
                        .set(key.as_bytes(), value.as_bytes(), Expiry::after_secs(60))
                        .unwrap();
                    max_open = max_open.max(pool.open_connections());
                    let read = pool.get().unwrap().get(key.as_bytes()).unwrap();
                    assert_eq!(read, item(value.as_bytes()), "thread {t} round {round}");
                    max_open = max_open.max(pool.open_connections());
                }
                max_open
            })
        })
        .collect();
    let max_open_seen_by_workers = workers
        .into_iter()
        .map(|w| w.join().unwrap())
        .max()
        .unwrap();
    done.store(true, Ordering::Release);
    let (max_server, max_pool, samples, mut probe) = sampler.join().unwrap();

    assert!(samples >= 5, "only {samples} stats samples were taken");
    assert!(
        max_server <= MAX as u64,
        "memcached saw {max_server} connections from a pool of {MAX}"
    );
    assert!(
        max_server >= 1,
        "the sampler never saw the pool's connections"
    );
    assert!(max_pool <= MAX, "open_connections() reached {max_pool}");
    assert!(max_open_seen_by_workers <= MAX);
    // Afterwards: every connection opened is still open (none failed), and idle.
    assert!(pool.open_connections() <= MAX);
    assert_eq!(pool.idle_connections(), pool.open_connections());
    let opened = probe.stat("curr_connections") - baseline;
    assert_eq!(opened, pool.open_connections() as u64);
    // No connection was ever replaced: the pool opened at most MAX in all.
    assert!(probe.stat("total_connections") - total_before <= MAX as u64);
}

#[test]
fn a_checkout_that_waits_too_long_is_a_pool_timeout_and_succeeds_once_one_is_returned() {
    const CHECKOUT: Duration = Duration::from_millis(100);
    let server = Memcached::start();
    let pool = Pool::builder(&server.addr())
        .config(config())
        .pool(
            PoolConfig::default()
                .with_max_size(1)
                .with_checkout_timeout(CHECKOUT),
        )
        .build();
    let key = unique_key("pool:timeout:");
    pool.get()
        .unwrap()
        .set(&key, b"v", Expiry::after_secs(60))
        .unwrap();

    let held = pool.get().unwrap();
    let waiter = {
        let pool = pool.clone();
        thread::spawn(move || {
            let started = Instant::now();
            let result = pool.get().map(|_| ());
            (result, started.elapsed())
        })
    };
    let (result, elapsed) = waiter.join().unwrap();
    match result {
        Err(Error::PoolTimeout { waited, max_size }) => {
            assert_eq!(waited, CHECKOUT);
            assert_eq!(max_size, 1);
        }
        other => panic!("expected PoolTimeout, got {other:?}"),
    }
    assert!(elapsed >= CHECKOUT, "gave up after {elapsed:?}");
    assert!(
        elapsed < CHECKOUT + MARGIN,
        "gave up only after {elapsed:?}"
    );
    assert_eq!(pool.open_connections(), 1);

    // A waiter is woken by the return, well before its own timeout.
    let waiter = {
        let (pool, key) = (pool.clone(), key.clone());
        thread::spawn(move || pool.get().map(|mut client| client.get(&key)))
    };
    thread::sleep(Duration::from_millis(20));
    drop(held);
    let value = waiter.join().unwrap();
    assert_eq!(value.unwrap().unwrap(), item(b"v"));

    // Once returned, a plain checkout succeeds and reuses the one connection.
    let mut client = pool.get().unwrap();
    assert_eq!(client.get(&key).unwrap(), item(b"v"));
    drop(client);
    assert_eq!(pool.open_connections(), 1);
    assert_eq!(pool.idle_connections(), 1);
}

#[test]
fn idle_connections_are_reused_without_an_extra_round_trip() {
    const N: u64 = 20;
    let server = Memcached::start();
    let key = unique_key("pool:reuse:");
    raw_set(&server.addr(), &key, b"reused");
    let mut probe = StatsProbe::open(&server.addr());
    let pool = Pool::builder(&server.addr()).config(config()).build();

    // Warm-up: one connection opened and returned.
    assert_eq!(pool.get().unwrap().get(&key).unwrap(), item(b"reused"));
    assert_eq!(pool.idle_connections(), 1);

    let before = probe.stats();
    for i in 0..N {
        let mut client = pool.get().unwrap();
        assert_eq!(client.get(&key).unwrap(), item(b"reused"), "checkout {i}");
    }
    let after = probe.stats();
    let delta = |name: &str| after[name] - before[name];

    assert_eq!(delta("cmd_get"), N);
    let get_request_len = (b"get ".len() + key.len() + b"\r\n".len()) as u64;
    assert_eq!(
        delta("bytes_read"),
        N * get_request_len + StatsProbe::REQUEST.len() as u64,
        "memcached read more than the {N} gets and one stats probe: an extra command was sent"
    );
    assert_eq!(delta("total_connections"), 0, "a new connection was opened");
    for other in ["cmd_set", "cmd_touch", "cmd_flush", "get_hits"] {
        if other == "get_hits" {
            assert_eq!(delta(other), N);
        } else {
            assert_eq!(delta(other), 0, "{other}");
        }
    }
    assert_eq!(pool.open_connections(), 1);
    assert_eq!(pool.idle_connections(), 1);
}

#[test]
fn a_connection_that_saw_an_error_is_never_returned_to_the_pool() {
    let mut server = Memcached::start();
    let addr = server.addr();
    let (stale_key, fresh_key) = (unique_key("pool:late:"), unique_key("pool:fresh:"));
    raw_set(&addr, &stale_key, b"late reply");
    let pool = Pool::builder(&addr)
        .config(config())
        .pool(PoolConfig::default().with_max_size(2))
        .build();

    // Warm up one connection, and count connections as the server sees them.
    assert_eq!(pool.get().unwrap().get(&fresh_key).unwrap(), None);
    assert_eq!(pool.open_connections(), 1);
    let total_before: u64 = raw_stats(&addr)["total_connections"].parse().unwrap();

    server.freeze();
    let started = Instant::now();
    let result = pool.get().unwrap().get(&stale_key);
    let elapsed = started.elapsed();
    server.thaw();
    match result {
        Err(Error::Timeout {
            phase: Phase::Read,
            timeout,
        }) => assert_eq!(timeout, READ_TIMEOUT),
        other => panic!("expected a read timeout, got {other:?}"),
    }
    assert!(elapsed < READ_TIMEOUT + MARGIN, "{elapsed:?}");
    assert_eq!(
        pool.open_connections(),
        0,
        "the timed-out connection was kept"
    );
    assert_eq!(pool.idle_connections(), 0);

    // The late reply ("late reply" for stale_key) is now on its way to a closed socket; the
    // next checkout must open a new connection and read fresh_key's own value.
    raw_set(&addr, &fresh_key, b"fresh");
    let total_mid: u64 = raw_stats(&addr)["total_connections"].parse().unwrap();
    // Two raw connections (the stats above and the set) since the first count.
    assert_eq!(
        total_mid - total_before,
        2,
        "a connection was opened meanwhile"
    );
    let mut client = pool.get().unwrap();
    assert_eq!(client.get(&fresh_key).unwrap(), item(b"fresh"));
    assert_eq!(client.get(&stale_key).unwrap(), item(b"late reply"));
    drop(client);
    let total_after: u64 = raw_stats(&addr)["total_connections"].parse().unwrap();
    // One for the stats probe itself, one for the pool's fresh connection.
    assert_eq!(
        total_after - total_mid,
        2,
        "the next checkout did not open exactly one fresh connection"
    );
    assert_eq!(pool.open_connections(), 1);
    assert_eq!(pool.idle_connections(), 1);
}

#[test]
fn idle_connections_older_than_max_idle_time_are_closed_instead_of_reused() {
    const MAX_IDLE: Duration = Duration::from_millis(150);
    let server = Memcached::start();
    let addr = server.addr();
    let key = unique_key("pool:idle:");
    raw_set(&addr, &key, b"v");
    let mut probe = StatsProbe::open(&addr);
    let baseline = probe.quiet_baseline();
    let pool = Pool::builder(&addr)
        .config(config())
        .pool(PoolConfig::default().with_max_idle_time(MAX_IDLE))
        .build();

    assert_eq!(pool.get().unwrap().get(&key).unwrap(), item(b"v"));
    let total_first = probe.stat("total_connections");

    // Used again well within max_idle_time: reused.
    assert_eq!(pool.get().unwrap().get(&key).unwrap(), item(b"v"));
    assert_eq!(probe.stat("total_connections"), total_first, "not reused");

    thread::sleep(MAX_IDLE * 3);
    assert_eq!(pool.get().unwrap().get(&key).unwrap(), item(b"v"));
    assert_eq!(
        probe.stat("total_connections"),
        total_first + 1,
        "an idle connection older than max_idle_time was reused"
    );
    assert_eq!(pool.open_connections(), 1);
    assert_eq!(pool.idle_connections(), 1);

    // The expired connection was closed, not leaked: memcached sees one pool connection.
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let open = probe.stat("curr_connections") - baseline;
        if open == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "memcached still sees {open} connections from the pool"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn under_light_load_idle_connections_older_than_max_idle_time_are_closed_though_never_popped() {
    const MAX_IDLE: Duration = Duration::from_millis(200);
    const PACE: Duration = Duration::from_millis(50);
    let server = Memcached::start();
    let addr = server.addr();
    let key = unique_key("pool:sweep:");
    raw_set(&addr, &key, b"v");
    let mut probe = StatsProbe::open(&addr);
    let baseline = probe.quiet_baseline();
    let pool = Pool::builder(&addr)
        .config(config())
        .pool(
            PoolConfig::default()
                .with_max_size(4)
                .with_max_idle_time(MAX_IDLE),
        )
        .build();
    let held: Vec<_> = (0..4).map(|_| pool.get().unwrap()).collect();
    let returned = Instant::now();
    // The last one returned is the one checked out next (newest first), again and again; the
    // other three only age.
    drop(held);
    assert_eq!(pool.idle_connections(), 4);

    loop {
        assert_eq!(pool.get().unwrap().get(&key).unwrap(), item(b"v"));
        // Taken after the checkout and return, before the counts: no sweep since then.
        let elapsed = returned.elapsed();
        let open = pool.open_connections();
        let server_open = probe.stat("curr_connections") - baseline;
        if elapsed < MAX_IDLE {
            assert_eq!(open, 4, "closed after {elapsed:?}, before max_idle_time");
        }
        if open == 1 && server_open == 1 {
            break;
        }
        assert!(
            elapsed < MAX_IDLE + MARGIN,
            "after {elapsed:?} the pool has {open} open and memcached sees {server_open}: \
             idle connections past max_idle_time were kept"
        );
        thread::sleep(PACE);
    }
    assert_eq!(pool.idle_connections(), 1);
}

#[test]
fn a_checkout_that_waits_and_then_connects_returns_within_the_longer_of_its_two_timeouts() {
    const TIMEOUT: Duration = Duration::from_millis(800);
    const FREED_AFTER: Duration = Duration::from_millis(600);
    // Connection 0 closes when its first request arrives; by then connects hang.
    let mut server = FaultServer::start(vec![Fault::CloseAfterRequest, Fault::Healthy]);
    let pool = Pool::builder(&server.addr())
        .config(config().with_connect_timeout(TIMEOUT))
        .pool(
            PoolConfig::default()
                .with_max_size(1)
                .with_checkout_timeout(TIMEOUT),
        )
        .build();
    let mut held = pool.get().unwrap();
    assert!(
        server.wait_for_connections(1),
        "connection 0 was never accepted"
    );
    server.hang_connects();

    let started = Instant::now();
    let waiter = {
        let pool = pool.clone();
        thread::spawn(move || pool.get().map(|_| ()))
    };
    thread::sleep(FREED_AFTER.saturating_sub(started.elapsed()));
    // Just before the waiter's checkout timeout, the one connection breaks and frees its slot.
    let error = held.get(b"k").unwrap_err();
    assert!(error.is_connection_error(), "{error:?}");
    assert!(!held.is_connected());
    drop(held);
    let result = waiter.join().unwrap();
    let elapsed = started.elapsed();

    match result {
        Err(Error::Timeout {
            phase: Phase::Connect,
            timeout,
        }) => assert_eq!(timeout, TIMEOUT),
        other => panic!("expected a connect timeout, got {other:?}"),
    }
    assert!(elapsed >= FREED_AFTER, "{elapsed:?}");
    assert!(
        elapsed < TIMEOUT + Duration::from_millis(300),
        "Pool::get returned after {elapsed:?}: the wait and then a whole connect timeout"
    );
    assert_eq!(
        pool.open_connections(),
        0,
        "the failed connect kept its slot"
    );
    server.release_connects();
}

#[test]
fn a_pool_for_a_dead_address_fails_with_connect_quickly_and_leaks_no_slot() {
    let addr = dead_addr();
    let pool = Pool::builder(&addr)
        .config(config())
        .pool(
            PoolConfig::default()
                .with_max_size(2)
                .with_checkout_timeout(Duration::from_secs(5)),
        )
        .build();
    // More attempts than slots: a leaked slot would turn a later attempt into a 5 s wait
    // and a PoolTimeout.
    for attempt in 0..5 {
        let started = Instant::now();
        let result = pool.get();
        let elapsed = started.elapsed();
        match result {
            Err(Error::Connect { addr: reported, .. }) => assert_eq!(reported, addr),
            other => panic!("attempt {attempt}: expected Error::Connect, got {other:?}"),
        }
        assert!(
            elapsed < CONNECT_TIMEOUT + MARGIN,
            "attempt {attempt} took {elapsed:?}"
        );
        assert_eq!(
            pool.open_connections(),
            0,
            "attempt {attempt} leaked a slot"
        );
        assert_eq!(pool.idle_connections(), 0);
    }
}

#[test]
fn a_pool_is_usable_again_once_its_server_comes_back() {
    let mut server = Memcached::start();
    let addr = server.addr();
    let key = unique_key("pool:back:");
    let pool = Pool::builder(&addr)
        .config(config())
        .pool(PoolConfig::default().with_max_size(2))
        .build();
    pool.get()
        .unwrap()
        .set(&key, b"before", Expiry::Never)
        .unwrap();

    server.kill();
    // The idle connection is dead: using it fails with a typed connection error, and it is
    // not returned.
    let result = pool.get().and_then(|mut client| client.get(&key));
    let error = result.expect_err("a killed server answered");
    assert!(error.is_connection_error(), "{error:?}");
    assert_eq!(pool.open_connections(), 0);
    assert!(matches!(pool.get(), Err(Error::Connect { .. })));
    assert_eq!(pool.open_connections(), 0);

    server.restart();
    let mut client = pool.get().unwrap();
    assert_eq!(
        client.get(&key).unwrap(),
        None,
        "data does not survive a restart"
    );
    client.set(&key, b"after", Expiry::Never).unwrap();
    assert_eq!(client.get(&key).unwrap(), item(b"after"));
    drop(client);
    assert_eq!(pool.open_connections(), 1);
}
