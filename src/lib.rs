//! A synchronous, blocking client for [memcached](https://memcached.org), written for people
//! who run it in production.
//!
//! # Promises
//! - **A miss is never a failure.** A miss is `Ok(None)`; a dead server, a timeout or a garbled
//!   reply is a typed [`Error`], so failover can happen.
//! - **Every wait is bounded** by a timeout you chose ([`Config`]): connect, write and read,
//!   each a deadline for the whole operation, never per system call.
//! - **No outcome is swallowed.** `NOT_STORED`, `EXISTS` and `NOT_FOUND` come back as values
//!   ([`StoreOutcome`], [`CasOutcome`], `bool`, `Option`), marked `#[must_use]` where ignoring
//!   them would hide a refused write.
//! - **No desynced connection is reused.** After a timeout, a close, a protocol violation,
//!   `CLIENT_ERROR` or `ERROR`, the connection is dropped and the next call reconnects.
//! - **No key or value can inject a command.** Keys are checked before a byte is written;
//!   values are framed by their length.
//! - **A key is never moved to another server.** [`Client`] talks to one server.
//!
//! Keys and values are bytes in, bytes out: no hidden serialisation.
//!
//! # Quick start
//! ```
//! use memcache_sync::{Client, Config, Expiry, StoreOutcome};
//! use std::time::Duration;
//!
//! # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
//! let config = Config::default().with_read_timeout(Duration::from_millis(300));
//! let mut client = Client::builder(&addr).config(config).connect()?;
//!
//! client.set("doc:greeting", "hello", Duration::from_secs(60))?;
//! assert_eq!(client.get("doc:greeting")?.map(|item| item.value), Some(b"hello".to_vec()));
//! assert_eq!(client.get("doc:nobody-stored-this")?, None);
//!
//! match client.add("doc:greeting", "hi", Expiry::Never)? {
//!     StoreOutcome::Stored => unreachable!("the key exists"),
//!     StoreOutcome::NotStored => {} // add refuses to overwrite, and says so
//! }
//! # Ok::<(), memcache_sync::Error>(())
//! ```
//!
//! # Which type do I need
//! - **One server, one thread** (a script, a worker that owns its connection): a [`Client`],
//!   made with [`Client::connect`] or [`Client::builder`]. Its methods take `&mut self`, and
//!   the [`Client`] page lists them family by family, in the order you will need them.
//! - **One server, many threads**: a [`Pool`]. It is `Send + Sync` and cheap to clone;
//!   [`Pool::get`] lends a [`PooledClient`], which is a `Client` for as long as you hold it.
//! - **Many servers**: a [`Cluster`]. Also `Send + Sync`, it sends each key to one server by a
//!   [`distribution`] other clients share, and keeps a pool per server, health marking, and
//!   opt-in retries and failover. Its methods take `&self`.
//!
//! All three take the same [`Config`] (timeouts, limits, credentials), report the same typed
//! [`Error`]s, and honour a [`Deadline`] around any call.
//!
//! # Layers
//! Each layer is built only from the ones below it.
//!
//! | layer | what it is for |
//! |---|---|
//! | [`protocol`] | a sans-IO codec for the text protocol: encodes into a buffer, parses from a slice, never touches a socket; [`protocol::meta`] is the same for the meta commands (`mg`, `ms`, `md`, `ma`, `mn`, `me`) |
//! | transport (`src/transport/`, internal) | the one seam under a connection: a stream over TCP or a Unix domain socket (`/path` or `unix:/path`), with its reads, writes, timeouts and the peek before each request |
//! | [`Deadline`] (`src/deadline.rs`) | the caller's bound on a whole call, across every phase, reconnect and retry, and the checked instant arithmetic every timeout goes through |
//! | [`Client`] | one server, one connection, one method per command; each request is one write; authenticates each connection once when [`Config::with_credentials`] is set |
//! | batches ([`Client::set_many`], [`Client::get_many`], …) | pipelined windows with a result per item ([`BatchReport`]) |
//! | [`Pool`] | a bounded, thread-safe pool of `Client`s for one server |
//! | [`Cluster`] | many servers: key distribution compatible with other clients ([`distribution`]), shared dead-host marking, opt-in [`RetryPolicy`] and [`Failover`], [`Observer`] hooks |
//! | `test_util` (`src/test_util/`, feature `test-util`) | beside the stack, not on it: an in-process fake memcached built on [`protocol`], for tests of code that uses a cache (below) |
//!
//! # Testing code that uses a cache
//! With the `test-util` feature (off by default; enable it under `[dev-dependencies]`),
//! `test_util::FakeServer` is an in-process fake memcached for your own tests: no memcached to
//! install, state to set up and inspect, and scripted faults (timeouts, dropped connections,
//! server errors, refused connects) to check that your code survives them.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod auth;
mod batch;
mod client;
mod cluster;
mod config;
mod connect;
mod connection;
mod deadline;
pub mod distribution;
mod error;
mod expiry;
mod found;
mod item;
mod lease;
mod lock;
mod meta_types;
mod pool;
pub mod protocol;
mod store_options;
#[cfg(feature = "test-util")]
pub mod test_util;
mod transport;

pub use batch::{BatchError, BatchReport, Entry, ItemResult};
pub use client::{CachedumpItem, Client, ClientBuilder, PrefixStats};
pub use cluster::{
    Cluster, ClusterBuilder, Event, Failover, GetManyReport, GutterConfig, HealthConfig,
    Membership, MetaGetManyReport, Observer, PerServer, RetryPolicy, ServerFailure, ServersChange,
};
pub use config::{Config, Secret, ServerKind};
pub use deadline::Deadline;
pub use error::{Error, Phase, Result, TlsFailure};
pub use expiry::Expiry;
pub use found::{Found, FoundIntoIter, FoundItem, FoundIter, ItemRef};
pub use item::{CasOutcome, CasToken, Item, StoreOutcome};
pub use lease::{
    get_or_fill, get_or_lease, Fetched, FillError, FillToken, LeaseOptions, LeaseOutcome,
};
pub use lock::{Lock, LockOptions, LockStore};
pub use meta_types::{
    MetaArithOptions, MetaArithOutcome, MetaCounter, MetaDebugInfo, MetaDebugOptions,
    MetaDeleteOptions, MetaDeleteOutcome, MetaGetOptions, MetaItem, MetaSetMode, MetaSetOptions,
    MetaStoreOutcome,
};
pub use pool::{Pool, PoolBuilder, PoolConfig, PooledClient};
pub use protocol::{KeyError, ProtocolError, ProtocolErrorKind, ServerErrorKind};
/// The rustls this crate was built with, for [`TlsConfig::from_rustls`] and the certificate
/// types of [`TlsConfig::client_auth`].
#[cfg(feature = "tls")]
pub use rustls;
pub use store_options::StoreOptions;
#[cfg(feature = "tls")]
pub use transport::tls::TlsConfig;

/// The README's examples, compiled as doc tests so that they cannot drift from the API.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
