//! Leases against thundering herds, after "Scaling Memcache at Facebook" (NSDI 2013), built
//! on the meta protocol's vivify-on-miss (`mg … N<ttl>`, answered `W` or `Z`).
//!
//! On a miss, memcached creates an empty placeholder and answers `W` (won) to exactly one
//! caller and `Z` (already won) to every other until the placeholder is filled or expires.
//! The winner fills by compare-CAS against the placeholder, so a delete or an invalidate
//! that happened during the fill changes or removes it, and the now stale fill is refused.
//! The semantics are stated on [`get_or_lease`] and [`get_or_fill`], where they render.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

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

    fn get_options(&self) -> MetaGetOptions {
        MetaGetOptions::new()
            .return_cas()
            .vivify_on_miss(Expiry::After(if self.lease_ttl.is_zero() {
                Duration::from_secs(1)
            } else {
                self.lease_ttl
            }))
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
    /// A fresh value: use it.
    Hit(MetaItem),
    /// This caller won the lease: compute the value and [`FillToken::fill`] it.
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
    cas: CasToken,
    stale: Option<MetaItem>,
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
        self.stale.as_ref()
    }
}

/// Reads `key`, and on a miss (or an invalidated value) takes the lease to fill it: one
/// round trip, `mg <key> v c N<lease_ttl>`.
///
/// # Returns
/// - [`LeaseOutcome::Hit`]: a fresh value (no `W`, `Z` or `X` flag).
/// - [`LeaseOutcome::Won`]: `W`; memcached gives it to exactly one caller per miss, and
///   again once the lease lapses or the key is invalidated.
/// - [`LeaseOutcome::Busy`]: `Z`; another caller won. `stale` holds the value when the
///   item is also `X` (invalidated), `None` when it is the empty placeholder.
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
    if item.win {
        let cas = item.cas.ok_or_else(|| missing_cas(key))?;
        let stale = item.stale.then_some(item);
        return Ok(LeaseOutcome::Won(FillToken {
            key: key.to_vec(),
            cas,
            stale,
        }));
    }
    if item.already_won {
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
    /// Another caller was still filling when the wait ran out, and the key held this
    /// invalidated value: possibly out of date, served rather than nothing.
    Stale(Vec<u8>),
}

impl Fetched {
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
/// - `Err(`[`FillError::Load`]`)`: `load` failed; the placeholder is deleted (by CAS) so
///   the next caller need not wait for the lease to lapse.
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
                        // Give the lease back so a waiter can load now; if this fails, the
                        // lease lapses after its TTL instead.
                        let delete = MetaDeleteOptions::new().compare_cas(token.cas);
                        let _ = store.lock_delete(key, &delete);
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
