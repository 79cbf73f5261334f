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
    Health::alone(
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

/// Ends `h`'s outage the one way an outage ends: its probe, let through at once, answers.
fn probe_answers(h: &Health) -> Change {
    h.end_backoff();
    let probe = probe(h);
    h.record(Admission::Probe(probe), Verdict::Answered)
}

const HARD: Verdict = Verdict::Unreachable(Failure::Hard);
const SOFT: Verdict = Verdict::Unreachable(Failure::Soft);

fn is_down(transition: Option<Transition>) -> bool {
    matches!(transition, Some(Transition::Down { .. }))
}

#[test]
fn a_server_goes_down_only_after_the_threshold_of_consecutive_failures() {
    let h = health(3, 1000);
    assert_eq!(h.record(Admission::Go, HARD).server, None);
    assert_eq!(h.record(Admission::Go, Verdict::Answered).server, None); // a success resets the count
    assert_eq!(h.record(Admission::Go, HARD).server, None);
    assert_eq!(h.record(Admission::Go, HARD).server, None);
    assert!(is_down(h.record(Admission::Go, HARD).server));
    assert!(matches!(h.admit("s"), Err(Error::ServerDown { .. })));
}

#[test]
fn after_the_backoff_exactly_one_caller_probes_while_others_fail_fast() {
    let h = health(1, 20);
    h.record(Admission::Go, HARD);
    assert!(h.admit("s").is_err());
    thread::sleep(Duration::from_millis(25));
    let first = probe(&h);
    assert!(h.admit("s").is_err(), "a second caller must not probe too");
    assert_eq!(
        h.record(Admission::Probe(first), Verdict::Answered).server,
        Some(Transition::Up)
    );
    assert_eq!(h.admit("s").unwrap(), Admission::Go);
    assert!(!h.is_down());
}

#[test]
fn a_call_that_never_reached_the_server_neither_resets_failures_nor_ends_an_outage() {
    let h = health(2, 20);
    h.record(Admission::Go, HARD);
    assert_eq!(h.record(Admission::Go, Verdict::Unknown).server, None);
    assert!(is_down(h.record(Admission::Go, HARD).server));
    thread::sleep(Duration::from_millis(25));
    let first = probe(&h);
    assert_eq!(
        h.record(Admission::Probe(first), Verdict::Unknown).server,
        None
    );
    assert!(
        h.is_down(),
        "an unknown outcome does not mark the server up"
    );
    probe(&h); // the next caller may probe
}

#[test]
fn a_failed_probe_keeps_the_server_down_with_a_longer_backoff() {
    let h = health(1, 20);
    let Some(Transition::Down {
        retry_in: first, ..
    }) = h.record(Admission::Go, HARD).server
    else {
        panic!("down expected");
    };
    thread::sleep(first + Duration::from_millis(2));
    let attempt = probe(&h);
    let Some(Transition::StillDown { retry_in: second }) =
        h.record(Admission::Probe(attempt), HARD).server
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
        let h = Arc::new(Health::alone(
            HealthConfig::default().with_backoff(Duration::ZERO, Duration::ZERO),
        ));
        let stop = Arc::new(AtomicBool::new(false));
        let succeeding = {
            let (h, stop) = (h.clone(), stop.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    // A call let through before the outage began answers during it, and one
                    // let through now (a probe, if the server is down) answers too.
                    h.record(Admission::Go, Verdict::Answered);
                    if let Ok(admission) = h.admit("s") {
                        h.record(admission, Verdict::Answered);
                    }
                }
            })
        };
        let failing: Vec<_> = (0..2)
            .map(|_| {
                let (h, stop) = (h.clone(), stop.clone());
                thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        if let Ok(admission) = h.admit("s") {
                            h.record(admission, HARD);
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
                h.record(admission, HARD);
            }
        }
        assert!(h.is_down(), "not marked down after {:?}", started.elapsed());
    }
}

#[test]
fn a_stale_probes_late_verdict_does_not_free_a_newer_probes_slot() {
    let h = health(1, 0);
    h.record(Admission::Go, HARD);
    let stale = probe(&h);
    // Its call went elsewhere: the probe is given up, and the next caller probes.
    h.abandon_probe(stale);
    let current = probe(&h);
    assert_ne!(stale, current);

    // Late verdicts of the stale probe, whatever they say, change nothing.
    for verdict in [Verdict::Unknown, HARD, Verdict::Answered] {
        assert_eq!(h.record(Admission::Probe(stale), verdict), Change::NONE);
    }
    h.abandon_probe(stale);
    assert!(h.is_down());
    assert!(
        matches!(h.admit("s"), Err(Error::ServerDown { .. })),
        "a second probe while the current one is in flight"
    );
    assert_eq!(h.probe_in_flight(), Some(current));

    assert_eq!(
        h.record(Admission::Probe(current), Verdict::Unknown).server,
        None
    );
    assert_ne!(
        probe(&h),
        current,
        "the slot is free once its own probe gives it up"
    );
}

/// The flapping test's interleaving: a call let through just before the server died reads
/// its reply, and records it only after the server was marked down. That answer predates
/// the failures; only the outage's probe may end it.
#[test]
fn an_answer_to_a_call_let_through_before_the_outage_does_not_end_it() {
    let h = health(1, 0);
    let before = h.admit("s").unwrap();
    assert_eq!(before, Admission::Go);
    assert!(is_down(h.record(Admission::Go, HARD).server));
    assert_eq!(h.record(before, Verdict::Answered), Change::NONE);
    assert!(h.is_down());
    assert_eq!(probe_answers(&h).server, Some(Transition::Up));
    assert!(!h.is_down());
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
    h.record(Admission::Go, HARD);
    let attempt = probe(&h);
    let verdict = Verdict::of_batch(&nothing_sent);
    assert_eq!(h.record(Admission::Probe(attempt), verdict).server, None);
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
    let h = Health::alone(
        HealthConfig::default()
            .with_failure_threshold(1)
            .with_backoff(Duration::MAX, Duration::MAX),
    );
    let Some(Transition::Down { retry_in, .. }) = h.record(Admission::Go, HARD).server else {
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

fn weighted(hard: u32, soft: u32) -> Health {
    Health::alone(
        HealthConfig::default()
            .with_failure_threshold(hard)
            .with_timeout_threshold(soft)
            .with_backoff(Duration::from_secs(1), Duration::from_secs(8)),
    )
}

#[test]
fn refusals_go_down_at_the_failure_threshold_and_timeouts_at_their_own() {
    let refused = weighted(2, 4);
    assert_eq!(refused.record(Admission::Go, HARD), Change::NONE);
    let Some(Transition::Down { hard, soft, .. }) = refused.record(Admission::Go, HARD).server
    else {
        panic!("two refusals reach a failure threshold of 2");
    };
    assert_eq!((hard, soft), (2, 0));

    let slow = weighted(2, 4);
    for timeout in 1..4 {
        assert_eq!(slow.record(Admission::Go, SOFT), Change::NONE, "{timeout}");
        assert!(!slow.is_down());
    }
    let Some(Transition::Down { hard, soft, .. }) = slow.record(Admission::Go, SOFT).server else {
        panic!("four timeouts reach a timeout threshold of 4");
    };
    assert_eq!((hard, soft), (0, 4));
}

#[test]
fn a_mix_of_refusals_and_timeouts_counts_each_by_its_weight_until_an_answer() {
    let h = weighted(2, 4);
    h.record(Admission::Go, HARD);
    h.record(Admission::Go, SOFT);
    assert!(!h.is_down(), "1/2 + 1/4 of the way down");
    h.record(Admission::Go, Verdict::Answered);
    h.record(Admission::Go, HARD);
    h.record(Admission::Go, SOFT);
    assert!(!h.is_down(), "the answer cleared both counts");
    assert!(is_down(h.record(Admission::Go, SOFT).server), "1/2 + 2/4");
}

#[test]
fn without_a_timeout_threshold_any_mix_of_failures_counts_as_one_run() {
    let h = health(3, 1000);
    assert_eq!(HealthConfig::default().timeout_threshold(), 2);
    h.record(Admission::Go, HARD);
    h.record(Admission::Go, SOFT);
    assert!(is_down(h.record(Admission::Go, HARD).server));
}

fn flappy(memory: Duration) -> Health {
    Health::alone(
        HealthConfig::default()
            .with_failure_threshold(1)
            .with_backoff(Duration::from_millis(10), Duration::from_millis(80))
            .with_flap_memory(memory),
    )
}

/// Marks `h` down with one failure; returns the outage's first wait and the outages it
/// remembered.
fn outage(h: &Health) -> (Duration, u32) {
    match h.record(Admission::Go, HARD).server {
        Some(Transition::Down {
            retry_in,
            recent_outages,
            ..
        }) => (retry_in, recent_outages),
        other => panic!("expected a new outage, got {other:?}"),
    }
}

#[test]
fn each_outage_within_the_flap_memory_starts_with_a_doubled_backoff_up_to_the_cap() {
    let h = flappy(Duration::from_secs(60));
    let mut seen = Vec::new();
    for _ in 0..6 {
        seen.push(outage(&h));
        assert_eq!(probe_answers(&h).server, Some(Transition::Up));
        h.assert_consistent();
    }
    let remembered: Vec<u32> = seen.iter().map(|(_, recent)| *recent).collect();
    // 10 ms doubled three times is the 80 ms cap: a fourth outage remembered changes nothing.
    assert_eq!(remembered, [0, 1, 2, 3, 3, 3]);
    for (retry_in, recent) in seen {
        let base = Duration::from_millis(10) * 2u32.pow(recent);
        assert!(
            retry_in >= base / 2 && retry_in <= base,
            "{retry_in:?} after {recent} recent outages"
        );
    }
}

#[test]
fn each_quiet_flap_memory_forgets_one_outage() {
    let memory = Duration::from_millis(100);
    let h = flappy(memory);
    for _ in 0..3 {
        outage(&h);
        probe_answers(&h);
    }
    // The quiet the state measures lies between these bounds, whatever the scheduler does.
    let up = Instant::now();
    thread::sleep(memory * 2 + memory / 2);
    let before = Instant::now();
    let (_, remembered) = outage(&h);
    let (shortest, longest) = (before - up, up.elapsed());
    let forgets = |quiet: Duration| (quiet.as_millis() / memory.as_millis()) as u32;
    let (most, least) = (
        3u32.saturating_sub(forgets(shortest)),
        3u32.saturating_sub(forgets(longest)),
    );
    assert!(
        (least..=most).contains(&remembered),
        "{remembered} remembered after {shortest:?}..{longest:?} of quiet"
    );
    assert!(remembered < 3, "nothing forgotten after {shortest:?}");
}

#[test]
fn without_flap_memory_every_outage_starts_at_the_initial_backoff() {
    let h = flappy(Duration::ZERO);
    for _ in 0..4 {
        let (retry_in, remembered) = outage(&h);
        assert_eq!(remembered, 0);
        assert!(retry_in <= Duration::from_millis(10), "{retry_in:?}");
        probe_answers(&h);
    }
}

fn fleet(servers: usize, max_down: usize) -> (Arc<Fleet>, Vec<Health>) {
    let fleet = Arc::new(Fleet::new(servers, max_down, None));
    let config = HealthConfig::default()
        .with_failure_threshold(1)
        .with_backoff(Duration::from_secs(1), Duration::from_secs(8));
    let healths = (0..servers)
        .map(|_| Health::new(config.clone(), Arc::clone(&fleet)))
        .collect();
    (fleet, healths)
}

#[test]
fn the_fleet_marks_at_most_its_share_down_and_keeps_the_rest_up_and_tried() {
    let (fleet, servers) = fleet(4, 2);
    let all: Vec<&Health> = servers.iter().collect();
    let changes: Vec<Change> = servers
        .iter()
        .map(|h| h.record(Admission::Go, HARD))
        .collect();
    assert!(is_down(changes[0].server) && is_down(changes[1].server));
    assert_eq!(
        changes[2],
        Change {
            server: Some(Transition::KeptUp { hard: 1, soft: 0 }),
            fail_open: Some(FailOpen::Entered { down: 2 }),
        }
    );
    assert_eq!(changes[3].fail_open, None, "fail-open is entered once");
    assert_eq!(fleet.counts(), (2, 2));
    assert!(fleet.is_failing_open());
    state::assert_fleet_consistent(&fleet, &all);

    // Kept up, its calls go through, and more failures change nothing.
    assert_eq!(servers[2].admit("s").unwrap(), Admission::Go);
    assert_eq!(servers[2].record(Admission::Go, HARD), Change::NONE);
    assert!(!servers[2].is_down() && servers[2].is_kept_up());
    for h in &servers {
        h.assert_consistent();
    }
}

#[test]
fn a_kept_up_server_goes_down_once_a_place_frees_and_fail_open_ends_when_the_last_answers() {
    let (fleet, servers) = fleet(4, 2);
    let all: Vec<&Health> = servers.iter().collect();
    for h in &servers {
        h.record(Admission::Go, HARD);
    }
    assert_eq!(probe_answers(&servers[0]).server, Some(Transition::Up));
    assert_eq!(fleet.counts(), (1, 2));
    let change = servers[2].record(Admission::Go, HARD);
    assert!(is_down(change.server), "{change:?}");
    assert_eq!(change.fail_open, None, "server 3 is still kept up");
    assert_eq!(fleet.counts(), (2, 1));
    state::assert_fleet_consistent(&fleet, &all);

    let change = servers[3].record(Admission::Go, Verdict::Answered);
    assert_eq!(
        change,
        Change {
            server: None,
            fail_open: Some(FailOpen::Ended { down: 2 }),
        }
    );
    assert!(!fleet.is_failing_open());
    assert_eq!(fleet.counts(), (2, 0));
    state::assert_fleet_consistent(&fleet, &all);
}

#[test]
fn the_share_rounds_down_and_always_lets_one_server_go_down() {
    let half = HealthConfig::default().with_max_down_share(0.5);
    let allowed: Vec<usize> = (1..=6).map(|servers| half.max_down(servers)).collect();
    assert_eq!(allowed, [1, 1, 1, 2, 2, 3]);
    let share = |share: f64| HealthConfig::default().with_max_down_share(share);
    assert_eq!(
        share(0.29).max_down(100),
        29,
        "no float rounding loses a server"
    );
    assert_eq!(share(-1.0).max_down(10), 1);
    assert_eq!(share(0.0).max_down_share(), Some(0.0));
    for off in [1.0, 1.5, f64::NAN] {
        assert_eq!(share(off).max_down_share(), None, "{off}");
        assert_eq!(share(off).max_down(10), 10, "{off}");
    }
}

#[test]
fn the_failover_budget_grants_its_burst_then_refills_at_its_rate() {
    let budget = FailoverBudget::new(20.0, 3);
    for _ in 0..3 {
        assert_eq!(budget.spend(), fleet::Spend::Granted { resumed: false });
    }
    assert_eq!(budget.spend(), fleet::Spend::Refused { first: true });
    assert_eq!(budget.spend(), fleet::Spend::Refused { first: false });
    thread::sleep(Duration::from_millis(60)); // one token per 50 ms
    assert_eq!(budget.spend(), fleet::Spend::Granted { resumed: true });

    let never_refilled = FailoverBudget::new(f64::NAN, 1);
    assert_eq!(
        never_refilled.spend(),
        fleet::Spend::Granted { resumed: false }
    );
    thread::sleep(Duration::from_millis(10));
    assert_eq!(
        never_refilled.spend(),
        fleet::Spend::Refused { first: true }
    );

    let unlimited = FailoverBudget::new(f64::INFINITY, 0);
    assert!((0..1000).all(|_| unlimited.spend() == fleet::Spend::Granted { resumed: false }));
}
