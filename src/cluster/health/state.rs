//! One server's health: the state every thread shares, and the rules that change it.
//!
//! # Invariant
//! Everything about a server's health (its consecutive failures, whether fail-open keeps it
//! up, its outage and the outage's probe, the outages it remembers) is one [`State`] behind
//! one lock. Every change is made by one call of [`Health::change`], which decides from that
//! state alone, so any interleaving of threads reaches only states that some order of
//! single-threaded calls reaches.
//!
//! The server's place in its [`Fleet`]'s counts changes in the same call, while the lock is
//! held: the compare-and-swap that takes a place among the down servers comes before the
//! outage is set and decides whether it is set at all, and the place is given back in the
//! call that ends the outage. So whenever the lock is free, the server is counted down
//! exactly while its outage is set, and kept up exactly while `kept_up` is (see `fleet.rs`
//! for what that gives the fleet).
//!
//! Beside the lock, `hint` summarises the state in one atomic byte so that calls to a healthy
//! server need no lock. It is written only by [`Health::change`], while the lock is held:
//! whenever the lock is free, `hint == state.summary()`. A thread that reads it without the
//! lock may see a value older than the state; it then acts as if its call came just before
//! the changes it missed, which the single-threaded rules allow. The hint is only ever used to skip work that would
//! change nothing: admitting a call to an up server, and recording a success on a server whose
//! last outcome was a success.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::fleet::{Fleet, Marking};
use super::{Admission, Change, Failure, HealthConfig, ProbeId, Transition, Verdict};
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
    fleet: Arc<Fleet>,
    /// `state.summary()`, readable without the lock; see the module's invariant.
    hint: AtomicU8,
    state: Mutex<State>,
}

/// The authoritative health of a server.
#[derive(Debug, Default)]
struct State {
    /// Hard failures since the last answer, counted while the server is up.
    hard_failures: u32,
    /// Timeouts since the last answer, counted while the server is up.
    soft_failures: u32,
    /// At its threshold, but kept up because the fleet's share of down servers is used up.
    kept_up: bool,
    /// Set exactly while the server is marked down.
    outage: Option<Outage>,
    /// The last number given to an outage or a probe, so none is ever given twice.
    serial: u64,
    /// Outages the flap memory holds, this one included while down; at most `flap_cap`.
    recent_outages: u32,
    /// When the last outage ended: the quiet since then forgets remembered outages.
    last_up: Option<Instant>,
    /// Removed from the cluster's list: its places in the fleet given back, nothing it
    /// learns counts any more.
    retired: bool,
}

#[derive(Debug)]
struct Outage {
    id: u64,
    /// No probe before this.
    until: Instant,
    failed_probes: u32,
    /// Earlier outages the flap memory held when this one began.
    remembered: u32,
    /// The probe in flight, if any: at most one at a time.
    probe: Option<ProbeId>,
}

impl Health {
    pub(crate) fn new(config: HealthConfig, fleet: Arc<Fleet>) -> Self {
        Self {
            config,
            fleet,
            hint: AtomicU8::new(UP),
            state: Mutex::new(State::default()),
        }
    }

    /// A server on its own: a fleet of one, which fail-open never keeps up.
    #[cfg(test)]
    pub(crate) fn alone(config: HealthConfig) -> Self {
        Self::new(config, Arc::new(Fleet::alone()))
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
    pub(crate) fn record(&self, admission: Admission, verdict: Verdict) -> Change {
        match (verdict, admission) {
            // Skipping the lock cannot strand a probe: its holder's own admission stored DOWN,
            // so it reads UP only once that outage is over and its probe is stale.
            (Verdict::Answered, _) if self.hint.load(Ordering::Acquire) == UP => Change::NONE,
            (Verdict::Answered, admission) => {
                self.change(|state| state.answered(admission, &self.fleet))
            }
            // The call never reached the server (say, no pooled connection came free): it
            // proves nothing, and a probe that did not happen lets the next caller probe.
            (Verdict::Unknown, Admission::Probe(probe)) => {
                self.abandon_probe(probe);
                Change::NONE
            }
            (Verdict::Unknown, Admission::Go) => Change::NONE,
            (Verdict::Unreachable(failure), admission) => self
                .change(|state| state.unreachable(admission, failure, &self.config, &self.fleet)),
        }
    }

    /// Gives up a probe whose outcome will never be recorded (its caller panicked, or the
    /// call went elsewhere), so the next caller may probe. A probe the state no longer waits
    /// for changes nothing.
    pub(crate) fn abandon_probe(&self, probe: ProbeId) {
        self.change(|state| state.release(probe));
    }

    /// Takes the server out of its fleet's counts for good, as it leaves the cluster's list:
    /// gives back its place among the down or kept-up servers, in the same step, under the
    /// lock, so the fleet never counts it twice or after. Calls still in flight on it record
    /// nothing afterwards. Returns fail-open's end if it was the last server kept up.
    pub(crate) fn retire(&self) -> Change {
        self.change(|state| state.retire(&self.fleet))
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
        let (down, kept_up) = self.fleet.counts();
        assert!(
            down <= self.fleet.max_down(),
            "{down} down in {:?}",
            self.fleet
        );
        assert!(
            state.recent_outages <= flap_cap(&self.config),
            "remembers more than matters: {state:?}"
        );
        match &state.outage {
            None => {
                assert_eq!(
                    state.kept_up,
                    state.reached(&self.config),
                    "up at the failure threshold only when kept up: {state:?}"
                );
                // This server's own place is counted: only it changes its places, under the
                // lock held here.
                assert!(
                    !state.kept_up || kept_up >= 1,
                    "kept up uncounted: {state:?}"
                );
            }
            Some(outage) => {
                assert!(!state.kept_up, "down and kept up: {state:?}");
                assert!(down >= 1, "down uncounted: {state:?}");
                assert!(outage.id <= state.serial, "{state:?}");
                if let Some(probe) = outage.probe {
                    assert_eq!(probe.outage, outage.id, "{state:?}");
                    assert!(probe.probe <= state.serial, "{state:?}");
                }
            }
        }
    }

    /// Lets the next caller probe now, as if the outage's backoff had passed: for tests that
    /// end an outage the one way it ends, by its probe's answer, without waiting.
    #[cfg(test)]
    pub(crate) fn end_backoff(&self) {
        self.change(|state| {
            if let Some(outage) = &mut state.outage {
                outage.until = Instant::now();
            }
        });
    }

    /// The probe the state waits for, if any.
    #[cfg(test)]
    pub(crate) fn probe_in_flight(&self) -> Option<ProbeId> {
        self.lock().outage.as_ref().and_then(|outage| outage.probe)
    }

    /// Whether fail-open keeps the server up at its threshold.
    #[cfg(test)]
    pub(crate) fn is_kept_up(&self) -> bool {
        self.lock().kept_up
    }
}

/// Panics unless `fleet`'s counts are exactly the number of `healths` down and kept up:
/// with every server's lock held (taken in order, the only place that holds two), no change
/// is half done. `healths` must be every server of the fleet.
#[cfg(test)]
pub(crate) fn assert_fleet_consistent(fleet: &Fleet, healths: &[&Health]) {
    let states: Vec<MutexGuard<'_, State>> = healths.iter().map(|health| health.lock()).collect();
    let down = states.iter().filter(|state| state.outage.is_some()).count();
    let kept_up = states.iter().filter(|state| state.kept_up).count();
    let (counted_down, counted_kept_up) = fleet.counts();
    assert_eq!(
        (counted_down as usize, counted_kept_up as usize),
        (down, kept_up),
        "the fleet's (down, kept up) counts disagree with its servers"
    );
    assert!(counted_down <= fleet.max_down());
}

impl State {
    fn summary(&self) -> u8 {
        match (&self.outage, self.hard_failures, self.soft_failures) {
            (Some(_), _, _) => DOWN,
            (None, 0, 0) => UP,
            (None, _, _) => FAILING,
        }
    }

    fn next_serial(&mut self) -> u64 {
        self.serial += 1;
        self.serial
    }

    /// Whether the failures since the last answer reach the threshold, each counted by its
    /// weight: `hard / failure_threshold + soft / timeout_threshold >= 1`, in integers. With
    /// equal thresholds, any mix of `threshold` failures reaches it.
    fn reached(&self, config: &HealthConfig) -> bool {
        let (hard, soft) = (
            u128::from(self.hard_failures),
            u128::from(self.soft_failures),
        );
        let hard_threshold = u128::from(config.failure_threshold());
        let soft_threshold = u128::from(config.timeout_threshold());
        hard * soft_threshold + soft * hard_threshold >= hard_threshold * soft_threshold
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

    /// The server answered: whatever it had, it is up with a clean slate. During an outage
    /// only its probe counts: every other call was let through before the outage began, and
    /// its answer may have left the server before the failures that began it (a reply read
    /// just before a kill, recorded just after the marking), so it must not end the outage,
    /// as such a call's failure does not extend it.
    fn answered(&mut self, admission: Admission, fleet: &Fleet) -> Change {
        if let Some(outage) = &self.outage {
            if !matches!(admission, Admission::Probe(probe) if outage.probe == Some(probe)) {
                return Change::NONE;
            }
        }
        self.hard_failures = 0;
        self.soft_failures = 0;
        let mut change = Change::NONE;
        if std::mem::take(&mut self.kept_up) {
            change.fail_open = fleet.answered_while_kept_up();
        }
        if self.outage.take().is_some() {
            fleet.up();
            self.last_up = Some(Instant::now());
            change.server = Some(Transition::Up);
        }
        change
    }

    fn retire(&mut self, fleet: &Fleet) -> Change {
        if std::mem::replace(&mut self.retired, true) {
            return Change::NONE;
        }
        self.hard_failures = 0;
        self.soft_failures = 0;
        let mut change = Change::NONE;
        if std::mem::take(&mut self.kept_up) {
            change.fail_open = fleet.answered_while_kept_up();
        }
        if self.outage.take().is_some() {
            fleet.up();
        }
        change
    }

    /// Frees the probe slot if `probe` holds it.
    fn release(&mut self, probe: ProbeId) {
        if let Some(outage) = &mut self.outage {
            if outage.probe == Some(probe) {
                outage.probe = None;
            }
        }
    }

    fn unreachable(
        &mut self,
        admission: Admission,
        failure: Failure,
        config: &HealthConfig,
        fleet: &Fleet,
    ) -> Change {
        if self.retired {
            return Change::NONE;
        }
        match (&mut self.outage, admission) {
            (Some(outage), Admission::Probe(probe)) if outage.probe == Some(probe) => {
                outage.probe = None;
                outage.failed_probes = outage.failed_probes.saturating_add(1);
                let retry_in = outage.back_off(config);
                Change::server(Transition::StillDown { retry_in })
            }
            // Already down: the failure of a call let through before the outage began, or of
            // a probe of an earlier outage, tells nothing new.
            (Some(_), _) => Change::NONE,
            // Up: any failed call counts, even a probe whose outage has since ended.
            (None, _) => {
                let count = match failure {
                    Failure::Hard => &mut self.hard_failures,
                    Failure::Soft => &mut self.soft_failures,
                };
                *count = count.saturating_add(1);
                if !self.reached(config) {
                    return Change::NONE;
                }
                let (hard, soft) = (self.hard_failures, self.soft_failures);
                // The fleet decides before the outage is set: see the module's invariant.
                match fleet.mark_down(self.kept_up) {
                    Marking::Down { fail_open } => {
                        self.kept_up = false;
                        let (retry_in, recent_outages) = self.begin_outage(config);
                        Change {
                            server: Some(Transition::Down {
                                retry_in,
                                hard,
                                soft,
                                recent_outages,
                            }),
                            fail_open,
                        }
                    }
                    Marking::KeptUp { fail_open } => {
                        let newly = !std::mem::replace(&mut self.kept_up, true);
                        Change {
                            server: newly.then_some(Transition::KeptUp { hard, soft }),
                            fail_open,
                        }
                    }
                }
            }
        }
    }

    /// Sets a new outage, its first backoff doubled per outage the flap memory holds; returns
    /// the wait and that number.
    fn begin_outage(&mut self, config: &HealthConfig) -> (Duration, u32) {
        let now = Instant::now();
        let remembered = self.remember_outage(now, config);
        let mut outage = Outage {
            id: self.next_serial(),
            until: now,
            failed_probes: 0,
            remembered,
            probe: None,
        };
        let retry_in = outage.back_off(config);
        self.outage = Some(outage);
        (retry_in, remembered)
    }

    /// Forgets one remembered outage per flap memory of quiet since the last one ended, then
    /// remembers the one beginning at `now`; returns how many were remembered before it.
    fn remember_outage(&mut self, now: Instant, config: &HealthConfig) -> u32 {
        let memory = config.flap_memory();
        if memory.is_zero() {
            return 0;
        }
        let quiet = self
            .last_up
            .map_or(Duration::ZERO, |up| now.saturating_duration_since(up));
        let forgotten = u32::try_from(quiet.as_nanos() / memory.as_nanos()).unwrap_or(u32::MAX);
        let remembered = self.recent_outages.saturating_sub(forgotten);
        self.recent_outages = remembered.saturating_add(1).min(flap_cap(config));
        remembered
    }
}

/// The most outages worth remembering: enough doublings to take the initial backoff to its
/// cap, past which more would change nothing (and would take longer to forget).
fn flap_cap(config: &HealthConfig) -> u32 {
    let (initial, max) = (config.initial_backoff(), config.max_backoff());
    (0..32)
        .find(|&doublings| exponential(initial, max, doublings + 1) >= max)
        .unwrap_or(32)
}

impl Outage {
    /// Sets the time of the next probe, the backoff doubled per failed probe and per
    /// remembered outage, and jittered; returns the wait.
    fn back_off(&mut self, config: &HealthConfig) -> Duration {
        let doublings = self.failed_probes.saturating_add(self.remembered);
        let base = exponential(
            config.initial_backoff(),
            config.max_backoff(),
            doublings.saturating_add(1),
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
