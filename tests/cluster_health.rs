//! `Cluster` health under load, against real memcached processes: a server that flaps while
//! many threads use it is still marked down once it dies for good, and then its keys fail
//! fast; a batch probe that sends nothing, or a `with_key` probe whose closure asks the server
//! nothing, does not mark a server up.

use memcache_sync_test_support as support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use memcache_sync::{Cluster, Config, Error, Event, Expiry, HealthConfig, PoolConfig};
use support::{unique_key, wait_for, Memcached};

const THREADS: usize = 16;
const THRESHOLD: u32 = 2;
const CONNECT_TIMEOUT: Duration = Duration::from_millis(200);
const READ_TIMEOUT: Duration = Duration::from_millis(150);
const INITIAL_BACKOFF: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_millis(200);
/// A call on a server marked down must fail at least this fast.
const FAST: Duration = Duration::from_millis(50);
/// How long a restarted server may take to be found up again on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(5);
/// How long a dead server may take to be marked down: its threshold of failures, each at
/// worst a read timeout (a call that was waiting on it when it died), and a second to spare.
const MARKED_DOWN_WITHIN: Duration =
    Duration::from_millis(THRESHOLD as u64 * READ_TIMEOUT.as_millis() as u64 + 1000);

fn cluster(server: &Memcached, observer: impl Fn(&Event<'_>) + Send + Sync + 'static) -> Cluster {
    Cluster::builder([server.addr()])
        .config(
            Config::default()
                .with_connect_timeout(CONNECT_TIMEOUT)
                .with_read_timeout(READ_TIMEOUT)
                .with_write_timeout(READ_TIMEOUT),
        )
        .pool(PoolConfig::default().with_max_size(THREADS))
        .health(
            HealthConfig::default()
                .with_failure_threshold(THRESHOLD)
                .with_backoff(INITIAL_BACKOFF, MAX_BACKOFF),
        )
        .observer(observer)
        .build()
        .unwrap()
}

/// When each down and up transition was announced.
#[derive(Clone, Default)]
struct Transitions(Arc<Mutex<Vec<(Instant, &'static str)>>>);

impl Transitions {
    fn observer(&self) -> impl Fn(&Event<'_>) + Send + Sync + 'static {
        let seen = Arc::clone(&self.0);
        move |event: &Event<'_>| {
            let name = match event {
                Event::ServerDown { .. } => "down",
                Event::ServerUp { .. } => "up",
                _ => return,
            };
            seen.lock().unwrap().push((Instant::now(), name));
        }
    }

    fn count(&self, name: &str, after: Instant) -> usize {
        let seen = self.0.lock().unwrap();
        seen.iter()
            .filter(|(at, n)| *at > after && *n == name)
            .count()
    }
}

struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// One call a worker made, for the checks after the server died for good.
struct Call {
    took: Duration,
    result: Result<(), Error>,
}

/// Gets and sets `keys` at random until `stop`, keeping each call from `record_from` on.
fn hammer(
    cluster: &Cluster,
    keys: &[Vec<u8>],
    seed: usize,
    stop: &AtomicBool,
    record_from: &OnceLock<Instant>,
    successes: &AtomicUsize,
) -> Vec<Call> {
    let mut calls = Vec::new();
    let mut n = seed;
    while !stop.load(Ordering::Relaxed) {
        n = n.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let key = &keys[(n >> 33) % keys.len()];
        let started = Instant::now();
        let result = if n >> 63 == 0 {
            cluster.get(key).map(drop)
        } else {
            cluster.set(key, b"v", Expiry::after_secs(60))
        };
        let took = started.elapsed();
        match &result {
            Ok(()) => {
                successes.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => assert!(
                error.is_connection_error() || matches!(error, Error::PoolTimeout { .. }),
                "unexpected {error:?}"
            ),
        }
        if record_from.get().is_some_and(|from| started > *from) {
            calls.push(Call { took, result });
            // Once the server is down, calls are microseconds: leave some CPU to the others.
            thread::sleep(Duration::from_millis(1));
        }
    }
    calls
}

#[test]
fn a_server_that_flaps_under_many_threads_then_dies_is_marked_down_and_its_keys_fail_fast() {
    let mut server = Memcached::start();
    let transitions = Transitions::default();
    let cluster = cluster(&server, transitions.observer());
    let keys: Vec<Vec<u8>> = (0..64).map(|_| unique_key("flap:")).collect();
    let stop = AtomicBool::new(false);
    let record_from = OnceLock::new();
    let successes = AtomicUsize::new(0);
    let started = Instant::now();

    let (calls, marked_down, flapped) = thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|seed| {
                let (cluster, keys, stop) = (&cluster, &keys, &stop);
                let (record_from, successes) = (&record_from, &successes);
                scope.spawn(move || hammer(cluster, keys, seed, stop, record_from, successes))
            })
            .collect();
        // Stops the workers however this thread leaves the scope, a failed assertion included.
        let _stop = StopOnDrop(&stop);

        // Frozen a little longer than the read timeout: calls sent early time out and mark
        // the server down, calls sent late are answered at the thaw, while it is down (and
        // end nothing: only a probe can). Killed once a probe found it up, and restarted: a
        // probe finds it up again.
        for _ in 0..3 {
            thread::sleep(Duration::from_millis(150));
            server.freeze();
            thread::sleep(READ_TIMEOUT + Duration::from_millis(100));
            server.thaw();
            wait_for("a probe after the thaw", PATIENCE, || !cluster.is_down(0));
            thread::sleep(Duration::from_millis(50));
            server.kill();
            thread::sleep(Duration::from_millis(100));
            server.restart();
        }
        let flapped = started.elapsed();
        wait_for("recovering after the flapping", PATIENCE, || {
            !cluster.is_down(0) && cluster.get(&keys[0]).is_ok()
        });

        let killed = Instant::now();
        server.kill();
        wait_for("marking the dead server down", MARKED_DOWN_WITHIN, || {
            cluster.is_down(0)
        });
        let marked_down = Instant::now();
        record_from.set(marked_down).unwrap();
        thread::sleep(Duration::from_millis(500));
        stop.store(true, Ordering::Relaxed);
        let calls: Vec<Call> = workers
            .into_iter()
            .flat_map(|worker| worker.join().unwrap())
            .collect();
        (calls, marked_down - killed, flapped)
    });

    let (downs, ups) = (
        transitions.count("down", started),
        transitions.count("up", started),
    );
    let summary = format!(
        "{flapped:?} of flapping: {} successes, {downs} down and {ups} up transitions; \
         marked down {marked_down:?} after the kill; {} calls since",
        successes.load(Ordering::Relaxed),
        calls.len(),
    );
    assert!(downs >= 3 && ups >= 3, "the server did not flap: {summary}");
    assert!(!calls.is_empty(), "{summary}");
    let from = *record_from.get().expect("set when marked down");
    let mut probes = 0;
    for call in &calls {
        assert!(call.took < FAST, "a call took {:?}: {summary}", call.took);
        match &call.result {
            Err(Error::ServerDown { .. }) => {}
            // The one caller let through per backoff finds the server still dead.
            Err(error) if error.is_connection_error() => probes += 1,
            other => panic!("expected ServerDown, got {other:?}: {summary}"),
        }
    }
    // Each failed probe re-marks the server down; one probe may have begun before `from`.
    let re_marked = transitions.count("down", from);
    assert!(
        probes <= re_marked && re_marked <= probes + 1,
        "{probes} calls reached the dead server, {re_marked} re-marked it down: {summary}"
    );
    assert!(probes < calls.len() / 4, "{probes} probes: {summary}");
    assert!(cluster.is_down(0));
}

/// Freezes `server` and fails calls for `key` on it until it is marked down: the state the
/// probe tests start from, a server marked down with a process behind it that accepts
/// connections (the kernel does) and answers nothing.
fn freeze_until_down(server: &mut Memcached, cluster: &Cluster, key: &[u8]) {
    server.freeze();
    for _ in 0..THRESHOLD {
        let error = cluster.get(key).expect_err("a frozen server answered");
        assert!(error.is_connection_error(), "{error:?}");
    }
    assert!(cluster.is_down(0));
}

#[test]
fn a_batch_probe_that_sends_nothing_does_not_mark_a_frozen_server_up() {
    let mut server = Memcached::start();
    let transitions = Transitions::default();
    let cluster = cluster(&server, transitions.observer());
    let began = Instant::now();
    let key = unique_key("frozen:");
    cluster.set(&key, b"v", Expiry::after_secs(60)).unwrap();

    freeze_until_down(&mut server, &cluster, &key);

    // Once the backoff has passed, this batch is the probe: it gets a connection, but its
    // only key is refused before a byte is sent.
    thread::sleep(MAX_BACKOFF);
    let report = cluster.delete_many(["bad key"]).unwrap_err().into_report();
    assert!(
        matches!(
            report.results(),
            [memcache_sync::ItemResult::Failed(Error::InvalidKey(_))]
        ),
        "{report:?}"
    );
    assert!(
        cluster.is_down(0),
        "marked up without a word from the server"
    );
    assert_eq!(transitions.count("up", began), 0);

    // The next caller may probe: the slot was given back.
    thread::sleep(MAX_BACKOFF);
    let (result, took) = {
        let started = Instant::now();
        (cluster.get(&key), started.elapsed())
    };
    let error = result.expect_err("a frozen server answered");
    assert!(
        matches!(error, Error::Timeout { .. }),
        "expected the probe to time out, got {error:?} after {took:?}"
    );
    server.thaw();
}

#[test]
fn a_with_key_probe_that_never_asks_the_server_does_not_mark_it_up() {
    let mut server = Memcached::start();
    let transitions = Transitions::default();
    let cluster = cluster(&server, transitions.observer());
    let began = Instant::now();
    let key = unique_key("untouched:");

    freeze_until_down(&mut server, &cluster, &key);

    // Once the backoff has passed, this call is the probe: it gets a connection (the kernel
    // accepts it), and its closure answers from what it already had.
    thread::sleep(MAX_BACKOFF);
    let cached = cluster.with_key(&key, "cached", true, |_client| Ok(7));
    assert_eq!(cached.unwrap(), 7);
    assert!(
        cluster.is_down(0),
        "marked up without a word from the server"
    );
    assert_eq!(transitions.count("up", began), 0);

    // The slot was given back: the next caller probes, and times out on the frozen server.
    let error = cluster.get(&key).expect_err("a frozen server answered");
    assert!(
        matches!(error, Error::Timeout { .. }),
        "expected the probe to time out, got {error:?}"
    );
    server.thaw();
}
