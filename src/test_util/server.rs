//! The fake's network side: the accept loop, and one thread per connection that reads whole
//! requests with the crate's request parser, asks the fault script what to do with each, and
//! answers from the store. Every wait is polled, so that a stopping server is never stuck.

use std::collections::VecDeque;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use super::fault::{Fault, Script};
use super::store::Store;
use crate::protocol::{parse_request, ProtocolErrorKind, Request, Status};

/// The polling slice of every wait: accept, read, delay.
const POLL: Duration = Duration::from_millis(5);
/// How long one write of a reply may block: the client may have stopped reading.
const WRITE_LIMIT: Duration = Duration::from_secs(1);
/// The most connections served at once; memcached turns further ones away with an error line.
const MAX_CONNECTIONS: usize = 256;
/// The listen backlog when listening resumes after [`Fault::Refuse`].
const BACKLOG: i32 = 128;
/// How many command lines [`Shared::log`] keeps, the latest.
const MAX_LOGGED: usize = 10_000;
/// The largest length memcached reads as a length at all (it reads a signed 32-bit number):
/// a data block up to this long is refused as too large and skipped, a longer claim is a
/// malformed line whose block is not skipped.
const MAX_SWALLOW: u64 = i32::MAX as u64 - 2;

/// The server's port: listening, or held without listening while connects are refused.
pub(crate) enum Port {
    Open(TcpListener),
    /// Bound but not listening: connects are refused, and the kernel hands the port to no
    /// socket asking for any free one (another test's server, an outgoing connection), so it
    /// is still free to listen on when the refusal ends. `None` if binding failed; the port is
    /// then bound afresh on reopening.
    Held(Option<Socket>),
}

/// A socket bound to `addr` that does not listen.
fn hold(addr: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    Ok(socket)
}

/// Everything the server's threads and its handle share. Each piece sits behind its own lock;
/// where two are held at once, `script` is always taken before `port`.
pub(crate) struct Shared {
    pub(crate) addr: SocketAddr,
    pub(crate) max_value_len: usize,
    pub(crate) store: Mutex<Store>,
    pub(crate) script: Mutex<Script>,
    pub(crate) log: Mutex<VecDeque<String>>,
    pub(crate) port: Mutex<Port>,
    pub(crate) handlers: Mutex<Vec<JoinHandle<()>>>,
    pub(crate) stop: AtomicBool,
    pub(crate) ends_at: Instant,
}

/// Locks `mutex`, shrugging off a panic elsewhere: the fake's state stays usable for the
/// assertions of the test that panicked.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub(crate) fn should_stop(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || Instant::now() >= self.ends_at
    }

    /// Opens or closes the listener to match the script. Done under the script's lock, so that
    /// when a call that changed the script returns, connects already meet the new state.
    pub(crate) fn sync_listener(&self, script: &Script) -> io::Result<()> {
        let refusing = script.refusing();
        let mut port = lock(&self.port);
        match std::mem::replace(&mut *port, Port::Held(None)) {
            Port::Open(listener) if refusing => {
                // The listener must be closed before its port can be held.
                drop(listener);
                *port = Port::Held(hold(self.addr).ok());
            }
            Port::Held(held) if !refusing && !self.should_stop() => {
                let listener = match held {
                    Some(socket) => {
                        socket.listen(BACKLOG)?;
                        TcpListener::from(socket)
                    }
                    // std sets SO_REUSEADDR, so the port is free again despite closed
                    // connections lingering in TIME_WAIT.
                    None => TcpListener::bind(self.addr)?,
                };
                listener.set_nonblocking(true)?;
                *port = Port::Open(listener);
            }
            unchanged => *port = unchanged,
        }
        Ok(())
    }

    /// The fault for the request that just arrived.
    fn next_fault(&self) -> Option<Fault> {
        let mut script = lock(&self.script);
        let fault = script.take();
        // A failure to listen again is retried by the accept loop.
        let _ = self.sync_listener(&script);
        fault
    }

    fn record(&self, line: &[u8]) {
        let mut log = lock(&self.log);
        if log.len() == MAX_LOGGED {
            log.pop_front();
        }
        log.push_back(String::from_utf8_lossy(line).into_owned());
    }

    /// Sleeps `total` in slices; false if the server began stopping meanwhile.
    fn sleep(&self, total: Duration) -> bool {
        let until = Instant::now().checked_add(total);
        loop {
            if self.should_stop() {
                return false;
            }
            let left = until.map_or(POLL, |until| {
                until.saturating_duration_since(Instant::now())
            });
            if left.is_zero() {
                return true;
            }
            thread::sleep(left.min(POLL));
        }
    }
}

/// Accepts connections until the server stops, each served on its own thread.
pub(crate) fn accept_loop(shared: &Arc<Shared>) {
    let mut accepted = 0u64;
    while !shared.should_stop() {
        {
            let script = lock(&shared.script);
            let _ = shared.sync_listener(&script);
        }
        let attempt = match &*lock(&shared.port) {
            Port::Open(listener) => Some(listener.accept()),
            Port::Held(_) => None,
        };
        let Some(Ok((stream, _))) = attempt else {
            thread::sleep(POLL);
            continue;
        };
        let mut handlers = lock(&shared.handlers);
        handlers.retain(|handler| !handler.is_finished());
        if handlers.len() >= MAX_CONNECTIONS {
            let _ = (&stream).write_all(b"ERROR Too many open connections\r\n");
            continue;
        }
        accepted += 1;
        {
            let mut store = lock(&shared.store);
            store.curr_connections += 1;
            store.total_connections += 1;
        }
        let conn_shared = Arc::clone(shared);
        let handler = thread::Builder::new()
            .name(format!("fake-memcached-conn-{accepted}"))
            .spawn(move || {
                serve(stream, &conn_shared);
                lock(&conn_shared.store).curr_connections -= 1;
            });
        match handler {
            Ok(handler) => handlers.push(handler),
            // Out of threads: the connection was closed with the closure that owned it.
            Err(_) => lock(&shared.store).curr_connections -= 1,
        }
    }
}

/// What to do once a request has been answered (or not).
enum Then {
    Continue,
    /// Keep reading requests, answer none of them.
    Mute,
    Close,
}

/// Serves one connection until the client leaves, a fault or `quit` closes it, or the server
/// stops.
fn serve(mut stream: TcpStream, shared: &Shared) {
    // Accepted sockets inherit the listener's non-blocking mode on some systems.
    let ready = stream.set_nonblocking(false).is_ok()
        && stream.set_read_timeout(Some(POLL)).is_ok()
        && stream.set_write_timeout(Some(WRITE_LIMIT)).is_ok();
    if !ready {
        return;
    }
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut muted = false;
    // Bytes of a refused data block still to be discarded as they arrive.
    let mut swallow = 0u64;
    while !shared.should_stop() {
        if swallow > 0 {
            let n = buf
                .len()
                .min(usize::try_from(swallow).unwrap_or(usize::MAX));
            buf.drain(..n);
            swallow -= n as u64;
            if swallow > 0 && !fill(&mut stream, &mut buf, shared) {
                return;
            }
            continue;
        }
        let parsed = match parse_request(&buf, shared.max_value_len) {
            Ok(Status::Incomplete) => {
                if !fill(&mut stream, &mut buf, shared) {
                    return;
                }
                continue;
            }
            Ok(Status::Complete { frame, len }) => Ok((frame, len)),
            Err(error) => Err(error),
        };
        let line_len = match &parsed {
            Err(error) if error.kind == ProtocolErrorKind::LineTooLong => None,
            _ => buf.iter().position(|&b| b == b'\n').map(|i| i + 1),
        };
        if let Some(len) = line_len {
            shared.record(trim_line_end(&buf[..len]));
        }
        let fault = if muted {
            Some(Fault::Silent)
        } else {
            shared.next_fault()
        };
        out.clear();
        let (consumed, then) = match (&parsed, &fault) {
            (_, Some(Fault::Close | Fault::Refuse)) => return,
            (Ok((_, len)), Some(Fault::Silent)) => (*len, Then::Mute),
            (Err(_), Some(Fault::Silent)) => (line_len.unwrap_or(buf.len()), Then::Mute),
            (Ok((frame, len)), Some(Fault::ServerError(message))) => {
                if !is_noreply(frame) {
                    server_error(&mut out, message);
                }
                (*len, Then::Continue)
            }
            (Ok((frame, len)), _) => {
                lock(&shared.store).execute(frame, &mut out);
                let then = if *frame == Request::Quit {
                    Then::Close
                } else {
                    Then::Continue
                };
                (*len, then)
            }
            (Err(error), _) => {
                let (consumed, skip, then) = answer_unparsed(error.kind, &buf, shared, &mut out);
                swallow = skip;
                if let Some(Fault::ServerError(message)) = &fault {
                    out.clear();
                    server_error(&mut out, message);
                }
                (consumed, then)
            }
        };
        buf.drain(..consumed);
        if let Some(Fault::Delay(delay)) = fault {
            if !shared.sleep(delay) {
                return;
            }
        }
        if !out.is_empty() && stream.write_all(&out).is_err() {
            return;
        }
        match then {
            Then::Continue => {}
            Then::Mute => muted = true,
            Then::Close => return,
        }
    }
}

fn server_error(out: &mut Vec<u8>, message: &str) {
    let message = message.replace(['\r', '\n'], " ");
    out.extend_from_slice(format!("SERVER_ERROR {message}\r\n").as_bytes());
}

/// memcached's answer to a request it cannot parse, appended to `out`: how much of `buf` it
/// consumes, how many bytes after that to discard unread, and whether the connection goes on.
fn answer_unparsed(
    kind: ProtocolErrorKind,
    buf: &[u8],
    shared: &Shared,
    out: &mut Vec<u8>,
) -> (usize, u64, Then) {
    let line_len = match (kind, buf.iter().position(|&b| b == b'\n')) {
        (ProtocolErrorKind::LineTooLong, _) | (_, None) => {
            // memcached closes a connection whose command line does not end.
            out.extend_from_slice(b"CLIENT_ERROR line too long\r\n");
            return (buf.len(), 0, Then::Close);
        }
        (_, Some(newline)) => newline + 1,
    };
    let line = trim_line_end(&buf[..line_len]);
    let mut tokens = line.split(|&b| b == b' ').filter(|t| !t.is_empty());
    let command = tokens.next().unwrap_or_default();
    let mut answer = |text: &[u8]| {
        if !ends_with_noreply(line) {
            out.extend_from_slice(text);
        }
    };
    match kind {
        ProtocolErrorKind::ValueTooLong { claimed, .. } if claimed <= MAX_SWALLOW => {
            answer(b"SERVER_ERROR object too large for cache\r\n");
            let set_key = (command == b"set").then(|| tokens.next()).flatten();
            lock(&shared.store).refuse_too_large(set_key);
            (line_len, claimed + 2, Then::Continue)
        }
        ProtocolErrorKind::MalformedLine => {
            answer(match command {
                b"incr" | b"decr" => b"CLIENT_ERROR invalid numeric delta argument\r\n",
                b"flush_all" => b"CLIENT_ERROR invalid exptime argument\r\n",
                b"delete" => {
                    b"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n"
                }
                _ => b"CLIENT_ERROR bad command line format\r\n",
            });
            (line_len, 0, Then::Continue)
        }
        ProtocolErrorKind::ValueTooLong { .. } => {
            answer(b"CLIENT_ERROR bad command line format\r\n");
            (line_len, 0, Then::Continue)
        }
        // The block was read whole, as its line claimed: memcached refuses it and reads on
        // after it.
        ProtocolErrorKind::UnterminatedData => {
            answer(b"CLIENT_ERROR bad data chunk\r\n");
            let claimed = tokens
                .nth(3)
                .and_then(|t| std::str::from_utf8(t).ok()?.parse().ok());
            match claimed.and_then(|claimed: usize| line_len.checked_add(claimed + 2)) {
                Some(frame_len) if frame_len <= buf.len() => (frame_len, 0, Then::Continue),
                _ => (buf.len(), 0, Then::Close),
            }
        }
        _ => {
            out.extend_from_slice(b"ERROR\r\n");
            (line_len, 0, Then::Continue)
        }
    }
}

fn is_noreply(request: &Request<'_>) -> bool {
    match *request {
        Request::Storage { noreply, .. }
        | Request::Delete { noreply, .. }
        | Request::Arith { noreply, .. }
        | Request::Touch { noreply, .. }
        | Request::FlushAll { noreply, .. }
        | Request::Verbosity { noreply, .. } => noreply,
        Request::Retrieval { .. } | Request::Version | Request::Stats { .. } | Request::Quit => {
            false
        }
    }
}

/// memcached's own test for a line it could not parse: whether its last token is `noreply`.
fn ends_with_noreply(line: &[u8]) -> bool {
    line.split(|&b| b == b' ').rfind(|t| !t.is_empty()) == Some(b"noreply")
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Reads more bytes, waiting in slices; false on close, error or stop.
fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>, shared: &Shared) -> bool {
    let mut chunk = [0u8; 16 * 1024];
    while !shared.should_stop() {
        match stream.read(&mut chunk) {
            Ok(0) => return false,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return true;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(_) => return false,
        }
    }
    false
}
