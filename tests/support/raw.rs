//! Reading and writing a server's items over a plain socket, never through the client under
//! test: what a test checks the client against must not depend on the client.

use std::collections::HashMap;

use crate::memcached::raw_exchange;

/// Keys a single raw `get` asks for at most, so a request stays far below any line limit.
const KEYS_PER_GET: usize = 40;

/// What the server at `addr` (TCP, or a Unix socket for a path) holds under `key`.
pub fn raw_get(addr: &str, key: &[u8]) -> Option<Vec<u8>> {
    raw_get_many(addr, &[key.to_vec()]).remove(key)
}

/// What the server at `addr` holds of `keys`: the hits only, by key.
pub fn raw_get_many(addr: &str, keys: &[Vec<u8>]) -> HashMap<Vec<u8>, Vec<u8>> {
    let mut found = HashMap::new();
    for chunk in keys.chunks(KEYS_PER_GET) {
        let mut request = b"get".to_vec();
        for key in chunk {
            request.push(b' ');
            request.extend_from_slice(key);
        }
        request.extend_from_slice(b"\r\n");
        found.extend(parse_values(&raw_exchange(addr, &request, b"END\r\n")));
    }
    found
}

/// Stores `value` under `key` (flags 0, no expiry) on the server at `addr`; panics unless it
/// is `STORED`.
pub fn raw_set(addr: &str, key: &[u8], value: &[u8]) {
    let mut request = b"set ".to_vec();
    request.extend_from_slice(key);
    request.extend_from_slice(format!(" 0 0 {}\r\n", value.len()).as_bytes());
    request.extend_from_slice(value);
    request.extend_from_slice(b"\r\n");
    assert_eq!(
        raw_exchange(addr, &request, b"\r\n"),
        b"STORED\r\n",
        "raw set of {} on {addr}",
        key.escape_ascii()
    );
}

/// The hits of a `VALUE … END` reply, by key; panics on anything else, so a reply the test
/// did not expect is never read as a miss.
fn parse_values(mut reply: &[u8]) -> HashMap<Vec<u8>, Vec<u8>> {
    let mut found = HashMap::new();
    loop {
        let line_end = reply
            .windows(2)
            .position(|w| w == b"\r\n")
            .unwrap_or_else(|| panic!("unterminated line in \"{}\"", reply.escape_ascii()));
        let line = &reply[..line_end];
        reply = &reply[line_end + 2..];
        if line == b"END" {
            assert!(
                reply.is_empty(),
                "bytes after END: \"{}\"",
                reply.escape_ascii()
            );
            return found;
        }
        let header = String::from_utf8_lossy(line);
        let parts: Vec<&str> = header.split(' ').collect();
        assert!(
            parts.len() == 4 && parts[0] == "VALUE",
            "unexpected line {header:?}"
        );
        let len: usize = parts[3].parse().unwrap();
        assert_eq!(&reply[len..len + 2], b"\r\n", "value of {len} bytes");
        found.insert(parts[1].as_bytes().to_vec(), reply[..len].to_vec());
        reply = &reply[len + 2..];
    }
}
