//! Whether a server is up, shared by every thread and clone of a cluster.
//!
//! After `failure_threshold` consecutive connection failures a server is marked down. While
//! down, calls for its keys fail at once with [`Error::ServerDown`](crate::Error::ServerDown).
//! When the backoff has passed, exactly one caller is let through as a probe while the others
//! keep failing fast; its success marks the server up, its failure doubles the backoff (with
//! jitter, up to a cap). Any call the server answers marks it up, probe or not: an answer is
//! proof enough.

mod config;
mod state;
mod verdict;

#[cfg(test)]
mod stress;
#[cfg(test)]
mod tests;

use std::time::Duration;

pub use config::HealthConfig;
pub(crate) use state::Health;
pub(crate) use verdict::Verdict;

/// May this call go to the server?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// The server is up.
    Go,
    /// The server is down and this caller is its one probe.
    Probe(ProbeId),
}

/// Which probe a caller holds. A probe's verdict can arrive after its outage has ended and
/// another has begun with a probe of its own; the identity lets only the probe the state is
/// waiting for settle it, so a late verdict never frees a newer probe's slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProbeId {
    /// The outage being probed.
    outage: u64,
    /// This probe, unique across the server's outages.
    probe: u64,
}

/// A change of a server's state, for logs and observers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    Down { retry_in: Duration },
    Up,
}
