//! Waiting for memcached to expire an item, and reading memcached's clock.

use std::io::{Read, Write};
use std::net::TcpStream;
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

/// One step of memcached's clock, as seen from this machine.
#[derive(Debug, Clone, Copy)]
pub struct ClockTick {
    /// The Unix time (whole seconds) the server's clock stepped to.
    pub unix: u64,
    /// No later than the step: the server still reported the second before when asked at this
    /// instant, and reported the new one within the precision asked for.
    pub not_before: Instant,
}

/// Waits for memcached's clock (`stats time`: whole seconds, stepped once a second by a
/// timer) to step, and returns the step once it is pinned down within `precision`. An item
/// with an absolute expiration time `E` is a miss once that clock reads `E` or more, so a
/// test that knows when the clock steps knows, to within `precision`, when such an item goes,
/// whatever this machine's clock says. Panics if no step is pinned down within 5 s.
pub fn next_clock_tick(addr: &str, precision: Duration) -> ClockTick {
    let mut stream = TcpStream::connect(addr).expect("stats connection");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let give_up = Instant::now() + Duration::from_secs(5);
    let mut last: Option<(u64, Instant)> = None;
    while Instant::now() < give_up {
        let asked = Instant::now();
        let unix = server_time(&mut stream);
        let answered = Instant::now();
        if let Some((before, before_asked)) = last {
            if unix != before && answered.duration_since(before_asked) <= precision {
                return ClockTick {
                    unix,
                    not_before: before_asked,
                };
            }
        }
        last = Some((unix, asked));
        thread::sleep(Duration::from_millis(2));
    }
    panic!("memcached at {addr}: no clock step pinned down within {precision:?} in 5 s");
}

/// The `time` line of `stats`: the server's clock.
fn server_time(stream: &mut TcpStream) -> u64 {
    stream.write_all(b"stats\r\n").unwrap();
    let mut reply = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    while !reply.ends_with(b"END\r\n") {
        let n = stream.read(&mut chunk).expect("stats reply");
        assert!(n > 0, "memcached closed the stats connection");
        reply.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&reply)
        .split("\r\n")
        .find_map(|line| line.strip_prefix("STAT time "))
        .and_then(|time| time.parse().ok())
        .expect("stats has a time line")
}
