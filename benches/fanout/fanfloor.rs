//! The fan-out floor: what `Cluster::get_many` over four servers cannot beat. Plain `std` TCP
//! (nodelay), one connection per server, the keys grouped by the same ketama continuum the
//! cluster builds (`Ketama::libmemcached_ketama` over the same `Server`s), every server's
//! `get k1 … kN` line written before any reply is read, then the replies read as they come.
//!
//! The sockets are non-blocking, and the client waits for replies with one `poll(2)` over
//! every socket still owed one, then reads whatever each readable socket holds: one wait in
//! the kernel for all of them, as the issue's floor asks ("write four requests, poll, read
//! four replies"), with no spinning (memcached shares the two CPUs) and no blocking read on
//! one socket while another's reply waits (a 1000-key reply, ~35 KB per server, could then
//! stall a server on a full buffer). Each reply is checked by its length (every key a hit)
//! and its closing `END\r\n`; each read stops at that length, so a byte too many would break
//! the next call's check. The sockets stay non-blocking from connect on: toggling them per
//! call would add syscalls the cluster does not make.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;

use memcache_sync::distribution::{Distribution, Ketama, Server};

use crate::common::floor::{encode_get, frame_len, END};

struct Conn {
    stream: TcpStream,
    keys: Vec<&'static str>,
    request: Vec<u8>,
    buf: Vec<u8>,
    len: usize,
    expected: usize,
}

pub struct FanFloor {
    ring: Ketama,
    conns: Vec<Conn>,
}

impl FanFloor {
    pub fn connect(addrs: &[String]) -> FanFloor {
        let servers: Vec<Server> = addrs
            .iter()
            .map(|a| a.parse().expect("a host:port server"))
            .collect();
        let ring = Ketama::libmemcached_ketama(&servers).expect("ketama builds");
        let conns = addrs
            .iter()
            .map(|addr| {
                let stream = TcpStream::connect(addr).expect("fan-out floor connects");
                stream.set_nodelay(true).unwrap();
                stream.set_nonblocking(true).unwrap();
                Conn {
                    stream,
                    keys: Vec::with_capacity(1024),
                    request: Vec::with_capacity(64 * 1024),
                    buf: vec![0; 64 * 1024],
                    len: 0,
                    expected: 0,
                }
            })
            .collect();
        FanFloor { ring, conns }
    }

    /// Which server of the fan-out floor's list owns `key` (as `Cluster::server_for`).
    pub fn server_for(&self, key: &str) -> usize {
        self.ring.server_for(key.as_bytes())
    }

    /// `keys`, every one a hit holding `value_len` bytes, grouped by server: one `get` line
    /// written to each server with keys, then every reply read as it arrives.
    pub fn get(&mut self, keys: &[&'static str], value_len: usize) {
        for conn in &mut self.conns {
            conn.keys.clear();
        }
        for key in keys {
            let server = self.ring.server_for(key.as_bytes());
            self.conns[server].keys.push(key);
        }
        for conn in self.conns.iter_mut().filter(|c| !c.keys.is_empty()) {
            conn.request.clear();
            encode_get(&mut conn.request, &conn.keys);
            write_all(&mut conn.stream, &conn.request);
            conn.len = 0;
            conn.expected = conn.keys.len() * frame_len(value_len) + END.len();
            if conn.buf.len() < conn.expected {
                conn.buf.resize(conn.expected, 0);
            }
        }
        let mut waiting: Vec<libc::pollfd> = Vec::with_capacity(self.conns.len());
        loop {
            waiting.clear();
            waiting.extend(
                self.conns
                    .iter()
                    .filter(|c| !c.keys.is_empty() && c.len < c.expected)
                    .map(|c| libc::pollfd {
                        fd: c.stream.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    }),
            );
            if waiting.is_empty() {
                return;
            }
            // SAFETY: `waiting` is a live, initialised array of `waiting.len()` pollfds, and
            // poll writes only their `revents`.
            let ready = unsafe { libc::poll(waiting.as_mut_ptr(), waiting.len() as _, -1) };
            if ready < 0 {
                let error = std::io::Error::last_os_error();
                assert_eq!(
                    error.kind(),
                    ErrorKind::Interrupted,
                    "fan-out floor poll: {error}"
                );
                continue;
            }
            for ready in waiting.iter().filter(|p| p.revents != 0) {
                let conn = self
                    .conns
                    .iter_mut()
                    .find(|c| c.stream.as_raw_fd() == ready.fd)
                    .expect("a polled socket is one of ours");
                read_ready(conn);
            }
        }
    }
}

/// Reads what `conn`'s socket holds, up to the end of its reply.
fn read_ready(conn: &mut Conn) {
    while conn.len < conn.expected {
        match conn.stream.read(&mut conn.buf[conn.len..conn.expected]) {
            Ok(0) => panic!("memcached closed the fan-out floor's connection"),
            Ok(n) => conn.len += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("fan-out floor read: {e}"),
        }
    }
    assert!(
        conn.buf[..conn.len].ends_with(END),
        "fan-out floor: a reply not closed by END"
    );
}

/// Writes all of `request` to a non-blocking stream, yielding while its send buffer is full.
fn write_all(stream: &mut TcpStream, request: &[u8]) {
    let mut written = 0;
    while written < request.len() {
        match stream.write(&request[written..]) {
            Ok(n) => written += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::yield_now(),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("fan-out floor write: {e}"),
        }
    }
}
