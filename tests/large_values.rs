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
use memcache_sync::{Client, Config, Error, Item, Phase};

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
        let end = script.close_after.unwrap_or(script.reply.len());
        for chunk in script.reply[..end].chunks(script.piece) {
            if stream.write_all(chunk).is_err() {
                return;
            }
            thread::sleep(script.pause);
        }
        if script.close_after.is_some() {
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

fn reply(value: &[u8], cas: Option<u64>) -> Vec<u8> {
    let cas = cas.map(|cas| format!(" {cas}")).unwrap_or_default();
    let mut reply = format!("VALUE big 5 {}{cas}\r\n", value.len()).into_bytes();
    reply.extend_from_slice(value);
    reply.extend_from_slice(b"\r\nEND\r\n");
    reply
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
    let addr = serve(Script {
        reply: reply(&value, None),
        piece: 4096,
        pause: Duration::from_micros(300),
        close_after: None,
    });
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
    let addr = serve(Script {
        reply: reply(&value, Some(99)),
        piece: 7 * 1024 + 1,
        pause: Duration::from_micros(100),
        close_after: None,
    });
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
    let addr = serve(Script {
        reply: reply(&value, Some(1234)),
        piece: 64 * 1024,
        pause: Duration::from_millis(1),
        close_after: None,
    });
    let mut client = client(&addr, Duration::from_secs(10));
    let (item, token) = client.gets("big").unwrap().unwrap();
    assert!(item.value == value);
    assert_eq!((item.flags, token.0), (5, 1234));
}

#[test]
fn a_large_value_trickled_past_the_deadline_times_out_on_time() {
    let value = value();
    let addr = serve(Script {
        reply: reply(&value, None),
        piece: 1024,
        pause: Duration::from_millis(5),
        close_after: None,
    });
    let timeout = Duration::from_millis(300);
    let mut client = client(&addr, timeout);
    let started = Instant::now();
    let error = client.get("big").expect_err("a trickle stretched the read");
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
    let addr = serve(Script {
        reply: wrong,
        piece: 32 * 1024,
        pause: Duration::from_micros(100),
        close_after: None,
    });
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
    let addr = serve(Script {
        reply: reply(&value, None),
        piece: 64 * 1024,
        pause: Duration::ZERO,
        close_after: None,
    });
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
