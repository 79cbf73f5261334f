//! Deadlines: the caller's own bound on a whole call, and the checked instant arithmetic that
//! every timeout goes through.
//!
//! A [`Config`](crate::Config) timeout bounds one phase of one exchange (a connect, a send, the
//! replies to one window). A [`Deadline`] bounds everything a call does, whatever its phases:
//! a pool checkout, a reconnect, every window of a batch, every server of a fan-out, the
//! backoff between retries. Every wait the crate makes takes the earlier of the two.
//!
//! The caller's deadline is held per thread for the length of [`Deadline::run`], so that it
//! reaches every layer (a [`Pool`](crate::Pool) connect, a [`Cluster`](crate::Cluster)
//! retry) without an extra argument on every method; a [`Cluster`](crate::Cluster) carries it
//! to the threads it starts for one call.

use std::cell::Cell;
use std::time::{Duration, Instant};

use crate::error::{Error, Phase};

thread_local! {
    static CURRENT: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// How far ahead "never" is: far enough that no call waits that long, near enough that the
/// arithmetic of every platform's clock holds it.
const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// `from + duration`, saturating at a far-off instant instead of panicking: a timeout of
/// `Duration::MAX` means "a very long time".
pub(crate) fn later(from: Instant, duration: Duration) -> Instant {
    from.checked_add(duration.min(FAR_FUTURE))
        .or_else(|| from.checked_add(Duration::from_secs(24 * 60 * 60)))
        .unwrap_or(from)
}

/// A bound on a whole call, set by the caller: no call made inside [`Deadline::run`] returns
/// later than the deadline plus the time of the one system call under way (a few
/// milliseconds at most on a loaded machine), whatever the [`Config`](crate::Config)
/// timeouts are. What a context deadline is in Go clients.
///
/// A call whose deadline passes fails with [`Error::DeadlineExceeded`], naming the phase it
/// was in; a connection that had a request in flight is dropped, as after any timeout.
/// Deadlines nest: an inner one later than the outer one changes nothing.
///
/// ```
/// use memcache_sync::{Client, Deadline, Expiry};
/// use std::time::Duration;
/// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
/// let mut client = Client::connect(&addr)?;
/// // However many windows this batch takes, it returns within 200 ms.
/// let report = Deadline::after(Duration::from_millis(200)).run(|| {
///     client.set_many((0..1000).map(|i| {
///         memcache_sync::Entry::new(format!("doc:deadline:{i}"), "v").with_expiry(Expiry::after_secs(60))
///     }))
/// })?;
/// assert_eq!(report.done_count(), 1000);
/// # Ok::<(), memcache_sync::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Deadline(Instant);

impl Deadline {
    /// A deadline at `instant`.
    ///
    /// ```
    /// use memcache_sync::Deadline;
    /// use std::time::{Duration, Instant};
    /// let end = Instant::now() + Duration::from_secs(2);
    /// assert_eq!(Deadline::at(end).instant(), end);
    /// ```
    pub fn at(instant: Instant) -> Self {
        Self(instant)
    }

    /// A deadline `timeout` from now; a huge `timeout` (even `Duration::MAX`) means "a very
    /// long time", never a panic.
    ///
    /// ```
    /// use memcache_sync::Deadline;
    /// use std::time::Duration;
    /// assert!(Deadline::after(Duration::from_secs(5)).remaining() <= Duration::from_secs(5));
    /// let _forever = Deadline::after(Duration::MAX); // no overflow
    /// ```
    pub fn after(timeout: Duration) -> Self {
        Self(later(Instant::now(), timeout))
    }

    /// The instant this deadline falls at.
    ///
    /// ```
    /// use memcache_sync::Deadline;
    /// use std::time::{Duration, Instant};
    /// let deadline = Deadline::after(Duration::from_secs(1));
    /// assert!(deadline.instant() > Instant::now());
    /// ```
    pub fn instant(&self) -> Instant {
        self.0
    }

    /// The time left before the deadline; zero once it has passed.
    ///
    /// ```
    /// use memcache_sync::Deadline;
    /// use std::time::Duration;
    /// assert!(Deadline::after(Duration::from_secs(60)).remaining() > Duration::from_secs(59));
    /// assert_eq!(Deadline::after(Duration::ZERO).remaining(), Duration::ZERO);
    /// ```
    pub fn remaining(&self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }

    /// Runs `call` with this deadline bounding every wait it makes through this crate on this
    /// thread, and on the threads a [`Cluster`](crate::Cluster) starts for it. An enclosing
    /// deadline that falls earlier stays in force.
    ///
    /// ```
    /// use memcache_sync::{Client, Deadline, Error};
    /// use std::time::Duration;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let mut client = Client::connect(&addr)?;
    /// // The whole call, reconnects included, within 500 ms.
    /// let value = Deadline::after(Duration::from_millis(500)).run(|| client.get("doc:deadline_run"))?;
    /// assert_eq!(value, None);
    /// // Nested: the earlier deadline wins.
    /// Deadline::after(Duration::from_millis(100)).run(|| {
    ///     Deadline::after(Duration::from_secs(60)).run(|| {
    ///         assert!(Deadline::current().unwrap().remaining() <= Duration::from_millis(100));
    ///     })
    /// });
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn run<R>(self, call: impl FnOnce() -> R) -> R {
        let outer = CURRENT.with(Cell::get);
        let effective = outer.map_or(self.0, |outer| outer.min(self.0));
        // Restored on unwind too, so a panicking call leaves no deadline behind on the thread.
        struct Restore(Option<Instant>);
        impl Drop for Restore {
            fn drop(&mut self) {
                CURRENT.with(|current| current.set(self.0));
            }
        }
        let _restore = Restore(outer);
        CURRENT.with(|current| current.set(Some(effective)));
        call()
    }

    /// The deadline in force on this thread, if a [`Deadline::run`] set one.
    ///
    /// ```
    /// use memcache_sync::Deadline;
    /// use std::time::Duration;
    /// assert_eq!(Deadline::current(), None);
    /// let deadline = Deadline::after(Duration::from_secs(1));
    /// deadline.run(|| assert_eq!(Deadline::current(), Some(deadline)));
    /// assert_eq!(Deadline::current(), None); // restored
    /// ```
    pub fn current() -> Option<Deadline> {
        CURRENT.with(Cell::get).map(Deadline)
    }

    /// Runs `call` under `deadline` if there is one: how a deadline crosses to another thread.
    pub(crate) fn run_under<R>(deadline: Option<Deadline>, call: impl FnOnce() -> R) -> R {
        match deadline {
            Some(deadline) => deadline.run(call),
            None => call(),
        }
    }
}

/// The bound on one wait: a configured timeout from a start, cut short by the caller's
/// deadline if that comes first.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bound {
    at: Instant,
    timeout: Duration,
    /// Whether `at` is the caller's deadline rather than the timeout's.
    callers: bool,
}

impl Bound {
    /// The earlier of `start + timeout` and the caller's deadline.
    pub(crate) fn new(start: Instant, timeout: Duration) -> Self {
        let own = later(start, timeout);
        match CURRENT.with(Cell::get) {
            Some(caller) if caller < own => Self {
                at: caller,
                timeout,
                callers: true,
            },
            _ => Self {
                at: own,
                timeout,
                callers: false,
            },
        }
    }

    /// A bound of `timeout` from now.
    pub(crate) fn from_now(timeout: Duration) -> Self {
        Self::new(Instant::now(), timeout)
    }

    /// The instant the wait must end by.
    pub(crate) fn at(&self) -> Instant {
        self.at
    }

    /// The time left; zero once the bound has passed.
    pub(crate) fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// Whether the bound has passed.
    pub(crate) fn passed(&self) -> bool {
        Instant::now() >= self.at
    }

    /// The error for a wait in `phase` that reached this bound: the configured timeout's, or
    /// the caller's deadline's.
    pub(crate) fn expired(&self, phase: Phase) -> Error {
        if self.callers {
            Error::DeadlineExceeded { phase }
        } else {
            Error::Timeout {
                phase,
                timeout: self.timeout,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_duration_saturates_instead_of_panicking() {
        let now = Instant::now();
        assert!(later(now, Duration::MAX) > later(now, Duration::from_secs(3600)));
        assert!(Deadline::after(Duration::MAX).remaining() > Duration::from_secs(3600));
        let bound = Bound::from_now(Duration::MAX);
        assert!(!bound.passed());
    }

    #[test]
    fn the_callers_deadline_cuts_a_longer_timeout_short_and_names_itself() {
        let deadline = Deadline::after(Duration::from_millis(10));
        let bound = deadline.run(|| Bound::from_now(Duration::from_secs(5)));
        assert_eq!(bound.at(), deadline.instant());
        assert!(matches!(
            bound.expired(Phase::Read),
            Error::DeadlineExceeded { phase: Phase::Read }
        ));
        let own = deadline.run(|| Bound::from_now(Duration::from_millis(1)));
        assert!(matches!(own.expired(Phase::Read), Error::Timeout { .. }));
    }

    #[test]
    fn deadlines_nest_and_are_restored_after_the_call_even_on_panic() {
        let outer = Deadline::after(Duration::from_millis(50));
        outer.run(|| {
            Deadline::after(Duration::from_secs(60)).run(|| {
                assert_eq!(Deadline::current(), Some(outer), "the earlier one holds");
            });
            let inner = Deadline::after(Duration::from_millis(5));
            inner.run(|| assert_eq!(Deadline::current(), Some(inner)));
            assert_eq!(Deadline::current(), Some(outer));
        });
        assert_eq!(Deadline::current(), None);
        let panicked = std::panic::catch_unwind(|| outer.run(|| panic!("the call panics")));
        assert!(panicked.is_err());
        assert_eq!(Deadline::current(), None);
    }
}
