//! What the `pool` and `fanout` benches share besides the table: their `CLUSTER_*` settings,
//! their placement, their memcached processes and the header they print.

use super::env::{env_flag, env_list, env_usize, measuring};
use super::host::proc_status_field;
use super::memcached::{Memcached, Side};
use super::placement::{pin_process, Placement};
use super::report::RunInfo;

pub const PREFIX: &str = "CLUSTER";
/// Default memory, default 4 worker threads.
pub const MEMCACHED_ARGS: [&str; 2] = ["-m", "256"];

pub struct Settings {
    pub quick: bool,
    pub rounds: usize,
    pub pool_ops: usize,
    pub many_ops: usize,
    pub slices: usize,
    pub micro_iters: usize,
    pub placement: Placement,
    pub placement_note: String,
}

impl Settings {
    /// `None`, said on stdout, under `cargo test`, or when `CLUSTER_ONLY` leaves `section`
    /// (`pool` or `fan-out`) out: the variable predates the split into two benches, and still
    /// picks among them when `cargo bench` runs both.
    pub fn for_run(bench: &str, section: &str) -> Option<Settings> {
        if !measuring(bench) {
            return None;
        }
        if let Some(only) = env_list("CLUSTER_ONLY") {
            for id in &only {
                assert!(
                    id == "pool" || id == "fan-out",
                    "CLUSTER_ONLY: unknown section {id:?} (pool, fan-out)"
                );
            }
            if !only.iter().any(|id| id == section) {
                println!("{bench}: skipped (CLUSTER_ONLY={})", only.join(","));
                return None;
            }
        }
        let (placement, placement_note) = establish_placement(bench);
        let quick = env_flag("CLUSTER_QUICK");
        Some(Settings {
            quick,
            rounds: env_usize("CLUSTER_ROUNDS", if quick { 3 } else { 7 }).max(1),
            pool_ops: env_usize("CLUSTER_OPS", if quick { 2_500 } else { 12_000 }).max(1),
            many_ops: env_usize("CLUSTER_MANY_OPS", if quick { 2_000 } else { 4_000 }).max(10),
            slices: env_usize("CLUSTER_SLICES", if quick { 3 } else { 5 }).max(1),
            micro_iters: env_usize("CLUSTER_MICRO_ITERS", if quick { 50_000 } else { 300_000 })
                .max(1),
            placement,
            placement_note,
        })
    }

    /// `n` private servers, placed; the second value says where their threads run.
    pub fn start_servers(&self, n: usize) -> (Vec<Memcached>, String) {
        let servers: Vec<Memcached> = (0..n)
            .map(|_| Memcached::start_with(&MEMCACHED_ARGS))
            .collect();
        let placed = match self.placement {
            Placement::Pinned(cpu) => {
                let threads: usize = servers.iter().map(|s| pin_process(s.pid(), cpu)).sum();
                format!("{threads} memcached threads on CPU {cpu}")
            }
            Placement::Spread => "not pinned".into(),
            Placement::Split(cpu) => {
                format!(
                    "not pinned, but server 1's threads on CPU {cpu} during single-connection runs"
                )
            }
        };
        (servers, placed)
    }

    /// The header, and the lines that say how to read the throughput table.
    pub fn print_header(&self, run: &RunInfo, bench: &str, servers: &[Memcached], placed: &str) {
        let version = Side::connect(&servers[0].addr()).version();
        let quick = if self.quick {
            " (CLUSTER_QUICK: a smoke run, numbers not for comparison)"
        } else {
            ""
        };
        let s = if servers.len() == 1 { "" } else { " each" };
        run.print_header(
            &format!("memcache-sync {bench}: {} rounds{quick}", self.rounds),
            &format!(
                "{version} ×{} ({}, default 4 worker threads{s}; {placed})",
                servers.len(),
                MEMCACHED_ARGS.join(" ")
            ),
            &self.placement_note,
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
    }
}

/// By default (`split`) the threaded and cluster runs are not pinned (their threads and the
/// servers need both CPUs), while each single-connection run is pinned, with its server, to
/// one CPU. `spread` pins nothing; `pinned` puts the bench and every memcached thread on one CPU.
fn establish_placement(bench: &str) -> (Placement, String) {
    let placement = match Placement::establish(PREFIX, &["split", "spread", "pinned"]) {
        Ok(placement) => placement,
        Err(why) => {
            let note = format!("spread (taskset could not run: {why})");
            eprintln!("{bench}: {note}");
            return (Placement::Spread, note);
        }
    };
    let allowed = proc_status_field("self", "Cpus_allowed_list");
    let note = match placement {
        Placement::Split(cpu) => format!(
            "split (the default): threaded and cluster runs not pinned (bench Cpus_allowed_list={allowed}, \
             memcached wherever the scheduler puts it); each single-connection run (marked \"pinned\") \
             with its thread and all of server 1's memcached threads on CPU {cpu} while it runs"
        ),
        Placement::Spread => format!(
            "spread (CLUSTER_PLACEMENT=spread): nothing pinned; bench Cpus_allowed_list={allowed}, \
             memcached threads wherever the scheduler puts them"
        ),
        Placement::Pinned(cpu) => format!(
            "pinned (CLUSTER_PLACEMENT=pinned): bench and all memcached threads on CPU {cpu} \
             (bench Cpus_allowed_list={allowed}); threads beyond one cannot add throughput"
        ),
    };
    (placement, note)
}
