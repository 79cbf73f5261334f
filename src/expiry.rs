//! Expiration times that cannot be misread by the server.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::Error;

/// memcached reads an expiration time above 30 days as a Unix timestamp, not as seconds from
/// now.
const MAX_RELATIVE_SECS: u64 = 60 * 60 * 24 * 30;

/// When an item expires.
///
/// memcached reads a number up to 30 days as seconds from now and anything larger as a Unix
/// timestamp, so a relative time of 31 days sent as is would mean a moment in January 1970
/// and the item would vanish at once. This type removes that trap: say which you mean and the
/// client sends the number memcached will read that way.
///
/// ```
/// use memcache_sync::Expiry;
/// use std::time::{Duration, SystemTime};
///
/// let never = Expiry::Never;
/// let in_a_minute = Expiry::after_secs(60);
/// let in_ninety_days = Expiry::After(Duration::from_secs(90 * 24 * 3600)); // sent as a timestamp
/// let at_noon = Expiry::At(SystemTime::now() + Duration::from_secs(3600));
/// # let _ = (never, in_a_minute, in_ninety_days, at_noon);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Expiry {
    /// The item does not expire (it may still be evicted).
    #[default]
    Never,
    /// The item expires this long after the server receives the command. Sub-second parts
    /// round up; zero means "already expired". Longer than 30 days is sent as an absolute time
    /// computed from this machine's clock.
    After(Duration),
    /// The item expires at this moment, by the server's clock. A moment in the past means
    /// "already expired".
    At(SystemTime),
}

impl Expiry {
    /// Expires `secs` seconds from now; `0` means "already expired", not "never".
    pub const fn after_secs(secs: u64) -> Self {
        Self::After(Duration::from_secs(secs))
    }

    /// The number to put on the wire, given this machine's current time: `0` for never, a
    /// relative number of seconds up to 30 days, a Unix timestamp beyond, and `-1` for
    /// "already expired". memcached reads it as a signed 32-bit number, so a moment after
    /// January 2038 cannot be expressed and is refused rather than shortened.
    pub fn to_wire(self, now: SystemTime) -> Result<i64, Error> {
        match self {
            Self::Never => Ok(0),
            Self::After(duration) => {
                let secs = duration
                    .as_secs()
                    .saturating_add(u64::from(duration.subsec_nanos() > 0));
                if secs == 0 {
                    Ok(-1)
                } else if secs <= MAX_RELATIVE_SECS {
                    Ok(secs as i64)
                } else {
                    now.checked_add(Duration::from_secs(secs))
                        .map_or_else(|| Err(too_late()), |at| Self::At(at).to_wire(now))
                }
            }
            Self::At(at) => {
                let unix = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
                if unix <= MAX_RELATIVE_SECS {
                    // This far back is in the past; as a number it would read as "from now".
                    Ok(-1)
                } else if unix > i32::MAX as u64 {
                    Err(too_late())
                } else {
                    Ok(unix as i64)
                }
            }
        }
    }
}

fn too_late() -> Error {
    Error::InvalidArgument {
        what: "expiry",
        reason:
            "memcached cannot represent expiration times after 2038-01-19 (signed 32-bit Unix time)"
                .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 24 * 3600;

    fn at(unix: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(unix)
    }

    #[test]
    fn wire_values_follow_memcacheds_reading_of_the_number() {
        let now = at(1_800_000_000);
        let cases = [
            (Expiry::Never, Some(0)),
            (Expiry::After(Duration::ZERO), Some(-1)),
            (Expiry::After(Duration::from_millis(1)), Some(1)),
            (Expiry::After(Duration::from_millis(1500)), Some(2)),
            (Expiry::after_secs(60), Some(60)),
            (Expiry::after_secs(30 * DAY), Some(30 * DAY as i64)),
            (
                Expiry::after_secs(30 * DAY + 1),
                Some(1_800_000_000 + 30 * DAY as i64 + 1),
            ),
            (Expiry::At(at(1_900_000_000)), Some(1_900_000_000)),
            (Expiry::At(at(1_000_000_000)), Some(1_000_000_000)),
            (Expiry::At(at(30 * DAY)), Some(-1)),
            (Expiry::At(at(5)), Some(-1)),
            (Expiry::At(UNIX_EPOCH - Duration::from_secs(5)), Some(-1)),
            (Expiry::At(at(i32::MAX as u64)), Some(i32::MAX as i64)),
            (Expiry::At(at(i32::MAX as u64 + 1)), None),
            (Expiry::after_secs(400 * 365 * DAY), None),
            (Expiry::After(Duration::MAX), None),
        ];
        for (expiry, want) in cases {
            assert_eq!(expiry.to_wire(now).ok(), want, "{expiry:?}");
        }
    }

    #[test]
    fn no_relative_time_is_ever_sent_as_a_number_read_as_a_past_timestamp() {
        let now = at(1_800_000_000);
        for secs in [
            1,
            DAY,
            29 * DAY,
            30 * DAY,
            30 * DAY + 1,
            31 * DAY,
            365 * DAY,
        ] {
            let wire = Expiry::after_secs(secs).to_wire(now).unwrap();
            let absolute = wire as u64 > 30 * DAY;
            let meant = if absolute {
                wire as u64 - 1_800_000_000
            } else {
                wire as u64
            };
            assert_eq!(meant, secs);
        }
    }
}
