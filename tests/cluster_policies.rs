//! The cluster's opt-in health policies against real memcached processes: fail-open when most
//! of the fleet looks down at once, refusals and timeouts counted against thresholds of their
//! own, a flapping server's growing backoff, and the failover budget. Each is checked through
//! the calls' results, the `Observer`'s events and the `log` lines.

use memcache_sync_test_support as support;

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use memcache_sync::distribution::{Distribution, Ketama, Server};
use memcache_sync::{Cluster, Config, Error, Event, Failover, HealthConfig};
use support::logs::{capture_logs, logged};
use support::{unique_key, wait_for, Memcached};

/// How long recovery may take on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(5);

/// The events a test looks at, owned.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Down {
        server: String,
        retry_in: Duration,
    },
    Up {
        server: String,
    },
    Flapping {
        server: String,
        recent_outages: u32,
    },
    FailOpen {
        server: String,
        down: usize,
        servers: usize,
    },
    FailOpenEnded {
        down: usize,
        servers: usize,
    },
    FailoverRefused {
        server: String,
        to: String,
    },
}

#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<Seen>>>);

impl Events {
    fn observer(&self) -> impl Fn(&Event<'_>) + Send + Sync + 'static {
        let seen = Arc::clone(&self.0);
        move |event: &Event<'_>| {
            let event = match *event {
                Event::ServerDown { server, retry_in } => Seen::Down {
                    server: server.to_owned(),
                    retry_in,
                },
                Event::ServerUp { server } => Seen::Up {
                    server: server.to_owned(),
                },
                Event::Flapping {
                    server,
                    recent_outages,
                    ..
                } => Seen::Flapping {
                    server: server.to_owned(),
                    recent_outages,
                },
                Event::FailOpen {
                    server,
                    down,
                    servers,
                } => Seen::FailOpen {
                    server: server.to_owned(),
                    down,
                    servers,
                },
                Event::FailOpenEnded { down, servers } => Seen::FailOpenEnded { down, servers },
                Event::FailoverRefused { server, to } => Seen::FailoverRefused {
                    server: server.to_owned(),
                    to: to.to_owned(),
                },
                _ => return,
            };
            seen.lock().unwrap().push(event);
        }
    }

    fn all(&self) -> Vec<Seen> {
        self.0.lock().unwrap().clone()
    }

    fn count(&self, matches: impl Fn(&Seen) -> bool) -> usize {
        self.all().iter().filter(|seen| matches(seen)).count()
    }
}

fn timeouts(timeout: Duration) -> Config {
    Config::default()
        .with_connect_timeout(timeout)
        .with_read_timeout(timeout)
        .with_write_timeout(timeout)
}

/// One key owned by each server of `cluster`, in server order.
fn key_per_server(cluster: &Cluster) -> Vec<Vec<u8>> {
    let servers = cluster.servers().len();
    let mut keys: Vec<Option<Vec<u8>>> = vec![None; servers];
    while keys.iter().any(Option::is_none) {
        let key = unique_key("policy:");
        let owner = cluster.server_for(&key);
        keys[owner].get_or_insert(key);
    }
    keys.into_iter().flatten().collect()
}

/// `count` keys owned by server `owner`.
fn keys_of(cluster: &Cluster, owner: usize, count: usize) -> Vec<Vec<u8>> {
    std::iter::repeat_with(|| unique_key("owned:"))
        .filter(|key| cluster.server_for(key) == owner)
        .take(count)
        .collect()
}

#[test]
fn four_frozen_servers_at_half_share_fail_open_two_marked_down_two_still_tried_then_all_recover() {
    let timeout = Duration::from_millis(150);
    let mut servers: Vec<Memcached> = (0..4).map(|_| Memcached::start()).collect();
    let addrs: Vec<String> = servers.iter().map(Memcached::addr).collect();
    let events = Events::default();
    capture_logs();
    let cluster = Cluster::builder(&addrs)
        .config(timeouts(timeout))
        .health(
            HealthConfig::default()
                .with_failure_threshold(2)
                .with_backoff(Duration::from_millis(50), Duration::from_millis(200))
                .with_max_down_share(0.5),
        )
        .observer(events.observer())
        .build()
        .unwrap();
    let keys = key_per_server(&cluster);
    for key in &keys {
        cluster.get(key).unwrap();
    }

    // A client-side blip, as far as the client can tell: every server stops answering.
    for server in &mut servers {
        server.freeze();
    }
    let down = |cluster: &Cluster| (0..4).filter(|&i| cluster.is_down(i)).count();
    for round in 1..=4 {
        for (index, key) in keys.iter().enumerate() {
            let started = Instant::now();
            let error = cluster.get(key).expect_err("a frozen server answered");
            let took = started.elapsed();
            assert!(down(&cluster) <= 2, "round {round}: {:?}", events.all());
            match (round, index) {
                // Down after two timeouts each, in the order they got there.
                (3.., 0 | 1) => assert!(
                    matches!(error, Error::ServerDown { .. } | Error::Timeout { .. }),
                    "round {round}, server {index}: {error:?}"
                ),
                // Kept up and tried: each call waits out its timeout.
                _ => {
                    assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
                    assert!(took >= timeout / 2, "server {index} answered in {took:?}");
                }
            }
        }
        if round >= 2 {
            assert_eq!(down(&cluster), 2, "round {round}");
            assert!(cluster.is_down(0) && cluster.is_down(1));
            assert!(cluster.is_failing_open());
        }
    }
    let entered = Seen::FailOpen {
        server: addrs[cluster.server_for(&keys[2])].clone(),
        down: 2,
        servers: 4,
    };
    assert_eq!(
        events.count(|seen| *seen == entered),
        1,
        "{:?}",
        events.all()
    );
    assert!(logged(log::Level::Warn, &["fail-open", &addrs[2]]));

    for server in &mut servers {
        server.thaw();
    }
    wait_for("recovering after the thaw", PATIENCE, || {
        let answered = keys.iter().all(|key| cluster.get(key).is_ok());
        answered && down(&cluster) == 0 && !cluster.is_failing_open()
    });
    let ended = |seen: &Seen| matches!(seen, Seen::FailOpenEnded { servers: 4, .. });
    assert_eq!(events.count(ended), 1, "{:?}", events.all());
    let ups = |seen: &Seen| matches!(seen, Seen::Up { .. });
    assert_eq!(events.count(ups), 2, "the two marked down came up");
    assert!(logged(log::Level::Info, &["fail-open ended"]));
}

#[test]
fn a_refused_server_goes_down_at_the_failure_threshold_and_a_slow_one_at_the_timeout_threshold() {
    let timeout = Duration::from_millis(200);
    let (mut refused, mut slow) = (Memcached::start(), Memcached::start());
    let addrs = [refused.addr(), slow.addr()];
    let events = Events::default();
    capture_logs();
    let cluster = Cluster::builder(&addrs)
        .config(timeouts(timeout))
        .health(
            HealthConfig::default()
                .with_failure_threshold(2)
                .with_timeout_threshold(4)
                .with_backoff(Duration::from_secs(30), Duration::from_secs(30)),
        )
        .observer(events.observer())
        .build()
        .unwrap();
    let keys = key_per_server(&cluster);
    for key in &keys {
        cluster.get(key).unwrap();
    }
    refused.kill();
    slow.freeze();

    for failure in 1..=2 {
        let error = cluster.get(&keys[0]).expect_err("a dead server answered");
        assert!(
            error.is_connection_error() && !error.is_timeout(),
            "a refusal, not a timeout: {error:?}"
        );
        assert_eq!(cluster.is_down(0), failure == 2, "after {failure} refusals");
    }
    assert!(matches!(
        cluster.get(&keys[0]),
        Err(Error::ServerDown { .. })
    ));
    assert!(logged(
        log::Level::Warn,
        &[
            &addrs[0],
            "after 2 refused or broken connections and 0 timeouts"
        ]
    ));

    for timeout in 1..=4 {
        let error = cluster.get(&keys[1]).expect_err("a frozen server answered");
        assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
        assert_eq!(cluster.is_down(1), timeout == 4, "after {timeout} timeouts");
    }
    assert!(matches!(
        cluster.get(&keys[1]),
        Err(Error::ServerDown { .. })
    ));
    assert!(logged(
        log::Level::Warn,
        &[
            &addrs[1],
            "after 0 refused or broken connections and 4 timeouts"
        ]
    ));
    let downs: Vec<String> = events
        .all()
        .into_iter()
        .filter_map(|seen| match seen {
            Seen::Down { server, .. } => Some(server),
            _ => None,
        })
        .collect();
    assert_eq!(downs, addrs, "each marked down once, the refused one first");
    slow.thaw();
}

#[test]
fn a_flapping_servers_backoff_grows_with_each_recent_outage_and_resets_after_quiet() {
    let initial = Duration::from_millis(100);
    let memory = Duration::from_millis(600);
    let mut server = Memcached::start();
    let addr = server.addr();
    let events = Events::default();
    capture_logs();
    let cluster = Cluster::builder([addr.as_str()])
        .config(timeouts(Duration::from_secs(1)))
        .health(
            HealthConfig::default()
                .with_failure_threshold(1)
                .with_backoff(initial, initial * 8)
                .with_flap_memory(memory),
        )
        .observer(events.observer())
        .build()
        .unwrap();
    let key = unique_key("flap:");
    cluster.get(&key).unwrap();

    // Killed right after each recovery: down, up, down, up. The last outage comes after
    // enough quiet to forget the others.
    let mut first_waits = Vec::new();
    for outage in 0..5 {
        if outage == 4 {
            thread::sleep(memory * 3 + memory / 2);
        }
        server.kill();
        let before = events.all().len();
        cluster.get(&key).expect_err("a dead server answered");
        assert!(cluster.is_down(0), "outage {outage}");
        let retry_in = events.all()[before..]
            .iter()
            .find_map(|seen| match seen {
                Seen::Down { retry_in, .. } => Some(*retry_in),
                _ => None,
            })
            .expect("a ServerDown event");
        first_waits.push(retry_in);
        server.restart();
        wait_for("the probe finding the server up", PATIENCE, || {
            cluster.get(&key).is_ok()
        });
    }

    let summary = format!("first waits {first_waits:?}, events {:?}", events.all());
    for (outage, wait) in first_waits.iter().enumerate() {
        // Doubled per recent outage up to the cap of 8 × initial; jittered to half or more.
        let base = initial * 2u32.pow(outage.min(3) as u32);
        let base = if outage == 4 { initial } else { base };
        assert!(
            *wait >= base / 2 && *wait <= base,
            "outage {outage}: {summary}"
        );
    }
    let flapping: Vec<u32> = events
        .all()
        .into_iter()
        .filter_map(|seen| match seen {
            Seen::Flapping { recent_outages, .. } => Some(recent_outages),
            _ => None,
        })
        .collect();
    assert_eq!(flapping, [1, 2, 3], "{summary}");
    assert!(logged(
        log::Level::Warn,
        &[&addr, "flapping: 3 recent outages"]
    ));
}

#[test]
fn past_the_failover_budget_a_down_servers_keys_fail_with_its_own_error() {
    let mut servers: Vec<Memcached> = (0..3).map(|_| Memcached::start()).collect();
    let addrs: Vec<String> = servers.iter().map(Memcached::addr).collect();
    let events = Events::default();
    capture_logs();
    let cluster = Cluster::builder(&addrs)
        .config(timeouts(Duration::from_secs(1)))
        .health(
            HealthConfig::default()
                .with_failure_threshold(1)
                .with_backoff(Duration::from_secs(30), Duration::from_secs(30)),
        )
        .failover(Failover::NextServer)
        .failover_rate(1.0, 3)
        .observer(events.observer())
        .build()
        .unwrap();
    // The last server dies; these of its keys fail over to the first (the next point of the
    // ring names it), which a batch may hold for keys of its own already.
    let servers_list: Vec<Server> = addrs.iter().map(|a| a.parse().unwrap()).collect();
    let ring = Ketama::libmemcached_ketama(&servers_list).unwrap();
    let keys: Vec<Vec<u8>> = std::iter::repeat_with(|| unique_key("owned:"))
        .filter(|key| {
            cluster.server_for(key) == 2 && ring.server_for_excluding(key, &|i| i == 2) == Some(0)
        })
        .take(6)
        .collect();
    let survivors_key = keys_of(&cluster, 0, 1).remove(0);
    servers[2].kill();
    cluster.get(&keys[0]).expect_err("a dead server answered");
    assert!(cluster.is_down(2));

    // Three tokens: three calls move to the next server, the fourth fails as without failover.
    for key in &keys[1..4] {
        assert_eq!(cluster.get(key).unwrap(), None, "moved to an empty server");
    }
    let refused = cluster
        .get(&keys[4])
        .expect_err("failed over past the budget");
    assert!(matches!(refused, Error::ServerDown { ref addr, .. } if *addr == addrs[2]));
    let refusal = Seen::FailoverRefused {
        server: addrs[2].clone(),
        to: addrs[0].clone(),
    };
    let refusals = || events.count(|seen| *seen == refusal);
    assert_eq!(refusals(), 1);
    assert!(logged(
        log::Level::Warn,
        &["failover budget spent", &addrs[2]]
    ));

    // A batch's group is refused too, whether the next server is still to be leased or the
    // batch holds it already for a key of its own; once a token refills, the group moves.
    let report = cluster.get_many(&keys[4..]).unwrap();
    assert!(report.found.is_empty());
    assert_eq!(refusals(), 2, "{:?}", events.all());
    let mixed = [survivors_key, keys[5].clone()];
    cluster.get_many(&mixed).unwrap();
    assert_eq!(refusals(), 3, "{:?}", events.all());
    thread::sleep(Duration::from_millis(1200));
    cluster.get_many(&mixed).unwrap();
    assert_eq!(refusals(), 3, "{:?}", events.all());
    assert!(logged(log::Level::Info, &["failovers resumed"]));
}
