//! Batches: `set_many`, `add_many`, `replace_many`, `append_many`, `prepend_many`,
//! `delete_many` and `touch_many`.
//!
//! Every command is pipelined (see the pipeline module) and answered one by one: each item
//! gets its own [`ItemResult`](crate::ItemResult), so one bad item never hides the others'
//! outcomes, and nothing is reported stored that the server did not confirm. A batch is `Ok`
//! only when the server confirmed every item; otherwise its [`BatchError`] holds the report.
//! With [`Config::with_quiet_batches`](crate::Config::with_quiet_batches) each batch goes out
//! as quiet meta commands instead (see the quiet module), with the same outcomes.

use std::time::SystemTime;

use super::keys::{deleted, touched};
use super::pipeline::STORE_WINDOW_BYTES;
use super::quiet::LOUD_VALUE_MIN;
use super::storage::{check_entry, encode_entry, set_outcome, store_outcome};
use super::{expect, Client};
use crate::batch::{BatchError, BatchReport, Entry};
use crate::error::Error;
use crate::expiry::Expiry;
use crate::item::StoreOutcome;
use crate::protocol::meta::{MetaDelete, MetaGet, MetaResponse, MetaSet, ReturnCode, SetMode};
use crate::protocol::{encode_delete, encode_touch, StorageCommand};

/// # Batches
///
/// Many commands in few round trips: [`get_many`](Client::get_many) (under
/// Reading) reads many keys at once, and these store, delete or touch any number
/// of items, pipelined in windows, each with its own [`ItemResult`](crate::ItemResult) in
/// input order. A batch is `Ok` only when the server confirmed every item; otherwise the
/// [`BatchError`] holds the whole [`BatchReport`], so one bad item never hides the others'
/// outcomes.
impl Client {
    /// Stores every entry, pipelined, and reports each one's result in input order: `Ok` if
    /// the server confirmed them all, else a [`BatchError`] with the report and the first
    /// entry that was not confirmed (`?` makes it an [`Error::Batch`](crate::Error::Batch)).
    ///
    /// Entries with an invalid key or a value over the size limit are
    /// [`ItemResult::Failed`](crate::ItemResult::Failed) before sending, and the rest still go.
    /// Any number of entries works in one call, with memory bounded by the pipeline's windows
    /// plus the results. Each window of about 64 KiB of requests is sent within the write
    /// timeout, and all of its replies must arrive within one read timeout of its send; a
    /// [`Deadline`](crate::Deadline) bounds the whole call. If the server stalls, the
    /// deadline passes or the connection fails, the report's
    /// [`stop_error`](BatchReport::stop_error) says why, and every entry after the last
    /// confirmed one is `Unconfirmed` (sent, no reply read) or `NotSent`; the batch then takes
    /// no more entries from the iterator, and [`BatchReport::not_taken`] says how many it
    /// left there when the iterator knew its length.
    ///
    /// With [`Config::with_quiet_batches`](crate::Config::with_quiet_batches), this and the
    /// other batches below go out as quiet meta commands, answered only where an item did not
    /// simply succeed: the same outcomes, without a reply per item.
    ///
    /// ```
    /// # use memcache_sync::{Client, Entry, Expiry, ItemResult};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// let entries = (0..1000).map(|i| {
    ///     Entry::new(format!("doc:bulk:{i}"), format!("value {i}")).with_expiry(Expiry::after_secs(60))
    /// });
    /// let report = client.set_many(entries)?;
    /// assert_eq!(report.done_count(), 1000);
    ///
    /// let error = client.set_many([Entry::new("doc:ok", "v"), Entry::new("bad key", "v")]).unwrap_err();
    /// assert!(error.first_failure().1.is_invalid_input());
    /// let results = error.report().results();
    /// assert!(results[0].is_done());
    /// assert!(matches!(results[1], ItemResult::Failed(_)));
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn set_many<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &mut self,
        entries: impl IntoIterator<Item = Entry<K, V>>,
    ) -> Result<BatchReport<()>, BatchError<()>> {
        let (limit, now) = (self.config.max_value_size(), SystemTime::now());
        if self.config.quiet_batches() {
            return self
                .quiet_pipeline(
                    STORE_WINDOW_BYTES,
                    entries,
                    |entry, token, buf| {
                        encode_meta_set(buf, SetMode::Set, &entry, limit, now, token)
                    },
                    |response| match response.code {
                        ReturnCode::Success => Some(Ok(())),
                        ReturnCode::NotStored => Some(Err(Error::NotStored)),
                        _ => None,
                    },
                    || (),
                )
                .into_result();
        }
        self.pipeline(
            STORE_WINDOW_BYTES,
            entries,
            |entry, buf| encode_entry(buf, StorageCommand::Set, &entry, limit, now),
            |(), replies| expect(replies, set_outcome)?,
        )
        .into_result()
    }

    /// Like [`Client::set_many`] with `add`: each entry is stored only if its key holds
    /// nothing, and reports [`StoreOutcome::NotStored`] otherwise. A `NotStored` entry is
    /// confirmed (the server answered), so a batch of them is still `Ok`: read the outcomes.
    ///
    /// ```
    /// # use memcache_sync::{Client, Entry, Expiry, StoreOutcome};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set_many([Entry::new("doc:add_many:taken", "first")])?;
    /// client.delete_many(["doc:add_many:free"])?;
    /// let report = client.add_many([
    ///     Entry::new("doc:add_many:taken", "second"),
    ///     Entry::new("doc:add_many:free", "new").with_expiry(Expiry::after_secs(60)),
    /// ])?;
    /// let outcomes: Vec<_> = report.results().iter().map(|r| r.ok().copied()).collect();
    /// assert_eq!(outcomes, [Some(StoreOutcome::NotStored), Some(StoreOutcome::Stored)]);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn add_many<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &mut self,
        entries: impl IntoIterator<Item = Entry<K, V>>,
    ) -> Result<BatchReport<StoreOutcome>, BatchError<StoreOutcome>> {
        self.conditional_many(StorageCommand::Add, SetMode::Add, entries)
    }

    /// Like [`Client::set_many`] with `replace`: each entry is stored only if its key holds
    /// something, and reports [`StoreOutcome::NotStored`] otherwise.
    ///
    /// ```
    /// # use memcache_sync::{Client, Entry, StoreOutcome};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// let report = client.replace_many([Entry::new("doc:replace_many:nobody", "v")])?;
    /// assert_eq!(report.results()[0].ok(), Some(&StoreOutcome::NotStored));
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn replace_many<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &mut self,
        entries: impl IntoIterator<Item = Entry<K, V>>,
    ) -> Result<BatchReport<StoreOutcome>, BatchError<StoreOutcome>> {
        self.conditional_many(StorageCommand::Replace, SetMode::Replace, entries)
    }

    /// Like [`Client::set_many`] with `append`: each value is added after the existing value
    /// of its key, keeping the item's flags and expiry, and reports
    /// [`StoreOutcome::NotStored`] when the key holds nothing.
    ///
    /// ```
    /// # use memcache_sync::{Client, Entry, StoreOutcome};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set_many([Entry::new("doc:append_many", "hello")])?;
    /// let report = client.append_many([("doc:append_many", ", world"), ("doc:append_many:nobody", "x")])?;
    /// let outcomes: Vec<_> = report.results().iter().map(|r| r.ok().copied()).collect();
    /// assert_eq!(outcomes, [Some(StoreOutcome::Stored), Some(StoreOutcome::NotStored)]);
    /// assert_eq!(client.get("doc:append_many")?.unwrap().value, b"hello, world");
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn append_many<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &mut self,
        items: impl IntoIterator<Item = (K, V)>,
    ) -> Result<BatchReport<StoreOutcome>, BatchError<StoreOutcome>> {
        let entries = items.into_iter().map(|(key, value)| Entry::new(key, value));
        self.conditional_many(StorageCommand::Append, SetMode::Append, entries)
    }

    /// Like [`Client::append_many`] with `prepend`: each value is added before the existing
    /// value of its key.
    ///
    /// ```
    /// # use memcache_sync::{Client, Entry, StoreOutcome};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set_many([Entry::new("doc:prepend_many", "world")])?;
    /// let report = client.prepend_many([("doc:prepend_many", "hello, ")])?;
    /// assert_eq!(report.results()[0].ok(), Some(&StoreOutcome::Stored));
    /// assert_eq!(client.get("doc:prepend_many")?.unwrap().value, b"hello, world");
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn prepend_many<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &mut self,
        items: impl IntoIterator<Item = (K, V)>,
    ) -> Result<BatchReport<StoreOutcome>, BatchError<StoreOutcome>> {
        let entries = items.into_iter().map(|(key, value)| Entry::new(key, value));
        self.conditional_many(StorageCommand::Prepend, SetMode::Prepend, entries)
    }

    fn conditional_many<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &mut self,
        command: StorageCommand,
        mode: SetMode,
        entries: impl IntoIterator<Item = Entry<K, V>>,
    ) -> Result<BatchReport<StoreOutcome>, BatchError<StoreOutcome>> {
        let (limit, now) = (self.config.max_value_size(), SystemTime::now());
        if self.config.quiet_batches() {
            return self
                .quiet_pipeline(
                    STORE_WINDOW_BYTES,
                    entries,
                    |entry, token, buf| encode_meta_set(buf, mode, &entry, limit, now, token),
                    |response| match response.code {
                        ReturnCode::Success => Some(Ok(StoreOutcome::Stored)),
                        ReturnCode::NotStored => Some(Ok(StoreOutcome::NotStored)),
                        _ => None,
                    },
                    || StoreOutcome::Stored,
                )
                .into_result();
        }
        self.pipeline(
            STORE_WINDOW_BYTES,
            entries,
            |entry, buf| encode_entry(buf, command, &entry, limit, now),
            |(), replies| expect(replies, store_outcome),
        )
        .into_result()
    }

    /// Deletes every key, pipelined: `true` for each key that held an item. `Ok` and errors as
    /// for [`Client::set_many`].
    ///
    /// ```
    /// # use memcache_sync::{Client, Entry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set_many([Entry::new("doc:delete_many", "v")])?;
    /// let report = client.delete_many(["doc:delete_many", "doc:delete_many:nobody"])?;
    /// let deleted: Vec<bool> = report.into_results().into_iter().filter_map(|r| r.into_ok()).collect();
    /// assert_eq!(deleted, [true, false]);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn delete_many<K: AsRef<[u8]>>(
        &mut self,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<BatchReport<bool>, BatchError<bool>> {
        if self.config.quiet_batches() {
            return self
                .quiet_pipeline(
                    STORE_WINDOW_BYTES,
                    keys,
                    |key, token, buf| {
                        let delete = MetaDelete::new(key.as_ref()).opaque(token).quiet();
                        delete.encode(buf)?;
                        Ok(false)
                    },
                    |response| found(response, ReturnCode::NotFound),
                    || true,
                )
                .into_result();
        }
        self.pipeline(
            STORE_WINDOW_BYTES,
            keys,
            |key, buf| Ok(encode_delete(buf, key.as_ref(), false)?),
            |(), replies| expect(replies, deleted),
        )
        .into_result()
    }

    /// Sets each key's expiration time, pipelined: `true` for each key that exists. `Ok` and
    /// errors as for [`Client::set_many`].
    ///
    /// ```
    /// # use memcache_sync::{Client, Entry, Expiry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set_many([Entry::new("doc:touch_many", "v").with_expiry(Expiry::after_secs(60))])?;
    /// let report = client.touch_many([("doc:touch_many", Expiry::after_secs(600))])?;
    /// assert_eq!(report.results()[0].ok(), Some(&true));
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn touch_many<K: AsRef<[u8]>>(
        &mut self,
        keys: impl IntoIterator<Item = (K, Expiry)>,
    ) -> Result<BatchReport<bool>, BatchError<bool>> {
        let now = SystemTime::now();
        if self.config.quiet_batches() {
            return self
                .quiet_pipeline(
                    STORE_WINDOW_BYTES,
                    keys,
                    |(key, expiry), token, buf| {
                        let ttl = expiry.to_wire(now)?;
                        let touch = MetaGet::new(key.as_ref()).touch(ttl).opaque(token).quiet();
                        touch.encode(buf)?;
                        Ok(false)
                    },
                    // A quiet `mg` hides the miss and answers the hit, `HD` without `v`.
                    |response| found(response, ReturnCode::Miss),
                    || false,
                )
                .into_result();
        }
        self.pipeline(
            STORE_WINDOW_BYTES,
            keys,
            |(key, expiry), buf| {
                Ok(encode_touch(
                    buf,
                    key.as_ref(),
                    expiry.to_wire(now)?,
                    false,
                )?)
            },
            |(), replies| expect(replies, touched),
        )
        .into_result()
    }
}

/// Encodes one entry as a meta set after the checks the classic encoder makes, in the same
/// order (the value's size limit, the expiry, the key); returns whether it went out loud
/// (without `q`, see the quiet module). Append and prepend keep the item's flags and TTL, so
/// they send neither.
fn encode_meta_set<K: AsRef<[u8]>, V: AsRef<[u8]>>(
    buf: &mut Vec<u8>,
    mode: SetMode,
    entry: &Entry<K, V>,
    max_value_size: usize,
    now: SystemTime,
    token: &[u8],
) -> Result<bool, Error> {
    check_entry(entry, max_value_size)?;
    let value = entry.value.as_ref();
    let ttl = entry.expiry.to_wire(now)?;
    let mut set = MetaSet::new(entry.key.as_ref(), value)
        .mode(mode)
        .opaque(token);
    if !matches!(mode, SetMode::Append | SetMode::Prepend) {
        // 0 is what memcached assumes for both when the flag is absent.
        if ttl != 0 {
            set = set.ttl(ttl);
        }
        if entry.flags != 0 {
            set = set.client_flags(entry.flags);
        }
    }
    let loud = value.len() >= LOUD_VALUE_MIN;
    if !loud {
        set = set.quiet();
    }
    set.encode(buf)?;
    Ok(loud)
}

/// `true` for `HD`, `false` for `absent` (the code that says the key holds nothing).
fn found(response: &MetaResponse<'_>, absent: ReturnCode) -> Option<Result<bool, Error>> {
    match response.code {
        ReturnCode::Success => Some(Ok(true)),
        code if code == absent => Some(Ok(false)),
        _ => None,
    }
}
