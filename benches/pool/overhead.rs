//! What one thread pays for the pool: the 1-thread pool against the bare `Client` in the same
//! rounds, then the checkout and return timed without I/O, and the parts they are made of.

use std::hint::black_box;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use memcache_sync::{Client, Pool};

use crate::common::report::duration_label;
use crate::common::rounds::{median, time_ns, Record, Round, Spread};
use crate::common::throughput::cost_row;

/// As big as the pool's idle entry (a `Client` and an `Instant`), moved in and out of the
/// pool's `Vec` as that is.
const IDLE_LEN: usize = std::mem::size_of::<Client>() + std::mem::size_of::<Instant>();

type IdleLike = [u8; IDLE_LEN];

/// The checkout and return with no I/O, and its parts, in ns per run, one sample a round.
/// `Pool::get` reads the clock twice (its deadline, the idle connection's age), locks the
/// state and pops; the guard clones an `Arc`. Dropping the guard locks the state, pushes the
/// connection with the clock read a third time, and calls `Condvar::notify_one`.
#[derive(Default)]
pub struct Micro {
    checkout: Vec<f64>,
    now: Vec<f64>,
    lock: Vec<f64>,
    notify: Vec<f64>,
    arc: Vec<f64>,
}

impl Micro {
    pub fn run(&mut self, pool: &Pool, iters: usize) {
        self.checkout.push(time_ns(iters, || {
            drop(black_box(pool.get().expect("checkout")));
        }));
        self.now.push(time_ns(iters, || {
            black_box(Instant::now());
        }));
        let state = Mutex::new((Vec::<IdleLike>::with_capacity(4), 0usize));
        state.lock().unwrap().0.push([7; IDLE_LEN]);
        self.lock.push(time_ns(iters, || {
            let idle = black_box(&state).lock().unwrap().0.pop().unwrap();
            black_box(&state).lock().unwrap().0.push(black_box(idle));
        }));
        let condvar = Condvar::new();
        self.notify.push(time_ns(iters, || {
            black_box(&condvar).notify_one();
        }));
        let arc = Arc::new(0u64);
        self.arc.push(time_ns(iters, || {
            drop(black_box(Arc::clone(black_box(&arc))));
        }));
    }

    fn rows(&self) -> Vec<Vec<String>> {
        let med = |v: &[f64]| median(&mut v.to_vec());
        let parts = 3.0 * med(&self.now) + med(&self.lock) + med(&self.notify) + med(&self.arc);
        vec![
            cost_row(
                "checkout + return, no I/O: pool.get() then drop (max 1, 1 idle)",
                &self.checkout,
            ),
            cost_row("  Instant::now() (3 per checkout + return)", &self.now),
            cost_row(
                &format!(
                    "  2 × (Mutex lock, Vec pop or push of {IDLE_LEN} B, unlock), uncontended"
                ),
                &self.lock,
            ),
            cost_row(
                "  Condvar::notify_one() with no waiter (1 per return)",
                &self.notify,
            ),
            cost_row(
                "  Arc clone + drop (the guard's handle on the pool)",
                &self.arc,
            ),
            vec![
                "  sum of the parts: 3 × now + locks + notify + Arc".into(),
                duration_label(parts),
                "-".into(),
                "-".into(),
            ],
        ]
    }
}

/// The overhead table: `pooled` (1 thread, max 1) against the bare `client`, wall and CPU,
/// then the costs without I/O.
pub fn rows(client: &Record, pooled: &Record, micro: &Micro) -> Vec<Vec<String>> {
    let mut rows = vec![
        compare_row(
            "wall time per get: Pool (1 thread, max 1) ÷ bare Client",
            client,
            pooled,
            Round::wall_per_op,
        ),
        compare_row(
            "CPU time per get (bench + memcached): Pool ÷ bare Client",
            client,
            pooled,
            Round::cpu_per_op,
        ),
    ];
    rows.extend(micro.rows());
    rows
}

/// Time per get over all rounds for both, the median per-round difference, and the median
/// per-round ratio with its range.
fn compare_row(
    what: &str,
    client: &Record,
    pooled: &Record,
    per_op: fn(&Round) -> f64,
) -> Vec<String> {
    let ratio = Spread::of(pooled.per_round(client, |p, c| per_op(p) / per_op(c)));
    let diff = Spread::of(pooled.per_round(client, |p, c| (per_op(p) - per_op(c)) * 1e9));
    vec![
        what.into(),
        format!(
            "{} vs {}; per round {:+.0} ns",
            duration_label(per_op(&pooled.totals()) * 1e9),
            duration_label(per_op(&client.totals()) * 1e9),
            diff.median
        ),
        format!("{:.3}", ratio.median),
        format!("{:.3}–{:.3}", ratio.min, ratio.max),
    ]
}
