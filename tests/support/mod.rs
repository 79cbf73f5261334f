//! Shared helpers for the integration tests. Each test binary compiles this
//! module separately and uses only part of it, hence the blanket allow.
#![allow(dead_code)]

pub mod child;
pub mod expiry;
pub mod fault_server;
pub mod memcached;
pub mod nutcracker;

pub use memcached::*;

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
