//! Proves the test harness itself, using raw TCP only (never the crate), so a
//! failure here points at the harness or the environment, not the client.

mod support;

use std::collections::HashSet;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::{raw_exchange, raw_stats, shared_server, unique_key, Memcached};

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
    let key = String::from_utf8(unique_key("harness-restart-")).unwrap();
    let set = format!("set {key} 0 0 1\r\nx\r\n");
    assert_eq!(
        raw_exchange(&server.addr(), set.as_bytes(), b"\r\n"),
        b"STORED\r\n"
    );

    server.kill();
    server.restart();

    assert_eq!(server.port(), port);
    assert_ne!(server.pid(), old_pid);
    assert!(version(&server.addr()).starts_with(b"VERSION "));
    let get = format!("get {key}\r\n");
    assert_eq!(
        raw_exchange(&server.addr(), get.as_bytes(), b"END\r\n"),
        b"END\r\n"
    );
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
