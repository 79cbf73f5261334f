//! The workloads, and the keys and values they read and write.

use std::collections::HashMap;

use crate::common::keys::{make_keys, value_of, VALUE_LEN};
use crate::common::memcached::Side;
use crate::common::report::{count_label, size_label};

/// Keys per `get_many` at 100 bytes, and at most at any size.
pub const MANY: usize = 100;
/// A `get_many` of large values reads fewer keys, so that its reply stays about this size:
/// 100 keys at 10 KiB, 2 at 500 KiB. A production multi-get of large values reads a few of
/// them, not a hundred (100 × 500 KiB would be a 50 MiB reply, ~17 ms a call, so only a few
/// calls a slice); 1 MiB is also memcached's largest item (`-I 1m`), so up to 512 KiB a call
/// still reads at least two values and stays a multi-get.
const MANY_BYTES: usize = 1 << 20;
/// Each key of a `get_many` costs about as much as moving this many more bytes (its `VALUE`
/// line, the client's per-item work, memcached's lookup): with it, calls at every value size
/// are scaled to take about as long as at 100 bytes. Fitted to the floor's calls, pinned on
/// the 2-vCPU machine: ~80 µs at 100 B (100 keys), ~420 µs at 10 KiB (100), ~300 µs at
/// 500 KiB (2), so 10 KiB runs 1/5.4 of the calls and 500 KiB 1/4.5.
const MANY_KEY_BYTES: f64 = 2048.0;
/// Keys per value size for the get and set workloads, fewer for large values so that each
/// size holds at most [`SIZED_BYTES`].
const SIZED_KEYS: usize = 10_000;
const SIZED_BYTES: usize = 64 << 20;
/// A round trip costs about as much as moving this many more bytes, so a sequential workload
/// at value size S runs (SCALE_BYTES + 100) / (SCALE_BYTES + S) of the operations it runs at
/// 100 bytes, and every size takes about as long per round.
const SCALE_BYTES: f64 = 16.0 * 1024.0;

/// `get-hit`, `set` and `get-many` run at every value size; the others at 100 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Workload {
    GetHit(usize),
    GetMiss,
    Set(usize),
    GetMany(usize),
    Bulk,
}

/// The ids `COMPARE_ONLY` takes, in the order the workloads run.
pub const KINDS: [&str; 5] = ["get-hit", "get-miss", "set", "get-many", "bulk"];

impl Workload {
    /// Every workload of `kinds`, in [`KINDS`] order, the sized ones at each of `sizes`.
    pub fn all(kinds: &[String], sizes: &[usize]) -> Vec<Workload> {
        let mut workloads = Vec::new();
        for kind in KINDS.iter().filter(|k| kinds.iter().any(|w| w == *k)) {
            match *kind {
                "get-hit" => workloads.extend(sizes.iter().map(|&s| Workload::GetHit(s))),
                "get-miss" => workloads.push(Workload::GetMiss),
                "set" => workloads.extend(sizes.iter().map(|&s| Workload::Set(s))),
                "get-many" => workloads.extend(sizes.iter().map(|&s| Workload::GetMany(s))),
                _ => workloads.push(Workload::Bulk),
            }
        }
        workloads
    }

    /// For the progress line: `get-hit`, `set-10KiB`.
    pub fn id(self) -> String {
        let (kind, size) = match self {
            Workload::GetHit(size) => ("get-hit", size),
            Workload::Set(size) => ("set", size),
            Workload::GetMiss => ("get-miss", VALUE_LEN),
            Workload::GetMany(size) => ("get-many", size),
            Workload::Bulk => ("bulk", VALUE_LEN),
        };
        if size == VALUE_LEN {
            kind.into()
        } else {
            format!("{kind}-{}", size_label(size).replace(' ', ""))
        }
    }

    /// For the table: at 100 bytes as the workload was always named, else with its size:
    /// `get (hit) 10 KiB`, `get_many(2) 500 KiB`.
    pub fn label(self, bulk_keys: usize) -> String {
        let sized = |name: &str, size: usize| {
            if size == VALUE_LEN {
                name.to_string()
            } else {
                format!("{name} {}", size_label(size))
            }
        };
        match self {
            Workload::GetHit(size) => sized("get (hit)", size),
            Workload::GetMiss => "get (miss)".into(),
            Workload::Set(size) => sized("set", size),
            Workload::GetMany(size) => sized(&format!("get_many({})", many_keys(size)), size),
            Workload::Bulk => format!("bulk load {}", count_label(bulk_keys)),
        }
    }

    /// The share of the 100-byte operation (or call) count this workload runs.
    pub fn scale(self) -> f64 {
        match self {
            Workload::GetHit(size) | Workload::Set(size) => {
                (SCALE_BYTES + VALUE_LEN as f64) / (SCALE_BYTES + size as f64)
            }
            Workload::GetMany(size) => many_cost(VALUE_LEN) / many_cost(size),
            _ => 1.0,
        }
    }
}

/// Keys per `get_many` of `size`-byte values: [`MANY`], fewer where that would read more than
/// [`MANY_BYTES`].
pub fn many_keys(size: usize) -> usize {
    (MANY_BYTES / size.max(1)).clamp(1, MANY)
}

/// What one `get_many` of `size`-byte values costs, in bytes' worth: a round trip, and each
/// key's share and value.
fn many_cost(size: usize) -> f64 {
    SCALE_BYTES + many_keys(size) as f64 * (MANY_KEY_BYTES + size as f64)
}

/// Keys that all hold (or, for `set`, receive) one value.
pub struct Sized {
    pub keys: Vec<&'static str>,
    pub value: Vec<u8>,
}

impl Sized {
    fn new(kind: &str, size: usize) -> Sized {
        let prefix = if size == VALUE_LEN {
            format!("cmp:{kind}:")
        } else {
            format!("cmp:{kind}{size}:")
        };
        Sized {
            keys: make_keys(&prefix, (SIZED_BYTES / size.max(1)).clamp(1, SIZED_KEYS)),
            value: value_of(kind, size),
        }
    }
}

pub struct Data {
    /// By value size, for `get-hit` and `get-many`.
    pub hit: HashMap<usize, Sized>,
    pub set: HashMap<usize, Sized>,
    pub miss: Vec<&'static str>,
    pub bulk: Vec<&'static str>,
}

impl Data {
    /// Keys for every workload, the ones the gets read stored through `side`.
    pub fn load(workloads: &[Workload], bulk_keys: usize, side: &mut Side) -> Data {
        let mut hit = HashMap::new();
        let mut set = HashMap::new();
        for workload in workloads {
            match *workload {
                // get_many reads the keys get-hit reads: no more memory, and the same items.
                Workload::GetHit(size) | Workload::GetMany(size) => {
                    hit.entry(size).or_insert_with(|| Sized::new("hit", size));
                }
                Workload::Set(size) => {
                    set.entry(size).or_insert_with(|| Sized::new("set", size));
                }
                _ => {}
            }
        }
        for sized in hit.values() {
            side.load(&sized.keys, &sized.value);
        }
        Data {
            hit,
            set,
            miss: make_keys("cmp:miss:", 1_000),
            bulk: make_keys("cmp:bulk:", bulk_keys),
        }
    }
}
