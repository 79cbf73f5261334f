//! `incr` and `decr` against a real memcached.

use memcache_sync_test_support as support;

use memcache_sync::{Client, Error, Expiry, StoreOptions};
use support::{shared_server, unique_key};

fn counter(client: &mut Client, prefix: &str, start: &[u8]) -> Vec<u8> {
    let key = unique_key(prefix);
    client.set(&key, start, Expiry::Never).unwrap();
    key
}

#[test]
fn incr_adds_the_delta_and_stores_the_result_as_decimal_text() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = counter(&mut client, "arith:incr:", b"41");
    assert_eq!(client.incr(&key, 1).unwrap(), Some(42));
    assert_eq!(client.incr(&key, 100).unwrap(), Some(142));
    assert_eq!(client.get(&key).unwrap().unwrap().value, b"142");
}

#[test]
fn decr_subtracts_the_delta() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = counter(&mut client, "arith:decr:", b"100");
    assert_eq!(client.decr(&key, 1).unwrap(), Some(99));
    assert_eq!(client.decr(&key, 90).unwrap(), Some(9));
}

#[test]
fn decr_that_shortens_the_number_leaves_memcacheds_space_padding_in_the_stored_value() {
    // memcached rewrites a shrinking number in place and pads it with spaces; the client
    // reports the number, and get shows the padded bytes.
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = counter(&mut client, "arith:pad:", b"10");
    assert_eq!(client.decr(&key, 1).unwrap(), Some(9));
    assert_eq!(client.get(&key).unwrap().unwrap().value, b"9 ");
    // The padded value still counts.
    assert_eq!(client.incr(&key, 1).unwrap(), Some(10));
}

#[test]
fn incr_and_decr_keep_the_items_flags() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("arith:flags:");
    client
        .set(&key, b"5", StoreOptions::new().flags(0xdead_beef))
        .unwrap();
    assert_eq!(client.incr(&key, 5).unwrap(), Some(10));
    assert_eq!(client.decr(&key, 3).unwrap(), Some(7));
    let got = client.get(&key).unwrap().expect("stored");
    assert_eq!(got.flags, 0xdead_beef);
    assert_eq!(got.value.trim_ascii_end(), b"7");
}

#[test]
fn decr_below_zero_stops_at_zero() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = counter(&mut client, "arith:floor:", b"5");
    assert_eq!(client.decr(&key, 6).unwrap(), Some(0));
    assert_eq!(client.decr(&key, u64::MAX).unwrap(), Some(0));
    assert_eq!(client.incr(&key, 1).unwrap(), Some(1));
}

#[test]
fn incr_wraps_around_at_2_to_the_64() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = counter(&mut client, "arith:wrap:", b"18446744073709551615");
    assert_eq!(client.incr(&key, 1).unwrap(), Some(0));
    assert_eq!(client.incr(&key, 1).unwrap(), Some(1));
}

#[test]
fn incr_by_a_delta_near_u64_max_is_sent_and_applied_exactly() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = counter(&mut client, "arith:large:", b"0");
    assert_eq!(client.incr(&key, u64::MAX - 1).unwrap(), Some(u64::MAX - 1));
    assert_eq!(client.incr(&key, 1).unwrap(), Some(u64::MAX));
    assert_eq!(
        client.get(&key).unwrap().unwrap().value,
        u64::MAX.to_string().as_bytes()
    );
    let key = counter(&mut client, "arith:large2:", b"7");
    assert_eq!(
        client.incr(&key, 10_000_000_000_000_000_000).unwrap(),
        Some(10_000_000_000_000_000_007)
    );
}

#[test]
fn incr_and_decr_on_a_missing_key_return_none_and_create_nothing() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("arith:missing:");
    assert_eq!(client.incr(&key, 1).unwrap(), None);
    assert_eq!(client.decr(&key, 1).unwrap(), None);
    assert_eq!(client.get(&key).unwrap(), None);
}

#[test]
fn incr_on_a_non_numeric_value_is_a_client_error_and_the_next_call_works() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = counter(&mut client, "arith:text:", b"not a number");
    let error = client.incr(&key, 1).unwrap_err();
    assert!(matches!(error, Error::ClientError { .. }), "{error:?}");
    assert!(error.to_string().contains("non-numeric"), "{error}");
    assert!(!error.is_transient() && !error.is_connection_error());
    // CLIENT_ERROR drops the connection (documented); the next call reconnects.
    assert!(!client.is_connected());
    assert_eq!(
        client.get(&key).unwrap().unwrap().value,
        b"not a number",
        "the value is untouched"
    );
    assert!(client.is_connected());
    let number = counter(&mut client, "arith:after-error:", b"1");
    assert_eq!(client.incr(&number, 1).unwrap(), Some(2));
}

#[test]
fn decr_on_a_non_numeric_value_is_a_client_error() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = counter(&mut client, "arith:text-decr:", b"12abc");
    let error = client.decr(&key, 1).unwrap_err();
    assert!(matches!(error, Error::ClientError { .. }), "{error:?}");
    assert_eq!(client.decr(unique_key("arith:x:"), 1).unwrap(), None);
}

#[test]
fn two_clients_incrementing_one_counter_lose_no_increment() {
    let server = shared_server();
    let addr = server.addr();
    let mut client = Client::connect(&addr).unwrap();
    let key = counter(&mut client, "arith:race:", b"0");
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (addr, key) = (addr.clone(), key.clone());
            std::thread::spawn(move || {
                let mut client = Client::connect(&addr).unwrap();
                for _ in 0..200 {
                    client.incr(&key, 1).unwrap().expect("counter exists");
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    assert_eq!(client.incr(&key, 0).unwrap(), Some(400));
}
