//! Decoding a stream fed in chunks, as a socket delivers it, must give exactly the frames and
//! the error that decoding the whole stream at once gives.
//!
//! Input layout: two bytes, little-endian, are the `max_value_len` (0..=65535); the third picks
//! the cut points; the rest is the stream. With `m = third % 32 + 1`, the stream is cut before
//! every byte `i` (`0 < i < len`) where `(stream[i - 1] + i) % m == 0`: `m = 1` feeds it byte by
//! byte, larger values in fewer, data-dependent chunks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use memcache_sync::protocol::{parse_reply, ProtocolError, Reply, Status};

/// Frames (with their lengths) decoded from the start of `buf` until it is incomplete or broken,
/// the error that stopped it, and how many bytes the frames used.
fn decode(buf: &[u8], limit: usize) -> (Vec<(Reply<'_>, usize)>, Option<ProtocolError>, usize) {
    let mut frames = Vec::new();
    let mut used = 0;
    loop {
        match parse_reply(&buf[used..], limit) {
            Ok(Status::Complete { frame, len }) => {
                assert!(len > 0 && len <= buf.len() - used);
                frames.push((frame, len));
                used += len;
            }
            Ok(Status::Incomplete) => return (frames, None, used),
            Err(e) => return (frames, Some(e), used),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((head, stream)) = data.split_first_chunk::<3>() else {
        return;
    };
    let limit = usize::from(u16::from_le_bytes([head[0], head[1]]));
    let modulus = usize::from(head[2] % 32) + 1;

    let (whole, whole_error, whole_used) = decode(stream, limit);

    let mut buf: Vec<u8> = Vec::new();
    let mut next = 0; // index in `whole` of the next frame expected
    let mut chunk_start = 0;
    let mut chunked_error = None;
    for i in 1..=stream.len() {
        let cut = i == stream.len() || (usize::from(stream[i - 1]) + i) % modulus == 0;
        if !cut {
            continue;
        }
        buf.extend_from_slice(&stream[chunk_start..i]);
        chunk_start = i;
        let (frames, error, used) = decode(&buf, limit);
        for (frame, len) in frames {
            assert!(
                next < whole.len(),
                "chunked decoding found frame {next} {frame:?}; whole decoding found only {}",
                whole.len()
            );
            assert_eq!((frame, len), whole[next], "frame {next}");
            next += 1;
        }
        buf.drain(..used);
        if error.is_some() {
            chunked_error = error;
            break;
        }
    }
    assert_eq!(next, whole.len(), "chunked decoding found fewer frames");
    assert_eq!(chunked_error, whole_error);
    if whole_error.is_none() {
        assert_eq!(
            buf.len(),
            stream.len() - whole_used,
            "leftover bytes differ"
        );
    }
});
