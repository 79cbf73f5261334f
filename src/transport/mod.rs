//! The one seam under [`Connection`](crate::connection::Connection): bytes in and out of one
//! stream, whatever carries them, and whether anything unasked is waiting on it.
//!
//! A [`Stream`] is an enum, not a trait object: every layer above sees one kind of stream,
//! the compiler sees every transport, and a request costs the same system calls on each (one
//! `send`, one `recv`, one peek before it) with nothing boxed or dispatched at run time.
//!
//! # The contract every variant keeps
//! - **At most one blocking system call per [`Stream::read`], [`Stream::write`] or
//!   [`Stream::wait_readable`]; none in [`Stream::drain_into`].** The
//!   [`Connection`](crate::connection::Connection) sets the socket timeout to the time left
//!   before its deadline ahead of every blocking call, so that is the only way one deadline can
//!   bound a whole reply. A drain may take several system calls, but none of them waits for
//!   the peer: it moves at most the bytes asked for, already waiting, and stops. A layer that must read or write again before it has anything for the caller
//!   (a TLS record that arrived in part, ciphertext still queued) returns
//!   [`io::ErrorKind::Interrupted`]: the connection re-arms the timeout and calls again.
//! - **`Ok(n)` from a write means `n` of the caller's bytes left**, handed to the kernel, not
//!   held in a buffer of the layer's: the caller passes the same bytes again until they are
//!   taken, and when the last is taken the request is on its way. (A TLS layer that has
//!   encrypted a chunk but not sent all of it answers `Interrupted` until it has, then `Ok`
//!   for the chunk.)
//! - **Timeouts are the socket's.** A layer over a socket sets them on the socket beneath it.
//! - **[`Stream::record_limit`] says how a layer that frames what it sends must be written
//!   to.** memcached before 1.6.39 can stall on a TLS connection whose records end inside a
//!   command (see [`Connection::write_commands`](crate::connection::Connection::write_commands)),
//!   so a framing layer sends each write of at most its limit, taken whole, as one frame.
//! - **[`Stream::is_quiet`] answers for the layer that knows.** For a plain socket a peek is
//!   enough; a TLS layer must also look at the plaintext it has decrypted and not handed out,
//!   and must consume, not report, the records it receives that are not data (a TLS 1.3
//!   session ticket arriving after the handshake is not a stray reply).
//!
//! Errors are returned as the kernel (or the layer) reported them: the one place that maps
//! them to [`Error`](crate::Error)s, `WouldBlock` and `TimedOut` included, is the
//! connection's.
//!
//! # Addresses
//! [`Endpoint::parse`] decides which transport an address names: a path (`/…`, or anything
//! after `unix:`) is a Unix domain socket; everything else is `host:port` over TCP.

#[cfg(feature = "tls")]
pub(crate) mod tls;
#[cfg(unix)]
mod unix;

use std::io::{self, IoSlice, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

#[cfg(unix)]
use std::os::unix::net::UnixStream;

#[cfg(unix)]
pub(crate) use unix::dial as dial_unix;

/// The prefix that marks an address as a Unix domain socket path, as python-memcached
/// (`unix:/path`) and twemproxy write it.
pub(crate) const UNIX_PREFIX: &str = "unix:";

/// What an address names: a TCP `host:port`, or the path of a Unix domain socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint<'a> {
    /// `host:port`, resolved and dialled over TCP.
    Tcp(&'a str),
    /// A Unix domain socket's path, as given (relative paths are relative to the working
    /// directory at each connect).
    Unix(&'a Path),
}

impl<'a> Endpoint<'a> {
    /// The endpoint `addr` names: `unix:PATH` and anything starting with `/` are Unix socket
    /// paths (`unix:` alone names no path, and is left for the connect to refuse as a TCP
    /// address without a port); anything else is TCP.
    pub(crate) fn parse(addr: &'a str) -> Self {
        match addr.strip_prefix(UNIX_PREFIX) {
            Some(path) if !path.is_empty() => Self::Unix(Path::new(path)),
            _ if addr.starts_with('/') => Self::Unix(Path::new(addr)),
            _ => Self::Tcp(addr),
        }
    }
}

/// One open stream to a server. Every variant keeps the contract in the [module
/// docs](self).
#[derive(Debug)]
pub(crate) enum Stream {
    /// A TCP connection.
    Tcp(TcpStream),
    /// A Unix domain socket connection.
    #[cfg(unix)]
    Unix(UnixStream),
    /// A TLS session over a TCP or Unix stream.
    #[cfg(feature = "tls")]
    Tls(Box<tls::TlsStream>),
}

impl Stream {
    /// One read into `buf`: `Ok(0)` only at end of stream.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(stream) => stream.read(buf),
            #[cfg(unix)]
            Self::Unix(stream) => unix::read(stream, buf),
            #[cfg(feature = "tls")]
            Self::Tls(stream) => stream.read(buf),
        }
    }

    /// One write of a prefix of `buf`; never raises `SIGPIPE` (a closed peer is an
    /// [`io::ErrorKind::BrokenPipe`] error).
    pub(crate) fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            // std sends on a TCP stream with MSG_NOSIGNAL where the platform has it.
            Self::Tcp(stream) => stream.write(buf),
            #[cfg(unix)]
            Self::Unix(stream) => unix::write(stream, buf),
            #[cfg(feature = "tls")]
            Self::Tls(stream) => stream.write(buf),
        }
    }

    /// One write of a prefix of the concatenation of `bufs` (one `sendmsg`), as
    /// [`Stream::write`]: `Ok(n)` means the first `n` bytes left; never raises `SIGPIPE`.
    pub(crate) fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            // std's vectored write on a socket is writev(2), without MSG_NOSIGNAL.
            #[cfg(unix)]
            Self::Tcp(stream) => unix::send_vectored(socket2::SockRef::from(&*stream), bufs),
            #[cfg(not(unix))]
            Self::Tcp(stream) => stream.write_vectored(bufs),
            #[cfg(unix)]
            Self::Unix(stream) => unix::send_vectored(socket2::SockRef::from(&*stream), bufs),
            // A TLS record holds one chunk of plaintext anyway: the first non-empty slice is
            // the prefix this write sends.
            #[cfg(feature = "tls")]
            Self::Tls(stream) => match bufs.iter().find(|buf| !buf.is_empty()) {
                Some(buf) => stream.write(buf),
                None => Ok(0),
            },
        }
    }

    /// Whether [`Stream::drain_into`] works here: a plain socket reads into room it has not
    /// initialised (std's sockets read into a vector's spare capacity), a TLS layer does not.
    pub(crate) fn drains(&self) -> bool {
        match self {
            Self::Tcp(_) => true,
            #[cfg(unix)]
            Self::Unix(_) => true,
            #[cfg(feature = "tls")]
            Self::Tls(_) => false,
        }
    }

    /// Appends to `sink` at most `limit` bytes (not zero) that are already waiting, without
    /// blocking, into `sink`'s spare capacity as it is: a fresh vector for a large value is
    /// never zero-filled before the data overwrites it. `Ok(n)`: `n` bytes appended; `Ok(0)`:
    /// end of stream; a `WouldBlock` error: nothing is waiting (see
    /// [`Stream::wait_readable`]). Reserve the room first: `sink` grows only if it has less
    /// spare capacity than `limit`. A stream that does not [`drain`](Stream::drains)
    /// answers `Unsupported`.
    pub(crate) fn drain_into(&mut self, sink: &mut Vec<u8>, limit: usize) -> io::Result<usize> {
        match self {
            Self::Tcp(stream) => drain(stream, TcpStream::set_nonblocking, sink, limit),
            #[cfg(unix)]
            Self::Unix(stream) => drain(stream, UnixStream::set_nonblocking, sink, limit),
            #[cfg(feature = "tls")]
            Self::Tls(_) => Err(io::ErrorKind::Unsupported.into()),
        }
    }

    /// Waits, for at most the read timeout, until the stream has bytes to read or has ended,
    /// consuming nothing: one blocking peek of one byte. `Ok` says only that the wait is
    /// over; the next read or drain says what ended it.
    pub(crate) fn wait_readable(&mut self) -> io::Result<()> {
        let mut probe = [0u8; 1];
        match self {
            Self::Tcp(stream) => stream.peek(&mut probe).map(drop),
            #[cfg(unix)]
            Self::Unix(stream) => unix::peek(stream).map(drop),
            // Never drained, so never waited on: a read waits as it reads.
            #[cfg(feature = "tls")]
            Self::Tls(_) => Err(io::ErrorKind::Unsupported.into()),
        }
    }

    /// The most bytes one write may carry so that they go out as one frame of the layer's
    /// (a TLS record), for a caller that must choose where frames end; `None` for a stream
    /// that sends bytes as they come.
    pub(crate) fn record_limit(&self) -> Option<usize> {
        match self {
            Self::Tcp(_) => None,
            #[cfg(unix)]
            Self::Unix(_) => None,
            #[cfg(feature = "tls")]
            Self::Tls(stream) => Some(stream.record_limit()),
        }
    }

    /// Sets how long one read may block. `timeout` is never zero (zero would mean "forever").
    pub(crate) fn set_read_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        match self {
            Self::Tcp(stream) => stream.set_read_timeout(Some(timeout)),
            #[cfg(unix)]
            Self::Unix(stream) => stream.set_read_timeout(Some(timeout)),
            #[cfg(feature = "tls")]
            Self::Tls(stream) => stream.inner().set_read_timeout(timeout),
        }
    }

    /// Sets how long one write may block. `timeout` is never zero.
    pub(crate) fn set_write_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        match self {
            Self::Tcp(stream) => stream.set_write_timeout(Some(timeout)),
            #[cfg(unix)]
            Self::Unix(stream) => stream.set_write_timeout(Some(timeout)),
            #[cfg(feature = "tls")]
            Self::Tls(stream) => stream.inner().set_write_timeout(timeout),
        }
    }

    /// Whether the stream is as the last reply left it: the peer has neither closed it nor
    /// sent anything since. One non-blocking peek on a plain socket.
    pub(crate) fn is_quiet(&mut self) -> bool {
        match self {
            Self::Tcp(stream) => tcp_is_quiet(stream),
            #[cfg(unix)]
            Self::Unix(stream) => unix::is_quiet(stream),
            #[cfg(feature = "tls")]
            Self::Tls(stream) => stream.is_quiet(),
        }
    }
}

/// [`Stream::drain_into`] on a socket whose reads fill uninitialised room (std's TCP and
/// Unix streams): non-blocking for the drain alone, so that std's `read_to_end` (the one safe
/// way to read into a vector's spare capacity) stops at the first read that would wait,
/// instead of waiting on the peer with no deadline but the socket timeout of each read.
fn drain<S>(
    socket: &S,
    set_nonblocking: fn(&S, bool) -> io::Result<()>,
    sink: &mut Vec<u8>,
    limit: usize,
) -> io::Result<usize>
where
    for<'s> &'s S: Read,
{
    set_nonblocking(socket, true)?;
    let before = sink.len();
    let read = socket.take(limit as u64).read_to_end(sink);
    let restored = set_nonblocking(socket, false);
    let got = sink.len() - before;
    restored?;
    match read {
        // The bytes that were waiting, all of them.
        Err(error) if error.kind() == io::ErrorKind::WouldBlock && got > 0 => Ok(got),
        Err(error) => Err(error),
        // The limit reached, or the end of the stream after `got` bytes (the next drain
        // answers `Ok(0)`).
        Ok(_) => Ok(got),
    }
}

/// The typed [`Error`](crate::Error) for an IO error that carries a TLS failure (a
/// certificate refused, an alert from the server); the IO error itself for any other.
pub(crate) fn tls_failure(
    error: io::Error,
    phase: crate::error::Phase,
) -> Result<crate::error::Error, io::Error> {
    #[cfg(feature = "tls")]
    return tls::failure(error, phase);
    #[cfg(not(feature = "tls"))]
    {
        let _ = phase;
        Err(error)
    }
}

/// One non-blocking peek: nothing to read means the stream is as the last reply left it.
#[cfg(unix)]
fn tcp_is_quiet(stream: &TcpStream) -> bool {
    unix::peek_is_quiet(socket2::SockRef::from(stream))
}

#[cfg(not(unix))]
fn tcp_is_quiet(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let quiet =
        matches!(stream.peek(&mut [0u8; 1]), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
    stream.set_nonblocking(false).is_ok() && quiet
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_the_unix_prefix_name_sockets_and_everything_else_is_tcp() {
        let unix = |p: &'static str| Endpoint::Unix(Path::new(p));
        assert_eq!(
            Endpoint::parse("/var/run/memcached/memcached.sock"),
            unix("/var/run/memcached/memcached.sock")
        );
        assert_eq!(
            Endpoint::parse("unix:/var/run/memcached/memcached.sock"),
            unix("/var/run/memcached/memcached.sock")
        );
        assert_eq!(Endpoint::parse("unix:relative.sock"), unix("relative.sock"));
        assert_eq!(
            Endpoint::parse("127.0.0.1:11211"),
            Endpoint::Tcp("127.0.0.1:11211")
        );
        assert_eq!(Endpoint::parse("[::1]:11211"), Endpoint::Tcp("[::1]:11211"));
        assert_eq!(Endpoint::parse("unix:"), Endpoint::Tcp("unix:"));
        assert_eq!(Endpoint::parse("cache:11211"), Endpoint::Tcp("cache:11211"));
    }
}
