//! Shared helpers for the integration tests, as a crate of their own so that they are compiled
//! once rather than again in every test binary. A test file says
//! `use memcache_sync_test_support as support;`.

pub mod child;
pub mod expiry;
pub mod fault_server;
pub mod lease;
pub mod logs;
pub mod memcached;
pub mod nutcracker;
pub mod pki;
pub mod raw;
pub mod wait;

pub use memcached::*;
pub use raw::*;
pub use wait::wait_for;

use memcache_sync::{BatchError, BatchReport};

/// The report of a batch, whether every item was confirmed (`Ok`) or not: for tests that
/// inspect the report either way.
pub fn batch_report<T>(result: Result<BatchReport<T>, BatchError<T>>) -> BatchReport<T> {
    result.unwrap_or_else(BatchError::into_report)
}

/// What a hit on `value` stored with `flags` reads back as.
pub fn item(value: &[u8], flags: u32) -> Option<memcache_sync::Item> {
    Some(memcache_sync::Item {
        value: value.to_vec(),
        flags,
    })
}

/// Runs `f` and returns its result with how long it took.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, std::time::Duration) {
    let started = std::time::Instant::now();
    let result = f();
    (result, started.elapsed())
}

/// A loopback address nobody listens on: a port bound, then released.
pub fn dead_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    addr
}

/// Runs every meta command and a lock on `client`, checking each outcome: for the tests that
/// prove the meta commands work unchanged over a transport (Unix sockets, TLS).
pub fn exercise_meta_commands(client: &mut memcache_sync::Client) {
    use memcache_sync::{
        Expiry, Lock, LockOptions, MetaArithOptions, MetaDeleteOptions, MetaDeleteOutcome,
        MetaGetOptions, MetaSetOptions, MetaStoreOutcome,
    };
    let key = unique_key("meta:transport:");
    let stored = client
        .meta_set(
            &key,
            b"v1",
            &MetaSetOptions::new().expiry(Expiry::after_secs(60)),
        )
        .unwrap();
    let cas = stored.cas().expect("a plain set stores");
    let item = client
        .meta_get(&key, &MetaGetOptions::new().return_cas().return_ttl())
        .unwrap()
        .expect("just stored");
    assert_eq!(item.value.as_deref(), Some(&b"v1"[..]));
    assert!(item.ttl.is_some() && item.cas.is_some());
    let stale = MetaSetOptions::new().compare_cas(cas);
    assert!(client.meta_set(&key, b"v2", &stale).unwrap().is_stored());
    assert_eq!(
        client.meta_set(&key, b"v3", &stale).unwrap(),
        MetaStoreOutcome::Exists
    );
    let counter = unique_key("meta:transport:counter:");
    let hit = MetaArithOptions::incr().create_on_miss(Expiry::after_secs(60), 1);
    let first = client.meta_arithmetic(&counter, &hit).unwrap().counter();
    let second = client.meta_arithmetic(&counter, &hit).unwrap().counter();
    assert_eq!(first.map(|c| c.value), Some(1));
    assert_eq!(second.map(|c| c.value), Some(2));
    assert_eq!(
        client.meta_delete(&key, &MetaDeleteOptions::new()).unwrap(),
        MetaDeleteOutcome::Deleted
    );
    assert_eq!(client.meta_get(&key, &MetaGetOptions::new()).unwrap(), None);
    client.meta_noop().unwrap();
    let lock_key = unique_key("meta:transport:lock:");
    let lock = Lock::acquire(
        &mut *client,
        &lock_key,
        &LockOptions::new(std::time::Duration::from_secs(30)),
    )
    .unwrap()
    .expect("nobody holds it");
    assert!(lock.release().unwrap());
}
