//! The sequential rows: meta get (hit) and meta set through `Client::meta_get`/`meta_set`, and
//! classic get (hit) and set through `Client::get`/`set`, each against a raw floor speaking
//! the same command (raw `mg`/`ms` for the meta rows), with and without the peek memcache-sync
//! makes before every request.

use memcache_sync::{Client, Expiry, MetaGetOptions, MetaSetOptions};

use crate::common::floor::Floor;
use crate::rawmeta::MetaFloor;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Workload {
    MetaGet,
    MetaSet,
    Get,
    Set,
    /// One batch of [`BATCH`] hits: `meta_get_many`.
    MetaGetMany,
    /// One batch of [`BATCH`] hits: `meta_get_many_with`, each hit lent.
    MetaGetManyWith,
    /// One batch of [`BATCH`] hits: `get_many`.
    GetMany,
}

pub const WORKLOADS: [Workload; 7] = [
    Workload::MetaGet,
    Workload::MetaSet,
    Workload::Get,
    Workload::Set,
    Workload::MetaGetMany,
    Workload::MetaGetManyWith,
    Workload::GetMany,
];

/// The keys in one operation of a batch workload.
pub const BATCH: usize = 100;

impl Workload {
    pub fn label(self) -> &'static str {
        match self {
            Workload::MetaGet => "meta get (hit)",
            Workload::MetaSet => "meta set",
            Workload::Get => "get (hit)",
            Workload::Set => "set",
            Workload::MetaGetMany => "meta get many (100 hits)",
            Workload::MetaGetManyWith => "meta get many, lent (100 hits)",
            Workload::GetMany => "get many (100 hits)",
        }
    }

    pub fn is_batch(self) -> bool {
        matches!(
            self,
            Workload::MetaGetMany | Workload::MetaGetManyWith | Workload::GetMany
        )
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Impl {
    Floor,
    FloorPeek,
    Client,
}

pub const IMPLS: [Impl; 3] = [Impl::Floor, Impl::FloorPeek, Impl::Client];

impl Impl {
    pub fn label(self, workload: Workload) -> &'static str {
        match (self, workload) {
            (Impl::Floor, Workload::MetaGet) => "floor (raw mg)",
            (Impl::FloorPeek, Workload::MetaGet) => "floor (raw mg) + peek",
            (Impl::Client, Workload::MetaGet) => "memcache-sync meta_get",
            (Impl::Floor, Workload::MetaSet) => "floor (raw ms)",
            (Impl::FloorPeek, Workload::MetaSet) => "floor (raw ms) + peek",
            (Impl::Client, Workload::MetaSet) => "memcache-sync meta_set",
            (Impl::Floor, Workload::Get) => "floor (raw get)",
            (Impl::FloorPeek, Workload::Get) => "floor (raw get) + peek",
            (Impl::Client, Workload::Get) => "memcache-sync get",
            (Impl::Floor, Workload::Set) => "floor (raw set)",
            (Impl::FloorPeek, Workload::Set) => "floor (raw set) + peek",
            (Impl::Client, Workload::Set) => "memcache-sync set",
            (Impl::Floor, Workload::MetaGetMany) => "floor (raw mg q … mn)",
            (Impl::FloorPeek, Workload::MetaGetMany) => "floor (raw mg q … mn) + peek",
            (Impl::Client, Workload::MetaGetMany) => "memcache-sync meta_get_many",
            (Impl::Floor, Workload::GetMany) => "floor (raw get, split lines)",
            (Impl::FloorPeek, Workload::GetMany) => "floor (raw get, split lines) + peek",
            (Impl::Client, Workload::GetMany) => "memcache-sync get_many",
            (Impl::Floor, Workload::MetaGetManyWith) => "floor (raw mg q … mn)",
            (Impl::FloorPeek, Workload::MetaGetManyWith) => "floor (raw mg q … mn) + peek",
            (Impl::Client, Workload::MetaGetManyWith) => "memcache-sync meta_get_many_with",
        }
    }
}

/// Every implementation's connection, each its own.
pub struct Contenders {
    floor: Floor,
    floor_peek: Floor,
    meta_floor: MetaFloor,
    meta_floor_peek: MetaFloor,
    client: Client,
    get: MetaGetOptions,
    set: MetaSetOptions,
}

impl Contenders {
    pub fn connect(addr: &str) -> Contenders {
        let mut floor_peek = Floor::connect(addr);
        floor_peek.peek = true;
        Contenders {
            floor: Floor::connect(addr),
            floor_peek,
            meta_floor: MetaFloor::connect(addr, false),
            meta_floor_peek: MetaFloor::connect(addr, true),
            client: Client::connect(addr).expect("memcache-sync connects"),
            get: MetaGetOptions::new(),
            set: MetaSetOptions::new(),
        }
    }

    /// One operation of `workload` by `imp`: a get of `keys[0]` (which holds `value`), or a
    /// set of `value` under it; for a batch workload, a read of every key in `keys`.
    pub fn op(&mut self, workload: Workload, imp: Impl, keys: &[&str], value: &[u8]) {
        let key = keys[0];
        match (workload, imp) {
            (Workload::MetaGetMany | Workload::MetaGetManyWith, Impl::Floor) => {
                self.meta_floor.get_many(keys, value.len())
            }
            (Workload::MetaGetMany | Workload::MetaGetManyWith, Impl::FloorPeek) => {
                self.meta_floor_peek.get_many(keys, value.len())
            }
            (Workload::MetaGetManyWith, Impl::Client) => {
                let mut hits = 0;
                let get = &self.get;
                self.client
                    .meta_get_many_with(keys, get, |_, item| {
                        hits += usize::from(item.value.as_ref().map(Vec::len) == Some(value.len()));
                    })
                    .expect("meta_get_many_with");
                assert_eq!(hits, keys.len());
            }
            (Workload::MetaGetMany, Impl::Client) => {
                let found = self.client.meta_get_many(keys, &self.get);
                assert_eq!(found.expect("meta_get_many").len(), keys.len());
            }
            (Workload::GetMany, Impl::Floor) => self.floor.get_split(keys, value.len()),
            (Workload::GetMany, Impl::FloorPeek) => self.floor_peek.get_split(keys, value.len()),
            (Workload::GetMany, Impl::Client) => {
                let found = self.client.get_many(keys).expect("get_many");
                assert_eq!(found.len(), keys.len());
            }
            (Workload::MetaGet, Impl::Floor) => self.meta_floor.get(key, value.len()),
            (Workload::MetaGet, Impl::FloorPeek) => self.meta_floor_peek.get(key, value.len()),
            (Workload::MetaGet, Impl::Client) => {
                let item = self.client.meta_get(key, &self.get).expect("meta_get");
                let len = item.and_then(|i| i.value).map(|v| v.len());
                assert_eq!(len, Some(value.len()), "meta_get of a hit");
            }
            (Workload::MetaSet, Impl::Floor) => self.meta_floor.set(key, value),
            (Workload::MetaSet, Impl::FloorPeek) => self.meta_floor_peek.set(key, value),
            (Workload::MetaSet, Impl::Client) => {
                let outcome = self
                    .client
                    .meta_set(key, value, &self.set)
                    .expect("meta_set");
                assert!(outcome.is_stored());
            }
            (Workload::Get, Impl::Floor) => self.floor.get(&[key], value.len()),
            (Workload::Get, Impl::FloorPeek) => self.floor_peek.get(&[key], value.len()),
            (Workload::Get, Impl::Client) => {
                let item = self.client.get(key).expect("get").expect("a hit");
                assert_eq!(item.value.len(), value.len());
            }
            (Workload::Set, Impl::Floor) => self.floor.set(key, value),
            (Workload::Set, Impl::FloorPeek) => self.floor_peek.set(key, value),
            (Workload::Set, Impl::Client) => {
                self.client.set(key, value, Expiry::Never).expect("set")
            }
        }
    }
}
