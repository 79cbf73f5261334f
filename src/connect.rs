//! Opening a connection within one deadline: over TCP across every address a name resolves
//! to, or to a Unix domain socket's path.

use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, TcpKeepalive, Type};

use crate::config::Config;
use crate::deadline::Bound;
use crate::error::{Error, Phase};
use crate::transport::{Endpoint, Stream};

/// The most name resolutions in flight in this process at once. A resolution the caller
/// stopped waiting for keeps its thread until the system resolver answers, which a hanging
/// resolver may never do; without a bound every reconnect to such a name would leave one more
/// thread behind.
const MAX_RESOLUTIONS: usize = 32;

/// The resolver threads running now, process-wide.
static RESOLUTIONS: InFlight = InFlight::new(MAX_RESOLUTIONS);

/// Opens the stream `addr` names (see [`Endpoint::parse`]) within the configured connect
/// timeout (or the caller's deadline, if that comes first): a `"host:port"` is resolved and
/// the first address that answers is taken; a socket path is connected to.
///
/// With TLS configured, the handshake follows on the same stream, within the same bound.
pub(crate) fn open(addr: &str, config: &Config) -> Result<Stream, Error> {
    #[cfg(feature = "tls")]
    let started = Instant::now();
    let endpoint = Endpoint::parse(addr);
    let stream = match endpoint {
        Endpoint::Tcp(addr) => open_counted(addr, config, &RESOLUTIONS).map(Stream::Tcp),
        Endpoint::Unix(path) => open_unix(addr, path, config),
    }?;
    #[cfg(feature = "tls")]
    if let Some(tls) = config.tls() {
        let host = match endpoint {
            Endpoint::Tcp(addr) => Some(host_of(addr)),
            Endpoint::Unix(_) => None,
        };
        let bound = Bound::new(started, config.connect_timeout());
        return crate::transport::tls::connect(stream, host, tls, addr, &bound);
    }
    Ok(stream)
}

/// The host part of `host:port` (without the brackets of an IPv6 literal), as the name a
/// server's certificate is checked against.
#[cfg(feature = "tls")]
fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(host, _port)| host);
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// Connects to the Unix domain socket at `path` (`addr` as the caller wrote it, for the
/// error). Nothing to resolve and no address to fall back on: a missing file, a stale one
/// and one without permission each fail at once with their own [`io::ErrorKind`].
#[cfg(unix)]
fn open_unix(addr: &str, path: &std::path::Path, config: &Config) -> Result<Stream, Error> {
    let bound = Bound::from_now(config.connect_timeout());
    let remaining = bound.remaining();
    if remaining.is_zero() {
        return Err(bound.expired(Phase::Connect));
    }
    match crate::transport::dial_unix(path, remaining) {
        Ok(stream) => Ok(Stream::Unix(stream)),
        Err(error)
            if matches!(
                error.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ) =>
        {
            Err(bound.expired(Phase::Connect))
        }
        Err(source) => Err(Error::Connect {
            addr: addr.to_owned(),
            source: source.into(),
        }),
    }
}

#[cfg(not(unix))]
fn open_unix(addr: &str, _path: &std::path::Path, _config: &Config) -> Result<Stream, Error> {
    Err(Error::Connect {
        addr: addr.to_owned(),
        source: io::Error::new(
            io::ErrorKind::Unsupported,
            "Unix domain sockets are not available on this platform",
        ),
    })
}

/// [`open`], counting a name resolution against `resolutions`.
fn open_counted(
    addr: &str,
    config: &Config,
    resolutions: &'static InFlight,
) -> Result<TcpStream, Error> {
    let bound = Bound::from_now(config.connect_timeout());
    let deadline = bound.at();
    let timed_out = || bound.expired(Phase::Connect);
    let failed = |source: io::Error| Error::Connect {
        addr: addr.to_owned(),
        source: source.into(),
    };

    let candidates = resolve(addr, deadline, resolutions).map_err(|e| match e {
        Resolution::TimedOut => timed_out(),
        Resolution::Failed(source) => failed(source),
    })?;
    dial_any(&candidates, deadline, config).map_err(|error| match error {
        Some(error)
            if !matches!(
                error.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ) =>
        {
            failed(error)
        }
        _ => timed_out(),
    })
}

/// Connects to the first of `candidates` that answers before `deadline`, or returns the last
/// failure (`None` if the deadline passed before any attempt).
fn dial_any(
    candidates: &[SocketAddr],
    deadline: Instant,
    config: &Config,
) -> Result<TcpStream, Option<io::Error>> {
    let mut last_error = None;
    for (i, candidate) in candidates.iter().enumerate() {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            break;
        }
        // Share what is left among the addresses still to try, so that one black-holed address
        // (an IPv6 route that drops packets, say) cannot use up the whole budget.
        let share = remaining / (candidates.len() - i) as u32;
        match dial(candidate, share.max(Duration::from_millis(1)), config) {
            Ok(stream) => return Ok(stream),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error)
}

fn dial(addr: &SocketAddr, timeout: Duration, config: &Config) -> io::Result<TcpStream> {
    let socket = Socket::new(
        Domain::for_address(*addr),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.set_nodelay(config.nodelay())?;
    if let Some(idle) = config.tcp_keepalive() {
        socket.set_tcp_keepalive(&TcpKeepalive::new().with_time(idle))?;
    }
    socket.connect_timeout(&(*addr).into(), timeout)?;
    Ok(socket.into())
}

enum Resolution {
    TimedOut,
    Failed(io::Error),
}

/// A count of threads in flight, bounded.
struct InFlight {
    running: AtomicUsize,
    max: usize,
}

/// One counted thread; dropping it, wherever the thread ends, lets another start.
struct Ticket(&'static InFlight);

impl InFlight {
    const fn new(max: usize) -> Self {
        Self {
            running: AtomicUsize::new(0),
            max,
        }
    }

    /// A ticket, or `None` if `max` are out.
    fn enter(&'static self) -> Option<Ticket> {
        self.running
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |running| {
                (running < self.max).then_some(running + 1)
            })
            .ok()
            .map(|_| Ticket(self))
    }

    #[cfg(test)]
    fn running(&self) -> usize {
        self.running.load(Ordering::Acquire)
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The failure of a connect that would have started a resolution beyond the bound: the
/// resolver is behind, which says no more about the server than a resolution timeout would.
fn resolutions_backed_up(max: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::WouldBlock,
        format!(
            "{max} name resolutions are already waiting for the system resolver; \
             not starting another until one ends"
        ),
    )
}

/// Name resolution through the system resolver has no timeout of its own, so a name (as
/// opposed to a literal IP address) is resolved on a helper thread that the caller stops
/// waiting for at the deadline. At most `resolutions.max` such threads run at once; beyond
/// that the resolution fails at once, without a thread.
fn resolve(
    addr: &str,
    deadline: Instant,
    resolutions: &'static InFlight,
) -> Result<Vec<SocketAddr>, Resolution> {
    if let Ok(literal) = addr.parse::<SocketAddr>() {
        return Ok(vec![literal]);
    }
    let ticket = resolutions
        .enter()
        .ok_or_else(|| Resolution::Failed(resolutions_backed_up(resolutions.max)))?;
    let (sender, receiver) = mpsc::channel();
    let name = addr.to_owned();
    // The ticket moves into the thread and is dropped when it ends, answered or abandoned; if
    // the thread cannot start, the closure is dropped with it unrun.
    thread::Builder::new()
        .name("memcache-sync-resolve".into())
        .spawn(move || {
            let _ticket = ticket;
            let _ = sender.send(name.to_socket_addrs().map(Iterator::collect::<Vec<_>>));
        })
        .map_err(Resolution::Failed)?;
    match receiver.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(Ok(addrs)) if !addrs.is_empty() => Ok(addrs),
        Ok(Ok(_)) => Err(Resolution::Failed(io::Error::new(
            io::ErrorKind::NotFound,
            "the name resolved to no addresses",
        ))),
        Ok(Err(error)) => Err(Resolution::Failed(error)),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(Resolution::TimedOut),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(Resolution::Failed(io::Error::other(
            "the resolver thread stopped without an answer",
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv6Addr, TcpListener};

    fn deadline() -> Instant {
        crate::deadline::later(Instant::now(), Duration::from_secs(2))
    }

    /// A loopback port with nothing listening: bind, note the port, close.
    fn closed_port(ip: std::net::IpAddr) -> Option<SocketAddr> {
        let listener = TcpListener::bind((ip, 0)).ok()?;
        listener.local_addr().ok()
    }

    #[test]
    fn a_refused_address_is_skipped_for_the_next_one_that_listens() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let refused = closed_port([127, 0, 0, 1].into()).unwrap();
        let candidates = [refused, listener.local_addr().unwrap()];
        let stream = dial_any(&candidates, deadline(), &Config::default()).unwrap();
        assert_eq!(stream.peer_addr().unwrap(), candidates[1]);
    }

    #[test]
    fn an_ipv6_address_that_refuses_falls_back_to_ipv4() {
        let Some(refused) = closed_port(Ipv6Addr::LOCALHOST.into()) else {
            return; // no IPv6 loopback on this machine: nothing to fall back from
        };
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let candidates = [refused, listener.local_addr().unwrap()];
        let stream = dial_any(&candidates, deadline(), &Config::default()).unwrap();
        assert!(stream.peer_addr().unwrap().is_ipv4());
    }

    #[test]
    fn when_every_address_refuses_the_last_failure_is_reported() {
        let candidates = [
            closed_port([127, 0, 0, 1].into()).unwrap(),
            closed_port([127, 0, 0, 1].into()).unwrap(),
        ];
        let error = dial_any(&candidates, deadline(), &Config::default()).unwrap_err();
        assert_eq!(error.unwrap().kind(), io::ErrorKind::ConnectionRefused);
    }

    #[test]
    fn a_name_that_does_not_resolve_fails_within_the_connect_timeout() {
        let timeout = Duration::from_millis(300);
        let config = Config::default().with_connect_timeout(timeout);
        let started = Instant::now();
        let error = open("no-such-host.invalid:11211", &config).unwrap_err();
        assert!(
            matches!(
                error,
                Error::Connect { .. }
                    | Error::Timeout {
                        phase: Phase::Connect,
                        ..
                    }
            ),
            "{error:?}"
        );
        assert!(
            started.elapsed() < timeout + Duration::from_millis(200),
            "{:?}",
            started.elapsed()
        );
    }

    #[cfg(feature = "tls")]
    #[test]
    fn the_name_checked_against_a_certificate_is_the_host_without_port_or_brackets() {
        assert_eq!(host_of("cache.example.com:11211"), "cache.example.com");
        assert_eq!(host_of("127.0.0.1:11211"), "127.0.0.1");
        assert_eq!(host_of("[::1]:11211"), "::1");
        assert_eq!(host_of("cache"), "cache");
    }

    #[test]
    fn a_literal_address_needs_no_resolver() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        assert!(matches!(
            open(&addr, &Config::default()),
            Ok(Stream::Tcp(_))
        ));
    }

    #[cfg(unix)]
    #[test]
    fn a_unix_socket_whose_listen_queue_stays_full_is_a_connect_timeout() {
        use socket2::SockAddr;
        let dir =
            std::env::temp_dir().join(format!("memcache-sync-unit-{}-full", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join("s.sock");
        let listener = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
        listener.bind(&SockAddr::unix(&path).unwrap()).unwrap();
        listener.listen(1).unwrap();
        let timeout = Duration::from_millis(150);
        let config = Config::default().with_connect_timeout(timeout);
        let addr = format!("unix:{}", path.display());
        let mut queued = Vec::new();
        let error = loop {
            match open(&addr, &config) {
                Ok(stream) => queued.push(stream),
                Err(error) => break error,
            }
            assert!(queued.len() < 64, "the listen queue never filled");
        };
        assert!(
            matches!(error, Error::Timeout { phase: Phase::Connect, timeout: t } if t == timeout),
            "{error:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Waits (up to 5 s) until `resolutions` has no thread running.
    fn wait_until_idle(resolutions: &InFlight) -> bool {
        let give_up = crate::deadline::later(Instant::now(), Duration::from_secs(5));
        while resolutions.running() > 0 {
            if Instant::now() >= give_up {
                return false;
            }
            thread::sleep(Duration::from_millis(5));
        }
        true
    }

    #[test]
    fn with_every_resolution_slot_taken_a_name_fails_at_once_with_a_transient_connect_error() {
        assert_eq!(
            RESOLUTIONS.max, 32,
            "the bound documented on Config::with_connect_timeout"
        );
        static FULL: InFlight = InFlight::new(2);
        // Stand-ins for two resolver threads stuck in the system resolver.
        let stuck = [FULL.enter().unwrap(), FULL.enter().unwrap()];
        assert!(FULL.enter().is_none());

        let config = Config::default().with_connect_timeout(Duration::from_secs(5));
        let started = Instant::now();
        let error = open_counted("localhost:11211", &config, &FULL).unwrap_err();
        assert!(
            started.elapsed() < Duration::from_millis(300),
            "waited {:?} instead of failing at once",
            started.elapsed()
        );
        match &error {
            Error::Connect { addr, source } => {
                assert_eq!(addr, "localhost:11211");
                assert_eq!(source.kind(), io::ErrorKind::WouldBlock, "{source}");
            }
            other => panic!("expected Error::Connect, got {other:?}"),
        }
        // Read like a resolution timeout: transient, and nothing was sent.
        let timeout = Error::Timeout {
            phase: Phase::Connect,
            timeout: Duration::from_secs(5),
        };
        assert_eq!(error.is_transient(), timeout.is_transient());
        assert_eq!(error.is_connection_error(), timeout.is_connection_error());
        assert!(error.is_safe_to_retry(false));
        assert_eq!(FULL.running(), 2, "the refused connect took a slot");

        // A literal address needs no resolver thread, so the bound does not apply to it.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let literal = listener.local_addr().unwrap().to_string();
        assert!(open_counted(&literal, &config, &FULL).is_ok());

        drop(stuck);
        assert!(
            open_counted("localhost:1", &config, &FULL).is_err_and(|error| !matches!(
                error,
                Error::Connect { ref source, .. } if source.kind() == io::ErrorKind::WouldBlock
            ))
        );
    }

    #[test]
    fn a_resolver_thread_gives_its_slot_back_when_it_ends_even_if_nobody_waited_for_it() {
        static COUNTED: InFlight = InFlight::new(4);
        // A deadline already passed: the caller stops waiting at once, before any answer.
        let abandoned = resolve("localhost:11211", Instant::now(), &COUNTED);
        assert!(
            matches!(abandoned, Err(Resolution::TimedOut) | Ok(_)),
            "the resolution failed"
        );
        assert!(
            wait_until_idle(&COUNTED),
            "{} still running",
            COUNTED.running()
        );

        // Answered in time: the slot comes back too.
        assert!(resolve("localhost:11211", deadline(), &COUNTED).is_ok());
        assert!(
            wait_until_idle(&COUNTED),
            "{} still running",
            COUNTED.running()
        );
    }
}
