//! The call shapes a user coming from the `memcache` crate, pymemcache or gomemcache writes
//! first: keys and values of any byte-like type, the store options that replace positional
//! flags, ported TTLs, `found["key"]`, one builder shape for `Client`, `Pool` and `Cluster`,
//! and server lists parsed from text. Each compiles and runs against a real memcached.

use memcache_sync_test_support as support;

use std::time::Duration;

use memcache_sync::distribution::{Distribution, Ketama, Server, ServerParseError};
use memcache_sync::{
    CasOutcome, Client, Cluster, Config, Error, Expiry, Pool, PoolConfig, StoreOptions,
    StoreOutcome,
};
use support::expiry::assert_gone_within;
use support::{item, shared_server, unique_key};

/// A fresh key as a `String`, so that tests can pass it as `&str`.
fn unique_str(prefix: &str) -> String {
    String::from_utf8(unique_key(prefix)).expect("unique keys are ASCII")
}

// ---- keys and values -----------------------------------------------------------------------

#[test]
fn a_str_key_and_a_str_value_store_and_read_back_without_conversion() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_str("shape:str:");
    let key: &str = &key;
    client.set(key, "v", Expiry::Never).unwrap();
    assert_eq!(client.get(key).unwrap(), item(b"v", 0));
    let mut buf = Vec::new();
    assert_eq!(client.get_into(key, &mut buf).unwrap(), Some(0));
    assert_eq!(buf, b"v");
}

#[test]
fn a_byte_string_key_with_an_owned_value_and_a_duration_expiry_is_stored() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    // A literal, to pin the `&[u8; N]` key type; a run that shares a server with this one
    // stores the same value under it.
    client
        .set(b"shape:byte-string-key", vec![1, 2], Duration::from_secs(5))
        .unwrap();
    assert_eq!(
        client.get(b"shape:byte-string-key").unwrap(),
        item(&[1, 2], 0)
    );
}

#[test]
fn a_string_key_a_borrowed_value_and_flags_in_store_options_are_stored() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_str("shape:string:");
    let value = b"borrowed".to_vec();
    client
        .set(String::from(&key), &value, StoreOptions::new().flags(3))
        .unwrap();
    assert_eq!(client.get(&key).unwrap(), item(b"borrowed", 3));

    let both = StoreOptions::new().flags(4).expiry(Expiry::after_secs(60));
    assert_eq!((both.flags, both.expiry), (4, Expiry::after_secs(60)));
    assert_eq!(
        client.replace(key.as_bytes(), "replaced", both).unwrap(),
        StoreOutcome::Stored
    );
    assert_eq!(client.get(&key).unwrap(), item(b"replaced", 4));
}

#[test]
fn an_expiry_or_a_duration_alone_stores_with_flags_zero() {
    assert_eq!(StoreOptions::from(Expiry::Never), StoreOptions::new());
    assert_eq!(
        StoreOptions::from(Duration::from_secs(9)),
        StoreOptions::new().expiry(Expiry::after_secs(9))
    );
    assert_eq!(StoreOptions::default(), StoreOptions::new());
    assert_eq!(
        (StoreOptions::new().flags, StoreOptions::new().expiry),
        (0, Expiry::Never)
    );
}

#[test]
fn cas_takes_the_token_before_the_options_and_stores_only_while_it_is_current() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_str("shape:cas:");
    client
        .set(&key, "v1", StoreOptions::new().flags(5))
        .unwrap();
    let (read, token) = client.gets(&key).unwrap().expect("just stored");
    let keep_flags = StoreOptions::new().flags(read.flags);
    assert_eq!(
        client.cas(&key, "v2", token, keep_flags).unwrap(),
        CasOutcome::Stored
    );
    assert_eq!(client.get(&key).unwrap(), item(b"v2", 5));
    assert_eq!(
        client.cas(&key, "v3", token, Expiry::Never).unwrap(),
        CasOutcome::Exists
    );
}

#[test]
fn every_other_single_key_command_takes_a_str_key() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_str("shape:commands:");
    let key: &str = &key;
    assert_eq!(
        client.add(key, "1", Expiry::Never).unwrap(),
        StoreOutcome::Stored
    );
    assert!(client.append(key, "0").unwrap().is_stored());
    assert!(client.prepend(key, "1").unwrap().is_stored());
    assert_eq!(client.incr(key, 5).unwrap(), Some(115));
    assert_eq!(client.decr(key, 15).unwrap(), Some(100));
    assert!(client.touch(key, Duration::from_secs(60)).unwrap());
    assert_eq!(
        client.gat(key, Duration::from_secs(60)).unwrap(),
        item(b"100", 0)
    );
    let (gatted, _) = client.gats(key, Expiry::Never).unwrap().unwrap();
    assert_eq!(gatted.value, b"100");
    assert!(client.delete(key).unwrap());
    assert_eq!(client.get(key).unwrap(), None);
}

// ---- found["key"] --------------------------------------------------------------------------

#[test]
fn what_get_many_found_is_looked_up_by_str_or_bytes_and_a_miss_is_absent() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let (a, b, missing) = (
        unique_str("shape:found:a:"),
        unique_str("shape:found:b:"),
        unique_str("shape:found:missing:"),
    );
    client.set(&a, "1", Expiry::Never).unwrap();
    client.set(&b, "2", StoreOptions::new().flags(2)).unwrap();

    let found = client.get_many(&[&a, &b, &missing]).unwrap();
    assert_eq!(&found[a.as_str()], b"1");
    assert_eq!(&found[a.as_bytes()], b"1");
    assert_eq!(found.get(&b).map(|item| item.flags), Some(2));
    assert_eq!(found.get(&b).map(|item| item.value), Some(&b"2"[..]));
    assert_eq!(found.get(&missing), None);
    assert!(found.contains_key(&a) && !found.contains_key(&missing));
    assert_eq!((found.len(), found.is_empty()), (2, false));
    assert_eq!(found.iter().count(), 2);
    assert_eq!((&found).into_iter().count(), 2);

    let mut keys: Vec<Vec<u8>> = found.clone().into_iter().map(|(key, _)| key).collect();
    keys.sort();
    let mut expected = vec![a.clone().into_bytes(), b.clone().into_bytes()];
    expected.sort();
    assert_eq!(keys, expected);
    let map = found.into_inner();
    assert_eq!(map[a.as_bytes()].value, b"1");

    let with_tokens = client.gets_many(&[&a, &missing]).unwrap();
    let (read, token) = with_tokens.get(a.as_str()).expect("stored");
    assert_eq!(read.value, b"1");
    assert_eq!(&with_tokens[a.as_str()], b"1");
    assert_eq!(
        client.cas(&a, "swapped", token, Expiry::Never).unwrap(),
        CasOutcome::Stored
    );
}

#[test]
#[should_panic(expected = "no item was found under")]
fn indexing_a_key_that_was_not_found_panics_naming_it() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let missing = unique_str("shape:found:never-stored:");
    let found = client.get_many(&[&missing]).unwrap();
    let _ = &found[missing.as_str()];
}

// ---- ported TTLs ---------------------------------------------------------------------------

#[test]
fn a_ported_ttl_of_zero_never_expires_where_a_relative_zero_is_already_expired() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let (forever, soon, at_once) = (
        unique_str("shape:ttl:zero:"),
        unique_str("shape:ttl:one:"),
        unique_str("shape:ttl:after-zero:"),
    );
    client
        .set(&forever, "kept", Expiry::from_ttl_secs(0))
        .unwrap();
    client.set(&soon, "gone", Expiry::from_ttl_secs(1)).unwrap();
    client.set(&at_once, "gone", Expiry::after_secs(0)).unwrap();

    assert_eq!(client.get(&at_once).unwrap(), None);
    assert_gone_within(&mut client, soon.as_bytes(), Duration::from_millis(2500));
    // Stored before the one-second item and still there after it went.
    assert_eq!(client.get(&forever).unwrap(), item(b"kept", 0));
    assert_eq!(Expiry::from_ttl_secs(0), Expiry::Never);
}

// ---- one way to build things ---------------------------------------------------------------

#[test]
fn client_pool_and_cluster_are_built_from_an_address_and_the_same_settings() {
    let server = shared_server();
    let addr = server.addr();
    let config = Config::default().with_read_timeout(Duration::from_millis(700));
    let pool_config = PoolConfig::default().with_max_size(2);
    let key = unique_str("shape:builders:");

    let mut client = Client::builder(&addr)
        .config(config.clone())
        .connect()
        .unwrap();
    assert_eq!(client.config(), &config);
    client.set(&key, "from a client", Expiry::Never).unwrap();
    let mut shortcut = Client::connect(&addr).unwrap();
    assert_eq!(shortcut.config(), &Config::default());

    let pool = Pool::builder(&addr)
        .config(config.clone())
        .pool(pool_config.clone())
        .build();
    let mut pooled = pool.get().unwrap();
    assert_eq!(pooled.config(), &config);
    assert_eq!(pooled.get(&key).unwrap(), item(b"from a client", 0));
    drop(pooled);
    let defaults = Pool::new(&addr);
    defaults
        .get()
        .unwrap()
        .set(&key, "from a pool", Expiry::Never)
        .unwrap();
    assert_eq!(shortcut.get(&key).unwrap(), item(b"from a pool", 0));

    let cluster = Cluster::builder([addr.as_str()])
        .config(config)
        .pool(pool_config)
        .build()
        .unwrap();
    assert_eq!(cluster.pool(0).unwrap().addr(), addr);
    assert_eq!(cluster.get(&key).unwrap(), item(b"from a pool", 0));
}

#[test]
fn builders_show_their_settings_when_debug_printed() {
    let client = format!("{:?}", Client::builder("cache:11211"));
    assert!(client.contains("cache:11211"), "{client}");
    let pool = format!(
        "{:?}",
        Pool::builder("cache:11211").pool(PoolConfig::default().with_max_size(3))
    );
    assert!(pool.contains("max_size: 3"), "{pool}");

    let plain = format!("{:?}", Cluster::builder(["a:11211"]));
    assert!(plain.contains("\"a:11211\""), "{plain}");
    assert!(plain.contains("observer: absent"), "{plain}");
    assert!(plain.contains("distribution: None"), "{plain}");
    let observed = format!(
        "{:?}",
        Cluster::builder(["a:11211"])
            .observer(|_: &memcache_sync::Event<'_>| {})
            .distribution(Ketama::libmemcached_ketama(&[Server::new("a", 11211)]).unwrap())
    );
    assert!(observed.contains("observer: present"), "{observed}");
    assert!(observed.contains("distribution: Some(Ketama"), "{observed}");
}

#[test]
fn the_cluster_takes_the_same_keys_values_and_options_as_the_client() {
    let server = shared_server();
    let cluster = Cluster::builder([server.addr()]).build().unwrap();
    let key = unique_str("shape:cluster:");
    let key: &str = &key;
    cluster.set(key, "1", Duration::from_secs(60)).unwrap();
    assert_eq!(cluster.get(key).unwrap(), item(b"1", 0));
    let (_, token) = cluster.gets(key).unwrap().unwrap();
    assert_eq!(
        cluster
            .cas(key, vec![b'2'], token, StoreOptions::new().flags(8))
            .unwrap(),
        CasOutcome::Stored
    );
    assert_eq!(cluster.incr(key, 1).unwrap(), Some(3));
    assert!(cluster.touch(key, Expiry::from_ttl_secs(0)).unwrap());
    assert_eq!(
        cluster
            .with_key(key, "get", true, |client| client.get(key))
            .unwrap(),
        item(b"3", 8)
    );
    assert!(cluster.delete(String::from(key)).unwrap());
}

// ---- server lists from text ----------------------------------------------------------------

#[test]
fn a_server_parses_from_host_port_and_an_optional_weight() {
    assert_eq!(
        "h:1:2".parse::<Server>(),
        Ok(Server::new("h", 1).with_weight(2))
    );
    assert_eq!("h:11211".parse::<Server>(), Ok(Server::new("h", 11211)));
    assert_eq!(
        "[::1]:11211:3".parse::<Server>(),
        Ok(Server::new("::1", 11211).with_weight(3))
    );
    let server: Server = "cache-1:11212:4".parse().unwrap();
    assert_eq!(server.to_string().parse::<Server>(), Ok(server));
}

#[test]
fn a_malformed_server_is_a_typed_error_naming_what_is_wrong() {
    let input = |text: &str| text.to_owned();
    let cases = [
        ("", ServerParseError::Empty),
        (
            "cache",
            ServerParseError::MissingPort {
                input: input("cache"),
            },
        ),
        (
            ":11211",
            ServerParseError::MissingHost {
                input: input(":11211"),
            },
        ),
        (
            "h:99999",
            ServerParseError::InvalidPort {
                input: input("h:99999"),
            },
        ),
        (
            "h:1:heavy",
            ServerParseError::InvalidWeight {
                input: input("h:1:heavy"),
            },
        ),
        (
            "::1:11211",
            ServerParseError::TooManyParts {
                input: input("::1:11211"),
            },
        ),
        (
            "[::1:11211",
            ServerParseError::Brackets {
                input: input("[::1:11211"),
            },
        ),
    ];
    for (text, error) in cases {
        assert_eq!(text.parse::<Server>(), Err(error), "{text:?}");
    }
    let unbracketed = "::1:11211".parse::<Server>().unwrap_err().to_string();
    assert!(unbracketed.contains("brackets"), "{unbracketed}");

    // The cluster builder reports the same reason, as an invalid argument.
    match Cluster::builder(["a:11211", "b:eleven"]).build() {
        Err(Error::InvalidArgument {
            what: "cluster",
            reason,
        }) => {
            assert!(reason.contains("b:eleven"), "{reason}");
        }
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

/// Keys whose placement the tests below compare.
fn placement_keys() -> Vec<String> {
    (0..2000).map(|i| format!("shape:placement:{i}")).collect()
}

#[test]
fn weights_in_the_server_list_build_the_weighted_ketama_ring() {
    let weighted = Cluster::builder(["a:11211:2", "b:11211"]).build().unwrap();
    let ring = Ketama::libmemcached_ketama(&[
        Server::new("a", 11211).with_weight(2),
        Server::new("b", 11211),
    ])
    .unwrap();
    assert!(ring.is_weighted());
    assert_eq!(weighted.servers(), ["a:11211", "b:11211"]);
    let keys = placement_keys();
    for key in &keys {
        assert_eq!(
            weighted.server_for(key),
            ring.server_for(key.as_bytes()),
            "{key}"
        );
    }
    let on_a = keys
        .iter()
        .filter(|key| weighted.server_for(key) == 0)
        .count();
    assert!(
        on_a > keys.len() / 2,
        "a holds {on_a} of {} keys",
        keys.len()
    );
}

#[test]
fn weight_one_everywhere_keeps_the_unweighted_placement() {
    let written = Cluster::builder(["a:11211:1", "b:11212:1"])
        .build()
        .unwrap();
    let plain = Cluster::builder(["a:11211", "b:11212"]).build().unwrap();
    let ring =
        Ketama::libmemcached_ketama(&[Server::new("a", 11211), Server::new("b", 11212)]).unwrap();
    assert!(!ring.is_weighted());
    for key in placement_keys() {
        let expected = ring.server_for(key.as_bytes());
        assert_eq!(written.server_for(&key), expected, "{key}");
        assert_eq!(plain.server_for(&key), expected, "{key}");
    }
}

#[test]
fn a_server_list_in_one_string_splits_on_commas_and_whitespace() {
    let listed = Cluster::builder_from_str(" a:11211:2, b:11211\n\tc:11212 ,")
        .build()
        .unwrap();
    assert_eq!(listed.servers(), ["a:11211", "b:11211", "c:11212"]);
    let same = Cluster::builder(["a:11211:2", "b:11211", "c:11212"])
        .build()
        .unwrap();
    for key in placement_keys() {
        assert_eq!(listed.server_for(&key), same.server_for(&key), "{key}");
    }
    assert!(matches!(
        Cluster::builder_from_str(" , ").build(),
        Err(Error::InvalidArgument { .. })
    ));
}
