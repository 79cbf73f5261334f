//! The meta commands against their raw floor and against the classic commands, and the herd:
//! issue 9's bench rows.
//!
//! - **Sequential rows**, on one private memcached: `meta_get` (hit) and `meta_set` against a
//!   raw floor that writes the same `mg`/`ms` lines, and `get` (hit) and `set` against the
//!   classic raw floor, 32-byte keys and 100-byte values. Every implementation runs every
//!   workload in every round, in slices whose order rotates (`common/rounds.rs`), and each
//!   ratio is the median of per-round ratios, so a drift of a shared machine cancels out.
//!   Target: ≤ 1.05 × the floor, as for classic. The batch rows read 100 hits per
//!   operation: `meta_get_many` against a raw quiet `mg … k O<i> q` + `mn` floor, and
//!   `get_many` against the raw split-line `get` floor.
//! - **Herd rows**: rounds of 32 threads (each its own `Client`) released by one barrier onto
//!   one missing key whose `load` sleeps 50 ms: loads per key with `get_or_fill` (target: 1)
//!   and with a naive get-then-set.
//!
//! ```text
//! flock /tmp/bench.lock cargo bench --bench meta              # ~1 minute
//! META_QUICK=1 flock /tmp/bench.lock cargo bench --bench meta # ~15 s
//! ```

#[path = "../common/mod.rs"]
mod common;
mod herd;
mod rawmeta;
mod seq;

use std::collections::HashMap;
use std::time::Duration;

use common::env::{env_flag, env_list, env_usize, measuring, rerun_command};
use common::keys::{make_keys, value_of, VALUE_LEN};
use common::memcached::{Memcached, Side};
use common::placement::{child_marker, pin_process, Placement};
use common::report::{duration_label, thousands, RunInfo, Section};
use common::rounds::{median, sliced_turns, CpuClock, Laps, Record, Spread};
use herd::{Herd, Strategy};
use seq::{Contenders, Impl, Workload, BATCH, IMPLS, WORKLOADS};

const PREFIX: &str = "META";
/// One printed table: its title, headers and rows.
type Table = (Option<String>, Vec<&'static str>, Vec<Vec<String>>);
/// hashpower=20: a table big enough for every key from the start, so that no background hash
/// table expansion runs during a timed round.
const MEMCACHED_ARGS: [&str; 4] = ["-m", "256", "-o", "hashpower=20"];
const KEYS: usize = 10_000;

fn main() {
    if !measuring("meta") {
        return;
    }
    let placement = match Placement::establish(PREFIX, &["pinned", "spread"]) {
        Ok(placement) => placement,
        Err(why) => {
            eprintln!("meta: taskset could not run ({why}); running spread");
            Placement::Spread
        }
    };
    let quick = env_flag("META_QUICK");
    let rounds = env_usize("META_ROUNDS", if quick { 3 } else { 7 }).max(1);
    let ops = env_usize("META_OPS", if quick { 5_000 } else { 30_000 });
    let slices = env_usize("META_SLICES", if quick { 5 } else { 10 }).max(1);
    let herd_rounds = env_usize("META_HERD_ROUNDS", if quick { 5 } else { 20 }).max(1);
    let herd_threads = env_usize("META_HERD_THREADS", 32).max(1);
    let load_time = Duration::from_millis(env_usize("META_LOAD_MS", 50) as u64);
    let only = env_list("META_ONLY").unwrap_or_else(|| vec!["seq".into(), "herd".into()]);

    let run = RunInfo::start();
    let server = Memcached::start_with(&MEMCACHED_ARGS);
    let addr = server.addr();
    let placed = match placement {
        Placement::Pinned(cpu) => format!(
            "pinned: bench and {} memcached threads on CPU {cpu}",
            pin_process(server.pid(), cpu)
        ),
        _ => "spread (META_PLACEMENT=spread)".into(),
    };
    let mut side = Side::connect(&addr);
    let version = side.version();

    let mut sections_rows: Vec<Table> = Vec::new();
    if only.iter().any(|o| o == "seq") {
        let (table, versus) = sequential(&addr, &mut side, rounds, ops, slices, server.pid());
        sections_rows.push((None, SEQ_HEADERS.to_vec(), table));
        sections_rows.push((
            Some("meta ÷ classic, same rounds (time per operation)".into()),
            VERSUS_HEADERS.to_vec(),
            versus,
        ));
    }
    if only.iter().any(|o| o == "herd") {
        let herds: Vec<Herd> = [Strategy::Lease, Strategy::Naive]
            .into_iter()
            .map(|s| {
                herd::run(
                    &addr,
                    s,
                    herd_threads,
                    herd_rounds,
                    load_time,
                    &format!("{s:?}"),
                )
            })
            .collect();
        let title = format!(
            "herd: {herd_threads} threads on one missing key per round, load = {} ms sleep",
            load_time.as_millis()
        );
        sections_rows.push((Some(title), HERD_HEADERS.to_vec(), herd_rows(&herds)));
    }

    run.print_header(
        "memcache-sync meta commands: ratios to a raw floor, and the herd",
        &format!("{version} ({})", MEMCACHED_ARGS.join(" ")),
        &placed,
    );
    println!("sequential: {rounds} rounds × {slices} slices, {ops} ops per implementation per workload per round; 32-byte keys, 100-byte values");
    let sections: Vec<Section> = sections_rows
        .iter()
        .map(|(title, headers, rows)| Section {
            title: title.clone(),
            headers,
            rows,
            grouped: true,
        })
        .collect();
    common::report::print_sections(
        &sections,
        &rerun_command(PREFIX, &child_marker(PREFIX), "meta"),
    );
    drop(server);
}

const SEQ_HEADERS: [&str; 9] = [
    "workload",
    "implementation",
    "ops/s",
    "p50",
    "p99",
    "× floor",
    "min–max",
    "CPU × floor",
    "rounds",
];
const VERSUS_HEADERS: [&str; 4] = ["comparison", "implementation", "× (median)", "min–max"];
const HERD_HEADERS: [&str; 8] = [
    "strategy",
    "threads",
    "rounds",
    "loads per key (mean)",
    "min–max",
    "wrong or no value",
    "round p50",
    "round max",
];

/// Runs the sequential rows; returns their table and the meta ÷ classic table.
fn sequential(
    addr: &str,
    side: &mut Side,
    rounds: usize,
    ops: usize,
    slices: usize,
    server_pid: u32,
) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    let hit = make_keys("meta:hit:", KEYS);
    let set = make_keys("meta:set:", KEYS);
    let value = value_of("meta", VALUE_LEN);
    side.load(&hit, &value);
    let mut contenders = Contenders::connect(addr);
    let configs: Vec<(Workload, Impl)> = WORKLOADS
        .iter()
        .flat_map(|&w| IMPLS.iter().map(move |&i| (w, i)))
        .collect();
    let keys_of = |w: Workload| match w {
        Workload::MetaGet
        | Workload::Get
        | Workload::MetaGetMany
        | Workload::MetaGetManyWith
        | Workload::GetMany => &hit,
        Workload::MetaSet | Workload::Set => &set,
    };
    // A batch of `BATCH` keys from `n`, within the key list.
    let batch_at = |keys: &[&'static str], n: usize| {
        let start = (n * BATCH) % (keys.len() - BATCH + 1);
        keys[start..start + BATCH].to_vec()
    };
    // Warm-up: connections, buffers and memcached's per-connection state, untimed.
    for &(w, i) in &configs {
        for n in 0..500 {
            let keys = keys_of(w);
            match w.is_batch() {
                true if n < 20 => contenders.op(w, i, &batch_at(keys, n), &value),
                true => {}
                false => contenders.op(w, i, &[keys[n]], &value),
            }
        }
    }
    let cpu = CpuClock::new(&[server_pid]);
    let mut records: HashMap<(Workload, Impl), Record> = HashMap::new();
    let per_slice = (ops / slices).max(1);
    for round in 0..rounds {
        for turn in sliced_turns(configs.len(), round, slices) {
            let (w, i) = configs[turn];
            let record = records.entry((w, i)).or_default();
            let keys = keys_of(w);
            let cursor = record.cursor;
            // A batch reads `BATCH` keys: fewer of them keep its slice near a single's time.
            let count = if w.is_batch() {
                (per_slice / (BATCH / 5)).max(1)
            } else {
                per_slice
            };
            let batches: Vec<Vec<&str>> = match w.is_batch() {
                true => (cursor..cursor + count)
                    .map(|n| batch_at(keys, n))
                    .collect(),
                false => Vec::new(),
            };
            let (elapsed, cpu_ns) = cpu.measure(|| {
                let mut laps = Laps::start(&mut record.latencies_ns);
                for n in cursor..cursor + count {
                    match w.is_batch() {
                        true => contenders.op(w, i, &batches[n - cursor], &value),
                        false => contenders.op(w, i, &[keys[n % keys.len()]], &value),
                    }
                    laps.lap();
                }
                laps.elapsed()
            });
            record.add(round, count, elapsed, cpu_ns);
        }
        eprintln!("meta: round {}/{rounds} done", round + 1);
    }
    side.check_values(&set[..100], &value);

    for record in records.values_mut() {
        record.sort();
    }
    let mut table = Vec::new();
    for w in WORKLOADS {
        let floor = &records[&(w, Impl::Floor)];
        for i in IMPLS {
            let record = &records[&(w, i)];
            let wall =
                Spread::of(record.per_round(floor, |a, b| a.wall_per_op() / b.wall_per_op()));
            let cpu = Spread::of(record.per_round(floor, |a, b| a.cpu_per_op() / b.cpu_per_op()));
            let totals = record.totals();
            table.push(vec![
                w.label().into(),
                i.label(w).into(),
                thousands(totals.ops as f64 / totals.wall),
                duration_label(record.percentile(50)),
                duration_label(record.percentile(99)),
                format!("{:.2}", wall.median),
                format!("{:.2}–{:.2}", wall.min, wall.max),
                format!("{:.2}", cpu.median),
                record.rounds.len().to_string(),
            ]);
        }
    }
    let mut versus = Vec::new();
    for (meta, classic, name) in [
        (Workload::MetaGet, Workload::Get, "meta get ÷ get"),
        (Workload::MetaSet, Workload::Set, "meta set ÷ set"),
        (
            Workload::MetaGetMany,
            Workload::GetMany,
            "meta_get_many ÷ get_many",
        ),
        (
            Workload::MetaGetManyWith,
            Workload::GetMany,
            "meta_get_many_with ÷ get_many",
        ),
    ] {
        for i in [Impl::Floor, Impl::Client] {
            let spread = Spread::of(
                records[&(meta, i)].per_round(&records[&(classic, i)], |a, b| {
                    a.wall_per_op() / b.wall_per_op()
                }),
            );
            versus.push(vec![
                name.into(),
                match i {
                    Impl::Floor => "raw floors".into(),
                    _ => "memcache-sync".to_string(),
                },
                format!("{:.2}", spread.median),
                format!("{:.2}–{:.2}", spread.min, spread.max),
            ]);
        }
    }
    (table, versus)
}

fn herd_rows(herds: &[Herd]) -> Vec<Vec<String>> {
    herds
        .iter()
        .map(|h| {
            let loads: Vec<f64> = h.loads.iter().map(|&l| l as f64).collect();
            let mean = loads.iter().sum::<f64>() / loads.len() as f64;
            let min = h.loads.iter().min().copied().unwrap_or(0);
            let max = h.loads.iter().max().copied().unwrap_or(0);
            let mut walls: Vec<f64> = h.walls.iter().map(|w| w.as_nanos() as f64).collect();
            let worst = walls.iter().copied().fold(0.0, f64::max);
            vec![
                h.strategy.name().into(),
                h.threads.to_string(),
                h.loads.len().to_string(),
                format!("{mean:.2}"),
                format!("{min}–{max}"),
                h.wrong.to_string(),
                duration_label(median(&mut walls)),
                duration_label(worst),
            ]
        })
        .collect()
}
