//! The settings that say when a server is marked down and for how long.

use std::time::Duration;

/// When a server is marked down and how long it stays down.
///
/// ```
/// use memcache_sync::HealthConfig;
/// use std::time::Duration;
/// let health = HealthConfig::default()
///     .with_failure_threshold(3)
///     .with_backoff(Duration::from_millis(500), Duration::from_secs(30));
/// assert_eq!(health.failure_threshold(), 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthConfig {
    failure_threshold: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 2,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
        }
    }
}

impl HealthConfig {
    /// Consecutive connection failures (connect errors, timeouts, closed or reset
    /// connections) after which the server is marked down. Default: 2. Raised to 1 if 0.
    pub fn with_failure_threshold(mut self, failures: u32) -> Self {
        self.failure_threshold = failures.max(1);
        self
    }

    /// How long a server stays down before the first probe, and the cap as failed probes
    /// double it. Each wait is jittered to between half and all of its value. Default: 1 s
    /// growing to 30 s.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// See [`HealthConfig::with_failure_threshold`].
    pub fn failure_threshold(&self) -> u32 {
        self.failure_threshold
    }

    /// The first backoff; see [`HealthConfig::with_backoff`].
    pub fn initial_backoff(&self) -> Duration {
        self.initial_backoff
    }

    /// The backoff's cap; see [`HealthConfig::with_backoff`].
    pub fn max_backoff(&self) -> Duration {
        self.max_backoff
    }
}
