//! Shared helpers for the integration tests, as a crate of their own so that they are compiled
//! once rather than again in every test binary. A test file says
//! `use memcache_sync_test_support as support;`.

pub mod captures;
pub mod child;
pub mod cut_short;
pub mod exercise;
pub mod expiry;
pub mod fault_server;
pub mod lease;
pub mod logs;
pub mod memcached;
pub mod nutcracker;
pub mod pki;
pub mod raw;
pub mod strategies;
pub mod wait;

pub use exercise::{exercise_commands, exercise_meta_commands};
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
