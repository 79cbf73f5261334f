//! Meta reply decoding: one frame at a time from a byte slice, "incomplete" as a value, every
//! length the peer claims bounded before it is used.

use super::base64;
use super::request::MAX_OPAQUE_LEN;
use crate::protocol::key::MAX_KEY_LEN;
use crate::protocol::number::{parse_u32, parse_u64, put_u64};
use crate::protocol::{ProtocolError, ProtocolErrorKind, Status, MAX_LINE_LEN};

/// The two-letter code that starts a meta reply line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReturnCode {
    /// `HD`: success without a value. A hit for `mg` without `v`; stored for `ms`; deleted
    /// (or marked stale) for `md`; applied for `ma` without `v`.
    Success,
    /// `VA <size>`: success with a value, which follows as a data block.
    Value,
    /// `EN`: a miss, for `mg` and `me`.
    Miss,
    /// `NS`: not stored: an `ms` mode's condition failed, or `ma` could not create the item.
    NotStored,
    /// `EX`: a CAS compare (`C`) failed: the item changed.
    Exists,
    /// `NF`: no such item, for `ms` with a CAS compare, `md` and `ma`.
    NotFound,
    /// `MN`: the answer to `mn`.
    Noop,
}

impl ReturnCode {
    /// The code as memcached writes it.
    pub const fn as_bytes(self) -> &'static [u8; 2] {
        match self {
            Self::Success => b"HD",
            Self::Value => b"VA",
            Self::Miss => b"EN",
            Self::NotStored => b"NS",
            Self::Exists => b"EX",
            Self::NotFound => b"NF",
            Self::Noop => b"MN",
        }
    }

    fn from_bytes(code: [u8; 2]) -> Option<Self> {
        Some(match &code {
            b"HD" => Self::Success,
            b"VA" => Self::Value,
            b"EN" => Self::Miss,
            b"NS" => Self::NotStored,
            b"EX" => Self::Exists,
            b"NF" => Self::NotFound,
            b"MN" => Self::Noop,
            _ => return None,
        })
    }
}

/// An item's remaining TTL as `t` returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ttl {
    /// `t-1`: the item does not expire.
    Unlimited,
    /// Seconds until the item expires.
    Seconds(u64),
}

/// The key a reply echoes (`k`), as it came.
///
/// memcached writes a key base64-encoded, followed by the `b` flag, when the item was stored
/// in base64 key mode (or, for `md`/`ma`, when the request was in that mode); otherwise as is.
/// Either way [`matches`](Self::matches) compares it with a raw key, so a client checks an
/// echo without caring which form came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EchoedKey<'a> {
    /// `k<key>`: the key's bytes.
    Plain(&'a [u8]),
    /// `k<base64> b`: the key in base64, already checked to be canonical by the parser.
    Base64(&'a [u8]),
}

impl<'a> EchoedKey<'a> {
    /// The key's token as it was on the wire.
    pub const fn wire(&self) -> &'a [u8] {
        match self {
            Self::Plain(key) | Self::Base64(key) => key,
        }
    }

    /// Whether the echoed key is `raw`, decoding a base64 echo on the fly.
    pub fn matches(&self, raw: &[u8]) -> bool {
        match self {
            Self::Plain(key) => *key == raw,
            Self::Base64(wire) => base64::decodes_to(wire, raw),
        }
    }

    /// The key's raw bytes, decoded from base64 if need be.
    pub fn to_vec(&self) -> Vec<u8> {
        match self {
            Self::Plain(key) => key.to_vec(),
            Self::Base64(wire) => {
                let mut raw = Vec::with_capacity(base64::decoded_len_max(wire.len()));
                // The parser accepts only canonical base64 here, and a hand-built value that
                // is not decodes to nothing rather than to a guess.
                if base64::decode(wire, &mut raw).is_err() {
                    raw.clear();
                }
                raw
            }
        }
    }
}

/// The flags a meta reply returns, by meaning. Each is present only if the request asked for
/// it (or, for `W`, `X`, `Z`, if the item's state says so); memcached writes them in request
/// order, which this view does not keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct ReturnedFlags<'a> {
    /// `c<cas>`: the item's CAS value.
    pub cas: Option<u64>,
    /// `f<flags>`: the item's client flags.
    pub client_flags: Option<u32>,
    /// `h<0|1>`: whether the item had been fetched before.
    pub hit_before: Option<bool>,
    /// `k<key>`, with `b` when it is base64.
    pub key: Option<EchoedKey<'a>>,
    /// `l<secs>`: seconds since the item was last accessed.
    pub last_access: Option<u64>,
    /// `O<opaque>`: the request's opaque token, copied back.
    pub opaque: Option<&'a [u8]>,
    /// `s<size>`: the item's size in bytes.
    pub size: Option<u64>,
    /// `t<secs>` or `t-1`: the item's remaining TTL.
    pub ttl: Option<Ttl>,
    /// `W`: this client won the right to recache the item.
    pub won: bool,
    /// `X`: the item is stale (marked by `md … I` or `ms … I`).
    pub stale: bool,
    /// `Z`: another client already won the recache.
    pub win_already_sent: bool,
}

/// What a reply must echo to answer a given request: see the requests' `echo` methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Echo<'a> {
    /// The raw key, if the request asked for it back (`k`).
    pub key: Option<&'a [u8]>,
    /// The opaque token the request carries (`O`).
    pub opaque: Option<&'a [u8]>,
}

impl Echo<'_> {
    /// Whether `flags` echo exactly what the request asked for: every echo it asked for is
    /// there and equal, and no echo it did not ask for is. A pipelined reply that fails this
    /// answers some other request.
    ///
    /// memcached 1.6.18 echoes `k` and `O` on every code, misses (`EN`, `NF`) included; the
    /// error lines (`CLIENT_ERROR` and the like) echo nothing and are not checked here.
    pub fn matches(&self, flags: &ReturnedFlags<'_>) -> bool {
        let key_ok = match (self.key, flags.key) {
            (None, None) => true,
            (Some(raw), Some(echoed)) => echoed.matches(raw),
            _ => false,
        };
        key_ok && self.opaque == flags.opaque
    }
}

/// A reply with a return code: `HD`, `VA`, `EN`, `NS`, `EX`, `NF` or `MN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MetaResponse<'a> {
    /// The return code.
    pub code: ReturnCode,
    /// The returned flags.
    pub flags: ReturnedFlags<'a>,
    /// The data block, borrowed from the buffer: present exactly when `code` is
    /// [`ReturnCode::Value`].
    pub value: Option<&'a [u8]>,
}

/// The answer to `me`: `ME <key> <name>=<value>*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DebugReply<'a> {
    /// The key as memcached printed it: base64 (with nothing to say so) when the item was
    /// stored in base64 key mode.
    pub key: &'a [u8],
    /// The `name=value` fields as sent, each already checked to hold a `=` after a
    /// non-empty name. memcached 1.6.18 sends `exp` (seconds until expiry, negated; `-1` for
    /// none), `la` (seconds since last access), `cas`, `fetch` (`yes`/`no`), `cls` (slab
    /// class) and `size`; "others may be added".
    pub fields: &'a [u8],
}

impl<'a> DebugReply<'a> {
    /// The fields as `(name, value)` pairs, in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
        tokens(self.fields).filter_map(|field| {
            let eq = field.iter().position(|&b| b == b'=')?;
            Some((&field[..eq], &field[eq + 1..]))
        })
    }

    /// The value of the field `name`, if present.
    pub fn get(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.pairs().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

/// One frame of a meta reply stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetaReply<'a> {
    /// A reply with a return code and returned flags, and a value for `VA`.
    Response(MetaResponse<'a>),
    /// The `ME` answer to `me`.
    Debug(DebugReply<'a>),
    /// `ERROR`, with the text memcached sometimes adds: an unknown command, or the line
    /// after a data block of the wrong length.
    Error(&'a [u8]),
    /// `CLIENT_ERROR <message>`; see [`unsupported_flag`](super::unsupported_flag).
    ClientError(&'a [u8]),
    /// `SERVER_ERROR <message>`.
    ServerError(&'a [u8]),
}

impl<'a> MetaReply<'a> {
    /// The returned flags, for a [`Response`](Self::Response).
    pub const fn flags(&self) -> Option<&ReturnedFlags<'a>> {
        match self {
            Self::Response(response) => Some(&response.flags),
            _ => None,
        }
    }

    /// The opaque token the reply echoes, if any.
    pub fn opaque(&self) -> Option<&'a [u8]> {
        self.flags().and_then(|flags| flags.opaque)
    }

    /// The key the reply echoes, if any.
    pub fn key(&self) -> Option<EchoedKey<'a>> {
        self.flags().and_then(|flags| flags.key)
    }
}

/// Decodes the meta reply frame at the start of `buf`.
///
/// `max_value_len` bounds the data a `VA` may claim; a larger claim is an error before
/// anything is allocated or waited for. Every proper prefix of a valid frame is
/// [`Status::Incomplete`]; anything that can never become a valid frame is an error. As in
/// memcached's own tokenizer, a run of spaces separates flags like one space (older 1.6
/// releases wrote `HD \r\n`); duplicate or unknown returned flags are errors.
///
/// ```
/// use memcache_sync::protocol::meta::{parse_meta_reply, EchoedKey, MetaReply, ReturnCode};
/// use memcache_sync::protocol::Status;
/// let wire = b"VA 2 f5 kuser:42 O7\r\nhi\r\n";
/// let Status::Complete { frame: MetaReply::Response(r), len } = parse_meta_reply(wire, 1024)?
/// else { unreachable!() };
/// assert_eq!((r.code, r.value, len), (ReturnCode::Value, Some(&b"hi"[..]), wire.len()));
/// assert_eq!(r.flags.client_flags, Some(5));
/// assert_eq!(r.flags.key, Some(EchoedKey::Plain(b"user:42")));
/// assert_eq!(r.flags.opaque, Some(&b"7"[..]));
/// assert_eq!(parse_meta_reply(&wire[..len - 1], 1024)?, Status::Incomplete);
/// # Ok::<(), memcache_sync::protocol::ProtocolError>(())
/// ```
pub fn parse_meta_reply(
    buf: &[u8],
    max_value_len: usize,
) -> Result<Status<MetaReply<'_>>, ProtocolError> {
    let Some(line_len) = line_end(buf)? else {
        return Ok(Status::Incomplete);
    };
    let line = &buf[..line_len - 2];
    let complete = |frame| {
        Ok(Status::Complete {
            frame,
            len: line_len,
        })
    };
    let malformed = || ProtocolError::new(ProtocolErrorKind::MalformedLine, line);
    if let Some(message) = error_message(line, b"SERVER_ERROR") {
        return complete(MetaReply::ServerError(message));
    }
    if let Some(message) = error_message(line, b"CLIENT_ERROR") {
        return complete(MetaReply::ClientError(message));
    }
    if let Some(message) = error_message(line, b"ERROR") {
        return complete(MetaReply::Error(message));
    }
    let (code, rest) = match line {
        [a, b, rest @ ..] if matches!(rest.first(), None | Some(b' ')) => ([*a, *b], rest),
        _ => return Err(ProtocolError::new(ProtocolErrorKind::UnknownReply, line)),
    };
    if code == *b"ME" {
        return match parse_debug(rest) {
            Some(debug) => complete(MetaReply::Debug(debug)),
            None => Err(malformed()),
        };
    }
    let Some(code) = ReturnCode::from_bytes(code) else {
        return Err(ProtocolError::new(ProtocolErrorKind::UnknownReply, line));
    };
    let mut fields = tokens(rest);
    let claimed = if code == ReturnCode::Value {
        let size = fields.next().ok_or_else(malformed)?;
        Some(parse_u64(size).ok_or_else(malformed)?)
    } else {
        None
    };
    let flags = parse_flags(fields).ok_or_else(malformed)?;
    let Some(claimed) = claimed else {
        return complete(MetaReply::Response(MetaResponse {
            code,
            flags,
            value: None,
        }));
    };
    let too_long = || {
        let kind = ProtocolErrorKind::ValueTooLong {
            claimed,
            limit: max_value_len,
        };
        ProtocolError::new(kind, line)
    };
    if claimed > max_value_len as u64 {
        return Err(too_long());
    }
    // The claim is within max_value_len, but that limit may be as large as usize::MAX.
    let frame_len = line_len
        .checked_add(claimed as usize)
        .and_then(|end| end.checked_add(2))
        .ok_or_else(too_long)?;
    if buf.len() < frame_len {
        return Ok(Status::Incomplete);
    }
    let data_end = frame_len - 2;
    if &buf[data_end..frame_len] != b"\r\n" {
        return Err(ProtocolError::new(
            ProtocolErrorKind::UnterminatedData,
            line,
        ));
    }
    Ok(Status::Complete {
        frame: MetaReply::Response(MetaResponse {
            code,
            flags,
            value: Some(&buf[line_len..data_end]),
        }),
        len: frame_len,
    })
}

/// The length of the first line, `\r\n` included, once it is all in `buf`: the text codec's
/// rule, so both codecs bound and reject lines alike.
fn line_end(buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
    let window = &buf[..buf.len().min(MAX_LINE_LEN)];
    match window.iter().position(|&b| b == b'\n') {
        Some(i) if i > 0 && buf[i - 1] == b'\r' => Ok(Some(i + 1)),
        Some(i) => Err(ProtocolError::new(
            ProtocolErrorKind::BareLineFeed,
            &buf[..i],
        )),
        None if buf.len() >= MAX_LINE_LEN => {
            Err(ProtocolError::new(ProtocolErrorKind::LineTooLong, window))
        }
        None => Ok(None),
    }
}

/// The message of `ERROR`, `ERROR <message>` and the like, if `line` is that error.
fn error_message<'a>(line: &'a [u8], tag: &[u8]) -> Option<&'a [u8]> {
    match line.strip_prefix(tag)? {
        [] => Some(&[]),
        [b' ', message @ ..] => Some(message),
        _ => None,
    }
}

/// The space-separated tokens of `fields`, a run of spaces counting as one separator.
fn tokens(fields: &[u8]) -> impl Iterator<Item = &[u8]> {
    fields
        .split(|&b| b == b' ')
        .filter(|token| !token.is_empty())
}

fn parse_flags<'a>(fields: impl Iterator<Item = &'a [u8]>) -> Option<ReturnedFlags<'a>> {
    let mut flags = ReturnedFlags::default();
    let mut key = None;
    let mut base64_key = false;
    // One bit per letter seen, so a repeated flag is caught without a set.
    let mut seen = 0u64;
    for field in fields {
        let (&letter, arg) = field.split_first()?;
        let bit = 1u64 << (letter % 64);
        if seen & bit != 0 {
            return None;
        }
        seen |= bit;
        let bare = arg.is_empty();
        match letter {
            b'b' if bare => base64_key = true,
            b'c' => flags.cas = Some(parse_u64(arg)?),
            b'f' => flags.client_flags = Some(parse_u32(arg)?),
            b'h' => {
                flags.hit_before = Some(match arg {
                    b"0" => false,
                    b"1" => true,
                    _ => return None,
                })
            }
            b'k' if !bare && arg.len() <= MAX_KEY_LEN => key = Some(arg),
            b'l' => flags.last_access = Some(parse_u64(arg)?),
            b'O' if arg.len() <= MAX_OPAQUE_LEN => flags.opaque = Some(arg),
            b's' => flags.size = Some(parse_u64(arg)?),
            b't' => {
                flags.ttl = Some(match arg {
                    b"-1" => Ttl::Unlimited,
                    secs => Ttl::Seconds(parse_u64(secs)?),
                })
            }
            b'W' if bare => flags.won = true,
            b'X' if bare => flags.stale = true,
            b'Z' if bare => flags.win_already_sent = true,
            _ => return None,
        }
    }
    flags.key = match (key, base64_key) {
        (None, false) => None,
        (Some(key), false) => Some(EchoedKey::Plain(key)),
        (Some(key), true) if matches!(base64::validate(key), Ok(1..)) => {
            Some(EchoedKey::Base64(key))
        }
        // `b` only ever follows a base64 `k`.
        _ => return None,
    };
    Some(flags)
}

fn parse_debug(rest: &[u8]) -> Option<DebugReply<'_>> {
    let rest = rest.strip_prefix(b" ")?;
    let start = rest.iter().position(|&b| b != b' ')?;
    let rest = &rest[start..];
    let key_end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
    let (key, fields) = rest.split_at(key_end);
    if key.len() > MAX_KEY_LEN {
        return None;
    }
    let fields = match fields.iter().position(|&b| b != b' ') {
        Some(start) => &fields[start..],
        None => &[],
    };
    let well_formed = tokens(fields)
        .all(|field| matches!(field.iter().position(|&b| b == b'='), Some(i) if i > 0));
    well_formed.then_some(DebugReply { key, fields })
}

/// Appends `reply` as memcached would send it: the inverse of [`parse_meta_reply`], for
/// tests, fuzz seeds and scripted servers. Flags go out in one fixed order (memcached uses the
/// request's), single-spaced. For [`ReturnCode::Value`] the value (empty if `None`) is the data
/// block; for other codes any value is ignored.
pub fn encode_meta_reply(reply: &MetaReply<'_>, buf: &mut Vec<u8>) {
    let line_with_message = |buf: &mut Vec<u8>, tag: &[u8], message: &[u8]| {
        buf.extend_from_slice(tag);
        if !message.is_empty() {
            buf.push(b' ');
            buf.extend_from_slice(message);
        }
        buf.extend_from_slice(b"\r\n");
    };
    match reply {
        MetaReply::Response(response) => encode_response(response, buf),
        MetaReply::Debug(debug) => {
            buf.extend_from_slice(b"ME ");
            buf.extend_from_slice(debug.key);
            if !debug.fields.is_empty() {
                buf.push(b' ');
                buf.extend_from_slice(debug.fields);
            }
            buf.extend_from_slice(b"\r\n");
        }
        MetaReply::Error(message) => line_with_message(buf, b"ERROR", message),
        MetaReply::ClientError(message) => line_with_message(buf, b"CLIENT_ERROR", message),
        MetaReply::ServerError(message) => line_with_message(buf, b"SERVER_ERROR", message),
    }
}

fn encode_response(response: &MetaResponse<'_>, buf: &mut Vec<u8>) {
    let flags = &response.flags;
    let value = (response.code == ReturnCode::Value).then(|| response.value.unwrap_or_default());
    buf.extend_from_slice(response.code.as_bytes());
    if let Some(value) = value {
        buf.push(b' ');
        put_u64(buf, value.len() as u64);
    }
    let number = |buf: &mut Vec<u8>, letter: u8, n: Option<u64>| {
        if let Some(n) = n {
            buf.extend_from_slice(&[b' ', letter]);
            put_u64(buf, n);
        }
    };
    number(buf, b'c', flags.cas);
    number(buf, b'f', flags.client_flags.map(u64::from));
    number(buf, b'h', flags.hit_before.map(u64::from));
    if let Some(key) = flags.key {
        buf.extend_from_slice(b" k");
        buf.extend_from_slice(key.wire());
        if let EchoedKey::Base64(_) = key {
            buf.extend_from_slice(b" b");
        }
    }
    number(buf, b'l', flags.last_access);
    if let Some(opaque) = flags.opaque {
        buf.extend_from_slice(b" O");
        buf.extend_from_slice(opaque);
    }
    number(buf, b's', flags.size);
    match flags.ttl {
        Some(Ttl::Unlimited) => buf.extend_from_slice(b" t-1"),
        Some(Ttl::Seconds(secs)) => number(buf, b't', Some(secs)),
        None => {}
    }
    for (on, letter) in [
        (flags.win_already_sent, b'Z'),
        (flags.stale, b'X'),
        (flags.won, b'W'),
    ] {
        if on {
            buf.extend_from_slice(&[b' ', letter]);
        }
    }
    buf.extend_from_slice(b"\r\n");
    if let Some(value) = value {
        buf.extend_from_slice(value);
        buf.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(wire: &[u8]) -> Result<Status<MetaReply<'_>>, ProtocolError> {
        parse_meta_reply(wire, 1024)
    }

    #[test]
    fn a_base64_key_echo_decodes_and_compares_with_the_raw_key() {
        let Ok(Status::Complete { frame, .. }) = parse(b"HD kAAEC/w== b\r\n") else {
            panic!()
        };
        let key = frame.key().unwrap();
        assert_eq!(key, EchoedKey::Base64(b"AAEC/w=="));
        assert!(key.matches(b"\x00\x01\x02\xff"));
        assert!(!key.matches(b"AAEC/w=="));
        assert_eq!(key.to_vec(), b"\x00\x01\x02\xff");
    }

    #[test]
    fn b_without_a_base64_key_is_malformed() {
        for wire in [
            &b"HD b\r\n"[..],
            b"HD kfoo b\r\n",
            b"HD k b\r\n",
            b"HD k= b\r\n",
        ] {
            let err = parse(wire).unwrap_err();
            assert_eq!(err.kind, ProtocolErrorKind::MalformedLine, "{wire:?}");
        }
    }

    #[test]
    fn echo_checks_both_ways() {
        let flags = ReturnedFlags {
            opaque: Some(b"1"),
            key: Some(EchoedKey::Plain(b"k")),
            ..ReturnedFlags::default()
        };
        let asked = Echo {
            key: Some(b"k"),
            opaque: Some(b"1"),
        };
        assert!(asked.matches(&flags));
        assert!(!Echo {
            opaque: Some(b"2"),
            ..asked
        }
        .matches(&flags));
        assert!(!Echo { key: None, ..asked }.matches(&flags));
        assert!(!asked.matches(&ReturnedFlags::default()));
        assert!(Echo::default().matches(&ReturnedFlags::default()));
    }

    #[test]
    fn debug_fields_are_pairs() {
        let Ok(Status::Complete {
            frame: MetaReply::Debug(debug),
            ..
        }) = parse(b"ME k exp=-1 la=3 fetch=no\r\n")
        else {
            panic!()
        };
        assert_eq!(debug.key, b"k");
        assert_eq!(debug.get(b"la"), Some(&b"3"[..]));
        assert_eq!(debug.get(b"exp"), Some(&b"-1"[..]));
        assert_eq!(debug.pairs().count(), 3);
        assert_eq!(debug.get(b"size"), None);
    }
}
