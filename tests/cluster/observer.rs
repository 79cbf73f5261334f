//! The observer sees every operation and failure; the builder refuses what cannot work.

use std::time::{Duration, Instant};

use memcache_sync::distribution::{Ketama, Modulo, Server};
use memcache_sync::{Cluster, Error, Expiry};
use memcache_sync_test_support::unique_key;

use crate::fixtures::{addrs, builder, item, key_on, start};
use crate::recorder::{observed, Kind, Seen};

#[test]
fn the_observer_sees_each_operation_with_its_server_command_and_latency() {
    let servers = start(3);
    let all = addrs(&servers);
    let (cluster, recorder) = observed(builder(&servers));
    let key = unique_key("observe:");
    let counter = unique_key("observe:counter:");
    let server = &all[cluster.server_for(&key)];
    let counter_server = &all[cluster.server_for(&counter)];

    let started = Instant::now();
    cluster.set(&key, b"v", Expiry::after_secs(300)).unwrap();
    assert_eq!(cluster.get(&key).unwrap(), item(b"v"));
    assert!(cluster.delete(&key).unwrap());
    assert_eq!(cluster.get(&key).unwrap(), None);
    assert_eq!(cluster.incr(&counter, 1).unwrap(), None);
    let total = started.elapsed();

    let events = recorder.take();
    let ops: Vec<(&str, &'static str, Option<Kind>)> = events
        .iter()
        .map(|e| match e {
            Seen::Operation {
                server,
                command,
                latency,
                error,
            } => {
                assert!(*latency > Duration::ZERO && *latency <= total, "{e:?}");
                (server.as_str(), *command, *error)
            }
            other => panic!("unexpected event {other:?}"),
        })
        .collect();
    assert_eq!(
        ops,
        [
            (server.as_str(), "set", None),
            (server.as_str(), "get", None),
            (server.as_str(), "delete", None),
            (server.as_str(), "get", None),
            (counter_server.as_str(), "incr", None),
        ]
    );

    // An invalid key is refused before anything is sent: it is no operation on a server.
    let bad = cluster
        .get(b"bad key")
        .expect_err("an invalid key was sent");
    assert!(bad.is_invalid_input());
    assert_eq!(recorder.take(), []);
}

#[test]
fn the_observer_sees_a_failed_operation_with_its_error() {
    let mut servers = start(2);
    let all = addrs(&servers);
    let (cluster, recorder) = observed(builder(&servers));
    let key = key_on(&cluster, 1, "observe:fail:");
    servers[1].kill();
    let error = cluster.get(&key).expect_err("a killed server answered");
    let events = recorder.take();
    assert!(
        matches!(
            &events[..],
            [Seen::Operation { server, command: "get", error: Some(kind), .. }]
                if server == &all[1] && *kind == Kind::of(&error)
        ),
        "{events:?}"
    );
}

#[test]
fn the_builder_rejects_an_empty_server_list_and_a_mismatched_distribution() {
    let invalid = |result: Result<Cluster, Error>| match result {
        Err(Error::InvalidArgument { .. }) => {}
        other => panic!("expected InvalidArgument, got {other:?}"),
    };
    invalid(Cluster::builder(Vec::<String>::new()).build());
    invalid(
        Cluster::builder(Vec::<&str>::new())
            .distribution(Modulo::gomemcache(1).unwrap())
            .build(),
    );

    let three = ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"];
    invalid(
        Cluster::builder(three)
            .distribution(Modulo::gomemcache(2).unwrap())
            .build(),
    );
    let four: Vec<Server> = (1..=4).map(|port| Server::new("127.0.0.1", port)).collect();
    invalid(
        Cluster::builder(three)
            .distribution(Ketama::libmemcached_ketama(&four).unwrap())
            .build(),
    );
    invalid(Cluster::builder(["localhost"]).build());

    // The matching ones build, without connecting to anything.
    let cluster = Cluster::builder(three)
        .distribution(Modulo::gomemcache(3).unwrap())
        .build()
        .unwrap();
    assert_eq!(cluster.servers(), three);
    assert!(Cluster::builder(three).build().is_ok());
}
