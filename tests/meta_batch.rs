//! Meta batches (`meta_get_many` on `Client`, `Pool` and `Cluster`) against real memcached
//! (1.6.18): hits and misses with their metadata per item, duplicates, base64 keys, many
//! windows, options refused before sending, a killed or frozen server, a cluster with a dead
//! server, twemproxy refused; and, from the scripted server, replies memcached never sends (a
//! hit naming no key in flight, or echoing another key, or coming after `MN`).

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use memcache_sync::protocol::meta::Ttl;
use memcache_sync::protocol::ProtocolErrorKind;
use memcache_sync::{
    CasToken, Client, Cluster, Config, Deadline, Entry, Error, Expiry, MetaGetOptions, MetaItem,
    MetaSetOptions, Pool, ServerKind,
};
use support::cut_short::{cut_short_once, CutShort};
use support::fault_server::{faulty_client, Fault, FaultServer};
use support::{raw_stats, unique_key, Memcached};

fn config() -> Config {
    Config::default().with_read_timeout(Duration::from_secs(2))
}

fn client(addr: &str) -> Client {
    Client::builder(addr).config(config()).connect().unwrap()
}

fn prefix(name: &str) -> String {
    String::from_utf8(unique_key(name)).unwrap()
}

/// How many gets (`mg` included) the server has carried out.
fn gets(addr: &str) -> u64 {
    raw_stats(addr)["cmd_get"].parse().unwrap()
}

/// Stores `key` = `value` with `flags` and a TTL, and returns its CAS.
fn store(client: &mut Client, key: &[u8], value: &[u8], flags: u32) -> CasToken {
    let options = MetaSetOptions::new()
        .client_flags(flags)
        .expiry(Expiry::after_secs(600));
    client
        .meta_set(key, value, &options)
        .unwrap()
        .cas()
        .unwrap()
}

fn value_of(found: &HashMap<Vec<u8>, MetaItem>, key: &[u8]) -> Option<Vec<u8>> {
    found.get(key).and_then(|item| item.value.clone())
}

#[test]
fn hits_come_back_with_the_metadata_asked_for_per_item_and_misses_are_absent() {
    let server = Memcached::start();
    let mut c = client(&server.addr());
    let p = prefix("mgm:meta:");
    let keys: Vec<Vec<u8>> = (0..6).map(|i| format!("{p}{i}").into_bytes()).collect();
    let mut cas = HashMap::new();
    for (i, key) in keys.iter().enumerate().filter(|(i, _)| i % 2 == 0) {
        let value = format!("value {i}").repeat(i + 1);
        cas.insert(key.clone(), store(&mut c, key, value.as_bytes(), i as u32));
    }
    // Read once before, so that `h` tells the keys read apart from the others.
    c.meta_get(&keys[0], &MetaGetOptions::new()).unwrap();
    let options = MetaGetOptions::new()
        .return_cas()
        .return_ttl()
        .return_client_flags()
        .return_size()
        .return_hit_before()
        .return_last_access();
    let found = c.meta_get_many(&keys, &options).unwrap();
    assert_eq!(found.len(), 3);
    for (i, key) in keys.iter().enumerate() {
        let Some(item) = found.get(key) else {
            assert!(i % 2 == 1, "stored key {i} missing");
            continue;
        };
        assert!(i % 2 == 0, "missed key {i} found");
        let value = format!("value {i}").repeat(i + 1).into_bytes();
        assert_eq!(item.size, Some(value.len() as u64), "{i}");
        assert_eq!(item.value.as_deref(), Some(&value[..]), "{i}");
        assert_eq!(item.flags, Some(i as u32));
        assert_eq!(item.cas, Some(cas[key]));
        assert!(
            matches!(item.ttl, Some(Ttl::Seconds(s)) if (590..=600).contains(&s)),
            "{:?}",
            item.ttl
        );
        assert_eq!(item.hit_before, Some(i == 0), "{i}");
        assert!(item.last_access.is_some());
        assert!(!item.stale && !item.win && !item.already_won);
    }
    // Without the value, each hit is a short `HD` with its metadata.
    let found = c
        .meta_get_many(&keys, &MetaGetOptions::new().without_value().return_size())
        .unwrap();
    assert_eq!(found.len(), 3);
    assert!(found.values().all(|item| item.value.is_none()));
    assert_eq!(found[&keys[4]].size, Some(35));
}

#[test]
fn a_key_asked_twice_is_read_twice_and_found_once() {
    let server = Memcached::start();
    let addr = server.addr();
    let mut c = client(&addr);
    let a = unique_key("mgm:dup:a:");
    let b = unique_key("mgm:dup:b:");
    store(&mut c, &a, b"A", 0);
    store(&mut c, &b, b"B", 0);
    let before = gets(&addr);
    let keys = [&a, &b, &a, &a, &b];
    let found = c.meta_get_many(&keys, &MetaGetOptions::new()).unwrap();
    assert_eq!(gets(&addr) - before, 5);
    assert_eq!(found.len(), 2);
    assert_eq!(value_of(&found, &a).as_deref(), Some(&b"A"[..]));
    assert_eq!(value_of(&found, &b).as_deref(), Some(&b"B"[..]));
    assert!(c
        .meta_get_many(&[&a; 0], &MetaGetOptions::new())
        .unwrap()
        .is_empty());
}

#[test]
fn the_callback_form_lends_each_hit_its_own_value_with_its_keys_position() {
    let server = Memcached::start();
    let mut c = client(&server.addr());
    let p = prefix("mgm:with:");
    let keys: Vec<Vec<u8>> = (0..5).map(|i| format!("{p}{i}").into_bytes()).collect();
    // Long, short, missing, long, empty: the lent item's reused value must never keep bytes
    // of an earlier, longer one.
    let values: [Option<&[u8]>; 5] = [
        Some(&[b'a'; 300]),
        Some(b"b"),
        None,
        Some(&[b'c'; 50]),
        Some(b""),
    ];
    for (key, value) in keys.iter().zip(values) {
        if let Some(value) = value {
            store(&mut c, key, value, 9);
        }
    }
    let asked = [&keys[0], &keys[1], &keys[2], &keys[3], &keys[4], &keys[1]];
    let mut seen = Vec::new();
    let options = MetaGetOptions::new().return_client_flags();
    c.meta_get_many_with(&asked, &options, |index, item| {
        assert_eq!(item.flags, Some(9));
        seen.push((index, item.value.clone().unwrap()));
    })
    .unwrap();
    let expected: Vec<(usize, Vec<u8>)> = [0, 1, 3, 4, 5]
        .into_iter()
        .map(|at| {
            let key = asked[at];
            let i = keys.iter().position(|k| k == key).unwrap();
            (at, values[i].unwrap().to_vec())
        })
        .collect();
    assert_eq!(seen, expected);
}

#[test]
fn base64_keys_with_spaces_and_line_ends_are_found_by_their_raw_bytes() {
    let server = Memcached::start();
    let mut c = client(&server.addr());
    let p = prefix("mgm:b64:");
    let keys: Vec<Vec<u8>> = (0..4)
        .map(|i| format!("{p} key {i}\r\nmn\r\n\x00").into_bytes())
        .collect();
    let set = MetaSetOptions::new().base64_key();
    for key in &keys[..3] {
        assert!(c.meta_set(key, key, &set).unwrap().is_stored());
    }
    let found = c
        .meta_get_many(&keys, &MetaGetOptions::new().base64_key())
        .unwrap();
    assert_eq!(found.len(), 3);
    for key in &keys[..3] {
        assert_eq!(value_of(&found, key).as_deref(), Some(&key[..]));
    }
    // Plain key mode refuses such keys before sending.
    let error = c.meta_get_many(&keys, &MetaGetOptions::new()).unwrap_err();
    assert!(matches!(error, Error::InvalidKey(_)), "{error:?}");
}

#[test]
fn thousands_of_keys_over_many_windows_each_get_their_own_value() {
    const COUNT: usize = 20_000;
    let server = Memcached::start();
    let addr = server.addr();
    let mut c = client(&addr);
    let p = prefix("mgm:many:");
    let keys: Vec<String> = (0..COUNT).map(|i| format!("{p}{i:06}")).collect();
    // Every third key stored, its value naming its key, so a value given to another key shows.
    let stored = keys.iter().step_by(3).map(|key| Entry::new(key, key));
    c.set_many(stored).unwrap();
    let before = gets(&addr);
    let found = c.meta_get_many(&keys, &MetaGetOptions::new()).unwrap();
    assert_eq!(gets(&addr) - before, COUNT as u64);
    assert_eq!(found.len(), COUNT.div_ceil(3));
    for (i, key) in keys.iter().enumerate() {
        let expected = (i % 3 == 0).then(|| key.as_bytes().to_vec());
        assert_eq!(value_of(&found, key.as_bytes()), expected, "{key}");
    }
    // The connection is in step after it: a single call answers with its own value.
    assert_eq!(c.get(&keys[3]).unwrap().unwrap().value, keys[3].as_bytes());
}

#[test]
fn touch_and_recache_come_back_per_item() {
    let server = Memcached::start();
    let mut c = client(&server.addr());
    let p = prefix("mgm:touch:");
    let keys: Vec<Vec<u8>> = (0..3).map(|i| format!("{p}{i}").into_bytes()).collect();
    for key in &keys[..2] {
        store(&mut c, key, b"v", 0);
    }
    let touch = MetaGetOptions::new()
        .touch(Expiry::after_secs(5000))
        .return_ttl();
    let found = c.meta_get_many(&keys, &touch).unwrap();
    assert_eq!(found.len(), 2);
    for key in &keys[..2] {
        let ttl = found[key].ttl;
        assert!(matches!(ttl, Some(Ttl::Seconds(s)) if s > 4990), "{ttl:?}");
    }
    // Below the recache threshold, the first reader of each item wins and the next one sees
    // the win taken.
    let recache = MetaGetOptions::new().recache_below(Duration::from_secs(10_000));
    let first = c.meta_get_many(&keys, &recache).unwrap();
    let second = c.meta_get_many(&keys, &recache).unwrap();
    for key in &keys[..2] {
        assert!(
            first[key].win && !first[key].already_won,
            "{:?}",
            first[key]
        );
        assert!(
            !second[key].win && second[key].already_won,
            "{:?}",
            second[key]
        );
    }
}

#[test]
fn options_without_meaning_for_many_keys_are_refused_before_sending() {
    let server = Memcached::start();
    let addr = server.addr();
    let mut c = client(&addr);
    let keys = [unique_key("mgm:refused:")];
    let before = gets(&addr);
    for options in [
        MetaGetOptions::new().vivify_on_miss(Expiry::after_secs(30)),
        MetaGetOptions::new().unless_cas(CasToken(1)),
        MetaGetOptions::new().new_cas(CasToken(1)),
    ] {
        let error = c.meta_get_many(&keys, &options).unwrap_err();
        assert!(
            matches!(
                error,
                Error::InvalidArgument {
                    what: "meta_get_many options",
                    ..
                }
            ),
            "{error:?}"
        );
    }
    let error = c
        .meta_get_many(&[&b"ok"[..], b"bad key"], &MetaGetOptions::new())
        .unwrap_err();
    assert!(matches!(error, Error::InvalidKey(_)), "{error:?}");
    assert_eq!(gets(&addr), before, "nothing was sent");
    // And nothing was left behind: no placeholder was created for the refused vivify.
    assert_eq!(c.meta_get(&keys[0], &MetaGetOptions::new()).unwrap(), None);
}

#[test]
fn a_server_killed_mid_batch_fails_the_call_and_never_gives_a_wrong_value() {
    const COUNT: usize = 300_000;
    let server = Memcached::start_with(&["-m", "256"]);
    let addr = server.addr();
    let mut c = client(&addr);
    let keys: Vec<String> = (0..COUNT).map(|i| format!("mgm:kill:{i:07}")).collect();
    c.set_many(keys.iter().step_by(2).map(|key| Entry::new(key, key)))
        .unwrap();
    let before = gets(&addr);
    let under_way = move |addr: &str| {
        let limit = Duration::from_secs(10);
        support::wait_for("the batch to get going", limit, || {
            gets(addr) >= before + 1000
        });
    };
    let started = Instant::now();
    let CutShort {
        result, mut server, ..
    } = cut_short_once(server, under_way, Memcached::kill, || {
        c.meta_get_many(&keys, &MetaGetOptions::new())
    });
    match result {
        // Read before the kill came: then every value must be its own key's.
        Ok(found) => {
            assert_eq!(found.len(), COUNT / 2);
            assert!(found
                .iter()
                .all(|(key, item)| item.value.as_deref() == Some(key)));
        }
        Err(error) => assert!(error.is_connection_error(), "{error:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    server.restart();
    let key = unique_key("mgm:kill:after:");
    store(&mut c, &key, b"after", 0);
    let found = c.meta_get_many(&[&key], &MetaGetOptions::new()).unwrap();
    assert_eq!(value_of(&found, &key).as_deref(), Some(&b"after"[..]));
}

#[test]
fn a_frozen_server_ends_the_batch_at_the_callers_deadline() {
    let mut server = Memcached::start();
    let mut c = client(&server.addr());
    let keys: Vec<String> = (0..5000).map(|i| format!("mgm:frozen:{i}")).collect();
    server.freeze();
    let bound = Duration::from_millis(200);
    let started = Instant::now();
    let result = Deadline::after(bound).run(|| c.meta_get_many(&keys, &MetaGetOptions::new()));
    let elapsed = started.elapsed();
    assert!(
        matches!(result, Err(Error::DeadlineExceeded { .. })),
        "{result:?}"
    );
    assert!(elapsed >= bound && elapsed < bound + Duration::from_millis(500));
    assert!(!c.is_connected(), "its replies are still owed");
    server.thaw();
    let found = c
        .meta_get_many(&keys[..10], &MetaGetOptions::new())
        .unwrap();
    assert!(found.is_empty());
}

#[test]
fn through_a_pool_the_pooled_client_runs_the_batch() {
    let server = Memcached::start();
    let pool = Pool::builder(&server.addr()).build();
    let key = unique_key("mgm:pool:");
    let mut pooled = pool.get().unwrap();
    store(&mut pooled, &key, b"pooled", 5);
    let options = MetaGetOptions::new().return_client_flags();
    let found = pooled.meta_get_many(&[&key], &options).unwrap();
    assert_eq!(found[&key].value.as_deref(), Some(&b"pooled"[..]));
    assert_eq!(found[&key].flags, Some(5));
    drop(pooled);
    let found = pool
        .get()
        .unwrap()
        .meta_get_many(&[&key], &options)
        .unwrap();
    assert_eq!(found.len(), 1);
}

#[test]
fn a_cluster_reads_every_server_and_reports_a_dead_one_with_exactly_its_keys() {
    let mut servers = [Memcached::start(), Memcached::start(), Memcached::start()];
    let addrs: Vec<String> = servers.iter().map(Memcached::addr).collect();
    let config = Config::default()
        .with_connect_timeout(Duration::from_millis(500))
        .with_read_timeout(Duration::from_secs(2));
    let cluster = Cluster::builder(&addrs).config(config).build().unwrap();
    let keys: Vec<String> = (0..3000).map(|i| format!("mgm:cluster:{i}")).collect();
    cluster
        .set_many(keys.iter().step_by(2).map(|key| Entry::new(key, key)))
        .unwrap();
    let options = MetaGetOptions::new().return_cas();
    let report = cluster.meta_get_many(&keys, &options).unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(report.found.len(), 1500);
    for (key, item) in &report.found {
        assert_eq!(item.value.as_deref(), Some(&key[..]));
        assert!(item.cas.is_some());
    }
    // The keys each server holds, to compare the failure with.
    let on_server: Vec<Vec<Vec<u8>>> = addrs
        .iter()
        .map(|addr| {
            let found = client(addr)
                .meta_get_many(&keys, &MetaGetOptions::new().without_value())
                .unwrap();
            let mut held: Vec<Vec<u8>> = found.into_keys().collect();
            held.sort();
            held
        })
        .collect();
    assert!(on_server.iter().all(|held| !held.is_empty()));
    servers[1].kill();
    let report = cluster.meta_get_many(&keys, &options).unwrap();
    assert_eq!(report.failed.len(), 1, "{:?}", report.failed);
    let failure = &report.failed[0];
    assert_eq!(failure.server, addrs[1]);
    let mut failed_stored: Vec<Vec<u8>> = failure
        .keys
        .iter()
        .filter(|key| on_server[1].binary_search(key).is_ok())
        .cloned()
        .collect();
    failed_stored.sort();
    assert_eq!(failed_stored, on_server[1]);
    assert!(failure
        .keys
        .iter()
        .all(|key| !report.found.contains_key(key)));
    assert_eq!(report.found.len(), on_server[0].len() + on_server[2].len());
    for (key, item) in &report.found {
        assert_eq!(item.value.as_deref(), Some(&key[..]));
    }
}

#[test]
fn a_cluster_refuses_batch_options_and_bad_keys_before_sending() {
    let server = Memcached::start();
    let addr = server.addr();
    let cluster = Cluster::builder([addr.as_str()]).build().unwrap();
    let before = gets(&addr);
    let vivify = MetaGetOptions::new().vivify_on_miss(Expiry::after_secs(30));
    let error = cluster.meta_get_many(&["mgm:c:k"], &vivify).unwrap_err();
    assert!(matches!(error, Error::InvalidArgument { .. }), "{error:?}");
    let error = cluster
        .meta_get_many(&["mgm:c:k", "bad key"], &MetaGetOptions::new())
        .unwrap_err();
    assert!(matches!(error, Error::InvalidKey(_)), "{error:?}");
    // In base64 key mode the same key is fine.
    let found = cluster
        .meta_get_many(&["mgm:c:k", "bad key"], &MetaGetOptions::new().base64_key())
        .unwrap();
    assert!(found.found.is_empty() && found.failed.is_empty());
    assert_eq!(gets(&addr), before + 2);
}

#[test]
fn twemproxy_refuses_a_meta_batch_before_sending() {
    let server = Memcached::start();
    let addr = server.addr();
    let config = Config::default().with_server_kind(ServerKind::Twemproxy);
    let mut c = Client::builder(&addr).config(config).connect().unwrap();
    let before = gets(&addr);
    let error = c
        .meta_get_many(&["mgm:twem:a", "mgm:twem:b"], &MetaGetOptions::new())
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::NotSupportedByServer {
                command: "meta",
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(gets(&addr), before);
}

// ---- replies memcached never sends, from the scripted server ---------------------------------

const K1: &[u8] = b"mgmfault:k1";
const V1: &[u8] = b"value-of-k1";
const K2: &[u8] = b"mgmfault:k2";
const V2: &[u8] = b"value-of-k2";

/// A scripted server whose connection 0 follows `fault` (each `mg` of a batch, and its `mn`,
/// is one request), holding K1 and K2, and a client on it.
fn faulty(fault: Fault) -> (FaultServer, Client) {
    faulty_client(fault, &[(K1, V1), (K2, V2)], config())
}

fn assert_protocol_error(
    result: Result<HashMap<Vec<u8>, MetaItem>, Error>,
    kind: ProtocolErrorKind,
) {
    match result {
        Err(Error::Protocol(e)) => assert_eq!(e.kind, kind, "{e:?}"),
        Ok(found) => panic!("expected a protocol error, got {} hits", found.len()),
        Err(other) => panic!("expected a protocol error, got {other:?}"),
    }
}

/// The broken connection was dropped: the next batch goes out on connection 1 and reads both
/// keys' own values.
fn assert_next_batch_reconnects_and_reads_its_own_values(
    server: &FaultServer,
    client: &mut Client,
) {
    assert!(!client.is_connected());
    let found = client
        .meta_get_many(&[K1, K2], &MetaGetOptions::new())
        .unwrap();
    assert_eq!(value_of(&found, K1).as_deref(), Some(V1));
    assert_eq!(value_of(&found, K2).as_deref(), Some(V2));
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert!(
        requests[1][0].starts_with("mg mgmfault:k1 "),
        "{requests:?}"
    );
}

#[test]
fn a_hit_whose_opaque_names_no_key_in_flight_drops_the_connection() {
    let (server, mut c) = faulty(Fault::Reply(
        b"VA 11 kmgmfault:k1 O7\r\nvalue-of-k1\r\n".to_vec(),
    ));
    let result = c.meta_get_many(&[K1, K2], &MetaGetOptions::new());
    assert_protocol_error(result, ProtocolErrorKind::UnexpectedReply);
    assert_next_batch_reconnects_and_reads_its_own_values(&server, &mut c);
}

#[test]
fn a_hit_without_an_opaque_drops_the_connection() {
    let (server, mut c) = faulty(Fault::Reply(
        b"VA 11 kmgmfault:k1\r\nvalue-of-k1\r\n".to_vec(),
    ));
    let result = c.meta_get_many(&[K1, K2], &MetaGetOptions::new());
    assert_protocol_error(result, ProtocolErrorKind::UnexpectedReply);
    assert_next_batch_reconnects_and_reads_its_own_values(&server, &mut c);
}

#[test]
fn a_hit_naming_one_key_and_echoing_another_is_never_a_value_for_either() {
    // Position 0 is K1's, but the reply carries K2's key and value.
    let (server, mut c) = faulty(Fault::Reply(
        b"VA 11 kmgmfault:k2 O0\r\nvalue-of-k2\r\n".to_vec(),
    ));
    let result = c.meta_get_many(&[K1, K2], &MetaGetOptions::new());
    assert_protocol_error(result, ProtocolErrorKind::UnsolicitedData);
    assert_next_batch_reconnects_and_reads_its_own_values(&server, &mut c);
}

#[test]
fn a_hit_without_the_value_asked_for_is_a_protocol_error_in_a_batch_too() {
    let (server, mut c) = faulty(Fault::Reply(b"HD kmgmfault:k1 O0\r\n".to_vec()));
    let result = c.meta_get_many(&[K1, K2], &MetaGetOptions::new());
    assert_protocol_error(result, ProtocolErrorKind::UnexpectedReply);
    assert_next_batch_reconnects_and_reads_its_own_values(&server, &mut c);
}

#[test]
fn a_hit_after_the_windows_mn_never_answers_the_next_call() {
    // Requests 0 and 1 are the two `mg`, answered properly; the `mn` is answered by `MN` and
    // then a stray hit for K1 with position 0's opaque.
    let stray = b"MN\r\nVA 11 kmgmfault:k1 O0\r\nvalue-of-k1\r\n".to_vec();
    let (server, mut c) = faulty(Fault::After(2, Box::new(Fault::Reply(stray))));
    let found = c.meta_get_many(&[K1, K2], &MetaGetOptions::new()).unwrap();
    assert_eq!(value_of(&found, K1).as_deref(), Some(V1));
    assert_eq!(value_of(&found, K2).as_deref(), Some(V2));
    // The next batch asks K2 at position 0: the stray K1 hit must not answer it. The check
    // before the request sees the stray bytes and reconnects.
    let found = c.meta_get_many(&[K2], &MetaGetOptions::new()).unwrap();
    assert_eq!(value_of(&found, K2).as_deref(), Some(V2));
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[0].len(), 3, "{requests:?}");
}

#[test]
fn a_stray_hit_from_an_earlier_window_never_answers_the_key_now_at_its_position() {
    // Enough keys for several windows; every one stored, its value naming its key.
    let keys: Vec<Vec<u8>> = (0..2000)
        .map(|i| format!("mgmfault:window:{i:05}").into_bytes())
        .collect();
    let fill = |server: &FaultServer, skip: Option<usize>| {
        for (i, key) in keys.iter().enumerate() {
            if Some(i) != skip {
                server.insert(key, key);
            }
        }
    };
    // Where the first window's `mn` falls, from a healthy run of the same batch.
    let healthy = FaultServer::start(vec![Fault::Healthy]);
    fill(&healthy, None);
    let found = client(&healthy.addr())
        .meta_get_many(&keys, &MetaGetOptions::new())
        .unwrap();
    assert_eq!(found.len(), keys.len());
    let requests = &healthy.requests()[0];
    let first_mn = requests.iter().position(|r| r == "mn").unwrap();
    assert!(first_mn < keys.len() / 2, "several windows: {first_mn}");
    // Now the first window's `MN` is followed by a second, stray hit for its first key with
    // position 0's opaque. Position 0 of the next window is another key, and a miss: no
    // reply of its own comes after the stray one to show that it is out of order, so only
    // the key echo tells them apart.
    let mut stray = b"MN\r\n".to_vec();
    stray.extend_from_slice(format!("VA {} k", keys[0].len()).as_bytes());
    stray.extend_from_slice(&keys[0]);
    stray.extend_from_slice(b" O0\r\n");
    stray.extend_from_slice(&keys[0]);
    stray.extend_from_slice(b"\r\n");
    let faulty = FaultServer::start(vec![Fault::After(first_mn, Box::new(Fault::Reply(stray)))]);
    fill(&faulty, Some(first_mn));
    let mut c = client(&faulty.addr());
    let result = c.meta_get_many(&keys, &MetaGetOptions::new());
    assert_protocol_error(result, ProtocolErrorKind::UnsolicitedData);
    assert!(!c.is_connected());
}
