//! Proves the test harness itself, using raw TCP only (never the crate), so a
//! failure here points at the harness or the environment, not the client.

use memcache_sync_test_support as support;

use std::collections::HashSet;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::{
    dead_addr, raw_exchange, raw_get, raw_get_many, raw_set, raw_stats, shared_server, unique_key,
    Memcached,
};

fn version(addr: &str) -> Vec<u8> {
    raw_exchange(addr, b"version\r\n", b"\r\n")
}

#[test]
fn started_server_answers_version_1_6() {
    let server = Memcached::start();
    let reply = version(&server.addr());
    assert!(
        reply.starts_with(b"VERSION 1.6"),
        "unexpected reply: {:?}",
        String::from_utf8_lossy(&reply)
    );
    assert_eq!(server.addr(), format!("127.0.0.1:{}", server.port()));
}

#[test]
fn two_servers_get_different_ports() {
    let a = Memcached::start();
    let b = Memcached::start();
    assert_ne!(a.port(), b.port());
    assert_ne!(a.pid(), b.pid());
}

#[test]
fn raw_stats_reports_the_servers_own_pid() {
    let server = Memcached::start();
    let stats = raw_stats(&server.addr());
    assert_eq!(stats["pid"], server.pid().to_string());
    assert!(stats["version"].starts_with("1.6"), "{stats:?}");
}

#[test]
fn raw_get_many_reads_back_every_raw_set_across_requests_and_leaves_misses_out() {
    let server = shared_server();
    let addr = server.addr();
    // More keys than one raw `get` asks for, and values with line ends inside: the reply is
    // read by the lengths it states, not split into lines.
    let keys: Vec<Vec<u8>> = (0..100).map(|_| unique_key("harness-raw-")).collect();
    let value = |i: usize| format!("v{i}\r\nVALUE x 0 1\r\n").into_bytes();
    for (i, key) in keys.iter().enumerate().filter(|(i, _)| i % 3 != 0) {
        raw_set(&addr, key, &value(i));
    }
    let held = raw_get_many(&addr, &keys);
    assert_eq!(held.len(), 66, "every stored key, no missed one");
    for (i, key) in keys.iter().enumerate() {
        let expected = (i % 3 != 0).then(|| value(i));
        assert_eq!(held.get(key), expected.as_ref(), "key {i}");
        assert_eq!(raw_get(&addr, key), expected, "key {i}");
    }
}

#[test]
fn dead_addr_refuses_connections() {
    let err = TcpStream::connect(dead_addr()).expect_err("someone listens on a dead address");
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
}

#[test]
fn frozen_server_does_not_answer_until_thawed() {
    let mut server = Memcached::start();
    server.freeze();

    // The kernel still completes the handshake; only the answer is missing.
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream.write_all(b"version\r\n").unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 64];
    let err = stream.read(&mut buf).expect_err("a frozen server answered");
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "expected a timeout, got {err}"
    );

    server.thaw();
    // The request queued while frozen is answered, and new connections work too.
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let n = stream.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"VERSION "), "{:?}", &buf[..n]);
    assert!(version(&server.addr()).starts_with(b"VERSION "));
}

#[test]
fn killed_server_refuses_connections() {
    let mut server = Memcached::start();
    server.kill();
    let err = TcpStream::connect(server.addr()).expect_err("a killed server accepted");
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
}

#[test]
fn frozen_server_can_be_killed() {
    let mut server = Memcached::start();
    server.freeze();
    server.kill();
    let err = TcpStream::connect(server.addr()).expect_err("a killed server accepted");
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
}

#[test]
fn restarted_server_answers_on_the_same_port_without_old_data() {
    let mut server = Memcached::start();
    let (port, old_pid) = (server.port(), server.pid());
    let key = unique_key("harness-restart-");
    raw_set(&server.addr(), &key, b"x");

    server.kill();
    server.restart();

    assert_eq!(server.port(), port);
    assert_ne!(server.pid(), old_pid);
    assert!(version(&server.addr()).starts_with(b"VERSION "));
    assert_eq!(raw_get(&server.addr(), &key), None);
}

#[test]
fn restart_of_a_running_server_replaces_it() {
    let mut server = Memcached::start();
    let (port, old_pid) = (server.port(), server.pid());
    // An idle client connection must not stop the port from being reused.
    let _idle = TcpStream::connect(server.addr()).unwrap();
    server.restart();
    assert_eq!(server.port(), port);
    assert_ne!(server.pid(), old_pid);
    assert_eq!(raw_stats(&server.addr())["pid"], server.pid().to_string());
}

#[test]
fn start_with_passes_extra_arguments() {
    let server = Memcached::start_with(&["-I", "2m"]);
    let reply = raw_exchange(&server.addr(), b"stats settings\r\n", b"END\r\n");
    let text = String::from_utf8(reply).unwrap();
    assert!(
        text.contains("STAT item_size_max 2097152\r\n"),
        "settings: {text}"
    );
}

#[test]
fn dropped_server_is_gone() {
    let server = Memcached::start();
    let addr = server.addr();
    drop(server);
    let err = TcpStream::connect(&addr).expect_err("a dropped server accepted");
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
}

#[test]
fn shared_server_answers() {
    let server = shared_server();
    assert!(version(&server.addr()).starts_with(b"VERSION "));
}

#[test]
fn unique_keys_differ_and_are_valid_memcached_keys() {
    let keys: Vec<Vec<u8>> = (0..1000).map(|_| unique_key("harness-")).collect();
    let distinct: HashSet<&Vec<u8>> = keys.iter().collect();
    assert_eq!(distinct.len(), keys.len());
    for key in &keys {
        assert!(key.starts_with(b"harness-"));
        assert!(key.len() < 250, "{} bytes", key.len());
        assert!(key.iter().all(u8::is_ascii_graphic), "{key:?}");
    }
}
