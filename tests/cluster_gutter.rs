//! Gutter failover against real memcached processes: a down server's keys go to a separate
//! gutter pool with capped TTLs, other keys stay on their owners, and the keys come home when
//! the server is back. Checked by reading each server directly, and through the `Observer`'s
//! events and the `log` lines.

use memcache_sync_test_support as support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use memcache_sync::protocol::meta::Ttl;
use memcache_sync::{
    CasOutcome, Client, Cluster, Config, Entry, Error, Event, Expiry, Failover, GutterConfig,
    HealthConfig, MetaArithOptions, MetaGetOptions, MetaSetOptions, StoreOutcome,
};
use support::logs::{capture_logs, logged};
use support::{unique_key, wait_for, Memcached};

/// How long recovery may take on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(10);

/// The TTL cap the tests set: short enough to tell from "never", long enough not to expire
/// while a test looks.
const CAP: Duration = Duration::from_secs(20);

/// One `Event::Gutter`: `(server, gutter, command, keys)`.
type Moved = (String, String, &'static str, usize);

/// The gutter events seen, and servers seen up.
#[derive(Clone, Default)]
struct Events {
    gutter: Arc<Mutex<Vec<Moved>>>,
    up: Arc<Mutex<Vec<String>>>,
}

impl Events {
    fn observer(&self) -> impl Fn(&Event<'_>) + Send + Sync + 'static {
        let (gutter, up) = (Arc::clone(&self.gutter), Arc::clone(&self.up));
        move |event: &Event<'_>| match *event {
            Event::Gutter {
                server,
                gutter: to,
                command,
                keys,
            } => gutter
                .lock()
                .unwrap()
                .push((server.to_owned(), to.to_owned(), command, keys)),
            Event::ServerUp { server } => up.lock().unwrap().push(server.to_owned()),
            _ => {}
        }
    }

    fn gutter_calls(&self, server: &str, command: &str) -> usize {
        let seen = self.gutter.lock().unwrap();
        seen.iter()
            .filter(|(s, _, c, _)| s == server && *c == command)
            .map(|(_, _, _, keys)| keys)
            .sum()
    }
}

fn timeouts(timeout: Duration) -> Config {
    Config::default()
        .with_connect_timeout(timeout)
        .with_read_timeout(timeout)
        .with_write_timeout(timeout)
}

/// A cluster over `main` with `gutter` as its gutter: marked down at the first refused
/// connection, probed again 100-200 ms later.
fn cluster(main: &[String], gutter: &[String], events: &Events) -> Cluster {
    capture_logs();
    Cluster::builder(main)
        .config(timeouts(Duration::from_millis(500)))
        .health(
            HealthConfig::default()
                .with_failure_threshold(1)
                .with_backoff(Duration::from_millis(100), Duration::from_millis(200)),
        )
        .gutter(GutterConfig::new(gutter).with_max_ttl(CAP))
        .observer(events.observer())
        .build()
        .unwrap()
}

fn start(count: usize) -> (Vec<Memcached>, Vec<String>) {
    let servers: Vec<Memcached> = (0..count).map(|_| Memcached::start()).collect();
    let addrs = servers.iter().map(Memcached::addr).collect();
    (servers, addrs)
}

/// `count` keys owned by main server `owner`.
fn keys_of(cluster: &Cluster, owner: usize, count: usize) -> Vec<Vec<u8>> {
    std::iter::repeat_with(|| unique_key("gutter:"))
        .filter(|key| cluster.server_for(key) == owner)
        .take(count)
        .collect()
}

/// What server `addr` holds for `key`, read directly: the value and its remaining TTL.
fn held(addr: &str, key: &[u8]) -> Option<(Vec<u8>, Ttl)> {
    let mut client = Client::connect(addr).unwrap();
    let options = MetaGetOptions::new().return_ttl();
    client
        .meta_get(key, &options)
        .unwrap()
        .map(|item| (item.value.unwrap(), item.ttl.unwrap()))
}

/// Whether `ttl` is a finite TTL no longer than the cap.
fn capped(ttl: Ttl) -> bool {
    matches!(ttl, Ttl::Seconds(secs) if secs > 0 && secs <= CAP.as_secs())
}

/// Marks main server `owner` down by calling for one of its keys until the cluster says so.
fn until_down(cluster: &Cluster, owner: usize) {
    let key = keys_of(cluster, owner, 1).remove(0);
    wait_for("marking the server down", PATIENCE, || {
        let _ = cluster.get(&key);
        cluster.is_down(owner)
    });
}

#[test]
fn a_killed_servers_keys_go_to_the_gutter_with_capped_ttls_others_stay_and_all_come_home() {
    let (mut main, addrs) = start(3);
    let (_gutter, gutter_addrs) = start(2);
    let events = Events::default();
    let cluster = cluster(&addrs, &gutter_addrs, &events);
    let gutter = cluster.gutter().unwrap().clone();
    let keys: Vec<Vec<Vec<u8>>> = (0..3).map(|owner| keys_of(&cluster, owner, 40)).collect();
    // Keys of the server that dies which only this thread writes.
    let checked = keys_of(&cluster, 1, 20);

    // Threads write and read every server's keys the whole time; each failure is recorded
    // with its key's owner.
    let stop = Arc::new(AtomicBool::new(false));
    let failures: Arc<Mutex<Vec<(usize, Error)>>> = Arc::default();
    let rounds = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..4)
        .map(|worker| {
            let (cluster, keys) = (cluster.clone(), keys.clone());
            let (stop, failures, rounds) = (stop.clone(), failures.clone(), rounds.clone());
            thread::spawn(move || {
                let mut i = worker;
                while !stop.load(Ordering::Relaxed) {
                    let owner = i % 3;
                    let key = &keys[owner][i / 3 % 40];
                    let result = cluster
                        .set(key, format!("w{owner}"), Expiry::Never)
                        .and_then(|()| cluster.get(key).map(drop));
                    if let Err(error) = result {
                        failures.lock().unwrap().push((owner, error));
                    }
                    rounds.fetch_add(1, Ordering::Relaxed);
                    i += 4;
                }
            })
        })
        .collect();
    let after = |n: usize| {
        let from = rounds.load(Ordering::Relaxed);
        wait_for("the workers' rounds", PATIENCE, || {
            rounds.load(Ordering::Relaxed) >= from + n
        });
    };
    after(200);
    main[1].kill();
    wait_for("marking the killed server down", PATIENCE, || {
        cluster.is_down(1)
    });
    after(400);

    // Its keys are on the gutter, on the gutter server its own ring names, with a capped TTL;
    // nobody else's key is there, and every other key is on its owner.
    for key in &checked {
        cluster.set(key, "outage", Expiry::Never).unwrap();
        let home = gutter_addrs[gutter.server_for(key)].as_str();
        let (value, ttl) = held(home, key).expect("the gutter holds the dead server's key");
        assert_eq!(value, b"outage");
        assert!(capped(ttl), "a store on the gutter kept TTL {ttl:?}");
        assert_eq!(cluster.get(key).unwrap().unwrap().value, b"outage");
    }
    for owner in [0, 2] {
        for key in &keys[owner] {
            let (value, ttl) = held(&addrs[owner], key).expect("a live server lost its key");
            assert_eq!(value, format!("w{owner}").as_bytes());
            assert_eq!(
                ttl,
                Ttl::Unlimited,
                "a live server's key had its TTL capped"
            );
            for gutter_addr in &gutter_addrs {
                assert_eq!(held(gutter_addr, key), None, "a live server's key moved");
            }
        }
    }
    assert!(events.gutter_calls(&addrs[1], "set") >= 20);
    assert!(logged(log::Level::Warn, &[&addrs[1], "gutter", "20s"]));

    // The server returns, empty: its keys are read from it, not from the gutter.
    main[1].restart();
    wait_for("the server's probe", PATIENCE, || !cluster.is_down(1));
    after(200);
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.join().unwrap();
    }
    for key in &checked {
        cluster.set(key, "home", Expiry::Never).unwrap();
        assert_eq!(
            held(&addrs[1], key).unwrap(),
            (b"home".to_vec(), Ttl::Unlimited)
        );
        assert_eq!(cluster.get(key).unwrap().unwrap().value, b"home");
    }
    assert!(events.up.lock().unwrap().contains(&addrs[1]));
    assert!(logged(log::Level::Info, &[&addrs[1], "served by it again"]));

    // Only the dead server's keys failed, and only while it was going down (before it was
    // marked) or being probed: never with an error from a call that reached a server.
    let failures = failures.lock().unwrap();
    for (owner, error) in failures.iter() {
        assert_eq!(*owner, 1, "a live server's key failed: {error}");
        assert!(error.is_connection_error(), "{error}");
    }
}

#[test]
fn every_ttl_sent_to_the_gutter_is_capped_and_shorter_ones_are_kept() {
    let (mut main, addrs) = start(2);
    let (_gutter, gutter_addrs) = start(1);
    let events = Events::default();
    let cluster = cluster(&addrs, &gutter_addrs, &events);
    let g = gutter_addrs[0].as_str();
    main[0].kill();
    until_down(&cluster, 0);
    let k = keys_of(&cluster, 0, 16);
    let ttl_on_gutter = |key: &[u8]| held(g, key).expect("on the gutter").1;

    cluster.set(&k[0], "v", Expiry::Never).unwrap();
    assert!(capped(ttl_on_gutter(&k[0])));
    cluster.set(&k[1], "v", Expiry::after_secs(3)).unwrap();
    assert!(
        matches!(ttl_on_gutter(&k[1]), Ttl::Seconds(1..=3)),
        "a short TTL kept"
    );
    let tomorrow = std::time::SystemTime::now() + Duration::from_secs(86_400);
    assert!(cluster
        .add(&k[2], "v", Expiry::At(tomorrow))
        .unwrap()
        .is_stored());
    assert!(capped(ttl_on_gutter(&k[2])));
    cluster.set(&k[3], "v", Expiry::after_secs(2)).unwrap();
    assert_eq!(
        cluster.replace(&k[3], "w", Expiry::Never).unwrap(),
        StoreOutcome::Stored
    );
    assert!(capped(ttl_on_gutter(&k[3])));

    // touch, gat and gats set a capped expiry; cas stores with one.
    cluster.set(&k[4], "v", Expiry::after_secs(2)).unwrap();
    assert!(cluster.touch(&k[4], Expiry::Never).unwrap());
    assert!(capped(ttl_on_gutter(&k[4])));
    cluster.set(&k[5], "v", Expiry::after_secs(2)).unwrap();
    assert!(cluster.gat(&k[5], Expiry::Never).unwrap().is_some());
    assert!(capped(ttl_on_gutter(&k[5])));
    let (_, token) = cluster.gats(&k[5], Expiry::Never).unwrap().unwrap();
    assert_eq!(
        cluster.cas(&k[5], "w", token, Expiry::Never).unwrap(),
        CasOutcome::Stored
    );
    assert!(capped(ttl_on_gutter(&k[5])));

    // The meta commands too: a set, a touching get, an arithmetic that creates.
    let set = MetaSetOptions::new().expiry(Expiry::Never);
    assert!(cluster.meta_set(&k[6], "v", &set).unwrap().is_stored());
    assert!(capped(ttl_on_gutter(&k[6])));
    cluster.set(&k[7], "v", Expiry::after_secs(2)).unwrap();
    let touching = MetaGetOptions::new().touch(Expiry::Never);
    assert!(cluster.meta_get(&k[7], &touching).unwrap().is_some());
    assert!(capped(ttl_on_gutter(&k[7])));
    let create = MetaArithOptions::incr().create_on_miss(Expiry::Never, 5);
    assert!(cluster
        .meta_arithmetic(&k[8], &create)
        .unwrap()
        .counter()
        .is_some());
    assert!(capped(ttl_on_gutter(&k[8])));

    // incr and decr carry no TTL: they miss until a capped store makes the counter there.
    assert_eq!(cluster.incr(&k[9], 1).unwrap(), None);
    cluster.set(&k[9], "10", Expiry::Never).unwrap();
    assert_eq!(cluster.incr(&k[9], 1).unwrap(), Some(11));
    assert_eq!(cluster.decr(&k[9], 2).unwrap(), Some(9));
    assert!(capped(ttl_on_gutter(&k[9])));
    // append keeps the item's capped TTL, and misses an item the gutter does not hold; a
    // delete removes the gutter's copy.
    assert!(!cluster.append(&k[13], "0").unwrap().is_stored());
    cluster.set(&k[13], "1", Expiry::Never).unwrap();
    assert!(cluster.append(&k[13], "0").unwrap().is_stored());
    assert_eq!(cluster.get(&k[13]).unwrap().unwrap().value, b"10");
    assert!(capped(ttl_on_gutter(&k[13])));
    assert!(cluster.delete(&k[13]).unwrap());
    assert_eq!(held(g, &k[13]), None);
    assert_eq!(cluster.get(&k[13]).unwrap(), None);

    // Batches cap each entry's TTL the same way.
    let report = cluster
        .set_many([
            Entry::new(k[10].clone(), "b"),
            Entry::new(k[11].clone(), "b"),
        ])
        .unwrap();
    assert_eq!(report.done_count(), 2);
    assert!(capped(ttl_on_gutter(&k[10])) && capped(ttl_on_gutter(&k[11])));
    cluster
        .set_many([Entry::new(k[12].clone(), "b").with_expiry(Expiry::after_secs(2))])
        .unwrap();
    let report = cluster
        .touch_many([(k[12].clone(), Expiry::Never)])
        .unwrap();
    assert_eq!(report.results()[0].ok(), Some(&true));
    assert!(capped(ttl_on_gutter(&k[12])));
    assert!(events.gutter_calls(&addrs[0], "touch_many") == 1);
}

#[test]
fn batches_split_a_down_servers_keys_over_the_gutter_and_leave_the_others_on_their_owners() {
    let (mut main, addrs) = start(3);
    let (_gutter, gutter_addrs) = start(2);
    let events = Events::default();
    let cluster = cluster(&addrs, &gutter_addrs, &events);
    let gutter = cluster.gutter().unwrap().clone();
    let keys: Vec<Vec<u8>> = (0..3)
        .flat_map(|owner| keys_of(&cluster, owner, 20))
        .collect();
    main[2].kill();
    until_down(&cluster, 2);

    let entries = keys.iter().map(|key| Entry::new(key.clone(), key.clone()));
    let report = cluster.set_many(entries).unwrap();
    assert_eq!(report.done_count(), keys.len());
    let mut per_gutter: HashMap<usize, usize> = HashMap::new();
    for key in &keys {
        match cluster.server_for(key) {
            2 => {
                let at = gutter.server_for(key);
                *per_gutter.entry(at).or_default() += 1;
                let (value, ttl) = held(&gutter_addrs[at], key).unwrap();
                assert_eq!(&value, key);
                assert!(capped(ttl));
            }
            owner => {
                assert_eq!(held(&addrs[owner], key).unwrap().1, Ttl::Unlimited);
                assert!(gutter_addrs.iter().all(|g| held(g, key).is_none()));
            }
        }
    }
    assert_eq!(per_gutter.len(), 2, "the gutter's ring spreads the keys");
    let announced = events.gutter_calls(&addrs[2], "set_many");
    assert_eq!(
        announced, 20,
        "one event per gutter server, counting its keys"
    );

    let report = cluster.get_many(&keys).unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(report.found.len(), keys.len());
    let report = cluster.gets_many(&keys).unwrap();
    assert_eq!(report.found.len(), keys.len());
    let mut seen = vec![false; keys.len()];
    let failed = cluster
        .get_many_with(&keys, |at, value, _| {
            assert_eq!(value, keys[at]);
            seen[at] = true;
        })
        .unwrap();
    assert!(failed.is_empty() && seen.iter().all(|s| *s));

    let report = cluster.delete_many(&keys).unwrap();
    assert!(report.results().iter().all(|r| r.ok() == Some(&true)));
    assert!(cluster.get_many(&keys).unwrap().found.is_empty());
}

#[test]
fn a_down_gutter_fails_a_down_servers_keys_with_the_owners_error_and_nothing_else() {
    let (mut main, addrs) = start(2);
    let (mut gutter, gutter_addrs) = start(1);
    let events = Events::default();
    let cluster = cluster(&addrs, &gutter_addrs, &events);
    let (dead, alive) = (keys_of(&cluster, 0, 2), keys_of(&cluster, 1, 2));
    gutter[0].kill();
    main[0].kill();
    until_down(&cluster, 0);
    let owners =
        |error: &Error| matches!(error, Error::ServerDown { addr, .. } if *addr == addrs[0]);

    // The gutter's failed connect marks it down; then it refuses at once. Either way the
    // caller sees the key's own server down, and no key reaches the main ring's survivor.
    for _ in 0..3 {
        let error = cluster.set(&dead[0], "v", Expiry::Never).unwrap_err();
        assert!(owners(&error), "{error:?}");
        let error = cluster.get(&dead[0]).unwrap_err();
        assert!(owners(&error), "{error:?}");
    }
    assert!(cluster.gutter().unwrap().is_down(0));
    let report = cluster.get_many(&[&dead[0], &dead[1], &alive[0]]).unwrap();
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].server, addrs[0]);
    assert!(owners(&report.failed[0].error));
    assert_eq!(report.failed[0].keys, dead);
    let entries = [&dead[0], &alive[0]].map(|key| Entry::new(key.clone(), "v"));
    let error = cluster.set_many(entries).unwrap_err();
    let results = error.report().results();
    assert!(results[0].err().is_some_and(owners), "{:?}", results[0]);
    assert!(results[1].ok().is_some());
    assert_eq!(held(&addrs[1], &alive[0]).unwrap().0, b"v");
    assert!(held(&addrs[1], &dead[0]).is_none());
}

#[test]
fn with_key_and_server_wide_commands_stay_on_the_main_servers() {
    let (mut main, addrs) = start(2);
    let (_gutter, gutter_addrs) = start(1);
    let cluster = cluster(&addrs, &gutter_addrs, &Events::default());
    let key = keys_of(&cluster, 0, 1).remove(0);
    main[0].kill();
    until_down(&cluster, 0);
    let error = cluster
        .with_key(&key, "set", false, |client| {
            client.set(&key, "v", Expiry::Never)
        })
        .unwrap_err();
    assert!(matches!(error, Error::ServerDown { ref addr, .. } if *addr == addrs[0]));
    assert!(held(&gutter_addrs[0], &key).is_none());
    assert!(cluster.version().get(0).unwrap().is_err());
}

#[test]
fn a_frozen_server_thawed_serves_its_keys_again_with_the_values_it_held_before() {
    let (mut main, addrs) = start(2);
    let (_gutter, gutter_addrs) = start(1);
    let cluster = cluster(&addrs, &gutter_addrs, &Events::default());
    let (key, other) = {
        let mut keys = keys_of(&cluster, 0, 2);
        (keys.remove(0), keys.remove(0))
    };
    cluster.set(&key, "before", Expiry::Never).unwrap();
    main[0].freeze();
    // A timed-out call may have reached the server (a frozen one carries it out when
    // thawed): it fails, and marks the server down, but never goes to the gutter.
    let error = cluster.set(&other, "sent", Expiry::Never).unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
    assert!(held(&gutter_addrs[0], &other).is_none());
    assert!(cluster.is_down(0));
    cluster.set(&key, "during", Expiry::Never).unwrap();
    assert_eq!(cluster.get(&key).unwrap().unwrap().value, b"during");
    assert!(capped(held(&gutter_addrs[0], &key).unwrap().1));

    // Back from SIGSTOP with its memory: the gutter's newer value is no longer read (the
    // documented staleness the cap bounds).
    main[0].thaw();
    wait_for("the thawed server's probe", PATIENCE, || {
        cluster
            .get(&key)
            .is_ok_and(|item| item.is_some_and(|i| i.value == b"before"))
    });
    assert!(!cluster.is_down(0));
}

#[test]
fn a_gutter_is_refused_at_build_when_it_cannot_work() {
    let invalid = |builder: memcache_sync::ClusterBuilder| {
        matches!(
            builder.build(),
            Err(Error::InvalidArgument { what: "gutter", .. })
        )
    };
    let main = ["10.0.0.1:11211", "10.0.0.2:11211"];
    assert!(invalid(Cluster::builder(main).failover(Failover::Gutter)));
    assert!(invalid(
        Cluster::builder(main)
            .gutter(GutterConfig::new(["10.0.1.1:11211"]))
            .failover(Failover::NextServer)
    ));
    assert!(invalid(
        Cluster::builder(main).gutter(GutterConfig::new(Vec::<String>::new()))
    ));
    assert!(invalid(
        Cluster::builder(main).gutter(GutterConfig::new(["10.0.0.2:11211"]))
    ));
    for cap in [
        Duration::ZERO,
        Duration::from_millis(500),
        Duration::from_secs(31 * 86_400),
    ] {
        let gutter = GutterConfig::new(["10.0.1.1:11211"]).with_max_ttl(cap);
        assert!(invalid(Cluster::builder(main).gutter(gutter)), "{cap:?}");
    }
    let cluster = Cluster::builder(main)
        .gutter(GutterConfig::new(["10.0.1.1:11211", "10.0.1.2:11211"]))
        .build()
        .unwrap();
    assert_eq!(
        cluster.gutter_servers(),
        ["10.0.1.1:11211", "10.0.1.2:11211"]
    );
    assert!(Cluster::builder(main).build().unwrap().gutter().is_none());
}

#[test]
fn a_batch_waits_for_the_gutter_and_the_main_servers_together_not_one_after_the_other() {
    let (mut main, addrs) = start(2);
    let (mut gutter, gutter_addrs) = start(1);
    let timeout = Duration::from_secs(1);
    capture_logs();
    let cluster = Cluster::builder(&addrs)
        .config(timeouts(timeout))
        .health(HealthConfig::default().with_failure_threshold(1))
        .gutter(GutterConfig::new(&gutter_addrs))
        .build()
        .unwrap();
    let (dead, slow) = (keys_of(&cluster, 0, 3), keys_of(&cluster, 1, 3));
    // Connections opened while both are up: a frozen server then stalls the reads.
    cluster.get_many(&[&dead[0], &slow[0]]).unwrap();
    cluster.gutter().unwrap().get(&dead[0]).unwrap();
    main[0].kill();
    until_down(&cluster, 0);
    main[1].freeze();
    gutter[0].freeze();

    let started = Instant::now();
    let report = cluster.get_many(&[&dead[1], &slow[1]]).unwrap();
    let waited = started.elapsed();
    assert!(
        waited < timeout * 17 / 10,
        "waited {waited:?}: the gutter's read timeout and then the main server's"
    );
    // Both stalled after the request went out: each fails with its own server's timeout.
    let mut servers: Vec<&str> = report.failed.iter().map(|f| f.server.as_str()).collect();
    servers.sort_unstable();
    let mut expected = [addrs[1].as_str(), gutter_addrs[0].as_str()];
    expected.sort_unstable();
    assert_eq!(servers, expected);
    assert!(report
        .failed
        .iter()
        .all(|failure| matches!(failure.error, Error::Timeout { .. })));
    main[1].thaw();
    gutter[0].thaw();
}

#[test]
fn across_set_servers_a_removed_servers_keys_leave_the_gutter_and_a_kept_down_servers_stay() {
    let (mut main, addrs) = start(4);
    let (_gutter, gutter_addrs) = start(2);
    let events = Events::default();
    let cluster = cluster(&addrs, &gutter_addrs, &events);
    let gutter = cluster.gutter().unwrap().clone();
    // Server 1 stays in the list while down; server 3 is down and then removed.
    let kept_down = keys_of(&cluster, 1, 20);
    let removed = keys_of(&cluster, 3, 40);
    main[1].kill();
    main[3].kill();
    until_down(&cluster, 1);
    until_down(&cluster, 3);
    for key in kept_down.iter().chain(&removed) {
        cluster.set(key, "outage", Expiry::Never).unwrap();
    }
    assert_eq!(events.gutter_calls(&addrs[3], "set"), removed.len());

    // A list naming a gutter server is refused, and changes nothing.
    let with_gutter = [addrs[0].as_str(), gutter_addrs[0].as_str()];
    assert!(matches!(
        cluster.set_servers(with_gutter),
        Err(Error::InvalidArgument { .. })
    ));
    assert_eq!(cluster.servers(), addrs);

    let change = cluster.set_servers(&addrs[..3]).unwrap();
    assert_eq!(change.removed, [addrs[3].clone()]);
    assert_eq!(
        cluster.gutter_servers(),
        gutter_addrs,
        "the gutter's list is its own"
    );
    let members = cluster.membership();
    assert!(members.is_down(1), "a kept server keeps its health");

    // The kept down server's keys still go to the gutter, capped.
    let before = events.gutter_calls(&addrs[1], "set");
    for key in &kept_down {
        assert_eq!(members.addr_for(key), addrs[1]);
        cluster.set(key, "still out", Expiry::Never).unwrap();
        let home = gutter_addrs[gutter.server_for(key)].as_str();
        let (value, ttl) = held(home, key).expect("the gutter holds the down server's key");
        assert_eq!(value, b"still out");
        assert!(capped(ttl), "a store on the gutter kept TTL {ttl:?}");
    }
    assert_eq!(
        events.gutter_calls(&addrs[1], "set"),
        before + kept_down.len()
    );

    // The removed server's keys now belong to the list's servers: those on a live one are
    // stored there with their own TTL; those that moved to the down one go to the gutter
    // under its name. None goes to the gutter under the removed server's.
    let (mut on_live, mut on_down) = (0, 0);
    for key in &removed {
        let owner = members.addr_for(key).to_owned();
        assert_ne!(owner, addrs[3]);
        cluster.set(key, "moved", Expiry::Never).unwrap();
        if owner == addrs[1] {
            on_down += 1;
            let home = gutter_addrs[gutter.server_for(key)].as_str();
            let (value, ttl) = held(home, key).unwrap();
            assert_eq!(value, b"moved");
            assert!(capped(ttl));
        } else {
            on_live += 1;
            assert_eq!(held(&owner, key), Some((b"moved".to_vec(), Ttl::Unlimited)));
            assert_eq!(cluster.get(key).unwrap().unwrap().value, b"moved");
        }
    }
    assert!(on_live > 0, "ketama moved none of 40 keys to a live server");
    assert_eq!(events.gutter_calls(&addrs[3], "set"), removed.len());
    assert_eq!(
        events.gutter_calls(&addrs[1], "set"),
        before + kept_down.len() + on_down
    );

    // A batch routes by the new list as well.
    let report = cluster
        .set_many(
            removed
                .iter()
                .chain(&kept_down)
                .map(|key| Entry::new(key, "batch")),
        )
        .unwrap();
    assert_eq!(report.done_count(), removed.len() + kept_down.len());
    assert_eq!(events.gutter_calls(&addrs[3], "set_many"), 0);
    assert_eq!(
        events.gutter_calls(&addrs[1], "set_many"),
        kept_down.len() + on_down
    );

    // The kept server comes back: its keys go home.
    main[1].restart();
    wait_for("the kept server's probe", PATIENCE, || {
        let _ = cluster.get(&kept_down[0]);
        !cluster.membership().is_down(1)
    });
    for key in &kept_down {
        cluster.set(key, "home", Expiry::Never).unwrap();
        assert_eq!(
            held(&addrs[1], key),
            Some((b"home".to_vec(), Ttl::Unlimited))
        );
    }
}

#[test]
fn a_base64_mode_meta_key_a_classic_check_would_refuse_goes_to_the_gutter_capped() {
    let (mut main, addrs) = start(2);
    let (_gutter, gutter_addrs) = start(1);
    let events = Events::default();
    let cluster = cluster(&addrs, &gutter_addrs, &events);
    let key = (0..)
        .map(|i| {
            format!(
                "gutter b64 {i} {}",
                String::from_utf8(unique_key("")).unwrap()
            )
        })
        .find(|key| cluster.server_for(key) == 0)
        .unwrap();
    main[0].kill();
    until_down(&cluster, 0);
    let set = MetaSetOptions::new().expiry(Expiry::Never).base64_key();
    assert!(cluster.meta_set(&key, "spaced", &set).unwrap().is_stored());
    assert_eq!(events.gutter_calls(&addrs[0], "ms"), 1);
    let get = MetaGetOptions::new().return_ttl().base64_key();
    let mut direct = Client::connect(&gutter_addrs[0]).unwrap();
    let item = direct.meta_get(&key, &get).unwrap().expect("on the gutter");
    assert_eq!(item.value.as_deref(), Some(&b"spaced"[..]));
    assert!(capped(item.ttl.unwrap()), "TTL {:?}", item.ttl);
    let read = cluster
        .meta_get(&key, &get)
        .unwrap()
        .expect("read from the gutter");
    assert_eq!(read.value.as_deref(), Some(&b"spaced"[..]));
    // The classic check still refuses it, before anything is sent.
    assert!(matches!(cluster.get(&key), Err(Error::InvalidKey(_))));
}
