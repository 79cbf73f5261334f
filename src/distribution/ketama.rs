//! Ketama consistent hashing, placing keys exactly as libmemcached 1.1.4 does.

use std::fmt;

use super::hash::{ketama_md5, md5_words, one_at_a_time};
use super::{Distribution, DistributionError, Server};

/// libmemcached's `MEMCACHED_DEFAULT_PORT`: the port left out of point names.
const DEFAULT_PORT: u16 = 11211;
/// `MEMCACHED_POINTS_PER_SERVER`: points per server on an unweighted continuum.
const POINTS_PER_SERVER: u32 = 100;
/// `MEMCACHED_POINTS_PER_SERVER_KETAMA`: the average points per server on a weighted one.
const POINTS_PER_SERVER_KETAMA: f32 = 160.0;
/// Points each MD5 digest gives on a weighted continuum (the `/ 4` of the point count).
const POINTS_PER_HASH: u32 = 4;

/// The hash a [`Ketama`] continuum applies to keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KetamaKeyHash {
    /// [`one_at_a_time`]: libmemcached's default hash.
    OneAtATime,
    /// [`ketama_md5`]: selected by `MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED`.
    Md5,
}

impl KetamaKeyHash {
    /// The hash of `key`.
    #[must_use]
    pub fn hash(self, key: &[u8]) -> u32 {
        match self {
            Self::OneAtATime => one_at_a_time(key),
            Self::Md5 => ketama_md5(key),
        }
    }
}

/// How continuum point names are spelt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Naming {
    /// `host-i` on port 11211, `host:port-i` otherwise.
    Libmemcached,
    /// `/host:port-i`, libmemcached's `MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA_SPY`.
    Spy,
}

/// Which continuum to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// Weighted if any server's weight is above 1, as `server_add()` decides.
    ByWeights,
    /// Always weighted, as `MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED` sets.
    Weighted,
}

/// A point of the continuum: its 32-bit value and the index of the server that owns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContinuumPoint {
    /// The point's position on the 32-bit circle.
    pub value: u32,
    /// The index, in the server list, of the server that owns it.
    pub server: usize,
}

/// Ketama consistent hashing, byte-for-byte as libmemcached 1.1.4 (and so pylibmc) places
/// keys. Each constructor is named after the libmemcached behaviour it reproduces; the index
/// [`server_for`](Distribution::server_for) returns is a position in the `servers` slice,
/// which must list the servers **in the order the other client was given them** (the order
/// breaks ties between equal points).
///
/// # The continuum
/// A continuum is a sorted list of 32-bit points, each owned by a server. A key belongs to
/// the owner of the first point at or after the key's hash, wrapping round to the first
/// point. Adding a server takes over only the arcs its new points cut, about `1/n` of keys.
///
/// libmemcached builds the continuum one of two ways (`update_continuum` in `hosts.cc`):
///
/// - **unweighted** (every weight ≤ 1): 100 points per server; point `i` (0 to 99) is the
///   key hash of the name `host-i` when the port is 11211, `host:port-i` otherwise.
/// - **weighted**: server `s` gets `floor(w_s / W × 160 / 4 × n + 1e-10) × 4` points,
///   computed in 32-bit floats (`W` the total weight, `n` the number of servers); each
///   name, numbered from 0 and spelt as above, is MD5-hashed and each of the digest's four
///   little-endian words is a point.
///
/// [`libmemcached_ketama_spy`](Self::libmemcached_ketama_spy) spells names `/host:port-i`
/// instead. Equal points are ordered by server index, so a tie goes to the server listed
/// first.
///
/// [`server_for`](Distribution::server_for) hashes the key and binary-searches a sorted
/// `Vec`; it does not allocate.
///
/// ```
/// use memcache_sync::distribution::{Distribution, Ketama, Server};
///
/// let servers = [
///     Server::new("10.0.1.1", 11211),
///     Server::new("10.0.1.2", 11211),
///     Server::new("10.0.1.3", 11211),
/// ];
/// let ring = Ketama::libmemcached_ketama(&servers)?;
/// assert_eq!(ring.server_count(), 3);
/// assert_eq!(ring.point_count(), 300);
/// assert!(ring.server_for(b"user:42") < 3);
///
/// assert!(Ketama::libmemcached_ketama(&[]).is_err());
/// # Ok::<(), memcache_sync::distribution::DistributionError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Ketama {
    /// Sorted by value, then by server index.
    points: Vec<(u32, u32)>,
    servers: usize,
    key_hash: KetamaKeyHash,
    weighted: bool,
}

impl fmt::Debug for Ketama {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ketama")
            .field("servers", &self.servers)
            .field("points", &self.points.len())
            .field("key_hash", &self.key_hash)
            .field("weighted", &self.weighted)
            .finish()
    }
}

impl Ketama {
    /// libmemcached's `MEMCACHED_BEHAVIOR_KETAMA` (`MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA`
    /// with the default hash): pylibmc's `Client(servers, behaviors={"ketama": True})`.
    ///
    /// Keys are hashed with [`one_at_a_time`]. If every weight is 1 (or 0), the continuum is
    /// the unweighted one: 100 one-at-a-time points per server. If any weight is above 1, it
    /// is the weighted MD5 continuum, while keys are still hashed with one-at-a-time.
    ///
    /// libmemcached switches to the weighted continuum when a server of weight above 1 is
    /// added while a consistent distribution is already set (so pylibmc with `behaviors`
    /// passed to the constructor), but setting `ketama` **after** the servers are added
    /// switches back to the unweighted continuum, weights or not. To match such a client,
    /// give every server weight 1 here.
    ///
    /// # Errors
    /// [`DistributionError::NoServers`] if `servers` is empty,
    /// [`DistributionError::TooManyServers`] above `u32::MAX`.
    ///
    /// ```
    /// use memcache_sync::distribution::{Distribution, Ketama, KetamaKeyHash, Server};
    ///
    /// let unweighted = Ketama::libmemcached_ketama(&[
    ///     Server::new("10.0.0.1", 11211),
    ///     Server::new("10.0.0.2", 11212),
    /// ])?;
    /// assert!(!unweighted.is_weighted());
    /// assert_eq!(unweighted.key_hash(), KetamaKeyHash::OneAtATime);
    ///
    /// let weighted = Ketama::libmemcached_ketama(&[
    ///     Server::new("10.0.0.1", 11211).with_weight(2),
    ///     Server::new("10.0.0.2", 11212),
    /// ])?;
    /// assert!(weighted.is_weighted());
    /// assert_eq!(weighted.key_hash(), KetamaKeyHash::OneAtATime);
    /// # Ok::<(), memcache_sync::distribution::DistributionError>(())
    /// ```
    pub fn libmemcached_ketama(servers: &[Server]) -> Result<Self, DistributionError> {
        Self::build(
            servers,
            KetamaKeyHash::OneAtATime,
            Form::ByWeights,
            Naming::Libmemcached,
        )
    }

    /// libmemcached's `MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED`: pylibmc's
    /// `behaviors={"ketama_weighted": True}`, PHP's `Memcached::OPT_LIBKETAMA_COMPATIBLE`.
    ///
    /// Always the weighted MD5 continuum (even if every weight is 1), and keys hashed with
    /// [`ketama_md5`]. This is the configuration of libmemcached's own ketama test fixture.
    ///
    /// libmemcached calls this mode libketama-compatible. libketama itself names points
    /// `host:port-i` on every port, where libmemcached leaves out `:11211`; this type
    /// follows libmemcached and was not checked against libketama.
    ///
    /// # Errors
    /// [`DistributionError::NoServers`] if `servers` is empty,
    /// [`DistributionError::TooManyServers`] above `u32::MAX`.
    ///
    /// ```
    /// use memcache_sync::distribution::{Distribution, Ketama, KetamaKeyHash, Server};
    ///
    /// let ring = Ketama::libmemcached_ketama_weighted(&[
    ///     Server::new("10.0.1.1", 11211).with_weight(600),
    ///     Server::new("10.0.1.2", 11211).with_weight(300),
    /// ])?;
    /// assert_eq!(ring.key_hash(), KetamaKeyHash::Md5);
    /// assert!(ring.is_weighted());
    /// assert!(ring.server_for(b"user:42") < 2);
    /// # Ok::<(), memcache_sync::distribution::DistributionError>(())
    /// ```
    pub fn libmemcached_ketama_weighted(servers: &[Server]) -> Result<Self, DistributionError> {
        Self::build(
            servers,
            KetamaKeyHash::Md5,
            Form::Weighted,
            Naming::Libmemcached,
        )
    }

    /// libmemcached's `MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA_SPY` together with
    /// `MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED`: the weighted MD5 continuum with points named
    /// `/host:port-i` (the port always written), and keys hashed with [`ketama_md5`]. This is
    /// the configuration of libmemcached's spymemcached-compatibility test fixture; it was
    /// not checked against spymemcached itself.
    ///
    /// # Errors
    /// [`DistributionError::NoServers`] if `servers` is empty,
    /// [`DistributionError::TooManyServers`] above `u32::MAX`.
    ///
    /// ```
    /// use memcache_sync::distribution::{Distribution, Ketama, Server};
    ///
    /// let ring = Ketama::libmemcached_ketama_spy(&[
    ///     Server::new("127.0.0.1", 11211),
    ///     Server::new("127.0.0.1", 11212),
    /// ])?;
    /// assert_eq!(ring.point_count(), 320);
    /// # Ok::<(), memcache_sync::distribution::DistributionError>(())
    /// ```
    pub fn libmemcached_ketama_spy(servers: &[Server]) -> Result<Self, DistributionError> {
        Self::build(servers, KetamaKeyHash::Md5, Form::Weighted, Naming::Spy)
    }

    fn build(
        servers: &[Server],
        key_hash: KetamaKeyHash,
        form: Form,
        naming: Naming,
    ) -> Result<Self, DistributionError> {
        if servers.is_empty() {
            return Err(DistributionError::NoServers);
        }
        let live = u32::try_from(servers.len())
            .map_err(|_| DistributionError::TooManyServers(servers.len()))?;
        let weighted = match form {
            Form::Weighted => true,
            Form::ByWeights => servers.iter().any(|s| s.weight > 1),
        };

        let mut points = Vec::new();
        let mut name = String::new();
        if weighted {
            let total: u64 = servers
                .iter()
                .map(|s| u64::from(s.effective_weight()))
                .sum();
            for (index, server) in (0u32..).zip(servers) {
                let groups = weighted_groups(server.effective_weight(), total, live);
                points.reserve(groups as usize * POINTS_PER_HASH as usize);
                for i in 0..groups {
                    point_name(&mut name, naming, server, i);
                    points.extend(md5_words(name.as_bytes()).map(|value| (value, index)));
                }
            }
        } else {
            points.reserve(servers.len() * POINTS_PER_SERVER as usize);
            for (index, server) in (0u32..).zip(servers) {
                for i in 0..POINTS_PER_SERVER {
                    point_name(&mut name, naming, server, i);
                    points.push((key_hash.hash(name.as_bytes()), index));
                }
            }
        }
        points.sort_unstable();
        Ok(Self {
            points,
            servers: servers.len(),
            key_hash,
            weighted,
        })
    }

    /// The hash this continuum applies to a key.
    #[must_use]
    pub fn key_hash(&self) -> KetamaKeyHash {
        self.key_hash
    }

    /// Whether this is the weighted MD5 continuum (see [the continuum](Ketama#the-continuum)).
    #[must_use]
    pub fn is_weighted(&self) -> bool {
        self.weighted
    }

    /// How many points the continuum has.
    #[must_use]
    pub fn point_count(&self) -> usize {
        self.points.len()
    }

    /// The point that owns a key hash: the first point at or after `hash`, or the first
    /// point of all when `hash` is past the last one. For diagnosing a disagreement with
    /// another client, which may expose the same pair (libmemcached's tests call them
    /// `hash1` and `hash2`).
    ///
    /// ```
    /// use memcache_sync::distribution::{Distribution, Ketama, Server};
    ///
    /// let ring = Ketama::libmemcached_ketama(&[Server::new("a", 11211), Server::new("b", 11211)])?;
    /// let key = b"some key";
    /// let hash = ring.key_hash().hash(key);
    /// let point = ring.locate(hash);
    /// assert_eq!(point.server, ring.server_for(key));
    /// // At or after the hash, or the first point when the hash is past the last one.
    /// assert!(point.value >= hash || point == ring.locate(0));
    /// # Ok::<(), memcache_sync::distribution::DistributionError>(())
    /// ```
    #[must_use]
    pub fn locate(&self, hash: u32) -> ContinuumPoint {
        let at = self.points.partition_point(|&(value, _)| value < hash);
        // The continuum is never empty: a built `Ketama` has at least one server, and the
        // weighted form gives the heaviest server at least 39 groups of points.
        let (value, server) = self
            .points
            .get(at)
            .or_else(|| self.points.first())
            .copied()
            .unwrap_or((0, 0));
        ContinuumPoint {
            value,
            server: server as usize,
        }
    }
}

impl Distribution for Ketama {
    fn server_for(&self, key: &[u8]) -> usize {
        // libmemcached does not hash at all with one server.
        if self.servers == 1 {
            return 0;
        }
        self.locate(self.key_hash.hash(key)).server
    }

    fn server_count(&self) -> usize {
        self.servers
    }

    /// The first point at or after the key's hash (wrapping past the last) whose server is
    /// not excluded. For an unweighted ring this is where libmemcached's auto-eject sends
    /// the key, since its rebuilt continuum is the old one without the dead servers' points;
    /// a weighted ring rebuilt by libmemcached also rescales the survivors' point counts, so
    /// there the two can differ for a few keys.
    fn server_for_excluding(&self, key: &[u8], excluded: &dyn Fn(usize) -> bool) -> Option<usize> {
        if self.servers == 1 {
            return (!excluded(0)).then_some(0);
        }
        let hash = self.key_hash.hash(key);
        let at = self.points.partition_point(|&(value, _)| value < hash);
        let (after, before) = self.points.split_at(at);
        before
            .iter()
            .chain(after)
            .map(|&(_, server)| server as usize)
            .find(|&server| !excluded(server))
    }
}

/// How many MD5 digests (groups of four points) a server of `weight` gets on a weighted
/// continuum, computed in 32-bit floats in the order libmemcached's `update_continuum`
/// computes it:
/// `floor((float) (pct * 160 / 4 * (float) live + 0.0000000001F))` with
/// `pct = (float) weight / (float) total`.
#[allow(
    clippy::cast_precision_loss,       // u32 and u64 to f32, rounding to nearest, as C does
    clippy::cast_possible_truncation,  // 0 ≤ groups ≤ 40 × live, an integer-valued float
    clippy::cast_sign_loss
)]
fn weighted_groups(weight: u32, total: u64, live: u32) -> u32 {
    let pct = weight as f32 / total as f32;
    let groups = (pct * POINTS_PER_SERVER_KETAMA / 4.0_f32 * live as f32 + 1e-10_f32).floor();
    groups as u32
}

/// Writes the name of point group `i` of `server` into `name`.
fn point_name(name: &mut String, naming: Naming, server: &Server, i: u32) {
    use std::fmt::Write as _;
    name.clear();
    // Writing to a String cannot fail.
    let _ = match naming {
        Naming::Libmemcached if server.port == DEFAULT_PORT => {
            write!(name, "{}-{i}", server.host)
        }
        Naming::Libmemcached => write!(name, "{}:{}-{i}", server.host, server.port),
        Naming::Spy => write!(name, "/{}:{}-{i}", server.host, server.port),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_server_list_is_an_error() {
        assert_eq!(
            Ketama::libmemcached_ketama(&[]),
            Err(DistributionError::NoServers)
        );
        assert_eq!(
            Ketama::libmemcached_ketama_weighted(&[]),
            Err(DistributionError::NoServers)
        );
        assert_eq!(
            Ketama::libmemcached_ketama_spy(&[]),
            Err(DistributionError::NoServers)
        );
    }

    #[test]
    fn point_names_follow_libmemcached() {
        let mut name = String::new();
        let default_port = Server::new("10.0.1.1", 11211);
        let other_port = Server::new("cache", 11212);
        point_name(&mut name, Naming::Libmemcached, &default_port, 0);
        assert_eq!(name, "10.0.1.1-0");
        point_name(&mut name, Naming::Libmemcached, &other_port, 99);
        assert_eq!(name, "cache:11212-99");
        point_name(&mut name, Naming::Spy, &default_port, 7);
        assert_eq!(name, "/10.0.1.1:11211-7");
    }

    #[test]
    fn unweighted_points_are_one_at_a_time_of_the_names() {
        let ring = Ketama::libmemcached_ketama(&[Server::new("h", 11211)]).unwrap();
        assert!(!ring.is_weighted());
        let mut expected: Vec<(u32, u32)> = (0..100)
            .map(|i| (one_at_a_time(format!("h-{i}").as_bytes()), 0))
            .collect();
        expected.sort_unstable();
        assert_eq!(ring.points, expected);
    }

    #[test]
    fn weighted_points_are_md5_words_of_the_names() {
        let ring = Ketama::libmemcached_ketama_weighted(&[Server::new("h", 11212)]).unwrap();
        assert!(ring.is_weighted());
        assert_eq!(ring.point_count(), 160);
        let mut expected: Vec<(u32, u32)> = (0..40)
            .flat_map(|i| md5_words(format!("h:11212-{i}").as_bytes()).map(|v| (v, 0)))
            .collect();
        expected.sort_unstable();
        assert_eq!(ring.points, expected);
    }

    #[test]
    fn weighted_group_counts_use_32_bit_floats() {
        // libmemcached's fixture weights: total 4300 over 8 servers.
        let weights = [600, 300, 200, 350, 1000, 800, 950, 100];
        let groups: Vec<u32> = weights
            .iter()
            .map(|&w| weighted_groups(w, 4300, 8))
            .collect();
        assert_eq!(groups, [44, 22, 14, 26, 74, 59, 70, 7]);
        // Equal weights mostly give 40 groups (160 points) per server.
        assert_eq!(weighted_groups(1, 3, 3), 40);
        // With 25 equal servers it is 39.99999 in f32 (40 in f64): 39 groups, as
        // libmemcached 1.1.4 builds it (tests/distribution.rs checks the placements).
        assert_eq!(weighted_groups(1, 25, 25), 39);
        assert_eq!(weighted_groups(1, 24, 24), 40);
    }

    #[test]
    fn zero_weight_counts_as_one() {
        let a = Ketama::libmemcached_ketama_weighted(&[
            Server::new("a", 11211).with_weight(0),
            Server::new("b", 11211).with_weight(2),
        ])
        .unwrap();
        let b = Ketama::libmemcached_ketama_weighted(&[
            Server::new("a", 11211).with_weight(1),
            Server::new("b", 11211).with_weight(2),
        ])
        .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn ties_go_to_the_server_listed_first() {
        // The same host twice yields identical points; libmemcached's comparison sorts equal
        // values by server index, so the first copy owns every key.
        let ring =
            Ketama::libmemcached_ketama(&[Server::new("same", 11211), Server::new("same", 11211)])
                .unwrap();
        for i in 0..500u32 {
            assert_eq!(ring.server_for(format!("key{i}").as_bytes()), 0);
        }
    }

    #[test]
    fn wraps_past_the_last_point() {
        let ring = Ketama::libmemcached_ketama(&[Server::new("a", 11211), Server::new("b", 11211)])
            .unwrap();
        let last = ring.points.last().unwrap().0;
        if last < u32::MAX {
            let p = ring.locate(last + 1);
            assert_eq!((p.value, p.server as u32), ring.points[0]);
        }
        assert_eq!(ring.locate(0).value, ring.points[0].0);
    }
}
