//! Randomised backoff, so that many callers do not retry in lockstep.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// A duration between half of `base` and all of it, chosen at random ("equal jitter"): the
/// wait keeps growing with `base` while callers spread out.
pub(crate) fn jittered(base: Duration) -> Duration {
    // Each RandomState is seeded afresh by the standard library: randomness without a
    // dependency, and plenty for spreading retries.
    let random = RandomState::new().build_hasher().finish();
    let half = base / 2;
    let fraction = (random >> 11) as f64 / (1u64 << 53) as f64;
    half + half.mul_f64(fraction)
}

/// The backoff before attempt `attempt` (1 for the first retry): `initial` doubled per
/// attempt, capped at `max`.
pub(crate) fn exponential(initial: Duration, max: Duration, attempt: u32) -> Duration {
    initial
        .saturating_mul(
            1u32.checked_shl(attempt.saturating_sub(1))
                .unwrap_or(u32::MAX),
        )
        .min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_between_half_and_all_of_the_base_and_varies() {
        let base = Duration::from_millis(1000);
        let samples: Vec<Duration> = (0..200).map(|_| jittered(base)).collect();
        assert!(samples.iter().all(|d| *d >= base / 2 && *d <= base));
        let distinct: std::collections::HashSet<_> = samples.iter().collect();
        assert!(distinct.len() > 150, "{} distinct of 200", distinct.len());
    }

    #[test]
    fn backoff_doubles_per_attempt_up_to_the_cap() {
        let (initial, max) = (Duration::from_millis(10), Duration::from_millis(100));
        let got: Vec<u128> = (1..=6)
            .map(|a| exponential(initial, max, a).as_millis())
            .collect();
        assert_eq!(got, [10, 20, 40, 80, 100, 100]);
        assert_eq!(exponential(initial, max, 1000), max);
    }
}
