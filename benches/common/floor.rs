//! The floor every ratio is taken against: plain `std` TCP (nodelay), one write per request, a
//! reused read buffer, and no parsing beyond finding the reply's end and checking its length.

use std::io::Write;

use memcache_sync::protocol::{split_retrieval_lines, RetrievalCommand};

use super::keys::KEY_LEN;
use super::wire::{digits, Wire};

pub const END: &[u8] = b"END\r\n";
pub const STORED: &[u8] = b"STORED\r\n";

/// One `VALUE` frame of a 32-byte key and a `value_len`-byte value with flags 0, data included.
pub fn frame_len(value_len: usize) -> usize {
    "VALUE ".len() + KEY_LEN + " 0 \r\n".len() + digits(value_len) + value_len + 2
}

/// One `set` request of a 32-byte key and a `value_len`-byte value.
fn set_len(value_len: usize) -> usize {
    "set ".len() + KEY_LEN + " 0 0 \r\n".len() + digits(value_len) + value_len + 2
}

/// `get k1 … kN\r\n`.
pub fn encode_get(request: &mut Vec<u8>, keys: &[&str]) {
    request.extend_from_slice(b"get");
    for key in keys {
        request.push(b' ');
        request.extend_from_slice(key.as_bytes());
    }
    request.extend_from_slice(b"\r\n");
}

pub fn encode_set(request: &mut Vec<u8>, key: &str, value: &[u8]) {
    request.extend_from_slice(b"set ");
    request.extend_from_slice(key.as_bytes());
    // io::Write on the Vec: the floor formats the length without allocating.
    write!(request, " 0 0 {}\r\n", value.len()).unwrap();
    request.extend_from_slice(value);
    request.extend_from_slice(b"\r\n");
}

pub struct Floor {
    wire: Wire,
    /// One non-blocking peek before each request, as memcache-sync checks the connection
    /// before every request: the difference to the floor is the check's cost.
    pub peek: bool,
}

impl Floor {
    pub fn connect(addr: &str) -> Floor {
        Floor {
            wire: Wire::connect(addr, "floor"),
            peek: false,
        }
    }

    /// `get k1 … kN` as one line, every key a hit holding `value_len` bytes.
    pub fn get(&mut self, keys: &[&str], value_len: usize) {
        self.wire.request.clear();
        encode_get(&mut self.wire.request, keys);
        self.wire.send(self.peek);
        let len = self.wire.read_until(END);
        assert_eq!(
            len,
            keys.len() * frame_len(value_len) + END.len(),
            "floor get"
        );
    }

    /// Whether `key` holds nothing.
    pub fn get_miss(&mut self, key: &str) -> bool {
        self.wire.request.clear();
        encode_get(&mut self.wire.request, &[key]);
        self.wire.send(self.peek);
        self.wire.read_until(END) == END.len()
    }

    pub fn set(&mut self, key: &str, value: &[u8]) {
        self.wire.request.clear();
        encode_set(&mut self.wire.request, key, value);
        self.wire.send(self.peek);
        let len = self.wire.read_until(b"\r\n");
        assert_eq!(&self.wire.buf[..len], STORED);
    }

    /// As memcache-sync sends a multi-get: lines of at most 2048 bytes, each closed by END.
    pub fn get_split(&mut self, keys: &[&str], value_len: usize) {
        let lines = split_retrieval_lines(RetrievalCommand::Get, keys);
        self.wire.request.clear();
        for line in &lines {
            encode_get(&mut self.wire.request, &keys[line.clone()]);
        }
        self.wire.send(self.peek);
        self.wire
            .read_exact(keys.len() * frame_len(value_len) + lines.len() * END.len());
    }

    /// Stores every key in windows of about `window` bytes, writing window n+1 before reading
    /// the replies to window n, so the server always has the next window queued while the
    /// client reads; returns how many the server confirmed.
    pub fn bulk(&mut self, keys: &[&str], value: &[u8], window: usize) -> usize {
        let keys_per_window = (window / set_len(value.len())).max(1);
        let mut received = 0;
        let mut answered_target = 0;
        let mut in_flight: Option<usize> = None;
        for window in keys.chunks(keys_per_window) {
            self.wire.request.clear();
            for key in window {
                encode_set(&mut self.wire.request, key, value);
            }
            self.wire.send(self.peek);
            if let Some(previous) = in_flight.replace(window.len()) {
                answered_target += previous * STORED.len();
                self.read_stored(&mut received, answered_target);
            }
        }
        if let Some(last) = in_flight {
            answered_target += last * STORED.len();
            self.read_stored(&mut received, answered_target);
        }
        assert_eq!(received, keys.len() * STORED.len());
        received / STORED.len()
    }

    /// Reads replies until `received` reaches `target` bytes, checking that every byte belongs
    /// to a run of `STORED\r\n`.
    fn read_stored(&mut self, received: &mut usize, target: usize) {
        while *received < target {
            let n = self.wire.read_some(0);
            for (i, &b) in self.wire.buf[..n].iter().enumerate() {
                assert_eq!(
                    b,
                    STORED[(*received + i) % STORED.len()],
                    "a bulk reply other than STORED"
                );
            }
            *received += n;
        }
    }
}
