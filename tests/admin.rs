//! Server-wide commands (`flush_all`, `version`, `stats`, `verbosity`, `quit`) against a real
//! memcached. Tests that flush or read server-wide counters use a private server.

mod support;

use std::thread;
use std::time::{Duration, Instant};

use memcache_sync::{Client, Error, Expiry};
use support::{raw_stats, shared_server, unique_key, Memcached};

fn stat(addr: &str, name: &str) -> u64 {
    raw_stats(addr)[name].parse().unwrap()
}

// ---- flush_all -----------------------------------------------------------------------------

#[test]
fn flush_all_makes_every_item_on_the_server_a_miss() {
    let server = Memcached::start();
    let mut client = Client::connect(&server.addr()).unwrap();
    let keys: Vec<Vec<u8>> = (0..5).map(|_| unique_key("admin:flush:")).collect();
    for key in &keys {
        client.set(key, b"v", 0, Expiry::Never).unwrap();
    }
    client.flush_all().unwrap();
    assert!(client.get_many(&keys).unwrap().is_empty());
    assert_eq!(stat(&server.addr(), "cmd_flush"), 1);
}

#[test]
fn items_stored_after_flush_all_are_kept() {
    let server = Memcached::start();
    let mut client = Client::connect(&server.addr()).unwrap();
    let before = unique_key("admin:before-flush:");
    let after = unique_key("admin:after-flush:");
    client.set(&before, b"old", 0, Expiry::Never).unwrap();
    client.flush_all().unwrap();
    client.set(&after, b"new", 0, Expiry::Never).unwrap();
    assert_eq!(client.get(&before).unwrap(), None);
    assert_eq!(client.get(&after).unwrap().unwrap().value, b"new");
}

#[test]
fn flush_all_after_a_zero_delay_flushes_at_once() {
    let server = Memcached::start();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("admin:flush-zero:");
    client.set(&key, b"v", 0, Expiry::Never).unwrap();
    client.flush_all_after(Duration::ZERO).unwrap();
    assert_eq!(client.get(&key).unwrap(), None);
}

#[test]
fn flush_all_after_two_seconds_keeps_items_at_first_and_drops_them_once_the_delay_passes() {
    let server = Memcached::start();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("admin:flush-later:");
    client.set(&key, b"v", 0, Expiry::Never).unwrap();
    client.flush_all_after(Duration::from_secs(2)).unwrap();
    assert_eq!(client.get(&key).unwrap().unwrap().value, b"v");
    // memcached's clock ticks in whole seconds; allow the delay plus a tick and a margin.
    let started = Instant::now();
    while client.get(&key).unwrap().is_some() {
        assert!(
            started.elapsed() < Duration::from_millis(3500),
            "still present after the flush delay"
        );
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(stat(&server.addr(), "cmd_flush"), 1);
}

#[test]
fn flush_all_after_one_second_does_not_flush_at_once() {
    // Client::flush_all_after promises to invalidate items "once `delay` has passed".
    // memcached (CAS enabled, its default) applies `flush_all N` when its clock reaches
    // now + N - 1, so `flush_all 1` flushes at once.
    let server = Memcached::start();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("admin:flush-1s:");
    client.set(&key, b"v", 0, Expiry::Never).unwrap();
    client.flush_all_after(Duration::from_secs(1)).unwrap();
    assert_eq!(
        client.get(&key).unwrap().map(|item| item.value),
        Some(b"v".to_vec()),
        "flush_all_after(1 s) flushed at once"
    );
}

#[test]
fn flush_all_after_two_seconds_keeps_items_until_the_delay_has_passed() {
    let server = Memcached::start();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("admin:flush-2s-kept:");
    client.set(&key, b"v", 0, Expiry::Never).unwrap();
    let started = Instant::now();
    client.flush_all_after(Duration::from_secs(2)).unwrap();
    thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        client.get(&key).unwrap().map(|item| item.value),
        Some(b"v".to_vec()),
        "flushed {:?} into a 2 s delay",
        started.elapsed()
    );
}

// ---- version / stats -----------------------------------------------------------------------

#[test]
fn version_is_memcached_1_6_and_matches_the_servers_own_stats() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let version = client.version().unwrap();
    assert!(version.starts_with("1.6"), "{version:?}");
    assert_eq!(version, raw_stats(&server.addr())["version"]);
}

#[test]
fn stats_is_a_map_with_the_servers_pid_and_current_connections() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let stats = client.stats().unwrap();
    assert!(stats.len() > 20, "{stats:?}");
    assert_eq!(stats["pid"], raw_stats(&server.addr())["pid"]);
    let connections: u64 = stats["curr_connections"].parse().unwrap();
    assert!(connections >= 1, "this client is connected: {connections}");
    assert!(stats["uptime"].parse::<u64>().is_ok());
}

#[test]
fn stats_of_a_private_server_report_its_pid() {
    let server = Memcached::start();
    let mut client = Client::connect(&server.addr()).unwrap();
    assert_eq!(client.stats().unwrap()["pid"], server.pid().to_string());
}

#[test]
fn stats_settings_reports_the_item_size_limit_the_server_was_started_with() {
    let server = Memcached::start_with(&["-I", "2m"]);
    let mut client = Client::connect(&server.addr()).unwrap();
    let settings = client.stats_group("settings").unwrap();
    assert_eq!(settings["item_size_max"], (2 * 1024 * 1024).to_string());
}

#[test]
fn stats_settings_of_the_shared_server_has_item_size_max() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let settings = client.stats_group("settings").unwrap();
    assert!(settings["item_size_max"].parse::<u64>().unwrap() >= 1024 * 1024);
}

#[test]
fn stats_items_and_slabs_parse_into_per_slab_class_entries() {
    let server = Memcached::start();
    let mut client = Client::connect(&server.addr()).unwrap();
    client
        .set(&unique_key("admin:items:"), b"v", 0, Expiry::Never)
        .unwrap();
    let items = client.stats_group("items").unwrap();
    assert!(!items.is_empty());
    let numbers: u64 = items
        .iter()
        .filter(|(name, _)| name.starts_with("items:") && name.ends_with(":number"))
        .map(|(_, value)| value.parse::<u64>().unwrap())
        .sum();
    assert_eq!(numbers, 1, "{items:?}");

    let slabs = client.stats_group("slabs").unwrap();
    assert_eq!(slabs["active_slabs"], "1", "{slabs:?}");
    assert!(slabs["total_malloced"].parse::<u64>().unwrap() > 0);
    assert!(client.is_connected());
}

#[test]
fn stats_of_a_group_memcached_does_not_know_is_an_unknown_command_and_the_next_call_works() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let error = client.stats_group("no_such_group").unwrap_err();
    assert!(matches!(error, Error::UnknownCommand { .. }), "{error:?}");
    assert!(!client.is_connected(), "ERROR drops the connection");
    assert!(client.version().unwrap().starts_with("1."));
}

// ---- verbosity / quit ----------------------------------------------------------------------

#[test]
fn verbosity_is_accepted_and_the_connection_stays_usable() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    client.verbosity(1).unwrap();
    client.verbosity(0).unwrap();
    assert!(client.is_connected());
    let key = unique_key("admin:verbosity:");
    client.set(&key, b"v", 0, Expiry::Never).unwrap();
    assert_eq!(client.get(&key).unwrap().unwrap().value, b"v");
}

#[test]
fn quit_closes_the_connection_and_the_next_call_opens_a_new_one_that_works() {
    let server = Memcached::start();
    let addr = server.addr();
    let mut client = Client::connect(&addr).unwrap();
    let key = unique_key("admin:quit:");
    client.set(&key, b"v", 0, Expiry::Never).unwrap();

    client.quit().unwrap();
    assert!(!client.is_connected());
    // Each raw_stats opens one connection of its own.
    let opened = stat(&addr, "total_connections");
    assert_eq!(client.get(&key).unwrap().unwrap().value, b"v");
    assert!(client.is_connected());
    assert_eq!(
        stat(&addr, "total_connections"),
        opened + 2,
        "one new connection for the client, one for this stats probe"
    );
}

#[test]
fn quit_when_already_disconnected_is_a_harmless_no_op() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    client.quit().unwrap();
    client.quit().unwrap();
    assert!(!client.is_connected());
    assert!(client.version().unwrap().starts_with("1."));
}

#[test]
fn the_server_closes_its_end_after_quit() {
    let server = Memcached::start();
    let addr = server.addr();
    let mut client = Client::connect(&addr).unwrap();
    client.version().unwrap();
    // The probe's own connection counts too.
    let with_client = stat(&addr, "curr_connections");
    client.quit().unwrap();
    let started = Instant::now();
    while stat(&addr, "curr_connections") != with_client - 1 {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "memcached did not close the client's connection after quit"
        );
        thread::sleep(Duration::from_millis(20));
    }
}
