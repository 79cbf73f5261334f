//! Private memcached processes (the integration tests' own), and an untimed side connection
//! that loads, inspects and verifies them without the clients under test.

#[path = "../../tests/support/memcached.rs"]
mod support;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::floor::{encode_get, encode_set, END, STORED};
pub use support::Memcached;

/// Raw `std` TCP, never timed: setup and verification only.
pub struct Side(TcpStream);

impl Side {
    pub fn connect(addr: &str) -> Side {
        let stream = TcpStream::connect(addr).expect("side connection connects");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        Side(stream)
    }

    fn exchange(&mut self, request: &[u8], end: &[u8]) -> Vec<u8> {
        self.0.write_all(request).unwrap();
        let mut reply = Vec::new();
        let mut chunk = [0u8; 64 * 1024];
        while !reply.ends_with(end) {
            let n = self.0.read(&mut chunk).unwrap();
            assert!(n > 0, "memcached closed the side connection");
            reply.extend_from_slice(&chunk[..n]);
        }
        reply
    }

    pub fn version(&mut self) -> String {
        let reply = self.exchange(b"version\r\n", b"\r\n");
        String::from_utf8_lossy(&reply)
            .trim()
            .trim_start_matches("VERSION ")
            .to_string()
    }

    pub fn stats(&mut self) -> HashMap<String, u64> {
        let reply = self.exchange(b"stats\r\n", END);
        String::from_utf8_lossy(&reply)
            .lines()
            .filter_map(|line| {
                let mut parts = line.strip_prefix("STAT ")?.splitn(2, ' ');
                let name = parts.next()?.to_string();
                Some((name, parts.next()?.trim().parse().ok()?))
            })
            .collect()
    }

    /// Stores `value` under every key, pipelined, and checks every reply.
    pub fn load(&mut self, keys: &[&str], value: &[u8]) {
        // A few MiB at a time, so the replies (8 bytes a key) never fill the socket while the
        // requests are still being written.
        let per_chunk = (4 * 1024 * 1024 / (value.len() + 64)).clamp(1, 500);
        let mut request = Vec::new();
        for chunk in keys.chunks(per_chunk) {
            request.clear();
            for key in chunk {
                encode_set(&mut request, key, value);
            }
            self.0.write_all(&request).unwrap();
            let expected = STORED.repeat(chunk.len());
            let mut reply = vec![0; expected.len()];
            self.0.read_exact(&mut reply).unwrap();
            assert_eq!(reply, expected, "preload");
        }
    }

    /// Checks that each of `keys` holds exactly `value` (any flags), 100 keys a request.
    pub fn check_values(&mut self, keys: &[&str], value: &[u8]) {
        let mut request = Vec::new();
        for chunk in keys.chunks(100) {
            request.clear();
            encode_get(&mut request, chunk);
            let reply = self.exchange(&request, END);
            let mut at = 0;
            for key in chunk {
                let line_end = at
                    + reply[at..]
                        .windows(2)
                        .position(|w| w == b"\r\n")
                        .expect("a VALUE line");
                let line = std::str::from_utf8(&reply[at..line_end]).expect("ASCII header");
                let fields: Vec<&str> = line.split(' ').collect();
                assert!(
                    fields.len() == 4 && fields[0] == "VALUE" && fields[1] == *key,
                    "expected VALUE {key}, got {line:?}"
                );
                assert_eq!(fields[3], value.len().to_string(), "{key}: length");
                let data = &reply[line_end + 2..line_end + 2 + value.len()];
                assert_eq!(data, value, "{key}: wrong value");
                at = line_end + 2 + value.len() + 2;
            }
            assert_eq!(&reply[at..], END, "trailing bytes after the sampled values");
        }
    }
}
