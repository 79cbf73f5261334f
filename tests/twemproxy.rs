//! The client through a real twemproxy (nutcracker 0.5) in front of three real memcached.
//!
//! A proxy keeps the protocol but not memcached's habits: it answers a multi-key line whose
//! keys span backends in its own order (the protocol never promised request order), and after
//! a `SERVER_ERROR` answering a multi-key line it closes the connection. These tests pin down
//! that the client takes both in its stride.
//!
//! It also lacks commands (it closes the connection on `gat`, `gats`, `flush_all`, `stats`,
//! `verbosity`), which `ServerKind::Twemproxy` refuses before sending, and it answers for a
//! dead or stalled backend with `SERVER_ERROR`, which says the proxy is up but not that the
//! command was not applied. The last tests pin the README's claims about nutcracker's
//! settings.

use memcache_sync_test_support as support;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use memcache_sync::{
    CasOutcome, Client, Cluster, Config, Entry, Error, Expiry, HealthConfig, Item, MetaGetOptions,
    ServerErrorKind, ServerKind, StoreOptions,
};
use support::nutcracker::{Nutcracker, Settings};
use support::{raw_exchange, raw_stats, unique_key};

/// How long nutcracker waits for a backend's reply.
const BACKEND_TIMEOUT: Duration = Duration::from_secs(2);
/// How many keys the multi-key reads ask for: enough for two request lines.
const KEYS: usize = 300;

fn start() -> (Nutcracker, Client) {
    let proxy = Nutcracker::start(3, BACKEND_TIMEOUT);
    let config = Config::default().with_read_timeout(BACKEND_TIMEOUT * 2);
    let client = Client::builder(&proxy.addr())
        .config(config)
        .connect()
        .expect("connect to nutcracker");
    (proxy, client)
}

/// `KEYS` fresh keys, of which two in three are stored (through the proxy) with a value and
/// flags of their own; returns the keys and what was stored.
fn store_most(client: &mut Client, prefix: &str) -> (Vec<Vec<u8>>, HashMap<Vec<u8>, Item>) {
    let base = String::from_utf8(unique_key(prefix)).unwrap();
    // The number goes first: nutcracker's fnv1a_64 is computed in 32 bits with a small
    // multiplier, so keys that differ only in their last bytes hash close together and land
    // on one backend.
    let keys: Vec<Vec<u8>> = (0..KEYS)
        .map(|i| format!("{i}:{base}").into_bytes())
        .collect();
    let mut stored = HashMap::new();
    for (i, key) in keys.iter().enumerate().filter(|(i, _)| i % 3 != 2) {
        let item = Item {
            value: format!("value {i} of {base}").into_bytes(),
            flags: i as u32,
        };
        client
            .set(key, &item.value, StoreOptions::new().flags(item.flags))
            .unwrap();
        stored.insert(key.clone(), item);
    }
    (keys, stored)
}

/// Asserts that every backend holds some of the keys, so that a read of them all is split
/// across backends by the proxy.
fn assert_spread_over_every_backend(proxy: &Nutcracker) {
    for backend in proxy.backends() {
        let items: usize = raw_stats(&backend.addr())["curr_items"].parse().unwrap();
        assert!(
            items > 0,
            "backend {} holds none of the keys",
            backend.addr()
        );
    }
}

/// How many values of nutcracker's reply to one `get` line of `keys` come after a value for a
/// key that was asked later: the premise of these tests, read over a plain socket.
fn values_out_of_request_order(proxy: &Nutcracker, keys: &[Vec<u8>]) -> usize {
    let mut request = b"get".to_vec();
    for key in keys {
        request.push(b' ');
        request.extend_from_slice(key);
    }
    request.extend_from_slice(b"\r\n");
    let reply = raw_exchange(&proxy.addr(), &request, b"END\r\n");
    let positions: Vec<usize> = reply
        .split(|&b| b == b'\n')
        .filter_map(|line| line.strip_prefix(b"VALUE "))
        .map(|rest| {
            let key = rest.split(|&b| b == b' ').next().unwrap();
            keys.iter().position(|k| k == key).expect("a key asked for")
        })
        .collect();
    positions.windows(2).filter(|w| w[1] < w[0]).count()
}

/// The first of `keys` stored on the backend at `index`, read from it directly.
fn first_key_on_backend(proxy: &Nutcracker, index: usize, keys: &[Vec<u8>]) -> Vec<u8> {
    let addr = proxy.backends()[index].addr();
    keys.iter()
        .find(|key| {
            let request = [b"get ", &key[..], b"\r\n"].concat();
            raw_exchange(&addr, &request, b"END\r\n").starts_with(b"VALUE ")
        })
        .unwrap_or_else(|| panic!("backend {addr} holds none of the keys"))
        .clone()
}

#[test]
fn get_many_spanning_backends_with_misses_returns_exactly_what_was_stored() {
    let (proxy, mut client) = start();
    let (keys, stored) = store_most(&mut client, "twemproxy:get_many:");
    assert_spread_over_every_backend(&proxy);
    let out_of_order = values_out_of_request_order(&proxy, &keys);
    eprintln!("nutcracker answered {out_of_order} values out of request order");
    assert!(
        out_of_order > 0,
        "nutcracker answered in request order, so this test no longer covers replies out of \
         order"
    );

    let found = client.get_many(&keys).expect("get_many through nutcracker");
    assert_eq!(found.len(), stored.len());
    assert!(
        found.into_inner() == stored,
        "get_many differs from what was stored"
    );
    assert!(client.is_connected());
}

#[test]
fn gets_many_spanning_backends_with_misses_returns_every_item_with_a_working_token() {
    let (proxy, mut client) = start();
    let (keys, stored) = store_most(&mut client, "twemproxy:gets_many:");
    assert_spread_over_every_backend(&proxy);

    let found = client
        .gets_many(&keys)
        .expect("gets_many through nutcracker");
    let items: HashMap<Vec<u8>, Item> = found
        .iter()
        .map(|(key, (item, _))| (key.to_vec(), item.to_item()))
        .collect();
    assert!(items == stored, "gets_many differs from what was stored");
    // Each token is the one of its own key: a cas with it succeeds.
    let (key, (item, token)) = found.iter().next().unwrap();
    let outcome = client
        .cas(
            key,
            b"swapped",
            token,
            StoreOptions::new().flags(item.flags),
        )
        .unwrap();
    assert_eq!(outcome, CasOutcome::Stored);
}

#[test]
fn get_many_with_spanning_backends_hands_each_value_over_with_its_keys_position() {
    let (proxy, mut client) = start();
    let (keys, stored) = store_most(&mut client, "twemproxy:with:");
    assert_spread_over_every_backend(&proxy);

    let mut seen: Vec<Option<Item>> = vec![None; keys.len()];
    client
        .get_many_with(&keys, |index, value, flags| {
            assert!(seen[index].is_none(), "position {index} handed over twice");
            seen[index] = Some(Item {
                value: value.to_vec(),
                flags,
            });
        })
        .expect("get_many_with through nutcracker");
    for (key, item) in keys.iter().zip(seen) {
        assert_eq!(item.as_ref(), stored.get(key), "{}", key.escape_ascii());
    }
}

#[test]
fn cluster_get_many_through_the_proxy_returns_exactly_what_was_stored() {
    let (proxy, mut client) = start();
    let (keys, stored) = store_most(&mut client, "twemproxy:cluster:");
    let cluster = Cluster::builder([proxy.addr()]).build().unwrap();
    let report = cluster
        .get_many(&keys)
        .expect("Cluster::get_many through nutcracker");
    assert!(
        report.failed.is_empty(),
        "{} keys failed, e.g. with {:?}",
        report.failed_keys().count(),
        report.failed.first()
    );
    assert!(
        report.found.into_inner() == stored,
        "Cluster::get_many differs"
    );
}

#[test]
fn single_key_get_set_delete_and_incr_work_through_the_proxy() {
    let (_proxy, mut client) = start();
    let key = unique_key("twemproxy:single:");
    assert_eq!(client.get(&key).unwrap(), None);
    client
        .set(&key, b"one", StoreOptions::new().flags(5))
        .unwrap();
    let expected = Item {
        value: b"one".to_vec(),
        flags: 5,
    };
    assert_eq!(client.get(&key).unwrap(), Some(expected));
    let mut buf = Vec::new();
    assert_eq!(client.get_into(&key, &mut buf).unwrap(), Some(5));
    assert_eq!(buf, b"one");
    assert!(client.delete(&key).unwrap());
    assert!(!client.delete(&key).unwrap());
    assert_eq!(client.get(&key).unwrap(), None);

    let counter = unique_key("twemproxy:counter:");
    assert_eq!(client.incr(&counter, 1).unwrap(), None);
    client.set(&counter, b"41", Expiry::Never).unwrap();
    assert_eq!(client.incr(&counter, 1).unwrap(), Some(42));
    assert_eq!(client.decr(&counter, 2).unwrap(), Some(40));
    assert!(client.is_connected());
}

/// With a backend dead and `auto_eject_hosts: false`, nutcracker answers a line that asks for
/// a key of that backend with `SERVER_ERROR Connection refused`; when the line asks for more
/// than one key it then closes the connection.
///
/// nutcracker closes the connection a few microseconds after a `SERVER_ERROR` answering a
/// multi-key line, so even a check for a close before every request can race it: the client
/// drops a connection that answered a multi-key line with `SERVER_ERROR` instead, and the
/// next call always goes out on a new one.
#[test]
fn the_call_right_after_a_server_error_to_a_multi_key_line_succeeds_though_the_proxy_closed() {
    let (mut proxy, mut client) = start();
    let (keys, _) = store_most(&mut client, "twemproxy:dead:");
    let live = first_key_on_backend(&proxy, 0, &keys);
    let doomed = first_key_on_backend(&proxy, 1, &keys);
    proxy.backend_mut(1).kill();

    // A single key of the dead backend: an error, and nutcracker keeps the connection.
    let error = client.get(&doomed).expect_err("a key of a dead backend");
    assert!(matches!(error, Error::ServerError { .. }), "{error:?}");
    assert!(client.get(&live).unwrap().is_some());

    for round in 0..20 {
        let error = client
            .get_many(&[&live, &doomed])
            .expect_err("a line with a key of a dead backend");
        assert!(
            matches!(&error, Error::ServerError { message, .. } if message.contains("Connection refused")),
            "round {round}: {error:?}"
        );
        let next = client.get(&live);
        assert!(
            matches!(next, Ok(Some(_))),
            "round {round}: the call right after the SERVER_ERROR failed: {next:?}"
        );
    }
}

/// A client of `proxy` that knows it talks to twemproxy, and waits for a reply twice as long
/// as nutcracker waits for a backend's: the README's recommended pairing.
fn twemproxy_client(proxy: &Nutcracker) -> Client {
    Client::builder(&proxy.addr())
        .config(twemproxy_config())
        .connect()
        .expect("connect to nutcracker")
}

fn twemproxy_config() -> Config {
    Config::default()
        .with_server_kind(ServerKind::Twemproxy)
        .with_read_timeout(BACKEND_TIMEOUT * 2)
}

/// Calls `attempt` until it returns `Some`, for at most `limit`.
fn eventually<T>(limit: Duration, what: &str, mut attempt: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = attempt() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {limit:?}"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// The value `key` holds on the memcached at `addr`, read from it directly.
fn value_on(addr: &str, key: &[u8]) -> Option<Vec<u8>> {
    let reply = raw_exchange(addr, &[b"get ", key, b"\r\n"].concat(), b"END\r\n");
    let rest = reply.strip_prefix(b"VALUE ")?;
    let header_end = rest.windows(2).position(|w| w == b"\r\n")?;
    let len: usize = std::str::from_utf8(&rest[..header_end])
        .ok()?
        .rsplit(' ')
        .next()?
        .parse()
        .ok()?;
    Some(rest[header_end + 2..header_end + 2 + len].to_vec())
}

/// Sends `request` on a new connection and reads until the peer closes it (or 2 s pass,
/// which fails the test): what came before the close.
fn reply_until_close(addr: &str, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut reply = Vec::new();
    match stream.read_to_end(&mut reply) {
        Ok(_) => reply,
        Err(e) => panic!(
            "{}: no close within 2 s ({e}), got {}",
            request.escape_ascii(),
            reply.escape_ascii()
        ),
    }
}

/// Every command nutcracker 0.5 lacks, each called as the client's API offers it.
type Call = fn(&mut Client) -> Result<(), Error>;
const UNSUPPORTED: [(&str, Call); 13] = [
    ("gat", |c| c.gat("k", Expiry::Never).map(drop)),
    ("gats", |c| c.gats("k", Expiry::Never).map(drop)),
    ("flush_all", |c| c.flush_all()),
    ("flush_all", |c| c.flush_all_after(Duration::from_secs(5))),
    ("stats", |c| c.stats().map(drop)),
    ("stats", |c| c.stats_group("items").map(drop)),
    ("stats", |c| c.stats_reset()),
    ("stats", |c| c.stats_detail(true)),
    ("stats", |c| c.stats_detail_dump().map(drop)),
    ("stats", |c| c.stats_cachedump(1, 1).map(drop)),
    ("verbosity", |c| c.verbosity(1)),
    ("meta", |c| {
        c.meta_get("k", &MetaGetOptions::new()).map(drop)
    }),
    ("meta", |c| c.meta_noop()),
];

#[test]
fn without_the_server_kind_nutcracker_answers_an_unsupported_command_by_closing() {
    // The premise of `ServerKind::Twemproxy`, read over a plain socket: nutcracker closes the
    // connection on each command it lacks, and answers `touch` and `version`.
    let proxy = Nutcracker::start(1, BACKEND_TIMEOUT);
    for request in [
        &b"gat 0 k\r\n"[..],
        b"gats 0 k\r\n",
        b"flush_all\r\n",
        b"stats\r\n",
        b"verbosity 1\r\n",
    ] {
        let reply = reply_until_close(&proxy.addr(), request);
        assert!(
            reply.is_empty(),
            "{}: {}",
            request.escape_ascii(),
            reply.escape_ascii()
        );
    }
    assert_eq!(
        raw_exchange(&proxy.addr(), b"touch k 0\r\n", b"\r\n"),
        b"NOT_FOUND\r\n"
    );
    assert!(raw_exchange(&proxy.addr(), b"version\r\n", b"\r\n").starts_with(b"VERSION "));

    let mut client = Client::connect(&proxy.addr()).unwrap();
    let error = client.gat("k", Expiry::Never).unwrap_err();
    assert!(error.is_connection_lost(), "{error:?}");
}

#[test]
fn with_the_twemproxy_kind_each_unsupported_command_is_refused_before_sending_and_the_connection_is_kept(
) {
    let proxy = Nutcracker::start(2, BACKEND_TIMEOUT);
    let mut client = twemproxy_client(&proxy);
    let key = unique_key("twemproxy:refused:");
    client.set(&key, b"kept", Expiry::Never).unwrap();
    for (command, call) in UNSUPPORTED {
        let error = call(&mut client).unwrap_err();
        assert!(
            matches!(
                error,
                Error::NotSupportedByServer { command: c, server: ServerKind::Twemproxy } if c == command
            ),
            "{command}: {error:?}"
        );
        assert!(!error.is_transient() && !error.may_have_reached_server());
        assert!(client.is_connected(), "{command} dropped the connection");
        // Had it been sent, nutcracker would have closed the connection and this would fail.
        assert_eq!(
            client.get(&key).unwrap().unwrap().value,
            b"kept",
            "{command}"
        );
    }
    // What nutcracker does support is sent as usual.
    assert!(client.touch(&key, Expiry::Never).unwrap());
    assert!(client.version().unwrap().starts_with("1."));
}

#[test]
fn the_twemproxy_kind_refuses_flush_all_even_to_plain_memcached_so_nothing_is_flushed() {
    // Straight to a backend: had `flush_all` gone out, the item would be gone.
    let proxy = Nutcracker::start(1, BACKEND_TIMEOUT);
    let addr = proxy.backends()[0].addr();
    let config = Config::default().with_server_kind(ServerKind::Twemproxy);
    let mut client = Client::builder(&addr).config(config).connect().unwrap();
    let key = unique_key("twemproxy:flush:");
    client.set(&key, b"stays", Expiry::Never).unwrap();
    assert!(client.flush_all().is_err());
    assert_eq!(value_on(&addr, &key).as_deref(), Some(&b"stays"[..]));
}

#[test]
fn a_cluster_with_the_twemproxy_kind_is_never_marked_down_by_a_command_the_proxy_lacks() {
    let proxy = Nutcracker::start(1, BACKEND_TIMEOUT);
    let health = HealthConfig::default().with_failure_threshold(2);
    let cluster = Cluster::builder([proxy.addr()])
        .config(twemproxy_config())
        .health(health.clone())
        .build()
        .unwrap();
    for _ in 0..10 {
        let error = cluster.gat("k", Expiry::Never).unwrap_err();
        assert!(
            matches!(error, Error::NotSupportedByServer { .. }),
            "{error:?}"
        );
    }
    // The cluster's own admin calls go through the same check, server by server.
    for result in [
        cluster.stats().into_results(),
        cluster.stats_group("items").into_results(),
    ] {
        for (_, answer) in result {
            let error = answer.unwrap_err();
            assert!(
                matches!(error, Error::NotSupportedByServer { .. }),
                "{error:?}"
            );
        }
    }
    let flushed = cluster.flush_all().into_results();
    assert!(matches!(
        flushed[0].1,
        Err(Error::NotSupportedByServer { .. })
    ));
    assert!(!cluster.is_down(0));
    assert_eq!(cluster.get("k").unwrap(), None);

    // Without it the close reads as a lost connection, which no client can tell from a dead
    // proxy: two `gat`s take the proxy out of the ring.
    let unaware = Cluster::builder([proxy.addr()])
        .health(health)
        .build()
        .unwrap();
    for _ in 0..10 {
        if unaware.is_down(0) {
            break;
        }
        let error = unaware.gat("k", Expiry::Never).unwrap_err();
        assert!(error.is_connection_error(), "{error:?}");
    }
    assert!(
        unaware.is_down(0),
        "the close of a gat no longer marks the proxy down"
    );
}

#[test]
fn a_killed_backend_is_backend_unavailable_and_the_proxy_stays_up_in_a_cluster() {
    let (mut proxy, mut client) = start();
    let (keys, _) = store_most(&mut client, "twemproxy:killed:");
    let live = first_key_on_backend(&proxy, 0, &keys);
    let doomed = first_key_on_backend(&proxy, 1, &keys);
    proxy.backend_mut(1).kill();

    let error = client.get(&doomed).unwrap_err();
    assert!(error.is_backend_unavailable(), "{error:?}");
    assert!(matches!(
        error,
        Error::ServerError {
            kind: ServerErrorKind::BackendUnavailable,
            ..
        }
    ));
    assert!(error.is_transient() && error.may_have_reached_server());
    let error = client.set(&doomed, b"v", Expiry::Never).unwrap_err();
    assert!(error.is_backend_unavailable(), "{error:?}");
    assert!(client.is_connected());

    let health = HealthConfig::default().with_failure_threshold(2);
    let cluster = Cluster::builder([proxy.addr()])
        .config(twemproxy_config())
        .health(health)
        .build()
        .unwrap();
    for _ in 0..10 {
        let error = cluster.get(&doomed).unwrap_err();
        assert!(error.is_backend_unavailable(), "{error:?}");
        let error = cluster.set(&doomed, b"v", Expiry::Never).unwrap_err();
        assert!(error.is_backend_unavailable(), "{error:?}");
    }
    assert!(!cluster.is_down(0), "the proxy answered every call");
    assert!(cluster.get(&live).unwrap().is_some());
}

#[test]
fn a_stopped_backend_times_out_at_the_proxy_yet_every_write_is_applied_once_it_resumes() {
    // nutcracker's `timeout` below the client's read timeout: the proxy answers first.
    let timeout = Duration::from_millis(300);
    let mut proxy = Nutcracker::start(2, timeout);
    let mut client = twemproxy_client(&proxy);
    let (keys, _) = store_most(&mut client, "twemproxy:stopped:");
    let addr = proxy.backends()[1].addr();
    let on_backend: Vec<Vec<u8>> = keys
        .iter()
        .filter(|key| value_on(&addr, key).is_some())
        .take(5)
        .cloned()
        .collect();
    assert_eq!(on_backend.len(), 5, "too few keys on backend 1");
    proxy.backend_mut(1).freeze();

    for key in &on_backend {
        let started = Instant::now();
        let error = client
            .set(key, b"written while stopped", Expiry::Never)
            .unwrap_err();
        assert!(
            matches!(
                error,
                Error::ServerError {
                    kind: ServerErrorKind::BackendTimedOut,
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(error.is_backend_unavailable() && error.is_transient());
        // "May have been applied": so not safe to repeat a non-idempotent write.
        assert!(error.may_have_reached_server() && !error.is_safe_to_retry(false));
        assert!(
            started.elapsed() < BACKEND_TIMEOUT * 2,
            "the client timed out first"
        );
    }
    proxy.backend_mut(1).thaw();

    // Not "not applied": each write answered `Connection timed out` lands once memcached runs.
    for key in &on_backend {
        eventually(Duration::from_secs(5), "the timed-out set applying", || {
            (value_on(&addr, key).as_deref() == Some(&b"written while stopped"[..])).then_some(())
        });
    }
}

#[test]
fn with_auto_eject_hosts_a_stalled_backends_keys_read_as_misses_and_older_values_resurface() {
    // The hazard the README warns of, pinned: ejection moves a key to another backend, and
    // whichever backend then answers holds an older value.
    let settings = Settings {
        timeout: Duration::from_millis(200),
        auto_eject_hosts: true,
        server_failure_limit: 1,
        server_retry_timeout: Duration::from_millis(1500),
    };
    let mut proxy = Nutcracker::start_with(2, settings);
    let mut client = twemproxy_client(&proxy);
    let (keys, _) = store_most(&mut client, "twemproxy:eject:");
    let key = first_key_on_backend(&proxy, 1, &keys);
    client.set(&key, b"first", Expiry::Never).unwrap();

    // Backend 1 stalls and is ejected: its key reads as a miss, and a write lands elsewhere.
    proxy.backend_mut(1).freeze();
    eventually(Duration::from_secs(5), "the ejection", || {
        matches!(client.get(&key), Ok(None)).then_some(())
    });
    client.set(&key, b"second", Expiry::Never).unwrap();
    assert_eq!(
        value_on(&proxy.backends()[0].addr(), &key).as_deref(),
        Some(&b"second"[..])
    );

    // Backend 1 resumes and rejoins: the key reads its value from before the outage.
    proxy.backend_mut(1).thaw();
    let back = eventually(Duration::from_secs(5), "the rejoin", || {
        match client.get(&key) {
            Ok(Some(item)) if item.value != b"second" => Some(item.value),
            _ => None,
        }
    });
    assert_eq!(back, b"first", "a stale value from before the outage");

    // The next outage brings back the value written during the first one.
    client.set(&key, b"third", Expiry::Never).unwrap();
    proxy.backend_mut(1).freeze();
    let during = eventually(
        Duration::from_secs(5),
        "the second ejection",
        || match client.get(&key) {
            Ok(Some(item)) => Some(item.value),
            _ => None,
        },
    );
    assert_eq!(during, b"second", "a stale value from the first outage");
    proxy.backend_mut(1).thaw();
}

#[test]
fn batches_through_the_proxy_with_a_killed_backend_name_the_failing_items() {
    let (mut proxy, mut client) = start();
    let (keys, _) = store_most(&mut client, "twemproxy:batch:");
    let dead_addr = proxy.backends()[1].addr();
    let on_dead: Vec<bool> = keys
        .iter()
        .map(|key| value_on(&dead_addr, key).is_some())
        .collect();
    let doomed = first_key_on_backend(&proxy, 1, &keys);
    let live = first_key_on_backend(&proxy, 0, &keys);
    proxy.backend_mut(1).kill();

    // Only keys stored before are judged: a key never stored has no backend known to hold it.
    let known: Vec<(usize, &Vec<u8>)> = keys
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 2)
        .collect();
    let report = support::batch_report(
        client.set_many(
            known
                .iter()
                .map(|(_, key)| Entry::new(key.as_slice(), "batched")),
        ),
    );
    for (result, (i, key)) in report.results().iter().zip(&known) {
        if on_dead[*i] {
            let error = result
                .err()
                .unwrap_or_else(|| panic!("{:?} stored", key.escape_ascii()));
            assert!(error.is_backend_unavailable(), "{error:?}");
        } else {
            assert!(result.is_done(), "{}: {result:?}", key.escape_ascii());
        }
    }
    assert!(report.failed_count() > 0 && report.done_count() > 0);

    // A Cluster reads the proxy as one server: a line with a key of the dead backend fails
    // for all its keys, and the proxy is not marked down.
    let cluster = Cluster::builder([proxy.addr()])
        .config(twemproxy_config())
        .build()
        .unwrap();
    for _ in 0..5 {
        let report = cluster.get_many(&[&live, &doomed]).unwrap();
        let failure = report
            .failed
            .first()
            .expect("the dead backend's key failed");
        assert!(
            failure.error.is_backend_unavailable(),
            "{:?}",
            failure.error
        );
        assert!(failure.keys.contains(&doomed));
    }
    assert!(!cluster.is_down(0));
    assert_eq!(cluster.get(&live).unwrap().unwrap().value, b"batched");
}
