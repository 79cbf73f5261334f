//! The server side of the text-protocol codec (`memcache_sync::protocol::parse_request`):
//! table-driven vectors for every classic command, every proper prefix of them, malformed
//! input with the exact error kind it must produce, and properties tying the parser to the
//! crate's own request encoders: whatever they write parses back to the same command, a stream
//! of requests parses one by one at the right lengths, and arbitrary bytes never panic.

use memcache_sync_test_support as support;

use memcache_sync::protocol::{
    encode_arith, encode_delete, encode_flush_all, encode_quit, encode_retrieval, encode_stats,
    encode_storage, encode_touch, encode_verbosity, encode_version, parse_request, ArithCommand,
    ProtocolErrorKind, Request, RetrievalCommand, Status, StorageCommand, MAX_KEY_LEN,
    MAX_RETRIEVAL_LINE_LEN,
};
use proptest::collection::vec;
use proptest::prelude::*;
use support::strategies::{key_byte, retrieval_command, storage_command};

/// The value limit used unless a test says otherwise: memcached's default item size.
const LIMIT: usize = 1024 * 1024;

fn show(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

/// A request that owns its bytes, so that vectors and strategies can hold one and compare it
/// with what the parser borrowed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Owned {
    Storage {
        command: StorageCommand,
        key: Vec<u8>,
        flags: u32,
        exptime: i64,
        value: Vec<u8>,
        noreply: bool,
    },
    Retrieval {
        command: RetrievalCommand,
        keys: Vec<Vec<u8>>,
    },
    Delete {
        key: Vec<u8>,
        noreply: bool,
    },
    Arith {
        command: ArithCommand,
        key: Vec<u8>,
        delta: u64,
        noreply: bool,
    },
    Touch {
        key: Vec<u8>,
        exptime: i64,
        noreply: bool,
    },
    FlushAll {
        delay: Option<i64>,
        noreply: bool,
    },
    Version,
    Stats {
        args: Option<Vec<u8>>,
    },
    Verbosity {
        level: u32,
        noreply: bool,
    },
    Quit,
}

impl Owned {
    fn from_request(request: &Request<'_>) -> Self {
        match *request {
            Request::Storage {
                command,
                key,
                flags,
                exptime,
                value,
                noreply,
            } => Self::Storage {
                command,
                key: key.to_vec(),
                flags,
                exptime,
                value: value.to_vec(),
                noreply,
            },
            Request::Retrieval { command, keys } => Self::Retrieval {
                command,
                keys: keys.iter().map(<[u8]>::to_vec).collect(),
            },
            Request::Delete { key, noreply } => Self::Delete {
                key: key.to_vec(),
                noreply,
            },
            Request::Arith {
                command,
                key,
                delta,
                noreply,
            } => Self::Arith {
                command,
                key: key.to_vec(),
                delta,
                noreply,
            },
            Request::Touch {
                key,
                exptime,
                noreply,
            } => Self::Touch {
                key: key.to_vec(),
                exptime,
                noreply,
            },
            Request::FlushAll { delay, noreply } => Self::FlushAll { delay, noreply },
            Request::Version => Self::Version,
            Request::Stats { args } => Self::Stats {
                args: args.map(<[u8]>::to_vec),
            },
            Request::Verbosity { level, noreply } => Self::Verbosity { level, noreply },
            Request::Quit => Self::Quit,
            ref other => panic!("a request these tests do not know: {other:?}"),
        }
    }

    /// The request as the crate's own encoders write it.
    fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        match self {
            Self::Storage {
                command,
                key,
                flags,
                exptime,
                value,
                noreply,
            } => encode_storage(&mut buf, *command, key, *flags, *exptime, value, *noreply),
            Self::Retrieval { command, keys } => encode_retrieval(&mut buf, *command, keys),
            Self::Delete { key, noreply } => encode_delete(&mut buf, key, *noreply),
            Self::Arith {
                command,
                key,
                delta,
                noreply,
            } => encode_arith(&mut buf, *command, key, *delta, *noreply),
            Self::Touch {
                key,
                exptime,
                noreply,
            } => encode_touch(&mut buf, key, *exptime, *noreply),
            Self::FlushAll { delay, noreply } => {
                encode_flush_all(&mut buf, *delay, *noreply);
                Ok(())
            }
            Self::Version => {
                encode_version(&mut buf);
                Ok(())
            }
            Self::Stats { args } => encode_stats(&mut buf, args.as_deref()),
            Self::Verbosity { level, noreply } => {
                encode_verbosity(&mut buf, *level, *noreply);
                Ok(())
            }
            Self::Quit => {
                encode_quit(&mut buf);
                Ok(())
            }
        }
        .expect("the strategies and vectors only make valid requests");
        buf
    }
}

/// Parses `wire` expecting one whole request that spans all of it.
fn parse_whole(wire: &[u8]) -> Owned {
    match parse_request(wire, LIMIT) {
        Ok(Status::Complete { frame, len }) => {
            assert_eq!(len, wire.len(), "{}", show(wire));
            Owned::from_request(&frame)
        }
        other => panic!("{} gave {other:?}", show(wire)),
    }
}

fn storage(command: StorageCommand, key: &[u8], value: &[u8], noreply: bool) -> Owned {
    Owned::Storage {
        command,
        key: key.to_vec(),
        flags: 0,
        exptime: 0,
        value: value.to_vec(),
        noreply,
    }
}

fn retrieval(command: RetrievalCommand, keys: &[&[u8]]) -> Owned {
    Owned::Retrieval {
        command,
        keys: keys.iter().map(|key| key.to_vec()).collect(),
    }
}

/// Every valid request the vectors cover: exact wire bytes and the request they parse to.
fn valid_vectors() -> Vec<(Vec<u8>, Owned)> {
    let key_250 = vec![b'k'; MAX_KEY_LEN];
    let mut long_set = b"set ".to_vec();
    long_set.extend_from_slice(&key_250);
    long_set.extend_from_slice(b" 0 0 1\r\nx\r\n");
    vec![
        (
            b"set k 5 60 2\r\nhi\r\n".to_vec(),
            Owned::Storage {
                command: StorageCommand::Set,
                key: b"k".to_vec(),
                flags: 5,
                exptime: 60,
                value: b"hi".to_vec(),
                noreply: false,
            },
        ),
        (
            b"add k 0 0 0\r\n\r\n".to_vec(),
            storage(StorageCommand::Add, b"k", b"", false),
        ),
        (
            b"replace k 0 0 2 noreply\r\n\r\n\r\n".to_vec(),
            storage(StorageCommand::Replace, b"k", b"\r\n", true),
        ),
        (
            b"append k 0 0 1\r\na\r\n".to_vec(),
            storage(StorageCommand::Append, b"k", b"a", false),
        ),
        (
            b"prepend k 0 0 1\r\na\r\n".to_vec(),
            storage(StorageCommand::Prepend, b"k", b"a", false),
        ),
        (
            b"cas k 4294967295 -1 1 18446744073709551615 noreply\r\nx\r\n".to_vec(),
            Owned::Storage {
                command: StorageCommand::Cas(u64::MAX),
                key: b"k".to_vec(),
                flags: u32::MAX,
                exptime: -1,
                value: b"x".to_vec(),
                noreply: true,
            },
        ),
        // Position, not spelling, makes `noreply`: here it is the key.
        (
            b"set noreply 0 0 1\r\nx\r\n".to_vec(),
            storage(StorageCommand::Set, b"noreply", b"x", false),
        ),
        (
            long_set,
            storage(StorageCommand::Set, &key_250, b"x", false),
        ),
        (
            b"get a\r\n".to_vec(),
            retrieval(RetrievalCommand::Get, &[b"a"]),
        ),
        (
            b"gets a b a\r\n".to_vec(),
            retrieval(RetrievalCommand::Gets, &[b"a", b"b", b"a"]),
        ),
        (
            b"gat 30 a b\r\n".to_vec(),
            retrieval(RetrievalCommand::Gat(30), &[b"a", b"b"]),
        ),
        (
            b"gats -1 a\r\n".to_vec(),
            retrieval(RetrievalCommand::Gats(-1), &[b"a"]),
        ),
        // memcached splits on runs of spaces and accepts a bare line feed.
        (
            b"get  a   b \n".to_vec(),
            retrieval(RetrievalCommand::Get, &[b"a", b"b"]),
        ),
        (
            "get ключ\r\n".as_bytes().to_vec(),
            retrieval(RetrievalCommand::Get, &["ключ".as_bytes()]),
        ),
        (
            b"get noreply\r\n".to_vec(),
            retrieval(RetrievalCommand::Get, &[b"noreply"]),
        ),
        (
            b"delete k\r\n".to_vec(),
            Owned::Delete {
                key: b"k".to_vec(),
                noreply: false,
            },
        ),
        (
            b"delete noreply noreply\r\n".to_vec(),
            Owned::Delete {
                key: b"noreply".to_vec(),
                noreply: true,
            },
        ),
        (
            b"incr k 18446744073709551615\r\n".to_vec(),
            Owned::Arith {
                command: ArithCommand::Incr,
                key: b"k".to_vec(),
                delta: u64::MAX,
                noreply: false,
            },
        ),
        (
            b"decr k 1 noreply\r\n".to_vec(),
            Owned::Arith {
                command: ArithCommand::Decr,
                key: b"k".to_vec(),
                delta: 1,
                noreply: true,
            },
        ),
        (
            b"touch k 10\r\n".to_vec(),
            Owned::Touch {
                key: b"k".to_vec(),
                exptime: 10,
                noreply: false,
            },
        ),
        (
            b"flush_all\r\n".to_vec(),
            Owned::FlushAll {
                delay: None,
                noreply: false,
            },
        ),
        (
            b"flush_all noreply\r\n".to_vec(),
            Owned::FlushAll {
                delay: None,
                noreply: true,
            },
        ),
        (
            b"flush_all 10 noreply\r\n".to_vec(),
            Owned::FlushAll {
                delay: Some(10),
                noreply: true,
            },
        ),
        (b"version\r\n".to_vec(), Owned::Version),
        (b"stats\r\n".to_vec(), Owned::Stats { args: None }),
        (
            b"stats cachedump 1 10\r\n".to_vec(),
            Owned::Stats {
                args: Some(b"cachedump 1 10".to_vec()),
            },
        ),
        (
            b"verbosity 1\r\n".to_vec(),
            Owned::Verbosity {
                level: 1,
                noreply: false,
            },
        ),
        (b"quit\r\n".to_vec(), Owned::Quit),
    ]
}

#[test]
fn every_valid_request_parses_and_consumes_exactly_its_own_bytes() {
    for (wire, want) in valid_vectors() {
        let mut buf = wire.clone();
        buf.extend_from_slice(b"get next\r\n");
        match parse_request(&buf, LIMIT) {
            Ok(Status::Complete { frame, len }) => {
                assert_eq!(len, wire.len(), "{}", show(&wire));
                assert_eq!(Owned::from_request(&frame), want, "{}", show(&wire));
            }
            other => panic!("{} gave {other:?}", show(&wire)),
        }
    }
}

#[test]
fn every_proper_prefix_of_a_valid_request_is_incomplete() {
    for (wire, _) in valid_vectors() {
        for end in 0..wire.len() {
            assert_eq!(
                parse_request(&wire[..end], LIMIT),
                Ok(Status::Incomplete),
                "prefix {}",
                show(&wire[..end])
            );
        }
    }
}

#[test]
fn the_vectors_that_the_encoders_can_write_are_what_they_write() {
    for (wire, request) in valid_vectors() {
        // Only the canonical spellings: one space between tokens, `\r\n` line ends.
        if !wire.windows(2).any(|w| w == b"  ") && !wire.ends_with(b" \n") {
            assert_eq!(show(&request.encode()), show(&wire));
        }
    }
}

/// Input that can never become a valid request, and the error it must give.
fn invalid_vectors() -> Vec<(Vec<u8>, ProtocolErrorKind)> {
    use ProtocolErrorKind::*;
    let mut long_key = b"get ".to_vec();
    long_key.extend_from_slice(&[b'k'; MAX_KEY_LEN + 1]);
    long_key.extend_from_slice(b"\r\n");
    vec![
        (b"\r\n".to_vec(), UnknownReply),
        (b"bogus k\r\n".to_vec(), UnknownReply),
        (b"GET k\r\n".to_vec(), UnknownReply),
        (b"mg k v\r\n".to_vec(), UnknownReply),
        (b"get\r\n".to_vec(), UnknownReply),
        (b"gat 10\r\n".to_vec(), UnknownReply),
        (b"delete\r\n".to_vec(), UnknownReply),
        (b"set k 0 0\r\n".to_vec(), UnknownReply),
        (b"cas k 0 0 1\r\nx\r\n".to_vec(), UnknownReply),
        (b"version now\r\n".to_vec(), UnknownReply),
        (
            b"set k 0 0 1 noreply a b c d\r\nx\r\n".to_vec(),
            UnknownReply,
        ),
        (b"get a\x01b\r\n".to_vec(), MalformedLine),
        (long_key, MalformedLine),
        (b"get a\rb\r\n".to_vec(), MalformedLine),
        (b"set k 4294967296 0 1\r\nx\r\n".to_vec(), MalformedLine),
        (b"set k 0 soon 1\r\nx\r\n".to_vec(), MalformedLine),
        (b"set k 0 0 -1\r\n".to_vec(), MalformedLine),
        (b"set k 0 0 1 norepl\r\nx\r\n".to_vec(), MalformedLine),
        (b"cas k 0 0 1 -5\r\nx\r\n".to_vec(), MalformedLine),
        (b"gat soon k\r\n".to_vec(), MalformedLine),
        (b"delete k 0\r\n".to_vec(), MalformedLine),
        (b"incr k -1\r\n".to_vec(), MalformedLine),
        (b"incr k 18446744073709551616\r\n".to_vec(), MalformedLine),
        (b"touch k\x7f 1\r\n".to_vec(), MalformedLine),
        (b"flush_all later\r\n".to_vec(), MalformedLine),
        (b"verbosity -1\r\n".to_vec(), MalformedLine),
        (b"stats a\x01\r\n".to_vec(), MalformedLine),
        (b"set k 0 0 1\r\nxy\r\n".to_vec(), UnterminatedData),
        (b"set k 0 0 1\r\nx\n\n".to_vec(), UnterminatedData),
        (
            format!("set k 0 0 {}\r\n", LIMIT + 1).into_bytes(),
            ValueTooLong {
                claimed: LIMIT as u64 + 1,
                limit: LIMIT,
            },
        ),
        (
            b"set k 0 0 18446744073709551615\r\n".to_vec(),
            ValueTooLong {
                claimed: u64::MAX,
                limit: LIMIT,
            },
        ),
        (vec![b'g'; MAX_RETRIEVAL_LINE_LEN], LineTooLong),
        // A line end past the limit does not make the line acceptable.
        (
            [&[b'g'; MAX_RETRIEVAL_LINE_LEN][..], b"\r\n"].concat(),
            LineTooLong,
        ),
    ]
}

#[test]
fn every_invalid_input_fails_with_its_error_kind() {
    for (wire, kind) in invalid_vectors() {
        match parse_request(&wire, LIMIT) {
            Err(error) => assert_eq!(error.kind, kind, "{}", show(&wire)),
            other => panic!("{} gave {other:?}", show(&wire)),
        }
    }
}

#[test]
fn a_value_over_the_limit_fails_on_the_command_line_alone() {
    // Nothing of the data block has arrived: the claim is refused before waiting for it.
    let error = parse_request(b"set k 0 0 11\r\n", 10).unwrap_err();
    assert_eq!(
        error.kind,
        ProtocolErrorKind::ValueTooLong {
            claimed: 11,
            limit: 10
        }
    );
    assert!(matches!(
        parse_request(b"set k 0 0 10\r\n0123456789\r\n", 10),
        Ok(Status::Complete { len: 26, .. })
    ));
}

#[test]
fn a_huge_claim_under_an_unbounded_limit_does_not_overflow() {
    let wire = b"set k 0 0 18446744073709551615\r\nx\r\n";
    let got = parse_request(wire, usize::MAX);
    assert!(
        matches!(got, Err(ref e) if matches!(e.kind, ProtocolErrorKind::ValueTooLong { .. })),
        "{got:?}"
    );
}

#[test]
fn a_line_of_exactly_the_limit_is_accepted_and_one_byte_more_is_too_long() {
    let keys = MAX_RETRIEVAL_LINE_LEN - b"get\r\n".len();
    let mut line = b"get".to_vec();
    // Keys of one byte each, a space before each, so the line ends exactly at the limit.
    line.extend(std::iter::repeat_n(&b" k"[..], keys / 2).flatten());
    line.extend(std::iter::repeat_n(b' ', keys % 2));
    line.extend_from_slice(b"\r\n");
    assert_eq!(line.len(), MAX_RETRIEVAL_LINE_LEN);
    assert!(matches!(
        parse_request(&line, LIMIT),
        Ok(Status::Complete { len, .. }) if len == line.len()
    ));
    line.insert(3, b' ');
    assert_eq!(
        parse_request(&line, LIMIT).unwrap_err().kind,
        ProtocolErrorKind::LineTooLong
    );
}

#[test]
fn a_parsed_retrieval_lists_its_keys_in_order_with_duplicates() {
    let Ok(Status::Complete {
        frame: Request::Retrieval { command, keys },
        ..
    }) = parse_request(b"gats 60 a b a\r\n", LIMIT)
    else {
        panic!("not a retrieval");
    };
    assert_eq!(command, RetrievalCommand::Gats(60));
    assert_eq!(keys.len(), 3);
    assert!(!keys.is_empty());
    assert_eq!(keys.iter().collect::<Vec<_>>(), [&b"a"[..], b"b", b"a"]);
}

#[test]
fn parsed_retrievals_are_equal_when_their_keys_are_however_they_were_spaced() {
    let frame = |wire: &'static [u8]| match parse_request(wire, LIMIT) {
        Ok(Status::Complete { frame, .. }) => frame,
        other => panic!("{other:?}"),
    };
    assert_eq!(frame(b"get a b\r\n"), frame(b"get  a    b \r\n"));
    assert_ne!(frame(b"get a b\r\n"), frame(b"get b a\r\n"));
}

// ---------------------------------------------------------------------------------------------
// Properties.

/// A key `validate_key` accepts, sometimes the word `noreply` itself.
fn key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => vec(key_byte(), 1..=16),
        2 => vec(key_byte(), 1..=MAX_KEY_LEN),
        1 => Just(b"noreply".to_vec()),
    ]
}

/// Values with the bytes that could confuse a parser that looked inside them.
fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => vec(any::<u8>(), 0..64),
        1 => vec(prop::sample::select(vec![b'\r', b'\n', b' ', b'0']), 0..16),
        1 => vec(any::<u8>(), 0..2048),
    ]
}

fn arith_command() -> impl Strategy<Value = ArithCommand> {
    prop_oneof![Just(ArithCommand::Incr), Just(ArithCommand::Decr)]
}

/// `stats` arguments as `encode_stats` accepts them: tokens joined by single spaces.
fn stats_args() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop::option::of(vec(vec(key_byte(), 1..=12), 1..=3).prop_map(|tokens| tokens.join(&b' ')))
}

/// Every request the crate's encoders can write (retrieval lines within the parser's limit).
fn request() -> impl Strategy<Value = Owned> {
    prop_oneof![
        4 => (storage_command(), key(), any::<u32>(), any::<i64>(), value(), any::<bool>())
            .prop_map(|(command, key, flags, exptime, value, noreply)| Owned::Storage {
                command, key, flags, exptime, value, noreply,
            }),
        3 => (retrieval_command(), vec(key(), 1..=8))
            .prop_map(|(command, keys)| Owned::Retrieval { command, keys }),
        1 => (key(), any::<bool>()).prop_map(|(key, noreply)| Owned::Delete { key, noreply }),
        1 => (arith_command(), key(), any::<u64>(), any::<bool>())
            .prop_map(|(command, key, delta, noreply)| Owned::Arith { command, key, delta, noreply }),
        1 => (key(), any::<i64>(), any::<bool>())
            .prop_map(|(key, exptime, noreply)| Owned::Touch { key, exptime, noreply }),
        1 => (any::<Option<i64>>(), any::<bool>())
            .prop_map(|(delay, noreply)| Owned::FlushAll { delay, noreply }),
        1 => Just(Owned::Version),
        1 => stats_args().prop_map(|args| Owned::Stats { args }),
        1 => (any::<u32>(), any::<bool>())
            .prop_map(|(level, noreply)| Owned::Verbosity { level, noreply }),
        1 => Just(Owned::Quit),
    ]
}

proptest! {
    #[test]
    fn every_encoded_request_parses_back_to_the_same_command(request in request()) {
        let wire = request.encode();
        prop_assert_eq!(parse_whole(&wire), request);
    }

    #[test]
    fn every_proper_prefix_of_an_encoded_request_is_incomplete(request in request()) {
        let wire = request.encode();
        for end in 0..wire.len() {
            prop_assert_eq!(
                parse_request(&wire[..end], LIMIT),
                Ok(Status::Incomplete),
                "prefix {}",
                show(&wire[..end])
            );
        }
    }

    #[test]
    fn a_pipelined_stream_parses_request_by_request(requests in vec(request(), 1..8)) {
        let wire: Vec<u8> = requests.iter().flat_map(Owned::encode).collect();
        let mut at = 0;
        for want in &requests {
            match parse_request(&wire[at..], LIMIT) {
                Ok(Status::Complete { frame, len }) => {
                    prop_assert_eq!(&Owned::from_request(&frame), want);
                    prop_assert_eq!(len, want.encode().len());
                    at += len;
                }
                other => prop_assert!(false, "at {}: {:?}", at, other),
            }
        }
        prop_assert_eq!(at, wire.len());
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_never_claim_more_than_the_buffer(
        bytes in prop_oneof![
            vec(any::<u8>(), 0..512),
            (request(), vec(any::<u8>(), 0..32), any::<prop::sample::Index>()).prop_map(
                |(request, noise, at)| {
                    let mut wire = request.encode();
                    let at = at.index(wire.len() + 1);
                    wire.splice(at..at, noise);
                    wire
                }
            ),
        ],
        limit in 0usize..4096,
    ) {
        if let Ok(Status::Complete { len, .. }) = parse_request(&bytes, limit) {
            prop_assert!(len > 0 && len <= bytes.len());
        }
    }
}
