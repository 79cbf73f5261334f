//! The health rules, one behaviour per test.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::state::later;
use super::*;
use crate::batch::{BatchReport, ItemResult};
use crate::error::Error;
use crate::protocol::{KeyError, ServerErrorKind};

fn health(threshold: u32, backoff_ms: u64) -> Health {
    let backoff = Duration::from_millis(backoff_ms);
    Health::new(
        HealthConfig::default()
            .with_failure_threshold(threshold)
            .with_backoff(backoff, backoff * 8),
    )
}

/// The probe `admit` hands out; panics on anything else.
fn probe(h: &Health) -> ProbeId {
    match h.admit("s") {
        Ok(Admission::Probe(probe)) => probe,
        other => panic!("expected a probe, got {other:?}"),
    }
}

fn is_down(transition: Option<Transition>) -> bool {
    matches!(transition, Some(Transition::Down { .. }))
}

#[test]
fn a_server_goes_down_only_after_the_threshold_of_consecutive_failures() {
    let h = health(3, 1000);
    assert_eq!(h.record(Admission::Go, Verdict::Unreachable), None);
    assert_eq!(h.record(Admission::Go, Verdict::Answered), None); // a success resets the count
    assert_eq!(h.record(Admission::Go, Verdict::Unreachable), None);
    assert_eq!(h.record(Admission::Go, Verdict::Unreachable), None);
    assert!(is_down(h.record(Admission::Go, Verdict::Unreachable)));
    assert!(matches!(h.admit("s"), Err(Error::ServerDown { .. })));
}

#[test]
fn after_the_backoff_exactly_one_caller_probes_while_others_fail_fast() {
    let h = health(1, 20);
    h.record(Admission::Go, Verdict::Unreachable);
    assert!(h.admit("s").is_err());
    thread::sleep(Duration::from_millis(25));
    let first = probe(&h);
    assert!(h.admit("s").is_err(), "a second caller must not probe too");
    assert_eq!(
        h.record(Admission::Probe(first), Verdict::Answered),
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
    assert!(is_down(h.record(Admission::Go, Verdict::Unreachable)));
    thread::sleep(Duration::from_millis(25));
    let first = probe(&h);
    assert_eq!(h.record(Admission::Probe(first), Verdict::Unknown), None);
    assert!(
        h.is_down(),
        "an unknown outcome does not mark the server up"
    );
    probe(&h); // the next caller may probe
}

#[test]
fn a_failed_probe_keeps_the_server_down_with_a_longer_backoff() {
    let h = health(1, 20);
    let Some(Transition::Down { retry_in: first }) = h.record(Admission::Go, Verdict::Unreachable)
    else {
        panic!("down expected");
    };
    thread::sleep(first + Duration::from_millis(2));
    let attempt = probe(&h);
    let Some(Transition::Down { retry_in: second }) =
        h.record(Admission::Probe(attempt), Verdict::Unreachable)
    else {
        panic!("still down expected");
    };
    assert!(
        second >= Duration::from_millis(20),
        "{second:?}: doubled base, at least half of 40 ms"
    );
    assert!(h.admit("s").is_err());
}

/// The reported bug: a success cleared the outage under the lock but the "down" flag after
/// it, so failures recorded in between left an outage with the flag off, and the server was
/// never marked down again. One thread records successes, two record failures; the state
/// must stay consistent throughout, and failures after the churn must mark the server down.
#[test]
fn a_success_recorded_while_others_fail_cannot_switch_dead_host_marking_off() {
    let started = Instant::now();
    for _round in 0..5 {
        let h = Arc::new(Health::new(
            HealthConfig::default().with_backoff(Duration::ZERO, Duration::ZERO),
        ));
        let stop = Arc::new(AtomicBool::new(false));
        let succeeding = {
            let (h, stop) = (h.clone(), stop.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    // A call let through before the outage began answers during it.
                    h.record(Admission::Go, Verdict::Answered);
                }
            })
        };
        let failing: Vec<_> = (0..2)
            .map(|_| {
                let (h, stop) = (h.clone(), stop.clone());
                thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        if let Ok(admission) = h.admit("s") {
                            h.record(admission, Verdict::Unreachable);
                        }
                        h.assert_consistent();
                    }
                })
            })
            .collect();
        thread::sleep(Duration::from_millis(100));
        stop.store(true, Ordering::Relaxed);
        succeeding.join().unwrap();
        for thread in failing {
            thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        }
        h.assert_consistent();
        for _ in 0..HealthConfig::default().failure_threshold() {
            if let Ok(admission) = h.admit("s") {
                h.record(admission, Verdict::Unreachable);
            }
        }
        assert!(h.is_down(), "not marked down after {:?}", started.elapsed());
    }
}

#[test]
fn a_stale_probes_late_verdict_does_not_free_a_newer_probes_slot() {
    let h = health(1, 0);
    h.record(Admission::Go, Verdict::Unreachable);
    let stale = probe(&h);
    // A call let through before the outage answers: the server is up, and `stale` probes an
    // outage that is over. Then the server fails again and a new probe starts.
    assert_eq!(
        h.record(Admission::Go, Verdict::Answered),
        Some(Transition::Up)
    );
    assert!(is_down(h.record(Admission::Go, Verdict::Unreachable)));
    let current = probe(&h);
    assert_ne!(stale, current);

    assert_eq!(h.record(Admission::Probe(stale), Verdict::Unknown), None);
    h.abandon_probe(stale);
    assert_eq!(
        h.record(Admission::Probe(stale), Verdict::Unreachable),
        None
    );
    assert!(
        matches!(h.admit("s"), Err(Error::ServerDown { .. })),
        "a second probe while the current one is in flight"
    );
    assert_eq!(h.probe_in_flight(), Some(current));

    assert_eq!(h.record(Admission::Probe(current), Verdict::Unknown), None);
    assert_ne!(
        probe(&h),
        current,
        "the slot is free once its own probe gives it up"
    );
}

#[test]
fn a_probe_that_sent_nothing_does_not_mark_the_server_up() {
    let nothing_sent: BatchReport<()> = BatchReport {
        results: vec![
            ItemResult::Failed(Error::InvalidKey(KeyError::Empty)),
            ItemResult::NotSent,
        ],
        stop_error: None,
        not_taken: Some(0),
    };
    assert_eq!(Verdict::of_batch(&nothing_sent), Verdict::Unknown);

    let h = health(1, 0);
    h.record(Admission::Go, Verdict::Unreachable);
    let attempt = probe(&h);
    let verdict = Verdict::of_batch(&nothing_sent);
    assert_eq!(h.record(Admission::Probe(attempt), verdict), None);
    assert!(h.is_down());
    probe(&h); // and the next caller may probe

    let answered: BatchReport<()> = BatchReport {
        results: vec![
            ItemResult::Failed(Error::InvalidKey(KeyError::Empty)),
            ItemResult::Failed(Error::ServerError {
                kind: ServerErrorKind::OutOfMemory,
                message: "out of memory".into(),
            }),
        ],
        stop_error: None,
        not_taken: Some(0),
    };
    assert_eq!(Verdict::of_batch(&answered), Verdict::Answered);
}

#[test]
fn a_huge_backoff_saturates_instead_of_panicking() {
    let h = Health::new(
        HealthConfig::default()
            .with_failure_threshold(1)
            .with_backoff(Duration::MAX, Duration::MAX),
    );
    let Some(Transition::Down { retry_in }) = h.record(Admission::Go, Verdict::Unreachable) else {
        panic!("down expected");
    };
    assert!(retry_in >= Duration::MAX / 2, "{retry_in:?}");
    let century = Duration::from_secs(100 * 365 * 24 * 3600);
    match h.admit("s") {
        Err(Error::ServerDown { retry_in, .. }) => assert!(retry_in > century, "{retry_in:?}"),
        other => panic!("expected ServerDown, got {other:?}"),
    }
    let now = Instant::now();
    assert!(later(now, Duration::MAX) > now + century);
    assert_eq!(later(now, Duration::ZERO), now);
}
