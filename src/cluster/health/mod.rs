//! Whether a server is up, shared by every thread and clone of a cluster.
//!
//! Connection failures are counted by weight: hard ones (refused, unreachable, closed or
//! reset) against `failure_threshold`, timeouts against `timeout_threshold`. When they reach
//! it the server is marked down, and while down calls for its keys fail at once with
//! [`Error::ServerDown`](crate::Error::ServerDown). When the backoff has passed, exactly one
//! caller is let through as a probe while the others keep failing fast; its success marks
//! the server up, its failure doubles the backoff (with jitter, up to a cap). Any call the
//! server answers marks it up, probe or not: an answer is proof enough. With a flap memory,
//! an outage soon after others starts with a longer backoff.
//!
//! The servers of a cluster share a [`Fleet`]: with fail-open on, a server that reaches its
//! threshold while the fleet's share of down servers is used up is kept up instead, and the
//! fleet also holds the failover budget.

mod config;
mod fleet;
mod hooks;
mod state;
mod verdict;

#[cfg(test)]
mod stress;
#[cfg(test)]
mod tests;

use std::time::Duration;

pub use config::HealthConfig;
pub(crate) use fleet::{FailoverBudget, Fleet};
#[cfg(test)]
pub(crate) use state::assert_fleet_consistent;
pub(crate) use state::Health;
pub(crate) use verdict::{Failure, Verdict};

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
    /// An outage began, after `hard` hard failures and `soft` timeouts. `recent_outages` is
    /// how many earlier outages the flap memory held, each doubling this first backoff.
    Down {
        retry_in: Duration,
        hard: u32,
        soft: u32,
        recent_outages: u32,
    },
    /// The probe failed: the outage goes on.
    StillDown {
        retry_in: Duration,
    },
    Up,
    /// Reached its threshold while the fleet's share of down servers is used up: kept up.
    KeptUp {
        hard: u32,
        soft: u32,
    },
}

/// Fail-open began or ended; `down` is how many servers were down then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailOpen {
    Entered { down: u32 },
    Ended { down: u32 },
}

/// What one recorded outcome changed: the server's state, and the fleet's fail-open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Change {
    pub(crate) server: Option<Transition>,
    pub(crate) fail_open: Option<FailOpen>,
}

impl Change {
    /// Nothing changed.
    pub(crate) const NONE: Change = Change {
        server: None,
        fail_open: None,
    };

    fn server(transition: Transition) -> Change {
        Change {
            server: Some(transition),
            fail_open: None,
        }
    }
}
