//! Property: whatever sequence of faults the server's connections follow, and whatever small
//! timeouts the client has, every call returns `Ok` with the right answer or a typed `Err`,
//! within connect + write + read timeout plus a margin, never panics; and once the faults are
//! over, a healthy connection answers correctly.
//!
//! The truth is the fault server's own map: a fault that answers at all answers from it, so
//! an `Ok` value that differs from the map is data that belongs to no request (or to another).
//! `Fault::UnsolicitedLater` is left out: at a random delay its bytes can arrive after the
//! next request was written, and nothing in a text-protocol reply tells them from that
//! request's answer (see the README's Timeouts). The cases the check before every request
//! does catch are pinned in `tests/faults.rs` (`late_unsolicited_*`) and `tests/deadlines.rs`.

use memcache_sync_test_support as support;

use std::thread;
use std::time::{Duration, Instant};

use memcache_sync::{Client, Config, Error, Expiry, StoreOutcome};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use support::fault_server::{Fault, FaultServer};
use support::unique_key;

const MARGIN: Duration = Duration::from_millis(300);
const KEYS: [&[u8]; 3] = [b"prop:k0", b"prop:k1", b"prop:k2"];

/// A fault, acting on the first request of its connection or (a third of the time) on a
/// later one.
fn fault() -> impl Strategy<Value = Fault> {
    (one_fault(), 0usize..6).prop_map(|(fault, n)| match n {
        1 | 2 => Fault::After(n, Box::new(fault)),
        _ => fault,
    })
}

fn one_fault() -> impl Strategy<Value = Fault> {
    let message = prop_oneof![
        Just("out of memory storing object".to_string()),
        Just("object too large for cache".to_string()),
        Just("bad data chunk".to_string()),
    ];
    prop_oneof![
        3 => Just(Fault::Healthy),
        1 => Just(Fault::Silent),
        1 => Just(Fault::NoRead),
        1 => (0u64..300).prop_map(|ms| Fault::Delay(Duration::from_millis(ms))),
        1 => (1u64..40).prop_map(|ms| Fault::Trickle(Duration::from_millis(ms))),
        1 => Just(Fault::CloseAfterRequest),
        1 => Just(Fault::CloseMidLine),
        1 => Just(Fault::CloseAfterValueHeader),
        1 => Just(Fault::CloseInsideData),
        1 => Just(Fault::CloseBeforeDataTerminator),
        1 => Just(Fault::CloseBeforeEnd),
        1 => Just(Fault::Reset),
        1 => Just(Fault::ResetOnAccept),
        1 => Just(Fault::CloseOnAccept),
        1 => Just(Fault::CloseUnread),
        1 => Just(Fault::GreetingThenClose(
            b"ERROR Too many open connections\r\n".to_vec()
        )),
        1 => Just(Fault::Garbage),
        1 => Just(Fault::HugeValueHeader),
        1 => Just(Fault::DataLonger),
        1 => Just(Fault::DataShorter),
        1 => Just(Fault::DataUnterminated),
        1 => Just(Fault::EndlessLine),
        1 => (0..KEYS.len()).prop_map(|i| Fault::OtherKey(KEYS[i].to_vec())),
        1 => Just(Fault::TwoReplies),
        1 => Just(Fault::Unsolicited(b"VALUE prop:k0 0 5\r\nWRONG\r\nEND\r\n".to_vec())),
        1 => Just(Fault::Unsolicited(b"STORED\r\n".to_vec())),
        1 => message.clone().prop_map(Fault::ServerError),
        1 => message.prop_map(Fault::ClientError),
        1 => Just(Fault::Error),
    ]
}

#[derive(Debug, Clone)]
enum Op {
    Get(usize),
    GetMissing,
    Set(usize, u8),
    AddExisting(usize),
    /// Sleeps between calls, so that late bytes from the server have arrived.
    Pause,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..KEYS.len()).prop_map(Op::Get),
        1 => Just(Op::GetMissing),
        2 => (0..KEYS.len(), any::<u8>()).prop_map(|(k, v)| Op::Set(k, v)),
        1 => (0..KEYS.len()).prop_map(Op::AddExisting),
        1 => Just(Op::Pause),
    ]
}

fn value(key: usize, seed: u8) -> Vec<u8> {
    format!("value-{key}-{seed}-of-{}", KEYS[key].len()).into_bytes()
}

/// An error the client may give for a server fault: a connection failure, a protocol
/// violation or one of memcached's error replies. Never a refusal of the caller's input.
fn is_fault_error(error: &Error) -> bool {
    error.is_connection_error()
        || matches!(
            error,
            Error::Protocol(_)
                | Error::ServerError { .. }
                | Error::ClientError { .. }
                | Error::UnknownCommand { .. }
        )
}

/// Runs `op`, checking an `Ok` against the server's map; returns the error, if any.
fn run(client: &mut Client, server: &FaultServer, op: &Op) -> Result<(), String> {
    let error = match op {
        Op::Pause => {
            thread::sleep(Duration::from_millis(30));
            return Ok(());
        }
        Op::Get(k) => match client.get(KEYS[*k]) {
            Ok(found) => {
                let truth = server.stored(KEYS[*k]);
                let got = found.map(|item| item.value);
                if got != truth {
                    return Err(format!(
                        "get {k} returned {got:?}, the server holds {truth:?}"
                    ));
                }
                return Ok(());
            }
            Err(e) => e,
        },
        Op::GetMissing => match client.get(b"prop:missing") {
            Ok(None) => return Ok(()),
            Ok(Some(item)) => return Err(format!("a missing key returned {item:?}")),
            Err(e) => e,
        },
        Op::Set(k, seed) => {
            let value = value(*k, *seed);
            match client.set(KEYS[*k], &value, Expiry::Never) {
                Ok(()) => {
                    let truth = server.stored(KEYS[*k]);
                    if truth.as_deref() != Some(&value[..]) {
                        return Err(format!("set {k} reported stored; server holds {truth:?}"));
                    }
                    return Ok(());
                }
                Err(e) => e,
            }
        }
        Op::AddExisting(k) => match client.add(KEYS[*k], b"added", Expiry::Never) {
            Ok(StoreOutcome::NotStored) => return Ok(()),
            Ok(StoreOutcome::Stored) => {
                return Err(format!("add {k} of an existing key reported Stored"));
            }
            Err(e) => e,
        },
    };
    if is_fault_error(&error) {
        Ok(())
    } else {
        Err(format!(
            "{op:?} failed with an error no fault explains: {error:?}"
        ))
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 96,
        failure_persistence: None,
        max_shrink_iters: 64,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_faults_give_ok_or_a_typed_error_in_time_and_then_recovery(
        faults in vec(fault(), 1..5),
        ops in vec(op(), 10),
        connect_ms in 50u64..200,
        write_ms in 50u64..200,
        read_ms in 30u64..200,
    ) {
        let mut script = faults.clone();
        script.push(Fault::Healthy);
        let server = FaultServer::start(script);
        for (k, key) in KEYS.iter().enumerate() {
            server.insert(key, &value(k, 0));
        }
        let (connect, write, read) = (
            Duration::from_millis(connect_ms),
            Duration::from_millis(write_ms),
            Duration::from_millis(read_ms),
        );
        let config = Config::default()
            .with_connect_timeout(connect)
            .with_write_timeout(write)
            .with_read_timeout(read);
        let bound = connect + write + read + MARGIN;
        // A reset right at accept may fail the eager connect itself: typed, and in time.
        let mut client = None;
        for _ in 0..=faults.len() {
            let started = Instant::now();
            match Client::builder(&server.addr()).config(config.clone()).connect() {
                Ok(connected) => {
                    client = Some(connected);
                    break;
                }
                Err(error) => {
                    prop_assert!(
                        matches!(error, Error::Connect { .. }),
                        "connect failed with {error:?}"
                    );
                    prop_assert!(started.elapsed() < connect + MARGIN);
                }
            }
        }
        let Some(mut client) = client else {
            return Err(TestCaseError::fail("no connect succeeded"));
        };

        for op in &ops {
            let started = Instant::now();
            let checked = run(&mut client, &server, op);
            let elapsed = started.elapsed();
            prop_assert!(checked.is_ok(), "{}", checked.unwrap_err());
            prop_assert!(elapsed < bound, "{op:?} took {elapsed:?}, bound {bound:?}");
        }

        // Skip past whatever faults are left: each failed call uses up one connection.
        let mut attempts = 0;
        while server.connections() <= faults.len() && attempts < 4 * faults.len() + 4 {
            attempts += 1;
            let _ = client.get(KEYS[0]);
        }
        // Now on healthy connections: everything answers, correctly.
        let fresh = unique_key("prop:fresh:");
        let recovered = (|| {
            for (k, key) in KEYS.iter().enumerate() {
                let got = client.get(key).map_err(|e| format!("get {k}: {e:?}"))?;
                let truth = server.stored(key);
                if got.as_ref().map(|item| &item.value) != truth.as_ref() {
                    return Err(format!("get {k}: {got:?}, server holds {truth:?}"));
                }
            }
            client
                .set(&fresh, b"fresh", Expiry::Never)
                .map_err(|e| format!("set: {e:?}"))?;
            let got = client.get(&fresh).map_err(|e| format!("get fresh: {e:?}"))?;
            if got.map(|item| item.value).as_deref() != Some(&b"fresh"[..]) {
                return Err("fresh value not read back".to_string());
            }
            Ok(())
        })();
        prop_assert!(recovered.is_ok(), "no recovery: {}", recovered.unwrap_err());
    }
}
