//! Reply decoding: one frame at a time from a byte slice, "incomplete" as a value, every length
//! the peer claims bounded before it is used.

use std::fmt;

use super::key::MAX_KEY_LEN;
use super::number::{leading_u64, parse_u64, put_u64};

/// The longest reply line accepted, `\r\n` included. memcached's longest lines (a `VALUE`
/// header with a 250-byte key, a `STAT` line) are far shorter; a peer that sends more without a
/// line end is not speaking the protocol.
pub const MAX_LINE_LEN: usize = 8192;

/// The result of decoding from a buffer that may not hold a whole frame yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status<T> {
    /// A whole frame, and how many bytes of the buffer it used.
    Complete {
        /// The decoded frame.
        frame: T,
        /// Bytes consumed from the start of the buffer.
        len: usize,
    },
    /// The buffer holds a valid beginning of a frame but not all of it. Nothing was consumed:
    /// read more bytes and decode again from the same start.
    Incomplete,
}

/// An item in a retrieval reply: `VALUE <key> <flags> <bytes> [<cas>]\r\n<data>\r\n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Value<'a> {
    /// The item's key.
    pub key: &'a [u8],
    /// The client flags stored with the item.
    pub flags: u32,
    /// The CAS value, present in `gets`/`gats` replies.
    pub cas: Option<u64>,
    /// The item's data, borrowed from the buffer.
    pub data: &'a [u8],
}

/// One reply frame of the text protocol. A command's whole reply is one frame (`STORED`), or
/// several ending in `END` (`VALUE`… `END`, `STAT`… `END`, `ITEM`… `END`, `PREFIX`… `END`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply<'a> {
    /// `STORED`
    Stored,
    /// `NOT_STORED`: an add/replace/append/prepend condition was not met.
    NotStored,
    /// `EXISTS`: a cas found the item changed.
    Exists,
    /// `NOT_FOUND`
    NotFound,
    /// `DELETED`
    Deleted,
    /// `TOUCHED`
    Touched,
    /// `OK`, to flush_all, verbosity and `stats detail on|off`.
    Ok,
    /// `RESET`, to `stats reset`.
    Reset,
    /// `END`, closing a retrieval or stats reply.
    End,
    /// A `VALUE` frame with its data block.
    Value(Value<'a>),
    /// `STAT <name> <value>`
    Stat {
        /// The statistic's name.
        name: &'a [u8],
        /// Its value: the rest of the line, possibly with spaces.
        value: &'a [u8],
    },
    /// `ITEM <key> [<size> b; <expiry> s]`: one item listed by `stats cachedump`.
    CachedumpItem {
        /// The key as memcached prints it: up to its first NUL byte, so possibly empty. Keys
        /// stored through the binary protocol may hold spaces; the fixed fields are read from
        /// the end of the line, so they cannot confuse the key.
        key: &'a [u8],
        /// The length of the item's value in bytes.
        size: u64,
        /// When the item expires, in Unix seconds; 0 for never.
        expiry: u64,
    },
    /// `PREFIX <prefix> get <n> hit <n> set <n> del <n>`: the counters `stats detail dump`
    /// lists for one key prefix.
    Prefix {
        /// The key prefix, before memcached's delimiter (`:` unless started with `-D`); empty
        /// for keys that start with the delimiter.
        prefix: &'a [u8],
        /// Retrievals of keys with this prefix.
        gets: u64,
        /// Retrievals that found the item.
        hits: u64,
        /// Stores.
        sets: u64,
        /// Deletes.
        deletes: u64,
    },
    /// `VERSION <version>`
    Version(&'a [u8]),
    /// The new value after incr/decr (memcached may pad it with trailing spaces).
    Number(u64),
    /// `ERROR`, with the text memcached sometimes adds (`ERROR Too many open connections`).
    Error(&'a [u8]),
    /// `CLIENT_ERROR <message>`
    ClientError(&'a [u8]),
    /// `SERVER_ERROR <message>`
    ServerError(&'a [u8]),
}

/// What was wrong with the bytes a peer sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolErrorKind {
    /// No line end within [`MAX_LINE_LEN`] bytes.
    LineTooLong,
    /// A line ended with `\n` alone.
    BareLineFeed,
    /// A line that is no reply memcached sends.
    UnknownReply,
    /// A `VALUE`, `STAT`, `ITEM`, `PREFIX` or number line with missing, extra or malformed
    /// fields.
    MalformedLine,
    /// A `VALUE` header claimed more data than the configured maximum value size.
    ValueTooLong {
        /// The length the peer claimed.
        claimed: u64,
        /// The limit it broke.
        limit: usize,
    },
    /// A data block not followed by `\r\n`: its length was wrong.
    UnterminatedData,
    /// A well-formed frame that does not answer the command that was sent.
    UnexpectedReply,
    /// A `VALUE` for a key that was not asked for (or not in the order asked).
    UnrequestedKey,
    /// Bytes arrived that answer no request.
    UnsolicitedData,
}

impl fmt::Display for ProtocolErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LineTooLong => write!(f, "reply line longer than {MAX_LINE_LEN} bytes"),
            Self::BareLineFeed => f.write_str("reply line ended without \\r"),
            Self::UnknownReply => f.write_str("unknown reply"),
            Self::MalformedLine => f.write_str("malformed reply line"),
            Self::ValueTooLong { claimed, limit } => {
                write!(
                    f,
                    "VALUE claims {claimed} bytes, over the {limit}-byte limit"
                )
            }
            Self::UnterminatedData => f.write_str("data block not followed by \\r\\n"),
            Self::UnexpectedReply => f.write_str("reply does not answer the command sent"),
            Self::UnrequestedKey => f.write_str("VALUE for a key that was not requested"),
            Self::UnsolicitedData => f.write_str("bytes that answer no request"),
        }
    }
}

/// The peer broke the protocol: what was wrong, and a short, escaped excerpt of what it sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} (got \"{excerpt}\")")]
pub struct ProtocolError {
    /// What was wrong.
    pub kind: ProtocolErrorKind,
    /// The first 48 bytes of the offending line, escaped (so at most about 200 characters).
    pub excerpt: String,
}

impl ProtocolError {
    const EXCERPT_BYTES: usize = 48;

    /// An error of `kind` quoting the start of `bytes`.
    pub fn new(kind: ProtocolErrorKind, bytes: &[u8]) -> Self {
        let end = bytes.len().min(Self::EXCERPT_BYTES);
        let mut excerpt = bytes[..end].escape_ascii().to_string();
        if end < bytes.len() {
            excerpt.push('…');
        }
        Self { kind, excerpt }
    }

    /// A valid `reply` that is not an answer to the command sent.
    pub fn unexpected(kind: ProtocolErrorKind, reply: &Reply<'_>) -> Self {
        let mut line = Vec::new();
        encode_reply(reply, &mut line);
        Self::new(kind, &line)
    }

    /// [`ProtocolError::unexpected`] for a `VALUE` of `header` whose data lies elsewhere (read
    /// straight into its destination): quoting its header line, as it would be quoted with
    /// its data.
    pub(crate) fn unexpected_value(kind: ProtocolErrorKind, header: &ValueHeader<'_>) -> Self {
        let mut line = Vec::new();
        put_value_header(&mut line, header);
        Self::new(kind, &line)
    }
}

/// Decodes the frame at the start of `buf`.
///
/// `max_value_len` bounds the data a `VALUE` may claim; a larger claim is an error before
/// anything is allocated or waited for. Every proper prefix of a valid frame is
/// [`Status::Incomplete`]; anything that can never become a valid frame is an error.
///
/// ```
/// use memcache_sync::protocol::{parse_reply, Reply, Status, Value};
/// let wire = b"VALUE k 7 2\r\nhi\r\nEND\r\n";
/// let Status::Complete { frame, len } = parse_reply(wire, 1024)? else { unreachable!() };
/// assert_eq!(frame, Reply::Value(Value { key: b"k", flags: 7, cas: None, data: b"hi" }));
/// assert_eq!(parse_reply(&wire[len..], 1024)?, Status::Complete { frame: Reply::End, len: 5 });
/// assert_eq!(parse_reply(&wire[..len - 1], 1024)?, Status::Incomplete);
/// # Ok::<(), memcache_sync::protocol::ProtocolError>(())
/// ```
pub fn parse_reply(buf: &[u8], max_value_len: usize) -> Result<Status<Reply<'_>>, ProtocolError> {
    // A multi-get's replies are almost all `VALUE`s: looked for before the other replies.
    if buf.starts_with(VALUE) {
        return parse_value(buf, max_value_len);
    }
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
    match line {
        b"STORED" => complete(Reply::Stored),
        b"NOT_STORED" => complete(Reply::NotStored),
        b"EXISTS" => complete(Reply::Exists),
        b"NOT_FOUND" => complete(Reply::NotFound),
        b"DELETED" => complete(Reply::Deleted),
        b"TOUCHED" => complete(Reply::Touched),
        b"OK" => complete(Reply::Ok),
        b"RESET" => complete(Reply::Reset),
        b"END" => complete(Reply::End),
        _ => {
            if let Some(rest) = line.strip_prefix(b"STAT ") {
                match rest.iter().position(|&b| b == b' ') {
                    Some(0) | None => {
                        Err(ProtocolError::new(ProtocolErrorKind::MalformedLine, line))
                    }
                    Some(i) => complete(Reply::Stat {
                        name: &rest[..i],
                        value: &rest[i + 1..],
                    }),
                }
            } else if let Some(rest) = line.strip_prefix(b"ITEM ") {
                match parse_cachedump_item(rest) {
                    Some(frame) => complete(frame),
                    None => Err(ProtocolError::new(ProtocolErrorKind::MalformedLine, line)),
                }
            } else if let Some(rest) = line.strip_prefix(b"PREFIX ") {
                match parse_prefix(rest) {
                    Some(frame) => complete(frame),
                    None => Err(ProtocolError::new(ProtocolErrorKind::MalformedLine, line)),
                }
            } else if let Some(version) = line.strip_prefix(b"VERSION ") {
                complete(Reply::Version(version))
            } else if let Some(message) = error_message(line, b"SERVER_ERROR") {
                complete(Reply::ServerError(message))
            } else if let Some(message) = error_message(line, b"CLIENT_ERROR") {
                complete(Reply::ClientError(message))
            } else if let Some(message) = error_message(line, b"ERROR") {
                complete(Reply::Error(message))
            } else if line.first().is_some_and(u8::is_ascii_digit) {
                // memcached may pad a shrunken incr/decr result with trailing spaces.
                let digits_end = line.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
                let digits = &line[..digits_end];
                match parse_u64(digits) {
                    Some(n) => complete(Reply::Number(n)),
                    None => Err(ProtocolError::new(ProtocolErrorKind::MalformedLine, line)),
                }
            } else {
                Err(ProtocolError::new(ProtocolErrorKind::UnknownReply, line))
            }
        }
    }
}

/// The length of the first line, `\r\n` included, once it is all in `buf`.
fn line_end(buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
    let window = &buf[..buf.len().min(MAX_LINE_LEN)];
    match super::scan::find_byte(window, b'\n') {
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

/// The fields of `<key> [<size> b; <expiry> s]`, read from the right: the numbers cannot
/// hold a space, so whatever precedes them is the key, spaces and all.
fn parse_cachedump_item(rest: &[u8]) -> Option<Reply<'_>> {
    let rest = rest.strip_suffix(b" s]")?;
    let split = rest.iter().rposition(|&b| b == b' ')?;
    let (rest, expiry) = (rest[..split].strip_suffix(b";")?, &rest[split + 1..]);
    let rest = rest.strip_suffix(b" b")?;
    let split = rest.windows(2).rposition(|pair| pair == b" [")?;
    let (key, size) = (&rest[..split], &rest[split + 2..]);
    if key.len() > MAX_KEY_LEN {
        return None;
    }
    Some(Reply::CachedumpItem {
        key,
        size: parse_u64(size)?,
        expiry: parse_u64(expiry)?,
    })
}

/// The fields of `<prefix> get <n> hit <n> set <n> del <n>`, read from the right, so that a
/// prefix with spaces in it (possible for binary-protocol keys) stays whole.
fn parse_prefix(rest: &[u8]) -> Option<Reply<'_>> {
    let mut fields = rest.rsplitn(9, |&b| b == b' ');
    let mut counter = |name: &[u8]| {
        let n = parse_u64(fields.next()?)?;
        (fields.next()? == name).then_some(n)
    };
    let deletes = counter(b"del")?;
    let sets = counter(b"set")?;
    let hits = counter(b"hit")?;
    let gets = counter(b"get")?;
    let prefix = fields.next()?;
    if prefix.len() > MAX_KEY_LEN {
        return None;
    }
    Some(Reply::Prefix {
        prefix,
        gets,
        hits,
        sets,
        deletes,
    })
}

/// The header of a `VALUE` frame: everything about the item but its data block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueHeader<'a> {
    /// The item's key.
    pub key: &'a [u8],
    /// The client flags stored with the item.
    pub flags: u32,
    /// The CAS value, present in `gets`/`gats` replies.
    pub cas: Option<u64>,
    /// The length of the data block that follows the header line (its `\r\n` not counted),
    /// already checked against the maximum value length.
    pub data_len: usize,
}

/// Decodes the first line of `buf` far enough to tell whether it is a `VALUE` header, and if
/// so its fields, before its data block has arrived: so that a reader can put a large data
/// block straight where it belongs instead of buffering it first.
///
/// [`Status::Complete`] with `Some(header)` and the header line's length (`\r\n` included;
/// the data starts there); `Some` is returned only for a header [`parse_reply`] would accept
/// once its data arrived, with the same checks of `max_value_len`. `None` when the first line
/// is whole and is not a `VALUE` header: decode it with [`parse_reply`].
/// [`Status::Incomplete`] while the first line is not whole. An error is the error
/// `parse_reply` would return for the same line.
///
/// ```
/// use memcache_sync::protocol::{parse_value_header, Status, ValueHeader};
/// let wire = b"VALUE k 7 5\r\nhe";
/// let Status::Complete { frame: Some(header), len } = parse_value_header(wire, 1024)? else {
///     unreachable!()
/// };
/// assert_eq!(header, ValueHeader { key: b"k", flags: 7, cas: None, data_len: 5 });
/// assert_eq!(len, 13);
/// assert_eq!(parse_value_header(b"END\r\n", 1024)?, Status::Complete { frame: None, len: 5 });
/// assert_eq!(parse_value_header(b"VALUE k", 1024)?, Status::Incomplete);
/// # Ok::<(), memcache_sync::protocol::ProtocolError>(())
/// ```
pub fn parse_value_header(
    buf: &[u8],
    max_value_len: usize,
) -> Result<Status<Option<ValueHeader<'_>>>, ProtocolError> {
    if buf.starts_with(VALUE) {
        return Ok(match value_header(buf, max_value_len)? {
            Status::Complete { frame, len } => Status::Complete {
                frame: Some(frame),
                len,
            },
            Status::Incomplete => Status::Incomplete,
        });
    }
    Ok(match line_end(buf)? {
        Some(len) => Status::Complete { frame: None, len },
        None => Status::Incomplete,
    })
}

const VALUE: &[u8] = b"VALUE ";

/// The fields of a `VALUE` header, as read before they are checked against the caller's limit.
struct ValueFields<'a> {
    key: &'a [u8],
    flags: u32,
    claimed: u64,
    cas: Option<u64>,
}

/// Reads `<key> <flags> <bytes>[ <cas>]` from the start of `bytes` (what follows `VALUE `), and
/// returns it with what follows its last digit; `None` if `bytes` does not start so. One pass
/// left to right: the key ends at the first byte no key may hold, which must be the space
/// before the flags, and each number where its digits do. (Split into fields and then checked,
/// the same line cost about three times as many instructions, and every value of a multi-get
/// pays it.)
fn value_fields(bytes: &[u8]) -> Option<(ValueFields<'_>, &[u8])> {
    let (key, rest) = bytes.split_at(super::scan::key_end(bytes)?);
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return None;
    }
    value_numbers(key, rest.strip_prefix(b" ")?)
}

/// The numbers of a `VALUE` header for `key`, `<flags> <bytes>[ <cas>]`, from the start of
/// `bytes`, and what follows the last digit.
#[inline]
fn value_numbers<'a>(key: &'a [u8], bytes: &'a [u8]) -> Option<(ValueFields<'a>, &'a [u8])> {
    let (flags, rest) = leading_u64(bytes)?;
    let (claimed, rest) = leading_u64(rest.strip_prefix(b" ")?)?;
    let (cas, rest) = match rest.strip_prefix(b" ") {
        Some(rest) => {
            let (cas, rest) = leading_u64(rest)?;
            (Some(cas), rest)
        }
        None => (None, rest),
    };
    let flags = u32::try_from(flags).ok()?;
    Some((
        ValueFields {
            key,
            flags,
            claimed,
            cas,
        },
        rest,
    ))
}

/// The `VALUE` frame for `key` that starts `buf`, if `buf` starts with one whole and
/// well-formed, with the frame's length; `None` for anything else, which [`parse_reply`]
/// then judges. `key` must be a valid key (see [`validate_key`](super::validate_key)): the
/// key asked for next, whose bytes need no check where the reply names it.
///
/// Where this returns a frame, `parse_reply` returns the same frame and length: this is the
/// same reading with the key compared instead of scanned, for the reader of a multi-get, which
/// knows the key memcached answers next (it answers in the order asked) and would otherwise
/// scan every key's bytes once in the header and compare them again to match it.
pub(crate) fn parse_value_of<'a>(
    buf: &'a [u8],
    key: &[u8],
    max_value_len: usize,
) -> Option<(Value<'a>, usize)> {
    debug_assert!(super::validate_key(key).is_ok());
    let named = buf.get(VALUE.len()..VALUE.len() + key.len())?;
    if !buf.starts_with(VALUE) || !super::scan::same_bytes(named, key) {
        return None;
    }
    let rest = buf[VALUE.len() + key.len()..].strip_prefix(b" ")?;
    let (fields, rest) = value_numbers(named, rest)?;
    let data = rest.strip_prefix(b"\r\n")?;
    if fields.claimed > max_value_len as u64 || fields.claimed > data.len() as u64 {
        return None;
    }
    let (data, after) = data.split_at(fields.claimed as usize);
    if !after.starts_with(b"\r\n") {
        return None;
    }
    let value = Value {
        key: fields.key,
        flags: fields.flags,
        cas: fields.cas,
        data,
    };
    Some((value, buf.len() - after.len() + 2))
}

/// The `VALUE` header that starts `buf` (which starts with `VALUE `), and its line's length
/// with its `\r\n`.
///
/// A well-formed header is read straight from the buffer: it ends where its last field does,
/// so its line's end need not be looked for first. Anything else is judged by its whole line,
/// as every other reply is, so that it is incomplete, too long or malformed exactly as that
/// line is; the same field reader decides both ways.
fn value_header(
    buf: &[u8],
    max_value_len: usize,
) -> Result<Status<ValueHeader<'_>>, ProtocolError> {
    let (fields, line_len) = match value_fields(&buf[VALUE.len()..]) {
        Some((fields, rest)) if rest.starts_with(b"\r\n") => (fields, buf.len() - rest.len() + 2),
        _ => match value_fields_by_line(buf)? {
            Status::Complete { frame, len } => (frame, len),
            Status::Incomplete => return Ok(Status::Incomplete),
        },
    };
    checked_header(buf, fields, line_len, max_value_len).map(|frame| Status::Complete {
        frame,
        len: line_len,
    })
}

/// [`value_fields`] of the `VALUE` line that starts `buf`, found first: how any header that is
/// not read straight from the buffer is judged.
fn value_fields_by_line(buf: &[u8]) -> Result<Status<ValueFields<'_>>, ProtocolError> {
    let Some(line_len) = line_end(buf)? else {
        return Ok(Status::Incomplete);
    };
    match value_fields(&buf[VALUE.len()..line_len - 2]) {
        Some((frame, [])) => Ok(Status::Complete {
            frame,
            len: line_len,
        }),
        _ => Err(ProtocolError::new(
            ProtocolErrorKind::MalformedLine,
            &buf[..line_len - 2],
        )),
    }
}

/// The header `fields` make, its line `line_len` long at the start of `buf`, once its claimed
/// length is checked against `max_value_len` and the frame's length is representable.
fn checked_header<'a>(
    buf: &[u8],
    fields: ValueFields<'a>,
    line_len: usize,
    max_value_len: usize,
) -> Result<ValueHeader<'a>, ProtocolError> {
    let ValueFields {
        key,
        flags,
        claimed,
        cas,
    } = fields;
    let too_long = || {
        let kind = ProtocolErrorKind::ValueTooLong {
            claimed,
            limit: max_value_len,
        };
        ProtocolError::new(kind, &buf[..line_len - 2])
    };
    if claimed > max_value_len as u64 {
        return Err(too_long());
    }
    // The claim is within max_value_len, but that limit may be as large as usize::MAX: the
    // whole frame's length must be representable.
    let data_len = claimed as usize;
    if line_len
        .checked_add(data_len)
        .and_then(|end| end.checked_add(2))
        .is_none()
    {
        return Err(too_long());
    }
    Ok(ValueHeader {
        key,
        flags,
        cas,
        data_len,
    })
}

/// The `VALUE` frame that starts `buf`: its header, then its data block and `\r\n`.
fn parse_value(buf: &[u8], max_value_len: usize) -> Result<Status<Reply<'_>>, ProtocolError> {
    let Status::Complete {
        frame:
            ValueHeader {
                key,
                flags,
                cas,
                data_len,
            },
        len: line_len,
    } = value_header(buf, max_value_len)?
    else {
        return Ok(Status::Incomplete);
    };
    // Cannot overflow: checked by value_header.
    let data_end = line_len + data_len;
    let frame_len = data_end + 2;
    if buf.len() < frame_len {
        return Ok(Status::Incomplete);
    }
    if &buf[data_end..frame_len] != b"\r\n" {
        return Err(ProtocolError::new(
            ProtocolErrorKind::UnterminatedData,
            &buf[..line_len - 2],
        ));
    }
    let data = &buf[line_len..data_end];
    Ok(Status::Complete {
        frame: Reply::Value(Value {
            key,
            flags,
            cas,
            data,
        }),
        len: frame_len,
    })
}

/// Appends the header line of a `VALUE`, `\r\n` included.
fn put_value_header(buf: &mut Vec<u8>, header: &ValueHeader<'_>) {
    buf.extend_from_slice(VALUE);
    buf.extend_from_slice(header.key);
    buf.push(b' ');
    put_u64(buf, u64::from(header.flags));
    buf.push(b' ');
    put_u64(buf, header.data_len as u64);
    if let Some(cas) = header.cas {
        buf.push(b' ');
        put_u64(buf, cas);
    }
    buf.extend_from_slice(b"\r\n");
}

/// Appends `reply` as memcached would send it: the inverse of [`parse_reply`], for tests, fuzz
/// seeds and scripted servers.
pub fn encode_reply(reply: &Reply<'_>, buf: &mut Vec<u8>) {
    let line_with_message = |buf: &mut Vec<u8>, tag: &[u8], message: &[u8]| {
        buf.extend_from_slice(tag);
        if !message.is_empty() {
            buf.push(b' ');
            buf.extend_from_slice(message);
        }
    };
    match reply {
        Reply::Stored => buf.extend_from_slice(b"STORED"),
        Reply::NotStored => buf.extend_from_slice(b"NOT_STORED"),
        Reply::Exists => buf.extend_from_slice(b"EXISTS"),
        Reply::NotFound => buf.extend_from_slice(b"NOT_FOUND"),
        Reply::Deleted => buf.extend_from_slice(b"DELETED"),
        Reply::Touched => buf.extend_from_slice(b"TOUCHED"),
        Reply::Ok => buf.extend_from_slice(b"OK"),
        Reply::Reset => buf.extend_from_slice(b"RESET"),
        Reply::End => buf.extend_from_slice(b"END"),
        Reply::Value(value) => {
            let header = ValueHeader {
                key: value.key,
                flags: value.flags,
                cas: value.cas,
                data_len: value.data.len(),
            };
            put_value_header(buf, &header);
            buf.extend_from_slice(value.data);
        }
        Reply::Stat { name, value } => {
            buf.extend_from_slice(b"STAT ");
            buf.extend_from_slice(name);
            buf.push(b' ');
            buf.extend_from_slice(value);
        }
        Reply::CachedumpItem { key, size, expiry } => {
            buf.extend_from_slice(b"ITEM ");
            buf.extend_from_slice(key);
            buf.extend_from_slice(b" [");
            put_u64(buf, *size);
            buf.extend_from_slice(b" b; ");
            put_u64(buf, *expiry);
            buf.extend_from_slice(b" s]");
        }
        Reply::Prefix {
            prefix,
            gets,
            hits,
            sets,
            deletes,
        } => {
            buf.extend_from_slice(b"PREFIX ");
            buf.extend_from_slice(prefix);
            for (name, n) in [
                (&b" get "[..], gets),
                (b" hit ", hits),
                (b" set ", sets),
                (b" del ", deletes),
            ] {
                buf.extend_from_slice(name);
                put_u64(buf, *n);
            }
        }
        Reply::Version(version) => {
            buf.extend_from_slice(b"VERSION ");
            buf.extend_from_slice(version);
        }
        Reply::Number(n) => put_u64(buf, *n),
        Reply::Error(message) => line_with_message(buf, b"ERROR", message),
        Reply::ClientError(message) => line_with_message(buf, b"CLIENT_ERROR", message),
        Reply::ServerError(message) => line_with_message(buf, b"SERVER_ERROR", message),
    }
    buf.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The header as it is judged when its line's end is found first, the one way every
    /// header was read before headers were read straight from the buffer.
    fn header_by_line(buf: &[u8], max: usize) -> Result<Status<ValueHeader<'_>>, ProtocolError> {
        Ok(match value_fields_by_line(buf)? {
            Status::Complete { frame, len } => Status::Complete {
                frame: checked_header(buf, frame, len, max)?,
                len,
            },
            Status::Incomplete => Status::Incomplete,
        })
    }

    /// Bytes that look like a `VALUE` header often enough to be one, and break it in every
    /// way a header can break: a forbidden byte, a missing or doubled space, a bare `\n`, a
    /// number too long, a CAS or a fifth field.
    fn header_like() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop_oneof![
            6 => Just(b'k'),
            4 => Just(b' '),
            6 => b'0'..=b'9',
            2 => Just(b'\r'),
            2 => Just(b'\n'),
            1 => Just(0x7f),
            1 => Just(0x01),
            1 => any::<u8>(),
        ];
        proptest::collection::vec(byte, 0..60).prop_map(|rest| [VALUE, &rest].concat())
    }

    proptest! {
        #[test]
        fn a_header_read_straight_from_the_buffer_is_judged_as_its_line_is(
            buf in header_like(),
            max in prop_oneof![Just(usize::MAX), 0usize..100],
        ) {
            prop_assert_eq!(value_header(&buf, max), header_by_line(&buf, max));
        }

        #[test]
        fn a_well_formed_header_followed_by_anything_reads_the_same(
            key in "[!-~]{1,250}",
            flags in any::<u32>(),
            len in 0u64..1000,
            cas in proptest::option::of(any::<u64>()),
            after in proptest::collection::vec(any::<u8>(), 0..20),
        ) {
            let mut buf = format!("VALUE {key} {flags} {len}").into_bytes();
            if let Some(cas) = cas {
                buf.extend_from_slice(format!(" {cas}").as_bytes());
            }
            buf.extend_from_slice(b"\r\n");
            let line_len = buf.len();
            buf.extend_from_slice(&after);
            let expected = ValueHeader { key: key.as_bytes(), flags, cas, data_len: len as usize };
            let read = value_header(&buf, usize::MAX);
            prop_assert_eq!(&read, &header_by_line(&buf, usize::MAX));
            prop_assert_eq!(read, Ok(Status::Complete { frame: expected, len: line_len }));
        }

        #[test]
        fn a_value_read_as_the_key_expected_is_the_frame_parse_reply_reads(
            buf in header_like().prop_flat_map(|head| {
                let data = proptest::collection::vec(
                    prop_oneof![4 => Just(b'd'), 1 => Just(b'\r'), 1 => Just(b'\n')],
                    0..12,
                );
                (Just(head), data).prop_map(|(head, data)| [head, data].concat())
            }),
            key in prop_oneof![Just(b"k".to_vec()), Just(b"kk".to_vec()), Just(b"kkk".to_vec())],
            max in prop_oneof![Just(usize::MAX), 0usize..12],
        ) {
            match parse_value_of(&buf, &key, max) {
                Some((value, len)) => prop_assert_eq!(
                    parse_reply(&buf, max),
                    Ok(Status::Complete { frame: Reply::Value(value), len })
                ),
                // Whatever parse_reply makes of it, it is no whole frame for this key.
                None => {
                    let read_as_its = matches!(
                        parse_reply(&buf, max),
                        Ok(Status::Complete { frame: Reply::Value(Value { key: k, .. }), .. })
                            if k == &key[..]
                    );
                    prop_assert!(!read_as_its);
                }
            }
        }

        #[test]
        fn a_value_naming_a_key_one_byte_off_the_expected_is_left_to_parse_reply(
            len in prop_oneof![Just(1usize), 7usize..=9, 15usize..=17, Just(24), Just(32), Just(250)],
            change in proptest::option::of((any::<proptest::sample::Index>(), 1u8..=0x5d)),
            grow in prop_oneof![Just(0i8), Just(-1), Just(1)],
            flags in 0u32..3,
            data in proptest::collection::vec(b'a'..=b'c', 0..5),
        ) {
            let key: Vec<u8> = (0..len).map(|i| b'!' + (i % 90) as u8).collect();
            let mut named = key.clone();
            if let Some((at, by)) = change {
                let at = at.index(len);
                named[at] = b'!' + (named[at] - b'!' + by) % 0x5e;
            }
            match grow {
                -1 => { named.pop(); }
                1 => named.push(b'x'),
                _ => {}
            }
            let mut buf = [VALUE, &named, format!(" {flags} {}\r\n", data.len()).as_bytes()].concat();
            buf.extend_from_slice(&data);
            buf.extend_from_slice(b"\r\nEND\r\n");
            let read = parse_value_of(&buf, &key, usize::MAX);
            if named == key {
                let len = buf.len() - b"END\r\n".len();
                let value = Value { key: &key, flags, cas: None, data: &data };
                prop_assert_eq!(read, Some((value, len)));
            } else {
                prop_assert_eq!(read, None);
            }
        }

        #[test]
        fn a_whole_value_frame_for_the_key_expected_is_read_as_it(
            key in "[!-~]{1,250}",
            flags in any::<u32>(),
            data in proptest::collection::vec(any::<u8>(), 0..300),
            cas in proptest::option::of(any::<u64>()),
            after in proptest::collection::vec(any::<u8>(), 0..20),
        ) {
            let mut buf = format!("VALUE {key} {flags} {}", data.len()).into_bytes();
            if let Some(cas) = cas {
                buf.extend_from_slice(format!(" {cas}").as_bytes());
            }
            buf.extend_from_slice(b"\r\n");
            buf.extend_from_slice(&data);
            buf.extend_from_slice(b"\r\n");
            let frame_len = buf.len();
            buf.extend_from_slice(&after);
            let expected = Value { key: key.as_bytes(), flags, cas, data: &data };
            prop_assert_eq!(parse_value_of(&buf, key.as_bytes(), usize::MAX), Some((expected, frame_len)));
            // Every proper prefix is left to parse_reply, which finds it incomplete.
            for end in [0, frame_len / 2, frame_len - 1] {
                prop_assert_eq!(parse_value_of(&buf[..end], key.as_bytes(), usize::MAX), None);
            }
        }
    }
}
