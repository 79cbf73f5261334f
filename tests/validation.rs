//! Input the client must refuse before writing a byte: bad keys, values over the configured
//! limit, expiration times memcached cannot represent, malformed stats groups. Each refusal
//! is checked on the server itself: a private memcached's `bytes_read` and command counters,
//! read over raw TCP, must show that nothing of the refused call arrived.

use memcache_sync_test_support as support;

use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

use memcache_sync::protocol::KeyError;
use memcache_sync::{
    CasOutcome, CasToken, Client, Config, Error, Expiry, Result, StoreOptions, StoreOutcome,
};
use support::{raw_stats, unique_key, Memcached};

/// What the second probe's own `stats\r\n` adds to `bytes_read` (the first probe's request
/// is already counted in the first snapshot). Pinned by
/// `two_back_to_back_stats_probes_differ_by_exactly_the_second_probes_request`.
const PROBE_BYTES: u64 = b"stats\r\n".len() as u64;

/// Counters that any command reaching memcached would move.
const COUNTERS: [&str; 9] = [
    "cmd_get",
    "cmd_set",
    "cmd_touch",
    "cmd_flush",
    "get_misses",
    "delete_misses",
    "incr_misses",
    "decr_misses",
    "cas_misses",
];

fn number(stats: &HashMap<String, String>, name: &str) -> u64 {
    stats[name].parse().unwrap()
}

/// Runs `call` between two raw stats probes and asserts that the server read nothing but the
/// second probe, ran no command, and saw no new connection but the probe's own.
fn assert_sends_nothing<T>(server: &Memcached, what: &str, call: impl FnOnce() -> T) -> T {
    let before = raw_stats(&server.addr());
    let result = call();
    let after = raw_stats(&server.addr());
    assert_eq!(
        number(&after, "bytes_read") - number(&before, "bytes_read"),
        PROBE_BYTES,
        "{what}: bytes reached the server"
    );
    for name in COUNTERS {
        assert_eq!(after[name], before[name], "{what}: {name} changed");
    }
    assert_eq!(
        number(&after, "total_connections") - number(&before, "total_connections"),
        1,
        "{what}: the client reconnected"
    );
    result
}

type Op = fn(&mut Client, &[u8]) -> Result<()>;
type ExpiryOp = fn(&mut Client, &[u8], Expiry) -> Result<()>;

/// Every command that takes a key, reduced to its error.
fn keyed_commands() -> Vec<(&'static str, Op)> {
    vec![
        ("get", |c, k| c.get(k).map(drop)),
        ("get_into", |c, k| c.get_into(k, &mut Vec::new()).map(drop)),
        ("gets", |c, k| c.gets(k).map(drop)),
        ("gat", |c, k| c.gat(k, Expiry::after_secs(60)).map(drop)),
        ("gats", |c, k| c.gats(k, Expiry::after_secs(60)).map(drop)),
        ("get_many", |c, k| c.get_many(&[k]).map(drop)),
        ("get_many among valid keys", |c, k| {
            c.get_many(&[&b"valid-1"[..], k, b"valid-2"]).map(drop)
        }),
        ("gets_many", |c, k| c.gets_many(&[b"valid", k]).map(drop)),
        ("set", |c, k| c.set(k, b"v", Expiry::Never)),
        ("add", |c, k| c.add(k, b"v", Expiry::Never).map(drop)),
        ("replace", |c, k| {
            c.replace(k, b"v", Expiry::Never).map(drop)
        }),
        ("append", |c, k| c.append(k, b"v").map(drop)),
        ("prepend", |c, k| c.prepend(k, b"v").map(drop)),
        ("cas", |c, k| {
            c.cas(k, b"v", CasToken(1), Expiry::Never).map(drop)
        }),
        ("delete", |c, k| c.delete(k).map(drop)),
        ("touch", |c, k| c.touch(k, Expiry::after_secs(60)).map(drop)),
        ("incr", |c, k| c.incr(k, 1).map(drop)),
        ("decr", |c, k| c.decr(k, 1).map(drop)),
    ]
}

/// Calls every keyed command with `key` and asserts each is refused with `expected` and that
/// nothing reached the server.
fn assert_key_refused_everywhere(key: &[u8], expected: KeyError) {
    let server = Memcached::start();
    let mut client = connected_client(&server, Config::default());
    for (name, op) in keyed_commands() {
        let what = format!("{name}({:?})", key.escape_ascii().to_string());
        let error = assert_sends_nothing(&server, &what, || op(&mut client, key)).unwrap_err();
        assert!(
            matches!(&error, Error::InvalidKey(e) if *e == expected),
            "{what}: expected InvalidKey({expected:?}), got {error:?}"
        );
        assert!(error.is_invalid_input(), "{what}");
        assert!(!error.may_have_reached_server(), "{what}");
        assert!(!error.is_safe_to_retry(true), "{what}");
        assert!(
            client.is_connected(),
            "{what}: a refusal must keep the connection"
        );
    }
    // The client is still in step with the server.
    client.set(b"after", b"ok", Expiry::Never).unwrap();
    assert_eq!(client.get(b"after").unwrap().unwrap().value, b"ok");
}

/// A client whose connection memcached has already accepted (and counted in
/// `total_connections`), so that the accept cannot land inside a probe window.
fn connected_client(server: &Memcached, config: Config) -> Client {
    let mut client = Client::builder(&server.addr())
        .config(config)
        .connect()
        .unwrap();
    client.version().unwrap();
    client
}

fn forbidden(byte: u8, index: usize) -> KeyError {
    KeyError::ForbiddenByte { byte, index }
}

// ---- the probe itself ----------------------------------------------------------------------

#[test]
fn two_back_to_back_stats_probes_differ_by_exactly_the_second_probes_request() {
    let server = Memcached::start();
    for _ in 0..3 {
        let before = raw_stats(&server.addr());
        let after = raw_stats(&server.addr());
        assert_eq!(
            number(&after, "bytes_read") - number(&before, "bytes_read"),
            PROBE_BYTES
        );
    }
}

#[test]
fn a_call_that_does_reach_the_server_is_seen_by_the_probe() {
    let server = Memcached::start();
    let mut client = connected_client(&server, Config::default());
    let before = raw_stats(&server.addr());
    assert_eq!(client.get(b"probe-key").unwrap(), None);
    let after = raw_stats(&server.addr());
    assert_eq!(
        number(&after, "bytes_read") - number(&before, "bytes_read"),
        b"get probe-key\r\n".len() as u64 + PROBE_BYTES
    );
    assert_eq!(number(&after, "cmd_get"), number(&before, "cmd_get") + 1);
}

// ---- keys ----------------------------------------------------------------------------------

#[test]
fn a_key_of_exactly_250_bytes_works_with_every_command() {
    let server = Memcached::start();
    let mut client = Client::connect(&server.addr()).unwrap();
    let mut key = unique_key("validation:250:");
    key.resize(250, b'k');
    client
        .set(&key, b"1", StoreOptions::new().flags(9))
        .unwrap();
    assert_eq!(client.get(&key).unwrap().unwrap().value, b"1");
    assert_eq!(
        client.add(&key, b"x", Expiry::Never).unwrap(),
        StoreOutcome::NotStored
    );
    assert!(client
        .replace(&key, b"2", StoreOptions::new().flags(9))
        .unwrap()
        .is_stored());
    assert!(client.append(&key, b"0").unwrap().is_stored());
    assert!(client.prepend(&key, b"1").unwrap().is_stored());
    assert_eq!(client.incr(&key, 1).unwrap(), Some(121));
    assert_eq!(client.decr(&key, 21).unwrap(), Some(100));
    assert!(client.touch(&key, Expiry::after_secs(60)).unwrap());
    assert!(client.gat(&key, Expiry::after_secs(60)).unwrap().is_some());
    let (_, token) = client.gats(&key, Expiry::after_secs(60)).unwrap().unwrap();
    assert!(client.gets(&key).unwrap().is_some());
    assert_eq!(
        client
            .cas(&key, b"3", token, StoreOptions::new().flags(9))
            .unwrap(),
        CasOutcome::Stored
    );
    let many = client.get_many(&[&key, &key]).unwrap();
    assert_eq!(&many[&key], b"3");
    assert_eq!(client.gets_many(&[&key]).unwrap().len(), 1);
    assert!(client.delete(&key).unwrap());
}

#[test]
fn keys_with_bytes_above_0x7f_are_sent_and_stored() {
    let server = Memcached::start();
    let mut client = Client::connect(&server.addr()).unwrap();
    for key in ["ключ".as_bytes(), &[0x80, 0xff, b'k']] {
        client.set(key, b"v", Expiry::Never).unwrap();
        assert_eq!(client.get(key).unwrap().unwrap().value, b"v");
        assert_eq!(client.get_many(&[key]).unwrap().len(), 1);
    }
}

#[test]
fn a_251_byte_key_is_refused_as_too_long_by_every_command_and_nothing_is_sent() {
    assert_key_refused_everywhere(&[b'k'; 251], KeyError::TooLong { len: 251 });
}

#[test]
fn an_empty_key_is_refused_by_every_command_and_nothing_is_sent() {
    assert_key_refused_everywhere(b"", KeyError::Empty);
}

#[test]
fn a_key_with_a_space_is_refused_by_every_command_and_nothing_is_sent() {
    assert_key_refused_everywhere(b"two words", forbidden(b' ', 3));
}

#[test]
fn a_key_with_a_carriage_return_is_refused_by_every_command_and_nothing_is_sent() {
    assert_key_refused_everywhere(b"a\rb", forbidden(b'\r', 1));
}

#[test]
fn a_key_with_a_line_feed_is_refused_by_every_command_and_nothing_is_sent() {
    assert_key_refused_everywhere(b"ab\n", forbidden(b'\n', 2));
}

#[test]
fn a_key_with_a_nul_byte_is_refused_by_every_command_and_nothing_is_sent() {
    assert_key_refused_everywhere(b"\0ab", forbidden(0, 0));
}

#[test]
fn a_key_with_del_0x7f_is_refused_by_every_command_and_nothing_is_sent() {
    assert_key_refused_everywhere(b"a\x7fb", forbidden(0x7f, 1));
}

#[test]
fn a_key_with_a_tab_is_refused_by_every_command_and_nothing_is_sent() {
    assert_key_refused_everywhere(b"a\tb", forbidden(b'\t', 1));
}

#[test]
fn a_key_smuggling_flush_all_is_refused_by_every_command_and_the_server_is_not_flushed() {
    let server = Memcached::start();
    let mut client = Client::connect(&server.addr()).unwrap();
    let sentinel = unique_key("validation:sentinel:");
    client.set(&sentinel, b"still here", Expiry::Never).unwrap();
    let key = b"x\r\nflush_all";
    for (name, op) in keyed_commands() {
        let error = assert_sends_nothing(&server, name, || op(&mut client, key)).unwrap_err();
        assert!(
            matches!(error, Error::InvalidKey(e) if e == forbidden(b'\r', 1)),
            "{name}: {error:?}"
        );
    }
    // Also when the smuggled command ends in its own line break.
    let error = client.get(b"x\r\nflush_all\r\n").unwrap_err();
    assert!(matches!(error, Error::InvalidKey(_)), "{error:?}");
    let stats = raw_stats(&server.addr());
    assert_eq!(stats["cmd_flush"], "0");
    assert_eq!(client.get(&sentinel).unwrap().unwrap().value, b"still here");
}

// ---- values --------------------------------------------------------------------------------

#[test]
fn a_value_over_the_configured_limit_is_refused_by_every_storage_command_and_nothing_is_sent() {
    let server = Memcached::start();
    let config = Config::default().with_max_value_size(100);
    let mut client = Client::builder(&server.addr())
        .config(config)
        .connect()
        .unwrap();
    let key = unique_key("validation:value:");
    client.set(&key, [b'a'; 100], Expiry::Never).unwrap();
    let ops: [(&str, Op); 6] = [
        ("set", |c, k| c.set(k, [b'b'; 101], Expiry::Never)),
        ("add", |c, k| c.add(k, [b'b'; 101], Expiry::Never).map(drop)),
        ("replace", |c, k| {
            c.replace(k, [b'b'; 101], Expiry::Never).map(drop)
        }),
        ("append", |c, k| c.append(k, [b'b'; 101]).map(drop)),
        ("prepend", |c, k| c.prepend(k, [b'b'; 101]).map(drop)),
        ("cas", |c, k| {
            c.cas(k, [b'b'; 101], CasToken(1), Expiry::Never).map(drop)
        }),
    ];
    for (name, op) in ops {
        let error = assert_sends_nothing(&server, name, || op(&mut client, &key)).unwrap_err();
        assert!(
            matches!(
                error,
                Error::ValueTooLarge {
                    len: 101,
                    limit: 100
                }
            ),
            "{name}: {error:?}"
        );
        assert!(error.is_invalid_input() && !error.may_have_reached_server());
        assert!(client.is_connected(), "{name}");
    }
    assert_eq!(client.get(&key).unwrap().unwrap().value, [b'a'; 100]);
}

#[test]
fn a_value_one_byte_over_the_default_1_mib_limit_is_refused_and_nothing_is_sent() {
    let server = Memcached::start();
    let mut client = connected_client(&server, Config::default());
    let value = vec![b'v'; 1024 * 1024 + 1];
    let error = assert_sends_nothing(&server, "set 1 MiB + 1", || {
        client.set(b"big", &value, Expiry::Never)
    })
    .unwrap_err();
    assert!(
        matches!(error, Error::ValueTooLarge { len, limit } if len == value.len() && limit == 1024 * 1024),
        "{error:?}"
    );
}

// ---- expiration times ----------------------------------------------------------------------

#[test]
fn an_expiry_after_january_2038_is_refused_by_every_command_that_takes_one_and_nothing_is_sent() {
    let server = Memcached::start();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("validation:2038:");
    client.set(&key, b"v", Expiry::Never).unwrap();
    let too_late = Expiry::At(UNIX_EPOCH + Duration::from_secs(1 << 31));
    let centuries = Expiry::after_secs(400 * 365 * 24 * 3600);
    for expiry in [too_late, centuries] {
        let calls: [(&str, ExpiryOp); 7] = [
            ("set", |c, k, e| c.set(k, b"v", e)),
            ("add", |c, k, e| c.add(k, b"v", e).map(drop)),
            ("replace", |c, k, e| c.replace(k, b"v", e).map(drop)),
            ("cas", |c, k, e| c.cas(k, b"v", CasToken(1), e).map(drop)),
            ("touch", |c, k, e| c.touch(k, e).map(drop)),
            ("gat", |c, k, e| c.gat(k, e).map(drop)),
            ("gats", |c, k, e| c.gats(k, e).map(drop)),
        ];
        for (name, call) in calls {
            let what = format!("{name} with {expiry:?}");
            let error = assert_sends_nothing(&server, &what, || call(&mut client, &key, expiry))
                .unwrap_err();
            assert!(
                matches!(error, Error::InvalidArgument { what: "expiry", .. }),
                "{what}: {error:?}"
            );
            assert!(error.is_invalid_input() && !error.may_have_reached_server());
            assert!(client.is_connected(), "{what}");
        }
    }
    assert_eq!(client.get(&key).unwrap().unwrap().value, b"v");
}

#[test]
fn the_last_moment_memcached_can_represent_is_accepted_and_the_item_lives() {
    let server = Memcached::start();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("validation:i32max:");
    let last = Expiry::At(UNIX_EPOCH + Duration::from_secs(i32::MAX as u64));
    client.set(&key, b"v", last).unwrap();
    assert_eq!(client.get(&key).unwrap().unwrap().value, b"v");
}

#[test]
fn a_flush_delay_past_2038_is_refused_and_nothing_is_flushed() {
    let server = Memcached::start();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("validation:flush-2038:");
    client.set(&key, b"v", Expiry::Never).unwrap();
    let error = assert_sends_nothing(&server, "flush_all_after", || {
        client.flush_all_after(Duration::from_secs(1 << 32))
    })
    .unwrap_err();
    assert!(
        matches!(error, Error::InvalidArgument { what: "expiry", .. }),
        "{error:?}"
    );
    assert_eq!(client.get(&key).unwrap().unwrap().value, b"v");
}

// ---- stats groups --------------------------------------------------------------------------

#[test]
fn a_stats_group_that_is_not_a_clean_token_list_is_refused_and_nothing_is_sent() {
    let server = Memcached::start();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("validation:stats:");
    client.set(&key, b"v", Expiry::Never).unwrap();
    let long = "s".repeat(251);
    for group in [
        "items\r\nflush_all",
        "items\nflush_all",
        "",
        "items  slabs",
        " items",
        "items ",
        "items\0",
        "items\tslabs",
        long.as_str(),
    ] {
        let what = format!("stats_group({group:?})");
        let error = assert_sends_nothing(&server, &what, || client.stats_group(group)).unwrap_err();
        assert!(
            matches!(
                error,
                Error::InvalidArgument {
                    what: "stats group",
                    ..
                }
            ),
            "{what}: {error:?}"
        );
        assert!(client.is_connected(), "{what}");
    }
    assert_eq!(raw_stats(&server.addr())["cmd_flush"], "0");
    assert_eq!(client.get(&key).unwrap().unwrap().value, b"v");
    // A clean group is still sent and answered.
    assert!(client.stats_group("slabs").is_ok());
}
