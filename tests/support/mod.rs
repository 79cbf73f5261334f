//! Shared helpers for the integration tests. Each test binary compiles this
//! module separately and uses only part of it, hence the blanket allow.
#![allow(dead_code)]

pub mod expiry;
pub mod fault_server;
pub mod memcached;
pub mod nutcracker;

pub use memcached::*;

/// What a hit on `value` stored with `flags` reads back as.
pub fn item(value: &[u8], flags: u32) -> Option<memcache_sync::Item> {
    Some(memcache_sync::Item {
        value: value.to_vec(),
        flags,
    })
}
