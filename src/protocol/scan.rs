//! Byte scans eight bytes at a time, for the two scans every request and reply makes: the
//! end of a reply line, and the bytes a key may not hold. Safe code over `u64` words (the
//! standard library's `memchr` is not public); the tail shorter than a word is scanned byte by
//! byte.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether some byte of `word` is zero. Exact: a borrow can only start at a zero byte, so
/// the lowest flagged byte is a zero byte (bytes above it may be flagged falsely, which the
/// callers do not rely on).
fn has_zero(word: u64) -> bool {
    word.wrapping_sub(ONES) & !word & HIGHS != 0
}

/// Whether some byte of `word` is less than `n` (`n` at most 128). Exact in the same sense as
/// [`has_zero`].
fn has_less(word: u64, n: u8) -> bool {
    word.wrapping_sub(ONES * u64::from(n)) & !word & HIGHS != 0
}

fn words(bytes: &[u8]) -> (std::slice::ChunksExact<'_, u8>, usize) {
    let chunks = bytes.chunks_exact(8);
    let tail = bytes.len() - chunks.remainder().len();
    (chunks, tail)
}

fn word(chunk: &[u8]) -> u64 {
    u64::from_le_bytes(chunk.try_into().expect("a chunk of eight bytes"))
}

/// The position of the first `byte` in `haystack`.
pub(crate) fn find_byte(haystack: &[u8], byte: u8) -> Option<usize> {
    let pattern = ONES * u64::from(byte);
    let (chunks, tail) = words(haystack);
    for (i, chunk) in chunks.enumerate() {
        if has_zero(word(chunk) ^ pattern) {
            let at = i * 8;
            return haystack[at..at + 8]
                .iter()
                .position(|&b| b == byte)
                .map(|p| at + p);
        }
    }
    haystack[tail..]
        .iter()
        .position(|&b| b == byte)
        .map(|p| tail + p)
}

/// Whether `key` holds a byte no memcached key may: a control byte, a space, or DEL.
pub(crate) fn has_forbidden_key_byte(key: &[u8]) -> bool {
    let forbidden = |b: u8| b <= b' ' || b == 0x7f;
    let (chunks, tail) = words(key);
    let mut seen = false;
    for chunk in chunks {
        let word = word(chunk);
        seen |= has_less(word, b' ' + 1) | has_zero(word ^ (ONES * 0x7f));
    }
    seen || key[tail..].iter().any(|&b| forbidden(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn find_byte_finds_what_position_finds(
            haystack in proptest::collection::vec(any::<u8>(), 0..80),
            byte in any::<u8>(),
        ) {
            prop_assert_eq!(find_byte(&haystack, byte), haystack.iter().position(|&b| b == byte));
        }

        #[test]
        fn a_forbidden_key_byte_is_found_wherever_it_is(
            key in proptest::collection::vec(any::<u8>(), 0..80),
        ) {
            let expected = key.iter().any(|&b| b <= b' ' || b == 0x7f);
            prop_assert_eq!(has_forbidden_key_byte(&key), expected);
        }

        #[test]
        fn a_key_of_allowed_bytes_with_one_forbidden_byte_anywhere_is_caught(
            len in 1usize..64,
            at in any::<proptest::sample::Index>(),
            bad in prop_oneof![0u8..=b' ', Just(0x7fu8)],
            fill in 0x21u8..0x7f,
        ) {
            let mut key = vec![fill; len];
            prop_assert!(!has_forbidden_key_byte(&key));
            key[at.index(len)] = bad;
            prop_assert!(has_forbidden_key_byte(&key));
        }
    }

    #[test]
    fn every_byte_value_in_every_lane_is_judged_exactly() {
        for lane in 0..8 {
            for byte in 0..=255u8 {
                let mut key = [b'k'; 8];
                key[lane] = byte;
                assert_eq!(
                    has_forbidden_key_byte(&key),
                    byte <= b' ' || byte == 0x7f,
                    "byte {byte:#x} in lane {lane}"
                );
                assert_eq!(find_byte(&key, byte), key.iter().position(|&b| b == byte));
            }
        }
    }
}
