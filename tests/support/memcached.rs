//! Real memcached processes for integration tests (on TCP or on a Unix domain
//! socket, with or without an ASCII authentication file), plus raw-socket helpers
//! that check the server's state without going through the client under test.

use std::collections::HashMap;
use std::env;
use std::fs::{self, File};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{self, Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a start, restart, stop or raw exchange may take before the test fails.
const WAIT_LIMIT: Duration = Duration::from_secs(5);
const POLL_INTERVAL: Duration = Duration::from_millis(10);

const NOT_FOUND: &str = "memcached was not found on PATH. Install it with \
\"sudo apt-get install -y memcached\" (Debian/Ubuntu) or run scripts/test, which installs it. \
To use a running server instead, set MEMCACHED_ADDR=host:port (tests that kill or freeze \
the server still need a local memcached binary).";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Distinguishes names across parallel tests and concurrently running test binaries.
fn unique_suffix() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}-{}-{}", process::id(), n, nanos)
}

/// A private memcached process, killed when dropped.
pub struct Memcached {
    /// `None` once the process has been killed and reaped.
    child: Option<Child>,
    pid: u32,
    port: u16,
    extra_args: Vec<String>,
    /// Holds the port file (or the socket), memcached's captured stderr and any
    /// authentication file.
    dir: PathBuf,
    frozen: bool,
    /// Listens on `dir/memcached.sock` (`-s`) instead of a loopback port.
    unix: bool,
    /// Speaks TLS only (`-Z`), so readiness is the port file alone: a plain `version`
    /// would fail its handshake.
    tls: bool,
}

impl Memcached {
    /// A private memcached on a free loopback port with default settings.
    pub fn start() -> Memcached {
        Memcached::start_with(&[])
    }

    /// Same, with extra command-line arguments, e.g. `&["-m", "1", "-M"]`.
    pub fn start_with(extra_args: &[&str]) -> Memcached {
        Memcached::launch(extra_args, false, None)
    }

    /// A private memcached listening only on a Unix domain socket in its own
    /// directory (`-s PATH -a 0700`: only its owner may connect); `addr()` is the
    /// socket's path.
    pub fn start_unix() -> Memcached {
        Memcached::start_unix_with(&[])
    }

    /// Same, with extra command-line arguments.
    pub fn start_unix_with(extra_args: &[&str]) -> Memcached {
        Memcached::launch(extra_args, true, None)
    }

    /// A private memcached on a loopback port that requires ASCII authentication
    /// (`-Y FILE`), `auth_file` being the file's exact bytes: `user:password` lines.
    pub fn start_with_auth_file(auth_file: &str, extra_args: &[&str]) -> Memcached {
        Memcached::launch(extra_args, false, Some(auth_file))
    }

    /// Same, on a Unix domain socket.
    pub fn start_unix_with_auth_file(auth_file: &str, extra_args: &[&str]) -> Memcached {
        Memcached::launch(extra_args, true, Some(auth_file))
    }

    /// A private memcached on a loopback port that speaks only TLS: `-Z` with
    /// `extra_args`, which must name its certificate and key (`-o ssl_chain_cert=…,…`).
    pub fn start_tls(extra_args: &[&str]) -> Memcached {
        let mut args = vec!["-Z"];
        args.extend_from_slice(extra_args);
        let mut server = Memcached::prepare(&args, false, None);
        server.tls = true;
        server.first_spawn()
    }

    fn launch(extra_args: &[&str], unix: bool, auth_file: Option<&str>) -> Memcached {
        Memcached::prepare(extra_args, unix, auth_file).first_spawn()
    }

    fn first_spawn(mut self) -> Memcached {
        // -1 asks the kernel for a free port, which memcached then reports in the port file.
        if let Err(e) = self.spawn("-1") {
            panic!("{e}");
        }
        self
    }

    fn prepare(extra_args: &[&str], unix: bool, auth_file: Option<&str>) -> Memcached {
        let dir = env::temp_dir().join(format!("memcache-sync-test-{}", unique_suffix()));
        if let Err(e) = fs::create_dir(&dir) {
            panic!("cannot create temp dir {}: {e}", dir.display());
        }
        let mut args: Vec<String> = Vec::new();
        if let Some(contents) = auth_file {
            let path = dir.join("auth");
            if let Err(e) = fs::write(&path, contents) {
                panic!("cannot write {}: {e}", path.display());
            }
            args.extend(["-Y".to_string(), path.display().to_string()]);
        }
        args.extend(extra_args.iter().map(|s| s.to_string()));
        // Built before spawning so that Drop cleans up if start panics.
        Memcached {
            child: None,
            pid: 0,
            port: 0,
            extra_args: args,
            dir,
            frozen: false,
            unix,
            tls: false,
        }
    }

    /// The socket's path for a server started with `start_unix*`.
    pub fn socket_path(&self) -> PathBuf {
        self.dir.join("memcached.sock")
    }

    /// The directory that holds the socket, the stderr capture and the auth file.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `"127.0.0.1:PORT"`, or the socket's path for a Unix socket server.
    pub fn addr(&self) -> String {
        if self.unix {
            self.socket_path().display().to_string()
        } else {
            format!("127.0.0.1:{}", self.port)
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The pid of the current (or, after `kill`, the last) process.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Stops the process with SIGSTOP: connections are still accepted by the
    /// kernel but nothing is answered. Returns once the whole process has stopped.
    pub fn freeze(&mut self) {
        if self.frozen {
            return;
        }
        self.signal(libc::SIGSTOP);
        self.frozen = true;
        // kill() only queues the signal; waitpid reports once every thread has
        // stopped, so a request sent after freeze() cannot slip through.
        let pid = self.pid as libc::pid_t;
        let deadline = Instant::now() + WAIT_LIMIT;
        loop {
            let mut status = 0;
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WUNTRACED | libc::WNOHANG) };
            if r == pid && libc::WIFSTOPPED(status) {
                return;
            }
            if r == pid {
                // waitpid reaped it, so the Child must not be waited on or signalled again.
                self.child = None;
                panic!("memcached (pid {pid}) exited while being frozen: status {status}");
            }
            if r == -1 || Instant::now() >= deadline {
                panic!("memcached (pid {pid}) did not stop within {WAIT_LIMIT:?} after SIGSTOP");
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// Resumes a frozen process with SIGCONT; requests sent meanwhile are then answered.
    pub fn thaw(&mut self) {
        if self.frozen {
            self.signal(libc::SIGCONT);
            self.frozen = false;
        }
    }

    /// SIGKILL, then waits until the process is reaped (so its port is closed).
    pub fn kill(&mut self) {
        if let Err(e) = self.stop() {
            panic!("{e}");
        }
    }

    /// Starts memcached again on the same port with the same arguments and
    /// waits until it answers. Data from before is gone.
    pub fn restart(&mut self) {
        if let Err(e) = self.stop() {
            panic!("{e}");
        }
        let port = self.port.to_string();
        // The freed port can be briefly held by someone else, e.g. picked as the
        // ephemeral source port of another test's outgoing connection.
        let deadline = Instant::now() + WAIT_LIMIT;
        loop {
            match self.spawn(&port) {
                Ok(()) => return,
                Err(e) if Instant::now() >= deadline => panic!("restart failed: {e}"),
                Err(_) => thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    fn signal(&self, signal: libc::c_int) {
        assert!(
            self.child.is_some(),
            "memcached (pid {}) is not running",
            self.pid
        );
        if unsafe { libc::kill(self.pid as libc::pid_t, signal) } != 0 {
            panic!(
                "kill({}, {signal}) failed: {}",
                self.pid,
                std::io::Error::last_os_error()
            );
        }
    }

    fn port_file(&self) -> PathBuf {
        self.dir.join("port")
    }

    fn stderr_file(&self) -> PathBuf {
        self.dir.join("stderr")
    }

    fn stderr_text(&self) -> String {
        let text = fs::read_to_string(self.stderr_file()).unwrap_or_default();
        if text.trim().is_empty() {
            "(memcached's stderr was empty)".to_string()
        } else {
            format!("memcached's stderr:\n{}", text.trim_end())
        }
    }

    /// Spawns memcached with `-p port_arg` and waits until it answers `version`.
    fn spawn(&mut self, port_arg: &str) -> Result<(), String> {
        let port_file = self.port_file();
        // A stale port file from a previous run would make us think it is ready.
        let _ = fs::remove_file(&port_file);
        let stderr = File::create(self.stderr_file())
            .map_err(|e| format!("cannot create {}: {e}", self.stderr_file().display()))?;

        let mut args: Vec<String> = if self.unix {
            let socket = self.socket_path().display().to_string();
            vec!["-s".into(), socket, "-a".into(), "0700".into()]
        } else {
            ["-p", port_arg, "-U", "0", "-l", "127.0.0.1"]
                .iter()
                .map(|s| s.to_string())
                .collect()
        };
        // memcached refuses to run as root without being told which user to be.
        if unsafe { libc::geteuid() } == 0 {
            args.extend(["-u".to_string(), "root".to_string()]);
        }
        args.extend(self.extra_args.iter().cloned());
        let command_line = format!("memcached {}", args.join(" "));

        let child = Command::new("memcached")
            .args(&args)
            .env("MEMCACHED_PORT_FILENAME", &port_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(e) if e.kind() == ErrorKind::NotFound => panic!("{NOT_FOUND}"),
            Err(e) => return Err(format!("cannot run `{command_line}`: {e}")),
        };
        self.pid = child.id();
        self.child = Some(child);

        let failure = |server: &mut Memcached, what: String| {
            let _ = server.stop();
            Err(format!("`{command_line}` {what}; {}", server.stderr_text()))
        };

        let deadline = Instant::now() + WAIT_LIMIT;
        let port = loop {
            // memcached writes the file under another name and renames it,
            // so a file that exists is complete. With -s it writes none: the
            // socket answering is the sign.
            if self.unix {
                if UnixStream::connect(self.socket_path()).is_ok() {
                    break 0;
                }
            } else if let Some(port) = read_port(&port_file) {
                break port;
            }
            match self.child.as_mut().map(|c| c.try_wait()) {
                Some(Ok(Some(status))) => {
                    self.child = None;
                    return failure(self, format!("exited with {status} before listening"));
                }
                Some(Err(e)) => return failure(self, format!("could not be waited on: {e}")),
                _ => {}
            }
            if Instant::now() >= deadline {
                return failure(
                    self,
                    format!("did not report its port within {WAIT_LIMIT:?}"),
                );
            }
            thread::sleep(POLL_INTERVAL);
        };
        if self.port != 0 && port != self.port {
            return failure(self, format!("listens on {port}, expected {}", self.port));
        }
        self.port = port;
        if self.tls {
            return Ok(());
        }

        let left = deadline.saturating_duration_since(Instant::now()) + Duration::from_secs(1);
        match try_exchange(&self.addr(), b"version\r\n", b"\r\n", left) {
            Ok(reply) if reply.starts_with(b"VERSION ") => Ok(()),
            // What a server started with -Y answers before authentication.
            Ok(reply) if reply == b"CLIENT_ERROR unauthenticated\r\n" => Ok(()),
            Ok(reply) => failure(self, format!("answered version with {}", preview(&reply))),
            Err(e) => failure(self, format!("did not answer version: {e}")),
        }
    }

    /// Kills and reaps the process, if any; used by kill, restart and Drop.
    fn stop(&mut self) -> Result<(), String> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        // SIGKILL ends a stopped process too, so a frozen server is killed as it is: a
        // SIGCONT first would let it answer what was queued for it in the gap.
        let _ = child.kill();
        self.frozen = false;
        let deadline = Instant::now() + WAIT_LIMIT;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => return Ok(()),
                Ok(None) if Instant::now() < deadline => thread::sleep(POLL_INTERVAL),
                Ok(None) => {
                    return Err(format!(
                        "memcached (pid {}) survived SIGKILL for {WAIT_LIMIT:?}",
                        self.pid
                    ))
                }
                Err(e) => return Err(format!("cannot reap memcached (pid {}): {e}", self.pid)),
            }
        }
    }
}

impl Drop for Memcached {
    fn drop(&mut self) {
        let _ = self.stop();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Parses the `TCP INET: PORT` line memcached writes once bound.
fn read_port(path: &Path) -> Option<u16> {
    let text = fs::read_to_string(path).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("TCP INET: "))
        .and_then(|port| port.trim().parse().ok())
}

/// The server for tests that do not kill, freeze or flush it and do not assert
/// server-wide counters.
pub enum TestServer {
    External(String),
    Private(Memcached),
}

impl TestServer {
    pub fn addr(&self) -> String {
        match self {
            TestServer::External(addr) => addr.clone(),
            TestServer::Private(server) => server.addr(),
        }
    }
}

/// The server at `MEMCACHED_ADDR` when that variable is set, else a private one.
pub fn shared_server() -> TestServer {
    match env::var("MEMCACHED_ADDR") {
        Ok(addr) if !addr.trim().is_empty() => TestServer::External(addr.trim().to_string()),
        _ => TestServer::Private(Memcached::start()),
    }
}

/// A key no other test or process uses: `prefix` + pid + counter + time.
pub fn unique_key(prefix: &str) -> Vec<u8> {
    assert!(
        prefix.len() <= 150 && prefix.bytes().all(|b| b.is_ascii_graphic()),
        "key prefix must be short printable ASCII without spaces: {prefix:?}"
    );
    format!("{prefix}{}", unique_suffix()).into_bytes()
}

/// `stats` read over a plain socket, independent of the client under test.
pub fn raw_stats(addr: &str) -> HashMap<String, String> {
    let reply = raw_exchange(addr, b"stats\r\n", b"END\r\n");
    let text = String::from_utf8_lossy(&reply);
    let mut stats = HashMap::new();
    for line in text.split("\r\n") {
        if line == "END" {
            break;
        }
        let parsed = line
            .strip_prefix("STAT ")
            .and_then(|rest| rest.split_once(' '));
        match parsed {
            Some((name, value)) => stats.insert(name.to_string(), value.to_string()),
            None => panic!("unexpected line {line:?} in stats from {addr}"),
        };
    }
    stats
}

/// Waits until the server at `addr` has carried out at least `count` sets: a batch sent to it
/// is under way, with replies confirmed.
pub fn wait_for_sets(addr: &str, count: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let sets = || {
        raw_stats(addr)["cmd_set"]
            .parse::<u64>()
            .expect("cmd_set is a number")
    };
    while sets() < count {
        assert!(Instant::now() < deadline, "the batch did not get going");
        thread::sleep(Duration::from_millis(5));
    }
}

/// Sends `request` on a fresh connection (TCP, or a Unix socket for a path) and reads until the reply ends with
/// `until`; returns everything read. Panics on close, error or a 5 s timeout.
/// `until` is matched only at the end of what has arrived, so a value that
/// itself contains `until` can end the read early.
pub fn raw_exchange(addr: &str, request: &[u8], until: &[u8]) -> Vec<u8> {
    match try_exchange(addr, request, until, WAIT_LIMIT) {
        Ok(reply) => reply,
        Err(e) => panic!("raw exchange with {addr} failed: {e}"),
    }
}

fn try_exchange(
    addr: &str,
    request: &[u8],
    until: &[u8],
    limit: Duration,
) -> Result<Vec<u8>, String> {
    let deadline = Instant::now() + limit;
    let mut stream = connect(addr, limit)?;
    stream
        .set_write_timeout(Some(limit))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(request)
        .map_err(|e| format!("sending {}: {e}", preview(request)))?;

    let mut reply = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    while !reply.ends_with(until) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "no reply ending in {} within {limit:?}; got {}",
                preview(until),
                preview(&reply)
            ));
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(|e| e.to_string())?;
        match stream.read(&mut chunk) {
            Ok(0) => return Err(format!("connection closed; got {}", preview(&reply))),
            Ok(n) => reply.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => return Err(format!("reading: {e}; got {}", preview(&reply))),
        }
    }
    Ok(reply)
}

/// A raw connection to a test server, over TCP or a Unix domain socket.
pub enum RawStream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl RawStream {
    /// Connects to `addr`: a path (`/…` or `unix:…`) is a Unix domain socket.
    pub fn connect(addr: &str, limit: Duration) -> Result<RawStream, String> {
        connect(addr, limit)
    }

    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        match self {
            RawStream::Tcp(s) => s.set_read_timeout(timeout),
            RawStream::Unix(s) => s.set_read_timeout(timeout),
        }
    }

    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        match self {
            RawStream::Tcp(s) => s.set_write_timeout(timeout),
            RawStream::Unix(s) => s.set_write_timeout(timeout),
        }
    }
}

impl Read for RawStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            RawStream::Tcp(s) => s.read(buf),
            RawStream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for RawStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            RawStream::Tcp(s) => s.write(buf),
            RawStream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn connect(addr: &str, limit: Duration) -> Result<RawStream, String> {
    let path = addr.strip_prefix("unix:").unwrap_or(addr);
    if path.starts_with('/') {
        return UnixStream::connect(path)
            .map(RawStream::Unix)
            .map_err(|e| format!("cannot connect to {path}: {e}"));
    }
    connect_tcp(addr, limit).map(RawStream::Tcp)
}

fn connect_tcp(addr: &str, limit: Duration) -> Result<TcpStream, String> {
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {addr:?}: {e}"))?
        .collect();
    let mut last_error = format!("{addr:?} resolved to no address");
    for socket_addr in addrs {
        match TcpStream::connect_timeout(&socket_addr, limit) {
            Ok(stream) => return Ok(stream),
            Err(e) => last_error = format!("cannot connect to {socket_addr}: {e}"),
        }
    }
    Err(last_error)
}

/// Bytes as escaped ASCII, cut short so panic messages stay readable.
fn preview(bytes: &[u8]) -> String {
    const MAX: usize = 300;
    let shown = bytes[..bytes.len().min(MAX)].escape_ascii().to_string();
    if bytes.len() > MAX {
        format!("\"{shown}\"... ({} bytes)", bytes.len())
    } else {
        format!("\"{shown}\"")
    }
}
