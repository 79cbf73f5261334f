//! What commands return: items, CAS tokens and the outcomes of conditional stores.

/// A value read from the cache, with the flags stored beside it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Item {
    /// The bytes stored, exactly as given to the storage command.
    pub value: Vec<u8>,
    /// The client flags stored with the value (opaque to memcached).
    pub flags: u32,
}

/// The server's version stamp of an item, from `gets`/`gats`, to pass to
/// [`Client::cas`](crate::Client::cas).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CasToken(pub u64);

/// The outcome of `add`, `replace`, `append` and `prepend`. Ignoring it is a compile-time
/// warning: a refused store is news.
#[must_use = "a conditional store may have been refused; check whether it was stored"]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreOutcome {
    /// `STORED`
    Stored,
    /// `NOT_STORED`: the condition was not met (the key existed for add, was missing for
    /// replace, append or prepend).
    NotStored,
}

impl StoreOutcome {
    /// Whether the value was stored.
    ///
    /// ```
    /// use memcache_sync::{Client, Expiry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set("doc:is_stored", "v", Expiry::after_secs(60))?;
    /// assert!(!client.add("doc:is_stored", "w", Expiry::after_secs(60))?.is_stored());
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn is_stored(self) -> bool {
        self == Self::Stored
    }
}

/// The outcome of [`Client::cas`](crate::Client::cas).
#[must_use = "a cas may have lost a race; check whether it was stored"]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CasOutcome {
    /// `STORED`: the item was unchanged since the token was read, and now holds the new value.
    Stored,
    /// `EXISTS`: someone changed the item since the token was read; nothing was stored.
    Exists,
    /// `NOT_FOUND`: the item is gone (deleted, expired or evicted); nothing was stored.
    NotFound,
}
