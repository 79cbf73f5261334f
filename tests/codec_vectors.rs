//! Table-driven vectors for the sans-IO text-protocol codec (`memcache_sync::protocol`):
//! valid reply frames as memcached puts them on the wire, every proper prefix of them,
//! malformed input with the exact error kind it must produce, key-injection attempts against
//! every request encoder, and the shape of error excerpts.
//!
//! The vectors need no server; they run in milliseconds. Real memcached replies come from
//! fuzz/seeds/replies, captured by fuzz/capture_seeds.py.

use memcache_sync_test_support as support;

use memcache_sync::protocol::{
    encode_arith, encode_delete, encode_reply, encode_retrieval, encode_retrieval_lines,
    encode_stats, encode_storage, encode_storage_line, encode_touch, parse_reply,
    parse_value_header, split_retrieval_lines, validate_key, ArithCommand, KeyError, ProtocolError,
    ProtocolErrorKind, Reply, RetrievalCommand, Status, StorageCommand, Value, ValueHeader,
    MAX_KEY_LEN, MAX_LINE_LEN,
};

/// The value limit used by the vectors unless one says otherwise (the client's default).
const LIMIT: usize = 1024 * 1024;

/// A 250-byte key: the longest memcached accepts.
static KEY_250: [u8; MAX_KEY_LEN] = [b'k'; MAX_KEY_LEN];
/// A key with every byte class allowed besides plain ASCII: UTF-8 and raw high bytes.
static KEY_HIGH: &[u8] = b"\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87:\x80\xff~!";

fn show(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

/// Every valid reply frame the vectors cover: the exact wire bytes and the frame they decode to.
fn valid_vectors() -> Vec<(Vec<u8>, Reply<'static>)> {
    let value = |key: &'static [u8], flags, cas, data: &'static [u8]| {
        Reply::Value(Value {
            key,
            flags,
            cas,
            data,
        })
    };
    let mut key_250_header = b"VALUE ".to_vec();
    key_250_header.extend_from_slice(&KEY_250);
    key_250_header.extend_from_slice(b" 0 3\r\nabc\r\n");
    let mut key_high_header = b"VALUE ".to_vec();
    key_high_header.extend_from_slice(KEY_HIGH);
    key_high_header.extend_from_slice(b" 1 1 2\r\n\xff\r\n");
    let line = |head: &[u8], middle: &[u8], tail: &[u8]| [head, middle, tail].concat();
    let item_250 = line(b"ITEM ", &KEY_250, b" [10000 b; 0 s]\r\n");
    let item_high = line(b"ITEM ", KEY_HIGH, b" [4 b; 0 s]\r\n");
    let prefix_250 = line(b"PREFIX ", &KEY_250, b" get 0 hit 0 set 1 del 0\r\n");
    vec![
        (b"STORED\r\n".to_vec(), Reply::Stored),
        (b"NOT_STORED\r\n".to_vec(), Reply::NotStored),
        (b"EXISTS\r\n".to_vec(), Reply::Exists),
        (b"NOT_FOUND\r\n".to_vec(), Reply::NotFound),
        (b"DELETED\r\n".to_vec(), Reply::Deleted),
        (b"TOUCHED\r\n".to_vec(), Reply::Touched),
        (b"OK\r\n".to_vec(), Reply::Ok),
        (b"END\r\n".to_vec(), Reply::End),
        // VALUE without cas (get/gat), with cas (gets/gats).
        (
            b"VALUE greeting 0 5\r\nhello\r\n".to_vec(),
            value(b"greeting", 0, None, b"hello"),
        ),
        (
            b"VALUE k 42 5 12345\r\nhello\r\n".to_vec(),
            value(b"k", 42, Some(12345), b"hello"),
        ),
        (
            b"VALUE k 4294967295 1 18446744073709551615\r\nx\r\n".to_vec(),
            value(b"k", u32::MAX, Some(u64::MAX), b"x"),
        ),
        (
            b"VALUE k 0 1 0\r\nx\r\n".to_vec(),
            value(b"k", 0, Some(0), b"x"),
        ),
        // Empty data, with and without cas.
        (b"VALUE k 0 0\r\n\r\n".to_vec(), value(b"k", 0, None, b"")),
        (
            b"VALUE k 7 0 99\r\n\r\n".to_vec(),
            value(b"k", 7, Some(99), b""),
        ),
        // Data that looks like line ends and like the END that closes the reply: framed by
        // length, so none of it may end the frame early.
        (
            b"VALUE k 0 2\r\n\r\n\r\n".to_vec(),
            value(b"k", 0, None, b"\r\n"),
        ),
        (
            b"VALUE k 1 8\r\na\r\nEND\r\n\r\n".to_vec(),
            value(b"k", 1, None, b"a\r\nEND\r\n"),
        ),
        (
            b"VALUE k 0 13 5\r\nEND\r\nSTORED\r\n\r\n".to_vec(),
            value(b"k", 0, Some(5), b"END\r\nSTORED\r\n"),
        ),
        (
            b"VALUE k 0 4\r\n\n\r\0\xff\r\n".to_vec(),
            value(b"k", 0, None, b"\n\r\0\xff"),
        ),
        (key_250_header, value(&KEY_250, 0, None, b"abc")),
        (key_high_header, value(KEY_HIGH, 1, Some(2), b"\xff")),
        // STAT lines, including values with spaces and an empty value.
        (
            b"STAT pid 12345\r\n".to_vec(),
            Reply::Stat {
                name: b"pid",
                value: b"12345",
            },
        ),
        (
            b"STAT version 1.6.21\r\n".to_vec(),
            Reply::Stat {
                name: b"version",
                value: b"1.6.21",
            },
        ),
        (
            b"STAT rusage_user 0.012345\r\n".to_vec(),
            Reply::Stat {
                name: b"rusage_user",
                value: b"0.012345",
            },
        ),
        (
            b"STAT note a value  with spaces \r\n".to_vec(),
            Reply::Stat {
                name: b"note",
                value: b"a value  with spaces ",
            },
        ),
        (
            b"STAT empty \r\n".to_vec(),
            Reply::Stat {
                name: b"empty",
                value: b"",
            },
        ),
        (
            b"STAT items:1:number 3\r\n".to_vec(),
            Reply::Stat {
                name: b"items:1:number",
                value: b"3",
            },
        ),
        (b"VERSION 1.6.21\r\n".to_vec(), Reply::Version(b"1.6.21")),
        (
            b"VERSION 1.4.5 (Ubuntu)\r\n".to_vec(),
            Reply::Version(b"1.4.5 (Ubuntu)"),
        ),
        // incr/decr results, including memcached's space padding after a shrinking decr.
        (b"0\r\n".to_vec(), Reply::Number(0)),
        (b"42\r\n".to_vec(), Reply::Number(42)),
        (b"5   \r\n".to_vec(), Reply::Number(5)),
        (b"9 \r\n".to_vec(), Reply::Number(9)),
        (
            b"18446744073709551615\r\n".to_vec(),
            Reply::Number(u64::MAX),
        ),
        (b"007\r\n".to_vec(), Reply::Number(7)),
        // Errors.
        (b"ERROR\r\n".to_vec(), Reply::Error(b"")),
        (
            b"ERROR Too many open connections\r\n".to_vec(),
            Reply::Error(b"Too many open connections"),
        ),
        (
            b"CLIENT_ERROR bad data chunk\r\n".to_vec(),
            Reply::ClientError(b"bad data chunk"),
        ),
        (
            b"CLIENT_ERROR bad command line format\r\n".to_vec(),
            Reply::ClientError(b"bad command line format"),
        ),
        (b"CLIENT_ERROR\r\n".to_vec(), Reply::ClientError(b"")),
        (
            b"SERVER_ERROR object too large for cache\r\n".to_vec(),
            Reply::ServerError(b"object too large for cache"),
        ),
        (
            b"SERVER_ERROR out of memory storing object\r\n".to_vec(),
            Reply::ServerError(b"out of memory storing object"),
        ),
        (b"SERVER_ERROR\r\n".to_vec(), Reply::ServerError(b"")),
        // `stats reset`, `stats cachedump` and `stats detail dump`, as memcached 1.6.18 sends
        // them.
        (b"RESET\r\n".to_vec(), Reply::Reset),
        (
            b"ITEM foo:bar [3 b; 1796116626 s]\r\n".to_vec(),
            item(b"foo:bar", 3, 1_796_116_626),
        ),
        (b"ITEM key0 [5 b; 0 s]\r\n".to_vec(), item(b"key0", 5, 0)),
        (b"ITEM k [0 b; 0 s]\r\n".to_vec(), item(b"k", 0, 0)),
        (
            b"ITEM k [18446744073709551615 b; 18446744073709551615 s]\r\n".to_vec(),
            item(b"k", u64::MAX, u64::MAX),
        ),
        (item_250, item(&KEY_250, 10000, 0)),
        (item_high, item(KEY_HIGH, 4, 0)),
        // memcached prints a key up to its first NUL, so a binary-protocol key can come out
        // empty or holding spaces, even a copy of the fields: they are read from the right.
        (b"ITEM  [5 b; 0 s]\r\n".to_vec(), item(b"", 5, 0)),
        (
            b"ITEM a b [1 b; 2 s] [7 b; 9 s]\r\n".to_vec(),
            item(b"a b [1 b; 2 s]", 7, 9),
        ),
        (
            b"PREFIX user get 2 hit 1 set 1 del 1\r\n".to_vec(),
            prefix(b"user", [2, 1, 1, 1]),
        ),
        // Keys that start with the delimiter count under the empty prefix.
        (
            b"PREFIX  get 1 hit 0 set 0 del 0\r\n".to_vec(),
            prefix(b"", [1, 0, 0, 0]),
        ),
        (
            b"PREFIX p get 18446744073709551615 hit 0 set 0 del 18446744073709551615\r\n".to_vec(),
            prefix(b"p", [u64::MAX, 0, 0, u64::MAX]),
        ),
        (prefix_250, prefix(&KEY_250, [0, 0, 1, 0])),
        (
            b"PREFIX x get 1 hit 1 get 2 hit 1 set 3 del 4\r\n".to_vec(),
            prefix(b"x get 1 hit 1", [2, 1, 3, 4]),
        ),
    ]
}

/// A `stats cachedump` line's frame.
fn item(key: &'static [u8], size: u64, expiry: u64) -> Reply<'static> {
    Reply::CachedumpItem { key, size, expiry }
}

/// A `stats detail dump` line's frame; `counts` are get, hit, set and del, in wire order.
fn prefix(prefix: &'static [u8], counts: [u64; 4]) -> Reply<'static> {
    let [gets, hits, sets, deletes] = counts;
    Reply::Prefix {
        prefix,
        gets,
        hits,
        sets,
        deletes,
    }
}

/// Bytes that may follow a frame in the buffer: nothing, the next frame, part of it, or garbage.
/// None of them may change the frame or be consumed with it.
const TRAILERS: &[&[u8]] = &[
    b"",
    b"END\r\n",
    b"STORED\r\nEND\r\n",
    b"VAL",
    b"\r\n",
    b"\n",
    b"garbage without a line end",
    b"\xff\xfe\0",
];

#[test]
fn every_valid_frame_decodes_and_consumes_exactly_its_own_bytes() {
    for (wire, want) in valid_vectors() {
        for trailer in TRAILERS {
            let mut buf = wire.clone();
            buf.extend_from_slice(trailer);
            let got = parse_reply(&buf, LIMIT);
            assert_eq!(
                got,
                Ok(Status::Complete {
                    frame: want,
                    len: wire.len()
                }),
                "wire {:?} followed by {:?}",
                show(&wire),
                show(trailer)
            );
        }
    }
}

#[test]
fn every_proper_prefix_of_a_valid_frame_is_incomplete() {
    for (wire, _) in valid_vectors() {
        for end in 0..wire.len() {
            assert_eq!(
                parse_reply(&wire[..end], LIMIT),
                Ok(Status::Incomplete),
                "prefix {:?} of {:?}",
                show(&wire[..end]),
                show(&wire)
            );
        }
    }
}

#[test]
fn every_valid_frame_is_what_encode_reply_writes() {
    // memcached's own spelling is the canonical form, except where it pads numbers or a
    // number has leading zeros: those are accepted on input but never written.
    for (wire, frame) in valid_vectors() {
        let mut encoded = Vec::new();
        encode_reply(&frame, &mut encoded);
        let canonical = match frame {
            Reply::Number(n) => format!("{n}\r\n").into_bytes(),
            _ => wire,
        };
        assert_eq!(show(&encoded), show(&canonical));
    }
}

#[test]
fn a_whole_multi_get_reply_decodes_frame_by_frame() {
    let wire = b"VALUE a 0 1\r\n1\r\nVALUE b 3 5 77\r\nEND\r\n\r\nEND\r\n";
    let mut rest = &wire[..];
    let mut frames = Vec::new();
    while !rest.is_empty() {
        match parse_reply(rest, LIMIT).expect("valid stream") {
            Status::Complete { frame, len } => {
                assert!(len > 0);
                frames.push(frame);
                rest = &rest[len..];
            }
            Status::Incomplete => panic!("stream ended mid-frame: {:?}", show(rest)),
        }
    }
    assert_eq!(
        frames,
        vec![
            Reply::Value(Value {
                key: b"a",
                flags: 0,
                cas: None,
                data: b"1"
            }),
            Reply::Value(Value {
                key: b"b",
                flags: 3,
                cas: Some(77),
                data: b"END\r\n"
            }),
            Reply::End,
        ]
    );
}

#[test]
fn a_whole_cachedump_and_detail_dump_decode_frame_by_frame() {
    // As memcached 1.6.18 answered `stats cachedump 1 0` and `stats detail dump`.
    let cachedump = b"ITEM foo:bar [3 b; 1796116626 s]\r\nITEM key2 [5 b; 0 s]\r\nEND\r\n";
    let detail =
        b"PREFIX a get 2 hit 1 set 1 del 1\r\nPREFIX bb get 0 hit 0 set 1 del 0\r\nEND\r\n";
    let cases: [(&[u8], Vec<Reply<'static>>); 2] = [
        (
            cachedump,
            vec![
                item(b"foo:bar", 3, 1_796_116_626),
                item(b"key2", 5, 0),
                Reply::End,
            ],
        ),
        (
            detail,
            vec![
                prefix(b"a", [2, 1, 1, 1]),
                prefix(b"bb", [0, 0, 1, 0]),
                Reply::End,
            ],
        ),
    ];
    for (wire, want) in cases {
        let mut rest = wire;
        let mut frames = Vec::new();
        while !rest.is_empty() {
            match parse_reply(rest, LIMIT).expect("valid stream") {
                Status::Complete { frame, len } => {
                    frames.push(frame);
                    rest = &rest[len..];
                }
                Status::Incomplete => panic!("stream ended mid-frame: {:?}", show(rest)),
            }
        }
        assert_eq!(frames, want, "{:?}", show(wire));
    }
}

/// Inputs that can never become a valid frame, the limit to parse them with, and the error kind
/// they must produce.
fn invalid_vectors() -> Vec<(Vec<u8>, usize, ProtocolErrorKind)> {
    use ProtocolErrorKind::*;
    let mut key_251 = b"VALUE ".to_vec();
    key_251.extend_from_slice(&[b'k'; MAX_KEY_LEN + 1]);
    key_251.extend_from_slice(b" 0 1\r\nx\r\n");
    let key_251_bytes = [b'k'; MAX_KEY_LEN + 1];
    let item_251 = [&b"ITEM "[..], &key_251_bytes, b" [1 b; 0 s]\r\n"].concat();
    let prefix_251 = [
        &b"PREFIX "[..],
        &key_251_bytes,
        b" get 0 hit 0 set 0 del 0\r\n",
    ]
    .concat();
    let v = |bytes: &[u8], limit: usize, kind: ProtocolErrorKind| (bytes.to_vec(), limit, kind);
    vec![
        // Line ends.
        v(b"\n", LIMIT, BareLineFeed),
        v(b"STORED\n", LIMIT, BareLineFeed),
        v(b"END\n\r\n", LIMIT, BareLineFeed),
        v(b"VALUE k 0 1\nx\r\n", LIMIT, BareLineFeed),
        // Lines that are no reply.
        v(b"\r\n", LIMIT, UnknownReply),
        v(b"\r\r\n", LIMIT, UnknownReply),
        v(b"HELLO\r\n", LIMIT, UnknownReply),
        v(b"stored\r\n", LIMIT, UnknownReply),
        v(b"STORED \r\n", LIMIT, UnknownReply),
        v(b" STORED\r\n", LIMIT, UnknownReply),
        v(b"END \r\n", LIMIT, UnknownReply),
        v(b"STO\0RED\r\n", LIMIT, UnknownReply),
        v(b"VALUE\r\n", LIMIT, UnknownReply),
        v(b"VERSION\r\n", LIMIT, UnknownReply),
        v(b"ERRORS\r\n", LIMIT, UnknownReply),
        v(b"SERVER_ERRORx\r\n", LIMIT, UnknownReply),
        v(b"CLIENT_ERRORx\r\n", LIMIT, UnknownReply),
        v(b"STATS pid 1\r\n", LIMIT, UnknownReply),
        v(b" 5\r\n", LIMIT, UnknownReply),
        v(b"-1\r\n", LIMIT, UnknownReply),
        // VALUE with missing fields.
        v(b"VALUE \r\n", LIMIT, MalformedLine),
        v(b"VALUE k\r\n", LIMIT, MalformedLine),
        v(b"VALUE k 0\r\n", LIMIT, MalformedLine),
        v(b"VALUE  0 1\r\nx\r\n", LIMIT, MalformedLine),
        v(b"VALUE k  1\r\nx\r\n", LIMIT, MalformedLine),
        v(b"VALUE k 0 \r\n\r\n", LIMIT, MalformedLine),
        // VALUE with extra fields or stray spaces.
        v(b"VALUE k 0 1 2 3\r\nx\r\n", LIMIT, MalformedLine),
        v(b"VALUE k 0 1 \r\nx\r\n", LIMIT, MalformedLine),
        v(b"VALUE k 0 1 2 \r\nx\r\n", LIMIT, MalformedLine),
        v(b"VALUE  k 0 1\r\nx\r\n", LIMIT, MalformedLine),
        v(b"VALUE k  0 1\r\nx\r\n", LIMIT, MalformedLine),
        // VALUE with non-numeric or out-of-range numbers.
        v(b"VALUE k x 1\r\nx\r\n", LIMIT, MalformedLine),
        v(b"VALUE k 0 x\r\nx\r\n", LIMIT, MalformedLine),
        v(b"VALUE k 0 1 x\r\nx\r\n", LIMIT, MalformedLine),
        v(b"VALUE k -1 1\r\nx\r\n", LIMIT, MalformedLine),
        v(b"VALUE k 0 -1\r\nx\r\n", LIMIT, MalformedLine),
        v(b"VALUE k +1 1\r\nx\r\n", LIMIT, MalformedLine),
        v(b"VALUE k 0 1 -5\r\nx\r\n", LIMIT, MalformedLine),
        v(b"VALUE k 0x1 1\r\nx\r\n", LIMIT, MalformedLine),
        v(b"VALUE k 4294967296 1\r\nx\r\n", LIMIT, MalformedLine),
        v(
            b"VALUE k 0 1 18446744073709551616\r\nx\r\n",
            LIMIT,
            MalformedLine,
        ),
        v(b"VALUE k 0 18446744073709551616\r\n", LIMIT, MalformedLine),
        // VALUE with a key memcached could never have stored.
        (key_251, LIMIT, MalformedLine),
        v(b"VALUE k\x01 0 1\r\nx\r\n", LIMIT, MalformedLine),
        v(b"VALUE k\t 0 1\r\nx\r\n", LIMIT, MalformedLine),
        v(b"VALUE k\x7f 0 1\r\nx\r\n", LIMIT, MalformedLine),
        v(b"VALUE \0 0 1\r\nx\r\n", LIMIT, MalformedLine),
        v(b"VALUE k\r 0 1\r\nx\r\n", LIMIT, MalformedLine),
        // A data block longer than claimed, and one shorter than claimed.
        v(b"VALUE k 0 2\r\nabc\r\n", LIMIT, UnterminatedData),
        v(b"VALUE k 0 4\r\nab\r\nEND\r\n", LIMIT, UnterminatedData),
        v(b"VALUE k 0 0\r\nx\r\n", LIMIT, UnterminatedData),
        v(b"VALUE k 0 1\r\nx\n\r", LIMIT, UnterminatedData),
        v(b"VALUE k 0 1\r\nx\rEND\r\n", LIMIT, UnterminatedData),
        // Numbers.
        v(b"18446744073709551616\r\n", LIMIT, MalformedLine),
        v(b"99999999999999999999999\r\n", LIMIT, MalformedLine),
        v(b"000000000000000000001\r\n", LIMIT, MalformedLine),
        v(b"5 5\r\n", LIMIT, MalformedLine),
        v(b"5x\r\n", LIMIT, MalformedLine),
        v(b"5\t\r\n", LIMIT, MalformedLine),
        // STAT without a name or a value.
        v(b"STAT pid\r\n", LIMIT, MalformedLine),
        v(b"STAT \r\n", LIMIT, MalformedLine),
        v(b"STAT  1\r\n", LIMIT, MalformedLine),
        // RESET, ITEM and PREFIX spelled otherwise than memcached does.
        v(b"RESET \r\n", LIMIT, UnknownReply),
        v(b"reset\r\n", LIMIT, UnknownReply),
        v(b"ITEM\r\n", LIMIT, UnknownReply),
        v(b"ITEMS k [1 b; 0 s]\r\n", LIMIT, UnknownReply),
        v(b"PREFIX\r\n", LIMIT, UnknownReply),
        // ITEM with missing, reordered or malformed fields.
        v(b"ITEM \r\n", LIMIT, MalformedLine),
        v(b"ITEM k\r\n", LIMIT, MalformedLine),
        v(b"ITEM [5 b; 0 s]\r\n", LIMIT, MalformedLine),
        v(b"ITEM k [5 b]\r\n", LIMIT, MalformedLine),
        v(b"ITEM k [5 b; 0]\r\n", LIMIT, MalformedLine),
        v(b"ITEM k [5 b; 0 s] \r\n", LIMIT, MalformedLine),
        v(b"ITEM k [5 b; 0 s\r\n", LIMIT, MalformedLine),
        v(b"ITEM k 5 b; 0 s]\r\n", LIMIT, MalformedLine),
        v(b"ITEM k [5 b;0 s]\r\n", LIMIT, MalformedLine),
        v(b"ITEM k [5b; 0 s]\r\n", LIMIT, MalformedLine),
        v(b"ITEM k [5 b;  0 s]\r\n", LIMIT, MalformedLine),
        v(b"ITEM k [ 5 b; 0 s]\r\n", LIMIT, MalformedLine),
        v(b"ITEM k [0 s; 5 b]\r\n", LIMIT, MalformedLine),
        v(b"ITEM k [ b; 0 s]\r\n", LIMIT, MalformedLine),
        v(b"ITEM k [5 b;  s]\r\n", LIMIT, MalformedLine),
        v(b"ITEM k [x b; 0 s]\r\n", LIMIT, MalformedLine),
        v(b"ITEM k [-1 b; 0 s]\r\n", LIMIT, MalformedLine),
        v(b"ITEM k [5 b; -1 s]\r\n", LIMIT, MalformedLine),
        v(
            b"ITEM k [5 b; 18446744073709551616 s]\r\n",
            LIMIT,
            MalformedLine,
        ),
        v(
            b"ITEM k [18446744073709551616 b; 0 s]\r\n",
            LIMIT,
            MalformedLine,
        ),
        (item_251, LIMIT, MalformedLine),
        // PREFIX with missing, renamed, reordered or malformed counters.
        v(b"PREFIX \r\n", LIMIT, MalformedLine),
        v(b"PREFIX a\r\n", LIMIT, MalformedLine),
        v(b"PREFIX a get 1 hit 1 set 1\r\n", LIMIT, MalformedLine),
        v(b"PREFIX a get 1 hit 1 set 1 del\r\n", LIMIT, MalformedLine),
        v(b"PREFIX a get 1 hit 1 set 1 del \r\n", LIMIT, MalformedLine),
        v(
            b"PREFIX a get 1 hit 1 set 1 del 1 \r\n",
            LIMIT,
            MalformedLine,
        ),
        v(
            b"PREFIX a get 1 hit 1 set 1 del x\r\n",
            LIMIT,
            MalformedLine,
        ),
        v(
            b"PREFIX a get 1 hit 1 set 1 del -1\r\n",
            LIMIT,
            MalformedLine,
        ),
        v(
            b"PREFIX a gets 1 hit 1 set 1 del 1\r\n",
            LIMIT,
            MalformedLine,
        ),
        v(
            b"PREFIX a del 1 set 1 hit 1 get 1\r\n",
            LIMIT,
            MalformedLine,
        ),
        v(
            b"PREFIX a get 1  hit 1 set 1 del 1\r\n",
            LIMIT,
            MalformedLine,
        ),
        v(b"PREFIX get 1 hit 1 set 1 del 1\r\n", LIMIT, MalformedLine),
        v(
            b"PREFIX a get 18446744073709551616 hit 1 set 1 del 1\r\n",
            LIMIT,
            MalformedLine,
        ),
        (prefix_251, LIMIT, MalformedLine),
    ]
}

#[test]
fn every_invalid_input_fails_with_its_error_kind() {
    for (wire, limit, want) in invalid_vectors() {
        match parse_reply(&wire, limit) {
            Err(e) => assert_eq!(e.kind, want, "input {:?}", show(&wire)),
            Ok(status) => panic!("input {:?}: want {want:?}, got {status:?}", show(&wire)),
        }
    }
}

#[test]
fn a_value_over_the_limit_fails_on_the_header_alone() {
    let cases: &[(&[u8], usize, u64)] = &[
        (b"VALUE k 0 4294967296\r\n", 1024, 4_294_967_296),
        (b"VALUE k 0 1025\r\n", 1024, 1025),
        (b"VALUE k 0 1 0\r\n", 0, 1),
        (b"VALUE k 9 18446744073709551615 3\r\n", LIMIT, u64::MAX),
    ];
    for &(header, limit, claimed) in cases {
        let got = parse_reply(header, limit).expect_err(&show(header));
        assert_eq!(got.kind, ProtocolErrorKind::ValueTooLong { claimed, limit });
        // The error names the header it came from.
        assert!(got.excerpt.starts_with("VALUE k"), "{}", got.excerpt);
    }
    // At the limit is fine: the header alone waits for the data.
    assert_eq!(
        parse_reply(b"VALUE k 0 1024\r\n", 1024),
        Ok(Status::Incomplete)
    );
    assert_eq!(
        parse_reply(b"VALUE k 0 0\r\n\r\n", 0),
        Ok(Status::Complete {
            frame: Reply::Value(Value {
                key: b"k",
                flags: 0,
                cas: None,
                data: b""
            }),
            len: 15
        })
    );
}

#[test]
fn a_line_of_max_line_len_bytes_without_a_line_feed_is_too_long() {
    let line = vec![b'a'; MAX_LINE_LEN];
    let err = parse_reply(&line, LIMIT).unwrap_err();
    assert_eq!(err.kind, ProtocolErrorKind::LineTooLong);
    // One byte short of the limit, it may still end.
    assert_eq!(
        parse_reply(&line[..MAX_LINE_LEN - 1], LIMIT),
        Ok(Status::Incomplete)
    );
    // A longer buffer whose first line feed is past the limit is too long as well.
    let mut late_end = vec![b'a'; MAX_LINE_LEN];
    late_end.extend_from_slice(b"\r\n");
    assert_eq!(
        parse_reply(&late_end, LIMIT).unwrap_err().kind,
        ProtocolErrorKind::LineTooLong
    );
    // A line ending in \r right at the limit, whose \n would be one byte past it.
    let mut cr_at_limit = vec![b'a'; MAX_LINE_LEN - 1];
    cr_at_limit.push(b'\r');
    assert_eq!(
        parse_reply(&cr_at_limit, LIMIT).unwrap_err().kind,
        ProtocolErrorKind::LineTooLong
    );
}

#[test]
fn a_line_of_exactly_max_line_len_bytes_with_its_line_end_is_accepted() {
    // MAX_LINE_LEN counts the \r\n.
    let mut line = b"STAT big ".to_vec();
    line.resize(MAX_LINE_LEN - 2, b'v');
    line.extend_from_slice(b"\r\n");
    assert_eq!(line.len(), MAX_LINE_LEN);
    match parse_reply(&line, LIMIT) {
        Ok(Status::Complete {
            frame: Reply::Stat { name, value },
            len,
        }) => {
            assert_eq!(len, MAX_LINE_LEN);
            assert_eq!(name, b"big");
            assert_eq!(value.len(), MAX_LINE_LEN - 2 - 9);
        }
        other => panic!("{other:?}"),
    }
    // One more byte and it is not a reply line any more.
    let mut longer = b"STAT big ".to_vec();
    longer.resize(MAX_LINE_LEN - 1, b'v');
    longer.extend_from_slice(b"\r\n");
    assert_eq!(
        parse_reply(&longer, LIMIT).unwrap_err().kind,
        ProtocolErrorKind::LineTooLong
    );
}

/// Regression test (fails against `parse_value` as committed in 66cfd6d): `parse_reply`
/// promised that a claim within `max_value_len` "cannot overflow", but `line_len + claimed`
/// overflowed when the caller passes a very large limit (`Config::with_max_value_size(usize::MAX)`
/// is accepted as "no limit"). Debug builds panicked with "attempt to add with overflow";
/// release builds wrapped `data_end` below `line_len`: a claim of `u64::MAX - 1` then panicked
/// slicing `buf[line_len..line_len - 2]`, and `u64::MAX` gave `UnterminatedData`. The honest
/// answer is `Incomplete` (the data has not arrived) or `ValueTooLong` (no buffer could hold
/// it).
/// Found by reading the code, and again by the `parse_reply` fuzz target
/// (fuzz/regressions/parse_reply/value-claim-near-u64-max-overflows).
#[test]
fn a_huge_claim_under_an_unbounded_limit_does_not_overflow() {
    let headers: [&[u8]; 5] = [
        // The fuzz target's artifact, less its 2-byte limit prefix.
        b"VALUE greeting 0 18446744073709551615\r\n",
        b"VALUE k 0 18446744073709551615\r\n",
        // Wraps to data_end == line_len - 2 in release builds: a slice-index panic.
        b"VALUE k 0 18446744073709551614\r\n",
        b"VALUE k 0 18446744073709551600 5\r\n",
        // line_len (32) + claimed fits in a u64, but line_len + claimed + 2 does not.
        b"VALUE k 0 18446744073709551583\r\n",
    ];
    for header in headers {
        for extra in [&b""[..], b"x", b"xx\r\n"] {
            let mut buf = header.to_vec();
            buf.extend_from_slice(extra);
            let got = std::panic::catch_unwind(|| parse_reply(&buf, usize::MAX).map(|_| ()));
            let Ok(got) = got else {
                panic!("parse_reply({:?}, usize::MAX) panicked", show(&buf));
            };
            // Waiting for the data, or refusing a claim no buffer could ever hold: both are
            // honest; panicking is not.
            match (got, parse_reply(&buf, usize::MAX)) {
                (Ok(()), Ok(Status::Incomplete)) => {}
                (Err(_), Err(e)) if matches!(e.kind, ProtocolErrorKind::ValueTooLong { .. }) => {}
                (_, other) => panic!("{:?}: {other:?}", show(&buf)),
            }
        }
    }
}

/// Keys that try to end the command line early, add a second command, or break the key rules.
fn bad_keys() -> Vec<Vec<u8>> {
    vec![
        b"x\r\nflush_all".to_vec(),
        b"x\r\n".to_vec(),
        b"\r\n".to_vec(),
        b"k\n".to_vec(),
        b"k\r".to_vec(),
        b"a b".to_vec(),
        b" ".to_vec(),
        b"a\0b".to_vec(),
        b"\0".to_vec(),
        b"a\x7f".to_vec(),
        b"a\tb".to_vec(),
        b"k 0 0 1\r\nx\r\nset evil".to_vec(),
        Vec::new(),
        vec![b'k'; MAX_KEY_LEN + 1],
        vec![b'k'; 10_000],
    ]
}

#[test]
fn injection_keys_are_rejected_by_every_key_encoder_and_leave_the_buffer_alone() {
    const PRIOR: &[u8] = b"get prior\r\n";
    let storage = [
        StorageCommand::Set,
        StorageCommand::Add,
        StorageCommand::Replace,
        StorageCommand::Append,
        StorageCommand::Prepend,
        StorageCommand::Cas(7),
    ];
    let retrieval = [
        RetrievalCommand::Get,
        RetrievalCommand::Gets,
        RetrievalCommand::Gat(10),
        RetrievalCommand::Gats(-1),
    ];
    for key in bad_keys() {
        let want = validate_key(&key).expect_err(&show(&key));
        let mut results: Vec<(String, Vec<u8>, Result<(), KeyError>)> = Vec::new();
        let mut run = |name: String, f: &dyn Fn(&mut Vec<u8>) -> Result<(), KeyError>| {
            let mut buf = PRIOR.to_vec();
            let result = f(&mut buf);
            results.push((name, buf, result));
        };
        for command in storage {
            for noreply in [false, true] {
                run(format!("{command:?} noreply={noreply}"), &|b| {
                    encode_storage(b, command, &key, 1, 0, b"v", noreply)
                });
            }
        }
        for command in retrieval {
            run(format!("{command:?} alone"), &|b| {
                encode_retrieval(b, command, &[&key[..]])
            });
            run(format!("{command:?} after a good key"), &|b| {
                encode_retrieval(b, command, &[&b"good"[..], &key[..]])
            });
            run(format!("{command:?} lines"), &|b| {
                encode_retrieval_lines(b, command, &[&key[..]]).map(drop)
            });
            run(format!("{command:?} lines after many good keys"), &|b| {
                let mut keys: Vec<&[u8]> = vec![&KEY_250[..]; 20];
                keys.push(&key);
                encode_retrieval_lines(b, command, &keys).map(drop)
            });
        }
        for noreply in [false, true] {
            run(format!("delete noreply={noreply}"), &|b| {
                encode_delete(b, &key, noreply)
            });
            run(format!("incr noreply={noreply}"), &|b| {
                encode_arith(b, ArithCommand::Incr, &key, 1, noreply)
            });
            run(format!("decr noreply={noreply}"), &|b| {
                encode_arith(b, ArithCommand::Decr, &key, 1, noreply)
            });
            run(format!("touch noreply={noreply}"), &|b| {
                encode_touch(b, &key, 10, noreply)
            });
        }
        for (name, buf, result) in results {
            assert_eq!(result, Err(want), "{name} with key {:?}", show(&key));
            assert_eq!(
                show(&buf),
                show(PRIOR),
                "{name} with key {:?} touched the buffer",
                show(&key)
            );
        }
    }
}

#[test]
fn splitting_no_keys_plans_no_lines() {
    let none: [&[u8]; 0] = [];
    assert_eq!(split_retrieval_lines(RetrievalCommand::Get, &none), vec![]);
    // One key of any length is one line, even past the limit: encode_retrieval_lines rejects
    // over-long keys before it asks for a split.
    let huge = [vec![b'k'; 5000]];
    assert_eq!(
        split_retrieval_lines(RetrievalCommand::Gets, &huge),
        vec![0..1]
    );
}

#[test]
fn injection_through_stats_arguments_is_rejected() {
    for args in [
        &b"items\r\nflush_all"[..],
        b"settings\r\n",
        b"\r\n",
        b"a\0",
        b"slabs\x7f",
        b" items",
        b"items ",
        b"",
    ] {
        let mut buf = b"prior".to_vec();
        assert!(
            encode_stats(&mut buf, Some(args)).is_err(),
            "{:?}",
            show(args)
        );
        assert_eq!(buf, b"prior", "{:?}", show(args));
    }
}

#[test]
fn error_excerpts_are_escaped_and_bounded() {
    let garbage: Vec<u8> = (0..10 * 1024).map(|i| (i * 7 + 3) as u8).collect();
    let mut inputs: Vec<(Vec<u8>, ProtocolErrorKind)> = Vec::new();
    // 10 KiB without a usable line end.
    let no_lf: Vec<u8> = garbage
        .iter()
        .map(|&b| if b == b'\n' { b'?' } else { b })
        .collect();
    inputs.push((no_lf.clone(), ProtocolErrorKind::LineTooLong));
    inputs.push((vec![0xff; 10 * 1024], ProtocolErrorKind::LineTooLong));
    // A long but in-bounds garbage line with a proper end.
    let mut long_line = vec![b'\x01'; MAX_LINE_LEN - 2];
    long_line.extend_from_slice(b"\r\n");
    inputs.push((long_line, ProtocolErrorKind::UnknownReply));
    // A long line ended by a bare \n.
    let mut bare = vec![b'"'; 5000];
    bare.push(b'\n');
    inputs.push((bare, ProtocolErrorKind::BareLineFeed));
    // A long malformed STAT line.
    let mut stat = b"STAT ".to_vec();
    stat.extend(std::iter::repeat_n(b'\xfe', 6000));
    stat.extend_from_slice(b"\r\n");
    inputs.push((stat, ProtocolErrorKind::MalformedLine));
    for (input, kind) in inputs {
        let err = parse_reply(&input, LIMIT).unwrap_err();
        assert_eq!(err.kind, kind);
        let chars = err.excerpt.chars().count();
        assert!(chars > 0 && chars <= 200, "{chars} chars: {}", err.excerpt);
        assert!(
            err.excerpt
                .chars()
                .all(|c| c == '…' || (c.is_ascii_graphic() || c == ' ')),
            "unescaped character in {:?}",
            err.excerpt
        );
        let message = err.to_string();
        assert!(message.len() < 300, "{message}");
        assert!(!message.contains('\r') && !message.contains('\n'));
    }
}

#[test]
fn error_excerpts_quote_the_offending_line() {
    let err = parse_reply(b"HELLO \"world\"\t\r\nSTORED\r\n", LIMIT).unwrap_err();
    assert_eq!(err.kind, ProtocolErrorKind::UnknownReply);
    assert_eq!(err.excerpt, r#"HELLO \"world\"\t"#);
    assert_eq!(
        err.to_string(),
        r#"unknown reply (got "HELLO \"world\"\t")"#
    );
    let err = ProtocolError::new(ProtocolErrorKind::UnknownReply, &[b'a'; 100]);
    assert!(err.excerpt.starts_with("aaaa") && err.excerpt.ends_with('…'));
    assert!(err.excerpt.chars().count() <= 65);
}

fn kind(reply: &Reply<'_>) -> &'static str {
    match reply {
        Reply::Stored => "STORED",
        Reply::NotStored => "NOT_STORED",
        Reply::Exists => "EXISTS",
        Reply::NotFound => "NOT_FOUND",
        Reply::Deleted => "DELETED",
        Reply::Touched => "TOUCHED",
        Reply::Ok => "OK",
        Reply::Reset => "RESET",
        Reply::End => "END",
        Reply::Value(_) => "VALUE",
        Reply::Stat { .. } => "STAT",
        Reply::CachedumpItem { .. } => "ITEM",
        Reply::Prefix { .. } => "PREFIX",
        Reply::Version(_) => "VERSION",
        Reply::Number(_) => "number",
        Reply::Error(_) => "ERROR",
        Reply::ClientError(_) => "CLIENT_ERROR",
        Reply::ServerError(_) => "SERVER_ERROR",
    }
}

/// Replies captured from a real memcached by `fuzz/capture_seeds.py` (also the fuzz seeds):
/// each decodes completely, frame by frame, with no error and nothing left over, and each
/// frame is exactly what `encode_reply` writes for it.
#[test]
fn real_memcached_replies_decode_completely_and_re_encode_byte_for_byte() {
    let mut kinds = std::collections::HashSet::new();
    for (name, wire) in support::captures::captures("replies") {
        let mut rest = &wire[..];
        while !rest.is_empty() {
            let (frame, len) = match parse_reply(rest, LIMIT) {
                Ok(Status::Complete { frame, len }) => (frame, len),
                other => panic!(
                    "{name}: {other:?} at {:?}",
                    show(&rest[..rest.len().min(80)])
                ),
            };
            let mut encoded = Vec::new();
            encode_reply(&frame, &mut encoded);
            let original = &rest[..len];
            if let Reply::Number(_) = frame {
                // memcached may pad a number; the canonical form drops the padding.
                let digits_end = original[..len - 2]
                    .iter()
                    .rposition(|&b| b != b' ')
                    .map_or(0, |i| i + 1);
                assert_eq!(&encoded[..encoded.len() - 2], &original[..digits_end]);
            } else {
                assert_eq!(show(&encoded), show(original), "{name}");
            }
            kinds.insert(kind(&frame));
            rest = &rest[len..];
        }
    }
    // Between them, the captures hold every kind of reply.
    assert_eq!(
        kinds.len(),
        18,
        "reply kinds seen in the captures: {kinds:?}"
    );
}

// ---- parse_value_header -------------------------------------------------------------------

/// Every valid frame: a `VALUE` header decodes to the fields `parse_reply` gives, with the
/// header line's length, from the header line alone and from every longer prefix; any other
/// frame is `None` with its line's length.
#[test]
fn every_valid_frame_s_header_decodes_as_parse_reply_decodes_it() {
    for (wire, frame) in valid_vectors() {
        let line_len = wire.iter().position(|&b| b == b'\n').unwrap() + 1;
        for end in line_len..=wire.len() {
            let got = parse_value_header(&wire[..end], LIMIT)
                .unwrap_or_else(|e| panic!("{:?}: {e}", show(&wire)));
            let want = match frame {
                Reply::Value(Value {
                    key,
                    flags,
                    cas,
                    data,
                }) => Some(ValueHeader {
                    key,
                    flags,
                    cas,
                    data_len: data.len(),
                }),
                _ => None,
            };
            assert_eq!(
                got,
                Status::Complete {
                    frame: want,
                    len: line_len
                },
                "{:?} cut at {end}",
                show(&wire)
            );
        }
        for end in 0..line_len {
            assert_eq!(
                parse_value_header(&wire[..end], LIMIT).unwrap(),
                Status::Incomplete,
                "{:?} cut at {end}",
                show(&wire)
            );
        }
    }
}

/// Every invalid input whose first line alone is wrong fails `parse_value_header` with the
/// error `parse_reply` gives; the errors that need the data block (a wrong terminator) are
/// `parse_reply`'s alone.
#[test]
fn every_invalid_header_fails_parse_value_header_as_it_fails_parse_reply() {
    for (wire, limit, want) in invalid_vectors() {
        if want == ProtocolErrorKind::UnterminatedData {
            assert!(
                matches!(
                    parse_value_header(&wire, limit),
                    Ok(Status::Complete { frame: Some(_), .. })
                ),
                "{:?}",
                show(&wire)
            );
            continue;
        }
        match parse_value_header(&wire, limit) {
            // Not a VALUE line: parse_reply is the one to refuse it.
            Ok(Status::Complete { frame: None, .. }) => {}
            Err(e) => {
                assert_eq!(
                    e,
                    parse_reply(&wire, limit).unwrap_err(),
                    "{:?}",
                    show(&wire)
                )
            }
            other => panic!("input {:?}: want {want:?}, got {other:?}", show(&wire)),
        }
    }
}

#[test]
fn a_value_header_reports_a_claim_before_any_data_and_refuses_one_over_the_limit() {
    let header = b"VALUE k 3 1048576 77\r\n";
    assert_eq!(
        parse_value_header(header, LIMIT).unwrap(),
        Status::Complete {
            frame: Some(ValueHeader {
                key: b"k",
                flags: 3,
                cas: Some(77),
                data_len: LIMIT
            }),
            len: header.len()
        }
    );
    let error = parse_value_header(header, LIMIT - 1).unwrap_err();
    assert_eq!(
        error.kind,
        ProtocolErrorKind::ValueTooLong {
            claimed: LIMIT as u64,
            limit: LIMIT - 1
        }
    );
    assert_eq!(error, parse_reply(header, LIMIT - 1).unwrap_err());
    // Under an unbounded limit, a claim whose frame length would overflow is refused too.
    let huge = format!("VALUE k 0 {}\r\n", u64::MAX);
    let error = parse_value_header(huge.as_bytes(), usize::MAX).unwrap_err();
    assert!(matches!(error.kind, ProtocolErrorKind::ValueTooLong { .. }));
    assert_eq!(error, parse_reply(huge.as_bytes(), usize::MAX).unwrap_err());
}

#[test]
fn a_storage_line_is_what_encode_storage_writes_before_the_value() {
    let commands = [
        StorageCommand::Set,
        StorageCommand::Add,
        StorageCommand::Replace,
        StorageCommand::Append,
        StorageCommand::Prepend,
        StorageCommand::Cas(u64::MAX),
    ];
    for command in commands {
        for noreply in [false, true] {
            for value in [&b""[..], b"v", &[b'\r'; 9000]] {
                let (mut line, mut whole) = (Vec::new(), Vec::new());
                encode_storage_line(&mut line, command, b"key", 7, -1, value.len(), noreply)
                    .unwrap();
                encode_storage(&mut whole, command, b"key", 7, -1, value, noreply).unwrap();
                assert_eq!([&line[..], value, b"\r\n"].concat(), whole);
            }
        }
        let mut buf = b"kept".to_vec();
        let refused = encode_storage_line(&mut buf, command, b"bad key", 0, 0, 1, false);
        assert!(refused.is_err());
        assert_eq!(buf, b"kept");
    }
}
