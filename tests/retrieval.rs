//! Retrieval commands (`get`, `get_into`, `gets`, `get_many`, `gets_many`, `gat`, `gats`)
//! against a real memcached.

use memcache_sync_test_support as support;

use std::time::Duration;

use memcache_sync::{CasOutcome, Client, Expiry, Item, StoreOptions};
use support::expiry::assert_gone_within;
use support::{shared_server, unique_key};

fn item(value: &[u8], flags: u32) -> Item {
    Item {
        value: value.to_vec(),
        flags,
    }
}

// ---- get / get_into / gets -----------------------------------------------------------------

#[test]
fn get_of_a_key_never_stored_is_a_miss_not_an_error() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    assert_eq!(client.get(unique_key("retrieval:never:")).unwrap(), None);
    assert!(client.is_connected());
}

#[test]
fn get_into_replaces_the_buffers_contents_with_the_value_and_returns_the_flags() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("retrieval:into:");
    client
        .set(&key, b"value\r\nEND", StoreOptions::new().flags(31))
        .unwrap();
    let mut buf = b"stale contents that are longer than the value".to_vec();
    assert_eq!(client.get_into(&key, &mut buf).unwrap(), Some(31));
    assert_eq!(buf, b"value\r\nEND");
}

#[test]
fn get_into_on_a_miss_returns_none_and_leaves_the_buffer_empty() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let mut buf = b"left over from an earlier hit".to_vec();
    let key = unique_key("retrieval:into-miss:");
    assert_eq!(client.get_into(&key, &mut buf).unwrap(), None);
    assert!(buf.is_empty(), "{buf:?}");
}

#[test]
fn get_into_reuses_one_buffer_across_hits() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let long = unique_key("retrieval:into-long:");
    let short = unique_key("retrieval:into-short:");
    client
        .set(&long, [b'L'; 4096], StoreOptions::new().flags(1))
        .unwrap();
    client
        .set(&short, b"s", StoreOptions::new().flags(2))
        .unwrap();
    let mut buf = Vec::new();
    assert_eq!(client.get_into(&long, &mut buf).unwrap(), Some(1));
    assert_eq!(buf, [b'L'; 4096]);
    assert_eq!(client.get_into(&short, &mut buf).unwrap(), Some(2));
    assert_eq!(buf, b"s");
}

#[test]
fn gets_returns_the_item_with_a_token_that_changes_when_the_item_is_written() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("retrieval:gets:");
    client
        .set(&key, b"one", StoreOptions::new().flags(4))
        .unwrap();
    let (got, first) = client.gets(&key).unwrap().expect("just stored");
    assert_eq!(got, item(b"one", 4));
    let (_, again) = client.gets(&key).unwrap().unwrap();
    assert_eq!(again, first, "a read must not change the token");
    client
        .set(&key, b"two", StoreOptions::new().flags(4))
        .unwrap();
    let (got, second) = client.gets(&key).unwrap().unwrap();
    assert_eq!(got, item(b"two", 4));
    assert_ne!(second, first);
}

#[test]
fn gets_of_a_missing_key_is_a_miss() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    assert_eq!(
        client.gets(unique_key("retrieval:gets-miss:")).unwrap(),
        None
    );
}

// ---- get_many / gets_many ------------------------------------------------------------------

#[test]
fn get_many_returns_only_the_keys_found_each_with_its_own_value_and_flags() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let a = unique_key("retrieval:many-a:");
    let b = unique_key("retrieval:many-b:");
    let missing = unique_key("retrieval:many-missing:");
    client
        .set(&a, b"alpha", StoreOptions::new().flags(1))
        .unwrap();
    client.set(&b, b"", StoreOptions::new().flags(2)).unwrap();
    let found = client.get_many(&[&a, &missing, &b]).unwrap();
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found.get(&a).expect("found"), item(b"alpha", 1));
    assert_eq!(found.get(&b).expect("found"), item(b"", 2));
    assert!(!found.contains_key(&missing));
}

#[test]
fn get_many_where_no_key_is_found_is_an_empty_map() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let keys = [
        unique_key("retrieval:none-1:"),
        unique_key("retrieval:none-2:"),
    ];
    assert!(client.get_many(&keys).unwrap().is_empty());
}

#[test]
fn get_many_with_a_key_asked_twice_returns_it_once_and_stays_in_step() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let a = unique_key("retrieval:dup-a:");
    let b = unique_key("retrieval:dup-b:");
    client.set(&a, b"A", Expiry::Never).unwrap();
    client.set(&b, b"B", Expiry::Never).unwrap();
    let found = client.get_many(&[&a, &a, &b, &a]).unwrap();
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found.get(&a).expect("found"), item(b"A", 0));
    assert_eq!(found.get(&b).expect("found"), item(b"B", 0));
    // memcached answered `a` three times; every answer was consumed.
    assert!(client.is_connected());
    assert_eq!(client.get(&b).unwrap(), Some(item(b"B", 0)));
}

#[test]
fn what_get_many_found_is_looked_up_by_every_key_spelling_and_a_miss_is_absent_under_each() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = String::from_utf8(unique_key("retrieval:spelling:")).unwrap();
    let missing = String::from_utf8(unique_key("retrieval:spelling-missing:")).unwrap();
    client
        .set(&key, b"spelt", StoreOptions::new().flags(6))
        .unwrap();
    let found = client.get_many(&[&key, &missing]).unwrap();
    let hit = item(b"spelt", 6);
    let bytes: Vec<u8> = key.clone().into_bytes();
    assert_eq!(found.get(key.as_str()).expect("&str"), hit);
    assert_eq!(found.get(&key).expect("&String"), hit);
    assert_eq!(found.get(key.clone()).expect("String"), hit);
    assert_eq!(found.get(key.as_bytes()).expect("&[u8]"), hit);
    assert_eq!(found.get(&bytes).expect("&Vec<u8>"), hit);
    assert_eq!(found.get(bytes.clone()).expect("Vec<u8>"), hit);
    for value in [
        &found[key.as_str()],
        &found[&key],
        &found[key.as_bytes()],
        &found[&bytes],
        &found[bytes.clone()],
    ] {
        assert_eq!(value, b"spelt");
    }
    assert!(found.contains_key(&key) && found.contains_key(&bytes));
    assert_eq!(found.get(missing.as_str()), None);
    assert_eq!(found.get(missing.as_bytes()), None);
    assert!(!found.contains_key(missing.into_bytes()));
    // A prefix or an extension of the key found is another key.
    assert_eq!(found.get(&key[..key.len() - 1]), None);
    assert_eq!(found.get(format!("{key}x")), None);
}

#[test]
fn get_many_with_keys_repeated_among_others_holds_each_once_in_the_order_first_asked() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let keys: Vec<Vec<u8>> = (0..6)
        .map(|i| unique_key(&format!("retrieval:dup-order-{i}:")))
        .collect();
    // Every key but the fourth stored, each with a value of its own length and flags.
    for (i, key) in keys.iter().enumerate().filter(|(i, _)| *i != 3) {
        client
            .set(
                key,
                vec![b'a' + i as u8; 10 * i],
                StoreOptions::new().flags(i as u32),
            )
            .unwrap();
    }
    let asked = [5, 0, 2, 5, 3, 1, 0, 4, 2, 5].map(|i| &keys[i]);
    let found = client.get_many(&asked).unwrap();
    let order = [5, 0, 2, 1, 4];
    assert_eq!(found.len(), order.len(), "{found:?}");
    let expected: Vec<(&[u8], Item)> = order
        .iter()
        .map(|&i| (&keys[i][..], item(&vec![b'a' + i as u8; 10 * i], i as u32)))
        .collect();
    let iterated: Vec<(&[u8], Item)> = found
        .iter()
        .map(|(key, found)| (key, found.to_item()))
        .collect();
    assert_eq!(iterated, expected);
    assert!(found.keys().eq(order.iter().map(|&i| &keys[i][..])));
    assert!(found
        .values()
        .map(|found| found.flags)
        .eq(order.iter().map(|&i| i as u32)));
    assert_eq!(found.get(&keys[3]), None);
    let owned: Vec<(Vec<u8>, Item)> = found.clone().into_iter().collect();
    assert_eq!(
        owned,
        expected
            .iter()
            .map(|(key, item)| (key.to_vec(), item.clone()))
            .collect::<Vec<_>>()
    );
    let map = found.into_inner();
    assert_eq!(map.len(), order.len());
    assert_eq!(map[&keys[2]], item(b"cccccccccccccccccccc", 2));
    assert!(client.is_connected());
}

#[test]
fn gets_many_with_a_key_asked_twice_lends_it_once_with_a_token_that_works() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let a = unique_key("retrieval:gets-dup-a:");
    let missing = unique_key("retrieval:gets-dup-missing:");
    client.set(&a, b"A", StoreOptions::new().flags(4)).unwrap();
    let found = client.gets_many(&[&a, &missing, &a]).unwrap();
    assert_eq!(found.len(), 1);
    let (read, token) = found.get(&a).expect("found");
    assert_eq!(read, item(b"A", 4));
    assert_eq!(&found[&a], b"A");
    assert!(found.get(&missing).is_none());
    let (key, (_, iterated)) = found.iter().next().expect("one entry");
    assert_eq!((key, iterated), (&a[..], token));
    assert_eq!(
        client.cas(&a, b"B", token, Expiry::Never).unwrap(),
        CasOutcome::Stored
    );
}

#[test]
fn get_many_and_gets_many_of_an_empty_key_list_are_empty_maps_without_error() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let none: [&[u8]; 0] = [];
    assert!(client.get_many(&none).unwrap().is_empty());
    assert!(client.gets_many(&none).unwrap().is_empty());
    // The connection is still usable.
    assert!(client.version().unwrap().starts_with("1."));
}

#[test]
fn get_many_of_1000_keys_of_200_bytes_split_over_several_lines_finds_them_all() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let base = String::from_utf8(unique_key("retrieval:1000:")).unwrap();
    let keys: Vec<Vec<u8>> = (0..1000)
        .map(|i| {
            let mut key = format!("{base}:{i:04}:").into_bytes();
            key.resize(200, b'k');
            key
        })
        .collect();
    for (i, key) in keys.iter().enumerate() {
        client
            .set(
                key,
                format!("value {i}").as_bytes(),
                StoreOptions::new().flags(i as u32),
            )
            .unwrap();
    }
    // 1000 * 201 bytes of keys is far over one 2048-byte get line.
    let found = client.get_many(&keys).unwrap();
    assert_eq!(found.len(), 1000);
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(
            found.get(key).expect("found"),
            item(format!("value {i}").as_bytes(), i as u32),
            "key {i}"
        );
    }
    let with_tokens = client.gets_many(&keys).unwrap();
    assert_eq!(with_tokens.len(), 1000);
    assert!(client.is_connected());
}

#[test]
fn gets_many_gives_each_found_key_a_token_usable_for_cas() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let a = unique_key("retrieval:gets-many-a:");
    let b = unique_key("retrieval:gets-many-b:");
    let missing = unique_key("retrieval:gets-many-missing:");
    client.set(&a, b"1", Expiry::Never).unwrap();
    client.set(&b, b"2", Expiry::Never).unwrap();
    let found = client.gets_many(&[&a, &b, &missing]).unwrap();
    assert_eq!(found.len(), 2);
    let (item_a, token_a) = found.get(&a).expect("found");
    let (item_b, token_b) = found.get(&b).expect("found");
    assert_eq!(item_a, item(b"1", 0));
    assert_eq!(item_b, item(b"2", 0));
    assert_ne!(token_a, token_b);
    assert_eq!(
        client.cas(&a, b"10", token_a, Expiry::Never).unwrap(),
        CasOutcome::Stored
    );
    assert_eq!(
        client.cas(&b, b"20", token_a, Expiry::Never).unwrap(),
        CasOutcome::Exists,
        "a's token must not pass for b"
    );
    assert_eq!(client.get(&a).unwrap(), Some(item(b"10", 0)));
    assert_eq!(client.get(&b).unwrap(), Some(item(b"2", 0)));
}

// ---- gat / gats ----------------------------------------------------------------------------

#[test]
fn gat_of_a_missing_key_is_a_miss() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("retrieval:gat-miss:");
    assert_eq!(client.gat(&key, Expiry::after_secs(60)).unwrap(), None);
    assert_eq!(client.gats(&key, Expiry::after_secs(60)).unwrap(), None);
}

#[test]
fn gat_returns_the_item_and_a_one_second_expiry_then_makes_it_vanish() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("retrieval:gat-expire:");
    client
        .set(&key, b"touched", StoreOptions::new().flags(13))
        .unwrap();
    assert_eq!(
        client.gat(&key, Expiry::after_secs(1)).unwrap(),
        Some(item(b"touched", 13))
    );
    assert_gone_within(&mut client, &key, Duration::from_millis(2500));
}

#[test]
fn gats_returns_the_item_with_a_token_that_cas_accepts() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("retrieval:gats:");
    client
        .set(&key, b"v1", StoreOptions::new().flags(3))
        .unwrap();
    let (got, token) = client
        .gats(&key, Expiry::after_secs(300))
        .unwrap()
        .expect("stored");
    assert_eq!(got, item(b"v1", 3));
    // Touching does not change the version stamp: gets sees the same token.
    assert_eq!(client.gets(&key).unwrap().unwrap().1, token);
    assert_eq!(
        client
            .cas(&key, b"v2", token, StoreOptions::new().flags(3))
            .unwrap(),
        CasOutcome::Stored
    );
    assert_eq!(client.get(&key).unwrap(), Some(item(b"v2", 3)));
}

#[test]
fn gats_with_a_zero_expiry_returns_the_item_and_expires_it_at_once() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("retrieval:gats-zero:");
    client.set(&key, b"last read", Expiry::Never).unwrap();
    let (got, _) = client
        .gats(&key, Expiry::After(Duration::ZERO))
        .unwrap()
        .expect("stored");
    assert_eq!(got, item(b"last read", 0));
    assert_eq!(client.get(&key).unwrap(), None);
}
