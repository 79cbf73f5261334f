//! Interleaved rounds: the turn order, what each configuration records per round, the clocks
//! that record it, and the per-round ratios the tables report. Every configuration runs in
//! every round, so a drift of a shared machine lands on all alike and cancels in the ratios.

use std::time::{Duration, Instant};

/// The order of `n` configurations' turns: rotated by `offset` (the round, plus the slice), so
/// that none always runs first or right after the same neighbour.
pub fn turns(n: usize, offset: usize) -> impl Iterator<Item = usize> {
    (0..n).map(move |k| (k + offset) % n)
}

/// Every turn of one round cut into `slices`: each configuration takes one in every slice, so
/// that a burst of noise from the rest of the machine lands on all of them alike.
pub fn sliced_turns(n: usize, round: usize, slices: usize) -> impl Iterator<Item = usize> {
    (0..slices).flat_map(move |slice| turns(n, round + slice))
}

/// CPU time actually run, in ns, by this process (`CLOCK_PROCESS_CPUTIME_ID`: every thread,
/// including worker threads that have exited by the time it is read) and by every thread of
/// the given memcached processes (`/proc/<pid>/task/*/schedstat`). Time other processes take
/// from the CPU does not count, so ratios of it are far steadier than wall-clock ratios on a
/// shared machine.
pub struct CpuClock {
    server_pids: Vec<String>,
}

impl CpuClock {
    pub fn new(server_pids: &[u32]) -> CpuClock {
        CpuClock {
            server_pids: server_pids.iter().map(|pid| pid.to_string()).collect(),
        }
    }

    pub fn now(&self) -> u64 {
        process_cpu_ns() + self.server_pids.iter().map(|p| task_run_ns(p)).sum::<u64>()
    }

    /// Runs `f`; returns its result and the CPU time it took, client and servers.
    pub fn measure<R>(&self, f: impl FnOnce() -> R) -> (R, u64) {
        let before = self.now();
        let result = f();
        (result, self.now().saturating_sub(before))
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

fn task_run_ns(pid: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Times each operation of a run from the end of the one before, so the latencies add up to
/// the run's wall time.
pub struct Laps<'a> {
    latencies_ns: &'a mut Vec<u32>,
    started: Instant,
    last: Instant,
}

impl<'a> Laps<'a> {
    pub fn start(latencies_ns: &'a mut Vec<u32>) -> Laps<'a> {
        let now = Instant::now();
        Laps {
            latencies_ns,
            started: now,
            last: now,
        }
    }

    /// Ends one operation.
    pub fn lap(&mut self) {
        let now = Instant::now();
        let ns = (now - self.last).as_nanos();
        self.latencies_ns
            .push(u32::try_from(ns).unwrap_or(u32::MAX));
        self.last = now;
    }

    pub fn started(&self) -> Instant {
        self.started
    }

    /// From the start to the end of the last operation.
    pub fn ended(&self) -> Instant {
        self.last
    }

    pub fn elapsed(&self) -> Duration {
        self.last - self.started
    }
}

/// One round of one configuration.
#[derive(Clone, Copy, Default)]
pub struct Round {
    pub ops: usize,
    pub wall: f64,
    pub cpu: f64,
}

impl Round {
    pub fn wall_per_op(&self) -> f64 {
        self.wall / self.ops as f64
    }

    pub fn cpu_per_op(&self) -> f64 {
        self.cpu / self.ops as f64
    }
}

/// One configuration's measurements over all rounds.
#[derive(Default)]
pub struct Record {
    pub rounds: Vec<Round>,
    pub latencies_ns: Vec<u32>,
    /// Where the next slice's keys start.
    pub cursor: usize,
}

impl Record {
    pub fn add(&mut self, round: usize, ops: usize, wall: Duration, cpu_ns: u64) {
        if self.rounds.len() <= round {
            self.rounds.resize(round + 1, Round::default());
        }
        let r = &mut self.rounds[round];
        r.ops += ops;
        r.wall += wall.as_secs_f64();
        r.cpu += cpu_ns as f64 / 1e9;
        self.cursor += ops;
    }

    pub fn totals(&self) -> Round {
        self.rounds.iter().fold(Round::default(), |acc, r| Round {
            ops: acc.ops + r.ops,
            wall: acc.wall + r.wall,
            cpu: acc.cpu + r.cpu,
        })
    }

    /// `f(self's round, other's round)` for every round both ran.
    pub fn per_round(&self, other: &Record, f: impl Fn(&Round, &Round) -> f64) -> Vec<f64> {
        self.rounds
            .iter()
            .zip(&other.rounds)
            .filter(|(a, b)| a.ops > 0 && b.ops > 0)
            .map(|(a, b)| f(a, b))
            .collect()
    }

    /// Latency percentile, in ns; call [`Record::sort`] first.
    pub fn percentile(&self, p: usize) -> f64 {
        let sorted = &self.latencies_ns;
        if sorted.is_empty() {
            return f64::NAN;
        }
        sorted[(sorted.len() * p / 100).min(sorted.len() - 1)] as f64
    }

    pub fn sort(&mut self) {
        self.latencies_ns.sort_unstable();
    }
}

/// The median and range of per-round values.
#[derive(Clone, Copy)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(mut values: Vec<f64>) -> Spread {
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(0.0, f64::max);
        Spread {
            median: median(&mut values),
            min,
            max,
        }
    }
}

pub fn median(values: &mut [f64]) -> f64 {
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

/// Times `iters` runs of `f` with no I/O; ns per run.
pub fn time_ns(iters: usize, mut f: impl FnMut()) -> f64 {
    let started = Instant::now();
    for _ in 0..iters {
        f();
    }
    started.elapsed().as_nanos() as f64 / iters as f64
}
