//! The flags and expiry a store sends beside the key and value.

use std::time::Duration;

use crate::expiry::Expiry;

/// What a store sends besides the key and the value: the client flags (opaque to memcached,
/// returned with the item) and when the item expires.
///
/// Every store ([`Client::set`](crate::Client::set), `add`, `replace`, `cas`, and the same on
/// [`Cluster`](crate::Cluster)) takes `impl Into<StoreOptions>`, so the common case names
/// only the expiry: an [`Expiry`] or a [`Duration`] converts into options with flags 0. Build
/// one when the flags matter. It is `Copy`, and what a store does with it is what it did with
/// the two numbers it replaces: no allocation, no dynamic dispatch.
///
/// ```
/// use memcache_sync::{Client, Expiry, StoreOptions};
/// use std::time::Duration;
/// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
/// # let mut client = Client::connect(&addr)?;
/// client.set("doc:options:a", "v", Expiry::Never)?;
/// client.set("doc:options:b", "v", Duration::from_secs(60))?;
/// client.set("doc:options:c", "v", StoreOptions::new().flags(7).expiry(Expiry::after_secs(60)))?;
/// assert_eq!(client.get("doc:options:c")?.unwrap().flags, 7);
/// # Ok::<(), memcache_sync::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct StoreOptions {
    /// The client flags stored with the value. Default: 0.
    pub flags: u32,
    /// When the item expires. Default: [`Expiry::Never`].
    pub expiry: Expiry,
}

impl StoreOptions {
    /// Flags 0, never expires: what memcached's own tools store by default.
    ///
    /// ```
    /// use memcache_sync::{Expiry, StoreOptions};
    /// let options = StoreOptions::new();
    /// assert_eq!((options.flags, options.expiry), (0, Expiry::Never));
    /// assert_eq!(options, StoreOptions::default());
    /// ```
    #[must_use]
    pub const fn new() -> Self {
        Self {
            flags: 0,
            expiry: Expiry::Never,
        }
    }

    /// The same options with these client flags.
    ///
    /// ```
    /// use memcache_sync::StoreOptions;
    /// // A caller's own convention, say 1 for "compressed".
    /// assert_eq!(StoreOptions::new().flags(1).flags, 1);
    /// ```
    #[must_use]
    pub const fn flags(mut self, flags: u32) -> Self {
        self.flags = flags;
        self
    }

    /// The same options with this expiry: an [`Expiry`], or a [`Duration`] from now.
    ///
    /// ```
    /// use memcache_sync::{Expiry, StoreOptions};
    /// use std::time::Duration;
    /// let options = StoreOptions::new().flags(1).expiry(Duration::from_secs(60));
    /// assert_eq!(options.expiry, Expiry::after_secs(60));
    /// ```
    #[must_use]
    pub fn expiry(mut self, expiry: impl Into<Expiry>) -> Self {
        self.expiry = expiry.into();
        self
    }
}

/// Flags 0 and this expiry.
impl From<Expiry> for StoreOptions {
    fn from(expiry: Expiry) -> Self {
        Self::new().expiry(expiry)
    }
}

/// Flags 0, expiring this long from now ([`Expiry::After`]).
impl From<Duration> for StoreOptions {
    fn from(after: Duration) -> Self {
        Self::new().expiry(after)
    }
}
