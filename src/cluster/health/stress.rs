//! Many threads recording successes, failures and probes at random against one health state,
//! with its invariants checked throughout.
//!
//! Runs for about a second by default; `MEMCACHE_SYNC_STRESS_SECS=60` runs it for a minute.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::*;
use crate::error::Error;

const THREADS: usize = 12;
const THRESHOLD: u32 = 3;

fn run_time() -> Duration {
    let secs = std::env::var("MEMCACHE_SYNC_STRESS_SECS")
        .ok()
        .and_then(|secs| secs.parse::<f64>().ok())
        .unwrap_or(1.0);
    Duration::from_secs_f64(secs.clamp(0.1, 3600.0))
}

/// xorshift64*: random enough to vary the interleavings, and reproducible from its seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// The probes the threads hold, by the outage each probes: two for one outage at once would
/// break "at most one probe in flight". A holder removes its own before giving its verdict,
/// since from then on the next caller may probe.
#[derive(Default)]
struct InFlight(Mutex<HashMap<u64, ProbeId>>);

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, ProbeId>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn start(&self, probe: ProbeId) {
        if let Some(other) = self.lock().insert(probe.outage, probe) {
            panic!("{probe:?} admitted while {other:?} probes the same outage");
        }
    }

    fn end(&self, probe: ProbeId) {
        assert_eq!(self.lock().remove(&probe.outage), Some(probe));
    }
}

/// One random call: admitted or refused, then a random verdict (or, for a probe, sometimes
/// abandoned as by a panicking caller).
fn random_call(health: &Health, in_flight: &InFlight, rng: &mut Rng, probes: &AtomicU64) {
    let admission = match health.admit("s") {
        Ok(admission) => admission,
        Err(Error::ServerDown { .. }) => {
            // A refused caller goes on to other work; spinning on the lock would starve the
            // probe holders on a small machine.
            thread::yield_now();
            return;
        }
        Err(other) => panic!("admit failed with {other:?}"),
    };
    if let Admission::Probe(probe) = admission {
        in_flight.start(probe);
        probes.fetch_add(1, Ordering::Relaxed);
    }
    if rng.below(4) == 0 {
        thread::yield_now(); // a call takes time: let others change the state meanwhile
    }
    if let Admission::Probe(probe) = admission {
        in_flight.end(probe);
        if rng.below(20) == 0 {
            health.abandon_probe(probe);
            return;
        }
    }
    let verdict = match rng.below(10) {
        0..=1 => Verdict::Answered,
        2..=8 => Verdict::Unreachable,
        _ => Verdict::Unknown,
    };
    health.record(admission, verdict);
}

/// Only failures, from every thread: once down, the server stays down, and probes go on.
fn keep_failing(health: &Health, in_flight: &InFlight, probes: &AtomicU64, until: Instant) {
    while Instant::now() < until {
        if let Ok(admission) = health.admit("s") {
            if let Admission::Probe(probe) = admission {
                in_flight.start(probe);
                probes.fetch_add(1, Ordering::Relaxed);
                in_flight.end(probe);
            }
            health.record(admission, Verdict::Unreachable);
        }
        assert!(health.is_down(), "a server that only fails was marked up");
    }
}

#[test]
fn many_threads_churning_keep_the_health_state_consistent_and_a_failing_server_goes_down() {
    // A backoff of microseconds: probes come often, and some callers still meet the wait.
    let health = Health::new(
        HealthConfig::default()
            .with_failure_threshold(THRESHOLD)
            .with_backoff(Duration::from_micros(5), Duration::from_micros(100)),
    );
    let in_flight = InFlight::default();
    let (probes, calls) = (AtomicU64::new(0), AtomicU64::new(0));
    let churning = AtomicBool::new(true);
    let start = Barrier::new(THREADS + 1);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |since| since.as_nanos() as u64);
    thread::scope(|scope| {
        for index in 0..THREADS {
            let (health, in_flight, probes, calls) = (&health, &in_flight, &probes, &calls);
            let (churning, start) = (&churning, &start);
            let mut rng = Rng((seed ^ (index as u64 + 1).wrapping_mul(0x9e37_79b9)) | 1);
            scope.spawn(move || {
                start.wait();
                let mut count = 0;
                while churning.load(Ordering::Relaxed) {
                    random_call(health, in_flight, &mut rng, probes);
                    count += 1;
                    if count % 16 == 0 {
                        health.assert_consistent();
                    }
                }
                calls.fetch_add(count, Ordering::Relaxed);
            });
        }
        start.wait();
        thread::sleep(run_time());
        churning.store(false, Ordering::Relaxed);
    });
    health.assert_consistent();
    assert!(in_flight.lock().is_empty());
    let churn_probes = probes.load(Ordering::Relaxed);
    assert!(
        churn_probes > 0,
        "no probe in {} calls (seed {seed})",
        calls.load(Ordering::Relaxed)
    );

    // The churn is over and the server only fails now: within its threshold it is down.
    for _ in 0..THRESHOLD {
        if let Ok(admission) = health.admit("s") {
            health.record(admission, Verdict::Unreachable);
        }
    }
    assert!(health.is_down(), "not down after {THRESHOLD} failures");
    health.assert_consistent();

    let until = Instant::now() + Duration::from_millis(200);
    thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| keep_failing(&health, &in_flight, &probes, until));
        }
    });
    health.assert_consistent();
    assert!(
        probes.load(Ordering::Relaxed) > churn_probes,
        "no probe of a server that stays down"
    );
}
