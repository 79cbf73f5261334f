//! Unix domain socket cost, on a private `memcached -s PATH`: `get` and `set` of 100 B
//! through a `Client` over the socket against a raw `UnixStream` floor (one write per request,
//! a reused buffer, no parsing beyond finding the reply's end, and the same non-blocking peek
//! before each request that the client makes). Rounds interleave the two, and each ratio is
//! the median of per-round ratios, so a machine that slows down mid-run slows both sides.
//!
//! Run it pinned to one CPU, as the compare bench pins itself (memcached, started by the
//! bench, inherits the affinity), so cross-CPU wake-ups do not swamp the client's own cost:
//!
//! ```text
//! taskset -c 0 cargo bench --bench unix          # ~15 s
//! UNIX_BENCH_QUICK=1 taskset -c 0 cargo bench --bench unix
//! ```

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use memcache_sync::{Client, Expiry};

const VALUE_LEN: usize = 100;

/// memcached on a Unix socket only, killed on drop.
struct Server {
    child: Child,
    dir: PathBuf,
}

impl Server {
    fn socket(&self) -> PathBuf {
        self.dir.join("memcached.sock")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start() -> Server {
    let dir = std::env::temp_dir().join(format!("memcache-sync-bench-unix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("memcached.sock");
    let mut command = Command::new("memcached");
    command
        .arg("-s")
        .arg(&socket)
        .args(["-a", "0700", "-m", "64"]);
    // memcached refuses to run as root without being told which user to be.
    if is_root() {
        command.args(["-u", "root"]);
    }
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("memcached on PATH (scripts/test installs it)");
    let server = Server { child, dir };
    let deadline = Instant::now() + Duration::from_secs(5);
    while UnixStream::connect(server.socket()).is_err() {
        assert!(
            Instant::now() < deadline,
            "memcached did not open its socket"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    server
}

/// Whether this process runs as root, read from /proc (no libc call needed).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find(|line| line.starts_with("Uid:"))
            .and_then(|line| line.split_whitespace().nth(1).map(|uid| uid == "0"))
            .unwrap_or(false)
    })
}

/// The floor: a raw `UnixStream`, a peek before each request, one write, reads to the end.
struct Floor {
    stream: UnixStream,
    request: Vec<u8>,
    buf: Vec<u8>,
}

impl Floor {
    fn peek(&self) {
        let mut probe = [std::mem::MaybeUninit::<u8>::uninit()];
        let quiet = socket2::SockRef::from(&self.stream)
            .recv_with_flags(&mut probe, libc::MSG_PEEK | libc::MSG_DONTWAIT);
        assert!(matches!(&quiet, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock));
    }

    fn exchange(&mut self, end: &[u8]) -> usize {
        self.peek();
        self.stream.write_all(&self.request).unwrap();
        let mut len = 0;
        loop {
            let n = self.stream.read(&mut self.buf[len..]).unwrap();
            assert!(n > 0, "memcached closed the floor's connection");
            len += n;
            if self.buf[..len].ends_with(end) {
                return len;
            }
        }
    }

    fn get(&mut self, key: &str) -> usize {
        self.request.clear();
        self.request.extend_from_slice(b"get ");
        self.request.extend_from_slice(key.as_bytes());
        self.request.extend_from_slice(b"\r\n");
        self.exchange(b"END\r\n")
    }

    fn set(&mut self, key: &str, value: &[u8]) {
        self.request.clear();
        self.request.extend_from_slice(b"set ");
        self.request.extend_from_slice(key.as_bytes());
        self.request
            .extend_from_slice(format!(" 0 0 {}\r\n", value.len()).as_bytes());
        self.request.extend_from_slice(value);
        self.request.extend_from_slice(b"\r\n");
        assert_eq!(self.exchange(b"\r\n"), b"STORED\r\n".len());
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    // `cargo test --all-targets` runs benches without `--bench`: measure nothing then.
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("unix bench: run with `cargo bench --bench unix`");
        return;
    }
    let quick = std::env::var("UNIX_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
    let (rounds, ops) = if quick { (3, 5_000) } else { (7, 40_000) };
    let server = start();
    let socket = server.socket();
    let mut client = Client::connect(socket.to_str().unwrap()).expect("client connects");
    let mut floor = Floor {
        stream: UnixStream::connect(&socket).unwrap(),
        request: Vec::with_capacity(4096),
        buf: vec![0; 64 * 1024],
    };
    let value = vec![b'v'; VALUE_LEN];
    let keys: Vec<String> = (0..1000).map(|i| format!("bench:unix:{i:024}")).collect();
    for key in &keys {
        client.set(key, &value, Expiry::Never).unwrap();
    }

    let mut get_ratios = Vec::new();
    let mut set_ratios = Vec::new();
    let mut timings = [[Duration::ZERO; 2]; 2];
    let time = |f: &mut dyn FnMut(usize)| {
        let started = Instant::now();
        for i in 0..ops {
            f(i);
        }
        started.elapsed()
    };
    for round in 0..rounds {
        // [floor, client] for get, then for set; who goes first alternates per round, so
        // neither side always runs second.
        let mut measured = [[Duration::ZERO; 2]; 2];
        for turn in 0..2 {
            let side = (turn + round) % 2;
            if side == 0 {
                measured[0][0] = time(&mut |i| {
                    floor.get(&keys[i % keys.len()]);
                });
                measured[1][0] = time(&mut |i| floor.set(&keys[i % keys.len()], &value));
            } else {
                measured[0][1] = time(&mut |i| {
                    assert!(client.get(&keys[i % keys.len()]).unwrap().is_some());
                });
                measured[1][1] = time(&mut |i| {
                    client
                        .set(&keys[i % keys.len()], &value, Expiry::Never)
                        .unwrap();
                });
            }
        }
        let ratio = |pair: [Duration; 2]| pair[1].as_secs_f64() / pair[0].as_secs_f64();
        get_ratios.push(ratio(measured[0]));
        set_ratios.push(ratio(measured[1]));
        for (total, this) in timings.iter_mut().zip(measured) {
            total[0] += this[0];
            total[1] += this[1];
        }
    }
    let per_op = |total: Duration| total / (rounds * ops) as u32;
    println!("memcache-sync over a Unix socket: {rounds} rounds of {ops} ops, 100-byte values");
    println!("| workload | floor per op | memcache-sync per op | × floor (median) | min–max |");
    println!("|---|--:|--:|--:|--:|");
    for (name, ratios, t) in [
        ("get (hit)", &get_ratios, timings[0]),
        ("set", &set_ratios, timings[1]),
    ] {
        let min = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let max = ratios.iter().copied().fold(0.0, f64::max);
        println!(
            "| {name} | {:?} | {:?} | {:.2} | {min:.2}–{max:.2} |",
            per_op(t[0]),
            per_op(t[1]),
            median(ratios.clone())
        );
    }
}
