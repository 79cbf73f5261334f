//! `Pool` under many threads and `Cluster::get_many` across four servers, against the
//! single-connection floor, on private memcached processes.
//!
//! Two sections, each run in interleaved rounds (every configuration takes its turn in every
//! slice of every round, order rotated), each configuration's result divided by the floor's in
//! the same round, the median of those per-round ratios reported:
//!
//! - **pool**: N = 1, 2, 4, 8, 16 threads doing `get` (hits) through one `Pool` of max size N,
//!   and 16 threads through a pool of 4 (queuing), a fixed number of operations per thread; a
//!   bare `Client` and the floor (one raw `TcpStream`, one `get` at a time) on one thread. Then
//!   the single-thread pool overhead: 1 thread through the pool against a bare `Client`, and the
//!   checkout/return and its parts timed without I/O.
//! - **fan-out**: `Cluster::get_many` of 100 and of 1000 keys spread over 4 servers (ketama),
//!   against the floor (one `get k1 … kN` line on one connection to one server holding all N
//!   keys) and a single `Client::get_many` of the same keys on that server.
//!
//! ```text
//! cargo bench --bench cluster                    # full run, ~2 minutes
//! CLUSTER_QUICK=1 cargo bench --bench cluster    # smoke run, ~20 s
//! ```
//!
//! Environment: `CLUSTER_QUICK`, `CLUSTER_ROUNDS` (default 7, quick 3), `CLUSTER_PLACEMENT`
//! (`split`, the default: threaded and cluster runs unpinned, as they need both CPUs, and each
//! single-connection run pinned with its server to one CPU; `spread`: nothing pinned; `pinned`:
//! the bench and every memcached thread on one CPU), `CLUSTER_CPU` (default 0), `CLUSTER_ONLY`
//! (`pool,fan-out`), `CLUSTER_OPS` (pool gets per thread per round), `CLUSTER_MANY_OPS`
//! (get_many(100) calls per implementation per round; get_many(1000) runs a tenth of them),
//! `CLUSTER_SLICES`, `CLUSTER_MICRO_ITERS`. See `benches/README.md`.

#[path = "../tests/support/memcached.rs"]
#[allow(dead_code)]
mod memcached;

mod common;
use common::*;

use std::env;
use std::hint::black_box;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{self, Command};
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use memcache_sync::{Client, Cluster, Pool, PoolConfig};

use memcached::Memcached;

/// Keys preloaded on the first server for the pool section.
const HIT_KEYS: usize = 10_000;
/// Keys preloaded across the four servers for the fan-out section.
const FAN_KEYS: usize = 40_000;
const SERVERS: usize = 4;
/// One `VALUE` frame of a 32-byte key and a 100-byte value with flags 0, data included.
const VALUE_FRAME_LEN: usize = "VALUE ".len() + 32 + " 0 100\r\n".len() + VALUE_LEN + 2;
const END: &[u8] = b"END\r\n";
const STORED: &[u8] = b"STORED\r\n";
/// Marks the re-executed, pinned child process.
const CHILD_MARKER: &str = "CLUSTER_PINNED_CHILD";
/// (threads, pool max size) of the pool configurations.
const POOL_RUNS: [(usize, usize); 6] = [(1, 1), (2, 2), (4, 4), (8, 8), (16, 16), (16, 4)];
/// Keys per get_many.
const FAN_SIZES: [usize; 2] = [100, 1000];
const MEMCACHED_ARGS: [&str; 2] = ["-m", "256"];

// ---------------------------------------------------------------------------------------------
// Settings and placement

#[derive(Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// The default: each single-connection run (floor, bare `Client`, 1-thread pool,
    /// `Client::get_many`) with its thread and all of its server's memcached threads on this
    /// CPU; the threaded and cluster runs spread over every CPU.
    Split(usize),
    /// Nothing pinned.
    Spread,
    /// The bench and every memcached thread on this CPU, for every run.
    Pinned(usize),
}

impl Placement {
    /// The CPU a single-connection run is pinned to, when this placement moves it there.
    fn single(self) -> Option<usize> {
        match self {
            Placement::Split(cpu) => Some(cpu),
            _ => None,
        }
    }
}

/// Sets the CPUs a thread may run on (`tid` 0: the calling thread).
fn set_affinity(tid: libc::pid_t, cpus: &[usize]) {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the pointer and size are those of a
    // live local.
    let result = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &cpu in cpus {
            libc::CPU_SET(cpu, &mut set);
        }
        libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    assert_eq!(
        result,
        0,
        "sched_setaffinity({tid}, {cpus:?}): {}",
        std::io::Error::last_os_error()
    );
}

/// The CPUs this thread may run on.
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: as in set_affinity; CPU_ISSET reads the set sched_getaffinity filled in.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        let result = libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set);
        assert_eq!(
            result,
            0,
            "sched_getaffinity: {}",
            std::io::Error::last_os_error()
        );
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&cpu| libc::CPU_ISSET(cpu, &set))
            .collect()
    }
}

/// Every thread of the process `pid` onto `cpus`.
fn set_process_affinity(pid: u32, cpus: &[usize]) {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("memcached's threads");
    for task in tasks.flatten() {
        let tid: libc::pid_t = task
            .file_name()
            .to_string_lossy()
            .parse()
            .expect("a thread id");
        set_affinity(tid, cpus);
    }
}

/// For a single-connection run under [`Placement::Split`]: its server's memcached threads
/// (and the thread that runs it) on one CPU while it runs, then back on every CPU.
struct SinglePin {
    server_pid: u32,
    cpu: usize,
    all: Vec<usize>,
}

impl SinglePin {
    fn new(placement: Placement, server: &Memcached) -> Option<SinglePin> {
        placement.single().map(|cpu| SinglePin {
            server_pid: server.pid(),
            cpu,
            all: allowed_cpus(),
        })
    }

    fn pin_server(&self) {
        set_process_affinity(self.server_pid, &[self.cpu]);
    }

    fn release_server(&self) {
        set_process_affinity(self.server_pid, &self.all);
    }

    /// The calling thread and the server on the one CPU.
    fn pin_here(&self) {
        set_affinity(0, &[self.cpu]);
        self.pin_server();
    }

    /// The calling thread and the server back on every CPU.
    fn release_here(&self) {
        set_affinity(0, &self.all);
        self.release_server();
    }
}

struct Settings {
    quick: bool,
    rounds: usize,
    pool_ops: usize,
    many_ops: usize,
    slices: usize,
    micro_iters: usize,
    placement: Placement,
    placement_note: String,
    pool: bool,
    fan_out: bool,
}

impl Settings {
    fn from_env(placement: Placement, placement_note: String) -> Settings {
        let quick = env::var("CLUSTER_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
        let only: Option<Vec<String>> = env::var("CLUSTER_ONLY")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(|v| v.split(',').map(|s| s.trim().to_string()).collect());
        if let Some(only) = &only {
            for id in only {
                assert!(
                    id == "pool" || id == "fan-out",
                    "CLUSTER_ONLY: unknown section {id:?} (pool, fan-out)"
                );
            }
        }
        let wants = |id: &str| only.as_ref().is_none_or(|o| o.iter().any(|s| s == id));
        Settings {
            quick,
            rounds: env_usize("CLUSTER_ROUNDS", if quick { 3 } else { 7 }).max(1),
            pool_ops: env_usize("CLUSTER_OPS", if quick { 2_500 } else { 12_000 }).max(1),
            many_ops: env_usize("CLUSTER_MANY_OPS", if quick { 2_000 } else { 4_000 }).max(10),
            slices: env_usize("CLUSTER_SLICES", if quick { 3 } else { 5 }).max(1),
            micro_iters: env_usize("CLUSTER_MICRO_ITERS", if quick { 50_000 } else { 300_000 })
                .max(1),
            placement,
            placement_note,
            pool: wants("pool"),
            fan_out: wants("fan-out"),
        }
    }
}

/// By default (`split`) the threaded and cluster runs are not pinned (their threads and the
/// four servers need both CPUs), while each single-connection run is pinned, with its server,
/// to one CPU (see [`Placement::Split`]). `CLUSTER_PLACEMENT=spread` pins nothing. With
/// `CLUSTER_PLACEMENT=pinned` this process re-executes itself under `taskset -c <cpu>` (the
/// child finds the marker and carries on) and every memcached thread is pinned there too.
fn establish_placement() -> (Placement, String) {
    let cpu = env_usize("CLUSTER_CPU", 0);
    let allowed = proc_status_field("self", "Cpus_allowed_list");
    match env::var("CLUSTER_PLACEMENT").as_deref() {
        Ok("split") | Ok("") | Err(_) => {
            return (
                Placement::Split(cpu),
                format!(
                    "split (the default): threaded and cluster runs not pinned (bench Cpus_allowed_list={allowed}, \
                     memcached wherever the scheduler puts it); each single-connection run (marked \"pinned\") \
                     with its thread and all of server 1's memcached threads on CPU {cpu} while it runs"
                ),
            );
        }
        Ok("spread") => {
            return (
                Placement::Spread,
                format!(
                    "spread (CLUSTER_PLACEMENT=spread): nothing pinned; bench Cpus_allowed_list={allowed}, \
                     memcached threads wherever the scheduler puts them"
                ),
            );
        }
        Ok("pinned") => {}
        Ok(other) => panic!("CLUSTER_PLACEMENT={other:?}: use split, spread or pinned"),
    }
    if env::var_os(CHILD_MARKER).is_none() {
        let exe = env::current_exe().expect("the bench's own path");
        let status = Command::new("taskset")
            .arg("-c")
            .arg(cpu.to_string())
            .arg(exe)
            .args(env::args_os().skip(1))
            .env(CHILD_MARKER, cpu.to_string())
            .status();
        match status {
            Ok(status) => process::exit(status.code().unwrap_or(1)),
            Err(error) => {
                let note = format!("spread (taskset could not run: {error})");
                eprintln!("cluster: {note}");
                return (Placement::Spread, note);
            }
        }
    }
    let allowed = proc_status_field("self", "Cpus_allowed_list");
    (
        Placement::Pinned(cpu),
        format!(
            "pinned (CLUSTER_PLACEMENT=pinned): bench and all memcached threads on CPU {cpu} \
             (bench Cpus_allowed_list={allowed}); threads beyond one cannot add throughput"
        ),
    )
}

/// `taskset -a -p -c <cpu> <pid>`: every thread of memcached onto the bench's CPU.
fn pin_memcached(pid: u32, cpu: usize) -> usize {
    let output = Command::new("taskset")
        .args(["-a", "-p", "-c", &cpu.to_string(), &pid.to_string()])
        .output()
        .expect("taskset runs (it ran for the bench itself)");
    assert!(
        output.status.success(),
        "taskset -a -p failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut threads = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            let tid = task.file_name().to_string_lossy().into_owned();
            threads.push(proc_status_field(
                &format!("{pid}/task/{tid}"),
                "Cpus_allowed_list",
            ));
        }
    }
    let all = threads.iter().all(|t| *t == cpu.to_string());
    assert!(all, "memcached threads not all on CPU {cpu}: {threads:?}");
    threads.len()
}

// ---------------------------------------------------------------------------------------------
// Data

// ---------------------------------------------------------------------------------------------
// The floor, and a raw side connection for setup

/// The floor: plain `std` TCP, one write per request, a reused read buffer, no parsing beyond
/// finding the reply's end and checking its length.
struct Floor {
    stream: TcpStream,
    request: Vec<u8>,
    buf: Vec<u8>,
}

impl Floor {
    fn connect(addr: &str) -> Floor {
        let stream = TcpStream::connect(addr).expect("floor connects");
        stream.set_nodelay(true).unwrap();
        Floor {
            stream,
            request: Vec::with_capacity(64 * 1024),
            buf: vec![0; 256 * 1024],
        }
    }

    /// Sends `get k1 … kN` as one line; reads until the reply ends with `END\r\n` and checks
    /// that it holds exactly N values.
    fn get(&mut self, keys: &[&str]) {
        self.request.clear();
        self.request.extend_from_slice(b"get");
        for key in keys {
            self.request.push(b' ');
            self.request.extend_from_slice(key.as_bytes());
        }
        self.request.extend_from_slice(b"\r\n");
        self.stream.write_all(&self.request).expect("floor write");
        let mut len = 0;
        loop {
            if len == self.buf.len() {
                self.buf.resize(len * 2, 0);
            }
            let n = self.stream.read(&mut self.buf[len..]).expect("floor read");
            assert!(n > 0, "memcached closed the floor's connection");
            len += n;
            if self.buf[..len].ends_with(END) {
                break;
            }
        }
        assert_eq!(len, keys.len() * VALUE_FRAME_LEN + END.len(), "floor get");
    }
}

struct Raw(TcpStream);

impl Raw {
    fn connect(addr: &str) -> Raw {
        let stream = TcpStream::connect(addr).expect("setup connection connects");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        Raw(stream)
    }

    fn version(&mut self) -> String {
        self.0.write_all(b"version\r\n").unwrap();
        let mut reply = Vec::new();
        let mut chunk = [0u8; 256];
        while !reply.ends_with(b"\r\n") {
            let n = self.0.read(&mut chunk).unwrap();
            assert!(n > 0, "memcached closed the setup connection");
            reply.extend_from_slice(&chunk[..n]);
        }
        String::from_utf8_lossy(&reply)
            .trim()
            .trim_start_matches("VERSION ")
            .to_string()
    }

    /// Stores `value` under every key, pipelined, and checks every reply.
    fn load(&mut self, keys: &[&str], value: &[u8]) {
        for chunk in keys.chunks(500) {
            let mut request = Vec::new();
            for key in chunk {
                request.extend_from_slice(b"set ");
                request.extend_from_slice(key.as_bytes());
                request.extend_from_slice(format!(" 0 0 {}\r\n", value.len()).as_bytes());
                request.extend_from_slice(value);
                request.extend_from_slice(b"\r\n");
            }
            self.0.write_all(&request).unwrap();
            let expected = STORED.repeat(chunk.len());
            let mut reply = vec![0; expected.len()];
            self.0.read_exact(&mut reply).unwrap();
            assert_eq!(reply, expected, "preload");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Measurement

/// CPU time actually run, in ns, by this process (`CLOCK_PROCESS_CPUTIME_ID`: every thread,
/// including the worker and scoped threads that have exited by the time it is read) and the
/// given memcached processes (every thread, from `/proc/<pid>/task/*/schedstat`; their threads
/// live as long as they do).
struct CpuClock {
    server_pids: Vec<String>,
}

impl CpuClock {
    fn new(servers: &[&Memcached]) -> CpuClock {
        CpuClock {
            server_pids: servers.iter().map(|s| s.pid().to_string()).collect(),
        }
    }

    fn now(&self) -> u64 {
        process_cpu_ns()
            + self
                .server_pids
                .iter()
                .map(|pid| task_run_ns(pid))
                .sum::<u64>()
    }
}

fn process_cpu_ns() -> u64 {
    // SAFETY: clock_gettime writes into the live, zero-initialised timespec it is given.
    let ts = unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        let result = libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts);
        assert_eq!(
            result,
            0,
            "clock_gettime: {}",
            std::io::Error::last_os_error()
        );
        ts
    };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// One configuration's measurements over all rounds.
#[derive(Default)]
struct Record {
    /// Per round: (operations, wall seconds, CPU seconds).
    rounds: Vec<(usize, f64, f64)>,
    latencies_ns: Vec<u32>,
    /// Where the next slice's keys start.
    cursor: usize,
}

impl Record {
    fn add(&mut self, round: usize, ops: usize, wall: Duration, cpu_ns: u64) {
        if self.rounds.len() <= round {
            self.rounds.resize(round + 1, (0, 0.0, 0.0));
        }
        let r = &mut self.rounds[round];
        r.0 += ops;
        r.1 += wall.as_secs_f64();
        r.2 += cpu_ns as f64 / 1e9;
        self.cursor += ops;
    }

    fn rate(&self, round: usize) -> f64 {
        let (ops, wall, _) = self.rounds[round];
        ops as f64 / wall
    }

    fn totals(&self) -> (usize, f64, f64) {
        self.rounds.iter().fold((0, 0.0, 0.0), |acc, r| {
            (acc.0 + r.0, acc.1 + r.1, acc.2 + r.2)
        })
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Median and range over rounds of `f(round)`.
fn ratio_summary(rounds: usize, f: impl Fn(usize) -> f64) -> (f64, f64, f64) {
    let mut ratios: Vec<f64> = (0..rounds).map(f).collect();
    let min = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let max = ratios.iter().copied().fold(0.0, f64::max);
    (median(&mut ratios), min, max)
}

/// A table row for one configuration: ops/s over all rounds, p50/p99, the median per-round
/// throughput ratio to the floor and its range, CPU per op, CPU/wall.
fn result_row(
    workload: &str,
    name: &str,
    record: &mut Record,
    floor: &Record,
    rounds: usize,
) -> Vec<String> {
    let (ops, wall, cpu) = record.totals();
    let (ratio, min, max) = ratio_summary(rounds, |r| record.rate(r) / floor.rate(r));
    record.latencies_ns.sort_unstable();
    vec![
        workload.to_string(),
        name.to_string(),
        thousands(ops as f64 / wall),
        duration_label(percentile(&record.latencies_ns, 50)),
        duration_label(percentile(&record.latencies_ns, 99)),
        format!("{ratio:.2}"),
        format!("{min:.2}–{max:.2}"),
        duration_label(cpu * 1e9 / ops as f64),
        format!("{:.0}%", 100.0 * cpu / wall),
        rounds.to_string(),
    ]
}

const RESULT_HEADERS: [&str; 10] = [
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

// ---------------------------------------------------------------------------------------------
// Section 1: the pool under threads

enum PoolSetup {
    /// `unpinned`: the floor left where the scheduler puts it, under the split placement.
    Floor {
        floor: Floor,
        unpinned: bool,
    },
    Client(Box<Client>),
    Pool {
        pool: Pool,
        threads: usize,
        max: usize,
    },
}

impl PoolSetup {
    fn name(&self, placement: Placement) -> String {
        let pinned = if self.pinned(placement) {
            ", pinned"
        } else {
            ""
        };
        match self {
            PoolSetup::Floor { unpinned: true, .. } => {
                "floor, not pinned (diagnostic: cross-CPU wake-ups)".into()
            }
            PoolSetup::Floor { .. } => format!("floor (1 connection, 1 thread{pinned})"),
            PoolSetup::Client(_) => format!("bare Client (1 thread{pinned})"),
            PoolSetup::Pool { threads, max, .. } => {
                let s = if *threads == 1 { "" } else { "s" };
                format!("Pool: {threads} thread{s}, max {max}{pinned}")
            }
        }
    }

    /// Whether this run is pinned to one CPU with its server under `placement`.
    fn pinned(&self, placement: Placement) -> bool {
        placement.single().is_some()
            && self.threads() == 1
            && !matches!(self, PoolSetup::Floor { unpinned: true, .. })
    }

    fn threads(&self) -> usize {
        match self {
            PoolSetup::Pool { threads, .. } => *threads,
            _ => 1,
        }
    }

    fn workers(&mut self) -> Vec<Worker<'_>> {
        match self {
            PoolSetup::Floor { floor, .. } => vec![Worker::Floor(floor)],
            PoolSetup::Client(client) => vec![Worker::Client(client)],
            PoolSetup::Pool { pool, threads, .. } => {
                (0..*threads).map(|_| Worker::Pool(&*pool)).collect()
            }
        }
    }
}

enum Worker<'a> {
    Floor(&'a mut Floor),
    Client(&'a mut Client),
    Pool(&'a Pool),
}

impl Worker<'_> {
    /// One `get` of a key that holds a 100-byte value; through the pool, checkout and return
    /// included.
    fn get_hit(&mut self, key: &str) {
        match self {
            Worker::Floor(floor) => floor.get(&[key]),
            Worker::Client(client) => {
                let item = client.get(key.as_bytes()).expect("get").expect("a hit");
                assert_eq!(item.value.len(), VALUE_LEN);
            }
            Worker::Pool(pool) => {
                let mut client = pool.get().expect("checkout");
                let item = client.get(key.as_bytes()).expect("get").expect("a hit");
                assert_eq!(item.value.len(), VALUE_LEN);
            }
        }
    }
}

/// Runs `ops` gets on each worker, each on its own thread, released together; returns the
/// time from the first thread's start to the last one's end, and appends every operation's
/// latency.
fn run_threads(
    workers: Vec<Worker<'_>>,
    ops: usize,
    cursor: usize,
    keys: &[&str],
    latencies: &mut Vec<u32>,
    pin: Option<usize>,
) -> Duration {
    let barrier = Barrier::new(workers.len());
    let results: Vec<(Instant, Instant, Vec<u32>)> = thread::scope(|scope| {
        let running: Vec<_> = workers
            .into_iter()
            .enumerate()
            .map(|(t, mut worker)| {
                let barrier = &barrier;
                scope.spawn(move || {
                    if let Some(cpu) = pin {
                        set_affinity(0, &[cpu]);
                    }
                    let mut latencies = Vec::with_capacity(ops);
                    barrier.wait();
                    let started = Instant::now();
                    let mut last = started;
                    for op in 0..ops {
                        worker.get_hit(keys[(cursor + t * 7_919 + op) % keys.len()]);
                        let now = Instant::now();
                        latencies.push(u32::try_from((now - last).as_nanos()).unwrap_or(u32::MAX));
                        last = now;
                    }
                    (started, last, latencies)
                })
            })
            .collect();
        running
            .into_iter()
            .map(|t| t.join().expect("a worker thread panicked"))
            .collect()
    });
    let start = results.iter().map(|r| r.0).min().expect("one thread");
    let end = results.iter().map(|r| r.1).max().expect("one thread");
    for (_, _, l) in results {
        latencies.extend(l);
    }
    end - start
}

/// As big as the pool's idle entry (a `Client` and an `Instant`), moved in and out of the
/// pool's `Vec` as that is.
const IDLE_LEN: usize = std::mem::size_of::<Client>() + std::mem::size_of::<Instant>();

type IdleLike = [u8; IDLE_LEN];

/// Times `iters` runs of `f`; ns per run.
fn time_ns(iters: usize, mut f: impl FnMut()) -> f64 {
    let started = Instant::now();
    for _ in 0..iters {
        f();
    }
    started.elapsed().as_nanos() as f64 / iters as f64
}

/// The checkout and return with no I/O, and the parts they are made of, in ns per run.
/// `Pool::get` reads the clock twice (its deadline, the idle connection's age), locks the
/// state and pops; the guard clones an `Arc`. Dropping the guard locks the state, pushes the
/// connection with the clock read a third time, and calls `Condvar::notify_one`.
#[derive(Default)]
struct Micro {
    checkout: Vec<f64>,
    now: Vec<f64>,
    lock: Vec<f64>,
    notify: Vec<f64>,
    arc: Vec<f64>,
}

impl Micro {
    fn run(&mut self, pool: &Pool, iters: usize) {
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
}

struct PoolResults {
    rows: Vec<Vec<String>>,
    overhead: Vec<Vec<String>>,
    servers_note: String,
}

fn pool_section(settings: &Settings, server: &Memcached, started: Instant) -> PoolResults {
    let addr = &server.addr();
    let keys = make_keys("cl:hit:", HIT_KEYS);
    Raw::connect(addr).load(&keys, &value_for("hit"));
    let pool_config = |max: usize| {
        PoolConfig::default()
            .with_max_size(max)
            .with_checkout_timeout(Duration::from_secs(30))
    };
    let mut setups = vec![
        PoolSetup::Floor {
            floor: Floor::connect(addr),
            unpinned: false,
        },
        PoolSetup::Client(Box::new(Client::connect(addr).expect("Client connects"))),
    ];
    for (threads, max) in POOL_RUNS {
        let pool = Pool::builder(addr).pool(pool_config(max)).build();
        // Opens all `max` connections before anything is timed.
        let held: Vec<_> = (0..max).map(|_| pool.get().expect("checkout")).collect();
        drop(held);
        setups.push(PoolSetup::Pool { pool, threads, max });
    }
    if settings.placement.single().is_some() {
        setups.push(PoolSetup::Floor {
            floor: Floor::connect(addr),
            unpinned: true,
        });
    }
    let placement = settings.placement;
    let single_pin = SinglePin::new(placement, server);
    let n = setups.len();
    let mut records: Vec<Record> = (0..n).map(|_| Record::default()).collect();
    // Warm-up, untimed.
    for setup in &mut setups {
        run_threads(setup.workers(), 200, 0, &keys, &mut Vec::new(), None);
    }
    let micro_pool = Pool::builder(addr).pool(pool_config(1)).build();
    drop(micro_pool.get().expect("checkout"));
    let mut micro = Micro::default();

    let per_slice = (settings.pool_ops / settings.slices).max(1);
    // The bench and the one server in use; the other three idle.
    let cpu = CpuClock::new(&[server]);
    for round in 0..settings.rounds {
        for slice in 0..settings.slices {
            for k in 0..n {
                let i = (k + round + slice) % n;
                let setup = &mut setups[i];
                let record = &mut records[i];
                let threads = setup.threads();
                let cursor = record.cursor;
                let pin = single_pin.as_ref().filter(|_| setup.pinned(placement));
                if let Some(pin) = pin {
                    pin.pin_server();
                }
                let cpu_before = cpu.now();
                let wall = run_threads(
                    setup.workers(),
                    per_slice,
                    cursor,
                    &keys,
                    &mut record.latencies_ns,
                    pin.map(|p| p.cpu),
                );
                let cpu_ns = cpu.now().saturating_sub(cpu_before);
                if let Some(pin) = pin {
                    pin.release_server();
                }
                record.add(round, per_slice * threads, wall, cpu_ns);
            }
        }
        micro.run(&micro_pool, settings.micro_iters);
        eprintln!(
            "pool: round {}/{} ({:.0} s so far)",
            round + 1,
            settings.rounds,
            started.elapsed().as_secs_f64()
        );
    }

    let rounds = settings.rounds;
    let (floor_records, rest) = records.split_at_mut(1);
    let floor = &floor_records[0];
    let mut rows = Vec::new();
    let mut floor_copy = Record {
        rounds: floor.rounds.clone(),
        latencies_ns: floor.latencies_ns.clone(),
        cursor: 0,
    };
    rows.push(result_row(
        "get (hit)",
        &setups[0].name(placement),
        &mut floor_copy,
        floor,
        rounds,
    ));
    for (setup, record) in setups[1..].iter().zip(rest.iter_mut()) {
        rows.push(result_row(
            "get (hit)",
            &setup.name(placement),
            record,
            floor,
            rounds,
        ));
    }

    // Single-thread overhead: the pool with 1 thread against the bare Client.
    let client = &records[1];
    let pooled = &records[2];
    let per_op = |r: &Record, round: usize| r.rounds[round].1 / r.rounds[round].0 as f64;
    let cpu_per_op = |r: &Record, round: usize| r.rounds[round].2 / r.rounds[round].0 as f64;
    let (wall_ratio, wall_min, wall_max) =
        ratio_summary(rounds, |r| per_op(pooled, r) / per_op(client, r));
    let (cpu_ratio, cpu_min, cpu_max) =
        ratio_summary(rounds, |r| cpu_per_op(pooled, r) / cpu_per_op(client, r));
    let (wall_diff, _, _) =
        ratio_summary(rounds, |r| (per_op(pooled, r) - per_op(client, r)) * 1e9);
    let (cpu_diff, _, _) = ratio_summary(rounds, |r| {
        (cpu_per_op(pooled, r) - cpu_per_op(client, r)) * 1e9
    });
    let total_per_op = |r: &Record| {
        let (ops, wall, cpu) = r.totals();
        (wall * 1e9 / ops as f64, cpu * 1e9 / ops as f64)
    };
    let (client_wall, client_cpu) = total_per_op(client);
    let (pooled_wall, pooled_cpu) = total_per_op(pooled);
    let med = |v: &mut Vec<f64>| median(v);
    let (checkout, now, lock, notify, arc) = (
        med(&mut micro.checkout),
        med(&mut micro.now),
        med(&mut micro.lock),
        med(&mut micro.notify),
        med(&mut micro.arc),
    );
    let range = |v: &[f64]| {
        let min = v.iter().copied().fold(f64::INFINITY, f64::min);
        let max = v.iter().copied().fold(0.0, f64::max);
        format!("{min:.0}–{max:.0} ns")
    };
    let overhead = vec![
        vec![
            "wall time per get: Pool (1 thread, max 1) ÷ bare Client".into(),
            format!(
                "{} vs {}; per round {:+.0} ns",
                duration_label(pooled_wall),
                duration_label(client_wall),
                wall_diff
            ),
            format!("{wall_ratio:.3}"),
            format!("{wall_min:.3}–{wall_max:.3}"),
        ],
        vec![
            "CPU time per get (bench + memcached): Pool ÷ bare Client".into(),
            format!(
                "{} vs {}; per round {:+.0} ns",
                duration_label(pooled_cpu),
                duration_label(client_cpu),
                cpu_diff
            ),
            format!("{cpu_ratio:.3}"),
            format!("{cpu_min:.3}–{cpu_max:.3}"),
        ],
        vec![
            "checkout + return, no I/O: pool.get() then drop (max 1, 1 idle)".into(),
            format!("{checkout:.0} ns"),
            "-".into(),
            range(&micro.checkout),
        ],
        vec![
            "  Instant::now() (3 per checkout + return)".into(),
            format!("{now:.0} ns"),
            "-".into(),
            range(&micro.now),
        ],
        vec![
            format!("  2 × (Mutex lock, Vec pop or push of {IDLE_LEN} B, unlock), uncontended"),
            format!("{lock:.0} ns"),
            "-".into(),
            range(&micro.lock),
        ],
        vec![
            "  Condvar::notify_one() with no waiter (1 per return)".into(),
            format!("{notify:.0} ns"),
            "-".into(),
            range(&micro.notify),
        ],
        vec![
            "  Arc clone + drop (the guard's handle on the pool)".into(),
            format!("{arc:.0} ns"),
            "-".into(),
            range(&micro.arc),
        ],
        vec![
            "  sum of the parts: 3 × now + locks + notify + Arc".into(),
            format!("{:.0} ns", 3.0 * now + lock + notify + arc),
            "-".into(),
            "-".into(),
        ],
    ];
    PoolResults {
        rows,
        overhead,
        servers_note: format!(
            "{} connections to server 1: the floor's, the bare Client's, and the pools' (opened before timing)",
            2 + POOL_RUNS.iter().map(|(_, max)| max).sum::<usize>() + 1
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Section 2: get_many fan-out

enum FanSetup {
    /// One connection to the first server; keys all on it.
    Floor(Floor),
    /// `Client::get_many` on the first server; keys all on it.
    Client(Box<Client>),
    /// `Cluster::get_many`; keys spread over the four servers, or (`spread: false`) all on the
    /// first one.
    Cluster { cluster: Cluster, spread: bool },
}

impl FanSetup {
    fn name(&self, placement: Placement) -> String {
        let pinned = if self.pinned(placement) {
            ", pinned"
        } else {
            ""
        };
        match self {
            FanSetup::Floor(_) => format!("floor: 1 get line, 1 connection, 1 server{pinned}"),
            FanSetup::Client(_) => format!("Client::get_many, 1 server{pinned}"),
            FanSetup::Cluster { spread: true, .. } => {
                "Cluster::get_many, keys over 4 servers".into()
            }
            FanSetup::Cluster { spread: false, .. } => {
                "Cluster::get_many, keys all on 1 server".into()
            }
        }
    }

    /// Whether this run is pinned to one CPU with its server under `placement`.
    fn pinned(&self, placement: Placement) -> bool {
        placement.single().is_some() && matches!(self, FanSetup::Floor(_) | FanSetup::Client(_))
    }

    fn get_many(&mut self, one: &[&str], spread: &[&str]) {
        let n = one.len();
        match self {
            FanSetup::Floor(floor) => floor.get(one),
            FanSetup::Client(client) => {
                assert_eq!(client.get_many(one).expect("get_many").len(), n);
            }
            FanSetup::Cluster {
                cluster,
                spread: true,
            } => {
                let report = cluster.get_many(spread).expect("get_many");
                assert!(
                    report.failed.is_empty(),
                    "{:?}",
                    report.failed.values().next()
                );
                assert_eq!(report.found.len(), n);
            }
            FanSetup::Cluster {
                cluster,
                spread: false,
            } => {
                let report = cluster.get_many(one).expect("get_many");
                assert!(
                    report.failed.is_empty(),
                    "{:?}",
                    report.failed.values().next()
                );
                assert_eq!(report.found.len(), n);
            }
        }
    }
}

/// `size` consecutive keys starting at the `call`-th window of `keys`.
fn window<'a>(keys: &'a [&'static str], size: usize, call: usize) -> &'a [&'static str] {
    let windows = keys.len() / size;
    let first = (call % windows) * size;
    &keys[first..first + size]
}

struct FanResults {
    rows: Vec<Vec<String>>,
    costs: Vec<Vec<String>>,
    spread_note: String,
}

/// What `Cluster::get_many` does besides the I/O, timed alone: the scoped threads it starts,
/// one per server with keys (even when that is one server), and the ketama hash of every key.
#[derive(Default)]
struct FanMicro {
    spawn1: Vec<f64>,
    spawn4: Vec<f64>,
    hash100: Vec<f64>,
}

impl FanMicro {
    fn run(&mut self, cluster: &Cluster, keys: &[&str], iters: usize) {
        let spawn = |threads: usize| {
            time_ns(iters, || {
                thread::scope(|scope| {
                    for i in 0..threads {
                        scope.spawn(move || black_box(i));
                    }
                });
            })
        };
        self.spawn1.push(spawn(1));
        self.spawn4.push(spawn(SERVERS));
        self.hash100.push(time_ns(iters, || {
            for key in &keys[..100] {
                black_box(cluster.server_for(black_box(key.as_bytes())));
            }
        }));
    }

    fn rows(&mut self) -> Vec<Vec<String>> {
        let row = |what: &str, v: &mut Vec<f64>| {
            let min = v.iter().copied().fold(f64::INFINITY, f64::min);
            let max = v.iter().copied().fold(0.0, f64::max);
            vec![
                what.to_string(),
                duration_label(median(v)),
                "-".into(),
                format!("{}–{}", duration_label(min), duration_label(max)),
            ]
        };
        vec![
            row(
                "thread::scope spawning and joining 1 empty thread",
                &mut self.spawn1,
            ),
            row(
                "thread::scope spawning and joining 4 empty threads",
                &mut self.spawn4,
            ),
            row("ketama server_for of 100 keys (32 B)", &mut self.hash100),
        ]
    }
}

fn fan_out_section(settings: &Settings, servers: &[Memcached], started: Instant) -> FanResults {
    let addrs: Vec<String> = servers.iter().map(|s| s.addr()).collect();
    let build = || {
        Cluster::builder(&addrs)
            .pool(
                PoolConfig::default()
                    .with_max_size(4)
                    .with_checkout_timeout(Duration::from_secs(30)),
            )
            .build()
            .expect("cluster builds")
    };
    let cluster = build();
    // Every key stored on the server that owns it under ketama.
    let all = make_keys("cl:fan:", FAN_KEYS);
    let mut by_server: Vec<Vec<&'static str>> = vec![Vec::new(); SERVERS];
    for key in &all {
        by_server[cluster.server_for(key.as_bytes())].push(key);
    }
    let value = value_for("fan");
    for (server, keys) in by_server.iter().enumerate() {
        Raw::connect(&addrs[server]).load(keys, &value);
    }
    let spread_note = format!(
        "{FAN_KEYS} keys owned (ketama) {} by servers 1–4; every window of keys over 4 servers is in input order, so each call splits about evenly",
        by_server
            .iter()
            .map(|k| k.len().to_string())
            .collect::<Vec<_>>()
            .join("/")
    );
    let one = &by_server[0];
    assert!(one.len() >= 2 * FAN_SIZES[1], "server 1 owns too few keys");

    let mut setups = vec![
        FanSetup::Floor(Floor::connect(&addrs[0])),
        FanSetup::Client(Box::new(
            Client::connect(&addrs[0]).expect("Client connects"),
        )),
        FanSetup::Cluster {
            cluster,
            spread: true,
        },
        FanSetup::Cluster {
            cluster: build(),
            spread: false,
        },
    ];
    let n = setups.len();
    let server_refs: Vec<&Memcached> = servers.iter().collect();
    let placement = settings.placement;
    let single_pin = SinglePin::new(placement, &servers[0]);
    let cpu = CpuClock::new(&server_refs);
    let mut rows = Vec::new();
    let mut micro = FanMicro::default();
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
        let mut records: Vec<Record> = (0..n).map(|_| Record::default()).collect();
        for round in 0..settings.rounds {
            for slice in 0..settings.slices {
                for k in 0..n {
                    let i = (k + round + slice) % n;
                    let setup = &mut setups[i];
                    let record = &mut records[i];
                    let pin = single_pin.as_ref().filter(|_| setup.pinned(placement));
                    if let Some(pin) = pin {
                        pin.pin_here();
                    }
                    let cpu_before = cpu.now();
                    let start = Instant::now();
                    let mut last = start;
                    for call in record.cursor..record.cursor + per_slice {
                        setup.get_many(window(one, size, call), window(&all, size, call));
                        let now = Instant::now();
                        record
                            .latencies_ns
                            .push(u32::try_from((now - last).as_nanos()).unwrap_or(u32::MAX));
                        last = now;
                    }
                    let cpu_ns = cpu.now().saturating_sub(cpu_before);
                    if let Some(pin) = pin {
                        pin.release_here();
                    }
                    record.add(round, per_slice, last - start, cpu_ns);
                }
            }
            if size == FAN_SIZES[0] {
                let FanSetup::Cluster { cluster, .. } = &setups[2] else {
                    unreachable!("the third setup is the cluster")
                };
                micro.run(cluster, &all, (settings.micro_iters / 100).max(1));
            }
            eprintln!(
                "fan-out get_many({size}): round {}/{} ({:.0} s so far)",
                round + 1,
                settings.rounds,
                started.elapsed().as_secs_f64()
            );
        }
        let (floor, rest) = records.split_at_mut(1);
        let floor = &mut floor[0];
        let mut floor_copy = Record {
            rounds: floor.rounds.clone(),
            latencies_ns: std::mem::take(&mut floor.latencies_ns),
            cursor: 0,
        };
        let workload = format!("get_many({size})");
        rows.push(result_row(
            &workload,
            &setups[0].name(placement),
            &mut floor_copy,
            floor,
            settings.rounds,
        ));
        for (setup, record) in setups[1..].iter().zip(rest.iter_mut()) {
            rows.push(result_row(
                &workload,
                &setup.name(placement),
                record,
                floor,
                settings.rounds,
            ));
        }
    }
    FanResults {
        rows,
        costs: micro.rows(),
        spread_note,
    }
}

// ---------------------------------------------------------------------------------------------
// Output

fn duration_label(ns: f64) -> String {
    if ns.is_nan() {
        "-".into()
    } else if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.1} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// A fixed-width table: the first `left` columns left-aligned, the rest right-aligned; a blank
/// line between groups of rows with a different first column.
fn print_table(headers: &[&str], rows: &[Vec<String>], left: usize, grouped: bool) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |values: &[String]| {
        let mut out = String::new();
        for (i, (v, w)) in values.iter().zip(&widths).enumerate() {
            let pad = " ".repeat(w - v.chars().count());
            if i < left {
                out.push_str(v);
                out.push_str(&pad);
            } else {
                out.push_str(&pad);
                out.push_str(v);
            }
            out.push_str("  ");
        }
        out.trim_end().to_string()
    };
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    println!("{}", line(&header));
    println!(
        "{}",
        "-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1))
    );
    let mut previous: Option<&str> = None;
    for row in rows {
        if grouped && previous.is_some_and(|p| p != row[0]) {
            println!();
        }
        previous = Some(&row[0]);
        println!("{}", line(row));
    }
}

fn print_markdown(headers: &[&str], rows: &[Vec<String>], left: usize) {
    println!("| {} |", headers.join(" | "));
    let align: Vec<&str> = (0..headers.len())
        .map(|i| if i < left { "---" } else { "--:" })
        .collect();
    println!("|{}|", align.join("|"));
    for row in rows {
        println!("| {} |", row.join(" | "));
    }
}

fn rerun_command() -> String {
    let mut vars: Vec<String> = env::vars()
        .filter(|(k, _)| k.starts_with("CLUSTER_") && k != CHILD_MARKER)
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    vars.sort();
    vars.push("cargo bench --bench cluster".into());
    vars.join(" ")
}

// ---------------------------------------------------------------------------------------------

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this binary without it,
    // and a three-minute measurement has no place in a test run.
    if !env::args().any(|arg| arg == "--bench") {
        println!("cluster: a benchmark; run it with `cargo bench --bench cluster`");
        return;
    }
    let (placement, placement_note) = establish_placement();
    let settings = Settings::from_env(placement, placement_note);
    let started = Instant::now();
    let load_at_start = loadavg();
    let source = source_state();

    let servers: Vec<Memcached> = (0..SERVERS)
        .map(|_| Memcached::start_with(&MEMCACHED_ARGS))
        .collect();
    let memcached_placement = match settings.placement {
        Placement::Pinned(cpu) => {
            let threads: usize = servers.iter().map(|s| pin_memcached(s.pid(), cpu)).sum();
            format!("{threads} memcached threads on CPU {cpu}")
        }
        Placement::Spread => "not pinned".into(),
        Placement::Split(cpu) => {
            format!("not pinned, but server 1's threads on CPU {cpu} during single-connection runs")
        }
    };
    let version = Raw::connect(&servers[0].addr()).version();

    let pool = settings
        .pool
        .then(|| pool_section(&settings, &servers[0], started));
    let fan = settings
        .fan_out
        .then(|| fan_out_section(&settings, &servers, started));

    println!();
    println!(
        "memcache-sync cluster: {} rounds{}",
        settings.rounds,
        if settings.quick {
            " (CLUSTER_QUICK: a smoke run, numbers not for comparison)"
        } else {
            ""
        }
    );
    println!(
        "date:       {}",
        command_output("date", &["-u", "+%Y-%m-%d %H:%M:%S UTC"])
    );
    println!("machine:    {}", machine());
    let source_now = source_state();
    if source_now == source {
        println!("source:     {source}");
    } else {
        println!("source:     {source} at start; {source_now} at the end (changed during the run; the binary was built before it started)");
    }
    println!(
        "memcached:  {version} ×{SERVERS} ({}, default 4 worker threads each; {memcached_placement})",
        MEMCACHED_ARGS.join(" ")
    );
    println!("placement:  {}", settings.placement_note);
    println!(
        "load avg:   {load_at_start} at start, {} at end; run took {:.0} s",
        loadavg(),
        started.elapsed().as_secs_f64()
    );
    println!(
        "noise:      a shared machine moves multi-threaded numbers from run to run: compare the ratios within \
         one run (each is taken against the floor in the same round), not ops/s across runs"
    );
    println!("floor:      std TcpStream (nodelay), one `get` line per request written at once, reply read until END and its length checked; one thread");
    println!(
        "ops/s ÷ floor: median over rounds of (the configuration's total ops/s / the floor's ops/s in the same round); \
         higher = more throughput; min–max: the per-round ratios' range"
    );
    println!(
        "CPU/op:     CPU time run by the bench (all its threads) and the memcached processes in use (schedstat) per op; \
         CPU/wall: that CPU time's share of the wall time (2 CPUs: at most 200%)"
    );
    if let Some(pool) = &pool {
        println!();
        println!(
            "== pool: get (hit), 32-byte keys, 100-byte values, on server 1; {} gets per thread per round in {} slices; \
             latency per get includes checkout and return; {}",
            settings.pool_ops, settings.slices, pool.servers_note
        );
        println!();
        print_table(&RESULT_HEADERS, &pool.rows, 2, true);
        println!();
        println!(
            "== single-thread pool overhead (wall and CPU: time per get over all rounds, then the median \
             per-round difference, ratio and its range; no-I/O rows: median over rounds of {} runs each)",
            settings.micro_iters
        );
        println!();
        print_table(&OVERHEAD_HEADERS, &pool.overhead, 2, false);
    }
    if let Some(fan) = &fan {
        println!();
        println!(
            "== fan-out: get_many, all hits; {} get_many(100) and {} get_many(1000) calls per implementation per round in {} slices; \
             an op is one call; the floor and Client read keys all stored on server 1; \
             each Cluster has pools of max 4 per server (one caller: one connection each); {}",
            settings.many_ops,
            settings.many_ops / 10,
            settings.slices,
            fan.spread_note
        );
        println!();
        print_table(&RESULT_HEADERS, &fan.rows, 2, true);
        println!();
        println!(
            "== fan-out costs without I/O (median over rounds of {} runs each)",
            settings.micro_iters / 100
        );
        println!();
        print_table(&OVERHEAD_HEADERS, &fan.costs, 2, false);
    }
    println!();
    println!("Markdown:");
    if let Some(pool) = &pool {
        println!();
        print_markdown(&RESULT_HEADERS, &pool.rows, 2);
        println!();
        print_markdown(&OVERHEAD_HEADERS, &pool.overhead, 2);
    }
    if let Some(fan) = &fan {
        println!();
        print_markdown(&RESULT_HEADERS, &fan.rows, 2);
        println!();
        print_markdown(&OVERHEAD_HEADERS, &fan.costs, 2);
    }
    println!();
    println!("rerun: {}", rerun_command());
    drop(servers);
}

const OVERHEAD_HEADERS: [&str; 4] = ["measure", "value", "ratio", "min–max"];
