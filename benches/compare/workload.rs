//! The workloads, and the keys and values they read and write.

use std::collections::HashMap;

use crate::common::keys::{make_keys, value_of, VALUE_LEN};
use crate::common::memcached::Side;
use crate::common::report::{count_label, size_label};

/// Keys per `get_many`.
pub const MANY: usize = 100;
/// Keys per value size for the get and set workloads, fewer for large values so that each
/// size holds at most [`SIZED_BYTES`].
const SIZED_KEYS: usize = 10_000;
const SIZED_BYTES: usize = 64 << 20;
/// A round trip costs about as much as moving this many more bytes, so a sequential workload
/// at value size S runs (SCALE_BYTES + 100) / (SCALE_BYTES + S) of the operations it runs at
/// 100 bytes, and every size takes about as long per round.
const SCALE_BYTES: f64 = 16.0 * 1024.0;

/// `get-hit` and `set` run at every value size; the others at 100 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Workload {
    GetHit(usize),
    GetMiss,
    Set(usize),
    GetMany,
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
                "get-many" => workloads.push(Workload::GetMany),
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
            Workload::GetMany => ("get-many", VALUE_LEN),
            Workload::Bulk => ("bulk", VALUE_LEN),
        };
        if size == VALUE_LEN {
            kind.into()
        } else {
            format!("{kind}-{}", size_label(size).replace(' ', ""))
        }
    }

    /// For the table: at 100 bytes as the workload was always named, else with its size.
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
            Workload::GetMany => format!("get_many({MANY})"),
            Workload::Bulk => format!("bulk load {}", count_label(bulk_keys)),
        }
    }

    /// The share of the 100-byte operation count this workload runs.
    pub fn scale(self) -> f64 {
        match self {
            Workload::GetHit(size) | Workload::Set(size) => {
                (SCALE_BYTES + VALUE_LEN as f64) / (SCALE_BYTES + size as f64)
            }
            _ => 1.0,
        }
    }
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
    /// By value size; 100 bytes always (`get_many` reads those).
    pub hit: HashMap<usize, Sized>,
    pub set: HashMap<usize, Sized>,
    pub miss: Vec<&'static str>,
    pub bulk: Vec<&'static str>,
}

impl Data {
    /// Keys for every workload, the ones the gets read stored through `side`.
    pub fn load(workloads: &[Workload], bulk_keys: usize, side: &mut Side) -> Data {
        let mut hit = HashMap::from([(VALUE_LEN, Sized::new("hit", VALUE_LEN))]);
        let mut set = HashMap::new();
        for workload in workloads {
            match *workload {
                Workload::GetHit(size) => {
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
