//! memcache-sync against a raw-socket floor and the `memcache` crate, on a private memcached.
//!
//! Every implementation runs every workload in the same process, in interleaved rounds: in
//! each round the implementations take turns on a workload (the sequential workloads in
//! slices, so that they alternate many times per round; order rotated per slice and per
//! round), and each implementation's time per operation is divided by the floor's in that same
//! round. The reported ratio is the median of those per-round ratios, so drifts of a shared
//! machine cancel out. `benches/README.md` says what each implementation does, what the
//! columns mean, and every `COMPARE_*` variable.
//!
//! ```text
//! cargo bench --bench compare                     # full run, ~5½ minutes
//! COMPARE_QUICK=1 cargo bench --bench compare     # smoke run, ~25 s
//! ```

mod bulk;
#[path = "../common/mod.rs"]
mod common;
mod contender;
mod lineup;
mod peers;
mod quiet;
mod results;
mod settings;
mod workload;

use std::fmt::Write as _;
use std::time::Duration;

use bulk::BulkCheck;
use common::env::measuring;
use common::memcached::{Memcached, Side};
use common::placement::{pin_process, Placement};
use common::report::RunInfo;
use common::rounds::{sliced_turns, turns, CpuClock, Laps};
use contender::Contender;
use results::Records;
use settings::Settings;
use workload::{many_keys, Data, Workload};

/// hashpower=20: a table big enough for every key from the start, so that no background hash
/// table expansion runs during a timed round. -I 1m: items up to 1 MiB, for the largest values.
const MEMCACHED_ARGS: [&str; 6] = ["-m", "1024", "-I", "1m", "-o", "hashpower=20"];

fn main() {
    if !measuring("compare") {
        return;
    }
    let settings = Settings::from_env();
    let run = RunInfo::start();
    let server = Memcached::start_with(&MEMCACHED_ARGS);
    let addr = server.addr();
    let placed = match settings.placement {
        Placement::Pinned(cpu) => format!(
            "{} memcached threads on CPU {cpu}",
            pin_process(server.pid(), cpu)
        ),
        _ => "memcached not pinned".into(),
    };
    let mut side = Side::connect(&addr);
    let version = side.version();
    let data = Data::load(&settings.workloads, settings.bulk_keys, &mut side);
    let mut contenders = lineup::lineup(&settings, &addr);

    // Warm-up: connections, buffers and memcached's per-connection state, untimed.
    for &workload in settings.workloads.iter().filter(|w| **w != Workload::Bulk) {
        let ops = if matches!(workload, Workload::GetMany(_)) {
            (20.0 * workload.scale()).ceil() as usize
        } else {
            (200.0 * workload.scale()).ceil() as usize
        };
        for contender in contenders.iter_mut().filter(|c| c.supports(workload)) {
            let ops = (ops / contender.divisor(workload)).max(1);
            run_sequential(contender.as_mut(), workload, ops, 0, &data, &mut Vec::new());
        }
    }
    let mut bulk = settings
        .workloads
        .contains(&Workload::Bulk)
        .then(|| BulkCheck::new(Side::connect(&addr), &data.bulk));

    let cpu = CpuClock::new(&[server.pid()]);
    let mut records = Records::new();
    for round in 0..settings.rounds {
        let mut progress = format!("round {}/{}:", round + 1, settings.rounds);
        for &workload in &settings.workloads {
            if workload == Workload::Bulk {
                let bulk = bulk.as_mut().expect("made when the bulk load is selected");
                bulk_round(&mut contenders, round, &data, bulk, &cpu, &mut records);
            } else {
                sequential_round(
                    &mut contenders,
                    workload,
                    round,
                    &settings,
                    &data,
                    &cpu,
                    &mut records,
                );
            }
            let _ = write!(progress, " {}", workload.id());
        }
        eprintln!("{progress} ({:.0} s so far)", run.seconds());
    }

    let rows = results::rows(&settings, &contenders, &mut records);
    results::print(
        &settings,
        &run,
        &format!("{version} ({}, {placed})", MEMCACHED_ARGS.join(" ")),
        &rows,
    );
    quiet::print_ratios(&records);
    drop(server);
}

/// One round of a sequential workload, in slices.
fn sequential_round(
    contenders: &mut [Box<dyn Contender>],
    workload: Workload,
    round: usize,
    settings: &Settings,
    data: &Data,
    cpu: &CpuClock,
    records: &mut Records,
) {
    for i in sliced_turns(contenders.len(), round, settings.slices) {
        let contender = &mut contenders[i];
        if !contender.supports(workload) {
            continue;
        }
        let ops = (settings.ops(workload) / settings.slices / contender.divisor(workload)).max(1);
        let record = records.entry((workload, contender.name())).or_default();
        let cursor = record.cursor;
        let (elapsed, cpu_ns) = cpu.measure(|| {
            run_sequential(
                contender.as_mut(),
                workload,
                ops,
                cursor,
                data,
                &mut record.latencies_ns,
            )
        });
        record.add(round, ops, elapsed, cpu_ns);
    }
}

/// One load per implementation, order rotated per round.
fn bulk_round(
    contenders: &mut [Box<dyn Contender>],
    round: usize,
    data: &Data,
    bulk: &mut BulkCheck,
    cpu: &CpuClock,
    records: &mut Records,
) {
    for i in turns(contenders.len(), round) {
        let contender = &mut contenders[i];
        if !contender.supports(Workload::Bulk) {
            continue;
        }
        let limit = contender.bulk_limit().unwrap_or(data.bulk.len());
        // Lets memcached's background threads (LRU maintainer) settle after the previous
        // load, so that each load starts from the same state.
        std::thread::sleep(Duration::from_millis(250));
        let (elapsed, cpu_ns) = bulk.run(contender.as_mut(), &data.bulk[..limit], cpu);
        let record = records
            .entry((Workload::Bulk, contender.name()))
            .or_default();
        record.add(round, limit, elapsed, cpu_ns);
    }
}

/// Runs `ops` operations of a sequential workload from the `start_at`-th key on; returns the
/// elapsed time and records each operation's latency.
fn run_sequential(
    contender: &mut dyn Contender,
    workload: Workload,
    ops: usize,
    start_at: usize,
    data: &Data,
    latencies: &mut Vec<u32>,
) -> Duration {
    let mut laps = Laps::start(latencies);
    for i in start_at..start_at + ops {
        match workload {
            Workload::GetHit(size) => {
                let keys = &data.hit[&size].keys;
                assert_eq!(contender.get_hit(keys[i % keys.len()], size), size);
            }
            Workload::GetMiss => {
                assert!(contender.get_miss(data.miss[i % data.miss.len()]));
            }
            Workload::Set(size) => {
                let set = &data.set[&size];
                contender.set(set.keys[i % set.keys.len()], &set.value);
            }
            Workload::GetMany(size) => {
                let keys = &data.hit[&size].keys;
                let n = many_keys(size);
                let first = (i * n) % (keys.len() - n).max(1);
                assert_eq!(contender.get_many(&keys[first..first + n], size), n);
            }
            Workload::Bulk => unreachable!("the bulk load is one call, not a sequence"),
        }
        laps.lap();
    }
    laps.elapsed()
}
