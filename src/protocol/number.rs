//! Decimal numbers on the wire, written and read without allocating or overflowing.

/// Appends `n` in decimal.
pub(crate) fn put_u64(buf: &mut Vec<u8>, mut n: u64) {
    // Most numbers a request carries are one digit: flags 0, no expiry, a short opaque.
    if n < 10 {
        buf.push(b'0' + n as u8);
        return;
    }
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

/// Reads an unsigned decimal: one to twenty ASCII digits and nothing else, no larger than
/// `u64::MAX`.
pub(crate) fn parse_u64(digits: &[u8]) -> Option<u64> {
    match leading_u64(digits)? {
        (value, []) => Some(value),
        _ => None,
    }
}

/// The decimal number that starts `bytes` (one to twenty digits, no larger than `u64::MAX`),
/// and what follows its last digit. One pass: every value of a multi-get has two or three
/// numbers to read.
pub(crate) fn leading_u64(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut value = 0u64;
    let mut len = 0;
    for &b in bytes {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        // Nineteen digits cannot overflow a u64; only the twentieth needs checking, and a
        // twenty-first ends the number as invalid, so a hostile run of digits costs nothing.
        value = match len {
            ..19 => value * 10 + u64::from(digit),
            19 => value.checked_mul(10)?.checked_add(u64::from(digit))?,
            _ => return None,
        };
        len += 1;
    }
    if len == 0 {
        return None;
    }
    Some((value, &bytes[len..]))
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
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"00000000000000000001"), Some(1));
        assert_eq!(parse_u32(b"4294967296"), None);
    }

    #[test]
    fn a_leading_number_ends_at_its_last_digit() {
        assert_eq!(leading_u64(b"0 5"), Some((0, &b" 5"[..])));
        assert_eq!(leading_u64(b"123"), Some((123, &b""[..])));
        assert_eq!(leading_u64(b"42x"), Some((42, &b"x"[..])));
        assert_eq!(
            leading_u64(b"18446744073709551615 "),
            Some((u64::MAX, &b" "[..]))
        );
        for bad in [
            &b""[..],
            b" 1",
            b"x1",
            b"18446744073709551616",
            b"000000000000000000001 ",
        ] {
            assert_eq!(
                leading_u64(bad),
                None,
                "{:?}",
                bad.escape_ascii().to_string()
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn a_leading_number_is_what_parse_reads_of_its_digits(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..30)) {
            let len = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
            let expected = parse_u64(&bytes[..len]).map(|n| (n, &bytes[len..]));
            proptest::prop_assert_eq!(leading_u64(&bytes), expected);
        }

        #[test]
        fn every_u64_written_reads_back(n in proptest::prelude::any::<u64>()) {
            let mut buf = Vec::new();
            put_u64(&mut buf, n);
            proptest::prop_assert_eq!(parse_u64(&buf), Some(n));
        }
    }
}
