//! Key distribution: which server of a cluster owns a key, compatible byte for byte with the
//! clients other services use.
//!
//! A Rust service and a Go, Python or C service share one cache only if they send each key to
//! the same server. Each distribution here reproduces one other client's choice exactly, and
//! is named after it; pick the row of the client the rest of your fleet uses.
//!
//! # Compatibility
//!
//! | other client, configured as | constructor |
//! |---|---|
//! | gomemcache `memcache.New(servers...)` | [`Modulo::gomemcache`] |
//! | python-memcached ≥ 1.60 `Client(servers)` | [`Modulo::python_memcached`] |
//! | python-memcached ≥ 1.60, `(server, weight)` tuples | [`Modulo::python_memcached_weighted`] |
//! | python-memcached ≤ 1.59 | [`Modulo::python_memcached_legacy`], [`Modulo::python_memcached_legacy_weighted`] |
//! | pylibmc `Client(servers)` (defaults); libmemcached `MODULA` + default hash | [`Modulo::libmemcached_default`] |
//! | pylibmc `behaviors={"hash": "crc"}`; libmemcached `MODULA` + `MEMCACHED_HASH_CRC` | [`Modulo::libmemcached_crc`] |
//! | pylibmc `Client(servers, behaviors={"ketama": True})`; libmemcached `MEMCACHED_BEHAVIOR_KETAMA` | [`Ketama::libmemcached_ketama`] |
//! | pylibmc `behaviors={"ketama_weighted": True}`; PHP `Memcached::OPT_LIBKETAMA_COMPATIBLE`; libmemcached `MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED` | [`Ketama::libmemcached_ketama_weighted`] |
//! | libmemcached `MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA_SPY` + `KETAMA_WEIGHTED` | [`Ketama::libmemcached_ketama_spy`] |
//! | pymemcache `HashClient(servers)` with `str` keys (its default `RendezvousHash`) | [`Rendezvous::pymemcache`] |
//! | pymemcache `HashClient(servers)` with `bytes` keys (hashed by their `repr`) | [`Rendezvous::pymemcache_bytes_keys`] |
//!
//! libmemcached behaviour is that of libmemcached 1.1.4 (awesomized/libmemcached, as Debian
//! ships it) built for x86 / x86-64: its one-at-a-time hash reads key bytes as signed C
//! `char`s (see [`hash::one_at_a_time`]).
//!
//! Things that must agree besides the constructor:
//! - **Server order.** Every distribution returns an index into the server list; list the
//!   servers in the order the other client was given them.
//! - **Host spelling** (ketama only). Continuum points are hashes of the host and port *as
//!   text*: `10.0.0.1` and `cache-1` are different servers even if they resolve alike.
//! - **Weights.** python-memcached and libmemcached's ketama honour them; libmemcached's
//!   modulo mode ignores them; gomemcache has none (list a server twice to double it).
//! - **pylibmc's `ketama` and weights.** libmemcached builds the weighted continuum only when
//!   a server of weight above 1 is added *after* `ketama` is set (pylibmc's `behaviors=`
//!   constructor argument); setting `ketama` later rebuilds the unweighted one. See
//!   [`Ketama::libmemcached_ketama`].
//!
//! # Example
//! ```
//! use memcache_sync::distribution::{Distribution, Ketama, Modulo, Server};
//!
//! // Share a cache with a Go service using gomemcache over three servers.
//! let go = Modulo::gomemcache(3)?;
//! assert_eq!(go.server_for(b"apple"), 2);
//!
//! // Share one with a Python service using pylibmc with ketama.
//! let servers = ["10.0.0.1", "10.0.0.2", "10.0.0.3"].map(|h| Server::new(h, 11211));
//! let ring: Box<dyn Distribution> = Box::new(Ketama::libmemcached_ketama(&servers)?);
//! assert!(ring.server_for(b"apple") < ring.server_count());
//! # Ok::<(), memcache_sync::distribution::DistributionError>(())
//! ```

mod error;
pub mod hash;
mod ketama;
mod modulo;
mod rendezvous;
mod server;

pub use error::{DistributionError, ServerParseError};
pub use ketama::{ContinuumPoint, Ketama, KetamaKeyHash};
pub use modulo::Modulo;
pub use rendezvous::Rendezvous;
pub use server::Server;

/// Maps a key to the index of the server that owns it, in the server list the distribution
/// was built for. Implementations must be pure functions of the key: the same key always
/// maps to the same server.
pub trait Distribution: Send + Sync + std::fmt::Debug {
    /// The index of the server that owns `key`, always below [`Distribution::server_count`].
    fn server_for(&self, key: &[u8]) -> usize;

    /// How many servers the distribution spreads keys over.
    fn server_count(&self) -> usize;

    /// The server that takes `key` while every server `excluded` names is out of service, or
    /// `None` if all are: where [`Failover::NextServer`](crate::Failover::NextServer) sends a
    /// key of a down server. With nothing excluded it must agree with
    /// [`Distribution::server_for`], and it must never name an excluded server.
    ///
    /// Each distribution here spreads a dead server's keys over the survivors rather than
    /// piling them onto one: [`Ketama`] takes the next point of the continuum, [`Modulo`]
    /// rehashes over the servers left, [`Rendezvous`] takes the next highest score. The
    /// default, for other implementations, walks the list from the owner (`owner + 1`,
    /// `owner + 2`, …), which hands all of a dead server's keys to one neighbour.
    ///
    /// ```
    /// use memcache_sync::distribution::{Distribution, Ketama, Server};
    ///
    /// let servers = ["a", "b", "c", "d"].map(|h| Server::new(h, 11211));
    /// let ring = Ketama::libmemcached_ketama(&servers)?;
    /// let owner = ring.server_for(b"user:42");
    /// let next = ring.server_for_excluding(b"user:42", &|i| i == owner).unwrap();
    /// assert_ne!(next, owner);
    /// assert_eq!(ring.server_for_excluding(b"user:42", &|_| false), Some(owner));
    /// assert_eq!(ring.server_for_excluding(b"user:42", &|_| true), None);
    /// # Ok::<(), memcache_sync::distribution::DistributionError>(())
    /// ```
    fn server_for_excluding(&self, key: &[u8], excluded: &dyn Fn(usize) -> bool) -> Option<usize> {
        let servers = self.server_count();
        let owner = self.server_for(key);
        (0..servers)
            .map(|step| (owner + step) % servers)
            .find(|&index| !excluded(index))
    }
}
