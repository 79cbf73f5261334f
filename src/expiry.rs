//! Expiration times that cannot be misread by the server.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::Error;

/// memcached reads an expiration time above 30 days as a Unix timestamp, not as seconds from
/// now.
const MAX_RELATIVE_SECS: u64 = 60 * 60 * 24 * 30;

/// When an item expires.
///
/// # Porting a TTL: `0` is not "never" here
/// Other clients (the `memcache` crate, pymemcache, gomemcache, pylibmc) take a bare number
/// of seconds and send it as is, so a TTL of `0` means "never expires", as memcached reads
/// it. Here **[`Expiry::after_secs(0)`](Expiry::after_secs) and `After(Duration::ZERO)`
/// mean "already expired"**: a relative time of zero has passed. A TTL taken from an
/// existing configuration belongs in [`Expiry::from_ttl_secs`], which reads `0` as
/// [`Expiry::Never`] exactly as memcached and those clients do:
///
/// | TTL in the old client | here |
/// |---|---|
/// | `0` (never expires) | [`Expiry::Never`], or `Expiry::from_ttl_secs(0)` |
/// | `n` seconds, from a config | [`Expiry::from_ttl_secs(n)`](Expiry::from_ttl_secs) |
/// | `n` seconds, written in code | [`Expiry::after_secs(n)`](Expiry::after_secs), or `Duration::from_secs(n)` |
/// | a Unix timestamp | [`Expiry::At`] |
///
/// A [`Duration`] converts into `Expiry::After`, so every command that takes an expiry takes
/// a `Duration` as well.
///
/// # Why a type, not a number
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
/// let ported = Expiry::from_ttl_secs(0); // a TTL from an old config: 0 is never
/// assert_eq!(ported, Expiry::Never);
/// assert_eq!(Expiry::from(Duration::from_secs(60)), in_a_minute);
/// # let _ = (never, in_ninety_days, at_noon);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Expiry {
    /// The item does not expire (it may still be evicted).
    #[default]
    Never,
    /// The item expires this long after the server receives the command. Sub-second parts
    /// round up; zero means "already expired". Longer than 30 days is sent as an absolute time
    /// computed from this machine's clock, which must then read 1970 or later (else the
    /// expiry is refused: see [`Expiry::to_wire`]).
    After(Duration),
    /// The item expires at this moment, by the server's clock. memcached counts whole
    /// seconds, so a moment within a second is rounded up to the next whole second: the item
    /// never expires before the moment, and at most a second after it. A moment in the past
    /// means "already expired".
    At(SystemTime),
}

impl Expiry {
    /// Expires `secs` seconds from now; `0` means "already expired", not "never". For a TTL
    /// ported from another client or a config file, where `0` means "never", use
    /// [`Expiry::from_ttl_secs`].
    ///
    /// ```
    /// use memcache_sync::Expiry;
    /// use std::time::Duration;
    /// assert_eq!(Expiry::after_secs(90), Expiry::After(Duration::from_secs(90)));
    /// ```
    pub const fn after_secs(secs: u64) -> Self {
        Self::After(Duration::from_secs(secs))
    }

    /// A TTL as other memcached clients and memcached itself read a bare number of seconds:
    /// `0` is [`Expiry::Never`], anything else expires that many seconds from now. For TTLs
    /// taken from an existing configuration, so that a `0` there keeps meaning "never expires"
    /// rather than "already expired" (see [porting a TTL](Expiry#porting-a-ttl-0-is-not-never-here)).
    ///
    /// Unlike the number those clients send, a TTL over 30 days is still relative: it is sent
    /// as the Unix time it names, as every [`Expiry::After`] is.
    ///
    /// ```
    /// use memcache_sync::Expiry;
    ///
    /// let ttl_from_config: u32 = 0;
    /// assert_eq!(Expiry::from_ttl_secs(ttl_from_config), Expiry::Never);
    /// assert_eq!(Expiry::from_ttl_secs(300), Expiry::after_secs(300));
    /// // `after_secs` reads the same 0 as "already expired".
    /// assert_ne!(Expiry::after_secs(0), Expiry::Never);
    /// ```
    pub const fn from_ttl_secs(secs: u32) -> Self {
        match secs {
            0 => Self::Never,
            secs => Self::after_secs(secs as u64),
        }
    }

    /// The number to put on the wire, given this machine's current time: `0` for never, a
    /// relative number of seconds up to 30 days, a Unix timestamp beyond, and `-1` for
    /// "already expired". A moment is rounded up to a whole second, so that no item expires
    /// before it.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the number cannot mean what was asked: a moment after
    /// January 2038 (memcached reads the number as a signed 32-bit value), which is refused
    /// rather than shortened; and a relative time over 30 days while `now` is before 1970,
    /// which as a timestamp would read as a moment already past.
    ///
    /// ```
    /// use memcache_sync::Expiry;
    /// use std::time::{Duration, SystemTime, UNIX_EPOCH};
    /// let now = SystemTime::now();
    /// assert_eq!(Expiry::Never.to_wire(now)?, 0);
    /// assert_eq!(Expiry::after_secs(60).to_wire(now)?, 60);
    /// assert_eq!(Expiry::after_secs(0).to_wire(now)?, -1); // already expired
    /// // Beyond 30 days, the Unix time it names.
    /// let ninety_days = Expiry::after_secs(90 * 24 * 3600).to_wire(now)?;
    /// assert!(ninety_days > now.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64);
    /// // After January 2038, refused rather than shortened.
    /// assert!(Expiry::At(UNIX_EPOCH + Duration::from_secs(1 << 32)).to_wire(now).is_err());
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
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
                } else if now < UNIX_EPOCH {
                    Err(clock_before_1970(now))
                } else {
                    // The moment itself, rounded up once, not the rounded-up duration added
                    // to `now` and rounded up again.
                    now.checked_add(duration)
                        .map_or_else(|| Err(too_late()), |at| Self::At(at).to_wire(now))
                }
            }
            Self::At(at) => {
                let unix = at.duration_since(UNIX_EPOCH).map_or(0, |since| {
                    since
                        .as_secs()
                        .saturating_add(u64::from(since.subsec_nanos() > 0))
                });
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

/// A relative expiry: `Duration::from_secs(60)` wherever an [`Expiry`] is taken.
/// `Duration::ZERO` is "already expired", as [`Expiry::After`] is.
///
/// ```
/// use memcache_sync::Expiry;
/// use std::time::Duration;
///
/// assert_eq!(Expiry::from(Duration::from_secs(60)), Expiry::after_secs(60));
/// ```
impl From<Duration> for Expiry {
    fn from(after: Duration) -> Self {
        Self::After(after)
    }
}

fn clock_before_1970(now: SystemTime) -> Error {
    let behind = UNIX_EPOCH.duration_since(now).unwrap_or_default();
    Error::InvalidArgument {
        what: "expiry",
        reason: format!(
            "a relative expiry over 30 days is sent as a Unix time, and this machine's clock \
             reads {behind:?} before 1970"
        ),
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

    fn at_millis(unix_millis: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(unix_millis)
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
    fn a_ported_ttl_of_zero_is_never_and_any_other_is_that_many_seconds_from_now() {
        let now = at(1_800_000_000);
        assert_eq!(Expiry::from_ttl_secs(0), Expiry::Never);
        assert_eq!(Expiry::from_ttl_secs(0).to_wire(now).unwrap(), 0);
        assert_eq!(Expiry::from_ttl_secs(1).to_wire(now).unwrap(), 1);
        assert_eq!(Expiry::from_ttl_secs(300), Expiry::after_secs(300));
        // Over 30 days stays relative: sent as the moment it names, not read as a timestamp.
        let long = Expiry::from_ttl_secs(31 * DAY as u32).to_wire(now).unwrap();
        assert_eq!(long, 1_800_000_000 + 31 * DAY as i64);
        assert_eq!(
            Expiry::from_ttl_secs(u32::MAX),
            Expiry::after_secs(u64::from(u32::MAX))
        );
    }

    #[test]
    fn a_duration_is_a_relative_expiry_and_zero_is_already_expired() {
        let now = at(1_800_000_000);
        assert_eq!(
            Expiry::from(Duration::from_secs(60)),
            Expiry::after_secs(60)
        );
        assert_eq!(Expiry::from(Duration::ZERO).to_wire(now).unwrap(), -1);
    }

    #[test]
    fn a_moment_within_a_second_rounds_up_so_the_item_never_expires_before_it() {
        let now = at(1_800_000_000);
        // (moment in Unix milliseconds, wire value): never less than the moment, and less
        // than a second more.
        let cases = [
            (1_900_000_000_000, 1_900_000_000),
            (1_900_000_000_001, 1_900_000_001),
            (1_900_000_000_500, 1_900_000_001),
            (1_900_000_000_999, 1_900_000_001),
            (1_900_000_001_000, 1_900_000_001),
            (i32::MAX as u64 * 1000 - 1, i32::MAX as i64),
        ];
        for (millis, want) in cases {
            let wire = Expiry::At(at_millis(millis)).to_wire(now).unwrap();
            assert_eq!(wire, want, "At({millis} ms)");
            assert!(wire as u64 * 1000 >= millis && (wire as u64 * 1000) < millis + 1000);
        }
        // Rounding up past the last representable second is refused, not rounded down.
        assert!(Expiry::At(at_millis(i32::MAX as u64 * 1000 + 1))
            .to_wire(now)
            .is_err());
        // Just past 30 days after 1970 is in the past, whichever way it rounds.
        assert_eq!(
            Expiry::At(at_millis(30 * DAY * 1000 - 500))
                .to_wire(now)
                .unwrap(),
            -1
        );
        assert!(
            Expiry::At(at_millis(30 * DAY * 1000 + 500))
                .to_wire(now)
                .unwrap()
                <= now_secs(now)
        );
    }

    fn now_secs(now: SystemTime) -> i64 {
        now.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
    }

    #[test]
    fn a_long_relative_expiry_is_the_moment_it_names_rounded_up_once() {
        // (now in Unix milliseconds, relative expiry, wire value)
        let cases = [
            (
                1_800_000_000_000,
                Duration::from_secs(31 * DAY),
                1_800_000_000 + 31 * DAY,
            ),
            (
                1_800_000_000_300,
                Duration::from_secs(31 * DAY),
                1_800_000_001 + 31 * DAY,
            ),
            (
                1_800_000_000_300,
                Duration::from_secs(31 * DAY) + Duration::from_millis(700),
                1_800_000_001 + 31 * DAY,
            ),
            (
                1_800_000_000_300,
                Duration::from_secs(31 * DAY) + Duration::from_millis(701),
                1_800_000_002 + 31 * DAY,
            ),
            (
                1_800_000_000_000,
                Duration::from_secs(30 * DAY) + Duration::from_millis(1),
                1_800_000_001 + 30 * DAY,
            ),
        ];
        for (now, after, want) in cases {
            let wire = Expiry::After(after).to_wire(at_millis(now)).unwrap();
            assert_eq!(wire, want as i64, "After({after:?}) at {now} ms");
        }
    }

    #[test]
    fn a_relative_expiry_over_30_days_with_the_clock_before_1970_is_refused() {
        let before_1970 = [
            UNIX_EPOCH - Duration::from_millis(1),
            UNIX_EPOCH - Duration::from_secs(DAY),
            // Here some moments land after 1970, and would still read as long past.
            UNIX_EPOCH - Duration::from_secs(10 * DAY),
        ];
        for now in before_1970 {
            for after in [
                Duration::from_secs(30 * DAY + 1),
                Duration::from_secs(60 * DAY),
                Duration::from_secs(365 * DAY),
            ] {
                match Expiry::After(after).to_wire(now) {
                    Err(Error::InvalidArgument {
                        what: "expiry",
                        reason,
                    }) => {
                        assert!(reason.contains("1970"), "{reason}")
                    }
                    other => panic!("After({after:?}) at {now:?}: {other:?}"),
                }
            }
            // Up to 30 days is relative and needs no clock.
            assert_eq!(
                Expiry::after_secs(30 * DAY).to_wire(now).unwrap(),
                30 * DAY as i64
            );
            assert_eq!(Expiry::after_secs(60).to_wire(now).unwrap(), 60);
            assert_eq!(Expiry::Never.to_wire(now).unwrap(), 0);
        }
        // At the epoch itself the clock is not before 1970.
        assert_eq!(
            Expiry::after_secs(31 * DAY).to_wire(UNIX_EPOCH).unwrap(),
            31 * DAY as i64
        );
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
