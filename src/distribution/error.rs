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

/// Why a server's text is not `host:port` or `host:port:weight` (see
/// [`Server`](super::Server)'s `FromStr`). Every variant but [`Empty`](Self::Empty) holds the
/// text that was read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServerParseError {
    /// Nothing, or only whitespace.
    #[error("a server address is empty")]
    Empty,
    /// Nothing before the port.
    #[error("{input:?} has no host: write host:port")]
    MissingHost {
        /// The text read.
        input: String,
    },
    /// No port after the host: the port is required, as gomemcache and the `memcache` crate
    /// require it.
    #[error("{input:?} has no port: write host:port")]
    MissingPort {
        /// The text read.
        input: String,
    },
    /// A host holding whitespace, a comma or a bracket: a list not split into its servers,
    /// or a stray bracket.
    #[error("{input:?} does not start with a host name or address")]
    InvalidHost {
        /// The text read.
        input: String,
    },
    /// The port is not a number from 1 to 65535.
    #[error("the port of {input:?} is not a number from 1 to 65535")]
    InvalidPort {
        /// The text read.
        input: String,
    },
    /// The weight is not a whole number from 0 to 4294967295.
    #[error("the weight of {input:?} is not a whole number from 0 to 4294967295")]
    InvalidWeight {
        /// The text read.
        input: String,
    },
    /// More colons than `host:port:weight` holds: most often an IPv6 address without its
    /// brackets.
    #[error("{input:?} is not host:port[:weight] (an IPv6 address goes in brackets: [::1]:11211)")]
    TooManyParts {
        /// The text read.
        input: String,
    },
    /// A `[` not closed, nothing inside the brackets, or no `:` straight after the `]`.
    #[error("{input:?} is not [ipv6-address]:port[:weight]")]
    Brackets {
        /// The text read.
        input: String,
    },
}
