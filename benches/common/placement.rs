//! Where the bench and memcached run. On a 2-vCPU machine a cross-CPU wake-up costs more than
//! a whole request, so the benches can put client and server on one CPU, where they take turns
//! and a round trip costs only their own work and the kernel's.

use std::env;
use std::process::{self, Command};

use super::env::env_usize;
use super::host::proc_status_field;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Placement {
    /// The bench (re-executed under `taskset`) and every memcached thread on this CPU.
    Pinned(usize),
    /// Each single-connection run, with its server's threads, on this CPU while it runs; the
    /// threaded runs spread over every CPU, as they need them.
    Split(usize),
    /// Nothing pinned.
    Spread,
}

impl Placement {
    /// Reads `<prefix>_PLACEMENT`, one of `modes` (the first is the default), and `<prefix>_CPU`
    /// (default 0). For `pinned`, re-executes this process under `taskset -c <cpu>` and never
    /// returns in the parent; `Err` says why `taskset` could not run (the caller runs spread).
    pub fn establish(prefix: &str, modes: &[&str]) -> Result<Placement, String> {
        let cpu = env_usize(&format!("{prefix}_CPU"), 0);
        let var = format!("{prefix}_PLACEMENT");
        let mode = env::var(&var)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| modes[0].to_string());
        if !modes.contains(&mode.as_str()) {
            panic!("{var}={mode:?}: use {}", modes.join(", "));
        }
        match mode.as_str() {
            "pinned" => reexec_pinned(cpu, &child_marker(prefix)).map(|()| Placement::Pinned(cpu)),
            "split" => Ok(Placement::Split(cpu)),
            _ => Ok(Placement::Spread),
        }
    }

    /// The CPU a single-connection run is pinned to, when this placement moves it there.
    pub fn single(self) -> Option<usize> {
        match self {
            Placement::Split(cpu) => Some(cpu),
            _ => None,
        }
    }
}

/// Marks the re-executed, pinned child process.
pub fn child_marker(prefix: &str) -> String {
    format!("{prefix}_PINNED_CHILD")
}

/// Affinity is inherited, so the child of `taskset -c <cpu>` and every thread it starts stay
/// on `cpu` without this process touching its own mask; the child finds the marker and goes on.
fn reexec_pinned(cpu: usize, marker: &str) -> Result<(), String> {
    if env::var_os(marker).is_some() {
        return Ok(());
    }
    let exe = env::current_exe().expect("the bench's own path");
    let status = Command::new("taskset")
        .arg("-c")
        .arg(cpu.to_string())
        .arg(exe)
        .args(env::args_os().skip(1))
        .env(marker, cpu.to_string())
        .status();
    match status {
        Ok(status) => process::exit(status.code().unwrap_or(1)),
        Err(error) => Err(error.to_string()),
    }
}

/// Every thread of `pid` onto `cpu`, checked; returns how many threads there are.
pub fn pin_process(pid: u32, cpu: usize) -> usize {
    set_process_affinity(pid, &[cpu]);
    let threads: Vec<String> = task_ids(pid)
        .map(|tid| proc_status_field(&format!("{pid}/task/{tid}"), "Cpus_allowed_list"))
        .collect();
    let all = threads.iter().all(|t| *t == cpu.to_string());
    assert!(all, "memcached threads not all on CPU {cpu}: {threads:?}");
    threads.len()
}

fn task_ids(pid: u32) -> impl Iterator<Item = libc::pid_t> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("memcached's threads")
        .flatten()
        .map(|task| {
            task.file_name()
                .to_string_lossy()
                .parse()
                .expect("a thread id")
        })
}

/// Sets the CPUs a thread may run on (`tid` 0: the calling thread).
pub fn set_affinity(tid: libc::pid_t, cpus: &[usize]) {
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
pub fn allowed_cpus() -> Vec<usize> {
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
pub fn set_process_affinity(pid: u32, cpus: &[usize]) {
    for tid in task_ids(pid) {
        set_affinity(tid, cpus);
    }
}

/// For a single-connection run under [`Placement::Split`]: its server's memcached threads
/// (and the thread that runs it) on one CPU while it runs, then back on every CPU.
pub struct SinglePin {
    server_pid: u32,
    pub cpu: usize,
    all: Vec<usize>,
}

impl SinglePin {
    pub fn new(placement: Placement, server_pid: u32) -> Option<SinglePin> {
        placement.single().map(|cpu| SinglePin {
            server_pid,
            cpu,
            all: allowed_cpus(),
        })
    }

    /// Runs `f` with the server's threads, and with `this_thread` the calling thread, on the
    /// one CPU, then puts them back on every CPU; without a pin, just runs `f`.
    pub fn while_running<R>(
        pin: Option<&SinglePin>,
        this_thread: bool,
        f: impl FnOnce() -> R,
    ) -> R {
        let Some(pin) = pin else {
            return f();
        };
        if this_thread {
            set_affinity(0, &[pin.cpu]);
        }
        set_process_affinity(pin.server_pid, &[pin.cpu]);
        let result = f();
        if this_thread {
            set_affinity(0, &pin.all);
        }
        set_process_affinity(pin.server_pid, &pin.all);
        result
    }
}
