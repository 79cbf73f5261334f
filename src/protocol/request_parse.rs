//! Request decoding, the server's side of the text protocol: one request at a time from a byte
//! slice, "incomplete" as a value, every length the peer claims bounded before it is used. It
//! exists so that a fake server (and a test) can read exactly what the encoders write.

use std::fmt;

use super::key::validate_key;
use super::number::{parse_u32, parse_u64};
use super::request::{ArithCommand, RetrievalCommand, StorageCommand, MAX_RETRIEVAL_LINE_LEN};
use super::response::{ProtocolError, ProtocolErrorKind, Status};

/// One classic text-protocol request, borrowed from the buffer it was parsed from: the inverse
/// of the `encode_*` functions.
///
/// ```
/// use memcache_sync::protocol::{encode_delete, parse_request, Request, Status};
/// let mut wire = Vec::new();
/// encode_delete(&mut wire, b"session:1", true)?;
/// let frame = Request::Delete { key: b"session:1", noreply: true };
/// assert_eq!(parse_request(&wire, 1024)?, Status::Complete { frame, len: wire.len() });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request<'a> {
    /// `set`, `add`, `replace`, `append`, `prepend` or `cas`, with its data block.
    Storage {
        /// Which storage command, with the CAS value for `cas`.
        command: StorageCommand,
        /// The item's key.
        key: &'a [u8],
        /// The client flags to store.
        flags: u32,
        /// The expiration time as sent: 0 for never, seconds up to 30 days, a Unix time above,
        /// negative for already expired.
        exptime: i64,
        /// The data block, without its `\r\n`.
        value: &'a [u8],
        /// Whether the client asked for no reply.
        noreply: bool,
    },
    /// `get`, `gets`, `gat` or `gats`, with the expiration time for the touching forms.
    Retrieval {
        /// Which retrieval command.
        command: RetrievalCommand,
        /// The keys asked for, in order (duplicates kept: memcached answers each).
        keys: Keys<'a>,
    },
    /// `delete <key> [noreply]`
    Delete {
        /// The key to delete.
        key: &'a [u8],
        /// Whether the client asked for no reply.
        noreply: bool,
    },
    /// `incr` or `decr <key> <delta> [noreply]`
    Arith {
        /// Which direction.
        command: ArithCommand,
        /// The key of the counter.
        key: &'a [u8],
        /// The amount to add or subtract.
        delta: u64,
        /// Whether the client asked for no reply.
        noreply: bool,
    },
    /// `touch <key> <exptime> [noreply]`
    Touch {
        /// The key to touch.
        key: &'a [u8],
        /// The new expiration time, as sent.
        exptime: i64,
        /// Whether the client asked for no reply.
        noreply: bool,
    },
    /// `flush_all [<delay>] [noreply]`
    FlushAll {
        /// When to flush, as an expiration time; `None` for now.
        delay: Option<i64>,
        /// Whether the client asked for no reply.
        noreply: bool,
    },
    /// `version`
    Version,
    /// `stats [<args>]`
    Stats {
        /// Everything after `stats `, such as `items` or `detail on`; `None` for plain `stats`.
        args: Option<&'a [u8]>,
    },
    /// `verbosity <level> [noreply]`
    Verbosity {
        /// The requested log level.
        level: u32,
        /// Whether the client asked for no reply.
        noreply: bool,
    },
    /// `quit`
    Quit,
}

/// The keys of a retrieval request, borrowed from its command line. Iterating yields each key
/// in the order sent; every one has passed [`validate_key`].
///
/// ```
/// use memcache_sync::protocol::{parse_request, Request, Status};
/// let Status::Complete { frame: Request::Retrieval { keys, .. }, .. } =
///     parse_request(b"get a b a\r\n", 1024)? else { unreachable!() };
/// assert_eq!(keys.iter().collect::<Vec<_>>(), [&b"a"[..], b"b", b"a"]);
/// assert_eq!(keys.len(), 3);
/// # Ok::<(), memcache_sync::protocol::ProtocolError>(())
/// ```
#[derive(Clone, Copy)]
pub struct Keys<'a> {
    /// The space-separated keys, as they stood on the line.
    tokens: &'a [u8],
}

impl<'a> Keys<'a> {
    /// The keys in the order sent.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        tokens(self.tokens)
    }

    /// How many keys were sent, duplicates counted.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Always false for a parsed request: a retrieval without keys is refused.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

impl PartialEq for Keys<'_> {
    /// Keys are equal when they list the same keys, however many spaces stood between them.
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Keys<'_> {}

impl fmt::Debug for Keys<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|key| key.escape_ascii().to_string()))
            .finish()
    }
}

/// The tokens of a command line: memcached splits on runs of spaces.
fn tokens(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|&b| b == b' ').filter(|token| !token.is_empty())
}

/// The first token of `line` and what follows it.
fn split_token(line: &[u8]) -> (&[u8], &[u8]) {
    let start = line.iter().position(|&b| b != b' ').unwrap_or(line.len());
    let line = &line[start..];
    let end = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
    line.split_at(end)
}

/// Whether the tokens after a command's fixed arguments ask for no reply; `None` if they are
/// anything but nothing or `noreply`. Checked by position, so a key named `noreply` is a key.
fn noreply(rest: &[&[u8]]) -> Option<bool> {
    match rest {
        [] => Some(false),
        [b"noreply"] => Some(true),
        _ => None,
    }
}

/// Decodes the request at the start of `buf`.
///
/// `max_value_len` bounds the data block a storage command may claim; a larger claim is
/// [`ProtocolErrorKind::ValueTooLong`] before anything is allocated or waited for. A command
/// line longer than [`MAX_RETRIEVAL_LINE_LEN`] (the longest line the encoders write) is
/// [`ProtocolErrorKind::LineTooLong`]. Like memcached, a command line may end in a bare `\n`;
/// a data block must end in `\r\n`, else [`ProtocolErrorKind::UnterminatedData`].
///
/// A command memcached does not know, or a known one with too few tokens (or far too many), is
/// [`ProtocolErrorKind::UnknownReply`]: memcached answers `ERROR`. A known command with a
/// malformed argument, a stray token where `noreply` may stand, or a key that [`validate_key`]
/// refuses, is [`ProtocolErrorKind::MalformedLine`]: memcached answers `CLIENT_ERROR`. Every
/// proper prefix of a valid request is [`Status::Incomplete`].
///
/// ```
/// use memcache_sync::protocol::{parse_request, Request, Status, StorageCommand};
/// let wire = b"set greeting 0 60 5\r\nhello\r\nget greeting\r\n";
/// let Status::Complete { frame, len } = parse_request(wire, 1024)? else { unreachable!() };
/// assert_eq!(frame, Request::Storage {
///     command: StorageCommand::Set,
///     key: b"greeting",
///     flags: 0,
///     exptime: 60,
///     value: b"hello",
///     noreply: false,
/// });
/// assert!(matches!(parse_request(&wire[len..], 1024)?, Status::Complete { frame: Request::Retrieval { .. }, .. }));
/// assert_eq!(parse_request(&wire[..len - 1], 1024)?, Status::Incomplete);
/// # Ok::<(), memcache_sync::protocol::ProtocolError>(())
/// ```
pub fn parse_request(
    buf: &[u8],
    max_value_len: usize,
) -> Result<Status<Request<'_>>, ProtocolError> {
    let window = &buf[..buf.len().min(MAX_RETRIEVAL_LINE_LEN)];
    let Some(newline) = window.iter().position(|&b| b == b'\n') else {
        if buf.len() >= MAX_RETRIEVAL_LINE_LEN {
            return Err(ProtocolError::new(ProtocolErrorKind::LineTooLong, window));
        }
        return Ok(Status::Incomplete);
    };
    let line_len = newline + 1;
    let line = &buf[..newline];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let malformed = || ProtocolError::new(ProtocolErrorKind::MalformedLine, line);
    let unknown = || ProtocolError::new(ProtocolErrorKind::UnknownReply, line);
    let key = |token: &[u8]| validate_key(token).map_err(|_| malformed());
    let (name, rest) = split_token(line);

    let retrieval = match name {
        b"get" => Some((RetrievalCommand::Get, rest)),
        b"gets" => Some((RetrievalCommand::Gets, rest)),
        b"gat" | b"gats" => {
            let (exptime, rest) = split_token(rest);
            let exptime = parse_i64(exptime).ok_or_else(malformed)?;
            let command = if name == b"gat" {
                RetrievalCommand::Gat(exptime)
            } else {
                RetrievalCommand::Gats(exptime)
            };
            Some((command, rest))
        }
        _ => None,
    };
    if let Some((command, rest)) = retrieval {
        // Any number of keys: they stay on the line, and are only walked, never collected.
        let keys = Keys { tokens: rest };
        if keys.is_empty() {
            return Err(unknown());
        }
        keys.iter().try_for_each(key)?;
        return Ok(Status::Complete {
            frame: Request::Retrieval { command, keys },
            len: line_len,
        });
    }

    // Every other command has a handful of tokens: at most eight are read, into an array, so
    // a hostile line costs neither work nor allocation.
    let mut slots: [&[u8]; 8] = [&[]; 8];
    let mut count = 0;
    for word in tokens(rest) {
        *slots.get_mut(count).ok_or_else(unknown)? = word;
        count += 1;
    }
    let args = &slots[..count];
    let frame = match (name, args) {
        (b"set" | b"add" | b"replace" | b"append" | b"prepend", [k, f, e, b, more @ ..]) => {
            let command = match name {
                b"set" => StorageCommand::Set,
                b"add" => StorageCommand::Add,
                b"replace" => StorageCommand::Replace,
                b"append" => StorageCommand::Append,
                _ => StorageCommand::Prepend,
            };
            let noreply = noreply(more).ok_or_else(malformed)?;
            return parse_storage(
                buf,
                line_len,
                line,
                command,
                [k, f, e, b],
                noreply,
                max_value_len,
            );
        }
        (b"cas", [k, f, e, b, unique, more @ ..]) => {
            let command = StorageCommand::Cas(parse_u64(unique).ok_or_else(malformed)?);
            let noreply = noreply(more).ok_or_else(malformed)?;
            return parse_storage(
                buf,
                line_len,
                line,
                command,
                [k, f, e, b],
                noreply,
                max_value_len,
            );
        }
        (b"delete", [k, more @ ..]) => {
            key(k)?;
            Request::Delete {
                key: k,
                noreply: noreply(more).ok_or_else(malformed)?,
            }
        }
        (b"incr" | b"decr", [k, delta, more @ ..]) => {
            key(k)?;
            Request::Arith {
                command: if name == b"incr" {
                    ArithCommand::Incr
                } else {
                    ArithCommand::Decr
                },
                key: k,
                delta: parse_u64(delta).ok_or_else(malformed)?,
                noreply: noreply(more).ok_or_else(malformed)?,
            }
        }
        (b"touch", [k, exptime, more @ ..]) => {
            key(k)?;
            Request::Touch {
                key: k,
                exptime: parse_i64(exptime).ok_or_else(malformed)?,
                noreply: noreply(more).ok_or_else(malformed)?,
            }
        }
        (b"flush_all", [] | [b"noreply"]) => Request::FlushAll {
            delay: None,
            noreply: !args.is_empty(),
        },
        (b"flush_all", [delay, more @ ..]) => Request::FlushAll {
            delay: Some(parse_i64(delay).ok_or_else(malformed)?),
            noreply: noreply(more).ok_or_else(malformed)?,
        },
        (b"verbosity", [level, more @ ..]) => Request::Verbosity {
            level: parse_u32(level).ok_or_else(malformed)?,
            noreply: noreply(more).ok_or_else(malformed)?,
        },
        (b"version", []) => Request::Version,
        (b"quit", []) => Request::Quit,
        (b"stats", _) => {
            // Arguments are free-form (`items`, `detail on`, `cachedump 1 10`), kept as the
            // rest of the line; each token is held to the key rules, as the encoder holds it.
            args.iter().try_for_each(|token| key(token))?;
            let args = trim_spaces(rest);
            Request::Stats {
                args: (!args.is_empty()).then_some(args),
            }
        }
        // memcached picks a command by its name and number of tokens, so a known name with
        // too few tokens is as unknown to it as a misspelt one.
        _ => return Err(unknown()),
    };
    Ok(Status::Complete {
        frame,
        len: line_len,
    })
}

/// A storage command's data block, once the line's fields have been read: the fields are
/// checked in memcached's order (key, numbers, then the claimed length against the limit), so
/// a malformed line is never mistaken for an oversized one.
fn parse_storage<'a>(
    buf: &'a [u8],
    line_len: usize,
    line: &'a [u8],
    command: StorageCommand,
    [key, flags, exptime, bytes]: [&'a [u8]; 4],
    noreply: bool,
    max_value_len: usize,
) -> Result<Status<Request<'a>>, ProtocolError> {
    let malformed = || ProtocolError::new(ProtocolErrorKind::MalformedLine, line);
    validate_key(key).map_err(|_| malformed())?;
    let flags = parse_u32(flags).ok_or_else(malformed)?;
    let exptime = parse_i64(exptime).ok_or_else(malformed)?;
    let claimed = parse_u64(bytes).ok_or_else(malformed)?;
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
    if &buf[frame_len - 2..frame_len] != b"\r\n" {
        return Err(ProtocolError::new(
            ProtocolErrorKind::UnterminatedData,
            line,
        ));
    }
    Ok(Status::Complete {
        frame: Request::Storage {
            command,
            key,
            flags,
            exptime,
            value: &buf[line_len..frame_len - 2],
            noreply,
        },
        len: frame_len,
    })
}

/// `line` without leading or trailing spaces.
fn trim_spaces(line: &[u8]) -> &[u8] {
    let start = line.iter().position(|&b| b != b' ').unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|&b| b != b' ')
        .map_or(start, |i| i + 1);
    &line[start..end.max(start)]
}

/// A signed decimal as the encoders write it: an optional `-` and 1 to 20 digits, within
/// `i64`.
fn parse_i64(token: &[u8]) -> Option<i64> {
    match token.strip_prefix(b"-") {
        Some(digits) => 0i64.checked_sub_unsigned(parse_u64(digits)?),
        None => i64::try_from(parse_u64(token)?).ok(),
    }
}
