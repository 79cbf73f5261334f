//! `Cluster` against several real memcached processes: keys land where the distribution
//! says and nowhere else, a dead server fails only its own keys (connection errors, then
//! `ServerDown` fast) and recovers after its backoff, threads do not reconnect to a dead host
//! in a herd, failover and retries happen only when asked for and only when safe, batches fan
//! out and fail per server, and the observer sees all of it.
//!
//! Where the servers hold a key is always checked over raw TCP, never through the client
//! under test.

mod support;

use support::timed;

use std::collections::{HashMap, HashSet};
use std::io::ErrorKind as IoErrorKind;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use memcache_sync::distribution::{Distribution, Ketama, Modulo, Server};
use memcache_sync::{
    Cluster, ClusterBuilder, Config, Entry, Error, Event, Expiry, Failover, HealthConfig, Item,
    ItemResult, Observer, Phase, PoolConfig, RetryPolicy,
};
use support::{batch_report, raw_exchange, unique_key, Memcached};

const CONNECT_TIMEOUT: Duration = Duration::from_millis(200);
const READ_TIMEOUT: Duration = Duration::from_millis(300);
const INITIAL_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// A call on a server marked down must fail at least this fast.
const FAST: Duration = Duration::from_millis(50);
/// How long a recovery may take on a loaded machine before the test gives up.
const PATIENCE: Duration = Duration::from_secs(5);

fn config() -> Config {
    Config::default()
        .with_connect_timeout(CONNECT_TIMEOUT)
        .with_write_timeout(READ_TIMEOUT)
        .with_read_timeout(READ_TIMEOUT)
}

fn health() -> HealthConfig {
    HealthConfig::default()
        .with_failure_threshold(2)
        .with_backoff(INITIAL_BACKOFF, MAX_BACKOFF)
}

fn start(n: usize) -> Vec<Memcached> {
    (0..n).map(|_| Memcached::start()).collect()
}

fn addrs(servers: &[Memcached]) -> Vec<String> {
    servers.iter().map(Memcached::addr).collect()
}

/// A cluster over `servers` with short timeouts and a short backoff.
fn builder(servers: &[Memcached]) -> ClusterBuilder {
    Cluster::builder(addrs(servers))
        .config(config())
        .health(health())
}

fn item(value: &[u8]) -> Option<Item> {
    Some(Item {
        value: value.to_vec(),
        flags: 0,
    })
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh key that `cluster` places on server `index`.
fn key_on(cluster: &Cluster, index: usize, prefix: &str) -> Vec<u8> {
    for _ in 0..100_000 {
        let key = unique_key(prefix);
        if cluster.server_for(&key) == index {
            return key;
        }
    }
    panic!("no key of 100000 maps to server {index}");
}

fn keys_on(cluster: &Cluster, index: usize, prefix: &str, n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|_| key_on(cluster, index, prefix)).collect()
}

/// The default distribution of a cluster over `servers`, built apart from the cluster.
fn ring_of(servers: &[Memcached]) -> Ketama {
    Ketama::libmemcached_ketama(
        &servers
            .iter()
            .map(|s| Server::new("127.0.0.1", s.port()))
            .collect::<Vec<_>>(),
    )
    .unwrap()
}

/// The server a cluster over `servers` with the default distribution fails `key` over to
/// while server `dead` is down: the next point of its ketama ring.
fn next_owner(servers: &[Memcached], key: &[u8], dead: usize) -> usize {
    ring_of(servers)
        .server_for_excluding(key, &|index| index == dead)
        .unwrap()
}

/// A fresh key that `cluster` places on server `owner` and fails over to server `next`.
fn key_failing_over(
    cluster: &Cluster,
    servers: &[Memcached],
    owner: usize,
    next: usize,
    prefix: &str,
) -> Vec<u8> {
    loop {
        let key = key_on(cluster, owner, prefix);
        if next_owner(servers, &key, owner) == next {
            return key;
        }
    }
}

/// Parses the `VALUE`/`END` reply of a raw `get`.
fn parse_values(mut reply: &[u8]) -> HashMap<Vec<u8>, Vec<u8>> {
    let mut found = HashMap::new();
    loop {
        let line_end = reply
            .windows(2)
            .position(|w| w == b"\r\n")
            .unwrap_or_else(|| panic!("unterminated line in {:?}", text(reply)));
        let line = &reply[..line_end];
        reply = &reply[line_end + 2..];
        if line == b"END" {
            assert!(reply.is_empty(), "bytes after END: {:?}", text(reply));
            return found;
        }
        let header = text(line);
        let parts: Vec<&str> = header.split(' ').collect();
        assert!(
            parts.len() == 4 && parts[0] == "VALUE",
            "unexpected line {header:?}"
        );
        let len: usize = parts[3].parse().unwrap();
        found.insert(parts[1].as_bytes().to_vec(), reply[..len].to_vec());
        assert_eq!(&reply[len..len + 2], b"\r\n");
        reply = &reply[len + 2..];
    }
}

/// What the server at `addr` holds of `keys`, read over raw TCP.
fn raw_get_many(addr: &str, keys: &[Vec<u8>]) -> HashMap<Vec<u8>, Vec<u8>> {
    let mut found = HashMap::new();
    for chunk in keys.chunks(40) {
        let mut request = b"get".to_vec();
        for key in chunk {
            request.push(b' ');
            request.extend_from_slice(key);
        }
        request.extend_from_slice(b"\r\n");
        found.extend(parse_values(&raw_exchange(addr, &request, b"END\r\n")));
    }
    found
}

fn raw_get(addr: &str, key: &[u8]) -> Option<Vec<u8>> {
    raw_get_many(addr, &[key.to_vec()]).remove(key)
}

fn raw_set(addr: &str, key: &[u8], value: &[u8]) {
    let mut request = format!("set {} 0 0 {}\r\n", text(key), value.len()).into_bytes();
    request.extend_from_slice(value);
    request.extend_from_slice(b"\r\n");
    assert_eq!(raw_exchange(addr, &request, b"\r\n"), b"STORED\r\n");
}

/// An error, reduced to what the tests compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Connect,
    ServerDown,
    Timeout(Phase),
    Closed,
    Io,
    PoolTimeout,
    Other,
}

impl Kind {
    fn of(error: &Error) -> Kind {
        match error {
            Error::Connect { .. } => Kind::Connect,
            Error::ServerDown { .. } => Kind::ServerDown,
            Error::Timeout { phase, .. } => Kind::Timeout(*phase),
            Error::ConnectionClosed { .. } => Kind::Closed,
            Error::Io { .. } => Kind::Io,
            Error::PoolTimeout { .. } => Kind::PoolTimeout,
            _ => Kind::Other,
        }
    }

    /// A failure to reach the server, as opposed to being refused at once as down.
    fn is_reach_failure(self) -> bool {
        matches!(
            self,
            Kind::Connect | Kind::Timeout(_) | Kind::Closed | Kind::Io
        )
    }
}

/// An [`Event`], owned.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Operation {
        server: String,
        command: &'static str,
        latency: Duration,
        error: Option<Kind>,
    },
    Retry {
        server: String,
        command: &'static str,
        attempt: u32,
        error: Kind,
        backoff: Duration,
    },
    Down {
        server: String,
        retry_in: Duration,
    },
    Up {
        server: String,
    },
}

/// Records every event a cluster emits.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Seen>>>);

impl Recorder {
    fn observer(&self) -> impl Observer + 'static {
        let events = Arc::clone(&self.0);
        move |event: &Event<'_>| {
            let seen = match *event {
                Event::Operation {
                    server,
                    command,
                    latency,
                    error,
                } => Seen::Operation {
                    server: server.to_owned(),
                    command,
                    latency,
                    error: error.map(Kind::of),
                },
                Event::Retry {
                    server,
                    command,
                    attempt,
                    error,
                    backoff,
                } => Seen::Retry {
                    server: server.to_owned(),
                    command,
                    attempt,
                    error: Kind::of(error),
                    backoff,
                },
                Event::ServerDown { server, retry_in } => Seen::Down {
                    server: server.to_owned(),
                    retry_in,
                },
                Event::ServerUp { server } => Seen::Up {
                    server: server.to_owned(),
                },
                _ => return,
            };
            events.lock().unwrap().push(seen);
        }
    }

    fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    fn snapshot(&self) -> Vec<Seen> {
        self.0.lock().unwrap().clone()
    }
}

fn retries(events: &[Seen]) -> Vec<&Seen> {
    events
        .iter()
        .filter(|e| matches!(e, Seen::Retry { .. }))
        .collect()
}

/// The up/down transitions of `server`, in order.
fn transitions(events: &[Seen], server: &str) -> Vec<&'static str> {
    events
        .iter()
        .filter_map(|e| match e {
            Seen::Down { server: s, .. } if s == server => Some("down"),
            Seen::Up { server: s } if s == server => Some("up"),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Placement
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// A dead server under the default policy
// ---------------------------------------------------------------------------------------------

#[test]
fn a_killed_server_fails_only_its_own_keys_then_fast_and_recovers_after_restart() {
    let mut servers = start(3);
    let all = addrs(&servers);
    let recorder = Recorder::default();
    let cluster = builder(&servers)
        .observer(recorder.observer())
        .build()
        .unwrap();
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

// ---------------------------------------------------------------------------------------------
// Failover and retries
// ---------------------------------------------------------------------------------------------

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
    let recorder = Recorder::default();
    let failover = builder(&servers)
        .health(long.clone())
        .failover(Failover::NextServer)
        .observer(recorder.observer())
        .build()
        .unwrap();
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
    let recorder = Recorder::default();
    let cluster = builder(&servers)
        .pool(PoolConfig::default().with_max_size(1))
        .health(health().with_backoff(backoff, backoff))
        .failover(Failover::NextServer)
        .observer(recorder.observer())
        .build()
        .unwrap();
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
    let recorder = Recorder::default();
    let cluster = builder(&servers)
        .retry(
            RetryPolicy::attempts(3)
                .with_backoff(Duration::from_millis(5), Duration::from_millis(20)),
        )
        .health(
            health()
                .with_failure_threshold(3)
                .with_backoff(Duration::from_secs(30), Duration::from_secs(30)),
        )
        .observer(recorder.observer())
        .build()
        .unwrap();
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

// ---------------------------------------------------------------------------------------------
// Batches
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Observer and builder
// ---------------------------------------------------------------------------------------------

#[test]
fn the_observer_sees_each_operation_with_its_server_command_and_latency() {
    let servers = start(3);
    let all = addrs(&servers);
    let recorder = Recorder::default();
    let cluster = builder(&servers)
        .observer(recorder.observer())
        .build()
        .unwrap();
    let key = unique_key("observe:");
    let counter = unique_key("observe:counter:");
    let server = &all[cluster.server_for(&key)];
    let counter_server = &all[cluster.server_for(&counter)];

    let started = Instant::now();
    cluster.set(&key, b"v", Expiry::after_secs(300)).unwrap();
    assert_eq!(cluster.get(&key).unwrap(), item(b"v"));
    assert!(cluster.delete(&key).unwrap());
    assert_eq!(cluster.get(&key).unwrap(), None);
    assert_eq!(cluster.incr(&counter, 1).unwrap(), None);
    let total = started.elapsed();

    let events = recorder.take();
    let ops: Vec<(&str, &'static str, Option<Kind>)> = events
        .iter()
        .map(|e| match e {
            Seen::Operation {
                server,
                command,
                latency,
                error,
            } => {
                assert!(*latency > Duration::ZERO && *latency <= total, "{e:?}");
                (server.as_str(), *command, *error)
            }
            other => panic!("unexpected event {other:?}"),
        })
        .collect();
    assert_eq!(
        ops,
        [
            (server.as_str(), "set", None),
            (server.as_str(), "get", None),
            (server.as_str(), "delete", None),
            (server.as_str(), "get", None),
            (counter_server.as_str(), "incr", None),
        ]
    );

    // An invalid key is refused before anything is sent: it is no operation on a server.
    let bad = cluster
        .get(b"bad key")
        .expect_err("an invalid key was sent");
    assert!(bad.is_invalid_input());
    assert_eq!(recorder.take(), []);
}

#[test]
fn the_observer_sees_a_failed_operation_with_its_error() {
    let mut servers = start(2);
    let all = addrs(&servers);
    let recorder = Recorder::default();
    let cluster = builder(&servers)
        .observer(recorder.observer())
        .build()
        .unwrap();
    let key = key_on(&cluster, 1, "observe:fail:");
    servers[1].kill();
    let error = cluster.get(&key).expect_err("a killed server answered");
    let events = recorder.take();
    assert!(
        matches!(
            &events[..],
            [Seen::Operation { server, command: "get", error: Some(kind), .. }]
                if server == &all[1] && *kind == Kind::of(&error)
        ),
        "{events:?}"
    );
}

#[test]
fn the_builder_rejects_an_empty_server_list_and_a_mismatched_distribution() {
    let invalid = |result: Result<Cluster, Error>| match result {
        Err(Error::InvalidArgument { .. }) => {}
        other => panic!("expected InvalidArgument, got {other:?}"),
    };
    invalid(Cluster::builder(Vec::<String>::new()).build());
    invalid(
        Cluster::builder(Vec::<&str>::new())
            .distribution(Modulo::gomemcache(1).unwrap())
            .build(),
    );

    let three = ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"];
    invalid(
        Cluster::builder(three)
            .distribution(Modulo::gomemcache(2).unwrap())
            .build(),
    );
    let four: Vec<Server> = (1..=4).map(|port| Server::new("127.0.0.1", port)).collect();
    invalid(
        Cluster::builder(three)
            .distribution(Ketama::libmemcached_ketama(&four).unwrap())
            .build(),
    );
    invalid(Cluster::builder(["localhost"]).build());

    // The matching ones build, without connecting to anything.
    let cluster = Cluster::builder(three)
        .distribution(Modulo::gomemcache(3).unwrap())
        .build()
        .unwrap();
    assert_eq!(cluster.servers(), three);
    assert!(Cluster::builder(three).build().is_ok());
}

// ---------------------------------------------------------------------------------------------
// Health must not count a pool timeout as a sign of life
// ---------------------------------------------------------------------------------------------

/// A probe that never reached the server (its checkout timed out because every pooled
/// connection was in use) must not end the outage: the server is frozen and has answered
/// nothing.
#[test]
fn a_probe_that_times_out_on_checkout_does_not_mark_a_frozen_server_up() {
    let mut servers = start(1);
    let recorder = Recorder::default();
    let backoff = Duration::from_millis(100);
    let cluster = builder(&servers)
        .pool(
            PoolConfig::default()
                .with_max_size(2)
                .with_checkout_timeout(Duration::from_millis(100)),
        )
        .health(health().with_backoff(backoff, backoff))
        .observer(recorder.observer())
        .build()
        .unwrap();
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
    let deadline = Instant::now() + PATIENCE;
    while !(pool.open_connections() == 1 && pool.idle_connections() == 0) {
        assert!(
            Instant::now() < deadline,
            "the second call never took the connection"
        );
        thread::sleep(Duration::from_millis(2));
    }
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

// ---------------------------------------------------------------------------------------------
// Batches cut short, and panics
// ---------------------------------------------------------------------------------------------

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
