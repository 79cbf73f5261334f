//! Running one test of the current test binary again in a child process: for what a
//! test cannot do in the harness's own process, such as connecting as another user or
//! with a signal's default action restored.
//!
//! A test that uses this is both parent and child: it calls [`child_role`] first, and
//! when that returns `Some` it is the child and does the child's part; otherwise it
//! starts the child with [`rerun`] and judges its exit status.

use std::env;
use std::process::{Command, Output};

/// The variable that tells a test it runs as a child, and passes it its argument.
const CHILD_VAR: &str = "MEMCACHE_SYNC_TEST_CHILD";

/// The argument the parent passed, if this process is the child of `test`.
pub fn child_role(test: &str) -> Option<String> {
    let value = env::var(CHILD_VAR).ok()?;
    let (name, argument) = value.split_once('=')?;
    (name == test).then(|| argument.to_string())
}

/// Runs `test` (a test function of this binary, by name) in a child process that sees
/// `argument` through [`child_role`]; `configure` may change the command (its user, say).
/// Fails if the child cannot be started.
pub fn rerun(
    test: &str,
    argument: &str,
    configure: impl FnOnce(&mut Command),
) -> std::io::Result<Output> {
    let exe = env::current_exe()?;
    let mut command = Command::new(exe);
    command
        .args(["--exact", test, "--nocapture", "--test-threads", "1"])
        .env(CHILD_VAR, format!("{test}={argument}"));
    configure(&mut command);
    command.output()
}

/// The child's output, for a failure message.
pub fn describe(output: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Whether the child ran the test and it passed (the harness reports "1 passed").
pub fn passed(output: &Output) -> bool {
    output.status.success() && String::from_utf8_lossy(&output.stdout).contains("1 passed")
}

/// Whether the child got as far as running the test (it may have failed).
pub fn ran(output: &Output) -> bool {
    String::from_utf8_lossy(&output.stdout).contains("running 1 test")
}
