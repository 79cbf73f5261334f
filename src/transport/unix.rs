//! Unix domain sockets, and the peek that plain sockets of both kinds share.

use std::io::{self, Read};
use std::mem::MaybeUninit;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use socket2::{Domain, SockAddr, SockRef, Socket, Type};

/// The flags of every send: a write to a socket whose peer is gone fails with `EPIPE`
/// instead of raising `SIGPIPE`, which would kill a process that has not ignored it. (Rust's
/// runtime ignores it for its own `main`, but a library cannot count on being called from
/// one.) std's `UnixStream` writes with plain `write(2)`, hence the `send` here.
#[cfg(not(target_vendor = "apple"))]
const SEND_FLAGS: libc::c_int = libc::MSG_NOSIGNAL;

/// Apple's systems have no `MSG_NOSIGNAL`; [`dial`] sets `SO_NOSIGPIPE` on the socket instead.
#[cfg(target_vendor = "apple")]
const SEND_FLAGS: libc::c_int = 0;

/// Connects to the socket at `path`. A server whose listen queue is full makes a blocking
/// connect wait for room; the send timeout, set to `timeout` first, bounds that wait (the
/// kernel then fails it with `EAGAIN`, which the caller reads as a connect timeout). Every
/// other failure (`ENOENT` for no such file, `ECONNREFUSED` for a socket file nobody listens
/// on, `EACCES` for one the process may not write to) comes back at once.
pub(crate) fn dial(path: &Path, timeout: Duration) -> io::Result<UnixStream> {
    let address = SockAddr::unix(path)?;
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    #[cfg(target_vendor = "apple")]
    socket.set_nosigpipe(true)?;
    socket.set_write_timeout(Some(timeout))?;
    socket.connect(&address)?;
    Ok(UnixStream::from(std::os::fd::OwnedFd::from(socket)))
}

pub(super) fn read(stream: &mut UnixStream, buf: &mut [u8]) -> io::Result<usize> {
    stream.read(buf)
}

pub(super) fn write(stream: &mut UnixStream, buf: &[u8]) -> io::Result<usize> {
    SockRef::from(&*stream).send_with_flags(buf, SEND_FLAGS)
}

/// One `sendmsg` of `bufs`, with the flags of every send.
pub(super) fn send_vectored(socket: SockRef<'_>, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
    socket.send_vectored_with_flags(bufs, SEND_FLAGS)
}

/// One blocking peek of a byte (std's `UnixStream::peek` is not stable): `Ok(0)` at end of
/// stream, a `WouldBlock` error when the read timeout passes first.
pub(super) fn peek(stream: &UnixStream) -> io::Result<usize> {
    let mut probe = [MaybeUninit::<u8>::uninit()];
    SockRef::from(stream).peek(&mut probe)
}

pub(super) fn is_quiet(stream: &UnixStream) -> bool {
    peek_is_quiet(SockRef::from(stream))
}

/// One non-blocking peek of one byte: "would block" is the only answer that means nothing
/// arrived and the peer has not closed (end of stream reads as `Ok(0)`, a reset as an error).
pub(super) fn peek_is_quiet(socket: SockRef<'_>) -> bool {
    let mut probe = [MaybeUninit::<u8>::uninit()];
    let flags = libc::MSG_PEEK | libc::MSG_DONTWAIT;
    matches!(
        socket.recv_with_flags(&mut probe, flags),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;
    use std::os::unix::net::UnixListener;
    use std::time::Instant;

    fn socket_path(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("memcache-sync-unit-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        dir.join("s.sock")
    }

    #[test]
    fn a_write_to_a_socket_whose_peer_has_gone_fails_at_once_with_a_broken_pipe() {
        let path = socket_path("epipe");
        let listener = UnixListener::bind(&path).unwrap();
        let mut stream = dial(&path, Duration::from_secs(1)).unwrap();
        let (peer, _) = listener.accept().unwrap();
        drop(peer);
        assert!(!is_quiet(&stream), "the close is seen before any write");
        let started = Instant::now();
        let error = write(&mut stream, b"get k\r\n").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::BrokenPipe, "{error}");
        assert!(started.elapsed() < Duration::from_millis(100));
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn the_peek_sees_unasked_bytes_and_leaves_them_unread() {
        let path = socket_path("peek");
        let listener = UnixListener::bind(&path).unwrap();
        let mut stream = dial(&path, Duration::from_secs(1)).unwrap();
        let (mut peer, _) = listener.accept().unwrap();
        assert!(is_quiet(&stream));
        peer.write_all(b"END\r\n").unwrap();
        assert!(!is_quiet(&stream));
        let mut buf = [0u8; 8];
        assert_eq!(
            read(&mut stream, &mut buf).unwrap(),
            5,
            "the peek consumed nothing"
        );
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn a_connect_to_a_full_listen_queue_waits_no_longer_than_its_timeout() {
        let path = socket_path("backlog");
        let listener = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
        listener.bind(&SockAddr::unix(&path).unwrap()).unwrap();
        listener.listen(1).unwrap();
        // Nobody accepts: the queue fills after a connection or two.
        let timeout = Duration::from_millis(200);
        let mut queued = Vec::new();
        let (error, waited) = loop {
            let started = Instant::now();
            match dial(&path, timeout) {
                Ok(stream) => queued.push(stream),
                Err(error) => break (error, started.elapsed()),
            }
            assert!(queued.len() < 64, "the listen queue never filled");
        };
        assert_eq!(error.kind(), io::ErrorKind::WouldBlock, "{error}");
        assert!(waited >= timeout / 2, "gave up after {waited:?}");
        assert!(waited < timeout * 3, "waited {waited:?}");
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn each_connect_failure_is_its_own_error_kind_at_once() {
        let path = socket_path("kinds");
        let started = Instant::now();
        let missing = dial(&path, Duration::from_secs(1)).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound, "{missing}");
        drop(UnixListener::bind(&path).unwrap()); // leaves the file, with nobody listening
        let stale = dial(&path, Duration::from_secs(1)).unwrap_err();
        assert_eq!(stale.kind(), io::ErrorKind::ConnectionRefused, "{stale}");
        assert!(started.elapsed() < Duration::from_millis(200));
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}
