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
