//! What the servers of one cluster share: how many are down (for fail-open), and the budget
//! of failovers.
//!
//! # Invariant
//! The fleet's counts are one atomic word, changed only by a server's [`Health`] while it
//! holds its own lock, in the same step as that server's state changes (see `state.rs`). So:
//! - `down` is never more than `max_down`, at any instant: a server takes its place in the
//!   count by a compare-and-swap that checks the cap, before its outage is set, and gives it
//!   back when its outage ends.
//! - Whenever no server's lock is held, `down` is the number of servers marked down and
//!   `kept_up` the number kept up at their threshold by fail-open.
//!
//! A server's decision ("the fleet is full, keep me up") and the count it decided on are one
//! compare-and-swap, so two servers cannot both take the last place.
//!
//! # A new server list
//! [`Cluster::set_servers`](crate::Cluster::set_servers) sets the fleet's size and cap anew
//! ([`Fleet::resize`]), and each server it removes gives back its places as it retires, under
//! its own lock (`Health::retire`), so the counts go on counting exactly the servers of the
//! current list. A cap lowered below the servers down already holds them down until their
//! probes find them up; it only refuses new places meanwhile.
//!
//! [`Health`]: super::Health

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use super::FailOpen;

/// The counts of one cluster's servers, shared by each server's health.
#[derive(Debug)]
pub(crate) struct Fleet {
    /// `down` in the low 32 bits, `kept_up` in the high 32.
    counts: AtomicU64,
    /// `max_down` in the low 32 bits, `servers` in the high 32: one word, so a reader never
    /// sees the cap of one list with the size of another.
    limits: AtomicU64,
    failover: Option<FailoverBudget>,
}

/// What marking a server down came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Marking {
    /// The server has its place among the down servers.
    Down { fail_open: Option<FailOpen> },
    /// The fleet is full: the server stays up and goes on being tried.
    KeptUp { fail_open: Option<FailOpen> },
}

fn unpack(counts: u64) -> (u32, u32) {
    (counts as u32, (counts >> 32) as u32)
}

fn pack(down: u32, kept_up: u32) -> u64 {
    u64::from(down) | (u64::from(kept_up) << 32)
}

/// `(max_down, servers)` packed, the cap no more than the size.
fn limits(servers: usize, max_down: usize) -> u64 {
    let servers = u32::try_from(servers).unwrap_or(u32::MAX);
    pack(
        u32::try_from(max_down).unwrap_or(u32::MAX).min(servers),
        servers,
    )
}

impl Fleet {
    /// A fleet of `servers` of which at most `max_down` may be marked down at once, and at
    /// most the failovers `failover` allows.
    pub(crate) fn new(servers: usize, max_down: usize, failover: Option<FailoverBudget>) -> Self {
        Self {
            counts: AtomicU64::new(0),
            limits: AtomicU64::new(limits(servers, max_down)),
            failover,
        }
    }

    /// A new server list's size and cap.
    pub(crate) fn resize(&self, servers: usize, max_down: usize) {
        self.limits
            .store(limits(servers, max_down), Ordering::Release);
    }

    fn limits(&self) -> (u32, u32) {
        unpack(self.limits.load(Ordering::Acquire))
    }

    /// A fleet of one server, with no cap and no budget: a health on its own.
    #[cfg(test)]
    pub(crate) fn alone() -> Self {
        Self::new(1, 1, None)
    }

    /// Applies `rule` to `(down, kept_up)` in one step; returns the counts it applied to.
    /// Called only under a server's lock, and nothing in a rule panics (the subtractions
    /// saturate: the invariant checks in the tests, not a panic under the lock, catch a
    /// count that would go below zero).
    fn update(&self, rule: impl Fn(u32, u32) -> (u32, u32)) -> (u32, u32) {
        let mut current = self.counts.load(Ordering::Acquire);
        loop {
            let (down, kept_up) = rule(unpack(current).0, unpack(current).1);
            match self.counts.compare_exchange_weak(
                current,
                pack(down, kept_up),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return unpack(current),
                Err(actual) => current = actual,
            }
        }
    }

    /// Takes a place among the down servers for a server at its threshold, or, with none
    /// left, counts it kept up. `kept_up` says whether the server is kept up already (then its
    /// place there is given up if it goes down, and not counted twice if it stays).
    pub(super) fn mark_down(&self, kept_up: bool) -> Marking {
        let max_down = self.limits().0;
        let (down, kept) = self.update(|down, kept| match (down < max_down, kept_up) {
            (true, true) => (down + 1, kept.saturating_sub(1)),
            (true, false) => (down + 1, kept),
            (false, true) => (down, kept),
            (false, false) => (down, kept + 1),
        });
        if down < max_down {
            let ended = kept_up && kept == 1;
            Marking::Down {
                fail_open: ended.then_some(FailOpen::Ended { down: down + 1 }),
            }
        } else {
            let entered = !kept_up && kept == 0;
            Marking::KeptUp {
                fail_open: entered.then_some(FailOpen::Entered { down }),
            }
        }
    }

    /// A down server's outage ended.
    pub(super) fn up(&self) {
        self.update(|down, kept| (down.saturating_sub(1), kept));
    }

    /// A server kept up answered; returns the end of fail-open if it was the last one.
    pub(super) fn answered_while_kept_up(&self) -> Option<FailOpen> {
        let (down, kept) = self.update(|down, kept| (down, kept.saturating_sub(1)));
        (kept == 1).then_some(FailOpen::Ended { down })
    }

    /// Whether any server is kept up by fail-open now.
    pub(crate) fn is_failing_open(&self) -> bool {
        self.counts().1 > 0
    }

    /// `(down, kept_up)` now.
    pub(crate) fn counts(&self) -> (u32, u32) {
        unpack(self.counts.load(Ordering::Acquire))
    }

    /// The number of servers in the cluster.
    pub(crate) fn servers(&self) -> usize {
        self.limits().1 as usize
    }

    /// The most servers that may be down at once.
    #[cfg(test)]
    pub(crate) fn max_down(&self) -> u32 {
        self.limits().0
    }

    /// The failover budget, if failovers are limited.
    pub(crate) fn failover(&self) -> Option<&FailoverBudget> {
        self.failover.as_ref()
    }
}

/// A token bucket for failovers: `burst` tokens, refilled at `per_second`; each call (or
/// batch group) that goes to a server other than its owner takes one.
#[derive(Debug)]
pub(crate) struct FailoverBudget {
    per_second: f64,
    burst: f64,
    bucket: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
    /// The last request was refused: the next grant resumes failovers, for the log.
    refusing: bool,
}

/// The budget's answer to one failover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spend {
    /// Go ahead; `resumed` if failovers were being refused until now.
    Granted { resumed: bool },
    /// No token left; `first` if failovers were granted until now.
    Refused { first: bool },
}

impl FailoverBudget {
    /// A full bucket of `burst` tokens refilled at `per_second` (not a positive number:
    /// never refilled; infinite: never empty).
    pub(crate) fn new(per_second: f64, burst: u32) -> Self {
        let per_second = if per_second > 0.0 { per_second } else { 0.0 };
        Self {
            per_second,
            burst: f64::from(burst),
            bucket: Mutex::new(Bucket {
                tokens: f64::from(burst),
                refilled: Instant::now(),
                refusing: false,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Bucket> {
        // Each change below is whole before anything can panic: a poisoned bucket is sound.
        self.bucket
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes a token if there is one.
    pub(crate) fn spend(&self) -> Spend {
        if self.per_second.is_infinite() {
            return Spend::Granted { resumed: false };
        }
        let mut bucket = self.lock();
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.burst);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            let resumed = std::mem::replace(&mut bucket.refusing, false);
            Spend::Granted { resumed }
        } else {
            let first = !std::mem::replace(&mut bucket.refusing, true);
            Spend::Refused { first }
        }
    }
}
