//! Batches (`set_many`, `add_many`, `replace_many`, `delete_many`, `touch_many`) and
//! `get_many` against real memcached processes: very large batches in one call, per-item
//! validation and server errors, and batches cut short by a frozen or killed server, where
//! nothing may be reported done that the server did not confirm.

use memcache_sync_test_support as support;

use std::collections::HashMap;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use memcache_sync::protocol::KeyError;
use memcache_sync::{
    BatchError, BatchReport, Client, Config, Entry, Error, Expiry, Found, Item, ItemResult,
    StoreOptions,
};
use memcache_sync::{Phase, StoreOutcome};
use support::cut_short::{cut_short, CutShort};
use support::Memcached;
use support::{batch_report, raw_exchange, raw_stats, shared_server, unique_key};

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

/// The pipeline's window size for stores (`pipeline::STORE_WINDOW_BYTES`, private to the
/// crate) and how many windows may be unanswered at once: used to bound how many items a
/// stopped batch may leave unconfirmed.
const WINDOW_BYTES: usize = 64 * KIB;
const WINDOWS_IN_FLIGHT: usize = 2;

// ---- deterministic bulk items ------------------------------------------------------------

/// Key `i` of a bulk batch: exactly 32 bytes, `<tag>:` then zero-padded digits.
fn bulk_key(tag: &str, i: usize) -> [u8; 32] {
    let text = format!("{tag}:{i:0width$}", width = 31 - tag.len());
    text.as_bytes()
        .try_into()
        .unwrap_or_else(|_| panic!("bulk key {text:?} is not 32 bytes"))
}

/// Value `i`: exactly 100 bytes, different for every `i` (not just its prefix).
fn bulk_value(i: usize) -> [u8; 100] {
    let mut value = [0u8; 100];
    let digits = format!("{i:010}");
    for (j, byte) in value.iter_mut().enumerate() {
        // The index's digits, rotated by position, so no two items share any 10-byte run
        // at the same offset, plus a position-dependent letter.
        *byte = if j % 11 == 10 {
            b'a' + ((i + j) % 26) as u8
        } else {
            digits.as_bytes()[(j + i) % 10]
        };
    }
    value
}

fn bulk_flags(i: usize) -> u32 {
    (i as u32).wrapping_mul(2_654_435_761)
}

/// Every item gets its own expiry: never, relative (1 to 2 hours), or absolute (2 to 3 hours
/// from `now`).
fn bulk_expiry(i: usize, now: SystemTime) -> Expiry {
    match i % 3 {
        0 => Expiry::Never,
        1 => Expiry::after_secs(3600 + (i % 3600) as u64),
        _ => Expiry::At(now + Duration::from_secs(7200 + (i % 3600) as u64)),
    }
}

fn bulk_entry(tag: &str, i: usize, now: SystemTime) -> Entry<[u8; 32], [u8; 100]> {
    Entry::new(bulk_key(tag, i), bulk_value(i))
        .with_flags(bulk_flags(i))
        .with_expiry(bulk_expiry(i, now))
}

fn bulk_entries(
    tag: &'static str,
    count: usize,
    now: SystemTime,
) -> impl Iterator<Item = Entry<[u8; 32], [u8; 100]>> {
    (0..count).map(move |i| bulk_entry(tag, i, now))
}

/// Checks that the map holds item `i` for every index, with its value and flags.
fn assert_bulk_items_present(
    found: &Found<Item>,
    tag: &str,
    indices: impl IntoIterator<Item = usize>,
) -> usize {
    let mut checked = 0;
    for i in indices {
        let key = bulk_key(tag, i);
        let item = found
            .get(&key[..])
            .unwrap_or_else(|| panic!("item {i} ({}) is missing", key.escape_ascii()));
        assert_eq!(item.value, bulk_value(i), "value of item {i}");
        assert_eq!(item.flags, bulk_flags(i), "flags of item {i}");
        checked += 1;
    }
    checked
}

// ---- report shape ----------------------------------------------------------------------

/// How many items of each kind a report holds, in the order a stopped batch must have
/// them: `done` first, then `unconfirmed`, then `not_sent`.
#[derive(Debug, Default, PartialEq, Eq)]
struct Shape {
    done: usize,
    unconfirmed: usize,
    not_sent: usize,
}

fn kind<T>(result: &ItemResult<T>) -> &'static str {
    match result {
        ItemResult::Done(_) => "Done",
        ItemResult::Failed(_) => "Failed",
        ItemResult::Unconfirmed => "Unconfirmed",
        ItemResult::NotSent => "NotSent",
    }
}

/// Asserts the results are `Done*`, then `Unconfirmed*`, then `NotSent*` (no `Failed`, no
/// `Done` after anything else) and returns the counts.
fn assert_stopped_shape<T>(results: &[ItemResult<T>]) -> Shape {
    let rank = |r: &ItemResult<T>| match r {
        ItemResult::Done(_) => 0,
        ItemResult::Unconfirmed => 1,
        ItemResult::NotSent => 2,
        ItemResult::Failed(e) => panic!("no item can fail on its own here, got Failed({e:?})"),
    };
    let mut shape = Shape::default();
    let mut last = 0;
    for (i, result) in results.iter().enumerate() {
        let r = rank(result);
        assert!(
            r >= last,
            "item {i} is {} after an item that was not Done/Unconfirmed in order",
            kind(result)
        );
        last = r;
        match r {
            0 => shape.done += 1,
            1 => shape.unconfirmed += 1,
            _ => shape.not_sent += 1,
        }
    }
    shape
}

/// The most bulk items that can be written and unanswered at once: each window ends after
/// the command that crosses `WINDOW_BYTES`, so it holds at most that many bytes plus one
/// command, and every bulk command is at least `min_command_len` bytes.
fn max_unconfirmed(min_command_len: usize) -> usize {
    WINDOWS_IN_FLIGHT * (WINDOW_BYTES / min_command_len + 1)
}

/// `set <32-byte key> <flags> <exptime> 100\r\n<100 bytes>\r\n` is at least this long.
const MIN_BULK_SET_LEN: usize = 4 + 32 + 2 + 2 + 5 + 100 + 2;

fn stat(stats: &HashMap<String, String>, name: &str) -> u64 {
    stats
        .get(name)
        .unwrap_or_else(|| panic!("no stat {name}"))
        .parse()
        .unwrap_or_else(|e| panic!("stat {name}: {e}"))
}

/// The report of a batch that must have confirmed all of its `len` items.
fn assert_all_done<T: std::fmt::Debug>(
    result: Result<BatchReport<T>, BatchError<T>>,
    len: usize,
) -> BatchReport<T> {
    let report = result.unwrap_or_else(|error| {
        let failures: Vec<_> = error.report().failures().take(5).collect();
        panic!("{error}; first failures {failures:?}")
    });
    assert_eq!(report.len(), len);
    assert_eq!(report.not_taken(), Some(0));
    report
}

fn done<T: Copy + std::fmt::Debug>(result: &ItemResult<T>) -> T {
    match result {
        ItemResult::Done(value) => *value,
        other => panic!("expected Done, got {other:?}"),
    }
}

// ---- very large batches ------------------------------------------------------------------

#[test]
fn set_many_of_500k_items_in_one_call_stores_every_item_with_its_flags_and_expiry() {
    const COUNT: usize = 500_000;
    // 1 GiB of cache: 500k items of ~200 bytes cannot be evicted.
    let server = Memcached::start_with(&["-m", "1024"]);
    let mut client = Client::connect(&server.addr()).unwrap();
    let now = SystemTime::now();

    let started = Instant::now();
    let report = client.set_many(bulk_entries("bulk", COUNT, now));
    let set_time = started.elapsed();

    let report = assert_all_done(report, COUNT);
    assert_eq!(report.done_count(), COUNT);
    assert!(report.stop_error().is_none());
    assert_eq!(report.failures().count(), 0);
    assert!(report
        .results()
        .iter()
        .all(|r| matches!(r, ItemResult::Done(()))));
    drop(report);

    let stats = raw_stats(&server.addr());
    assert_eq!(stat(&stats, "cmd_set"), COUNT as u64);
    assert_eq!(stat(&stats, "curr_items"), COUNT as u64);
    assert_eq!(stat(&stats, "evictions"), 0);

    // Every key, read back in one pipelined get_many.
    let started = Instant::now();
    let keys: Vec<[u8; 32]> = (0..COUNT).map(|i| bulk_key("bulk", i)).collect();
    let found = client.get_many(&keys).unwrap();
    let get_time = started.elapsed();
    assert_eq!(found.len(), COUNT);
    assert_eq!(assert_bulk_items_present(&found, "bulk", 0..COUNT), COUNT);
    drop(found);

    // Each item's own expiry, read with the meta protocol on a separate connection for a
    // sample that covers all three kinds: `mg <key> t` answers `HD t<seconds left>`, -1 for
    // never.
    let sample: Vec<usize> = (0..COUNT).step_by(COUNT / 300).chain([COUNT - 1]).collect();
    let mut request = Vec::new();
    for &i in &sample {
        request.extend_from_slice(b"mg ");
        request.extend_from_slice(&bulk_key("bulk", i));
        request.extend_from_slice(b" t\r\n");
    }
    request.extend_from_slice(b"mn\r\n");
    let reply = raw_exchange(&server.addr(), &request, b"MN\r\n");
    let reply = String::from_utf8(reply).unwrap();
    let ttls: Vec<i64> = reply
        .split("\r\n")
        .filter(|line| !line.is_empty() && *line != "MN")
        .map(|line| {
            let ttl = line
                .strip_prefix("HD t")
                .unwrap_or_else(|| panic!("unexpected mg reply {line:?}"));
            ttl.parse().unwrap()
        })
        .collect();
    assert_eq!(ttls.len(), sample.len());
    let elapsed = now.elapsed().unwrap().as_secs() as i64;
    for (&i, &ttl) in sample.iter().zip(&ttls) {
        let expected = match i % 3 {
            0 => -1,
            1 => 3600 + (i % 3600) as i64,
            _ => 7200 + (i % 3600) as i64,
        };
        if expected == -1 {
            assert_eq!(ttl, -1, "item {i} should never expire");
        } else {
            // memcached's clock ticks in whole seconds, and time has passed since the set.
            assert!(
                ttl <= expected + 1 && ttl >= expected - elapsed - 2,
                "item {i}: ttl {ttl}, expected about {expected} (elapsed {elapsed} s)"
            );
        }
    }
    eprintln!("500k set_many: {set_time:?}; get_many of all keys and checks: {get_time:?}");
}

#[test]
fn get_many_of_100k_keys_returns_every_stored_item_and_lacks_exactly_the_missing_ones() {
    const COUNT: usize = 100_000;
    let server = Memcached::start_with(&["-m", "256"]);
    let mut client = Client::connect(&server.addr()).unwrap();
    assert_all_done(
        client.set_many(bulk_entries("gm", COUNT, SystemTime::now())),
        COUNT,
    );

    let keys: Vec<[u8; 32]> = (0..COUNT).map(|i| bulk_key("gm", i)).collect();
    let found = client.get_many(&keys).unwrap();
    assert_eq!(found.len(), COUNT);
    assert_bulk_items_present(&found, "gm", 0..COUNT);

    // Every 97th key is one that was never stored (same shape, another tag), interleaved
    // with stored ones, plus a run of missing keys at the end.
    let mut mixed: Vec<[u8; 32]> = Vec::new();
    let mut missing = Vec::new();
    for i in 0..COUNT {
        mixed.push(bulk_key("gm", i));
        if i.is_multiple_of(97) {
            let absent = bulk_key("no", i);
            missing.push(absent);
            mixed.push(absent);
        }
    }
    for i in 0..500 {
        let absent = bulk_key("nx", i);
        missing.push(absent);
        mixed.push(absent);
    }
    let found = client.get_many(&mixed).unwrap();
    assert_eq!(found.len(), COUNT);
    assert_bulk_items_present(&found, "gm", 0..COUNT);
    for absent in &missing {
        assert!(
            !found.contains_key(&absent[..]),
            "{}",
            absent.escape_ascii()
        );
    }

    // Duplicates, adjacent and far apart, in the same and in different request lines.
    let mut duplicated: Vec<[u8; 32]> = Vec::new();
    for i in 0..20_000 {
        duplicated.push(bulk_key("gm", i));
        if i.is_multiple_of(3) {
            duplicated.push(bulk_key("gm", i));
        }
        if i.is_multiple_of(1000) {
            duplicated.push(bulk_key("gm", 0));
            duplicated.push(bulk_key("no", 0));
        }
    }
    let found = client.get_many(&duplicated).unwrap();
    assert_eq!(found.len(), 20_000);
    assert_bulk_items_present(&found, "gm", 0..20_000);

    // The connection is still in step.
    let key = bulk_key("gm", 123);
    assert_eq!(client.get(key).unwrap().unwrap().value, bulk_value(123));
}

// ---- per-item validation -----------------------------------------------------------------

#[test]
fn invalid_keys_and_oversized_values_fail_alone_without_reaching_the_server() {
    let server = Memcached::start();
    let mut client = Client::connect(&server.addr()).unwrap();
    let before = raw_stats(&server.addr());

    let valid = |n: u32| {
        Entry::new(
            format!("valid:{n}").into_bytes(),
            format!("value {n}").into_bytes(),
        )
        .with_flags(n)
    };
    let invalid = |key: &[u8], value: Vec<u8>| Entry::new(key.to_vec(), value);
    let entries = vec![
        invalid(b"lead ing space", b"x".to_vec()),
        valid(1),
        invalid(b"inject\r\nflush_all", b"x".to_vec()),
        valid(2),
        invalid(&[b'k'; 251], b"x".to_vec()),
        invalid(b"", b"x".to_vec()),
        valid(3),
        invalid(b"big", vec![b'v'; MIB + 1]),
        invalid(b"tab\tkey", b"x".to_vec()),
        valid(4),
        Entry::new(b"far-future".to_vec(), b"x".to_vec()).with_expiry(Expiry::At(
            SystemTime::UNIX_EPOCH + Duration::from_secs(1 << 32),
        )),
        valid(5),
        Entry::new(vec![b'k'; 250], b"at the key limit".to_vec()).with_flags(250),
        invalid(b"trailing\n", b"x".to_vec()),
    ];
    let error = client
        .set_many(entries)
        .expect_err("invalid items are not confirmed");
    assert_eq!(error.first_failure().0, 0);
    let report = error.report();

    assert_eq!(report.len(), 14);
    assert!(report.stop_error().is_none(), "{:?}", report.stop_error());
    assert_eq!(report.done_count(), 6);
    let failed: Vec<usize> = report.failures().map(|(i, _)| i).collect();
    assert_eq!(failed, [0, 2, 4, 5, 7, 8, 10, 13]);
    let r = report.results();
    for i in [1, 3, 6, 9, 11, 12] {
        assert!(matches!(r[i], ItemResult::Done(())), "item {i}: {:?}", r[i]);
    }
    assert!(matches!(
        r[0],
        ItemResult::Failed(Error::InvalidKey(KeyError::ForbiddenByte {
            byte: b' ',
            index: 4
        }))
    ));
    assert!(matches!(
        r[2],
        ItemResult::Failed(Error::InvalidKey(KeyError::ForbiddenByte {
            byte: b'\r',
            index: 6
        }))
    ));
    assert!(matches!(
        r[4],
        ItemResult::Failed(Error::InvalidKey(KeyError::TooLong { len: 251 }))
    ));
    assert!(matches!(
        r[5],
        ItemResult::Failed(Error::InvalidKey(KeyError::Empty))
    ));
    assert!(matches!(
        r[7],
        ItemResult::Failed(Error::ValueTooLarge { len, limit }) if len == MIB + 1 && limit == MIB
    ));
    assert!(matches!(
        r[8],
        ItemResult::Failed(Error::InvalidKey(KeyError::ForbiddenByte {
            byte: b'\t',
            ..
        }))
    ));
    assert!(matches!(
        r[10],
        ItemResult::Failed(Error::InvalidArgument { what: "expiry", .. })
    ));
    assert!(matches!(
        r[13],
        ItemResult::Failed(Error::InvalidKey(KeyError::ForbiddenByte {
            byte: b'\n',
            index: 8
        }))
    ));

    // Only the six valid commands reached the server, and nothing else did: no flush, no
    // stray command from a split key line, no protocol error.
    let after = raw_stats(&server.addr());
    let delta = |name: &str| stat(&after, name) - stat(&before, name);
    assert_eq!(delta("cmd_set"), 6);
    assert_eq!(delta("cmd_flush"), 0);
    assert_eq!(delta("cmd_get"), 0);
    assert_eq!(stat(&after, "curr_items"), 6);

    for n in 1..=5 {
        let item = client.get(format!("valid:{n}").as_bytes()).unwrap();
        assert_eq!(
            item,
            Some(Item {
                value: format!("value {n}").into_bytes(),
                flags: n
            })
        );
    }
    let item = client.get([b'k'; 250]).unwrap().unwrap();
    assert_eq!(
        (item.value.as_slice(), item.flags),
        (&b"at the key limit"[..], 250)
    );
    for absent in [&b"lead"[..], b"inject", b"big", b"tab", b"far-future"] {
        assert_eq!(
            client.get(absent).unwrap(),
            None,
            "{}",
            absent.escape_ascii()
        );
    }
}

#[test]
fn a_batch_of_only_invalid_items_fails_each_and_sends_nothing() {
    let server = Memcached::start();
    let mut client = Client::connect(&server.addr()).unwrap();
    let before = raw_stats(&server.addr());
    let report = batch_report(client.set_many([
        Entry::new(&b"a b"[..], &b"x"[..]),
        Entry::new(&b""[..], &b"x"[..]),
    ]));
    assert_eq!(report.len(), 2);
    assert!(report.stop_error().is_none());
    assert_eq!(report.done_count(), 0);
    assert!(report
        .results()
        .iter()
        .all(|r| matches!(r, ItemResult::Failed(Error::InvalidKey(_)))));

    let report = batch_report(client.delete_many([&b"a\r\nb"[..], &[b'x'; 300][..]]));
    assert!(report.stop_error().is_none());
    assert!(report
        .results()
        .iter()
        .all(|r| matches!(r, ItemResult::Failed(Error::InvalidKey(_)))));
    let after = raw_stats(&server.addr());
    assert_eq!(stat(&after, "cmd_set"), stat(&before, "cmd_set"));
    assert_eq!(
        stat(&after, "delete_misses"),
        stat(&before, "delete_misses")
    );
    assert_eq!(stat(&after, "delete_hits"), stat(&before, "delete_hits"));
}

#[test]
fn value_over_the_servers_item_limit_fails_alone_and_the_batch_stays_in_step() {
    let server = Memcached::start_with(&["-I", "1m"]);
    let config = Config::default().with_max_value_size(2 * MIB);
    let mut client = Client::builder(&server.addr())
        .config(config)
        .connect()
        .unwrap();

    let big = vec![b'B'; 3 * MIB / 2];
    let small = |i: usize| format!("small value {i}").into_bytes();
    let key = |i: usize| format!("limit:{i}").into_bytes();
    // Enough small items on both sides to fill several pipeline windows, so the oversized
    // item sits in the middle of a pipelined stream with windows in flight around it.
    let mut entries: Vec<Entry<Vec<u8>, Vec<u8>>> = (0..600)
        .map(|i| Entry::new(key(i), small(i)).with_flags(i as u32))
        .collect();
    const BIG_AT: usize = 300;
    entries[BIG_AT] = Entry::new(key(BIG_AT), big.clone());
    let report = batch_report(client.set_many(entries));

    assert_eq!(report.len(), 600);
    assert!(report.stop_error().is_none(), "{:?}", report.stop_error());
    assert_eq!(report.done_count(), 599);
    let failures: Vec<_> = report.failures().collect();
    assert_eq!(failures.len(), 1);
    let (at, failure) = failures[0];
    assert_eq!(at, BIG_AT);
    match failure {
        ItemResult::Failed(error @ Error::ServerError { .. }) => {
            assert!(error.is_item_too_large(), "{error:?}")
        }
        other => panic!("expected Failed(Server), got {other:?}"),
    }
    for (i, result) in report.results().iter().enumerate() {
        assert_eq!(result.is_done(), i != BIG_AT, "item {i}: {result:?}");
    }

    // The items after the oversized one really were stored with their own values: the
    // replies were matched to the right items.
    let keys: Vec<Vec<u8>> = (0..600).map(key).collect();
    let found = client.get_many(&keys).unwrap();
    assert_eq!(found.len(), 599);
    assert!(!found.contains_key(key(BIG_AT)));
    for i in (0..600).filter(|&i| i != BIG_AT) {
        assert_eq!(
            found.get(key(i)).expect("found"),
            Item {
                value: small(i),
                flags: i as u32
            },
            "item {i}"
        );
    }
    // The same connection carries on.
    assert!(client.is_connected());
    client.set(b"after", b"ok", Expiry::Never).unwrap();
}

// ---- conditional stores, delete, touch ---------------------------------------------------

#[test]
fn add_many_reports_not_stored_exactly_for_existing_keys_and_keeps_their_values() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let keys: Vec<Vec<u8>> = (0..50).map(|i| unique_key(&format!("add{i}:"))).collect();
    let exists = |i: usize| i % 4 == 1;
    for (i, key) in keys.iter().enumerate().filter(|(i, _)| exists(*i)) {
        client
            .set(
                key,
                format!("old {i}").as_bytes(),
                StoreOptions::new().flags(1000 + i as u32),
            )
            .unwrap();
    }

    let report = client
        .add_many(
            keys.iter()
                .enumerate()
                .map(|(i, key)| Entry::new(key, format!("new {i}")).with_flags(i as u32)),
        )
        .expect("NotStored is an answer, so every item is Done");
    assert_eq!(report.len(), 50);
    assert!(report.stop_error().is_none());
    for (i, result) in report.results().iter().enumerate() {
        let expected = if exists(i) {
            StoreOutcome::NotStored
        } else {
            StoreOutcome::Stored
        };
        assert_eq!(done(result), expected, "item {i}");
    }

    let found = client.get_many(&keys).unwrap();
    assert_eq!(found.len(), 50);
    for (i, key) in keys.iter().enumerate() {
        let expected = if exists(i) {
            Item {
                value: format!("old {i}").into_bytes(),
                flags: 1000 + i as u32,
            }
        } else {
            Item {
                value: format!("new {i}").into_bytes(),
                flags: i as u32,
            }
        };
        assert_eq!(found.get(key).expect("found"), expected, "item {i}");
    }

    // The same key twice in one batch: the first add wins, the second is refused.
    let twice = unique_key("add:twice:");
    let report = client
        .add_many([Entry::new(&twice, "first"), Entry::new(&twice, "second")])
        .unwrap();
    assert_eq!(done(&report.results()[0]), StoreOutcome::Stored);
    assert_eq!(done(&report.results()[1]), StoreOutcome::NotStored);
    assert_eq!(client.get(&twice).unwrap().unwrap().value, b"first");
}

#[test]
fn replace_many_reports_not_stored_for_missing_keys_and_does_not_create_them() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let keys: Vec<Vec<u8>> = (0..40).map(|i| unique_key(&format!("repl{i}:"))).collect();
    let exists = |i: usize| i.is_multiple_of(3);
    for (_, key) in keys.iter().enumerate().filter(|(i, _)| exists(*i)) {
        client
            .set(key, b"old", StoreOptions::new().flags(7))
            .unwrap();
    }

    let report = client
        .replace_many(
            keys.iter()
                .enumerate()
                .map(|(i, key)| Entry::new(key, format!("new {i}")).with_flags(i as u32)),
        )
        .unwrap();
    for (i, result) in report.results().iter().enumerate() {
        let expected = if exists(i) {
            StoreOutcome::Stored
        } else {
            StoreOutcome::NotStored
        };
        assert_eq!(done(result), expected, "item {i}");
    }
    let found = client.get_many(&keys).unwrap();
    assert_eq!(
        found.len(),
        keys.iter().enumerate().filter(|(i, _)| exists(*i)).count()
    );
    for (i, key) in keys.iter().enumerate() {
        if exists(i) {
            assert_eq!(
                found.get(key).expect("found"),
                Item {
                    value: format!("new {i}").into_bytes(),
                    flags: i as u32
                }
            );
        } else {
            assert!(!found.contains_key(key), "replace created item {i}");
        }
    }
}

#[test]
fn delete_many_reports_per_key_whether_it_held_an_item() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let keys: Vec<Vec<u8>> = (0..60).map(|i| unique_key(&format!("del{i}:"))).collect();
    let exists = |i: usize| i.is_multiple_of(2) || i.is_multiple_of(7);
    let stored: Vec<_> = keys
        .iter()
        .enumerate()
        .filter(|(i, _)| exists(*i))
        .map(|(_, key)| Entry::new(key, "x"))
        .collect();
    client.set_many(stored).unwrap();

    // A key deleted twice in one batch: true, then false.
    let mut batch: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    batch.push(&keys[0]);
    let report = client.delete_many(batch).unwrap();
    assert_eq!(report.len(), 61);
    for (i, result) in report.results()[..60].iter().enumerate() {
        assert_eq!(done(result), exists(i), "item {i}");
    }
    assert!(
        !done(&report.results()[60]),
        "a second delete finds nothing"
    );
    assert!(client.get_many(&keys).unwrap().is_empty());

    // An invalid key fails alone among valid ones.
    let (a, b) = (unique_key("del:a:"), unique_key("del:b:"));
    client.set(&a, b"x", Expiry::Never).unwrap();
    client.set(&b, b"x", Expiry::Never).unwrap();
    let report = batch_report(client.delete_many([&a[..], b"bad key", &b[..]]));
    assert!(done(&report.results()[0]));
    assert!(matches!(
        report.results()[1],
        ItemResult::Failed(Error::InvalidKey(_))
    ));
    assert!(done(&report.results()[2]));
    assert!(report.stop_error().is_none());
}

#[test]
fn touch_many_reports_per_key_whether_it_exists_and_short_expiries_take_effect() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let keys: Vec<Vec<u8>> = (0..30).map(|i| unique_key(&format!("touch{i}:"))).collect();
    let exists = |i: usize| i % 5 != 4;
    let short = |i: usize| i.is_multiple_of(2);
    let stored: Vec<_> = keys
        .iter()
        .enumerate()
        .filter(|(i, _)| exists(*i))
        .map(|(i, key)| Entry::new(key, format!("v{i}")))
        .collect();
    client.set_many(stored).unwrap();

    let report = client
        .touch_many(keys.iter().enumerate().map(|(i, key)| {
            let expiry = if short(i) {
                Expiry::after_secs(1)
            } else {
                Expiry::after_secs(3600)
            };
            (key, expiry)
        }))
        .unwrap();
    assert_eq!(report.len(), 30);
    for (i, result) in report.results().iter().enumerate() {
        assert_eq!(done(result), exists(i), "item {i}");
    }
    // Touching a missing key does not create it.
    let found = client.get_many(&keys).unwrap();
    assert_eq!(found.len(), (0..30).filter(|&i| exists(i)).count());

    // memcached's clock ticks in whole seconds: a 1 s expiry is gone within about 2 s.
    let deadline = Instant::now() + Duration::from_secs(4);
    loop {
        let found = client.get_many(&keys).unwrap();
        let short_left = (0..30)
            .filter(|&i| short(i) && found.contains_key(&keys[i]))
            .count();
        if short_left == 0 {
            for i in (0..30).filter(|&i| exists(i) && !short(i)) {
                assert_eq!(&found[&keys[i]], format!("v{i}").as_bytes(), "item {i}");
            }
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{short_left} short-expiry items still there"
        );
        thread::sleep(Duration::from_millis(100));
    }

    // An expiry memcached cannot represent fails that item alone.
    let too_late = Expiry::At(SystemTime::UNIX_EPOCH + Duration::from_secs(1 << 32));
    let report = batch_report(client.touch_many([(&keys[1], too_late), (&keys[3], Expiry::Never)]));
    assert!(matches!(
        report.results()[0],
        ItemResult::Failed(Error::InvalidArgument { .. })
    ));
    assert!(done(&report.results()[1]));
}

// ---- empty batches -----------------------------------------------------------------------

#[test]
fn empty_batches_are_empty_all_done_reports_that_need_no_server() {
    let mut server = Memcached::start();
    let mut client = Client::connect(&server.addr()).unwrap();
    // With the server gone, anything that touched the network would fail.
    server.kill();

    let report = client.set_many(Vec::<Entry<&[u8], &[u8]>>::new()).unwrap();
    assert!(report.is_empty() && report.stop_error().is_none());
    assert_eq!((report.len(), report.done_count()), (0, 0));
    assert_eq!(report.failures().count(), 0);
    assert_eq!(report.not_taken(), Some(0));
    let report = client.add_many(Vec::<Entry<&[u8], &[u8]>>::new()).unwrap();
    assert!(report.is_empty());
    let report = client
        .replace_many(Vec::<Entry<&[u8], &[u8]>>::new())
        .unwrap();
    assert!(report.is_empty());
    let report = client.delete_many(Vec::<&[u8]>::new()).unwrap();
    assert!(report.is_empty());
    let report = client.touch_many(Vec::<(&[u8], Expiry)>::new()).unwrap();
    assert!(report.is_empty());
    assert!(report.into_results().is_empty());
    assert!(client.get_many::<&[u8]>(&[]).unwrap().is_empty());
}

// ---- batches cut short -------------------------------------------------------------------

/// Checks a stopped bulk batch of `count` items against the server: every `Done` item is
/// stored with its value and flags; every `NotSent` item, and every item the batch never
/// took from its input, is absent. `Unconfirmed` items may be either.
fn verify_stopped_bulk_batch<T>(addr: &str, tag: &str, results: &[ItemResult<T>], count: usize) {
    let mut fresh = Client::connect(addr).unwrap();
    let done: Vec<usize> = (0..results.len())
        .filter(|&i| results[i].is_done())
        .collect();
    let keys: Vec<[u8; 32]> = done.iter().map(|&i| bulk_key(tag, i)).collect();
    let found = fresh.get_many(&keys).unwrap();
    assert_eq!(
        found.len(),
        done.len(),
        "items reported Done but not stored"
    );
    assert_bulk_items_present(&found, tag, done.iter().copied());

    let not_sent: Vec<[u8; 32]> = (0..results.len())
        .filter(|&i| matches!(results[i], ItemResult::NotSent))
        .chain(results.len()..count)
        .map(|i| bulk_key(tag, i))
        .collect();
    let found = fresh.get_many(&not_sent).unwrap();
    assert!(
        found.is_empty(),
        "{} items reported NotSent are stored, e.g. {}",
        found.len(),
        found.keys().next().unwrap().escape_ascii()
    );
}

#[test]
fn frozen_server_stops_a_big_batch_with_a_timeout_and_only_confirmed_items_are_done() {
    const COUNT: usize = 300_000;
    let read_timeout = Duration::from_millis(300);
    let write_timeout = Duration::from_secs(1);
    let server = Memcached::start_with(&["-m", "256"]);
    let addr = server.addr();
    let config = Config::default()
        .with_read_timeout(read_timeout)
        .with_write_timeout(write_timeout);
    let mut client = Client::builder(&addr).config(config).connect().unwrap();

    let started = Instant::now();
    // Lazy: a stopped batch takes no more input, so the source's cost after the stop is nil.
    let entries = bulk_entries("frz", COUNT, SystemTime::now());
    let CutShort {
        result: report,
        mut server,
        interrupted_at: frozen_at,
        returned_at,
    } = cut_short(server, Memcached::freeze, || {
        batch_report(client.set_many(entries))
    });

    let after_freeze = returned_at.saturating_duration_since(frozen_at);
    eprintln!(
        "frozen after {:?}; set_many returned {after_freeze:?} after the freeze; stop error {:?}",
        frozen_at - started,
        report.stop_error()
    );
    let error = report
        .stop_error()
        .expect("the batch must stop: the server froze mid-batch");
    assert!(
        matches!(
            error,
            Error::Timeout {
                phase: Phase::Read | Phase::Write,
                ..
            }
        ),
        "{error:?}"
    );
    if let Error::Timeout { phase, timeout } = error {
        let expected = if *phase == Phase::Read {
            read_timeout
        } else {
            write_timeout
        };
        assert_eq!(*timeout, expected);
    }
    assert!(
        after_freeze < Duration::from_secs(3),
        "set_many returned {after_freeze:?} after the server froze"
    );
    assert!(report.len() < COUNT, "a stopped batch takes no more input");
    assert_eq!(
        report.not_taken(),
        Some(COUNT - report.len()),
        "a range knows its length"
    );
    let shape = assert_stopped_shape(report.results());
    eprintln!("{shape:?}");
    assert!(
        shape.done > 0,
        "the batch was frozen before anything was confirmed: {shape:?}"
    );
    assert!(
        shape.unconfirmed <= max_unconfirmed(MIN_BULK_SET_LEN),
        "more items unanswered than {WINDOWS_IN_FLIGHT} windows can hold: {shape:?}"
    );
    assert_eq!(
        shape.done + shape.unconfirmed + shape.not_sent,
        report.len()
    );
    assert_eq!(report.done_count(), shape.done);

    server.thaw();
    verify_stopped_bulk_batch(&addr, "frz", report.results(), COUNT);

    // The same client reconnects and carries on.
    assert_all_done(
        client.set_many(bulk_entries("frz2", 1000, SystemTime::now())),
        1000,
    );
}

#[test]
fn killed_server_stops_a_big_batch_with_a_connection_error_and_the_client_recovers() {
    const COUNT: usize = 300_000;
    let server = Memcached::start_with(&["-m", "256"]);
    let addr = server.addr();
    let config = Config::default().with_read_timeout(Duration::from_millis(300));
    let mut client = Client::builder(&addr).config(config).connect().unwrap();

    let entries = bulk_entries("kil", COUNT, SystemTime::now());
    let CutShort {
        result: report,
        mut server,
        interrupted_at: killed_at,
        returned_at,
    } = cut_short(server, Memcached::kill, || {
        batch_report(client.set_many(entries))
    });

    let after_kill = returned_at.saturating_duration_since(killed_at);
    eprintln!(
        "set_many returned {after_kill:?} after the kill: {:?}",
        report.stop_error()
    );
    let error = report
        .stop_error()
        .expect("the batch must stop: the server was killed");
    assert!(
        matches!(
            error,
            Error::ConnectionClosed { .. } | Error::Io { .. } | Error::Timeout { .. }
        ),
        "{error:?}"
    );
    assert!(error.is_connection_error());
    assert!(
        after_kill < Duration::from_secs(3),
        "returned {after_kill:?} after the kill"
    );
    assert!(report.len() < COUNT, "a stopped batch takes no more input");
    assert_eq!(
        report.not_taken(),
        Some(COUNT - report.len()),
        "a range knows its length"
    );
    let shape = assert_stopped_shape(report.results());
    eprintln!("{shape:?}");
    assert!(
        shape.unconfirmed <= max_unconfirmed(MIN_BULK_SET_LEN),
        "{shape:?}"
    );
    assert!(
        !client.is_connected(),
        "the broken connection must be dropped"
    );

    // A new process on the same port: the same client reconnects and runs a new batch.
    server.restart();
    assert_all_done(
        client.set_many(bulk_entries("kil2", 20_000, SystemTime::now())),
        20_000,
    );
    let keys: Vec<[u8; 32]> = (0..20_000).map(|i| bulk_key("kil2", i)).collect();
    let found = client.get_many(&keys).unwrap();
    assert_eq!(assert_bulk_items_present(&found, "kil2", 0..20_000), 20_000);
    // Data from before the kill is gone with the old process.
    assert_eq!(client.get(bulk_key("kil", 0)).unwrap(), None);
}

// ---- long streams of replies ---------------------------------------------------------------

/// The replies to one window must all arrive within one read timeout of its send, however
/// fast each frame comes: 200 values of 900 KiB (180 MB) asked for in one window cannot come
/// within 100 ms, so the call fails with a read timeout close to 100 ms instead of running on
/// for as long as the server keeps sending. A read timeout that covers the window reads it
/// whole.
#[test]
fn a_window_of_large_values_must_arrive_within_one_read_timeout_of_its_send() {
    let server = Memcached::start_with(&["-m", "1024"]);
    let value = vec![b'x'; 900 * KIB];
    let keys: Vec<Vec<u8>> = (0..200)
        .map(|i| format!("large:{i}").into_bytes())
        .collect();
    // Loaded with the default timeouts: on a busy machine memcached can take a while to take
    // in 900 KiB.
    let mut loader = Client::connect(&server.addr()).unwrap();
    loader
        .set_many(keys.iter().map(|key| Entry::new(key, &value)))
        .unwrap();

    let timeout = Duration::from_millis(100);
    let mut client = Client::builder(&server.addr())
        .config(Config::default().with_read_timeout(timeout))
        .connect()
        .unwrap();
    let started = Instant::now();
    let error = client.get_many(&keys).unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        matches!(
            error,
            Error::Timeout {
                phase: Phase::Read,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        elapsed < timeout + Duration::from_millis(400),
        "the window ran {elapsed:?} past its {timeout:?} read timeout"
    );

    let patient = Duration::from_secs(60);
    let mut client = Client::builder(&server.addr())
        .config(Config::default().with_read_timeout(patient))
        .connect()
        .unwrap();
    let started = Instant::now();
    let found = client.get_many(&keys).unwrap();
    assert_eq!(found.len(), keys.len());
    eprintln!("get_many of 180 MB took {:?}", started.elapsed());
}

#[test]
fn a_batch_cut_short_by_a_panic_leaves_no_reply_for_the_next_request_to_take() {
    let server = Memcached::start();
    let mut client = Client::connect(&server.addr()).unwrap();
    client.set(b"panic:known", b"known", Expiry::Never).unwrap();
    // The input panics after several windows were written: their replies are in flight.
    let entries = (0..50_000).map(|i| {
        assert!(i < 5_000, "the caller's iterator panics");
        Entry::new(format!("panic:{i}").into_bytes(), b"v".to_vec())
    });
    let panicked =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| client.set_many(entries)));
    assert!(panicked.is_err());
    // The next requests are answered by their own replies, not the batch's leftovers.
    assert_eq!(client.get(b"panic:known").unwrap().unwrap().value, b"known");
    client.set(b"panic:after", b"after", Expiry::Never).unwrap();
    assert_eq!(client.get(b"panic:after").unwrap().unwrap().value, b"after");
}
