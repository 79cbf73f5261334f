//! `set`, `add`, `replace`, `append`, `prepend` and `cas`.
//!
//! # Format
//! `<cmd> <key> <flags> <exptime> <bytes> [<cas>]\r\n<data>\r\n`
//!
//! # Returns
//! `STORED`, `NOT_STORED` (a condition not met), `EXISTS` and `NOT_FOUND` (cas) as values;
//! `SERVER_ERROR` as [`Error::ServerError`](crate::Error::ServerError), keeping the connection,
//! because memcached reads the data block before it answers.

use std::time::SystemTime;

use super::{expect, Client};
use crate::batch::Entry;
use crate::error::{Error, Result};
use crate::item::{CasOutcome, CasToken, StoreOutcome};
use crate::protocol::{encode_storage, encode_storage_line, Reply, StorageCommand};
use crate::store_options::StoreOptions;

/// # Writing
///
/// The storage commands: [`set`](Client::set) stores whatever the key held, the others store
/// only when a condition holds and say whether it did, as a [`StoreOutcome`] or
/// [`CasOutcome`] (never an error, and `#[must_use]`). Each takes an
/// [`Expiry`](crate::Expiry), a [`Duration`](std::time::Duration) from now, or
/// [`StoreOptions`] with flags; [`append`](Client::append) and [`prepend`](Client::prepend)
/// keep the item's own.
impl Client {
    /// Stores `value` under `key`, whatever the key held before. `options` is an
    /// [`Expiry`](crate::Expiry), a [`Duration`](std::time::Duration) from now, or
    /// [`StoreOptions`] with flags.
    ///
    /// A value longer than [`Config::max_value_size`](crate::Config::max_value_size) is
    /// [`Error::ValueTooLarge`] before anything is sent. A value the server finds too large
    /// for its item size (`-I`) is [`Error::ServerError`] with
    /// [`is_item_too_large`](Error::is_item_too_large); note that memcached 1.6 then also
    /// **deletes the key's previous value**, so a failed oversized `set` is not a no-op.
    ///
    /// ```
    /// # use memcache_sync::{Client, StoreOptions};
    /// # use std::time::Duration;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set("doc:set", "any bytes, even \r\n and \0", Duration::from_secs(300))?;
    /// client.set(b"doc:set:flagged", vec![1, 2, 3], StoreOptions::new().flags(42))?;
    /// assert_eq!(client.get("doc:set:flagged")?.unwrap().flags, 42);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    #[inline]
    pub fn set(
        &mut self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        options: impl Into<StoreOptions>,
    ) -> Result<()> {
        self.set_bytes(key.as_ref(), value.as_ref(), options.into())
    }

    fn set_bytes(&mut self, key: &[u8], value: &[u8], options: StoreOptions) -> Result<()> {
        self.store(StorageCommand::Set, key, value, options, set_outcome)?
    }

    /// Stores `value` only if `key` holds nothing: [`StoreOutcome::NotStored`] when it does.
    /// This is the building block of a lock, so the answer is never guessed.
    ///
    /// ```
    /// # use memcache_sync::{Client, StoreOutcome};
    /// # use std::time::Duration;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// # client.delete("doc:lock")?;
    /// let ttl = Duration::from_secs(10);
    /// assert_eq!(client.add("doc:lock", "me", ttl)?, StoreOutcome::Stored);
    /// assert_eq!(client.add("doc:lock", "you", ttl)?, StoreOutcome::NotStored);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    #[inline]
    pub fn add(
        &mut self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        options: impl Into<StoreOptions>,
    ) -> Result<StoreOutcome> {
        self.conditional(
            StorageCommand::Add,
            key.as_ref(),
            value.as_ref(),
            options.into(),
        )
    }

    /// Stores `value` only if `key` already holds something: [`StoreOutcome::NotStored`] when
    /// it does not.
    ///
    /// ```
    /// # use memcache_sync::{Client, Expiry, StoreOutcome};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set("doc:replace", "old", Expiry::Never)?;
    /// assert_eq!(client.replace("doc:replace", "new", Expiry::Never)?, StoreOutcome::Stored);
    /// assert_eq!(client.get("doc:replace")?.unwrap().value, b"new");
    /// assert_eq!(client.replace("doc:replace:nobody", "v", Expiry::Never)?, StoreOutcome::NotStored);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    #[inline]
    pub fn replace(
        &mut self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        options: impl Into<StoreOptions>,
    ) -> Result<StoreOutcome> {
        self.conditional(
            StorageCommand::Replace,
            key.as_ref(),
            value.as_ref(),
            options.into(),
        )
    }

    /// Adds `value` after the existing value of `key`, keeping its flags and expiry:
    /// [`StoreOutcome::NotStored`] when the key holds nothing.
    ///
    /// ```
    /// # use memcache_sync::{Client, Expiry, StoreOutcome};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set("doc:append", "hello", Expiry::after_secs(60))?;
    /// assert_eq!(client.append("doc:append", ", world")?, StoreOutcome::Stored);
    /// assert_eq!(client.get("doc:append")?.unwrap().value, b"hello, world");
    /// assert_eq!(client.append("doc:append:nobody", "x")?, StoreOutcome::NotStored);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    #[inline]
    pub fn append(
        &mut self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<StoreOutcome> {
        self.conditional(
            StorageCommand::Append,
            key.as_ref(),
            value.as_ref(),
            StoreOptions::new(),
        )
    }

    /// Adds `value` before the existing value of `key`, keeping its flags and expiry:
    /// [`StoreOutcome::NotStored`] when the key holds nothing.
    ///
    /// ```
    /// # use memcache_sync::{Client, Expiry, StoreOutcome};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set("doc:prepend", "world", Expiry::after_secs(60))?;
    /// assert_eq!(client.prepend("doc:prepend", "hello, ")?, StoreOutcome::Stored);
    /// assert_eq!(client.get("doc:prepend")?.unwrap().value, b"hello, world");
    /// assert_eq!(client.prepend("doc:prepend:nobody", "x")?, StoreOutcome::NotStored);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    #[inline]
    pub fn prepend(
        &mut self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<StoreOutcome> {
        self.conditional(
            StorageCommand::Prepend,
            key.as_ref(),
            value.as_ref(),
            StoreOptions::new(),
        )
    }

    /// Stores `value` only if the item is unchanged since `token` was read with
    /// [`gets`](Client::gets) or [`gats`](Client::gats). Like `set`, `cas` replaces the
    /// item's flags and expiry with those in `options`: pass the item's flags to keep them.
    ///
    /// ```
    /// # use memcache_sync::{CasOutcome, Client, Expiry, StoreOptions};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set("doc:counter", "1", Expiry::Never)?;
    /// let (item, token) = client.gets("doc:counter")?.unwrap();
    /// assert_eq!(client.cas("doc:counter", "2", token, Expiry::Never)?, CasOutcome::Stored);
    /// // The token is now stale: someone (we) changed the item.
    /// let keep_flags = StoreOptions::new().flags(item.flags);
    /// assert_eq!(client.cas("doc:counter", "3", token, keep_flags)?, CasOutcome::Exists);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    #[inline]
    pub fn cas(
        &mut self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        token: CasToken,
        options: impl Into<StoreOptions>,
    ) -> Result<CasOutcome> {
        self.cas_bytes(key.as_ref(), value.as_ref(), token, options.into())
    }

    fn cas_bytes(
        &mut self,
        key: &[u8],
        value: &[u8],
        token: CasToken,
        options: StoreOptions,
    ) -> Result<CasOutcome> {
        self.store(
            StorageCommand::Cas(token.0),
            key,
            value,
            options,
            cas_outcome,
        )
    }

    fn conditional(
        &mut self,
        command: StorageCommand,
        key: &[u8],
        value: &[u8],
        options: StoreOptions,
    ) -> Result<StoreOutcome> {
        self.store(command, key, value, options, store_outcome)
    }

    /// Checks the value's size and the expiry, sends the command and reads its reply with
    /// `accept`.
    fn store<R>(
        &mut self,
        command: StorageCommand,
        key: &[u8],
        value: &[u8],
        options: StoreOptions,
        accept: impl FnOnce(&Reply<'_>) -> Option<R>,
    ) -> Result<R> {
        let limit = self.config.max_value_size();
        self.request.clear();
        let entry = Entry {
            key,
            value,
            flags: options.flags,
            expiry: options.expiry,
        };
        if value.len() < VECTORED_WRITE_MIN {
            encode_entry(&mut self.request, command, &entry, limit, SystemTime::now())?;
            return self.single(accept);
        }
        // A large value is not copied after its command line: the line, the value and its
        // `\r\n` go out together in vectored writes.
        check_entry(&entry, limit)?;
        let exptime = entry.expiry.to_wire(SystemTime::now())?;
        encode_storage_line(
            &mut self.request,
            command,
            key,
            entry.flags,
            exptime,
            value.len(),
            false,
        )?;
        let connection = Self::connection(&mut self.connection, &self.addr, &self.config)?;
        let result = connection
            .send_parts(&[&self.request, value, b"\r\n"])
            .and_then(|mut replies| expect(&mut replies, accept));
        self.settle(result.as_ref().err());
        result
    }
}

/// A value at least this long is sent from where it lies, not copied into the request buffer.
const VECTORED_WRITE_MIN: usize = 8 * 1024;

/// The value's size limit, which no store may skip.
pub(super) fn check_entry<K, V: AsRef<[u8]>>(
    entry: &Entry<K, V>,
    max_value_size: usize,
) -> Result<()> {
    let len = entry.value.as_ref().len();
    if len > max_value_size {
        return Err(Error::ValueTooLarge {
            len,
            limit: max_value_size,
        });
    }
    Ok(())
}

/// Encodes one storage command after the checks no key or value may skip: the key's rules,
/// the value's size limit and an expiry memcached can represent.
pub(super) fn encode_entry<K: AsRef<[u8]>, V: AsRef<[u8]>>(
    buf: &mut Vec<u8>,
    command: StorageCommand,
    entry: &Entry<K, V>,
    max_value_size: usize,
    now: SystemTime,
) -> Result<()> {
    check_entry(entry, max_value_size)?;
    let value = entry.value.as_ref();
    let exptime = entry.expiry.to_wire(now)?;
    encode_storage(
        buf,
        command,
        entry.key.as_ref(),
        entry.flags,
        exptime,
        value,
        false,
    )?;
    Ok(())
}

/// `set` is stored or, never in memcached 1.6, refused.
pub(super) fn set_outcome(reply: &Reply<'_>) -> Option<Result<()>> {
    match reply {
        Reply::Stored => Some(Ok(())),
        Reply::NotStored => Some(Err(Error::NotStored)),
        _ => None,
    }
}

/// add, replace, append and prepend are stored or not.
pub(super) fn store_outcome(reply: &Reply<'_>) -> Option<StoreOutcome> {
    match reply {
        Reply::Stored => Some(StoreOutcome::Stored),
        Reply::NotStored => Some(StoreOutcome::NotStored),
        _ => None,
    }
}

fn cas_outcome(reply: &Reply<'_>) -> Option<CasOutcome> {
    match reply {
        Reply::Stored => Some(CasOutcome::Stored),
        Reply::Exists => Some(CasOutcome::Exists),
        Reply::NotFound => Some(CasOutcome::NotFound),
        _ => None,
    }
}
