//! The fault matrix in meta form: every way a server can misbehave that `tests/faults.rs` pins
//! for the text protocol, and the ways only meta framing has (an unknown return code, a wrong
//! or missing opaque token, a stale second reply, hostile `VA` lengths), each against every
//! meta command: `mg`, `ms`, `md`, `ma` and `mn`.
//!
//! Every case checks
//! 1. the exact outcome: an `Error` variant (its phase, its protocol kind), or the value, and
//!    that `EN` is a miss and `NS` a not-stored, never errors;
//! 2. that it came within the read timeout (plus a margin, for timeouts on a shared machine;
//!    well within a long one for errors that need no waiting);
//! 3. whether the connection was kept or dropped: after a desync the next call goes out on
//!    a new connection, the broken one never sees another request, and the call returns its
//!    own key's value.
//!
//! Connection 0 is the client's eager connect in `Client::connect_with`; it carries the fault,
//! every later connection is healthy.

use memcache_sync_test_support as support;

use std::time::Duration;

use memcache_sync::protocol::ProtocolErrorKind;
use memcache_sync::{
    Client, Config, Error, MetaArithOptions, MetaArithOutcome, MetaDeleteOptions,
    MetaDeleteOutcome, MetaGetOptions, MetaItem, MetaSetOptions, MetaStoreOutcome, Phase,
};
use support::fault_server::{faulty_client, Fault, FaultServer};
use support::timed;

/// The read timeout of the cases that expect a timeout.
const TIMEOUT: Duration = Duration::from_millis(300);
/// The read timeout of the cases that expect an error *before* any timeout: long, so that an
/// error that only came from waiting would show.
const PATIENT: Duration = Duration::from_secs(2);
/// What a bound may exceed its timeout by on a shared, loaded machine.
const MARGIN: Duration = Duration::from_millis(300);

const K1: &[u8] = b"metafault:k1";
const V1: &[u8] = b"value-of-k1";
const K2: &[u8] = b"metafault:k2";
const V2: &[u8] = b"value-of-k2";
const K3: &[u8] = b"metafault:k3";
const COUNTER: &[u8] = b"metafault:counter";

/// One meta command, as the matrix runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Get,
    Set,
    Delete,
    Arith,
    Noop,
}

const OPS: [Op; 5] = [Op::Get, Op::Set, Op::Delete, Op::Arith, Op::Noop];

impl Op {
    /// The command's first word on the wire.
    fn command(self) -> &'static str {
        match self {
            Op::Get => "mg",
            Op::Set => "ms",
            Op::Delete => "md",
            Op::Arith => "ma",
            Op::Noop => "mn",
        }
    }
}

/// What a meta command returned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Get(Option<MetaItem>),
    Set(MetaStoreOutcome),
    Delete(MetaDeleteOutcome),
    Arith(MetaArithOutcome),
    Noop,
}

/// Runs `op` on K1 (`ms` on K3, `ma` on the counter).
fn run(client: &mut Client, op: Op) -> Result<Outcome, Error> {
    match op {
        Op::Get => client
            .meta_get(K1, &MetaGetOptions::new())
            .map(Outcome::Get),
        Op::Set => client
            .meta_set(K3, b"three", &MetaSetOptions::new())
            .map(Outcome::Set),
        Op::Delete => client
            .meta_delete(K1, &MetaDeleteOptions::new())
            .map(Outcome::Delete),
        Op::Arith => client
            .meta_arithmetic(COUNTER, &MetaArithOptions::incr())
            .map(Outcome::Arith),
        Op::Noop => client.meta_noop().map(|()| Outcome::Noop),
    }
}

fn config(read_timeout: Duration) -> Config {
    Config::default()
        .with_connect_timeout(TIMEOUT)
        .with_write_timeout(TIMEOUT)
        .with_read_timeout(read_timeout)
}

/// A server whose connection 0 follows `fault` and every later one is healthy, holding
/// K1 = V1, K2 = V2 and the counter at 5, and a client connected to it (connection 0).
fn setup(fault: Fault, read_timeout: Duration) -> (FaultServer, Client) {
    let items: [(&[u8], &[u8]); 3] = [(K1, V1), (K2, V2), (COUNTER, b"5")];
    faulty_client(fault, &items, config(read_timeout))
}

fn value(item: Option<MetaItem>) -> Option<Vec<u8>> {
    item.and_then(|item| item.value)
}

fn protocol_kind(error: &Error) -> ProtocolErrorKind {
    match error {
        Error::Protocol(e) => e.kind,
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

/// A timeout must come no earlier than its timeout and no later than timeout + margin.
fn assert_on_time(elapsed: Duration, timeout: Duration, op: Op) {
    assert!(elapsed >= timeout, "{op:?} gave up early: {elapsed:?}");
    assert!(
        elapsed < timeout + MARGIN,
        "{op:?} gave up late: {elapsed:?} >= {timeout:?} + {MARGIN:?}"
    );
}

/// An error that needs no waiting must come well before the (long) read timeout.
fn assert_prompt(elapsed: Duration, op: Op) {
    assert!(
        elapsed < PATIENT / 2,
        "{op:?} took {elapsed:?}, expected an answer well before the {PATIENT:?} read timeout"
    );
}

/// The broken connection 0 was dropped: the next call opens connection 1, which answers it
/// with its own value, and connection 0 never saw a request after the faulted one.
fn assert_recovers_on_new_connection(server: &FaultServer, client: &mut Client, op: Op) {
    assert!(
        !client.is_connected(),
        "{op:?}: the broken connection was kept"
    );
    let (result, elapsed) = timed(|| client.meta_get(K2, &MetaGetOptions::new()));
    assert_eq!(
        value(result.expect("mg after the fault")).as_deref(),
        Some(V2),
        "{op:?}: the next call did not get its own key's value"
    );
    assert!(
        elapsed < TIMEOUT * 3 + MARGIN,
        "{op:?}: recovery took {elapsed:?}"
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{op:?}: connections: {requests:?}");
    assert_eq!(
        requests[0].len(),
        1,
        "{op:?}: a request after the fault went to the broken connection: {requests:?}"
    );
    assert!(requests[0][0].starts_with(op.command()), "{requests:?}");
    assert!(
        requests[1][0].starts_with("mg metafault:k2 "),
        "{op:?}: {requests:?}"
    );
    assert_later_calls_are_in_step(client, op);
}

/// The connection was kept: the next call goes on connection 0 and gets its own value.
fn assert_recovers_on_same_connection(server: &FaultServer, client: &mut Client, op: Op) {
    assert!(client.is_connected(), "{op:?}: the connection was dropped");
    let item = client.meta_get(K2, &MetaGetOptions::new()).expect("mg");
    assert_eq!(value(item).as_deref(), Some(V2), "{op:?}");
    let requests = server.requests();
    assert_eq!(
        requests.len(),
        1,
        "{op:?}: a new connection was opened: {requests:?}"
    );
    assert_later_calls_are_in_step(client, op);
}

/// A few more calls, each answered with its own reply.
fn assert_later_calls_are_in_step(client: &mut Client, op: Op) {
    let get = MetaGetOptions::new();
    assert_eq!(
        value(client.meta_get(K2, &get).unwrap()).as_deref(),
        Some(V2),
        "{op:?}"
    );
    assert!(client
        .meta_set(K3, b"again", &MetaSetOptions::new())
        .unwrap()
        .is_stored());
    assert_eq!(
        value(client.meta_get(K3, &get).unwrap()).as_deref(),
        Some(&b"again"[..])
    );
    assert_eq!(
        client.meta_get(b"metafault:missing", &get).unwrap(),
        None,
        "{op:?}: a miss after recovery"
    );
    client.meta_noop().unwrap();
}

/// `fault` on every meta command times out in the read phase at the read timeout, and the
/// next call goes out on a new connection.
fn assert_times_out_on_every_op(fault: Fault) {
    for op in OPS {
        let (server, mut client) = setup(fault.clone(), TIMEOUT);
        let (result, elapsed) = timed(|| run(&mut client, op));
        let error = result.expect_err(&format!("{op:?} under {fault:?} answered"));
        assert!(
            matches!(error, Error::Timeout { phase: Phase::Read, timeout } if timeout == TIMEOUT),
            "{op:?} under {fault:?}: {error:?}"
        );
        assert!(error.may_have_reached_server(), "{error:?}");
        assert_on_time(elapsed, TIMEOUT, op);
        assert_recovers_on_new_connection(&server, &mut client, op);
    }
}

/// `fault` on every meta command fails at once with an error `check` accepts, and the next
/// call goes out on a new connection.
fn assert_fails_at_once_on_every_op(fault: Fault, check: impl Fn(Op, &Error) -> bool) {
    for op in OPS {
        let (server, mut client) = setup(fault.clone(), PATIENT);
        let (result, elapsed) = timed(|| run(&mut client, op));
        let error = result.expect_err(&format!("{op:?} under {fault:?} answered"));
        assert!(check(op, &error), "{op:?} under {fault:?}: {error:?}");
        assert_prompt(elapsed, op);
        assert_recovers_on_new_connection(&server, &mut client, op);
    }
}

fn assert_protocol_error_on_every_op(fault: Fault, kind: impl Fn(ProtocolErrorKind) -> bool) {
    assert_fails_at_once_on_every_op(
        fault,
        |_, error| matches!(error, Error::Protocol(e) if kind(e.kind)),
    );
}

fn closed_in_read(_: Op, error: &Error) -> bool {
    matches!(error, Error::ConnectionClosed { phase: Phase::Read })
}

// ---- no answer, slow answers --------------------------------------------------------------

#[test]
fn silent_server_times_out_every_meta_command_at_the_read_timeout() {
    assert_times_out_on_every_op(Fault::Silent);
}

#[test]
fn meta_reply_later_than_the_timeout_times_out_and_is_never_seen() {
    assert_times_out_on_every_op(Fault::Delay(TIMEOUT * 2));
}

#[test]
fn trickled_meta_reply_cannot_stretch_the_read_past_its_deadline() {
    assert_times_out_on_every_op(Fault::Trickle(Duration::from_millis(100)));
}

#[test]
fn meta_reply_delayed_or_trickled_within_the_timeout_is_returned_and_keeps_the_connection() {
    let mut hit = MetaItem::default();
    hit.value = Some(V1.to_vec());
    let expected = [
        Outcome::Get(Some(hit)),
        Outcome::Set(MetaStoreOutcome::Stored {
            cas: memcache_sync::CasToken(4),
            size: None,
        }),
        Outcome::Delete(MetaDeleteOutcome::Deleted),
        Outcome::Noop,
    ];
    for fault in [
        Fault::Delay(Duration::from_millis(50)),
        Fault::Trickle(Duration::from_millis(1)),
    ] {
        for (op, expected) in [Op::Get, Op::Set, Op::Delete, Op::Noop]
            .into_iter()
            .zip(&expected)
        {
            let (server, mut client) = setup(fault.clone(), PATIENT);
            let (result, elapsed) = timed(|| run(&mut client, op));
            assert_eq!(&result.unwrap(), expected, "{op:?} under {fault:?}");
            assert!(elapsed < PATIENT, "{op:?}: {elapsed:?}");
            assert_recovers_on_same_connection(&server, &mut client, op);
        }
        let (server, mut client) = setup(fault.clone(), PATIENT);
        let counted = run(&mut client, Op::Arith).unwrap();
        assert!(
            matches!(counted, Outcome::Arith(MetaArithOutcome::Counted(c)) if c.value == 6),
            "{counted:?}"
        );
        assert_recovers_on_same_connection(&server, &mut client, Op::Arith);
    }
}

// ---- closes and resets ---------------------------------------------------------------------

#[test]
fn close_right_after_a_meta_request_is_connection_closed() {
    assert_fails_at_once_on_every_op(Fault::CloseAfterRequest, closed_in_read);
}

#[test]
fn close_in_the_middle_of_a_va_line_is_connection_closed() {
    assert_fails_at_once_on_every_op(Fault::CloseMidLine, closed_in_read);
}

#[test]
fn close_after_a_whole_va_line_is_connection_closed() {
    assert_fails_at_once_on_every_op(Fault::CloseAfterValueHeader, closed_in_read);
}

#[test]
fn close_in_the_middle_of_a_meta_value_is_connection_closed() {
    assert_fails_at_once_on_every_op(Fault::CloseInsideData, closed_in_read);
}

#[test]
fn close_before_a_meta_values_terminator_is_connection_closed() {
    assert_fails_at_once_on_every_op(Fault::CloseBeforeDataTerminator, closed_in_read);
}

#[test]
fn meta_set_to_a_server_that_closes_is_never_reported_stored() {
    for fault in [
        Fault::CloseAfterRequest,
        Fault::CloseMidLine,
        Fault::Reset,
        Fault::Silent,
    ] {
        let (server, mut client) = setup(fault.clone(), TIMEOUT);
        let result = client.meta_set(K3, b"three", &MetaSetOptions::new());
        let error = result.expect_err(&format!("ms under {fault:?} was reported stored"));
        assert!(error.may_have_reached_server(), "{error:?}");
        assert_recovers_on_new_connection(&server, &mut client, Op::Set);
    }
}

#[test]
fn close_right_after_a_whole_meta_reply_returns_it_and_the_next_call_reconnects() {
    let (server, mut client) = setup(Fault::CloseBeforeEnd, PATIENT);
    let item = client.meta_get(K1, &MetaGetOptions::new()).unwrap();
    assert_eq!(value(item).as_deref(), Some(V1));
    assert!(server.wait_for_close(0));
    // The check before the request sees the close: the call goes out on a new connection.
    let item = client.meta_get(K2, &MetaGetOptions::new()).unwrap();
    assert_eq!(value(item).as_deref(), Some(V2));
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[0].len(), 1, "{requests:?}");
}

#[test]
fn reset_after_a_meta_request_is_an_io_error() {
    assert_fails_at_once_on_every_op(Fault::Reset, |_, error| {
        matches!(error, Error::Io { phase: Phase::Read, source }
            if source.kind() == std::io::ErrorKind::ConnectionReset)
    });
}

// ---- bytes that are no valid meta reply ----------------------------------------------------

#[test]
fn garbage_is_an_unknown_reply_to_every_meta_command() {
    assert_protocol_error_on_every_op(Fault::Garbage, |k| k == ProtocolErrorKind::UnknownReply);
}

#[test]
fn an_unknown_return_code_is_an_unknown_reply_never_a_value() {
    assert_protocol_error_on_every_op(Fault::MetaUnknownCode, |k| {
        k == ProtocolErrorKind::UnknownReply
    });
}

#[test]
fn va_claiming_4_gib_is_rejected_at_once() {
    assert_protocol_error_on_every_op(Fault::HugeValueHeader, |k| {
        matches!(k, ProtocolErrorKind::ValueTooLong { claimed: 4_294_967_295, limit }
            if limit == Config::default().max_value_size())
    });
}

#[test]
fn hostile_va_lengths_are_typed_errors_at_once() {
    let over_limit = (Config::default().max_value_size() + 1).to_string();
    for (length, expected) in [
        (over_limit.as_str(), "too long"),
        ("18446744073709551615", "too long"),
        ("18446744073709551616", "malformed"),
        ("99999999999999999999999999", "malformed"),
        ("-1", "malformed"),
        ("0x10", "malformed"),
        ("", "malformed"),
    ] {
        assert_protocol_error_on_every_op(Fault::MetaHostileLength(length.into()), |k| {
            match expected {
                "too long" => matches!(k, ProtocolErrorKind::ValueTooLong { .. }),
                _ => k == ProtocolErrorKind::MalformedLine,
            }
        });
    }
}

#[test]
fn meta_data_block_longer_shorter_or_unterminated_is_unterminated_data() {
    for fault in [
        Fault::DataLonger,
        Fault::DataShorter,
        Fault::DataUnterminated,
    ] {
        assert_protocol_error_on_every_op(fault, |k| k == ProtocolErrorKind::UnterminatedData);
    }
}

#[test]
fn endless_meta_reply_line_is_line_too_long_quickly() {
    assert_protocol_error_on_every_op(Fault::EndlessLine, |k| k == ProtocolErrorKind::LineTooLong);
}

// ---- replies to some other request -----------------------------------------------------------

#[test]
fn a_reply_with_a_wrong_opaque_is_never_taken_as_the_answer() {
    assert_fails_at_once_on_every_op(Fault::MetaWrongOpaque, |op, error| {
        // `mn` carries no opaque, so any echo on its `MN` means it is not its answer.
        let kind = match op {
            Op::Noop => ProtocolErrorKind::UnexpectedReply,
            _ => ProtocolErrorKind::UnsolicitedData,
        };
        protocol_kind(error) == kind
    });
}

#[test]
fn a_reply_without_the_requests_opaque_is_never_taken_as_the_answer() {
    for op in [Op::Get, Op::Set, Op::Delete, Op::Arith] {
        let (server, mut client) = setup(Fault::MetaMissingOpaque, PATIENT);
        let (result, elapsed) = timed(|| run(&mut client, op));
        let error = result.expect_err(&format!("{op:?} without its opaque answered"));
        assert_eq!(
            protocol_kind(&error),
            ProtocolErrorKind::UnsolicitedData,
            "{op:?}"
        );
        assert_prompt(elapsed, op);
        assert_recovers_on_new_connection(&server, &mut client, op);
    }
    // `mn` has no opaque to miss: its `MN` is its answer.
    let (server, mut client) = setup(Fault::MetaMissingOpaque, PATIENT);
    client.meta_noop().unwrap();
    assert_recovers_on_same_connection(&server, &mut client, Op::Noop);
}

#[test]
fn a_reply_echoing_a_key_not_asked_back_is_unsolicited_never_a_hit() {
    assert_fails_at_once_on_every_op(Fault::OtherKey(K2.to_vec()), |_, error| {
        protocol_kind(error) == ProtocolErrorKind::UnsolicitedData
    });
}

#[test]
fn a_stale_second_reply_to_an_earlier_request_never_answers_the_next_one() {
    for op in OPS {
        let (server, mut client) = setup(Fault::MetaStaleSecondReply, PATIENT);
        run(&mut client, op).expect("the first request is answered correctly");
        assert!(client.is_connected());
        // The next request's reply is preceded by the first one's again, in one write: a hit
        // on K1 for `mg`, with the first request's opaque.
        let (result, elapsed) = timed(|| client.meta_get(K2, &MetaGetOptions::new()));
        let error = result.expect_err(&format!("after {op:?}, a stale reply answered mg"));
        assert_eq!(
            protocol_kind(&error),
            ProtocolErrorKind::UnsolicitedData,
            "after {op:?}: {error:?}"
        );
        assert_prompt(elapsed, op);
        assert!(!client.is_connected());
        let item = client.meta_get(K2, &MetaGetOptions::new()).unwrap();
        assert_eq!(value(item).as_deref(), Some(V2), "after {op:?}");
        let requests = server.requests();
        assert_eq!(requests.len(), 2, "after {op:?}: {requests:?}");
        assert_eq!(requests[0].len(), 2, "after {op:?}: {requests:?}");
        assert_later_calls_are_in_step(&mut client, op);
    }
}

#[test]
fn two_meta_replies_return_the_first_and_drop_the_connection() {
    for op in OPS {
        let (server, mut client) = setup(Fault::TwoReplies, PATIENT);
        let (result, elapsed) = timed(|| run(&mut client, op));
        result.unwrap_or_else(|e| panic!("{op:?}: {e:?}"));
        assert_prompt(elapsed, op);
        assert_recovers_on_new_connection(&server, &mut client, op);
    }
}

#[test]
fn unsolicited_bytes_after_a_meta_reply_drop_the_connection() {
    for op in OPS {
        let (server, mut client) = setup(Fault::Unsolicited(b"HD O1\r\n".to_vec()), PATIENT);
        run(&mut client, op).unwrap_or_else(|e| panic!("{op:?}: {e:?}"));
        assert_recovers_on_new_connection(&server, &mut client, op);
    }
}

#[test]
fn late_unsolicited_meta_reply_is_never_taken_as_the_answer_to_a_later_request() {
    let fault = Fault::UnsolicitedLater {
        delay: Duration::from_millis(20),
        bytes: b"VA 11 O999\r\nvalue-of-k1\r\n".to_vec(),
    };
    let (server, mut client) = setup(fault, PATIENT);
    let item = client.meta_get(K1, &MetaGetOptions::new()).unwrap();
    assert_eq!(value(item).as_deref(), Some(V1));
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while !server.log(0).unsolicited_sent {
        assert!(std::time::Instant::now() < deadline, "never sent");
        std::thread::sleep(Duration::from_millis(5));
    }
    // The check before the request finds the stray bytes and drops the connection.
    let item = client.meta_get(K2, &MetaGetOptions::new()).unwrap();
    assert_eq!(value(item).as_deref(), Some(V2));
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[0].len(), 1, "{requests:?}");
}

// ---- error lines -----------------------------------------------------------------------------

#[test]
fn meta_server_error_is_server_error_and_keeps_the_connection() {
    for op in OPS {
        let fault = Fault::ServerError("out of memory storing object".into());
        let (server, mut client) = setup(fault, PATIENT);
        let (result, elapsed) = timed(|| run(&mut client, op));
        let error = result.expect_err("SERVER_ERROR answered");
        assert!(
            matches!(&error, Error::ServerError { message, .. } if message == "out of memory storing object"),
            "{op:?}: {error:?}"
        );
        assert!(error.is_out_of_memory(), "{error:?}");
        assert_prompt(elapsed, op);
        assert_recovers_on_same_connection(&server, &mut client, op);
    }
}

#[test]
fn meta_client_error_is_client_error_and_drops_the_connection() {
    let fault = Fault::ClientError("bad command line format".into());
    assert_fails_at_once_on_every_op(
        fault,
        |_, error| matches!(error, Error::ClientError { message } if message == "bad command line format"),
    );
}

#[test]
fn meta_error_is_unknown_command_and_drops_the_connection() {
    assert_fails_at_once_on_every_op(Fault::Error, |_, error| {
        matches!(error, Error::UnknownCommand { .. })
    });
}

// ---- return codes: outcomes, never errors; a code that does not answer the command ----------

/// What each return code (with the request's echoes, no value) gives each command.
fn expected_outcome(op: Op, code: &str) -> Option<Outcome> {
    Some(match (op, code) {
        (Op::Get, "EN") => Outcome::Get(None),
        (Op::Set, "NS") => Outcome::Set(MetaStoreOutcome::NotStored),
        (Op::Set, "EX") => Outcome::Set(MetaStoreOutcome::Exists),
        (Op::Set, "NF") => Outcome::Set(MetaStoreOutcome::NotFound),
        (Op::Delete, "HD") => Outcome::Delete(MetaDeleteOutcome::Deleted),
        (Op::Delete, "NF") => Outcome::Delete(MetaDeleteOutcome::NotFound),
        (Op::Delete, "EX") => Outcome::Delete(MetaDeleteOutcome::Exists),
        (Op::Arith, "NF") => Outcome::Arith(MetaArithOutcome::NotFound),
        (Op::Arith, "NS") => Outcome::Arith(MetaArithOutcome::NotStored),
        (Op::Arith, "EX") => Outcome::Arith(MetaArithOutcome::Exists),
        (Op::Noop, "MN") => Outcome::Noop,
        _ => return None,
    })
}

#[test]
fn en_is_a_miss_and_ns_a_not_stored_never_errors_and_keep_the_connection() {
    for (op, code) in [(Op::Get, "EN"), (Op::Set, "NS"), (Op::Arith, "NS")] {
        let (server, mut client) = setup(Fault::MetaCode(code.into()), PATIENT);
        let outcome = run(&mut client, op).unwrap_or_else(|e| panic!("{code} to {op:?}: {e}"));
        assert_eq!(Some(outcome), expected_outcome(op, code));
        assert_recovers_on_same_connection(&server, &mut client, op);
    }
}

#[test]
fn every_return_code_is_its_outcome_or_an_unexpected_reply_that_drops_the_connection() {
    for op in OPS {
        // `HD` to an `mg` that asked for the value (`v`) is no hit: memcached answers `VA`.
        for code in ["HD", "EN", "NS", "EX", "NF", "MN"] {
            let (server, mut client) = setup(Fault::MetaCode(code.into()), PATIENT);
            let (result, elapsed) = timed(|| run(&mut client, op));
            assert_prompt(elapsed, op);
            match expected_outcome(op, code) {
                Some(expected) => {
                    assert_eq!(result.unwrap(), expected, "{code} to {op:?}");
                    assert_recovers_on_same_connection(&server, &mut client, op);
                }
                None => {
                    let error = result.expect_err(&format!("{code} answered {op:?}"));
                    // `mn` included: a code other than `MN` is an unexpected reply to it, as
                    // any code that does not answer a command is to that command.
                    let kind = ProtocolErrorKind::UnexpectedReply;
                    assert_eq!(protocol_kind(&error), kind, "{code} to {op:?}: {error:?}");
                    assert_recovers_on_new_connection(&server, &mut client, op);
                }
            }
        }
    }
}

#[test]
fn a_fault_on_a_later_meta_request_drops_only_then() {
    let (server, mut client) = setup(Fault::After(2, Box::new(Fault::MetaWrongOpaque)), PATIENT);
    let get = MetaGetOptions::new();
    assert_eq!(
        value(client.meta_get(K1, &get).unwrap()).as_deref(),
        Some(V1)
    );
    client.meta_noop().unwrap();
    let error = client.meta_get(K2, &get).unwrap_err();
    assert_eq!(protocol_kind(&error), ProtocolErrorKind::UnsolicitedData);
    assert!(!client.is_connected());
    assert_eq!(
        value(client.meta_get(K2, &get).unwrap()).as_deref(),
        Some(V2)
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[0].len(), 3, "{requests:?}");
}
