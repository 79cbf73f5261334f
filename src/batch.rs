//! Batch inputs and per-item results.

use std::fmt;

use crate::error::Error;
use crate::expiry::Expiry;

/// One item of a storage batch ([`Client::set_many`](crate::Client::set_many) and friends):
/// a key, a value, and its own flags and expiry. Keys and values may be borrowed or owned.
///
/// ```
/// use memcache_sync::{Entry, Expiry};
/// let borrowed = Entry::new(b"k1", b"v1");
/// let owned = Entry::new(b"k2".to_vec(), vec![0u8; 100]).with_flags(7).with_expiry(Expiry::after_secs(60));
/// # let _ = (borrowed, owned);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<K, V> {
    /// The key.
    pub key: K,
    /// The value.
    pub value: V,
    /// The client flags to store with it.
    pub flags: u32,
    /// When it expires.
    pub expiry: Expiry,
}

impl<K: AsRef<[u8]>, V: AsRef<[u8]>> Entry<K, V> {
    /// An entry with flags 0 that never expires.
    ///
    /// ```
    /// use memcache_sync::{Entry, Expiry};
    /// let entry = Entry::new("doc:entry", "v");
    /// assert_eq!((entry.flags, entry.expiry), (0, Expiry::Never));
    /// ```
    pub fn new(key: K, value: V) -> Self {
        Self {
            key,
            value,
            flags: 0,
            expiry: Expiry::Never,
        }
    }

    /// The same entry with these flags.
    ///
    /// ```
    /// use memcache_sync::Entry;
    /// assert_eq!(Entry::new("doc:entry", "v").with_flags(3).flags, 3);
    /// ```
    pub fn with_flags(mut self, flags: u32) -> Self {
        self.flags = flags;
        self
    }

    /// The same entry with this expiry.
    ///
    /// ```
    /// use memcache_sync::{Entry, Expiry};
    /// let entry = Entry::new("doc:entry", "v").with_expiry(Expiry::after_secs(60));
    /// assert_eq!(entry.expiry, Expiry::after_secs(60));
    /// ```
    pub fn with_expiry(mut self, expiry: Expiry) -> Self {
        self.expiry = expiry;
        self
    }
}

/// What became of one item of a batch.
///
/// ```
/// use memcache_sync::{Error, ItemResult};
/// let done: ItemResult<bool> = ItemResult::Done(true);
/// assert_eq!(done.ok(), Some(&true));
/// let failed: ItemResult<bool> = ItemResult::Failed(Error::NotStored);
/// assert!(failed.is_failed() && failed.err().is_some() && failed.into_ok().is_none());
/// ```
#[derive(Debug, Clone)]
pub enum ItemResult<T> {
    /// The server answered for this item: for example `()` for a stored `set`,
    /// [`StoreOutcome`](crate::StoreOutcome) for `add`, `bool` for `delete`.
    Done(T),
    /// This item alone failed, and the batch went on: a key or value refused before sending,
    /// or a `SERVER_ERROR` for this item.
    Failed(Error),
    /// The item was sent, but the batch stopped before its reply was read: the server may or
    /// may not have applied it. See [`BatchReport::stop_error`].
    Unconfirmed,
    /// The batch stopped before the item was sent: it was certainly not applied.
    NotSent,
}

impl<T> ItemResult<T> {
    /// Whether the server confirmed this item.
    ///
    /// ```
    /// use memcache_sync::{Entry, ItemResult};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = memcache_sync::Client::connect(&addr)?;
    /// let report = client.set_many([Entry::new("doc:is_done", "v")])?;
    /// assert!(report.results()[0].is_done());
    /// assert!(ItemResult::Done(()).is_done() && !ItemResult::<()>::NotSent.is_done());
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn is_done(&self) -> bool {
        matches!(self, Self::Done(_))
    }

    /// Whether this item failed on its own ([`ItemResult::Failed`]).
    ///
    /// ```
    /// use memcache_sync::Entry;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = memcache_sync::Client::connect(&addr)?;
    /// let error = client.set_many([Entry::new("doc:is_failed", "v"), Entry::new("no spaces allowed", "v")]).unwrap_err();
    /// assert!(error.report().results()[1].is_failed());
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn is_failed(&self) -> bool {
        matches!(self, Self::Failed(_))
    }

    /// Whether this item was sent and its reply never read ([`ItemResult::Unconfirmed`]).
    ///
    /// ```
    /// use memcache_sync::ItemResult;
    /// // Sent, and then the connection failed: the server may or may not have stored it.
    /// let result: ItemResult<()> = ItemResult::Unconfirmed;
    /// assert!(result.is_unconfirmed() && result.ok().is_none() && result.err().is_none());
    /// ```
    pub fn is_unconfirmed(&self) -> bool {
        matches!(self, Self::Unconfirmed)
    }

    /// Whether the batch stopped before sending this item ([`ItemResult::NotSent`]).
    ///
    /// ```
    /// use memcache_sync::ItemResult;
    /// // The batch stopped before this item: certainly not applied, safe to send again.
    /// let result: ItemResult<()> = ItemResult::NotSent;
    /// assert!(result.is_not_sent() && !result.is_unconfirmed());
    /// ```
    pub fn is_not_sent(&self) -> bool {
        matches!(self, Self::NotSent)
    }

    /// What the server answered, if it confirmed this item.
    ///
    /// ```
    /// use memcache_sync::{Entry, StoreOutcome};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = memcache_sync::Client::connect(&addr)?;
    /// # client.delete("doc:ok:fresh")?;
    /// let report = client.add_many([Entry::new("doc:ok:fresh", "v")])?;
    /// assert_eq!(report.results()[0].ok(), Some(&StoreOutcome::Stored));
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn ok(&self) -> Option<&T> {
        match self {
            Self::Done(value) => Some(value),
            _ => None,
        }
    }

    /// Takes what the server answered, if it confirmed this item.
    ///
    /// ```
    /// use memcache_sync::Entry;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = memcache_sync::Client::connect(&addr)?;
    /// client.set_many([Entry::new("doc:into_ok", "v")])?;
    /// let report = client.delete_many(["doc:into_ok", "doc:into_ok:nobody"])?;
    /// let deleted: Vec<Option<bool>> = report.into_results().into_iter().map(|r| r.into_ok()).collect();
    /// assert_eq!(deleted, [Some(true), Some(false)]);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn into_ok(self) -> Option<T> {
        match self {
            Self::Done(value) => Some(value),
            _ => None,
        }
    }

    /// This item's own error, if it failed on its own. An item left
    /// [`Unconfirmed`](ItemResult::Unconfirmed) or [`NotSent`](ItemResult::NotSent) has none:
    /// the error that stopped the batch is [`BatchReport::stop_error`].
    ///
    /// ```
    /// use memcache_sync::Entry;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = memcache_sync::Client::connect(&addr)?;
    /// let error = client.set_many([Entry::new("bad key", "v")]).unwrap_err();
    /// let own = error.report().results()[0].err().expect("refused before sending");
    /// assert!(own.is_invalid_input());
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn err(&self) -> Option<&Error> {
        match self {
            Self::Failed(error) => Some(error),
            _ => None,
        }
    }
}

/// A batch's outcome for every item: one [`ItemResult`] per item taken from the input, in
/// input order (every item, unless the batch stopped early), and the error that stopped the
/// batch, if any. Nothing is reported done that the server did not confirm.
///
/// A batch method returns it as `Ok` when every item was confirmed, and inside a
/// [`BatchError`] otherwise. (`?` on a batch of `add`s keeps only the `Ok` report, where each
/// [`StoreOutcome`](crate::StoreOutcome) says whether its item was stored: read it.)
// Not `#[must_use]`: the `Result` a batch returns already is, and on the report it would warn
// at every `client.set_many(..)?;`, whose `Ok` report holds nothing but `()`s.
#[derive(Debug, Clone)]
pub struct BatchReport<T> {
    pub(crate) results: Vec<ItemResult<T>>,
    pub(crate) stop_error: Option<Error>,
    /// See [`BatchReport::not_taken`].
    pub(crate) not_taken: Option<usize>,
}

impl<T> BatchReport<T> {
    /// The result of each item, in the order the items were given.
    ///
    /// ```
    /// use memcache_sync::{Entry, StoreOutcome};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = memcache_sync::Client::connect(&addr)?;
    /// client.set_many([Entry::new("doc:results:a", "1")])?;
    /// let report = client.replace_many([Entry::new("doc:results:a", "2"), Entry::new("doc:results:nobody", "2")])?;
    /// let outcomes: Vec<_> = report.results().iter().map(|r| r.ok().copied()).collect();
    /// assert_eq!(outcomes, [Some(StoreOutcome::Stored), Some(StoreOutcome::NotStored)]);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn results(&self) -> &[ItemResult<T>] {
        &self.results
    }

    /// Takes the results out of the report.
    ///
    /// ```
    /// use memcache_sync::{Entry, ItemResult};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = memcache_sync::Client::connect(&addr)?;
    /// let report = client.set_many([Entry::new("doc:into_results", "v")])?;
    /// for result in report.into_results() {
    ///     assert!(matches!(result, ItemResult::Done(())));
    /// }
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn into_results(self) -> Vec<ItemResult<T>> {
        self.results
    }

    /// The error that stopped the batch before every item was answered (a timeout, a lost
    /// connection): the items after it are [`ItemResult::Unconfirmed`] or
    /// [`ItemResult::NotSent`], and items the batch had not yet taken from the caller's
    /// iterator are not in the report at all (see [`BatchReport::not_taken`]): a batch that
    /// stops takes no more input. (Pass `iter.by_ref()` to keep the rest of the iterator.)
    /// `None` when every item was answered or failed on its own.
    ///
    /// ```
    /// use memcache_sync::{Deadline, Entry};
    /// use std::time::Duration;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = memcache_sync::Client::connect(&addr)?;
    /// # client.version()?;
    /// let entries: Vec<_> = (0..3).map(|i| Entry::new(format!("doc:stop:{i}"), "v")).collect();
    /// // A deadline already past stops the batch before it sends anything.
    /// let error = Deadline::after(Duration::ZERO).run(|| client.set_many(entries)).unwrap_err();
    /// let report = error.report();
    /// assert!(report.stop_error().is_some());
    /// assert_eq!(report.done_count(), 0);
    /// // A batch that runs to the end has none.
    /// assert!(client.set_many([Entry::new("doc:stop:ok", "v")])?.stop_error().is_none());
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn stop_error(&self) -> Option<&Error> {
        self.stop_error.as_ref()
    }

    /// How many items the batch took from its input: all of them, unless it stopped early.
    ///
    /// ```
    /// use memcache_sync::Entry;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = memcache_sync::Client::connect(&addr)?;
    /// let report = client.set_many((0..5).map(|i| Entry::new(format!("doc:len:{i}"), "v")))?;
    /// assert_eq!(report.len(), 5);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.results.len()
    }

    /// Whether the batch held no items.
    ///
    /// ```
    /// use memcache_sync::Entry;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = memcache_sync::Client::connect(&addr)?;
    /// let nothing: Vec<Entry<&str, &str>> = Vec::new();
    /// assert!(client.set_many(nothing)?.is_empty());
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.results.is_empty()
    }

    /// How many items the server confirmed ([`ItemResult::Done`]).
    ///
    /// ```
    /// use memcache_sync::Entry;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = memcache_sync::Client::connect(&addr)?;
    /// let report = client.delete_many(["doc:done_count:a", "doc:done_count:b"])?;
    /// assert_eq!(report.done_count(), 2); // a `false` (nothing to delete) is confirmed too
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn done_count(&self) -> usize {
        self.count(ItemResult::is_done)
    }

    /// How many items failed on their own ([`ItemResult::Failed`]).
    ///
    /// ```
    /// use memcache_sync::Entry;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = memcache_sync::Client::connect(&addr)?;
    /// let error = client.set_many([Entry::new("doc:failed_count", "v"), Entry::new("bad key", "v")]).unwrap_err();
    /// assert_eq!((error.report().done_count(), error.report().failed_count()), (1, 1));
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn failed_count(&self) -> usize {
        self.count(ItemResult::is_failed)
    }

    /// How many items were sent and never confirmed ([`ItemResult::Unconfirmed`]).
    ///
    /// ```
    /// use memcache_sync::Entry;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = memcache_sync::Client::connect(&addr)?;
    /// let report = client.set_many([Entry::new("doc:unconfirmed_count", "v")])?;
    /// assert_eq!(report.unconfirmed_count(), 0); // every item was answered
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn unconfirmed_count(&self) -> usize {
        self.count(ItemResult::is_unconfirmed)
    }

    /// How many items were taken from the input but not sent ([`ItemResult::NotSent`]).
    ///
    /// ```
    /// use memcache_sync::{Deadline, Entry};
    /// use std::time::Duration;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = memcache_sync::Client::connect(&addr)?;
    /// # client.version()?;
    /// let entries: Vec<_> = (0..3).map(|i| Entry::new(format!("doc:stop:{i}"), "v")).collect();
    /// // A deadline already past stops the batch before it sends anything.
    /// let error = Deadline::after(Duration::ZERO).run(|| client.set_many(entries)).unwrap_err();
    /// let report = error.report();
    /// assert_eq!(report.not_sent_count() + report.unconfirmed_count(), report.len());
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn not_sent_count(&self) -> usize {
        self.count(ItemResult::is_not_sent)
    }

    fn count(&self, which: impl Fn(&ItemResult<T>) -> bool) -> usize {
        self.results.iter().filter(|r| which(r)).count()
    }

    /// How many items a stopped batch never took from its input, and so never sent: `Some(0)`
    /// when it took every item; the number left when it stopped early and the input knew its
    /// length (a `Vec`, a range, an array: an iterator whose
    /// [`size_hint`](Iterator::size_hint) was exact when the batch began); `None` when it
    /// stopped early and the input could not say how many were left.
    ///
    /// With it, [`len`](BatchReport::len) `+ not_taken` is the input's length, and every item
    /// of the input is accounted for: done, failed, unconfirmed, not sent or not taken.
    ///
    /// ```
    /// use memcache_sync::Entry;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = memcache_sync::Client::connect(&addr)?;
    /// let report = client.set_many((0..10).map(|i| Entry::new(format!("doc:not_taken:{i}"), "v")))?;
    /// assert_eq!(report.not_taken(), Some(0)); // it took every item
    /// assert_eq!(report.len() + report.not_taken().unwrap(), 10);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn not_taken(&self) -> Option<usize> {
        self.not_taken
    }

    /// The items that were not confirmed, with their positions in the input.
    ///
    /// ```
    /// use memcache_sync::Entry;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = memcache_sync::Client::connect(&addr)?;
    /// let entries = [Entry::new("doc:failures", "v"), Entry::new("bad key", "v"), Entry::new("also bad", "v")];
    /// let error = client.set_many(entries).unwrap_err();
    /// let positions: Vec<usize> = error.report().failures().map(|(i, _)| i).collect();
    /// assert_eq!(positions, [1, 2]);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn failures(&self) -> impl Iterator<Item = (usize, &ItemResult<T>)> {
        self.results
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.is_done())
    }

    /// How many items were not confirmed, counting those never taken when that is known.
    pub(crate) fn not_confirmed(&self) -> usize {
        self.len() - self.done_count() + self.not_taken.unwrap_or(0)
    }

    /// `Ok` with the report if every item was taken and confirmed, else a [`BatchError`]
    /// holding it.
    pub(crate) fn into_result(self) -> Result<Self, BatchError<T>> {
        let first = self.results.iter().position(|r| !r.is_done());
        match first {
            Some(index) => Err(BatchError {
                report: self,
                index,
            }),
            // A batch stops only with an error, and then leaves an item unconfirmed or not
            // sent; the end of the results stands for the items it did not take, just in case.
            None if self.stop_error.is_some() => Err(BatchError {
                index: self.results.len(),
                report: self,
            }),
            None => Ok(self),
        }
    }

    /// The error that stopped the batch, or else the first item's own error: for callers that
    /// want all or nothing.
    pub(crate) fn into_first_error(self) -> Option<Error> {
        self.stop_error.or_else(|| {
            self.results.into_iter().find_map(|r| match r {
                ItemResult::Failed(error) => Some(error),
                _ => None,
            })
        })
    }

    /// Whether the server answered for any item. A batch whose every item was refused before
    /// sending (an invalid key, a value over the limit) or never sent says nothing about the
    /// server, even though it held a connection.
    pub(crate) fn server_answered(&self) -> bool {
        self.results.iter().any(|result| match result {
            ItemResult::Done(_) => true,
            ItemResult::Failed(error) => error.may_have_reached_server(),
            ItemResult::Unconfirmed | ItemResult::NotSent => false,
        })
    }
}

/// A batch in which some item was not confirmed: it failed on its own, the batch stopped
/// before its reply came or before it was sent, or the batch never took it from the input.
/// It holds the whole [`BatchReport`], and names the first such item.
///
/// `?` turns it into [`Error::Batch`], which keeps the first failure and the count:
///
/// ```
/// use memcache_sync::{Client, Entry};
/// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
///
/// fn load(client: &mut Client) -> memcache_sync::Result<()> {
///     client.set_many((0..100).map(|i| Entry::new(format!("doc:load:{i}"), "v")))?;
///     Ok(())
/// }
/// # let mut client = Client::connect(&addr)?;
/// load(&mut client)?;
///
/// let error = client.set_many([Entry::new("doc:ok", "v"), Entry::new("bad key", "v")]).unwrap_err();
/// assert_eq!(error.first_failure().0, 1);
/// assert_eq!(error.report().done_count(), 1);
/// assert!(error.to_string().starts_with("1 of 2 items was not confirmed; the first, item 1: invalid key"));
/// # Ok::<(), memcache_sync::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct BatchError<T> {
    report: BatchReport<T>,
    /// The first item not confirmed; `report.len()` if every item taken was, which leaves
    /// the stop error as the failure.
    index: usize,
}

impl<T> BatchError<T> {
    /// The report on every item.
    ///
    /// ```
    /// use memcache_sync::Entry;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = memcache_sync::Client::connect(&addr)?;
    /// let error = client.set_many([Entry::new("doc:report", "v"), Entry::new("bad key", "v")]).unwrap_err();
    /// assert_eq!(error.report().len(), 2);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn report(&self) -> &BatchReport<T> {
        &self.report
    }

    /// Takes the report on every item.
    ///
    /// ```
    /// use memcache_sync::Entry;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = memcache_sync::Client::connect(&addr)?;
    /// let report = match client.set_many([Entry::new("doc:into_report", "v"), Entry::new("bad key", "v")]) {
    ///     Ok(report) => report,
    ///     Err(error) => error.into_report(), // keep going with what was stored
    /// };
    /// assert_eq!(report.done_count(), 1);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn into_report(self) -> BatchReport<T> {
        self.report
    }

    /// The position in the input of the first item that was not confirmed, and why: its own
    /// error if it [`Failed`](ItemResult::Failed), else the [stop
    /// error](BatchReport::stop_error) that left it unconfirmed or not sent.
    ///
    /// ```
    /// use memcache_sync::Entry;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = memcache_sync::Client::connect(&addr)?;
    /// let error = client.set_many([Entry::new("doc:first_failure", "v"), Entry::new("bad key", "v")]).unwrap_err();
    /// let (index, why) = error.first_failure();
    /// assert_eq!(index, 1);
    /// assert!(why.is_invalid_input());
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn first_failure(&self) -> (usize, &Error) {
        let error = match self.report.results.get(self.index) {
            Some(ItemResult::Failed(error)) => error,
            _ => self.stop_error(),
        };
        (self.index, error)
    }

    /// Takes the first failure's error.
    pub(crate) fn into_first_error(self) -> Error {
        let BatchReport {
            results,
            stop_error,
            ..
        } = self.report;
        match results.into_iter().nth(self.index) {
            Some(ItemResult::Failed(error)) => error,
            _ => stop_error.expect(STOPPED),
        }
    }

    fn stop_error(&self) -> &Error {
        self.report.stop_error.as_ref().expect(STOPPED)
    }
}

/// Why a batch error whose first failure is not an item's own error has a stop error.
const STOPPED: &str = "only a stop leaves an item unconfirmed or not sent";

impl<T> fmt::Display for BatchError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (index, error) = self.first_failure();
        let (failed, taken) = (self.report.not_confirmed(), self.report.len());
        match self.report.not_taken {
            Some(not_taken) => {
                let total = taken + not_taken;
                write!(f, "{failed} of {total} {}", items(total))?;
            }
            None => write!(f, "{failed} of the first {taken} {}", items(taken))?,
        }
        write!(f, " {} not confirmed", were(failed))?;
        if self.report.not_taken.is_none() {
            f.write_str(", and the batch took no more")?;
        }
        write!(f, "; the first, item {index}: {error}")
    }
}

impl<T: fmt::Debug> std::error::Error for BatchError<T> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.first_failure().1)
    }
}

/// "item" or "items", to agree with `n`.
pub(crate) fn items(n: usize) -> &'static str {
    if n == 1 {
        "item"
    } else {
        "items"
    }
}

/// "was" or "were", to agree with `n`.
pub(crate) fn were(n: usize) -> &'static str {
    if n == 1 {
        "was"
    } else {
        "were"
    }
}
