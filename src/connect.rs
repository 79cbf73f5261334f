//! Opening a TCP connection within one deadline, across every address a name resolves to.

use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, TcpKeepalive, Type};

use crate::config::Config;
use crate::deadline::Bound;
use crate::error::{Error, Phase};

/// Resolves `addr` ("host:port") and connects to the first address that answers, all within
/// the configured connect timeout (or the caller's deadline, if that comes first).
pub(crate) fn open(addr: &str, config: &Config) -> Result<TcpStream, Error> {
    let bound = Bound::from_now(config.connect_timeout());
    let deadline = bound.at();
    let timed_out = || bound.expired(Phase::Connect);
    let failed = |source| Error::Connect {
        addr: addr.to_owned(),
        source,
    };

    let candidates = resolve(addr, deadline).map_err(|e| match e {
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

/// Name resolution through the system resolver has no timeout of its own, so a name (as
/// opposed to a literal IP address) is resolved on a helper thread that the caller stops
/// waiting for at the deadline.
fn resolve(addr: &str, deadline: Instant) -> Result<Vec<SocketAddr>, Resolution> {
    if let Ok(literal) = addr.parse::<SocketAddr>() {
        return Ok(vec![literal]);
    }
    let (sender, receiver) = mpsc::channel();
    let name = addr.to_owned();
    thread::Builder::new()
        .name("memcache-sync-resolve".into())
        .spawn(move || {
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
        Instant::now() + Duration::from_secs(2)
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

    #[test]
    fn a_literal_address_needs_no_resolver() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        assert!(open(&addr, &Config::default()).is_ok());
    }
}
