//! Server-wide commands: `flush_all`, `version`, `stats`, `verbosity` and `quit`.
//!
//! # Returns
//! `OK` for flush_all and verbosity, `VERSION <v>`, `STAT <name> <value>`… `END`.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use super::{expect, Client};
use crate::error::{Error, Result};
use crate::expiry::Expiry;
use crate::protocol::{
    encode_flush_all, encode_quit, encode_stats, encode_verbosity, encode_version, Reply,
};

/// How far ahead of its argument memcached's delayed flush can start (it flushes items stored
/// up to `realtime(delay) - 1`, on a clock that ticks in whole seconds).
const FLUSH_EARLINESS: Duration = Duration::from_secs(2);

impl Client {
    /// Invalidates every item on the server at once.
    pub fn flush_all(&mut self) -> Result<()> {
        self.flush(None)
    }

    /// Invalidates every item on the server once `delay` has passed (memcached's staggered
    /// flush across a pool). A zero delay flushes at once.
    ///
    /// memcached keeps time in whole seconds and starts the flush up to two seconds before the
    /// number it is sent, so the client adds two seconds to the delay (rounded up): the flush
    /// happens between `delay` and `delay` + 1 s, never early.
    pub fn flush_all_after(&mut self, delay: Duration) -> Result<()> {
        if delay.is_zero() {
            return self.flush(None);
        }
        let wire =
            Expiry::After(delay.saturating_add(FLUSH_EARLINESS)).to_wire(SystemTime::now())?;
        self.flush(Some(wire))
    }

    fn flush(&mut self, delay: Option<i64>) -> Result<()> {
        self.encode(|buf| {
            encode_flush_all(buf, delay, false);
            Ok(())
        })?;
        self.single(|reply| matches!(reply, Reply::Ok).then_some(()))
    }

    /// The server's version string, such as `1.6.18`.
    ///
    /// ```
    /// # use memcache_sync::Client;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// let version = client.version()?;
    /// assert!(version.starts_with("1."));
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn version(&mut self) -> Result<String> {
        self.encode(|buf| {
            encode_version(buf);
            Ok(())
        })?;
        self.single(|reply| match reply {
            Reply::Version(version) => Some(String::from_utf8_lossy(version).into_owned()),
            _ => None,
        })
    }

    /// The server's general statistics (`stats`), by name: `curr_items`, `get_hits`, …
    ///
    /// ```
    /// # use memcache_sync::Client;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// let stats = client.stats()?;
    /// assert!(stats["uptime"].parse::<u64>().is_ok());
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn stats(&mut self) -> Result<HashMap<String, String>> {
        self.read_stats(None)
    }

    /// Statistics of one group, `stats <group>`: `settings`, `items`, `slabs`, `sizes`,
    /// `conns`, … The group must be one or more tokens that follow the key rules, separated by
    /// single spaces; anything else is [`Error::InvalidArgument`] before sending. Groups that
    /// answer with other lines than `STAT` (such as `detail dump`) are not supported and give
    /// a protocol error.
    pub fn stats_group(&mut self, group: &str) -> Result<HashMap<String, String>> {
        self.read_stats(Some(group))
    }

    fn read_stats(&mut self, group: Option<&str>) -> Result<HashMap<String, String>> {
        self.request.clear();
        encode_stats(&mut self.request, group.map(str::as_bytes)).map_err(|e| {
            Error::InvalidArgument {
                what: "stats group",
                reason: e.to_string(),
            }
        })?;
        self.round_trip(|replies| {
            let mut stats = HashMap::new();
            while let Some((name, value)) = expect(replies, |reply| match reply {
                Reply::Stat { name, value } => Some(Some((
                    String::from_utf8_lossy(name).into_owned(),
                    String::from_utf8_lossy(value).into_owned(),
                ))),
                Reply::End => Some(None),
                _ => None,
            })? {
                stats.insert(name, value);
            }
            Ok(stats)
        })
    }

    /// Sets the server's logging verbosity.
    pub fn verbosity(&mut self, level: u32) -> Result<()> {
        self.encode(|buf| {
            encode_verbosity(buf, level, false);
            Ok(())
        })?;
        self.single(|reply| matches!(reply, Reply::Ok).then_some(()))
    }

    /// Asks the server to close the connection, and closes it. The client stays usable: the
    /// next command opens a new connection.
    pub fn quit(&mut self) -> Result<()> {
        let Some(mut connection) = self.connection.take() else {
            return Ok(());
        };
        self.request.clear();
        encode_quit(&mut self.request);
        connection.send(&self.request).map(drop)
    }
}
