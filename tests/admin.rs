//! Server-wide commands (`flush_all`, `version`, `stats`, `verbosity`, `quit`) against a real
//! memcached. Tests that flush or read server-wide counters use a private server.

use memcache_sync_test_support as support;

use std::collections::HashMap;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use memcache_sync::{CachedumpItem, Client, Error, Expiry, PrefixStats};
use support::{raw_exchange, raw_stats, shared_server, unique_key, Memcached};

fn stat(addr: &str, name: &str) -> u64 {
    raw_stats(addr)[name].parse().unwrap()
}

/// `curr_connections` once two probes 20 ms apart agree: each probe is a connection of its own,
/// which memcached closes a moment after the probe ends.
fn steady_connections(addr: &str) -> u64 {
    let started = Instant::now();
    let mut last = stat(addr, "curr_connections");
    loop {
        thread::sleep(Duration::from_millis(20));
        let now = stat(addr, "curr_connections");
        if now == last || started.elapsed() > Duration::from_secs(2) {
            return now;
        }
        last = now;
    }
}

/// `stats settings` read over a plain TcpStream, independent of the client under test.
fn raw_setting(addr: &str, name: &str) -> String {
    let reply = raw_exchange(addr, b"stats settings\r\n", b"END\r\n");
    let text = String::from_utf8_lossy(&reply).into_owned();
    let prefix = format!("STAT {name} ");
    text.split("\r\n")
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {name} in {text:?}"))
        .to_string()
}

/// Runs `call` and then a `version` on `client`, and asserts that neither needed a new
/// connection: memcached answers stats commands in step, so nothing may drop it. (Each
/// `total_connections` probe opens one connection of its own.)
fn assert_keeps_its_connection<R>(
    addr: &str,
    client: &mut Client,
    call: impl FnOnce(&mut Client) -> R,
) -> R {
    // A round trip first: memcached counts a connection when it accepts it, which can come
    // after the client's connect has returned.
    assert!(client.version().unwrap().starts_with("1."));
    let opened = stat(addr, "total_connections");
    let result = call(client);
    assert!(client.is_connected(), "the call dropped the connection");
    assert!(client.version().unwrap().starts_with("1."));
    assert_eq!(
        stat(addr, "total_connections"),
        opened + 1,
        "the client opened a new connection"
    );
    result
}

/// The slab classes holding items, from `stats items` (`items:<class>:number`).
fn classes_in_use(client: &mut Client) -> Vec<u32> {
    let mut classes: Vec<u32> = client
        .stats_group("items")
        .unwrap()
        .iter()
        .filter(|(name, value)| name.ends_with(":number") && *value != "0")
        .map(|(name, _)| name.split(':').nth(1).unwrap().parse().unwrap())
        .collect();
    classes.sort_unstable();
    classes.dedup();
    classes
}

fn sorted(mut prefixes: Vec<PrefixStats>) -> Vec<PrefixStats> {
    prefixes.sort_by(|a, b| a.prefix.cmp(&b.prefix));
    prefixes
}

fn prefix(prefix: &str, [gets, hits, sets, deletes]: [u64; 4]) -> PrefixStats {
    PrefixStats {
        prefix: prefix.as_bytes().to_vec(),
        gets,
        hits,
        sets,
        deletes,
    }
}

// ---- flush_all -----------------------------------------------------------------------------

#[test]
fn flush_all_makes_every_item_on_the_server_a_miss() {
    let server = Memcached::start();
    let mut client = Client::connect(&server.addr()).unwrap();
    let keys: Vec<Vec<u8>> = (0..5).map(|_| unique_key("admin:flush:")).collect();
    for key in &keys {
        client.set(key, b"v", Expiry::Never).unwrap();
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
    client.set(&before, b"old", Expiry::Never).unwrap();
    client.flush_all().unwrap();
    client.set(&after, b"new", Expiry::Never).unwrap();
    assert_eq!(client.get(&before).unwrap(), None);
    assert_eq!(client.get(&after).unwrap().unwrap().value, b"new");
}

#[test]
fn flush_all_after_a_zero_delay_flushes_at_once() {
    let server = Memcached::start();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("admin:flush-zero:");
    client.set(&key, b"v", Expiry::Never).unwrap();
    client.flush_all_after(Duration::ZERO).unwrap();
    assert_eq!(client.get(&key).unwrap(), None);
}

#[test]
fn flush_all_after_two_seconds_keeps_items_at_first_and_drops_them_once_the_delay_passes() {
    let server = Memcached::start();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("admin:flush-later:");
    client.set(&key, b"v", Expiry::Never).unwrap();
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
    client.set(&key, b"v", Expiry::Never).unwrap();
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
    client.set(&key, b"v", Expiry::Never).unwrap();
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
        .set(unique_key("admin:items:"), b"v", Expiry::Never)
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

#[test]
fn stats_group_reads_every_stat_shaped_group_memcached_1_6_answers() {
    let server = Memcached::start();
    let mut client = Client::connect(&server.addr()).unwrap();
    client
        .set(unique_key("admin:groups:"), b"v", Expiry::Never)
        .unwrap();
    type Check = fn(&HashMap<String, String>) -> bool;
    let groups: [(&str, Check); 6] = [
        ("settings", |m| m["detail_enabled"] == "no"),
        ("items", |m| m.keys().any(|k| k.ends_with(":number"))),
        ("slabs", |m| m.contains_key("active_slabs")),
        // Size tracking is off unless memcached was started with -o track_sizes.
        ("sizes", |m| m.len() == 1 && m["sizes_status"] == "disabled"),
        ("conns", |m| m.keys().any(|k| k.ends_with(":state"))),
        // Built with extstore, run without it: END alone.
        ("extstore", HashMap::is_empty),
    ];
    for (group, check) in groups {
        let stats = assert_keeps_its_connection(&server.addr(), &mut client, |client| {
            client.stats_group(group).unwrap()
        });
        assert!(check(&stats), "stats {group}: {stats:?}");
    }
}

#[test]
fn stats_sizes_under_track_sizes_is_a_histogram_by_32_byte_bucket() {
    let server = Memcached::start_with(&["-o", "track_sizes"]);
    let mut client = Client::connect(&server.addr()).unwrap();
    client
        .set(unique_key("admin:sizes:"), [b'x'; 1000], Expiry::Never)
        .unwrap();
    let sizes = client.stats_group("sizes").unwrap();
    assert_eq!(
        sizes
            .values()
            .map(|n| n.parse::<u64>().unwrap())
            .sum::<u64>(),
        1
    );
    for bucket in sizes.keys() {
        assert_eq!(bucket.parse::<u64>().unwrap() % 32, 0, "{sizes:?}");
    }
}

#[test]
fn stats_extstore_on_a_server_with_extstore_lists_its_pages() {
    let path = std::env::temp_dir().join(format!(
        "memcache-sync-extstore-{}",
        String::from_utf8(unique_key("")).unwrap()
    ));
    let ext_path = format!("ext_path={}:64m", path.display());
    let server = Memcached::start_with(&["-o", &ext_path]);
    let mut client = Client::connect(&server.addr()).unwrap();
    let stats = client.stats_group("extstore");
    drop(server);
    let _ = std::fs::remove_file(&path);
    let stats = stats.unwrap();
    assert!(stats.contains_key("0:version"), "{stats:?}");
}

#[test]
fn stats_group_refuses_every_argument_not_answered_with_stat_lines_and_sends_nothing() {
    // stats_group used to send these and misread what memcached did: RESET and OK became
    // protocol errors (transient, inviting a retry), sizes_enable waited out the read timeout.
    let server = Memcached::start();
    let addr = server.addr();
    let mut client = Client::connect(&addr).unwrap();
    client.get(b"admin:refused:miss").unwrap();
    let cases = [
        ("reset", "stats_reset"),
        ("reset all", "stats_reset"),
        ("detail on", "stats_detail"),
        ("detail off", "stats_detail"),
        ("detail dump", "stats_detail_dump"),
        ("detail", "stats_detail"),
        ("cachedump 1 10", "stats_cachedump"),
        ("cachedump", "stats_cachedump"),
        ("sizes_enable", "track_sizes"),
        ("sizes_disable", "track_sizes"),
    ];
    for (group, instead) in cases {
        let error = assert_keeps_its_connection(&addr, &mut client, |client| {
            client.stats_group(group).unwrap_err()
        });
        let Error::InvalidArgument { what, reason } = &error else {
            panic!("stats {group}: {error:?}");
        };
        assert_eq!(*what, "stats group");
        assert!(reason.contains(instead), "stats {group}: {reason}");
        assert!(!error.may_have_reached_server() && !error.is_transient());
    }
    // Nothing reached memcached: the counters were not reset, detail and size tracking are off.
    assert_eq!(stat(&addr, "get_misses"), 1);
    assert_eq!(raw_setting(&addr, "detail_enabled"), "no");
    assert_eq!(
        client.stats_group("sizes").unwrap()["sizes_status"],
        "disabled"
    );
}

// ---- stats reset -----------------------------------------------------------------------

#[test]
fn stats_reset_answers_reset_and_zeroes_the_counters_on_the_same_connection() {
    let server = Memcached::start();
    let addr = server.addr();
    let mut client = Client::connect(&addr).unwrap();
    let key = unique_key("admin:reset:");
    client.set(&key, b"v", Expiry::Never).unwrap();
    client.get(&key).unwrap();
    client.get(b"admin:reset:miss").unwrap();
    assert_eq!(stat(&addr, "get_hits"), 1);

    client.stats_reset().unwrap();
    assert!(client.is_connected());
    assert_eq!(client.get(&key).unwrap().unwrap().value, b"v");
    let stats = raw_stats(&addr);
    assert_eq!(stats["get_misses"], "0");
    assert_eq!(stats["cmd_set"], "0");
    assert_eq!(stats["get_hits"], "1", "only the get after the reset");
    // total_connections restarts from zero too: this probe is the only connection opened
    // since, so the client kept its own.
    assert_eq!(stats["total_connections"], "1");
    // Gauges are not counters.
    assert_eq!(stats["curr_items"], "1");
}

#[test]
fn stats_reset_clears_the_detail_prefix_counters() {
    let server = Memcached::start();
    let mut client = Client::connect(&server.addr()).unwrap();
    client.stats_detail(true).unwrap();
    client.get(b"admin-reset-detail:k").unwrap();
    assert_eq!(client.stats_detail_dump().unwrap().len(), 1);
    client.stats_reset().unwrap();
    assert_eq!(client.stats_detail_dump().unwrap(), vec![]);
}

// ---- stats detail ----------------------------------------------------------------------

#[test]
fn stats_detail_on_and_off_answer_ok_and_switch_detail_enabled() {
    let server = Memcached::start();
    let addr = server.addr();
    let mut client = Client::connect(&addr).unwrap();
    assert_keeps_its_connection(&addr, &mut client, |client| client.stats_detail(true)).unwrap();
    assert_eq!(raw_setting(&addr, "detail_enabled"), "yes");
    assert_keeps_its_connection(&addr, &mut client, |client| client.stats_detail(false)).unwrap();
    assert_eq!(raw_setting(&addr, "detail_enabled"), "no");
}

#[test]
fn stats_detail_dump_counts_gets_hits_sets_and_deletes_per_key_prefix() {
    let server = Memcached::start();
    let addr = server.addr();
    let mut client = Client::connect(&addr).unwrap();
    client.stats_detail(true).unwrap();
    client.set(b"users:1", b"a", Expiry::Never).unwrap();
    client.get(b"users:1").unwrap();
    client.get(b"users:1").unwrap();
    client.get(b"users:2").unwrap();
    assert!(client.delete(b"users:1").unwrap());
    client.set(b"pages:home", b"b", Expiry::Never).unwrap();
    client.get(b":leading-delimiter").unwrap();
    client.set(b"no-delimiter", b"c", Expiry::Never).unwrap();

    let dump = assert_keeps_its_connection(&addr, &mut client, |client| {
        client.stats_detail_dump().unwrap()
    });
    assert_eq!(
        sorted(dump),
        vec![
            prefix("", [1, 0, 0, 0]),
            prefix("pages", [0, 0, 1, 0]),
            prefix("users", [3, 2, 1, 1]),
        ]
    );
}

#[test]
fn stats_detail_dump_is_empty_until_detail_is_on_and_keeps_its_counts_once_off() {
    let server = Memcached::start();
    let mut client = Client::connect(&server.addr()).unwrap();
    client.set(b"early:k", b"v", Expiry::Never).unwrap();
    assert_eq!(client.stats_detail_dump().unwrap(), vec![]);

    client.stats_detail(true).unwrap();
    client.set(b"counted:k", b"v", Expiry::Never).unwrap();
    client.stats_detail(false).unwrap();
    client.set(b"counted:k", b"v", Expiry::Never).unwrap();
    client.set(b"late:k", b"v", Expiry::Never).unwrap();
    assert_eq!(
        client.stats_detail_dump().unwrap(),
        vec![prefix("counted", [0, 0, 1, 0])]
    );
}

// ---- stats cachedump -------------------------------------------------------------------

#[test]
fn stats_cachedump_lists_each_items_key_size_and_expiry_time() {
    // Without the LRU maintainer every item goes straight to the COLD LRU that cachedump lists.
    let server = Memcached::start_with(&["-o", "no_lru_maintainer"]);
    let addr = server.addr();
    let mut client = Client::connect(&addr).unwrap();
    client.set(b"forever", b"hello", Expiry::Never).unwrap();
    let stored_at = SystemTime::now();
    client
        .set(b"for-a-while", b"0123456789", Expiry::after_secs(100))
        .unwrap();
    let classes = classes_in_use(&mut client);
    assert_eq!(classes.len(), 1, "both items are small: {classes:?}");

    let mut items = assert_keeps_its_connection(&addr, &mut client, |client| {
        client.stats_cachedump(classes[0], 0).unwrap()
    });
    items.sort_by(|a, b| a.key.cmp(&b.key));
    let [for_a_while, forever] = &items[..] else {
        panic!("{items:?}");
    };
    assert_eq!(
        *forever,
        CachedumpItem {
            key: b"forever".to_vec(),
            size: 5,
            expires: None
        }
    );
    assert_eq!(
        (&for_a_while.key[..], for_a_while.size),
        (&b"for-a-while"[..], 10)
    );
    // memcached keeps time in whole seconds, on a clock that starts a little behind.
    let expires = for_a_while.expires.expect("stored with an expiry");
    let expected = stored_at + Duration::from_secs(100);
    let off = expires
        .duration_since(expected)
        .unwrap_or_else(|e| e.duration());
    assert!(off <= Duration::from_secs(5), "{expires:?} vs {expected:?}");
}

#[test]
fn stats_cachedump_lists_no_more_than_the_limit() {
    let server = Memcached::start_with(&["-o", "no_lru_maintainer"]);
    let mut client = Client::connect(&server.addr()).unwrap();
    for i in 0..5 {
        client
            .set(format!("limit:{i}").as_bytes(), b"v", Expiry::Never)
            .unwrap();
    }
    let class = classes_in_use(&mut client)[0];
    assert_eq!(client.stats_cachedump(class, 2).unwrap().len(), 2);
    assert_eq!(client.stats_cachedump(class, 0).unwrap().len(), 5);
}

#[test]
fn stats_cachedump_finds_a_new_item_under_default_settings() {
    // By default an item starts in the HOT LRU; memcached moves it to COLD within moments.
    let server = Memcached::start();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("admin:cachedump:");
    client.set(&key, b"v", Expiry::Never).unwrap();
    let class = classes_in_use(&mut client)[0];
    let started = Instant::now();
    while !client
        .stats_cachedump(class, 0)
        .unwrap()
        .iter()
        .any(|item| item.key == key)
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "cachedump never listed the item"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn stats_cachedump_of_an_empty_class_is_an_empty_list() {
    let server = Memcached::start();
    let mut client = Client::connect(&server.addr()).unwrap();
    let items = assert_keeps_its_connection(&server.addr(), &mut client, |client| {
        client.stats_cachedump(5, 10).unwrap()
    });
    assert_eq!(items, vec![]);
}

#[test]
fn stats_cachedump_of_a_class_memcached_cannot_have_is_a_client_error_and_the_next_call_works() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let error = client.stats_cachedump(64, 1).unwrap_err();
    assert!(
        matches!(&error, Error::ClientError { message } if message == "Illegal slab id"),
        "{error:?}"
    );
    assert!(!error.is_transient());
    assert!(client.version().unwrap().starts_with("1."));
}

#[test]
fn stats_cachedump_on_a_server_started_with_dumping_disabled_is_a_client_error() {
    let server = Memcached::start_with(&["-X"]);
    let mut client = Client::connect(&server.addr()).unwrap();
    let error = client.stats_cachedump(1, 1).unwrap_err();
    assert!(
        matches!(&error, Error::ClientError { message } if message.contains("not allowed")),
        "{error:?}"
    );
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
    client.set(&key, b"v", Expiry::Never).unwrap();
    assert_eq!(client.get(&key).unwrap().unwrap().value, b"v");
}

#[test]
fn quit_closes_the_connection_and_the_next_call_opens_a_new_one_that_works() {
    let server = Memcached::start();
    let addr = server.addr();
    let mut client = Client::connect(&addr).unwrap();
    let key = unique_key("admin:quit:");
    client.set(&key, b"v", Expiry::Never).unwrap();

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
    // The probe's own connection counts too, and an earlier probe's (or the harness's) may
    // not be closed yet on a loaded machine: counted only once two probes agree.
    let with_client = steady_connections(&addr);
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
