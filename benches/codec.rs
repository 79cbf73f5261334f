//! Criterion micro-benchmarks of the sans-IO codec: encoding each request kind and parsing each
//! reply kind, with throughput in bytes (encoded bytes out, or reply bytes in).
//!
//! `cargo bench --bench codec` takes about a minute (2 s of measurement and 0.5 s of warm-up
//! per benchmark). Criterion's usual flags work after `--`, e.g.
//! `cargo bench --bench codec -- parse/` to run only the parsers.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use memcache_sync::protocol::{
    encode_arith, encode_delete, encode_reply, encode_retrieval, encode_retrieval_lines,
    encode_storage, parse_reply, ArithCommand, Reply, RetrievalCommand, Status, StorageCommand,
    Value,
};

/// The client's default value limit (`Config::max_value_size`), as the client passes it.
const MAX_VALUE: usize = 1024 * 1024;

/// A 32-byte key, like the `compare` bench uses.
fn key(i: usize) -> Vec<u8> {
    let key = format!("bench:key:{i:022}").into_bytes();
    assert_eq!(key.len(), 32);
    key
}

fn value(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

/// Encodes with `f` into a reused buffer (cleared each time, as the client does) and measures
/// it with the encoded length as the throughput.
fn bench_encode<M: criterion::measurement::Measurement>(
    group: &mut BenchmarkGroup<'_, M>,
    name: &str,
    mut f: impl FnMut(&mut Vec<u8>),
) {
    let mut buf = Vec::new();
    f(&mut buf);
    group.throughput(Throughput::Bytes(buf.len() as u64));
    group.bench_function(name, |b| {
        b.iter(|| {
            buf.clear();
            f(black_box(&mut buf));
            black_box(buf.len())
        })
    });
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    let k = key(7);
    let keys: Vec<Vec<u8>> = (0..100).map(key).collect();
    let small = value(100);
    let large = value(10 * 1024);

    bench_encode(&mut group, "get", |buf| {
        encode_retrieval(buf, RetrievalCommand::Get, &[black_box(&k[..])]).unwrap()
    });
    bench_encode(&mut group, "set_100B", |buf| {
        encode_storage(buf, StorageCommand::Set, &k, 0, 0, black_box(&small), false).unwrap()
    });
    bench_encode(&mut group, "set_10KiB", |buf| {
        encode_storage(buf, StorageCommand::Set, &k, 0, 0, black_box(&large), false).unwrap()
    });
    bench_encode(&mut group, "get_100_keys", |buf| {
        let lines = encode_retrieval_lines(buf, RetrievalCommand::Get, black_box(&keys)).unwrap();
        black_box(lines);
    });
    bench_encode(&mut group, "delete", |buf| {
        encode_delete(buf, black_box(&k), false).unwrap()
    });
    bench_encode(&mut group, "incr", |buf| {
        encode_arith(buf, ArithCommand::Incr, black_box(&k), 12_345, false).unwrap()
    });
    group.finish();
}

/// Parses the single frame `wire` and checks it is complete.
fn bench_parse_one<M: criterion::measurement::Measurement>(
    group: &mut BenchmarkGroup<'_, M>,
    name: &str,
    wire: &[u8],
) {
    match parse_reply(wire, MAX_VALUE) {
        Ok(Status::Complete { len, .. }) => assert_eq!(len, wire.len(), "{name}: one frame"),
        other => panic!("{name}: {other:?}"),
    }
    group.throughput(Throughput::Bytes(wire.len() as u64));
    group.bench_function(name, |b| {
        b.iter(|| match parse_reply(black_box(wire), MAX_VALUE) {
            Ok(Status::Complete { frame, len }) => {
                black_box(&frame);
                len
            }
            _ => unreachable!(),
        })
    });
}

/// Parses every frame of `wire` in turn, up to and including the `END` that closes it, as the
/// client's reply reader does; returns the frame count.
fn parse_frames(wire: &[u8]) -> usize {
    let mut at = 0;
    let mut frames = 0;
    loop {
        match parse_reply(&wire[at..], MAX_VALUE) {
            Ok(Status::Complete { frame, len }) => {
                at += len;
                frames += 1;
                if matches!(black_box(frame), Reply::End) {
                    return frames;
                }
            }
            _ => unreachable!("a complete, valid reply"),
        }
    }
}

fn bench_parse_frames<M: criterion::measurement::Measurement>(
    group: &mut BenchmarkGroup<'_, M>,
    name: &str,
    wire: &[u8],
    expected_frames: usize,
) {
    assert_eq!(parse_frames(wire), expected_frames, "{name}");
    group.throughput(Throughput::Bytes(wire.len() as u64));
    group.bench_function(name, |b| b.iter(|| parse_frames(black_box(wire))));
}

fn wire(reply: &Reply<'_>) -> Vec<u8> {
    let mut buf = Vec::new();
    encode_reply(reply, &mut buf);
    buf
}

/// A `stats` reply shaped like memcached 1.6's: its general statistics, then `END`.
fn stats_reply() -> Vec<u8> {
    const STATS: &[(&str, &str)] = &[
        ("pid", "12345"),
        ("uptime", "86400"),
        ("time", "1700000000"),
        ("version", "1.6.18"),
        ("libevent", "2.1.12-stable"),
        ("pointer_size", "64"),
        ("rusage_user", "12.345678"),
        ("rusage_system", "23.456789"),
        ("max_connections", "1024"),
        ("curr_connections", "10"),
        ("total_connections", "1234"),
        ("rejected_connections", "0"),
        ("connection_structures", "12"),
        ("response_obj_oom", "0"),
        ("response_obj_count", "1"),
        ("response_obj_bytes", "65536"),
        ("read_buf_oom", "0"),
        ("reserved_fds", "20"),
        ("cmd_get", "123456789"),
        ("cmd_set", "23456789"),
        ("cmd_flush", "0"),
        ("cmd_touch", "0"),
        ("cmd_meta", "0"),
        ("get_hits", "100000000"),
        ("get_misses", "23456789"),
        ("get_expired", "0"),
        ("get_flushed", "0"),
        ("delete_misses", "0"),
        ("delete_hits", "0"),
        ("incr_misses", "0"),
        ("incr_hits", "0"),
        ("decr_misses", "0"),
        ("decr_hits", "0"),
        ("cas_misses", "0"),
        ("cas_hits", "0"),
        ("cas_badval", "0"),
        ("touch_hits", "0"),
        ("touch_misses", "0"),
        ("store_too_large", "0"),
        ("store_no_memory", "0"),
        ("auth_cmds", "0"),
        ("auth_errors", "0"),
        ("bytes_read", "3456789012"),
        ("bytes_written", "4567890123"),
        ("limit_maxbytes", "1073741824"),
        ("accepting_conns", "1"),
        ("listen_disabled_num", "0"),
        ("time_in_listen_disabled_us", "0"),
        ("threads", "4"),
        ("conn_yields", "0"),
        ("hash_power_level", "20"),
        ("hash_bytes", "8388608"),
        ("hash_is_expanding", "0"),
        ("slab_reassign_rescues", "0"),
        ("slab_reassign_chunk_rescues", "0"),
        ("slab_reassign_evictions_nomem", "0"),
        ("slab_reassign_inline_reclaim", "0"),
        ("slab_reassign_busy_items", "0"),
        ("slab_reassign_busy_deletes", "0"),
        ("slab_reassign_running", "0"),
        ("slabs_moved", "0"),
        ("lru_crawler_running", "0"),
        ("lru_crawler_starts", "12"),
        ("lru_maintainer_juggles", "123456"),
        ("malloc_fails", "0"),
        ("log_worker_dropped", "0"),
        ("log_worker_written", "0"),
        ("log_watcher_skipped", "0"),
        ("log_watcher_sent", "0"),
        ("log_watchers", "0"),
        ("unexpected_napi_ids", "0"),
        ("round_robin_fallback", "0"),
        ("bytes", "123456789"),
        ("curr_items", "500000"),
        ("total_items", "3500000"),
        ("slab_global_page_pool", "0"),
        ("expired_unfetched", "0"),
        ("evicted_unfetched", "0"),
        ("evicted_active", "0"),
        ("evictions", "0"),
        ("reclaimed", "0"),
        ("crawler_reclaimed", "0"),
        ("crawler_items_checked", "0"),
        ("lrutail_reflocked", "0"),
        ("moves_to_cold", "123"),
        ("moves_to_warm", "45"),
        ("moves_within_lru", "6"),
        ("direct_reclaims", "0"),
        ("lru_bumps_dropped", "0"),
    ];
    let mut buf = Vec::new();
    for (name, value) in STATS {
        encode_reply(
            &Reply::Stat {
                name: name.as_bytes(),
                value: value.as_bytes(),
            },
            &mut buf,
        );
    }
    encode_reply(&Reply::End, &mut buf);
    buf
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    let k = key(7);
    let small = value(100);
    let large = value(10 * 1024);
    let value_frame = |data: &[u8]| {
        wire(&Reply::Value(Value {
            key: &k,
            flags: 0,
            cas: None,
            data,
        }))
    };

    bench_parse_one(&mut group, "stored", &wire(&Reply::Stored));
    bench_parse_one(&mut group, "value_100B", &value_frame(&small));
    bench_parse_one(&mut group, "value_10KiB", &value_frame(&large));
    bench_parse_one(&mut group, "end", &wire(&Reply::End));
    bench_parse_one(&mut group, "number", &wire(&Reply::Number(1_234_567_890)));

    let keys: Vec<Vec<u8>> = (0..100).map(key).collect();
    let mut multi = Vec::new();
    for key in &keys {
        let frame = Reply::Value(Value {
            key,
            flags: 0,
            cas: None,
            data: &small,
        });
        encode_reply(&frame, &mut multi);
    }
    encode_reply(&Reply::End, &mut multi);
    bench_parse_frames(&mut group, "get_100_values_100B", &multi, 101);

    let stats = stats_reply();
    bench_parse_frames(&mut group, "stats", &stats, 90);
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = encode, parse
}
criterion_main!(benches);
