//! A `Cluster`'s server list replaced at run time (`set_servers`), against real memcached
//! processes: while 16 threads use the cluster every call goes to its key's owner under the
//! old list or the new one, never a mix; servers kept across a change keep their pooled
//! connections and their health; a removed server's pool drains and its place in fail-open's
//! count is given back; with ketama only the moved share of keys changes owner.
//!
//! Where a key landed is checked by reading every server directly, not through the cluster.

use memcache_sync_test_support as support;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use memcache_sync::distribution::{Distribution, Ketama, Modulo, Server};
use memcache_sync::{
    Client, Cluster, ClusterBuilder, Config, Error, Event, Expiry, HealthConfig, Membership,
    PoolConfig,
};
use support::{raw_stats, unique_key, wait_for, Memcached};

const THREADS: usize = 16;
const TIMEOUT: Duration = Duration::from_millis(300);
/// How long a server's reaction (a closed connection counted) may take on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(5);

fn builder(addrs: &[String]) -> ClusterBuilder {
    Cluster::builder(addrs)
        .config(
            Config::default()
                .with_connect_timeout(TIMEOUT)
                .with_read_timeout(TIMEOUT)
                .with_write_timeout(TIMEOUT),
        )
        .pool(PoolConfig::default().with_max_size(THREADS))
        .health(
            HealthConfig::default()
                .with_failure_threshold(2)
                .with_backoff(Duration::from_secs(30), Duration::from_secs(30)),
        )
}

fn addrs(servers: &[Memcached]) -> Vec<String> {
    servers.iter().map(Memcached::addr).collect()
}

fn total_connections(addr: &str) -> u64 {
    raw_stats(addr)["total_connections"].parse().unwrap()
}

fn curr_connections(addr: &str) -> u64 {
    raw_stats(addr)["curr_connections"].parse().unwrap()
}

#[test]
fn adding_a_fifth_server_to_four_moves_about_a_fifth_of_the_keys_and_none_between_the_four() {
    let hosts = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"];
    let servers: Vec<Server> = hosts.iter().map(|h| Server::new(*h, 11211)).collect();
    let four = Ketama::libmemcached_ketama(&servers[..4]).unwrap();
    let five = Ketama::libmemcached_ketama(&servers).unwrap();
    let keys: Vec<String> = (0..10_000).map(|i| format!("user:{i}")).collect();
    let mut moved = 0;
    for key in &keys {
        let (before, after) = (
            four.server_for(key.as_bytes()),
            five.server_for(key.as_bytes()),
        );
        if before != after {
            assert_eq!(after, 4, "{key} moved between two of the four");
            moved += 1;
        }
    }
    let share = moved as f64 / keys.len() as f64;
    assert!((0.15..0.25).contains(&share), "{moved} of 10000 keys moved");

    // The cluster rebuilds the same ring, by address, from its new list.
    let list: Vec<String> = servers.iter().map(Server::addr).collect();
    let cluster = Cluster::builder(&list[..4]).build().unwrap();
    let old = cluster.membership();
    cluster.set_servers(&list).unwrap();
    let new = cluster.membership();
    let cluster_moved = keys
        .iter()
        .filter(|key| old.addr_for(key) != new.addr_for(key))
        .inspect(|key| assert_eq!(new.addr_for(key), list[4]))
        .count();
    assert_eq!(cluster_moved, moved);

    // And removing it again moves exactly those keys back.
    cluster.set_servers(&list[..4]).unwrap();
    let back = cluster.membership();
    assert!(keys
        .iter()
        .all(|key| back.addr_for(key) == old.addr_for(key)));
}

#[test]
fn an_unchanged_list_is_a_no_op_and_a_bad_one_changes_nothing() {
    let events = Arc::new(Mutex::new(0));
    let seen = Arc::clone(&events);
    let list = ["10.0.0.1:11211", "10.0.0.2:11211:2"];
    let cluster = Cluster::builder(list)
        .observer(move |event: &Event<'_>| {
            if let Event::ServersChanged { .. } = event {
                *seen.lock().unwrap() += 1;
            }
        })
        .build()
        .unwrap();
    let change = cluster.set_servers(list).unwrap();
    assert!(!change.swapped);
    assert!(change.added.is_empty() && change.removed.is_empty());
    assert_eq!(cluster.membership().generation(), 1);
    assert_eq!(*events.lock().unwrap(), 0, "no event for no change");

    // Another weight is another list: the same node, a new ring.
    let change = cluster
        .set_servers(["10.0.0.1:11211", "10.0.0.2:11211:3"])
        .unwrap();
    assert!(change.swapped);
    assert_eq!(change.kept, ["10.0.0.1:11211", "10.0.0.2:11211"]);
    assert_eq!(cluster.membership().generation(), 2);
    assert_eq!(*events.lock().unwrap(), 1);

    for bad in [&[][..], &["10.0.0.1:11211", "cache"][..]] {
        let error = cluster.set_servers(bad).unwrap_err();
        assert!(matches!(error, Error::InvalidArgument { .. }), "{error:?}");
    }
    assert_eq!(cluster.membership().generation(), 2);
    assert_eq!(cluster.servers(), ["10.0.0.1:11211", "10.0.0.2:11211"]);
}

#[test]
fn a_cluster_with_a_distribution_of_its_own_takes_the_new_one_with_the_new_list() {
    let cluster = Cluster::builder(["10.0.0.1:11211", "10.0.0.2:11211"])
        .distribution(Modulo::gomemcache(2).unwrap())
        .build()
        .unwrap();
    let error = cluster.set_servers(["10.0.0.3:11211"]).unwrap_err();
    assert!(matches!(error, Error::InvalidArgument { .. }), "{error:?}");
    let error = cluster
        .set_servers_with(["10.0.0.3:11211"], Modulo::gomemcache(2).unwrap())
        .unwrap_err();
    assert!(matches!(error, Error::InvalidArgument { .. }), "{error:?}");
    assert_eq!(
        cluster.servers().len(),
        2,
        "a refused change changes nothing"
    );
    let three = ["10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211"];
    cluster
        .set_servers_with(three, Modulo::gomemcache(3).unwrap())
        .unwrap();
    let go = Modulo::gomemcache(3).unwrap();
    for i in 0..100 {
        let key = format!("k{i}");
        assert_eq!(cluster.server_for(&key), go.server_for(key.as_bytes()));
    }
}

#[test]
fn kept_servers_keep_their_pooled_connections_and_the_change_is_announced() {
    let servers: Vec<Memcached> = (0..4).map(|_| Memcached::start()).collect();
    let all = addrs(&servers);
    let changes = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&changes);
    let cluster = builder(&all[..3])
        .observer(move |event: &Event<'_>| {
            if let Event::ServersChanged {
                added,
                removed,
                kept,
                servers,
            } = event
            {
                seen.lock()
                    .unwrap()
                    .push((added.to_vec(), removed.to_vec(), *kept, *servers));
            }
        })
        .build()
        .unwrap();
    let keys: Vec<Vec<u8>> = (0..200).map(|_| unique_key("live:kept:")).collect();
    for key in &keys {
        cluster.set(key, b"v", Expiry::after_secs(60)).unwrap();
    }
    // Servers 1 and 2 are kept, server 0 replaced by server 3.
    let before: Vec<u64> = all.iter().map(|a| total_connections(a)).collect();
    let change = cluster.set_servers([&all[1], &all[2], &all[3]]).unwrap();
    assert_eq!(change.added, [all[3].clone()]);
    assert_eq!(change.removed, [all[0].clone()]);
    assert_eq!(change.kept, [all[1].clone(), all[2].clone()]);
    assert_eq!(
        *changes.lock().unwrap(),
        [(vec![all[3].clone()], vec![all[0].clone()], 2, 3)]
    );
    for key in &keys {
        cluster.get(key).unwrap();
        cluster.set(key, b"w", Expiry::after_secs(60)).unwrap();
    }
    for index in [1, 2] {
        // One more: the stats connection that reads it.
        assert_eq!(
            total_connections(&all[index]),
            before[index] + 1,
            "server {index} was reconnected to after a change that kept it"
        );
    }
    assert!(
        total_connections(&all[3]) > before[3] + 1,
        "the new server is used"
    );
}

#[test]
fn a_server_marked_down_stays_down_across_a_change_that_keeps_it() {
    let mut servers: Vec<Memcached> = (0..3).map(|_| Memcached::start()).collect();
    let all = addrs(&servers);
    let cluster = builder(&all[..2]).build().unwrap();
    let dead_key = (0..)
        .map(|_| unique_key("live:down:"))
        .find(|key| cluster.membership().addr_for(key) == all[0])
        .unwrap();
    servers[0].kill();
    for _ in 0..2 {
        assert!(cluster.get(&dead_key).unwrap_err().is_connection_error());
    }
    assert!(cluster.is_down(0));

    cluster.set_servers([&all[2], &all[1], &all[0]]).unwrap();
    let members = cluster.membership();
    assert_eq!(members.servers()[2], all[0]);
    assert!(
        members.is_down(2),
        "a kept server's outage survives the change"
    );
    assert!(!members.is_down(0) && !members.is_down(1));
    if members.addr_for(&dead_key) == all[0] {
        let started = Instant::now();
        let error = cluster.get(&dead_key).unwrap_err();
        assert!(matches!(error, Error::ServerDown { .. }), "{error:?}");
        assert!(started.elapsed() < Duration::from_millis(50), "not fast");
    }
}

#[test]
fn a_removed_server_that_was_down_gives_back_its_place_in_fail_open() {
    let mut servers: Vec<Memcached> = (0..3).map(|_| Memcached::start()).collect();
    let all = addrs(&servers);
    // Of two servers, at most one may be down.
    let cluster = builder(&all[..2])
        .health(
            HealthConfig::default()
                .with_failure_threshold(1)
                .with_backoff(Duration::from_secs(30), Duration::from_secs(30))
                .with_max_down_share(0.5),
        )
        .build()
        .unwrap();
    let on = |cluster: &Cluster, addr: &str| {
        let members: Membership = cluster.membership();
        (0..)
            .map(|_| unique_key("live:failopen:"))
            .find(|key| members.addr_for(key) == addr)
            .unwrap()
    };
    servers[0].kill();
    let _ = cluster.get(on(&cluster, &all[0]));
    assert!(cluster.is_down(0));

    // The down server leaves; the one that takes its place dies too.
    cluster.set_servers([&all[1], &all[2]]).unwrap();
    servers[2].kill();
    let _ = cluster.get(on(&cluster, &all[2]));
    assert!(
        cluster.is_down(1),
        "marked down: the server removed while down no longer counts"
    );
    assert!(!cluster.is_failing_open());
}

#[test]
fn a_removed_servers_pool_drains_once_its_calls_finish() {
    let servers: Vec<Memcached> = (0..2).map(|_| Memcached::start()).collect();
    let all = addrs(&servers);
    let cluster = builder(&all).build().unwrap();
    // The stats connections before this one close on the server's own time: wait for quiet.
    let mut baseline = curr_connections(&all[1]);
    wait_for("the connection count to settle", PATIENCE, || {
        thread::sleep(Duration::from_millis(20));
        let now = curr_connections(&all[1]);
        std::mem::replace(&mut baseline, now) == now
    });
    let held = cluster.pool(1).unwrap();
    let (mut a, mut b) = (held.get().unwrap(), held.get().unwrap());
    a.version().unwrap();
    b.version().unwrap();
    drop(held);
    wait_for("the pool's two connections to be counted", PATIENCE, || {
        curr_connections(&all[1]) == baseline + 2
    });

    cluster.set_servers([&all[0]]).unwrap();
    // A call in flight on the removed server finishes on it.
    assert!(a.version().is_ok());
    drop((a, b));
    wait_for(
        "the removed server's connections to close",
        PATIENCE,
        || curr_connections(&all[1]) == baseline,
    );
}

thread_local! {
    /// The server the last call on this thread went to, as the observer heard it.
    static LAST_SERVER: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// One call a worker made: its key, the generations current just before and just after it,
/// and the server it went to.
struct Call {
    key: Vec<u8>,
    set: bool,
    generations: (u64, u64),
    server: String,
}

#[test]
fn sixteen_threads_route_every_key_to_its_owner_under_the_old_or_the_new_list() {
    let servers: Vec<Memcached> = (0..5).map(|_| Memcached::start()).collect();
    let all = addrs(&servers);
    let lists: Vec<Vec<String>> = vec![
        all[..4].to_vec(), // the first
        all.to_vec(),      // one added
        vec![
            all[0].clone(),
            all[2].clone(),
            all[3].clone(),
            all[4].clone(),
        ], // one removed
        vec![
            all[0].clone(),
            all[1].clone(),
            all[3].clone(),
            all[4].clone(),
        ], // one replaced
        all[1..].to_vec(),
        all[..4].to_vec(),
    ];
    let cluster = builder(&lists[0])
        .observer(|event: &Event<'_>| {
            if let Event::Operation { server, .. } = event {
                LAST_SERVER.with(|last| *last.borrow_mut() = Some(server.to_string()));
            }
        })
        .build()
        .unwrap();
    let snapshots: Mutex<HashMap<u64, Membership>> =
        Mutex::new(HashMap::from([(1, cluster.membership())]));
    let stop = AtomicBool::new(false);
    let calls: Vec<Call> = thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|thread| {
                let (cluster, stop) = (&cluster, &stop);
                scope.spawn(move || {
                    let mut calls = Vec::new();
                    let mut mine: Vec<Vec<u8>> = Vec::new();
                    let mut n = 0usize;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let set = n % 2 == 1 || mine.is_empty();
                        let key = if set {
                            unique_key(&format!("live:t{thread}:"))
                        } else {
                            mine[(n * 7) % mine.len()].clone()
                        };
                        let before = cluster.membership().generation();
                        let result = if set {
                            cluster.set(&key, &key, Expiry::after_secs(60))
                        } else {
                            cluster.get(&key).map(drop)
                        };
                        let after = cluster.membership().generation();
                        result.unwrap_or_else(|e| panic!("call failed: {e:?}"));
                        let server = LAST_SERVER.with(|last| last.borrow_mut().take()).unwrap();
                        if set {
                            mine.push(key.clone());
                        }
                        calls.push(Call {
                            key,
                            set,
                            generations: (before, after),
                            server,
                        });
                    }
                    calls
                })
            })
            .collect();
        for list in &lists[1..] {
            thread::sleep(Duration::from_millis(150));
            cluster.set_servers(list).unwrap();
            let members = cluster.membership();
            snapshots
                .lock()
                .unwrap()
                .insert(members.generation(), members);
        }
        thread::sleep(Duration::from_millis(150));
        stop.store(true, Ordering::Relaxed);
        workers
            .into_iter()
            .flat_map(|worker| worker.join().unwrap())
            .collect()
    });
    let snapshots = snapshots.into_inner().unwrap();
    assert_eq!(snapshots.len(), lists.len());

    // Every call went to its key's owner under one of the lists current while it ran.
    let owners = |call: &Call| -> Vec<&str> {
        (call.generations.0..=call.generations.1)
            .map(|generation| snapshots[&generation].addr_for(&call.key))
            .collect()
    };
    let mut across_a_change = 0;
    for call in &calls {
        assert!(
            owners(call).contains(&call.server.as_str()),
            "{} went to {}, owned by {:?} in generations {:?}",
            String::from_utf8_lossy(&call.key),
            call.server,
            owners(call),
            call.generations
        );
        across_a_change += usize::from(call.generations.0 != call.generations.1);
    }
    let sets: Vec<&Call> = calls.iter().filter(|call| call.set).collect();
    assert!(sets.len() > 1000, "only {} sets", sets.len());
    assert!(calls.len() > sets.len(), "no gets");

    // And each key set once is on exactly the server the call named, read directly.
    let mut holders: HashMap<&[u8], Vec<&str>> = HashMap::new();
    for addr in &all {
        let mut client = Client::connect(addr).unwrap();
        for chunk in sets.chunks(100) {
            let keys: Vec<&[u8]> = chunk.iter().map(|call| call.key.as_slice()).collect();
            for key in client.get_many(&keys).unwrap().keys() {
                let key = keys.iter().find(|k| **k == key).unwrap();
                holders.entry(key).or_default().push(addr);
            }
        }
    }
    for call in &sets {
        assert_eq!(
            holders.get(call.key.as_slice()).map(Vec::as_slice),
            Some(&[call.server.as_str()][..]),
            "{}",
            String::from_utf8_lossy(&call.key)
        );
    }
    eprintln!(
        "{} calls ({} sets), {across_a_change} across a change",
        calls.len(),
        sets.len()
    );
}
