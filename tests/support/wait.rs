//! Waiting on state that other threads change in their own time.

use std::thread;
use std::time::{Duration, Instant};

/// How often [`wait_for`] looks again: often enough that a test measuring when a state was
/// reached is off by a few milliseconds at most, seldom enough that a `done` which calls a
/// server or takes a lock leaves the machine to the threads being waited on.
const POLL: Duration = Duration::from_millis(5);

/// Calls `done` until it returns true, and fails the test, naming `what`, if that takes longer
/// than `limit`.
///
/// For what nothing announces to a test: a probe marking a server up, a pool's connections
/// closing, memcached counting a connection. The tests that wait so each wrote this loop of
/// their own, with slightly different sleeps and messages.
pub fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what} took over {limit:?}");
        thread::sleep(POLL);
    }
}
