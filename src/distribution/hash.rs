//! The key hash functions other memcached clients distribute keys with.
//!
//! Each function is a pure function of the key's bytes and returns the same 32-bit value
//! the other client computes, so that a key hashed here and there lands on the same server.
//!
//! | function | who uses it |
//! |---|---|
//! | [`crc32_ieee`] | gomemcache (`crc32.ChecksumIEEE`) |
//! | [`crc32_15bit`] | python-memcached (`cmemcache_hash`), libmemcached `MEMCACHED_HASH_CRC` |
//! | [`one_at_a_time`] | libmemcached's default hash (`MEMCACHED_HASH_DEFAULT`), so pylibmc's default |
//! | [`ketama_md5`] | libmemcached `MEMCACHED_HASH_MD5`, the key hash of `KETAMA_WEIGHTED` |
//! | [`murmur3_32`] | pymemcache's `HashClient` (rendezvous hashing), seed 0 |

/// CRC-32 (IEEE 802.3, the zlib / `binascii.crc32` / Go `crc32.ChecksumIEEE` checksum) of
/// the key.
///
/// ```
/// use memcache_sync::distribution::hash::crc32_ieee;
///
/// assert_eq!(crc32_ieee(b"apple"), 2_838_417_488);
/// assert_eq!(crc32_ieee(b"The quick brown fox jumps over the lazy dog"), 0x414f_a339);
/// ```
#[must_use]
pub fn crc32_ieee(key: &[u8]) -> u32 {
    crc32fast::hash(key)
}

/// The 15-bit CRC hash of python-memcached (`cmemcache_hash`) and of libmemcached's
/// `MEMCACHED_HASH_CRC`: bits 16 to 30 of [`crc32_ieee`], `(crc32 >> 16) & 0x7fff`.
///
/// Only 32,768 values are possible. python-memcached up to 1.59 replaced a result of 0 by 1
/// (`… or 1`); that is not done here (see
/// [`Modulo::python_memcached_legacy`](super::Modulo::python_memcached_legacy)).
///
/// ```
/// use memcache_sync::distribution::hash::crc32_15bit;
///
/// assert_eq!(crc32_15bit(b"apple"), 10_542);
/// assert_eq!(crc32_15bit(b"ob"), 0);
/// ```
#[must_use]
pub fn crc32_15bit(key: &[u8]) -> u32 {
    (crc32_ieee(key) >> 16) & 0x7fff
}

/// Bob Jenkins' one-at-a-time hash exactly as libmemcached's `hashkit_one_at_a_time`
/// computes it: libmemcached's default key hash (`MEMCACHED_HASH_DEFAULT`), and so pylibmc's.
///
/// libmemcached reads the key through a C `char`, which is signed on x86 and x86-64: a byte
/// of `0x80` or above enters the sum sign-extended (`0xff` as `0xffff_ffff`, not `0xff`).
/// This function does the same, so it matches libmemcached as built for x86 / x86-64 (as
/// Debian's and most distributions' amd64 packages are). On platforms whose C `char` is
/// unsigned (Linux on ARM64, for one) libmemcached hashes such keys differently; keys of
/// ASCII bytes only hash the same everywhere.
///
/// ```
/// use memcache_sync::distribution::hash::one_at_a_time;
///
/// assert_eq!(one_at_a_time(b"apple"), 2_297_466_611);
/// assert_eq!(one_at_a_time(b""), 0);
/// ```
#[must_use]
pub fn one_at_a_time(key: &[u8]) -> u32 {
    let mut value: u32 = 0;
    for &byte in key {
        // `(uint32_t) (char) byte` with a signed char: sign extension.
        value = value.wrapping_add(i32::from(byte.cast_signed()).cast_unsigned());
        value = value.wrapping_add(value << 10);
        value ^= value >> 6;
    }
    value = value.wrapping_add(value << 3);
    value ^= value >> 11;
    value.wrapping_add(value << 15)
}

/// The ketama MD5 key hash: the first four bytes of the key's MD5 digest, read
/// little-endian. This is libmemcached's `MEMCACHED_HASH_MD5` (`hashkit_md5`), the key hash
/// that `MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED` selects, and libketama's `ketama_hashi`.
///
/// ```
/// use memcache_sync::distribution::hash::ketama_md5;
///
/// assert_eq!(ketama_md5(b"apple"), 3_195_025_439);
/// ```
#[must_use]
pub fn ketama_md5(key: &[u8]) -> u32 {
    md5_words(key)[0]
}

/// The MD5 digest of `data` as four little-endian 32-bit words, in digest order: the four
/// continuum points one name yields in a weighted ketama continuum.
pub(crate) fn md5_words(data: &[u8]) -> [u32; 4] {
    let digest = md5::compute(data).0;
    let word = |i: usize| {
        u32::from_le_bytes([
            digest[4 * i],
            digest[4 * i + 1],
            digest[4 * i + 2],
            digest[4 * i + 3],
        ])
    };
    [word(0), word(1), word(2), word(3)]
}

/// MurmurHash3's 32-bit hash (x86 variant) of `data` with `seed`: the hash pymemcache's
/// rendezvous hashing scores servers with (seed 0).
///
/// ```
/// use memcache_sync::distribution::hash::murmur3_32;
///
/// // The published vectors.
/// assert_eq!(murmur3_32(b"", 0), 0);
/// assert_eq!(murmur3_32(b"", 1), 0x514e_28b7);
/// assert_eq!(murmur3_32(b"test", 0), 0xba6b_d213);
/// assert_eq!(murmur3_32(b"Hello, world!", 0), 0xc036_3e43);
/// assert_eq!(murmur3_32(b"The quick brown fox jumps over the lazy dog", 0), 0x2e4f_f723);
/// ```
#[must_use]
pub fn murmur3_32(data: &[u8], seed: u32) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mix = |k: u32| k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    let mut h = seed;
    let mut blocks = data.chunks_exact(4);
    for block in &mut blocks {
        let k = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        h = (h ^ mix(k))
            .rotate_left(13)
            .wrapping_mul(5)
            .wrapping_add(0xe654_6b64);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        let k = tail
            .iter()
            .rev()
            .fold(0u32, |k, &byte| (k << 8) | u32::from(byte));
        h ^= mix(k);
    }
    // The length is mixed in modulo 2^32, as the reference implementation's `uint32_t` does.
    h ^= data.len() as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_at_a_time_sign_extends_high_bytes() {
        // With an unsigned char the first step would add 0x80; libmemcached on x86-64 adds
        // 0xffff_ff80. Values computed by Debian's libmemcached 1.1.4 (amd64).
        assert_eq!(one_at_a_time(b"\x80"), 3_273_477_671);
        assert_eq!(one_at_a_time(b"\xff"), 2_925_896_852);
        assert_ne!(one_at_a_time(b"\x80"), unsigned_one_at_a_time(b"\x80"));
        // ASCII keys are unaffected.
        assert_eq!(one_at_a_time(b"apple"), unsigned_one_at_a_time(b"apple"));
    }

    fn unsigned_one_at_a_time(key: &[u8]) -> u32 {
        let mut value: u32 = 0;
        for &byte in key {
            value = value.wrapping_add(u32::from(byte));
            value = value.wrapping_add(value << 10);
            value ^= value >> 6;
        }
        value = value.wrapping_add(value << 3);
        value ^= value >> 11;
        value.wrapping_add(value << 15)
    }

    #[test]
    fn md5_words_are_little_endian_digest_words() {
        // MD5("") = d41d8cd98f00b204e9800998ecf8427e
        assert_eq!(
            md5_words(b""),
            [0xd98c_1dd4, 0x04b2_008f, 0x9809_80e9, 0x7e42_f8ec]
        );
        assert_eq!(ketama_md5(b""), 0xd98c_1dd4);
    }

    #[test]
    fn crc_variants_agree_with_each_other() {
        for key in [&b""[..], b"a", b"apple", b"\xff\x00\x80"] {
            assert_eq!(crc32_15bit(key), (crc32_ieee(key) >> 16) & 0x7fff);
        }
        assert_eq!(crc32_ieee(b""), 0);
    }
}
