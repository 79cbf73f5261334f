//! The quiet bulk load and its floor: memcache-sync's `set_many` with quiet batches, and a raw
//! `noreply` loader, both bulk-only, in the same rounds as the rest. After the table, the
//! quiet load's time per key over the `noreply` floor's, round by round.

use std::io::Write;

use memcache_sync::{Client, Config, Entry};

use crate::common::rounds::{Record, Spread};
use crate::common::wire::Wire;
use crate::contender::BulkLoader;
use crate::results::Records;
use crate::workload::Workload;

pub const NOREPLY_FLOOR: &str = "floor noreply (set … noreply, then mn)";
pub const QUIET: &str = "memcache-sync quiet batches";

/// The fastest a loader can store keys over one connection and still know when they are all
/// applied: `set … noreply` lines written in windows of about `window` bytes, without reading
/// anything, then one `mn`, whose `MN` comes once every set before it was processed. It learns
/// nothing about any one item.
pub struct NoreplyFloor {
    wire: Wire,
    window: usize,
}

impl NoreplyFloor {
    pub fn connect(addr: &str, window: usize) -> NoreplyFloor {
        NoreplyFloor {
            wire: Wire::connect(addr, "noreply floor"),
            window,
        }
    }

    fn flush(&mut self) {
        self.wire.send(false);
        self.wire.request.clear();
    }
}

impl BulkLoader for NoreplyFloor {
    fn name(&self) -> &'static str {
        NOREPLY_FLOOR
    }

    fn bulk(&mut self, keys: &[&str], value: &[u8]) -> usize {
        for key in keys {
            encode_noreply_set(&mut self.wire.request, key, value);
            if self.wire.request.len() >= self.window {
                self.flush();
            }
        }
        self.wire.request.extend_from_slice(b"mn\r\n");
        self.flush();
        let len = self.wire.read_until(b"\r\n");
        assert_eq!(&self.wire.buf[..len], b"MN\r\n", "a noreply set failed");
        keys.len()
    }
}

/// `set <key> 0 0 <len> noreply`, as the floor's `encode_set` writes its `set`.
fn encode_noreply_set(request: &mut Vec<u8>, key: &str, value: &[u8]) {
    request.extend_from_slice(b"set ");
    request.extend_from_slice(key.as_bytes());
    write!(request, " 0 0 {} noreply\r\n", value.len()).unwrap();
    request.extend_from_slice(value);
    request.extend_from_slice(b"\r\n");
}

/// memcache-sync with [`Config::with_quiet_batches`]: the bulk load only.
pub struct QuietSync {
    client: Client,
}

impl QuietSync {
    pub fn connect(addr: &str) -> QuietSync {
        let config = Config::default().with_quiet_batches(true);
        QuietSync {
            client: Client::builder(addr)
                .config(config)
                .connect()
                .expect("memcache-sync connects"),
        }
    }
}

impl BulkLoader for QuietSync {
    fn name(&self) -> &'static str {
        QUIET
    }

    fn bulk(&mut self, keys: &[&str], value: &[u8]) -> usize {
        let report = self
            .client
            .set_many(keys.iter().map(|key| Entry::new(key.as_bytes(), value)))
            .unwrap_or_else(|error| panic!("quiet set_many: {error}"));
        report.done_count()
    }
}

/// The quiet load against the `noreply` floor and against memcache-sync's classic load, each
/// the median over rounds of the per-round ratio of time per key (wall and CPU).
pub fn print_ratios(records: &Records) {
    let bulk = |name| records.get(&(Workload::Bulk, name));
    let (Some(quiet), Some(noreply)) = (bulk(QUIET), bulk(NOREPLY_FLOOR)) else {
        return;
    };
    let ratio = |of: &Record, to: &Record| {
        let wall = Spread::of(of.per_round(to, |a, b| a.wall_per_op() / b.wall_per_op()));
        let cpu = Spread::of(of.per_round(to, |a, b| a.cpu_per_op() / b.cpu_per_op()));
        format!(
            "{:.2} (min–max {:.2}–{:.2}; CPU {:.2})",
            wall.median, wall.min, wall.max, cpu.median
        )
    };
    println!();
    println!(
        "quiet bulk:  {QUIET} × {NOREPLY_FLOOR}: {}",
        ratio(quiet, noreply)
    );
    if let Some(classic) = bulk("memcache-sync") {
        println!(
            "             memcache-sync (classic) × {NOREPLY_FLOOR}: {}",
            ratio(classic, noreply)
        );
        println!(
            "             {QUIET} × memcache-sync (classic): {}",
            ratio(quiet, classic)
        );
    }
}
