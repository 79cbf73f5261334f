//! Server-wide commands: `flush_all`, `version`, `stats` in all its forms, `verbosity` and
//! `quit`.
//!
//! # Returns
//! `OK` for flush_all, verbosity and `stats detail on|off`; `VERSION <v>`; `STAT <name> <value>`…
//! `END` for `stats` and its `STAT`-shaped groups; `RESET` for `stats reset`; `ITEM`… `END` for
//! `stats cachedump`; `PREFIX`… `END` for `stats detail dump`.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{unexpected, Client};
use crate::connection::Replies;
use crate::error::{Error, Result};
use crate::expiry::Expiry;
use crate::protocol::{
    encode_flush_all, encode_quit, encode_stats, encode_verbosity, encode_version, ProtocolError,
    ProtocolErrorKind, Reply,
};

/// How far ahead of its argument memcached's delayed flush can start (it flushes items stored
/// up to `realtime(delay) - 1`, on a clock that ticks in whole seconds).
const FLUSH_EARLINESS: Duration = Duration::from_secs(2);

/// The `stats` arguments [`Client::stats_group`] refuses, by first token (memcached 1.6 looks
/// at nothing else to choose the reply), and why. Their replies are not `STAT` lines closed by
/// `END`, so reading them as a map would misreport what memcached did.
const NOT_STAT_GROUPS: &[(&str, &str)] = &[
    ("reset", "memcached answers RESET; use Client::stats_reset"),
    (
        "detail",
        "memcached answers OK or PREFIX lines; use Client::stats_detail or \
         Client::stats_detail_dump",
    ),
    (
        "cachedump",
        "memcached answers ITEM lines; use Client::stats_cachedump",
    ),
    (
        "sizes_enable",
        "memcached 1.6 answers one STAT line without END, and switching size tracking at run \
         time can crash it; start memcached with -o track_sizes instead",
    ),
    (
        "sizes_disable",
        "memcached 1.6 answers one STAT line without END, and switching size tracking at run \
         time can crash it; start memcached without -o track_sizes instead",
    ),
];

/// One item listed by [`Client::stats_cachedump`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CachedumpItem {
    /// The item's key, as memcached prints it: up to its first NUL byte.
    pub key: Vec<u8>,
    /// The length of the item's value in bytes.
    pub size: u64,
    /// When the item expires by memcached's clock (kept in whole seconds), or `None` if never.
    /// An item past this time is still listed until memcached reclaims it.
    pub expires: Option<SystemTime>,
}

/// The counters `stats detail` keeps for one key prefix, from [`Client::stats_detail_dump`].
/// The prefix is the part of a key before memcached's delimiter (`:` unless the server was
/// started with `-D`); keys without the delimiter are not counted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct PrefixStats {
    /// The key prefix; empty for keys that start with the delimiter.
    pub prefix: Vec<u8>,
    /// Retrievals of keys with this prefix (`get`, `gets`, …), hits and misses alike.
    pub gets: u64,
    /// Retrievals that found the item.
    pub hits: u64,
    /// Stores.
    pub sets: u64,
    /// Deletes.
    pub deletes: u64,
}

/// # Server administration
///
/// Commands about the whole server rather than a key: its version, its statistics in their
/// several forms, its log verbosity, flushing every item, and closing the connection. They go
/// to this client's one server; on a [`Pool`](crate::Pool), call them on a checked-out client.
impl Client {
    /// Invalidates every item on the server at once: every key, whoever stored it.
    ///
    /// ```no_run
    /// # use memcache_sync::{Client, Expiry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// # // Not run by the doc tests: they share one server, and this would empty it.
    /// client.set("doc:flush_all", "v", Expiry::Never)?;
    /// client.flush_all()?;
    /// assert_eq!(client.get("doc:flush_all")?, None);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn flush_all(&mut self) -> Result<()> {
        self.flush(None)
    }

    /// Invalidates every item on the server once `delay` has passed (memcached's staggered
    /// flush across a pool). A zero delay flushes at once.
    ///
    /// memcached keeps time in whole seconds and starts the flush up to two seconds before the
    /// number it is sent, so the client adds two seconds to the delay (rounded up): the flush
    /// happens between `delay` and `delay` + 1 s, never early.
    ///
    /// ```no_run
    /// # use memcache_sync::Client;
    /// # use std::time::Duration;
    /// # // Not run by the doc tests: they share one server, and this would empty it.
    /// // Flush a pool of servers ten seconds apart, so they do not all go cold at once.
    /// let servers = ["10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211"];
    /// for (i, server) in servers.into_iter().enumerate() {
    ///     Client::connect(server)?.flush_all_after(Duration::from_secs(10 * i as u64))?;
    /// }
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn flush_all_after(&mut self, delay: Duration) -> Result<()> {
        if delay.is_zero() {
            return self.flush(None);
        }
        let wire =
            Expiry::After(delay.saturating_add(FLUSH_EARLINESS)).to_wire(SystemTime::now())?;
        self.flush(Some(wire))
    }

    fn flush(&mut self, delay: Option<i64>) -> Result<()> {
        self.refuse_unsupported("flush_all")?;
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

    /// Statistics of one group, `stats <group>`, for the groups memcached answers with `STAT`
    /// lines: `settings`, `items`, `slabs`, `sizes`, `conns`, `extstore` (empty when the
    /// server runs without extstore), … The group must be one or more tokens that follow the
    /// key rules, separated by single spaces; anything else is [`Error::InvalidArgument`]
    /// before sending. So are the arguments that answer otherwise, each of which has its own
    /// method: `reset` ([`Client::stats_reset`]), `detail on|off|dump`
    /// ([`Client::stats_detail`], [`Client::stats_detail_dump`]) and `cachedump`
    /// ([`Client::stats_cachedump`]); and `sizes_enable` / `sizes_disable`, which memcached 1.6
    /// answers without `END` and which can crash it. A group memcached does not know is
    /// [`Error::UnknownCommand`].
    ///
    /// ```
    /// # use memcache_sync::{Client, Error};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// let settings = client.stats_group("settings")?;
    /// assert!(settings["item_size_max"].parse::<u64>().is_ok());
    /// // Nothing is sent for an argument whose reply is no map.
    /// let refused = client.stats_group("reset").unwrap_err();
    /// assert!(matches!(refused, Error::InvalidArgument { .. }));
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn stats_group(&mut self, group: &str) -> Result<HashMap<String, String>> {
        let first = group.split(' ').next().unwrap_or_default();
        if let Some((_, instead)) = NOT_STAT_GROUPS.iter().find(|(name, _)| *name == first) {
            return Err(Error::InvalidArgument {
                what: "stats group",
                reason: format!("`stats {group}` is not answered with STAT lines: {instead}"),
            });
        }
        self.read_stats(Some(group))
    }

    fn read_stats(&mut self, group: Option<&str>) -> Result<HashMap<String, String>> {
        self.encode_stats(group)?;
        self.round_trip(|replies| {
            until_end(replies, |reply| match reply {
                Reply::Stat { name, value } => Some(Ok((
                    String::from_utf8_lossy(name).into_owned(),
                    String::from_utf8_lossy(value).into_owned(),
                ))),
                _ => None,
            })
        })
    }

    fn encode_stats(&mut self, args: Option<&str>) -> Result<()> {
        self.refuse_unsupported("stats")?;
        self.request.clear();
        encode_stats(&mut self.request, args.map(str::as_bytes)).map_err(|e| {
            Error::InvalidArgument {
                what: "stats group",
                reason: e.to_string(),
            }
        })
    }

    /// Sets the server's statistics counters back to zero (`stats reset`): hits, misses,
    /// commands, evictions, the per-item-class counters and the `stats detail` prefixes.
    /// Gauges such as `curr_items`, `curr_connections` and `uptime` are not counters and stay.
    ///
    /// # Returns
    /// memcached answers `RESET`.
    ///
    /// ```
    /// # use memcache_sync::Client;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.stats_reset()?;
    /// assert!(client.stats()?["cmd_get"].parse::<u64>().is_ok());
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn stats_reset(&mut self) -> Result<()> {
        self.encode_stats(Some("reset"))?;
        self.single(|reply| matches!(reply, Reply::Reset).then_some(()))
    }

    /// Turns memcached's per-prefix counting on or off (`stats detail on|off`); while it is
    /// on, every command on a key with a prefix costs the server a little extra work. Read the
    /// counts with [`Client::stats_detail_dump`]. Turning it off keeps the counts so far.
    ///
    /// # Returns
    /// memcached answers `OK`.
    ///
    /// ```
    /// # use memcache_sync::Client;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.stats_detail(true)?;
    /// assert_eq!(client.stats_group("settings")?["detail_enabled"], "yes");
    /// client.stats_detail(false)?;
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn stats_detail(&mut self, enabled: bool) -> Result<()> {
        self.encode_stats(Some(if enabled { "detail on" } else { "detail off" }))?;
        self.single(|reply| matches!(reply, Reply::Ok).then_some(()))
    }

    /// The per-prefix counters memcached has kept while [`Client::stats_detail`] was on
    /// (`stats detail dump`), one entry per prefix, in memcached's order. Empty if it was
    /// never on, or since [`Client::stats_reset`].
    ///
    /// # Returns
    /// memcached answers `PREFIX <prefix> get <n> hit <n> set <n> del <n>` lines, then `END`.
    ///
    /// ```
    /// # use memcache_sync::{Client, Expiry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.stats_detail(true)?;
    /// client.set("doc-detail:k", "v", Expiry::after_secs(60))?;
    /// client.get("doc-detail:k")?;
    /// for prefix in client.stats_detail_dump()? {
    ///     assert!(prefix.hits <= prefix.gets);
    ///     println!("{}: {} sets", String::from_utf8_lossy(&prefix.prefix), prefix.sets);
    /// }
    /// client.stats_detail(false)?;
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn stats_detail_dump(&mut self) -> Result<Vec<PrefixStats>> {
        self.encode_stats(Some("detail dump"))?;
        self.round_trip(|replies| {
            until_end(replies, |reply| match *reply {
                Reply::Prefix {
                    prefix,
                    gets,
                    hits,
                    sets,
                    deletes,
                } => Some(Ok(PrefixStats {
                    prefix: prefix.to_vec(),
                    gets,
                    hits,
                    sets,
                    deletes,
                })),
                _ => None,
            })
        })
    }

    /// Lists up to `limit` items of one slab class (`stats cachedump <class> <limit>`); a
    /// `limit` of 0 lists them all. A debugging aid: memcached 1.6 lists only the class's
    /// COLD LRU (a freshly stored item may sit in the HOT LRU for a while first), at most
    /// 2 MiB of lines, and leaves out keys stored in binary form by the meta commands. Find
    /// the classes in use with `stats_group("items")` or `stats_group("slabs")`.
    ///
    /// # Returns
    /// memcached answers `ITEM <key> [<size> b; <expiry> s]` lines, then `END`. A class
    /// memcached does not have (64 and above) is [`Error::ClientError`]; so is any cachedump on a
    /// server started with `-X`.
    ///
    /// ```
    /// # use memcache_sync::{Client, Expiry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set("doc:cachedump", "hello", Expiry::after_secs(60))?;
    /// // `stats items` names the classes that hold items: items:<class>:number, …
    /// let mut classes: Vec<u32> = client
    ///     .stats_group("items")?
    ///     .keys()
    ///     .filter_map(|name| name.split(':').nth(1)?.parse().ok())
    ///     .collect();
    /// classes.sort_unstable();
    /// classes.dedup();
    /// for class in classes {
    ///     for item in client.stats_cachedump(class, 10)? {
    ///         println!("{}: {} bytes", String::from_utf8_lossy(&item.key), item.size);
    ///     }
    /// }
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn stats_cachedump(&mut self, slab_class: u32, limit: u32) -> Result<Vec<CachedumpItem>> {
        self.encode_stats(Some(&format!("cachedump {slab_class} {limit}")))?;
        self.round_trip(|replies| {
            until_end(replies, |reply| match *reply {
                Reply::CachedumpItem { key, size, expiry } => Some(
                    expires(expiry)
                        .map(|expires| CachedumpItem {
                            key: key.to_vec(),
                            size,
                            expires,
                        })
                        .ok_or_else(|| {
                            ProtocolError::unexpected(ProtocolErrorKind::MalformedLine, reply)
                                .into()
                        }),
                ),
                _ => None,
            })
        })
    }

    /// Sets the server's logging verbosity.
    ///
    /// ```
    /// # use memcache_sync::{Client};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.verbosity(1)?; // memcached's -v
    /// client.verbosity(0)?; // back to quiet
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn verbosity(&mut self, level: u32) -> Result<()> {
        self.refuse_unsupported("verbosity")?;
        self.encode(|buf| {
            encode_verbosity(buf, level, false);
            Ok(())
        })?;
        self.single(|reply| matches!(reply, Reply::Ok).then_some(()))
    }

    /// Asks the server to close the connection, and closes it. The client stays usable: the
    /// next command opens a new connection.
    ///
    /// ```
    /// # use memcache_sync::{Client};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.version()?;
    /// client.quit()?;
    /// assert!(!client.is_connected());
    /// assert!(client.version()?.starts_with("1.")); // a new connection
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn quit(&mut self) -> Result<()> {
        let Some(mut connection) = self.connection.take() else {
            return Ok(());
        };
        self.request.clear();
        encode_quit(&mut self.request);
        connection.send(&self.request).map(drop)
    }
}

/// Reads the frames of a multi-line reply up to its `END`, turning each into an entry with
/// `entry`, which returns `None` for a frame that has no place in this reply.
fn until_end<T, C: Default + Extend<T>>(
    replies: &mut Replies<'_>,
    mut entry: impl FnMut(&Reply<'_>) -> Option<Result<T>>,
) -> Result<C> {
    let mut entries = C::default();
    while let Some(next) = replies.next(|reply| match reply {
        Reply::End => Ok(None),
        _ => entry(&reply)
            .unwrap_or_else(|| Err(unexpected(&reply)))
            .map(Some),
    })? {
        entries.extend(Some(next));
    }
    Ok(entries)
}

/// A cachedump expiry (Unix seconds, 0 for never) as a time, or `None` outside what
/// `SystemTime` can hold.
fn expires(expiry: u64) -> Option<Option<SystemTime>> {
    match expiry {
        0 => Some(None),
        secs => UNIX_EPOCH.checked_add(Duration::from_secs(secs)).map(Some),
    }
}
