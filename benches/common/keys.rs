//! Keys and values, and a small random source to sample them.

use std::fmt::Write as _;

/// The value length of every workload that does not name another.
pub const VALUE_LEN: usize = 100;
pub const KEY_LEN: usize = 32;

/// `n` keys of exactly 32 bytes, `<prefix><zero-padded index>`, as `&'static str` slices of
/// one leaked string (so every client gets them in the form its API wants, for free).
pub fn make_keys(prefix: &str, n: usize) -> Vec<&'static str> {
    let width = KEY_LEN - prefix.len();
    let mut all = String::with_capacity(KEY_LEN * n);
    for i in 0..n {
        write!(all, "{prefix}{i:0width$}").unwrap();
    }
    let all: &'static str = Box::leak(all.into_boxed_str());
    (0..n)
        .map(|i| &all[i * KEY_LEN..(i + 1) * KEY_LEN])
        .collect()
}

/// A value of `len` bytes that names the load it belongs to (no `E`, so never `END`).
pub fn value_of(tag: &str, len: usize) -> Vec<u8> {
    let mut value = format!("{tag}|").into_bytes();
    value.resize(len, b'v');
    value
}

/// splitmix64: enough randomness to sample keys.
pub struct Rng(pub u64);

impl Rng {
    pub fn from_clock() -> Rng {
        use std::time::{SystemTime, UNIX_EPOCH};
        Rng(SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64))
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}
