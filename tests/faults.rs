//! The fault matrix: one test per way a server can misbehave, driven by the scripted fault
//! server in `support/fault_server.rs`.
//!
//! Every test checks four things:
//! 1. the exact outcome (an `Error` variant, its phase or protocol kind, or the value),
//! 2. that it came within the configured timeout plus a margin (bounds, not speeds: the
//!    machine is shared),
//! 3. whether the connection was kept or dropped,
//! 4. that the next call on the same `Client` is answered correctly by a healthy connection,
//!    and that no later call returns bytes that answered another request.
//!
//! Connection 0 is the client's eager connect in `Client::connect_with`; it carries the fault.

use memcache_sync_test_support as support;

use support::timed;

use std::panic::{self, AssertUnwindSafe};
use std::thread;
use std::time::Duration;

use memcache_sync::protocol::ProtocolErrorKind;
use memcache_sync::{Client, Config, Error, Expiry, Item, Phase, StoreOutcome};
use support::fault_server::{faulty_client, Fault, FaultServer};
use support::unique_key;

/// The timeouts of the tests that expect a timeout.
const TIMEOUT: Duration = Duration::from_millis(300);
/// The read timeout of the tests that expect an error *before* any timeout: long, so that an
/// error that only came from waiting would show.
const PATIENT: Duration = Duration::from_secs(2);
/// What a bound may exceed its timeout by on a shared, loaded machine.
const MARGIN: Duration = Duration::from_millis(300);

const K1: &[u8] = b"fault:k1";
const V1: &[u8] = b"value-of-k1";
const K2: &[u8] = b"fault:k2";
const V2: &[u8] = b"value-of-k2";
const K3: &[u8] = b"fault:k3";

fn config(read_timeout: Duration) -> Config {
    Config::default()
        .with_connect_timeout(TIMEOUT)
        .with_write_timeout(TIMEOUT)
        .with_read_timeout(read_timeout)
}

/// A server whose connection 0 follows `fault` and every later one is healthy, holding
/// K1 = V1 and K2 = V2, and a client connected to it (connection 0).
fn setup(fault: Fault, read_timeout: Duration) -> (FaultServer, Client) {
    setup_with(fault, config(read_timeout))
}

fn setup_with(fault: Fault, config: Config) -> (FaultServer, Client) {
    faulty_client(fault, &[(K1, V1), (K2, V2)], config)
}

/// A timeout error must come no earlier than its timeout and no later than timeout + margin.
/// (The lower bound allows 2 ms: `connect` waits with `poll`, which counts whole
/// milliseconds and so rounds the time left down.)
fn assert_timed_out_on_time(elapsed: Duration, timeout: Duration) {
    assert!(
        elapsed + Duration::from_millis(2) >= timeout,
        "gave up early: {elapsed:?} < {timeout:?}"
    );
    assert!(
        elapsed < timeout + MARGIN,
        "gave up late: {elapsed:?} >= {timeout:?} + {MARGIN:?}"
    );
}

/// The error of a call that must have timed out in `phase`, no earlier than `timeout` and no
/// later than `timeout` + margin; `what` says what went wrong if it did not fail.
fn expect_timeout<T: std::fmt::Debug>(
    result: Result<T, Error>,
    phase: Phase,
    elapsed: Duration,
    timeout: Duration,
    what: &str,
) -> Error {
    let error = result.expect_err(what);
    assert_eq!(error.timeout_phase(), Some(phase), "{error:?}");
    assert_timed_out_on_time(elapsed, timeout);
    error
}

/// An error that needs no waiting must come well before the (long) read timeout.
fn assert_prompt(elapsed: Duration) {
    assert!(
        elapsed < PATIENT / 2,
        "took {elapsed:?}, expected an answer well before the {PATIENT:?} read timeout"
    );
}

/// The error an RST gives: `Io` with `ConnectionReset`, in `phase`.
fn assert_reset(error: &Error, phase: Phase) {
    match error {
        Error::Io {
            phase: seen,
            source,
        } if *seen == phase => {
            assert_eq!(
                source.kind(),
                std::io::ErrorKind::ConnectionReset,
                "{error:?}"
            )
        }
        other => panic!("expected Io {{ phase: {phase}, ConnectionReset }}, got {other:?}"),
    }
}

fn item(value: &[u8]) -> Option<Item> {
    Some(Item {
        value: value.to_vec(),
        flags: 0,
    })
}

fn protocol_kind(error: &Error) -> ProtocolErrorKind {
    match error {
        Error::Protocol(e) => e.kind,
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

/// The broken connection 0 was dropped: the next call opens connection 1, which answers it
/// with its own value, and connection 0 never saw another request.
fn assert_recovers_on_new_connection(server: &FaultServer, client: &mut Client) {
    assert!(!client.is_connected(), "the broken connection was kept");
    let (result, elapsed) = timed(|| client.get(K2));
    assert_eq!(result.expect("get after the fault"), item(V2));
    assert!(elapsed < TIMEOUT * 3 + MARGIN, "recovery took {elapsed:?}");
    assert!(client.is_connected());
    let requests = server.requests();
    assert_eq!(
        requests.len(),
        2,
        "connections and their requests: {requests:?}"
    );
    assert_eq!(
        requests[1],
        ["get fault:k2"],
        "the next request went to a new connection"
    );
    assert!(
        !requests[0].iter().any(|r| r.contains("fault:k2")),
        "a request was sent on the broken connection: {requests:?}"
    );
    assert_later_calls_are_in_step(server, client);
}

/// The connection was kept: the next call goes on connection 0 and is answered correctly.
fn assert_recovers_on_same_connection(server: &FaultServer, client: &mut Client) {
    assert!(client.is_connected(), "the connection was dropped");
    assert_eq!(client.get(K2).expect("get after the fault"), item(V2));
    let requests = server.requests();
    assert_eq!(
        requests.len(),
        1,
        "a new connection was opened: {requests:?}"
    );
    assert_eq!(requests[0].last().map(String::as_str), Some("get fault:k2"));
    assert_later_calls_are_in_step(server, client);
}

/// A few more calls, each answered with its own reply.
fn assert_later_calls_are_in_step(server: &FaultServer, client: &mut Client) {
    assert_eq!(client.get(K1).unwrap(), item(V1));
    client.set(K3, b"three", Expiry::Never).unwrap();
    assert_eq!(server.stored(K3).as_deref(), Some(&b"three"[..]));
    assert_eq!(client.get(K3).unwrap(), item(b"three"));
    assert_eq!(client.get(unique_key("fault:missing:")).unwrap(), None);
    assert_eq!(client.get(K2).unwrap(), item(V2));
    assert!(client.delete(K3).unwrap());
    assert_eq!(client.version().unwrap(), "1.6.18-fault-server");
}

// ---- no answer, slow answers --------------------------------------------------------------

#[test]
fn silent_server_times_out_on_read() {
    let (server, mut client) = setup(Fault::Silent, TIMEOUT);
    let (result, elapsed) = timed(|| client.get(K1));
    let error = result.expect_err("a silent server answered");
    assert!(
        matches!(error, Error::Timeout { phase: Phase::Read, timeout } if timeout == TIMEOUT),
        "{error:?}"
    );
    assert!(error.is_connection_error() && error.may_have_reached_server());
    assert_timed_out_on_time(elapsed, TIMEOUT);
    assert_eq!(server.log(0).requests, ["get fault:k1"]);
    assert_recovers_on_new_connection(&server, &mut client);
}

#[test]
fn reply_delayed_less_than_the_timeout_is_returned() {
    let delay = Duration::from_millis(100);
    let (server, mut client) = setup(Fault::Delay(delay), Duration::from_secs(1));
    let (result, elapsed) = timed(|| client.get(K1));
    assert_eq!(result.expect("a late but timely reply"), item(V1));
    assert!(elapsed >= delay, "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
    assert_recovers_on_same_connection(&server, &mut client);
}

#[test]
fn reply_delayed_past_the_timeout_times_out_and_is_never_seen() {
    let (server, mut client) = setup(Fault::Delay(Duration::from_millis(600)), TIMEOUT);
    let (result, elapsed) = timed(|| client.get(K1));
    expect_timeout(
        result,
        Phase::Read,
        elapsed,
        TIMEOUT,
        "a reply later than the timeout was waited for",
    );
    // Let the late reply go out (to a closed socket) before the next calls.
    thread::sleep(Duration::from_millis(400));
    assert_recovers_on_new_connection(&server, &mut client);
}

#[test]
fn store_whose_reply_is_late_times_out_and_says_it_may_have_been_applied() {
    let (server, mut client) = setup(Fault::Delay(Duration::from_millis(600)), TIMEOUT);
    let (result, elapsed) = timed(|| client.set(K3, b"late", Expiry::Never));
    let error = expect_timeout(
        result,
        Phase::Read,
        elapsed,
        TIMEOUT,
        "a set whose reply never came in time was reported",
    );
    // The server did apply it: a read timeout is not "not stored", and the error says so.
    assert!(error.may_have_reached_server());
    assert!(!error.is_safe_to_retry(false) && error.is_safe_to_retry(true));
    assert_eq!(server.stored(K3).as_deref(), Some(&b"late"[..]));
    assert_recovers_on_new_connection(&server, &mut client);
}

#[test]
fn trickled_reply_cannot_stretch_the_read_past_its_deadline() {
    // One byte every 100 ms: each read returns within its socket timeout, but the reply would
    // take seconds. The read timeout is a deadline for the whole reply.
    let (server, mut client) = setup(Fault::Trickle(Duration::from_millis(100)), TIMEOUT);
    let (result, elapsed) = timed(|| client.get(K1));
    expect_timeout(
        result,
        Phase::Read,
        elapsed,
        TIMEOUT,
        "a trickled reply beat its deadline",
    );
    assert_recovers_on_new_connection(&server, &mut client);
}

#[test]
fn reply_trickled_within_the_deadline_is_reassembled() {
    // 31 bytes at one per 5 ms: ~160 ms, far inside a 2 s timeout.
    let (server, mut client) = setup(Fault::Trickle(Duration::from_millis(5)), PATIENT);
    let (result, elapsed) = timed(|| client.get(K1));
    assert_eq!(result.expect("a trickled reply"), item(V1));
    assert!(elapsed < PATIENT, "{elapsed:?}");
    assert_recovers_on_same_connection(&server, &mut client);
}

#[test]
fn server_that_never_reads_times_out_the_write() {
    let config = config(TIMEOUT).with_max_value_size(64 << 20);
    let (server, mut client) = setup_with(Fault::NoRead, config);
    // Far more than loopback socket buffers hold, so the write stalls.
    let value = vec![b'v'; 32 << 20];
    let (result, elapsed) = timed(|| client.set(K3, &value, Expiry::Never));
    let error = result.expect_err("a write nobody read completed");
    assert!(
        matches!(error, Error::Timeout { phase: Phase::Write, timeout } if timeout == TIMEOUT),
        "{error:?}"
    );
    assert!(error.may_have_reached_server());
    assert_timed_out_on_time(elapsed, TIMEOUT);
    assert_eq!(server.stored(K3), None);
    assert!(server.log(0).received.is_empty());
    assert_recovers_on_new_connection(&server, &mut client);
}

#[test]
fn connect_that_hangs_times_out_at_the_connect_timeout() {
    let (mut server, mut client) = setup(Fault::CloseAfterRequest, TIMEOUT);
    // Connection 0 closes after the first request, so the next call must reconnect...
    assert!(matches!(
        client.get(K1),
        Err(Error::ConnectionClosed { phase: Phase::Read })
    ));
    // ...and connecting hangs: the listen queue is full and Linux drops the SYN.
    server.hang_connects();
    let (result, elapsed) = timed(|| client.get(K1));
    let error = result.expect_err("a connect to a full listen queue succeeded");
    assert!(
        matches!(error, Error::Timeout { phase: Phase::Connect, timeout } if timeout == TIMEOUT),
        "{error:?}"
    );
    assert!(error.is_connection_error() && !error.may_have_reached_server());
    assert!(error.is_safe_to_retry(false), "nothing was sent");
    assert_timed_out_on_time(elapsed, TIMEOUT);
    assert!(!client.is_connected());

    server.release_connects();
    assert_eq!(client.get(K2).expect("get once connects work"), item(V2));
    let requests = server.requests();
    assert_eq!(requests, [vec!["get fault:k1"], vec!["get fault:k2"]]);
    assert_later_calls_are_in_step(&server, &mut client);
}

// ---- closes and resets -------------------------------------------------------------------

fn assert_closed_during_read(fault: Fault) {
    let (server, mut client) = setup(fault, PATIENT);
    let (result, elapsed) = timed(|| client.get(K1));
    let error = result.expect_err("a reply cut short was accepted");
    assert!(
        matches!(error, Error::ConnectionClosed { phase: Phase::Read }),
        "{error:?}"
    );
    assert!(error.is_connection_error());
    assert_prompt(elapsed);
    assert_recovers_on_new_connection(&server, &mut client);
}

#[test]
fn close_right_after_the_request_is_connection_closed() {
    assert_closed_during_read(Fault::CloseAfterRequest);
}

#[test]
fn close_in_the_middle_of_a_reply_line_is_connection_closed() {
    assert_closed_during_read(Fault::CloseMidLine);
}

#[test]
fn close_after_the_value_header_is_connection_closed() {
    assert_closed_during_read(Fault::CloseAfterValueHeader);
}

#[test]
fn close_inside_the_data_block_is_connection_closed() {
    assert_closed_during_read(Fault::CloseInsideData);
}

#[test]
fn close_before_the_data_block_terminator_is_connection_closed() {
    assert_closed_during_read(Fault::CloseBeforeDataTerminator);
}

#[test]
fn close_before_end_is_connection_closed_not_a_hit() {
    // The whole VALUE frame arrived; without END the reply is still incomplete.
    assert_closed_during_read(Fault::CloseBeforeEnd);
}

/// The fault connections a server closed or reset while the client held it idle: the peek
/// before every request notices, and the request goes out on a new connection, never on the
/// dead one.
fn assert_replaced_before_sending(fault: Fault) {
    let (server, mut client) = setup(fault, PATIENT);
    assert!(server.wait_for_close(0));
    thread::sleep(Duration::from_millis(20));
    let (result, elapsed) = timed(|| client.get(K1));
    assert_eq!(
        result.expect("the request goes out on a new connection"),
        item(V1)
    );
    assert_prompt(elapsed);
    let requests = server.requests();
    assert_eq!(
        requests.len(),
        2,
        "connections and their requests: {requests:?}"
    );
    assert!(
        requests[0].is_empty(),
        "a request was sent on the closed connection: {requests:?}"
    );
    assert_eq!(requests[1], ["get fault:k1"]);
    assert_later_calls_are_in_step(&server, &mut client);
}

#[test]
fn a_connection_closed_while_idle_is_replaced_before_the_request_is_sent() {
    // The server's FIN arrives before the client's next request.
    assert_replaced_before_sending(Fault::CloseOnAccept);
}

#[test]
fn store_to_a_server_that_closes_is_never_reported_stored() {
    let (server, mut client) = setup(Fault::CloseAfterRequest, PATIENT);
    let (result, elapsed) = timed(|| client.set(K3, b"lost", Expiry::Never));
    let error = result.expect_err("a set nobody answered was reported stored");
    assert!(
        matches!(error, Error::ConnectionClosed { phase: Phase::Read }),
        "{error:?}"
    );
    assert!(error.may_have_reached_server());
    assert_prompt(elapsed);
    assert_eq!(server.stored(K3), None);
    assert_eq!(server.log(0).requests, ["set fault:k3 0 0 4"]);
    assert_recovers_on_new_connection(&server, &mut client);
}

/// A reset is `Error::Io` with `ConnectionReset`, not `ConnectionClosed`: the kernel reports
/// an RST as ECONNRESET on the first read or write after it, while `ConnectionClosed` means an
/// orderly FIN (a read of 0 bytes).
#[test]
fn reset_after_the_request_is_an_io_error() {
    let (server, mut client) = setup(Fault::Reset, PATIENT);
    let (result, elapsed) = timed(|| client.get(K1));
    let error = result.expect_err("a reset connection answered");
    assert_reset(&error, Phase::Read);
    assert!(error.is_connection_error() && error.is_transient());
    assert_prompt(elapsed);
    assert_recovers_on_new_connection(&server, &mut client);
}

/// A server that closes with the request unread (memcached dying with the request in its
/// buffer) makes its kernel send an RST, not a FIN: `Io` with `ConnectionReset`.
#[test]
fn close_with_the_request_unread_is_an_io_error() {
    let (server, mut client) = setup(Fault::CloseUnread, PATIENT);
    let (result, elapsed) = timed(|| client.get(K1));
    let error = result.expect_err("a closed connection answered");
    assert_reset(&error, Phase::Read);
    assert_prompt(elapsed);
    assert_recovers_on_new_connection(&server, &mut client);
}

#[test]
fn a_connection_reset_while_idle_is_replaced_before_the_request_is_sent() {
    assert_replaced_before_sending(Fault::ResetWhileIdle(Duration::from_millis(20)));
}

#[test]
fn reset_at_accept_is_a_connect_or_io_error() {
    let server = FaultServer::start(vec![
        Fault::CloseAfterRequest,
        Fault::ResetOnAccept,
        Fault::Healthy,
    ]);
    server.insert(K2, V2);
    let mut client = Client::builder(&server.addr())
        .config(config(PATIENT))
        .connect()
        .unwrap();
    assert!(matches!(
        client.get(K1),
        Err(Error::ConnectionClosed { phase: Phase::Read })
    ));
    // Reconnects to connection 1, which resets at once.
    let (result, elapsed) = timed(|| client.get(K1));
    let error = result.expect_err("a reset connection answered");
    match &error {
        Error::Connect { source, .. } | Error::Io { source, .. } => {
            assert_eq!(
                source.kind(),
                std::io::ErrorKind::ConnectionReset,
                "{error:?}"
            )
        }
        other => panic!("expected Connect or Io with ConnectionReset, got {other:?}"),
    }
    assert!(error.is_connection_error());
    assert_prompt(elapsed);
    assert!(!client.is_connected());
    assert_eq!(client.get(K2).unwrap(), item(V2));
    assert_eq!(server.log(2).requests, ["get fault:k2"]);
}

/// The server resets while a large request is still being written: the write reports
/// ECONNRESET, `Io` in the write phase.
#[test]
fn reset_while_the_request_is_sent_is_an_io_error_in_the_write_phase() {
    let config = config(PATIENT).with_max_value_size(64 << 20);
    let (server, mut client) = setup_with(Fault::ResetMidRequest, config);
    let value = vec![b'v'; 32 << 20];
    let (result, elapsed) = timed(|| client.set(K3, &value, Expiry::Never));
    let error = result.expect_err("a set cut off mid-request was reported stored");
    assert_reset(&error, Phase::Write);
    assert!(error.may_have_reached_server());
    assert_prompt(elapsed);
    assert_eq!(server.stored(K3), None);
    assert_recovers_on_new_connection(&server, &mut client);
}

/// Bytes nobody asked for that arrived while the connection was idle are seen by the peek
/// before the next request: the connection is replaced, and they are never read as an answer.
#[test]
fn stray_bytes_that_arrived_while_idle_are_never_read_as_an_answer() {
    let fault = Fault::Greeting(b"VALUE fault:k2 0 5\r\nWRONG\r\nEND\r\n".to_vec());
    let (server, mut client) = setup(fault, PATIENT);
    thread::sleep(Duration::from_millis(50));
    assert_eq!(
        client.get(K2).expect("first call after the stray bytes"),
        item(V2)
    );
    assert_eq!(server.requests(), [vec![], vec!["get fault:k2"]]);
}

#[test]
fn too_many_connections_greeting_is_unknown_command_with_its_message() {
    // memcached at its connection limit writes this line on accept and closes.
    let fault = Fault::GreetingThenClose(b"ERROR Too many open connections\r\n".to_vec());
    let (server, mut client) = setup(fault, PATIENT);
    let (result, elapsed) = timed(|| client.get(K1));
    let error = result.expect_err("a refused connection answered");
    assert!(
        matches!(&error, Error::UnknownCommand { message } if message == "Too many open connections"),
        "{error:?}"
    );
    assert_prompt(elapsed);
    assert_recovers_on_new_connection(&server, &mut client);
}

// ---- bytes that are not a valid reply ----------------------------------------------------

fn assert_protocol_error(fault: Fault, expected: fn(ProtocolErrorKind) -> bool) {
    let (server, mut client) = setup(fault, PATIENT);
    let (result, elapsed) = timed(|| client.get(K1));
    let error = result.expect_err("an invalid reply was accepted");
    let kind = protocol_kind(&error);
    assert!(expected(kind), "unexpected kind {kind:?} in {error}");
    assert!(!error.is_connection_error());
    // Asking again may find the stream sane, except for a value longer than this client
    // accepts: the server would claim it again.
    let retry_helps = !matches!(kind, ProtocolErrorKind::ValueTooLong { .. });
    assert_eq!(error.is_transient(), retry_helps, "{error:?}");
    assert_eq!(error.is_safe_to_retry(true), retry_helps, "{error:?}");
    assert_prompt(elapsed);
    assert_recovers_on_new_connection(&server, &mut client);
}

#[test]
fn garbage_is_an_unknown_reply() {
    assert_protocol_error(Fault::Garbage, |k| k == ProtocolErrorKind::UnknownReply);
}

#[test]
fn line_ending_in_a_bare_line_feed_is_rejected() {
    let fault = Fault::Reply(b"END\n".to_vec());
    assert_protocol_error(fault, |k| k == ProtocolErrorKind::BareLineFeed);
}

#[test]
fn malformed_value_header_is_rejected() {
    let fault = Fault::Reply(b"VALUE fault:k1 zero 3\r\nabc\r\nEND\r\n".to_vec());
    assert_protocol_error(fault, |k| k == ProtocolErrorKind::MalformedLine);
}

#[test]
fn reply_of_another_command_is_unexpected() {
    let fault = Fault::Reply(b"STORED\r\n".to_vec());
    assert_protocol_error(fault, |k| k == ProtocolErrorKind::UnexpectedReply);
}

#[test]
fn value_header_claiming_4_gib_is_rejected_at_once() {
    // The server sends the header and then nothing: only a check of the claim itself can
    // answer before the 2 s read timeout.
    assert_protocol_error(Fault::HugeValueHeader, |k| {
        matches!(
            k,
            ProtocolErrorKind::ValueTooLong {
                claimed: 4294967295,
                limit: 1048576
            }
        )
    });
}

#[test]
fn data_block_longer_than_its_header_is_unterminated_data() {
    assert_protocol_error(Fault::DataLonger, |k| {
        k == ProtocolErrorKind::UnterminatedData
    });
}

#[test]
fn data_block_shorter_than_its_header_is_unterminated_data() {
    assert_protocol_error(Fault::DataShorter, |k| {
        k == ProtocolErrorKind::UnterminatedData
    });
}

#[test]
fn data_block_not_followed_by_crlf_is_unterminated_data() {
    assert_protocol_error(Fault::DataUnterminated, |k| {
        k == ProtocolErrorKind::UnterminatedData
    });
}

#[test]
fn endless_reply_line_is_line_too_long_quickly() {
    assert_protocol_error(Fault::EndlessLine, |k| k == ProtocolErrorKind::LineTooLong);
}

#[test]
fn value_for_another_key_is_unrequested_key_never_a_hit() {
    assert_protocol_error(Fault::OtherKey(K2.to_vec()), |k| {
        k == ProtocolErrorKind::UnrequestedKey
    });
}

/// With no limit on value size (`usize::MAX`), a `VALUE` claim near `u64::MAX` passes the
/// limit check, and `parse_value`'s `line_len + claimed` overflows.
fn assert_unlimited_client_refuses_claim(claim: &str) {
    let header = format!("VALUE fault:k1 0 {claim}\r\n");
    let fault = Fault::Reply(header.into_bytes());
    let config = config(PATIENT).with_max_value_size(usize::MAX);
    let (server, mut client) = setup_with(fault, config);
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| timed(|| client.get(K1))));
    let Ok((result, elapsed)) = outcome else {
        panic!(
            "Client::get panicked on a VALUE header claiming {claim} bytes with \
             max_value_size = usize::MAX (overflow in parse_value's `line_len + claimed`)"
        );
    };
    let error = result.expect_err("a header claiming more than memory was accepted");
    assert!(
        matches!(
            protocol_kind(&error),
            ProtocolErrorKind::ValueTooLong { .. } | ProtocolErrorKind::MalformedLine
        ),
        "{error:?}"
    );
    assert_prompt(elapsed);
    assert_recovers_on_new_connection(&server, &mut client);
}

/// A claim of `u64::MAX` bytes with no client limit is a typed error at once: the frame's end
/// is computed with checked arithmetic (it once overflowed: a panic in debug builds, a wait
/// for data that can never come in release builds).
#[test]
fn value_header_claiming_u64_max_with_an_unlimited_client_is_a_typed_error() {
    assert_unlimited_client_refuses_claim("18446744073709551615");
}

/// A claim of `u64::MAX - 1` bytes, whose end once wrapped to just before the header's own
/// `\r\n` (so that slicing panicked), is a typed error too.
#[test]
fn value_header_claiming_u64_max_minus_1_with_an_unlimited_client_is_a_typed_error() {
    assert_unlimited_client_refuses_claim("18446744073709551614");
}

// ---- more than was asked for --------------------------------------------------------------

#[test]
fn two_replies_return_the_first_and_drop_the_connection() {
    let (server, mut client) = setup(Fault::TwoReplies, PATIENT);
    let (result, elapsed) = timed(|| client.get(K1));
    assert_eq!(result.expect("the first reply is a valid answer"), item(V1));
    assert_prompt(elapsed);
    assert_recovers_on_new_connection(&server, &mut client);
}

#[test]
fn unsolicited_bytes_after_a_reply_drop_the_connection() {
    // The extra bytes would answer the next request (get K2) with a wrong value.
    let fault = Fault::Unsolicited(b"VALUE fault:k2 0 5\r\nWRONG\r\nEND\r\n".to_vec());
    let (server, mut client) = setup(fault, PATIENT);
    let (result, elapsed) = timed(|| client.get(K1));
    assert_eq!(result.expect("the reply itself is valid"), item(V1));
    assert_prompt(elapsed);
    assert_recovers_on_new_connection(&server, &mut client);
}

/// Unsolicited bytes that arrive *after* the client has read its reply (here 50 ms later)
/// wait in the socket; the peek before the next request finds them, so the stale `STORED` is
/// never read as the answer to the next command.
#[test]
fn late_unsolicited_stored_is_never_taken_as_the_answer_to_a_later_store() {
    let fault = Fault::UnsolicitedLater {
        delay: Duration::from_millis(50),
        bytes: b"STORED\r\n".to_vec(),
    };
    let (server, mut client) = setup(fault, PATIENT);
    assert_eq!(client.get(K1).unwrap(), item(V1));
    thread::sleep(Duration::from_millis(200));
    // K2 exists, so the server refuses the add (NOT_STORED).
    let outcome = client.add(K2, b"other", Expiry::Never);
    assert_eq!(
        server.stored(K2).as_deref(),
        Some(V2),
        "the server refused the add"
    );
    assert!(
        !matches!(outcome, Ok(StoreOutcome::Stored)),
        "add was reported Stored from an unsolicited STORED; the server answered NOT_STORED"
    );
}

/// As above, with a stale `VALUE` that must never be returned as the answer to a later `get`.
#[test]
fn late_unsolicited_value_is_never_returned_for_a_later_get() {
    let fault = Fault::UnsolicitedLater {
        delay: Duration::from_millis(50),
        bytes: b"VALUE fault:k2 0 5\r\nWRONG\r\nEND\r\n".to_vec(),
    };
    let (_server, mut client) = setup(fault, PATIENT);
    assert_eq!(client.get(K1).unwrap(), item(V1));
    thread::sleep(Duration::from_millis(200));
    let result = client.get(K2);
    assert!(
        !matches!(&result, Ok(Some(item)) if item.value == b"WRONG"),
        "get returned bytes the server sent before the request: {result:?}"
    );
    assert!(matches!(&result, Ok(found) if *found == item(V2)) || result.is_err());
}

// ---- values out of request order ----------------------------------------------------------

/// `VALUE <key> 0 <len>\r\n<value>\r\n`
fn value_frame(key: &[u8], value: &[u8]) -> Vec<u8> {
    let header = format!("VALUE {} 0 {}\r\n", key.escape_ascii(), value.len());
    [header.as_bytes(), value, b"\r\n"].concat()
}

#[test]
fn values_in_reverse_order_are_matched_to_their_keys_and_keep_the_connection() {
    let (server, mut client) = setup(Fault::Reversed, PATIENT);
    let missing = unique_key("fault:missing:");
    let (result, elapsed) = timed(|| client.get_many(&[K1, &missing, K2]));
    let found = result.expect("values in reverse order answer the request");
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found.get(K1).map(|found| found.to_item()), item(V1));
    assert_eq!(found.get(K2).map(|found| found.to_item()), item(V2));
    assert_prompt(elapsed);
    assert_recovers_on_same_connection(&server, &mut client);
}

#[test]
fn get_many_with_hands_values_in_reverse_order_over_with_their_keys_positions() {
    let (server, mut client) = setup(Fault::Reversed, PATIENT);
    let missing = unique_key("fault:missing:");
    let keys = [K1, &missing, K2];
    let mut seen = Vec::new();
    client
        .get_many_with(&keys, |index, value, _| seen.push((index, value.to_vec())))
        .expect("values in reverse order answer the request");
    assert_eq!(seen, [(2, V2.to_vec()), (0, V1.to_vec())]);
    assert_recovers_on_same_connection(&server, &mut client);
}

#[test]
fn gets_many_takes_values_in_reverse_order_with_their_own_tokens() {
    let (server, mut client) = setup(Fault::Reversed, PATIENT);
    let found = client
        .gets_many(&[K1, K2])
        .expect("values in reverse order answer the request");
    let (k1, t1) = found.get(K1).expect("found");
    let (k2, t2) = found.get(K2).expect("found");
    assert_eq!((k1.value, k2.value), (V1, V2));
    assert_ne!(t1, t2);
    assert_recovers_on_same_connection(&server, &mut client);
}

#[test]
fn a_key_asked_twice_may_come_back_twice_out_of_order() {
    let (server, mut client) = setup(Fault::Reversed, PATIENT);
    // Answered K2, K1, K1: each value of K1 takes one of its positions.
    let mut seen = Vec::new();
    client
        .get_many_with(&[K1, K1, K2], |index, value, _| {
            seen.push((index, value.to_vec()))
        })
        .expect("a key asked twice answered twice");
    seen.sort();
    assert_eq!(seen, [(0, V1.to_vec()), (1, V1.to_vec()), (2, V2.to_vec())]);
    assert_recovers_on_same_connection(&server, &mut client);
}

#[test]
fn a_key_asked_twice_and_answered_three_times_is_unrequested_key() {
    let frame = value_frame(K1, V1);
    let reply = [&frame[..], &frame, &frame, b"END\r\n"].concat();
    let (server, mut client) = setup(Fault::Reply(reply), PATIENT);
    let (result, elapsed) = timed(|| client.get_many(&[K1, K1]));
    let error = result.expect_err("a third value for a key asked twice was accepted");
    assert_eq!(protocol_kind(&error), ProtocolErrorKind::UnrequestedKey);
    assert_prompt(elapsed);
    assert_recovers_on_new_connection(&server, &mut client);
}

#[test]
fn a_key_not_asked_for_among_values_out_of_order_is_unrequested_key() {
    let reply = [
        value_frame(K3, b"three"),
        value_frame(K2, V2),
        value_frame(K1, V1),
        b"END\r\n".to_vec(),
    ]
    .concat();
    let (server, mut client) = setup(Fault::Reply(reply), PATIENT);
    let mut handed_over = Vec::new();
    let (result, elapsed) =
        timed(|| client.get_many_with(&[K1, K3], |index, _, _| handed_over.push(index)));
    let error = result.expect_err("a value for a key not asked for was accepted");
    assert_eq!(protocol_kind(&error), ProtocolErrorKind::UnrequestedKey);
    // What came before the stray value was handed over; nothing after it.
    assert_eq!(handed_over, [1]);
    assert_prompt(elapsed);
    assert_recovers_on_new_connection(&server, &mut client);
}

// ---- memcached's error replies ------------------------------------------------------------

#[test]
fn server_error_is_server_and_keeps_the_connection() {
    let fault = Fault::ServerError("out of memory storing object".into());
    let (server, mut client) = setup(fault, PATIENT);
    let (result, elapsed) = timed(|| client.get(K1));
    let error = result.expect_err("SERVER_ERROR was taken for an answer");
    assert!(
        matches!(&error, Error::ServerError { message, .. } if message == "out of memory storing object"),
        "{error:?}"
    );
    assert!(error.is_out_of_memory() && error.is_transient());
    assert_prompt(elapsed);
    assert_recovers_on_same_connection(&server, &mut client);
}

#[test]
fn server_error_to_a_store_is_not_stored_and_keeps_the_connection() {
    let fault = Fault::ServerError("object too large for cache".into());
    let (server, mut client) = setup(fault, PATIENT);
    let error = client.set(K3, b"big", Expiry::Never).unwrap_err();
    assert!(error.is_item_too_large(), "{error:?}");
    assert_eq!(server.stored(K3), None);
    assert_recovers_on_same_connection(&server, &mut client);
}

#[test]
fn client_error_is_client_and_drops_the_connection() {
    let fault = Fault::ClientError("bad command line format".into());
    let (server, mut client) = setup(fault, PATIENT);
    let (result, elapsed) = timed(|| client.get(K1));
    let error = result.expect_err("CLIENT_ERROR was taken for an answer");
    assert!(
        matches!(&error, Error::ClientError { message } if message == "bad command line format"),
        "{error:?}"
    );
    assert!(!error.is_transient());
    assert_prompt(elapsed);
    assert_recovers_on_new_connection(&server, &mut client);
}

#[test]
fn error_is_unknown_command_and_drops_the_connection() {
    let (server, mut client) = setup(Fault::Error, PATIENT);
    let (result, elapsed) = timed(|| client.get(K1));
    let error = result.expect_err("ERROR was taken for an answer");
    assert!(
        matches!(&error, Error::UnknownCommand { message } if message.is_empty()),
        "{error:?}"
    );
    assert_prompt(elapsed);
    assert_recovers_on_new_connection(&server, &mut client);
}

// ---- a fault on a later request of a connection --------------------------------------------

#[test]
fn fault_on_a_later_request_drops_only_then() {
    let (server, mut client) = setup(Fault::After(2, Box::new(Fault::Silent)), TIMEOUT);
    assert_eq!(client.get(K1).unwrap(), item(V1));
    assert_eq!(client.get(K2).unwrap(), item(V2));
    assert!(client.is_connected());
    let (result, elapsed) = timed(|| client.get(K1));
    assert!(
        matches!(
            result,
            Err(Error::Timeout {
                phase: Phase::Read,
                ..
            })
        ),
        "{result:?}"
    );
    assert_timed_out_on_time(elapsed, TIMEOUT);
    assert_eq!(
        server.log(0).requests,
        ["get fault:k1", "get fault:k2", "get fault:k1"]
    );
    assert!(!client.is_connected());
    assert_eq!(client.get(K2).unwrap(), item(V2));
    assert_eq!(server.log(1).requests, ["get fault:k2"]);
}
