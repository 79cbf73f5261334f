//! Property tests for the sans-IO meta-command codec (`memcache_sync::protocol::meta`): replies
//! round-trip through `encode_meta_reply`/`parse_meta_reply`, every prefix of a valid reply is
//! incomplete, decoding a stream in arbitrary chunks equals decoding it whole, arbitrary bytes
//! never panic nor make a reader buffer past its limit, no valid key, opaque or token gives a
//! request more than one command line, and base64 keys round-trip up to their encoded limit.

use memcache_sync::protocol::meta::{
    base64, encode_meta_reply, parse_meta_reply, ArithmeticMode, DebugReply, Echo, EchoedKey,
    MetaArithmetic, MetaDebug, MetaDelete, MetaError, MetaGet, MetaReply, MetaResponse, MetaSet,
    ReturnCode, ReturnedFlags, SetMode, Ttl, MAX_BASE64_KEY_LEN, MAX_OPAQUE_LEN,
};
use memcache_sync::protocol::{
    ProtocolError, ProtocolErrorKind, Status, MAX_KEY_LEN, MAX_LINE_LEN,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

/// The value limit for round trips: above any value the strategies make.
const LIMIT: usize = 64 * 1024;

// ---------------------------------------------------------------------------------------------
// Owned replies, so strategies can produce them and tests can borrow `MetaReply`s from them.

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct OwnedFlags {
    cas: Option<u64>,
    client_flags: Option<u32>,
    hit_before: Option<bool>,
    /// The key as on the wire, and whether it is base64.
    key: Option<(Vec<u8>, bool)>,
    last_access: Option<u64>,
    opaque: Option<Vec<u8>>,
    size: Option<u64>,
    ttl: Option<Ttl>,
    won: bool,
    stale: bool,
    win_already_sent: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum OwnedReply {
    Response {
        code: ReturnCode,
        flags: OwnedFlags,
        value: Option<Vec<u8>>,
    },
    Debug {
        key: Vec<u8>,
        fields: Vec<u8>,
    },
    Error(Vec<u8>),
    ClientError(Vec<u8>),
    ServerError(Vec<u8>),
}

impl OwnedReply {
    fn borrow(&self) -> MetaReply<'_> {
        match self {
            Self::Response { code, flags, value } => MetaReply::Response(MetaResponse {
                code: *code,
                flags: ReturnedFlags {
                    cas: flags.cas,
                    client_flags: flags.client_flags,
                    hit_before: flags.hit_before,
                    key: flags.key.as_ref().map(|(key, base64)| {
                        if *base64 {
                            EchoedKey::Base64(key)
                        } else {
                            EchoedKey::Plain(key)
                        }
                    }),
                    last_access: flags.last_access,
                    opaque: flags.opaque.as_deref(),
                    size: flags.size,
                    ttl: flags.ttl,
                    won: flags.won,
                    stale: flags.stale,
                    win_already_sent: flags.win_already_sent,
                },
                value: value.as_deref(),
            }),
            Self::Debug { key, fields } => MetaReply::Debug(DebugReply { key, fields }),
            Self::Error(m) => MetaReply::Error(m),
            Self::ClientError(m) => MetaReply::ClientError(m),
            Self::ServerError(m) => MetaReply::ServerError(m),
        }
    }

    fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        encode_meta_reply(&self.borrow(), &mut buf);
        buf
    }
}

/// Bytes a classic key may hold: no control bytes, space or DEL.
fn key_byte() -> impl Strategy<Value = u8> {
    prop_oneof![0x21u8..=0x7e, 0x80u8..=0xff]
}

fn classic_key() -> impl Strategy<Value = Vec<u8>> {
    vec(key_byte(), 1..=MAX_KEY_LEN)
}

fn short_token(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(0x21u8..=0x7e, 1..=max)
}

fn base64_of(raw: &[u8]) -> Vec<u8> {
    let mut wire = Vec::new();
    base64::encode(raw, &mut wire);
    wire
}

fn echoed_key() -> impl Strategy<Value = (Vec<u8>, bool)> {
    prop_oneof![
        classic_key().prop_map(|key| (key, false)),
        vec(any::<u8>(), 1..=MAX_BASE64_KEY_LEN).prop_map(|raw| (base64_of(&raw), true)),
    ]
}

fn ttl() -> impl Strategy<Value = Ttl> {
    prop_oneof![Just(Ttl::Unlimited), any::<u64>().prop_map(Ttl::Seconds)]
}

fn owned_flags() -> impl Strategy<Value = OwnedFlags> {
    (
        (
            proptest::option::of(any::<u64>()),
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<bool>()),
            proptest::option::of(echoed_key()),
        ),
        (
            proptest::option::of(any::<u64>()),
            proptest::option::of(vec(0x21u8..=0x7e, 0..=MAX_OPAQUE_LEN)),
            proptest::option::of(any::<u64>()),
            proptest::option::of(ttl()),
        ),
        (any::<bool>(), any::<bool>(), any::<bool>()),
    )
        .prop_map(
            |(
                (cas, client_flags, hit_before, key),
                (last_access, opaque, size, ttl),
                (won, stale, win_already_sent),
            )| OwnedFlags {
                cas,
                client_flags,
                hit_before,
                key,
                last_access,
                opaque,
                size,
                ttl,
                won,
                stale,
                win_already_sent,
            },
        )
}

fn return_code() -> impl Strategy<Value = ReturnCode> {
    select(vec![
        ReturnCode::Success,
        ReturnCode::Value,
        ReturnCode::Miss,
        ReturnCode::NotStored,
        ReturnCode::Exists,
        ReturnCode::NotFound,
        ReturnCode::Noop,
    ])
}

/// Error messages: printable, spaces allowed, no line end.
fn message() -> impl Strategy<Value = Vec<u8>> {
    vec(0x20u8..=0x7e, 0..40)
}

/// `name=value` fields joined by single spaces, as `me` writes them.
fn debug_fields() -> impl Strategy<Value = Vec<u8>> {
    vec((vec(b'a'..=b'z', 1..6), vec(0x21u8..=0x7e, 0..10)), 0..8).prop_map(|fields| {
        let fields: Vec<Vec<u8>> = fields
            .into_iter()
            .map(|(name, value)| [&name[..], b"=", &value].concat())
            .collect();
        fields.join(&b' ')
    })
}

fn owned_reply() -> impl Strategy<Value = OwnedReply> {
    prop_oneof![
        6 => (return_code(), owned_flags(), vec(any::<u8>(), 0..200)).prop_map(
            |(code, flags, data)| OwnedReply::Response {
                code,
                flags,
                value: (code == ReturnCode::Value).then_some(data),
            }
        ),
        1 => (classic_key(), debug_fields())
            .prop_map(|(key, fields)| OwnedReply::Debug { key, fields }),
        1 => message().prop_map(OwnedReply::Error),
        1 => message().prop_map(OwnedReply::ClientError),
        1 => message().prop_map(OwnedReply::ServerError),
    ]
}

/// Frames (owned), the error that stopped decoding, and the bytes used, decoding from the
/// start of `buf` until it is incomplete or broken.
fn decode_all(buf: &[u8], limit: usize) -> (Vec<OwnedReply>, Option<ProtocolError>, usize) {
    let mut frames = Vec::new();
    let mut used = 0;
    loop {
        match parse_meta_reply(&buf[used..], limit) {
            Ok(Status::Complete { frame, len }) => {
                assert!(len > 0 && len <= buf.len() - used);
                frames.push(own(&frame));
                used += len;
            }
            Ok(Status::Incomplete) => return (frames, None, used),
            Err(e) => return (frames, Some(e), used),
        }
    }
}

fn own(frame: &MetaReply<'_>) -> OwnedReply {
    match *frame {
        MetaReply::Response(r) => OwnedReply::Response {
            code: r.code,
            flags: OwnedFlags {
                cas: r.flags.cas,
                client_flags: r.flags.client_flags,
                hit_before: r.flags.hit_before,
                key: r.flags.key.map(|key| match key {
                    EchoedKey::Plain(k) => (k.to_vec(), false),
                    EchoedKey::Base64(k) => (k.to_vec(), true),
                }),
                last_access: r.flags.last_access,
                opaque: r.flags.opaque.map(<[u8]>::to_vec),
                size: r.flags.size,
                ttl: r.flags.ttl,
                won: r.flags.won,
                stale: r.flags.stale,
                win_already_sent: r.flags.win_already_sent,
            },
            value: r.value.map(<[u8]>::to_vec),
        },
        MetaReply::Debug(d) => OwnedReply::Debug {
            key: d.key.to_vec(),
            fields: d.fields.to_vec(),
        },
        MetaReply::Error(m) => OwnedReply::Error(m.to_vec()),
        MetaReply::ClientError(m) => OwnedReply::ClientError(m.to_vec()),
        MetaReply::ServerError(m) => OwnedReply::ServerError(m.to_vec()),
    }
}

// ---------------------------------------------------------------------------------------------
// Replies.

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_reply_round_trips_through_encode_and_parse(reply in owned_reply()) {
        let wire = reply.encode();
        prop_assert!(wire.len() < MAX_LINE_LEN + 200 + 2);
        let got = parse_meta_reply(&wire, LIMIT);
        prop_assert_eq!(
            got,
            Ok(Status::Complete { frame: reply.borrow(), len: wire.len() }),
            "{:?}", wire.escape_ascii().to_string()
        );
    }

    #[test]
    fn every_proper_prefix_of_a_reply_is_incomplete(reply in owned_reply()) {
        let wire = reply.encode();
        for end in 0..wire.len() {
            prop_assert_eq!(
                parse_meta_reply(&wire[..end], LIMIT),
                Ok(Status::Incomplete),
                "prefix {:?}", wire[..end].escape_ascii().to_string()
            );
        }
    }

    #[test]
    fn any_split_of_a_reply_stream_decodes_like_the_whole(
        replies in vec(owned_reply(), 1..8),
        cuts in vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let stream: Vec<u8> = replies.iter().flat_map(OwnedReply::encode).collect();
        let (whole, error, used) = decode_all(&stream, LIMIT);
        prop_assert!(error.is_none());
        prop_assert_eq!(used, stream.len());
        prop_assert_eq!(&whole, &replies);

        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        cuts.push(stream.len());
        cuts.sort_unstable();
        let mut buf = Vec::new();
        let mut fed = 0;
        let mut chunked = Vec::new();
        for cut in cuts {
            buf.extend_from_slice(&stream[fed..cut]);
            fed = cut;
            let (frames, error, used) = decode_all(&buf, LIMIT);
            prop_assert!(error.is_none());
            chunked.extend(frames);
            buf.drain(..used);
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(chunked, replies);
    }

    #[test]
    fn a_smaller_limit_refuses_a_value_it_cannot_hold_and_changes_nothing_else(
        reply in owned_reply(),
        limit in 0usize..256,
    ) {
        let wire = reply.encode();
        let got = parse_meta_reply(&wire, limit);
        match &reply {
            OwnedReply::Response { value: Some(value), .. } if value.len() > limit => {
                let err = got.unwrap_err();
                let claimed_too_long = matches!(
                    err.kind,
                    ProtocolErrorKind::ValueTooLong { claimed, limit: l }
                        if claimed == value.len() as u64 && l == limit
                );
                prop_assert!(claimed_too_long, "{:?}", err);
            }
            _ => prop_assert_eq!(
                got,
                Ok(Status::Complete { frame: reply.borrow(), len: wire.len() })
            ),
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_never_ask_to_buffer_past_the_limit(
        bytes in vec(any::<u8>(), 0..600),
        limit in 0usize..300,
    ) {
        check_hostile(&bytes, limit)?;
    }

    #[test]
    fn mutated_replies_never_panic_and_never_ask_to_buffer_past_the_limit(
        replies in vec(owned_reply(), 1..4),
        edits in vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
        limit in 0usize..300,
    ) {
        let mut bytes: Vec<u8> = replies.iter().flat_map(OwnedReply::encode).collect();
        for (at, byte, op) in edits {
            let i = at.index(bytes.len() + 1);
            match op {
                0 => bytes.insert(i, byte),
                1 if i < bytes.len() => { bytes.remove(i); }
                _ if i < bytes.len() => bytes[i] = byte,
                _ => {}
            }
        }
        check_hostile(&bytes, limit)?;
    }
}

/// Decodes `bytes` frame after frame: frames have sane lengths and survive re-encoding,
/// `Incomplete` only while fewer bytes than one line plus one value are buffered, and errors
/// quote a short, escaped excerpt.
fn check_hostile(bytes: &[u8], limit: usize) -> Result<(), TestCaseError> {
    let mut rest = bytes;
    loop {
        match parse_meta_reply(rest, limit) {
            Ok(Status::Complete { frame, len }) => {
                prop_assert!(len > 0 && len <= rest.len());
                let mut encoded = Vec::new();
                encode_meta_reply(&frame, &mut encoded);
                prop_assert!(encoded.len() <= len, "re-encoding grew the frame");
                prop_assert_eq!(
                    parse_meta_reply(&encoded, limit),
                    Ok(Status::Complete {
                        frame,
                        len: encoded.len()
                    })
                );
                rest = &rest[len..];
            }
            Ok(Status::Incomplete) => {
                prop_assert!(rest.len() < MAX_LINE_LEN + limit + 2);
                return Ok(());
            }
            Err(e) => {
                prop_assert!(e.excerpt.chars().count() <= 200);
                prop_assert!(!e.excerpt.contains(['\r', '\n', '\0']));
                return Ok(());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Requests.

/// Turns one `mg` flag on.
type GetSwitch<'a> = fn(MetaGet<'a>) -> MetaGet<'a>;

/// Every optional part of a request, drawn at random; each command uses what it has.
#[derive(Debug, Clone)]
struct Parts {
    key: Vec<u8>,
    base64: bool,
    opaque: Option<Vec<u8>>,
    hint_p: Option<Vec<u8>>,
    hint_l: Option<Vec<u8>>,
    switches: u32,
    numbers: [u64; 4],
    ttls: [i64; 3],
    mode: u8,
    value: Vec<u8>,
}

fn parts(key: impl Strategy<Value = (Vec<u8>, bool)>) -> impl Strategy<Value = Parts> {
    let ttl = || i64::from(i32::MIN)..=i64::from(i32::MAX);
    (
        key,
        proptest::option::of(short_token(MAX_OPAQUE_LEN)),
        proptest::option::of(vec(key_byte(), 1..=MAX_KEY_LEN)),
        proptest::option::of(vec(key_byte(), 1..=MAX_KEY_LEN)),
        any::<u32>(),
        any::<[u64; 4]>(),
        [ttl(), ttl(), ttl()],
        0u8..7,
        vec(any::<u8>(), 0..64),
    )
        .prop_map(
            |((key, base64), opaque, hint_p, hint_l, switches, numbers, ttls, mode, value)| Parts {
                key,
                base64,
                opaque,
                hint_p,
                hint_l,
                switches,
                numbers,
                ttls,
                mode,
                value,
            },
        )
}

/// A valid key in either mode: a classic key, or any bytes up to the base64 limit.
fn valid_key() -> impl Strategy<Value = (Vec<u8>, bool)> {
    prop_oneof![
        classic_key().prop_map(|k| (k, false)),
        vec(any::<u8>(), 1..=MAX_BASE64_KEY_LEN).prop_map(|k| (k, true)),
    ]
}

impl Parts {
    fn on(&self, bit: u32) -> bool {
        self.switches & (1 << bit) != 0
    }

    /// Encodes the parts as command `which` (0 mg, 1 ms, 2 md, 3 ma, 4 me).
    fn encode<'a>(&'a self, which: u8, buf: &mut Vec<u8>) -> Result<(), MetaError> {
        macro_rules! common {
            ($r:expr) => {{
                let mut r = $r;
                if self.base64 {
                    r = r.base64_key();
                }
                if self.on(0) {
                    r = r.return_key();
                }
                if self.on(1) {
                    r = r.quiet();
                }
                if let Some(o) = &self.opaque {
                    r = r.opaque(o);
                }
                if let Some(p) = &self.hint_p {
                    r = r.hint_p(p);
                }
                if let Some(l) = &self.hint_l {
                    r = r.hint_l(l);
                }
                r
            }};
        }
        let [n0, n1, n2, n3] = self.numbers;
        let [t0, t1, t2] = self.ttls;
        match which {
            0 => {
                let mut r = common!(MetaGet::new(&self.key));
                let switches: [(u32, GetSwitch<'a>); 8] = [
                    (2, |r| r.value()),
                    (3, |r| r.return_cas()),
                    (4, |r| r.return_client_flags()),
                    (5, |r| r.return_hit()),
                    (6, |r| r.return_last_access()),
                    (7, |r| r.return_size()),
                    (8, |r| r.return_ttl()),
                    (9, |r| r.no_lru_bump()),
                ];
                for (bit, switch) in switches {
                    if self.on(bit) {
                        r = switch(r);
                    }
                }
                if self.on(11) {
                    r = r.unless_cas(n0);
                }
                if self.on(12) {
                    r = r.new_cas(n1);
                }
                if self.on(13) {
                    r = r.vivify_on_miss(t0);
                }
                if self.on(14) {
                    r = r.recache_below(t1);
                }
                if self.on(15) {
                    r = r.touch(t2);
                }
                r.encode(buf)
            }
            1 => {
                let mode = match self.mode {
                    0 => SetMode::Set,
                    1 => SetMode::Add,
                    2 => SetMode::Replace,
                    3 => SetMode::Append,
                    4 => SetMode::Prepend,
                    5 => SetMode::AppendOrCreate { ttl: t0 },
                    _ => SetMode::PrependOrCreate { ttl: t0 },
                };
                let mut r = common!(MetaSet::new(&self.key, &self.value)).mode(mode);
                if self.on(2) {
                    r = r.client_flags(n0 as u32);
                }
                if self.on(3) {
                    r = r.ttl(t1);
                }
                if self.on(4) {
                    r = r.compare_cas(n1);
                }
                if self.on(5) {
                    r = r.compare_cas_allow_stale(n1);
                }
                if self.on(6) {
                    r = r.new_cas(n2);
                }
                if self.on(7) {
                    r = r.return_cas();
                }
                if self.on(8) {
                    r = r.return_size();
                }
                r.encode(buf)
            }
            2 => {
                let mut r = common!(MetaDelete::new(&self.key));
                if self.on(2) {
                    r = r.compare_cas(n0);
                }
                if self.on(3) {
                    r = r.new_cas(n1);
                }
                if self.on(4) {
                    r = r.invalidate();
                }
                if self.on(5) {
                    r = r.invalidate_with_ttl(t0);
                }
                if self.on(6) {
                    r = r.remove_value();
                }
                r.encode(buf)
            }
            3 => {
                let mode = if self.on(2) {
                    ArithmeticMode::Decrement
                } else {
                    ArithmeticMode::Increment
                };
                let mut r = common!(MetaArithmetic::new(&self.key, mode));
                if self.on(3) {
                    r = r.delta(n0);
                }
                if self.on(4) {
                    r = r.create_on_miss(t0, n1);
                }
                if self.on(5) {
                    r = r.ttl(t1);
                }
                if self.on(6) {
                    r = r.compare_cas(n2);
                }
                if self.on(7) {
                    r = r.new_cas(n3);
                }
                if self.on(8) {
                    r = r.value();
                }
                if self.on(9) {
                    r = r.return_ttl();
                }
                if self.on(10) {
                    r = r.return_cas();
                }
                r.encode(buf)
            }
            _ => {
                let r = MetaDebug::new(&self.key);
                if self.base64 { r.base64_key() } else { r }.encode(buf)
            }
        }
    }
}

/// Checks `buf` holds exactly one command line (and, for `ms`, its data block) the way
/// memcached reads it: the command, the key token, then flag tokens with distinct letters.
fn check_one_command(buf: &[u8], parts: &Parts, which: u8) -> Result<(), TestCaseError> {
    let line_end = buf.iter().position(|&b| b == b'\n').unwrap();
    let line = &buf[..=line_end];
    prop_assert!(
        line.ends_with(b"\r\n"),
        "{:?}",
        line.escape_ascii().to_string()
    );
    let body = &line[..line.len() - 2];
    prop_assert!(!body.contains(&b'\r') && !body.contains(&0));
    prop_assert!(line.len() <= 2048, "{} bytes", line.len());
    let rest = &buf[line_end + 1..];
    if which == 1 {
        prop_assert_eq!(rest, &[&parts.value[..], b"\r\n"].concat()[..]);
    } else {
        prop_assert!(
            rest.is_empty(),
            "a second line: {:?}",
            rest.escape_ascii().to_string()
        );
    }
    let tokens: Vec<&[u8]> = body.split(|&b| b == b' ').collect();
    prop_assert!(tokens.iter().all(|t| !t.is_empty()), "an empty token");
    let command: &[u8] = [&b"mg"[..], b"ms", b"md", b"ma", b"me"][usize::from(which)];
    prop_assert_eq!(tokens[0], command);
    let key = if parts.base64 {
        base64_of(&parts.key)
    } else {
        parts.key.clone()
    };
    prop_assert_eq!(tokens[1], &key[..]);
    prop_assert!(tokens[1].len() <= MAX_KEY_LEN);
    let flags = if which == 1 {
        let len = parts.value.len().to_string();
        prop_assert_eq!(tokens[2], len.as_bytes());
        &tokens[3..]
    } else {
        &tokens[2..]
    };
    let mut seen = std::collections::HashSet::new();
    for flag in flags {
        prop_assert!(seen.insert(flag[0]), "flag {} twice", flag[0] as char);
    }
    prop_assert_eq!(seen.contains(&b'b'), parts.base64);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_valid_key_opaque_or_token_makes_more_than_one_command(
        parts in parts(valid_key()),
        which in 0u8..5,
    ) {
        let mut buf = Vec::new();
        prop_assert_eq!(parts.encode(which, &mut buf), Ok(()));
        check_one_command(&buf, &parts, which)?;
    }

    #[test]
    fn an_invalid_key_or_token_is_refused_and_leaves_the_buffer_alone(
        parts in parts(valid_key()),
        which in 0u8..4,
        bad in vec(any::<u8>(), 0..300),
        slot in 0u8..4,
    ) {
        let mut parts = parts;
        let classic_ok = !bad.is_empty()
            && bad.len() <= MAX_KEY_LEN
            && bad.iter().all(|&b| b > b' ' && b != 0x7f);
        let expect_error = match slot {
            0 => {
                parts.base64 = false;
                parts.key = bad;
                !classic_ok
            }
            1 => {
                let ok = classic_ok && bad.len() <= MAX_OPAQUE_LEN;
                parts.opaque = Some(bad);
                !ok
            }
            2 => {
                parts.hint_p = Some(bad);
                !classic_ok
            }
            _ => {
                parts.base64 = true;
                let ok = !bad.is_empty() && bad.len() <= MAX_BASE64_KEY_LEN;
                parts.key = bad;
                !ok
            }
        };
        let mut buf = b"prior".to_vec();
        let got = parts.encode(which, &mut buf);
        if expect_error {
            prop_assert!(got.is_err());
            prop_assert_eq!(&buf[..], b"prior");
        } else {
            prop_assert_eq!(got, Ok(()));
            check_one_command(&buf[5..], &parts, which)?;
        }
    }

    #[test]
    fn a_reply_echoing_a_request_matches_it_and_no_other(
        parts in parts(valid_key()),
        which in 0u8..4,
        other_opaque in short_token(MAX_OPAQUE_LEN),
        echo_base64 in any::<bool>(),
    ) {
        let echo = echo_of(which, &parts.key, parts.opaque.as_deref());
        // memcached echoes a key base64-encoded when the item was stored that way (which needs
        // it to fit the base64 limit); a key that is no classic key can only have been.
        let classic = parts.key.len() <= MAX_KEY_LEN
            && parts.key.iter().all(|&b| b > b' ' && b != 0x7f);
        let echo_base64 = (echo_base64 && parts.key.len() <= MAX_BASE64_KEY_LEN) || !classic;
        let wire_key = if echo_base64 { base64_of(&parts.key) } else { parts.key.clone() };
        let reply = OwnedReply::Response {
            code: ReturnCode::Success,
            flags: OwnedFlags {
                key: Some((wire_key, echo_base64)),
                opaque: parts.opaque.clone(),
                ..OwnedFlags::default()
            },
            value: None,
        };
        let wire = reply.encode();
        let frame = match parse_meta_reply(&wire, LIMIT) {
            Ok(Status::Complete { frame, .. }) => frame,
            other => return Err(TestCaseError::fail(format!("{other:?}"))),
        };
        let flags = frame.flags().unwrap();
        prop_assert!(echo.matches(flags));
        prop_assert_eq!(frame.key().unwrap().to_vec(), parts.key.clone());
        if parts.opaque.as_ref() != Some(&other_opaque) {
            prop_assert!(!echo_of(which, &parts.key, Some(&other_opaque)).matches(flags));
        }
        let mut other_key = parts.key.clone();
        other_key[0] ^= 1;
        prop_assert!(!echo_of(which, &other_key, parts.opaque.as_deref()).matches(flags));
        let mut longer_key = parts.key.clone();
        longer_key.push(b'x');
        prop_assert!(!echo_of(which, &longer_key, parts.opaque.as_deref()).matches(flags));
        // A reply without the echoes its request asked for answers some other request.
        prop_assert!(!echo.matches(&ReturnedFlags::default()));
    }
}

/// The echo command `which` (0 mg, 1 ms, 2 md, 3 ma) asks for with `k` and `opaque`.
fn echo_of<'a>(which: u8, key: &'a [u8], opaque: Option<&'a [u8]>) -> Echo<'a> {
    let echo = match which {
        0 => MetaGet::new(key).return_key().echo(),
        1 => MetaSet::new(key, b"").return_key().echo(),
        2 => MetaDelete::new(key).return_key().echo(),
        _ => MetaArithmetic::incr(key).return_key().echo(),
    };
    Echo { opaque, ..echo }
}

// ---------------------------------------------------------------------------------------------
// base64.

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn base64_round_trips_any_bytes_up_to_187(raw in vec(any::<u8>(), 0..=187)) {
        let wire = base64_of(&raw);
        prop_assert_eq!(wire.len(), base64::encoded_len(raw.len()));
        prop_assert_eq!(base64::validate(&wire), Ok(raw.len()));
        let mut decoded = Vec::new();
        base64::decode(&wire, &mut decoded).unwrap();
        prop_assert_eq!(&decoded, &raw);
        let mut slice = [0u8; 187];
        prop_assert_eq!(base64::decode_to_slice(&wire, &mut slice), Ok(raw.len()));
        prop_assert_eq!(&slice[..raw.len()], &raw[..]);
        if !raw.is_empty() && wire.len() <= MAX_KEY_LEN {
            prop_assert!(EchoedKey::Base64(&wire).matches(&raw));
        }
    }

    #[test]
    fn base64_keys_are_sent_up_to_the_encoded_limit_and_refused_above(
        raw in vec(any::<u8>(), 1..=400),
        which in 0u8..5,
    ) {
        let parts = Parts {
            key: raw.clone(),
            base64: true,
            opaque: None,
            hint_p: None,
            hint_l: None,
            switches: 0,
            numbers: [0; 4],
            ttls: [0; 3],
            mode: 0,
            value: Vec::new(),
        };
        let mut buf = Vec::new();
        let got = parts.encode(which, &mut buf);
        if base64::encoded_len(raw.len()) <= MAX_KEY_LEN {
            prop_assert!(raw.len() <= MAX_BASE64_KEY_LEN);
            prop_assert_eq!(got, Ok(()));
            check_one_command(&buf, &parts, which)?;
        } else {
            prop_assert!(raw.len() > MAX_BASE64_KEY_LEN);
            prop_assert_eq!(got, Err(MetaError::Base64KeyTooLong { len: raw.len() }));
            prop_assert!(buf.is_empty());
        }
    }

    #[test]
    fn base64_decoding_arbitrary_bytes_never_panics_and_accepts_only_canonical_input(
        wire in prop_oneof![
            vec(any::<u8>(), 0..64),
            vec(select(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=".to_vec()), 0..64),
        ]
    ) {
        let mut decoded = Vec::new();
        match base64::decode(&wire, &mut decoded) {
            Ok(()) => prop_assert_eq!(&base64_of(&decoded), &wire),
            Err(_) => prop_assert!(decoded.is_empty()),
        }
        let mut slice = [0u8; 48];
        let to_slice = base64::decode_to_slice(&wire, &mut slice);
        prop_assert_eq!(to_slice.is_ok(), base64::validate(&wire).is_ok());
    }
}
