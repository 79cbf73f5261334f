//! The meta rows' floor: raw `mg` and `ms` over plain `std` TCP (nodelay), the same command
//! lines memcache-sync writes (`mg <key> v O<n>`; `ms <key> <len> F0 T0 c O<n>`, a fresh opaque
//! each), one write per request, a reused read buffer, and no parsing beyond finding the
//! reply's end and checking its length and opaque. The batch row's floor writes a quiet
//! `mg … k O<i> q` per key and one `mn`.

use std::io::Write;

use crate::common::wire::{digits, Wire};

pub struct MetaFloor {
    wire: Wire,
    opaque: u32,
    /// One non-blocking peek before each request, as memcache-sync checks its connection.
    pub peek: bool,
}

impl MetaFloor {
    pub fn connect(addr: &str, peek: bool) -> MetaFloor {
        MetaFloor {
            wire: Wire::connect(addr, "meta floor"),
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
        self.wire.request.clear();
        write!(self.wire.request, "mg {key} v O{opaque}\r\n").unwrap();
        self.wire.send(self.peek);
        let header = digits(value_len) + digits(opaque as usize) + "VA  O\r\n".len();
        let len = self.wire.read_exact(header + value_len + 2);
        let reply = &self.wire.buf[..len];
        assert!(
            reply.starts_with(b"VA ") && reply.ends_with(b"\r\n"),
            "raw mg"
        );
    }

    /// A quiet meta batch of keys that each hold `value_len` bytes, as `meta_get_many` sends
    /// it: `mg <key> v k O<i> q` per key (the position as opaque) and `mn`, in one write;
    /// reads up to `MN`, checking only the total length.
    pub fn get_many(&mut self, keys: &[&str], value_len: usize) {
        self.wire.request.clear();
        let mut expected = "MN\r\n".len();
        for (i, key) in keys.iter().enumerate() {
            write!(self.wire.request, "mg {key} v k O{i} q\r\n").unwrap();
            let header = "VA  k O\r\n".len() + digits(value_len) + key.len();
            expected += header + digits(i) + value_len + 2;
        }
        self.wire.request.extend_from_slice(b"mn\r\n");
        self.wire.send(self.peek);
        let len = self.wire.read_exact(expected);
        assert!(self.wire.buf[..len].ends_with(b"MN\r\n"), "raw mg batch");
    }

    /// `ms <key> <len> F0 T0 c O<n>` and the value: `HD c<cas> O<n>\r\n`.
    pub fn set(&mut self, key: &str, value: &[u8]) {
        let opaque = self.next_opaque();
        self.wire.request.clear();
        write!(
            self.wire.request,
            "ms {key} {} F0 T0 c O{opaque}\r\n",
            value.len()
        )
        .unwrap();
        self.wire.request.extend_from_slice(value);
        self.wire.request.extend_from_slice(b"\r\n");
        self.wire.send(self.peek);
        let len = self.wire.read_until(b"\r\n");
        let line = &self.wire.buf[..len];
        assert!(
            line.starts_with(b"HD c"),
            "raw ms: {:?}",
            line.escape_ascii().to_string()
        );
    }
}
