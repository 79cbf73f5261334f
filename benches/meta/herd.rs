//! The herd rows: rounds of `threads` threads, each with its own connection, released by one
//! barrier onto one missing key whose `load` is slow, counting how many times `load` runs per
//! key: with `get_or_fill` (issue 9's target: 1), and with a naive get-then-set for contrast.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use memcache_sync::{get_or_fill, Client, Expiry, FillError, LeaseOptions};

/// How the threads fetch a missing key.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Strategy {
    Lease,
    Naive,
}

impl Strategy {
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Lease => "get_or_fill",
            Strategy::Naive => "get, then load and set on a miss",
        }
    }
}

/// One strategy's rounds.
pub struct Herd {
    pub strategy: Strategy,
    pub threads: usize,
    /// `load` calls, per round (one key per round).
    pub loads: Vec<usize>,
    /// From the barrier's release to the last thread's value, per round.
    pub walls: Vec<Duration>,
    /// Calls that returned a value other than the loaded one, or an error: must be 0.
    pub wrong: usize,
}

/// `rounds` rounds of `threads` threads on one fresh missing key each.
pub fn run(
    addr: &str,
    strategy: Strategy,
    threads: usize,
    rounds: usize,
    load_time: Duration,
    tag: &str,
) -> Herd {
    // The lease lapses long after any load ends; waiters wait at most 5 s in all.
    let options = LeaseOptions::new(Duration::from_secs(30))
        .wait(Duration::from_secs(5))
        .fill_expiry(Expiry::after_secs(600));
    let barrier = Barrier::new(threads + 1);
    let loads: Vec<AtomicUsize> = (0..rounds).map(|_| AtomicUsize::new(0)).collect();
    let wrong = AtomicUsize::new(0);
    let key = |round: usize| format!("meta:herd:{tag}:{}:{round}", std::process::id());
    let value = |round: usize| format!("loaded value of round {round}").into_bytes();
    let mut walls = Vec::with_capacity(rounds);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let (barrier, loads, wrong, options) = (&barrier, &loads, &wrong, &options);
            let mut client = Client::connect(addr).expect("a herd client connects");
            scope.spawn(move || {
                for (round, count) in loads.iter().enumerate() {
                    let (key, expected) = (key(round), value(round));
                    let load = || {
                        count.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(load_time);
                        Ok::<_, std::io::Error>(expected.clone())
                    };
                    barrier.wait();
                    let got = match strategy {
                        Strategy::Lease => match get_or_fill(&mut client, &key, options, load) {
                            Ok(fetched) => Some(fetched.into_value()),
                            Err(FillError::Busy { .. }) => None,
                            Err(other) => panic!("get_or_fill: {other}"),
                        },
                        Strategy::Naive => match client.get(&key).expect("get") {
                            Some(item) => Some(item.value),
                            None => {
                                let value = load().unwrap();
                                client
                                    .set(&key, &value, Expiry::after_secs(600))
                                    .expect("set");
                                Some(value)
                            }
                        },
                    };
                    if got.as_deref() != Some(&expected[..]) {
                        wrong.fetch_add(1, Ordering::SeqCst);
                    }
                    barrier.wait();
                }
            });
        }
        for _ in 0..rounds {
            barrier.wait();
            let released = Instant::now();
            barrier.wait();
            walls.push(released.elapsed());
        }
    });
    Herd {
        strategy,
        threads,
        loads: loads.iter().map(|l| l.load(Ordering::SeqCst)).collect(),
        walls,
        wrong: wrong.load(Ordering::SeqCst),
    }
}
