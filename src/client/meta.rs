//! The meta commands (`mg`, `ms`, `md`, `ma`, `mn`, `me`) as typed methods.
//!
//! Every request carries a fresh opaque token and every reply must echo exactly it: a reply
//! that answers some other request is a protocol error that drops the connection, never a
//! value for the wrong key. `me` carries no token (memcached ignores one); its reply must
//! name the key instead.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use super::Client;
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::item::CasToken;
use crate::meta_types::{
    MetaArithOptions, MetaArithOutcome, MetaCounter, MetaDebugInfo, MetaDebugOptions,
    MetaDeleteOptions, MetaDeleteOutcome, MetaGetOptions, MetaItem, MetaSetMode, MetaSetOptions,
    MetaStoreOutcome,
};
use crate::protocol::meta::{
    unsupported_flag, DebugInfo, DebugReply, Echo, MetaArithmetic, MetaDebug, MetaDelete,
    MetaError, MetaGet, MetaNoop, MetaReply, MetaResponse, MetaSet, ReturnCode, SetMode,
};
use crate::protocol::{ProtocolError, ProtocolErrorKind, ServerErrorKind};

/// The source of opaque tokens. One counter for the process rather than one per connection:
/// a token then never repeats on any connection (until it wraps after 2^32 requests), so a
/// late reply to an earlier request can never carry the token the current one expects.
static NEXT_OPAQUE: AtomicU32 = AtomicU32::new(1);

/// Room for a `u32` in decimal.
type OpaqueBuf = [u8; 10];

/// The next opaque token, written into `buf`: at most 10 bytes, well within the 31 memcached
/// echoes.
fn next_opaque(buf: &mut OpaqueBuf) -> &[u8] {
    let mut n = NEXT_OPAQUE.fetch_add(1, Ordering::Relaxed);
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}

/// A duration as the whole seconds of a meta TTL token, rounded up so that nothing expires
/// early; the codec refuses what does not fit memcached's 32 bits.
fn secs_up(duration: Duration) -> i64 {
    let secs = duration
        .as_secs()
        .saturating_add(u64::from(duration.subsec_nanos() > 0));
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// The `mg` that `options` ask for, `touch` and `vivify` being their expiries on the wire.
pub(super) fn get_request<'a>(
    key: &'a [u8],
    o: &MetaGetOptions,
    touch: Option<i64>,
    vivify: Option<i64>,
    opaque: &'a [u8],
) -> MetaGet<'a> {
    let mut get = MetaGet::new(key).opaque(opaque);
    get = if o.base64_key { get.base64_key() } else { get };
    get = if o.value { get.value() } else { get };
    get = if o.cas { get.return_cas() } else { get };
    get = if o.client_flags {
        get.return_client_flags()
    } else {
        get
    };
    get = if o.ttl { get.return_ttl() } else { get };
    get = if o.size { get.return_size() } else { get };
    get = if o.hit_before { get.return_hit() } else { get };
    get = if o.last_access {
        get.return_last_access()
    } else {
        get
    };
    get = if o.no_lru_bump {
        get.no_lru_bump()
    } else {
        get
    };
    if let Some(ttl) = touch {
        get = get.touch(ttl);
    }
    if let Some(ttl) = vivify {
        get = get.vivify_on_miss(ttl);
    }
    if let Some(ttl) = o.recache_below {
        get = get.recache_below(secs_up(ttl));
    }
    if let Some(CasToken(cas)) = o.unless_cas {
        get = get.unless_cas(cas);
    }
    if let Some(CasToken(cas)) = o.new_cas {
        get = get.new_cas(cas);
    }
    get
}

/// What a reply to an `mg` sent with `options` says: `Some(None)` a miss, `Some(Some(item))`
/// a hit, `None` a reply that answers no such `mg`. memcached answers a hit `VA` when the
/// value was asked for and `HD` when it was not; the other one would be a hit with no value
/// for a caller who asked for it (or a value nobody asked for), so it answers some other
/// request.
fn get_outcome(r: &MetaResponse<'_>, options: &MetaGetOptions) -> Option<Option<MetaItem>> {
    is_hit(r, options).map(|hit| hit.then(|| meta_item(r)))
}

/// Whether a reply to an `mg` sent with `options` is a hit (`Some(false)`: a miss), or `None`
/// if it answers no such `mg`: see [`get_outcome`].
pub(super) fn is_hit(r: &MetaResponse<'_>, options: &MetaGetOptions) -> Option<bool> {
    match r.code {
        ReturnCode::Value if options.value => Some(true),
        ReturnCode::Success if !options.value => Some(true),
        ReturnCode::Miss => Some(false),
        _ => None,
    }
}

/// A hit, owned: the value copied out of the read buffer, and the metadata that came with it.
pub(super) fn meta_item(r: &MetaResponse<'_>) -> MetaItem {
    let mut item = MetaItem::default();
    fill_item(&mut item, r);
    item
}

/// Makes `item` the hit `r`, reusing the room its value already has.
pub(super) fn fill_item(item: &mut MetaItem, r: &MetaResponse<'_>) {
    let f = &r.flags;
    match (r.value, &mut item.value) {
        (Some(value), Some(kept)) => {
            kept.clear();
            kept.extend_from_slice(value);
        }
        (value, kept) => *kept = value.map(<[u8]>::to_vec),
    }
    item.flags = f.client_flags;
    item.cas = f.cas.map(CasToken);
    item.ttl = f.ttl;
    item.size = f.size;
    item.hit_before = f.hit_before;
    item.last_access = f.last_access;
    item.stale = f.stale;
    item.win = f.won;
    item.already_won = f.win_already_sent;
}

/// A meta request the codec refused, as the caller's error: a bad key stays
/// [`Error::InvalidKey`], whichever key mode judged it. The cluster's meta commands check
/// keys with it too, so a key is refused (or taken) alike everywhere.
impl From<MetaError> for Error {
    fn from(error: MetaError) -> Self {
        match error {
            MetaError::Key(key) => Error::InvalidKey(key),
            other => Error::InvalidArgument {
                what: "meta request",
                reason: other.to_string(),
            },
        }
    }
}

fn unanswered(response: &MetaResponse<'_>) -> Error {
    ProtocolError::new(ProtocolErrorKind::UnexpectedReply, response.code.as_bytes()).into()
}

/// Turns one reply frame into the command's value with `accept` (`None`: the code does not
/// answer this command), after checking that it echoes `opaque` and nothing else (nothing at
/// all for `mn` and `me`, which carry no opaque).
fn judge<R>(
    frame: MetaReply<'_>,
    opaque: Option<&[u8]>,
    gated: Option<char>,
    accept: impl FnOnce(&MetaResponse<'_>) -> Option<R>,
) -> Result<R> {
    let text = |message: &[u8]| String::from_utf8_lossy(message).into_owned();
    match frame {
        MetaReply::Response(response) => {
            let echo = Echo { key: None, opaque };
            if !echo.matches(&response.flags) {
                let echoed = response.flags.opaque.unwrap_or_default();
                return Err(ProtocolError::new(ProtocolErrorKind::UnsolicitedData, echoed).into());
            }
            accept(&response).ok_or_else(|| unanswered(&response))
        }
        MetaReply::ClientError(message) if unsupported_flag(message) => Err(Error::Unsupported {
            flag: gated,
            message: text(message),
        }),
        MetaReply::ClientError(message) if crate::auth::asks_for_authentication(message) => {
            Err(Error::AuthenticationRequired)
        }
        MetaReply::ClientError(message) => Err(Error::ClientError {
            message: text(message),
        }),
        MetaReply::ServerError(message) => Err(Error::ServerError {
            kind: ServerErrorKind::of_message(message),
            message: text(message),
        }),
        MetaReply::Error(message) => Err(Error::UnknownCommand {
            message: text(message),
        }),
        MetaReply::Debug(debug) => {
            Err(ProtocolError::new(ProtocolErrorKind::UnexpectedReply, debug.key).into())
        }
    }
}

/// A `me` reply for `key`, owned; a reply for another key answers some other request.
fn debug_info(reply: &DebugReply<'_>, key: &[u8]) -> Result<MetaDebugInfo> {
    let info = DebugInfo::parse(reply)?;
    if !info.key_matches(key) {
        return Err(ProtocolError::new(ProtocolErrorKind::UnsolicitedData, info.key).into());
    }
    Ok(MetaDebugInfo {
        ttl: info.ttl,
        last_access: info.last_access,
        cas: info.cas.map(CasToken),
        fetched: info.fetched,
        slab_class: info.slab_class,
        size: info.size,
        // The printed key matched `key` as is or as its base64 form, checked above.
        stored_in_base64: info.key != key,
        other: info
            .unknown()
            .map(|(name, value)| (name.to_vec(), value.to_vec()))
            .collect(),
    })
}

/// Whether the stream is still in step after a refusal: an `mn` must come back as the very
/// next frame. (memcached 1.6.18 swallows an `ms`'s data block with its `invalid flag`
/// refusal; a server that did not would answer that block with `ERROR` first.)
fn in_step(connection: &mut Connection) -> bool {
    let mut noop = Vec::with_capacity(4);
    MetaNoop.encode(&mut noop);
    connection
        .write_all(&noop)
        .and_then(|sent| {
            connection.replies(sent).next_meta(|frame| {
                Ok(matches!(frame, MetaReply::Response(r)
                    if r.code == ReturnCode::Noop && r.flags == Default::default()))
            })
        })
        .unwrap_or(false)
}

/// # Meta commands
///
/// memcached's meta protocol, typed: one round trip where the classic commands need two (a
/// counter created on first use, a read that also reports TTL and CAS), reads that leave the
/// LRU alone, and stale-while-revalidate. Every refusal is a value; every reply must echo
/// the request's opaque token, or the call is a protocol error and the connection is dropped.
impl Client {
    /// `mg`: reads `key` with the metadata `options` ask for. A miss is `Ok(None)`.
    ///
    /// # Format
    /// `mg <key> [v] [c] [f] [t] [s] [h] [l] [u] [T…] [N…] [R…] O<opaque>`
    ///
    /// # Returns
    /// `Some(item)` for a hit (`VA`, or `HD` when the value is left out), `None` for a miss
    /// (`EN`). A hit in the other form (`HD` when the value was asked for) is
    /// [`Error::Protocol`] and drops the connection: it is no answer memcached gives. A flag the server is too old for is [`Error::Unsupported`], and the connection
    /// is kept if the server stayed in step.
    ///
    /// ```
    /// use memcache_sync::{Client, Expiry, MetaGetOptions};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let mut client = Client::connect(&addr)?;
    /// client.set("doc:mg", "hello", Expiry::after_secs(60))?;
    /// let options = MetaGetOptions::new().return_cas().return_ttl();
    /// let item = client.meta_get("doc:mg", &options)?.expect("just stored");
    /// assert_eq!(item.value.as_deref(), Some(&b"hello"[..]));
    /// assert!(item.cas.is_some());
    /// assert_eq!(client.meta_get("doc:mg:missing", &options)?, None);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn meta_get(
        &mut self,
        key: impl AsRef<[u8]>,
        options: &MetaGetOptions,
    ) -> Result<Option<MetaItem>> {
        let key = key.as_ref();
        let now = SystemTime::now();
        let touch = options.touch.map(|e| e.to_wire(now)).transpose()?;
        let vivify = options.vivify_on_miss.map(|e| e.to_wire(now)).transpose()?;
        let gated = options.new_cas.map(|_| 'E');
        self.meta_call(
            gated,
            |opaque, buf| get_request(key, options, touch, vivify, opaque).encode(buf),
            |r| get_outcome(r, options),
        )
    }

    /// `ms`: stores `value` under `key` in the mode `options` say, and returns the new item's
    /// CAS token. Every refusal is a value.
    ///
    /// # Format
    /// `ms <key> <len> [M…] [C…] [I] [s] F<flags> T<ttl> c O<opaque>` and the data block.
    ///
    /// # Returns
    /// [`MetaStoreOutcome::Stored`] with the CAS (`HD`), `NotStored` (`NS`), `Exists` (`EX`),
    /// `NotFound` (`NF`). A value longer than
    /// [`Config::max_value_size`](crate::Config::max_value_size) is
    /// [`Error::ValueTooLarge`] before anything is sent.
    ///
    /// ```
    /// use memcache_sync::{Client, MetaSetMode, MetaSetOptions, MetaStoreOutcome};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let mut client = Client::connect(&addr)?;
    /// let cas = client.meta_set("doc:ms", "v1", &MetaSetOptions::new())?.cas().expect("a set stores");
    /// let add = MetaSetOptions::new().mode(MetaSetMode::Add);
    /// assert_eq!(client.meta_set("doc:ms", "v2", &add)?, MetaStoreOutcome::NotStored);
    /// let checked = MetaSetOptions::new().compare_cas(cas);
    /// assert!(client.meta_set("doc:ms", "v3", &checked)?.is_stored());
    /// assert_eq!(client.meta_set("doc:ms", "v4", &checked)?, MetaStoreOutcome::Exists);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn meta_set(
        &mut self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        options: &MetaSetOptions,
    ) -> Result<MetaStoreOutcome> {
        let (key, value) = (key.as_ref(), value.as_ref());
        let limit = self.config.max_value_size();
        if value.len() > limit {
            return Err(Error::ValueTooLarge {
                len: value.len(),
                limit,
            });
        }
        let now = SystemTime::now();
        let ttl = options.expiry.to_wire(now)?;
        let mode = match options.mode {
            MetaSetMode::Set => SetMode::Set,
            MetaSetMode::Add => SetMode::Add,
            MetaSetMode::Replace => SetMode::Replace,
            MetaSetMode::Append => SetMode::Append,
            MetaSetMode::Prepend => SetMode::Prepend,
            MetaSetMode::AppendOrCreate(expiry) => SetMode::AppendOrCreate {
                ttl: expiry.to_wire(now)?,
            },
            MetaSetMode::PrependOrCreate(expiry) => SetMode::PrependOrCreate {
                ttl: expiry.to_wire(now)?,
            },
        };
        let gated = options.new_cas.map(|_| 'E');
        self.meta_call(
            gated,
            |opaque, buf| {
                let o = options;
                let mut set = MetaSet::new(key, value)
                    .opaque(opaque)
                    .mode(mode)
                    .client_flags(o.client_flags)
                    .ttl(ttl)
                    .return_cas();
                set = if o.base64_key { set.base64_key() } else { set };
                set = if o.return_size {
                    set.return_size()
                } else {
                    set
                };
                match o.compare_cas {
                    Some(CasToken(cas)) if o.invalidate => set = set.compare_cas_allow_stale(cas),
                    Some(CasToken(cas)) => set = set.compare_cas(cas),
                    None => {}
                }
                if let Some(CasToken(cas)) = o.new_cas {
                    set = set.new_cas(cas);
                }
                set.encode(buf)
            },
            |r| match r.code {
                ReturnCode::Success => Some(MetaStoreOutcome::Stored {
                    cas: CasToken(r.flags.cas?),
                    size: r.flags.size,
                }),
                ReturnCode::NotStored => Some(MetaStoreOutcome::NotStored),
                ReturnCode::Exists => Some(MetaStoreOutcome::Exists),
                ReturnCode::NotFound => Some(MetaStoreOutcome::NotFound),
                _ => None,
            },
        )
    }

    /// `md`: deletes `key`, or with options only if its CAS is unchanged, or marks it stale
    /// instead.
    ///
    /// # Format
    /// `md <key> [C…] [I T…] [x] O<opaque>`
    ///
    /// # Returns
    /// [`MetaDeleteOutcome::Deleted`] (`HD`), `NotFound` (`NF`), `Exists` (`EX`: the CAS
    /// changed).
    ///
    /// ```
    /// use memcache_sync::{Client, MetaDeleteOptions, MetaDeleteOutcome, MetaSetOptions};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let mut client = Client::connect(&addr)?;
    /// client.meta_set("doc:md", "v", &MetaSetOptions::new())?;
    /// assert_eq!(client.meta_delete("doc:md", &MetaDeleteOptions::new())?, MetaDeleteOutcome::Deleted);
    /// assert_eq!(client.meta_delete("doc:md", &MetaDeleteOptions::new())?, MetaDeleteOutcome::NotFound);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn meta_delete(
        &mut self,
        key: impl AsRef<[u8]>,
        options: &MetaDeleteOptions,
    ) -> Result<MetaDeleteOutcome> {
        let key = key.as_ref();
        let gated = match (options.new_cas, options.remove_value) {
            (Some(_), _) => Some('E'),
            (None, true) => Some('x'),
            (None, false) => None,
        };
        self.meta_call(
            gated,
            |opaque, buf| {
                let o = options;
                let mut delete = MetaDelete::new(key).opaque(opaque);
                delete = if o.base64_key {
                    delete.base64_key()
                } else {
                    delete
                };
                if let Some(CasToken(cas)) = o.compare_cas {
                    delete = delete.compare_cas(cas);
                }
                if let Some(ttl) = o.invalidate {
                    delete = delete.invalidate_with_ttl(secs_up(ttl));
                }
                if o.invalidate_keeping_expiry {
                    delete = delete.invalidate();
                }
                delete = if o.remove_value {
                    delete.remove_value()
                } else {
                    delete
                };
                if let Some(CasToken(cas)) = o.new_cas {
                    delete = delete.new_cas(cas);
                }
                delete.encode(buf)
            },
            |r| match r.code {
                ReturnCode::Success => Some(MetaDeleteOutcome::Deleted),
                ReturnCode::NotFound => Some(MetaDeleteOutcome::NotFound),
                ReturnCode::Exists => Some(MetaDeleteOutcome::Exists),
                _ => None,
            },
        )
    }

    /// `ma`: increments or decrements the counter at `key`, creating it on a miss if the
    /// options say so, and returns its value, TTL and CAS: one round trip where the classic
    /// protocol needs an `add` and an `incr`, and a race between them.
    ///
    /// # Format
    /// `ma <key> [MD] [C…] [N… J…] D<delta> [T…] v t c O<opaque>`
    ///
    /// # Returns
    /// [`MetaArithOutcome::Counted`] (`VA`), `NotFound` (`NF`), `NotStored` (`NS`), `Exists`
    /// (`EX`). A value that is not a number is [`Error::ClientError`].
    ///
    /// ```
    /// use memcache_sync::{Client, Expiry, MetaArithOptions};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let mut client = Client::connect(&addr)?;
    /// # client.delete("doc:ma")?;
    /// let hit = MetaArithOptions::incr().create_on_miss(Expiry::after_secs(60), 1);
    /// assert_eq!(client.meta_arithmetic("doc:ma", &hit)?.counter().map(|c| c.value), Some(1));
    /// assert_eq!(client.meta_arithmetic("doc:ma", &hit)?.counter().map(|c| c.value), Some(2));
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn meta_arithmetic(
        &mut self,
        key: impl AsRef<[u8]>,
        options: &MetaArithOptions,
    ) -> Result<MetaArithOutcome> {
        let key = key.as_ref();
        let now = SystemTime::now();
        let create = match options.create {
            Some((expiry, initial)) => Some((expiry.to_wire(now)?, initial)),
            None => None,
        };
        let ttl = options.expiry.map(|e| e.to_wire(now)).transpose()?;
        let gated = options.new_cas.map(|_| 'E');
        self.meta_call(
            gated,
            |opaque, buf| {
                let o = options;
                let mut arith = if o.decrement {
                    MetaArithmetic::decr(key)
                } else {
                    MetaArithmetic::incr(key)
                };
                arith = arith
                    .opaque(opaque)
                    .delta(o.delta)
                    .value()
                    .return_ttl()
                    .return_cas();
                arith = if o.base64_key {
                    arith.base64_key()
                } else {
                    arith
                };
                if let Some((ttl, initial)) = create {
                    arith = arith.create_on_miss(ttl, initial);
                }
                if let Some(ttl) = ttl {
                    arith = arith.ttl(ttl);
                }
                if let Some(CasToken(cas)) = o.compare_cas {
                    arith = arith.compare_cas(cas);
                }
                if let Some(CasToken(cas)) = o.new_cas {
                    arith = arith.new_cas(cas);
                }
                arith.encode(buf)
            },
            |r| match r.code {
                ReturnCode::Value => Some(MetaArithOutcome::Counted(MetaCounter {
                    value: std::str::from_utf8(r.value?).ok()?.parse().ok()?,
                    ttl: r.flags.ttl?,
                    cas: CasToken(r.flags.cas?),
                })),
                ReturnCode::NotFound => Some(MetaArithOutcome::NotFound),
                ReturnCode::NotStored => Some(MetaArithOutcome::NotStored),
                ReturnCode::Exists => Some(MetaArithOutcome::Exists),
                _ => None,
            },
        )
    }

    /// `mn`: a round trip that does nothing, answered `MN`: a cheap check that the server
    /// answers and the stream is in step.
    ///
    /// ```
    /// use memcache_sync::Client;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let mut client = Client::connect(&addr)?;
    /// client.meta_noop()?;
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn meta_noop(&mut self) -> Result<()> {
        self.refuse_unsupported("meta")?;
        self.request.clear();
        MetaNoop.encode(&mut self.request);
        self.round_trip(|replies| {
            replies.next_meta(|frame| match frame {
                // `mn` carries no opaque, so the reply must carry none either.
                MetaReply::Response(r) if r.code == ReturnCode::Noop => {
                    if r.flags == Default::default() {
                        Ok(())
                    } else {
                        Err(unanswered(&r))
                    }
                }
                other => judge(other, None, None, |_| None),
            })
        })
    }

    /// `me`: memcached's debug view of `key`'s item: remaining TTL, last access, CAS,
    /// whether it was fetched, slab class and footprint. A miss is `Ok(None)`. It reads
    /// nothing else: the item is not bumped, not marked fetched, and a recache win on it is
    /// not taken, so it is the way to inspect a key that leases use.
    ///
    /// # Format
    /// `me <key> [b]`
    ///
    /// # Returns
    /// `Some(info)` for `ME <key> <name>=<value>*`, `None` for `EN`. A reply naming another key
    /// is [`Error::Protocol`] and drops the connection. memcached may disable `me` or drop
    /// it in a later release; it would then answer [`Error::UnknownCommand`].
    ///
    /// ```
    /// use memcache_sync::{Client, MetaDebugOptions, MetaSetOptions};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let mut client = Client::connect(&addr)?;
    /// let key = b"doc:me \x00 binary".to_vec();
    /// let cas = client.meta_set(&key, "v", &MetaSetOptions::new().base64_key())?.cas();
    /// let info = client.meta_debug(&key, &MetaDebugOptions::new().base64_key())?.expect("stored");
    /// assert_eq!(info.cas, cas);
    /// assert!(info.stored_in_base64);
    /// assert_eq!(client.meta_debug("doc:me:missing", &MetaDebugOptions::new())?, None);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn meta_debug(
        &mut self,
        key: impl AsRef<[u8]>,
        options: &MetaDebugOptions,
    ) -> Result<Option<MetaDebugInfo>> {
        let key = key.as_ref();
        self.refuse_unsupported("meta")?;
        self.request.clear();
        let debug = MetaDebug::new(key);
        let debug = if options.base64_key {
            debug.base64_key()
        } else {
            debug
        };
        debug.encode(&mut self.request)?;
        self.round_trip(|replies| {
            replies.next_meta(|frame| match frame {
                MetaReply::Debug(reply) => debug_info(&reply, key).map(Some),
                // `me` carries no opaque, so its miss must carry none either.
                MetaReply::Response(r) if r.code == ReturnCode::Miss => {
                    if r.flags == Default::default() {
                        Ok(None)
                    } else {
                        Err(unanswered(&r))
                    }
                }
                other => judge(other, None, None, |_| None),
            })
        })
    }

    /// Encodes a meta request with a fresh opaque token (`encode` gets the token), sends it,
    /// and reads its one reply with `accept`. `gated` names the version-gated flag the
    /// request carries, for [`Error::Unsupported`]. A refusal of such a flag keeps the
    /// connection only once an `mn` shows the stream in step.
    fn meta_call<R>(
        &mut self,
        gated: Option<char>,
        encode: impl FnOnce(&[u8], &mut Vec<u8>) -> Result<(), MetaError>,
        accept: impl FnOnce(&MetaResponse<'_>) -> Option<R>,
    ) -> Result<R> {
        // twemproxy 0.5 answers every meta command by closing the connection.
        self.refuse_unsupported("meta")?;
        let mut opaque_buf = OpaqueBuf::default();
        let opaque = next_opaque(&mut opaque_buf);
        self.request.clear();
        encode(opaque, &mut self.request)?;
        let connection = Self::connection(&mut self.connection, &self.addr, &self.config)?;
        let result = connection.send(&self.request).and_then(|mut replies| {
            replies.next_meta(|frame| judge(frame, Some(opaque), gated, accept))
        });
        let kept = matches!(result, Err(Error::Unsupported { .. })) && in_step(connection);
        self.settle(if kept { None } else { result.as_ref().err() });
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::meta::MAX_OPAQUE_LEN;

    #[test]
    fn opaque_tokens_never_repeat_and_fit_what_memcached_echoes() {
        let tokens: std::collections::HashSet<Vec<u8>> = (0..1000)
            .map(|_| next_opaque(&mut OpaqueBuf::default()).to_vec())
            .collect();
        assert_eq!(tokens.len(), 1000);
        assert!(tokens.iter().all(|t| !t.is_empty()
            && t.len() <= MAX_OPAQUE_LEN
            && t.iter().all(u8::is_ascii_digit)));
    }

    #[test]
    fn a_duration_becomes_whole_seconds_rounded_up() {
        assert_eq!(secs_up(Duration::from_millis(1)), 1);
        assert_eq!(secs_up(Duration::from_secs(30)), 30);
        assert_eq!(secs_up(Duration::from_millis(30_001)), 31);
        assert_eq!(secs_up(Duration::MAX), i64::MAX);
    }
}
