//! memcache-sync against a raw-socket floor and the `memcache` crate, on a private memcached.
//!
//! Every implementation runs every workload in the same process, in interleaved rounds: in
//! each round the implementations take turns on a workload (the sequential workloads in
//! slices, so that they alternate many times per round; order rotated per slice and per
//! round), and each implementation's time per operation is divided by the floor's in that same
//! round. The reported ratio is the median of those per-round ratios, so drifts of a shared
//! machine cancel out. See `benches/README.md` for what each implementation does and for the
//! table's columns.
//!
//! ```text
//! cargo bench --bench compare                     # full run, ~3 minutes
//! COMPARE_QUICK=1 cargo bench --bench compare     # smoke run, ~20 s
//! ```
//!
//! Environment: `COMPARE_ROUNDS` (default 7, quick 3), `COMPARE_PLACEMENT` (`pinned`, the
//! default: this process and every memcached thread on one CPU; `spread`: no pinning),
//! `COMPARE_CPU` (the CPU to pin to, default 0), `COMPARE_ONLY` (workloads, comma-separated:
//! `get-hit,get-miss,set,get-many,bulk`), `COMPARE_IMPLS` (implementations besides the floor,
//! comma-separated names as printed), `COMPARE_OPS`, `COMPARE_MANY_OPS`, `COMPARE_SLICES`,
//! `COMPARE_BULK_KEYS`, `COMPARE_CLASSIC_BULK_KEYS`, `COMPARE_FLOOR_WINDOW` (bytes),
//! `COMPARE_META_CHUNK`; for exploring, `COMPARE_FLOOR_WINDOWS`, `COMPARE_META_CHUNKS` and
//! `COMPARE_FLOOR_SPLIT=1` add variants to the same rounds.

#[path = "../tests/support/memcached.rs"]
#[allow(dead_code)]
mod memcached;

mod common;
use common::*;

use std::collections::HashMap;
use std::env;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{self, Command};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use memcache::exp::{Get, MetaClient, Set};
use memcache_sync::protocol::{split_retrieval_lines, RetrievalCommand};
use memcache_sync::{Client, Entry};

use memcached::Memcached;

/// Keys per `get_many`.
const MANY: usize = 100;
/// Keys preloaded for the get workloads.
const HIT_KEYS: usize = 10_000;
/// Keys the `set` workload cycles through.
const SET_KEYS: usize = 10_000;
/// Keys checked after each bulk load.
const SAMPLE: usize = 1_000;
/// One `VALUE` frame of a 32-byte key and a 100-byte value with flags 0, data included.
const VALUE_FRAME_LEN: usize = "VALUE ".len() + 32 + " 0 100\r\n".len() + VALUE_LEN + 2;
const END: &[u8] = b"END\r\n";
const STORED: &[u8] = b"STORED\r\n";
/// Marks the re-executed, pinned child process.
const CHILD_MARKER: &str = "COMPARE_PINNED_CHILD";

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Workload {
    GetHit,
    GetMiss,
    Set,
    GetMany,
    Bulk,
}

impl Workload {
    const ALL: [Workload; 5] = [
        Workload::GetHit,
        Workload::GetMiss,
        Workload::Set,
        Workload::GetMany,
        Workload::Bulk,
    ];

    fn id(self) -> &'static str {
        match self {
            Workload::GetHit => "get-hit",
            Workload::GetMiss => "get-miss",
            Workload::Set => "set",
            Workload::GetMany => "get-many",
            Workload::Bulk => "bulk",
        }
    }

    fn label(self, settings: &Settings) -> String {
        match self {
            Workload::GetHit => "get (hit)".into(),
            Workload::GetMiss => "get (miss)".into(),
            Workload::Set => "set".into(),
            Workload::GetMany => format!("get_many({MANY})"),
            Workload::Bulk => format!("bulk load {}", count_label(settings.bulk_keys)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Settings and placement

#[derive(Clone, Copy, PartialEq, Eq)]
enum Placement {
    Pinned(usize),
    Spread,
}

struct Settings {
    quick: bool,
    rounds: usize,
    seq_ops: usize,
    many_ops: usize,
    bulk_keys: usize,
    classic_bulk_keys: usize,
    slices: usize,
    floor_window: usize,
    meta_chunk: usize,
    placement: Placement,
    placement_note: String,
    workloads: Vec<Workload>,
    impls: Option<Vec<String>>,
}

fn env_list(name: &str) -> Option<Vec<String>> {
    env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
}

impl Settings {
    fn from_env(placement: Placement, placement_note: String) -> Settings {
        let quick = env::var("COMPARE_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
        let workloads = match env_list("COMPARE_ONLY") {
            Some(ids) => ids
                .iter()
                .map(|id| {
                    *Workload::ALL
                        .iter()
                        .find(|w| w.id() == id)
                        .unwrap_or_else(|| panic!("COMPARE_ONLY: unknown workload {id:?}"))
                })
                .collect(),
            None => Workload::ALL.to_vec(),
        };
        Settings {
            quick,
            rounds: env_usize("COMPARE_ROUNDS", if quick { 3 } else { 7 }).max(1),
            seq_ops: env_usize("COMPARE_OPS", if quick { 5_000 } else { 60_000 }),
            many_ops: env_usize("COMPARE_MANY_OPS", if quick { 500 } else { 6_000 }),
            bulk_keys: env_usize("COMPARE_BULK_KEYS", if quick { 200_000 } else { 500_000 }),
            classic_bulk_keys: env_usize(
                "COMPARE_CLASSIC_BULK_KEYS",
                if quick { 2_000 } else { 10_000 },
            ),
            slices: env_usize("COMPARE_SLICES", if quick { 5 } else { 10 }).max(1),
            floor_window: env_usize("COMPARE_FLOOR_WINDOW", 64 * 1024),
            meta_chunk: env_usize("COMPARE_META_CHUNK", 1_000).max(1),
            placement,
            placement_note,
            workloads,
            impls: env_list("COMPARE_IMPLS"),
        }
    }
}

/// Pins this process by re-executing it under `taskset -c <cpu>` (the child finds the marker
/// and carries on); returns the placement in force. No unsafe code: affinity is inherited.
fn establish_placement() -> (Placement, String) {
    let cpu = env_usize("COMPARE_CPU", 0);
    match env::var("COMPARE_PLACEMENT").as_deref() {
        Ok("spread") => {
            return (
                Placement::Spread,
                "spread (COMPARE_PLACEMENT=spread)".into(),
            )
        }
        Ok("pinned") | Ok("") | Err(_) => {}
        Ok(other) => panic!("COMPARE_PLACEMENT={other:?}: use pinned or spread"),
    }
    if env::var_os(CHILD_MARKER).is_none() {
        let exe = env::current_exe().expect("the bench's own path");
        let status = Command::new("taskset")
            .arg("-c")
            .arg(cpu.to_string())
            .arg(exe)
            .args(env::args_os().skip(1))
            .env(CHILD_MARKER, cpu.to_string())
            .status();
        match status {
            Ok(status) => process::exit(status.code().unwrap_or(1)),
            Err(error) => {
                let note = format!("spread (taskset could not run: {error})");
                eprintln!("compare: {note}");
                return (Placement::Spread, note);
            }
        }
    }
    let allowed = proc_status_field("self", "Cpus_allowed_list");
    (
        Placement::Pinned(cpu),
        format!("pinned: bench and all memcached threads on CPU {cpu} (bench Cpus_allowed_list={allowed})"),
    )
}

/// `taskset -a -p -c <cpu> <pid>`: every thread of memcached onto the bench's CPU.
fn pin_memcached(pid: u32, cpu: usize) -> String {
    let output = Command::new("taskset")
        .args(["-a", "-p", "-c", &cpu.to_string(), &pid.to_string()])
        .output()
        .expect("taskset runs (it ran for the bench itself)");
    assert!(
        output.status.success(),
        "taskset -a -p failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut threads = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            let tid = task.file_name().to_string_lossy().into_owned();
            threads.push(proc_status_field(
                &format!("{pid}/task/{tid}"),
                "Cpus_allowed_list",
            ));
        }
    }
    let all = threads.iter().all(|t| *t == cpu.to_string());
    assert!(all, "memcached threads not all on CPU {cpu}: {threads:?}");
    format!("{} memcached threads on CPU {cpu}", threads.len())
}

// ---------------------------------------------------------------------------------------------
// Data

/// splitmix64: enough randomness to sample keys.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

// ---------------------------------------------------------------------------------------------
// Implementations

trait Contender {
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
    /// Reads a key that holds a 100-byte value; returns the value's length.
    fn get_hit(&mut self, key: &str) -> usize;
    /// Reads a key that holds nothing; returns whether it was a miss.
    fn get_miss(&mut self, key: &str) -> bool;
    fn set(&mut self, key: &str, value: &[u8]);
    /// Reads `keys`, all of which hold values; returns how many were found.
    fn get_many(&mut self, keys: &[&str]) -> usize;
    /// Stores every key with `value`; returns how many the server confirmed.
    fn bulk(&mut self, keys: &[&str], value: &[u8]) -> usize;
}

/// The floor: plain `std` TCP, one write per request, no parsing beyond finding the reply's
/// end, and a pipelined bulk writer.
struct Floor {
    stream: TcpStream,
    request: Vec<u8>,
    buf: Vec<u8>,
    window: usize,
    /// `None` for the floor itself; a name for a variant (another bulk window size, or
    /// get_many split into lines the way memcache-sync splits them).
    variant: Option<&'static str>,
    split_lines: bool,
    /// Whether each request is preceded by one non-blocking peek, as memcache-sync checks the
    /// connection before every request: the difference to the floor is the check's cost.
    peek: bool,
}

impl Floor {
    fn connect(addr: &str, window: usize) -> Floor {
        let stream = TcpStream::connect(addr).expect("floor connects");
        stream.set_nodelay(true).unwrap();
        Floor {
            stream,
            request: Vec::with_capacity(64 * 1024),
            buf: vec![0; 64 * 1024],
            window,
            variant: None,
            split_lines: false,
            peek: false,
        }
    }

    fn send(&mut self) {
        if self.peek {
            let mut probe = [std::mem::MaybeUninit::<u8>::uninit()];
            let quiet = socket2::SockRef::from(&self.stream)
                .recv_with_flags(&mut probe, libc::MSG_PEEK | libc::MSG_DONTWAIT);
            assert!(
                matches!(&quiet, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
                "nothing is unread before a request"
            );
        }
        let mut written = 0;
        while written < self.request.len() {
            written += self
                .stream
                .write(&self.request[written..])
                .expect("floor write");
        }
    }

    /// Reads until what has arrived ends with `end`; returns its length.
    fn read_until(&mut self, end: &[u8]) -> usize {
        let mut len = 0;
        loop {
            if len == self.buf.len() {
                self.buf.resize(len * 2, 0);
            }
            let n = self.stream.read(&mut self.buf[len..]).expect("floor read");
            assert!(n > 0, "memcached closed the floor's connection");
            len += n;
            if self.buf[..len].ends_with(end) {
                return len;
            }
        }
    }

    fn encode_get(&mut self, keys: &[&str]) {
        self.request.clear();
        self.request.extend_from_slice(b"get");
        for key in keys {
            self.request.push(b' ');
            self.request.extend_from_slice(key.as_bytes());
        }
        self.request.extend_from_slice(b"\r\n");
    }

    fn encode_set(request: &mut Vec<u8>, key: &str, value: &[u8]) {
        request.extend_from_slice(b"set ");
        request.extend_from_slice(key.as_bytes());
        request.extend_from_slice(b" 0 0 100\r\n");
        request.extend_from_slice(value);
        request.extend_from_slice(b"\r\n");
    }

    /// Reads replies until `received` reaches `target` bytes, checking that every byte belongs
    /// to a run of `STORED\r\n`.
    fn read_stored(&mut self, received: &mut usize, target: usize) {
        while *received < target {
            let n = self.stream.read(&mut self.buf).expect("floor read");
            assert!(n > 0, "memcached closed the floor's connection");
            for (i, &b) in self.buf[..n].iter().enumerate() {
                assert_eq!(
                    b,
                    STORED[(*received + i) % STORED.len()],
                    "a bulk reply other than STORED"
                );
            }
            *received += n;
        }
    }
}

impl Contender for Floor {
    fn name(&self) -> &'static str {
        self.variant.unwrap_or("floor")
    }

    fn supports(&self, workload: Workload) -> bool {
        if self.peek {
            return matches!(
                workload,
                Workload::GetHit | Workload::GetMiss | Workload::Set
            );
        }
        match (self.variant, self.split_lines) {
            (None, _) => true,
            (Some(_), false) => workload == Workload::Bulk,
            (Some(_), true) => workload == Workload::GetMany,
        }
    }

    fn get_hit(&mut self, key: &str) -> usize {
        self.encode_get(&[key]);
        self.send();
        let len = self.read_until(END);
        assert_eq!(len, VALUE_FRAME_LEN + END.len(), "floor get hit");
        VALUE_LEN
    }

    fn get_miss(&mut self, key: &str) -> bool {
        self.encode_get(&[key]);
        self.send();
        self.read_until(END) == END.len()
    }

    fn set(&mut self, key: &str, value: &[u8]) {
        self.request.clear();
        Floor::encode_set(&mut self.request, key, value);
        self.send();
        let len = self.read_until(b"\r\n");
        assert_eq!(&self.buf[..len], STORED);
    }

    fn get_many(&mut self, keys: &[&str]) -> usize {
        if self.split_lines {
            // As memcache-sync sends them: lines of at most 2048 bytes, each closed by END.
            let lines = split_retrieval_lines(RetrievalCommand::Get, keys);
            self.request.clear();
            for line in &lines {
                self.request.extend_from_slice(b"get");
                for key in &keys[line.clone()] {
                    self.request.push(b' ');
                    self.request.extend_from_slice(key.as_bytes());
                }
                self.request.extend_from_slice(b"\r\n");
            }
            self.send();
            let expected = keys.len() * VALUE_FRAME_LEN + lines.len() * END.len();
            let mut len = 0;
            while len < expected {
                let n = self.stream.read(&mut self.buf[len..]).expect("floor read");
                assert!(n > 0, "memcached closed the floor's connection");
                len += n;
            }
            assert_eq!(len, expected, "floor get_many (split lines)");
            return keys.len();
        }
        self.encode_get(keys);
        self.send();
        let len = self.read_until(END);
        assert_eq!(
            len,
            keys.len() * VALUE_FRAME_LEN + END.len(),
            "floor get_many"
        );
        keys.len()
    }

    /// Windows of about `window` bytes; writes window n+1, then reads the replies to window n,
    /// so the server always has the next window queued while the client reads.
    fn bulk(&mut self, keys: &[&str], value: &[u8]) -> usize {
        let per_key = 4 + 32 + 10 + VALUE_LEN + 2;
        let keys_per_window = (self.window / per_key).max(1);
        let mut received = 0;
        let mut answered_target = 0;
        let mut in_flight: Option<usize> = None;
        for window in keys.chunks(keys_per_window) {
            self.request.clear();
            for key in window {
                Floor::encode_set(&mut self.request, key, value);
            }
            self.send();
            if let Some(previous) = in_flight.replace(window.len()) {
                answered_target += previous * STORED.len();
                self.read_stored(&mut received, answered_target);
            }
        }
        if let Some(last) = in_flight {
            answered_target += last * STORED.len();
            self.read_stored(&mut received, answered_target);
        }
        assert_eq!(received, keys.len() * STORED.len());
        received / STORED.len()
    }
}

/// This crate. With `into`, the zero-copy reads: `get_into` with one reused buffer, and
/// `get_many_with`, which hands each value over borrowed instead of building a map.
struct Sync {
    client: Client,
    into: bool,
    buf: Vec<u8>,
}

impl Contender for Sync {
    fn name(&self) -> &'static str {
        if self.into {
            "memcache-sync zero-copy"
        } else {
            "memcache-sync"
        }
    }

    fn supports(&self, workload: Workload) -> bool {
        !self.into || matches!(workload, Workload::GetHit | Workload::GetMany)
    }

    fn get_hit(&mut self, key: &str) -> usize {
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
            .set(key.as_bytes(), value, memcache_sync::Expiry::Never)
            .expect("set");
    }

    fn get_many(&mut self, keys: &[&str]) -> usize {
        if self.into {
            let mut found = 0;
            self.client
                .get_many_with(keys, |_, value, _| found += usize::from(!value.is_empty()))
                .expect("get_many_with");
            found
        } else {
            self.client.get_many(keys).expect("get_many").len()
        }
    }

    fn bulk(&mut self, keys: &[&str], value: &[u8]) -> usize {
        let report = self
            .client
            .set_many(keys.iter().map(|key| Entry::new(key.as_bytes(), value)));
        assert!(report.all_done(), "set_many: {:?}", report.stop_error());
        report.len()
    }
}

/// `memcache::Client` (binary protocol unless `protocol=ascii`), one pooled connection.
struct Classic {
    client: memcache::Client,
    ascii: bool,
    bulk_keys: usize,
}

impl Contender for Classic {
    fn name(&self) -> &'static str {
        if self.ascii {
            "memcache (ascii)"
        } else {
            "memcache"
        }
    }

    fn divisor(&self, workload: Workload) -> usize {
        if workload == Workload::GetMany {
            20
        } else {
            8
        }
    }

    fn bulk_limit(&self) -> Option<usize> {
        Some(self.bulk_keys)
    }

    fn get_hit(&mut self, key: &str) -> usize {
        let value: Vec<u8> = self.client.get(key).expect("get").expect("a hit");
        value.len()
    }

    fn get_miss(&mut self, key: &str) -> bool {
        self.client.get::<Vec<u8>>(key).expect("get").is_none()
    }

    fn set(&mut self, key: &str, value: &[u8]) {
        self.client.set(key, value, 0).expect("set");
    }

    fn get_many(&mut self, keys: &[&str]) -> usize {
        let found: HashMap<String, Vec<u8>> = self.client.gets(keys).expect("gets");
        found.len()
    }

    /// The classic client has no batch store (no `set_multi` in 0.21): one `set` per key.
    fn bulk(&mut self, keys: &[&str], value: &[u8]) -> usize {
        for key in keys {
            self.client.set(key, value, 0).expect("set");
        }
        keys.len()
    }
}

/// `memcache::exp::MetaClient` (meta protocol, pooled connection).
struct Meta {
    client: MetaClient,
    chunk: usize,
    /// `None` for the default; a name for a bulk-only variant with another chunk size.
    variant: Option<&'static str>,
}

impl Contender for Meta {
    fn name(&self) -> &'static str {
        self.variant.unwrap_or("memcache MetaClient")
    }

    fn supports(&self, workload: Workload) -> bool {
        self.variant.is_none() || workload == Workload::Bulk
    }

    fn get_hit(&mut self, key: &str) -> usize {
        let result = self.client.get(key).send().expect("mg");
        result.value.expect("a hit").len()
    }

    fn get_miss(&mut self, key: &str) -> bool {
        !self.client.get(key).send().expect("mg").hit()
    }

    fn set(&mut self, key: &str, value: &[u8]) {
        assert!(self.client.set(key, value).send().expect("ms").applied());
    }

    fn get_many(&mut self, keys: &[&str]) -> usize {
        let results = self
            .client
            .run_many(keys.iter().map(Get::new))
            .expect("run_many");
        results
            .into_iter()
            .filter(|r| r.as_ref().expect("mg").hit())
            .count()
    }

    /// `run_many` writes its whole batch before reading, so the load goes in chunks of
    /// `chunk` sets, one `run_many` each.
    fn bulk(&mut self, keys: &[&str], value: &[u8]) -> usize {
        let mut applied = 0;
        for chunk in keys.chunks(self.chunk) {
            let results = self
                .client
                .run_many(chunk.iter().map(|key| Set::new(key, value)))
                .expect("run_many");
            applied += results
                .iter()
                .filter(|r| r.as_ref().expect("ms").applied())
                .count();
        }
        applied
    }
}

// ---------------------------------------------------------------------------------------------
// A raw side connection for setup and verification, never timed.

struct Raw(TcpStream);

impl Raw {
    fn connect(addr: &str) -> Raw {
        let stream = TcpStream::connect(addr).expect("verifier connects");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        Raw(stream)
    }

    fn exchange(&mut self, request: &[u8], end: &[u8]) -> Vec<u8> {
        self.0.write_all(request).unwrap();
        let mut reply = Vec::new();
        let mut chunk = [0u8; 64 * 1024];
        while !reply.ends_with(end) {
            let n = self.0.read(&mut chunk).unwrap();
            assert!(n > 0, "memcached closed the verifier's connection");
            reply.extend_from_slice(&chunk[..n]);
        }
        reply
    }

    fn stats(&mut self) -> HashMap<String, u64> {
        let reply = self.exchange(b"stats\r\n", END);
        String::from_utf8_lossy(&reply)
            .lines()
            .filter_map(|line| {
                let mut parts = line.strip_prefix("STAT ")?.splitn(2, ' ');
                let name = parts.next()?.to_string();
                Some((name, parts.next()?.trim().parse().ok()?))
            })
            .collect()
    }

    fn version(&mut self) -> String {
        let reply = self.exchange(b"version\r\n", b"\r\n");
        String::from_utf8_lossy(&reply)
            .trim()
            .trim_start_matches("VERSION ")
            .to_string()
    }

    /// Stores `value` under every key, pipelined, and checks every reply.
    fn load(&mut self, keys: &[&str], value: &[u8]) {
        for chunk in keys.chunks(500) {
            let mut request = Vec::new();
            for key in chunk {
                Floor::encode_set(&mut request, key, value);
            }
            self.0.write_all(&request).unwrap();
            let expected = STORED.repeat(chunk.len());
            let mut reply = vec![0; expected.len()];
            self.0.read_exact(&mut reply).unwrap();
            assert_eq!(reply, expected, "preload");
        }
    }

    /// Checks that each of `keys` holds exactly `value` (any flags).
    fn check_values(&mut self, keys: &[&str], value: &[u8]) {
        for chunk in keys.chunks(MANY) {
            let mut request = b"get".to_vec();
            for key in chunk {
                request.push(b' ');
                request.extend_from_slice(key.as_bytes());
            }
            request.extend_from_slice(b"\r\n");
            let reply = self.exchange(&request, END);
            let mut at = 0;
            for key in chunk {
                let line_end = at
                    + reply[at..]
                        .windows(2)
                        .position(|w| w == b"\r\n")
                        .expect("a VALUE line");
                let line = std::str::from_utf8(&reply[at..line_end]).expect("ASCII header");
                let fields: Vec<&str> = line.split(' ').collect();
                assert!(
                    fields.len() == 4 && fields[0] == "VALUE" && fields[1] == *key,
                    "expected VALUE {key}, got {line:?}"
                );
                assert_eq!(fields[3], VALUE_LEN.to_string(), "{key}: length");
                let data = &reply[line_end + 2..line_end + 2 + VALUE_LEN];
                assert_eq!(data, value, "{key}: wrong value");
                at = line_end + 2 + VALUE_LEN + 2;
            }
            assert_eq!(&reply[at..], END, "trailing bytes after the sampled values");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Measurement

/// CPU time actually run, in ns, by this process and memcached (every thread of both), from
/// `/proc/<pid>/task/*/schedstat`. Time other processes take from the CPU does not count, so
/// ratios of it are far steadier than wall-clock ratios on a shared machine.
struct CpuClock {
    server_pid: String,
}

impl CpuClock {
    fn now(&self) -> u64 {
        task_run_ns("self") + task_run_ns(&self.server_pid)
    }
}

#[derive(Default)]
struct Record {
    /// (round, seconds per op) for every round this implementation ran.
    per_op: Vec<(usize, f64)>,
    ops: usize,
    seconds: f64,
    latencies_ns: Vec<u32>,
    /// (round, CPU seconds of client and server per op).
    cpu_per_op: Vec<(usize, f64)>,
    cpu_seconds: f64,
    /// Where the next operation's keys start.
    cursor: usize,
    /// This round's operations, seconds and CPU seconds so far.
    round_ops: usize,
    round_seconds: f64,
    round_cpu: f64,
}

struct Keys {
    hit: Vec<&'static str>,
    miss: Vec<&'static str>,
    set: Vec<&'static str>,
    bulk: Vec<&'static str>,
}

/// Runs `ops` operations of a sequential workload; returns the elapsed time and records each
/// operation's latency.
fn run_sequential(
    contender: &mut dyn Contender,
    workload: Workload,
    ops: usize,
    start_at: usize,
    keys: &Keys,
    value: &[u8],
    latencies: &mut Vec<u32>,
) -> Duration {
    let started = Instant::now();
    let mut last = started;
    for op in 0..ops {
        let i = start_at + op;
        match workload {
            Workload::GetHit => {
                let len = contender.get_hit(keys.hit[i % HIT_KEYS]);
                assert_eq!(len, VALUE_LEN);
            }
            Workload::GetMiss => {
                assert!(contender.get_miss(keys.miss[i % keys.miss.len()]));
            }
            Workload::Set => contender.set(keys.set[i % SET_KEYS], value),
            Workload::GetMany => {
                let first = (i * MANY) % (HIT_KEYS - MANY);
                let found = contender.get_many(&keys.hit[first..first + MANY]);
                assert_eq!(found, MANY);
            }
            Workload::Bulk => unreachable!(),
        }
        let now = Instant::now();
        latencies.push(u32::try_from((now - last).as_nanos()).unwrap_or(u32::MAX));
        last = now;
    }
    last - started
}

struct BulkCheck {
    raw: Raw,
    loads: usize,
    rng: Rng,
}

impl BulkCheck {
    /// Runs one bulk load with a value unique to it, then checks the server: `total_items`
    /// grew by the key count, `curr_items` and `evictions` did not move (every key already
    /// existed, so each set replaced one), and 1000 random keys hold this load's value.
    fn run(
        &mut self,
        contender: &mut dyn Contender,
        keys: &[&str],
        cpu: &CpuClock,
    ) -> (Duration, u64) {
        self.loads += 1;
        let value = value_for(&format!("load{:06}", self.loads));
        let before = self.raw.stats();
        let cpu_before = cpu.now();
        let started = Instant::now();
        let confirmed = contender.bulk(keys, &value);
        let elapsed = started.elapsed();
        let cpu_used = cpu.now().saturating_sub(cpu_before);
        let after = self.raw.stats();
        let name = contender.name();
        assert_eq!(confirmed, keys.len(), "{name}: confirmed count");
        let delta = |stat: &str| after[stat] as i64 - before[stat] as i64;
        assert_eq!(
            delta("total_items"),
            keys.len() as i64,
            "{name}: total_items delta"
        );
        assert_eq!(delta("curr_items"), 0, "{name}: curr_items moved");
        assert_eq!(delta("evictions"), 0, "{name}: evictions");
        let sample: Vec<&str> = (0..SAMPLE)
            .map(|_| keys[(self.rng.next() % keys.len() as u64) as usize])
            .collect();
        self.raw.check_values(&sample, &value);
        (elapsed, cpu_used)
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

// ---------------------------------------------------------------------------------------------
// Output

fn count_label(n: usize) -> String {
    if n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else if n.is_multiple_of(1_000) {
        format!("{}k", n / 1_000)
    } else {
        n.to_string()
    }
}

fn duration_label(ns: f64) -> String {
    if ns.is_nan() {
        "-".into()
    } else if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.1} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.1} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

struct Row {
    workload: String,
    implementation: String,
    rate: String,
    p50: String,
    p99: String,
    ratio: String,
    range: String,
    cpu_ratio: String,
    cpu_share: String,
    rounds: String,
}

fn print_tables(rows: &[Row]) {
    let headers = [
        "workload",
        "implementation",
        "ops/s",
        "p50",
        "p99",
        "× floor",
        "min–max",
        "CPU × floor",
        "CPU/wall",
        "rounds",
    ];
    let cells = |r: &Row| {
        [
            r.workload.clone(),
            r.implementation.clone(),
            r.rate.clone(),
            r.p50.clone(),
            r.p99.clone(),
            r.ratio.clone(),
            r.range.clone(),
            r.cpu_ratio.clone(),
            r.cpu_share.clone(),
            r.rounds.clone(),
        ]
    };
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(cells(row)) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |values: &[String]| {
        let mut out = String::new();
        for (i, (v, w)) in values.iter().zip(&widths).enumerate() {
            let pad = w - v.chars().count();
            if i < 2 {
                out.push_str(v);
                out.push_str(&" ".repeat(pad));
            } else {
                out.push_str(&" ".repeat(pad));
                out.push_str(v);
            }
            out.push_str("  ");
        }
        out.trim_end().to_string()
    };
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    println!("{}", line(&header));
    println!(
        "{}",
        "-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1))
    );
    let mut previous = String::new();
    for row in rows {
        if !previous.is_empty() && previous != row.workload {
            println!();
        }
        previous = row.workload.clone();
        println!("{}", line(&cells(row)));
    }
    println!();
    println!("Markdown:");
    println!();
    println!("| {} |", headers.join(" | "));
    println!("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|");
    for row in rows {
        println!("| {} |", cells(row).join(" | "));
    }
}

fn rerun_command() -> String {
    let mut vars: Vec<String> = env::vars()
        .filter(|(k, _)| k.starts_with("COMPARE_") && k != CHILD_MARKER)
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    vars.sort();
    vars.push("cargo bench --bench compare".into());
    vars.join(" ")
}

// ---------------------------------------------------------------------------------------------

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this binary without it,
    // and a three-minute measurement has no place in a test run.
    if !env::args().any(|arg| arg == "--bench") {
        println!("compare: a benchmark; run it with `cargo bench --bench compare`");
        return;
    }
    let (placement, placement_note) = establish_placement();
    let settings = Settings::from_env(placement, placement_note);
    let started = Instant::now();
    let load_at_start = loadavg();
    let source = source_state();

    // hashpower=20: a table big enough for every key from the start, so that no background
    // hash table expansion runs during a timed round.
    let server = Memcached::start_with(&["-m", "1024", "-o", "hashpower=20"]);
    let addr = server.addr();
    let memcached_placement = match settings.placement {
        Placement::Pinned(cpu) => pin_memcached(server.pid(), cpu),
        Placement::Spread => "memcached not pinned".into(),
    };
    let mut raw = Raw::connect(&addr);
    let version = raw.version();

    let keys = Keys {
        hit: make_keys("cmp:hit:", HIT_KEYS),
        miss: make_keys("cmp:miss:", 1_000),
        set: make_keys("cmp:set:", SET_KEYS),
        bulk: make_keys("cmp:bulk:", settings.bulk_keys),
    };
    let hit_value = value_for("hit");
    raw.load(&keys.hit, &hit_value);

    let classic = |ascii: bool| -> Box<dyn Contender> {
        let options = if ascii { "&protocol=ascii" } else { "" };
        let url = format!("memcache://{addr}?tcp_nodelay=true&timeout=10{options}");
        Box::new(Classic {
            client: memcache::Client::connect(url).expect("memcache connects"),
            ascii,
            bulk_keys: settings.classic_bulk_keys.min(settings.bulk_keys),
        })
    };
    let mut contenders: Vec<Box<dyn Contender>> = vec![
        Box::new(Floor::connect(&addr, settings.floor_window)),
        Box::new(Sync {
            client: Client::connect(&addr).expect("memcache-sync connects"),
            into: false,
            buf: Vec::new(),
        }),
        Box::new(Sync {
            client: Client::connect(&addr).expect("memcache-sync connects"),
            into: true,
            buf: Vec::with_capacity(4096),
        }),
        classic(false),
        classic(true),
        Box::new(Meta {
            client: MetaClient::connect(addr.as_str()).expect("MetaClient connects"),
            chunk: settings.meta_chunk,
            variant: None,
        }),
    ];
    // Exploration: more window sizes for the floor's bulk writer, more chunk sizes for
    // MetaClient's bulk load, as bulk-only variants in the same rounds.
    for window in env_list("COMPARE_FLOOR_WINDOWS").unwrap_or_default() {
        let window: usize = window.parse().expect("COMPARE_FLOOR_WINDOWS: bytes");
        let mut floor = Floor::connect(&addr, window);
        floor.variant = Some(Box::leak(
            format!("floor ({} KiB windows)", window / 1024).into_boxed_str(),
        ));
        contenders.push(Box::new(floor));
    }
    {
        let mut floor = Floor::connect(&addr, settings.floor_window);
        floor.variant = Some("floor + peek");
        floor.peek = true;
        contenders.push(Box::new(floor));
    }
    if env::var("COMPARE_FLOOR_SPLIT").is_ok_and(|v| v == "1") {
        let mut floor = Floor::connect(&addr, settings.floor_window);
        floor.variant = Some("floor (get lines split at 2048 B)");
        floor.split_lines = true;
        contenders.push(Box::new(floor));
    }
    for chunk in env_list("COMPARE_META_CHUNKS").unwrap_or_default() {
        let chunk: usize = chunk.parse().expect("COMPARE_META_CHUNKS: a count");
        contenders.push(Box::new(Meta {
            client: MetaClient::connect(addr.as_str()).expect("MetaClient connects"),
            chunk,
            variant: Some(Box::leak(
                format!("memcache MetaClient (chunks of {chunk})").into_boxed_str(),
            )),
        }));
    }
    match &settings.impls {
        Some(wanted) => contenders.retain(|c| {
            c.name().starts_with("floor")
                || c.name().starts_with("memcache MetaClient (")
                || wanted.iter().any(|w| w == c.name())
        }),
        // The classic client over its ASCII protocol is as slow as over binary; opt-in only.
        None => contenders.retain(|c| c.name() != "memcache (ascii)"),
    }
    let n = contenders.len();

    // Warm-up: connections, buffers and memcached's per-connection state, untimed.
    let mut scratch = Vec::new();
    for workload in &settings.workloads {
        if *workload == Workload::Bulk {
            continue;
        }
        let ops = if *workload == Workload::GetMany {
            20
        } else {
            200
        };
        for contender in contenders.iter_mut().filter(|c| c.supports(*workload)) {
            let ops = ops / contender.divisor(*workload);
            run_sequential(
                contender.as_mut(),
                *workload,
                ops,
                0,
                &keys,
                &hit_value,
                &mut scratch,
            );
        }
    }
    let mut bulk = BulkCheck {
        raw: Raw::connect(&addr),
        loads: 0,
        rng: Rng(SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)),
    };
    if settings.workloads.contains(&Workload::Bulk) {
        // The first load creates the keys; every timed load then replaces existing items.
        raw.load(&keys.bulk, &value_for("initial"));
    }

    let cpu = CpuClock {
        server_pid: server.pid().to_string(),
    };
    let mut records: HashMap<(Workload, &'static str), Record> = HashMap::new();
    for round in 0..settings.rounds {
        let mut progress = format!("round {}/{}:", round + 1, settings.rounds);
        for &workload in &settings.workloads {
            if workload == Workload::Bulk {
                for k in 0..n {
                    let contender = &mut contenders[(k + round) % n];
                    if !contender.supports(workload) {
                        continue;
                    }
                    let limit = contender.bulk_limit().unwrap_or(keys.bulk.len());
                    // Lets memcached's background threads (LRU maintainer) settle after the
                    // previous load, so that each load starts from the same state.
                    std::thread::sleep(Duration::from_millis(250));
                    let (elapsed, cpu_ns) = bulk.run(contender.as_mut(), &keys.bulk[..limit], &cpu);
                    let record = records.entry((workload, contender.name())).or_default();
                    record.round_ops += limit;
                    record.round_seconds += elapsed.as_secs_f64();
                    record.round_cpu += cpu_ns as f64 / 1e9;
                }
            } else {
                // The round's operations go in slices, each implementation taking its turn in
                // every slice, so that a burst of noise from the rest of the machine lands on
                // all of them alike.
                let ops = match workload {
                    Workload::GetMany => settings.many_ops,
                    _ => settings.seq_ops,
                };
                for slice in 0..settings.slices {
                    for k in 0..n {
                        let contender = &mut contenders[(k + round + slice) % n];
                        if !contender.supports(workload) {
                            continue;
                        }
                        let ops = (ops / settings.slices / contender.divisor(workload)).max(1);
                        let record = records.entry((workload, contender.name())).or_default();
                        let cpu_before = cpu.now();
                        let elapsed = run_sequential(
                            contender.as_mut(),
                            workload,
                            ops,
                            record.cursor,
                            &keys,
                            &hit_value,
                            &mut record.latencies_ns,
                        );
                        let cpu_ns = cpu.now().saturating_sub(cpu_before);
                        record.cursor += ops;
                        record.round_ops += ops;
                        record.round_seconds += elapsed.as_secs_f64();
                        record.round_cpu += cpu_ns as f64 / 1e9;
                    }
                }
            }
            for ((w, _), record) in records.iter_mut() {
                if *w == workload && record.round_ops > 0 {
                    record
                        .per_op
                        .push((round, record.round_seconds / record.round_ops as f64));
                    record
                        .cpu_per_op
                        .push((round, record.round_cpu / record.round_ops as f64));
                    record.ops += record.round_ops;
                    record.seconds += record.round_seconds;
                    record.cpu_seconds += record.round_cpu;
                    record.round_ops = 0;
                    record.round_seconds = 0.0;
                    record.round_cpu = 0.0;
                }
            }
            let _ = write!(progress, " {}", workload.id());
        }
        eprintln!(
            "{progress} ({:.0} s so far)",
            started.elapsed().as_secs_f64()
        );
    }

    // Results.
    let mut rows = Vec::new();
    for &workload in &settings.workloads {
        let floor = &records[&(workload, "floor")];
        let floor_per_op: HashMap<usize, f64> = floor.per_op.iter().copied().collect();
        let floor_cpu_per_op: HashMap<usize, f64> = floor.cpu_per_op.iter().copied().collect();
        for contender in &contenders {
            let name = contender.name();
            let Some(record) = records.get_mut(&(workload, name)) else {
                continue;
            };
            let mut ratios: Vec<f64> = record
                .per_op
                .iter()
                .map(|(round, per_op)| per_op / floor_per_op[round])
                .collect();
            let min = ratios.iter().copied().fold(f64::INFINITY, f64::min);
            let max = ratios.iter().copied().fold(0.0, f64::max);
            let ratio = median(&mut ratios);
            let mut cpu_ratios: Vec<f64> = record
                .cpu_per_op
                .iter()
                .map(|(round, per_op)| per_op / floor_cpu_per_op[round])
                .collect();
            let cpu_ratio = median(&mut cpu_ratios);
            let rate = record.ops as f64 / record.seconds;
            let bulk_keys = contender.bulk_limit().unwrap_or(settings.bulk_keys);
            let implementation = if workload == Workload::Bulk && bulk_keys < settings.bulk_keys {
                format!("{name} (first {} keys)", count_label(bulk_keys))
            } else {
                name.to_string()
            };
            let (p50, p99) = if workload == Workload::Bulk {
                let mut totals: Vec<f64> = record
                    .per_op
                    .iter()
                    .map(|(_, per_op)| per_op * bulk_keys as f64 * 1e9)
                    .collect();
                (
                    format!("total {}", duration_label(median(&mut totals))),
                    "-".into(),
                )
            } else {
                record.latencies_ns.sort_unstable();
                (
                    duration_label(percentile(&record.latencies_ns, 50)),
                    duration_label(percentile(&record.latencies_ns, 99)),
                )
            };
            rows.push(Row {
                workload: workload.label(&settings),
                implementation,
                rate: if workload == Workload::Bulk {
                    format!("{} keys/s", thousands(rate))
                } else {
                    thousands(rate)
                },
                p50,
                p99,
                ratio: format!("{ratio:.2}"),
                range: format!("{min:.2}–{max:.2}"),
                cpu_ratio: format!("{cpu_ratio:.2}"),
                cpu_share: format!("{:.0}%", 100.0 * record.cpu_seconds / record.seconds),
                rounds: record.per_op.len().to_string(),
            });
        }
    }

    println!();
    println!(
        "memcache-sync compare: {} rounds{}",
        settings.rounds,
        if settings.quick {
            " (COMPARE_QUICK)"
        } else {
            ""
        }
    );
    println!(
        "date:       {}",
        command_output("date", &["-u", "+%Y-%m-%d %H:%M:%S UTC"])
    );
    println!("machine:    {}", machine());
    let source_now = source_state();
    if source_now == source {
        println!("source:     {source}");
    } else {
        println!("source:     {source} at start; {source_now} at the end (changed during the run; the binary was built before it started)");
    }
    println!("memcached:  {version} (-m 1024 -o hashpower=20, {memcached_placement})");
    println!("placement:  {}", settings.placement_note);
    println!(
        "load avg:   {load_at_start} at start, {} at end; run took {:.0} s",
        loadavg(),
        started.elapsed().as_secs_f64()
    );
    println!(
        "per round:  {} ops per sequential workload and {} get_many calls per implementation, in {} interleaved slices; \
         bulk {} keys (memcache: the first {} keys, one set per key; per-key ratio); 32-byte keys, 100-byte values",
        settings.seq_ops,
        settings.many_ops,
        settings.slices,
        settings.bulk_keys,
        settings.classic_bulk_keys.min(settings.bulk_keys),
    );
    println!(
        "            memcache runs 1/8 of the sequential ops and 1/20 of the get_many calls (ratios are per op)"
    );
    println!(
        "floor:      std TcpStream, one write per request; bulk in ~{} KiB windows, 2 in flight. MetaClient bulk: run_many chunks of {}",
        settings.floor_window / 1024,
        settings.meta_chunk
    );
    println!(
        "× floor:    median over rounds of (wall time per op / the floor's in the same round); 1.00 = as fast as the floor, \
         higher is slower; min–max: the per-round ratios' range"
    );
    println!(
        "CPU × floor: the same with CPU time run by the bench and memcached (schedstat), which time taken by other \
         processes does not inflate; CPU/wall: that CPU time's share of the wall time"
    );
    println!();
    print_tables(&rows);
    println!();
    println!("rerun: {}", rerun_command());
    drop(server);
}
