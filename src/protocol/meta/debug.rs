//! The fields of a `me` (meta debug) reply, typed: [`DebugInfo`] from a [`DebugReply`].
//!
//! The semantics are stated on [`DebugInfo`], where they render.

use super::base64;
use super::response::{DebugReply, Ttl};
use crate::protocol::number::{parse_u32, parse_u64};
use crate::protocol::{ProtocolError, ProtocolErrorKind};

/// The typed fields of a `me` reply. A field the reply lacks is `None`.
///
/// memcached documents `me` as "human readable" and its fields as open-ended ("others may be
/// added"), so a field this codec does not know is kept for the caller, never an error. A
/// field it does know must hold what memcached writes there, or the reply is malformed:
/// a `cas=` that is not a number says the server is not what the codec believes, and a
/// guess would hide it.
///
/// Observed on memcached 1.6.18 by raw socket:
/// - `ME <key> exp=-60 la=0 cas=31 fetch=yes cls=1 size=64`, or `EN` for a miss. Neither
///   carries an opaque token or `k`: `me` takes no flags but `b`, and ignores the others.
/// - `exp` is the remaining TTL negated (`current_time - exptime`), `-1` for an item that
///   never expires. Newer servers print it positive (`exptime - current_time`); both are
///   read here. On 1.6.18 an item with one second left also prints `-1`.
/// - `size` is the item's whole footprint in memory (header, key and value), not the value's
///   length; `cls` its slab class; `fetch` whether it was read since it was stored; `la` the
///   seconds since it was last accessed.
/// - The key is printed as stored: base64-encoded (with nothing to say so) when the item was
///   stored in base64 key mode, raw otherwise, whichever mode the `me` used.
/// - `me` does not bump the item, mark it fetched or take a recache win.
///
/// ```
/// use memcache_sync::protocol::meta::{parse_meta_reply, DebugInfo, MetaReply, Ttl};
/// use memcache_sync::protocol::Status;
/// let wire = b"ME user:42 exp=-60 la=3 cas=31 fetch=yes cls=1 size=64 new=field\r\n";
/// let Status::Complete { frame: MetaReply::Debug(reply), .. } = parse_meta_reply(wire, 0)?
/// else { unreachable!() };
/// let info = DebugInfo::parse(&reply)?;
/// assert_eq!(info.ttl, Some(Ttl::Seconds(60)));
/// assert_eq!((info.last_access, info.cas, info.fetched), (Some(3), Some(31), Some(true)));
/// assert_eq!((info.slab_class, info.size), (Some(1), Some(64)));
/// assert_eq!(info.unknown().collect::<Vec<_>>(), [(&b"new"[..], &b"field"[..])]);
/// assert!(info.key_matches(b"user:42") && !info.stored_in_base64(b"user:42"));
/// # Ok::<(), memcache_sync::protocol::ProtocolError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct DebugInfo<'a> {
    /// The key as memcached printed it: base64 when the item was stored in base64 key mode.
    pub key: &'a [u8],
    /// `exp`: the remaining TTL, read in either sign (see above).
    pub ttl: Option<Ttl>,
    /// `la`: seconds since the item was last accessed.
    pub last_access: Option<u64>,
    /// `cas`: the item's CAS value.
    pub cas: Option<u64>,
    /// `fetch`: whether the item was read since it was stored.
    pub fetched: Option<bool>,
    /// `cls`: the slab class the item lives in.
    pub slab_class: Option<u32>,
    /// `size`: the item's footprint in memory, header and key included.
    pub size: Option<u64>,
    fields: &'a [u8],
}

/// The names [`DebugInfo`] types; every other field is [`DebugInfo::unknown`].
const KNOWN: [&[u8]; 6] = [b"exp", b"la", b"cas", b"fetch", b"cls", b"size"];

impl<'a> DebugInfo<'a> {
    /// Types the fields of `reply`. A known field twice, or with a value memcached would not
    /// write there, is [`ProtocolErrorKind::MalformedLine`]; unknown fields are kept.
    pub fn parse(reply: &DebugReply<'a>) -> Result<Self, ProtocolError> {
        let mut info = Self {
            key: reply.key,
            ttl: None,
            last_access: None,
            cas: None,
            fetched: None,
            slab_class: None,
            size: None,
            fields: reply.fields,
        };
        let mut seen = [false; KNOWN.len()];
        for (name, value) in reply.pairs() {
            let Some(index) = KNOWN.iter().position(|known| *known == name) else {
                continue;
            };
            let malformed = || {
                let field = [name, b"=", value].concat();
                ProtocolError::new(ProtocolErrorKind::MalformedLine, &field)
            };
            if std::mem::replace(&mut seen[index], true) {
                return Err(malformed());
            }
            match index {
                0 => info.ttl = Some(parse_exp(value).ok_or_else(malformed)?),
                1 => info.last_access = Some(parse_u64(value).ok_or_else(malformed)?),
                2 => info.cas = Some(parse_u64(value).ok_or_else(malformed)?),
                3 => {
                    info.fetched = Some(match value {
                        b"yes" => true,
                        b"no" => false,
                        _ => return Err(malformed()),
                    });
                }
                4 => info.slab_class = Some(parse_u32(value).ok_or_else(malformed)?),
                _ => info.size = Some(parse_u64(value).ok_or_else(malformed)?),
            }
        }
        Ok(info)
    }

    /// The fields this codec does not type, as `(name, value)` pairs in reply order.
    pub fn unknown(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
        let reply = DebugReply {
            key: self.key,
            fields: self.fields,
        };
        reply.pairs().filter(|(name, _)| !KNOWN.contains(name))
    }

    /// Whether the printed key is `raw`: as is, or base64-encoded (an item stored in base64
    /// key mode). A reply for another key answers some other request.
    pub fn key_matches(&self, raw: &[u8]) -> bool {
        self.key == raw || base64::decodes_to(self.key, raw)
    }

    /// Whether the key was printed base64-encoded for `raw`, so the item was stored in
    /// base64 key mode. A key's base64 form is longer than the key, so the two forms of one
    /// key cannot be confused.
    pub fn stored_in_base64(&self, raw: &[u8]) -> bool {
        self.key != raw && base64::decodes_to(self.key, raw)
    }
}

/// `exp` in either sign: `-1` never expires; 1.6.18 prints the remaining seconds negated,
/// newer servers positive.
fn parse_exp(value: &[u8]) -> Option<Ttl> {
    match value {
        b"-1" => Some(Ttl::Unlimited),
        [b'-', digits @ ..] => parse_u64(digits).map(Ttl::Seconds),
        digits => parse_u64(digits).map(Ttl::Seconds),
    }
}
