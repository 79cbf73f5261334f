//! Unix domain sockets against real memcached started with `-s PATH -a 0700`: every command,
//! the pool and the cluster, key placement as libmemcached and python-memcached place a
//! socket server, the kill / restart / SIGSTOP rows of the fault matrix, and each way a
//! connect can fail (ENOENT, ECONNREFUSED, EACCES) as a typed error at once.

use memcache_sync_test_support as support;

use support::timed;

use std::io::ErrorKind;
use std::thread;
use std::time::{Duration, Instant};

use memcache_sync::distribution::{Distribution, Ketama, Modulo, Server};
use memcache_sync::{Client, Cluster, Config, Entry, Error, Expiry, Item, Phase, Pool, PoolConfig};
use support::child;
use support::{raw_get, unique_key, Memcached};

/// What a bound may exceed its timeout by on a shared, loaded machine.
const MARGIN: Duration = Duration::from_millis(250);
const READ_TIMEOUT: Duration = Duration::from_millis(300);
/// "At once": a connect failure that took longer waited for something.
const AT_ONCE: Duration = Duration::from_millis(200);

fn config() -> Config {
    Config::default()
        .with_connect_timeout(Duration::from_secs(2))
        .with_write_timeout(Duration::from_millis(500))
        .with_read_timeout(READ_TIMEOUT)
}

fn item(value: &[u8]) -> Option<Item> {
    Some(Item {
        value: value.to_vec(),
        flags: 0,
    })
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The connect error `result` must be, for the socket at `addr`, with its OS error.
fn assert_connect_error(result: Result<Client, Error>, addr: &str, kind: ErrorKind, errno: i32) {
    match result {
        Err(
            ref error @ Error::Connect {
                addr: ref reported,
                ref source,
            },
        ) => {
            assert_eq!(reported, addr);
            assert_eq!(source.kind(), kind, "{source}");
            assert_eq!(source.raw_os_error(), Some(errno), "{source}");
            assert!(error.is_connection_error() && error.is_transient());
            assert!(!error.may_have_reached_server(), "nothing was sent");
            assert!(error.to_string().contains(addr), "{error}");
        }
        Err(other) => panic!("expected Error::Connect ({kind:?}), got {other:?}"),
        Ok(_) => panic!("connected to {addr}"),
    }
}

#[test]
fn every_command_works_over_a_unix_socket_named_by_its_path_or_with_the_unix_prefix() {
    let server = Memcached::start_unix();
    let path = server.addr();
    assert!(path.starts_with('/'), "{path}");
    for addr in [path.clone(), format!("unix:{path}")] {
        let mut client = Client::builder(&addr).config(config()).connect().unwrap();
        assert_eq!(client.addr(), addr);
        let (key, _) = support::exercise_commands(&mut client, "unix:cmd:");

        let keys: Vec<Vec<u8>> = (0..2_000)
            .map(|i| unique_key(&format!("unix:batch:{i}:")))
            .collect();
        client
            .set_many(keys.iter().map(|k| Entry::new(k, b"batch")))
            .unwrap();
        assert_eq!(client.get_many(&keys).unwrap().len(), keys.len());
        client
            .touch_many(keys.iter().map(|k| (k, Expiry::after_secs(60))))
            .unwrap();
        let report = client
            .add_many(keys.iter().take(10).map(|k| Entry::new(k, b"x")))
            .unwrap();
        assert_eq!(report.done_count(), 10);
        client.delete_many(&keys).unwrap();
        assert!(client.get_many(&keys).unwrap().is_empty());

        assert!(client.version().unwrap().starts_with("1."));
        assert!(client.stats().unwrap().contains_key("curr_connections"));
        let settings = client.stats_group("settings").unwrap();
        assert_eq!(
            settings.get("domain_socket").map(String::as_str),
            Some(path.as_str())
        );
        client.verbosity(0).unwrap();
        client.stats_reset().unwrap();
        client.flush_all().unwrap();
        assert_eq!(client.get(&key).unwrap(), None);
        client.quit().unwrap();
        // After quit the next call opens a new connection by itself.
        client.set(&key, b"again", Expiry::Never).unwrap();
        assert_eq!(client.get(&key).unwrap(), item(b"again"));
    }
}

#[test]
fn a_pool_over_a_unix_socket_serves_sixteen_threads_with_at_most_its_size() {
    let server = Memcached::start_unix();
    let pool = Pool::builder(&format!("unix:{}", server.addr()))
        .config(config())
        .pool(PoolConfig::default().with_max_size(4))
        .build();
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let pool = pool.clone();
            thread::spawn(move || {
                for i in 0..50 {
                    let key = format!("unix:pool:{t}:{i}");
                    let mut client = pool.get().unwrap();
                    client.set(key.as_bytes(), b"v", Expiry::Never).unwrap();
                    assert_eq!(client.get(key.as_bytes()).unwrap(), item(b"v"));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert!(pool.open_connections() <= 4);
}

#[test]
fn a_cluster_of_unix_sockets_stores_each_key_on_the_server_libmemcached_would_pick() {
    let servers: Vec<Memcached> = (0..3).map(|_| Memcached::start_unix()).collect();
    // Both spellings: a path and a `unix:` path hash alike.
    let addrs = [
        servers[0].addr(),
        format!("unix:{}", servers[1].addr()),
        servers[2].addr(),
    ];
    let cluster = Cluster::builder(&addrs).config(config()).build().unwrap();
    let ring = Ketama::libmemcached_ketama(
        &servers
            .iter()
            .map(|s| Server::new(s.addr(), 0))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let keys: Vec<Vec<u8>> = (0..300)
        .map(|i| format!("unix:ring:{i}").into_bytes())
        .collect();
    let mut used = [0; 3];
    for key in &keys {
        let owner = ring.server_for(key);
        assert_eq!(cluster.server_for(key), owner, "{key:?}");
        used[owner] += 1;
        cluster.set(key, b"v", Expiry::Never).unwrap();
    }
    assert!(used.iter().all(|&n| n > 0), "{used:?}");
    for key in &keys {
        let owner = ring.server_for(key);
        for (index, server) in servers.iter().enumerate() {
            let held = raw_get(&server.addr(), key).is_some();
            assert_eq!(held, index == owner, "{key:?} on server {index}");
        }
    }
    let report = cluster.get_many(&keys).unwrap();
    assert_eq!(report.found.len(), keys.len());
}

/// `memcached_generate_hash` of `key:0` to `key:299` (one base-36 digit per key) from Debian's
/// libmemcached 1.1.4 (amd64), with `MEMCACHED_BEHAVIOR_KETAMA` and the servers
/// `/var/run/memcached/memcached.sock`, `/tmp/mc-b.sock`, `10.0.0.3:11211` and
/// `10.0.0.4:11212`. The same string came out four ways: sockets added with
/// `memcached_server_add_unix_socket` (what pylibmc calls for a path) with ketama set before
/// or after; the list `"/var/run/memcached/memcached.sock,/tmp/mc-b.sock,10.0.0.3:11211,
/// 10.0.0.4:11212"` through `memcached_servers_parse` and `memcached_server_push`; and the
/// configuration string `--SOCKET="…" --SOCKET="…" --SERVER=… --SERVER=…`. Each records a
/// socket with port 0, so its points are named `PATH:0-i`.
const LIBMEMCACHED_SOCKET_KETAMA: &str = "331010000332003211121111312302011011003130200121033223201202013320230101320000033203310013200221031032132023122211110202300012201232311121123003230302211001313300011223001320033232022011212020230212000233000000332103322300033003211232121113201331232211331010023231113002000202200133210020311110213322";

/// python-memcached 1.62's `Client._get_server(b"key:i")` index for the same keys over
/// `unix:/var/run/memcached/memcached.sock`, `unix:/tmp/mc-b.sock`, `10.0.0.3:11211`,
/// `10.0.0.4:11212` (with `_Host.connect` stubbed). It hashes no server name: the same list
/// with four TCP names gives the same string.
const PYTHON_MEMCACHED_SOCKETS: &str = "032112303003211230301230032121210330121230122103030321123030123003212121033012122103301212123003212121033012121230032121032112303030122103032103301212123003212103211230303012210303301221030303211230300321123030301221030321033012121230032121032112303030122103032103301212123003212112300321212103301212";

fn placements(distribution: &dyn Distribution) -> String {
    (0..300)
        .map(|i| {
            let index = distribution.server_for(format!("key:{i}").as_bytes());
            char::from_digit(index as u32, 36).unwrap()
        })
        .collect()
}

#[test]
fn a_socket_server_is_placed_as_libmemcached_and_python_memcached_place_it() {
    let addrs = [
        "/var/run/memcached/memcached.sock",
        "unix:/tmp/mc-b.sock",
        "10.0.0.3:11211",
        "10.0.0.4:11212",
    ];
    // The default distribution; building a cluster connects to nothing.
    let cluster = Cluster::builder(addrs).build().unwrap();
    let by_cluster: String = (0..300)
        .map(|i| {
            let index = cluster.server_for(format!("key:{i}").as_bytes());
            char::from_digit(index as u32, 36).unwrap()
        })
        .collect();
    assert_eq!(by_cluster, LIBMEMCACHED_SOCKET_KETAMA);
    let named = Ketama::libmemcached_ketama(&[
        Server::new("/var/run/memcached/memcached.sock", 0),
        Server::new("/tmp/mc-b.sock", 0),
        Server::new("10.0.0.3", 11211),
        Server::new("10.0.0.4", 11212),
    ])
    .unwrap();
    assert_eq!(placements(&named), LIBMEMCACHED_SOCKET_KETAMA);
    // python-memcached places by position alone.
    let python = Modulo::python_memcached(addrs.len()).unwrap();
    assert_eq!(placements(&python), PYTHON_MEMCACHED_SOCKETS);
    let python_cluster = Cluster::builder(addrs)
        .distribution(python)
        .build()
        .unwrap();
    assert_eq!(
        python_cluster.server_for(b"key:0"),
        PYTHON_MEMCACHED_SOCKETS[..1].parse::<usize>().unwrap()
    );
}

#[test]
fn a_killed_unix_server_is_an_error_not_a_miss_and_the_same_client_recovers_after_restart() {
    let mut server = Memcached::start_unix();
    let addr = server.addr();
    let mut client = Client::builder(&addr).config(config()).connect().unwrap();
    let before = unique_key("unix:kill:before:");
    client.set(&before, b"before", Expiry::Never).unwrap();

    server.kill();
    let (result, elapsed) = timed(|| client.get(&before));
    let error = result.expect_err("a get on a killed server returned Ok");
    assert!(error.is_connection_error(), "{error:?}");
    assert!(elapsed < AT_ONCE, "{elapsed:?}");
    assert!(!client.is_connected());

    // The socket file outlives the process: a stale socket, refused at once.
    assert!(server.socket_path().exists());
    let after = unique_key("unix:kill:after:");
    let (result, elapsed) = timed(|| client.set(&after, b"lost", Expiry::Never));
    match result {
        Err(Error::Connect {
            addr: reported,
            source,
        }) => {
            assert_eq!(reported, addr);
            assert_eq!(source.kind(), ErrorKind::ConnectionRefused, "{source}");
        }
        other => panic!("expected Error::Connect while the server is dead, got {other:?}"),
    }
    assert!(elapsed < AT_ONCE, "{elapsed:?}");

    server.restart();
    assert_eq!(
        client.get(&before).unwrap(),
        None,
        "a restart loses the data"
    );
    client.set(&after, b"after", Expiry::Never).unwrap();
    assert_eq!(client.get(&after).unwrap(), item(b"after"));
}

#[test]
fn after_a_restart_between_calls_the_next_call_succeeds_on_a_new_connection() {
    let mut server = Memcached::start_unix();
    let mut client = Client::builder(&server.addr())
        .config(config())
        .connect()
        .unwrap();
    let key = unique_key("unix:restart:");
    client.set(&key, b"v", Expiry::Never).unwrap();
    server.restart();
    // The peek before the request sees the old connection closed; nothing is lost on it.
    client.set(&key, b"new", Expiry::Never).unwrap();
    assert_eq!(client.get(&key).unwrap(), item(b"new"));
}

#[test]
fn a_frozen_unix_server_times_out_and_a_late_reply_never_answers_a_later_request() {
    let mut server = Memcached::start_unix();
    let mut client = Client::builder(&server.addr())
        .config(config())
        .connect()
        .unwrap();
    let first = unique_key("unix:frozen:first:");
    let second = unique_key("unix:frozen:second:");
    client.set(&first, b"first", Expiry::Never).unwrap();
    client.set(&second, b"second", Expiry::Never).unwrap();

    server.freeze();
    let (result, elapsed) = timed(|| client.get(&first));
    match result {
        Err(Error::Timeout {
            phase: Phase::Read, ..
        }) => {}
        other => panic!("expected a read timeout, got {other:?}"),
    }
    assert!(elapsed >= READ_TIMEOUT, "{elapsed:?}");
    assert!(elapsed < READ_TIMEOUT + MARGIN, "{elapsed:?}");
    let (result, _) = timed(|| client.set(&first, b"changed", Expiry::Never));
    assert!(
        matches!(result, Err(ref e) if e.is_timeout() && e.may_have_reached_server()),
        "a store to a frozen server is never Ok: {result:?}"
    );

    server.thaw();
    // The late replies to the first get and set went to the dropped connection.
    assert_eq!(client.get(&second).unwrap(), item(b"second"));
}

#[test]
fn a_socket_path_that_does_not_exist_is_a_connect_error_with_enoent_at_once() {
    let server = Memcached::start_unix();
    let missing = server.dir().join("nobody-listens-here.sock");
    let addr = missing.display().to_string();
    let (result, elapsed) = timed(|| Client::builder(&addr).config(config()).connect());
    assert_connect_error(result, &addr, ErrorKind::NotFound, libc::ENOENT);
    assert!(elapsed < AT_ONCE, "{elapsed:?}");
}

#[test]
fn a_stale_socket_file_is_a_connect_error_with_econnrefused_at_once() {
    let mut server = Memcached::start_unix();
    let addr = format!("unix:{}", server.addr());
    server.kill();
    assert!(
        server.socket_path().exists(),
        "SIGKILL leaves the file behind"
    );
    let (result, elapsed) = timed(|| Client::builder(&addr).config(config()).connect());
    assert_connect_error(
        result,
        &addr,
        ErrorKind::ConnectionRefused,
        libc::ECONNREFUSED,
    );
    assert!(elapsed < AT_ONCE, "{elapsed:?}");
}

/// The child's part of the EACCES test: connect as an unprivileged user.
fn connect_without_permission(addr: &str) {
    assert!(!is_root(), "the child must not run as root");
    let (result, elapsed) = timed(|| Client::builder(addr).config(config()).connect());
    assert_connect_error(result, addr, ErrorKind::PermissionDenied, libc::EACCES);
    assert!(elapsed < AT_ONCE, "{elapsed:?}");
}

#[test]
fn a_socket_without_permission_is_a_connect_error_with_eacces_at_once() {
    const TEST: &str = "a_socket_without_permission_is_a_connect_error_with_eacces_at_once";
    if let Some(addr) = child::child_role(TEST) {
        return connect_without_permission(&addr);
    }
    let server = Memcached::start_unix();
    let addr = server.addr();
    if !is_root() {
        // memcached runs as this user, so `-a 0700` lets it in: take the owner's bits away.
        use std::os::unix::fs::PermissionsExt;
        let path = server.socket_path();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
        return connect_without_permission(&addr);
    }
    // Root passes every permission check, so the connect must come from another user: this
    // test, run again as `nobody`. memcached runs as root, its socket root's with mode 0700.
    use std::os::unix::process::CommandExt;
    let output = child::rerun(TEST, &addr, |command| {
        command.uid(65534).gid(65534);
    });
    let skip = |why: String| {
        println!(
            "skipped: this test binary cannot run as uid 65534 (nobody) here ({why}), and root \
             bypasses socket permissions, so EACCES cannot be provoked"
        );
    };
    match output {
        Ok(output) if child::passed(&output) => {}
        Ok(output) if child::ran(&output) => {
            panic!(
                "the unprivileged connect failed: {}",
                child::describe(&output)
            )
        }
        Ok(output) => skip(child::describe(&output)),
        Err(error) => skip(error.to_string()),
    }
}

/// The child's part of the EPIPE test, with `SIGPIPE` at its default action (killing the
/// process), as in a program that has not ignored it.
fn write_to_a_server_that_dies_mid_request() {
    // SAFETY: restoring a signal's default disposition; no handler runs Rust code.
    let previous = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    assert_ne!(previous, libc::SIG_ERR);
    let mut server = Memcached::start_unix();
    let config = config()
        .with_write_timeout(Duration::from_secs(5))
        .with_max_value_size(8 * 1024 * 1024);
    let mut client = Client::builder(&server.addr())
        .config(config)
        .connect()
        .unwrap();
    let key = unique_key("unix:epipe:");
    client.set(&key, b"small", Expiry::Never).unwrap();
    // Frozen, the server reads nothing: an 8 MiB value fills the socket's buffer and the
    // write blocks. Killed then, the server is gone while the write waits.
    server.freeze();
    let killer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(300));
        server.kill();
        (server, Instant::now())
    });
    let value = vec![b'x'; 8 * 1024 * 1024];
    let result = client.set(&key, &value, Expiry::Never);
    let failed_at = Instant::now();
    let (_server, killed_at) = killer.join().unwrap();
    match result {
        Err(Error::ConnectionClosed {
            phase: Phase::Write,
        }) => {}
        other => panic!("expected the closed socket to fail the write, got {other:?}"),
    }
    let after_kill = failed_at.saturating_duration_since(killed_at);
    println!("the write failed {after_kill:?} after the kill");
    assert!(
        after_kill < AT_ONCE,
        "{after_kill:?}, the write timeout is 5 s"
    );
}

#[test]
fn the_first_write_after_the_server_dies_fails_at_once_with_a_broken_pipe_not_a_signal() {
    const TEST: &str =
        "the_first_write_after_the_server_dies_fails_at_once_with_a_broken_pipe_not_a_signal";
    if child::child_role(TEST).is_some() {
        return write_to_a_server_that_dies_mid_request();
    }
    let output = child::rerun(TEST, "", |_| {}).expect("the test binary runs again");
    assert!(
        child::passed(&output),
        "the write in the child (SIGPIPE at its default) did not fail cleanly: {}",
        child::describe(&output)
    );
}

#[test]
fn the_meta_commands_and_a_lock_work_over_a_unix_socket() {
    let server = Memcached::start_unix();
    let mut client = Client::builder(&server.addr())
        .config(config())
        .connect()
        .unwrap();
    support::exercise_meta_commands(&mut client);
}
