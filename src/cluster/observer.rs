//! Hooks for metrics and logs.

use std::time::Duration;

use crate::error::Error;

/// Something a [`Cluster`](crate::Cluster) did, for an [`Observer`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// An operation on one key finished, after any retries.
    Operation {
        /// The server's address.
        server: &'a str,
        /// The command's name, such as `"get"`.
        command: &'static str,
        /// Time from the call to its result, retries included.
        latency: Duration,
        /// The error it ended with, if it failed.
        error: Option<&'a Error>,
    },
    /// A failed operation is about to be tried again after `backoff`.
    Retry {
        /// The server's address.
        server: &'a str,
        /// The command's name.
        command: &'static str,
        /// The attempt that failed, from 1.
        attempt: u32,
        /// Why it failed.
        error: &'a Error,
        /// How long the cluster waits before the next attempt.
        backoff: Duration,
    },
    /// A server was marked down: its keys fail fast until a probe succeeds.
    ServerDown {
        /// The server's address.
        server: &'a str,
        /// How long until the next probe.
        retry_in: Duration,
    },
    /// A server that was down answered a probe and is up again.
    ServerUp {
        /// The server's address.
        server: &'a str,
    },
    /// A server was marked down soon after earlier outages, which the flap memory
    /// ([`HealthConfig::with_flap_memory`](crate::HealthConfig::with_flap_memory)) still
    /// holds: its first backoff is doubled once per outage remembered. Follows the
    /// outage's [`Event::ServerDown`].
    Flapping {
        /// The server's address.
        server: &'a str,
        /// The earlier outages remembered (at most enough to reach the backoff's cap).
        recent_outages: u32,
        /// How long until the first probe.
        retry_in: Duration,
    },
    /// Fail-open began: `server` reached its failure threshold, but `down` of the cluster's
    /// `servers` are marked down already, as many as
    /// [`HealthConfig::with_max_down_share`](crate::HealthConfig::with_max_down_share)
    /// allows. It is kept up and goes on being tried, as is any other server that reaches
    /// its threshold until fewer are down.
    FailOpen {
        /// The server kept up.
        server: &'a str,
        /// How many servers are marked down.
        down: usize,
        /// How many servers the cluster has.
        servers: usize,
    },
    /// Fail-open ended: every server it kept up has since answered or been marked down.
    FailOpenEnded {
        /// How many servers are marked down now.
        down: usize,
        /// How many servers the cluster has.
        servers: usize,
    },
    /// A call for a key of `server`, which is down, was not passed on to `to` because the
    /// failover budget ([`ClusterBuilder::failover_rate`](crate::ClusterBuilder::failover_rate))
    /// is spent: it fails with `server`'s own error.
    FailoverRefused {
        /// The address of the key's own server.
        server: &'a str,
        /// The address of the server the call would have gone to.
        to: &'a str,
    },
    /// Under [`Failover::Gutter`](crate::Failover::Gutter), a call for `keys` keys of
    /// `server`, which is down, went to the gutter server `gutter` (a single-key call: one
    /// key; a batch: one event per gutter server its keys reached).
    Gutter {
        /// The address of the keys' own server.
        server: &'a str,
        /// The address of the gutter server the call went to.
        gutter: &'a str,
        /// The command's name.
        command: &'static str,
        /// How many keys went there.
        keys: usize,
    },
    /// The server list was replaced ([`Cluster::set_servers`](crate::Cluster::set_servers)):
    /// calls that start from now on route by the new list. A gutter's own list is not
    /// changed by it.
    ServersChanged {
        /// Servers new to the list, by address.
        added: &'a [String],
        /// Servers no longer in it, by address.
        removed: &'a [String],
        /// How many servers are in both, keeping their pools and health.
        kept: usize,
        /// How many servers the new list has.
        servers: usize,
    },
}

/// Receives a [`Cluster`](crate::Cluster)'s [`Event`]s, to feed metrics. Called on the thread
/// that did the work, so it should be quick. Any `Fn(&Event)` closure that is `Send + Sync`
/// is an observer.
///
/// ```
/// use memcache_sync::{Event, Observer};
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
///
/// let failures = Arc::new(AtomicU64::new(0));
/// let counter = Arc::clone(&failures);
/// let observer = move |event: &Event<'_>| {
///     if let Event::Operation { error: Some(_), .. } = event {
///         counter.fetch_add(1, Ordering::Relaxed);
///     }
/// };
/// # fn takes(_: impl Observer) {}
/// takes(observer);
/// ```
pub trait Observer: Send + Sync {
    /// Called for each event.
    fn on_event(&self, event: &Event<'_>);
}

impl<F: Fn(&Event<'_>) + Send + Sync> Observer for F {
    fn on_event(&self, event: &Event<'_>) {
        self(event)
    }
}
