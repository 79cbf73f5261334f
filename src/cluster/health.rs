//! Whether a server is up, shared by every thread and clone of a cluster.
//!
//! After `failure_threshold` consecutive connection failures a server is marked down. While
//! down, calls for its keys fail at once with [`Error::ServerDown`]. When the backoff has
//! passed, exactly one caller is let through as a probe while the others keep failing fast;
//! its success marks the server up, its failure doubles the backoff (with jitter, up to a
//! cap).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::jitter::{exponential, jittered};
use crate::error::Error;

/// When a server is marked down and how long it stays down.
///
/// ```
/// use memcache_sync::HealthConfig;
/// use std::time::Duration;
/// let health = HealthConfig::default()
///     .with_failure_threshold(3)
///     .with_backoff(Duration::from_millis(500), Duration::from_secs(30));
/// assert_eq!(health.failure_threshold(), 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthConfig {
    failure_threshold: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 2,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
        }
    }
}

impl HealthConfig {
    /// Consecutive connection failures (connect errors, timeouts, closed or reset
    /// connections) after which the server is marked down. Default: 2. Raised to 1 if 0.
    pub fn with_failure_threshold(mut self, failures: u32) -> Self {
        self.failure_threshold = failures.max(1);
        self
    }

    /// How long a server stays down before the first probe, and the cap as failed probes
    /// double it. Each wait is jittered to between half and all of its value. Default: 1 s
    /// growing to 30 s.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// See [`HealthConfig::with_failure_threshold`].
    pub fn failure_threshold(&self) -> u32 {
        self.failure_threshold
    }

    /// The first backoff; see [`HealthConfig::with_backoff`].
    pub fn initial_backoff(&self) -> Duration {
        self.initial_backoff
    }

    /// The backoff's cap; see [`HealthConfig::with_backoff`].
    pub fn max_backoff(&self) -> Duration {
        self.max_backoff
    }
}

/// May this call go to the server?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// The server is up.
    Go,
    /// The server is down and this caller is the one probe.
    Probe,
}

/// What one call learnt about a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The server answered, even if with an error of its own.
    Answered,
    /// The server could not be reached, or the connection failed.
    Unreachable,
    /// The call never reached the server.
    Unknown,
}

/// A change of a server's state, for logs and observers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    Down { retry_in: Duration },
    Up,
}

#[derive(Debug)]
pub(crate) struct Health {
    config: HealthConfig,
    /// Checked first, so an up server costs one atomic load per call.
    down: AtomicBool,
    consecutive_failures: AtomicU32,
    outage: Mutex<Outage>,
}

#[derive(Debug, Default)]
struct Outage {
    until: Option<Instant>,
    failed_probes: u32,
    probing: bool,
}

impl Health {
    pub(crate) fn new(config: HealthConfig) -> Self {
        Self {
            config,
            down: AtomicBool::new(false),
            consecutive_failures: AtomicU32::new(0),
            outage: Mutex::new(Outage::default()),
        }
    }

    fn outage(&self) -> std::sync::MutexGuard<'_, Outage> {
        self.outage
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Lets the call through, or refuses it at once while the server is down and another
    /// caller is probing or the backoff has not passed.
    pub(crate) fn admit(&self, addr: &str) -> Result<Admission, Error> {
        if !self.down.load(Ordering::Acquire) {
            return Ok(Admission::Go);
        }
        let mut outage = self.outage();
        let Some(until) = outage.until else {
            return Ok(Admission::Go);
        };
        let now = Instant::now();
        if outage.probing || now < until {
            return Err(Error::ServerDown {
                addr: addr.to_owned(),
                retry_in: until.saturating_duration_since(now),
            });
        }
        outage.probing = true;
        Ok(Admission::Probe)
    }

    /// Records what a call that was let through learnt about the server.
    pub(crate) fn record(&self, admission: Admission, verdict: Verdict) -> Option<Transition> {
        match verdict {
            Verdict::Answered => {
                if self.consecutive_failures.load(Ordering::Relaxed) != 0 {
                    self.consecutive_failures.store(0, Ordering::Relaxed);
                }
                if admission == Admission::Probe || self.down.load(Ordering::Acquire) {
                    *self.outage() = Outage::default();
                    self.down.store(false, Ordering::Release);
                    return Some(Transition::Up);
                }
                return None;
            }
            Verdict::Unknown => {
                // The call never reached the server (say, no pooled connection came free): it
                // proves nothing, and a probe that did not happen lets the next caller probe.
                if admission == Admission::Probe {
                    self.outage().probing = false;
                }
                return None;
            }
            Verdict::Unreachable => {}
        }
        let failures = self.consecutive_failures.fetch_add(1, Ordering::Relaxed) + 1;
        let mut outage = self.outage();
        if admission == Admission::Probe {
            outage.probing = false;
            outage.failed_probes += 1;
        } else if outage.until.is_some() || failures < self.config.failure_threshold {
            return None;
        }
        let base = exponential(
            self.config.initial_backoff,
            self.config.max_backoff,
            outage.failed_probes + 1,
        );
        let retry_in = jittered(base);
        outage.until = Some(Instant::now() + retry_in);
        self.down.store(true, Ordering::Release);
        Some(Transition::Down { retry_in })
    }

    /// Gives up a probe whose outcome will never be recorded (its caller panicked), so the
    /// next caller may probe.
    pub(crate) fn abandon_probe(&self) {
        self.outage().probing = false;
    }

    /// Whether the server is marked down now.
    pub(crate) fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health(threshold: u32, backoff_ms: u64) -> Health {
        let backoff = Duration::from_millis(backoff_ms);
        Health::new(
            HealthConfig::default()
                .with_failure_threshold(threshold)
                .with_backoff(backoff, backoff * 8),
        )
    }

    #[test]
    fn a_server_goes_down_only_after_the_threshold_of_consecutive_failures() {
        let h = health(3, 1000);
        assert_eq!(h.record(Admission::Go, Verdict::Unreachable), None);
        assert_eq!(h.record(Admission::Go, Verdict::Answered), None); // a success resets the count
        assert_eq!(h.record(Admission::Go, Verdict::Unreachable), None);
        assert_eq!(h.record(Admission::Go, Verdict::Unreachable), None);
        assert!(matches!(
            h.record(Admission::Go, Verdict::Unreachable),
            Some(Transition::Down { .. })
        ));
        assert!(matches!(h.admit("s"), Err(Error::ServerDown { .. })));
    }

    #[test]
    fn after_the_backoff_exactly_one_caller_probes_while_others_fail_fast() {
        let h = health(1, 20);
        h.record(Admission::Go, Verdict::Unreachable);
        assert!(h.admit("s").is_err());
        std::thread::sleep(Duration::from_millis(25));
        assert_eq!(h.admit("s").unwrap(), Admission::Probe);
        assert!(h.admit("s").is_err(), "a second caller must not probe too");
        assert_eq!(
            h.record(Admission::Probe, Verdict::Answered),
            Some(Transition::Up)
        );
        assert_eq!(h.admit("s").unwrap(), Admission::Go);
        assert!(!h.is_down());
    }

    #[test]
    fn a_call_that_never_reached_the_server_neither_resets_failures_nor_ends_an_outage() {
        let h = health(2, 20);
        h.record(Admission::Go, Verdict::Unreachable);
        assert_eq!(h.record(Admission::Go, Verdict::Unknown), None);
        assert!(matches!(
            h.record(Admission::Go, Verdict::Unreachable),
            Some(Transition::Down { .. })
        ));
        std::thread::sleep(Duration::from_millis(25));
        assert_eq!(h.admit("s").unwrap(), Admission::Probe);
        assert_eq!(h.record(Admission::Probe, Verdict::Unknown), None);
        assert!(
            h.is_down(),
            "an unknown outcome does not mark the server up"
        );
        assert_eq!(
            h.admit("s").unwrap(),
            Admission::Probe,
            "the next caller may probe"
        );
    }

    #[test]
    fn a_failed_probe_keeps_the_server_down_with_a_longer_backoff() {
        let h = health(1, 20);
        let Some(Transition::Down { retry_in: first }) =
            h.record(Admission::Go, Verdict::Unreachable)
        else {
            panic!("down expected");
        };
        std::thread::sleep(first + Duration::from_millis(2));
        assert_eq!(h.admit("s").unwrap(), Admission::Probe);
        let Some(Transition::Down { retry_in: second }) =
            h.record(Admission::Probe, Verdict::Unreachable)
        else {
            panic!("still down expected");
        };
        assert!(
            second >= Duration::from_millis(20),
            "{second:?}: doubled base, at least half of 40 ms"
        );
        assert!(h.admit("s").is_err());
    }
}
