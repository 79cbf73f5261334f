//! Large values on the direct paths: a `VALUE` data block read straight into its destination
//! (not through the read buffer), and a large store written with vectored writes. Against a
//! scripted server that sends a reply in pieces, so the read path is exercised across many
//! reads, within and past its deadline.

use memcache_sync_test_support as support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use memcache_sync::protocol::ProtocolErrorKind;
use memcache_sync::{
    CasOutcome, Client, Config, Deadline, Error, Expiry, Item, Phase, StoreOptions,
};
use support::fault_server::{Fault, FaultServer};
use support::Memcached;

const LEN: usize = 300 * 1024 + 3;

fn value() -> Vec<u8> {
    (0..LEN).map(|i| (i * 7 % 253) as u8).collect()
}

/// How the scripted server sends its one reply.
struct Script {
    reply: Vec<u8>,
    /// Bytes per write.
    piece: usize,
    /// Pause after each write.
    pause: Duration,
    /// Close after this many bytes of the reply instead of sending it all.
    close_after: Option<usize>,
    /// Fall silent after this many bytes of the reply, the connection kept open, instead of
    /// sending it all.
    stall_after: Option<usize>,
}

/// A server that reads one request line, answers it as `script` says, then answers every
/// later request with `END` (so a kept connection can be seen to be in step).
fn serve(script: Script) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        stream.set_nodelay(true).unwrap();
        let read_request = |stream: &mut std::net::TcpStream| {
            let mut byte = [0u8];
            let mut line = Vec::new();
            while stream.read(&mut byte).ok()? == 1 {
                line.push(byte[0]);
                if line.ends_with(b"\r\n") {
                    return Some(line);
                }
            }
            None
        };
        if read_request(&mut stream).is_none() {
            return;
        }
        let end = script
            .close_after
            .or(script.stall_after)
            .unwrap_or(script.reply.len());
        for chunk in script.reply[..end].chunks(script.piece) {
            if stream.write_all(chunk).is_err() {
                return;
            }
            thread::sleep(script.pause);
        }
        if script.close_after.is_some() {
            return;
        }
        if script.stall_after.is_some() {
            // Silent until the client gives up and closes.
            let _ = stream.read(&mut [0u8; 1]);
            return;
        }
        while read_request(&mut stream).is_some() {
            if stream.write_all(b"END\r\n").is_err() {
                return;
            }
        }
    });
    addr
}

/// A server that sends `reply` in `piece`-byte writes, `pause` apart, all of it.
fn pieces(reply: Vec<u8>, piece: usize, pause: Duration) -> String {
    serve(Script {
        reply,
        piece,
        pause,
        close_after: None,
        stall_after: None,
    })
}

/// The reply to a `get` of `big`: its value, with flags 5 (and `cas`).
fn reply(value: &[u8], cas: Option<u64>) -> Vec<u8> {
    multi_reply(&[("big", value, cas)])
}

fn client(addr: &str, read_timeout: Duration) -> Client {
    let config = Config::default()
        .with_connect_timeout(Duration::from_secs(2))
        .with_write_timeout(Duration::from_secs(2))
        .with_read_timeout(read_timeout);
    Client::builder(addr).config(config).connect().unwrap()
}

#[test]
fn a_large_value_arriving_in_many_small_pieces_within_the_deadline_is_read_whole() {
    let value = value();
    let addr = pieces(reply(&value, None), 4096, Duration::from_micros(300));
    let mut client = client(&addr, Duration::from_secs(10));
    let item = client.get("big").unwrap();
    assert!(
        item == Some(Item {
            value: value.clone(),
            flags: 5
        }),
        "the value came back changed"
    );
    // The connection stays in step: the next request reads its own `END`.
    assert!(client.is_connected());
    assert_eq!(client.get("other").unwrap(), None);
    assert!(client.is_connected());
}

#[test]
fn a_large_value_in_odd_sized_pieces_is_read_into_a_reused_buffer_without_reallocating() {
    let value = value();
    // Pieces of an odd size: the data and its terminator arrive split at odd places.
    let addr = pieces(
        reply(&value, Some(99)),
        7 * 1024 + 1,
        Duration::from_micros(100),
    );
    let mut client = client(&addr, Duration::from_secs(10));
    let mut buf = vec![b'?'; LEN + 100];
    let capacity = buf.capacity();
    assert_eq!(client.get_into("big", &mut buf).unwrap(), Some(5));
    assert!(buf == value, "the value came back changed");
    assert_eq!(
        buf.capacity(),
        capacity,
        "the reused buffer was reallocated"
    );
}

#[test]
fn a_large_value_with_its_cas_token_is_read_whole() {
    let value = value();
    let addr = pieces(
        reply(&value, Some(1234)),
        64 * 1024,
        Duration::from_millis(1),
    );
    let mut client = client(&addr, Duration::from_secs(10));
    let (item, token) = client.gets("big").unwrap().unwrap();
    assert!(item.value == value);
    assert_eq!((item.flags, token.0), (5, 1234));
}

#[test]
fn a_large_value_trickled_past_the_deadline_times_out_on_time() {
    let value = value();
    let addr = trickle(reply(&value, None));
    times_out_on_time(&addr, |client| client.get("big"));
}

/// A server that sends `reply` a kilobyte every 5 ms: a 300 KiB value takes 1.5 s.
fn trickle(reply: Vec<u8>) -> String {
    pieces(reply, 1024, Duration::from_millis(5))
}

/// `read`, by a client of `addr` with a 300 ms read timeout, fails with a read timeout after
/// that long (not sooner, and not much later) and drops the connection.
fn times_out_on_time<T: std::fmt::Debug>(
    addr: &str,
    read: impl FnOnce(&mut Client) -> Result<T, Error>,
) {
    let timeout = Duration::from_millis(300);
    let mut client = client(addr, timeout);
    let started = Instant::now();
    let error = read(&mut client).expect_err("a trickle stretched the read");
    let elapsed = started.elapsed();
    assert_eq!(error.timeout_phase(), Some(Phase::Read), "{error:?}");
    assert!(elapsed + Duration::from_millis(2) >= timeout, "{elapsed:?}");
    assert!(
        elapsed < timeout + Duration::from_millis(300),
        "{elapsed:?}"
    );
    assert!(!client.is_connected());
}

#[test]
fn a_close_in_the_middle_of_a_large_data_block_is_connection_closed() {
    let value = value();
    let addr = serve(Script {
        reply: reply(&value, None),
        piece: 16 * 1024,
        pause: Duration::from_micros(100),
        close_after: Some(LEN / 2),
        stall_after: None,
    });
    let mut client = client(&addr, Duration::from_secs(10));
    let mut buf = Vec::new();
    let error = client.get_into("big", &mut buf).unwrap_err();
    assert!(
        matches!(error, Error::ConnectionClosed { phase: Phase::Read }),
        "{error:?}"
    );
    assert!(buf.is_empty(), "a failed read left {} bytes", buf.len());
    assert!(!client.is_connected());
}

#[test]
fn a_large_data_block_of_the_wrong_length_is_unterminated_data() {
    let value = value();
    let mut wrong = format!("VALUE big 5 {}\r\n", LEN - 1).into_bytes();
    wrong.extend_from_slice(&value);
    wrong.extend_from_slice(b"\r\nEND\r\n");
    let addr = pieces(wrong, 32 * 1024, Duration::from_micros(100));
    let mut client = client(&addr, Duration::from_secs(10));
    match client.get("big") {
        Err(Error::Protocol(e)) => assert_eq!(e.kind, ProtocolErrorKind::UnterminatedData),
        other => panic!("expected UnterminatedData, got {other:?}"),
    }
    assert!(!client.is_connected());
}

#[test]
fn a_large_value_for_another_key_is_refused() {
    let value = value();
    let addr = pieces(reply(&value, None), 64 * 1024, Duration::ZERO);
    let mut client = client(&addr, Duration::from_secs(10));
    let error = client.get("not-big").unwrap_err();
    assert!(matches!(error, Error::Protocol(_)), "{error:?}");
    assert!(!client.is_connected());
}

#[test]
fn large_stores_and_reads_round_trip_through_memcached() {
    let server = support::Memcached::start();
    let mut client = Client::connect(&server.addr()).unwrap();
    for len in [
        8 * 1024 - 1,
        8 * 1024,
        100 * 1024,
        256 * 1024,
        256 * 1024 + 1,
        900 * 1024,
    ] {
        let key = format!("large:{len}");
        let value: Vec<u8> = (0..len).map(|i| (i % 241) as u8).collect();
        client
            .set(&key, &value, memcache_sync::Expiry::Never)
            .unwrap();
        let item = client.get(&key).unwrap().unwrap();
        assert!(item.value == value, "{len}: get");
        let mut buf = Vec::with_capacity(10);
        client.get_into(&key, &mut buf).unwrap();
        assert!(buf == value, "{len}: get_into");
        assert!(client.append(&key, b"+").unwrap().is_stored());
        let (item, token) = client.gets(&key).unwrap().unwrap();
        assert_eq!(item.value.len(), len + 1);
        assert!(
            client
                .cas(&key, &value, token, memcache_sync::Expiry::Never)
                .unwrap()
                == memcache_sync::CasOutcome::Stored
        );
        assert!(
            client.get_many(&[&key]).unwrap()[&key] == value[..],
            "{len}: get_many"
        );
    }
}

#[test]
fn a_value_that_falls_silent_halfway_times_out_on_time_and_drops_the_connection() {
    let value = value();
    for reused in [false, true] {
        let addr = serve(Script {
            reply: reply(&value, None),
            piece: 32 * 1024,
            pause: Duration::ZERO,
            close_after: None,
            stall_after: Some(LEN / 2),
        });
        let timeout = Duration::from_millis(300);
        let mut client = client(&addr, timeout);
        // A fresh vector is filled by draining into its spare capacity; a reused one, longer
        // than the value, by reads over its old contents: each path waits within the bound.
        let mut buf = if reused { vec![0; LEN + 1] } else { Vec::new() };
        let started = Instant::now();
        let error = client.get_into("big", &mut buf).unwrap_err();
        let elapsed = started.elapsed();
        assert_eq!(
            error.timeout_phase(),
            Some(Phase::Read),
            "reused {reused}: {error:?}"
        );
        assert!(elapsed + Duration::from_millis(2) >= timeout, "{elapsed:?}");
        assert!(
            elapsed < timeout + Duration::from_millis(300),
            "{elapsed:?}"
        );
        assert!(buf.is_empty(), "a failed read left {} bytes", buf.len());
        assert!(!client.is_connected());
    }
}

#[test]
fn a_callers_deadline_ends_a_large_value_that_falls_silent_halfway() {
    let value = value();
    let addr = serve(Script {
        reply: reply(&value, None),
        piece: 32 * 1024,
        pause: Duration::ZERO,
        close_after: None,
        stall_after: Some(LEN / 3),
    });
    let mut client = client(&addr, Duration::from_secs(10));
    let limit = Duration::from_millis(200);
    let started = Instant::now();
    let error = Deadline::after(limit)
        .run(|| client.get("big"))
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        matches!(error, Error::DeadlineExceeded { phase: Phase::Read }),
        "{error:?}"
    );
    assert!(elapsed < limit + Duration::from_millis(300), "{elapsed:?}");
    assert!(!client.is_connected());
}

#[test]
fn a_server_that_closes_inside_a_large_data_block_is_connection_closed_and_the_next_call_reconnects(
) {
    let value = value();
    // Each read path meets the close: a fresh vector (drained into), one with room but no
    // contents (drained into, no allocation), one with old contents (read over).
    for path in ["fresh", "room", "old contents"] {
        let server = FaultServer::start(vec![Fault::CloseInsideData, Fault::Healthy]);
        server.insert(b"big", &value);
        let mut client = client(&server.addr(), Duration::from_secs(5));
        let mut buf = match path {
            "fresh" => Vec::new(),
            "room" => Vec::with_capacity(LEN),
            _ => vec![b'?'; LEN + 10],
        };
        let error = client.get_into("big", &mut buf).unwrap_err();
        assert!(
            matches!(error, Error::ConnectionClosed { phase: Phase::Read }),
            "{path}: {error:?}"
        );
        assert!(
            buf.is_empty(),
            "{path}: a failed read left {} bytes",
            buf.len()
        );
        assert!(!client.is_connected(), "{path}");
        // A new connection, and the whole value on it.
        let item = client.get("big").unwrap().expect("stored");
        assert!(item.value == value, "{path}: the value came back changed");
        assert!(client.is_connected(), "{path}");
    }
}

#[test]
fn a_server_that_closes_inside_a_large_data_block_fails_get_and_gets_alike() {
    let value = value();
    let server = FaultServer::start(vec![
        Fault::CloseInsideData,
        Fault::CloseInsideData,
        Fault::Healthy,
    ]);
    server.insert(b"big", &value);
    let mut client = client(&server.addr(), Duration::from_secs(5));
    let error = client.get("big").unwrap_err();
    assert!(
        matches!(error, Error::ConnectionClosed { phase: Phase::Read }),
        "{error:?}"
    );
    let error = client.gets("big").unwrap_err();
    assert!(
        matches!(error, Error::ConnectionClosed { phase: Phase::Read }),
        "{error:?}"
    );
    let (item, _) = client.gets("big").unwrap().expect("stored");
    assert!(item.value == value);
}

/// The reply to a multi-get: a `VALUE` for each of `frames` (key, value, CAS), then `END`.
fn multi_reply(frames: &[(&str, &[u8], Option<u64>)]) -> Vec<u8> {
    let mut reply = Vec::new();
    for (key, value, cas) in frames {
        let cas = cas.map(|cas| format!(" {cas}")).unwrap_or_default();
        reply.extend_from_slice(format!("VALUE {key} 5 {}{cas}\r\n", value.len()).as_bytes());
        reply.extend_from_slice(value);
        reply.extend_from_slice(b"\r\n");
    }
    reply.extend_from_slice(b"END\r\n");
    reply
}

/// A scripted multi-get reply sent in `piece`-byte writes, a little apart.
fn serve_multi(reply: Vec<u8>, piece: usize) -> String {
    pieces(reply, piece, Duration::from_micros(200))
}

#[test]
fn a_multi_get_reads_large_values_arriving_in_pieces_whole_among_small_ones_in_any_order() {
    let big = value();
    // Both large values at least 128 KiB, so that a map reads both straight into its buffer.
    let other: Vec<u8> = (0..150 * 1024 + 1).map(|i| (i % 241) as u8).collect();
    // big2 answers before big1 (as a proxy may answer), each large one among small ones.
    let frames: [(&str, &[u8], Option<u64>); 4] = [
        ("a", b"small", Some(1)),
        ("big2", &other, Some(2)),
        ("big1", &big, Some(3)),
        ("b", b"", Some(4)),
    ];
    let keys = ["a", "big1", "missing", "b", "big2"];
    for piece in [4096, 7 * 1024 + 1, 64 * 1024] {
        let addr = serve_multi(multi_reply(&frames), piece);
        let mut with_cas = client(&addr, Duration::from_secs(10));
        let found = with_cas.gets_many(&keys).unwrap();
        assert_eq!(found.len(), 4, "pieces of {piece}");
        for (key, value, cas) in frames {
            let (item, token) = found.get(key).expect("found");
            assert!(
                item.value == value,
                "{key} came back changed (pieces of {piece})"
            );
            assert_eq!((item.flags, Some(token.0)), (5, cas), "{key}");
        }
        // In step: the next request reads its own `END`.
        assert_eq!(with_cas.get("other").unwrap(), None);
        assert!(with_cas.is_connected());

        let addr = serve_multi(multi_reply(&frames.map(|(k, v, _)| (k, v, None))), piece);
        let mut plain = client(&addr, Duration::from_secs(10));
        let found = plain.get_many(&keys).unwrap();
        assert_eq!(found.len(), 4);
        assert!(
            found["big1"] == big[..] && found["big2"] == other[..] && found["a"] == b"small"[..]
        );
        assert_eq!(plain.get("other").unwrap(), None);
    }
}

#[test]
fn a_large_value_asked_twice_and_answered_twice_in_a_multi_get_is_one_entry() {
    let big = value();
    let addr = serve_multi(
        multi_reply(&[("big", &big, None), ("big", &big, None)]),
        16 * 1024,
    );
    let mut client = client(&addr, Duration::from_secs(10));
    let found = client.get_many(&["big", "big"]).unwrap();
    assert_eq!(found.len(), 1);
    assert!(found["big"] == big[..]);
    assert!(client.is_connected());
}

#[test]
fn a_large_value_for_a_key_not_asked_in_a_multi_get_is_refused_and_drops_the_connection() {
    let big = value();
    let addr = serve_multi(
        multi_reply(&[("a", b"1", None), ("big", &big, None)]),
        16 * 1024,
    );
    let mut client = client(&addr, Duration::from_secs(10));
    match client.get_many(&["a", "not-big"]) {
        Err(Error::Protocol(e)) => assert_eq!(e.kind, ProtocolErrorKind::UnrequestedKey),
        other => panic!("expected UnrequestedKey, got {other:?}"),
    }
    assert!(!client.is_connected());
}

#[test]
fn a_large_gets_value_without_its_cas_in_a_multi_get_is_malformed() {
    let big = value();
    let addr = serve_multi(multi_reply(&[("big", &big, None)]), 16 * 1024);
    let mut client = client(&addr, Duration::from_secs(10));
    match client.gets_many(&["big"]) {
        Err(Error::Protocol(e)) => assert_eq!(e.kind, ProtocolErrorKind::MalformedLine),
        other => panic!("expected MalformedLine, got {other:?}"),
    }
    assert!(!client.is_connected());
}

#[test]
fn a_large_value_trickled_past_the_deadline_in_a_multi_get_times_out_on_time() {
    let big = value();
    let addr = trickle(multi_reply(&[("a", b"1", None), ("big", &big, None)]));
    times_out_on_time(&addr, |client| client.get_many(&["a", "big"]));
}

/// The lengths around each threshold of the large-value paths (the direct read and the
/// vectored write start at 8 KiB, a multi-get's direct read and the drain at 128 KiB; a read
/// of up to 1 MiB is sized exactly), and one just under memcached's default item size limit,
/// which also counts the key and the item header.
const EDGE_LENGTHS: [usize; 8] = [
    8 * 1024 - 1,
    8 * 1024,
    8 * 1024 + 1,
    16 * 1024 + 3,
    128 * 1024 - 1,
    128 * 1024,
    500 * 1024,
    1024 * 1024 - 1024,
];

/// Every command that carries a value, at every edge length, each value read back by every
/// command that reads one, and a small value after each, so a connection out of step shows.
fn every_command_carries_every_edge_length(client: &mut Client, label: &str) {
    for len in EDGE_LENGTHS {
        let key = format!("large:edge:{len}");
        let value: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        let check = |got: &[u8], how: &str| {
            assert!(
                got == &value[..],
                "{label} {len}: {how} came back changed ({} bytes)",
                got.len()
            );
        };
        client
            .set(&key, &value, StoreOptions::new().flags(9))
            .unwrap();
        let item = client.get(&key).unwrap().expect("just stored");
        check(&item.value, "get");
        assert_eq!(item.flags, 9);
        // get_into: an empty vector, room without contents, shorter and longer old contents.
        for start in [0, 1, len / 2, len + 100] {
            let mut buf = vec![b'#'; start];
            buf.reserve(if start == 1 { len } else { 0 });
            assert_eq!(client.get_into(&key, &mut buf).unwrap(), Some(9));
            check(&buf, &format!("get_into over {start} bytes"));
        }
        let (item, token) = client.gets(&key).unwrap().expect("just stored");
        check(&item.value, "gets");
        let changed: Vec<u8> = value.iter().map(|b| b ^ 0x5a).collect();
        assert_eq!(
            client.cas(&key, &changed, token, Expiry::Never).unwrap(),
            CasOutcome::Stored,
            "{label} {len}"
        );
        assert_eq!(
            client.cas(&key, &value, token, Expiry::Never).unwrap(),
            CasOutcome::Exists,
            "{label} {len}: a stale token"
        );
        assert!(client.get(&key).unwrap().unwrap().value == changed);
        client
            .set(&key, &value, StoreOptions::new().flags(9))
            .unwrap();
        let small = format!("large:edge:small:{len}");
        client.set(&small, b"s", Expiry::Never).unwrap();
        let keys = [key.as_str(), small.as_str(), "large:edge:missing"];
        let found = client.get_many(&keys).unwrap();
        assert_eq!(found.len(), 2, "{label} {len}");
        check(&found[&key], "get_many");
        assert_eq!(&found[&small], b"s");
        let found = client.gets_many(&keys).unwrap();
        check(found.get(&key).expect("found").0.value, "gets_many");
        let mut seen = Vec::new();
        client
            .get_many_with(&keys, |index, got, flags| {
                seen.push(index);
                if index == 0 {
                    check(got, "get_many_with");
                    assert_eq!(flags, 9);
                }
            })
            .unwrap();
        assert_eq!(seen, [0, 1], "{label} {len}");
        assert_eq!(client.get(&small).unwrap().unwrap().value, b"s");
        assert!(client.is_connected(), "{label} {len}");
    }
}

#[test]
fn every_command_carries_values_at_each_threshold_and_near_the_item_limit_over_tcp() {
    let server = Memcached::start();
    let mut client = Client::connect(&server.addr()).unwrap();
    every_command_carries_every_edge_length(&mut client, "tcp");
}

#[cfg(unix)]
#[test]
fn every_command_carries_values_at_each_threshold_and_near_the_item_limit_over_a_unix_socket() {
    let server = Memcached::start_unix();
    let mut client = Client::connect(&server.addr()).unwrap();
    every_command_carries_every_edge_length(&mut client, "unix");
}

#[cfg(feature = "tls")]
#[test]
fn every_command_carries_values_at_each_threshold_and_near_the_item_limit_over_tls() {
    let pki = tls::Pki::new();
    let server = pki.server();
    let mut client = Client::builder(&server.addr())
        .config(Config::default().with_tls(pki.trusting()))
        .connect()
        .unwrap();
    every_command_carries_every_edge_length(&mut client, "tls");
}

/// A CA and memcached serving a certificate it signed, over TLS only.
#[cfg(feature = "tls")]
mod tls {
    use memcache_sync::TlsConfig;

    use super::support::pki::{serve_tls, Pki as Certificates};
    use super::support::Memcached;

    pub struct Pki(Certificates);

    impl Pki {
        pub fn new() -> Pki {
            Pki(Certificates::new("large-values"))
        }

        pub fn server(&self) -> Memcached {
            serve_tls(&self.0.server(), None)
        }

        pub fn trusting(&self) -> TlsConfig {
            TlsConfig::new().ca_file(self.0.ca_file()).unwrap()
        }
    }
}
