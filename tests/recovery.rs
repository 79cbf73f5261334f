//! Recovery against real memcached: nothing listening, a killed server, a frozen (SIGSTOPped)
//! server, a restarted one. The same `Client` must report each failure as a typed error
//! within its timeouts, never as a miss, and work again by itself once the server is back.

use memcache_sync_test_support as support;

use support::timed;

use std::thread;
use std::time::{Duration, Instant};

use memcache_sync::{Client, Config, Error, Expiry, Item, Phase};
use support::{dead_addr, raw_get, unique_key, Memcached};

/// What a bound may exceed its timeout by on a shared, loaded machine.
const MARGIN: Duration = Duration::from_millis(250);
const READ_TIMEOUT: Duration = Duration::from_millis(300);

fn config() -> Config {
    Config::default()
        .with_connect_timeout(Duration::from_millis(500))
        .with_write_timeout(Duration::from_millis(500))
        .with_read_timeout(READ_TIMEOUT)
}

fn item(value: &[u8]) -> Option<Item> {
    Some(Item {
        value: value.to_vec(),
        flags: 0,
    })
}

#[test]
fn connecting_to_a_port_with_nothing_listening_is_a_quick_connect_error() {
    let addr = dead_addr();
    let config = config().with_connect_timeout(Duration::from_secs(5));
    let (result, elapsed) = timed(|| Client::builder(&addr).config(config).connect());
    let error = result.expect_err("connected to a port nobody listens on");
    match &error {
        Error::Connect {
            addr: reported,
            source,
        } => {
            assert_eq!(reported, &addr);
            assert_eq!(source.kind(), std::io::ErrorKind::ConnectionRefused);
        }
        other => panic!("expected Error::Connect, got {other:?}"),
    }
    assert!(error.is_connection_error());
    assert!(!error.may_have_reached_server() && error.is_safe_to_retry(false));
    assert!(error.to_string().contains(&addr), "{error}");
    // Refused at once, not after the 5 s connect timeout.
    assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
}

#[test]
fn get_after_the_server_is_gone_is_a_quick_connect_error() {
    let mut server = Memcached::start();
    let addr = server.addr();
    let config = config().with_connect_timeout(Duration::from_secs(5));
    let mut client = Client::builder(&addr).config(config).connect().unwrap();
    server.kill();
    // The first call may still find the old connection (closed or reset); the call after it
    // must reconnect, and nothing listens.
    let first = client.get(b"recovery:gone");
    assert!(
        matches!(&first, Err(e) if e.is_connection_error()),
        "{first:?}"
    );
    let (result, elapsed) = timed(|| client.get(b"recovery:gone"));
    match result {
        Err(Error::Connect { addr: reported, .. }) => assert_eq!(reported, addr),
        other => panic!("expected Error::Connect, got {other:?}"),
    }
    assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
    assert!(!client.is_connected());
}

#[test]
fn killed_server_is_an_error_not_a_miss_and_the_same_client_recovers_after_restart() {
    let mut server = Memcached::start();
    let mut client = Client::builder(&server.addr())
        .config(config())
        .connect()
        .unwrap();
    let before = unique_key("recovery:kill:before:");
    client.set(&before, b"before", Expiry::Never).unwrap();
    assert_eq!(client.get(&before).unwrap(), item(b"before"));

    server.kill();
    // The connection is stale: memcached's FIN is queued. The next get must fail, typed,
    // within the timeouts; a miss here would tell the caller the key is simply absent.
    let (result, elapsed) = timed(|| client.get(&before));
    let error = result.expect_err("a get on a killed server returned Ok");
    assert!(
        matches!(
            error,
            Error::ConnectionClosed { .. } | Error::Io { .. } | Error::Connect { .. }
        ),
        "{error:?}"
    );
    assert!(error.is_connection_error(), "{error:?}");
    assert!(elapsed < READ_TIMEOUT + MARGIN, "{elapsed:?}");
    assert!(!client.is_connected());

    // Still dead: a connect error, and nothing is reported stored.
    let after = unique_key("recovery:kill:after:");
    match client.set(&after, b"lost", Expiry::Never) {
        Err(Error::Connect { addr, source }) => {
            assert_eq!(addr, server.addr());
            assert_eq!(source.kind(), std::io::ErrorKind::ConnectionRefused);
        }
        other => panic!("expected Error::Connect while the server is dead, got {other:?}"),
    }
    assert!(matches!(client.get(&after), Err(Error::Connect { .. })));

    server.restart();
    // The same client, not rebuilt: the old data is gone (a real miss now), new data works.
    assert_eq!(client.get(&before).expect("get after restart"), None);
    client.set(&after, b"after", Expiry::Never).unwrap();
    assert_eq!(client.get(&after).unwrap(), item(b"after"));
    assert!(raw_get(&server.addr(), &after).is_some());
    assert!(client.is_connected());
}

#[test]
fn frozen_server_times_out_and_a_late_reply_never_answers_a_later_request() {
    let mut server = Memcached::start();
    let mut client = Client::builder(&server.addr())
        .config(config())
        .connect()
        .unwrap();
    let k1 = unique_key("recovery:freeze:k1:");
    let k2 = unique_key("recovery:freeze:k2:");
    client.set(&k1, b"v1", Expiry::Never).unwrap();
    client.set(&k2, b"v2", Expiry::Never).unwrap();

    server.freeze();
    let (result, elapsed) = timed(|| client.get(&k1));
    match result {
        Err(Error::Timeout {
            phase: Phase::Read,
            timeout,
        }) => assert_eq!(timeout, READ_TIMEOUT),
        other => panic!("expected a read timeout from a frozen server, got {other:?}"),
    }
    assert!(elapsed >= READ_TIMEOUT, "gave up early: {elapsed:?}");
    assert!(elapsed < READ_TIMEOUT + MARGIN, "gave up late: {elapsed:?}");
    assert!(!client.is_connected(), "a timed-out connection was kept");

    // memcached answers the queued get k1 once thawed; that reply must not answer get k2.
    server.thaw();
    assert_eq!(client.get(&k2).expect("get after thaw"), item(b"v2"));
    assert_eq!(client.get(&k1).unwrap(), item(b"v1"));
    // Give the late reply every chance to arrive somewhere, then ask again.
    thread::sleep(Duration::from_millis(100));
    assert_eq!(client.get(&k2).unwrap(), item(b"v2"));
}

#[test]
fn frozen_server_keeps_timing_out_each_call_until_thawed() {
    let mut server = Memcached::start();
    let mut client = Client::builder(&server.addr())
        .config(config())
        .connect()
        .unwrap();
    let key = unique_key("recovery:freeze:again:");
    client.set(&key, b"v", Expiry::Never).unwrap();
    server.freeze();
    // Each call reconnects (the kernel still completes the handshake) and times out reading.
    for _ in 0..3 {
        let (result, elapsed) = timed(|| client.get(&key));
        assert!(
            matches!(
                result,
                Err(Error::Timeout {
                    phase: Phase::Read,
                    ..
                })
            ),
            "{result:?}"
        );
        assert!(
            elapsed >= READ_TIMEOUT && elapsed < READ_TIMEOUT + MARGIN,
            "{elapsed:?}"
        );
    }
    server.thaw();
    assert_eq!(client.get(&key).unwrap(), item(b"v"));
}

#[test]
fn store_to_a_frozen_server_is_a_read_timeout_never_ok() {
    let mut server = Memcached::start();
    let mut client = Client::builder(&server.addr())
        .config(config())
        .connect()
        .unwrap();
    let key = unique_key("recovery:freeze:set:");
    client.version().unwrap();

    server.freeze();
    // The request fits in the socket buffers, so the write succeeds; the reply never comes.
    let (result, elapsed) = timed(|| client.set(&key, b"maybe", Expiry::Never));
    let error = result.expect_err("a set to a frozen server was reported stored");
    assert!(
        matches!(
            error,
            Error::Timeout {
                phase: Phase::Read,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        elapsed >= READ_TIMEOUT && elapsed < READ_TIMEOUT + MARGIN,
        "{elapsed:?}"
    );
    // It did reach memcached, which applies it once thawed: the error says it may have.
    assert!(error.may_have_reached_server());
    assert!(!error.is_safe_to_retry(false) && error.is_safe_to_retry(true));

    server.thaw();
    assert_eq!(client.version().unwrap().split('.').next(), Some("1"));
    // memcached handles the old connection's queued set on its own schedule (possibly on
    // another worker thread than our new connection), so wait for it, within a bound.
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match client.get(&key).unwrap() {
            Some(found) => {
                assert_eq!(Some(found), item(b"maybe"));
                break;
            }
            None if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            None => panic!("the set queued while frozen was never applied"),
        }
    }
}

/// Every connection is checked (a non-blocking peek) before it carries a request, so a
/// restart while the client was idle costs the caller nothing.
#[test]
fn after_a_restart_while_idle_the_first_call_succeeds() {
    let mut server = Memcached::start();
    let mut client = Client::builder(&server.addr())
        .config(config())
        .connect()
        .unwrap();
    let key = unique_key("recovery:idle:");
    client.set(&key, b"old", Expiry::Never).unwrap();
    let old_pid = server.pid();

    server.restart();
    assert_ne!(server.pid(), old_pid);
    thread::sleep(Duration::from_millis(50));
    assert!(client.is_connected(), "nothing has told the client yet");
    // The stale connection is detected and replaced before the request is sent.
    assert_eq!(
        client.get(&key).expect("first call after idle restart"),
        None
    );
    client.set(&key, b"new", Expiry::Never).unwrap();
    assert_eq!(client.get(&key).unwrap(), item(b"new"));
}

/// A restart noticed at once: the old connection's close has arrived by the time of the
/// next call, so the peek before the request sees it and the call goes out on a new
/// connection to the new process, and succeeds.
#[test]
fn after_a_quick_restart_the_next_call_succeeds_on_a_new_connection() {
    let mut server = Memcached::start();
    let mut client = Client::builder(&server.addr())
        .config(config())
        .connect()
        .unwrap();
    let key = unique_key("recovery:quick:");
    client.set(&key, b"old", Expiry::Never).unwrap();

    server.restart();
    assert_eq!(client.get(&key).expect("the call after the restart"), None);
    client.set(&key, b"new", Expiry::Never).unwrap();
    assert_eq!(client.get(&key).unwrap(), item(b"new"));
}
