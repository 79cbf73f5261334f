//! A lease-style lock in memcached: acquire with a TTL and a bounded wait, extend, release,
//! each acting only while the caller still owns the lock.
//!
//! The limits are stated on [`Lock`], where they render.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::client::Client;
use crate::cluster::Cluster;
use crate::deadline::Deadline;
use crate::error::{Error, Result};
use crate::expiry::Expiry;
use crate::item::CasToken;
use crate::meta_types::{
    MetaDeleteOptions, MetaDeleteOutcome, MetaGetOptions, MetaItem, MetaSetMode, MetaSetOptions,
    MetaStoreOutcome,
};

/// Where a [`Lock`] lives: a `&mut Client` (or a pooled one, `&mut *pooled`) or a
/// `&Cluster`. The three meta commands a lock needs, by key bytes.
///
/// ```
/// use memcache_sync::{Client, Lock, LockOptions, LockStore};
/// use std::time::Duration;
/// fn with_lock<S: LockStore>(store: S) -> memcache_sync::Result<bool> {
///     let lock = Lock::acquire(store, "doc:lock-store", &LockOptions::new(Duration::from_secs(5)))?;
///     Ok(lock.is_some())
/// }
/// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
/// let mut client = Client::connect(&addr)?;
/// assert!(with_lock(&mut client)?);
/// # Ok::<(), memcache_sync::Error>(())
/// ```
pub trait LockStore {
    /// [`Client::meta_get`].
    fn lock_get(&mut self, key: &[u8], options: &MetaGetOptions) -> Result<Option<MetaItem>>;
    /// [`Client::meta_set`].
    fn lock_set(
        &mut self,
        key: &[u8],
        value: &[u8],
        options: &MetaSetOptions,
    ) -> Result<MetaStoreOutcome>;
    /// [`Client::meta_delete`].
    fn lock_delete(&mut self, key: &[u8], options: &MetaDeleteOptions)
        -> Result<MetaDeleteOutcome>;
}

impl LockStore for &mut Client {
    fn lock_get(&mut self, key: &[u8], options: &MetaGetOptions) -> Result<Option<MetaItem>> {
        self.meta_get(key, options)
    }
    fn lock_set(
        &mut self,
        key: &[u8],
        value: &[u8],
        options: &MetaSetOptions,
    ) -> Result<MetaStoreOutcome> {
        self.meta_set(key, value, options)
    }
    fn lock_delete(
        &mut self,
        key: &[u8],
        options: &MetaDeleteOptions,
    ) -> Result<MetaDeleteOutcome> {
        self.meta_delete(key, options)
    }
}

impl LockStore for &Cluster {
    fn lock_get(&mut self, key: &[u8], options: &MetaGetOptions) -> Result<Option<MetaItem>> {
        self.meta_get(key, options)
    }
    fn lock_set(
        &mut self,
        key: &[u8],
        value: &[u8],
        options: &MetaSetOptions,
    ) -> Result<MetaStoreOutcome> {
        self.meta_set(key, value, options)
    }
    fn lock_delete(
        &mut self,
        key: &[u8],
        options: &MetaDeleteOptions,
    ) -> Result<MetaDeleteOutcome> {
        self.meta_delete(key, options)
    }
}

/// How to acquire a [`Lock`]: its TTL, and how long to wait for it.
///
/// ```
/// use memcache_sync::LockOptions;
/// use std::time::Duration;
/// // Held for at most 30 s unless extended; wait up to 2 s for the current owner.
/// let options = LockOptions::new(Duration::from_secs(30)).wait(Duration::from_secs(2));
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct LockOptions {
    ttl: Duration,
    wait: Duration,
    first_backoff: Duration,
    max_backoff: Duration,
}

impl LockOptions {
    /// A lock that expires `ttl` after it is taken (whole seconds, rounded up; at least one),
    /// tried once: no wait.
    pub const fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            wait: Duration::ZERO,
            first_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(200),
        }
    }

    /// Retries a held lock for up to `wait`, with jittered exponential backoff (5 ms doubling
    /// to 200 ms), and never past the caller's [`Deadline`]. Default: zero, one attempt.
    pub const fn wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }
}

/// An owned lock: a key holding this owner's token, with the CAS it was stored with. Dropping
/// it releases it (best effort: an error on drop is ignored, and the TTL then frees it).
///
/// Acquire stores the token with add semantics, so it succeeds only where no lock is held.
/// Extend and release first check that the key still holds this owner's token with this
/// CAS, then act by compare-CAS, so a lock that expired and was taken by another owner is
/// never extended or released by the first. (The token check is what makes this safe after a
/// server restart, which restarts memcached's CAS counter: a new owner's CAS can equal an old
/// one's, its token cannot.)
///
/// # Limits
/// - **An expired TTL means lost ownership.** Nothing tells the owner when its TTL ran out;
///   work that may outlast it must [`extend`](Lock::extend) in time and stop when `extend`
///   says the lock was lost. A process paused past the TTL (a GC, a `SIGSTOP`, a slow disk)
///   may still believe it owns a lock another owner now holds.
/// - **memcached is a cache, not a consensus store.** An item can be evicted under memory
///   pressure (give lock keys their own slab room or run with `-M`), and a restart forgets
///   every lock. Use this lock to keep duplicate work rare, not where two owners at once would
///   corrupt data; for that, use a consensus store (etcd, ZooKeeper) with fencing tokens.
/// - **On a [`Cluster`], the key never moves by default.** With a [`Failover`](crate::Failover)
///   that moves keys to another server while theirs is down, mutual exclusion is void: a
///   second owner can acquire the same key on the fallback server while the first still
///   holds it on the original, and a lock taken on the fallback is forgotten when the
///   original comes back. Release and extend stay safe (they never act on a lock another
///   owner holds: the token and CAS checks hold on every server), but "only one owner"
///   does not.
///
/// # Example
/// ```
/// use memcache_sync::{Client, Lock, LockOptions};
/// use std::time::Duration;
/// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
/// let (mut a, mut b) = (Client::connect(&addr)?, Client::connect(&addr)?);
/// let options = LockOptions::new(Duration::from_secs(10));
/// let mut lock = Lock::acquire(&mut a, "doc:lock", &options)?.expect("nobody holds it");
/// assert!(Lock::acquire(&mut b, "doc:lock", &options)?.is_none()); // held
/// assert!(lock.extend(Duration::from_secs(10))?); // still ours
/// assert!(lock.release()?);
/// assert!(Lock::acquire(&mut b, "doc:lock", &options)?.is_some()); // free again
/// # Ok::<(), memcache_sync::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "a lock is released as soon as it is dropped"]
pub struct Lock<S: LockStore> {
    store: S,
    key: Vec<u8>,
    token: Vec<u8>,
    cas: CasToken,
    held: bool,
}

/// A TTL as an expiry of at least one second: zero would mean "already expired".
fn lock_expiry(ttl: Duration) -> Expiry {
    Expiry::After(ttl.max(Duration::from_secs(1)))
}

/// A token no other owner holds: this process, a counter, the time and the standard
/// library's per-instance random seed, in hex. Unique enough that two owners never share one.
fn new_token() -> Vec<u8> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    let random = RandomState::new().build_hasher().finish();
    format!("{:016x}{:016x}", hasher.finish(), random).into_bytes()
}

/// Between half of `base` and all of it, so that waiting owners do not retry in lockstep.
fn jittered(base: Duration) -> Duration {
    let random = RandomState::new().build_hasher().finish();
    let half = base / 2;
    half + half.mul_f64((random >> 11) as f64 / (1u64 << 53) as f64)
}

impl<S: LockStore> Lock<S> {
    /// Takes the lock at `key`, waiting for it as `options` say. `Ok(None)`: another owner
    /// held it for the whole wait.
    ///
    /// An error after the request may have reached the server (a read timeout) can leave the
    /// lock taken with nobody knowing it: it is then free again once its TTL passes.
    ///
    /// ```
    /// use memcache_sync::{Client, Lock, LockOptions};
    /// use std::time::Duration;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let mut client = Client::connect(&addr)?;
    /// let options = LockOptions::new(Duration::from_secs(10)).wait(Duration::from_millis(500));
    /// if let Some(lock) = Lock::acquire(&mut client, "doc:lock:acquire", &options)? {
    ///     // ... the work the lock guards ...
    ///     lock.release()?;
    /// }
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn acquire(
        mut store: S,
        key: impl AsRef<[u8]>,
        options: &LockOptions,
    ) -> Result<Option<Self>> {
        let key = key.as_ref();
        if options.ttl.is_zero() {
            return Err(Error::InvalidArgument {
                what: "lock TTL",
                reason: "a lock with no TTL would be expired as soon as it was taken".into(),
            });
        }
        let now = Instant::now();
        let mut give_up = crate::deadline::later(now, options.wait);
        if let Some(deadline) = Deadline::current() {
            give_up = give_up.min(deadline.instant());
        }
        let token = new_token();
        let set = MetaSetOptions::new()
            .mode(MetaSetMode::Add)
            .expiry(lock_expiry(options.ttl));
        let mut backoff = options.first_backoff;
        loop {
            if let MetaStoreOutcome::Stored { cas, .. } = store.lock_set(key, &token, &set)? {
                return Ok(Some(Self {
                    store,
                    key: key.to_vec(),
                    token,
                    cas,
                    held: true,
                }));
            }
            let left = give_up.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            std::thread::sleep(jittered(backoff).min(left));
            // An attempt at the end of the wait is still worth making, one past the caller's
            // deadline is not: it would fail with `DeadlineExceeded` instead of `None`.
            if Deadline::current().is_some_and(|d| d.remaining().is_zero()) {
                return Ok(None);
            }
            backoff = (backoff * 2).min(options.max_backoff);
        }
    }

    /// Resets the lock's TTL to `ttl` from now, if this owner still holds it. `Ok(false)`:
    /// the lock was lost (it expired, and may now be another owner's); stop the work it
    /// guards.
    ///
    /// ```
    /// use memcache_sync::{Client, Lock, LockOptions};
    /// use std::time::Duration;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let mut client = Client::connect(&addr)?;
    /// let options = LockOptions::new(Duration::from_secs(5));
    /// let mut lock = Lock::acquire(&mut client, "doc:lock:extend", &options)?.expect("free");
    /// assert!(lock.extend(Duration::from_secs(30))?);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn extend(&mut self, ttl: Duration) -> Result<bool> {
        if !self.still_mine()? {
            return Ok(false);
        }
        let set = MetaSetOptions::new()
            .compare_cas(self.cas)
            .expiry(lock_expiry(ttl));
        match self.store.lock_set(&self.key, &self.token, &set)? {
            MetaStoreOutcome::Stored { cas, .. } => {
                self.cas = cas;
                Ok(true)
            }
            _ => {
                self.held = false;
                Ok(false)
            }
        }
    }

    /// Frees the lock, if this owner still holds it. `Ok(false)`: it had been lost already,
    /// and whoever holds it now keeps it.
    ///
    /// ```
    /// use memcache_sync::{Client, Lock, LockOptions};
    /// use std::time::Duration;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let mut client = Client::connect(&addr)?;
    /// let lock = Lock::acquire(&mut client, "doc:lock:release", &LockOptions::new(Duration::from_secs(5)))?;
    /// assert!(lock.expect("free").release()?);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn release(mut self) -> Result<bool> {
        self.release_now()
    }

    /// The key the lock is held at.
    ///
    /// ```
    /// # use memcache_sync::{Client, Lock, LockOptions};
    /// # use std::time::Duration;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// let lock = Lock::acquire(&mut client, "doc:lock:key", &LockOptions::new(Duration::from_secs(5)))?.unwrap();
    /// assert_eq!(lock.key(), b"doc:lock:key");
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// This owner's token, the value stored at the key while the lock is held.
    ///
    /// ```
    /// # use memcache_sync::{Client, Lock, LockOptions};
    /// # use std::time::Duration;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// let lock = Lock::acquire(&mut client, "doc:lock:token", &LockOptions::new(Duration::from_secs(5)))?.unwrap();
    /// assert_eq!(lock.token().len(), 32);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn token(&self) -> &[u8] {
        &self.token
    }

    /// Whether the key holds this owner's token with the CAS it was last stored with.
    fn still_mine(&mut self) -> Result<bool> {
        let get = MetaGetOptions::new().return_cas().no_lru_bump();
        let mine = match self.store.lock_get(&self.key, &get)? {
            Some(item) => {
                item.value.as_deref() == Some(&self.token[..]) && item.cas == Some(self.cas)
            }
            None => false,
        };
        self.held &= mine;
        Ok(mine)
    }

    fn release_now(&mut self) -> Result<bool> {
        if !self.held || !self.still_mine()? {
            self.held = false;
            return Ok(false);
        }
        self.held = false;
        let delete = MetaDeleteOptions::new().compare_cas(self.cas);
        Ok(self.store.lock_delete(&self.key, &delete)?.is_deleted())
    }
}

impl<S: LockStore> Drop for Lock<S> {
    fn drop(&mut self) {
        if self.held {
            // Best effort: if this fails, the TTL frees the lock.
            let _ = self.release_now();
        }
    }
}
