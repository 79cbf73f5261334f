//! The options and outcomes of the meta commands on [`Client`](crate::Client): typed, owned,
//! and free of the key, so one options value serves many calls.

use std::time::Duration;

use crate::expiry::Expiry;
use crate::item::CasToken;
use crate::protocol::meta::Ttl;

/// What [`Client::meta_get`](crate::Client::meta_get) asks for. The default asks for the
/// value and nothing else; every piece of metadata is opt-in, so a reply carries only what
/// the caller reads.
///
/// ```
/// use memcache_sync::{Expiry, MetaGetOptions};
/// // The value, its CAS and TTL, without bumping it in the LRU.
/// let peek = MetaGetOptions::new().return_cas().return_ttl().no_lru_bump();
/// // Metadata only, and extend the item's life: a touch that says what it found.
/// let touch = MetaGetOptions::new().without_value().touch(Expiry::after_secs(300));
/// # let _ = (peek, touch);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct MetaGetOptions {
    pub(crate) value: bool,
    pub(crate) cas: bool,
    pub(crate) client_flags: bool,
    pub(crate) ttl: bool,
    pub(crate) size: bool,
    pub(crate) hit_before: bool,
    pub(crate) last_access: bool,
    pub(crate) no_lru_bump: bool,
    pub(crate) touch: Option<Expiry>,
    pub(crate) vivify_on_miss: Option<Expiry>,
    pub(crate) recache_below: Option<Duration>,
    pub(crate) unless_cas: Option<CasToken>,
    pub(crate) new_cas: Option<CasToken>,
    pub(crate) base64_key: bool,
}

impl Default for MetaGetOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl MetaGetOptions {
    /// The value, and no metadata.
    pub const fn new() -> Self {
        Self {
            value: true,
            cas: false,
            client_flags: false,
            ttl: false,
            size: false,
            hit_before: false,
            last_access: false,
            no_lru_bump: false,
            touch: None,
            vivify_on_miss: None,
            recache_below: None,
            unless_cas: None,
            new_cas: None,
            base64_key: false,
        }
    }

    /// Leaves the value out: a hit then costs one short line, for metadata or a touch.
    pub const fn without_value(mut self) -> Self {
        self.value = false;
        self
    }

    /// Returns the item's CAS token ([`MetaItem::cas`]).
    pub const fn return_cas(mut self) -> Self {
        self.cas = true;
        self
    }

    /// Returns the item's client flags ([`MetaItem::flags`]).
    pub const fn return_client_flags(mut self) -> Self {
        self.client_flags = true;
        self
    }

    /// Returns the item's remaining TTL ([`MetaItem::ttl`]), after any [`touch`](Self::touch).
    pub const fn return_ttl(mut self) -> Self {
        self.ttl = true;
        self
    }

    /// Returns the item's size in bytes ([`MetaItem::size`]).
    pub const fn return_size(mut self) -> Self {
        self.size = true;
        self
    }

    /// Returns whether the item had been read before this get ([`MetaItem::hit_before`]).
    pub const fn return_hit_before(mut self) -> Self {
        self.hit_before = true;
        self
    }

    /// Returns the seconds since the item was last read or written, as of before this get
    /// ([`MetaItem::last_access`]).
    pub const fn return_last_access(mut self) -> Self {
        self.last_access = true;
        self
    }

    /// Reads without bumping the item in the LRU or updating its hit and last-access
    /// records: an inspection that does not keep a cold item alive.
    pub const fn no_lru_bump(mut self) -> Self {
        self.no_lru_bump = true;
        self
    }

    /// On a hit, sets the item's expiry, like `gat`. A get that touches is not idempotent
    /// on a [`Cluster`](crate::Cluster): it is not retried once it may have reached the server.
    pub const fn touch(mut self, expiry: Expiry) -> Self {
        self.touch = Some(expiry);
        self
    }

    /// On a miss, creates an empty placeholder item with this expiry and answers a hit with
    /// [`MetaItem::win`] set: this caller should compute and store the value, and others,
    /// meanwhile, see [`MetaItem::already_won`]. Guards a missing key against a stampede.
    pub const fn vivify_on_miss(mut self, expiry: Expiry) -> Self {
        self.vivify_on_miss = Some(expiry);
        self
    }

    /// Once the item's remaining TTL falls below `ttl`, the first reader gets
    /// [`MetaItem::win`]: one client refreshes a hot item before it expires. Whole seconds,
    /// rounded up.
    pub const fn recache_below(mut self, ttl: Duration) -> Self {
        self.recache_below = Some(ttl);
        self
    }

    /// The conditional get: leave the value out when the item's CAS is still `cas`, so a
    /// cached copy is refetched only once it changed. memcached 1.6.18 accepts this but
    /// always sends the value; compare [`MetaItem::cas`] yourself when it matters.
    pub const fn unless_cas(mut self, cas: CasToken) -> Self {
        self.unless_cas = Some(cas);
        self
    }

    /// If the get changes the item (a touch, a vivify), gives it this CAS value. Since
    /// memcached 1.6.27; older servers answer [`Error::Unsupported`](crate::Error::Unsupported).
    pub const fn new_cas(mut self, cas: CasToken) -> Self {
        self.new_cas = Some(cas);
        self
    }

    /// Sends the key base64-encoded, so that any bytes (spaces, control bytes, `\r\n`) can
    /// be a key of 1 to 186 bytes. An item stored in this mode is only found in this mode.
    pub const fn base64_key(mut self) -> Self {
        self.base64_key = true;
        self
    }

    /// Whether the get changes nothing on the server, so repeating it is harmless.
    pub(crate) const fn is_idempotent(&self) -> bool {
        self.touch.is_none() && self.vivify_on_miss.is_none() && self.recache_below.is_none()
    }
}

/// A hit from [`Client::meta_get`](crate::Client::meta_get): the value and the metadata the
/// options asked for. Metadata not asked for is `None`.
///
/// ```
/// use memcache_sync::{Client, Expiry, MetaGetOptions, MetaSetOptions};
/// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
/// let mut client = Client::connect(&addr)?;
/// client.meta_set("doc:meta-item", "v", &MetaSetOptions::new().expiry(Expiry::after_secs(60)))?;
/// let item = client
///     .meta_get("doc:meta-item", &MetaGetOptions::new().return_ttl().return_size())?
///     .expect("just stored");
/// assert_eq!(item.value.as_deref(), Some(&b"v"[..]));
/// assert_eq!(item.size, Some(1));
/// assert!(item.ttl.is_some() && item.cas.is_none());
/// # Ok::<(), memcache_sync::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct MetaItem {
    /// The value; `None` when the options left it out.
    pub value: Option<Vec<u8>>,
    /// The client flags stored with the item.
    pub flags: Option<u32>,
    /// The item's CAS token.
    pub cas: Option<CasToken>,
    /// The remaining TTL.
    pub ttl: Option<Ttl>,
    /// The item's size in bytes.
    pub size: Option<u64>,
    /// Whether the item had been read before this get.
    pub hit_before: Option<bool>,
    /// Seconds since the item was last accessed, before this get.
    pub last_access: Option<u64>,
    /// The item is stale: it was invalidated (`md … I`, or an `ms` with an older CAS) and
    /// awaits a fresh value.
    pub stale: bool,
    /// This caller won the right to recache the item: it vivified the miss, found it stale
    /// first, or found its TTL below the recache threshold.
    pub win: bool,
    /// Another caller already won the recache; serve this (possibly empty or stale) value or
    /// wait, but do not recompute.
    pub already_won: bool,
}

/// How [`Client::meta_set`](crate::Client::meta_set) stores the value.
///
/// ```
/// use memcache_sync::{Expiry, MetaSetMode, MetaSetOptions};
/// let log_line = MetaSetOptions::new().mode(MetaSetMode::AppendOrCreate(Expiry::after_secs(60)));
/// # let _ = log_line;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetaSetMode {
    /// Store whatever is there.
    #[default]
    Set,
    /// Store only if the key holds nothing; otherwise [`MetaStoreOutcome::NotStored`].
    Add,
    /// Store only if the key holds something; otherwise [`MetaStoreOutcome::NotStored`].
    Replace,
    /// Add the bytes after the existing value; [`MetaStoreOutcome::NotStored`] on a miss.
    Append,
    /// Add the bytes before the existing value; [`MetaStoreOutcome::NotStored`] on a miss.
    Prepend,
    /// Append, and on a miss create the item with this expiry (autovivify). memcached 1.6.18
    /// accepts the request but ignores the create: a miss is still
    /// [`MetaStoreOutcome::NotStored`].
    AppendOrCreate(Expiry),
    /// Prepend, creating on a miss like [`AppendOrCreate`](Self::AppendOrCreate).
    PrependOrCreate(Expiry),
}

/// How [`Client::meta_set`](crate::Client::meta_set) stores. The default is a plain set
/// that never expires, with client flags 0.
///
/// ```
/// use memcache_sync::{CasToken, Expiry, MetaSetMode, MetaSetOptions};
/// let add = MetaSetOptions::new().mode(MetaSetMode::Add).expiry(Expiry::after_secs(30));
/// let checked = MetaSetOptions::new().compare_cas(CasToken(42)).client_flags(7);
/// # let _ = (add, checked);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[must_use]
pub struct MetaSetOptions {
    pub(crate) mode: MetaSetMode,
    pub(crate) expiry: Expiry,
    pub(crate) client_flags: u32,
    pub(crate) compare_cas: Option<CasToken>,
    pub(crate) invalidate: bool,
    pub(crate) new_cas: Option<CasToken>,
    pub(crate) base64_key: bool,
    pub(crate) return_size: bool,
}

impl MetaSetOptions {
    /// A plain set that never expires, with client flags 0.
    pub const fn new() -> Self {
        Self {
            mode: MetaSetMode::Set,
            expiry: Expiry::Never,
            client_flags: 0,
            compare_cas: None,
            invalidate: false,
            new_cas: None,
            base64_key: false,
            return_size: false,
        }
    }

    /// The mode: set, add, replace, append, prepend.
    pub const fn mode(mut self, mode: MetaSetMode) -> Self {
        self.mode = mode;
        self
    }

    /// When the item expires. Default: never.
    pub const fn expiry(mut self, expiry: Expiry) -> Self {
        self.expiry = expiry;
        self
    }

    /// The client flags stored beside the value. Default: 0.
    pub const fn client_flags(mut self, flags: u32) -> Self {
        self.client_flags = flags;
        self
    }

    /// Compare-and-set: store only if the item's CAS is still `cas`
    /// ([`MetaStoreOutcome::Exists`] if it changed, [`MetaStoreOutcome::NotFound`] if it is
    /// gone).
    pub const fn compare_cas(mut self, cas: CasToken) -> Self {
        self.compare_cas = Some(cas);
        self.invalidate = false;
        self
    }

    /// Like [`compare_cas`](Self::compare_cas), but a `cas` older than the item's is stored
    /// too, marked stale (`I`): a late writer's value is kept as a stale fallback, not lost,
    /// and not served as fresh.
    pub const fn compare_cas_or_invalidate(mut self, cas: CasToken) -> Self {
        self.compare_cas = Some(cas);
        self.invalidate = true;
        self
    }

    /// Gives the stored item this CAS value. Since memcached 1.6.27; older servers answer
    /// [`Error::Unsupported`](crate::Error::Unsupported).
    pub const fn new_cas(mut self, cas: CasToken) -> Self {
        self.new_cas = Some(cas);
        self
    }

    /// Sends the key base64-encoded; see [`MetaGetOptions::base64_key`].
    pub const fn base64_key(mut self) -> Self {
        self.base64_key = true;
        self
    }

    /// Asks for the stored item's size (`s`), in [`MetaStoreOutcome::size`]: after an
    /// append or prepend, the size it grew to. memcached 1.6.18 accepts the flag but does
    /// not report the size (the outcome's size is then `None`); later servers report it.
    pub const fn return_size(mut self) -> Self {
        self.return_size = true;
        self
    }
}

/// What became of a [`Client::meta_set`](crate::Client::meta_set). Every refusal is a
/// value, not an error.
///
/// ```
/// use memcache_sync::{CasToken, MetaStoreOutcome};
/// let outcome = MetaStoreOutcome::Stored { cas: CasToken(9), size: None };
/// assert_eq!(outcome.cas(), Some(CasToken(9)));
/// assert!(!MetaStoreOutcome::NotStored.is_stored());
/// ```
#[must_use = "a meta set may have been refused; check whether it was stored"]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetaStoreOutcome {
    /// Stored (`HD`), with the new item's CAS token.
    Stored {
        /// The CAS token the item was stored with.
        cas: CasToken,
        /// The stored item's size in bytes (after an append, the new size), if
        /// [`MetaSetOptions::return_size`] asked for it and the server reports it.
        size: Option<u64>,
    },
    /// The mode's condition failed (`NS`): add found an item, replace, append or prepend
    /// found none.
    NotStored,
    /// The compare-CAS failed: the item changed since (`EX`).
    Exists,
    /// The compare-CAS found no item (`NF`).
    NotFound,
}

impl MetaStoreOutcome {
    /// Whether the value was stored.
    pub const fn is_stored(self) -> bool {
        matches!(self, Self::Stored { .. })
    }

    /// The stored item's CAS token, if it was stored.
    pub const fn cas(self) -> Option<CasToken> {
        match self {
            Self::Stored { cas, .. } => Some(cas),
            _ => None,
        }
    }

    /// The stored item's size, if it was stored and the size was asked for and reported
    /// (see [`MetaSetOptions::return_size`]).
    pub const fn size(self) -> Option<u64> {
        match self {
            Self::Stored { size, .. } => size,
            _ => None,
        }
    }
}

/// How [`Client::meta_delete`](crate::Client::meta_delete) deletes. The default removes the
/// item unconditionally.
///
/// ```
/// use memcache_sync::{CasToken, MetaDeleteOptions};
/// use std::time::Duration;
/// let only_mine = MetaDeleteOptions::new().compare_cas(CasToken(42));
/// let stale_for_a_minute = MetaDeleteOptions::new().invalidate(Duration::from_secs(60));
/// # let _ = (only_mine, stale_for_a_minute);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[must_use]
pub struct MetaDeleteOptions {
    pub(crate) compare_cas: Option<CasToken>,
    pub(crate) invalidate: Option<Duration>,
    pub(crate) invalidate_keeping_expiry: bool,
    pub(crate) remove_value: bool,
    pub(crate) new_cas: Option<CasToken>,
    pub(crate) base64_key: bool,
}

impl MetaDeleteOptions {
    /// An unconditional delete.
    pub const fn new() -> Self {
        Self {
            compare_cas: None,
            invalidate: None,
            invalidate_keeping_expiry: false,
            remove_value: false,
            new_cas: None,
            base64_key: false,
        }
    }

    /// Delete only if the item's CAS is still `cas` ([`MetaDeleteOutcome::Exists`] if not):
    /// a delete that cannot remove someone else's newer value.
    pub const fn compare_cas(mut self, cas: CasToken) -> Self {
        self.compare_cas = Some(cas);
        self
    }

    /// Instead of removing the item, mark it stale for `ttl` (whole seconds, rounded up):
    /// readers still get the old value, flagged [`MetaItem::stale`], and the first wins the
    /// recache ([`MetaItem::win`]).
    pub const fn invalidate(mut self, ttl: Duration) -> Self {
        self.invalidate = Some(ttl);
        self.invalidate_keeping_expiry = false;
        self
    }

    /// Like [`invalidate`](Self::invalidate), but the item keeps the expiry it has (`md … I`
    /// without `T`). With [`compare_cas`](Self::compare_cas), this hands a won recache back:
    /// the next reader wins it, and the others go on being served the stale value.
    ///
    /// ```
    /// use memcache_sync::{Client, Expiry, MetaDeleteOptions, MetaGetOptions, MetaSetOptions};
    /// use memcache_sync::protocol::meta::Ttl;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let mut client = Client::connect(&addr)?;
    /// let key = format!("doc:invalidate-keeping:{}", std::process::id());
    /// client.meta_set(&key, "v", &MetaSetOptions::new().expiry(Expiry::after_secs(600)))?;
    /// client.meta_delete(&key, &MetaDeleteOptions::new().invalidate_keeping_expiry())?;
    /// let item = client.meta_get(&key, &MetaGetOptions::new().return_ttl())?.expect("kept");
    /// assert!(item.stale && item.win);
    /// assert!(matches!(item.ttl, Some(Ttl::Seconds(590..=600))));
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub const fn invalidate_keeping_expiry(mut self) -> Self {
        self.invalidate = None;
        self.invalidate_keeping_expiry = true;
        self
    }

    /// Remove the value but keep the item (`x`). memcached 1.6.18 does not know the flag and
    /// answers [`Error::Unsupported`](crate::Error::Unsupported).
    pub const fn remove_value(mut self) -> Self {
        self.remove_value = true;
        self
    }

    /// Gives an invalidated item this CAS value. Since memcached 1.6.27.
    pub const fn new_cas(mut self, cas: CasToken) -> Self {
        self.new_cas = Some(cas);
        self
    }

    /// Sends the key base64-encoded; see [`MetaGetOptions::base64_key`].
    pub const fn base64_key(mut self) -> Self {
        self.base64_key = true;
        self
    }
}

/// What became of a [`Client::meta_delete`](crate::Client::meta_delete).
///
/// ```
/// use memcache_sync::MetaDeleteOutcome;
/// assert!(MetaDeleteOutcome::Deleted.is_deleted());
/// assert!(!MetaDeleteOutcome::NotFound.is_deleted());
/// ```
#[must_use = "a meta delete may have been refused; check whether it deleted"]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetaDeleteOutcome {
    /// Deleted, or marked stale with [`MetaDeleteOptions::invalidate`] (`HD`).
    Deleted,
    /// No such item (`NF`).
    NotFound,
    /// The compare-CAS failed: the item changed (`EX`).
    Exists,
}

impl MetaDeleteOutcome {
    /// Whether the item was deleted (or marked stale).
    pub const fn is_deleted(self) -> bool {
        matches!(self, Self::Deleted)
    }
}

/// How [`Client::meta_arithmetic`](crate::Client::meta_arithmetic) counts. The default adds 1
/// to an existing counter.
///
/// ```
/// use memcache_sync::{Expiry, MetaArithOptions};
/// // A rate limiter's counter: created at 1 with a 60 s window, or incremented, in one trip.
/// let hit = MetaArithOptions::incr().create_on_miss(Expiry::after_secs(60), 1);
/// let refund = MetaArithOptions::decr().delta(5);
/// # let _ = (hit, refund);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct MetaArithOptions {
    pub(crate) decrement: bool,
    pub(crate) delta: u64,
    pub(crate) create: Option<(Expiry, u64)>,
    pub(crate) expiry: Option<Expiry>,
    pub(crate) compare_cas: Option<CasToken>,
    pub(crate) new_cas: Option<CasToken>,
    pub(crate) base64_key: bool,
}

impl Default for MetaArithOptions {
    fn default() -> Self {
        Self::incr()
    }
}

impl MetaArithOptions {
    /// Add (wrapping at 2^64), by 1 unless [`delta`](Self::delta) says otherwise.
    pub const fn incr() -> Self {
        Self {
            decrement: false,
            delta: 1,
            create: None,
            expiry: None,
            compare_cas: None,
            new_cas: None,
            base64_key: false,
        }
    }

    /// Subtract (stopping at 0), by 1 unless [`delta`](Self::delta) says otherwise.
    pub const fn decr() -> Self {
        let mut options = Self::incr();
        options.decrement = true;
        options
    }

    /// The amount to add or subtract. Default: 1.
    pub const fn delta(mut self, delta: u64) -> Self {
        self.delta = delta;
        self
    }

    /// On a miss, create the counter holding `initial` with this expiry (`N`, `J`). The delta
    /// is not applied to a counter just created: `initial` is the value returned.
    pub const fn create_on_miss(mut self, expiry: Expiry, initial: u64) -> Self {
        self.create = Some((expiry, initial));
        self
    }

    /// On success, also set the counter's expiry (`T`).
    pub const fn expiry(mut self, expiry: Expiry) -> Self {
        self.expiry = Some(expiry);
        self
    }

    /// Count only if the counter's CAS is still `cas` ([`MetaArithOutcome::Exists`] if not).
    pub const fn compare_cas(mut self, cas: CasToken) -> Self {
        self.compare_cas = Some(cas);
        self
    }

    /// Gives the updated counter this CAS value. Since memcached 1.6.27; older servers
    /// answer [`Error::Unsupported`](crate::Error::Unsupported).
    pub const fn new_cas(mut self, cas: CasToken) -> Self {
        self.new_cas = Some(cas);
        self
    }

    /// Sends the key base64-encoded; see [`MetaGetOptions::base64_key`].
    pub const fn base64_key(mut self) -> Self {
        self.base64_key = true;
        self
    }
}

/// A counter after [`Client::meta_arithmetic`](crate::Client::meta_arithmetic): its new
/// value, remaining TTL and CAS, all from the one round trip.
///
/// ```
/// use memcache_sync::{CasToken, MetaCounter};
/// use memcache_sync::protocol::meta::Ttl;
/// let counter = MetaCounter { value: 3, ttl: Ttl::Seconds(59), cas: CasToken(12) };
/// assert_eq!(counter.value, 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MetaCounter {
    /// The value after the operation (or the initial value, if it was just created).
    pub value: u64,
    /// The remaining TTL.
    pub ttl: Ttl,
    /// The counter's CAS token.
    pub cas: CasToken,
}

/// What became of a [`Client::meta_arithmetic`](crate::Client::meta_arithmetic).
///
/// ```
/// use memcache_sync::{CasToken, MetaArithOutcome, MetaCounter};
/// use memcache_sync::protocol::meta::Ttl;
/// let counted = MetaArithOutcome::Counted(MetaCounter { value: 1, ttl: Ttl::Unlimited, cas: CasToken(1) });
/// assert_eq!(counted.counter().map(|c| c.value), Some(1));
/// assert_eq!(MetaArithOutcome::NotFound.counter(), None);
/// ```
#[must_use = "a counter may not exist; check the outcome"]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetaArithOutcome {
    /// Counted (or created), with the counter's new state.
    Counted(MetaCounter),
    /// No such counter, and no [`create_on_miss`](MetaArithOptions::create_on_miss) (`NF`).
    NotFound,
    /// The counter could not be created (`NS`).
    NotStored,
    /// The compare-CAS failed (`EX`).
    Exists,
}

impl MetaArithOutcome {
    /// The counter, if it was counted or created.
    pub const fn counter(self) -> Option<MetaCounter> {
        match self {
            Self::Counted(counter) => Some(counter),
            _ => None,
        }
    }
}

/// How [`Client::meta_debug`](crate::Client::meta_debug) names the key: as is, or in base64
/// key mode.
///
/// ```
/// use memcache_sync::MetaDebugOptions;
/// let binary = MetaDebugOptions::new().base64_key();
/// # let _ = binary;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[must_use]
pub struct MetaDebugOptions {
    pub(crate) base64_key: bool,
}

impl MetaDebugOptions {
    /// The key as is, under the classic key rules.
    pub const fn new() -> Self {
        Self { base64_key: false }
    }

    /// Sends the key base64-encoded; see [`MetaGetOptions::base64_key`]. It finds an item
    /// stored under the same raw bytes in either mode.
    pub const fn base64_key(mut self) -> Self {
        self.base64_key = true;
        self
    }
}

/// What [`Client::meta_debug`](crate::Client::meta_debug) tells of an item: its metadata as
/// memcached keeps it, without reading, bumping or winning it. A field the server did not
/// send is `None`; one this crate does not know is in [`other`](Self::other).
///
/// ```
/// use memcache_sync::{Client, Expiry, MetaDebugOptions};
/// use memcache_sync::protocol::meta::Ttl;
/// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
/// let mut client = Client::connect(&addr)?;
/// let key = format!("doc:meta-debug-info:{}", std::process::id());
/// client.set(&key, "v", Expiry::after_secs(60))?;
/// let info = client.meta_debug(&key, &MetaDebugOptions::new())?.expect("just stored");
/// assert!(matches!(info.ttl, Some(Ttl::Seconds(55..=60))));
/// assert_eq!(info.fetched, Some(false));
/// assert!(info.size.is_some_and(|size| size > 1)); // the item's footprint, not the value's
/// # Ok::<(), memcache_sync::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct MetaDebugInfo {
    /// The remaining TTL. memcached 1.6.18 prints an item with one second left like one
    /// that never expires ([`Ttl::Unlimited`]).
    pub ttl: Option<Ttl>,
    /// Seconds since the item was last accessed.
    pub last_access: Option<u64>,
    /// The item's CAS token.
    pub cas: Option<CasToken>,
    /// Whether the item was read since it was stored.
    pub fetched: Option<bool>,
    /// The slab class the item lives in.
    pub slab_class: Option<u32>,
    /// The item's footprint in memory, header and key included: more than the value's
    /// length.
    pub size: Option<u64>,
    /// Whether the item was stored in base64 key mode (memcached printed its key in base64).
    pub stored_in_base64: bool,
    /// The fields this crate does not know, as `(name, value)`, in reply order.
    pub other: Vec<(Vec<u8>, Vec<u8>)>,
}
