//! `Cluster` against several real memcached processes: keys land where the distribution
//! says and nowhere else, a dead server fails only its own keys (connection errors, then
//! `ServerDown` fast) and recovers after its backoff, threads do not reconnect to a dead host
//! in a herd, failover and retries happen only when asked for and only when safe, batches fan
//! out and fail per server, and the observer sees all of it.
//!
//! Where the servers hold a key is always checked over raw TCP, never through the client
//! under test.
//!
//! One binary, one module an area; `fixtures` and `recorder` are what the areas share.

mod batches;
mod cut_short;
mod dead_server;
mod failover;
mod fixtures;
mod observer;
mod placement;
mod pool_timeouts;
mod recorder;
