//! What a batch returns against real memcached: `Ok` only when every item was confirmed, a
//! `BatchError` naming the first failure otherwise, `?` into `Error::Batch`, counts that
//! account for every item of the input, and `Cluster::get_many`'s one failure per server.

use memcache_sync_test_support as support;

use std::collections::HashSet;
use std::time::Duration;

use memcache_sync::{
    BatchError, BatchReport, Client, Cluster, Config, Entry, Error, ItemResult, KeyError,
    StoreOutcome,
};
use support::cut_short::cut_short;
use support::{shared_server, unique_key, Memcached};

/// A fresh prefix for one test's keys.
fn prefix(tag: &str) -> String {
    String::from_utf8(unique_key(tag)).expect("unique keys are ASCII")
}

fn entries(prefix: &str, count: usize) -> Vec<Entry<String, &'static [u8]>> {
    (0..count)
        .map(|i| Entry::new(format!("{prefix}:{i}"), &b"v"[..]))
        .collect()
}

/// Stores `entries` and says how many there were: `?` on the batch is all the error handling
/// a caller that wants all or nothing writes.
fn store_all(
    client: &mut Client,
    entries: Vec<Entry<String, &'static [u8]>>,
) -> memcache_sync::Result<usize> {
    let report = client.set_many(entries)?;
    Ok(report.len())
}

#[test]
fn question_mark_on_set_many_stores_everything_in_a_function_returning_the_crates_result() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let prefix = prefix("qm:");
    let batch = entries(&prefix, 2_000);
    let keys: Vec<String> = batch.iter().map(|entry| entry.key.clone()).collect();

    assert_eq!(store_all(&mut client, batch).unwrap(), 2_000);
    let found = client.get_many(&keys).unwrap();
    assert_eq!(found.len(), 2_000, "every item reported stored is stored");
    assert!(found.values().all(|item| item.value == b"v"));
}

#[test]
fn one_invalid_key_makes_the_batch_an_error_naming_its_index_and_the_rest_are_done() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let prefix = prefix("one-bad:");
    let mut batch = entries(&prefix, 50);
    const BAD: usize = 17;
    batch[BAD].key = format!("{prefix}: with a space");

    let error = client.set_many(batch.clone()).unwrap_err();
    let (index, first) = error.first_failure();
    assert_eq!(index, BAD);
    assert!(
        matches!(
            first,
            Error::InvalidKey(KeyError::ForbiddenByte { byte: b' ', .. })
        ),
        "{first:?}"
    );
    let report = error.report();
    assert_eq!(report.len(), 50);
    assert_eq!(report.not_taken(), Some(0));
    assert!(report.stop_error().is_none(), "{:?}", report.stop_error());
    assert_eq!(
        (report.done_count(), report.failed_count()),
        (49, 1),
        "the other items went on"
    );
    for (i, result) in report.results().iter().enumerate() {
        assert_eq!(result.is_done(), i != BAD, "item {i}: {result:?}");
    }
    assert!(
        error
            .to_string()
            .starts_with("1 of 50 items was not confirmed; the first, item 17: invalid key"),
        "{error}"
    );
    let source = std::error::Error::source(&error).expect("the first failure is the source");
    assert!(source
        .downcast_ref::<Error>()
        .is_some_and(Error::is_invalid_input));

    // Through `?`: an `Error::Batch` with the index, the count and the first error.
    match store_all(&mut client, batch) {
        Err(Error::Batch {
            index,
            failed,
            source,
        }) => {
            assert_eq!((index, failed), (BAD, 1));
            assert!(matches!(*source, Error::InvalidKey(_)), "{source:?}");
        }
        other => panic!("expected Error::Batch, got {other:?}"),
    }
    // And into any boxed error, with the report's message.
    let mut boxed = || -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        client.delete_many([b"fine".as_slice(), b"not fine"])?;
        Ok(())
    };
    let message = boxed().unwrap_err().to_string();
    assert!(
        message.starts_with("1 of 2 items was not confirmed"),
        "{message}"
    );
}

#[test]
fn not_stored_is_an_answer_so_a_batch_of_refused_adds_is_ok() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let prefix = prefix("adds:");
    let batch = entries(&prefix, 10);
    client.set_many(batch[..5].to_vec()).unwrap();

    let report = client.add_many(batch).expect("every add was answered");
    let outcomes: Vec<StoreOutcome> = report
        .into_results()
        .into_iter()
        .map(|result| result.into_ok().expect("done"))
        .collect();
    let stored = |i| {
        if i < 5 {
            StoreOutcome::NotStored
        } else {
            StoreOutcome::Stored
        }
    };
    assert_eq!(outcomes, (0..10).map(stored).collect::<Vec<_>>());
}

#[test]
fn item_results_answer_through_their_accessors() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let taken = unique_key("accessors:taken:");
    let free = unique_key("accessors:free:");
    client.set_many([Entry::new(&taken, "v")]).unwrap();
    let error = client
        .add_many([
            Entry::new(&taken, "again"),
            Entry::new(&free, "new"),
            Entry::new(&Vec::new(), "empty key"),
        ])
        .unwrap_err();
    let results = error.into_report().into_results();

    let [not_stored, stored, failed] = &results[..] else {
        panic!("three results: {results:?}")
    };
    assert_eq!(not_stored.ok(), Some(&StoreOutcome::NotStored));
    assert_eq!(stored.ok(), Some(&StoreOutcome::Stored));
    assert!(not_stored.err().is_none() && !not_stored.is_failed());
    assert!(failed.ok().is_none() && failed.is_failed() && !failed.is_done());
    assert!(matches!(
        failed.err(),
        Some(Error::InvalidKey(KeyError::Empty))
    ));
    assert!(!failed.is_unconfirmed() && !failed.is_not_sent());
    assert_eq!(results[1].clone().into_ok(), Some(StoreOutcome::Stored));
    assert_eq!(results[2].clone().into_ok(), None);

    // The outcomes of a stopped batch, which carry no error of their own.
    let unconfirmed: ItemResult<()> = ItemResult::Unconfirmed;
    assert!(unconfirmed.is_unconfirmed() && !unconfirmed.is_not_sent());
    assert!(unconfirmed.ok().is_none() && unconfirmed.err().is_none());
    let not_sent: ItemResult<()> = ItemResult::NotSent;
    assert!(not_sent.is_not_sent() && !not_sent.is_unconfirmed() && !not_sent.is_done());
    assert!(not_sent.into_ok().is_none());
}

/// Checks that every item of a stopped batch is accounted for and that `?` would carry the
/// same first failure and count; returns the report.
fn assert_counts_add_up(error: BatchError<()>) -> BatchReport<()> {
    let report = error.report();
    eprintln!(
        "{error}\n  done {}, failed {}, unconfirmed {}, not sent {}, not taken {:?}",
        report.done_count(),
        report.failed_count(),
        report.unconfirmed_count(),
        report.not_sent_count(),
        report.not_taken()
    );
    assert_eq!(
        report.done_count()
            + report.failed_count()
            + report.unconfirmed_count()
            + report.not_sent_count(),
        report.len()
    );
    let stop = report
        .stop_error()
        .expect("a killed server stops the batch");
    assert!(stop.is_connection_error(), "{stop:?}");
    let (index, first) = error.first_failure();
    assert!(report.results()[..index].iter().all(ItemResult::is_done));
    assert!(!report.results()[index].is_done());
    assert!(first.is_connection_error(), "{first:?}");

    let not_confirmed = report.len() - report.done_count() + report.not_taken().unwrap_or(0);
    match Error::from(error.clone()) {
        Error::Batch {
            index: at,
            failed,
            source,
        } => {
            assert_eq!((at, failed), (index, not_confirmed));
            assert!(source.is_connection_error(), "{source:?}");
        }
        other => panic!("expected Error::Batch, got {other:?}"),
    }
    error.into_report()
}

#[test]
fn a_vec_batch_to_a_server_killed_mid_way_counts_every_item_and_what_it_never_took() {
    const COUNT: usize = 300_000;
    let server = Memcached::start_with(&["-m", "256"]);
    let addr = server.addr();
    let config = Config::default().with_read_timeout(Duration::from_millis(500));
    let mut client = Client::builder(&addr).config(config).connect().unwrap();
    let batch = entries(&prefix("killed-vec:"), COUNT);

    let result = cut_short(server, Memcached::kill, || client.set_many(batch)).result;

    let error = result.expect_err("the server was killed mid-batch");
    let report = assert_counts_add_up(error);
    assert!(report.len() < COUNT, "a stopped batch takes no more input");
    assert_eq!(
        report.not_taken(),
        Some(COUNT - report.len()),
        "a Vec knows how many it still holds"
    );
}

#[test]
fn an_endless_batch_to_a_server_killed_mid_way_cannot_say_what_it_never_took() {
    let server = Memcached::start();
    let mut client = Client::connect(&server.addr()).unwrap();
    let prefix = prefix("killed-endless:");
    // The input itself kills the server once several windows have gone out; with no end, only
    // the kill can stop the batch.
    let mut server = Some(server);
    let endless = (0usize..).map(|i| {
        if i == 20_000 {
            if let Some(mut server) = server.take() {
                server.kill();
            }
        }
        Entry::new(format!("{prefix}:{i}"), &b"v"[..])
    });
    let error = client.set_many(endless).expect_err("the server was killed");
    let report = assert_counts_add_up(error);
    assert!(report.len() >= 20_000, "{}", report.len());
    assert_eq!(report.not_taken(), None, "an endless input has no length");
}

#[test]
fn a_cluster_get_many_with_one_dead_server_reports_one_failure_holding_exactly_its_keys() {
    let mut servers: Vec<Memcached> = (0..3).map(|_| Memcached::start()).collect();
    let addrs: Vec<String> = servers.iter().map(Memcached::addr).collect();
    let cluster = Cluster::builder(&addrs)
        .config(Config::default().with_connect_timeout(Duration::from_millis(500)))
        .build()
        .unwrap();
    let prefix = prefix("dead-one:");
    let keys: Vec<Vec<u8>> = (0..300)
        .map(|i| format!("{prefix}:{i}").into_bytes())
        .collect();
    cluster
        .set_many(keys.iter().map(|key| Entry::new(key, key)))
        .unwrap();
    const DEAD: usize = 1;
    let owned: Vec<&Vec<u8>> = keys
        .iter()
        .filter(|key| cluster.server_for(key) == DEAD)
        .collect();
    assert!(!owned.is_empty() && owned.len() < keys.len());
    servers[DEAD].kill();

    let report = cluster.get_many(&keys).unwrap();
    let [failure] = &report.failed[..] else {
        panic!("one failure for one dead server: {:?}", report.failed)
    };
    assert_eq!(failure.server, addrs[DEAD]);
    assert!(failure.error.is_connection_error(), "{:?}", failure.error);
    assert_eq!(
        failure.keys.iter().collect::<Vec<_>>(),
        owned,
        "exactly the dead server's keys, in input order"
    );
    assert_eq!(
        report.failed_keys().collect::<HashSet<_>>(),
        owned
            .iter()
            .map(|key| key.as_slice())
            .collect::<HashSet<_>>()
    );
    for key in &keys {
        if cluster.server_for(key) == DEAD {
            assert!(report
                .error_for(key)
                .is_some_and(Error::is_connection_error));
            assert!(!report.found.contains_key(key));
        } else {
            assert!(report.error_for(key).is_none());
            assert_eq!(&report.found[key], key);
        }
    }
    assert_eq!(report.found.len() + owned.len(), keys.len());
}
