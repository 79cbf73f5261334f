//! What the lease tests (`lease.rs`, `stale_while_revalidate.rs`) share: a thundering herd,
//! many callers missing one key at the same moment, and a `load` that must not run.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use memcache_sync::{get_or_fill, Client, Fetched, LeaseOptions};

/// A `load` that must not run: `why` says why not. Both lease test files check that hits and
/// held leases never load, and say so the same way.
pub fn never_load(why: &str) -> Result<Vec<u8>, Infallible> {
    panic!("load ran: {why}")
}

/// What a herd got: each caller's outcome with how long its `get_or_fill` took, in no
/// particular order, and how many times `load` ran across all of them.
pub struct Herd {
    pub results: Vec<(Fetched, Duration)>,
    pub loads: usize,
}

/// Runs `callers` threads, each on a connection of its own to `addr`, released together by one
/// barrier into `get_or_fill` of `key` with `options`; their `load` takes `load_time` and
/// returns `value`.
///
/// The lease tests differ in what the key holds before the herd and in what they expect
/// after, not in how the herd runs; this is that one way, so that each test shows only its
/// setup and its assertions. The connections open before the barrier, so the timings are
/// the calls' alone.
pub fn herd(
    addr: &str,
    key: &[u8],
    callers: usize,
    options: &LeaseOptions,
    load_time: Duration,
    value: &[u8],
) -> Herd {
    let loads = AtomicUsize::new(0);
    let start = Barrier::new(callers);
    let results = thread::scope(|scope| {
        let threads: Vec<_> = (0..callers)
            .map(|_| {
                let (loads, start) = (&loads, &start);
                scope.spawn(move || {
                    let mut client = Client::connect(addr).unwrap();
                    start.wait();
                    let begun = Instant::now();
                    let fetched = get_or_fill(&mut client, key, options, || {
                        loads.fetch_add(1, Ordering::SeqCst);
                        thread::sleep(load_time);
                        Ok::<_, Infallible>(value.to_vec())
                    })
                    .unwrap();
                    (fetched, begun.elapsed())
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect::<Vec<_>>()
    });
    Herd {
        results,
        loads: loads.into_inner(),
    }
}
