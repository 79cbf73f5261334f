//! Allocation counts of the hot paths, against a real memcached, measured by a counting
//! global allocator in this test binary.
//!
//! Counting is per thread and only inside [`measure`], so the tests of this binary, which
//! run on parallel threads, do not see each other's allocations (the client does all its
//! work on the calling thread when given an IP address).
//!
//! Set `ALLOC_BACKTRACE=1` to capture a backtrace of the first allocation inside each
//! measured region; a failing assertion then prints where it came from.

use memcache_sync_test_support as support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::backtrace::Backtrace;
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use memcache_sync::{
    BatchReport, CasOutcome, Client, Entry, Expiry, Item, ItemResult, StoreOptions, StoreOutcome,
};
use support::fault_server::{Fault, FaultServer};
use support::{shared_server, unique_key, TestServer};

// ---- the counting allocator --------------------------------------------------------------

struct Counting;

#[global_allocator]
static GLOBAL: Counting = Counting;

/// How many allocation sizes are remembered, in order, per measured region.
const SIZES_KEPT: usize = 16;

thread_local! {
    static ENABLED: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
    static REALLOCS: Cell<usize> = const { Cell::new(0) };
    static BYTES: Cell<usize> = const { Cell::new(0) };
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
    static SIZES: Cell<[usize; SIZES_KEPT]> = const { Cell::new([0; SIZES_KEPT]) };
    static TRACES: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Whether to capture a backtrace at the first allocation of a measured region.
static BACKTRACES: AtomicBool = AtomicBool::new(false);

fn enabled() -> bool {
    ENABLED.try_with(Cell::get).unwrap_or(false)
}

fn add_live(delta: isize) {
    let live = LIVE.get() + delta;
    LIVE.set(live);
    if live > PEAK.get() {
        PEAK.set(live);
    }
}

/// Records one allocation (or reallocation) of `size` bytes on this thread.
fn record(size: usize, realloc: bool) {
    let n = ALLOCS.get() + REALLOCS.get();
    if realloc {
        REALLOCS.set(REALLOCS.get() + 1);
    } else {
        ALLOCS.set(ALLOCS.get() + 1);
    }
    BYTES.set(BYTES.get() + size);
    if n < SIZES_KEPT {
        let mut sizes = SIZES.get();
        sizes[n] = size;
        SIZES.set(sizes);
    }
    if n == 0 && BACKTRACES.load(Ordering::Relaxed) {
        // Capturing and formatting allocate: not counted, and not recursed into.
        ENABLED.set(false);
        let trace = format!(
            "{} of {size} bytes:\n{}",
            if realloc { "realloc" } else { "alloc" },
            Backtrace::force_capture()
        );
        TRACES.with(|traces| traces.borrow_mut().push(trace));
        ENABLED.set(true);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if enabled() {
            record(layout.size(), false);
            add_live(layout.size() as isize);
        }
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if enabled() {
            record(layout.size(), false);
            add_live(layout.size() as isize);
        }
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if enabled() {
            record(new_size, true);
            add_live(new_size as isize - layout.size() as isize);
        }
        System.realloc(ptr, layout, new_size)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if enabled() {
            add_live(-(layout.size() as isize));
        }
        System.dealloc(ptr, layout)
    }
}

/// What a measured region allocated on this thread.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Counts {
    /// Fresh allocations (`alloc`, `alloc_zeroed`).
    allocs: usize,
    /// Reallocations (a growing `Vec`).
    reallocs: usize,
    /// Bytes requested by both.
    bytes: usize,
    /// The most bytes allocated in the region and not yet freed at one time.
    peak_live: usize,
    /// Bytes allocated in the region and still not freed at its end.
    live_at_end: isize,
    /// The sizes of the first allocations, in order.
    sizes: Vec<usize>,
    /// With `ALLOC_BACKTRACE` set: where the first allocation came from.
    first_trace: Option<String>,
}

impl Counts {
    fn events(&self) -> usize {
        self.allocs + self.reallocs
    }
}

/// Runs `f` with counting on for this thread only.
fn measure<R>(f: impl FnOnce() -> R) -> (R, Counts) {
    BACKTRACES.store(
        std::env::var_os("ALLOC_BACKTRACE").is_some(),
        Ordering::Relaxed,
    );
    TRACES.with(|traces| traces.borrow_mut().clear());
    ALLOCS.set(0);
    REALLOCS.set(0);
    BYTES.set(0);
    LIVE.set(0);
    PEAK.set(0);
    SIZES.set([0; SIZES_KEPT]);
    ENABLED.set(true);
    let result = f();
    ENABLED.set(false);
    let n = (ALLOCS.get() + REALLOCS.get()).min(SIZES_KEPT);
    let counts = Counts {
        allocs: ALLOCS.get(),
        reallocs: REALLOCS.get(),
        bytes: BYTES.get(),
        peak_live: PEAK.get().max(0) as usize,
        live_at_end: LIVE.get(),
        sizes: SIZES.get()[..n].to_vec(),
        first_trace: TRACES.with(|traces| traces.borrow_mut().drain(..).next()),
    };
    (result, counts)
}

/// Asserts that `counts` shows no allocation, naming where the first one came from when
/// backtraces are on.
fn assert_no_allocation(what: &str, counts: &Counts) {
    assert!(
        counts.events() == 0,
        "{what} allocated: {counts:?}\n{}",
        counts
            .first_trace
            .as_deref()
            .unwrap_or("(run with ALLOC_BACKTRACE=1 to see where the first allocation came from)")
    );
}

#[test]
fn the_counting_allocator_counts_this_threads_allocations_only() {
    let (v, counts) = measure(|| vec![1u8; 100]);
    assert_eq!(
        (counts.allocs, counts.bytes, counts.sizes.as_slice()),
        (1, 100, &[100][..])
    );
    drop(v);
    let (_, counts) = measure(|| std::thread::spawn(|| vec![0u8; 1000]).join().unwrap().len());
    // Spawning allocates on this thread, but the spawned thread's 1000 bytes are not seen.
    assert!(!counts.sizes.contains(&1000), "{counts:?}");
    let (_, counts) = measure(|| 1 + 1);
    assert_eq!(counts.events(), 0);
}

// ---- set-up -------------------------------------------------------------------------------

const VALUE_LEN: usize = 100;
const DAY: u64 = 24 * 3600;
const REPEATS: usize = 50;

fn setup(prefix: &str) -> (TestServer, Client, Vec<u8>, Vec<u8>) {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let key = unique_key(prefix);
    let value: Vec<u8> = (0..VALUE_LEN).map(|i| b'a' + (i % 26) as u8).collect();
    client
        .set(&key, &value, StoreOptions::new().flags(9))
        .unwrap();
    (server, client, key, value)
}

// ---- retrieval ---------------------------------------------------------------------------

#[test]
fn get_into_a_buffer_with_enough_capacity_allocates_nothing_on_a_hit_or_a_miss() {
    let (_server, mut client, key, value) = setup("alloc:get_into:");
    let missing = unique_key("alloc:get_into:missing:");
    let mut buf = Vec::with_capacity(1024);
    // Warm-up: the connection's buffers reach their working size.
    assert_eq!(client.get_into(&key, &mut buf).unwrap(), Some(9));
    assert_eq!(client.get_into(&missing, &mut buf).unwrap(), None);

    let (hits, counts) = measure(|| {
        (0..REPEATS)
            .map(|_| client.get_into(&key, &mut buf).unwrap())
            .filter(|flags| *flags == Some(9))
            .count()
    });
    assert_eq!(hits, REPEATS);
    assert_eq!(buf, value);
    assert_no_allocation("get_into (hit)", &counts);

    let (misses, counts) = measure(|| {
        (0..REPEATS)
            .filter(|_| client.get_into(&missing, &mut buf).unwrap().is_none())
            .count()
    });
    assert_eq!(misses, REPEATS);
    assert!(buf.is_empty());
    assert_no_allocation("get_into (miss)", &counts);
}

#[test]
fn get_of_a_100_byte_value_allocates_only_the_returned_value() {
    let (_server, mut client, key, value) = setup("alloc:get:");
    let missing = unique_key("alloc:get:missing:");
    assert!(client.get(&key).unwrap().is_some());
    assert!(client.get(&missing).unwrap().is_none());

    let (item, counts) = measure(|| client.get(&key).unwrap());
    assert_eq!(
        item,
        Some(Item {
            value: value.clone(),
            flags: 9
        })
    );
    assert_eq!(
        (counts.allocs, counts.reallocs, counts.bytes),
        (1, 0, VALUE_LEN),
        "expected exactly one allocation of {VALUE_LEN} bytes (the value): {counts:?}"
    );
    // The value's allocation is exactly the returned value, no spare capacity.
    assert_eq!(item.unwrap().value.capacity(), VALUE_LEN);

    let (items, counts) = measure(|| {
        (0..REPEATS)
            .map(|_| client.get(&key).unwrap().map(|item| item.value.len()))
            .collect::<Vec<_>>()
    });
    assert!(items.iter().all(|len| *len == Some(VALUE_LEN)));
    // REPEATS values, plus the Vec collecting their lengths (allocated first, once).
    let collected = REPEATS * std::mem::size_of::<Option<usize>>();
    assert_eq!(counts.sizes[0], collected, "{counts:?}");
    assert!(
        counts.sizes[1..].iter().all(|&size| size == VALUE_LEN),
        "{counts:?}"
    );
    assert_eq!(
        (counts.allocs, counts.reallocs, counts.bytes),
        (REPEATS + 1, 0, REPEATS * VALUE_LEN + collected),
        "{counts:?}"
    );

    let (miss, counts) = measure(|| client.get(&missing).unwrap());
    assert_eq!(miss, None);
    assert_no_allocation("get (miss)", &counts);
}

#[test]
fn gets_allocates_only_the_returned_value() {
    let (_server, mut client, key, value) = setup("alloc:gets:");
    assert!(client.gets(&key).unwrap().is_some());
    let (found, counts) = measure(|| client.gets(&key).unwrap());
    let (item, _token) = found.unwrap();
    assert_eq!(item.value, value);
    assert_eq!(
        (counts.allocs, counts.reallocs, counts.bytes),
        (1, 0, VALUE_LEN),
        "{counts:?}"
    );
}

/// `get_many`'s map holds every key and value in one buffer: reading 10 items or 100 costs
/// the same three allocations (the buffer, its entries, its index) beyond what the same read
/// costs through `get_many_with`, none per item.
#[test]
fn get_many_allocates_a_few_buffers_whatever_the_number_of_items_and_none_per_item() {
    let server = shared_server();
    let mut client = Client::connect(&server.addr()).unwrap();
    let keys: Vec<Vec<u8>> = (0..100)
        .map(|i| unique_key(&format!("alloc:get_many:{i}:")))
        .collect();
    for key in &keys {
        client.set(key, [b'v'; VALUE_LEN], Expiry::Never).unwrap();
    }
    let missing = unique_key("alloc:get_many:missing:");
    // Warm-up: the connection's buffers reach their working size.
    assert_eq!(client.get_many(&keys).unwrap().len(), keys.len());

    for count in [10, 100] {
        let mut seen = 0;
        let ((), with) = measure(|| {
            client
                .get_many_with(&keys[..count], |_, _, _| seen += 1)
                .unwrap()
        });
        assert_eq!(seen, count);
        let (found, counts) = measure(|| client.get_many(&keys[..count]).unwrap());
        assert_eq!(found.len(), count);
        assert!(found.values().all(|item| item.value == [b'v'; VALUE_LEN]));
        assert_eq!(
            (counts.allocs, counts.reallocs),
            (with.allocs + 3, with.reallocs),
            "get_many of {count}: {counts:?}\nget_many_with: {with:?}"
        );
    }

    // Lookups, iteration and a miss allocate nothing.
    let found = client.get_many(&[&keys[0], &missing, &keys[1]]).unwrap();
    let (seen, counts) = measure(|| {
        let hits = [&keys[0], &keys[1], &missing]
            .iter()
            .filter(|key| found.get(key).is_some())
            .count();
        hits + found.iter().count() + found[&keys[1]].len()
    });
    assert_eq!(seen, 2 + 2 + VALUE_LEN);
    assert_no_allocation("lookups and iteration", &counts);
}

/// Matching a reply's values to their keys in any order (as a proxy answers) costs no
/// allocation beyond what the same read costs in request order: the scan keeps its marks in a
/// buffer the client reuses.
#[test]
fn get_many_with_answered_out_of_order_allocates_no_more_than_in_order() {
    // Connection 0: the first request answered healthily (the warm-up), the second with its
    // values reversed, later ones healthily again.
    let server = FaultServer::start(vec![Fault::After(1, Box::new(Fault::Reversed))]);
    let keys: Vec<Vec<u8>> = (0..150)
        .map(|i| format!("alloc:order:{i}").into_bytes())
        .collect();
    for key in keys.iter().step_by(2) {
        server.insert(key, &[b'v'; VALUE_LEN]);
    }
    let mut client = Client::connect(&server.addr()).unwrap();
    let mut seen = Vec::with_capacity(keys.len());
    client
        .get_many_with(&keys, |index, _, _| seen.push(index))
        .unwrap();
    assert_eq!(seen.len(), 75);

    seen.clear();
    let ((), reversed) = measure(|| {
        client
            .get_many_with(&keys, |index, _, _| seen.push(index))
            .unwrap()
    });
    let expected: Vec<usize> = (0..keys.len()).step_by(2).rev().collect();
    assert_eq!(seen, expected, "the reply was not reversed");

    seen.clear();
    let ((), in_order) = measure(|| {
        client
            .get_many_with(&keys, |index, _, _| seen.push(index))
            .unwrap()
    });
    let expected: Vec<usize> = (0..keys.len()).step_by(2).collect();
    assert_eq!(seen, expected);
    assert_eq!(
        (reversed.allocs, reversed.reallocs, reversed.bytes),
        (in_order.allocs, in_order.reallocs, in_order.bytes),
        "out of order: {reversed:?}\nin order: {in_order:?}"
    );
    assert_eq!(server.connections(), 1);
}

// ---- storage and one-line commands -------------------------------------------------------

#[test]
fn set_of_a_100_byte_value_allocates_nothing_after_warm_up() {
    let (_server, mut client, key, value) = setup("alloc:set:");
    client
        .set(
            &key,
            &value,
            StoreOptions::new().flags(1).expiry(Expiry::after_secs(600)),
        )
        .unwrap();
    let (_, counts) = measure(|| {
        for i in 0..REPEATS {
            client
                .set(
                    &key,
                    &value,
                    StoreOptions::new()
                        .flags(i as u32)
                        .expiry(Expiry::after_secs(600)),
                )
                .unwrap();
        }
    });
    assert_no_allocation("set", &counts);
    assert_eq!(client.get(&key).unwrap().unwrap().flags, REPEATS as u32 - 1);

    let at = Expiry::At(SystemTime::now() + Duration::from_secs(3600));
    let (_, counts) = measure(|| {
        client.set(&key, &value, Expiry::Never).unwrap();
        client.set(&key, &value, at).unwrap();
        client
            .set(&key, &value, Expiry::after_secs(30 * DAY))
            .unwrap();
    });
    assert_no_allocation("set with Never, At and a 30-day relative expiry", &counts);
}

/// A relative expiry over 30 days is sent as a Unix time; computing it must not allocate
/// either. (Fails at the time of writing: `Expiry::to_wire` builds the error it would return
/// for a time after 2038 on every call, through the eager argument of `map_or`.)
#[test]
fn set_with_a_relative_expiry_over_30_days_allocates_nothing() {
    let (_server, mut client, key, value) = setup("alloc:set:long:");
    let long = Expiry::after_secs(40 * DAY);
    client.set(&key, &value, long).unwrap();
    let (_, counts) = measure(|| client.set(&key, &value, long).unwrap());
    assert_no_allocation("set with a 40-day expiry", &counts);
    let (_, counts) = measure(|| client.touch(&key, long).unwrap());
    assert_no_allocation("touch with a 40-day expiry", &counts);
}

#[test]
fn delete_allocates_nothing_after_warm_up() {
    let (_server, mut client, key, value) = setup("alloc:delete:");
    assert!(client.delete(&key).unwrap());
    client.set(&key, &value, Expiry::Never).unwrap();
    let (deleted, counts) =
        measure(|| (client.delete(&key).unwrap(), client.delete(&key).unwrap()));
    assert_eq!(deleted, (true, false));
    assert_no_allocation("delete (found, then not found)", &counts);
}

#[test]
fn incr_and_decr_allocate_nothing_after_warm_up() {
    let (_server, mut client, key, _) = setup("alloc:incr:");
    let missing = unique_key("alloc:incr:missing:");
    client.set(&key, b"10", Expiry::Never).unwrap();
    assert_eq!(client.incr(&key, 1).unwrap(), Some(11));
    let (results, counts) = measure(|| {
        (
            client.incr(&key, 5).unwrap(),
            client.incr(&key, u64::MAX).unwrap(),
            client.decr(&key, 3).unwrap(),
            client.incr(&missing, 1).unwrap(),
        )
    });
    assert_eq!(results, (Some(16), Some(15), Some(12), None));
    assert_no_allocation("incr/decr", &counts);
}

#[test]
fn touch_allocates_nothing_after_warm_up() {
    let (_server, mut client, key, _) = setup("alloc:touch:");
    let missing = unique_key("alloc:touch:missing:");
    assert!(client.touch(&key, Expiry::after_secs(600)).unwrap());
    let (touched, counts) = measure(|| {
        (
            client.touch(&key, Expiry::after_secs(300)).unwrap(),
            client.touch(&key, Expiry::Never).unwrap(),
            client.touch(&missing, Expiry::after_secs(300)).unwrap(),
        )
    });
    assert_eq!(touched, (true, true, false));
    assert_no_allocation("touch", &counts);
}

#[test]
fn conditional_stores_and_cas_allocate_nothing_whatever_the_outcome() {
    let (_server, mut client, key, value) = setup("alloc:cond:");
    let missing = unique_key("alloc:cond:missing:");
    let (_, token) = client.gets(&key).unwrap().unwrap();
    // Warm-up with the longest request, so the request buffer has its working size.
    assert_eq!(
        client.replace(&missing, &value, Expiry::Never).unwrap(),
        StoreOutcome::NotStored
    );
    let (outcomes, counts) = measure(|| {
        (
            client.add(&key, &value, Expiry::Never).unwrap(),
            client.replace(&missing, &value, Expiry::Never).unwrap(),
            client.replace(&key, &value, Expiry::Never).unwrap(),
            client.append(&key, b"+").unwrap(),
            client.prepend(&missing, b"+").unwrap(),
            client.cas(&key, &value, token, Expiry::Never).unwrap(),
        )
    });
    assert_eq!(
        outcomes,
        (
            StoreOutcome::NotStored,
            StoreOutcome::NotStored,
            StoreOutcome::Stored,
            StoreOutcome::Stored,
            StoreOutcome::NotStored,
            CasOutcome::Exists,
        )
    );
    assert_no_allocation("add/replace/append/prepend/cas", &counts);
}

// ---- batches: memory bounded by the windows plus the results -----------------------------

fn bulk_entry(i: usize) -> Entry<[u8; 32], [u8; VALUE_LEN]> {
    let mut key = [b'k'; 32];
    let mut n = i;
    for byte in key[12..].iter_mut().rev() {
        *byte = b'0' + (n % 10) as u8;
        n /= 10;
    }
    Entry::new(key, [b'v'; VALUE_LEN])
}

#[test]
fn set_many_memory_is_bounded_by_the_results_plus_a_constant_whatever_the_batch_size() {
    let server = support::Memcached::start_with(&["-m", "128"]);
    let mut client = Client::connect(&server.addr()).unwrap();
    // Warm-up: the request buffer reaches a window's size.
    client.set_many((0..1000).map(bulk_entry)).unwrap();

    let result_size = std::mem::size_of::<ItemResult<()>>();
    let mut overheads = Vec::new();
    for count in [10_000, 100_000] {
        // The entries are built without allocating, so everything counted is the client's.
        let (report, counts): (Result<BatchReport<()>, _>, _) =
            measure(|| client.set_many((0..count).map(bulk_entry)));
        report.unwrap();
        let results = count.next_power_of_two() * result_size;
        let overhead = counts.peak_live.saturating_sub(results);
        eprintln!(
            "set_many of {count}: {} allocations, {} reallocations, peak {} bytes live, \
             {results} bytes of results capacity, {overhead} bytes beyond",
            counts.allocs, counts.reallocs, counts.peak_live
        );
        assert!(
            overhead < 256 * 1024,
            "set_many of {count} items held {overhead} bytes beyond its results: {counts:?}"
        );
        overheads.push(overhead);
    }
    // Ten times the items, not ten times the overhead.
    assert!(
        overheads[1] <= overheads[0] + 64 * 1024,
        "overhead grows with the batch: {overheads:?}"
    );
}

// ---- buffers given back ----------------------------------------------------------------

/// A large value read through the buffer (one `get_many_with` lends out) grows the read
/// buffer for as long as large exchanges follow each other; the first exchange that does
/// without it gives it back, so an idle client does not keep twice its largest reply. (A large
/// store, a large single-key read and a multi-get into a map grow neither buffer: the value is
/// written from where it lies and read straight into its destination.)
#[test]
fn buffers_grown_by_a_large_value_are_given_back_after_the_next_small_exchange() {
    let server = support::Memcached::start();
    let mut client = Client::connect(&server.addr()).unwrap();
    let large = vec![b'x'; 500 * 1024];
    client.set(b"alloc:small", b"v", Expiry::Never).unwrap();
    let mut into = Vec::with_capacity(large.len());
    let ((), counts) = measure(|| {
        client.set(b"alloc:large", &large, Expiry::Never).unwrap();
        client.get_into(b"alloc:large", &mut into).unwrap();
        assert_eq!(into.len(), large.len());
        let mut lent = 0;
        client
            .get_many_with(&[b"alloc:large"], |_, value, _| lent = value.len())
            .unwrap();
        assert_eq!(lent, large.len());
        client.get_into(b"alloc:small", &mut into).unwrap();
    });
    assert!(
        counts.peak_live >= large.len() / 2,
        "the large exchanges did need the room: {counts:?}"
    );
    assert!(
        counts.live_at_end < 64 * 1024,
        "{} bytes still held after a small exchange: {counts:?}",
        counts.live_at_end
    );
}

/// A long reply of many frames (a megabyte of 10 KiB values) is read ahead through a read
/// buffer that doubles while each read fills it, up to 256 KiB and no further (so it takes a
/// few large reads, not a hundred of 16 KiB); the next small exchange gives it back.
#[test]
fn a_long_multi_get_reply_grows_the_read_buffer_to_256_kib_at_most_and_gives_it_back() {
    let (_server, mut client, key, _) = setup("alloc:read_ahead:");
    let keys: Vec<Vec<u8>> = (0..100)
        .map(|i| [key.as_slice(), format!(":{i}").as_bytes()].concat())
        .collect();
    let value = vec![b'r'; 10 * 1024];
    for key in &keys {
        client.set(key, &value, Expiry::Never).unwrap();
    }
    let ((), counts) = measure(|| {
        let mut seen = 0;
        client
            .get_many_with(&keys, |_, got, _| seen += got.len())
            .unwrap();
        assert_eq!(seen, keys.len() * value.len());
    });
    // It doubles to 256 KiB exactly (each growth is recorded at its new size), and no
    // further.
    assert_eq!(
        counts.sizes.iter().max(),
        Some(&(256 * 1024)),
        "the read buffer's growth: {counts:?}"
    );
    let ((), counts) = measure(|| {
        assert!(client.get(b"alloc:read_ahead:missing").unwrap().is_none());
    });
    assert!(
        counts.live_at_end < -(64 * 1024),
        "the grown read buffer was not given back: {counts:?}"
    );
}

/// A multi-get of large values reads each straight into the map's one buffer, sized once per
/// value: the connection's read buffer does not grow to hold them, nor is it copied out of.
#[test]
fn get_many_of_large_values_reads_them_into_the_map_without_growing_the_read_buffer() {
    const LARGE: usize = 500 * 1024 + 7;
    let (_server, mut client, key, _) = setup("alloc:get_many:large:");
    let other = [key.as_slice(), b":2"].concat();
    let value: Vec<u8> = (0..LARGE).map(|i| (i % 251) as u8).collect();
    client.set(&key, &value, Expiry::Never).unwrap();
    client
        .set(&other, &value[..LARGE / 2], Expiry::Never)
        .unwrap();
    // Warm-up with a small reply only: the read buffer at its first size.
    assert!(client
        .get(b"alloc:get_many:large:missing")
        .unwrap()
        .is_none());

    let keys = [key.as_slice(), other.as_slice()];
    let (found, counts) = measure(|| client.get_many(&keys).unwrap());
    assert!(found[&key[..]] == value[..] && found[&other[..]] == value[..LARGE / 2]);
    // What is live after the call is the map: its buffer, sized to the first value and
    // doubled once for the second, and a few small pieces. A read buffer grown to hold a
    // 500 KiB frame would add 512 KiB more.
    assert!(
        counts.live_at_end < (2 * LARGE + 64 * 1024) as isize,
        "{} bytes live for values of {LARGE} and {} bytes: {counts:?}",
        counts.live_at_end,
        LARGE / 2
    );
    drop(found);
    let ((), counts) = measure(|| {
        assert!(client
            .get(b"alloc:get_many:large:missing")
            .unwrap()
            .is_none());
    });
    assert_no_allocation("a small get after the multi-get", &counts);
}

/// A value larger than the read buffer (and at most 1 MiB) is read straight into the one
/// vector returned, allocated once at its exact size: the connection's buffer neither grows nor is copied out
/// of, from the first large read on.
#[test]
fn get_of_a_large_value_allocates_the_value_once_at_its_exact_size_and_nothing_else() {
    const LARGE: usize = 500 * 1024 + 7;
    let (_server, mut client, key, _) = setup("alloc:get:large:");
    let value: Vec<u8> = (0..LARGE).map(|i| (i % 251) as u8).collect();
    client
        .set(&key, &value, StoreOptions::new().flags(4))
        .unwrap();
    // Warm-up with a small reply only: the read buffer at its first size.
    assert!(client.get(b"alloc:get:large:missing").unwrap().is_none());

    let (item, counts) = measure(|| client.get(&key).unwrap());
    let item = item.expect("hit");
    assert!(item.value == value, "the large value came back changed");
    assert_eq!(item.flags, 4);
    assert_eq!(
        (counts.allocs, counts.reallocs, counts.bytes),
        (1, 0, LARGE),
        "expected exactly one allocation of {LARGE} bytes (the value): {counts:?}"
    );
    assert_eq!(item.value.capacity(), LARGE);

    // A large store: nothing either, the value is not copied into the request buffer.
    let ((), counts) = measure(|| {
        client
            .set(&key, &value, StoreOptions::new().flags(4))
            .unwrap()
    });
    assert_no_allocation("set (large)", &counts);

    // get_into with room for it: nothing at all.
    let mut buf = Vec::with_capacity(LARGE);
    assert_eq!(client.get_into(&key, &mut buf).unwrap(), Some(4));
    let (flags, counts) = measure(|| client.get_into(&key, &mut buf).unwrap());
    assert_eq!(flags, Some(4));
    assert!(buf == value, "the large value came back changed");
    assert_no_allocation("get_into (large hit)", &counts);
}
