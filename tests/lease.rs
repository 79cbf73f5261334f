//! Leases against a real memcached: one `load` per miss across 32 threads, a fill refused
//! after a delete, the waiters' bounded wait, hits that never load, and stale values served
//! while one caller refreshes an invalidated key.

use memcache_sync_test_support as support;

use std::convert::Infallible;
use std::time::{Duration, Instant};

use memcache_sync::{
    get_or_fill, get_or_lease, Client, Cluster, Deadline, Expiry, Fetched, FillError, LeaseOptions,
    LeaseOutcome, MetaDeleteOptions, MetaSetOptions,
};
use support::lease::never_load;
use support::{shared_server, unique_key};

fn client(addr: &str) -> Client {
    Client::connect(addr).unwrap()
}

fn options() -> LeaseOptions {
    LeaseOptions::new(Duration::from_secs(10))
        .wait(Duration::from_secs(3))
        .fill_expiry(Expiry::after_secs(60))
}

#[test]
fn thirty_two_threads_on_one_missing_key_run_a_slow_load_once_and_all_get_its_value() {
    let server = shared_server();
    let key = unique_key("lease:herd:");
    let load_time = Duration::from_millis(200);
    let herd = support::lease::herd(
        &server.addr(),
        &key,
        32,
        &options(),
        load_time,
        b"loaded once",
    );
    let results = herd.results;
    assert_eq!(herd.loads, 1, "exactly one load per miss");
    let loaded = results
        .iter()
        .filter(|(f, _)| matches!(f, Fetched::Loaded { stored: true, .. }))
        .count();
    assert_eq!(loaded, 1);
    for (fetched, took) in &results {
        assert_eq!(fetched.value(), b"loaded once");
        assert!(*took < Duration::from_secs(3), "within the wait: {took:?}");
    }
    let slowest = results.iter().map(|(_, t)| *t).max().unwrap();
    eprintln!("32 threads, 200 ms load: slowest caller {slowest:?}");
}

#[test]
fn a_delete_during_the_fill_makes_the_fill_refused() {
    let server = shared_server();
    let (mut filler, mut other) = (client(&server.addr()), client(&server.addr()));
    let key = unique_key("lease:delete:");
    let fetched = get_or_fill(&mut filler, &key, &options(), || {
        // The source of truth changes, and its writer deletes the cached copy.
        other.delete(&key).unwrap();
        Ok::<_, Infallible>(b"computed before the change".to_vec())
    })
    .unwrap();
    assert_eq!(
        fetched,
        Fetched::Loaded {
            value: b"computed before the change".to_vec(),
            stored: false
        }
    );
    assert_eq!(
        filler.get(&key).unwrap(),
        None,
        "the stale fill was not cached"
    );

    // The same through the low-level API, and with an invalidate instead of a delete.
    let LeaseOutcome::Won(token) = get_or_lease(&mut filler, &key, &options()).unwrap() else {
        panic!("a miss wins the lease");
    };
    let invalidate = MetaDeleteOptions::new().invalidate(Duration::from_secs(30));
    assert!(other.meta_delete(&key, &invalidate).unwrap().is_deleted());
    assert!(!token
        .fill(&mut filler, b"stale", Expiry::after_secs(60))
        .unwrap());
}

#[test]
fn a_hit_never_calls_load() {
    let server = shared_server();
    let mut client = client(&server.addr());
    let key = unique_key("lease:hit:");
    let set = MetaSetOptions::new().expiry(Expiry::after_secs(60));
    assert!(client.meta_set(&key, "cached", &set).unwrap().is_stored());
    let fetched = get_or_fill(&mut client, &key, &options(), || {
        never_load("load on a hit")
    })
    .unwrap();
    assert_eq!(fetched, Fetched::Hit(b"cached".to_vec()));
    assert!(matches!(
        get_or_lease(&mut client, &key, &options()).unwrap(),
        LeaseOutcome::Hit(_)
    ));
}

#[test]
fn a_waiter_gives_up_busy_within_the_configured_wait() {
    let server = shared_server();
    let (mut winner, mut waiter) = (client(&server.addr()), client(&server.addr()));
    let key = unique_key("lease:wait:");
    let LeaseOutcome::Won(_token) = get_or_lease(&mut winner, &key, &options()).unwrap() else {
        panic!("a miss wins the lease");
    };
    let wait = Duration::from_millis(300);
    let begun = Instant::now();
    let result = get_or_fill(&mut waiter, &key, &options().wait(wait), || {
        never_load("the lease is held")
    });
    let took = begun.elapsed();
    match result {
        Err(FillError::Busy { waited }) => assert!(waited <= took),
        other => panic!("expected busy, got {other:?}"),
    }
    assert!(took >= wait, "it waited: {took:?}");
    assert!(
        took < wait + Duration::from_millis(150),
        "bounded: {took:?}"
    );
    eprintln!("busy after {took:?} of a {wait:?} wait");
}

#[test]
fn a_waiter_never_waits_past_the_callers_deadline() {
    let server = shared_server();
    let (mut winner, mut waiter) = (client(&server.addr()), client(&server.addr()));
    let key = unique_key("lease:deadline:");
    let LeaseOutcome::Won(_token) = get_or_lease(&mut winner, &key, &options()).unwrap() else {
        panic!("a miss wins the lease");
    };
    let deadline = Deadline::after(Duration::from_millis(150));
    let result = deadline.run(|| {
        get_or_fill(&mut waiter, &key, &options(), || {
            never_load("the lease is held")
        })
    });
    let late = Instant::now().saturating_duration_since(deadline.instant());
    assert!(matches!(result, Err(FillError::Busy { .. })), "{result:?}");
    assert!(
        late < Duration::from_millis(100),
        "{late:?} past the deadline"
    );
}

#[test]
fn waiters_get_the_stale_value_while_one_caller_refreshes_an_invalidated_key() {
    let server = shared_server();
    let (mut refresher, mut waiter) = (client(&server.addr()), client(&server.addr()));
    let key = unique_key("lease:stale:");
    let set = MetaSetOptions::new().expiry(Expiry::after_secs(60));
    assert!(refresher.meta_set(&key, "old", &set).unwrap().is_stored());
    let invalidate = MetaDeleteOptions::new().invalidate(Duration::from_secs(30));
    assert!(refresher
        .meta_delete(&key, &invalidate)
        .unwrap()
        .is_deleted());

    let LeaseOutcome::Won(token) = get_or_lease(&mut refresher, &key, &options()).unwrap() else {
        panic!("the first reader of a stale item wins");
    };
    assert_eq!(
        token.stale().and_then(|i| i.value.as_deref()),
        Some(&b"old"[..])
    );
    match get_or_lease(&mut waiter, &key, &options()).unwrap() {
        LeaseOutcome::Busy { stale: Some(item) } => {
            assert!(item.stale);
            assert_eq!(item.value.as_deref(), Some(&b"old"[..]));
        }
        other => panic!("expected busy with the stale value, got {other:?}"),
    }
    let short = options().wait(Duration::from_millis(50));
    let fetched = get_or_fill(&mut waiter, &key, &short, || {
        never_load("the refresher holds the lease")
    })
    .unwrap();
    assert_eq!(fetched, Fetched::Stale(b"old".to_vec()));

    assert!(token
        .fill(&mut refresher, b"new", Expiry::after_secs(60))
        .unwrap());
    let fetched = get_or_fill(&mut waiter, &key, &short, || never_load("refreshed")).unwrap();
    assert_eq!(fetched, Fetched::Hit(b"new".to_vec()));
}

#[test]
fn a_failed_load_gives_the_lease_back_to_the_next_caller() {
    let server = shared_server();
    let (mut a, mut b) = (client(&server.addr()), client(&server.addr()));
    let key = unique_key("lease:failed:");
    let failed = get_or_fill(&mut a, &key, &options(), || Err::<Vec<u8>, _>("db down"));
    assert!(matches!(failed, Err(FillError::Load("db down"))));
    let begun = Instant::now();
    let fetched = get_or_fill(&mut b, &key, &options(), || {
        Ok::<_, Infallible>(b"second try".to_vec())
    })
    .unwrap();
    assert!(matches!(fetched, Fetched::Loaded { stored: true, .. }));
    assert!(
        begun.elapsed() < Duration::from_millis(100),
        "no wait for a lapse"
    );
}

#[test]
fn a_lease_on_a_cluster_is_won_once_and_filled() {
    let (one, two) = (support::Memcached::start(), support::Memcached::start());
    let cluster = Cluster::builder([one.addr(), two.addr()]).build().unwrap();
    let key = unique_key("lease:cluster:");
    let LeaseOutcome::Won(token) = get_or_lease(&cluster, &key, &options()).unwrap() else {
        panic!("a miss wins the lease");
    };
    assert!(matches!(
        get_or_lease(&cluster, &key, &options()).unwrap(),
        LeaseOutcome::Busy { stale: None }
    ));
    assert!(token.fill(&cluster, b"v", Expiry::after_secs(60)).unwrap());
    let fetched = get_or_fill(&cluster, &key, &options(), || never_load("a hit")).unwrap();
    assert_eq!(fetched, Fetched::Hit(b"v".to_vec()));
}

#[test]
fn a_waiter_wins_a_lease_whose_winner_never_filled_once_it_lapses() {
    let server = shared_server();
    let (mut winner, mut waiter) = (client(&server.addr()), client(&server.addr()));
    let key = unique_key("lease:lapse:");
    let short_lease = LeaseOptions::new(Duration::from_secs(1)).wait(Duration::from_secs(4));
    let LeaseOutcome::Won(abandoned) = get_or_lease(&mut winner, &key, &short_lease).unwrap()
    else {
        panic!("a miss wins the lease");
    };
    let begun = Instant::now();
    let fetched = get_or_fill(&mut waiter, &key, &short_lease, || {
        Ok::<_, Infallible>(b"after the lapse".to_vec())
    })
    .unwrap();
    assert!(matches!(fetched, Fetched::Loaded { stored: true, .. }));
    eprintln!("the lapsed lease was won after {:?}", begun.elapsed());
    let late = abandoned.fill(&mut winner, b"too late", Expiry::after_secs(60));
    assert!(
        !late.unwrap(),
        "a lapsed lease cannot overwrite the new fill"
    );
    assert_eq!(winner.get(&key).unwrap().unwrap().value, b"after the lapse");
}

#[test]
fn a_binary_key_is_leased_filled_and_handed_back_in_base64_mode_on_a_client_and_a_cluster() {
    let (one, two) = (support::Memcached::start(), support::Memcached::start());
    let cluster = Cluster::builder([one.addr(), two.addr()]).build().unwrap();
    let mut direct = client(&one.addr());
    let b64 = options().base64_key();
    let mut key = unique_key("lease:b64:");
    key.extend_from_slice(b" \r\n\x00\xff");

    // A failed load hands the placeholder back (by CAS, in base64 mode): the next caller
    // loads at once.
    let failed = get_or_fill(&cluster, &key, &b64, || Err::<Vec<u8>, _>("db down"));
    assert!(matches!(failed, Err(FillError::Load("db down"))));
    let fetched = get_or_fill(&cluster, &key, &b64, || {
        Ok::<_, Infallible>(b"binary".to_vec())
    })
    .unwrap();
    assert!(matches!(fetched, Fetched::Loaded { stored: true, .. }));
    let hit = get_or_fill(&cluster, &key, &b64, || never_load("filled")).unwrap();
    assert_eq!(hit, Fetched::Hit(b"binary".to_vec()));

    // The same on a client, through get_or_lease and fill.
    let mut other = unique_key("lease:b64:client:");
    other.push(b' ');
    let LeaseOutcome::Won(token) = get_or_lease(&mut direct, &other, &b64).unwrap() else {
        panic!("a miss wins the lease");
    };
    assert!(token
        .fill(&mut direct, b"v", Expiry::after_secs(60))
        .unwrap());
    assert!(matches!(
        get_or_lease(&mut direct, &other, &b64).unwrap(),
        LeaseOutcome::Hit(item) if item.value.as_deref() == Some(b"v")
    ));
    // Without base64 mode such a key is refused before anything is sent.
    assert!(matches!(
        get_or_lease(&mut direct, &other, &options()),
        Err(memcache_sync::Error::InvalidKey(_))
    ));
}
