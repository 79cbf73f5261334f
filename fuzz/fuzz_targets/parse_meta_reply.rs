//! Feeds arbitrary bytes to `parse_meta_reply` frame after frame, as a connection's reader would.
//!
//! Input layout: two bytes, little-endian, are the `max_value_len` (0..=65535); the rest is what
//! the "server" sent. At every frame boundary the bytes are decoded under that small limit and
//! under `usize::MAX` (a caller that sets no limit). Checks:
//! - a `Complete` frame has a length in `1..=remaining`, and re-encoding it with
//!   `encode_meta_reply` gives bytes, no longer than the original, that decode to the same frame;
//! - `Incomplete` only happens while the buffer is shorter than
//!   `MAX_LINE_LEN + max_value_len + 2`, so a reader never buffers past that bound;
//! - an error's excerpt is short and escaped;
//! - the unbounded decode never panics, and agrees with the bounded one except where the
//!   bounded one refused a `VA` as too long.
#![no_main]

use libfuzzer_sys::fuzz_target;
use memcache_sync::protocol::meta::{encode_meta_reply, parse_meta_reply};
use memcache_sync::protocol::{ProtocolErrorKind, Status, MAX_LINE_LEN};

fuzz_target!(|data: &[u8]| {
    let Some((head, wire)) = data.split_first_chunk::<2>() else {
        return;
    };
    let limit = usize::from(u16::from_le_bytes(*head));
    let mut rest = wire;
    let mut reencoded = Vec::new();
    loop {
        let bounded = parse_meta_reply(rest, limit);
        let unbounded = parse_meta_reply(rest, usize::MAX);
        if !matches!(
            bounded,
            Err(ref e) if matches!(e.kind, ProtocolErrorKind::ValueTooLong { .. })
        ) {
            assert_eq!(unbounded, bounded, "a larger limit changed the outcome");
        }
        match bounded {
            Ok(Status::Complete { frame, len }) => {
                assert!(len > 0 && len <= rest.len(), "frame length {len} for {} bytes", rest.len());
                reencoded.clear();
                encode_meta_reply(&frame, &mut reencoded);
                assert!(reencoded.len() <= len, "re-encoding grew the frame");
                assert_eq!(
                    parse_meta_reply(&reencoded, limit),
                    Ok(Status::Complete { frame, len: reencoded.len() }),
                    "re-encoded {:?}",
                    reencoded.escape_ascii().to_string()
                );
                rest = &rest[len..];
            }
            Ok(Status::Incomplete) => {
                assert!(
                    rest.len() < MAX_LINE_LEN + limit + 2,
                    "Incomplete with {} bytes buffered under a {limit}-byte limit",
                    rest.len()
                );
                return;
            }
            Err(e) => {
                assert!(e.excerpt.chars().count() <= 200, "excerpt {:?}", e.excerpt);
                assert!(!e.excerpt.contains(['\r', '\n', '\0']), "unescaped {:?}", e.excerpt);
                return;
            }
        }
    }
});
