//! A walk through the client: store, read, miss, conditional stores, counters, deletes, and
//! what a dead server looks like.
//!
//! Run it with `scripts/tour` (which starts a private memcached), or against a server of your
//! own: `MEMCACHED_ADDR=127.0.0.1:11211 cargo run --example tour`.

use std::time::Duration;

use memcache_sync::{CasOutcome, Client, Config, Error, Expiry, StoreOptions, StoreOutcome};

fn main() -> Result<(), Error> {
    let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    let config = Config::default()
        .with_connect_timeout(Duration::from_millis(500))
        .with_read_timeout(Duration::from_millis(500))
        .with_write_timeout(Duration::from_millis(500));
    let mut client = Client::builder(&addr).config(config.clone()).connect()?;
    println!("connected to memcached {} at {addr}", client.version()?);

    // Bytes in, bytes out. Flags are yours; memcached stores them beside the value.
    client.set(
        b"tour:greeting",
        b"hello, world",
        StoreOptions::new().flags(7).expiry(Expiry::after_secs(60)),
    )?;
    let item = client.get(b"tour:greeting")?.expect("just stored");
    println!(
        "get tour:greeting -> {:?} (flags {})",
        String::from_utf8_lossy(&item.value),
        item.flags
    );

    // A miss is Ok(None). Failures are Err, so they can never pass for a miss.
    println!(
        "get tour:nobody-home -> {:?}",
        client.get(b"tour:nobody-home")?
    );

    // add stores only if the key is free, and says when it did not.
    client.delete(b"tour:lock")?;
    for owner in ["worker-1", "worker-2"] {
        match client.add(b"tour:lock", owner.as_bytes(), Expiry::after_secs(30))? {
            StoreOutcome::Stored => {
                println!("add tour:lock for {owner} -> stored: {owner} holds the lock")
            }
            StoreOutcome::NotStored => {
                println!("add tour:lock for {owner} -> not stored: someone else holds it")
            }
        }
    }

    // cas: read with a token, write only if nobody changed the item since.
    client.set(b"tour:config", b"v1", Expiry::Never)?;
    let (_, token) = client.gets(b"tour:config")?.expect("just stored");
    client.set(b"tour:config", b"v1-edited-elsewhere", Expiry::Never)?;
    match client.cas(b"tour:config", b"v2", token, Expiry::Never)? {
        CasOutcome::Stored => println!("cas tour:config -> stored"),
        CasOutcome::Exists => {
            println!("cas tour:config -> exists: it changed since we read it, nothing stored")
        }
        CasOutcome::NotFound => println!("cas tour:config -> not found"),
    }

    // Counters live on the server; incr on a missing key is None, not 0.
    client.set(b"tour:visits", b"41", Expiry::Never)?;
    println!("incr tour:visits -> {:?}", client.incr(b"tour:visits", 1)?);
    println!(
        "incr tour:no-counter -> {:?}",
        client.incr(b"tour:no-counter", 1)?
    );

    // Many keys, one round trip. Keys missing from the map are misses.
    let found = client.get_many(&["tour:greeting", "tour:visits", "tour:nobody-home"])?;
    let mut keys: Vec<_> = found
        .keys()
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .collect();
    keys.sort();
    println!("get_many of 3 keys -> found {keys:?}");

    println!(
        "delete tour:greeting -> {}",
        client.delete(b"tour:greeting")?
    );
    println!(
        "delete tour:greeting again -> {}",
        client.delete(b"tour:greeting")?
    );

    // Bad input is refused before a byte is sent.
    match client.get(b"x\r\nflush_all") {
        Err(error @ Error::InvalidKey(_)) => {
            println!("get of an injecting key -> refused: {error}")
        }
        other => println!("unexpected: {other:?}"),
    }

    // A dead server is a typed error, quickly, never a miss.
    let dead = "127.0.0.1:1";
    match Client::builder(dead).config(config).connect() {
        Err(error) => println!(
            "connect to {dead} -> {error} (connection error: {}, safe to retry a get: {})",
            error.is_connection_error(),
            error.is_safe_to_retry(true)
        ),
        Ok(_) => println!("unexpected: something listens on {dead}"),
    }
    Ok(())
}
