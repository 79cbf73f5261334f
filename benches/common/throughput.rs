//! The tables of the `pool` and `fanout` benches: throughput against the floor in the same
//! round (higher is more), and costs timed without I/O.

use super::report::{duration_label, duration_range_label, thousands};
use super::rounds::{Record, Spread};

pub const RESULT_HEADERS: [&str; 10] = [
    "workload",
    "implementation",
    "ops/s",
    "p50",
    "p99",
    "ops/s ÷ floor",
    "min–max",
    "CPU/op",
    "CPU/wall",
    "rounds",
];

pub const OVERHEAD_HEADERS: [&str; 4] = ["measure", "value", "ratio", "min–max"];

/// One configuration: ops/s over all rounds, p50/p99, the median per-round throughput ratio to
/// the floor and its range, CPU per op, CPU/wall. Latencies must be sorted.
pub fn result_row(workload: &str, name: &str, record: &Record, floor: &Record) -> Vec<String> {
    let total = record.totals();
    let ratio = Spread::of(record.per_round(floor, |r, f| f.wall_per_op() / r.wall_per_op()));
    vec![
        workload.to_string(),
        name.to_string(),
        thousands(total.ops as f64 / total.wall),
        duration_label(record.percentile(50)),
        duration_label(record.percentile(99)),
        format!("{:.2}", ratio.median),
        format!("{:.2}–{:.2}", ratio.min, ratio.max),
        duration_label(total.cpu * 1e9 / total.ops as f64),
        format!("{:.0}%", 100.0 * total.cpu / total.wall),
        record.rounds.len().to_string(),
    ]
}

/// A cost timed without I/O, one sample (ns per run) per round: its median and range.
pub fn cost_row(what: &str, samples_ns: &[f64]) -> Vec<String> {
    let spread = Spread::of(samples_ns.to_vec());
    vec![
        what.to_string(),
        duration_label(spread.median),
        "-".into(),
        duration_range_label(spread.min, spread.max),
    ]
}
