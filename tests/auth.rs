//! ASCII authentication against real memcached started with `-Y FILE`: the right password,
//! a wrong one, none; a pool under 16 threads whose every connection authenticates exactly
//! once; a cluster that keeps a server with a wrong password up; and the password never
//! stored as an item, nor shown in `Debug` output or error text.

use memcache_sync_test_support as support;

use std::collections::HashMap;
use std::thread;
use std::time::{Duration, Instant};

use memcache_sync::{
    Client, Cluster, Config, Entry, Error, Expiry, HealthConfig, Item, Pool, PoolConfig,
    RetryPolicy,
};
use support::{unique_key, Memcached};

const USER: &str = "app";
const PASSWORD: &str = "pa:ss-w0rd";
/// The auth file, ending with a newline as it must (see `no_final_newline_*`).
const AUTH_FILE: &str = "other:irrelevant\napp:pa:ss-w0rd\n";

fn config() -> Config {
    Config::default()
        .with_connect_timeout(Duration::from_secs(2))
        .with_read_timeout(Duration::from_secs(1))
}

fn authenticated() -> Config {
    config().with_credentials(USER, PASSWORD)
}

fn item(value: &[u8]) -> Option<Item> {
    Some(Item {
        value: value.to_vec(),
        flags: 0,
    })
}

/// The server's counters, read by a client of its own (which authenticates once itself).
fn server_stats(observer: &mut Client) -> HashMap<String, String> {
    observer
        .stats()
        .expect("stats over an authenticated connection")
}

fn counter(stats: &HashMap<String, String>, name: &str) -> u64 {
    stats[name].parse().unwrap()
}

/// Nothing memcached holds contains the password: no item is named after the user, none
/// holds `user password`, and `curr_items` counts only the items the test stored.
fn assert_password_not_stored(observer: &mut Client, items_stored: u64) {
    assert_eq!(observer.get(USER.as_bytes()).unwrap(), None);
    let stats = server_stats(observer);
    assert_eq!(counter(&stats, "curr_items"), items_stored, "{stats:?}");
}

#[test]
fn the_right_password_authenticates_once_and_every_command_then_works() {
    let server = Memcached::start_with_auth_file(AUTH_FILE, &[]);
    let mut client = Client::builder(&server.addr())
        .config(authenticated())
        .connect()
        .unwrap();
    let key = unique_key("auth:right:");
    client.set(&key, b"v", Expiry::Never).unwrap();
    assert_eq!(client.get(&key).unwrap(), item(b"v"));
    assert!(client.touch(&key, Expiry::after_secs(60)).unwrap());
    let keys: Vec<Vec<u8>> = (0..500)
        .map(|i| unique_key(&format!("auth:b{i}:")))
        .collect();
    client
        .set_many(keys.iter().map(|k| Entry::new(k, b"x")))
        .unwrap();
    assert_eq!(client.get_many(&keys).unwrap().len(), keys.len());
    let stats = server_stats(&mut client);
    assert_eq!(counter(&stats, "auth_cmds"), 1, "one authentication, once");
    assert_eq!(counter(&stats, "auth_errors"), 0);

    // A reconnect (after quit) authenticates its new connection, once.
    client.quit().unwrap();
    assert_eq!(client.get(&key).unwrap(), item(b"v"));
    let stats = server_stats(&mut client);
    assert_eq!(counter(&stats, "auth_cmds"), 2);
    assert_password_not_stored(&mut client, 1 + keys.len() as u64);
}

#[test]
fn the_same_over_a_unix_socket() {
    let server = Memcached::start_unix_with_auth_file(AUTH_FILE, &[]);
    let mut client = Client::builder(&server.addr())
        .config(authenticated())
        .connect()
        .unwrap();
    let key = unique_key("auth:unix:");
    client.set(&key, b"v", Expiry::Never).unwrap();
    assert_eq!(client.get(&key).unwrap(), item(b"v"));
    let mut anonymous = Client::builder(&server.addr())
        .config(config())
        .connect()
        .unwrap();
    assert!(matches!(
        anonymous.get(&key),
        Err(Error::AuthenticationRequired)
    ));
}

#[test]
fn a_wrong_password_is_authentication_failed_at_connect_and_the_connection_is_closed() {
    let server = Memcached::start_with_auth_file(AUTH_FILE, &[]);
    let mut observer = Client::builder(&server.addr())
        .config(authenticated())
        .connect()
        .unwrap();
    let before = server_stats(&mut observer);

    let wrong = config().with_credentials(USER, "not-the-password");
    let started = Instant::now();
    let error = Client::builder(&server.addr())
        .config(wrong.clone())
        .connect()
        .unwrap_err();
    assert!(matches!(error, Error::AuthenticationFailed), "{error:?}");
    assert!(started.elapsed() < Duration::from_millis(500));
    assert!(error.is_authentication_error());
    assert!(!error.is_transient() && !error.is_connection_error());
    assert!(!error.is_safe_to_retry(true));
    for shown in [
        error.to_string(),
        format!("{error:?}"),
        format!("{wrong:?}"),
    ] {
        assert!(!shown.contains("not-the-password"), "{shown}");
    }
    assert!(format!("{wrong:?}").contains("Secret(<redacted>)"));

    // An unknown user is refused alike.
    let stranger = config().with_credentials("nobody", PASSWORD);
    let error = Client::builder(&server.addr())
        .config(stranger)
        .connect()
        .unwrap_err();
    assert!(matches!(error, Error::AuthenticationFailed), "{error:?}");

    // Each refused connection was closed, not kept: memcached counts the two attempts, and
    // only the observer's connection is open. Both are waited for: under load `stats` once
    // showed the connections closed but only one of the two refusals counted yet.
    let deadline = Instant::now() + Duration::from_secs(2);
    let after = loop {
        let after = server_stats(&mut observer);
        let settled = counter(&after, "curr_connections") == counter(&before, "curr_connections")
            && counter(&after, "auth_errors") - counter(&before, "auth_errors") >= 2;
        if settled || Instant::now() > deadline {
            break after;
        }
        thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        counter(&after, "curr_connections"),
        counter(&before, "curr_connections")
    );
    assert_eq!(
        counter(&after, "auth_errors") - counter(&before, "auth_errors"),
        2
    );
    assert_password_not_stored(&mut observer, 0);
}

#[test]
fn a_user_name_that_is_not_a_key_is_refused_before_anything_is_sent() {
    let server = Memcached::start_with_auth_file(AUTH_FILE, &[]);
    let config = config().with_credentials("two words", PASSWORD);
    match Client::builder(&server.addr()).config(config).connect() {
        Err(Error::InvalidArgument { what, reason }) => {
            assert_eq!(what, "user name");
            assert!(!reason.contains("two words"), "{reason}");
        }
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

#[test]
fn without_credentials_every_command_is_authentication_required_and_nothing_is_stored() {
    let server = Memcached::start_with_auth_file(AUTH_FILE, &[]);
    let mut client = Client::builder(&server.addr())
        .config(config())
        .connect()
        .unwrap();
    let key = unique_key("auth:none:");
    let required = |result: Result<(), Error>, what: &str| match result {
        Err(ref error @ Error::AuthenticationRequired) => {
            assert!(!error.is_transient() && !error.is_connection_error());
            assert!(
                !error.may_have_reached_server(),
                "memcached carried out nothing"
            );
        }
        other => panic!("{what}: expected AuthenticationRequired, got {other:?}"),
    };
    required(client.get(&key).map(drop), "get");
    // memcached takes a set as an authentication attempt: a value without a space is a
    // malformed token, one with a space a failed attempt. Neither stores anything.
    required(client.set(&key, b"hello", Expiry::Never), "set");
    required(
        client.set(&key, b"hello world", Expiry::Never),
        "set with a space",
    );
    required(client.delete(&key).map(drop), "delete");
    required(client.incr(&key, 1).map(drop), "incr");
    required(client.version().map(drop), "version");
    required(client.stats().map(drop), "stats");
    required(client.get_many(&[&key]).map(drop), "get_many");
    let report = client
        .set_many([Entry::new(&key, b"v")])
        .expect_err("nothing is stored unauthenticated")
        .into_report();
    assert!(
        matches!(report.stop_error(), Some(Error::AuthenticationRequired))
            || report.failures().any(|(_, r)| matches!(
                r,
                memcache_sync::ItemResult::Failed(Error::AuthenticationRequired)
            )),
        "{:?}",
        report.results()
    );

    let mut observer = Client::builder(&server.addr())
        .config(authenticated())
        .connect()
        .unwrap();
    assert_eq!(observer.get(&key).unwrap(), None, "nothing was stored");
    assert_password_not_stored(&mut observer, 0);
}

#[test]
fn credentials_are_never_sent_to_a_server_that_does_not_ask_for_them() {
    // No -Y: a `set app 0 0 …` would be an ordinary store of the password.
    let server = Memcached::start();
    let mut client = Client::builder(&server.addr())
        .config(authenticated())
        .connect()
        .unwrap();
    let key = unique_key("auth:open:");
    client.set(&key, b"v", Expiry::Never).unwrap();
    client.quit().unwrap();
    assert_eq!(client.get(&key).unwrap(), item(b"v"), "after a reconnect");
    let mut anonymous = Client::builder(&server.addr())
        .config(config())
        .connect()
        .unwrap();
    assert_eq!(anonymous.get(USER.as_bytes()).unwrap(), None);
    let stats = anonymous.stats().unwrap();
    assert_eq!(counter(&stats, "curr_items"), 1, "only the test's item");
    assert_eq!(
        counter(&stats, "cmd_set"),
        1,
        "the credentials were never a set"
    );
}

#[test]
fn a_pool_under_sixteen_threads_authenticates_each_connection_exactly_once() {
    let server = Memcached::start_with_auth_file(AUTH_FILE, &[]);
    let mut observer = Client::builder(&server.addr())
        .config(authenticated())
        .connect()
        .unwrap();
    let before = server_stats(&mut observer);
    let pool = Pool::builder(&server.addr())
        .config(authenticated())
        .pool(
            PoolConfig::default()
                .with_max_size(8)
                .with_checkout_timeout(Duration::from_secs(5)),
        )
        .build();
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let pool = pool.clone();
            thread::spawn(move || {
                for i in 0..40 {
                    let key = format!("auth:pool:{t}:{i}");
                    let mut client = pool.get().unwrap();
                    client.set(key.as_bytes(), b"v", Expiry::Never).unwrap();
                    assert_eq!(client.get(key.as_bytes()).unwrap(), item(b"v"));
                    // Now and then a connection ends, so the pool opens new ones throughout.
                    if i % 10 == 9 {
                        client.quit().unwrap();
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let after = server_stats(&mut observer);
    let opened = counter(&after, "total_connections") - counter(&before, "total_connections");
    let authentications = counter(&after, "auth_cmds") - counter(&before, "auth_cmds");
    assert!(opened > 8, "the quits made the pool reconnect: {opened}");
    assert_eq!(
        authentications, opened,
        "each connection authenticated exactly once"
    );
    assert_eq!(counter(&after, "auth_errors"), 0);
    assert_password_not_stored(&mut observer, 16 * 40);
}

#[test]
fn a_cluster_keeps_a_server_with_a_wrong_password_up_and_does_not_retry_it() {
    let server = Memcached::start_with_auth_file(AUTH_FILE, &[]);
    let mut observer = Client::builder(&server.addr())
        .config(authenticated())
        .connect()
        .unwrap();
    let before = server_stats(&mut observer);
    let cluster = Cluster::builder([server.addr()])
        .config(config().with_credentials(USER, "wrong"))
        .health(HealthConfig::default().with_failure_threshold(1))
        .retry(RetryPolicy::attempts(3))
        .build()
        .unwrap();
    for _ in 0..5 {
        match cluster.get(b"auth:cluster") {
            Err(Error::AuthenticationFailed) => {}
            other => panic!("expected AuthenticationFailed, not ServerDown: {other:?}"),
        }
        assert!(!cluster.is_down(0), "a wrong password is no outage");
    }
    let after = server_stats(&mut observer);
    assert_eq!(
        counter(&after, "auth_errors") - counter(&before, "auth_errors"),
        5,
        "one attempt per call: no retry storm"
    );

    // Without credentials: the same, AuthenticationRequired, and the server stays up.
    let anonymous = Cluster::builder([server.addr()])
        .config(config())
        .health(HealthConfig::default().with_failure_threshold(1))
        .retry(RetryPolicy::attempts(3))
        .build()
        .unwrap();
    for _ in 0..3 {
        assert!(matches!(
            anonymous.set(b"auth:cluster", b"v", Expiry::Never),
            Err(Error::AuthenticationRequired)
        ));
        assert!(!anonymous.is_down(0));
    }
    assert_password_not_stored(&mut observer, 0);
}

#[test]
fn no_final_newline_in_the_auth_file_loses_the_last_character_of_the_password() {
    // As memcached 1.6.18 reads it; the crate's docs warn of this.
    let server = Memcached::start_with_auth_file("app:secret", &[]);
    let whole = config().with_credentials(USER, "secret");
    assert!(matches!(
        Client::builder(&server.addr()).config(whole).connect(),
        Err(Error::AuthenticationFailed)
    ));
    let cut = config().with_credentials(USER, "secre");
    let mut client = Client::builder(&server.addr())
        .config(cut)
        .connect()
        .unwrap();
    assert!(client.version().is_ok());
}

#[test]
fn the_meta_commands_and_a_lock_work_after_authentication() {
    let server = Memcached::start_with_auth_file(AUTH_FILE, &[]);
    let mut client = Client::builder(&server.addr())
        .config(authenticated())
        .connect()
        .unwrap();
    support::exercise_meta_commands(&mut client);
}
