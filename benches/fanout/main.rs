//! `Cluster::get_many` across four private memcached servers, against the single-connection
//! floor.
//!
//! `Cluster::get_many` of 100 and of 1000 keys spread over 4 servers (ketama), and of keys all
//! owned by one server, against the floor (one `get k1 … kN` line on one connection to one
//! server holding all N keys) and a single `Client::get_many` of the same keys on that server.
//! All take turns in every slice of interleaved rounds, and each one's throughput is divided by
//! the floor's in the same round. Then what the fan-out may do besides I/O, timed alone.
//! Settings (`CLUSTER_*`): `benches/README.md`.
//!
//! ```text
//! cargo bench --bench fanout                   # full run, ~35 s
//! CLUSTER_QUICK=1 cargo bench --bench fanout   # smoke run, ~10 s
//! ```

#[path = "../common/mod.rs"]
mod common;
mod costs;
mod fanfloor;
mod setup;

use common::cluster::{Settings, PREFIX};
use common::env::rerun_command;
use common::keys::{make_keys, value_of, VALUE_LEN};
use common::memcached::Side;
use common::placement::{child_marker, SinglePin};
use common::report::{print_sections, RunInfo, Section};
use common::rounds::{sliced_turns, CpuClock, Laps, Record};
use common::throughput::{result_row, OVERHEAD_HEADERS, RESULT_HEADERS};
use costs::FanCosts;
use setup::{lineup, window, FanSetup, FAN_FLOOR, SPREAD};

const BENCH: &str = "fanout";
const SERVERS: usize = 4;
/// Keys preloaded across the servers.
const FAN_KEYS: usize = 40_000;
/// Keys per get_many.
const FAN_SIZES: [usize; 2] = [100, 1000];

fn main() {
    let Some(settings) = Settings::for_run(BENCH, "fan-out") else {
        return;
    };
    let run = RunInfo::start();
    let (servers, placed) = settings.start_servers(SERVERS);
    let addrs: Vec<String> = servers.iter().map(|s| s.addr()).collect();
    let mut setups = lineup(&addrs);
    let FanSetup::Cluster { cluster, .. } = &setups[SPREAD] else {
        unreachable!("the spread cluster's place in the lineup")
    };
    let FanSetup::FanFloor(fan_floor) = &setups[FAN_FLOOR] else {
        unreachable!("the fan-out floor's place in the lineup")
    };
    // Every key stored on the server that owns it under ketama.
    let all = make_keys("cl:fan:", FAN_KEYS);
    let mut by_server: Vec<Vec<&'static str>> = vec![Vec::new(); SERVERS];
    for key in &all {
        let server = cluster.server_for(key.as_bytes());
        assert_eq!(
            fan_floor.server_for(key),
            server,
            "the fan-out floor groups keys as the cluster does"
        );
        by_server[server].push(key);
    }
    let value = value_of("fan", VALUE_LEN);
    for (server, keys) in by_server.iter().enumerate() {
        Side::connect(&addrs[server]).load(keys, &value);
    }
    let owned: Vec<String> = by_server.iter().map(|k| k.len().to_string()).collect();
    let one = &by_server[0];
    assert!(one.len() >= 2 * FAN_SIZES[1], "server 1 owns too few keys");

    let placement = settings.placement;
    let single_pin = SinglePin::new(placement, servers[0].pid());
    let pids: Vec<u32> = servers.iter().map(|s| s.pid()).collect();
    let cpu = CpuClock::new(&pids);
    let mut rows = Vec::new();
    let mut fan_rows = Vec::new();
    let mut costs = FanCosts::default();
    for size in FAN_SIZES {
        let calls = if size == FAN_SIZES[0] {
            settings.many_ops
        } else {
            settings.many_ops / 10
        };
        let per_slice = (calls / settings.slices).max(1);
        // Warm-up, untimed.
        for setup in &mut setups {
            for call in 0..10 {
                setup.get_many(window(one, size, call), window(&all, size, call));
            }
        }
        let mut records: Vec<Record> = setups.iter().map(|_| Record::default()).collect();
        for round in 0..settings.rounds {
            for i in sliced_turns(setups.len(), round, settings.slices) {
                let (setup, record) = (&mut setups[i], &mut records[i]);
                let pin = single_pin.as_ref().filter(|_| setup.pinned(placement));
                let cursor = record.cursor;
                let (wall, cpu_ns) = SinglePin::while_running(pin, true, || {
                    cpu.measure(|| {
                        let mut laps = Laps::start(&mut record.latencies_ns);
                        for call in cursor..cursor + per_slice {
                            setup.get_many(window(one, size, call), window(&all, size, call));
                            laps.lap();
                        }
                        laps.elapsed()
                    })
                });
                record.add(round, per_slice, wall, cpu_ns);
            }
            if size == FAN_SIZES[0] {
                let FanSetup::Cluster { cluster, .. } = &setups[SPREAD] else {
                    unreachable!("the spread cluster's place in the lineup")
                };
                let iters = (settings.micro_iters / 100).max(1);
                costs.run(cluster, SERVERS, &all, iters);
            }
            eprintln!(
                "fan-out get_many({size}): round {}/{} ({:.0} s so far)",
                round + 1,
                settings.rounds,
                run.seconds()
            );
        }
        records.iter_mut().for_each(Record::sort);
        let workload = format!("get_many({size})");
        for (setup, record) in setups.iter().zip(&records) {
            rows.push(result_row(
                &workload,
                &setup.name(placement),
                record,
                &records[0],
            ));
        }
        for i in [FAN_FLOOR, SPREAD] {
            fan_rows.push(result_row(
                &workload,
                &setups[i].name(placement),
                &records[i],
                &records[FAN_FLOOR],
            ));
        }
    }
    let costs = costs.rows();

    settings.print_header(&run, BENCH, &servers, &placed);
    let sections = [
        Section {
            title: Some(format!(
                "fan-out: get_many, all hits; {} get_many(100) and {} get_many(1000) calls per implementation per round in {} slices; \
                 an op is one call; the floor and Client read keys all stored on server 1; \
                 each Cluster has pools of max 4 per server (one caller: one connection each); \
                 {FAN_KEYS} keys owned (ketama) {} by servers 1–4; every window of keys over 4 servers is in input order, so each call splits about evenly",
                settings.many_ops,
                settings.many_ops / 10,
                settings.slices,
                owned.join("/")
            )),
            headers: &RESULT_HEADERS,
            rows: &rows,
            grouped: true,
        },
        Section {
            title: Some(
                "fan-out against the fan-out floor: the same calls and rounds as above; \"ops/s ÷ floor\" here is ÷ the fan-out floor \
                 (4 raw connections, keys grouped by the same ketama, 4 get lines written, then the 4 replies read as they arrive) \
                 in the same round; target ≥ 1/1.10 = 0.91"
                    .into(),
            ),
            headers: &RESULT_HEADERS,
            rows: &fan_rows,
            grouped: true,
        },
        Section {
            title: Some(format!(
                "fan-out costs without I/O (median over rounds of {} runs each)",
                settings.micro_iters / 100
            )),
            headers: &OVERHEAD_HEADERS,
            rows: &costs,
            grouped: false,
        },
    ];
    print_sections(
        &sections,
        &rerun_command(PREFIX, &child_marker(PREFIX), BENCH),
    );
    drop(servers);
}
