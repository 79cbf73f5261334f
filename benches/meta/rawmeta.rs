//! The meta rows' floor: raw `mg` and `ms` over plain `std` TCP (nodelay), the same command
//! lines memcache-sync writes (`mg <key> v O<n>`; `ms <key> <len> F0 T0 c O<n>`, a fresh opaque
//! each), one write per request, a reused read buffer, and no parsing beyond finding the
//! reply's end and checking its length and opaque. The batch row's floor writes a quiet
//! `mg … k O<i> q` per key and one `mn`.

use std::io::{Read, Write};
use std::net::TcpStream;

pub struct MetaFloor {
    stream: TcpStream,
    request: Vec<u8>,
    buf: Vec<u8>,
    opaque: u32,
    /// One non-blocking peek before each request, as memcache-sync checks its connection.
    pub peek: bool,
}

impl MetaFloor {
    pub fn connect(addr: &str, peek: bool) -> MetaFloor {
        let stream = TcpStream::connect(addr).expect("meta floor connects");
        stream.set_nodelay(true).unwrap();
        MetaFloor {
            stream,
            request: Vec::with_capacity(64 * 1024),
            buf: vec![0; 64 * 1024],
            opaque: 0,
            peek,
        }
    }

    /// A fresh opaque token, as the client sends one per request.
    fn next_opaque(&mut self) -> u32 {
        self.opaque = self.opaque.wrapping_add(1);
        self.opaque
    }

    /// `mg <key> v O<n>` of a key that holds `value_len` bytes: `VA <len> O<n>\r\n<data>\r\n`.
    pub fn get(&mut self, key: &str, value_len: usize) {
        let opaque = self.next_opaque();
        self.request.clear();
        write!(self.request, "mg {key} v O{opaque}\r\n").unwrap();
        self.send();
        let header = digits(value_len as u64) + digits(u64::from(opaque)) + "VA  O\r\n".len();
        let len = self.read_to(header + value_len + 2);
        assert!(
            self.buf[..len].starts_with(b"VA ") && self.buf[..len].ends_with(b"\r\n"),
            "raw mg"
        );
    }

    /// A quiet meta batch of keys that each hold `value_len` bytes, as `meta_get_many` sends
    /// it: `mg <key> v k O<i> q` per key (the position as opaque) and `mn`, in one write;
    /// reads up to `MN`, checking only the total length.
    pub fn get_many(&mut self, keys: &[&str], value_len: usize) {
        self.request.clear();
        let mut expected = "MN\r\n".len();
        for (i, key) in keys.iter().enumerate() {
            write!(self.request, "mg {key} v k O{i} q\r\n").unwrap();
            let header = "VA  k O\r\n".len() + digits(value_len as u64) + key.len();
            expected += header + digits(i as u64) + value_len + 2;
        }
        self.request.extend_from_slice(b"mn\r\n");
        self.send();
        let len = self.read_to(expected);
        assert!(self.buf[..len].ends_with(b"MN\r\n"), "raw mg batch");
    }

    /// `ms <key> <len> F0 T0 c O<n>` and the value: `HD c<cas> O<n>\r\n`.
    pub fn set(&mut self, key: &str, value: &[u8]) {
        let opaque = self.next_opaque();
        self.request.clear();
        write!(
            self.request,
            "ms {key} {} F0 T0 c O{opaque}\r\n",
            value.len()
        )
        .unwrap();
        self.request.extend_from_slice(value);
        self.request.extend_from_slice(b"\r\n");
        self.send();
        let len = self.read_line();
        let line = &self.buf[..len];
        assert!(
            line.starts_with(b"HD c"),
            "raw ms: {:?}",
            line.escape_ascii().to_string()
        );
    }

    fn send(&mut self) {
        if self.peek {
            let mut probe = [std::mem::MaybeUninit::<u8>::uninit()];
            let quiet = socket2::SockRef::from(&self.stream)
                .recv_with_flags(&mut probe, libc::MSG_PEEK | libc::MSG_DONTWAIT);
            assert!(
                matches!(&quiet, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
                "nothing is unread before a request"
            );
        }
        self.stream
            .write_all(&self.request)
            .expect("meta floor write");
    }

    fn read_some(&mut self, len: usize) -> usize {
        let n = self
            .stream
            .read(&mut self.buf[len..])
            .expect("meta floor read");
        assert!(n > 0, "memcached closed the meta floor's connection");
        n
    }

    /// Reads exactly `expected` bytes.
    fn read_to(&mut self, expected: usize) -> usize {
        if self.buf.len() < expected {
            self.buf.resize(expected, 0);
        }
        let mut len = 0;
        while len < expected {
            len += self.read_some(len);
        }
        assert_eq!(len, expected, "a reply longer than expected");
        len
    }

    /// Reads one reply line.
    fn read_line(&mut self) -> usize {
        let mut len = 0;
        loop {
            len += self.read_some(len);
            if self.buf[..len].ends_with(b"\r\n") {
                return len;
            }
        }
    }
}

fn digits(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}
