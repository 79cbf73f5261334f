//! The connection under every raw floor: plain `std` TCP (nodelay), a request buffer written
//! in one go, a reused read buffer, and the optional peek that stands for memcache-sync's
//! check before each request.

use std::io::{Read, Write};
use std::net::TcpStream;

/// One floor's connection and buffers. The text floor and the meta floor differ in what they
/// write and how they find a reply's end, not in how bytes go in and out: both read and
/// write through this, so a ratio to either floor measures the same IO.
pub struct Wire {
    stream: TcpStream,
    /// What the next [`Wire::send`] writes; the floor encodes into it.
    pub request: Vec<u8>,
    /// What the reads fill; a floor checks the reply in it.
    pub buf: Vec<u8>,
    /// Which floor this is, for the panics.
    name: &'static str,
}

impl Wire {
    pub fn connect(addr: &str, name: &'static str) -> Wire {
        let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{name} connects: {e}"));
        stream.set_nodelay(true).unwrap();
        Wire {
            stream,
            request: Vec::with_capacity(64 * 1024),
            buf: vec![0; 64 * 1024],
            name,
        }
    }

    /// Writes the request, first checking with one non-blocking peek that nothing is unread
    /// if `peek`: the difference the peek makes is what memcache-sync's check costs.
    pub fn send(&mut self, peek: bool) {
        if peek {
            let mut probe = [std::mem::MaybeUninit::<u8>::uninit()];
            let quiet = socket2::SockRef::from(&self.stream)
                .recv_with_flags(&mut probe, libc::MSG_PEEK | libc::MSG_DONTWAIT);
            assert!(
                matches!(&quiet, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
                "nothing is unread before a request"
            );
        }
        let name = self.name;
        self.stream
            .write_all(&self.request)
            .unwrap_or_else(|e| panic!("{name} write: {e}"));
    }

    /// One read into the buffer after its first `len` bytes; returns how many arrived.
    pub fn read_some(&mut self, len: usize) -> usize {
        let name = self.name;
        let n = self
            .stream
            .read(&mut self.buf[len..])
            .unwrap_or_else(|e| panic!("{name} read: {e}"));
        assert!(n > 0, "memcached closed the {name}'s connection");
        n
    }

    /// Reads exactly `expected` bytes (a reply whose length the floor knows in advance).
    pub fn read_exact(&mut self, expected: usize) -> usize {
        if self.buf.len() < expected {
            self.buf.resize(expected, 0);
        }
        let mut len = 0;
        while len < expected {
            len += self.read_some(len);
        }
        assert_eq!(len, expected, "{}: a reply longer than expected", self.name);
        len
    }

    /// Reads until what has arrived ends with `end`; returns its length.
    pub fn read_until(&mut self, end: &[u8]) -> usize {
        let mut len = 0;
        loop {
            if len == self.buf.len() {
                self.buf.resize(len * 2, 0);
            }
            len += self.read_some(len);
            if self.buf[..len].ends_with(end) {
                return len;
            }
        }
    }
}

/// How many decimal digits `n` is written with: the floors compute a reply's length from it.
pub fn digits(n: usize) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}
