//! The compare bench's report: a row per workload and implementation, and the header that says
//! how to read them.

use std::collections::HashMap;

use crate::common::env::rerun_command;
use crate::common::keys::VALUE_LEN;
use crate::common::placement::child_marker;
use crate::common::report::{
    count_label, duration_label, print_sections, size_label, thousands, RunInfo, Section,
};
use crate::common::rounds::{median, Record, Spread};
use crate::contender::Contender;
use crate::settings::{Settings, PREFIX};
use crate::workload::{many_keys, Workload, MANY};

pub type Records = HashMap<(Workload, &'static str), Record>;

const HEADERS: [&str; 10] = [
    "workload",
    "implementation",
    "ops/s",
    "p50",
    "p99",
    "× floor",
    "min–max",
    "CPU × floor",
    "CPU/wall",
    "rounds",
];

/// Every workload's rows, the floor's first; each ratio is the median over rounds of the
/// implementation's time per operation over the floor's in the same round.
pub fn rows(
    settings: &Settings,
    contenders: &[Box<dyn Contender>],
    records: &mut Records,
) -> Vec<Vec<String>> {
    records.values_mut().for_each(Record::sort);
    let mut rows = Vec::new();
    for &workload in &settings.workloads {
        let floor = &records[&(workload, "floor")];
        for contender in contenders {
            let name = contender.name();
            let Some(record) = records.get(&(workload, name)) else {
                continue;
            };
            let wall =
                Spread::of(record.per_round(floor, |r, f| r.wall_per_op() / f.wall_per_op()));
            let cpu = Spread::of(record.per_round(floor, |r, f| r.cpu_per_op() / f.cpu_per_op()));
            let total = record.totals();
            let rate = total.ops as f64 / total.wall;
            let bulk_keys = contender.bulk_limit().unwrap_or(settings.bulk_keys);
            let (implementation, rate, p50, p99) = if workload == Workload::Bulk {
                let mut totals: Vec<f64> = record
                    .rounds
                    .iter()
                    .map(|r| r.wall_per_op() * bulk_keys as f64 * 1e9)
                    .collect();
                let implementation = if bulk_keys < settings.bulk_keys {
                    format!("{name} (first {} keys)", count_label(bulk_keys))
                } else {
                    name.to_string()
                };
                (
                    implementation,
                    format!("{} keys/s", thousands(rate)),
                    format!("total {}", duration_label(median(&mut totals))),
                    "-".into(),
                )
            } else {
                (
                    name.to_string(),
                    thousands(rate),
                    duration_label(record.percentile(50)),
                    duration_label(record.percentile(99)),
                )
            };
            rows.push(vec![
                workload.label(settings.bulk_keys),
                implementation,
                rate,
                p50,
                p99,
                format!("{:.2}", wall.median),
                format!("{:.2}–{:.2}", wall.min, wall.max),
                format!("{:.2}", cpu.median),
                format!("{:.0}%", 100.0 * total.cpu / total.wall),
                record.rounds.len().to_string(),
            ]);
        }
    }
    rows
}

pub fn print(settings: &Settings, run: &RunInfo, memcached: &str, rows: &[Vec<String>]) {
    let quick = if settings.quick {
        " (COMPARE_QUICK)"
    } else {
        ""
    };
    run.print_header(
        &format!("memcache-sync compare: {} rounds{quick}", settings.rounds),
        memcached,
        &settings.placement_note,
    );
    println!(
        "per round:  {} ops per sequential workload and {} get_many({MANY}) calls per implementation, in {} interleaved slices; \
         bulk {} keys (memcache: the first {} keys, one set per key; per-key ratio); 32-byte keys, 100-byte values",
        settings.seq_ops,
        settings.many_ops,
        settings.slices,
        settings.bulk_keys,
        settings.classic_keys(),
    );
    let larger: Vec<String> = settings
        .value_sizes
        .iter()
        .filter(|&&size| size != VALUE_LEN)
        .map(|&size| {
            let ops = settings.ops(Workload::GetHit(size));
            format!("{} ({ops} ops)", size_label(size))
        })
        .collect();
    let sized = settings
        .workloads
        .iter()
        .any(|w| matches!(w, Workload::GetHit(_) | Workload::Set(_)));
    if sized && !larger.is_empty() {
        println!(
            "            get (hit) and set also with values of {}: ops scaled by (16 KiB + 100 B) / (16 KiB + value size)",
            larger.join(", ")
        );
    }
    let many: Vec<String> = settings
        .workloads
        .iter()
        .filter_map(|&w| match w {
            Workload::GetMany(size) if size != VALUE_LEN => Some(format!(
                "{} ({} keys a call, {} calls)",
                size_label(size),
                many_keys(size),
                settings.ops(w)
            )),
            _ => None,
        })
        .collect();
    if !many.is_empty() {
        println!(
            "            get_many also with values of {}: keys cut to read ~1 MiB a call, calls scaled by \
             (16 KiB + 100 × (2 KiB + 100 B)) / (16 KiB + keys × (2 KiB + value size))",
            many.join(", ")
        );
    }
    println!(
        "            memcache runs 1/8 of the sequential ops and 1/20 of the get_many calls (ratios are per op)"
    );
    println!(
        "floor:      std TcpStream, one write per request; bulk in ~{} KiB windows, 2 in flight. MetaClient bulk: run_many chunks of {}",
        settings.floor_window / 1024,
        settings.meta_chunk
    );
    println!(
        "× floor:    median over rounds of (wall time per op / the floor's in the same round); 1.00 = as fast as the floor, \
         higher is slower; min–max: the per-round ratios' range"
    );
    println!(
        "CPU × floor: the same with CPU time run by the bench and memcached (schedstat), which time taken by other \
         processes does not inflate; CPU/wall: that CPU time's share of the wall time"
    );
    let table = Section {
        title: None,
        headers: &HEADERS,
        rows,
        grouped: true,
    };
    print_sections(
        &[table],
        &rerun_command(PREFIX, &child_marker(PREFIX), "compare"),
    );
}
