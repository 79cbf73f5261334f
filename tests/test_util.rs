#![cfg(feature = "test-util")]
//! `memcache_sync::test_util::FakeServer` as a user's tests meet it: the crate's own `Client`
//! against the fake (hits, misses, multi-get, delete, incr), each scripted fault giving the
//! typed error the crate promises and the client recovering once it is over, and the fake's
//! memcached semantics (conditional stores, CAS, expiration times, incr/decr, noreply,
//! flush_all, oversized values, error lines) checked on a raw connection with the crate's
//! codec, so that they do not depend on the client's storage methods.
//!
//! Errors are matched by the crate's predicates and messages rather than by variant, which
//! keeps the tests about behaviour.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use memcache_sync::protocol::{
    encode_retrieval, encode_storage, parse_reply, Reply, RetrievalCommand, Status, StorageCommand,
};
use memcache_sync::test_util::{FakeServer, Fault};
use memcache_sync::{Client, Phase};

/// Slack for scheduling on a loaded machine, on top of the waits a test expects.
const MARGIN: Duration = Duration::from_millis(800);

fn connect(server: &FakeServer) -> Client {
    Client::connect(&server.addr()).expect("the fake accepts connections")
}

fn value(client: &mut Client, key: &[u8]) -> Option<Vec<u8>> {
    client
        .get(key)
        .expect("a healthy fake answers")
        .map(|item| item.value)
}

/// A raw connection: requests as the crate's encoders (or a test) write them, each reply read
/// back whole, as text.
struct Wire {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Wire {
    fn open(server: &FakeServer) -> Wire {
        let stream = TcpStream::connect(server.addr()).expect("the fake accepts connections");
        stream
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        Wire {
            stream,
            buf: Vec::new(),
        }
    }

    /// Sends `request` and returns the reply: every frame up to the one that ends it.
    fn ask(&mut self, request: &[u8]) -> String {
        self.stream.write_all(request).expect("the fake reads");
        self.reply()
    }

    fn reply(&mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut at = 0;
        loop {
            match parse_reply(&self.buf[at..], 2 * 1024 * 1024) {
                Ok(Status::Complete { frame, len }) => {
                    at += len;
                    if !matches!(frame, Reply::Value(_) | Reply::Stat { .. }) {
                        let text = String::from_utf8_lossy(&self.buf[..at]).into_owned();
                        self.buf.drain(..at);
                        return text;
                    }
                }
                Ok(Status::Incomplete) => {
                    assert!(Instant::now() < deadline, "no whole reply in 3 s");
                    let mut chunk = [0u8; 16 * 1024];
                    match self.stream.read(&mut chunk) {
                        Ok(0) => panic!("the fake closed the connection"),
                        Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                        Err(e)
                            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                        Err(e) => panic!("reading from the fake: {e}"),
                    }
                }
                Err(e) => panic!("the fake sent an invalid reply: {e}"),
            }
        }
    }

    fn set(&mut self, key: &[u8], flags: u32, exptime: i64, value: &[u8]) -> String {
        let mut request = Vec::new();
        encode_storage(
            &mut request,
            StorageCommand::Set,
            key,
            flags,
            exptime,
            value,
            false,
        )
        .unwrap();
        self.ask(&request)
    }

    fn get(&mut self, command: RetrievalCommand, keys: &[&str]) -> String {
        let mut request = Vec::new();
        encode_retrieval(&mut request, command, keys).unwrap();
        self.ask(&request)
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Waits (up to 2 s) until the fake has logged `n` requests.
fn wait_for_requests(server: &FakeServer, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while server.requests().len() < n {
        assert!(Instant::now() < deadline, "{:?}", server.requests());
        thread::sleep(Duration::from_millis(2));
    }
}

// ---------------------------------------------------------------------------------------------
// The crate's client against a healthy fake.

#[test]
fn a_stored_value_is_a_hit_and_a_missing_one_is_ok_none() {
    let server = FakeServer::start();
    server.insert(b"greeting", b"hello");
    let mut client = connect(&server);
    let item = client.get(b"greeting").unwrap().expect("a hit");
    assert_eq!((item.value, item.flags), (b"hello".to_vec(), 0));
    assert_eq!(client.get(b"nobody").unwrap(), None);
}

#[test]
fn get_many_returns_only_the_keys_that_are_stored() {
    let server = FakeServer::start();
    server.insert(b"a", b"1");
    server.insert(b"c", b"3");
    let mut client = connect(&server);
    let found = client.get_many(&["a", "b", "c"]).unwrap();
    let mut found: Vec<(Vec<u8>, Vec<u8>)> = found
        .into_iter()
        .map(|(key, item)| (key, item.value))
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            (b"a".to_vec(), b"1".to_vec()),
            (b"c".to_vec(), b"3".to_vec())
        ]
    );
    assert!(client.get_many(&["x", "y"]).unwrap().is_empty());
}

#[test]
fn delete_reports_whether_the_key_was_there_and_removes_it() {
    let server = FakeServer::start();
    server.insert(b"k", b"v");
    let mut client = connect(&server);
    assert!(client.delete(b"k").unwrap());
    assert!(!client.delete(b"k").unwrap());
    assert_eq!(server.get(b"k"), None);
}

#[test]
fn incr_and_decr_wrap_clamp_and_miss_as_memcached_does() {
    let server = FakeServer::start();
    server.insert(b"n", b"41");
    server.insert(b"max", u64::MAX.to_string().as_bytes());
    let mut client = connect(&server);
    assert_eq!(client.incr(b"n", 1).unwrap(), Some(42));
    assert_eq!(server.get(b"n"), Some(b"42".to_vec()));
    assert_eq!(client.decr(b"n", 100).unwrap(), Some(0));
    assert_eq!(client.incr(b"max", 2).unwrap(), Some(1));
    assert_eq!(client.incr(b"missing", 1).unwrap(), None);
    assert_eq!(client.decr(b"missing", 1).unwrap(), None);
    assert_eq!(server.get(b"missing"), None);
}

#[test]
fn incr_of_a_value_that_is_no_number_is_a_client_error_not_a_connection_error() {
    let server = FakeServer::start();
    server.insert(b"name", b"Ada");
    let mut client = connect(&server);
    let error = client.incr(b"name", 1).unwrap_err();
    assert!(!error.is_connection_error(), "{error:?}");
    assert!(error.to_string().contains("non-numeric"), "{error}");
    assert_eq!(client.get(b"name").unwrap().unwrap().value, b"Ada");
}

#[test]
fn the_request_log_lists_every_command_line_in_arrival_order() {
    let server = FakeServer::start();
    let mut first = connect(&server);
    let mut second = connect(&server);
    first.get(b"a").unwrap();
    second.delete(b"b").unwrap();
    first.incr(b"c", 5).unwrap();
    assert_eq!(server.requests(), ["get a", "delete b", "incr c 5"]);
}

#[test]
fn version_and_stats_answer_with_the_fakes_counters() {
    let server = FakeServer::start();
    server.insert(b"k", b"v");
    let mut client = connect(&server);
    assert!(client.version().unwrap().contains("fake"));
    client.get(b"k").unwrap();
    client.get(b"nobody").unwrap();
    let stats = client.stats().unwrap();
    for (name, want) in [
        ("cmd_get", "2"),
        ("get_hits", "1"),
        ("get_misses", "1"),
        ("curr_items", "1"),
        ("curr_connections", "1"),
    ] {
        assert_eq!(stats[name], want, "{name}");
    }
    assert!(stats["uptime"].parse::<u64>().is_ok());
}

// ---------------------------------------------------------------------------------------------
// Faults: the typed error each one gives, and recovery once it is over.

#[test]
fn a_silent_server_is_a_read_timeout_and_the_next_call_reconnects() {
    let server = FakeServer::start();
    server.insert(b"k", b"v");
    let mut client = connect(&server);
    let timeout = client.config().read_timeout();
    server.fail_next(1, Fault::Silent);
    let started = Instant::now();
    let error = client.get(b"k").unwrap_err();
    let waited = started.elapsed();
    assert_eq!(error.timeout_phase(), Some(Phase::Read), "{error:?}");
    assert!(error.is_connection_error());
    assert!(waited >= timeout && waited < timeout + MARGIN, "{waited:?}");
    assert_eq!(value(&mut client, b"k"), Some(b"v".to_vec()));
}

#[test]
fn a_closed_connection_is_a_connection_error_and_the_next_call_reconnects() {
    let server = FakeServer::start();
    server.insert(b"k", b"v");
    let mut client = connect(&server);
    server.fail_next(1, Fault::Close);
    let error = client.delete(b"k").unwrap_err();
    assert!(error.is_connection_error(), "{error:?}");
    assert!(error.may_have_reached_server());
    // The close came instead of carrying out the delete.
    assert_eq!(server.get(b"k"), Some(b"v".to_vec()));
    assert_eq!(value(&mut client, b"k"), Some(b"v".to_vec()));
}

#[test]
fn a_server_error_is_reported_with_its_message_and_the_connection_is_kept() {
    let server = FakeServer::start();
    server.insert(b"k", b"v");
    let mut client = connect(&server);
    server.fail_next(1, Fault::ServerError("out of memory storing object".into()));
    let error = client.delete(b"k").unwrap_err();
    assert!(!error.is_connection_error(), "{error:?}");
    assert!(error.is_out_of_memory(), "{error:?}");
    assert!(error.to_string().contains("out of memory storing object"));
    assert_eq!(server.get(b"k"), Some(b"v".to_vec()));
    assert!(client.is_connected());
    assert!(client.delete(b"k").unwrap());
    let stats = client.stats().unwrap();
    assert_eq!(
        stats["total_connections"], "1",
        "the client never reconnected"
    );
}

#[test]
fn a_delay_within_the_read_timeout_only_slows_the_reply() {
    let server = FakeServer::start();
    server.insert(b"k", b"v");
    let mut client = connect(&server);
    let delay = Duration::from_millis(150);
    server.fail_next(1, Fault::Delay(delay));
    let started = Instant::now();
    assert_eq!(value(&mut client, b"k"), Some(b"v".to_vec()));
    assert!(started.elapsed() >= delay);
    let started = Instant::now();
    assert_eq!(value(&mut client, b"k"), Some(b"v".to_vec()));
    assert!(
        started.elapsed() < delay,
        "only the next request was delayed"
    );
}

#[test]
fn a_refusing_server_refuses_connects_until_the_fault_is_cleared() {
    let server = FakeServer::start();
    let mut client = connect(&server);
    server.set_fault(Some(Fault::Refuse));
    let closed = client.get(b"k").unwrap_err();
    assert!(closed.is_connection_error(), "{closed:?}");
    // The reconnect is refused: a connect error, before anything was sent.
    let refused = client.get(b"k").unwrap_err();
    assert!(refused.is_connection_error(), "{refused:?}");
    assert!(!refused.may_have_reached_server(), "{refused:?}");
    // Refused at once, not left to time out.
    let started = Instant::now();
    let refused = Client::connect(&server.addr()).unwrap_err();
    assert!(!refused.may_have_reached_server(), "{refused:?}");
    assert!(!refused.is_timeout(), "{refused:?}");
    assert!(started.elapsed() < Duration::from_millis(500));
    server.set_fault(None);
    assert_eq!(client.get(b"k").unwrap(), None);
    assert!(Client::connect(&server.addr()).is_ok());
}

#[test]
fn counted_faults_queue_in_order_across_connections_then_the_server_is_healthy() {
    let server = FakeServer::start();
    let mut first = connect(&server);
    let mut second = connect(&server);
    server.fail_next(2, Fault::ServerError("one".into()));
    server.fail_next(1, Fault::ServerError("two".into()));
    let message = |result: memcache_sync::Result<_>| result.unwrap_err().to_string();
    assert!(message(first.get(b"k")).contains("one"));
    assert!(message(second.get(b"k")).contains("one"));
    assert!(message(first.get(b"k")).contains("two"));
    assert_eq!(first.get(b"k").unwrap(), None);
    assert_eq!(second.get(b"k").unwrap(), None);
}

#[test]
fn a_fault_set_for_good_lasts_until_it_is_cleared() {
    let server = FakeServer::start();
    let mut client = connect(&server);
    server.set_fault(Some(Fault::ServerError("busy".into())));
    for _ in 0..3 {
        assert!(client.get(b"k").unwrap_err().to_string().contains("busy"));
    }
    server.set_fault(None);
    assert_eq!(client.get(b"k").unwrap(), None);
}

#[test]
fn dropping_the_server_stops_it_promptly_even_mid_fault() {
    let server = FakeServer::start();
    let addr = server.addr();
    server.fail_next(1, Fault::Silent);
    server.fail_next(1, Fault::Delay(Duration::from_secs(60)));
    let mut silent = TcpStream::connect(&addr).unwrap();
    silent.write_all(b"get a\r\n").unwrap();
    wait_for_requests(&server, 1);
    let mut delayed = TcpStream::connect(&addr).unwrap();
    delayed.write_all(b"get b\r\n").unwrap();
    wait_for_requests(&server, 2);

    let started = Instant::now();
    drop(server);
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    for mut stream in [silent, delayed] {
        stream
            .set_read_timeout(Some(Duration::from_secs(1)))
            .unwrap();
        let mut byte = [0u8; 1];
        assert!(
            matches!(stream.read(&mut byte), Ok(0) | Err(_)),
            "still open"
        );
    }
    assert!(TcpStream::connect(&addr).is_err(), "still listening");
}

// ---------------------------------------------------------------------------------------------
// memcached's semantics, on a raw connection.

#[test]
fn storage_commands_store_only_when_their_condition_holds() {
    let server = FakeServer::start();
    let mut wire = Wire::open(&server);
    assert_eq!(wire.ask(b"add k 7 0 1\r\na\r\n"), "STORED\r\n");
    assert_eq!(wire.ask(b"add k 0 0 1\r\nb\r\n"), "NOT_STORED\r\n");
    assert_eq!(wire.ask(b"replace nobody 0 0 1\r\nb\r\n"), "NOT_STORED\r\n");
    assert_eq!(wire.ask(b"append nobody 0 0 1\r\nb\r\n"), "NOT_STORED\r\n");
    // Append and prepend keep the item's flags.
    assert_eq!(wire.ask(b"append k 0 0 2\r\nbc\r\n"), "STORED\r\n");
    assert_eq!(wire.ask(b"prepend k 0 0 1\r\n_\r\n"), "STORED\r\n");
    assert_eq!(
        wire.get(RetrievalCommand::Get, &["k"]),
        "VALUE k 7 4\r\n_abc\r\nEND\r\n"
    );
    assert_eq!(wire.ask(b"replace k 9 0 2\r\nxy\r\n"), "STORED\r\n");
    assert_eq!(
        wire.get(RetrievalCommand::Get, &["k", "nobody", "k"]),
        "VALUE k 9 2\r\nxy\r\nVALUE k 9 2\r\nxy\r\nEND\r\n"
    );
}

#[test]
fn cas_stores_only_while_the_item_is_unchanged() {
    let server = FakeServer::start();
    let mut wire = Wire::open(&server);
    wire.set(b"k", 0, 0, b"v1");
    let reply = wire.get(RetrievalCommand::Gets, &["k"]);
    let unique: u64 = reply
        .lines()
        .next()
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|cas| cas.parse().ok())
        .unwrap_or_else(|| panic!("no CAS value in {reply:?}"));
    let cas = |unique: u64| format!("cas k 0 0 2 {unique}\r\nv2\r\n");
    assert_eq!(wire.ask(cas(unique + 1).as_bytes()), "EXISTS\r\n");
    assert_eq!(wire.ask(cas(unique).as_bytes()), "STORED\r\n");
    assert_eq!(wire.ask(cas(unique).as_bytes()), "EXISTS\r\n");
    assert_eq!(wire.ask(b"cas nobody 0 0 1 1\r\nx\r\n"), "NOT_FOUND\r\n");
    assert_eq!(server.get(b"k"), Some(b"v2".to_vec()));
}

#[test]
fn expiration_times_follow_the_30_day_rule() {
    let server = FakeServer::start();
    let mut wire = Wire::open(&server);
    const THIRTY_DAYS: i64 = 60 * 60 * 24 * 30;
    for (key, exptime, kept) in [
        ("never", 0, true),
        ("relative", 100, true),
        ("thirty-days", THIRTY_DAYS, true),
        // One second more is a Unix time: early 1970, long past.
        ("thirty-days-and-a-second", THIRTY_DAYS + 1, false),
        ("absolute-future", unix_now() + 100, true),
        ("absolute-past", unix_now() - 100, false),
        ("negative", -1, false),
    ] {
        assert_eq!(wire.set(key.as_bytes(), 0, exptime, b"v"), "STORED\r\n");
        assert_eq!(server.get(key.as_bytes()).is_some(), kept, "{key}");
    }
}

#[test]
fn an_item_expires_when_its_time_is_up_on_the_real_clock() {
    let server = FakeServer::start();
    let mut wire = Wire::open(&server);
    wire.set(b"short", 0, 1, b"v");
    wire.ask(b"flush_all 1\r\n");
    assert_eq!(server.get(b"short"), Some(b"v".to_vec()));
    server.insert(b"flushed", b"v");
    thread::sleep(Duration::from_millis(1100));
    assert_eq!(
        wire.get(RetrievalCommand::Get, &["short", "flushed"]),
        "END\r\n"
    );
    // A delayed flush_all removes only what was stored before it took effect.
    assert_eq!(wire.set(b"after", 0, 0, b"v"), "STORED\r\n");
    assert_eq!(server.get(b"after"), Some(b"v".to_vec()));
}

#[test]
fn touch_and_gat_replace_the_expiry_and_gats_returns_the_cas_value() {
    let server = FakeServer::start();
    let mut wire = Wire::open(&server);
    wire.set(b"a", 3, 100, b"x");
    wire.set(b"b", 0, 100, b"y");
    assert_eq!(wire.ask(b"touch a 0\r\n"), "TOUCHED\r\n");
    assert_eq!(wire.ask(b"touch nobody 0\r\n"), "NOT_FOUND\r\n");
    assert_eq!(
        wire.get(RetrievalCommand::Gat(-1), &["a"]),
        "VALUE a 3 1\r\nx\r\nEND\r\n"
    );
    assert_eq!(server.get(b"a"), None);
    let reply = wire.get(RetrievalCommand::Gats(0), &["b"]);
    assert!(reply.starts_with("VALUE b 0 1 "), "{reply:?}");
    assert_eq!(wire.ask(b"touch b -1\r\n"), "TOUCHED\r\n");
    assert_eq!(server.get(b"b"), None);
}

#[test]
fn decr_pads_a_shrunken_number_with_spaces_as_memcached_does() {
    let server = FakeServer::start();
    let mut wire = Wire::open(&server);
    wire.set(b"n", 0, 0, b"10");
    assert_eq!(wire.ask(b"decr n 1\r\n"), "9\r\n");
    assert_eq!(
        wire.get(RetrievalCommand::Get, &["n"]),
        "VALUE n 0 2\r\n9 \r\nEND\r\n"
    );
    assert_eq!(wire.ask(b"incr n 91\r\n"), "100\r\n");
    assert_eq!(server.get(b"n"), Some(b"100".to_vec()));
}

#[test]
fn noreply_requests_are_carried_out_in_silence() {
    let server = FakeServer::start();
    let mut wire = Wire::open(&server);
    let requests: &[&[u8]] = &[
        b"set k 0 0 1 noreply\r\n1\r\n",
        b"add k 0 0 1 noreply\r\n2\r\n",
        b"incr k 4 noreply\r\n",
        b"touch k 0 noreply\r\n",
        b"delete nobody noreply\r\n",
        b"verbosity 1 noreply\r\n",
        b"set k 0 0 1 bogus\r\nx\r\n",
    ];
    // The last line is malformed yet ends in no `noreply`: its errors come back.
    assert_eq!(
        wire.ask(&requests.concat()),
        "CLIENT_ERROR bad command line format\r\n"
    );
    assert_eq!(wire.reply(), "ERROR\r\n");
    assert_eq!(server.get(b"k"), Some(b"5".to_vec()));
    server.fail_next(1, Fault::ServerError("not for noreply".into()));
    assert!(wire
        .ask(b"delete k noreply\r\nversion\r\n")
        .starts_with("VERSION "));
    assert_eq!(server.get(b"k"), Some(b"5".to_vec()));
}

#[test]
fn an_oversized_value_is_refused_skipped_and_drops_the_old_value() {
    let server = FakeServer::start();
    let mut wire = Wire::open(&server);
    wire.set(b"big", 0, 0, b"old");
    let huge = vec![b'x'; 1024 * 1024 + 1];
    let mut request = format!("set big 0 0 {}\r\n", huge.len()).into_bytes();
    request.extend_from_slice(&huge);
    request.extend_from_slice(b"\r\n");
    assert_eq!(
        wire.ask(&request),
        "SERVER_ERROR object too large for cache\r\n"
    );
    // The data block was skipped, not read as commands: the connection is still in step.
    assert_eq!(wire.get(RetrievalCommand::Get, &["big"]), "END\r\n");
    let most = vec![b'x'; 1024 * 1024];
    assert_eq!(wire.set(b"big", 0, 0, &most), "STORED\r\n");
}

#[test]
fn unknown_and_malformed_commands_get_memcacheds_error_lines() {
    let server = FakeServer::start();
    let mut wire = Wire::open(&server);
    assert_eq!(wire.ask(b"bogus\r\n"), "ERROR\r\n");
    assert_eq!(wire.ask(b"get\r\n"), "ERROR\r\n");
    assert_eq!(
        wire.ask(b"set k 0 0 -1\r\n"),
        "CLIENT_ERROR bad command line format\r\n"
    );
    assert_eq!(
        wire.ask(b"incr k x\r\n"),
        "CLIENT_ERROR invalid numeric delta argument\r\n"
    );
    // A data block longer than its line said: refused, and the stream read on after the
    // claimed length, as memcached does.
    assert_eq!(
        wire.ask(b"set k 0 0 1\r\nxyz\r\n"),
        "CLIENT_ERROR bad data chunk\r\n"
    );
    assert_eq!(wire.reply(), "ERROR\r\n");
    assert_eq!(server.get(b"k"), None);
    assert_eq!(wire.ask(b"stats items\r\n"), "ERROR\r\n");
    assert_eq!(wire.ask(b"stats reset\r\n"), "RESET\r\n");
    assert!(wire.ask(b"version\r\n").starts_with("VERSION "));
    wire.stream.write_all(b"quit\r\n").unwrap();
    wire.stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    assert!(
        matches!(wire.stream.read(&mut [0u8; 1]), Ok(0)),
        "quit closes"
    );
}
