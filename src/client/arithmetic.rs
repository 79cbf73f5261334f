//! `incr` and `decr`.
//!
//! # Format
//! `incr <key> <delta>\r\n`, `decr <key> <delta>\r\n`
//!
//! # Returns
//! The new value, or `NOT_FOUND` as `None`. A stored value that is not a decimal number is
//! `CLIENT_ERROR cannot increment or decrement non-numeric value`, an
//! [`Error::ClientError`](crate::Error::ClientError).

use super::Client;
use crate::error::Result;
use crate::protocol::{encode_arith, ArithCommand, Reply};

/// # Arithmetic
///
/// Counters kept by the server: a value stored as a decimal number is changed in place,
/// atomically, without reading it first. A key that holds nothing is `Ok(None)`, not created;
/// store the starting value with [`set`](Client::set) or [`add`](Client::add) first.
impl Client {
    /// Adds `delta` to the decimal number stored under `key` and returns the result, wrapping
    /// at 2^64; `None` if the key holds nothing (memcached does not create it).
    ///
    /// ```
    /// # use memcache_sync::{Client, Expiry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set("doc:hits", "41", Expiry::Never)?;
    /// assert_eq!(client.incr("doc:hits", 1)?, Some(42));
    /// assert_eq!(client.incr("doc:no-such-counter", 1)?, None);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    #[inline]
    pub fn incr(&mut self, key: impl AsRef<[u8]>, delta: u64) -> Result<Option<u64>> {
        self.arith(ArithCommand::Incr, key.as_ref(), delta)
    }

    /// Subtracts `delta` from the decimal number stored under `key`, stopping at 0, and returns
    /// the result; `None` if the key holds nothing.
    ///
    /// ```
    /// # use memcache_sync::{Client, Expiry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set("doc:decr", "10", Expiry::Never)?;
    /// assert_eq!(client.decr("doc:decr", 3)?, Some(7));
    /// assert_eq!(client.decr("doc:decr", 100)?, Some(0)); // stops at 0, never negative
    /// assert_eq!(client.decr("doc:decr:nobody", 1)?, None);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    #[inline]
    pub fn decr(&mut self, key: impl AsRef<[u8]>, delta: u64) -> Result<Option<u64>> {
        self.arith(ArithCommand::Decr, key.as_ref(), delta)
    }

    fn arith(&mut self, command: ArithCommand, key: &[u8], delta: u64) -> Result<Option<u64>> {
        self.encode(|buf| encode_arith(buf, command, key, delta, false))?;
        self.single(|reply| match reply {
            Reply::Number(n) => Some(Some(*n)),
            Reply::NotFound => Some(None),
            _ => None,
        })
    }
}
