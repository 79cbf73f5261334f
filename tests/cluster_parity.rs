//! `Cluster` has every `Client` command: the single-key and multi-key ones on the keys'
//! servers, the admin ones on every server with a result each; and `Failover::NextServer`
//! sends a dead server's keys to each key's next owner, spread over the survivors.
//!
//! Where the servers hold a key is checked over raw TCP, never through the client under test.

use memcache_sync_test_support as support;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use memcache_sync::distribution::{Distribution, Ketama, Modulo, Rendezvous, Server};
use memcache_sync::{
    CasOutcome, Client, Cluster, ClusterBuilder, Config, Entry, Error, Expiry, Failover,
    HealthConfig, StoreOptions, StoreOutcome,
};
use support::{raw_get, unique_key, Memcached};

const TIMEOUT: Duration = Duration::from_millis(300);

fn start(n: usize) -> Vec<Memcached> {
    (0..n).map(|_| Memcached::start()).collect()
}

fn addrs(servers: &[Memcached]) -> Vec<String> {
    servers.iter().map(Memcached::addr).collect()
}

/// Short timeouts, and a server marked down at its first failure for longer than a test.
fn builder(servers: &[Memcached]) -> ClusterBuilder {
    Cluster::builder(addrs(servers))
        .config(
            Config::default()
                .with_connect_timeout(TIMEOUT)
                .with_read_timeout(TIMEOUT)
                .with_write_timeout(TIMEOUT),
        )
        .health(
            HealthConfig::default()
                .with_failure_threshold(1)
                .with_backoff(Duration::from_secs(30), Duration::from_secs(30)),
        )
}

/// The default distribution of a cluster over `servers`, built apart from the cluster.
fn ring_of(servers: &[Memcached]) -> Ketama {
    let servers: Vec<Server> = servers
        .iter()
        .map(|s| Server::new("127.0.0.1", s.port()))
        .collect();
    Ketama::libmemcached_ketama(&servers).unwrap()
}

/// `n` fresh keys on each server of `cluster`, server by server.
fn keys_per_server(cluster: &Cluster, prefix: &str, n: usize) -> Vec<Vec<u8>> {
    let servers = cluster.servers().len();
    let mut keys: Vec<Vec<Vec<u8>>> = vec![Vec::new(); servers];
    while keys.iter().any(|k| k.len() < n) {
        let key = unique_key(prefix);
        let owner = cluster.server_for(&key);
        if keys[owner].len() < n {
            keys[owner].push(key);
        }
    }
    keys.concat()
}

/// Kills server `dead` and lets `cluster` mark it down through a call for one of its keys.
fn kill_and_mark_down(cluster: &Cluster, servers: &mut [Memcached], dead: usize) {
    let key = loop {
        let key = unique_key("parity:dead:");
        if cluster.server_for(&key) == dead {
            break key;
        }
    };
    servers[dead].kill();
    while !cluster.is_down(dead) {
        let _ = cluster.get(&key);
    }
}

/// Every `Client` command called on a `Client` and on a `Cluster` with the same arguments: if
/// a name or an argument shape is missing from `Cluster`, this file does not compile. (`quit`
/// is left out: it closes one connection, and a cluster's are its pools'.)
macro_rules! on_both {
    ($buf:ident, $token:ident; $($method:ident($($arg:expr),*);)*) => {
        #[allow(dead_code, unused_must_use, clippy::all)]
        fn every_command_on_a_client(target: &mut Client, $buf: &mut Vec<u8>, $token: memcache_sync::CasToken) {
            $( let _ = target.$method($($arg),*); )*
        }
        #[allow(dead_code, unused_must_use, clippy::all)]
        fn every_command_on_a_cluster(target: &Cluster, $buf: &mut Vec<u8>, $token: memcache_sync::CasToken) {
            $( let _ = target.$method($($arg),*); )*
        }
        const COMMANDS: &[&str] = &[$(stringify!($method)),*];
    };
}

on_both! {
    buf, token;
    get("k");
    get_into("k", buf);
    gets("k");
    gat("k", Expiry::Never);
    gats("k", Duration::from_secs(1));
    touch("k", Expiry::Never);
    set("k", "v", Expiry::Never);
    add("k", b"v", Expiry::Never);
    replace("k", "v".to_string(), Expiry::Never);
    append("k", "v");
    prepend("k", "v");
    cas("k", "v", token, Expiry::Never);
    delete("k");
    incr("k", 1);
    decr("k", 1);
    get_many(&["a", "b"]);
    gets_many(&["a", "b"]);
    get_many_with(&["a", "b"], |_, _, _| {});
    set_many([Entry::new("k", "v")]);
    add_many([Entry::new("k", "v")]);
    replace_many([Entry::new("k", "v")]);
    delete_many(["k"]);
    touch_many([("k", Expiry::Never)]);
    flush_all();
    flush_all_after(Duration::from_secs(1));
    version();
    stats();
    stats_group("settings");
    stats_reset();
    stats_detail(true);
    stats_detail_dump();
    stats_cachedump(1, 10);
    verbosity(0);
}

#[test]
fn every_client_command_exists_on_cluster_with_the_same_arguments() {
    // The check is that this file compiles; the list is here to be read.
    assert_eq!(COMMANDS.len(), 33);
    let _ = (every_command_on_a_client, every_command_on_a_cluster);
}

#[test]
fn get_into_reads_a_keys_value_from_its_server_into_the_callers_buffer() {
    let servers = start(3);
    let cluster = builder(&servers).build().unwrap();
    let mut buf = b"left over".to_vec();
    for (i, key) in keys_per_server(&cluster, "parity:into:", 1)
        .iter()
        .enumerate()
    {
        cluster
            .set(
                key,
                format!("v{i}"),
                StoreOptions::new().flags(7).expiry(Expiry::after_secs(60)),
            )
            .unwrap();
        assert_eq!(cluster.get_into(key, &mut buf).unwrap(), Some(7));
        assert_eq!(buf, format!("v{i}").as_bytes());
        assert_eq!(
            raw_get(&servers[i].addr(), key),
            Some(buf.clone()),
            "stored on its own server"
        );
    }
    assert_eq!(
        cluster.get_into("parity:into:missing", &mut buf).unwrap(),
        None
    );
    assert!(buf.is_empty(), "a miss leaves the buffer cleared");
}

#[test]
fn gets_many_returns_tokens_that_cas_accepts_and_fails_only_a_dead_servers_keys() {
    let mut servers = start(3);
    let cluster = builder(&servers).build().unwrap();
    let keys = keys_per_server(&cluster, "parity:gets:", 3);
    for key in &keys {
        cluster.set(key, key, Expiry::after_secs(60)).unwrap();
    }
    let report = cluster.gets_many(&keys).unwrap();
    assert!(report.failed.is_empty());
    assert_eq!(report.found.len(), keys.len());
    let (item, token) = report.found.get(&keys[0]).expect("every key was stored");
    assert_eq!(item.value, keys[0].as_slice());
    assert_eq!(
        cluster
            .cas(&keys[0], "new", token, Expiry::after_secs(60))
            .unwrap(),
        CasOutcome::Stored
    );

    kill_and_mark_down(&cluster, &mut servers, 1);
    let report = cluster.gets_many(&keys).unwrap();
    assert_eq!(
        report.failed.len(),
        1,
        "one failure for the one dead server"
    );
    let failure = &report.failed[0];
    assert_eq!(failure.server, servers[1].addr());
    assert!(
        matches!(failure.error, Error::ServerDown { .. }),
        "{:?}",
        failure.error
    );
    assert_eq!(failure.keys, keys[3..6]);
    let found: HashSet<&[u8]> = report.found.keys().collect();
    let expected = keys[..3].iter().chain(&keys[6..]).map(Vec::as_slice);
    assert_eq!(found, expected.collect());
}

#[test]
fn get_many_with_hands_each_item_the_position_of_its_key_in_the_callers_slice() {
    let mut servers = start(3);
    let cluster = builder(&servers).build().unwrap();
    let keys = keys_per_server(&cluster, "parity:with:", 4);
    // Keys of all servers interleaved, with misses among them, so that a position within a
    // server's share would not pass for one in the caller's slice.
    let mut asked: Vec<Vec<u8>> = Vec::new();
    for i in 0..4 {
        for server in 0..3 {
            asked.push(keys[server * 4 + i].clone());
        }
        asked.push(unique_key("parity:with:missing:"));
    }
    for (at, key) in asked.iter().enumerate() {
        if at % 4 != 3 {
            cluster
                .set(
                    key,
                    at.to_string(),
                    StoreOptions::new()
                        .flags(at as u32)
                        .expiry(Expiry::after_secs(60)),
                )
                .unwrap();
        }
    }
    let mut seen = Vec::new();
    let failed = cluster
        .get_many_with(&asked, |at, value, flags| {
            seen.push((at, value.to_vec(), flags));
        })
        .unwrap();
    assert!(failed.is_empty(), "{failed:?}");
    seen.sort();
    let expected: Vec<(usize, Vec<u8>, u32)> = (0..asked.len())
        .filter(|at| at % 4 != 3)
        .map(|at| (at, at.to_string().into_bytes(), at as u32))
        .collect();
    assert_eq!(seen, expected);

    kill_and_mark_down(&cluster, &mut servers, 2);
    let mut seen = Vec::new();
    let failed = cluster
        .get_many_with(&asked, |at, _, _| seen.push(at))
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].server, servers[2].addr());
    let dead_keys: HashSet<&Vec<u8>> = asked
        .iter()
        .filter(|key| cluster.server_for(key) == 2)
        .collect();
    assert_eq!(failed[0].keys.iter().collect::<HashSet<_>>(), dead_keys);
    assert!(seen.iter().all(|&at| cluster.server_for(&asked[at]) != 2));
    assert_eq!(seen.len(), expected.len() - 4);
}

#[test]
fn get_many_with_reads_shares_too_big_for_one_window_on_threads_with_the_same_positions() {
    let servers = start(2);
    let cluster = builder(&servers).build().unwrap();
    // About 1,500 keys of 40 bytes per server: more than one window each.
    let keys: Vec<Vec<u8>> = (0..3000)
        .map(|i| format!("parity:with:big:{i:024}").into_bytes())
        .collect();
    let report = cluster
        .set_many(keys.iter().map(|key| Entry::new(key, key)))
        .unwrap();
    assert_eq!(report.done_count(), keys.len());
    let mut seen = vec![false; keys.len()];
    let failed = cluster
        .get_many_with(&keys, |at, value, _| {
            assert_eq!(value, keys[at], "position {at} got another key's value");
            seen[at] = true;
        })
        .unwrap();
    assert!(failed.is_empty());
    assert!(seen.iter().all(|&s| s));
}

#[test]
fn replace_many_replaces_only_keys_that_exist_each_on_its_server() {
    let servers = start(3);
    let cluster = builder(&servers).build().unwrap();
    let keys = keys_per_server(&cluster, "parity:replace:", 2);
    // The first key of each server exists; the second does not.
    for key in keys.iter().step_by(2) {
        cluster.set(key, "old", Expiry::after_secs(60)).unwrap();
    }
    let report = cluster
        .replace_many(keys.iter().map(|key| Entry::new(key, "new")))
        .unwrap();
    for (at, (key, result)) in keys.iter().zip(report.results()).enumerate() {
        let owner = &servers[at / 2].addr();
        if at % 2 == 0 {
            assert_eq!(result.ok(), Some(&StoreOutcome::Stored));
            assert_eq!(raw_get(owner, key), Some(b"new".to_vec()));
        } else {
            assert_eq!(result.ok(), Some(&StoreOutcome::NotStored));
            assert_eq!(raw_get(owner, key), None);
        }
    }
}

#[test]
fn admin_commands_answer_once_per_server_in_server_order() {
    // Without the LRU maintainer every item goes straight to the COLD LRU that cachedump lists.
    let servers: Vec<Memcached> = (0..3)
        .map(|_| Memcached::start_with(&["-o", "no_lru_maintainer"]))
        .collect();
    let cluster = builder(&servers).build().unwrap();
    let all = addrs(&servers);

    let versions = cluster.version();
    assert_eq!(versions.len(), 3);
    let named: Vec<&str> = versions.iter().map(|(server, _)| server).collect();
    assert_eq!(named, all);
    for version in versions.clone().all_ok().unwrap() {
        assert!(version.starts_with("1.6"), "{version}");
    }

    // Each server's own stats: its own port.
    let stats = cluster.stats().all_ok().unwrap();
    for (stats, server) in stats.iter().zip(&servers) {
        assert_eq!(stats["pid"], server.pid().to_string());
    }
    let settings = cluster.stats_group("settings").all_ok().unwrap();
    assert!(settings
        .iter()
        .all(|settings| settings.contains_key("maxbytes")));
    assert!(cluster
        .stats_group("reset")
        .iter()
        .all(|(_, r)| matches!(r, Err(Error::InvalidArgument { .. }))));

    cluster.stats_detail(true).all_ok().unwrap();
    let keys = keys_per_server(&cluster, "parity:detail:", 1);
    for key in &keys {
        cluster.set(key, "v", Expiry::after_secs(60)).unwrap();
    }
    for prefixes in cluster.stats_detail_dump().all_ok().unwrap() {
        let parity = prefixes
            .iter()
            .find(|p| p.prefix == b"parity")
            .expect("prefix counted");
        assert_eq!(parity.sets, 1, "each server saw its own key's set only");
    }
    cluster.stats_detail(false).all_ok().unwrap();

    // A small item sits in one of the smallest slab classes; which one depends on its size.
    let mut dumps: Vec<(String, Vec<memcache_sync::CachedumpItem>)> =
        all.iter().map(|addr| (addr.clone(), Vec::new())).collect();
    for class in 1..=4 {
        for (at, (server, dump)) in cluster.stats_cachedump(class, 0).into_iter().enumerate() {
            assert_eq!(server, dumps[at].0);
            dumps[at].1.extend(dump.unwrap());
        }
    }
    for (server, dump) in dumps {
        let own: Vec<&Vec<u8>> = keys
            .iter()
            .filter(|k| all[cluster.server_for(k)] == server)
            .collect();
        assert!(
            own.iter()
                .all(|key| dump.iter().any(|item| &&item.key == key)),
            "{server}"
        );
    }

    cluster.stats_reset().all_ok().unwrap();
    for server in &servers {
        assert_eq!(support::raw_stats(&server.addr())["cmd_set"], "0");
    }
    cluster.verbosity(0).all_ok().unwrap();

    cluster.flush_all().all_ok().unwrap();
    for key in &keys {
        assert_eq!(raw_get(&all[cluster.server_for(key)], key), None, "flushed");
    }
    cluster.set(&keys[0], "v", Expiry::after_secs(60)).unwrap();
    cluster
        .flush_all_after(Duration::from_secs(3600))
        .all_ok()
        .unwrap();
    assert!(cluster.get(&keys[0]).unwrap().is_some(), "not flushed yet");
}

#[test]
fn with_one_server_dead_admin_commands_fail_only_its_entry_and_never_fail_over() {
    let mut servers = start(3);
    let all = addrs(&servers);
    let cluster = builder(&servers)
        .failover(Failover::NextServer)
        .build()
        .unwrap();
    servers[1].kill();

    // Not yet marked down: the first call meets the dead server itself.
    let versions = cluster.version();
    let results: Vec<bool> = versions.iter().map(|(_, r)| r.is_ok()).collect();
    assert_eq!(results, [true, false, true]);
    assert!(versions
        .get(1)
        .unwrap()
        .as_ref()
        .unwrap_err()
        .is_connection_error());
    assert!(cluster.is_down(1));
    let error = cluster.version().all_ok().unwrap_err();
    assert!(
        matches!(error, Error::ServerDown { ref addr, .. } if *addr == all[1]),
        "{error:?}"
    );

    let check = |what: &str, oks: Vec<bool>| assert_eq!(oks, [true, false, true], "{what}");
    check(
        "stats",
        cluster.stats().iter().map(|(_, r)| r.is_ok()).collect(),
    );
    check(
        "stats_group",
        cluster
            .stats_group("slabs")
            .iter()
            .map(|(_, r)| r.is_ok())
            .collect(),
    );
    check(
        "stats_reset",
        cluster
            .stats_reset()
            .iter()
            .map(|(_, r)| r.is_ok())
            .collect(),
    );
    check(
        "stats_detail",
        cluster
            .stats_detail(false)
            .iter()
            .map(|(_, r)| r.is_ok())
            .collect(),
    );
    check(
        "stats_detail_dump",
        cluster
            .stats_detail_dump()
            .iter()
            .map(|(_, r)| r.is_ok())
            .collect(),
    );
    check(
        "stats_cachedump",
        cluster
            .stats_cachedump(1, 1)
            .iter()
            .map(|(_, r)| r.is_ok())
            .collect(),
    );
    check(
        "verbosity",
        cluster
            .verbosity(0)
            .iter()
            .map(|(_, r)| r.is_ok())
            .collect(),
    );
    check(
        "flush_all",
        cluster.flush_all().iter().map(|(_, r)| r.is_ok()).collect(),
    );
    check(
        "flush_all_after",
        cluster
            .flush_all_after(Duration::from_secs(3600))
            .iter()
            .map(|(_, r)| r.is_ok())
            .collect(),
    );
    // The dead server's entry is its own error, not a neighbour's answer.
    let stats = cluster.stats().into_results();
    assert_eq!(stats[1].0, all[1]);
    assert!(matches!(stats[1].1, Err(Error::ServerDown { .. })));
    assert_eq!(
        stats[0].1.as_ref().unwrap()["pid"],
        servers[0].pid().to_string()
    );
}

/// With four servers and one down, the dead server's keys go to `expected(key)`, spread over
/// all three survivors, and no key of a live server moves; checked over raw TCP, for single
/// calls and for a batch.
fn spreads_a_dead_servers_keys(distribution: Option<MakeDistribution>) {
    const DEAD: usize = 2;
    let mut servers = start(4);
    let all = addrs(&servers);
    let chosen = distribution.as_ref().map(|make| make(&servers));
    let mut builder = builder(&servers).failover(Failover::NextServer);
    if let Some(make) = &distribution {
        builder = builder.distribution(BoxedDistribution(make(&servers)));
    }
    let cluster = builder.build().unwrap();
    let reference: Box<dyn Distribution> = chosen.unwrap_or_else(|| Box::new(ring_of(&servers)));
    let keys = keys_per_server(&cluster, "parity:spread:", 60);
    kill_and_mark_down(&cluster, &mut servers, DEAD);

    let next = |key: &[u8]| {
        reference
            .server_for_excluding(key, &|index| index == DEAD)
            .unwrap()
    };
    let (single, batched) = keys.split_at(keys.len() / 2);
    for key in single {
        cluster.set(key, key, Expiry::after_secs(60)).unwrap();
    }
    let report = cluster
        .set_many(batched.iter().map(|key| Entry::new(key, key)))
        .unwrap();
    assert_eq!(report.done_count(), batched.len());

    let mut took: HashMap<usize, usize> = HashMap::new();
    for key in &keys {
        let owner = cluster.server_for(key);
        let holder = if owner == DEAD { next(key) } else { owner };
        assert_ne!(holder, DEAD);
        if owner == DEAD {
            *took.entry(holder).or_default() += 1;
        }
        for (index, addr) in all.iter().enumerate().filter(|(i, _)| *i != DEAD) {
            let held = raw_get(addr, key);
            if index == holder {
                assert_eq!(
                    held.as_deref(),
                    Some(key.as_slice()),
                    "not on server {index}"
                );
            } else {
                assert_eq!(
                    held, None,
                    "a key of server {owner} is also on server {index}"
                );
            }
        }
    }
    assert_eq!(
        took.len(),
        3,
        "the dead server's keys went only to {took:?}"
    );

    // Reads find them where they were written.
    let report = cluster.get_many(&keys).unwrap();
    assert!(report.failed.is_empty());
    assert_eq!(report.found.len(), keys.len());
}

/// Builds a distribution for a cluster over the servers given.
type MakeDistribution = fn(&[Memcached]) -> Box<dyn Distribution>;

/// A boxed distribution passed to the builder as one of its own.
#[derive(Debug)]
struct BoxedDistribution(Box<dyn Distribution>);

impl Distribution for BoxedDistribution {
    fn server_for(&self, key: &[u8]) -> usize {
        self.0.server_for(key)
    }
    fn server_count(&self) -> usize {
        self.0.server_count()
    }
    fn server_for_excluding(&self, key: &[u8], excluded: &dyn Fn(usize) -> bool) -> Option<usize> {
        self.0.server_for_excluding(key, excluded)
    }
}

#[test]
fn with_ketama_a_dead_servers_keys_go_to_the_next_point_of_the_ring_spread_over_the_survivors() {
    spreads_a_dead_servers_keys(None);
}

#[test]
fn with_modulo_a_dead_servers_keys_are_rehashed_over_the_survivors() {
    spreads_a_dead_servers_keys(Some(|servers| {
        Box::new(Modulo::libmemcached_default(servers.len()).unwrap())
    }));
}

#[test]
fn with_rendezvous_a_dead_servers_keys_go_to_their_next_highest_score() {
    spreads_a_dead_servers_keys(Some(|servers| {
        let nodes: Vec<Server> = servers
            .iter()
            .map(|s| Server::new("127.0.0.1", s.port()))
            .collect();
        Box::new(Rendezvous::pymemcache(&nodes).unwrap())
    }));
}

#[test]
fn the_ketama_next_owner_is_the_server_of_the_next_point_on_the_ring() {
    let servers: Vec<Server> = (1..=4)
        .map(|i| Server::new(format!("10.0.0.{i}"), 11211))
        .collect();
    let ring = Ketama::libmemcached_ketama(&servers).unwrap();
    for i in 0..2000 {
        let key = format!("ring:{i}");
        let owner = ring.server_for(key.as_bytes());
        assert_eq!(
            ring.server_for_excluding(key.as_bytes(), &|_| false),
            Some(owner)
        );
        // Walk the continuum point by point from the key's own.
        let mut point = ring.locate(ring.key_hash().hash(key.as_bytes()));
        while point.server == owner {
            point = ring.locate(point.value.wrapping_add(1));
        }
        assert_eq!(
            ring.server_for_excluding(key.as_bytes(), &|index| index == owner),
            Some(point.server),
            "{key}"
        );
    }
    assert_eq!(ring.server_for_excluding(b"k", &|_| true), None);
}

#[test]
fn the_rendezvous_next_owner_is_the_owner_among_the_other_nodes() {
    let names = ["a:11211", "b:11211", "c:11211", "d:11211"];
    let all = Rendezvous::pymemcache_nodes(names).unwrap();
    for dead in 0..4 {
        let rest: Vec<&str> = names
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != dead)
            .map(|(_, n)| *n)
            .collect();
        let without = Rendezvous::pymemcache_nodes(&rest).unwrap();
        for i in 0..500 {
            let key = format!("hrw:{i}");
            let next = all
                .server_for_excluding(key.as_bytes(), &|index| index == dead)
                .unwrap();
            assert_eq!(
                names[next],
                rest[without.server_for(key.as_bytes())],
                "{key}"
            );
        }
    }
}

#[test]
fn the_modulo_next_owner_rehashes_over_the_survivors_and_moves_no_live_servers_key() {
    for modulo in [
        Modulo::libmemcached_default(4).unwrap(),
        Modulo::python_memcached_weighted(&[1, 3, 2, 1]).unwrap(),
    ] {
        let mut took = HashSet::new();
        for i in 0..2000 {
            let key = format!("mod:{i}");
            let owner = modulo.server_for(key.as_bytes());
            let next = modulo
                .server_for_excluding(key.as_bytes(), &|index| index == 1)
                .unwrap();
            if owner == 1 {
                assert_ne!(next, 1);
                took.insert(next);
            } else {
                assert_eq!(next, owner, "a live server's key moved");
            }
        }
        assert_eq!(took.len(), 3, "{modulo:?}: only {took:?}");
        assert_eq!(modulo.server_for_excluding(b"k", &|_| true), None);
    }
}

/// A distribution of one's own that says nothing of next owners.
#[derive(Debug)]
struct FirstByte(usize);

impl Distribution for FirstByte {
    fn server_for(&self, key: &[u8]) -> usize {
        usize::from(key[0]) % self.0
    }
    fn server_count(&self) -> usize {
        self.0
    }
}

#[test]
fn a_distribution_without_next_owners_keeps_the_list_order_after_the_owner() {
    let four = FirstByte(4);
    // b'a' is 97: server 1.
    assert_eq!(four.server_for_excluding(b"a", &|_| false), Some(1));
    assert_eq!(four.server_for_excluding(b"a", &|i| i == 1), Some(2));
    assert_eq!(
        four.server_for_excluding(b"a", &|i| i == 1 || i == 2),
        Some(3)
    );
    assert_eq!(four.server_for_excluding(b"a", &|i| i != 0), Some(0));
    assert_eq!(four.server_for_excluding(b"a", &|_| true), None);
}
