//! The floor every ratio is taken against: plain `std` TCP (nodelay), one write per request, a
//! reused read buffer, and no parsing beyond finding the reply's end and checking its length.

use std::io::{Read, Write};
use std::net::TcpStream;

use memcache_sync::protocol::{split_retrieval_lines, RetrievalCommand};

use super::keys::KEY_LEN;

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

fn digits(n: usize) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
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
    stream: TcpStream,
    request: Vec<u8>,
    buf: Vec<u8>,
    /// One non-blocking peek before each request, as memcache-sync checks the connection
    /// before every request: the difference to the floor is the check's cost.
    pub peek: bool,
}

impl Floor {
    pub fn connect(addr: &str) -> Floor {
        let stream = TcpStream::connect(addr).expect("floor connects");
        stream.set_nodelay(true).unwrap();
        Floor {
            stream,
            request: Vec::with_capacity(64 * 1024),
            buf: vec![0; 64 * 1024],
            peek: false,
        }
    }

    /// `get k1 … kN` as one line, every key a hit holding `value_len` bytes.
    pub fn get(&mut self, keys: &[&str], value_len: usize) {
        self.request.clear();
        encode_get(&mut self.request, keys);
        self.send();
        let len = self.read_until(END);
        assert_eq!(
            len,
            keys.len() * frame_len(value_len) + END.len(),
            "floor get"
        );
    }

    /// Whether `key` holds nothing.
    pub fn get_miss(&mut self, key: &str) -> bool {
        self.request.clear();
        encode_get(&mut self.request, &[key]);
        self.send();
        self.read_until(END) == END.len()
    }

    pub fn set(&mut self, key: &str, value: &[u8]) {
        self.request.clear();
        encode_set(&mut self.request, key, value);
        self.send();
        let len = self.read_until(b"\r\n");
        assert_eq!(&self.buf[..len], STORED);
    }

    /// As memcache-sync sends a multi-get: lines of at most 2048 bytes, each closed by END.
    pub fn get_split(&mut self, keys: &[&str], value_len: usize) {
        let lines = split_retrieval_lines(RetrievalCommand::Get, keys);
        self.request.clear();
        for line in &lines {
            encode_get(&mut self.request, &keys[line.clone()]);
        }
        self.send();
        let expected = keys.len() * frame_len(value_len) + lines.len() * END.len();
        if self.buf.len() < expected {
            self.buf.resize(expected, 0);
        }
        let mut len = 0;
        while len < expected {
            len += self.read_some(len);
        }
        assert_eq!(len, expected, "floor get_many (split lines)");
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
            self.request.clear();
            for key in window {
                encode_set(&mut self.request, key, value);
            }
            self.send();
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
        let mut written = 0;
        while written < self.request.len() {
            written += self
                .stream
                .write(&self.request[written..])
                .expect("floor write");
        }
    }

    /// One read into the buffer after its first `len` bytes; returns how many arrived.
    fn read_some(&mut self, len: usize) -> usize {
        let n = self.stream.read(&mut self.buf[len..]).expect("floor read");
        assert!(n > 0, "memcached closed the floor's connection");
        n
    }

    /// Reads until what has arrived ends with `end`; returns its length.
    fn read_until(&mut self, end: &[u8]) -> usize {
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

    /// Reads replies until `received` reaches `target` bytes, checking that every byte belongs
    /// to a run of `STORED\r\n`.
    fn read_stored(&mut self, received: &mut usize, target: usize) {
        while *received < target {
            let n = self.read_some(0);
            for (i, &b) in self.buf[..n].iter().enumerate() {
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
