//! Property tests for the sans-IO text-protocol codec (`memcache_sync::protocol`): replies
//! round-trip through `encode_reply`/`parse_reply`, incremental decoding of a chunked stream
//! equals decoding it whole, arbitrary bytes never panic nor make a reader buffer past its
//! limit, and request encoders never let a key or value change the shape of a command.

use memcache_sync_test_support as support;

use std::ops::Range;

use memcache_sync::protocol::{
    encode_arith, encode_delete, encode_reply, encode_retrieval, encode_retrieval_lines,
    encode_storage, encode_touch, parse_reply, split_retrieval_lines, validate_key, ArithCommand,
    KeyError, ProtocolErrorKind, Reply, RetrievalCommand, Status, StorageCommand, Value,
    MAX_KEY_LEN, MAX_LINE_LEN,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use support::strategies::{key_byte, retrieval_command, storage_command};

/// The value limit for round trips: above any data the strategies make.
const LIMIT: usize = 64 * 1024;

// ---------------------------------------------------------------------------------------------
// Owned replies, so strategies can produce them and tests can borrow `Reply`s from them.

#[derive(Debug, Clone, PartialEq, Eq)]
enum OwnedReply {
    Stored,
    NotStored,
    Exists,
    NotFound,
    Deleted,
    Touched,
    Ok,
    Reset,
    End,
    Value {
        key: Vec<u8>,
        flags: u32,
        cas: Option<u64>,
        data: Vec<u8>,
    },
    Stat {
        name: Vec<u8>,
        value: Vec<u8>,
    },
    CachedumpItem {
        key: Vec<u8>,
        size: u64,
        expiry: u64,
    },
    Prefix {
        prefix: Vec<u8>,
        gets: u64,
        hits: u64,
        sets: u64,
        deletes: u64,
    },
    Version(Vec<u8>),
    Number(u64),
    Error(Vec<u8>),
    ClientError(Vec<u8>),
    ServerError(Vec<u8>),
}

impl OwnedReply {
    fn borrow(&self) -> Reply<'_> {
        match self {
            Self::Stored => Reply::Stored,
            Self::NotStored => Reply::NotStored,
            Self::Exists => Reply::Exists,
            Self::NotFound => Reply::NotFound,
            Self::Deleted => Reply::Deleted,
            Self::Touched => Reply::Touched,
            Self::Ok => Reply::Ok,
            Self::Reset => Reply::Reset,
            Self::End => Reply::End,
            Self::Value {
                key,
                flags,
                cas,
                data,
            } => Reply::Value(Value {
                key,
                flags: *flags,
                cas: *cas,
                data,
            }),
            Self::Stat { name, value } => Reply::Stat { name, value },
            Self::CachedumpItem { key, size, expiry } => Reply::CachedumpItem {
                key,
                size: *size,
                expiry: *expiry,
            },
            Self::Prefix {
                prefix,
                gets,
                hits,
                sets,
                deletes,
            } => Reply::Prefix {
                prefix,
                gets: *gets,
                hits: *hits,
                sets: *sets,
                deletes: *deletes,
            },
            Self::Version(v) => Reply::Version(v),
            Self::Number(n) => Reply::Number(*n),
            Self::Error(m) => Reply::Error(m),
            Self::ClientError(m) => Reply::ClientError(m),
            Self::ServerError(m) => Reply::ServerError(m),
        }
    }

    fn from_reply(reply: &Reply<'_>) -> Self {
        match *reply {
            Reply::Stored => Self::Stored,
            Reply::NotStored => Self::NotStored,
            Reply::Exists => Self::Exists,
            Reply::NotFound => Self::NotFound,
            Reply::Deleted => Self::Deleted,
            Reply::Touched => Self::Touched,
            Reply::Ok => Self::Ok,
            Reply::Reset => Self::Reset,
            Reply::End => Self::End,
            Reply::Value(v) => Self::Value {
                key: v.key.to_vec(),
                flags: v.flags,
                cas: v.cas,
                data: v.data.to_vec(),
            },
            Reply::Stat { name, value } => Self::Stat {
                name: name.to_vec(),
                value: value.to_vec(),
            },
            Reply::CachedumpItem { key, size, expiry } => Self::CachedumpItem {
                key: key.to_vec(),
                size,
                expiry,
            },
            Reply::Prefix {
                prefix,
                gets,
                hits,
                sets,
                deletes,
            } => Self::Prefix {
                prefix: prefix.to_vec(),
                gets,
                hits,
                sets,
                deletes,
            },
            Reply::Version(v) => Self::Version(v.to_vec()),
            Reply::Number(n) => Self::Number(n),
            Reply::Error(m) => Self::Error(m.to_vec()),
            Reply::ClientError(m) => Self::ClientError(m.to_vec()),
            Reply::ServerError(m) => Self::ServerError(m.to_vec()),
        }
    }

    fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        encode_reply(&self.borrow(), &mut buf);
        buf
    }
}

// ---------------------------------------------------------------------------------------------
// Strategies.

/// A key `validate_key` accepts: 1..=250 key bytes, biased towards short keys and the limit.
fn valid_key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => vec(key_byte(), 1..=16),
        1 => vec(key_byte(), 1..=MAX_KEY_LEN),
        1 => vec(key_byte(), MAX_KEY_LEN - 2..=MAX_KEY_LEN),
    ]
}

/// A byte that cannot be in a key: a control byte, space, or DEL.
fn forbidden_byte() -> impl Strategy<Value = u8> {
    prop_oneof![0u8..=0x20, Just(0x7f), select(vec![b'\r', b'\n', b' ', 0])]
}

/// A key `validate_key` must reject: empty, too long, or holding a forbidden byte anywhere.
fn invalid_key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => Just(Vec::new()),
        2 => vec(key_byte(), MAX_KEY_LEN + 1..=MAX_KEY_LEN + 300),
        6 => (vec(key_byte(), 0..=MAX_KEY_LEN), forbidden_byte(), any::<prop::sample::Index>())
            .prop_map(|(mut key, byte, at)| {
                let at = at.index(key.len() + 1);
                key.insert(at, byte);
                key
            }),
        2 => (vec(key_byte(), 0..8), vec(key_byte(), 0..8)).prop_map(|(a, b)| {
            let mut key = a;
            key.extend_from_slice(b"\r\nflush_all");
            key.extend_from_slice(&b);
            key
        }),
    ]
}

/// Text for a message, version or stat value: any bytes but `\r` and `\n`.
fn line_text(max: usize) -> impl Strategy<Value = Vec<u8>> {
    let byte = any::<u8>().prop_filter("no line end", |&b| b != b'\r' && b != b'\n');
    prop_oneof![
        vec(byte, 0..=max),
        vec(select(b"ab 0:. \t\xff".to_vec()), 0..=max),
    ]
}

/// A stat name: one or more bytes, none a space or a line end.
fn stat_name() -> impl Strategy<Value = Vec<u8>> {
    vec(
        any::<u8>().prop_filter("no space or line end", |&b| {
            b != b' ' && b != b'\r' && b != b'\n'
        }),
        1..=40,
    )
}

/// A key as `stats cachedump` and `stats detail dump` print it: up to 250 bytes of anything
/// but a line end (binary-protocol keys may hold spaces), often shaped like the fields after it.
fn listed_key() -> impl Strategy<Value = Vec<u8>> {
    let byte = any::<u8>().prop_filter("no line end", |&b| b != b'\r' && b != b'\n');
    prop_oneof![
        2 => vec(key_byte(), 0..=MAX_KEY_LEN),
        1 => vec(byte, 0..=MAX_KEY_LEN),
        1 => vec(select(b"k [0 b; s] get hit set del".to_vec()), 0..=40),
    ]
}

/// Value data: arbitrary bytes, or bytes made of the pieces of line ends and replies.
fn data() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => vec(any::<u8>(), 0..=64),
        1 => vec(any::<u8>(), 0..=4096),
        2 => vec(select(b"\r\nEND VALUE0".to_vec()), 0..=64),
    ]
}

fn reply() -> impl Strategy<Value = OwnedReply> {
    prop_oneof![
        Just(OwnedReply::Stored),
        Just(OwnedReply::NotStored),
        Just(OwnedReply::Exists),
        Just(OwnedReply::NotFound),
        Just(OwnedReply::Deleted),
        Just(OwnedReply::Touched),
        Just(OwnedReply::Ok),
        Just(OwnedReply::Reset),
        Just(OwnedReply::End),
        (valid_key(), any::<u32>(), any::<Option<u64>>(), data()).prop_map(
            |(key, flags, cas, data)| OwnedReply::Value {
                key,
                flags,
                cas,
                data
            }
        ),
        (stat_name(), line_text(80)).prop_map(|(name, value)| OwnedReply::Stat { name, value }),
        (listed_key(), any::<u64>(), any::<u64>())
            .prop_map(|(key, size, expiry)| OwnedReply::CachedumpItem { key, size, expiry }),
        (listed_key(), any::<[u64; 4]>()).prop_map(|(prefix, [gets, hits, sets, deletes])| {
            OwnedReply::Prefix {
                prefix,
                gets,
                hits,
                sets,
                deletes,
            }
        }),
        line_text(40).prop_map(OwnedReply::Version),
        any::<u64>().prop_map(OwnedReply::Number),
        line_text(80).prop_map(OwnedReply::Error),
        line_text(80).prop_map(OwnedReply::ClientError),
        line_text(80).prop_map(OwnedReply::ServerError),
    ]
}

/// Bytes that look a little like replies: fragments of the protocol glued to random bytes.
fn reply_like_bytes() -> impl Strategy<Value = Vec<u8>> {
    let pieces: Vec<&'static [u8]> = vec![
        b"VALUE ",
        b"VALUE k 0 ",
        b"VALUE k 1 5 9\r\n",
        b"STAT ",
        b"END",
        b"STORED",
        b"ERROR",
        b"SERVER_ERROR ",
        b"VERSION ",
        b"RESET",
        b"ITEM k [",
        b" b; ",
        b" s]",
        b"PREFIX p get 1 hit ",
        b" set 0 del ",
        b"\r\n",
        b"\r",
        b"\n",
        b" ",
        b"0",
        b"7",
        b"18446744073709551615",
        b"4294967296",
        b"k",
        b"\xff",
        b"\0",
    ];
    let piece = prop_oneof![
        3 => select(pieces).prop_map(<[u8]>::to_vec),
        1 => vec(any::<u8>(), 0..16),
    ];
    vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

/// What a reader saw: the frames it decoded, then the error it stopped on (if any), then the
/// bytes left over that do not make a frame yet.
#[derive(Debug, PartialEq, Eq)]
struct Decoded {
    frames: Vec<OwnedReply>,
    error: Option<(ProtocolErrorKind, String)>,
    leftover: Vec<u8>,
}

/// Decodes frames from the start of `buf` until it is incomplete or broken; returns how many
/// bytes were consumed.
fn drain(buf: &[u8], limit: usize, out: &mut Decoded) -> usize {
    let mut start = 0;
    while out.error.is_none() {
        match parse_reply(&buf[start..], limit) {
            Ok(Status::Complete { frame, len }) => {
                assert!(len > 0, "a frame of zero bytes");
                assert!(len <= buf.len() - start, "consumed more than the buffer");
                out.frames.push(OwnedReply::from_reply(&frame));
                start += len;
            }
            Ok(Status::Incomplete) => break,
            Err(e) => out.error = Some((e.kind, e.excerpt)),
        }
    }
    start
}

fn decode_whole(stream: &[u8], limit: usize) -> Decoded {
    let mut out = Decoded {
        frames: Vec::new(),
        error: None,
        leftover: Vec::new(),
    };
    let used = drain(stream, limit, &mut out);
    out.leftover = stream[used..].to_vec();
    out
}

/// Feeds `stream` in chunks cut at `cuts`, as a socket reader would: append, decode every
/// complete frame, drop the consumed bytes, read again.
fn decode_chunked(stream: &[u8], cuts: &[usize], limit: usize) -> Decoded {
    let mut out = Decoded {
        frames: Vec::new(),
        error: None,
        leftover: Vec::new(),
    };
    let mut buf = Vec::new();
    let mut from = 0;
    for &to in cuts.iter().chain([&stream.len()]) {
        buf.extend_from_slice(&stream[from..to]);
        from = to;
        let used = drain(&buf, limit, &mut out);
        buf.drain(..used);
        if out.error.is_some() {
            break;
        }
    }
    // A reader stops at the first error; what it had buffered then is not comparable.
    out.leftover = if out.error.is_none() { buf } else { Vec::new() };
    out
}

/// Sorted, deduplicated cut points inside `0..=len` from arbitrary indices.
fn cuts(len: usize, at: &[prop::sample::Index]) -> Vec<usize> {
    let mut cuts: Vec<usize> = at.iter().map(|i| i.index(len + 1)).collect();
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

/// Splits `buf` into its `\n`-terminated lines.
fn lines(buf: &[u8]) -> Vec<&[u8]> {
    buf.split_inclusive(|&b| b == b'\n').collect()
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| w == &needle)
        .count()
}

/// Asserts `buf` is one command line: ends with `\r\n`, and holds no other `\r` or `\n`.
fn assert_one_line(buf: &[u8]) -> Result<(), TestCaseError> {
    prop_assert!(
        buf.ends_with(b"\r\n"),
        "{:?}",
        buf.escape_ascii().to_string()
    );
    let body = &buf[..buf.len() - 2];
    prop_assert!(
        !body.contains(&b'\r') && !body.contains(&b'\n'),
        "{:?}",
        buf.escape_ascii().to_string()
    );
    Ok(())
}

/// One request encoder, its arguments bound: appends to the buffer or rejects.
type Encoder<'a> = dyn Fn(&mut Vec<u8>) -> Result<(), KeyError> + 'a;

// ---------------------------------------------------------------------------------------------
// Replies.

proptest! {
    #[test]
    fn every_reply_round_trips_and_consumes_exactly_its_encoding(
        reply in reply(),
        trailer in vec(any::<u8>(), 0..16),
    ) {
        let wire = reply.encode();
        prop_assert!(wire.len() <= MAX_LINE_LEN + LIMIT + 2);
        let mut buf = wire.clone();
        buf.extend_from_slice(&trailer);
        match parse_reply(&buf, LIMIT) {
            Ok(Status::Complete { frame, len }) => {
                prop_assert_eq!(len, wire.len());
                prop_assert_eq!(OwnedReply::from_reply(&frame), reply);
            }
            other => prop_assert!(false, "{:?} gave {:?}", wire.escape_ascii().to_string(), other),
        }
    }

    #[test]
    fn a_value_round_trips_under_a_limit_of_exactly_its_length(
        key in valid_key(),
        flags in any::<u32>(),
        cas in any::<Option<u64>>(),
        data in data(),
    ) {
        let reply = OwnedReply::Value { key, flags, cas, data };
        let OwnedReply::Value { data, .. } = &reply else { unreachable!() };
        let wire = reply.encode();
        let got = parse_reply(&wire, data.len()).map(|s| match s {
            Status::Complete { frame, len } => Some((OwnedReply::from_reply(&frame), len)),
            Status::Incomplete => None,
        });
        prop_assert_eq!(got, Ok(Some((reply.clone(), wire.len()))));
        if let Some(smaller) = data.len().checked_sub(1) {
            let err = parse_reply(&wire, smaller).unwrap_err();
            prop_assert_eq!(
                err.kind,
                ProtocolErrorKind::ValueTooLong { claimed: data.len() as u64, limit: smaller }
            );
        }
    }

    #[test]
    fn every_proper_prefix_of_a_reply_is_incomplete(reply in reply()) {
        let wire = reply.encode();
        for end in 0..wire.len() {
            prop_assert_eq!(
                parse_reply(&wire[..end], LIMIT),
                Ok(Status::Incomplete),
                "prefix {:?}",
                wire[..end].escape_ascii().to_string()
            );
        }
    }

    #[test]
    fn a_number_padded_with_spaces_is_still_that_number(n in any::<u64>(), pad in 0usize..8) {
        let wire = format!("{n}{}\r\n", " ".repeat(pad));
        prop_assert_eq!(
            parse_reply(wire.as_bytes(), LIMIT),
            Ok(Status::Complete { frame: Reply::Number(n), len: wire.len() })
        );
    }

    #[test]
    fn a_chunked_stream_decodes_like_the_whole_stream(
        replies in vec(reply(), 1..8),
        tail in prop_oneof![3 => Just(Vec::new()), 1 => reply_like_bytes()],
        at in vec(any::<prop::sample::Index>(), 0..24),
    ) {
        let mut stream: Vec<u8> = replies.iter().flat_map(OwnedReply::encode).collect();
        let frames_len = stream.len();
        stream.extend_from_slice(&tail);
        let whole = decode_whole(&stream, LIMIT);
        // Without a tail, the whole stream is exactly the replies that were encoded.
        if tail.is_empty() {
            prop_assert_eq!(&whole.frames, &replies);
            prop_assert_eq!(whole.error.clone(), None);
            prop_assert!(whole.leftover.is_empty());
        } else {
            prop_assert!(whole.frames.len() >= replies.len());
            prop_assert_eq!(&whole.frames[..replies.len()], &replies[..]);
        }
        let cuts = cuts(stream.len(), &at);
        let chunked = decode_chunked(&stream, &cuts, LIMIT);
        if whole.error.is_some() {
            prop_assert_eq!(&chunked.frames, &whole.frames);
            prop_assert_eq!(&chunked.error, &whole.error);
        } else {
            prop_assert_eq!(chunked, whole);
        }
        // Byte by byte too, for the frames alone (cheap: the replies are small on average).
        if frames_len <= 2048 {
            let every: Vec<usize> = (1..frames_len).collect();
            let bytewise = decode_chunked(&stream[..frames_len], &every, LIMIT);
            prop_assert_eq!(&bytewise.frames, &replies);
        }
    }

    #[test]
    fn reply_like_bytes_chunked_decode_like_the_whole(
        stream in reply_like_bytes(),
        limit in 0usize..64,
        at in vec(any::<prop::sample::Index>(), 0..16),
    ) {
        let whole = decode_whole(&stream, limit);
        let chunked = decode_chunked(&stream, &cuts(stream.len(), &at), limit);
        prop_assert_eq!(&chunked.frames, &whole.frames);
        prop_assert_eq!(&chunked.error, &whole.error);
        if whole.error.is_none() {
            prop_assert_eq!(chunked.leftover, whole.leftover);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile input.

/// Decodes frame after frame from `buf` as a reader would, checking what a reader relies on:
/// no panic, no empty or oversized frame, and no `Incomplete` on a buffer already at the most a
/// reader ever needs to hold.
fn read_all(buf: &[u8], limit: usize) -> Result<(), TestCaseError> {
    let mut rest = buf;
    loop {
        match parse_reply(rest, limit) {
            Ok(Status::Complete { len, .. }) => {
                prop_assert!(len > 0 && len <= rest.len());
                rest = &rest[len..];
            }
            Ok(Status::Incomplete) => {
                prop_assert!(
                    rest.len() < MAX_LINE_LEN + limit + 2,
                    "Incomplete with {} bytes buffered (limit {limit})",
                    rest.len()
                );
                return Ok(());
            }
            Err(e) => {
                prop_assert!(e.excerpt.chars().count() <= 200);
                return Ok(());
            }
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_nor_overfill_a_reader(
        bytes in vec(any::<u8>(), 0..2048),
        limit in 0usize..=4096,
    ) {
        read_all(&bytes, limit)?;
    }

    #[test]
    fn reply_like_bytes_never_panic_nor_overfill_a_reader(
        bytes in reply_like_bytes(),
        limit in prop_oneof![0usize..=16, Just(LIMIT)],
    ) {
        read_all(&bytes, limit)?;
    }

    #[test]
    fn long_lines_and_long_values_stay_within_the_bound(
        header in prop_oneof![
            Just(Vec::new()),
            (valid_key(), 0usize..=300).prop_map(|(key, claimed)| {
                let mut h = b"VALUE ".to_vec();
                h.extend_from_slice(&key);
                h.extend_from_slice(format!(" 0 {claimed}\r\n").as_bytes());
                h
            }),
        ],
        filler in any::<u8>(),
        len in prop_oneof![0usize..=400, MAX_LINE_LEN - 4..=MAX_LINE_LEN + 4],
        limit in 0usize..=300,
    ) {
        let mut buf = header;
        buf.resize(buf.len() + len, filler);
        read_all(&buf, limit)?;
    }

    #[test]
    fn a_line_is_accepted_up_to_max_line_len_and_rejected_past_it(
        name in stat_name(),
        filler in any::<u8>().prop_filter("no line end", |&b| b != b'\r' && b != b'\n'),
        // The line's length with its \r\n, around the limit.
        total in MAX_LINE_LEN - 3..=MAX_LINE_LEN + 3,
        trailer in prop_oneof![Just(Vec::new()), vec(any::<u8>(), 0..8)],
    ) {
        let mut buf = b"STAT ".to_vec();
        buf.extend_from_slice(&name);
        buf.push(b' ');
        buf.resize(total - 2, filler);
        buf.extend_from_slice(b"\r\n");
        buf.extend_from_slice(&trailer);
        match parse_reply(&buf, LIMIT) {
            Ok(Status::Complete { frame: Reply::Stat { name: got, .. }, len })
                if total <= MAX_LINE_LEN =>
            {
                prop_assert_eq!(len, total);
                prop_assert_eq!(got, &name[..]);
            }
            Err(e) if total > MAX_LINE_LEN => {
                prop_assert_eq!(e.kind, ProtocolErrorKind::LineTooLong);
            }
            other => prop_assert!(false, "{total}-byte line gave {:?}", other),
        }
    }

    #[test]
    fn a_header_claiming_more_than_the_limit_is_value_too_long_at_once(
        key in valid_key(),
        flags in any::<u32>(),
        cas in any::<Option<u64>>(),
        limit in prop_oneof![0usize..=1024, 0usize..=(1 << 30)],
        over in prop_oneof![1u64..=16, any::<u64>()],
        data in vec(any::<u8>(), 0..32),
    ) {
        let claimed = (limit as u64).saturating_add(over).max(limit as u64 + 1);
        let mut buf = b"VALUE ".to_vec();
        buf.extend_from_slice(&key);
        buf.extend_from_slice(format!(" {flags} {claimed}").as_bytes());
        if let Some(cas) = cas {
            buf.extend_from_slice(format!(" {cas}").as_bytes());
        }
        buf.extend_from_slice(b"\r\n");
        // Header alone, and with (any amount of) data after it: the claim decides.
        let header_len = buf.len();
        buf.extend_from_slice(&data);
        for end in [header_len, buf.len()] {
            let err = parse_reply(&buf[..end], limit).unwrap_err();
            prop_assert_eq!(err.kind, ProtocolErrorKind::ValueTooLong { claimed, limit });
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Requests.

proptest! {
    #[test]
    fn a_storage_command_is_one_line_then_exactly_the_value(
        command in storage_command(),
        key in valid_key(),
        flags in any::<u32>(),
        exptime in any::<i64>(),
        value in data(),
        noreply in any::<bool>(),
        prior in vec(any::<u8>(), 0..8),
    ) {
        prop_assert_eq!(validate_key(&key), Ok(()));
        let mut buf = prior.clone();
        encode_storage(&mut buf, command, &key, flags, exptime, &value, noreply).unwrap();
        prop_assert!(buf.starts_with(&prior));
        let out = &buf[prior.len()..];
        let line_end = out.iter().position(|&b| b == b'\n').unwrap() + 1;
        let (line, block) = out.split_at(line_end);
        assert_one_line(line)?;
        prop_assert_eq!(count(line, b"\r\n"), 1);
        prop_assert_eq!(&block[..block.len() - 2], &value[..]);
        prop_assert!(block.ends_with(b"\r\n"));
        // The line's tokens are exactly what was asked for.
        let tokens: Vec<&[u8]> = line[..line.len() - 2].split(|&b| b == b' ').collect();
        let mut want: Vec<Vec<u8>> = vec![
            match command {
                StorageCommand::Set => b"set".to_vec(),
                StorageCommand::Add => b"add".to_vec(),
                StorageCommand::Replace => b"replace".to_vec(),
                StorageCommand::Append => b"append".to_vec(),
                StorageCommand::Prepend => b"prepend".to_vec(),
                StorageCommand::Cas(_) => b"cas".to_vec(),
            },
            key.clone(),
            flags.to_string().into_bytes(),
            exptime.to_string().into_bytes(),
            value.len().to_string().into_bytes(),
        ];
        if let StorageCommand::Cas(unique) = command {
            want.push(unique.to_string().into_bytes());
        }
        if noreply {
            want.push(b"noreply".to_vec());
        }
        prop_assert_eq!(tokens, want.iter().map(Vec::as_slice).collect::<Vec<_>>());
    }

    #[test]
    fn single_line_commands_with_valid_keys_are_exactly_one_line(
        command in retrieval_command(),
        keys in vec(valid_key(), 1..8),
        delta in any::<u64>(),
        exptime in any::<i64>(),
        noreply in any::<bool>(),
    ) {
        let key = &keys[0];
        let mut outputs: Vec<(&str, Vec<u8>)> = Vec::new();
        let mut out = |name, f: &dyn Fn(&mut Vec<u8>) -> Result<(), KeyError>| {
            let mut buf = Vec::new();
            f(&mut buf).unwrap();
            outputs.push((name, buf));
        };
        out("retrieval", &|b| encode_retrieval(b, command, &keys));
        out("delete", &|b| encode_delete(b, key, noreply));
        out("incr", &|b| encode_arith(b, ArithCommand::Incr, key, delta, noreply));
        out("decr", &|b| encode_arith(b, ArithCommand::Decr, key, delta, noreply));
        out("touch", &|b| encode_touch(b, key, exptime, noreply));
        for (name, buf) in outputs {
            assert_one_line(&buf).map_err(|e| TestCaseError::fail(format!("{name}: {e}")))?;
            // Every key is its own token, in order.
            let tokens: Vec<&[u8]> = buf[..buf.len() - 2].split(|&b| b == b' ').collect();
            if name == "retrieval" {
                let skip = if matches!(command, RetrievalCommand::Gat(_) | RetrievalCommand::Gats(_)) {
                    2
                } else {
                    1
                };
                let got: Vec<&[u8]> = tokens[skip..].to_vec();
                let want: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
                prop_assert_eq!(got, want);
            } else {
                prop_assert_eq!(tokens[1], &key[..], "{}", name);
            }
        }
    }

    #[test]
    fn retrieval_lines_stay_short_and_cover_every_key_in_order(
        command in retrieval_command(),
        keys in prop_oneof![
            vec(valid_key(), 1..64),
            vec(vec(key_byte(), MAX_KEY_LEN - 10..=MAX_KEY_LEN), 1..64),
            // Many short keys fill lines to within a byte or two of the limit.
            vec(vec(key_byte(), 1..=4), 400..1500),
        ],
    ) {
        let mut buf = b"prior".to_vec();
        let ranges: Vec<Range<usize>> =
            encode_retrieval_lines(&mut buf, command, &keys).unwrap();
        let written = &buf[5..];
        let text = lines(written);
        prop_assert_eq!(text.len(), ranges.len());
        let mut next = 0;
        for (line, range) in text.iter().zip(&ranges) {
            prop_assert!(line.len() <= command.max_line_len(), "{} bytes", line.len());
            assert_one_line(line)?;
            prop_assert_eq!(range.start, next);
            prop_assert!(range.end > range.start, "an empty line");
            next = range.end;
            let mut alone = Vec::new();
            encode_retrieval(&mut alone, command, &keys[range.clone()]).unwrap();
            prop_assert_eq!(&alone[..], *line);
        }
        prop_assert_eq!(next, keys.len());
        // The split is greedy: a line ends only where the next key would not have fitted.
        for (line, range) in text.iter().zip(&ranges).take(ranges.len() - 1) {
            prop_assert!(
                line.len() + 1 + keys[range.end].len() > command.max_line_len(),
                "a {}-byte line ended before a {}-byte key that fitted",
                line.len(),
                keys[range.end].len()
            );
        }
        // split_retrieval_lines plans exactly the lines encode_retrieval_lines writes.
        prop_assert_eq!(split_retrieval_lines(command, &keys), ranges);
    }

    #[test]
    fn every_invalid_key_is_rejected_everywhere_and_leaves_the_buffer_alone(
        key in invalid_key(),
        good in valid_key(),
        storage in storage_command(),
        retrieval in retrieval_command(),
        noreply in any::<bool>(),
        prior in vec(any::<u8>(), 0..16),
    ) {
        let want = validate_key(&key);
        prop_assert!(want.is_err(), "{:?} accepted", key.escape_ascii().to_string());
        let want = want.unwrap_err();
        match want {
            KeyError::Empty => prop_assert!(key.is_empty()),
            KeyError::TooLong { len } => {
                prop_assert_eq!(len, key.len());
                prop_assert!(len > MAX_KEY_LEN);
            }
            KeyError::ForbiddenByte { byte, index } => {
                prop_assert_eq!(key[index], byte);
                prop_assert!(byte <= b' ' || byte == 0x7f);
            }
            _ => prop_assert!(false, "unknown KeyError {:?}", want),
        }
        let attempts: Vec<(&str, Box<Encoder>)> = vec![
            ("storage", Box::new(|b| encode_storage(b, storage, &key, 0, 0, b"v", noreply))),
            ("retrieval", Box::new(|b| encode_retrieval(b, retrieval, &[&good, &key]))),
            ("retrieval first", Box::new(|b| encode_retrieval(b, retrieval, &[&key, &good]))),
            ("retrieval lines", Box::new(|b| {
                encode_retrieval_lines(b, retrieval, &[&good, &key]).map(drop)
            })),
            ("delete", Box::new(|b| encode_delete(b, &key, noreply))),
            ("incr", Box::new(|b| encode_arith(b, ArithCommand::Incr, &key, 1, noreply))),
            ("decr", Box::new(|b| encode_arith(b, ArithCommand::Decr, &key, 1, noreply))),
            ("touch", Box::new(|b| encode_touch(b, &key, 0, noreply))),
        ];
        for (name, attempt) in attempts {
            let mut buf = prior.clone();
            prop_assert_eq!(attempt(&mut buf), Err(want), "{}", name);
            prop_assert_eq!(&buf, &prior, "{} changed the buffer", name);
        }
    }
}
