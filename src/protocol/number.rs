//! Decimal numbers on the wire, written and read without allocating or overflowing.

/// Appends `n` in decimal.
pub(crate) fn put_u64(buf: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[start..]);
}

/// Appends `n` in decimal, with a leading `-` when negative.
pub(crate) fn put_i64(buf: &mut Vec<u8>, n: i64) {
    if n < 0 {
        buf.push(b'-');
    }
    put_u64(buf, n.unsigned_abs());
}

/// Reads an unsigned decimal: one or more ASCII digits and nothing else, no larger than
/// `u64::MAX`. The digit count is capped before any arithmetic, so a hostile run of digits costs
/// nothing.
pub(crate) fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &b| {
        if b.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

/// [`parse_u64`], no larger than `u32::MAX`.
pub(crate) fn parse_u32(digits: &[u8]) -> Option<u32> {
    parse_u64(digits).and_then(|n| u32::try_from(n).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_at_the_edges() {
        for n in [
            0,
            1,
            9,
            10,
            99,
            100,
            u64::from(u32::MAX),
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut buf = Vec::new();
            put_u64(&mut buf, n);
            assert_eq!(buf, n.to_string().as_bytes());
            assert_eq!(parse_u64(&buf), Some(n));
        }
        for n in [i64::MIN, -1, 0, 1, i64::MAX] {
            let mut buf = Vec::new();
            put_i64(&mut buf, n);
            assert_eq!(buf, n.to_string().as_bytes());
        }
    }

    #[test]
    fn malformed_or_overflowing_numbers_are_rejected() {
        for bad in [
            &b""[..],
            b"-1",
            b"+1",
            b"1 ",
            b" 1",
            b"1a",
            b"18446744073709551616",
            b"000000000000000000001",
        ] {
            assert_eq!(parse_u64(bad), None, "{:?}", bad.escape_ascii().to_string());
        }
        assert_eq!(parse_u32(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_u32(b"4294967296"), None);
    }
}
