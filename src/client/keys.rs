//! `delete` and `touch`: commands on one key that answer with one line.
//!
//! # Format
//! `delete <key>\r\n`, `touch <key> <exptime>\r\n`
//!
//! # Returns
//! `DELETED`/`TOUCHED` as `true`, `NOT_FOUND` as `false`.

use std::time::SystemTime;

use super::Client;
use crate::error::Result;
use crate::expiry::Expiry;
use crate::protocol::{encode_delete, encode_touch, Reply};

/// # Deleting and touching
///
/// Commands on one key that change no value: [`delete`](Client::delete) removes the item,
/// [`touch`](Client::touch) gives it a new expiration time. Each answers `true` when the key
/// held an item and `false` when it did not.
impl Client {
    /// Deletes `key`: `true` if it held an item, `false` if there was nothing to delete.
    ///
    /// ```
    /// # use memcache_sync::{Client, Expiry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set("doc:delete", "x", Expiry::Never)?;
    /// assert!(client.delete("doc:delete")?);
    /// assert!(!client.delete("doc:delete")?);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    #[inline]
    pub fn delete(&mut self, key: impl AsRef<[u8]>) -> Result<bool> {
        self.delete_bytes(key.as_ref())
    }

    fn delete_bytes(&mut self, key: &[u8]) -> Result<bool> {
        self.encode(|buf| encode_delete(buf, key, false))?;
        self.single(deleted)
    }

    /// Sets a new expiration time on `key` without fetching it: `true` if the item exists,
    /// `false` if not. `expiry` is an [`Expiry`], or a [`Duration`](std::time::Duration)
    /// from now.
    ///
    /// ```
    /// # use memcache_sync::{Client, Expiry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// use std::time::Duration;
    ///
    /// client.set("doc:touch", "v", Expiry::after_secs(60))?;
    /// assert!(client.touch("doc:touch", Duration::from_secs(3600))?); // an hour from now
    /// assert!(!client.touch("doc:touch:nobody", Expiry::Never)?);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    #[inline]
    pub fn touch(&mut self, key: impl AsRef<[u8]>, expiry: impl Into<Expiry>) -> Result<bool> {
        self.touch_bytes(key.as_ref(), expiry.into())
    }

    fn touch_bytes(&mut self, key: &[u8], expiry: Expiry) -> Result<bool> {
        let exptime = expiry.to_wire(SystemTime::now())?;
        self.encode(|buf| encode_touch(buf, key, exptime, false))?;
        self.single(touched)
    }
}

pub(super) fn deleted(reply: &Reply<'_>) -> Option<bool> {
    match reply {
        Reply::Deleted => Some(true),
        Reply::NotFound => Some(false),
        _ => None,
    }
}

pub(super) fn touched(reply: &Reply<'_>) -> Option<bool> {
    match reply {
        Reply::Touched => Some(true),
        Reply::NotFound => Some(false),
        _ => None,
    }
}
