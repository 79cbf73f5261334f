//! Helpers both comparison benches use: the machine and source they ran on, keys and values,
//! and the arithmetic of their tables.
#![allow(dead_code)]

use std::env;
use std::fmt::Write as _;
use std::process::Command;

/// Every value the benches store is this long.
pub const VALUE_LEN: usize = 100;

pub fn env_usize(name: &str, default: usize) -> usize {
    match env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        _ => default,
    }
}

pub fn proc_status_field(pid: &str, field: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix(field)?
                    .strip_prefix(':')
                    .map(|v| v.trim().to_string())
            })
        })
        .unwrap_or_else(|| "?".into())
}

/// `n` keys of exactly 32 bytes, `<prefix><zero-padded index>`, as `&'static str` slices of
/// one leaked string (so every client gets them in the form its API wants, for free).
pub fn make_keys(prefix: &str, n: usize) -> Vec<&'static str> {
    let width = 32 - prefix.len();
    let mut all = String::with_capacity(32 * n);
    for i in 0..n {
        write!(all, "{prefix}{i:0width$}").unwrap();
    }
    let all: &'static str = Box::leak(all.into_boxed_str());
    (0..n).map(|i| &all[i * 32..(i + 1) * 32]).collect()
}

/// A 100-byte value that names the load it belongs to (no `E`, so never `END`).
pub fn value_for(tag: &str) -> Vec<u8> {
    let mut value = format!("{tag}|").into_bytes();
    value.resize(VALUE_LEN, b'v');
    value
}

pub fn task_run_ns(pid: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

pub fn percentile(sorted: &[u32], p: usize) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)] as f64
}

pub fn thousands(n: f64) -> String {
    let digits = format!("{:.0}", n);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "?".into())
}

pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpus = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, m)| m.trim())
        })
        .unwrap_or("?");
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{cpus} CPUs (nproc --all {}), {model}, Linux {}",
        command_output("nproc", &["--all"]),
        kernel.trim()
    )
}

/// Which source was measured: the commit, and a fingerprint of uncommitted changes to `src/`.
pub fn source_state() -> String {
    use std::hash::{Hash, Hasher};
    let dir = env!("CARGO_MANIFEST_DIR");
    let head = command_output("git", &["-C", dir, "rev-parse", "--short", "HEAD"]);
    let diff = Command::new("git")
        .args(["-C", dir, "diff", "HEAD", "--", "src"])
        .output()
        .map(|o| o.stdout)
        .unwrap_or_default();
    if diff.is_empty() {
        format!("git {head}, src/ as committed")
    } else {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        diff.hash(&mut hasher);
        format!(
            "git {head} + uncommitted changes to src/ (diff fingerprint {:08x})",
            hasher.finish() as u32
        )
    }
}

pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}
