//! What the comparison benches (`compare`, `pool`, `fanout`) share, one job a file. Every bench
//! compiles all of it and uses part, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod cluster;
pub mod env;
pub mod floor;
pub mod host;
pub mod keys;
pub mod memcached;
pub mod placement;
pub mod report;
pub mod rounds;
pub mod throughput;
pub mod wire;
