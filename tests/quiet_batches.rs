//! Quiet batches (`Config::with_quiet_batches`) against real memcached: every batch kind
//! gives each item the outcome the classic batch gives it, items over the server's item size
//! are matched to their errors, a killed server leaves items unconfirmed and never done, and
//! a scripted server for what memcached never does (a reply naming no item in flight, a close
//! just before `MN`).

use memcache_sync_test_support as support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use memcache_sync::{
    BatchError, BatchReport, Client, Cluster, Config, Entry, Error, Expiry, ItemResult, ServerKind,
    StoreOutcome,
};
use support::cut_short::cut_short;
use support::{batch_report, raw_stats, unique_key, Memcached};

const KIB: usize = 1024;

fn client(addr: &str, quiet: bool) -> Client {
    // Values up to 2 MiB leave the client, so the server's own limit (1 MiB) is what refuses.
    let config = Config::default()
        .with_quiet_batches(quiet)
        .with_max_value_size(2 * KIB * KIB)
        .with_read_timeout(Duration::from_secs(2));
    Client::builder(addr).config(config).connect().unwrap()
}

/// Each item's outcome as text: what the server answered, or its error's message.
fn outcomes<T: std::fmt::Debug>(result: Result<BatchReport<T>, BatchError<T>>) -> Vec<String> {
    let report = batch_report(result);
    assert!(report.stop_error().is_none(), "{:?}", report.stop_error());
    report
        .results()
        .iter()
        .map(|result| match result {
            ItemResult::Done(value) => format!("done {value:?}"),
            ItemResult::Failed(error) => format!("failed: {error}"),
            other => format!("{other:?}"),
        })
        .collect()
}

/// Runs `scenario` twice on one server, classic then quiet, each with its own key prefix and
/// a fresh client; returns both runs' outcomes and what the keys then hold, for comparing.
fn both_ways<R: PartialEq + std::fmt::Debug>(
    server: &Memcached,
    mut scenario: impl FnMut(&mut Client, &str) -> R,
) -> R {
    let addr = server.addr();
    let classic_prefix = String::from_utf8(unique_key("c:")).unwrap();
    let quiet_prefix = String::from_utf8(unique_key("q:")).unwrap();
    let classic = scenario(&mut client(&addr, false), &classic_prefix);
    let quiet = scenario(&mut client(&addr, true), &quiet_prefix);
    assert_eq!(quiet, classic, "quiet and classic batches disagree");
    quiet
}

/// What each of `keys` holds: value and flags.
fn contents(client: &mut Client, keys: &[String]) -> Vec<Option<(Vec<u8>, u32)>> {
    keys.iter()
        .map(|key| {
            client
                .get(key)
                .unwrap()
                .map(|item| (item.value, item.flags))
        })
        .collect()
}

#[test]
fn a_quiet_set_many_gives_every_item_the_classic_outcome_invalid_and_oversized_ones_included() {
    let server = Memcached::start();
    let huge = vec![b'h'; KIB * KIB]; // over memcached's 1 MiB item with its header
    let loud = vec![b'l'; 100 * KIB];
    let (outcomes, held) = both_ways(&server, |client, prefix| {
        let key = |name: &str| format!("{prefix}:{name}");
        // The oversized item held a value before: memcached deletes it on either path.
        client.set(key("huge"), "old", Expiry::Never).unwrap();
        let names = ["a", "bad key", "huge", "b", "loud", "c", "far"];
        let entries = vec![
            Entry::new(key("a"), &b"1"[..]).with_flags(7),
            Entry::new(key("bad key"), &b"2"[..]),
            Entry::new(key("huge"), &huge[..]),
            Entry::new(key("b"), &b"3"[..]).with_expiry(Expiry::after_secs(60)),
            Entry::new(key("loud"), &loud[..]).with_flags(9),
            Entry::new(key("c"), &b""[..]),
            Entry::new(key("far"), &b"4"[..]).with_expiry(Expiry::after_secs(0)),
        ];
        let outcomes = outcomes(client.set_many(entries));
        let keys: Vec<String> = names
            .iter()
            .filter(|n| !n.contains(' '))
            .map(|n| key(n))
            .collect();
        (outcomes, contents(client, &keys))
    });
    assert_eq!(outcomes[0], "done ()");
    assert!(
        outcomes[1].starts_with("failed: invalid key"),
        "{outcomes:?}"
    );
    assert!(outcomes[2].contains("too large"), "{outcomes:?}");
    assert_eq!(outcomes[3..], ["done ()"; 4]);
    assert_eq!(held[0], Some((b"1".to_vec(), 7)));
    assert_eq!(held[1], None, "the oversized set deleted the old value");
    assert_eq!(held[3], Some((loud.clone(), 9)));
    assert_eq!(held[5], None, "an expiry of 0 s is already past");
}

#[test]
fn quiet_add_replace_append_and_prepend_batches_give_every_item_the_classic_outcome() {
    let server = Memcached::start();
    let loud = vec![b'l'; 20 * KIB];
    both_ways(&server, |client, prefix| {
        let key = |name: &str| format!("{prefix}:{name}");
        client
            .set_many([Entry::new(key("taken"), "x"), Entry::new(key("loud"), "y")])
            .unwrap();
        let add = outcomes(client.add_many([
            Entry::new(key("taken"), &b"new"[..]),
            Entry::new(key("free"), &b"new"[..]).with_flags(3),
            Entry::new(key("loud"), &loud[..]),
            Entry::new(key("free"), &b"again"[..]),
        ]));
        let replace = outcomes(client.replace_many([
            Entry::new(key("taken"), &b"r"[..]).with_flags(5),
            Entry::new(key("nobody"), &b"r"[..]),
            Entry::new(key("loud"), &loud[..]),
        ]));
        let append = outcomes(client.append_many([
            (key("taken"), &b"+a"[..]),
            (key("nobody"), &b"+a"[..]),
            (key("loud"), &loud[..]),
        ]));
        let prepend = outcomes(client.prepend_many([
            (key("taken"), &b"p+"[..]),
            (key("nobody"), &b"p+"[..]),
            (key("bad key"), &b"p+"[..]),
        ]));
        let held = contents(
            client,
            &[key("taken"), key("free"), key("loud"), key("nobody")],
        );
        assert_eq!(held[0], Some((b"p+r+a".to_vec(), 5)));
        assert_eq!(held[1], Some((b"new".to_vec(), 3)));
        assert_eq!(held[2].as_ref().map(|(v, _)| v.len()), Some(40 * KIB));
        (add, replace, append, prepend, held)
    });
}

#[test]
fn quiet_delete_and_touch_batches_give_every_item_the_classic_outcome() {
    let server = Memcached::start();
    let (deleted, touched, held) = both_ways(&server, |client, prefix| {
        let key = |name: &str| format!("{prefix}:{name}");
        client
            .set_many([
                Entry::new(key("a"), "1"),
                Entry::new(key("b"), "2"),
                Entry::new(key("c"), "3"),
            ])
            .unwrap();
        let deleted = outcomes(client.delete_many([
            key("a"),
            key("nobody"),
            key("a"),
            "bad key".to_string(),
            key("b"),
        ]));
        let touched = outcomes(client.touch_many([
            (key("c"), Expiry::after_secs(600)),
            (key("a"), Expiry::after_secs(600)),
            (key("bad key"), Expiry::Never),
            (key("c"), Expiry::after_secs(0)),
        ]));
        (
            deleted,
            touched,
            contents(client, &[key("a"), key("b"), key("c")]),
        )
    });
    assert_eq!(deleted[0], "done true");
    assert_eq!(deleted[1..3], ["done false", "done false"]);
    assert!(deleted[3].starts_with("failed: invalid key"));
    assert_eq!(deleted[4], "done true");
    assert_eq!(touched[..2], ["done true", "done false"]);
    assert_eq!(touched[3], "done true");
    assert_eq!(held, [None, None, None], "touched with 0 s left, c expired");
}

#[test]
fn a_quiet_touch_sets_the_ttl_the_classic_touch_sets() {
    let server = Memcached::start();
    let mut quiet = client(&server.addr(), true);
    let key = String::from_utf8(unique_key("ttl:")).unwrap();
    quiet.set(&key, "v", Expiry::Never).unwrap();
    quiet.touch_many([(&key, Expiry::after_secs(100))]).unwrap();
    let reply = support::raw_exchange(
        &server.addr(),
        format!("mg {key} t\r\n").as_bytes(),
        b"\r\n",
    );
    let ttl: u64 = String::from_utf8(reply).unwrap().trim()[4..]
        .parse()
        .unwrap();
    assert!((95..=100).contains(&ttl), "{ttl}");
}

#[test]
fn a_hundred_thousand_quiet_sets_in_one_call_are_all_stored_and_confirmed() {
    const COUNT: usize = 100_000;
    let server = Memcached::start_with(&["-m", "256"]);
    let addr = server.addr();
    let before = raw_stats(&addr)["total_items"].parse::<u64>().unwrap();
    let mut client = client(&addr, true);
    let key = |i: usize| format!("bulk:{i:08}");
    let report = client
        .set_many((0..COUNT).map(|i| Entry::new(key(i), format!("value {i}")).with_flags(i as u32)))
        .unwrap();
    assert_eq!(report.done_count(), COUNT);
    let after = raw_stats(&addr)["total_items"].parse::<u64>().unwrap();
    assert_eq!(after - before, COUNT as u64);
    for i in (0..COUNT).step_by(997) {
        let item = client.get(key(i)).unwrap().expect("stored");
        assert_eq!(
            (item.value, item.flags),
            (format!("value {i}").into_bytes(), i as u32)
        );
    }
    // Half present, half absent: the outcomes of a quiet delete batch, in order.
    let report = client
        .delete_many((0..2 * COUNT).step_by(2).map(key))
        .unwrap();
    let deleted: Vec<bool> = report
        .into_results()
        .into_iter()
        .map(|r| r.into_ok().unwrap())
        .collect();
    assert!(deleted
        .iter()
        .enumerate()
        .all(|(i, &d)| d == (2 * i < COUNT)));
}

#[test]
fn an_error_that_names_no_item_among_many_quiet_items_leaves_them_unconfirmed_and_stops_the_batch()
{
    // Items of 3 KiB are over this server's 2 KiB item size, yet small enough to go quiet:
    // memcached's error for one names no item.
    let server = Memcached::start_with(&["-I", "2048", "-o", "slab_chunk_max=1024", "-m", "64"]);
    let mut client = client(&server.addr(), true);
    let prefix = String::from_utf8(unique_key("amb:")).unwrap();
    let key = |i: usize| format!("{prefix}:{i}");
    let big = vec![b'b'; 3 * KIB];

    // Every item failing: each error is its item's.
    let report = batch_report(client.set_many((0..3).map(|i| Entry::new(key(i), &big[..]))));
    assert!(report.stop_error().is_none());
    assert!(report
        .results()
        .iter()
        .all(|r| r.err().is_some_and(Error::is_item_too_large)));

    // One of three failing: which one is unknown, so none is reported done or failed.
    let entries = [
        Entry::new(key(10), &b"small"[..]),
        Entry::new(key(11), &big[..]),
        Entry::new(key(12), &b"small"[..]),
    ];
    let report = batch_report(client.set_many(entries));
    let stop = report
        .stop_error()
        .expect("an unmatched error stops the batch");
    assert!(stop.is_item_too_large(), "{stop:?}");
    assert!(
        report.results().iter().all(ItemResult::is_unconfirmed),
        "{report:?}"
    );
    // Read up to its MN: the connection is in step, and the next batch runs on it.
    assert!(client.is_connected());
    client.set_many([Entry::new(key(20), "v")]).unwrap();
    assert_eq!(client.get(key(12)).unwrap().unwrap().value, b"small");
}

#[test]
fn a_server_killed_mid_batch_leaves_items_unconfirmed_never_done() {
    const COUNT: usize = 300_000;
    let server = Memcached::start_with(&["-m", "256"]);
    let addr = server.addr();
    let mut client = client(&addr, true);
    let entries = (0..COUNT).map(|i| Entry::new(format!("kill:{i:08}"), "value"));
    let started = Instant::now();
    let cut = cut_short(server, Memcached::kill, || {
        batch_report(client.set_many(entries))
    });
    let (report, mut server) = (cut.result, cut.server);
    let error = report.stop_error().expect("the server was killed");
    assert!(error.is_connection_error(), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    // Done items first (whole windows confirmed by MN), then the unconfirmed, then the
    // unsent: nothing after an unconfirmed item is done.
    let results = report.results();
    let done = results.iter().take_while(|r| r.is_done()).count();
    let unconfirmed = results[done..]
        .iter()
        .take_while(|r| r.is_unconfirmed())
        .count();
    assert!(unconfirmed > 0, "the killed window's items");
    assert!(results[done + unconfirmed..]
        .iter()
        .all(ItemResult::is_not_sent));
    assert_eq!(report.not_taken(), Some(COUNT - results.len()));
    assert!(!client.is_connected());

    server.restart();
    client.set_many([Entry::new("kill:after", "v")]).unwrap();
}

#[test]
fn a_frozen_server_times_a_quiet_batch_out_with_its_window_unconfirmed_not_done() {
    const COUNT: usize = 300_000;
    let server = Memcached::start_with(&["-m", "256"]);
    let addr = server.addr();
    let config = Config::default()
        .with_quiet_batches(true)
        .with_read_timeout(Duration::from_millis(200));
    let mut client = Client::builder(&addr).config(config).connect().unwrap();
    let entries = (0..COUNT).map(|i| Entry::new(format!("frozen:{i:08}"), "value"));
    let cut = cut_short(server, Memcached::freeze, || {
        batch_report(client.set_many(entries))
    });
    let (report, mut server) = (cut.result, cut.server);
    let error = report.stop_error().expect("the server was frozen");
    assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
    let results = report.results();
    let done = results.iter().take_while(|r| r.is_done()).count();
    let unconfirmed = results[done..]
        .iter()
        .take_while(|r| r.is_unconfirmed())
        .count();
    assert!(unconfirmed > 0);
    assert!(results[done + unconfirmed..]
        .iter()
        .all(ItemResult::is_not_sent));
    assert!(
        !client.is_connected(),
        "a timed-out connection is never reused"
    );

    // Thawed, the server applies what it had read; the client starts afresh and every item
    // the report called done is there.
    server.thaw();
    client.set_many([Entry::new("frozen:after", "v")]).unwrap();
    for i in (0..done).step_by(499) {
        assert!(
            client.get(format!("frozen:{i:08}")).unwrap().is_some(),
            "item {i}"
        );
    }
}

#[test]
fn twemproxy_refuses_a_quiet_batch_before_sending_or_taking_anything() {
    let server = Memcached::start();
    let addr = server.addr();
    let config = Config::default()
        .with_quiet_batches(true)
        .with_server_kind(ServerKind::Twemproxy);
    let mut client = Client::builder(&addr).config(config).connect().unwrap();
    let before = raw_stats(&addr)["cmd_set"].clone();
    let error = client
        .set_many((0..10).map(|i| Entry::new(format!("twem:{i}"), "v")))
        .unwrap_err();
    let report = error.report();
    assert!(matches!(
        report.stop_error(),
        Some(Error::NotSupportedByServer {
            command: "meta",
            ..
        })
    ));
    assert_eq!((report.len(), report.not_taken()), (0, Some(10)));
    assert_eq!(raw_stats(&addr)["cmd_set"], before);
    assert!(client.delete_many(["twem:0"]).is_err());
}

#[test]
fn a_cluster_with_quiet_batches_runs_them_on_every_server() {
    let servers = [Memcached::start(), Memcached::start()];
    let addrs: Vec<String> = servers.iter().map(Memcached::addr).collect();
    let cluster = Cluster::builder(&addrs)
        .config(Config::default().with_quiet_batches(true))
        .build()
        .unwrap();
    let keys: Vec<String> = (0..2000).map(|i| format!("cq:{i}")).collect();
    let report = cluster
        .add_many(keys.iter().map(|key| Entry::new(key, "v")))
        .unwrap();
    assert!(report
        .results()
        .iter()
        .all(|r| r.ok() == Some(&StoreOutcome::Stored)));
    let report = cluster
        .add_many(keys.iter().map(|key| Entry::new(key, "v")))
        .unwrap();
    assert!(report
        .results()
        .iter()
        .all(|r| r.ok() == Some(&StoreOutcome::NotStored)));
    for addr in &addrs {
        let sets: u64 = raw_stats(addr)["cmd_set"].parse().unwrap();
        assert!(sets > 500, "both servers took part: {sets}");
    }
}

// ---- a scripted server, for what memcached never does ----------------------------------------

/// A server that reads one window (up to its `mn`), answers with `reply`, then closes; returns
/// its address and the request it read.
fn scripted(reply: &'static [u8]) -> (String, thread::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let handle = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        let mut buf = [0; 4096];
        while !request.ends_with(b"mn\r\n") {
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "the client closed before its mn");
            request.extend_from_slice(&buf[..n]);
        }
        stream.write_all(reply).unwrap();
        request
    });
    (addr, handle)
}

fn three_adds(client: &mut Client) -> BatchReport<StoreOutcome> {
    batch_report(client.add_many((0..3).map(|i| Entry::new(format!("s:{i}"), "v"))))
}

#[test]
fn each_quiet_command_carries_its_position_as_opaque_and_the_window_ends_with_mn() {
    let (addr, server) = scripted(b"NS O1\r\nMN\r\n");
    let report = three_adds(&mut client(&addr, true));
    let request = server.join().unwrap();
    assert_eq!(
        request,
        b"ms s:0 1 ME O0 q\r\nv\r\nms s:1 1 ME O1 q\r\nv\r\nms s:2 1 ME O2 q\r\nv\r\nmn\r\n"
    );
    let outcomes: Vec<_> = report.results().iter().map(|r| r.ok().copied()).collect();
    use StoreOutcome::{NotStored, Stored};
    assert_eq!(outcomes, [Some(Stored), Some(NotStored), Some(Stored)]);
}

#[test]
fn a_reply_naming_no_item_in_flight_is_a_protocol_error_that_drops_the_connection() {
    for reply in [
        &b"NS O7\r\nMN\r\n"[..],
        b"NS O1\r\nNS O1\r\nMN\r\n",
        b"NS\r\nMN\r\n",
        b"MN O1\r\n",
    ] {
        let (addr, server) = scripted(reply);
        let mut client = client(&addr, true);
        let report = three_adds(&mut client);
        server.join().unwrap();
        let error = report.stop_error().expect("out of step");
        assert!(matches!(error, Error::Protocol(_)), "{reply:?}: {error:?}");
        assert!(!report.results().iter().any(ItemResult::is_done) || reply.starts_with(b"NS O1"));
        assert!(report.results().iter().any(ItemResult::is_unconfirmed));
        assert!(!client.is_connected(), "{reply:?}");
    }
}

#[test]
fn a_connection_closed_just_before_mn_leaves_the_unnamed_items_unconfirmed() {
    let (addr, server) = scripted(b"NS O1\r\n");
    let mut client = client(&addr, true);
    let report = three_adds(&mut client);
    server.join().unwrap();
    assert!(report.stop_error().is_some_and(Error::is_connection_error));
    let results = report.results();
    assert!(
        results[0].is_unconfirmed() && results[2].is_unconfirmed(),
        "{results:?}"
    );
    assert_eq!(
        results[1].ok(),
        Some(&StoreOutcome::NotStored),
        "its reply came"
    );
    assert!(!client.is_connected());
}

#[test]
fn an_item_refused_before_sending_takes_no_position_in_its_window() {
    let (addr, server) = scripted(b"NF O1\r\nMN\r\n");
    let report = batch_report(client(&addr, true).delete_many(["a", "bad key", "b", "c"]));
    let request = server.join().unwrap();
    assert_eq!(request, b"md a O0 q\r\nmd b O1 q\r\nmd c O2 q\r\nmn\r\n");
    let results = report.results();
    assert_eq!(results[0].ok(), Some(&true));
    assert!(results[1].is_failed());
    assert_eq!(results[2].ok(), Some(&false));
    assert_eq!(results[3].ok(), Some(&true));
}
