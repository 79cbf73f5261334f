//! Storage commands (`set`, `add`, `replace`, `append`, `prepend`, `cas`), `delete` and
//! `touch`, the values and flags they carry, value size limits and expiration times, all
//! against a real memcached.

use memcache_sync_test_support as support;

use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use memcache_sync::{CasOutcome, Client, Config, Error, Expiry, StoreOptions, StoreOutcome};
use support::expiry::{assert_gone_within, next_clock_tick};
use support::{item, shared_server, unique_key, Memcached};

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

// ---- set / add / replace -------------------------------------------------------------------

#[test]
fn set_then_get_returns_the_value_and_its_flags() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("storage:set:");
    client
        .set(&key, b"hello", StoreOptions::new().flags(42))
        .unwrap();
    assert_eq!(client.get(&key).unwrap(), item(b"hello", 42));
}

#[test]
fn set_overwrites_the_previous_value_and_flags() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("storage:overwrite:");
    client
        .set(&key, b"first", StoreOptions::new().flags(1))
        .unwrap();
    client
        .set(&key, b"second", StoreOptions::new().flags(2))
        .unwrap();
    assert_eq!(client.get(&key).unwrap(), item(b"second", 2));
}

#[test]
fn add_on_a_missing_key_stores_it() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("storage:add-new:");
    assert_eq!(
        client
            .add(&key, b"mine", StoreOptions::new().flags(5))
            .unwrap(),
        StoreOutcome::Stored
    );
    assert_eq!(client.get(&key).unwrap(), item(b"mine", 5));
}

#[test]
fn add_on_an_existing_key_reports_not_stored_and_keeps_the_old_value() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("storage:add-existing:");
    client
        .set(&key, b"old", StoreOptions::new().flags(1))
        .unwrap();
    let outcome = client
        .add(&key, b"new", StoreOptions::new().flags(2))
        .unwrap();
    assert_eq!(outcome, StoreOutcome::NotStored);
    assert!(!outcome.is_stored());
    assert_eq!(client.get(&key).unwrap(), item(b"old", 1));
}

#[test]
fn replace_on_a_missing_key_reports_not_stored_and_creates_nothing() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("storage:replace-missing:");
    assert_eq!(
        client.replace(&key, b"v", Expiry::Never).unwrap(),
        StoreOutcome::NotStored
    );
    assert_eq!(client.get(&key).unwrap(), None);
}

#[test]
fn replace_on_an_existing_key_stores_the_new_value_and_flags() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("storage:replace-existing:");
    client
        .set(&key, b"old", StoreOptions::new().flags(1))
        .unwrap();
    let outcome = client
        .replace(&key, b"new", StoreOptions::new().flags(9))
        .unwrap();
    assert!(outcome.is_stored());
    assert_eq!(client.get(&key).unwrap(), item(b"new", 9));
}

// ---- append / prepend ----------------------------------------------------------------------

#[test]
fn append_on_a_missing_key_reports_not_stored_and_creates_nothing() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("storage:append-missing:");
    assert_eq!(
        client.append(&key, b"tail").unwrap(),
        StoreOutcome::NotStored
    );
    assert_eq!(client.get(&key).unwrap(), None);
}

#[test]
fn prepend_on_a_missing_key_reports_not_stored_and_creates_nothing() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("storage:prepend-missing:");
    assert_eq!(
        client.prepend(&key, b"head").unwrap(),
        StoreOutcome::NotStored
    );
    assert_eq!(client.get(&key).unwrap(), None);
}

#[test]
fn append_and_prepend_concatenate_onto_an_existing_value_and_keep_its_flags() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("storage:concat:");
    client
        .set(&key, b"middle", StoreOptions::new().flags(77))
        .unwrap();
    assert_eq!(client.append(&key, b"-end").unwrap(), StoreOutcome::Stored);
    assert_eq!(
        client.prepend(&key, b"start-").unwrap(),
        StoreOutcome::Stored
    );
    // append/prepend send flags 0; memcached keeps the item's own flags.
    assert_eq!(client.get(&key).unwrap(), item(b"start-middle-end", 77));
}

#[test]
fn append_of_binary_bytes_keeps_every_byte() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("storage:append-binary:");
    client.set(&key, b"a\r\n", Expiry::Never).unwrap();
    assert!(client.append(&key, b"\0END\r\n").unwrap().is_stored());
    assert_eq!(client.get(&key).unwrap(), item(b"a\r\n\0END\r\n", 0));
}

// ---- cas -----------------------------------------------------------------------------------

#[test]
fn cas_with_an_unchanged_token_stores_the_new_value() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("storage:cas-ok:");
    client
        .set(&key, b"v1", StoreOptions::new().flags(3))
        .unwrap();
    let (_, token) = client.gets(&key).unwrap().expect("just stored");
    assert_eq!(
        client
            .cas(&key, b"v2", token, StoreOptions::new().flags(4))
            .unwrap(),
        CasOutcome::Stored
    );
    assert_eq!(client.get(&key).unwrap(), item(b"v2", 4));
    // The write gave the item a new version stamp.
    let (_, after) = client.gets(&key).unwrap().unwrap();
    assert_ne!(after, token);
}

#[test]
fn cas_after_another_clients_write_reports_exists_and_keeps_that_write() {
    let server = shared_server();
    let mut reader = Client::connect(&server.addr()).unwrap();
    let mut writer = Client::connect(&server.addr()).unwrap();
    let key = unique_key("storage:cas-conflict:");
    reader.set(&key, b"v1", Expiry::Never).unwrap();
    let (_, token) = reader.gets(&key).unwrap().unwrap();
    writer
        .set(&key, b"theirs", StoreOptions::new().flags(8))
        .unwrap();
    assert_eq!(
        reader.cas(&key, b"mine", token, Expiry::Never).unwrap(),
        CasOutcome::Exists
    );
    assert_eq!(reader.get(&key).unwrap(), item(b"theirs", 8));
}

#[test]
fn cas_on_a_deleted_key_reports_not_found_and_creates_nothing() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("storage:cas-missing:");
    client.set(&key, b"v1", Expiry::Never).unwrap();
    let (_, token) = client.gets(&key).unwrap().unwrap();
    assert!(client.delete(&key).unwrap());
    assert_eq!(
        client.cas(&key, b"v2", token, Expiry::Never).unwrap(),
        CasOutcome::NotFound
    );
    assert_eq!(client.get(&key).unwrap(), None);
}

// ---- delete / touch ------------------------------------------------------------------------

#[test]
fn delete_returns_true_for_a_stored_key_and_false_once_it_is_gone() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("storage:delete:");
    client.set(&key, b"x", Expiry::Never).unwrap();
    assert!(client.delete(&key).unwrap());
    assert_eq!(client.get(&key).unwrap(), None);
    assert!(!client.delete(&key).unwrap());
}

#[test]
fn touch_returns_true_for_a_stored_key_and_false_for_a_missing_one() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("storage:touch:");
    client
        .set(&key, b"x", StoreOptions::new().flags(6))
        .unwrap();
    assert!(client.touch(&key, Expiry::after_secs(300)).unwrap());
    assert_eq!(client.get(&key).unwrap(), item(b"x", 6));
    let missing = unique_key("storage:touch-missing:");
    assert!(!client.touch(&missing, Expiry::after_secs(300)).unwrap());
    assert_eq!(client.get(&missing).unwrap(), None);
}

#[test]
fn touch_with_a_one_second_expiry_makes_a_never_expiring_item_expire() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("storage:touch-expire:");
    client.set(&key, b"x", Expiry::Never).unwrap();
    assert!(client.touch(&key, Expiry::after_secs(1)).unwrap());
    assert_gone_within(&mut client, &key, Duration::from_millis(2500));
}

// ---- values and flags ----------------------------------------------------------------------

#[test]
fn an_empty_value_round_trips_as_a_hit_not_a_miss() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("storage:empty:");
    client
        .set(&key, b"", StoreOptions::new().flags(12))
        .unwrap();
    assert_eq!(client.get(&key).unwrap(), item(b"", 12));
}

#[test]
fn a_binary_value_with_protocol_lookalikes_and_every_byte_round_trips_exactly() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("storage:binary:");
    let mut value = b"\r\nEND\r\nVALUE k 0 1\r\n\0STORED\r\n".to_vec();
    value.extend(0..=255u8);
    value.extend_from_slice(b"END\r\n");
    client.set(&key, &value, Expiry::Never).unwrap();
    assert_eq!(client.get(&key).unwrap(), item(&value, 0));
    // The connection stayed in step: the next command gets its own reply.
    assert_eq!(
        client.get(unique_key("storage:binary-miss:")).unwrap(),
        None
    );
}

#[test]
fn flags_u32_max_and_zero_round_trip() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    for flags in [u32::MAX, 0] {
        let key = unique_key("storage:flags:");
        client
            .set(&key, b"f", StoreOptions::new().flags(flags))
            .unwrap();
        assert_eq!(
            client.get(&key).unwrap(),
            item(b"f", flags),
            "flags {flags}"
        );
    }
}

// ---- value size limits ---------------------------------------------------------------------

#[test]
fn a_value_of_exactly_the_default_max_value_size_round_trips_on_a_server_with_2m_items() {
    let server = Memcached::start_with(&["-I", "2m"]);
    let mut client = Client::connect(&server.addr()).unwrap();
    assert_eq!(client.config().max_value_size(), MIB);
    let key = unique_key("storage:max:");
    let value: Vec<u8> = (0..MIB).map(|i| (i % 251) as u8).collect();
    client
        .set(&key, &value, StoreOptions::new().flags(1))
        .unwrap();
    let got = client.get(&key).unwrap().expect("stored");
    assert_eq!(got.value.len(), MIB);
    assert!(got.value == value, "the 1 MiB value came back changed");
}

#[test]
fn a_value_one_byte_over_the_default_max_value_size_is_refused_with_its_length_and_limit() {
    let server = Memcached::start_with(&["-I", "2m"]);
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("storage:over-max:");
    client.set(&key, b"before", Expiry::Never).unwrap();
    let error = client
        .set(&key, vec![b'x'; MIB + 1], Expiry::Never)
        .unwrap_err();
    assert!(
        matches!(error, Error::ValueTooLarge { len, limit } if len == MIB + 1 && limit == MIB),
        "{error:?}"
    );
    assert!(error.is_invalid_input() && !error.may_have_reached_server());
    // Refused before sending: the old value is untouched and the connection is kept.
    assert!(client.is_connected());
    assert_eq!(client.get(&key).unwrap(), item(b"before", 0));
}

#[test]
fn with_a_512k_max_value_size_512k_round_trips_and_one_byte_more_is_refused() {
    let server = shared_server();
    let config = Config::default().with_max_value_size(512 * KIB);
    let mut client = Client::builder(&server.addr())
        .config(config)
        .connect()
        .unwrap();
    let key = unique_key("storage:512k:");
    let value: Vec<u8> = (0..512 * KIB).map(|i| (i % 253) as u8).collect();
    client.set(&key, &value, Expiry::Never).unwrap();
    assert!(client.get(&key).unwrap().expect("stored").value == value);

    let error = client
        .set(&key, vec![0u8; 512 * KIB + 1], Expiry::Never)
        .unwrap_err();
    assert!(
        matches!(error, Error::ValueTooLarge { len, limit } if len == 512 * KIB + 1 && limit == 512 * KIB),
        "{error:?}"
    );
    assert!(client.get(&key).unwrap().expect("kept").value == value);
}

#[test]
fn a_value_over_the_servers_item_limit_is_a_server_error_and_the_connection_is_kept() {
    let server = Memcached::start_with(&["-I", "1m"]);
    let config = Config::default().with_max_value_size(2 * MIB);
    let mut client = Client::builder(&server.addr())
        .config(config)
        .connect()
        .unwrap();
    let key = unique_key("storage:server-too-large:");
    let error = client
        .set(&key, vec![b'z'; 3 * MIB / 2], Expiry::Never)
        .unwrap_err();
    assert!(matches!(error, Error::ServerError { .. }), "{error:?}");
    assert!(error.is_item_too_large(), "{error:?}");
    assert!(!error.is_transient() && !error.is_out_of_memory());
    assert!(
        client.is_connected(),
        "a SERVER_ERROR must keep the connection"
    );
    // The next command on the same connection gets its own reply.
    client.set(&key, b"small", Expiry::Never).unwrap();
    assert_eq!(client.get(&key).unwrap(), item(b"small", 0));
    assert!(client.is_connected());
}

#[test]
fn a_set_refused_as_too_large_by_the_server_deletes_the_keys_previous_value() {
    let server = Memcached::start_with(&["-I", "1m"]);
    let config = Config::default().with_max_value_size(2 * MIB);
    let mut client = Client::builder(&server.addr())
        .config(config)
        .connect()
        .unwrap();
    let key = unique_key("storage:too-large-deletes:");
    client.set(&key, b"small", Expiry::Never).unwrap();
    let error = client
        .set(&key, vec![b'z'; 3 * MIB / 2], Expiry::Never)
        .unwrap_err();
    assert!(error.is_item_too_large(), "{error:?}");
    // Documented on Client::set: memcached 1.6 unlinks the old item when it refuses a set.
    assert_eq!(client.get(&key).unwrap(), None);
}

// ---- expiration ----------------------------------------------------------------------------

#[test]
fn an_item_set_with_a_one_second_expiry_is_present_at_once_and_gone_within_2_5_seconds() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("storage:expire-1s:");
    client.set(&key, b"brief", Expiry::after_secs(1)).unwrap();
    assert_eq!(client.get(&key).unwrap(), item(b"brief", 0));
    assert_gone_within(&mut client, &key, Duration::from_millis(2500));
}

#[test]
fn an_item_set_with_a_zero_duration_expiry_is_already_expired() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("storage:expire-zero:");
    client
        .set(&key, b"v", Expiry::After(Duration::ZERO))
        .unwrap();
    assert_eq!(client.get(&key).unwrap(), None);
}

#[test]
fn an_item_set_to_expire_at_a_moment_two_seconds_ahead_expires() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("storage:expire-at:");
    let at = SystemTime::now() + Duration::from_secs(2);
    client.set(&key, b"v", Expiry::At(at)).unwrap();
    assert_eq!(client.get(&key).unwrap(), item(b"v", 0));
    // Rounding the moment up to a whole second (so that it is never early) can add up to a
    // second, and memcached's clock, which steps once a second, up to another.
    assert_gone_within(&mut client, &key, Duration::from_millis(4500));
}

#[test]
fn an_item_set_to_expire_at_a_moment_with_a_fraction_of_a_second_is_still_there_just_before_it() {
    // The moment is taken from memcached's own clock, pinned to one of its steps, so that the
    // test does not depend on how this machine's clock and the server's agree: the item is
    // asked for 0.3 s before the moment, and must be there. Rounding the moment down instead
    // of up makes it go 0.5 s early, before the question.
    let server = shared_server();
    let addr = server.addr();
    let mut client = Client::connect(&addr).unwrap();
    for attempt in 0..3 {
        let key = unique_key("storage:expire-at-fraction:");
        let tick = next_clock_tick(&addr, Duration::from_millis(100));
        let moment = UNIX_EPOCH + Duration::from_secs(tick.unix) + Duration::from_millis(1500);
        client.set(&key, b"v", Expiry::At(moment)).unwrap();
        let asked_at = tick.not_before + Duration::from_millis(1200);
        thread::sleep(asked_at.saturating_duration_since(Instant::now()));
        let found = client.get(&key).unwrap();
        // The server's clock reaches the rounded-up moment (its step + 2 s) no earlier than
        // `not_before` + 2 s; a get answered later than that, on a stalled machine, says
        // nothing, and the attempt is repeated.
        if Instant::now() >= tick.not_before + Duration::from_millis(1900) {
            eprintln!("attempt {attempt}: the get came too late to tell, trying again");
            continue;
        }
        assert_eq!(
            found,
            item(b"v", 0),
            "an item set to expire at server time {} + 1.5 s was gone at + 1.2 s",
            tick.unix
        );
        assert_gone_within(&mut client, &key, Duration::from_millis(2500));
        return;
    }
    panic!("three attempts in a row were too slow to tell whether the item expired early");
}

#[test]
fn an_item_set_to_expire_in_40_days_is_present_so_it_was_not_read_as_a_1970_timestamp() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key("storage:expire-40d:");
    client
        .set(&key, b"long", Expiry::after_secs(40 * 24 * 3600))
        .unwrap();
    assert_eq!(client.get(&key).unwrap(), item(b"long", 0));
}

// ---- several clients -----------------------------------------------------------------------

#[test]
fn clients_on_separate_connections_see_each_others_writes() {
    let server = shared_server();
    let mut a = Client::connect(&server.addr()).unwrap();
    let mut b = Client::connect(&server.addr()).unwrap();
    let key = unique_key("storage:shared:");
    a.set(&key, b"from a", StoreOptions::new().flags(1))
        .unwrap();
    assert_eq!(b.get(&key).unwrap(), item(b"from a", 1));
    assert!(b.append(&key, b", then b").unwrap().is_stored());
    assert_eq!(a.get(&key).unwrap(), item(b"from a, then b", 1));
    assert!(a.delete(&key).unwrap());
    assert_eq!(b.get(&key).unwrap(), None);
}
