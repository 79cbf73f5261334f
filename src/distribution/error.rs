//! Why a distribution could not be built.

/// A server list that no distribution can be built over. Building is the only step that can
/// fail: once built, a distribution maps every key to a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DistributionError {
    /// The server list is empty.
    #[error("a distribution needs at least one server")]
    NoServers,
    /// Every server has weight 0, so no server could own a key.
    #[error("every server has weight 0")]
    AllWeightsZero,
    /// More servers than the other client can count (gomemcache and libmemcached count
    /// them in 32 bits).
    #[error("too many servers: {0}")]
    TooManyServers(usize),
}
