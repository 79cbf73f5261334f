//! The configurations the pool bench runs, and the threads that run them.

use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use memcache_sync::{Client, Pool, PoolConfig};

use crate::common::floor::Floor;
use crate::common::keys::VALUE_LEN;
use crate::common::placement::{set_affinity, Placement};
use crate::common::rounds::Laps;

/// (threads, pool max size) of the pool configurations.
pub const POOL_RUNS: [(usize, usize); 6] = [(1, 1), (2, 2), (4, 4), (8, 8), (16, 16), (16, 4)];

pub enum PoolSetup {
    /// `unpinned`: the floor left where the scheduler puts it, under the split placement.
    Floor {
        floor: Floor,
        unpinned: bool,
    },
    Client(Box<Client>),
    Pool {
        pool: Pool,
        threads: usize,
        max: usize,
    },
    /// [`RAW_THREADS`] threads, each with its own raw connection (a [`Floor`]): what the pool
    /// of as many connections is held to.
    Raw(Vec<Floor>),
}

/// Threads (and connections) of the raw many-thread run, and of the pool compared with it.
pub const RAW_THREADS: usize = 8;

pub fn pool_config(max: usize) -> PoolConfig {
    PoolConfig::default()
        .with_max_size(max)
        .with_checkout_timeout(Duration::from_secs(30))
}

/// The floor, the bare `Client`, every pool of [`POOL_RUNS`] with all its connections open,
/// and under the split placement the unpinned floor.
pub fn lineup(addr: &str, placement: Placement) -> Vec<PoolSetup> {
    let mut setups = vec![
        PoolSetup::Floor {
            floor: Floor::connect(addr),
            unpinned: false,
        },
        PoolSetup::Client(Box::new(Client::connect(addr).expect("Client connects"))),
    ];
    for (threads, max) in POOL_RUNS {
        let pool = Pool::builder(addr).pool(pool_config(max)).build();
        // Opens all `max` connections before anything is timed.
        let held: Vec<_> = (0..max).map(|_| pool.get().expect("checkout")).collect();
        drop(held);
        setups.push(PoolSetup::Pool { pool, threads, max });
    }
    setups.push(PoolSetup::Raw(
        (0..RAW_THREADS).map(|_| Floor::connect(addr)).collect(),
    ));
    if placement.single().is_some() {
        setups.push(PoolSetup::Floor {
            floor: Floor::connect(addr),
            unpinned: true,
        });
    }
    setups
}

impl PoolSetup {
    pub fn name(&self, placement: Placement) -> String {
        let pinned = if self.pinned(placement) {
            ", pinned"
        } else {
            ""
        };
        match self {
            PoolSetup::Floor { unpinned: true, .. } => {
                "floor, not pinned (diagnostic: cross-CPU wake-ups)".into()
            }
            PoolSetup::Floor { .. } => format!("floor (1 connection, 1 thread{pinned})"),
            PoolSetup::Client(_) => format!("bare Client (1 thread{pinned})"),
            PoolSetup::Pool { threads, max, .. } => {
                let s = if *threads == 1 { "" } else { "s" };
                format!("Pool: {threads} thread{s}, max {max}{pinned}")
            }
            PoolSetup::Raw(floors) => {
                format!("raw: {} threads, 1 connection each", floors.len())
            }
        }
    }

    /// Whether this run is pinned to one CPU with its server under `placement`.
    pub fn pinned(&self, placement: Placement) -> bool {
        placement.single().is_some()
            && self.threads() == 1
            && !matches!(self, PoolSetup::Floor { unpinned: true, .. })
    }

    pub fn threads(&self) -> usize {
        match self {
            PoolSetup::Pool { threads, .. } => *threads,
            PoolSetup::Raw(floors) => floors.len(),
            _ => 1,
        }
    }

    pub fn workers(&mut self) -> Vec<Worker<'_>> {
        match self {
            PoolSetup::Floor { floor, .. } => vec![Worker::Floor(floor)],
            PoolSetup::Client(client) => vec![Worker::Client(client)],
            PoolSetup::Pool { pool, threads, .. } => {
                (0..*threads).map(|_| Worker::Pool(&*pool)).collect()
            }
            PoolSetup::Raw(floors) => floors.iter_mut().map(Worker::Floor).collect(),
        }
    }
}

pub enum Worker<'a> {
    Floor(&'a mut Floor),
    Client(&'a mut Client),
    Pool(&'a Pool),
}

impl Worker<'_> {
    /// One `get` of a key that holds a 100-byte value; through the pool, checkout and return
    /// included.
    fn get_hit(&mut self, key: &str) {
        match self {
            Worker::Floor(floor) => floor.get(&[key], VALUE_LEN),
            Worker::Client(client) => {
                let item = client.get(key.as_bytes()).expect("get").expect("a hit");
                assert_eq!(item.value.len(), VALUE_LEN);
            }
            Worker::Pool(pool) => {
                let mut client = pool.get().expect("checkout");
                let item = client.get(key.as_bytes()).expect("get").expect("a hit");
                assert_eq!(item.value.len(), VALUE_LEN);
            }
        }
    }
}

/// Runs `ops` gets on each worker, each on its own thread (pinned to `pin`), all released by
/// one barrier; returns the time from the first thread's start to the last one's end, and
/// appends every operation's latency.
pub fn run_threads(
    workers: Vec<Worker<'_>>,
    ops: usize,
    cursor: usize,
    keys: &[&str],
    latencies: &mut Vec<u32>,
    pin: Option<usize>,
) -> Duration {
    let barrier = Barrier::new(workers.len());
    let results: Vec<(Instant, Instant, Vec<u32>)> = thread::scope(|scope| {
        let running: Vec<_> = workers
            .into_iter()
            .enumerate()
            .map(|(t, mut worker)| {
                let barrier = &barrier;
                scope.spawn(move || {
                    if let Some(cpu) = pin {
                        set_affinity(0, &[cpu]);
                    }
                    let mut latencies = Vec::with_capacity(ops);
                    barrier.wait();
                    let mut laps = Laps::start(&mut latencies);
                    for op in 0..ops {
                        // Threads start far apart in the keys, so they do not read in step.
                        worker.get_hit(keys[(cursor + t * 7_919 + op) % keys.len()]);
                        laps.lap();
                    }
                    let (started, ended) = (laps.started(), laps.ended());
                    (started, ended, latencies)
                })
            })
            .collect();
        running
            .into_iter()
            .map(|t| t.join().expect("a worker thread panicked"))
            .collect()
    });
    let start = results.iter().map(|r| r.0).min().expect("one thread");
    let end = results.iter().map(|r| r.1).max().expect("one thread");
    for (_, _, l) in results {
        latencies.extend(l);
    }
    end - start
}
