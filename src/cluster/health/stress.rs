//! Many threads recording successes, failures and probes at random against health states
//! (one server alone, and a fleet of servers under fail-open), with their invariants checked
//! throughout.
//!
//! Each test runs for about a second by default; `MEMCACHE_SYNC_STRESS_SECS=60` runs each for
//! a minute.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::state::assert_fleet_consistent;
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

fn seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |since| since.as_nanos() as u64)
}

/// xorshift64*: random enough to vary the interleavings, and reproducible from its seed.
struct Rng(u64);

impl Rng {
    fn for_thread(seed: u64, index: usize) -> Self {
        Self((seed ^ (index as u64 + 1).wrapping_mul(0x9e37_79b9)) | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// The probes the threads hold, by server and the outage each probes: two for one outage at
/// once would break "at most one probe in flight". A holder removes its own before giving
/// its verdict, since from then on the next caller may probe.
#[derive(Default)]
struct InFlight(Mutex<HashMap<(usize, u64), ProbeId>>);

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(usize, u64), ProbeId>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn start(&self, server: usize, probe: ProbeId) {
        if let Some(other) = self.lock().insert((server, probe.outage), probe) {
            panic!("{probe:?} admitted on server {server} while {other:?} probes the same outage");
        }
    }

    fn end(&self, server: usize, probe: ProbeId) {
        assert_eq!(self.lock().remove(&(server, probe.outage)), Some(probe));
    }
}

/// One random call to server `server`: admitted or refused, then a random verdict (or, for
/// a probe, sometimes abandoned as by a panicking caller).
fn random_call(
    health: &Health,
    server: usize,
    in_flight: &InFlight,
    rng: &mut Rng,
    probes: &AtomicU64,
) {
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
        in_flight.start(server, probe);
        probes.fetch_add(1, Ordering::Relaxed);
    }
    if rng.below(4) == 0 {
        thread::yield_now(); // a call takes time: let others change the state meanwhile
    }
    if let Admission::Probe(probe) = admission {
        in_flight.end(server, probe);
        if rng.below(20) == 0 {
            health.abandon_probe(probe);
            return;
        }
    }
    let verdict = match rng.below(10) {
        0..=1 => Verdict::Answered,
        2..=5 => Verdict::Unreachable(Failure::Hard),
        6..=8 => Verdict::Unreachable(Failure::Soft),
        _ => Verdict::Unknown,
    };
    health.record(admission, verdict);
}

/// A failure recorded on `health` if it admits the call.
fn fail(health: &Health, server: usize, in_flight: &InFlight, probes: &AtomicU64) {
    if let Ok(admission) = health.admit("s") {
        if let Admission::Probe(probe) = admission {
            in_flight.start(server, probe);
            probes.fetch_add(1, Ordering::Relaxed);
            in_flight.end(server, probe);
        }
        health.record(admission, Verdict::Unreachable(Failure::Hard));
    }
}

/// Only failures, from every thread: once down, the server stays down, and probes go on.
fn keep_failing(health: &Health, in_flight: &InFlight, probes: &AtomicU64, until: Instant) {
    while Instant::now() < until {
        fail(health, 0, in_flight, probes);
        assert!(health.is_down(), "a server that only fails was marked up");
    }
}

/// A config whose backoff of microseconds makes probes come often, while some callers still
/// meet the wait.
fn churn_config() -> HealthConfig {
    HealthConfig::default()
        .with_failure_threshold(THRESHOLD)
        .with_timeout_threshold(THRESHOLD + 1)
        .with_backoff(Duration::from_micros(5), Duration::from_micros(100))
        .with_flap_memory(Duration::from_micros(200))
}

#[test]
fn many_threads_churning_keep_the_health_state_consistent_and_a_failing_server_goes_down() {
    let health = Health::alone(churn_config());
    let in_flight = InFlight::default();
    let (probes, calls) = (AtomicU64::new(0), AtomicU64::new(0));
    let churning = AtomicBool::new(true);
    let start = Barrier::new(THREADS + 1);
    let seed = seed();
    thread::scope(|scope| {
        for index in 0..THREADS {
            let (health, in_flight, probes, calls) = (&health, &in_flight, &probes, &calls);
            let (churning, start) = (&churning, &start);
            let mut rng = Rng::for_thread(seed, index);
            scope.spawn(move || {
                start.wait();
                let mut count = 0;
                while churning.load(Ordering::Relaxed) {
                    random_call(health, 0, in_flight, &mut rng, probes);
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
        fail(&health, 0, &in_flight, &probes);
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

const SERVERS: usize = 5;
const MAX_DOWN: usize = 2;

#[test]
fn a_churning_fleet_never_has_more_than_its_share_down_and_its_counts_match_its_servers() {
    let fleet = Arc::new(Fleet::new(SERVERS, MAX_DOWN, None));
    let servers: Vec<Health> = (0..SERVERS)
        .map(|_| Health::new(churn_config(), Arc::clone(&fleet)))
        .collect();
    let all: Vec<&Health> = servers.iter().collect();
    let in_flight = InFlight::default();
    let (probes, calls, fleet_checks) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    let (churning, failing_open) = (AtomicBool::new(true), AtomicBool::new(false));
    let start = Barrier::new(THREADS + 2);
    let seed = seed();
    thread::scope(|scope| {
        for index in 0..THREADS {
            let (servers, fleet, in_flight) = (&servers, &fleet, &in_flight);
            let (probes, calls, churning, start) = (&probes, &calls, &churning, &start);
            let failing_open = &failing_open;
            let mut rng = Rng::for_thread(seed, index);
            scope.spawn(move || {
                start.wait();
                let mut count = 0;
                while churning.load(Ordering::Relaxed) {
                    let server = rng.below(SERVERS as u64) as usize;
                    random_call(&servers[server], server, in_flight, &mut rng, probes);
                    let (down, _) = fleet.counts();
                    assert!(down as usize <= MAX_DOWN, "{down} down (seed {seed})");
                    if fleet.is_failing_open() {
                        failing_open.store(true, Ordering::Relaxed);
                    }
                    count += 1;
                    if count % 16 == 0 {
                        servers[server].assert_consistent();
                    }
                }
                calls.fetch_add(count, Ordering::Relaxed);
            });
        }
        // With every server's lock held, no change is half done: the counts must be exact.
        scope.spawn(|| {
            start.wait();
            while churning.load(Ordering::Relaxed) {
                assert_fleet_consistent(&fleet, &all);
                fleet_checks.fetch_add(1, Ordering::Relaxed);
                thread::sleep(Duration::from_micros(200));
            }
        });
        start.wait();
        thread::sleep(run_time());
        churning.store(false, Ordering::Relaxed);
    });
    let summary = format!(
        "{} calls, {} probes, {} fleet checks (seed {seed})",
        calls.load(Ordering::Relaxed),
        probes.load(Ordering::Relaxed),
        fleet_checks.load(Ordering::Relaxed)
    );
    assert!(in_flight.lock().is_empty(), "{summary}");
    assert_fleet_consistent(&fleet, &all);
    for health in &servers {
        health.assert_consistent();
    }
    assert!(fleet_checks.load(Ordering::Relaxed) > 0, "{summary}");
    assert!(
        failing_open.load(Ordering::Relaxed),
        "fail-open never began: {summary}"
    );

    // Every server only fails now: exactly the share goes down, the others are kept up.
    for _ in 0..3 {
        for (index, health) in servers.iter().enumerate() {
            for _ in 0..THRESHOLD {
                fail(health, index, &in_flight, &probes);
            }
        }
    }
    assert_fleet_consistent(&fleet, &all);
    assert_eq!(
        fleet.counts(),
        (MAX_DOWN as u32, (SERVERS - MAX_DOWN) as u32),
        "{summary}"
    );
    assert_eq!(servers.iter().filter(|h| h.is_down()).count(), MAX_DOWN);
    assert!(fleet.is_failing_open());

    // And then every server answers: none is down or kept up, and fail-open is over.
    for health in &servers {
        if health.is_down() {
            health.end_backoff();
        }
        let admission = health.admit("s").expect("a probe once the backoff is over");
        health.record(admission, Verdict::Answered);
    }
    assert_fleet_consistent(&fleet, &all);
    assert_eq!(fleet.counts(), (0, 0));
    assert!(!fleet.is_failing_open());
    assert!(servers.iter().all(|h| !h.is_down() && !h.is_kept_up()));
}
