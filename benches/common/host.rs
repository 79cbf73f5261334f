//! The machine, the source and the load a run measured, for the report's header.

use std::process::Command;

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

/// A field of `/proc/<pid>/status`, e.g. `Cpus_allowed_list`; `?` when unreadable.
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
