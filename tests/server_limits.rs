//! memcached's own limits, hit for real: memory with evictions forbidden, a small item size,
//! and the connection limit. Each gives a typed error at once, and the client stays usable.

use memcache_sync_test_support as support;

use std::time::{Duration, Instant};

use memcache_sync::{Client, Config, Error, Expiry};
use support::Memcached;

fn config() -> Config {
    Config::default()
        .with_connect_timeout(Duration::from_millis(500))
        .with_read_timeout(Duration::from_millis(500))
}

#[test]
fn a_full_cache_that_may_not_evict_answers_out_of_memory_and_stays_in_step() {
    // -M: return an error instead of evicting; 2 MiB is the smallest memory that allows the
    // default 1 MiB item size.
    let server = Memcached::start_with(&["-m", "2", "-M"]);
    let mut client = Client::builder(&server.addr())
        .config(config())
        .connect()
        .unwrap();
    let value = vec![b'v'; 100 * 1024];
    let mut stored = Vec::new();
    let error = (0..1000)
        .find_map(|i| {
            let key = format!("oom:{i}");
            match client.set(key.as_bytes(), &value, Expiry::Never) {
                Ok(()) => {
                    stored.push(key);
                    None
                }
                Err(error) => Some(error),
            }
        })
        .expect("a 2 MiB cache refuses a 100 MB load");
    assert!(error.is_out_of_memory(), "{error:?}");
    assert!(matches!(error, Error::ServerError { .. }));
    assert!(
        client.is_connected(),
        "memcached stays in step after SERVER_ERROR"
    );
    assert!(!stored.is_empty());
    let first = client
        .get(stored[0].as_bytes())
        .unwrap()
        .expect("nothing was evicted");
    assert_eq!(first.value, value);
}

#[test]
fn a_value_over_a_small_server_item_size_is_too_large_and_a_matching_client_limit_refuses_it_first()
{
    // 512 KiB is the smallest item size memcached takes without shrinking its slab chunks,
    // a setting under which memcached 1.6.18 was seen to crash.
    let server = Memcached::start_with(&["-I", "512k"]);
    let mut client = Client::builder(&server.addr())
        .config(config())
        .connect()
        .unwrap();
    let value = vec![b'v'; 600 * 1024];
    let error = client
        .set(b"limits:item", &value, Expiry::Never)
        .unwrap_err();
    assert!(error.is_item_too_large(), "{error:?}");
    assert!(client.is_connected());
    client.set(b"limits:item", b"small", Expiry::Never).unwrap();

    // A client limit set to match the server's refuses the value before a byte is sent.
    let mut matched = Client::builder(&server.addr())
        .config(config().with_max_value_size(512 * 1024))
        .connect()
        .unwrap();
    let error = matched
        .set(b"limits:item", &value, Expiry::Never)
        .unwrap_err();
    assert!(
        matches!(error, Error::ValueTooLarge { len, limit } if len == value.len() && limit == 512 * 1024),
        "{error:?}"
    );
    assert_eq!(
        matched.get(b"limits:item").unwrap().unwrap().value,
        b"small"
    );
}

#[test]
fn reaching_the_servers_connection_limit_is_a_typed_error_not_a_hang() {
    // With one worker thread memcached keeps 5 descriptors for itself; -c 32 leaves room for
    // a few dozen clients (memcached also caps its descriptors at -c).
    let server = Memcached::start_with(&["-c", "32", "-t", "1"]);
    let mut clients = Vec::new();
    let refused = loop {
        assert!(
            clients.len() < 64,
            "memcached accepted more connections than its limit"
        );
        let started = Instant::now();
        let attempt = Client::builder(&server.addr())
            .config(config())
            .connect()
            .and_then(|mut client| {
                client.version()?;
                Ok(client)
            });
        match attempt {
            Ok(client) => clients.push(client),
            Err(error) => break (error, started.elapsed()),
        }
    };
    let (error, elapsed) = refused;
    assert!(
        elapsed < Duration::from_millis(500),
        "took {elapsed:?}: a refusal must not hang"
    );
    let said_so = matches!(&error, Error::UnknownCommand { message } if message.contains("Too many open connections"));
    assert!(said_so || error.is_connection_error(), "{error:?}");
    assert!(
        clients.len() >= 10,
        "only {} connections before the limit",
        clients.len()
    );

    // Room again: the clients that were connected keep working, and a new one connects.
    clients.truncate(clients.len() - 2);
    for client in &mut clients {
        client.version().unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut client = loop {
        match Client::builder(&server.addr())
            .config(config())
            .connect()
            .and_then(|mut c| c.version().map(|_| c))
        {
            Ok(client) => break client,
            Err(error) => assert!(
                Instant::now() < deadline,
                "no room after closing two: {error:?}"
            ),
        }
    };
    client.set(b"limits:conn", b"ok", Expiry::Never).unwrap();
}
