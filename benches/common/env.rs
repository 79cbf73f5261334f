//! Reading the benches' environment variables, and telling a measurement run from a test run.

use std::env;

/// `cargo bench` passes `--bench`; `cargo test --all-targets` runs the binary without it, and a
/// measurement of minutes has no place in a test run.
pub fn measuring(bench: &str) -> bool {
    let asked = env::args().any(|arg| arg == "--bench");
    if !asked {
        println!("{bench}: a benchmark; run it with `cargo bench --bench {bench}`");
    }
    asked
}

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

/// A comma-separated list; `None` when unset or blank.
pub fn env_list(name: &str) -> Option<Vec<String>> {
    env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
}

/// Set to anything but empty or `0`.
pub fn env_flag(name: &str) -> bool {
    env::var(name).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The command that reruns this bench with the same `<prefix>_*` variables (the pinned child's
/// marker left out: the rerun sets it itself).
pub fn rerun_command(prefix: &str, child_marker: &str, bench: &str) -> String {
    let mut vars: Vec<String> = env::vars()
        .filter(|(k, _)| k.starts_with(&format!("{prefix}_")) && k != child_marker)
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    vars.sort();
    vars.push(format!("cargo bench --bench {bench}"));
    vars.join(" ")
}
