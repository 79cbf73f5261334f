//! The rules a key must follow to be sent on a text-protocol command line.

/// The longest key memcached accepts, in bytes.
pub const MAX_KEY_LEN: usize = 250;

/// Why a key (or a command argument checked by the same rules) cannot be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key has no bytes (or a multi-key request has no keys).
    #[error("the key is empty")]
    Empty,
    /// The key is longer than [`MAX_KEY_LEN`].
    #[error("the key is {len} bytes long; memcached accepts at most {MAX_KEY_LEN}")]
    TooLong {
        /// The key's length in bytes.
        len: usize,
    },
    /// The key holds a byte that would split or end the command line: a control byte, a space
    /// or DEL (0x7f).
    #[error("byte {byte:#04x} at index {index} is not allowed in a key (no control bytes, spaces or DEL)")]
    ForbiddenByte {
        /// The offending byte.
        byte: u8,
        /// Where it is in the key.
        index: usize,
    },
}

/// Checks that `key` can travel as one token of a command line: 1 to 250 bytes, none of them
/// a control byte (`<= 0x20`, which covers space, `\r`, `\n` and NUL) or DEL (`0x7f`).
///
/// ```
/// use memcache_sync::protocol::{validate_key, KeyError};
/// assert!(validate_key(b"user:42").is_ok());
/// assert_eq!(validate_key(b"x\r\nflush_all"), Err(KeyError::ForbiddenByte { byte: b'\r', index: 1 }));
/// ```
#[inline]
pub fn validate_key(key: &[u8]) -> Result<(), KeyError> {
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    if key.len() > MAX_KEY_LEN {
        return Err(KeyError::TooLong { len: key.len() });
    }
    let forbidden = |b: u8| b <= b' ' || b == 0x7f;
    // Checked a word at a time first: keys are checked on every request and every value a
    // reply names, and almost always pass.
    if !super::scan::has_forbidden_key_byte(key) {
        return Ok(());
    }
    let index = key.iter().position(|&b| forbidden(b)).unwrap_or_default();
    Err(KeyError::ForbiddenByte {
        byte: key[index],
        index,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_at_the_length_limit_pass_and_one_byte_more_fails() {
        assert_eq!(validate_key(&[b'k'; 250]), Ok(()));
        assert_eq!(
            validate_key(&[b'k'; 251]),
            Err(KeyError::TooLong { len: 251 })
        );
    }

    #[test]
    fn every_byte_that_could_split_a_line_is_rejected() {
        for byte in (0..=b' ').chain([0x7f]) {
            let key = [b'a', byte, b'b'];
            assert_eq!(
                validate_key(&key),
                Err(KeyError::ForbiddenByte { byte, index: 1 }),
                "byte {byte:#04x}"
            );
        }
    }

    #[test]
    fn high_bytes_are_allowed_because_memcached_accepts_them() {
        assert_eq!(validate_key("ключ".as_bytes()), Ok(()));
        assert_eq!(validate_key(&[0x80, 0xff]), Ok(()));
    }

    #[test]
    fn an_empty_key_is_rejected() {
        assert_eq!(validate_key(b""), Err(KeyError::Empty));
    }
}
