//! Shared helpers for the integration tests. Each test binary compiles this
//! module separately and uses only part of it, hence the blanket allow.
#![allow(dead_code)]

pub mod child;
pub mod expiry;
pub mod fault_server;
pub mod memcached;
pub mod nutcracker;

pub use memcached::*;
