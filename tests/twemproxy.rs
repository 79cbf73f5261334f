//! The client through a real twemproxy (nutcracker 0.5) in front of three real memcached.
//!
//! A proxy keeps the protocol but not memcached's habits: it answers a multi-key line whose
//! keys span backends in its own order (the protocol never promised request order), and after
//! a `SERVER_ERROR` answering a multi-key line it closes the connection. These tests pin down
//! that the client takes both in its stride.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use memcache_sync::{CasOutcome, Client, Cluster, Config, Error, Expiry, Item, StoreOptions};
use support::nutcracker::Nutcracker;
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
        .map(|(key, (item, _))| (key.to_vec(), item.clone()))
        .collect();
    assert!(items == stored, "gets_many differs from what was stored");
    // Each token is the one of its own key: a cas with it succeeds.
    let (key, (item, token)) = found.iter().next().unwrap();
    let outcome = client
        .cas(
            key,
            b"swapped",
            *token,
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
    assert!(report.found == stored, "Cluster::get_many differs");
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
