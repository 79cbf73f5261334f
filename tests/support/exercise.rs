//! Every command run once over a client, for the tests that prove a transport (a Unix
//! socket, TLS) carries the whole protocol unchanged.

use memcache_sync::{CasOutcome, Client, Expiry, StoreOptions, StoreOutcome};

use crate::unique_key;

/// Runs every classic single-key command, and a multi-get, on `client`, checking each outcome,
/// on two fresh keys named from `prefix`; returns them (the one with value and flags, then the
/// counter, deleted by now) for the checks a transport adds.
///
/// The Unix-socket and TLS tests each wrote this same sequence; a transport that breaks one
/// command must fail both the same way.
pub fn exercise_commands(client: &mut Client, prefix: &str) -> (Vec<u8>, Vec<u8>) {
    let key = unique_key(prefix);
    let other = unique_key(&format!("{prefix}other:"));
    client
        .set(
            &key,
            b"v1",
            StoreOptions::new().flags(7).expiry(Expiry::after_secs(60)),
        )
        .unwrap();
    assert_eq!(client.get(&key).unwrap(), crate::item(b"v1", 7));
    let mut buf = Vec::new();
    assert_eq!(client.get_into(&key, &mut buf).unwrap(), Some(7));
    assert_eq!(buf, b"v1");
    assert_eq!(
        client.add(&key, b"x", Expiry::Never).unwrap(),
        StoreOutcome::NotStored
    );
    assert_eq!(
        client.replace(&key, b"v2", Expiry::Never).unwrap(),
        StoreOutcome::Stored
    );
    assert_eq!(client.append(&key, b">").unwrap(), StoreOutcome::Stored);
    assert_eq!(client.prepend(&key, b"<").unwrap(), StoreOutcome::Stored);
    let (got, token) = client.gets(&key).unwrap().expect("stored");
    assert_eq!(got.value, b"<v2>");
    assert_eq!(
        client.cas(&key, b"v3", token, Expiry::Never).unwrap(),
        CasOutcome::Stored
    );
    assert_eq!(
        client.cas(&key, b"v4", token, Expiry::Never).unwrap(),
        CasOutcome::Exists
    );
    assert!(client.touch(&key, Expiry::after_secs(120)).unwrap());
    assert_eq!(
        client.gat(&key, Expiry::after_secs(60)).unwrap(),
        crate::item(b"v3", 0)
    );
    assert!(client.gats(&key, Expiry::after_secs(60)).unwrap().is_some());
    client.set(&other, b"41", Expiry::Never).unwrap();
    assert_eq!(client.incr(&other, 2).unwrap(), Some(43));
    assert_eq!(client.decr(&other, 3).unwrap(), Some(40));
    assert_eq!(client.get_many(&[&key, &other]).unwrap().len(), 2);
    assert_eq!(client.gets_many(&[&key]).unwrap().len(), 1);
    assert!(client.delete(&other).unwrap());
    assert!(!client.delete(&other).unwrap());
    (key, other)
}

/// Runs every meta command and a lock on `client`, checking each outcome: for the tests that
/// prove the meta commands work unchanged over a transport (Unix sockets, TLS).
pub fn exercise_meta_commands(client: &mut memcache_sync::Client) {
    use memcache_sync::{
        Expiry, Lock, LockOptions, MetaArithOptions, MetaDeleteOptions, MetaDeleteOutcome,
        MetaGetOptions, MetaSetOptions, MetaStoreOutcome,
    };
    let key = crate::unique_key("meta:transport:");
    let stored = client
        .meta_set(
            &key,
            b"v1",
            &MetaSetOptions::new().expiry(Expiry::after_secs(60)),
        )
        .unwrap();
    let cas = stored.cas().expect("a plain set stores");
    let item = client
        .meta_get(&key, &MetaGetOptions::new().return_cas().return_ttl())
        .unwrap()
        .expect("just stored");
    assert_eq!(item.value.as_deref(), Some(&b"v1"[..]));
    assert!(item.ttl.is_some() && item.cas.is_some());
    let stale = MetaSetOptions::new().compare_cas(cas);
    assert!(client.meta_set(&key, b"v2", &stale).unwrap().is_stored());
    assert_eq!(
        client.meta_set(&key, b"v3", &stale).unwrap(),
        MetaStoreOutcome::Exists
    );
    let counter = crate::unique_key("meta:transport:counter:");
    let hit = MetaArithOptions::incr().create_on_miss(Expiry::after_secs(60), 1);
    let first = client.meta_arithmetic(&counter, &hit).unwrap().counter();
    let second = client.meta_arithmetic(&counter, &hit).unwrap().counter();
    assert_eq!(first.map(|c| c.value), Some(1));
    assert_eq!(second.map(|c| c.value), Some(2));
    assert_eq!(
        client.meta_delete(&key, &MetaDeleteOptions::new()).unwrap(),
        MetaDeleteOutcome::Deleted
    );
    assert_eq!(client.meta_get(&key, &MetaGetOptions::new()).unwrap(), None);
    client.meta_noop().unwrap();
    let lock_key = crate::unique_key("meta:transport:lock:");
    let lock = Lock::acquire(
        &mut *client,
        &lock_key,
        &LockOptions::new(std::time::Duration::from_secs(30)),
    )
    .unwrap()
    .expect("nobody holds it");
    assert!(lock.release().unwrap());
}
