//! Byte scans eight bytes at a time, for the two scans every request and reply makes: the
//! end of a reply line, and the bytes a key may not hold. Safe code over `u64` words (the
//! standard library's `memchr` is not public); only input shorter than a word is scanned byte
//! by byte.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of every byte of `word` that may be zero. Exact at the lowest flagged byte: a
/// borrow can only start at a zero byte, so the lowest flagged byte is a zero byte (bytes above
/// it may be flagged falsely, which the callers do not rely on).
fn zero_bytes(word: u64) -> u64 {
    word.wrapping_sub(ONES) & !word & HIGHS
}

/// The high bit of every byte of `word` that may be less than `n` (`n` at most 128). Exact at
/// the lowest flagged byte, in the same sense as [`zero_bytes`].
fn bytes_less_than(word: u64, n: u8) -> u64 {
    word.wrapping_sub(ONES * u64::from(n)) & !word & HIGHS
}

/// The high bit of every byte of `word` no key may hold (a control byte, a space, DEL); exact
/// at the lowest flagged byte, as each of the two masks it joins is.
fn forbidden_key_bytes(word: u64) -> u64 {
    bytes_less_than(word, b' ' + 1) | zero_bytes(word ^ (ONES * 0x7f))
}

/// The byte the lowest flag of `mask` stands for, counted from the start of its word (words
/// are read little-endian, so the first byte is the lowest).
fn first_flagged(mask: u64) -> usize {
    (mask.trailing_zeros() / 8) as usize
}

/// The eight bytes of `bytes` from `at`, as one little-endian word.
fn word_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// The position of the first byte of `bytes` that `matches`, found a word at a time by
/// `mask` (which flags, exactly at its lowest flag, the bytes of a word that match). A tail
/// after the last whole word is read as the last eight bytes, overlapping the word before:
/// cheaper than a byte at a time, and the bytes it shares were found not to match, so its
/// first flag is in the tail. Only input shorter than a word goes byte by byte.
fn first_match(
    bytes: &[u8],
    mask: impl Fn(u64) -> u64,
    matches: impl Fn(u8) -> bool,
) -> Option<usize> {
    let Some(last) = bytes.len().checked_sub(8) else {
        return bytes.iter().position(|&b| matches(b));
    };
    let chunks = bytes.chunks_exact(8);
    let whole = bytes.len() - chunks.remainder().len();
    for (i, chunk) in chunks.enumerate() {
        let flags = mask(word_at(chunk, 0));
        if flags != 0 {
            return Some(i * 8 + first_flagged(flags));
        }
    }
    if whole == bytes.len() {
        return None;
    }
    let flags = mask(word_at(bytes, last));
    (flags != 0).then(|| last + first_flagged(flags))
}

/// The position of the first `byte` in `haystack`.
pub(crate) fn find_byte(haystack: &[u8], byte: u8) -> Option<usize> {
    let pattern = ONES * u64::from(byte);
    first_match(haystack, |word| zero_bytes(word ^ pattern), |b| b == byte)
}

fn forbidden(b: u8) -> bool {
    b <= b' ' || b == 0x7f
}

/// Whether `key` holds a byte no memcached key may: a control byte, a space, or DEL. Every
/// word is checked, with no early exit: keys almost always pass, and a branch per word would
/// cost them. Keys of sixteen bytes or more go sixteen bytes (two words) per step, the last
/// sixteen overlapping the step before (see [`first_match`]); shorter ones are two words,
/// overlapping, or bytes.
pub(crate) fn has_forbidden_key_byte(key: &[u8]) -> bool {
    let two_words = |at: usize| {
        forbidden_key_bytes(word_at(key, at)) | forbidden_key_bytes(word_at(key, at + 8))
    };
    let Some(last) = key.len().checked_sub(16) else {
        let Some(last) = key.len().checked_sub(8) else {
            return key.iter().any(|&b| forbidden(b));
        };
        return forbidden_key_bytes(word_at(key, 0)) | forbidden_key_bytes(word_at(key, last)) != 0;
    };
    let mut seen = 0;
    let mut at = 0;
    while at < last {
        seen |= two_words(at);
        at += 16;
    }
    seen | two_words(last) != 0
}

/// Whether `a` and `b` hold the same bytes: a word at a time for eight bytes or more, the last
/// word overlapping the one before (see [`first_match`]), without a call out. Keys are
/// compared once per `VALUE` of a multi-get, and are short enough that the call to `memcmp`
/// the standard comparison makes costs more than the comparison.
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let Some(last) = a.len().checked_sub(8) else {
        return a.iter().zip(b).all(|(x, y)| x == y);
    };
    let mut differ = 0;
    let mut at = 0;
    while at < last {
        differ |= word_at(a, at) ^ word_at(b, at);
        at += 8;
    }
    differ |= word_at(a, last) ^ word_at(b, last);
    differ == 0
}

/// The position of the first byte in `bytes` that no key may hold: where a key that starts
/// `bytes` ends, if the byte there is the space after it.
pub(crate) fn key_end(bytes: &[u8]) -> Option<usize> {
    first_match(bytes, forbidden_key_bytes, forbidden)
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
        fn key_end_finds_the_first_byte_a_key_may_not_hold(
            bytes in proptest::collection::vec(any::<u8>(), 0..80),
        ) {
            prop_assert_eq!(key_end(&bytes), bytes.iter().position(|&b| forbidden(b)));
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

    proptest! {
        #[test]
        fn same_bytes_is_slice_equality(
            a in proptest::collection::vec(0u8..4, 0..40),
            b in proptest::collection::vec(0u8..4, 0..40),
        ) {
            prop_assert_eq!(same_bytes(&a, &b), a == b);
            prop_assert!(same_bytes(&a, &a.clone()));
        }

        #[test]
        fn one_byte_changed_anywhere_makes_bytes_differ(
            a in proptest::collection::vec(any::<u8>(), 1..80),
            at in any::<proptest::sample::Index>(),
            flip in 1u8..=255,
        ) {
            let mut b = a.clone();
            b[at.index(a.len())] ^= flip;
            prop_assert!(!same_bytes(&a, &b));
        }
    }

    #[test]
    fn every_byte_value_in_every_lane_of_a_block_is_judged_exactly() {
        for len in [16, 17, 24, 31, 32, 33] {
            for lane in 0..len {
                for byte in 0..=255u8 {
                    let mut key = vec![b'k'; len];
                    key[lane] = byte;
                    assert_eq!(
                        has_forbidden_key_byte(&key),
                        byte <= b' ' || byte == 0x7f,
                        "byte {byte:#x} at {lane} of {len}"
                    );
                }
            }
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
                assert_eq!(key_end(&key), key.iter().position(|&b| forbidden(b)));
            }
        }
    }
}
