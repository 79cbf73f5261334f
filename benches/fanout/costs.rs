//! What `Cluster::get_many` may do besides the I/O, timed alone: scoped threads, one per server
//! with keys (its fallback for a read too big to send whole), and the ketama hash of every key.

use std::hint::black_box;
use std::thread;

use memcache_sync::Cluster;

use crate::common::rounds::time_ns;
use crate::common::throughput::cost_row;

/// One sample (ns per run) per round of each cost.
#[derive(Default)]
pub struct FanCosts {
    spawn1: Vec<f64>,
    spawn4: Vec<f64>,
    hash100: Vec<f64>,
}

impl FanCosts {
    pub fn run(&mut self, cluster: &Cluster, servers: usize, keys: &[&str], iters: usize) {
        let spawn = |threads: usize| {
            time_ns(iters, || {
                thread::scope(|scope| {
                    for i in 0..threads {
                        scope.spawn(move || black_box(i));
                    }
                });
            })
        };
        self.spawn1.push(spawn(1));
        self.spawn4.push(spawn(servers));
        self.hash100.push(time_ns(iters, || {
            for key in &keys[..100] {
                black_box(cluster.server_for(black_box(key.as_bytes())));
            }
        }));
    }

    pub fn rows(&self) -> Vec<Vec<String>> {
        vec![
            cost_row(
                "thread::scope spawning and joining 1 empty thread",
                &self.spawn1,
            ),
            cost_row(
                "thread::scope spawning and joining 4 empty threads",
                &self.spawn4,
            ),
            cost_row("ketama server_for of 100 keys (32 B)", &self.hash100),
        ]
    }
}
