//! Opt-in retries of operations that are safe to repeat.

use std::time::Duration;

/// How a [`Cluster`](crate::Cluster) retries a failed operation. Off by default: one attempt.
///
/// A retry happens only when the error says a later attempt may succeed
/// ([`Error::is_transient`](crate::Error::is_transient)) and repeating is safe
/// ([`Error::is_safe_to_retry`](crate::Error::is_safe_to_retry)): reads (`get`, `gets`,
/// `gat`, `gats`) and `touch` are repeated after any transient failure;
/// `set`, `add`, `replace`, `append`, `prepend`, `cas`, `incr`, `decr` and `delete` only when
/// the request cannot have reached the server (a refused connection), because repeating them
/// could apply them twice or misreport their outcome. A key is retried on its own server, never
/// another, and a server marked down is not retried at all. Batches (`get_many`, `set_many`,
/// …) are not retried: each server's part reports its own error (its error is
/// [`Error::ServerDown`](crate::Error::ServerDown)).
///
/// ```
/// use memcache_sync::RetryPolicy;
/// use std::time::Duration;
/// let retry = RetryPolicy::attempts(3).with_backoff(Duration::from_millis(10), Duration::from_millis(200));
/// assert_eq!(retry.max_attempts(), 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::attempts(1)
    }
}

impl RetryPolicy {
    /// No retries: every operation is tried once.
    pub fn none() -> Self {
        Self::default()
    }

    /// Up to `max_attempts` attempts in all (the first included), with a backoff of 10 ms
    /// doubling up to 1 s, each jittered. Raised to 1 if 0.
    pub fn attempts(max_attempts: u32) -> Self {
        Self {
            max_attempts: max_attempts.max(1),
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_secs(1),
        }
    }

    /// The wait before the first retry, doubled for each further one up to `max`; each wait
    /// is jittered to between half and all of its value.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// The most attempts per operation, the first included.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        super::jitter::jittered(super::jitter::exponential(
            self.initial_backoff,
            self.max_backoff,
            retry,
        ))
    }
}

/// What a cluster does with a key whose server is marked down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Failover {
    /// The call fails at once with [`Error::ServerDown`](crate::Error::ServerDown). A key
    /// always lives on the server its distribution names. The default.
    #[default]
    Never,
    /// The call goes to the key's next owner that is up: the server its distribution names
    /// with the down server left out ([`Distribution::server_for_excluding`]). For ketama
    /// that is the next point of the continuum, for modulo a rehash over the servers left,
    /// for rendezvous the next highest score, so a dead server's keys spread over the
    /// survivors instead of doubling one neighbour's load; a batch splits the dead server's
    /// group the same way. Keys of servers that are up never move. A distribution of your
    /// own without that method hands them to the next server in the list.
    ///
    /// **Any failover breaks what relies on one key living in one place:**
    /// - a lock taken with `add` can be taken twice, once on the owner before it died (or
    ///   by a client that still reaches it) and once on the next owner;
    /// - a reader can miss what a writer just stored, when one of them saw the server down
    ///   and the other did not;
    /// - when the server comes back its keys go home, where it serves the values it held
    ///   before the outage, older than those written meanwhile (nothing deletes them), and
    ///   the next owner keeps serving its copies to any client that still sees the owner
    ///   down;
    /// - a [`CasToken`](crate::CasToken) from one server means nothing on another: a `cas`
    ///   with a token read before a move answers `NotFound` or `Exists` there.
    ///
    /// Use it only for data that is a pure cache of something else.
    ///
    /// ```
    /// use memcache_sync::{Cluster, Failover};
    ///
    /// let cluster = Cluster::builder(["10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211"])
    ///     .failover(Failover::NextServer)
    ///     .build()?;
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    ///
    /// [`Distribution::server_for_excluding`]: crate::distribution::Distribution::server_for_excluding
    NextServer,
    /// The keys of a server marked down go to a small, separate gutter pool
    /// ([`ClusterBuilder::gutter`](crate::ClusterBuilder::gutter), which also chooses this
    /// policy), spread over the gutter's servers by their own ketama ring; no key ever moves
    /// within the main ring. Every expiry sent to the gutter is capped at
    /// [`GutterConfig::with_max_ttl`](crate::GutterConfig::with_max_ttl) (default 10 s). When
    /// the server's probe finds it up, its keys go back to it. The scheme is the gutter of
    /// Facebook's "Scaling Memcache" (NSDI 2013): rehashing onto live servers risks piling a
    /// dead server's load onto them until they fail too, and leaves copies that outlive the
    /// outage; a short-TTL gutter bounds both. See [`GutterConfig`](crate::GutterConfig) for
    /// what each command does there, what it costs and what it breaks.
    ///
    /// ```
    /// use memcache_sync::{Cluster, GutterConfig};
    /// use std::time::Duration;
    ///
    /// let cluster = Cluster::builder(["10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211"])
    ///     .gutter(GutterConfig::new(["10.0.1.1:11211"]).with_max_ttl(Duration::from_secs(5)))
    ///     .build()?;
    /// assert_eq!(cluster.gutter_servers(), ["10.0.1.1:11211"]);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    Gutter,
}
