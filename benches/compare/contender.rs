//! What every implementation in the comparison does, and the two written here: the floor (and
//! its variants) and memcache-sync. The `memcache` crate's are in `peers.rs`.

use memcache_sync::{Client, Entry, Expiry};

use crate::common::floor::Floor;
use crate::workload::Workload;

pub trait Contender {
    fn name(&self) -> &'static str;
    fn supports(&self, _workload: Workload) -> bool {
        true
    }
    /// A slow implementation runs this many times fewer operations of a sequential workload
    /// (ratios compare time per operation, so they stay comparable).
    fn divisor(&self, _workload: Workload) -> usize {
        1
    }
    /// A slow implementation loads only this many of the bulk keys (ratios compare time per
    /// key).
    fn bulk_limit(&self) -> Option<usize> {
        None
    }
    /// Reads a key that holds a `value_len`-byte value; returns the value's length.
    fn get_hit(&mut self, key: &str, value_len: usize) -> usize;
    /// Reads a key that holds nothing; returns whether it was a miss.
    fn get_miss(&mut self, key: &str) -> bool;
    fn set(&mut self, key: &str, value: &[u8]);
    /// Reads `keys`, all of which hold `value_len`-byte values; returns how many were found.
    fn get_many(&mut self, keys: &[&str], value_len: usize) -> usize;
    /// Stores every key with `value`; returns how many the server confirmed.
    fn bulk(&mut self, keys: &[&str], value: &[u8]) -> usize;
}

/// A contender that runs the bulk load only (see [`BulkOnly`]).
pub trait BulkLoader {
    fn name(&self) -> &'static str;
    /// Stores every key with `value`; returns how many the server confirmed.
    fn bulk(&mut self, keys: &[&str], value: &[u8]) -> usize;
}

/// A [`BulkLoader`] in the lineup: it joins the bulk workload's rounds and no other.
pub struct BulkOnly<T>(pub T);

impl<T: BulkLoader> Contender for BulkOnly<T> {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn supports(&self, workload: Workload) -> bool {
        workload == Workload::Bulk
    }

    fn get_hit(&mut self, _: &str, _: usize) -> usize {
        unreachable!("bulk only")
    }

    fn get_miss(&mut self, _: &str) -> bool {
        unreachable!("bulk only")
    }

    fn set(&mut self, _: &str, _: &[u8]) {
        unreachable!("bulk only")
    }

    fn get_many(&mut self, _: &[&str], _: usize) -> usize {
        unreachable!("bulk only")
    }

    fn bulk(&mut self, keys: &[&str], value: &[u8]) -> usize {
        self.0.bulk(keys, value)
    }
}

/// The floor, or one variant of it that joins the same rounds for one purpose.
pub enum FloorRole {
    Floor,
    /// A bulk writer with another window size.
    Window(&'static str),
    /// get_many split into lines the way memcache-sync splits them.
    Split,
    /// A peek before every request: what memcache-sync's check of the connection costs.
    Peek,
}

pub struct FloorContender {
    floor: Floor,
    window: usize,
    role: FloorRole,
}

impl FloorContender {
    pub fn connect(addr: &str, window: usize, role: FloorRole) -> FloorContender {
        let mut floor = Floor::connect(addr);
        floor.peek = matches!(role, FloorRole::Peek);
        FloorContender {
            floor,
            window,
            role,
        }
    }
}

impl Contender for FloorContender {
    fn name(&self) -> &'static str {
        match self.role {
            FloorRole::Floor => "floor",
            FloorRole::Window(name) => name,
            FloorRole::Split => "floor (get lines split at 2048 B)",
            FloorRole::Peek => "floor + peek",
        }
    }

    fn supports(&self, workload: Workload) -> bool {
        match self.role {
            FloorRole::Floor => true,
            FloorRole::Window(_) => workload == Workload::Bulk,
            FloorRole::Split => matches!(workload, Workload::GetMany(_)),
            FloorRole::Peek => matches!(
                workload,
                Workload::GetHit(_) | Workload::GetMiss | Workload::Set(_)
            ),
        }
    }

    fn get_hit(&mut self, key: &str, value_len: usize) -> usize {
        self.floor.get(&[key], value_len);
        value_len
    }

    fn get_miss(&mut self, key: &str) -> bool {
        self.floor.get_miss(key)
    }

    fn set(&mut self, key: &str, value: &[u8]) {
        self.floor.set(key, value);
    }

    fn get_many(&mut self, keys: &[&str], value_len: usize) -> usize {
        match self.role {
            FloorRole::Split => self.floor.get_split(keys, value_len),
            _ => self.floor.get(keys, value_len),
        }
        keys.len()
    }

    fn bulk(&mut self, keys: &[&str], value: &[u8]) -> usize {
        self.floor.bulk(keys, value, self.window)
    }
}

/// This crate. With `into`, the zero-copy reads: `get_into` with one reused buffer, and
/// `get_many_with`, which hands each value over borrowed instead of building a map.
pub struct MemcacheSync {
    client: Client,
    into: bool,
    buf: Vec<u8>,
}

impl MemcacheSync {
    pub fn connect(addr: &str, into: bool) -> MemcacheSync {
        MemcacheSync {
            client: Client::connect(addr).expect("memcache-sync connects"),
            into,
            buf: Vec::with_capacity(if into { 4096 } else { 0 }),
        }
    }
}

impl Contender for MemcacheSync {
    fn name(&self) -> &'static str {
        if self.into {
            "memcache-sync zero-copy"
        } else {
            "memcache-sync"
        }
    }

    fn supports(&self, workload: Workload) -> bool {
        !self.into || matches!(workload, Workload::GetHit(_) | Workload::GetMany(_))
    }

    fn get_hit(&mut self, key: &str, _value_len: usize) -> usize {
        if self.into {
            self.client
                .get_into(key.as_bytes(), &mut self.buf)
                .expect("get_into")
                .expect("a hit");
            self.buf.len()
        } else {
            let item = self
                .client
                .get(key.as_bytes())
                .expect("get")
                .expect("a hit");
            item.value.len()
        }
    }

    fn get_miss(&mut self, key: &str) -> bool {
        self.client.get(key.as_bytes()).expect("get").is_none()
    }

    fn set(&mut self, key: &str, value: &[u8]) {
        self.client
            .set(key.as_bytes(), value, Expiry::Never)
            .expect("set");
    }

    fn get_many(&mut self, keys: &[&str], value_len: usize) -> usize {
        if self.into {
            let mut found = 0;
            self.client
                .get_many_with(keys, |_, value, _| {
                    found += usize::from(value.len() == value_len)
                })
                .expect("get_many_with");
            found
        } else {
            self.client.get_many(keys).expect("get_many").len()
        }
    }

    fn bulk(&mut self, keys: &[&str], value: &[u8]) -> usize {
        let report = self
            .client
            .set_many(keys.iter().map(|key| Entry::new(key.as_bytes(), value)))
            .unwrap_or_else(|error| panic!("set_many: {error}"));
        report.len()
    }
}
