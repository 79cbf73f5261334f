//! The settings that say when a server is marked down, for how long, and how many may be.

use std::time::Duration;

/// When a server is marked down, how long it stays down, and how many servers of a cluster
/// may be down at once.
///
/// Every setting past the failure threshold and the backoff is off by default: each trades
/// something away (see its method), so a cluster that sets none of them marks servers down
/// exactly as it always has.
///
/// ```
/// use memcache_sync::HealthConfig;
/// use std::time::Duration;
/// let health = HealthConfig::default()
///     .with_failure_threshold(2)
///     .with_timeout_threshold(3)
///     .with_backoff(Duration::from_millis(500), Duration::from_secs(30))
///     .with_flap_memory(Duration::from_secs(60))
///     .with_max_down_share(0.5);
/// assert_eq!(health.failure_threshold(), 2);
/// assert_eq!(health.timeout_threshold(), 3);
/// assert_eq!(health.max_down(4), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthConfig {
    failure_threshold: u32,
    /// `None`: the same as `failure_threshold`, so that a configuration written before
    /// timeouts had a threshold of their own keeps its meaning.
    timeout_threshold: Option<u32>,
    initial_backoff: Duration,
    max_backoff: Duration,
    /// Zero: every outage starts afresh at the initial backoff.
    flap_memory: Duration,
    /// `None`: every server may be marked down.
    max_down_share: Option<DownShare>,
}

/// A share of a cluster's servers, in `0.0..1.0`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct DownShare(f64);

// Only `with_max_down_share` makes one, and it refuses NaN: equality is total.
impl Eq for DownShare {}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 2,
            timeout_threshold: None,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            flap_memory: Duration::ZERO,
            max_down_share: None,
        }
    }
}

impl HealthConfig {
    /// Consecutive hard failures after which the server is marked down: refused or
    /// unreachable connects, and connections closed or reset mid-exchange, which say the
    /// server (or its host) is not there. Default: 2. Raised to 1 if 0.
    ///
    /// Timeouts count against [`HealthConfig::with_timeout_threshold`] instead; a mix of both
    /// counts each by its weight (a hard failure is `1 / failure_threshold` of the way down,
    /// a timeout `1 / timeout_threshold`), and an answer of any kind clears both.
    pub fn with_failure_threshold(mut self, failures: u32) -> Self {
        self.failure_threshold = failures.max(1);
        self
    }

    /// Consecutive timeouts (connect, write or read) after which the server is marked down.
    /// Default: the failure threshold. Raised to 1 if 0.
    ///
    /// A timeout is weaker evidence than a refusal: a server that is slow for a moment (a
    /// burst of traffic, a big value, a pause of its host) times out and then answers. A
    /// higher threshold keeps such a server in use, and **costs** one more timeout's wait per
    /// extra failure for the callers of a server that really is dead.
    pub fn with_timeout_threshold(mut self, timeouts: u32) -> Self {
        self.timeout_threshold = Some(timeouts.max(1));
        self
    }

    /// How long a server stays down before the first probe, and the cap as failed probes
    /// (and, with [`HealthConfig::with_flap_memory`], recent outages) double it. Each wait is
    /// jittered to between half and all of its value. Default: 1 s growing to 30 s.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// How long a server's outages are remembered, so that a server that flaps (up, down, up,
    /// down) waits longer each time. Default: zero, which remembers nothing.
    ///
    /// Each outage that begins while earlier ones are remembered starts its backoff doubled
    /// once per remembered outage, up to the backoff's cap; each `memory` that passes without
    /// an outage forgets one. A server that keeps failing right after each successful probe
    /// is then probed less and less often, instead of taking a burst of failed calls every
    /// initial backoff.
    ///
    /// **Costs:** a server that is back for good after a few flaps stays marked down (its
    /// keys failing fast) for the longer backoff before its probe finds it up.
    pub fn with_flap_memory(mut self, memory: Duration) -> Self {
        self.flap_memory = memory;
        self
    }

    /// Fail-open: when marking another server down would put more than `share` of the
    /// cluster's servers down at once, keep it up instead. Default: off (any number may be
    /// down). A share of 1 or more, or NaN, switches it off; below 0 counts as 0.
    ///
    /// Many servers failing at once is more likely the client's own network or host than the
    /// fleet: a client-side blip would otherwise mark every server down, and every key would
    /// fail fast for a whole backoff after the network is back. A server kept up goes on
    /// being tried (each call waiting out its own timeout), so its keys work again as soon as
    /// the server does. It is marked down on its next failure once fewer servers are down.
    /// The cluster announces [`Event::FailOpen`](crate::Event::FailOpen) when it first keeps
    /// a server up and [`Event::FailOpenEnded`](crate::Event::FailOpenEnded) once every
    /// server it kept up has answered or been marked down. See [`HealthConfig::max_down`] for
    /// the rounding.
    ///
    /// **Costs:** when more than `share` of the servers really are dead (a rack, a zone),
    /// calls for the keys of the ones kept up wait out a timeout each instead of failing at
    /// once, holding threads and pooled connections; **breaks** nothing else: keys are never
    /// moved by it.
    pub fn with_max_down_share(mut self, share: f64) -> Self {
        self.max_down_share = match share {
            share if share.is_nan() || share >= 1.0 => None,
            share => Some(DownShare(share.max(0.0))),
        };
        self
    }

    /// See [`HealthConfig::with_failure_threshold`].
    pub fn failure_threshold(&self) -> u32 {
        self.failure_threshold
    }

    /// See [`HealthConfig::with_timeout_threshold`].
    pub fn timeout_threshold(&self) -> u32 {
        self.timeout_threshold.unwrap_or(self.failure_threshold)
    }

    /// The first backoff; see [`HealthConfig::with_backoff`].
    pub fn initial_backoff(&self) -> Duration {
        self.initial_backoff
    }

    /// The backoff's cap; see [`HealthConfig::with_backoff`].
    pub fn max_backoff(&self) -> Duration {
        self.max_backoff
    }

    /// See [`HealthConfig::with_flap_memory`].
    pub fn flap_memory(&self) -> Duration {
        self.flap_memory
    }

    /// The share set by [`HealthConfig::with_max_down_share`], if fail-open is on.
    pub fn max_down_share(&self) -> Option<f64> {
        self.max_down_share.map(|DownShare(share)| share)
    }

    /// How many of `servers` may be marked down at once: `share × servers` rounded down, but
    /// at least one (so a cluster of one or two servers still marks a dead one down), or all
    /// of them with fail-open off.
    ///
    /// ```
    /// # use memcache_sync::HealthConfig;
    /// let half = HealthConfig::default().with_max_down_share(0.5);
    /// assert_eq!((half.max_down(1), half.max_down(3), half.max_down(4)), (1, 1, 2));
    /// assert_eq!(HealthConfig::default().max_down(4), 4);
    /// ```
    pub fn max_down(&self, servers: usize) -> usize {
        match self.max_down_share {
            // The product is at most `servers`, so the conversion back cannot overflow; the
            // nudge keeps a product such as 0.29 × 100 = 28.999… from rounding down a whole
            // server.
            Some(DownShare(share)) => {
                let allowed = (share * servers as f64 + 1e-9) as usize;
                allowed.clamp(1, servers.max(1))
            }
            None => servers,
        }
    }
}
