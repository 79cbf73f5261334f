//! A hostile reply cannot make the client allocate what it claims: a counting global
//! allocator measures what the calling thread allocates during one call.
//!
//! Only allocations made by the thread that runs the call are counted (the client is
//! synchronous and, with a literal IP address, never starts a thread), so the fault server's
//! own threads do not blur the numbers. The counters are global, so the tests take turns
//! through a mutex and pass whatever `--test-threads` is.

use memcache_sync_test_support as support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use memcache_sync::protocol::ProtocolErrorKind;
use memcache_sync::{Client, Config, Error, Phase};
use support::fault_server::{faulty_client, Fault, FaultServer};
use support::unique_key;

const MIB: usize = 1024 * 1024;

struct Counting;

thread_local! {
    static TRACKED: Cell<bool> = const { Cell::new(false) };
}

/// Net bytes allocated by tracked threads since the last reset (may go negative when memory
/// allocated before is freed).
static LIVE: AtomicIsize = AtomicIsize::new(0);
/// The highest `LIVE` reached.
static PEAK: AtomicIsize = AtomicIsize::new(0);
/// Every byte requested by tracked threads (a realloc counts its whole new size).
static TOTAL: AtomicUsize = AtomicUsize::new(0);
/// The largest single allocation or reallocation requested by tracked threads.
static LARGEST: AtomicUsize = AtomicUsize::new(0);

fn tracked() -> bool {
    TRACKED.try_with(Cell::get).unwrap_or(false)
}

fn grew(by: isize, requested: usize) {
    let live = LIVE.fetch_add(by, Ordering::SeqCst) + by;
    PEAK.fetch_max(live, Ordering::SeqCst);
    TOTAL.fetch_add(requested, Ordering::SeqCst);
    LARGEST.fetch_max(requested, Ordering::SeqCst);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() && tracked() {
            grew(layout.size() as isize, layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() && tracked() {
            grew(layout.size() as isize, layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        if tracked() {
            LIVE.fetch_sub(layout.size() as isize, Ordering::SeqCst);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() && tracked() {
            grew(new_size as isize - layout.size() as isize, new_size);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[derive(Debug, Clone, Copy)]
struct Usage {
    peak: isize,
    total: usize,
    largest: usize,
}

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `f` with this thread's allocations counted.
fn measure<T>(f: impl FnOnce() -> T) -> (T, Usage) {
    LIVE.store(0, Ordering::SeqCst);
    PEAK.store(0, Ordering::SeqCst);
    TOTAL.store(0, Ordering::SeqCst);
    LARGEST.store(0, Ordering::SeqCst);
    TRACKED.with(|t| t.set(true));
    let result = f();
    TRACKED.with(|t| t.set(false));
    let usage = Usage {
        peak: PEAK.load(Ordering::SeqCst),
        total: TOTAL.load(Ordering::SeqCst),
        largest: LARGEST.load(Ordering::SeqCst),
    };
    (result, usage)
}

fn assert_small(usage: Usage) {
    assert!(usage.peak < MIB as isize, "{usage:?}");
    assert!(usage.total < MIB, "{usage:?}");
    assert!(usage.largest < MIB, "{usage:?}");
}

fn config(read_timeout: Duration) -> Config {
    Config::default()
        .with_connect_timeout(Duration::from_secs(1))
        .with_write_timeout(Duration::from_secs(1))
        .with_read_timeout(read_timeout)
}

/// A client on connection 0 of a server whose connection 0 follows `fault`.
fn setup(fault: Fault, config: Config) -> (FaultServer, Client) {
    faulty_client(fault, &[], config)
}

fn value_too_long(error: &Error) -> Option<(u64, usize)> {
    match error {
        Error::Protocol(e) => match e.kind {
            ProtocolErrorKind::ValueTooLong { claimed, limit } => Some((claimed, limit)),
            _ => None,
        },
        _ => None,
    }
}

/// The control: the counter does see a real value's allocation, so "small" below means
/// something.
#[test]
fn a_real_4_mib_value_is_counted() {
    let _serial = serial();
    let key = unique_key("alloc:real:");
    let value = vec![b'r'; 4 * MIB];
    let config = config(Duration::from_secs(5)).with_max_value_size(8 * MIB);
    let (_server, mut client) = faulty_client(Fault::Healthy, &[(&key, &value)], config);
    let (result, usage) = measure(|| client.get(&key));
    assert_eq!(result.unwrap().map(|item| item.value.len()), Some(4 * MIB));
    assert!(usage.largest >= 4 * MIB, "{usage:?}");
    // Read straight into the returned value, which doubles with the bytes received up to
    // its exact length: 256 KiB + 512 KiB + … + 4 MiB in all.
    assert!(
        usage.total >= 7 * MIB,
        "the returned value's growth: {usage:?}"
    );
}

#[test]
fn four_gib_value_header_is_refused_without_allocating() {
    let _serial = serial();
    let (_server, mut client) = setup(Fault::HugeValueHeader, config(Duration::from_secs(2)));
    let started = Instant::now();
    let (result, usage) = measure(|| client.get(b"alloc:huge"));
    let error = result.expect_err("a 4 GiB claim was accepted");
    assert_eq!(value_too_long(&error), Some((4294967295, MIB)), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "not refused at once"
    );
    assert_small(usage);
}

#[test]
fn four_gib_value_header_is_refused_under_a_64_mib_limit_without_allocating() {
    let _serial = serial();
    let config = config(Duration::from_secs(2)).with_max_value_size(64 * MIB);
    let (_server, mut client) = setup(Fault::HugeValueHeader, config);
    let (result, usage) = measure(|| client.get(b"alloc:huge"));
    let error = result.expect_err("a 4 GiB claim was accepted");
    assert_eq!(
        value_too_long(&error),
        Some((4294967295, 64 * MIB)),
        "{error:?}"
    );
    assert_small(usage);
}

/// A claim just within the limit, then silence: the client waits for the data (it may be
/// legitimate) but must not size its buffer by the claim.
#[test]
fn claim_just_under_a_64_mib_limit_followed_by_silence_does_not_preallocate() {
    let _serial = serial();
    let header = format!("VALUE alloc:claim 0 {}\r\n", 64 * MIB - 1);
    let read_timeout = Duration::from_millis(300);
    let config = config(read_timeout).with_max_value_size(64 * MIB);
    let (_server, mut client) = setup(Fault::Reply(header.into_bytes()), config);
    let (result, usage) = measure(|| client.get(b"alloc:claim"));
    assert!(
        matches!(
            result,
            Err(Error::Timeout {
                phase: Phase::Read,
                ..
            })
        ),
        "{result:?}"
    );
    assert_small(usage);
    assert!(!client.is_connected());
}

/// The read buffer grows with the bytes that actually arrive (doubling), never with the
/// claim: 200 KiB of a claimed 64 MiB cost well under 1 MiB.
#[test]
fn buffer_grows_with_the_bytes_received_not_with_the_claim() {
    let _serial = serial();
    let received = 200 * 1024;
    let mut reply = format!("VALUE alloc:partial 0 {}\r\n", 64 * MIB - 1).into_bytes();
    reply.extend(std::iter::repeat_n(b'p', received));
    let config = config(Duration::from_millis(300)).with_max_value_size(64 * MIB);
    let (_server, mut client) = setup(Fault::Reply(reply), config);
    let (result, usage) = measure(|| client.get(b"alloc:partial"));
    assert!(
        matches!(
            result,
            Err(Error::Timeout {
                phase: Phase::Read,
                ..
            })
        ),
        "{result:?}"
    );
    assert!(usage.largest <= 2 * received + 64 * 1024, "{usage:?}");
    assert!(usage.peak < MIB as isize, "{usage:?}");
}

#[test]
fn endless_reply_line_allocates_no_more_than_the_line_limit() {
    let _serial = serial();
    let (_server, mut client) = setup(Fault::EndlessLine, config(Duration::from_secs(2)));
    let (result, usage) = measure(|| client.get(b"alloc:endless"));
    match result {
        Err(Error::Protocol(e)) => assert_eq!(e.kind, ProtocolErrorKind::LineTooLong),
        other => panic!("expected LineTooLong, got {other:?}"),
    }
    assert!(usage.largest <= 64 * 1024, "{usage:?}");
    assert_small(usage);
}
