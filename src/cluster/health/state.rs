//! One server's health: the state every thread shares, and the rules that change it.
//!
//! # Invariant
//! Everything about a server's health (its consecutive failures, its outage and the outage's
//! probe) is one [`State`] behind one lock. Every change is made by one call of
//! [`Health::change`], which decides from that state alone, so any interleaving of threads
//! reaches only states that some order of single-threaded calls reaches.
//!
//! Beside the lock, `hint` summarises the state in one atomic byte so that calls to a healthy
//! server need no lock. It is written only by [`Health::change`], while the lock is held:
//! whenever the lock is free, `hint == state.summary()`. A thread that reads it without the
//! lock may see a value older than the state; it then acts as if its call came just before
//! the changes it missed, which the single-threaded rules allow. The hint is only ever used to skip work that would
//! change nothing: admitting a call to an up server, and recording a success on a server whose
//! last outcome was a success.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{Admission, HealthConfig, ProbeId, Transition, Verdict};
use crate::cluster::jitter::{exponential, jittered};
use crate::error::Error;

/// Up, and the last outcome was a success: nothing for a success to change.
const UP: u8 = 0;
/// Up, after one or more consecutive failures.
const FAILING: u8 = 1;
/// Marked down: an outage is set.
const DOWN: u8 = 2;

/// The health of one server, shared by every thread and clone of a cluster.
#[derive(Debug)]
pub(crate) struct Health {
    config: HealthConfig,
    /// `state.summary()`, readable without the lock; see the module's invariant.
    hint: AtomicU8,
    state: Mutex<State>,
}

/// The authoritative health of a server.
#[derive(Debug, Default)]
struct State {
    /// Connection failures since the last answer, counted while the server is up.
    consecutive_failures: u32,
    /// Set exactly while the server is marked down.
    outage: Option<Outage>,
    /// The last number given to an outage or a probe, so none is ever given twice.
    serial: u64,
}

#[derive(Debug)]
struct Outage {
    id: u64,
    /// No probe before this.
    until: Instant,
    failed_probes: u32,
    /// The probe in flight, if any: at most one at a time.
    probe: Option<ProbeId>,
}

impl Health {
    pub(crate) fn new(config: HealthConfig) -> Self {
        Self {
            config,
            hint: AtomicU8::new(UP),
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held, and each change is whole: a poisoned state
        // is still a consistent one.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The one way the state changes: under the lock, with the hint updated before the lock
    /// is released.
    fn change<R>(&self, rule: impl FnOnce(&mut State) -> R) -> R {
        let mut state = self.lock();
        let result = rule(&mut state);
        self.hint.store(state.summary(), Ordering::Release);
        result
    }

    /// Lets the call through, or refuses it at once while the server is down and another
    /// caller is probing or the backoff has not passed.
    pub(crate) fn admit(&self, addr: &str) -> Result<Admission, Error> {
        if self.hint.load(Ordering::Acquire) != DOWN {
            return Ok(Admission::Go);
        }
        self.change(|state| state.admit(Instant::now()))
            .map_err(|retry_in| Error::ServerDown {
                addr: addr.to_owned(),
                retry_in,
            })
    }

    /// Records what a call that was let through learnt about the server.
    pub(crate) fn record(&self, admission: Admission, verdict: Verdict) -> Option<Transition> {
        match (verdict, admission) {
            // Skipping the lock cannot strand a probe: its holder's own admission stored DOWN,
            // so it reads UP only once that outage is over and its probe is stale.
            (Verdict::Answered, _) if self.hint.load(Ordering::Acquire) == UP => None,
            (Verdict::Answered, _) => self.change(State::answered),
            // The call never reached the server (say, no pooled connection came free): it
            // proves nothing, and a probe that did not happen lets the next caller probe.
            (Verdict::Unknown, Admission::Probe(probe)) => {
                self.abandon_probe(probe);
                None
            }
            (Verdict::Unknown, Admission::Go) => None,
            (Verdict::Unreachable, admission) => {
                self.change(|state| state.unreachable(admission, &self.config))
            }
        }
    }

    /// Gives up a probe whose outcome will never be recorded (its caller panicked), so the
    /// next caller may probe. A probe the state no longer waits for changes nothing.
    pub(crate) fn abandon_probe(&self, probe: ProbeId) {
        self.change(|state| state.release(probe));
    }

    /// Whether the server is marked down now.
    pub(crate) fn is_down(&self) -> bool {
        self.hint.load(Ordering::Acquire) == DOWN
    }

    /// Panics unless the state obeys its rules and the hint agrees with it, for tests that
    /// check this while other threads change it.
    #[cfg(test)]
    pub(crate) fn assert_consistent(&self) {
        let state = self.lock();
        let hint = self.hint.load(Ordering::Acquire);
        assert_eq!(hint, state.summary(), "hint disagrees with {state:?}");
        match &state.outage {
            None => assert!(
                state.consecutive_failures < self.config.failure_threshold(),
                "up at the failure threshold: {state:?}"
            ),
            Some(outage) => {
                assert!(outage.id <= state.serial, "{state:?}");
                if let Some(probe) = outage.probe {
                    assert_eq!(probe.outage, outage.id, "{state:?}");
                    assert!(probe.probe <= state.serial, "{state:?}");
                }
            }
        }
    }

    /// The probe the state waits for, if any.
    #[cfg(test)]
    pub(crate) fn probe_in_flight(&self) -> Option<ProbeId> {
        self.lock().outage.as_ref().and_then(|outage| outage.probe)
    }
}

impl State {
    fn summary(&self) -> u8 {
        match (&self.outage, self.consecutive_failures) {
            (Some(_), _) => DOWN,
            (None, 0) => UP,
            (None, _) => FAILING,
        }
    }

    fn next_serial(&mut self) -> u64 {
        self.serial += 1;
        self.serial
    }

    /// A probe if the server is down, its backoff has passed and nobody is probing; else the
    /// wait before the next probe (zero while one is in flight).
    fn admit(&mut self, now: Instant) -> Result<Admission, Duration> {
        let serial = self.serial + 1;
        let Some(outage) = &mut self.outage else {
            return Ok(Admission::Go);
        };
        if outage.probe.is_some() || now < outage.until {
            return Err(outage.until.saturating_duration_since(now));
        }
        let probe = ProbeId {
            outage: outage.id,
            probe: serial,
        };
        outage.probe = Some(probe);
        self.serial = serial;
        Ok(Admission::Probe(probe))
    }

    /// The server answered: whatever it had, it is up with a clean slate.
    fn answered(&mut self) -> Option<Transition> {
        self.consecutive_failures = 0;
        self.outage.take().map(|_| Transition::Up)
    }

    /// Frees the probe slot if `probe` holds it.
    fn release(&mut self, probe: ProbeId) {
        if let Some(outage) = &mut self.outage {
            if outage.probe == Some(probe) {
                outage.probe = None;
            }
        }
    }

    fn unreachable(&mut self, admission: Admission, config: &HealthConfig) -> Option<Transition> {
        match (&mut self.outage, admission) {
            (Some(outage), Admission::Probe(probe)) if outage.probe == Some(probe) => {
                outage.probe = None;
                outage.failed_probes = outage.failed_probes.saturating_add(1);
                let retry_in = outage.back_off(config);
                Some(Transition::Down { retry_in })
            }
            // Already down: the failure of a call let through before the outage began, or of
            // a probe of an earlier outage, tells nothing new.
            (Some(_), _) => None,
            // Up: any failed call counts, even a probe whose outage has since ended.
            (None, _) => {
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                if self.consecutive_failures < config.failure_threshold() {
                    return None;
                }
                let mut outage = Outage {
                    id: self.next_serial(),
                    until: Instant::now(),
                    failed_probes: 0,
                    probe: None,
                };
                let retry_in = outage.back_off(config);
                self.outage = Some(outage);
                Some(Transition::Down { retry_in })
            }
        }
    }
}

impl Outage {
    /// Sets the time of the next probe, the backoff doubled per failed probe and jittered;
    /// returns the wait.
    fn back_off(&mut self, config: &HealthConfig) -> Duration {
        let base = exponential(
            config.initial_backoff(),
            config.max_backoff(),
            self.failed_probes.saturating_add(1),
        );
        let retry_in = jittered(base);
        self.until = later(Instant::now(), retry_in);
        retry_in
    }
}

/// `now + wait`, or the latest instant this platform can represent within it: a huge backoff
/// means "not for a very long time", never a panic.
pub(super) fn later(now: Instant, wait: Duration) -> Instant {
    let mut wait = wait;
    loop {
        // Halving reaches zero within about 94 steps, and `now + 0` always exists.
        match now.checked_add(wait) {
            Some(instant) => return instant,
            None => wait /= 2,
        }
    }
}
