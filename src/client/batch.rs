//! Batches: `set_many`, `add_many`, `replace_many`, `delete_many` and `touch_many`.
//!
//! Every command is pipelined (see the pipeline module) and answered one by one: each item
//! gets its own [`ItemResult`](crate::ItemResult), so one bad item never hides the others'
//! outcomes, and nothing is reported stored that the server did not confirm. A batch is `Ok`
//! only when the server confirmed every item; otherwise its [`BatchError`] holds the report.

use std::time::SystemTime;

use super::keys::{deleted, touched};
use super::pipeline::STORE_WINDOW_BYTES;
use super::storage::{encode_entry, set_outcome, store_outcome};
use super::{expect, Client};
use crate::batch::{BatchError, BatchReport, Entry};
use crate::expiry::Expiry;
use crate::item::StoreOutcome;
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
        self.conditional_many(StorageCommand::Add, entries)
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
        self.conditional_many(StorageCommand::Replace, entries)
    }

    fn conditional_many<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &mut self,
        command: StorageCommand,
        entries: impl IntoIterator<Item = Entry<K, V>>,
    ) -> Result<BatchReport<StoreOutcome>, BatchError<StoreOutcome>> {
        let (limit, now) = (self.config.max_value_size(), SystemTime::now());
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
