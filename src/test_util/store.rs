//! The fake's memory: items with flags, CAS values and expiration times, the counters `stats`
//! reports, and what each classic command does to them, answered with the crate's own reply
//! encoder.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::protocol::{
    encode_reply, ArithCommand, Keys, Reply, Request, RetrievalCommand, StorageCommand, Value,
};

/// memcached reads an expiration time above 30 days as a Unix time.
const MAX_RELATIVE_EXPTIME: i64 = 60 * 60 * 24 * 30;

/// The version the fake reports: memcached's, marked as a fake.
const VERSION: &str = "1.6.18-memcache-sync-fake";

/// The counters `stats` reports, in its order; `stats reset` zeroes them.
const COUNTERS: [&str; 19] = [
    "cmd_get",
    "cmd_set",
    "cmd_flush",
    "cmd_touch",
    "get_hits",
    "get_misses",
    "delete_misses",
    "delete_hits",
    "incr_misses",
    "incr_hits",
    "decr_misses",
    "decr_hits",
    "cas_misses",
    "cas_hits",
    "cas_badval",
    "touch_hits",
    "touch_misses",
    "store_too_large",
    "store_no_memory",
];

#[derive(Debug, Clone)]
struct Item {
    value: Vec<u8>,
    flags: u32,
    cas: u64,
    /// `None` for never.
    expires: Option<Instant>,
}

/// Every item and counter of one fake server, changed one whole command at a time.
#[derive(Debug)]
pub(crate) struct Store {
    items: HashMap<Vec<u8>, Item>,
    /// The sum of the stored values' lengths, held under `max_bytes`.
    bytes: usize,
    max_bytes: usize,
    max_value_len: usize,
    last_cas: u64,
    /// When a delayed `flush_all` takes effect.
    flush_at: Option<Instant>,
    counters: [u64; COUNTERS.len()],
    total_items: u64,
    started: Instant,
    pub(crate) curr_connections: u64,
    pub(crate) total_connections: u64,
}

impl Store {
    pub(crate) fn new(max_value_len: usize, max_bytes: usize) -> Self {
        Self {
            items: HashMap::new(),
            bytes: 0,
            max_bytes,
            max_value_len,
            last_cas: 0,
            flush_at: None,
            counters: [0; COUNTERS.len()],
            total_items: 0,
            started: Instant::now(),
            curr_connections: 0,
            total_connections: 0,
        }
    }

    /// Stores `value` under `key` with no flags and no expiry, as a `set` would.
    pub(crate) fn insert(&mut self, key: &[u8], value: &[u8]) {
        // Test setup may store past the memory cap: only what arrives on the wire is held to
        // it, so that a test can fill the fake up to see a store refused.
        self.flush_if_due(Instant::now());
        self.put_unchecked(key, value.to_vec(), 0, None);
    }

    /// The value stored under `key`, if it is live.
    pub(crate) fn get(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        self.live(key, Instant::now())
            .map(|item| item.value.clone())
    }

    /// Counts a storage command refused for a value over the item size limit. Like memcached,
    /// a refused `set` also drops the key's old value, so that no stale value outlives a write
    /// that was meant to replace it.
    pub(crate) fn refuse_too_large(&mut self, set_key: Option<&[u8]>) {
        self.count("store_too_large");
        if let Some(key) = set_key {
            self.remove(key);
        }
    }

    /// Carries out `request` and appends its reply (nothing for `noreply`) to `out`.
    pub(crate) fn execute(&mut self, request: &Request<'_>, out: &mut Vec<u8>) {
        let now = Instant::now();
        let (reply, noreply) = match *request {
            Request::Retrieval { command, keys } => return self.retrieve(command, keys, now, out),
            Request::Stats { args: None } => return self.stats(now, out),
            // The connection closes; nothing to store or answer.
            Request::Quit => return,
            Request::Storage {
                command,
                key,
                flags,
                exptime,
                value,
                noreply,
            } => {
                self.count("cmd_set");
                let expires = expires_at(exptime, now);
                (
                    self.store(command, key, flags, expires, value, now),
                    noreply,
                )
            }
            Request::Delete { key, noreply } => {
                let found = self.live(key, now).is_some();
                self.count_outcome("delete", found);
                if found {
                    self.remove(key);
                }
                (
                    if found {
                        Reply::Deleted
                    } else {
                        Reply::NotFound
                    },
                    noreply,
                )
            }
            Request::Arith {
                command,
                key,
                delta,
                noreply,
            } => (self.arith(command, key, delta, now), noreply),
            Request::Touch {
                key,
                exptime,
                noreply,
            } => {
                self.count("cmd_touch");
                let item = self.live(key, now);
                let touched = item.is_some();
                if let Some(item) = item {
                    item.expires = expires_at(exptime, now);
                }
                self.count_outcome("touch", touched);
                (
                    if touched {
                        Reply::Touched
                    } else {
                        Reply::NotFound
                    },
                    noreply,
                )
            }
            Request::FlushAll { delay, noreply } => {
                self.count("cmd_flush");
                match delay.and_then(|delay| expires_at(delay, now)) {
                    Some(at) if at > now => self.flush_at = Some(at),
                    _ => self.flush(),
                }
                (Reply::Ok, noreply)
            }
            Request::Verbosity { noreply, .. } => (Reply::Ok, noreply),
            Request::Version => (Reply::Version(VERSION.as_bytes()), false),
            Request::Stats {
                args: Some(b"reset"),
            } => {
                self.counters = [0; COUNTERS.len()];
                (Reply::Reset, false)
            }
            // Other groups (`items`, `slabs`, ...) describe memcached's internals, which a fake
            // does not have; memcached answers a group it does not know the same way.
            Request::Stats { args: Some(_) } => (Reply::Error(b""), false),
        };
        if !noreply {
            encode_reply(&reply, out);
        }
    }

    /// get, gets, gat and gats: a `VALUE` for each key that is live, in the order asked,
    /// duplicates included, then `END`.
    fn retrieve(
        &mut self,
        command: RetrievalCommand,
        keys: Keys<'_>,
        now: Instant,
        out: &mut Vec<u8>,
    ) {
        let (touch, with_cas) = match command {
            RetrievalCommand::Get => (None, false),
            RetrievalCommand::Gets => (None, true),
            RetrievalCommand::Gat(exptime) => (Some(exptime), false),
            RetrievalCommand::Gats(exptime) => (Some(exptime), true),
        };
        for key in keys.iter() {
            self.count("cmd_get");
            let item = self.live(key, now).map(|item| {
                if let Some(exptime) = touch {
                    item.expires = expires_at(exptime, now);
                }
                item.clone()
            });
            self.count_outcome("get", item.is_some());
            if touch.is_some() {
                self.count("cmd_touch");
                self.count_outcome("touch", item.is_some());
            }
            if let Some(item) = item {
                let value = Value {
                    key,
                    flags: item.flags,
                    cas: with_cas.then_some(item.cas),
                    data: &item.value,
                };
                encode_reply(&Reply::Value(value), out);
            }
        }
        encode_reply(&Reply::End, out);
    }

    /// The reply to a storage command, having stored what it asked for if its condition held.
    fn store(
        &mut self,
        command: StorageCommand,
        key: &[u8],
        flags: u32,
        expires: Option<Instant>,
        value: &[u8],
        now: Instant,
    ) -> Reply<'static> {
        let existing = self.live(key, now).cloned();
        let (value, flags, expires) = match (command, &existing) {
            (StorageCommand::Set, _)
            | (StorageCommand::Add, None)
            | (StorageCommand::Replace, Some(_)) => (value.to_vec(), flags, expires),
            (StorageCommand::Add, Some(_))
            | (StorageCommand::Replace | StorageCommand::Append | StorageCommand::Prepend, None) => {
                return Reply::NotStored
            }
            (StorageCommand::Cas(_), None) => {
                self.count("cas_misses");
                return Reply::NotFound;
            }
            (StorageCommand::Cas(unique), Some(item)) if item.cas != unique => {
                self.count("cas_badval");
                return Reply::Exists;
            }
            (StorageCommand::Cas(_), Some(_)) => {
                self.count("cas_hits");
                (value.to_vec(), flags, expires)
            }
            // Append and prepend keep the item's flags and expiry, ignoring the ones sent.
            (StorageCommand::Append | StorageCommand::Prepend, Some(item)) => {
                let joined = if command == StorageCommand::Append {
                    [&item.value[..], value].concat()
                } else {
                    [value, &item.value[..]].concat()
                };
                // memcached refuses a join that would not fit in an item, as not stored.
                if joined.len() > self.max_value_len {
                    return Reply::NotStored;
                }
                (joined, item.flags, item.expires)
            }
        };
        match self.put(key, value, flags, expires) {
            Ok(()) => Reply::Stored,
            Err(()) => {
                self.count("store_no_memory");
                Reply::ServerError(b"out of memory storing object")
            }
        }
    }

    /// incr/decr: memcached's wrapping, clamping at zero, and padding.
    fn arith(
        &mut self,
        command: ArithCommand,
        key: &[u8],
        delta: u64,
        now: Instant,
    ) -> Reply<'static> {
        let name = match command {
            ArithCommand::Incr => "incr",
            ArithCommand::Decr => "decr",
        };
        let item = self.live(key, now).cloned();
        self.count_outcome(name, item.is_some());
        let Some(item) = item else {
            return Reply::NotFound;
        };
        // memcached pads a number that shrank with spaces, and reads it back through them.
        let digits = item.value.trim_ascii_end();
        let current = Some(digits)
            .filter(|d| !d.is_empty() && d.iter().all(u8::is_ascii_digit))
            .and_then(|d| std::str::from_utf8(d).ok()?.parse::<u64>().ok());
        let Some(current) = current else {
            return Reply::ClientError(b"cannot increment or decrement non-numeric value");
        };
        let n = match command {
            ArithCommand::Incr => current.wrapping_add(delta),
            ArithCommand::Decr => current.saturating_sub(delta),
        };
        let mut value = n.to_string().into_bytes();
        if value.len() < item.value.len() {
            value.resize(item.value.len(), b' ');
        }
        match self.put(key, value, item.flags, item.expires) {
            Ok(()) => Reply::Number(n),
            Err(()) => Reply::ServerError(b"out of memory storing object"),
        }
    }

    /// Stores an item with a fresh CAS value, within the memory cap.
    fn put(
        &mut self,
        key: &[u8],
        value: Vec<u8>,
        flags: u32,
        expires: Option<Instant>,
    ) -> Result<(), ()> {
        self.flush_if_due(Instant::now());
        let old = self.items.get(key).map_or(0, |item| item.value.len());
        if self.bytes - old + value.len() > self.max_bytes {
            return Err(());
        }
        self.put_unchecked(key, value, flags, expires);
        Ok(())
    }

    fn put_unchecked(&mut self, key: &[u8], value: Vec<u8>, flags: u32, expires: Option<Instant>) {
        self.remove(key);
        self.bytes += value.len();
        self.last_cas += 1;
        self.total_items += 1;
        let item = Item {
            value,
            flags,
            cas: self.last_cas,
            expires,
        };
        self.items.insert(key.to_vec(), item);
    }

    /// The item under `key` if it has neither expired nor been flushed; a dead one is dropped.
    fn live(&mut self, key: &[u8], now: Instant) -> Option<&mut Item> {
        self.flush_if_due(now);
        let expired = self
            .items
            .get(key)
            .is_some_and(|item| item.expires.is_some_and(|at| now >= at));
        if expired {
            self.remove(key);
        }
        self.items.get_mut(key)
    }

    fn remove(&mut self, key: &[u8]) {
        if let Some(item) = self.items.remove(key) {
            self.bytes -= item.value.len();
        }
    }

    /// Carries out a delayed `flush_all` whose time has come: checked before every read and
    /// write, so an item stored after that time is never lost to it.
    fn flush_if_due(&mut self, now: Instant) {
        if self.flush_at.is_some_and(|at| now >= at) {
            self.flush();
        }
    }

    fn flush(&mut self) {
        self.items.clear();
        self.bytes = 0;
        self.flush_at = None;
    }

    /// Counts `<command>_hits` or `<command>_misses`.
    fn count_outcome(&mut self, command: &str, hit: bool) {
        let outcome = if hit { "hits" } else { "misses" };
        self.count(&format!("{command}_{outcome}"));
    }

    fn count(&mut self, name: &str) {
        if let Some(i) = COUNTERS.iter().position(|&counter| counter == name) {
            self.counters[i] += 1;
        }
    }

    fn stats(&mut self, now: Instant, out: &mut Vec<u8>) {
        // Expired items still in the map are not current: drop them before counting.
        let expired: Vec<Vec<u8>> = self
            .items
            .iter()
            .filter(|(_, item)| item.expires.is_some_and(|at| now >= at))
            .map(|(key, _)| key.clone())
            .collect();
        for key in expired {
            self.remove(&key);
        }
        self.flush_if_due(now);
        let unix_now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let fixed = [
            ("pid", u64::from(std::process::id()).to_string()),
            (
                "uptime",
                now.duration_since(self.started).as_secs().to_string(),
            ),
            ("time", unix_now.to_string()),
            ("version", VERSION.to_owned()),
            ("curr_connections", self.curr_connections.to_string()),
            ("total_connections", self.total_connections.to_string()),
        ];
        let counters = COUNTERS
            .iter()
            .zip(self.counters)
            .map(|(name, n)| (*name, n.to_string()));
        let sizes = [
            ("limit_maxbytes", self.max_bytes.to_string()),
            ("bytes", self.bytes.to_string()),
            ("curr_items", self.items.len().to_string()),
            ("total_items", self.total_items.to_string()),
        ];
        for (name, value) in fixed.into_iter().chain(counters).chain(sizes) {
            encode_reply(
                &Reply::Stat {
                    name: name.as_bytes(),
                    value: value.as_bytes(),
                },
                out,
            );
        }
        encode_reply(&Reply::End, out);
    }
}

/// When an item given `exptime` on the wire expires: never for 0, at once when negative or a
/// Unix time already past, else that many seconds from now (up to 30 days) or at that Unix
/// time. A time too far ahead to represent is never.
fn expires_at(exptime: i64, now: Instant) -> Option<Instant> {
    let secs_from_now = match exptime {
        0 => return None,
        ..0 => 0,
        1..=MAX_RELATIVE_EXPTIME => exptime.unsigned_abs(),
        _ => {
            let unix_now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs();
            exptime.unsigned_abs().saturating_sub(unix_now)
        }
    };
    now.checked_add(Duration::from_secs(secs_from_now))
}
