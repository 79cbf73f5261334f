//! Stale-while-revalidate against a real memcached (1.6.18): an early refresh (`mg … R`) won
//! by one caller among many while the others are served at once, stale values served
//! flagged after `md … I`, refreshes refused after a delete or an invalidate, and failed
//! refreshes that leave the cache as useful as they found it.

use memcache_sync_test_support as support;

use std::convert::Infallible;
use std::time::Duration;

use memcache_sync::protocol::meta::Ttl;
use memcache_sync::{
    get_or_fill, get_or_lease, Client, Cluster, Expiry, Fetched, FillError, LeaseOptions,
    LeaseOutcome, MetaDebugOptions, MetaDeleteOptions, MetaGetOptions, MetaSetOptions, Pool,
};
use support::lease::never_load;
use support::{shared_server, unique_key, Memcached};

fn client(addr: &str) -> Client {
    Client::connect(addr).unwrap()
}

/// Early recache once fewer than 30 s are left; fills live 300 s, well above it.
fn recache() -> LeaseOptions {
    LeaseOptions::new(Duration::from_secs(10))
        .wait(Duration::from_secs(3))
        .recache_below(Duration::from_secs(30))
        .fill_expiry(Expiry::after_secs(300))
}

/// Stores `value` for `secs` seconds.
fn store(client: &mut Client, key: &[u8], value: &[u8], secs: u64) {
    let set = MetaSetOptions::new().expiry(Expiry::after_secs(secs));
    assert!(client.meta_set(key, value, &set).unwrap().is_stored());
}

fn invalidate(client: &mut Client, key: &[u8]) {
    let invalidate = MetaDeleteOptions::new().invalidate(Duration::from_secs(60));
    assert!(client.meta_delete(key, &invalidate).unwrap().is_deleted());
}

fn peek(client: &mut Client, key: &[u8]) -> Option<memcache_sync::MetaItem> {
    let peek = MetaGetOptions::new().return_ttl().no_lru_bump();
    client.meta_get(key, &peek).unwrap()
}

#[test]
fn one_of_sixteen_threads_refreshes_early_while_the_others_are_served_without_waiting() {
    let server = shared_server();
    let key = unique_key("swr:early:");
    store(&mut client(&server.addr()), &key, b"old", 20);
    let load_time = Duration::from_millis(600);
    let herd = support::lease::herd(&server.addr(), &key, 16, &recache(), load_time, b"new");
    let results = herd.results;
    assert_eq!(herd.loads, 1, "exactly one refresher");
    let refreshed: Vec<_> = results
        .iter()
        .filter(|(f, _)| matches!(f, Fetched::Loaded { stored: true, .. }))
        .collect();
    assert_eq!(refreshed.len(), 1, "{results:?}");
    let served: Vec<_> = results
        .iter()
        .filter(|(f, _)| !matches!(f, Fetched::Loaded { .. }))
        .collect();
    assert_eq!(served.len(), 15);
    for (fetched, took) in &served {
        // The refresh runs for `load_time`; a reader that waited for it would take longer.
        assert_eq!(fetched, &Fetched::Hit(b"old".to_vec()), "fresh, not stale");
        assert!(*took < load_time / 2, "served without waiting: {took:?}");
    }
    let slowest = served.iter().map(|(_, t)| *t).max().unwrap();
    eprintln!("16 threads, 600 ms refresh: slowest of the 15 served {slowest:?}");

    // The refresh is in, with its own expiry, so the next readers neither refresh nor wait.
    let mut reader = client(&server.addr());
    let item = peek(&mut reader, &key).unwrap();
    assert_eq!(item.value.as_deref(), Some(&b"new"[..]));
    assert!(
        matches!(item.ttl, Some(Ttl::Seconds(290..=300))),
        "{item:?}"
    );
    assert!(!item.win && !item.already_won && !item.stale);
    let again = get_or_fill(&mut reader, &*key, &recache(), || never_load("fresh")).unwrap();
    assert_eq!(again, Fetched::Hit(b"new".to_vec()));
}

#[test]
fn an_item_above_the_recache_threshold_or_without_expiry_is_a_plain_hit() {
    let server = shared_server();
    let mut c = client(&server.addr());
    let (long, forever) = (unique_key("swr:above:"), unique_key("swr:forever:"));
    store(&mut c, &long, b"v", 100);
    assert!(c
        .meta_set(&forever, "v", &MetaSetOptions::new())
        .unwrap()
        .is_stored());
    for key in [&long, &forever] {
        let LeaseOutcome::Hit(item) = get_or_lease(&mut c, key, &recache()).unwrap() else {
            panic!("no refresh is due");
        };
        assert!(!item.win && !item.already_won && !item.stale);
    }
}

#[test]
fn after_an_invalidate_one_caller_refreshes_and_the_others_are_served_the_value_flagged_stale() {
    let server = shared_server();
    let (mut refresher, mut reader) = (client(&server.addr()), client(&server.addr()));
    let key = unique_key("swr:invalidated:");
    store(&mut refresher, &key, b"old", 300);
    invalidate(&mut refresher, &key);

    let LeaseOutcome::Won(token) = get_or_lease(&mut refresher, &key, &recache()).unwrap() else {
        panic!("the first reader of an invalidated item wins");
    };
    let current = token.current().unwrap();
    assert!(current.stale);
    assert_eq!(token.stale(), Some(current));
    assert_eq!(current.value.as_deref(), Some(&b"old"[..]));

    // Low level: busy, with the value flagged stale.
    match get_or_lease(&mut reader, &key, &recache()).unwrap() {
        LeaseOutcome::Busy { stale: Some(item) } => {
            assert!(item.stale && item.already_won);
            assert_eq!(item.value.as_deref(), Some(&b"old"[..]));
        }
        other => panic!("expected the stale value, got {other:?}"),
    }
    // High level, serving stale at once: no wait despite a 3 s one configured.
    let (fetched, took) = support::timed(|| {
        get_or_fill(&mut reader, &key, &recache().serve_stale(), || {
            never_load("the refresher holds the lease")
        })
    });
    let fetched = fetched.unwrap();
    assert!(fetched.is_stale());
    assert_eq!(fetched, Fetched::Stale(b"old".to_vec()));
    assert!(took < Duration::from_millis(500), "at once: {took:?}");
    // Without `serve_stale` it waits for the refresh, and still flags what it serves.
    let short = recache().wait(Duration::from_millis(50));
    let waited = get_or_fill(&mut reader, &key, &short, || never_load("held")).unwrap();
    assert_eq!(waited, Fetched::Stale(b"old".to_vec()));

    assert!(token
        .fill(&mut refresher, b"new", Expiry::after_secs(300))
        .unwrap());
    let fresh = get_or_fill(&mut reader, &key, &short.serve_stale(), || {
        never_load("refreshed")
    })
    .unwrap();
    assert_eq!(fresh, Fetched::Hit(b"new".to_vec()));
}

#[test]
fn sixteen_threads_on_an_invalidated_key_refresh_it_once_and_the_rest_are_served_stale() {
    let server = shared_server();
    let key = unique_key("swr:stale-herd:");
    let mut setup = client(&server.addr());
    store(&mut setup, &key, b"old", 300);
    invalidate(&mut setup, &key);
    let load_time = Duration::from_millis(300);
    let options = recache().serve_stale();
    let herd = support::lease::herd(&server.addr(), &key, 16, &options, load_time, b"new");
    let results: Vec<Fetched> = herd.results.into_iter().map(|(f, _)| f).collect();
    assert_eq!(herd.loads, 1);
    let stale = results.iter().filter(|f| f.is_stale()).count();
    let loaded = results
        .iter()
        .filter(|f| matches!(f, Fetched::Loaded { stored: true, .. }))
        .count();
    assert_eq!((loaded, stale), (1, 15), "{results:?}");
    assert!(results
        .iter()
        .all(|f| f.value() == b"old" || f.value() == b"new"));
    assert_eq!(
        peek(&mut setup, &key).unwrap().value.as_deref(),
        Some(&b"new"[..])
    );
}

#[test]
fn an_early_refresh_that_loses_to_a_delete_or_an_invalidate_is_refused() {
    let server = shared_server();
    let (mut refresher, mut writer) = (client(&server.addr()), client(&server.addr()));

    let deleted = unique_key("swr:lost-to-delete:");
    store(&mut refresher, &deleted, b"old", 20);
    let LeaseOutcome::Won(token) = get_or_lease(&mut refresher, &deleted, &recache()).unwrap()
    else {
        panic!("inside the recache window");
    };
    assert!(writer.delete(&deleted).unwrap());
    assert!(!token
        .fill(
            &mut refresher,
            b"computed before the delete",
            Expiry::after_secs(300)
        )
        .unwrap());
    assert_eq!(
        peek(&mut writer, &deleted),
        None,
        "the refresh was not cached"
    );

    let invalidated = unique_key("swr:lost-to-invalidate:");
    store(&mut refresher, &invalidated, b"old", 20);
    let LeaseOutcome::Won(token) = get_or_lease(&mut refresher, &invalidated, &recache()).unwrap()
    else {
        panic!("inside the recache window");
    };
    invalidate(&mut writer, &invalidated);
    assert!(!token
        .fill(&mut refresher, b"computed before", Expiry::after_secs(300))
        .unwrap());
    let item = peek(&mut writer, &invalidated).unwrap();
    assert!(item.stale, "still the invalidated value: {item:?}");

    // The same through get_or_fill: the load ran, its value was not stored.
    let during = unique_key("swr:lost-in-fill:");
    store(&mut refresher, &during, b"old", 20);
    let fetched = get_or_fill(&mut refresher, &during, &recache(), || {
        writer.delete(&during).unwrap();
        Ok::<_, Infallible>(b"computed before the delete".to_vec())
    })
    .unwrap();
    assert_eq!(
        fetched,
        Fetched::Loaded {
            value: b"computed before the delete".to_vec(),
            stored: false
        }
    );
    assert_eq!(peek(&mut writer, &during), None);
}

#[test]
fn a_failed_early_refresh_leaves_the_fresh_value_served() {
    let server = shared_server();
    let (mut refresher, mut reader) = (client(&server.addr()), client(&server.addr()));
    let key = unique_key("swr:failed-early:");
    store(&mut refresher, &key, b"old", 20);
    let failed = get_or_fill(&mut refresher, &key, &recache(), || {
        Err::<Vec<u8>, _>("db down")
    });
    assert!(matches!(failed, Err(FillError::Load("db down"))));
    let fetched = get_or_fill(&mut reader, &key, &recache(), || never_load("still fresh"));
    assert_eq!(fetched.unwrap(), Fetched::Hit(b"old".to_vec()));
}

#[test]
fn a_failed_stale_refresh_hands_the_refresh_to_the_next_reader_and_keeps_the_stale_value() {
    let server = shared_server();
    let (mut first, mut second) = (client(&server.addr()), client(&server.addr()));
    let key = unique_key("swr:failed-stale:");
    store(&mut first, &key, b"old", 300);
    invalidate(&mut first, &key);
    let failed = get_or_fill(&mut first, &key, &recache(), || {
        Err::<Vec<u8>, _>("db down")
    });
    assert!(matches!(failed, Err(FillError::Load("db down"))));

    // `me` inspects without taking the refresh (any read of an invalidated item takes it).
    let info = second
        .meta_debug(&key, &MetaDebugOptions::new())
        .unwrap()
        .unwrap();
    assert!(
        matches!(info.ttl, Some(Ttl::Seconds(50..=60))),
        "the stale value keeps its expiry: {info:?}"
    );
    let LeaseOutcome::Won(token) = get_or_lease(&mut second, &key, &recache()).unwrap() else {
        panic!("the refresh was handed back");
    };
    assert_eq!(
        token.stale().and_then(|i| i.value.as_deref()),
        Some(&b"old"[..]),
        "the stale value stays"
    );
    let mut third = client(&server.addr());
    let served = get_or_fill(&mut third, &key, &recache().serve_stale(), || {
        never_load("the second reader refreshes")
    });
    assert_eq!(served.unwrap(), Fetched::Stale(b"old".to_vec()));
    assert!(token
        .fill(&mut second, b"second try", Expiry::after_secs(300))
        .unwrap());
}

#[test]
fn early_recache_works_through_a_pool_and_a_cluster() {
    let server = shared_server();
    let pool = Pool::new(&server.addr());
    let key = unique_key("swr:pool:");
    store(&mut client(&server.addr()), &key, b"old", 20);
    let mut pooled = pool.get().unwrap();
    let LeaseOutcome::Won(token) = get_or_lease(&mut *pooled, &key, &recache()).unwrap() else {
        panic!("inside the recache window");
    };
    let mut other = pool.get().unwrap();
    assert!(matches!(
        get_or_lease(&mut *other, &key, &recache()).unwrap(),
        LeaseOutcome::Hit(item) if item.already_won && item.value.as_deref() == Some(b"old")
    ));
    assert!(token
        .fill(&mut *pooled, b"new", Expiry::after_secs(300))
        .unwrap());

    let (one, two) = (Memcached::start(), Memcached::start());
    let cluster = Cluster::builder([one.addr(), two.addr()]).build().unwrap();
    let key = unique_key("swr:cluster:");
    let set = MetaSetOptions::new().expiry(Expiry::after_secs(20));
    assert!(cluster.meta_set(&key, "old", &set).unwrap().is_stored());
    let LeaseOutcome::Won(token) = get_or_lease(&cluster, &key, &recache()).unwrap() else {
        panic!("inside the recache window");
    };
    assert!(matches!(
        get_or_lease(&cluster, &key, &recache()).unwrap(),
        LeaseOutcome::Hit(item) if item.value.as_deref() == Some(b"old")
    ));
    assert!(token
        .fill(&cluster, b"new", Expiry::after_secs(300))
        .unwrap());
    let fetched = get_or_fill(&cluster, &key, &recache(), || never_load("refreshed")).unwrap();
    assert_eq!(fetched, Fetched::Hit(b"new".to_vec()));
}
