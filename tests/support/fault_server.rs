//! A scripted, in-process fault server: a loopback TCP listener whose connections each follow
//! a [`Fault`] chosen by the test, so that every way a server can misbehave is reproducible.
//!
//! - Connection `i` (counting from 0, in accept order; the eager connect of
//!   `Client::connect_with` is connection 0) follows `faults[i]`; the last fault repeats for
//!   every later connection. `vec![Fault::Silent, Fault::Healthy]`: connection 0 is silent,
//!   every later one healthy.
//! - A fault acts on the **first request** of its connection; the connection-level faults
//!   (`NoRead`, `CloseOnAccept`, `CloseUnread`, `ResetOnAccept`, `ResetWhileIdle`,
//!   `ResetMidRequest`, `Greeting`, `GreetingThenClose`) act before or instead of reading one.
//!   Later requests on a connection that is still open are answered by the healthy emulation,
//!   so a test can tell a kept connection from a new one. [`Fault::After`] delays a fault to a
//!   later request.
//! - [`Fault::Healthy`] is a minimal memcached emulation (`get`, `gets`, `set`, `add`,
//!   `replace`, `delete`, `touch`, `version`, `flush_all`, `quit`) over a map shared by all
//!   connections. It exists to prove recovery, not to test commands: those run against real
//!   memcached.
//! - The server reads each whole request (its command line and, for storage commands, its data
//!   block) before answering, and records what every connection received.
//! - Everything is bounded: loopback only, at most `MAX_CONNECTIONS` connections of at most
//!   `MAX_REQUESTS` requests each, `LIFETIME` of activity, every wait polled in slices of a
//!   few milliseconds, every buffer capped. Dropping the server stops and joins all of its
//!   threads.
//!
//! - Meta requests (`mg`, `ms`, `md`, `ma`, `mn`) get meta answers: the healthy emulation
//!   answers them over the same map (`meta.rs`), and every request fault that memcached's
//!   framing allows acts on them in meta framing: the `Close*` faults cut into a
//!   `VA <len> … O<opaque>` frame of the key's value (a `CloseBeforeEnd` sends the whole frame,
//!   meta having no `END`), [`Fault::HugeValueHeader`] claims 4 GiB in a `VA` line, the `Data*`
//!   faults break a `VA` frame's data block, [`Fault::OtherKey`] echoes a key the request did
//!   not ask back. The `Meta*` faults exist only in meta framing; a text request meets them
//!   as [`Fault::Healthy`].
//!
//! [`FaultServer::hang_connects`] makes connects hang (the listen queue is shrunk to one entry
//! and filled with connections nobody accepts, so Linux drops further SYNs) until
//! [`FaultServer::release_connects`].

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockRef, Socket, Type};

mod client;
mod meta;

pub use client::faulty_client;

/// How long a server keeps accepting and answering, at most.
const LIFETIME: Duration = Duration::from_secs(60);
/// How many connections a server accepts, at most.
const MAX_CONNECTIONS: usize = 256;
/// The polling slice of every wait: accept, read, sleep.
const POLL: Duration = Duration::from_millis(5);
/// The longest command line the server reads.
const MAX_REQUEST_LINE: usize = 4096;
/// The most requests one connection serves.
const MAX_REQUESTS: usize = 10_000;
/// The largest data block the server reads.
const MAX_DATA_BLOCK: usize = 64 * 1024 * 1024;
/// How much of what a connection received is kept for [`FaultServer::received`].
const MAX_LOGGED: usize = 1024 * 1024;
/// How long one reply write may block (the client may have stopped reading).
const WRITE_LIMIT: Duration = Duration::from_secs(1);
/// The most bytes [`Fault::EndlessLine`] sends.
const ENDLESS_LIMIT: usize = 8 * 1024 * 1024;
/// The listen backlog outside of [`FaultServer::hang_connects`].
const BACKLOG: i32 = 128;

/// The value the `Close*` faults cut into when the key asked for is not stored.
const FALLBACK_VALUE: &[u8] = b"abcdefgh";

/// What one connection does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// A correct (minimal) memcached.
    Healthy,
    /// Reads requests (and records them) but never answers.
    Silent,
    /// Accepts and never reads: a large request fills the socket buffers and the write stalls.
    NoRead,
    /// Answers correctly after this delay.
    Delay(Duration),
    /// Sends the correct answer one byte at a time, waiting this long before each byte.
    Trickle(Duration),
    /// Closes cleanly (FIN) as soon as the request has been read.
    CloseAfterRequest,
    /// Sends half of a `VALUE` header line (no line end), then closes.
    CloseMidLine,
    /// Sends a complete `VALUE` header line, then closes.
    CloseAfterValueHeader,
    /// Sends the `VALUE` header and half of the data block, then closes.
    CloseInsideData,
    /// Sends the `VALUE` header and the whole data block but not its `\r\n`, then closes.
    CloseBeforeDataTerminator,
    /// Sends a whole `VALUE` frame but no `END`, then closes.
    CloseBeforeEnd,
    /// Resets the connection (SO_LINGER 0, then close: an RST) once the request was read.
    Reset,
    /// Resets the connection as soon as the first bytes of the request arrive, while a large
    /// request is still being sent.
    ResetMidRequest,
    /// Resets the connection right after accepting it, before any request. The RST can
    /// race the client's connect: `connect` itself may then report the reset.
    ResetOnAccept,
    /// Accepts, waits this long without reading, then resets: a connection reset while idle.
    ResetWhileIdle(Duration),
    /// Closes the connection right after accepting it, before any request.
    CloseOnAccept,
    /// Waits until the request starts to arrive, then closes without reading it: with unread
    /// bytes in its receive buffer, the kernel answers the close with an RST, not a FIN (as
    /// when memcached dies with a request in its buffer).
    CloseUnread,
    /// Writes these bytes as soon as the connection is accepted, then behaves healthily.
    Greeting(Vec<u8>),
    /// Writes these bytes as soon as the connection is accepted, then closes (memcached's
    /// `ERROR Too many open connections`).
    GreetingThenClose(Vec<u8>),
    /// Answers with these exact bytes, then serves later requests healthily.
    Reply(Vec<u8>),
    /// Answers with a line that is no memcached reply.
    Garbage,
    /// Answers `VALUE <key> 0 4294967295` (a 4 GiB claim), then nothing.
    HugeValueHeader,
    /// A `VALUE` whose data block is longer than its header says.
    DataLonger,
    /// A `VALUE` whose data block is one byte shorter than its header says (followed by
    /// `\r\nEND\r\n`, so that enough bytes arrive for the client to see the mismatch).
    DataShorter,
    /// A `VALUE` whose data block is followed by other bytes instead of `\r\n`.
    DataUnterminated,
    /// A reply line that never ends: bytes without `\r\n`, sent in chunks until the client
    /// goes away (at most 8 MiB).
    EndlessLine,
    /// Answers a retrieval with the item stored under this other key.
    OtherKey(Vec<u8>),
    /// Answers a `get` or `gets` correctly but with its values in the reverse of the order
    /// asked, as a proxy merging several servers' replies may.
    Reversed,
    /// The correct answer, twice, in one write.
    TwoReplies,
    /// The correct answer followed, in the same write, by these bytes.
    Unsolicited(Vec<u8>),
    /// The correct answer; after `delay`, these unasked-for bytes; then healthy service.
    UnsolicitedLater {
        /// How long after the answer the bytes are sent.
        delay: Duration,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// `SERVER_ERROR <message>`
    ServerError(String),
    /// `CLIENT_ERROR <message>`
    ClientError(String),
    /// `ERROR`
    Error,
    /// Healthy for this many requests, then the fault (request faults only).
    After(usize, Box<Fault>),
    /// The fault on every request of the connection, not only the first (request faults
    /// only): `Every(Box::new(Fault::Delay(d)))` answers each request `d` after reading it.
    Every(Box<Fault>),

    // ---- meta framing only: a text request meets these as `Healthy` -------------------------
    /// Answers with a reply line of this return code (say `EN`, `NS`, `HD`), echoing the
    /// request's opaque token and (if asked) key as memcached does, without a value, and
    /// without touching the map.
    MetaCode(String),
    /// Answers with a line whose return code memcached has never sent (`XZ`), echoing the
    /// opaque token.
    MetaUnknownCode,
    /// The correct answer with another opaque token than the request's: a reply to some
    /// other request.
    MetaWrongOpaque,
    /// The correct answer with no opaque token.
    MetaMissingOpaque,
    /// Answers the first request correctly, then answers the connection's next request with
    /// that first answer again (its old opaque token) before its own, in one write: a stale
    /// second reply that arrives after the client sent the next request, where the check
    /// before each request cannot see it.
    MetaStaleSecondReply,
    /// `VA <length> O<opaque>` with this length token (say `4294967296`,
    /// `18446744073709551616`, `-1`), then nothing.
    MetaHostileLength(String),
}

impl Fault {
    /// Whether the fault exists only in meta framing.
    fn is_meta_only(&self) -> bool {
        matches!(
            self,
            Fault::MetaCode(_)
                | Fault::MetaUnknownCode
                | Fault::MetaWrongOpaque
                | Fault::MetaMissingOpaque
                | Fault::MetaStaleSecondReply
                | Fault::MetaHostileLength(_)
        )
    }

    /// The fault that acts on request number `index` (0-based) of its connection, if any.
    fn for_request(&self, index: usize) -> Option<&Fault> {
        match self {
            Fault::After(n, fault) if index == *n => Some(fault),
            Fault::After(..) => None,
            Fault::Every(fault) => Some(fault),
            fault if index == 0 => Some(fault),
            _ => None,
        }
    }
}

/// What one connection received.
#[derive(Debug, Clone, Default)]
pub struct ConnectionLog {
    /// Every byte received, up to 1 MiB.
    pub received: Vec<u8>,
    /// The command line of every complete request, without `\r\n`.
    pub requests: Vec<String>,
    /// Whether the server has closed (or reset) this connection.
    pub closed: bool,
    /// Whether [`Fault::UnsolicitedLater`]'s bytes have been written (so they are in the
    /// client's receive buffer, loopback delivering within the write).
    pub unsolicited_sent: bool,
}

#[derive(Debug, Clone)]
struct StoredItem {
    data: Vec<u8>,
    flags: u32,
    cas: u64,
}

#[derive(Default)]
struct State {
    logs: Vec<ConnectionLog>,
    items: HashMap<Vec<u8>, StoredItem>,
    next_cas: u64,
    handlers: Vec<JoinHandle<()>>,
}

struct Shared {
    faults: Vec<Fault>,
    stop: AtomicBool,
    paused: AtomicBool,
    /// Held by the acceptor around each accept attempt, so that pausing can wait for it.
    accept_lock: Mutex<()>,
    ends_at: Instant,
    state: Mutex<State>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn should_stop(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || Instant::now() >= self.ends_at
    }

    /// Sleeps `total` in slices, returning false if the server is stopping.
    fn sleep(&self, total: Duration) -> bool {
        let until = Instant::now() + total;
        loop {
            if self.should_stop() {
                return false;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            thread::sleep(left.min(POLL));
        }
    }
}

/// A scripted fault server on `127.0.0.1`; stops when dropped.
pub struct FaultServer {
    addr: SocketAddr,
    listener: Arc<Socket>,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
    fillers: Vec<Socket>,
}

impl FaultServer {
    /// Starts a server whose connection `i` follows `faults[i]` (the last one repeating).
    pub fn start(faults: Vec<Fault>) -> FaultServer {
        assert!(
            !faults.is_empty(),
            "a fault server needs at least one fault"
        );
        let listener = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))
            .expect("cannot create the fault server's socket");
        let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
        listener
            .bind(&loopback.into())
            .expect("cannot bind the fault server to 127.0.0.1");
        listener.listen(BACKLOG).expect("cannot listen");
        listener
            .set_nonblocking(true)
            .expect("cannot set nonblocking");
        let addr = listener
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .expect("the fault server has no address");
        let listener = Arc::new(listener);
        let shared = Arc::new(Shared {
            faults,
            stop: AtomicBool::new(false),
            paused: AtomicBool::new(false),
            accept_lock: Mutex::new(()),
            ends_at: Instant::now() + LIFETIME,
            state: Mutex::new(State {
                next_cas: 1,
                ..State::default()
            }),
        });
        let acceptor = {
            let listener = Arc::clone(&listener);
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("fault-server-accept".into())
                .spawn(move || accept_loop(&listener, &shared))
                .expect("cannot spawn the fault server")
        };
        FaultServer {
            addr,
            listener,
            shared,
            acceptor: Some(acceptor),
            fillers: Vec::new(),
        }
    }

    /// `"127.0.0.1:PORT"`.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// Stores an item in the healthy emulation's map, as a `set` would.
    pub fn insert(&self, key: &[u8], value: &[u8]) {
        let mut state = self.shared.state();
        let cas = state.next_cas;
        state.next_cas += 1;
        state.items.insert(
            key.to_vec(),
            StoredItem {
                data: value.to_vec(),
                flags: 0,
                cas,
            },
        );
    }

    /// The value stored under `key` in the healthy emulation's map.
    pub fn stored(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.shared.state().items.get(key).map(|i| i.data.clone())
    }

    /// How many connections have been accepted (not counting those swallowed by
    /// [`FaultServer::release_connects`]).
    pub fn connections(&self) -> usize {
        self.shared.state().logs.len()
    }

    /// What connection `index` received so far.
    pub fn log(&self, index: usize) -> ConnectionLog {
        self.shared
            .state()
            .logs
            .get(index)
            .cloned()
            .unwrap_or_default()
    }

    /// The command lines of every connection's requests, connection by connection.
    pub fn requests(&self) -> Vec<Vec<String>> {
        self.shared
            .state()
            .logs
            .iter()
            .map(|log| log.requests.clone())
            .collect()
    }

    /// Waits (up to 2 s) until `n` connections have been accepted; returns whether they were.
    pub fn wait_for_connections(&self, n: usize) -> bool {
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.connections() < n {
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(POLL);
        }
        true
    }

    /// Waits (up to 2 s) until the server has closed connection `index`; returns whether it
    /// did.
    pub fn wait_for_close(&self, index: usize) -> bool {
        let deadline = Instant::now() + Duration::from_secs(2);
        while !self.log(index).closed {
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(POLL);
        }
        true
    }

    /// Makes every further connect to this server hang: stops accepting, shrinks the listen
    /// queue to one entry and fills it with connections that are never accepted. Linux then
    /// drops further SYNs, so `connect` waits until its own timeout. Panics if the trick does
    /// not make a probe connect hang.
    pub fn hang_connects(&mut self) {
        self.shared.paused.store(true, Ordering::SeqCst);
        // Once we hold the lock, no accept is in progress, and none starts while paused.
        drop(
            self.shared
                .accept_lock
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        self.listener
            .listen(0)
            .expect("cannot shrink the listen queue");
        for _ in 0..16 {
            let filler = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))
                .expect("cannot create a filler socket");
            match filler.connect_timeout(&self.addr.into(), Duration::from_millis(100)) {
                Ok(()) => self.fillers.push(filler),
                Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
                    // The queue is full: this connect hung until its timeout.
                    return;
                }
                Err(e) => panic!("filler connect failed: {e}"),
            }
        }
        panic!(
            "16 connects to a listener with listen(0) that accepts nothing all succeeded: \
             this kernel does not drop SYNs when the accept queue is full"
        );
    }

    /// Undoes [`FaultServer::hang_connects`]: closes the fillers, restores the listen queue,
    /// discards the connections queued meanwhile and accepts again.
    pub fn release_connects(&mut self) {
        self.fillers.clear();
        self.listener
            .listen(BACKLOG)
            .expect("cannot restore the listen queue");
        {
            let _guard = self
                .shared
                .accept_lock
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            while let Ok((queued, _)) = self.listener.accept() {
                drop(queued);
            }
        }
        self.shared.paused.store(false, Ordering::SeqCst);
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.fillers.clear();
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        let handlers = std::mem::take(&mut self.shared.state().handlers);
        for handler in handlers {
            let _ = handler.join();
        }
    }
}

fn accept_loop(listener: &Socket, shared: &Arc<Shared>) {
    let mut accepted = 0;
    while !shared.should_stop() && accepted < MAX_CONNECTIONS {
        if shared.paused.load(Ordering::SeqCst) {
            thread::sleep(POLL);
            continue;
        }
        let attempt = {
            let _guard = shared.accept_lock.lock().unwrap_or_else(|e| e.into_inner());
            if shared.paused.load(Ordering::SeqCst) {
                continue;
            }
            listener.accept()
        };
        match attempt {
            Ok((socket, _)) => {
                accepted += 1;
                let stream: TcpStream = socket.into();
                let mut state = shared.state();
                let index = state.logs.len();
                state.logs.push(ConnectionLog::default());
                let fault = shared.faults[index.min(shared.faults.len() - 1)].clone();
                let handler_shared = Arc::clone(shared);
                let handler = thread::Builder::new()
                    .name(format!("fault-server-conn-{index}"))
                    .spawn(move || {
                        let mut connection = Conn {
                            stream,
                            index,
                            buf: Vec::new(),
                            shared: handler_shared,
                            stale: None,
                        };
                        connection.run(&fault);
                        let Conn {
                            stream,
                            index,
                            shared,
                            ..
                        } = connection;
                        drop(stream);
                        shared.state().logs[index].closed = true;
                    });
                match handler {
                    Ok(handler) => state.handlers.push(handler),
                    Err(e) => panic!("cannot spawn a fault server connection thread: {e}"),
                }
            }
            Err(_) => thread::sleep(POLL),
        }
    }
}

/// One complete request.
struct Request {
    line: Vec<u8>,
    data: Option<Vec<u8>>,
}

impl Request {
    fn tokens(&self) -> Vec<&[u8]> {
        self.line
            .split(|&b| b == b' ')
            .filter(|t| !t.is_empty())
            .collect()
    }

    /// Whether this is a meta request (`mg`, `ms`, `md`, `ma`, `mn`, `me`).
    fn is_meta(&self) -> bool {
        meta::is_meta(&self.tokens())
    }

    /// The first key of the request, if it names one.
    fn first_key(&self) -> Option<Vec<u8>> {
        let tokens = self.tokens();
        let index = match tokens.first().copied()? {
            b"gat" | b"gats" => 2,
            _ => 1,
        };
        tokens.get(index).map(|key| key.to_vec())
    }
}

/// What to do after a fault acted.
enum Next {
    Continue,
    /// Keep reading (and recording) requests but never answer again.
    Mute,
    Close,
}

struct Conn {
    stream: TcpStream,
    index: usize,
    buf: Vec<u8>,
    shared: Arc<Shared>,
    /// [`Fault::MetaStaleSecondReply`]'s first answer, sent again before the next one.
    stale: Option<Vec<u8>>,
}

impl Conn {
    fn run(&mut self, fault: &Fault) {
        let _ = self.stream.set_nodelay(true);
        let _ = self.stream.set_write_timeout(Some(WRITE_LIMIT));
        if self.stream.set_read_timeout(Some(POLL)).is_err() {
            return;
        }
        match fault {
            Fault::NoRead => {
                while self.shared.sleep(POLL) {}
                return;
            }
            Fault::CloseOnAccept => return,
            Fault::ResetWhileIdle(delay) => {
                self.shared.sleep(*delay);
                self.reset();
                return;
            }
            Fault::ResetMidRequest => {
                self.fill();
                self.reset();
                return;
            }
            Fault::CloseUnread => {
                let mut byte = [0u8; 1];
                while !self.shared.should_stop() {
                    match self.stream.peek(&mut byte) {
                        Ok(_) => return,
                        Err(e)
                            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                        Err(_) => return,
                    }
                }
                return;
            }
            Fault::ResetOnAccept => {
                self.reset();
                return;
            }
            Fault::Greeting(bytes) => {
                // If the client is gone, reading its request fails next.
                self.send(bytes);
            }
            Fault::GreetingThenClose(bytes) => {
                self.send(bytes);
                let _ = self.stream.shutdown(Shutdown::Write);
                // Wait for the client's close so that its request is read, not reset.
                while self.read_request().is_some() {}
                return;
            }
            _ => {}
        }
        let mut muted = false;
        let mut served = 0;
        while served < MAX_REQUESTS {
            let Some(request) = self.read_request() else {
                return;
            };
            let index = served;
            served += 1;
            if muted {
                continue;
            }
            let next = match fault.for_request(index) {
                Some(fault) => self.apply(fault, &request),
                None => self.healthy(&request),
            };
            match next {
                Next::Continue => {}
                Next::Mute => muted = true,
                Next::Close => return,
            }
        }
    }

    /// Reads one whole request, recording what arrives; `None` when the client closed, the
    /// request is out of bounds, or the server is stopping.
    fn read_request(&mut self) -> Option<Request> {
        let line_len = loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                break i;
            }
            if self.buf.len() > MAX_REQUEST_LINE {
                return None;
            }
            self.fill()?;
        };
        let line = self.buf[..line_len].to_vec();
        let mut consumed = line_len + 2;
        let tokens: Vec<&[u8]> = line
            .split(|&b| b == b' ')
            .filter(|t| !t.is_empty())
            .collect();
        // Where a request with a data block says how long it is.
        let length_at = match tokens.first().copied() {
            Some(b"set" | b"add" | b"replace" | b"append" | b"prepend" | b"cas") => Some(4),
            Some(b"ms") => Some(2),
            _ => None,
        };
        let data = if let Some(at) = length_at {
            let len: usize = tokens
                .get(at)
                .and_then(|t| std::str::from_utf8(t).ok())
                .and_then(|t| t.parse().ok())
                .filter(|&len| len <= MAX_DATA_BLOCK)?;
            while self.buf.len() < consumed + len + 2 {
                self.fill()?;
            }
            let data = self.buf[consumed..consumed + len].to_vec();
            consumed += len + 2;
            Some(data)
        } else {
            None
        };
        self.buf.drain(..consumed);
        self.shared.state().logs[self.index]
            .requests
            .push(String::from_utf8_lossy(&line).into_owned());
        Some(Request { line, data })
    }

    /// Reads more bytes, waiting in slices; `None` on close, error or stop.
    fn fill(&mut self) -> Option<()> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if self.shared.should_stop() {
                return None;
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    let mut state = self.shared.state();
                    let log = &mut state.logs[self.index].received;
                    let room = MAX_LOGGED.saturating_sub(log.len());
                    log.extend_from_slice(&chunk[..n.min(room)]);
                    return Some(());
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) => {}
                Err(_) => return None,
            }
        }
    }

    /// Writes all of `bytes`; false if the client is gone.
    fn send(&mut self, bytes: &[u8]) -> bool {
        !self.shared.should_stop() && self.stream.write_all(bytes).is_ok()
    }

    fn reset(&self) {
        let _ = SockRef::from(&self.stream).set_linger(Some(Duration::ZERO));
    }

    fn healthy(&mut self, request: &Request) -> Next {
        match answer(&self.shared, request) {
            Some(reply) => {
                let reply = match self.stale.take() {
                    Some(stale) => [stale, reply].concat(),
                    None => reply,
                };
                if self.send(&reply) {
                    Next::Continue
                } else {
                    Next::Close
                }
            }
            None => Next::Close,
        }
    }

    fn apply(&mut self, fault: &Fault, request: &Request) -> Next {
        let key = request.first_key().unwrap_or_else(|| b"k".to_vec());
        let is_meta = request.is_meta();
        let (frame, header_len) = if is_meta {
            meta::value_frame(&self.shared, request, None)
        } else {
            value_frame(&self.shared, &key)
        };
        let data_len = frame.len() - header_len - 2;
        if !is_meta && fault.is_meta_only() {
            return self.healthy(request);
        }
        let sent = match fault {
            Fault::Healthy | Fault::Greeting(_) | Fault::After(..) | Fault::Every(_) => {
                return self.healthy(request)
            }
            Fault::Silent => return Next::Mute,
            Fault::Delay(delay) => {
                let Some(reply) = answer(&self.shared, request) else {
                    return Next::Close;
                };
                self.shared.sleep(*delay) && self.send(&reply)
            }
            Fault::Trickle(delay) => {
                let Some(reply) = answer(&self.shared, request) else {
                    return Next::Close;
                };
                reply
                    .iter()
                    .all(|&b| self.shared.sleep(*delay) && self.send(&[b]))
            }
            Fault::CloseAfterRequest => return Next::Close,
            Fault::CloseMidLine => {
                self.send(&frame[..header_len / 2]);
                return Next::Close;
            }
            Fault::CloseAfterValueHeader => {
                self.send(&frame[..header_len]);
                return Next::Close;
            }
            Fault::CloseInsideData => {
                self.send(&frame[..header_len + data_len / 2]);
                return Next::Close;
            }
            Fault::CloseBeforeDataTerminator => {
                self.send(&frame[..header_len + data_len]);
                return Next::Close;
            }
            Fault::CloseBeforeEnd => {
                self.send(&frame);
                return Next::Close;
            }
            Fault::Reset => {
                self.reset();
                return Next::Close;
            }
            Fault::Reply(bytes) => self.send(bytes),
            Fault::Garbage => self.send(b"HTTP/1.1 400 Bad Request\r\n"),
            Fault::HugeValueHeader if is_meta => {
                self.send(&meta::header_with_length(request, b"4294967295"))
            }
            Fault::MetaHostileLength(length) => {
                self.send(&meta::header_with_length(request, length.as_bytes()))
            }
            Fault::HugeValueHeader => {
                let mut header = b"VALUE ".to_vec();
                header.extend_from_slice(&key);
                header.extend_from_slice(b" 0 4294967295\r\n");
                self.send(&header)
            }
            Fault::DataLonger => {
                let mut reply = frame[..header_len].to_vec();
                reply.extend_from_slice(&frame[header_len..header_len + data_len]);
                reply.extend_from_slice(if is_meta {
                    b"XYZ\r\nMN\r\n"
                } else {
                    b"XYZ\r\nEND\r\n"
                });
                self.send(&reply)
            }
            Fault::DataShorter => {
                let mut reply = frame[..header_len].to_vec();
                reply.extend_from_slice(&frame[header_len..header_len + data_len - 1]);
                // Enough bytes for the claimed length to arrive, and then no `\r\n` there.
                reply.extend_from_slice(if is_meta {
                    b"\r\nMN\r\n"
                } else {
                    b"\r\nEND\r\n"
                });
                self.send(&reply)
            }
            Fault::DataUnterminated => {
                let mut reply = frame[..header_len + data_len].to_vec();
                reply.extend_from_slice(b"XYEND\r\n");
                self.send(&reply)
            }
            Fault::EndlessLine => {
                let chunk = [b'x'; 1024];
                let mut sent = 0;
                while sent < ENDLESS_LIMIT && self.send(&chunk) {
                    sent += chunk.len();
                    if !self.shared.sleep(Duration::from_millis(1)) {
                        break;
                    }
                }
                return Next::Close;
            }
            Fault::OtherKey(other) if is_meta => {
                let (reply, _) = meta::value_frame(&self.shared, request, Some(other));
                self.send(&reply)
            }
            Fault::OtherKey(other) => {
                let (mut reply, _) = value_frame(&self.shared, other);
                reply.extend_from_slice(b"END\r\n");
                self.send(&reply)
            }
            Fault::Reversed if is_meta => return self.healthy(request),
            Fault::Reversed => {
                let mut tokens = request.tokens();
                tokens[1..].reverse();
                let reversed = Request {
                    line: tokens.join(&b' '),
                    data: None,
                };
                let Some(reply) = answer(&self.shared, &reversed) else {
                    return Next::Close;
                };
                self.send(&reply)
            }
            Fault::TwoReplies => {
                let Some(reply) = answer(&self.shared, request) else {
                    return Next::Close;
                };
                self.send(&[reply.clone(), reply].concat())
            }
            Fault::Unsolicited(bytes) => {
                let Some(reply) = answer(&self.shared, request) else {
                    return Next::Close;
                };
                self.send(&[reply, bytes.clone()].concat())
            }
            Fault::UnsolicitedLater { delay, bytes } => {
                let Some(reply) = answer(&self.shared, request) else {
                    return Next::Close;
                };
                let sent = self.send(&reply) && self.shared.sleep(*delay) && self.send(bytes);
                self.shared.state().logs[self.index].unsolicited_sent = sent;
                sent
            }
            Fault::ServerError(message) => {
                self.send(format!("SERVER_ERROR {message}\r\n").as_bytes())
            }
            Fault::ClientError(message) => {
                self.send(format!("CLIENT_ERROR {message}\r\n").as_bytes())
            }
            Fault::Error => self.send(b"ERROR\r\n"),
            Fault::MetaCode(code) => self.send(&meta::code_line(request, code.as_bytes())),
            Fault::MetaUnknownCode => self.send(&meta::code_line(request, b"XZ")),
            Fault::MetaWrongOpaque | Fault::MetaMissingOpaque => {
                let Some(reply) = answer(&self.shared, request) else {
                    return Next::Close;
                };
                let opaque = match fault {
                    Fault::MetaWrongOpaque => Some(&b"4242424242"[..]),
                    _ => None,
                };
                self.send(&meta::with_opaque(&reply, opaque))
            }
            Fault::MetaStaleSecondReply => {
                let Some(reply) = answer(&self.shared, request) else {
                    return Next::Close;
                };
                self.stale = Some(reply.clone());
                self.send(&reply)
            }
            // Connection-level faults acted before the first request; serve healthily after.
            Fault::NoRead
            | Fault::CloseOnAccept
            | Fault::CloseUnread
            | Fault::ResetMidRequest
            | Fault::ResetWhileIdle(_)
            | Fault::ResetOnAccept
            | Fault::GreetingThenClose(_) => return self.healthy(request),
        };
        if sent {
            Next::Continue
        } else {
            Next::Close
        }
    }
}

/// `VALUE <key> <flags> <len>\r\n<data>\r\n` for the item stored under `key` (or a fallback
/// value), and the length of its header line.
fn value_frame(shared: &Shared, key: &[u8]) -> (Vec<u8>, usize) {
    let (data, flags) = match shared.state().items.get(key) {
        Some(item) if item.data.len() >= 2 => (item.data.clone(), item.flags),
        _ => (FALLBACK_VALUE.to_vec(), 0),
    };
    let mut frame = b"VALUE ".to_vec();
    frame.extend_from_slice(key);
    frame.extend_from_slice(format!(" {flags} {}\r\n", data.len()).as_bytes());
    let header_len = frame.len();
    frame.extend_from_slice(&data);
    frame.extend_from_slice(b"\r\n");
    (frame, header_len)
}

fn number<T: std::str::FromStr>(token: Option<&&[u8]>) -> Option<T> {
    std::str::from_utf8(token?).ok()?.parse().ok()
}

/// The healthy emulation's answer to `request`, applying it to the shared map; `None` to
/// close the connection (`quit`).
fn answer(shared: &Shared, request: &Request) -> Option<Vec<u8>> {
    let tokens = request.tokens();
    let mut state = shared.state();
    if meta::is_meta(&tokens) {
        return Some(meta::answer(&mut state, &tokens, request.data.as_deref()));
    }
    let mut out = Vec::new();
    match tokens.first().copied() {
        Some(command @ (b"get" | b"gets")) if tokens.len() > 1 => {
            for key in &tokens[1..] {
                if let Some(item) = state.items.get(*key) {
                    out.extend_from_slice(b"VALUE ");
                    out.extend_from_slice(key);
                    out.extend_from_slice(
                        format!(" {} {}", item.flags, item.data.len()).as_bytes(),
                    );
                    if command == b"gets" {
                        out.extend_from_slice(format!(" {}", item.cas).as_bytes());
                    }
                    out.extend_from_slice(b"\r\n");
                    out.extend_from_slice(&item.data);
                    out.extend_from_slice(b"\r\n");
                }
            }
            out.extend_from_slice(b"END\r\n");
        }
        Some(command @ (b"set" | b"add" | b"replace")) if tokens.len() >= 5 => {
            let (Some(flags), Some(data)) = (number::<u32>(tokens.get(2)), request.data.as_ref())
            else {
                return Some(b"CLIENT_ERROR bad command line format\r\n".to_vec());
            };
            let key = tokens[1].to_vec();
            let exists = state.items.contains_key(&key);
            let store = match command {
                b"add" => !exists,
                b"replace" => exists,
                _ => true,
            };
            if store {
                let cas = state.next_cas;
                state.next_cas += 1;
                state.items.insert(
                    key,
                    StoredItem {
                        data: data.clone(),
                        flags,
                        cas,
                    },
                );
                out.extend_from_slice(b"STORED\r\n");
            } else {
                out.extend_from_slice(b"NOT_STORED\r\n");
            }
        }
        Some(b"delete") if tokens.len() == 2 => {
            if state.items.remove(tokens[1]).is_some() {
                out.extend_from_slice(b"DELETED\r\n");
            } else {
                out.extend_from_slice(b"NOT_FOUND\r\n");
            }
        }
        Some(b"touch") if tokens.len() == 3 => {
            if state.items.contains_key(tokens[1]) {
                out.extend_from_slice(b"TOUCHED\r\n");
            } else {
                out.extend_from_slice(b"NOT_FOUND\r\n");
            }
        }
        Some(b"version") => out.extend_from_slice(b"VERSION 1.6.18-fault-server\r\n"),
        Some(b"flush_all") => {
            state.items.clear();
            out.extend_from_slice(b"OK\r\n");
        }
        Some(b"quit") => return None,
        _ => out.extend_from_slice(b"ERROR\r\n"),
    }
    Some(out)
}
