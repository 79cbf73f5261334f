//! Waiting for memcached to expire an item.

use std::thread;
use std::time::{Duration, Instant};

use memcache_sync::Client;

/// Polls until `key` is a miss; panics if it is still there at `limit`. memcached's clock
/// ticks in whole seconds, so an item with a 1 s expiry lives for up to about 2 s.
pub fn assert_gone_within(client: &mut Client, key: &[u8], limit: Duration) {
    let started = Instant::now();
    while client.get(key).unwrap().is_some() {
        assert!(
            started.elapsed() < limit,
            "{} still present after {limit:?}",
            String::from_utf8_lossy(key)
        );
        thread::sleep(Duration::from_millis(50));
    }
}
