//! `Pool` under many threads against the single-connection floor, on a private memcached.
//!
//! N = 1, 2, 4, 8, 16 threads do `get` (hits) through one `Pool` of max size N, and 16 threads
//! through a pool of 4 (queuing), a fixed number of operations per thread; a bare `Client` and
//! the floor (one raw `TcpStream`, one `get` at a time) run on one thread. All take turns in
//! every slice of interleaved rounds, and each one's throughput is divided by the floor's in the
//! same round. Then the single-thread overhead: the 1-thread pool against the bare `Client`,
//! and the checkout and return timed without I/O. Settings (`CLUSTER_*`): `benches/README.md`.
//!
//! ```text
//! cargo bench --bench pool                     # full run, ~70 s
//! CLUSTER_QUICK=1 cargo bench --bench pool     # smoke run, ~10 s
//! ```

#[path = "../common/mod.rs"]
mod common;
mod overhead;
mod setup;

use memcache_sync::Pool;

use common::cluster::{Settings, PREFIX};
use common::env::rerun_command;
use common::keys::{make_keys, value_of, VALUE_LEN};
use common::memcached::Side;
use common::placement::{child_marker, SinglePin};
use common::report::{print_sections, RunInfo, Section};
use common::rounds::{sliced_turns, CpuClock, Record};
use common::throughput::{result_row, OVERHEAD_HEADERS, RESULT_HEADERS};
use overhead::Micro;
use setup::{lineup, pool_config, run_threads, PoolSetup, POOL_RUNS, RAW_THREADS};

const BENCH: &str = "pool";
/// Keys preloaded for the gets.
const HIT_KEYS: usize = 10_000;

fn main() {
    let Some(settings) = Settings::for_run(BENCH, "pool") else {
        return;
    };
    let run = RunInfo::start();
    let (servers, placed) = settings.start_servers(1);
    let server = &servers[0];
    let addr = server.addr();
    let keys = make_keys("cl:hit:", HIT_KEYS);
    Side::connect(&addr).load(&keys, &value_of("hit", VALUE_LEN));

    let placement = settings.placement;
    let mut setups = lineup(&addr, placement);
    let mut records: Vec<Record> = setups.iter().map(|_| Record::default()).collect();
    // Warm-up, untimed.
    for setup in &mut setups {
        run_threads(setup.workers(), 200, 0, &keys, &mut Vec::new(), None);
    }
    let micro_pool = Pool::builder(&addr).pool(pool_config(1)).build();
    drop(micro_pool.get().expect("checkout"));
    let mut micro = Micro::default();

    let single_pin = SinglePin::new(placement, server.pid());
    let per_slice = (settings.pool_ops / settings.slices).max(1);
    let cpu = CpuClock::new(&[server.pid()]);
    for round in 0..settings.rounds {
        for i in sliced_turns(setups.len(), round, settings.slices) {
            let (setup, record) = (&mut setups[i], &mut records[i]);
            // Each worker thread pins itself; this pins only the server.
            let pin = single_pin.as_ref().filter(|_| setup.pinned(placement));
            let threads = setup.threads();
            let (wall, cpu_ns) = SinglePin::while_running(pin, false, || {
                cpu.measure(|| {
                    run_threads(
                        setup.workers(),
                        per_slice,
                        record.cursor,
                        &keys,
                        &mut record.latencies_ns,
                        pin.map(|p| p.cpu),
                    )
                })
            });
            record.add(round, per_slice * threads, wall, cpu_ns);
        }
        micro.run(&micro_pool, settings.micro_iters);
        eprintln!(
            "pool: round {}/{} ({:.0} s so far)",
            round + 1,
            settings.rounds,
            run.seconds()
        );
    }

    records.iter_mut().for_each(Record::sort);
    let rows: Vec<Vec<String>> = setups
        .iter()
        .zip(&records)
        .map(|(setup, record)| result_row("get (hit)", &setup.name(placement), record, &records[0]))
        .collect();
    let [_, client, pooled, ..] = &records[..] else {
        unreachable!("the lineup starts with the floor, the bare Client and the 1-thread pool")
    };
    assert!(matches!(setups[2], PoolSetup::Pool { threads: 1, .. }));
    let overhead = overhead::rows(client, pooled, &micro);
    let raw = setups
        .iter()
        .position(|s| matches!(s, PoolSetup::Raw(_)))
        .expect("the raw many-thread run in the lineup");
    let pool_n = setups
        .iter()
        .position(|s| {
            matches!(
                s,
                PoolSetup::Pool {
                    threads: RAW_THREADS,
                    max: RAW_THREADS,
                    ..
                }
            )
        })
        .expect("the pool of as many threads as the raw run in the lineup");
    let raw_rows: Vec<Vec<String>> = [raw, pool_n]
        .into_iter()
        .map(|i| {
            result_row(
                "get (hit)",
                &setups[i].name(placement),
                &records[i],
                &records[raw],
            )
        })
        .collect();

    settings.print_header(&run, BENCH, &servers, &placed);
    let connections = 2 + POOL_RUNS.iter().map(|(_, max)| max).sum::<usize>() + RAW_THREADS + 1;
    let sections = [
        Section {
            title: Some(format!(
                "pool: get (hit), 32-byte keys, 100-byte values, on server 1; {} gets per thread per round in {} slices; \
                 latency per get includes checkout and return; {connections} connections to server 1: the floor's, \
                 the bare Client's, the pools' (opened before timing), the raw threads'",
                settings.pool_ops, settings.slices
            )),
            headers: &RESULT_HEADERS,
            rows: &rows,
            grouped: true,
        },
        Section {
            title: Some(format!(
                "the pool against raw connections: the same gets and rounds as above; \"ops/s ÷ floor\" here is ÷ \
                 {RAW_THREADS} threads each with its own raw connection (the floor's client) in the same round; \
                 target ≥ 0.90"
            )),
            headers: &RESULT_HEADERS,
            rows: &raw_rows,
            grouped: true,
        },
        Section {
            title: Some(format!(
                "single-thread pool overhead (wall and CPU: time per get over all rounds, then the median \
                 per-round difference, ratio and its range; no-I/O rows: median over rounds of {} runs each)",
                settings.micro_iters
            )),
            headers: &OVERHEAD_HEADERS,
            rows: &overhead,
            grouped: false,
        },
    ];
    print_sections(
        &sections,
        &rerun_command(PREFIX, &child_marker(PREFIX), BENCH),
    );
    drop(servers);
}
