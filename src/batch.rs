//! Batch inputs and per-item results.

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
    pub fn new(key: K, value: V) -> Self {
        Self {
            key,
            value,
            flags: 0,
            expiry: Expiry::Never,
        }
    }

    /// The same entry with these flags.
    pub fn with_flags(mut self, flags: u32) -> Self {
        self.flags = flags;
        self
    }

    /// The same entry with this expiry.
    pub fn with_expiry(mut self, expiry: Expiry) -> Self {
        self.expiry = expiry;
        self
    }
}

/// What became of one item of a batch.
#[derive(Debug)]
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
    pub fn is_done(&self) -> bool {
        matches!(self, Self::Done(_))
    }
}

/// The result of a batch: one [`ItemResult`] per item taken from the input, in input order
/// (every item, unless the batch stopped early), and the error that stopped the batch, if any.
/// Nothing is reported done that the server did not confirm.
#[must_use = "a batch may have failed for some items; check the report"]
#[derive(Debug)]
pub struct BatchReport<T> {
    pub(crate) results: Vec<ItemResult<T>>,
    pub(crate) stop_error: Option<Error>,
}

impl<T> BatchReport<T> {
    /// The result of each item, in the order the items were given.
    pub fn results(&self) -> &[ItemResult<T>] {
        &self.results
    }

    /// Takes the results out of the report.
    pub fn into_results(self) -> Vec<ItemResult<T>> {
        self.results
    }

    /// The error that stopped the batch before every item was answered (a timeout, a lost
    /// connection): the items after it are [`ItemResult::Unconfirmed`] or
    /// [`ItemResult::NotSent`], and items the batch had not yet taken from the caller's
    /// iterator are not in the report at all: a batch that stops takes no more input, so
    /// everything from [`BatchReport::len`] on was not sent. (Pass `iter.by_ref()` to keep the
    /// rest of the iterator.) `None` when every item was answered or failed on its own.
    pub fn stop_error(&self) -> Option<&Error> {
        self.stop_error.as_ref()
    }

    /// How many items the batch took from its input: all of them, unless it stopped early.
    pub fn len(&self) -> usize {
        self.results.len()
    }

    /// Whether the batch held no items.
    pub fn is_empty(&self) -> bool {
        self.results.is_empty()
    }

    /// How many items the server confirmed.
    pub fn done_count(&self) -> usize {
        self.results.iter().filter(|r| r.is_done()).count()
    }

    /// Whether every item was confirmed by the server.
    pub fn all_done(&self) -> bool {
        self.stop_error.is_none() && self.results.iter().all(ItemResult::is_done)
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

    /// The items that were not confirmed, with their positions in the input.
    pub fn failures(&self) -> impl Iterator<Item = (usize, &ItemResult<T>)> {
        self.results
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.is_done())
    }
}
