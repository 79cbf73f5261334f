//! The meta commands on `Client` and `Cluster` against a real memcached (1.6.18), and the
//! replies memcached cannot produce from a scripted server.

use memcache_sync_test_support as support;

use std::time::Duration;

use memcache_sync::protocol::meta::Ttl;
use memcache_sync::protocol::ProtocolErrorKind;
use memcache_sync::Pool;
use memcache_sync::{
    get_or_lease, CasToken, Client, Cluster, Config, Error, Expiry, LeaseOptions, LeaseOutcome,
    MetaArithOptions, MetaArithOutcome, MetaDebugOptions, MetaDeleteOptions, MetaDeleteOutcome,
    MetaGetOptions, MetaSetMode, MetaSetOptions, MetaStoreOutcome,
};
use support::fault_server::{Fault, FaultServer};
use support::{shared_server, unique_key, Memcached};

fn client(addr: &str) -> Client {
    Client::connect(addr).unwrap()
}

fn set(client: &mut Client, key: &[u8], value: &[u8], options: &MetaSetOptions) -> CasToken {
    let outcome = client.meta_set(key, value, options).unwrap();
    outcome
        .cas()
        .unwrap_or_else(|| panic!("not stored: {outcome:?}"))
}

fn value(client: &mut Client, key: &[u8]) -> Option<Vec<u8>> {
    let options = MetaGetOptions::new();
    client
        .meta_get(key, &options)
        .unwrap()
        .and_then(|i| i.value)
}

fn counted(outcome: MetaArithOutcome) -> memcache_sync::MetaCounter {
    outcome
        .counter()
        .unwrap_or_else(|| panic!("not counted: {outcome:?}"))
}

fn assert_ttl_near(ttl: Option<Ttl>, secs: u64) {
    match ttl {
        Some(Ttl::Seconds(s)) => assert!(s <= secs && s + 3 >= secs, "ttl {s}, want ~{secs}"),
        other => panic!("ttl {other:?}, want ~{secs}"),
    }
}

#[test]
fn meta_get_returns_the_value_and_exactly_the_metadata_asked_for() {
    let server = shared_server();
    let mut c = client(&server.addr());
    let key = unique_key("meta:get:");
    let stored = MetaSetOptions::new()
        .client_flags(77)
        .expiry(Expiry::after_secs(60));
    let cas = set(&mut c, &key, b"hello", &stored);

    let bare = c.meta_get(&key, &MetaGetOptions::new()).unwrap().unwrap();
    assert_eq!(bare.value.as_deref(), Some(&b"hello"[..]));
    assert_eq!(
        (bare.flags, bare.cas, bare.ttl, bare.size),
        (None, None, None, None)
    );
    assert_eq!((bare.hit_before, bare.last_access), (None, None));

    let all = MetaGetOptions::new()
        .return_cas()
        .return_client_flags()
        .return_ttl()
        .return_size()
        .return_hit_before()
        .return_last_access();
    let item = c.meta_get(&key, &all).unwrap().unwrap();
    assert_eq!(item.value.as_deref(), Some(&b"hello"[..]));
    assert_eq!(item.cas, Some(cas), "the CAS the set returned");
    assert_eq!(item.flags, Some(77));
    assert_ttl_near(item.ttl, 60);
    assert_eq!(item.size, Some(5));
    assert_eq!(item.hit_before, Some(true), "the bare get above was a hit");
    assert!(item.last_access.is_some());
    assert!(!item.stale && !item.win && !item.already_won);
}

#[test]
fn a_meta_get_miss_is_none_not_an_error() {
    let server = shared_server();
    let mut c = client(&server.addr());
    let key = unique_key("meta:miss:");
    let options = MetaGetOptions::new().return_cas().return_ttl();
    assert_eq!(c.meta_get(&key, &options).unwrap(), None);
    assert!(c.is_connected());
}

#[test]
fn meta_get_without_value_reports_a_hit_with_its_metadata_only() {
    let server = shared_server();
    let mut c = client(&server.addr());
    let key = unique_key("meta:novalue:");
    set(&mut c, &key, b"abc", &MetaSetOptions::new());
    let options = MetaGetOptions::new().without_value().return_size();
    let item = c.meta_get(&key, &options).unwrap().unwrap();
    assert_eq!((item.value, item.size), (None, Some(3)));
}

#[test]
fn meta_get_with_touch_sets_the_new_ttl_and_reports_it() {
    let server = shared_server();
    let mut c = client(&server.addr());
    let key = unique_key("meta:touch:");
    set(
        &mut c,
        &key,
        b"v",
        &MetaSetOptions::new().expiry(Expiry::after_secs(10)),
    );
    let touch = MetaGetOptions::new()
        .touch(Expiry::after_secs(300))
        .return_ttl();
    assert_ttl_near(c.meta_get(&key, &touch).unwrap().unwrap().ttl, 300);
    let forever = MetaGetOptions::new().touch(Expiry::Never).return_ttl();
    let item = c.meta_get(&key, &forever).unwrap().unwrap();
    assert_eq!(item.ttl, Some(Ttl::Unlimited));
}

#[test]
fn meta_get_without_lru_bump_leaves_the_hit_record_alone() {
    let server = shared_server();
    let mut c = client(&server.addr());
    let key = unique_key("meta:nobump:");
    set(&mut c, &key, b"v", &MetaSetOptions::new());
    let peek = MetaGetOptions::new().no_lru_bump();
    assert!(c.meta_get(&key, &peek).unwrap().is_some());
    let hit = MetaGetOptions::new().return_hit_before();
    let item = c.meta_get(&key, &hit).unwrap().unwrap();
    assert_eq!(
        item.hit_before,
        Some(false),
        "the peek did not count as a hit"
    );
    let item = c.meta_get(&key, &hit).unwrap().unwrap();
    assert_eq!(item.hit_before, Some(true));
}

#[test]
fn vivify_on_miss_lets_one_caller_win_and_tells_the_others_it_was_won() {
    let server = shared_server();
    let mut c = client(&server.addr());
    let key = unique_key("meta:vivify:");
    let options = MetaGetOptions::new().vivify_on_miss(Expiry::after_secs(30));
    let first = c.meta_get(&key, &options).unwrap().expect("vivified");
    assert!(first.win && !first.already_won);
    assert_eq!(first.value.as_deref(), Some(&b""[..]));
    let second = c.meta_get(&key, &options).unwrap().expect("placeholder");
    assert!(!second.win && second.already_won);
}

#[test]
fn meta_set_modes_store_or_refuse_as_values() {
    let server = shared_server();
    let mut c = client(&server.addr());
    let key = unique_key("meta:modes:");
    let mode = |m| MetaSetOptions::new().mode(m);
    assert_eq!(
        c.meta_set(&key, "x", &mode(MetaSetMode::Replace)).unwrap(),
        MetaStoreOutcome::NotStored
    );
    assert_eq!(
        c.meta_set(&key, "x", &mode(MetaSetMode::Append)).unwrap(),
        MetaStoreOutcome::NotStored
    );
    assert_eq!(
        c.meta_set(&key, "x", &mode(MetaSetMode::Prepend)).unwrap(),
        MetaStoreOutcome::NotStored
    );
    assert!(c
        .meta_set(&key, "b", &mode(MetaSetMode::Add))
        .unwrap()
        .is_stored());
    assert_eq!(
        c.meta_set(&key, "z", &mode(MetaSetMode::Add)).unwrap(),
        MetaStoreOutcome::NotStored
    );
    assert!(c
        .meta_set(&key, "c", &mode(MetaSetMode::Append))
        .unwrap()
        .is_stored());
    assert!(c
        .meta_set(&key, "a", &mode(MetaSetMode::Prepend))
        .unwrap()
        .is_stored());
    assert_eq!(value(&mut c, &key).as_deref(), Some(&b"abc"[..]));
    assert!(c
        .meta_set(&key, "r", &mode(MetaSetMode::Replace))
        .unwrap()
        .is_stored());
    assert!(c
        .meta_set(&key, "s", &mode(MetaSetMode::Set))
        .unwrap()
        .is_stored());
    assert_eq!(value(&mut c, &key).as_deref(), Some(&b"s"[..]));
}

#[test]
fn append_with_autovivify_is_accepted_but_memcached_1_6_18_still_refuses_a_miss() {
    let server = shared_server();
    let mut c = client(&server.addr());
    let key = unique_key("meta:appendviv:");
    let vivify = MetaSetOptions::new().mode(MetaSetMode::AppendOrCreate(Expiry::after_secs(30)));
    assert_eq!(
        c.meta_set(&key, "x", &vivify).unwrap(),
        MetaStoreOutcome::NotStored
    );
    set(&mut c, &key, b"a", &MetaSetOptions::new());
    assert!(c.meta_set(&key, "b", &vivify).unwrap().is_stored());
    let prepend = MetaSetOptions::new().mode(MetaSetMode::PrependOrCreate(Expiry::after_secs(30)));
    assert!(c.meta_set(&key, "_", &prepend).unwrap().is_stored());
    assert_eq!(value(&mut c, &key).as_deref(), Some(&b"_ab"[..]));
}

#[test]
fn compare_and_set_stores_once_then_reports_exists_and_not_found_as_values() {
    let server = shared_server();
    let mut c = client(&server.addr());
    let key = unique_key("meta:cas:");
    let first = set(&mut c, &key, b"1", &MetaSetOptions::new());
    let second = set(
        &mut c,
        &key,
        b"2",
        &MetaSetOptions::new().compare_cas(first),
    );
    assert_ne!(first, second, "each store returns the new item's CAS");
    assert_eq!(
        c.meta_set(&key, "3", &MetaSetOptions::new().compare_cas(first))
            .unwrap(),
        MetaStoreOutcome::Exists
    );
    let missing = unique_key("meta:cas:missing:");
    assert_eq!(
        c.meta_set(&missing, "3", &MetaSetOptions::new().compare_cas(first))
            .unwrap(),
        MetaStoreOutcome::NotFound
    );
    assert_eq!(value(&mut c, &key).as_deref(), Some(&b"2"[..]));
}

#[test]
fn an_older_cas_with_invalidate_stores_the_value_marked_stale() {
    let server = shared_server();
    let mut c = client(&server.addr());
    let key = unique_key("meta:invalidate:");
    let old = set(&mut c, &key, b"old", &MetaSetOptions::new());
    set(&mut c, &key, b"new", &MetaSetOptions::new());
    let late = MetaSetOptions::new().compare_cas_or_invalidate(old);
    assert!(c.meta_set(&key, "late", &late).unwrap().is_stored());
    let item = c.meta_get(&key, &MetaGetOptions::new()).unwrap().unwrap();
    assert_eq!(item.value.as_deref(), Some(&b"late"[..]));
    assert!(item.stale, "a late writer's value is not served as fresh");
}

#[test]
fn meta_delete_reports_deleted_and_not_found_as_values() {
    let server = shared_server();
    let mut c = client(&server.addr());
    let key = unique_key("meta:delete:");
    set(&mut c, &key, b"v", &MetaSetOptions::new());
    let plain = MetaDeleteOptions::new();
    assert_eq!(
        c.meta_delete(&key, &plain).unwrap(),
        MetaDeleteOutcome::Deleted
    );
    assert_eq!(
        c.meta_delete(&key, &plain).unwrap(),
        MetaDeleteOutcome::NotFound
    );
    assert_eq!(value(&mut c, &key), None);
}

#[test]
fn meta_delete_with_compare_cas_removes_only_the_version_it_names() {
    let server = shared_server();
    let mut c = client(&server.addr());
    let key = unique_key("meta:delete:cas:");
    let old = set(&mut c, &key, b"1", &MetaSetOptions::new());
    let new = set(&mut c, &key, b"2", &MetaSetOptions::new());
    assert_eq!(
        c.meta_delete(&key, &MetaDeleteOptions::new().compare_cas(old))
            .unwrap(),
        MetaDeleteOutcome::Exists
    );
    assert_eq!(value(&mut c, &key).as_deref(), Some(&b"2"[..]));
    assert!(c
        .meta_delete(&key, &MetaDeleteOptions::new().compare_cas(new))
        .unwrap()
        .is_deleted());
}

#[test]
fn meta_delete_with_invalidate_keeps_the_value_marked_stale_and_lets_one_reader_win() {
    let server = shared_server();
    let mut c = client(&server.addr());
    let key = unique_key("meta:delete:stale:");
    set(&mut c, &key, b"v", &MetaSetOptions::new());
    let invalidate = MetaDeleteOptions::new().invalidate(Duration::from_secs(30));
    assert!(c.meta_delete(&key, &invalidate).unwrap().is_deleted());
    let options = MetaGetOptions::new().return_ttl();
    let first = c.meta_get(&key, &options).unwrap().expect("kept, stale");
    assert_eq!(first.value.as_deref(), Some(&b"v"[..]));
    assert!(first.stale && first.win && !first.already_won);
    assert_ttl_near(first.ttl, 30);
    let second = c.meta_get(&key, &options).unwrap().expect("kept, stale");
    assert!(second.stale && !second.win && second.already_won);
}

#[test]
fn meta_arithmetic_without_create_reports_a_missing_counter_as_not_found() {
    let server = shared_server();
    let mut c = client(&server.addr());
    let key = unique_key("meta:ma:missing:");
    assert_eq!(
        c.meta_arithmetic(&key, &MetaArithOptions::incr()).unwrap(),
        MetaArithOutcome::NotFound
    );
}

#[test]
fn an_autovivifying_counter_is_created_then_incremented_each_in_one_call_with_ttl_and_cas() {
    let server = shared_server();
    let mut c = client(&server.addr());
    let key = unique_key("meta:ma:vivify:");
    let hit = MetaArithOptions::incr()
        .delta(10)
        .create_on_miss(Expiry::after_secs(60), 1);
    let created = counted(c.meta_arithmetic(&key, &hit).unwrap());
    assert_eq!(created.value, 1, "a new counter holds the initial value");
    assert_ttl_near(Some(created.ttl), 60);
    let counted_again = counted(c.meta_arithmetic(&key, &hit).unwrap());
    assert_eq!(counted_again.value, 11);
    assert_ttl_near(Some(counted_again.ttl), 60);
    assert_ne!(created.cas, counted_again.cas);
}

#[test]
fn meta_arithmetic_decrements_to_zero_and_sets_the_expiry() {
    let server = shared_server();
    let mut c = client(&server.addr());
    let key = unique_key("meta:ma:decr:");
    set(&mut c, &key, b"5", &MetaSetOptions::new());
    let down = MetaArithOptions::decr()
        .delta(3)
        .expiry(Expiry::after_secs(90));
    let counter = counted(c.meta_arithmetic(&key, &down).unwrap());
    assert_eq!(counter.value, 2);
    assert_ttl_near(Some(counter.ttl), 90);
    assert_eq!(counted(c.meta_arithmetic(&key, &down).unwrap()).value, 0);
}

#[test]
fn meta_arithmetic_with_a_stale_cas_is_exists_and_counts_nothing() {
    let server = shared_server();
    let mut c = client(&server.addr());
    let key = unique_key("meta:ma:cas:");
    let cas = set(&mut c, &key, b"7", &MetaSetOptions::new());
    let checked = MetaArithOptions::incr().compare_cas(cas);
    assert_eq!(counted(c.meta_arithmetic(&key, &checked).unwrap()).value, 8);
    assert_eq!(
        c.meta_arithmetic(&key, &checked).unwrap(),
        MetaArithOutcome::Exists
    );
    assert_eq!(value(&mut c, &key).as_deref(), Some(&b"8"[..]));
}

#[test]
fn meta_arithmetic_on_a_non_number_is_a_client_error() {
    let server = shared_server();
    let mut c = client(&server.addr());
    let key = unique_key("meta:ma:text:");
    set(&mut c, &key, b"abc", &MetaSetOptions::new());
    let result = c.meta_arithmetic(&key, &MetaArithOptions::incr());
    assert!(
        matches!(result, Err(Error::ClientError { .. })),
        "{result:?}"
    );
    assert_eq!(value(&mut c, &key).as_deref(), Some(&b"abc"[..]));
}

#[test]
fn base64_keys_carry_spaces_and_control_bytes_through_every_command() {
    let server = shared_server();
    let mut c = client(&server.addr());
    let mut key = unique_key("meta:b64:");
    key.extend_from_slice(b" with spaces\r\n\x00\x7f\xff");
    let get = MetaGetOptions::new().base64_key();
    assert!(matches!(
        c.meta_get(&key, &MetaGetOptions::new()),
        Err(Error::InvalidKey(_))
    ));
    assert!(c
        .meta_set(&key, "v", &MetaSetOptions::new().base64_key())
        .unwrap()
        .is_stored());
    let item = c.meta_get(&key, &get).unwrap().unwrap();
    assert_eq!(item.value.as_deref(), Some(&b"v"[..]));
    assert!(c
        .meta_delete(&key, &MetaDeleteOptions::new().base64_key())
        .unwrap()
        .is_deleted());
    assert_eq!(c.meta_get(&key, &get).unwrap(), None);
    let count = MetaArithOptions::incr()
        .base64_key()
        .create_on_miss(Expiry::after_secs(30), 40);
    assert_eq!(counted(c.meta_arithmetic(&key, &count).unwrap()).value, 40);
    assert_eq!(counted(c.meta_arithmetic(&key, &count).unwrap()).value, 41);
}

#[test]
fn a_base64_key_too_long_once_encoded_is_refused_before_sending() {
    let server = shared_server();
    let mut c = client(&server.addr());
    let options = MetaGetOptions::new().base64_key();
    assert!(c.meta_get([b'k'; 186], &options).unwrap().is_none());
    let result = c.meta_get([b'k'; 187], &options);
    assert!(
        matches!(result, Err(Error::InvalidArgument { .. })),
        "{result:?}"
    );
}

#[test]
fn a_value_over_the_configured_limit_is_refused_before_sending() {
    let server = shared_server();
    let config = Config::default().with_max_value_size(4);
    let mut c = Client::builder(&server.addr())
        .config(config)
        .connect()
        .unwrap();
    let result = c.meta_set(unique_key("meta:big:"), "12345", &MetaSetOptions::new());
    assert!(
        matches!(result, Err(Error::ValueTooLarge { len: 5, limit: 4 })),
        "{result:?}"
    );
}

#[test]
fn a_version_gated_flag_is_the_typed_unsupported_error_and_keeps_the_connection() {
    // memcached 1.6.18 does not know `E` (1.6.27) or `md … x`; it answers CLIENT_ERROR in
    // step (for `ms`, swallowing the data block), so the connection is kept.
    let server = shared_server();
    let mut c = client(&server.addr());
    let key = unique_key("meta:gate:");
    let new_cas = CasToken(12345);
    let set_e = c.meta_set(&key, "v", &MetaSetOptions::new().new_cas(new_cas));
    assert!(
        matches!(
            &set_e,
            Err(Error::Unsupported {
                flag: Some('E'),
                ..
            })
        ),
        "{set_e:?}"
    );
    let error = set_e.unwrap_err();
    assert!(!error.is_transient() && !error.is_safe_to_retry(true));
    assert!(c.is_connected(), "the stream stayed in step");
    assert_eq!(value(&mut c, &key), None, "nothing was stored");

    set(&mut c, &key, b"v", &MetaSetOptions::new());
    let get_e = c.meta_get(&key, &MetaGetOptions::new().new_cas(new_cas));
    assert!(matches!(
        get_e,
        Err(Error::Unsupported {
            flag: Some('E'),
            ..
        })
    ));
    let delete_x = c.meta_delete(&key, &MetaDeleteOptions::new().remove_value());
    assert!(matches!(
        delete_x,
        Err(Error::Unsupported {
            flag: Some('x'),
            ..
        })
    ));
    let arith_e = c.meta_arithmetic(&key, &MetaArithOptions::incr().new_cas(new_cas));
    assert!(matches!(
        arith_e,
        Err(Error::Unsupported {
            flag: Some('E'),
            ..
        })
    ));
    assert!(c.is_connected());
    assert_eq!(value(&mut c, &key).as_deref(), Some(&b"v"[..]));
}

#[test]
fn an_unsupported_flag_refusal_followed_by_stray_bytes_drops_the_connection() {
    // A server that did not swallow the data block would answer it with `ERROR`: the `mn`
    // check then finds the stream out of step.
    let server = FaultServer::start(vec![Fault::Reply(
        b"CLIENT_ERROR invalid flag\r\nERROR\r\n".to_vec(),
    )]);
    let mut c = client(&server.addr());
    let result = c.meta_get(b"fault:k1", &MetaGetOptions::new());
    assert!(
        matches!(result, Err(Error::Unsupported { flag: None, .. })),
        "{result:?}"
    );
    assert!(!c.is_connected(), "an out-of-step stream is not reused");
}

#[test]
fn a_reply_echoing_another_requests_opaque_is_a_protocol_error_never_a_value() {
    let server = FaultServer::start(vec![Fault::Reply(
        b"VA 11 O4294967295\r\nother-value\r\n".to_vec(),
    )]);
    let mut c = client(&server.addr());
    let result = c.meta_get(b"fault:k1", &MetaGetOptions::new());
    assert!(
        matches!(&result, Err(Error::Protocol(e)) if e.kind == ProtocolErrorKind::UnsolicitedData),
        "{result:?}"
    );
    assert!(!c.is_connected(), "the connection is dropped");
}

#[test]
fn a_reply_without_the_opaque_is_a_protocol_error() {
    let server = FaultServer::start(vec![Fault::Reply(b"HD c5\r\n".to_vec())]);
    let mut c = client(&server.addr());
    let result = c.meta_set(b"fault:k1", "v", &MetaSetOptions::new());
    assert!(matches!(result, Err(Error::Protocol(_))), "{result:?}");
    assert!(!c.is_connected());
}

#[test]
fn meta_noop_answers_in_step() {
    let server = shared_server();
    let mut c = client(&server.addr());
    c.meta_noop().unwrap();
    c.meta_noop().unwrap();
    assert!(c.is_connected());
}

#[test]
fn cluster_meta_commands_reach_the_keys_server() {
    let servers = [Memcached::start(), Memcached::start()];
    let addrs: Vec<String> = servers.iter().map(Memcached::addr).collect();
    let cluster = Cluster::builder(addrs.clone()).build().unwrap();
    let key = unique_key("meta:cluster:");
    let cas = cluster
        .meta_set(&key, "v", &MetaSetOptions::new())
        .unwrap()
        .cas()
        .unwrap();
    let item = cluster
        .meta_get(&key, &MetaGetOptions::new().return_cas())
        .unwrap()
        .unwrap();
    assert_eq!(
        (item.value.as_deref(), item.cas),
        (Some(&b"v"[..]), Some(cas))
    );
    // It lives on the server the cluster routes the key to, and only there.
    let owner = cluster.server_for(&key);
    let mut direct = client(&addrs[owner]);
    assert!(value(&mut direct, &key).is_some());
    let mut other = client(&addrs[1 - owner]);
    assert_eq!(value(&mut other, &key), None);

    let counter = unique_key("meta:cluster:n:");
    let hit = MetaArithOptions::incr().create_on_miss(Expiry::after_secs(60), 1);
    assert_eq!(
        counted(cluster.meta_arithmetic(&counter, &hit).unwrap()).value,
        1
    );
    assert_eq!(
        counted(cluster.meta_arithmetic(&counter, &hit).unwrap()).value,
        2
    );
    assert_eq!(
        cluster
            .meta_delete(&key, &MetaDeleteOptions::new().compare_cas(cas))
            .unwrap(),
        MetaDeleteOutcome::Deleted
    );
    assert_eq!(
        cluster.meta_get(&key, &MetaGetOptions::new()).unwrap(),
        None
    );
}

#[test]
fn a_pooled_client_has_the_meta_commands_through_deref() {
    let server = shared_server();
    let pool = Pool::builder(&server.addr()).build();
    let key = unique_key("meta:pool:");
    let mut pooled = pool.get().unwrap();
    assert!(pooled
        .meta_set(&key, "v", &MetaSetOptions::new())
        .unwrap()
        .is_stored());
    assert_eq!(value(&mut pooled, &key).as_deref(), Some(&b"v"[..]));
}

#[test]
fn a_cluster_takes_the_same_base64_keys_as_a_client_in_every_meta_command() {
    let (one, two) = (Memcached::start(), Memcached::start());
    let cluster = Cluster::builder([one.addr(), two.addr()]).build().unwrap();
    let mut key = unique_key("meta:cluster-b64:");
    key.extend_from_slice(b" with spaces\r\n\x00\x7f\xff");
    let get = MetaGetOptions::new().base64_key();
    assert!(cluster
        .meta_set(&key, "v", &MetaSetOptions::new().base64_key())
        .unwrap()
        .is_stored());
    let item = cluster.meta_get(&key, &get).unwrap().unwrap();
    assert_eq!(item.value.as_deref(), Some(&b"v"[..]));
    // The key lives on the server the cluster routes its raw bytes to, as a client sees it.
    let owner = [&one, &two][cluster.server_for(&key)];
    let mut direct = client(&owner.addr());
    assert_eq!(
        direct.meta_get(&key, &get).unwrap().and_then(|i| i.value),
        Some(b"v".to_vec())
    );
    assert!(cluster
        .meta_delete(&key, &MetaDeleteOptions::new().base64_key())
        .unwrap()
        .is_deleted());
    let count = MetaArithOptions::incr()
        .base64_key()
        .create_on_miss(Expiry::after_secs(30), 40);
    assert_eq!(
        counted(cluster.meta_arithmetic(&key, &count).unwrap()).value,
        40
    );

    // Without base64 mode the classic rules still apply, as on a client.
    assert!(matches!(
        cluster.meta_get(&key, &MetaGetOptions::new()),
        Err(Error::InvalidKey(_))
    ));
    // A raw key that fits the classic limit but not base64's is refused like a client does.
    let long = [b'k'; 187];
    let on_client = direct.meta_get(long, &get).unwrap_err();
    let on_cluster = cluster.meta_get(long, &get).unwrap_err();
    assert!(
        matches!(on_cluster, Error::InvalidArgument { .. }),
        "{on_cluster:?}"
    );
    assert_eq!(on_cluster.to_string(), on_client.to_string());
    // The longest base64 key goes through.
    assert_eq!(cluster.meta_get([0u8; 186], &get).unwrap(), None);
}

#[test]
fn meta_debug_reports_an_items_metadata_without_reading_it() {
    let server = shared_server();
    let mut c = client(&server.addr());
    let key = unique_key("meta:me:");
    let plain = MetaDebugOptions::new();
    assert_eq!(c.meta_debug(&key, &plain).unwrap(), None);
    let set = MetaSetOptions::new().expiry(Expiry::after_secs(600));
    let cas = set_and_cas(&mut c, &key, &set);
    let info = c.meta_debug(&key, &plain).unwrap().unwrap();
    assert_eq!(info.cas, Some(cas));
    assert!(
        matches!(info.ttl, Some(Ttl::Seconds(590..=600))),
        "{info:?}"
    );
    assert_eq!(info.fetched, Some(false));
    assert!(info.last_access.is_some() && info.slab_class.is_some());
    assert!(
        info.size.unwrap() > 1,
        "the footprint, not the value's length"
    );
    assert!(!info.stored_in_base64 && info.other.is_empty(), "{info:?}");
    // `me` itself does not mark the item fetched; a read does.
    assert_eq!(
        c.meta_debug(&key, &plain).unwrap().unwrap().fetched,
        Some(false)
    );
    assert!(value(&mut c, &key).is_some());
    assert_eq!(
        c.meta_debug(&key, &plain).unwrap().unwrap().fetched,
        Some(true)
    );
    let forever = unique_key("meta:me:forever:");
    set_and_cas(&mut c, &forever, &MetaSetOptions::new());
    let info = c.meta_debug(&forever, &plain).unwrap().unwrap();
    assert_eq!(info.ttl, Some(Ttl::Unlimited));
}

fn set_and_cas(c: &mut Client, key: &[u8], options: &MetaSetOptions) -> CasToken {
    set(c, key, b"v", options)
}

#[test]
fn meta_debug_finds_a_base64_key_in_either_mode_and_says_how_it_was_stored() {
    let server = shared_server();
    let mut c = client(&server.addr());
    let b64 = MetaDebugOptions::new().base64_key();
    let mut binary = unique_key("meta:me:b64:");
    binary.extend_from_slice(b" \x00\r\n\xff");
    assert_eq!(c.meta_debug(&binary, &b64).unwrap(), None);
    assert!(matches!(
        c.meta_debug(&binary, &MetaDebugOptions::new()),
        Err(Error::InvalidKey(_))
    ));
    set(&mut c, &binary, b"v", &MetaSetOptions::new().base64_key());
    let info = c.meta_debug(&binary, &b64).unwrap().unwrap();
    assert!(info.stored_in_base64, "{info:?}");

    // A classic key stored in base64 mode is the same item in either mode, printed in base64.
    let classic = unique_key("meta:me:classic:");
    set(&mut c, &classic, b"v", &MetaSetOptions::new().base64_key());
    let plain = c
        .meta_debug(&classic, &MetaDebugOptions::new())
        .unwrap()
        .unwrap();
    assert!(plain.stored_in_base64);
    // And one stored plainly is printed raw, even to a base64-mode `me`.
    let stored_plainly = unique_key("meta:me:plain:");
    let cas = set(&mut c, &stored_plainly, b"v", &MetaSetOptions::new());
    let info = c.meta_debug(&stored_plainly, &b64).unwrap().unwrap();
    assert!(!info.stored_in_base64);
    assert_eq!(info.cas, Some(cas));
    // The base64 limit applies before anything is sent.
    assert!(matches!(
        c.meta_debug([0u8; 187], &b64),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(c.is_connected());
}

#[test]
fn meta_debug_inspects_an_invalidated_key_without_taking_its_refresh() {
    let server = shared_server();
    let mut c = client(&server.addr());
    let key = unique_key("meta:me:stale:");
    set(
        &mut c,
        &key,
        b"v",
        &MetaSetOptions::new().expiry(Expiry::after_secs(60)),
    );
    let invalidate = MetaDeleteOptions::new().invalidate(Duration::from_secs(30));
    assert!(c.meta_delete(&key, &invalidate).unwrap().is_deleted());
    let info = c
        .meta_debug(&key, &MetaDebugOptions::new())
        .unwrap()
        .unwrap();
    assert!(matches!(info.ttl, Some(Ttl::Seconds(25..=30))), "{info:?}");
    let lease = LeaseOptions::new(Duration::from_secs(10));
    assert!(
        matches!(get_or_lease(&mut c, &key, &lease).unwrap(), LeaseOutcome::Won(t) if t.stale().is_some()),
        "the refresh was still there to win"
    );
}

#[test]
fn meta_debug_on_a_pool_and_a_cluster() {
    let server = shared_server();
    let pool = Pool::new(&server.addr());
    let key = unique_key("meta:me:pool:");
    let cas = set(&mut pool.get().unwrap(), &key, b"v", &MetaSetOptions::new());
    let info = pool
        .get()
        .unwrap()
        .meta_debug(&key, &MetaDebugOptions::new())
        .unwrap();
    assert_eq!(info.and_then(|i| i.cas), Some(cas));

    let (one, two) = (Memcached::start(), Memcached::start());
    let cluster = Cluster::builder([one.addr(), two.addr()]).build().unwrap();
    let mut binary = unique_key("meta:me:cluster:");
    binary.push(b' ');
    let b64 = MetaDebugOptions::new().base64_key();
    assert_eq!(cluster.meta_debug(&binary, &b64).unwrap(), None);
    let stored = cluster
        .meta_set(&binary, "v", &MetaSetOptions::new().base64_key())
        .unwrap();
    let info = cluster.meta_debug(&binary, &b64).unwrap().unwrap();
    assert_eq!(info.cas, stored.cas());
    assert!(info.stored_in_base64);
}

#[test]
fn a_debug_reply_naming_another_key_is_a_protocol_error_and_drops_the_connection() {
    let server = FaultServer::start(vec![Fault::Reply(
        b"ME other exp=-1 la=0 cas=1 fetch=no cls=1 size=60\r\n".to_vec(),
    )]);
    let mut c = client(&server.addr());
    let result = c.meta_debug(b"fault:k1", &MetaDebugOptions::new());
    assert!(
        matches!(&result, Err(Error::Protocol(e)) if e.kind == ProtocolErrorKind::UnsolicitedData),
        "{result:?}"
    );
    assert!(!c.is_connected());
}

#[test]
fn a_debug_miss_echoing_an_opaque_answers_another_request() {
    let server = FaultServer::start(vec![Fault::Reply(b"EN O17\r\n".to_vec())]);
    let mut c = client(&server.addr());
    let result = c.meta_debug(b"fault:k1", &MetaDebugOptions::new());
    assert!(matches!(result, Err(Error::Protocol(_))), "{result:?}");
    assert!(!c.is_connected());
}

#[test]
fn a_meta_set_asking_for_the_size_stores_and_reports_a_size_only_if_the_server_does() {
    let server = shared_server();
    let mut c = client(&server.addr());
    let key = unique_key("meta:ms-size:");
    let sized = MetaSetOptions::new().return_size();
    let first = c.meta_set(&key, "hello", &sized).unwrap();
    assert!(first.is_stored(), "{first:?}");
    let appended = c
        .meta_set(&key, "!!", &sized.mode(MetaSetMode::Append))
        .unwrap();
    assert!(appended.is_stored(), "{appended:?}");
    // memcached 1.6.18 takes `s` on `ms` without reporting the size; a server that reports
    // it must report the size the item has now.
    for (outcome, len) in [(first, 5), (appended, 7)] {
        if let Some(size) = outcome.size() {
            assert_eq!(size, len, "{outcome:?}");
        }
    }
    assert_eq!(value(&mut c, &key).as_deref(), Some(&b"hello!!"[..]));
    let stored = c
        .meta_get(&key, &MetaGetOptions::new().without_value().return_size())
        .unwrap()
        .expect("just stored");
    assert_eq!(stored.size, Some(7));
}
