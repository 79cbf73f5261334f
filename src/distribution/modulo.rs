//! Modulo distributions: `hash(key) % n`, as gomemcache, python-memcached and libmemcached's
//! default `MODULA` distribution pick a server.

use super::hash::{crc32_15bit, crc32_ieee, one_at_a_time};
use super::{Distribution, DistributionError};

/// gomemcache copies a key into a 256-byte buffer before hashing it
/// (`keyBufPool` in `selector.go`), so only the first 256 bytes count.
const GOMEMCACHE_HASHED_PREFIX: usize = 256;

/// Which key hash a [`Modulo`] distribution takes the remainder of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ModuloHash {
    /// gomemcache: CRC-32 IEEE of the first 256 bytes.
    Gomemcache,
    /// python-memcached ≥ 1.60 and libmemcached `MEMCACHED_HASH_CRC`.
    Crc15,
    /// python-memcached ≤ 1.59: the 15-bit CRC, with 0 replaced by 1.
    Crc15OrOne,
    /// libmemcached's default hash.
    OneAtATime,
}

impl ModuloHash {
    fn hash(self, key: &[u8]) -> u32 {
        match self {
            Self::Gomemcache => crc32_ieee(&key[..key.len().min(GOMEMCACHE_HASHED_PREFIX)]),
            Self::Crc15 => crc32_15bit(key),
            Self::Crc15OrOne => crc32_15bit(key).max(1),
            Self::OneAtATime => one_at_a_time(key),
        }
    }
}

/// How the remainder maps to a server.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Buckets {
    /// One bucket per server: the remainder is the server index.
    Equal(u32),
    /// python-memcached's weights: server `i` is listed `weight[i]` times in a row.
    /// `ends[i]` is the running total of the weights up to and including server `i`.
    Weighted { ends: Box<[u64]>, total: u64 },
}

/// A modulo distribution: the server index is the key's hash modulo the number of servers
/// (or of weighted buckets), the scheme of gomemcache, python-memcached, and libmemcached's
/// default `MEMCACHED_DISTRIBUTION_MODULA` (pylibmc's default).
///
/// Adding or removing a server moves most keys; see [`Ketama`](super::Ketama) for a
/// distribution that moves about `1/n` of them.
///
/// Each constructor is named after the client it is compatible with, and takes the number of
/// servers (or their weights) **in the order the other client lists them**: the index that
/// [`server_for`](Distribution::server_for) returns is a position in that list.
///
/// ```
/// use memcache_sync::distribution::{Distribution, Modulo};
///
/// let gomemcache = Modulo::gomemcache(3)?;
/// assert_eq!(gomemcache.server_for(b"apple"), 2);
///
/// let python = Modulo::python_memcached(3)?;
/// assert_eq!(python.server_for(b"apple"), 0);
///
/// assert!(Modulo::gomemcache(0).is_err());
/// # Ok::<(), memcache_sync::distribution::DistributionError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Modulo {
    hash: ModuloHash,
    buckets: Buckets,
    servers: usize,
}

impl Modulo {
    /// gomemcache's `ServerList` (`memcache.New(servers...)`): `crc32_ieee(key) % n`, with
    /// the CRC taken over the first 256 bytes of the key as gomemcache does (memcached keys
    /// are at most 250 bytes, so in practice the whole key). With one server, gomemcache
    /// returns it without hashing; so does this.
    ///
    /// gomemcache gives a server more weight when it is listed more than once: list it as
    /// often here, and map the returned index to the same server.
    ///
    /// # Errors
    /// [`DistributionError::NoServers`] if `servers` is 0,
    /// [`DistributionError::TooManyServers`] above `u32::MAX`.
    ///
    /// ```
    /// use memcache_sync::distribution::{Distribution, Modulo};
    ///
    /// let d = Modulo::gomemcache(3)?;
    /// assert_eq!(d.server_for(b"beat"), 0); // crc32("beat") = 3589867164; % 3 = 0
    /// # Ok::<(), memcache_sync::distribution::DistributionError>(())
    /// ```
    pub fn gomemcache(servers: usize) -> Result<Self, DistributionError> {
        Self::equal(ModuloHash::Gomemcache, servers)
    }

    /// python-memcached 1.60 and later (`memcache.Client(servers)`), every server of weight
    /// 1: `((crc32(key) >> 16) & 0x7fff) % n`. Identical to
    /// [`libmemcached_crc`](Self::libmemcached_crc).
    ///
    /// python-memcached up to 1.59 differs for the 1 key in 32,768 whose 15-bit hash is 0;
    /// use [`python_memcached_legacy`](Self::python_memcached_legacy) for those versions.
    ///
    /// # Errors
    /// [`DistributionError::NoServers`] if `servers` is 0,
    /// [`DistributionError::TooManyServers`] above `u32::MAX`.
    ///
    /// ```
    /// use memcache_sync::distribution::{Distribution, Modulo};
    ///
    /// let d = Modulo::python_memcached(3)?;
    /// assert_eq!(d.server_for(b"beat"), 1); // 15-bit crc 22009 % 3 = 1
    /// # Ok::<(), memcache_sync::distribution::DistributionError>(())
    /// ```
    pub fn python_memcached(servers: usize) -> Result<Self, DistributionError> {
        Self::equal(ModuloHash::Crc15, servers)
    }

    /// python-memcached 1.60 and later with weighted servers
    /// (`memcache.Client([("host:port", weight), …])`): python-memcached lists each server
    /// `weight` times in a row (its `buckets`) and picks bucket `hash % len(buckets)`. The
    /// returned index is the server's position in `weights`. A server of weight 0 gets no
    /// bucket and no key.
    ///
    /// # Errors
    /// [`DistributionError::NoServers`] if `weights` is empty,
    /// [`DistributionError::AllWeightsZero`] if they sum to 0.
    ///
    /// ```
    /// use memcache_sync::distribution::{Distribution, Modulo};
    ///
    /// // buckets: [0, 1, 1]; 15-bit crc("apple") = 10542, 10542 % 3 = 0
    /// let d = Modulo::python_memcached_weighted(&[1, 2])?;
    /// assert_eq!(d.server_for(b"apple"), 0);
    /// # Ok::<(), memcache_sync::distribution::DistributionError>(())
    /// ```
    pub fn python_memcached_weighted(weights: &[u32]) -> Result<Self, DistributionError> {
        Self::weighted(ModuloHash::Crc15, weights)
    }

    /// python-memcached up to 1.59, whose `cmemcache_hash` returned
    /// `((crc32(key) >> 16) & 0x7fff) or 1`: a 15-bit hash of 0 becomes 1. It differs from
    /// [`python_memcached`](Self::python_memcached) only for those keys (such as `ob`),
    /// about 1 in 32,768. The `or 1` was removed in python-memcached 1.60.
    ///
    /// # Errors
    /// [`DistributionError::NoServers`] if `servers` is 0,
    /// [`DistributionError::TooManyServers`] above `u32::MAX`.
    ///
    /// ```
    /// use memcache_sync::distribution::{Distribution, Modulo};
    ///
    /// assert_eq!(Modulo::python_memcached(3)?.server_for(b"ob"), 0);
    /// assert_eq!(Modulo::python_memcached_legacy(3)?.server_for(b"ob"), 1);
    /// # Ok::<(), memcache_sync::distribution::DistributionError>(())
    /// ```
    pub fn python_memcached_legacy(servers: usize) -> Result<Self, DistributionError> {
        Self::equal(ModuloHash::Crc15OrOne, servers)
    }

    /// python-memcached up to 1.59 with weighted servers: the buckets of
    /// [`python_memcached_weighted`](Self::python_memcached_weighted) with the hash of
    /// [`python_memcached_legacy`](Self::python_memcached_legacy).
    ///
    /// # Errors
    /// [`DistributionError::NoServers`] if `weights` is empty,
    /// [`DistributionError::AllWeightsZero`] if they sum to 0.
    ///
    /// ```
    /// use memcache_sync::distribution::{Distribution, Modulo};
    ///
    /// let d = Modulo::python_memcached_legacy_weighted(&[1, 2])?;
    /// assert_eq!(d.server_for(b"ob"), 1); // hash 0 taken as 1: bucket 1, server 1
    /// # Ok::<(), memcache_sync::distribution::DistributionError>(())
    /// ```
    pub fn python_memcached_legacy_weighted(weights: &[u32]) -> Result<Self, DistributionError> {
        Self::weighted(ModuloHash::Crc15OrOne, weights)
    }

    /// libmemcached's modulo distribution with the `MEMCACHED_HASH_CRC` key hash (pylibmc
    /// `behaviors={"hash": "crc"}`): `((crc32(key) >> 16) & 0x7fff) % n`. libmemcached
    /// ignores server weights in modulo mode.
    ///
    /// # Errors
    /// [`DistributionError::NoServers`] if `servers` is 0,
    /// [`DistributionError::TooManyServers`] above `u32::MAX`.
    ///
    /// ```
    /// use memcache_sync::distribution::{Distribution, Modulo};
    ///
    /// assert_eq!(Modulo::libmemcached_crc(3)?.server_for(b"lime"), 2); // 31289 % 3
    /// # Ok::<(), memcache_sync::distribution::DistributionError>(())
    /// ```
    pub fn libmemcached_crc(servers: usize) -> Result<Self, DistributionError> {
        Self::equal(ModuloHash::Crc15, servers)
    }

    /// libmemcached's defaults, and so pylibmc's (`pylibmc.Client(servers)` without
    /// `ketama`): `MEMCACHED_DISTRIBUTION_MODULA` with `MEMCACHED_HASH_DEFAULT`,
    /// [`one_at_a_time(key)`](super::hash::one_at_a_time) `% n`. libmemcached ignores server
    /// weights in modulo mode.
    ///
    /// # Errors
    /// [`DistributionError::NoServers`] if `servers` is 0,
    /// [`DistributionError::TooManyServers`] above `u32::MAX`.
    ///
    /// ```
    /// use memcache_sync::distribution::{Distribution, Modulo};
    ///
    /// // one_at_a_time("apple") = 2297466611; % 3 = 2
    /// assert_eq!(Modulo::libmemcached_default(3)?.server_for(b"apple"), 2);
    /// # Ok::<(), memcache_sync::distribution::DistributionError>(())
    /// ```
    pub fn libmemcached_default(servers: usize) -> Result<Self, DistributionError> {
        Self::equal(ModuloHash::OneAtATime, servers)
    }

    fn equal(hash: ModuloHash, servers: usize) -> Result<Self, DistributionError> {
        if servers == 0 {
            return Err(DistributionError::NoServers);
        }
        let n = u32::try_from(servers).map_err(|_| DistributionError::TooManyServers(servers))?;
        Ok(Self {
            hash,
            buckets: Buckets::Equal(n),
            servers,
        })
    }

    fn weighted(hash: ModuloHash, weights: &[u32]) -> Result<Self, DistributionError> {
        if weights.is_empty() {
            return Err(DistributionError::NoServers);
        }
        let mut total: u64 = 0;
        let ends: Box<[u64]> = weights
            .iter()
            .map(|&w| {
                total += u64::from(w);
                total
            })
            .collect();
        if total == 0 {
            return Err(DistributionError::AllWeightsZero);
        }
        Ok(Self {
            hash,
            buckets: Buckets::Weighted { ends, total },
            servers: weights.len(),
        })
    }
}

impl Distribution for Modulo {
    fn server_for(&self, key: &[u8]) -> usize {
        match &self.buckets {
            // gomemcache and libmemcached return the only server without hashing.
            Buckets::Equal(1) => 0,
            Buckets::Equal(n) => (self.hash.hash(key) % n) as usize,
            Buckets::Weighted { ends, total } => {
                let bucket = u64::from(self.hash.hash(key)) % total;
                // The first server whose run of buckets ends after `bucket`.
                ends.partition_point(|&end| end <= bucket)
            }
        }
    }

    fn server_count(&self) -> usize {
        self.servers
    }

    /// The key's hash taken modulo the buckets of the servers not excluded, in list order:
    /// a dead server's keys spread evenly over the others, and a live server's keys never
    /// move while the owner is out (they are not asked about). libmemcached 1.1.4 itself
    /// does not do this: its auto-eject rebuilds only ketama continuums, and in `MODULA`
    /// mode a key of an ejected server keeps failing with `SERVER_MARKED_DEAD`.
    fn server_for_excluding(&self, key: &[u8], excluded: &dyn Fn(usize) -> bool) -> Option<usize> {
        let owner = self.server_for(key);
        if !excluded(owner) {
            return Some(owner);
        }
        let hash = u64::from(self.hash.hash(key));
        match &self.buckets {
            Buckets::Equal(_) => {
                let live: Vec<usize> = (0..self.servers).filter(|&i| !excluded(i)).collect();
                let count = u64::try_from(live.len()).ok().filter(|&n| n > 0)?;
                usize::try_from(hash % count).ok().map(|at| live[at])
            }
            Buckets::Weighted { ends, .. } => {
                // Each live server keeps its run of buckets, closed up over the dead ones.
                let mut live_ends = Vec::with_capacity(ends.len());
                let (mut start, mut total) = (0, 0);
                for (index, &end) in ends.iter().enumerate() {
                    if !excluded(index) {
                        total += end - start;
                        live_ends.push((total, index));
                    }
                    start = end;
                }
                let bucket = hash.checked_rem(total)?;
                let at = live_ends.partition_point(|&(end, _)| end <= bucket);
                live_ends.get(at).map(|&(_, index)| index)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_servers_is_an_error() {
        assert_eq!(Modulo::gomemcache(0), Err(DistributionError::NoServers));
        assert_eq!(
            Modulo::python_memcached(0),
            Err(DistributionError::NoServers)
        );
        assert_eq!(
            Modulo::python_memcached_legacy(0),
            Err(DistributionError::NoServers)
        );
        assert_eq!(
            Modulo::libmemcached_crc(0),
            Err(DistributionError::NoServers)
        );
        assert_eq!(
            Modulo::libmemcached_default(0),
            Err(DistributionError::NoServers)
        );
        assert_eq!(
            Modulo::python_memcached_weighted(&[]),
            Err(DistributionError::NoServers)
        );
        assert_eq!(
            Modulo::python_memcached_weighted(&[0, 0]),
            Err(DistributionError::AllWeightsZero)
        );
    }

    #[test]
    fn one_server_owns_everything() {
        for d in [
            Modulo::gomemcache(1).unwrap(),
            Modulo::python_memcached(1).unwrap(),
            Modulo::libmemcached_default(1).unwrap(),
            Modulo::python_memcached_weighted(&[5]).unwrap(),
        ] {
            assert_eq!(d.server_count(), 1);
            for key in [&b""[..], b"a", b"apple", b"\xff"] {
                assert_eq!(d.server_for(key), 0);
            }
        }
    }

    #[test]
    fn gomemcache_hashes_only_the_first_256_bytes() {
        let d = Modulo::gomemcache(7).unwrap();
        let mut long = vec![b'k'; 256];
        let expected = (crc32_ieee(&long) % 7) as usize;
        long.extend_from_slice(b"ignored tail");
        assert_eq!(d.server_for(&long), expected);
    }

    #[test]
    fn weighted_buckets_follow_the_python_memcached_bucket_list() {
        // python-memcached's buckets for weights [2, 0, 3, 1]: [0, 0, 2, 2, 2, 3].
        let weights = [2, 0, 3, 1];
        let buckets: Vec<usize> = weights
            .iter()
            .enumerate()
            .flat_map(|(i, &w)| std::iter::repeat_n(i, w as usize))
            .collect();
        let d = Modulo::python_memcached_weighted(&weights).unwrap();
        assert_eq!(d.server_count(), 4);
        for i in 0..2000u32 {
            let key = format!("key:{i}");
            let h = crc32_15bit(key.as_bytes()) as usize;
            assert_eq!(d.server_for(key.as_bytes()), buckets[h % buckets.len()]);
        }
    }

    #[test]
    fn legacy_python_memcached_differs_only_on_a_zero_hash() {
        let new = Modulo::python_memcached(5).unwrap();
        let old = Modulo::python_memcached_legacy(5).unwrap();
        assert_eq!(crc32_15bit(b"ob"), 0);
        assert_eq!(new.server_for(b"ob"), 0);
        assert_eq!(old.server_for(b"ob"), 1);
        for i in 0..5000u32 {
            let key = format!("k{i}");
            if crc32_15bit(key.as_bytes()) != 0 {
                assert_eq!(
                    new.server_for(key.as_bytes()),
                    old.server_for(key.as_bytes())
                );
            }
        }
    }
}
