//! Standard base64 (RFC 4648 §4, `+/` alphabet, `=` padding), the encoding memcached's `b` flag
//! reads keys in and writes echoed keys in.
//!
//! Decoding is strict: the length is a multiple of four, padding appears only at the end, and
//! the bits padding leaves over are zero. memcached 1.6.18 refuses unpadded input
//! (`CLIENT_ERROR error decoding key`) and only ever writes the canonical form, so anything else
//! in a reply is a peer not speaking the protocol, and every byte string has exactly one
//! encoding that decodes to it.
//!
//! ```
//! use memcache_sync::protocol::meta::base64;
//! let mut wire = Vec::new();
//! base64::encode(b"\x00\x01 \r\n", &mut wire);
//! assert_eq!(wire, b"AAEgDQo=");
//! let mut raw = Vec::new();
//! base64::decode(&wire, &mut raw)?;
//! assert_eq!(raw, b"\x00\x01 \r\n");
//! # Ok::<(), base64::DecodeError>(())
//! ```

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Marks bytes outside the alphabet in [`DECODE`].
const INVALID: u8 = 0xff;

/// Each byte's 6-bit value, or [`INVALID`]: one table lookup per input byte.
const DECODE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < ALPHABET.len() {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Why bytes are not canonical base64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The length is not a multiple of four: unpadded or truncated.
    #[error("base64 of {len} bytes: the length must be a multiple of 4")]
    Length {
        /// The input's length.
        len: usize,
    },
    /// A byte outside the alphabet, or `=` anywhere but the end.
    #[error("byte {byte:#04x} at index {index} is not base64 there")]
    Byte {
        /// The offending byte.
        byte: u8,
        /// Where it is in the input.
        index: usize,
    },
    /// The last character before the padding carries bits the padding says are unused: some
    /// other encoder's output, not memcached's.
    #[error("the base64 padding leaves non-zero bits at index {index}")]
    NonCanonical {
        /// The index of the character with the stray bits.
        index: usize,
    },
}

/// How many bytes [`encode`] writes for `len` input bytes (saturating, so a length near
/// `usize::MAX` cannot overflow).
pub const fn encoded_len(len: usize) -> usize {
    len.div_ceil(3).saturating_mul(4)
}

/// The most bytes `len` bytes of base64 can decode to.
pub const fn decoded_len_max(len: usize) -> usize {
    len / 4 * 3
}

/// Appends the base64 encoding of `input` to `out`.
pub fn encode(input: &[u8], out: &mut Vec<u8>) {
    out.reserve(encoded_len(input.len()));
    let mut chunks = input.chunks_exact(3);
    for chunk in &mut chunks {
        let n = u32::from(chunk[0]) << 16 | u32::from(chunk[1]) << 8 | u32::from(chunk[2]);
        out.extend_from_slice(&[
            ALPHABET[(n >> 18) as usize & 63],
            ALPHABET[(n >> 12) as usize & 63],
            ALPHABET[(n >> 6) as usize & 63],
            ALPHABET[n as usize & 63],
        ]);
    }
    match *chunks.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            out.extend_from_slice(&[
                ALPHABET[(n >> 18) as usize & 63],
                ALPHABET[(n >> 12) as usize & 63],
                b'=',
                b'=',
            ]);
        }
        [a, b] => {
            let n = u32::from(a) << 16 | u32::from(b) << 8;
            out.extend_from_slice(&[
                ALPHABET[(n >> 18) as usize & 63],
                ALPHABET[(n >> 12) as usize & 63],
                ALPHABET[(n >> 6) as usize & 63],
                b'=',
            ]);
        }
        _ => {}
    }
}

/// Checks that `input` is canonical base64 and returns how many bytes it decodes to, without
/// decoding it anywhere.
pub fn validate(input: &[u8]) -> Result<usize, DecodeError> {
    let mut len = 0;
    for_each_group(input, |_, n| len += n)?;
    Ok(len)
}

/// Appends the bytes `input` encodes to `out`. On error `out` is left as it was.
pub fn decode(input: &[u8], out: &mut Vec<u8>) -> Result<(), DecodeError> {
    validate(input)?;
    out.reserve(decoded_len_max(input.len()));
    for_each_group(input, |group, n| out.extend_from_slice(&group[..n]))
}

/// Decodes `input` into the front of `out` and returns how many bytes it wrote: decoding
/// without allocating, for keys echoed in replies (at most 250 bytes, so 187 decoded). An `out`
/// too short for the decoded bytes is reported as [`DecodeError::Length`].
pub fn decode_to_slice(input: &[u8], out: &mut [u8]) -> Result<usize, DecodeError> {
    let len = validate(input)?;
    if len > out.len() {
        return Err(DecodeError::Length { len: input.len() });
    }
    let mut written = 0;
    for_each_group(input, |group, n| {
        out[written..written + n].copy_from_slice(&group[..n]);
        written += n;
    })?;
    Ok(written)
}

/// Whether `input` (already known to be canonical base64) decodes to exactly `raw`, compared
/// group by group without a buffer.
pub(crate) fn decodes_to(input: &[u8], raw: &[u8]) -> bool {
    let mut rest = raw;
    let mut equal = true;
    let walked = for_each_group(input, |group, n| {
        if !equal {
            return;
        }
        match rest.split_at_checked(n) {
            Some((head, tail)) if head == &group[..n] => rest = tail,
            _ => equal = false,
        }
    });
    walked.is_ok() && equal && rest.is_empty()
}

/// Decodes `input` four characters at a time, handing each group's bytes (1 to 3 of them) to
/// `sink`. Stops at the first error, after handing over the groups before it.
fn for_each_group(input: &[u8], mut sink: impl FnMut(&[u8; 3], usize)) -> Result<(), DecodeError> {
    if !input.len().is_multiple_of(4) {
        return Err(DecodeError::Length { len: input.len() });
    }
    let groups = input.len() / 4;
    for (g, chunk) in input.chunks_exact(4).enumerate() {
        let base = g * 4;
        let last = g + 1 == groups;
        let padding = match chunk {
            [_, _, b'=', b'='] if last => 2,
            [_, _, _, b'='] if last => 1,
            _ => 0,
        };
        let mut n = 0u32;
        for (i, &byte) in chunk[..4 - padding].iter().enumerate() {
            let value = DECODE[usize::from(byte)];
            if value == INVALID {
                return Err(DecodeError::Byte {
                    byte,
                    index: base + i,
                });
            }
            n = n << 6 | u32::from(value);
        }
        n <<= 6 * padding as u32;
        let unused_bits = match padding {
            2 => n & 0xffff,
            1 => n & 0xff,
            _ => 0,
        };
        if unused_bits != 0 {
            return Err(DecodeError::NonCanonical {
                index: base + 3 - padding,
            });
        }
        let group = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        sink(&group, 3 - padding);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode(input, &mut out);
        out
    }

    #[test]
    fn rfc_4648_test_vectors() {
        for (raw, wire) in [
            (&b""[..], &b""[..]),
            (b"f", b"Zg=="),
            (b"fo", b"Zm8="),
            (b"foo", b"Zm9v"),
            (b"foob", b"Zm9vYg=="),
            (b"fooba", b"Zm9vYmE="),
            (b"foobar", b"Zm9vYmFy"),
        ] {
            assert_eq!(encoded(raw), wire);
            let mut out = Vec::new();
            decode(wire, &mut out).unwrap();
            assert_eq!(out, raw);
            assert!(decodes_to(wire, raw));
        }
    }

    #[test]
    fn the_whole_alphabet_round_trips() {
        let raw: Vec<u8> = (0..=255).collect();
        let wire = encoded(&raw);
        assert!(wire.contains(&b'+') && wire.contains(&b'/'));
        let mut out = Vec::new();
        decode(&wire, &mut out).unwrap();
        assert_eq!(out, raw);
    }

    #[test]
    fn unpadded_misplaced_padding_foreign_bytes_and_stray_bits_are_refused() {
        let mut out = Vec::new();
        assert_eq!(decode(b"Zg", &mut out), Err(DecodeError::Length { len: 2 }));
        assert_eq!(
            decode(b"Zg==Zg==", &mut out),
            Err(DecodeError::Byte {
                byte: b'=',
                index: 2
            })
        );
        assert_eq!(
            decode(b"Z===", &mut out),
            Err(DecodeError::Byte {
                byte: b'=',
                index: 1
            })
        );
        assert_eq!(
            decode(b"Zm9_", &mut out),
            Err(DecodeError::Byte {
                byte: b'_',
                index: 3
            })
        );
        assert_eq!(
            decode(b"Zh==", &mut out),
            Err(DecodeError::NonCanonical { index: 1 })
        );
        assert_eq!(
            decode(b"Zm9=", &mut out),
            Err(DecodeError::NonCanonical { index: 2 })
        );
        assert!(out.is_empty(), "a refused input appended {out:?}");
    }

    #[test]
    fn decoding_into_a_slice_needs_room_for_every_byte() {
        let mut out = [0u8; 3];
        assert_eq!(decode_to_slice(b"Zm9v", &mut out), Ok(3));
        assert_eq!(&out, b"foo");
        assert_eq!(
            decode_to_slice(b"Zm9vYg==", &mut out),
            Err(DecodeError::Length { len: 8 })
        );
    }

    #[test]
    fn decodes_to_compares_length_and_content() {
        assert!(!decodes_to(b"Zm9v", b"fo"));
        assert!(!decodes_to(b"Zm9v", b"fooo"));
        assert!(!decodes_to(b"Zm9v", b"fox"));
        assert!(decodes_to(b"", b""));
    }

    #[test]
    fn lengths() {
        assert_eq!(encoded_len(0), 0);
        assert_eq!(encoded_len(1), 4);
        assert_eq!(encoded_len(186), 248);
        assert_eq!(encoded_len(187), 252);
        assert_eq!(encoded_len(usize::MAX), usize::MAX);
        assert_eq!(decoded_len_max(250), 186);
    }
}
