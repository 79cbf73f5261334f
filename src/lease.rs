//! Leases against thundering herds, after "Scaling Memcache at Facebook" (NSDI 2013), built
//! on the meta protocol's vivify-on-miss (`mg … N<ttl>`, answered `W` or `Z`).
//!
//! On a miss, memcached creates an empty placeholder and answers `W` (won) to exactly one
//! caller and `Z` (already won) to every other until the placeholder is filled or expires.
//! The winner fills by compare-CAS against the placeholder, so a delete or an invalidate
//! that happened during the fill changes or removes it, and the now stale fill is refused.
//!
//! The same win decides who refreshes an item that is still there (stale-while-revalidate):
//! an item invalidated with `md … I` (flagged `X`) is won by its first reader and served,
//! flagged stale, to the others; with [`LeaseOptions::recache_below`] (`mg … R<secs>`) the
//! first reader to find the remaining TTL below the threshold wins an early refresh while
//! the others go on getting the value, fresh, without waiting. memcached 1.6.18 keeps the
//! `Z` (already won) on the item for every reader, the winner too, until a store replaces it.
//! Any read of an invalidated item takes the win, a plain [`Client::meta_get`] too, which
//! then leaves the refresh to a caller that will never make it: read keys that may be
//! invalidated through [`get_or_lease`] or [`get_or_fill`] only, and inspect them with
//! [`Client::meta_debug`], which takes nothing.
//! The semantics are stated on [`get_or_lease`] and [`get_or_fill`], where they render.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

#[cfg(doc)]
use crate::client::Client;
use crate::deadline::Deadline;
use crate::error::{Error, Result};
use crate::expiry::Expiry;
use crate::item::CasToken;
use crate::lock::LockStore;
use crate::meta_types::{MetaDeleteOptions, MetaGetOptions, MetaItem, MetaSetOptions};
use crate::protocol::{ProtocolError, ProtocolErrorKind};

/// How a lease is taken and waited for: the placeholder's TTL, the waiters' bounded total
/// wait, and the filled value's expiry.
///
/// ```
/// use memcache_sync::{Expiry, LeaseOptions};
/// use std::time::Duration;
/// // A filler has 10 s before its lease lapses; waiters wait up to 1 s in all.
/// let options = LeaseOptions::new(Duration::from_secs(10))
///     .wait(Duration::from_secs(1))
///     .fill_expiry(Expiry::after_secs(300));
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct LeaseOptions {
    lease_ttl: Duration,
    wait: Duration,
    fill_expiry: Expiry,
    recache_below: Option<Duration>,
    serve_stale: bool,
    base64_key: bool,
    first_backoff: Duration,
    max_backoff: Duration,
}

impl LeaseOptions {
    /// A lease that lapses `lease_ttl` after it is won (whole seconds, rounded up; at least
    /// one), so a winner that dies only blocks others that long. No wait; filled values
    /// never expire.
    pub const fn new(lease_ttl: Duration) -> Self {
        Self {
            lease_ttl,
            wait: Duration::ZERO,
            fill_expiry: Expiry::Never,
            recache_below: None,
            serve_stale: false,
            base64_key: false,
            first_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(100),
        }
    }

    /// The total time [`get_or_fill`] waits for another caller's fill, with jittered
    /// exponential backoff (5 ms doubling to 100 ms), never past the caller's [`Deadline`].
    /// Default: zero, one look.
    pub const fn wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// The expiry [`get_or_fill`] stores a loaded value with. Default: never.
    pub const fn fill_expiry(mut self, expiry: Expiry) -> Self {
        self.fill_expiry = expiry;
        self
    }

    /// Early recache: once a hit's remaining TTL is below `threshold` (whole seconds, rounded
    /// up), its first reader wins the refresh ([`LeaseOutcome::Won`], and [`get_or_fill`]
    /// runs `load`) while every other reader keeps getting the value as a plain hit, with no
    /// wait, until the refresh is stored. So a hot key is refreshed before it expires,
    /// once, instead of missing for everyone at once. Default: none.
    ///
    /// An item that never expires never wins this way. Keep
    /// [`fill_expiry`](Self::fill_expiry) above the threshold, or every fill is at once
    /// inside the window and the next reader refreshes again.
    ///
    /// ```
    /// use memcache_sync::{get_or_lease, Client, Expiry, LeaseOptions, LeaseOutcome, MetaSetOptions};
    /// use std::time::Duration;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let (mut a, mut b) = (Client::connect(&addr)?, Client::connect(&addr)?);
    /// let key = format!("doc:recache-below:{}", std::process::id());
    /// a.meta_set(&key, "v1", &MetaSetOptions::new().expiry(Expiry::after_secs(20)))?;
    /// let options = LeaseOptions::new(Duration::from_secs(10))
    ///     .recache_below(Duration::from_secs(30))
    ///     .fill_expiry(Expiry::after_secs(300));
    /// // 20 s left, under the 30 s threshold: the first reader refreshes...
    /// let LeaseOutcome::Won(token) = get_or_lease(&mut a, &key, &options)? else { panic!() };
    /// assert_eq!(token.current().and_then(|i| i.value.as_deref()), Some(&b"v1"[..]));
    /// // ...while the others are served the value, fresh, at once.
    /// let LeaseOutcome::Hit(item) = get_or_lease(&mut b, &key, &options)? else { panic!() };
    /// assert_eq!((item.value.as_deref(), item.stale), (Some(&b"v1"[..]), false));
    /// assert!(token.fill(&mut a, b"v2", Expiry::after_secs(300))?);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub const fn recache_below(mut self, threshold: Duration) -> Self {
        self.recache_below = Some(threshold);
        self
    }

    /// Makes [`get_or_fill`] return a stale value ([`Fetched::Stale`]) at once when another
    /// caller is refreshing it, instead of waiting up to [`wait`](Self::wait) for the fresh
    /// one first. A key being filled from a miss has nothing stale, and is still waited for.
    /// Default: off.
    ///
    /// ```
    /// use memcache_sync::LeaseOptions;
    /// use std::time::Duration;
    /// let options = LeaseOptions::new(Duration::from_secs(10))
    ///     .wait(Duration::from_secs(1)) // for a miss being filled
    ///     .serve_stale(); // never for a value being refreshed
    /// # let _ = options;
    /// ```
    pub const fn serve_stale(mut self) -> Self {
        self.serve_stale = true;
        self
    }

    /// Sends the key in base64 key mode (see [`MetaGetOptions::base64_key`]) in the read, the
    /// fill and the hand-back alike, so any bytes can be a leased key, on a
    /// [`Cluster`](crate::Cluster) too.
    ///
    /// ```
    /// use memcache_sync::{get_or_fill, Client, Fetched, LeaseOptions};
    /// use std::time::Duration;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let mut client = Client::connect(&addr)?;
    /// let key = format!("doc:lease b64 \r\n{}", std::process::id());
    /// let options = LeaseOptions::new(Duration::from_secs(10)).base64_key();
    /// let load = || Ok::<_, std::io::Error>(b"v".to_vec());
    /// let fetched = get_or_fill(&mut client, &key, &options, load).unwrap();
    /// assert_eq!(fetched, Fetched::Loaded { value: b"v".to_vec(), stored: true });
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub const fn base64_key(mut self) -> Self {
        self.base64_key = true;
        self
    }

    fn get_options(&self) -> MetaGetOptions {
        let options = MetaGetOptions::new()
            .return_cas()
            .vivify_on_miss(Expiry::After(if self.lease_ttl.is_zero() {
                Duration::from_secs(1)
            } else {
                self.lease_ttl
            }));
        let options = match self.recache_below {
            Some(threshold) => options.recache_below(threshold),
            None => options,
        };
        if self.base64_key {
            options.base64_key()
        } else {
            options
        }
    }
}

/// What [`get_or_lease`] found.
///
/// ```
/// use memcache_sync::{get_or_lease, Client, Expiry, LeaseOptions, LeaseOutcome};
/// use std::time::Duration;
/// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
/// let (mut a, mut b) = (Client::connect(&addr)?, Client::connect(&addr)?);
/// let options = LeaseOptions::new(Duration::from_secs(10));
/// let key = format!("doc:lease-outcome:{}", std::process::id());
/// let LeaseOutcome::Won(token) = get_or_lease(&mut a, &key, &options)? else { panic!("a miss") };
/// assert!(matches!(get_or_lease(&mut b, &key, &options)?, LeaseOutcome::Busy { stale: None }));
/// assert!(token.fill(&mut a, b"v", Expiry::after_secs(60))?);
/// assert!(matches!(get_or_lease(&mut b, &key, &options)?, LeaseOutcome::Hit(_)));
/// # Ok::<(), memcache_sync::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "a won lease must be filled, or others wait until it lapses"]
pub enum LeaseOutcome {
    /// A fresh value: use it. Never [`MetaItem::stale`]; [`MetaItem::already_won`] is set when
    /// another caller is refreshing it early ([`LeaseOptions::recache_below`]).
    Hit(MetaItem),
    /// This caller won the lease: compute the value and [`FillToken::fill`] it. Meanwhile
    /// [`FillToken::current`] is the value the key still holds, if any: stale, or fresh but
    /// inside the early-recache window.
    Won(FillToken),
    /// Another caller holds the lease and is filling. `stale` is the invalidated value, if
    /// the key had one, to serve meanwhile.
    Busy {
        /// The stale value (flagged [`MetaItem::stale`]), if the key was invalidated.
        stale: Option<MetaItem>,
    },
}

/// The right to fill one key: the placeholder's (or stale item's) CAS.
///
/// ```
/// # use memcache_sync::{get_or_lease, Client, Expiry, LeaseOptions, LeaseOutcome};
/// # use std::time::Duration;
/// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
/// # let mut client = Client::connect(&addr)?;
/// let key = format!("doc:fill-token:{}", std::process::id());
/// if let LeaseOutcome::Won(token) = get_or_lease(&mut client, &key, &LeaseOptions::new(Duration::from_secs(5)))? {
///     assert_eq!(token.key(), key.as_bytes());
///     assert!(token.stale().is_none()); // a plain miss, not an invalidated value
///     assert!(token.fill(&mut client, b"v", Expiry::after_secs(60))?);
/// }
/// # Ok::<(), memcache_sync::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "a won lease must be filled, or others wait until it lapses"]
pub struct FillToken {
    key: Vec<u8>,
    base64_key: bool,
    cas: CasToken,
    current: Option<MetaItem>,
}

impl FillToken {
    /// Stores `value` if the key still holds the placeholder (or stale item) this lease was
    /// won on. `Ok(false)`: it was deleted, invalidated, overwritten or lapsed meanwhile, and
    /// the fill, now possibly stale, was refused.
    ///
    /// ```
    /// use memcache_sync::{get_or_lease, Client, Expiry, LeaseOptions, LeaseOutcome};
    /// use std::time::Duration;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let mut client = Client::connect(&addr)?;
    /// let key = format!("doc:fill:{}", std::process::id());
    /// let LeaseOutcome::Won(token) = get_or_lease(&mut client, &key, &LeaseOptions::new(Duration::from_secs(5)))? else { panic!() };
    /// client.delete(&key)?; // the source of truth changed during the fill
    /// assert!(!token.fill(&mut client, b"old", Expiry::after_secs(60))?);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn fill<S: LockStore>(self, mut store: S, value: &[u8], expiry: Expiry) -> Result<bool> {
        self.fill_in(&mut store, value, expiry)
    }

    fn fill_in<S: LockStore>(&self, store: &mut S, value: &[u8], expiry: Expiry) -> Result<bool> {
        let set = MetaSetOptions::new().compare_cas(self.cas).expiry(expiry);
        let set = if self.base64_key {
            set.base64_key()
        } else {
            set
        };
        Ok(store.lock_set(&self.key, value, &set)?.is_stored())
    }

    /// The key this lease fills.
    ///
    /// ```
    /// # use memcache_sync::{get_or_lease, Client, LeaseOptions, LeaseOutcome};
    /// # use std::time::Duration;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// let key = format!("doc:fill-key:{}", std::process::id());
    /// if let LeaseOutcome::Won(token) = get_or_lease(&mut client, &key, &LeaseOptions::new(Duration::from_secs(1)))? {
    ///     assert_eq!(token.key(), key.as_bytes());
    /// }
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// The stale value this lease refreshes, if the key was invalidated rather than missing.
    ///
    /// ```
    /// # use memcache_sync::{get_or_lease, Client, LeaseOptions, LeaseOutcome};
    /// # use std::time::Duration;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// let key = format!("doc:fill-stale:{}", std::process::id());
    /// if let LeaseOutcome::Won(token) = get_or_lease(&mut client, &key, &LeaseOptions::new(Duration::from_secs(1)))? {
    ///     assert!(token.stale().is_none());
    /// }
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn stale(&self) -> Option<&MetaItem> {
        self.current.as_ref().filter(|item| item.stale)
    }

    /// The value the key held when this lease was won, to serve while refreshing: the stale
    /// value of an invalidated key ([`MetaItem::stale`] set), or a fresh one whose TTL fell
    /// below [`LeaseOptions::recache_below`]. `None` for a miss.
    ///
    /// ```
    /// # use memcache_sync::{get_or_lease, Client, LeaseOptions, LeaseOutcome};
    /// # use std::time::Duration;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// let key = format!("doc:fill-current:{}", std::process::id());
    /// if let LeaseOutcome::Won(token) = get_or_lease(&mut client, &key, &LeaseOptions::new(Duration::from_secs(1)))? {
    ///     assert!(token.current().is_none()); // a miss: nothing to serve meanwhile
    /// }
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn current(&self) -> Option<&MetaItem> {
        self.current.as_ref()
    }

    /// Whether this lease refreshes a value that is still fresh (an early recache), which a
    /// failed load must leave in place.
    fn refreshes_fresh_value(&self) -> bool {
        self.current.as_ref().is_some_and(|item| !item.stale)
    }
}

/// Reads `key`, and on a miss (or an invalidated value) takes the lease to fill it: one
/// round trip, `mg <key> v c N<lease_ttl>`.
///
/// With [`LeaseOptions::recache_below`] the request also carries `R<secs>`.
///
/// # Returns
/// - [`LeaseOutcome::Hit`]: a fresh value: no `W`, `Z` or `X` flag, or `Z` on a value that
///   another caller is refreshing early.
/// - [`LeaseOutcome::Won`]: `W`; memcached gives it to exactly one caller per miss, and
///   again once the lease lapses, the key is invalidated or its TTL falls below the
///   recache threshold.
/// - [`LeaseOutcome::Busy`]: `Z`; another caller won. `stale` holds the value when the
///   item is also `X` (invalidated), `None` when it is the empty placeholder.
///
/// An empty value cannot be told from the placeholder of a miss being filled, so an empty
/// value being refreshed early is [`LeaseOutcome::Busy`] too, never a hit that might be the
/// placeholder.
///
/// # Observed on memcached 1.6.18
/// By raw socket, before this relied on any of it:
/// - `mg k v c R30` on an item with 20 s left: the first reader gets `VA … W`, every later
///   one (the winner too, and reads without `R`) `VA … Z` with the same value and CAS, no
///   `X`, until a store replaces the item. An item with more left, or none (`t-1`), is a
///   plain hit.
/// - After `md k I T30`: the CAS changes, the first read gets `X W` (whatever its flags: a
///   plain `mg k v` wins too), every later one `Z X`, with the old value.
/// - The winner's `ms … C<cas>` is `HD` and clears `W`/`Z`/`X`; after a delete it is `NF`,
///   after an invalidate `EX` (the CAS moved).
/// - `md k C<cas> I` without `T` on a won stale item keeps its TTL and gives `W` to the next
///   reader: how a failed refresh is handed back.
///
/// ```
/// use memcache_sync::{get_or_lease, Client, Expiry, LeaseOptions, LeaseOutcome};
/// use std::time::Duration;
/// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
/// let mut client = Client::connect(&addr)?;
/// let key = format!("doc:get-or-lease:{}", std::process::id());
/// match get_or_lease(&mut client, &key, &LeaseOptions::new(Duration::from_secs(10)))? {
///     LeaseOutcome::Hit(item) => drop(item.value),
///     LeaseOutcome::Won(token) => assert!(token.fill(&mut client, b"computed", Expiry::after_secs(60))?),
///     LeaseOutcome::Busy { stale } => drop(stale), // serve it, or wait and look again
/// }
/// # Ok::<(), memcache_sync::Error>(())
/// ```
pub fn get_or_lease<S: LockStore>(
    mut store: S,
    key: impl AsRef<[u8]>,
    options: &LeaseOptions,
) -> Result<LeaseOutcome> {
    lease_once(&mut store, key.as_ref(), options)
}

fn lease_once<S: LockStore>(
    store: &mut S,
    key: &[u8],
    options: &LeaseOptions,
) -> Result<LeaseOutcome> {
    // With vivify-on-miss the server always answers a hit; `None` would be a server that
    // ignored `N`, and is treated as a lost race: nothing to serve, nobody known to fill.
    let Some(item) = store.lock_get(key, &options.get_options())? else {
        return Ok(LeaseOutcome::Busy { stale: None });
    };
    let placeholder = !item.stale && item.value.as_deref().is_none_or(<[u8]>::is_empty);
    if item.win {
        let cas = item.cas.ok_or_else(|| missing_cas(key))?;
        return Ok(LeaseOutcome::Won(FillToken {
            key: key.to_vec(),
            base64_key: options.base64_key,
            cas,
            current: (!placeholder).then_some(item),
        }));
    }
    if item.stale || (item.already_won && placeholder) {
        // A stale item always comes with `W` or `Z` from memcached; one without is still
        // never served as fresh.
        return Ok(LeaseOutcome::Busy {
            stale: item.stale.then_some(item),
        });
    }
    Ok(LeaseOutcome::Hit(item))
}

/// A win without the CAS that was asked for: the fill could not be gated, so it is not tried.
fn missing_cas(key: &[u8]) -> Error {
    Error::Protocol(ProtocolError::new(ProtocolErrorKind::UnexpectedReply, key))
}

/// What [`get_or_fill`] returns: the value, and where it came from.
///
/// ```
/// use memcache_sync::Fetched;
/// let fetched = Fetched::Loaded { value: b"v".to_vec(), stored: true };
/// assert_eq!(fetched.value(), b"v");
/// assert_eq!(fetched.into_value(), b"v".to_vec());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// A fresh value from the cache, filled earlier or by another caller during the wait.
    Hit(Vec<u8>),
    /// This caller won the lease and ran `load`. `stored: false`: the fill was refused (a
    /// delete or invalidate happened during `load`), so the value was not cached.
    Loaded {
        /// What `load` returned.
        value: Vec<u8>,
        /// Whether it was cached.
        stored: bool,
    },
    /// Another caller was refreshing the key, which held this invalidated value: possibly
    /// out of date, served rather than nothing, once the wait ran out (or at once with
    /// [`LeaseOptions::serve_stale`]).
    Stale(Vec<u8>),
}

impl Fetched {
    /// Whether the value is [`Fetched::Stale`]: invalidated, and being refreshed by another
    /// caller.
    ///
    /// ```
    /// # use memcache_sync::Fetched;
    /// assert!(Fetched::Stale(b"old".to_vec()).is_stale());
    /// assert!(!Fetched::Hit(b"new".to_vec()).is_stale());
    /// ```
    pub const fn is_stale(&self) -> bool {
        matches!(self, Self::Stale(_))
    }

    /// The value, wherever it came from.
    ///
    /// ```
    /// # use memcache_sync::Fetched;
    /// assert_eq!(Fetched::Stale(b"old".to_vec()).value(), b"old");
    /// ```
    pub fn value(&self) -> &[u8] {
        match self {
            Self::Hit(value) | Self::Stale(value) | Self::Loaded { value, .. } => value,
        }
    }

    /// The value, owned.
    ///
    /// ```
    /// # use memcache_sync::Fetched;
    /// assert_eq!(Fetched::Hit(b"v".to_vec()).into_value(), b"v".to_vec());
    /// ```
    pub fn into_value(self) -> Vec<u8> {
        match self {
            Self::Hit(value) | Self::Stale(value) | Self::Loaded { value, .. } => value,
        }
    }
}

/// Why [`get_or_fill`] has no value.
///
/// ```
/// use memcache_sync::FillError;
/// use std::time::Duration;
/// let busy: FillError<std::io::Error> = FillError::Busy { waited: Duration::from_millis(250) };
/// assert!(busy.is_busy());
/// assert!(busy.to_string().contains("250ms"));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum FillError<E> {
    /// Another caller held the lease for the whole wait, and there was no stale value to
    /// serve. Retry later, or go to the source of truth yourself.
    #[error(
        "another caller was still filling the key after {waited:?}, and no stale value was left"
    )]
    Busy {
        /// How long this call waited.
        waited: Duration,
    },
    /// The cache failed (a timeout, a dead server, the caller's deadline).
    #[error("cache: {0}")]
    Cache(#[source] Error),
    /// `load` failed. The lease was given up, so the next caller loads.
    #[error("load: {0}")]
    Load(#[source] E),
}

impl<E> FillError<E> {
    /// Whether this is [`FillError::Busy`].
    ///
    /// ```
    /// # use memcache_sync::{Error, FillError, Phase};
    /// assert!(!FillError::<std::io::Error>::Cache(Error::ConnectionClosed { phase: Phase::Read }).is_busy());
    /// ```
    pub const fn is_busy(&self) -> bool {
        matches!(self, Self::Busy { .. })
    }
}

/// Gives a lease whose `load` failed back, by CAS so that it never touches a newer value.
/// The outcome is not reported: if this fails too, the lease lapses after its TTL instead,
/// and the caller hears of the load's failure either way.
fn give_back<S: LockStore>(store: &mut S, token: &FillToken) {
    if token.refreshes_fresh_value() {
        // Deleting or invalidating a fresh value would turn one failed refresh into a miss
        // (or a stale read) for every reader.
        return;
    }
    let by_cas = MetaDeleteOptions::new().compare_cas(token.cas);
    let by_cas = if token.base64_key {
        by_cas.base64_key()
    } else {
        by_cas
    };
    let give_back = if token.stale().is_some() {
        by_cas.invalidate_keeping_expiry()
    } else {
        by_cas
    };
    let _ = store.lock_delete(&token.key, &give_back);
}

/// The end of a wait that found no fresh value: the stale one if there was one, else busy.
fn gave_up<E>(
    start: Instant,
    stale: Option<Vec<u8>>,
) -> std::result::Result<Fetched, FillError<E>> {
    match stale {
        Some(value) => Ok(Fetched::Stale(value)),
        None => Err(FillError::Busy {
            waited: start.elapsed(),
        }),
    }
}

/// Between half of `base` and all of it, so that waiters do not poll in lockstep.
fn jittered(base: Duration) -> Duration {
    let random = RandomState::new().build_hasher().finish();
    let half = base / 2;
    half + half.mul_f64((random >> 11) as f64 / (1u64 << 53) as f64)
}

/// Reads `key`; on a miss, exactly one caller (across threads and processes) runs `load`
/// and fills the key, and the others wait for that fill.
///
/// Waiters poll with jittered exponential backoff for at most [`LeaseOptions::wait`] in
/// all, and never past the caller's [`Deadline`]: unlike clients whose waiters sleep with
/// no overall bound, the total wait here is bounded. A waiter that finds the lease lapsed
/// (the winner died) wins it and runs its own `load`.
///
/// # Returns
/// - `Ok(`[`Fetched::Hit`]`)`: a fresh value, found at once or after the wait.
/// - `Ok(`[`Fetched::Loaded`]`)`: this caller ran `load`; `stored` says whether the
///   CAS-gated fill was accepted.
/// - `Ok(`[`Fetched::Stale`]`)`: the wait ran out while the key held an invalidated value.
/// - `Err(`[`FillError::Busy`]`)`: the wait ran out with nothing to serve.
/// - `Err(`[`FillError::Load`]`)`: `load` failed, and the lease is given back by CAS: a
///   placeholder is deleted, so the next caller need not wait for the lease to lapse; a
///   stale value is invalidated again (keeping its expiry), so the next reader wins the
///   refresh and the others are still served the stale value. A value refreshed early is
///   left as it is: still fresh, it is served until it expires (no other reader wins the
///   refresh before then: memcached keeps the win taken).
///
/// With [`LeaseOptions::recache_below`], a hit inside the recache window runs `load` for
/// exactly one caller (it returns [`Fetched::Loaded`]); the others get [`Fetched::Hit`] at
/// once.
///
/// `load` itself is not bounded by the wait: the caller chose it.
///
/// ```
/// use memcache_sync::{get_or_fill, Client, Expiry, Fetched, LeaseOptions};
/// use std::time::Duration;
/// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
/// let mut client = Client::connect(&addr)?;
/// let key = format!("doc:get-or-fill:{}", std::process::id());
/// let options = LeaseOptions::new(Duration::from_secs(10))
///     .wait(Duration::from_secs(2))
///     .fill_expiry(Expiry::after_secs(60));
/// let load = || Ok::<_, std::io::Error>(b"from the database".to_vec());
/// let first = get_or_fill(&mut client, &key, &options, load).unwrap();
/// assert_eq!(first, Fetched::Loaded { value: b"from the database".to_vec(), stored: true });
/// let again = get_or_fill(&mut client, &key, &options, || -> Result<Vec<u8>, std::io::Error> { unreachable!("a hit") }).unwrap();
/// assert_eq!(again.value(), b"from the database");
/// # Ok::<(), memcache_sync::Error>(())
/// ```
pub fn get_or_fill<S: LockStore, E>(
    mut store: S,
    key: impl AsRef<[u8]>,
    options: &LeaseOptions,
    load: impl FnOnce() -> std::result::Result<Vec<u8>, E>,
) -> std::result::Result<Fetched, FillError<E>> {
    let key = key.as_ref();
    let start = Instant::now();
    let mut give_up = crate::deadline::later(start, options.wait);
    if let Some(deadline) = Deadline::current() {
        give_up = give_up.min(deadline.instant());
    }
    let mut backoff = options.first_backoff;
    let mut stale_seen: Option<Vec<u8>> = None;
    loop {
        match lease_once(&mut store, key, options).map_err(FillError::Cache)? {
            LeaseOutcome::Hit(item) => return Ok(Fetched::Hit(item.value.unwrap_or_default())),
            LeaseOutcome::Won(token) => {
                let value = match load() {
                    Ok(value) => value,
                    Err(error) => {
                        give_back(&mut store, &token);
                        return Err(FillError::Load(error));
                    }
                };
                let stored = token
                    .fill_in(&mut store, &value, options.fill_expiry)
                    .map_err(FillError::Cache)?;
                return Ok(Fetched::Loaded { value, stored });
            }
            LeaseOutcome::Busy { stale } => {
                if let Some(item) = stale {
                    if options.serve_stale {
                        return Ok(Fetched::Stale(item.value.unwrap_or_default()));
                    }
                    stale_seen = item.value;
                }
            }
        }
        let left = give_up.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return gave_up(start, stale_seen);
        }
        std::thread::sleep(jittered(backoff).min(left));
        // A look at the end of the wait is still worth making, one past the caller's
        // deadline is not: it would fail with `DeadlineExceeded` instead of serving what the
        // wait found.
        if Deadline::current().is_some_and(|d| d.remaining().is_zero()) {
            return gave_up(start, stale_seen);
        }
        backoff = (backoff * 2).min(options.max_backoff);
    }
}
