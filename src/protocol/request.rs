//! Request encoding: every command appends its complete bytes to the caller's buffer, so a
//! request goes out in one write. Keys and arguments are checked before a byte is appended:
//! on error the buffer is left as it was.

use std::convert::Infallible;
use std::ops::Range;

use super::key::{validate_key, KeyError};
use super::number::{put_i64, put_u64};

/// The longest retrieval line [`encode_retrieval_lines`] writes, `\r\n` included: the limit
/// for `get` and `gets` (see [`RetrievalCommand::max_line_len`]). memcached reads long
/// `get`/`gets` lines without limit; lines of a few KiB keep its buffers small while halving
/// the replies (one `END` each) a multi-key read waits for.
pub const MAX_RETRIEVAL_LINE_LEN: usize = 8192;

/// The longest `gat`/`gats` line: memcached 1.6 closes a connection whose command line passes
/// 2048 bytes unless it is a `get` or `gets`.
pub const MAX_TOUCH_RETRIEVAL_LINE_LEN: usize = 2048;

/// The storage commands, which carry a data block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageCommand {
    /// Store unconditionally.
    Set,
    /// Store only if the key holds nothing.
    Add,
    /// Store only if the key holds something.
    Replace,
    /// Add bytes after the existing value; flags and expiry are ignored by the server.
    Append,
    /// Add bytes before the existing value; flags and expiry are ignored by the server.
    Prepend,
    /// Store only if the item's CAS value still equals this one.
    Cas(u64),
}

impl StorageCommand {
    fn name(self) -> &'static [u8] {
        match self {
            Self::Set => b"set ",
            Self::Add => b"add ",
            Self::Replace => b"replace ",
            Self::Append => b"append ",
            Self::Prepend => b"prepend ",
            Self::Cas(_) => b"cas ",
        }
    }
}

/// The retrieval commands, which answer with zero or more `VALUE` frames and `END`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetrievalCommand {
    /// `get`: value and flags.
    Get,
    /// `gets`: value, flags and CAS value.
    Gets,
    /// `gat`: like `get`, and sets a new expiration time (the wire value).
    Gat(i64),
    /// `gats`: like `gets`, and sets a new expiration time (the wire value).
    Gats(i64),
}

impl RetrievalCommand {
    /// The longest line of this command that memcached accepts, `\r\n` included.
    pub fn max_line_len(self) -> usize {
        match self {
            Self::Get | Self::Gets => MAX_RETRIEVAL_LINE_LEN,
            Self::Gat(_) | Self::Gats(_) => MAX_TOUCH_RETRIEVAL_LINE_LEN,
        }
    }

    fn put_head(self, buf: &mut Vec<u8>) {
        match self {
            Self::Get => buf.extend_from_slice(b"get"),
            Self::Gets => buf.extend_from_slice(b"gets"),
            Self::Gat(exptime) | Self::Gats(exptime) => {
                buf.extend_from_slice(if matches!(self, Self::Gat(_)) {
                    b"gat "
                } else {
                    b"gats "
                });
                put_i64(buf, exptime);
            }
        }
    }
}

/// `incr` or `decr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithCommand {
    /// Add to a decimal value; wraps at 2^64.
    Incr,
    /// Subtract from a decimal value; stops at 0.
    Decr,
}

fn put_noreply(buf: &mut Vec<u8>, noreply: bool) {
    if noreply {
        buf.extend_from_slice(b" noreply");
    }
}

/// Appends a storage command and its data block:
/// `<cmd> <key> <flags> <exptime> <bytes> [<cas>] [noreply]\r\n<value>\r\n`.
///
/// `exptime` is the wire value (see [`Expiry`](crate::Expiry), which computes it). The value is
/// framed by its length, so any bytes, `\r\n` included, are safe in it.
pub fn encode_storage(
    buf: &mut Vec<u8>,
    command: StorageCommand,
    key: &[u8],
    flags: u32,
    exptime: i64,
    value: &[u8],
    noreply: bool,
) -> Result<(), KeyError> {
    validate_key(key)?;
    buf.reserve(key.len() + value.len() + 64);
    put_storage_line(buf, command, key, flags, exptime, value.len(), noreply);
    buf.extend_from_slice(value);
    buf.extend_from_slice(b"\r\n");
    Ok(())
}

/// Appends only the command line of a storage command whose value is `value_len` bytes long:
/// what [`encode_storage`] writes before the value. The value and a `\r\n` must follow it on
/// the wire, so that a large value can be sent from where it lies (a vectored write) instead of
/// being copied after the line.
///
/// ```
/// use memcache_sync::protocol::{encode_storage, encode_storage_line, StorageCommand};
/// let (mut line, mut whole) = (Vec::new(), Vec::new());
/// encode_storage_line(&mut line, StorageCommand::Set, b"k", 1, 0, 2, false)?;
/// encode_storage(&mut whole, StorageCommand::Set, b"k", 1, 0, b"hi", false)?;
/// assert_eq!([&line[..], b"hi\r\n"].concat(), whole);
/// # Ok::<(), memcache_sync::protocol::KeyError>(())
/// ```
pub fn encode_storage_line(
    buf: &mut Vec<u8>,
    command: StorageCommand,
    key: &[u8],
    flags: u32,
    exptime: i64,
    value_len: usize,
    noreply: bool,
) -> Result<(), KeyError> {
    validate_key(key)?;
    put_storage_line(buf, command, key, flags, exptime, value_len, noreply);
    Ok(())
}

/// [`encode_storage_line`] for a key already checked.
fn put_storage_line(
    buf: &mut Vec<u8>,
    command: StorageCommand,
    key: &[u8],
    flags: u32,
    exptime: i64,
    value_len: usize,
    noreply: bool,
) {
    buf.extend_from_slice(command.name());
    buf.extend_from_slice(key);
    buf.push(b' ');
    put_u64(buf, u64::from(flags));
    buf.push(b' ');
    put_i64(buf, exptime);
    buf.push(b' ');
    put_u64(buf, value_len as u64);
    if let StorageCommand::Cas(unique) = command {
        buf.push(b' ');
        put_u64(buf, unique);
    }
    put_noreply(buf, noreply);
    buf.extend_from_slice(b"\r\n");
}

/// Appends memcached's ASCII authentication request (a server started with `-Y`):
/// `set <user> 0 0 <bytes>\r\n<user> <password>\r\n`.
///
/// memcached ignores the key, flags and expiration of the `set` and splits the data block at
/// its first space into user and password. The user name is the key, so it is checked by the
/// key rules (a name with a space could not be split off anyway); the password is framed by
/// the length, so any bytes are safe in it.
///
/// Send it only to a server that has just answered a command with `CLIENT_ERROR
/// unauthenticated`: to any other, this is an ordinary `set` that stores the password as an
/// item.
///
/// ```
/// use memcache_sync::protocol::encode_auth;
/// let mut buf = Vec::new();
/// encode_auth(&mut buf, b"app", b"s3cret")?;
/// assert_eq!(buf, b"set app 0 0 10\r\napp s3cret\r\n");
/// # Ok::<(), memcache_sync::protocol::KeyError>(())
/// ```
pub fn encode_auth(buf: &mut Vec<u8>, user: &[u8], password: &[u8]) -> Result<(), KeyError> {
    validate_key(user)?;
    let data_len = user.len() + 1 + password.len();
    buf.reserve(user.len() + data_len + 32);
    buf.extend_from_slice(b"set ");
    buf.extend_from_slice(user);
    buf.extend_from_slice(b" 0 0 ");
    put_u64(buf, data_len as u64);
    buf.extend_from_slice(b"\r\n");
    buf.extend_from_slice(user);
    buf.push(b' ');
    buf.extend_from_slice(password);
    buf.extend_from_slice(b"\r\n");
    Ok(())
}

/// Appends one retrieval line for all of `keys`: `get <key>*\r\n` (or `gets`, `gat`, `gats`).
///
/// An empty key list is [`KeyError::Empty`]: memcached would answer `ERROR`. For long key lists
/// use [`encode_retrieval_lines`], which keeps each line within what memcached accepts.
pub fn encode_retrieval<K: AsRef<[u8]>>(
    buf: &mut Vec<u8>,
    command: RetrievalCommand,
    keys: &[K],
) -> Result<(), KeyError> {
    if keys.is_empty() {
        return Err(KeyError::Empty);
    }
    for key in keys {
        validate_key(key.as_ref())?;
    }
    put_retrieval_line(buf, command, keys);
    Ok(())
}

/// Appends one retrieval line for keys the caller has already validated.
pub(crate) fn put_retrieval_line<K: AsRef<[u8]>>(
    buf: &mut Vec<u8>,
    command: RetrievalCommand,
    keys: &[K],
) {
    command.put_head(buf);
    for key in keys {
        buf.push(b' ');
        buf.extend_from_slice(key.as_ref());
    }
    buf.extend_from_slice(b"\r\n");
}

/// Splits `keys` into the ranges that one retrieval line each can carry without passing
/// [`RetrievalCommand::max_line_len`], in order. Each line is answered by its own `END`, so a reader
/// knows which keys a frame can belong to. Keys are not validated here.
///
/// ```
/// use memcache_sync::protocol::{split_retrieval_lines, RetrievalCommand};
/// let keys = vec![vec![b'k'; 250]; 20];
/// let lines = split_retrieval_lines(RetrievalCommand::Gat(60), &keys);
/// assert_eq!(lines, vec![0..8, 8..16, 16..20]);
/// assert_eq!(split_retrieval_lines(RetrievalCommand::Get, &keys), vec![0..20]);
/// ```
pub fn split_retrieval_lines<K: AsRef<[u8]>>(
    command: RetrievalCommand,
    keys: &[K],
) -> Vec<Range<usize>> {
    match retrieval_lines(command, keys, |_| Ok::<(), Infallible>(())) {
        Ok(lines) => lines,
        Err(never) => match never {},
    }
}

/// [`split_retrieval_lines`] with every key checked as its line is planned: the first key
/// that fails [`validate_key`] fails the whole plan (the index of a key that fails is the
/// caller's to find, if it needs one).
pub(crate) fn checked_retrieval_lines<K: AsRef<[u8]>>(
    command: RetrievalCommand,
    keys: &[K],
) -> Result<Vec<Range<usize>>, KeyError> {
    retrieval_lines(command, keys, validate_key)
}

/// The lines `keys` need, each key passed to `check` first.
fn retrieval_lines<K: AsRef<[u8]>, E>(
    command: RetrievalCommand,
    keys: &[K],
    check: impl Fn(&[u8]) -> Result<(), E>,
) -> Result<Vec<Range<usize>>, E> {
    let mut head = Vec::new();
    command.put_head(&mut head);
    let head_len = head.len();
    let max_line_len = command.max_line_len();
    let mut lines = Vec::new();
    let mut first_key = 0;
    let mut line_len = head_len + 2;
    for (i, key) in keys.iter().enumerate() {
        let key = key.as_ref();
        check(key)?;
        let added = 1 + key.len();
        if i > first_key && line_len + added > max_line_len {
            lines.push(first_key..i);
            first_key = i;
            line_len = head_len + 2;
        }
        line_len += added;
    }
    if first_key < keys.len() {
        lines.push(first_key..keys.len());
    }
    Ok(lines)
}

/// Appends as many retrieval lines as `keys` need (see [`split_retrieval_lines`]) and returns
/// the range of `keys` each line asks for. Every key is checked before anything is appended.
///
/// ```
/// use memcache_sync::protocol::{encode_retrieval_lines, RetrievalCommand};
/// let mut buf = Vec::new();
/// let lines = encode_retrieval_lines(&mut buf, RetrievalCommand::Get, &["a", "b"])?;
/// assert_eq!(buf, b"get a b\r\n");
/// assert_eq!(lines, vec![0..2]);
/// # Ok::<(), memcache_sync::protocol::KeyError>(())
/// ```
pub fn encode_retrieval_lines<K: AsRef<[u8]>>(
    buf: &mut Vec<u8>,
    command: RetrievalCommand,
    keys: &[K],
) -> Result<Vec<Range<usize>>, KeyError> {
    if keys.is_empty() {
        return Err(KeyError::Empty);
    }
    let lines = checked_retrieval_lines(command, keys)?;
    for line in &lines {
        put_retrieval_line(buf, command, &keys[line.clone()]);
    }
    Ok(lines)
}

/// Appends `delete <key> [noreply]\r\n`.
pub fn encode_delete(buf: &mut Vec<u8>, key: &[u8], noreply: bool) -> Result<(), KeyError> {
    validate_key(key)?;
    buf.extend_from_slice(b"delete ");
    buf.extend_from_slice(key);
    put_noreply(buf, noreply);
    buf.extend_from_slice(b"\r\n");
    Ok(())
}

/// Appends `incr <key> <delta> [noreply]\r\n` or the `decr` form.
pub fn encode_arith(
    buf: &mut Vec<u8>,
    command: ArithCommand,
    key: &[u8],
    delta: u64,
    noreply: bool,
) -> Result<(), KeyError> {
    validate_key(key)?;
    buf.extend_from_slice(match command {
        ArithCommand::Incr => b"incr ",
        ArithCommand::Decr => b"decr ",
    });
    buf.extend_from_slice(key);
    buf.push(b' ');
    put_u64(buf, delta);
    put_noreply(buf, noreply);
    buf.extend_from_slice(b"\r\n");
    Ok(())
}

/// Appends `touch <key> <exptime> [noreply]\r\n`.
pub fn encode_touch(
    buf: &mut Vec<u8>,
    key: &[u8],
    exptime: i64,
    noreply: bool,
) -> Result<(), KeyError> {
    validate_key(key)?;
    buf.extend_from_slice(b"touch ");
    buf.extend_from_slice(key);
    buf.push(b' ');
    put_i64(buf, exptime);
    put_noreply(buf, noreply);
    buf.extend_from_slice(b"\r\n");
    Ok(())
}

/// Appends `flush_all [<delay>] [noreply]\r\n`; `delay` is a wire expiration value.
pub fn encode_flush_all(buf: &mut Vec<u8>, delay: Option<i64>, noreply: bool) {
    buf.extend_from_slice(b"flush_all");
    if let Some(delay) = delay {
        buf.push(b' ');
        put_i64(buf, delay);
    }
    put_noreply(buf, noreply);
    buf.extend_from_slice(b"\r\n");
}

/// Appends `version\r\n`.
pub fn encode_version(buf: &mut Vec<u8>) {
    buf.extend_from_slice(b"version\r\n");
}

/// Appends `stats [<args>]\r\n`. `args` is one or more tokens separated by single spaces
/// (`settings`, `items`, `slabs`, `detail on`), each checked by the key rules, so no
/// argument can end the line.
pub fn encode_stats(buf: &mut Vec<u8>, args: Option<&[u8]>) -> Result<(), KeyError> {
    if let Some(args) = args {
        if args.len() > super::key::MAX_KEY_LEN {
            return Err(KeyError::TooLong { len: args.len() });
        }
        let mut offset = 0;
        for token in args.split(|&b| b == b' ') {
            validate_key(token).map_err(|e| match e {
                KeyError::ForbiddenByte { byte, index } => KeyError::ForbiddenByte {
                    byte,
                    index: offset + index,
                },
                other => other,
            })?;
            offset += token.len() + 1;
        }
    }
    buf.extend_from_slice(b"stats");
    if let Some(args) = args {
        buf.push(b' ');
        buf.extend_from_slice(args);
    }
    buf.extend_from_slice(b"\r\n");
    Ok(())
}

/// Appends `verbosity <level> [noreply]\r\n`.
pub fn encode_verbosity(buf: &mut Vec<u8>, level: u32, noreply: bool) {
    buf.extend_from_slice(b"verbosity ");
    put_u64(buf, u64::from(level));
    put_noreply(buf, noreply);
    buf.extend_from_slice(b"\r\n");
}

/// Appends `quit\r\n`.
pub fn encode_quit(buf: &mut Vec<u8>) {
    buf.extend_from_slice(b"quit\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_planned_with_their_keys_checked_are_the_unchecked_plan_or_the_first_key_error() {
        let keys: Vec<Vec<u8>> = (0..200)
            .map(|i| format!("key:{i:0>60}").into_bytes())
            .collect();
        for command in [RetrievalCommand::Get, RetrievalCommand::Gat(60)] {
            let checked = checked_retrieval_lines(command, &keys);
            assert_eq!(checked, Ok(split_retrieval_lines(command, &keys)));
            assert!(checked.unwrap().len() > 1, "long enough for several lines");
        }
        let mut bad = keys.clone();
        bad[150] = b"x\r\nflush_all".to_vec();
        bad[170] = Vec::new();
        assert_eq!(
            checked_retrieval_lines(RetrievalCommand::Get, &bad),
            Err(KeyError::ForbiddenByte {
                byte: b'\r',
                index: 1
            })
        );
    }

    #[test]
    fn an_auth_request_is_one_set_whose_data_is_user_space_password() {
        let mut buf = Vec::new();
        encode_auth(&mut buf, b"u", b"pass word\r\nflush_all").unwrap();
        assert_eq!(buf, b"set u 0 0 22\r\nu pass word\r\nflush_all\r\n");
        let mut refused = b"kept".to_vec();
        assert_eq!(
            encode_auth(&mut refused, b"bad user", b"p"),
            Err(KeyError::ForbiddenByte {
                byte: b' ',
                index: 3
            })
        );
        assert_eq!(encode_auth(&mut refused, b"", b"p"), Err(KeyError::Empty));
        assert_eq!(refused, b"kept", "nothing appended on error");
    }

    fn encoded(f: impl FnOnce(&mut Vec<u8>) -> Result<(), KeyError>) -> Vec<u8> {
        let mut buf = Vec::new();
        f(&mut buf).expect("valid request");
        buf
    }

    #[test]
    fn every_command_encodes_to_its_documented_line() {
        let cases: Vec<(Vec<u8>, &[u8])> = vec![
            (
                encoded(|b| encode_storage(b, StorageCommand::Set, b"k", 5, 0, b"v", false)),
                b"set k 5 0 1\r\nv\r\n",
            ),
            (
                encoded(|b| encode_storage(b, StorageCommand::Add, b"k", 0, 60, b"", false)),
                b"add k 0 60 0\r\n\r\n",
            ),
            (
                encoded(|b| {
                    encode_storage(b, StorageCommand::Replace, b"k", u32::MAX, -1, b"ab", true)
                }),
                b"replace k 4294967295 -1 2 noreply\r\nab\r\n",
            ),
            (
                encoded(|b| encode_storage(b, StorageCommand::Append, b"k", 0, 0, b"\r\n", false)),
                b"append k 0 0 2\r\n\r\n\r\n",
            ),
            (
                encoded(|b| encode_storage(b, StorageCommand::Prepend, b"k", 0, 0, b"x", false)),
                b"prepend k 0 0 1\r\nx\r\n",
            ),
            (
                encoded(|b| {
                    encode_storage(b, StorageCommand::Cas(u64::MAX), b"k", 1, 2, b"x", false)
                }),
                b"cas k 1 2 1 18446744073709551615\r\nx\r\n",
            ),
            (
                encoded(|b| encode_retrieval(b, RetrievalCommand::Get, &["a"])),
                b"get a\r\n",
            ),
            (
                encoded(|b| encode_retrieval(b, RetrievalCommand::Gets, &["a", "b"])),
                b"gets a b\r\n",
            ),
            (
                encoded(|b| encode_retrieval(b, RetrievalCommand::Gat(30), &["a"])),
                b"gat 30 a\r\n",
            ),
            (
                encoded(|b| encode_retrieval(b, RetrievalCommand::Gats(-1), &["a"])),
                b"gats -1 a\r\n",
            ),
            (encoded(|b| encode_delete(b, b"k", false)), b"delete k\r\n"),
            (
                encoded(|b| encode_arith(b, ArithCommand::Incr, b"k", u64::MAX, false)),
                b"incr k 18446744073709551615\r\n",
            ),
            (
                encoded(|b| encode_arith(b, ArithCommand::Decr, b"k", 1, true)),
                b"decr k 1 noreply\r\n",
            ),
            (
                encoded(|b| encode_touch(b, b"k", 10, false)),
                b"touch k 10\r\n",
            ),
            (
                encoded(|b| {
                    encode_flush_all(b, None, false);
                    Ok(())
                }),
                b"flush_all\r\n",
            ),
            (
                encoded(|b| {
                    encode_flush_all(b, Some(10), false);
                    Ok(())
                }),
                b"flush_all 10\r\n",
            ),
            (
                encoded(|b| {
                    encode_version(b);
                    Ok(())
                }),
                b"version\r\n",
            ),
            (encoded(|b| encode_stats(b, None)), b"stats\r\n"),
            (
                encoded(|b| encode_stats(b, Some(b"cachedump 1 10"))),
                b"stats cachedump 1 10\r\n",
            ),
            (
                encoded(|b| {
                    encode_verbosity(b, 1, false);
                    Ok(())
                }),
                b"verbosity 1\r\n",
            ),
            (
                encoded(|b| {
                    encode_quit(b);
                    Ok(())
                }),
                b"quit\r\n",
            ),
        ];
        for (got, want) in cases {
            assert_eq!(
                got.escape_ascii().to_string(),
                want.escape_ascii().to_string()
            );
        }
    }

    #[test]
    fn a_rejected_key_leaves_the_buffer_untouched() {
        let mut buf = b"prior".to_vec();
        assert!(encode_storage(
            &mut buf,
            StorageCommand::Set,
            b"x\r\nflush_all",
            0,
            0,
            b"v",
            false
        )
        .is_err());
        assert!(encode_retrieval(&mut buf, RetrievalCommand::Get, &["ok", "bad key"]).is_err());
        assert!(encode_retrieval_lines(&mut buf, RetrievalCommand::Get, &["ok", ""]).is_err());
        assert!(encode_stats(&mut buf, Some(b"items\r\nflush_all")).is_err());
        assert_eq!(buf, b"prior");
    }

    #[test]
    fn stats_arguments_need_single_spaces_between_tokens() {
        let mut buf = Vec::new();
        assert_eq!(encode_stats(&mut buf, Some(b"")), Err(KeyError::Empty));
        assert_eq!(encode_stats(&mut buf, Some(b"a  b")), Err(KeyError::Empty));
        assert_eq!(
            encode_stats(&mut buf, Some(b"slabs\n")),
            Err(KeyError::ForbiddenByte {
                byte: b'\n',
                index: 5
            })
        );
        assert_eq!(
            encode_stats(&mut buf, Some(b"detail o\x7f")),
            Err(KeyError::ForbiddenByte {
                byte: 0x7f,
                index: 8
            })
        );
    }

    #[test]
    fn long_key_lists_split_into_lines_memcached_accepts() {
        let keys: Vec<Vec<u8>> = (0..100)
            .map(|i| format!("{i:0>240}").into_bytes())
            .collect();
        for command in [RetrievalCommand::Get, RetrievalCommand::Gats(100)] {
            let mut buf = Vec::new();
            let lines = encode_retrieval_lines(&mut buf, command, &keys).unwrap();
            let text: Vec<&[u8]> = buf.split_inclusive(|&b| b == b'\n').collect();
            assert_eq!(text.len(), lines.len());
            assert!(lines.len() > 1);
            let mut next = 0;
            for (line, range) in text.iter().zip(&lines) {
                assert!(line.len() <= command.max_line_len(), "{} bytes", line.len());
                assert_eq!(range.start, next);
                next = range.end;
                let mut reencoded = Vec::new();
                encode_retrieval(&mut reencoded, command, &keys[range.clone()]).unwrap();
                assert_eq!(&reencoded[..], *line);
            }
            assert_eq!(next, keys.len());
        }
    }

    #[test]
    fn an_empty_key_list_is_an_error_not_a_bare_get() {
        let mut buf = Vec::new();
        let none: [&[u8]; 0] = [];
        assert_eq!(
            encode_retrieval(&mut buf, RetrievalCommand::Get, &none),
            Err(KeyError::Empty)
        );
        assert_eq!(
            encode_retrieval_lines(&mut buf, RetrievalCommand::Get, &none),
            Err(KeyError::Empty)
        );
        assert!(buf.is_empty());
    }
}
