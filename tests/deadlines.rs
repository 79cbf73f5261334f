//! Every wait is bounded, for the whole call: one read timeout per window of a batch, one
//! timeout for a call across several stalled servers, the caller's own [`Deadline`] over
//! everything a call does, and no timing window in which a stray reply answers a request.
//! Durations at their extremes never panic.
//!
//! Elapsed times are asserted as bounds (timeout plus a margin for a loaded, shared machine),
//! never as speeds.

use memcache_sync_test_support as support;

use support::timed;

use std::thread;
use std::time::{Duration, Instant};

use memcache_sync::{
    Client, Cluster, Config, Deadline, Entry, Error, Expiry, HealthConfig, ItemResult, Phase, Pool,
    PoolConfig, RetryPolicy,
};
use support::fault_server::{faulty_client, Fault, FaultServer};
use support::{batch_report, unique_key, Memcached};

/// What a bound may exceed its timeout by on a shared, loaded machine.
const MARGIN: Duration = Duration::from_millis(300);
/// A timeout long enough that reaching it would show as a failure of the bound under test.
const PATIENT: Duration = Duration::from_secs(5);

fn patient() -> Config {
    Config::default()
        .with_connect_timeout(PATIENT)
        .with_write_timeout(PATIENT)
        .with_read_timeout(PATIENT)
}

fn assert_within(elapsed: Duration, bound: Duration, what: &str) {
    assert!(
        elapsed < bound + MARGIN,
        "{what} took {elapsed:?}, past its bound of {bound:?}"
    );
}

fn entries(prefix: &str, count: usize) -> impl Iterator<Item = Entry<Vec<u8>, &'static [u8]>> {
    let prefix = prefix.to_owned();
    (0..count).map(move |i| Entry::new(format!("{prefix}:{i}").into_bytes(), &b"v"[..]))
}

// ---- one read timeout per window -------------------------------------------------------------

/// A server that answers each item 140 ms after the one before, with a read timeout of 200 ms:
/// the window's replies cannot all arrive within one read timeout of its send, so the batch
/// ends with a read timeout after about 200 ms instead of running on for 1.4 s (which a
/// timeout renewed per reply would allow) and reporting everything done.
#[test]
fn a_trickling_batch_ends_within_one_read_timeout_of_its_windows_send() {
    let server = FaultServer::start(vec![Fault::Every(Box::new(Fault::Delay(
        Duration::from_millis(140),
    )))]);
    let timeout = Duration::from_millis(200);
    let mut client = Client::builder(&server.addr())
        .config(patient().with_read_timeout(timeout))
        .connect()
        .unwrap();
    let (report, elapsed) = timed(|| batch_report(client.set_many(entries("trickle", 10))));
    assert_within(elapsed, timeout, "a 10-item set_many answered 140 ms apart");
    assert!(
        matches!(
            report.stop_error(),
            Some(Error::Timeout {
                phase: Phase::Read,
                ..
            })
        ),
        "{:?}",
        report.stop_error()
    );
    assert!(
        report.done_count() <= 2,
        "at most the items answered within 200 ms are done: {}",
        report.done_count()
    );
    assert!(report
        .results()
        .iter()
        .skip(report.done_count())
        .all(|r| matches!(r, ItemResult::Unconfirmed)));
}

// ---- the caller's deadline ---------------------------------------------------------------------

#[test]
fn a_single_command_returns_by_the_callers_deadline_whatever_the_read_timeout() {
    let (_server, mut client) = faulty_client(Fault::Silent, &[(b"deadline:k", b"v")], patient());
    let bound = Duration::from_millis(150);
    let (result, elapsed) = timed(|| Deadline::after(bound).run(|| client.get(b"deadline:k")));
    assert_within(elapsed, bound, "a get under a 150 ms deadline");
    let error = result.unwrap_err();
    assert!(
        matches!(error, Error::DeadlineExceeded { phase: Phase::Read }),
        "{error:?}"
    );
    assert!(error.is_timeout() && !error.is_connection_error());
    assert!(!client.is_connected(), "a request was in flight: dropped");
    // Outside the deadline, the next call reconnects and is answered.
    assert_eq!(
        client.get(b"deadline:k").unwrap().map(|item| item.value),
        Some(b"v".to_vec())
    );
}

#[test]
fn a_connect_returns_by_the_callers_deadline_whatever_the_connect_timeout() {
    let mut server = FaultServer::start(vec![Fault::Healthy]);
    server.hang_connects();
    let bound = Duration::from_millis(150);
    let (result, elapsed) = timed(|| {
        Deadline::after(bound).run(|| Client::builder(&server.addr()).config(patient()).connect())
    });
    assert_within(elapsed, bound, "a connect under a 150 ms deadline");
    let error = result.unwrap_err();
    assert!(
        matches!(
            error,
            Error::DeadlineExceeded {
                phase: Phase::Connect
            }
        ),
        "{error:?}"
    );
    assert!(!error.may_have_reached_server());
}

/// An endless source, a server that answers slowly, and timeouts of 5 s: the deadline ends
/// the batch, which stops taking items from the source (and does not try to reserve room for
/// all of them up front).
#[test]
fn an_endless_batch_stops_at_the_callers_deadline() {
    let server = FaultServer::start(vec![Fault::Every(Box::new(Fault::Delay(
        Duration::from_millis(20),
    )))]);
    let mut client = Client::builder(&server.addr())
        .config(patient())
        .connect()
        .unwrap();
    let bound = Duration::from_millis(300);
    let endless = (0..).map(|i: u64| Entry::new(format!("endless:{i}").into_bytes(), &b"v"[..]));
    let (report, elapsed) =
        timed(|| Deadline::after(bound).run(|| batch_report(client.set_many(endless))));
    assert_within(
        elapsed,
        bound,
        "an endless set_many under a 300 ms deadline",
    );
    assert!(
        matches!(report.stop_error(), Some(Error::DeadlineExceeded { .. })),
        "{:?}",
        report.stop_error()
    );
    assert!(report.len() < 1_000_000, "it stopped taking items");
}

#[test]
fn a_pool_checkout_returns_by_the_callers_deadline_whatever_the_checkout_timeout() {
    let server = Memcached::start();
    let pool = Pool::builder(&server.addr())
        .pool(
            PoolConfig::default()
                .with_max_size(1)
                .with_checkout_timeout(PATIENT),
        )
        .build();
    let _held = pool.get().unwrap();
    let bound = Duration::from_millis(150);
    let (result, elapsed) = timed(|| Deadline::after(bound).run(|| pool.get().map(|_| ())));
    assert_within(elapsed, bound, "a checkout under a 150 ms deadline");
    assert!(
        matches!(
            result,
            Err(Error::DeadlineExceeded {
                phase: Phase::Connect
            })
        ),
        "{result:?}"
    );
}

fn stalled_cluster(servers: &[FaultServer], config: Config) -> Cluster {
    Cluster::builder(servers.iter().map(FaultServer::addr))
        .config(config)
        .health(HealthConfig::default().with_failure_threshold(100))
        .build()
        .unwrap()
}

fn keys(prefix: &str, count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| format!("{prefix}:{i}").into_bytes())
        .collect()
}

/// Four servers that accept and never answer, read timeout 300 ms: the call is bounded by one
/// read timeout, not four, and every server's keys fail with its timeout.
#[test]
fn a_cluster_read_across_stalled_servers_waits_one_read_timeout_not_their_sum() {
    let servers: Vec<FaultServer> = (0..4)
        .map(|_| FaultServer::start(vec![Fault::Silent]))
        .collect();
    let timeout = Duration::from_millis(300);
    let cluster = stalled_cluster(&servers, patient().with_read_timeout(timeout));
    let keys = keys("stalled", 40);
    let (report, elapsed) = timed(|| cluster.get_many(&keys).unwrap());
    assert_within(elapsed, timeout, "a get_many across four stalled servers");
    assert_eq!(report.failed_keys().count(), keys.len());
    assert!(report.failed.iter().all(|failure| matches!(
        failure.error,
        Error::Timeout {
            phase: Phase::Read,
            ..
        }
    )));
}

/// Four servers whose connects hang (a SYN black hole), connect and read timeouts 300 ms: each
/// call waits one connect timeout plus one read timeout at most, not a connect timeout per
/// server, and every key fails with the connect timeout. The servers are connected to
/// together whichever path the call takes: a small read from the calling thread, a large
/// one and a write batch on a thread per server.
#[test]
fn a_cluster_call_across_servers_hanging_at_connect_waits_one_connect_timeout_not_their_sum() {
    let mut servers: Vec<FaultServer> = (0..4)
        .map(|_| FaultServer::start(vec![Fault::Healthy]))
        .collect();
    for server in &mut servers {
        server.hang_connects();
    }
    let timeout = Duration::from_millis(300);
    let cluster = stalled_cluster(
        &servers,
        patient()
            .with_connect_timeout(timeout)
            .with_read_timeout(timeout),
    );
    let connect_timeout = |e: &Error| {
        matches!(
            e,
            Error::Timeout {
                phase: Phase::Connect,
                ..
            }
        )
    };
    for count in [40, 20_000] {
        let keys = keys("hung", count);
        let (report, elapsed) = timed(|| cluster.get_many(&keys).unwrap());
        assert_within(
            elapsed,
            timeout * 2,
            &format!("a get_many of {count} keys across four servers hanging at connect"),
        );
        assert_eq!(report.failed_keys().count(), keys.len());
        assert!(
            report
                .failed
                .iter()
                .all(|failure| connect_timeout(&failure.error)),
            "{:?}",
            report.failed.first()
        );
    }
    let (report, elapsed) = timed(|| batch_report(cluster.set_many(entries("hung", 1_000))));
    assert_within(
        elapsed,
        timeout * 2,
        "a set_many across four servers hanging at connect",
    );
    assert!(report
        .results()
        .iter()
        .all(|r| matches!(r, ItemResult::Failed(e) if connect_timeout(e))));
}

/// Two servers whose connects hang beside two healthy memcached servers with idle pooled
/// connections: the healthy servers' keys are read, the stalled servers' fail with the
/// connect timeout, and since nobody stalls at read the call waits one connect timeout, not
/// one for each stalled server.
#[test]
fn a_cluster_read_beside_servers_hanging_at_connect_finds_the_healthy_keys_in_one_connect_timeout()
{
    let healthy = [Memcached::start(), Memcached::start()];
    let mut stalled = [
        FaultServer::start(vec![Fault::Healthy]),
        FaultServer::start(vec![Fault::Healthy]),
    ];
    let addrs = [
        healthy[0].addr(),
        stalled[0].addr(),
        healthy[1].addr(),
        stalled[1].addr(),
    ];
    let connect = Duration::from_millis(400);
    let cluster = Cluster::builder(&addrs)
        .config(
            patient()
                .with_connect_timeout(connect)
                .with_read_timeout(Duration::from_millis(300)),
        )
        .health(HealthConfig::default().with_failure_threshold(100))
        .build()
        .unwrap();
    let keys = keys("mixed", 80);
    let on_healthy = |key: &Vec<u8>| cluster.server_for(key) % 2 == 0;
    for server in 0..addrs.len() {
        assert!(
            keys.iter().any(|key| cluster.server_for(key) == server),
            "server {server} owns none of the keys"
        );
    }
    // Stored through the cluster, so the healthy servers' pools hold idle connections.
    for key in keys.iter().filter(|key| on_healthy(key)) {
        cluster.set(key, key, Expiry::after_secs(60)).unwrap();
    }
    for server in &mut stalled {
        server.hang_connects();
    }

    let (report, elapsed) = timed(|| cluster.get_many(&keys).unwrap());
    assert_within(
        elapsed,
        connect,
        "a get_many beside two servers hanging at connect",
    );
    for key in &keys {
        if on_healthy(key) {
            assert_eq!(
                report.found.get(key).map(|item| item.value),
                Some(key.as_slice()),
                "{}",
                String::from_utf8_lossy(key)
            );
        } else {
            assert!(
                matches!(
                    report.error_for(key),
                    Some(Error::Timeout {
                        phase: Phase::Connect,
                        ..
                    })
                ),
                "{:?}",
                report.error_for(key)
            );
        }
    }
}

/// The caller's deadline bounds a fan-out across servers too, including the servers' threads
/// of a large batch, and it says nothing about the servers' health.
#[test]
fn a_cluster_fan_out_returns_by_the_callers_deadline_and_marks_no_server_down() {
    let servers: Vec<FaultServer> = (0..4)
        .map(|_| FaultServer::start(vec![Fault::Silent]))
        .collect();
    let cluster = Cluster::builder(servers.iter().map(FaultServer::addr))
        .config(patient())
        .health(HealthConfig::default().with_failure_threshold(1))
        .build()
        .unwrap();
    let bound = Duration::from_millis(200);
    // Small enough for the one-thread read, and large enough for a thread per server.
    for count in [40, 20_000] {
        let keys = keys("fan", count);
        let (report, elapsed) = timed(|| Deadline::after(bound).run(|| cluster.get_many(&keys)));
        assert_within(elapsed, bound, &format!("a get_many of {count} keys"));
        let report = report.unwrap();
        assert_eq!(report.failed_keys().count(), keys.len());
        assert!(report
            .failed
            .iter()
            .all(|failure| matches!(failure.error, Error::DeadlineExceeded { .. })));
    }
    let (report, elapsed) = timed(|| {
        Deadline::after(bound).run(|| batch_report(cluster.set_many(entries("fan", 5_000))))
    });
    assert_within(elapsed, bound, "a set_many of 5,000 entries");
    assert!(matches!(
        report.stop_error(),
        Some(Error::DeadlineExceeded { .. })
    ));
    for server in 0..servers.len() {
        assert!(
            !cluster.is_down(server),
            "the caller's deadline is no fault of server {server}"
        );
    }
}

/// A retry whose backoff would outlast the caller's deadline is not started.
#[test]
fn a_cluster_does_not_retry_past_the_callers_deadline() {
    let servers = [FaultServer::start(vec![Fault::Silent])];
    let cluster = Cluster::builder(servers.iter().map(FaultServer::addr))
        .config(patient().with_read_timeout(Duration::from_millis(100)))
        .retry(RetryPolicy::attempts(5).with_backoff(PATIENT, PATIENT))
        .health(HealthConfig::default().with_failure_threshold(100))
        .build()
        .unwrap();
    let bound = Duration::from_millis(400);
    let (result, elapsed) = timed(|| Deadline::after(bound).run(|| cluster.get(b"retry:k")));
    assert_within(elapsed, bound, "a get with a 5 s retry backoff");
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
}

// ---- no timing window for stray replies --------------------------------------------------------

/// A server sends a stray `END` 300 µs after its reply. The next `get` of a present key, made
/// at once (well within a millisecond of the previous request), must not take it for its
/// answer: the connection is found out of step and replaced before the request is sent.
#[test]
fn a_stray_reply_just_after_an_answer_never_answers_the_next_request() {
    for run in 0..20 {
        let server = FaultServer::start(vec![
            Fault::UnsolicitedLater {
                delay: Duration::from_micros(300),
                bytes: b"END\r\n".to_vec(),
            },
            Fault::Healthy,
        ]);
        server.insert(b"stray:k1", b"v1");
        server.insert(b"stray:k2", b"v2");
        let mut client = Client::builder(&server.addr())
            .config(patient())
            .connect()
            .unwrap();
        assert!(client.get(b"stray:k1").unwrap().is_some());
        // Waits (without sleeping, so the next request follows within about a millisecond)
        // until the stray bytes were written, and so are in the client's receive buffer.
        let waited = Instant::now();
        while !server.log(0).unsolicited_sent {
            assert!(
                waited.elapsed() < PATIENT,
                "the stray bytes were never sent"
            );
            thread::yield_now();
        }
        let found = client.get(b"stray:k2").unwrap();
        assert_eq!(
            found.map(|item| item.value),
            Some(b"v2".to_vec()),
            "run {run}: a stray END was taken for the answer"
        );
    }
}

// ---- durations at their extremes -----------------------------------------------------------------

#[test]
fn the_largest_durations_mean_a_long_time_and_never_panic() {
    let server = Memcached::start();
    let config = Config::default()
        .with_connect_timeout(Duration::MAX)
        .with_read_timeout(Duration::MAX)
        .with_write_timeout(Duration::MAX);
    let mut client = Client::builder(&server.addr())
        .config(config.clone())
        .connect()
        .unwrap();
    let key = unique_key("extreme");
    client.set(&key, b"v", Expiry::Never).unwrap();
    assert!(client.get(&key).unwrap().is_some());
    client.set_many(entries("extreme", 100)).unwrap();
    Deadline::after(Duration::MAX)
        .run(|| client.get(&key))
        .unwrap();

    let pool = Pool::builder(&server.addr())
        .config(config.clone())
        .pool(
            PoolConfig::default()
                .with_checkout_timeout(Duration::MAX)
                .with_max_idle_time(Duration::MAX),
        )
        .build();
    assert!(pool.get().unwrap().get(&key).unwrap().is_some());
    assert!(pool.get().unwrap().get(&key).unwrap().is_some());

    let cluster = Cluster::builder([server.addr()])
        .config(config)
        .health(HealthConfig::default().with_backoff(Duration::MAX, Duration::MAX))
        .retry(RetryPolicy::attempts(3).with_backoff(Duration::MAX, Duration::MAX))
        .build()
        .unwrap();
    assert!(cluster.get(&key).unwrap().is_some());

    let error = client.flush_all_after(Duration::MAX).unwrap_err();
    assert!(
        matches!(error, Error::InvalidArgument { .. }),
        "a delay memcached cannot represent: {error:?}"
    );
    assert!(client.get(&key).unwrap().is_some(), "nothing was flushed");
}
