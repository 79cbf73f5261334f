//! A cluster of memcached servers: which server each key lives on, retries for reads,
//! server down/up events, and batches that fan out to every server at once.
//!
//! ```text
//! MEMCACHED_ADDRS=127.0.0.1:11211,127.0.0.1:11212,127.0.0.1:11213 cargo run --example cluster
//! MEMCACHED_ADDR=127.0.0.1:11211 cargo run --example cluster          # one server
//! MEMCACHED_DISTRIBUTION=gomemcache cargo run --example cluster       # another key distribution
//! ```
//!
//! `MEMCACHED_ADDRS` is a comma-separated list; without it the cluster is `MEMCACHED_ADDR`
//! alone (default `127.0.0.1:11211`). `MEMCACHED_DISTRIBUTION` names the distribution, to
//! match the client the rest of a fleet uses: `ketama` (the default: libmemcached / pylibmc
//! with ketama), `ketama-weighted`, `gomemcache`, `python-memcached`,
//! `libmemcached-modulo` or `libmemcached-crc`.

use std::process::ExitCode;
use std::time::Duration;

use memcache_sync::distribution::{Distribution, Ketama, Modulo, Server};
use memcache_sync::{
    BatchError, Cluster, Config, Entry, Event, Expiry, HealthConfig, ItemResult, PoolConfig,
    RetryPolicy,
};

fn addresses() -> Vec<String> {
    let list = std::env::var("MEMCACHED_ADDRS")
        .ok()
        .filter(|list| !list.trim().is_empty())
        .or_else(|| std::env::var("MEMCACHED_ADDR").ok())
        .unwrap_or_else(|| "127.0.0.1:11211".into());
    list.split(',')
        .map(str::trim)
        .filter(|addr| !addr.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The distribution called `name`, built for `addrs` in their order.
fn distribution(name: &str, addrs: &[String]) -> Result<Box<dyn Distribution>, String> {
    let servers = || -> Result<Vec<Server>, String> {
        addrs
            .iter()
            .map(|addr| {
                let (host, port) = addr
                    .rsplit_once(':')
                    .ok_or_else(|| format!("{addr:?} is not host:port"))?;
                let port = port.parse().map_err(|_| format!("bad port in {addr:?}"))?;
                Ok(Server::new(host, port))
            })
            .collect()
    };
    let n = addrs.len();
    let built: Result<Box<dyn Distribution>, _> = match name {
        "ketama" => Ketama::libmemcached_ketama(&servers()?).map(|d| Box::new(d) as _),
        "ketama-weighted" => {
            Ketama::libmemcached_ketama_weighted(&servers()?).map(|d| Box::new(d) as _)
        }
        "gomemcache" => Modulo::gomemcache(n).map(|d| Box::new(d) as _),
        "python-memcached" => Modulo::python_memcached(n).map(|d| Box::new(d) as _),
        "libmemcached-modulo" => Modulo::libmemcached_default(n).map(|d| Box::new(d) as _),
        "libmemcached-crc" => Modulo::libmemcached_crc(n).map(|d| Box::new(d) as _),
        other => {
            return Err(format!(
                "unknown distribution {other:?}; one of: ketama, ketama-weighted, gomemcache, \
                 python-memcached, libmemcached-modulo, libmemcached-crc"
            ))
        }
    };
    built.map_err(|e| e.to_string())
}

/// The builder wants a concrete type; this hands it the chosen one.
#[derive(Debug)]
struct Chosen(Box<dyn Distribution>);

impl Distribution for Chosen {
    fn server_for(&self, key: &[u8]) -> usize {
        self.0.server_for(key)
    }

    fn server_count(&self) -> usize {
        self.0.server_count()
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let addrs = addresses();
    let name = std::env::var("MEMCACHED_DISTRIBUTION").unwrap_or_else(|_| "ketama".into());
    let chosen = distribution(&name, &addrs)?;
    println!(
        "cluster of {} server(s): {addrs:?}, distribution {name}",
        addrs.len()
    );

    let cluster = Cluster::builder(&addrs)
        .config(
            Config::default()
                .with_connect_timeout(Duration::from_millis(500))
                .with_read_timeout(Duration::from_millis(500))
                .with_write_timeout(Duration::from_millis(500)),
        )
        .pool(PoolConfig::default().with_max_size(4))
        .health(
            HealthConfig::default()
                .with_failure_threshold(2)
                .with_backoff(Duration::from_secs(1), Duration::from_secs(30)),
        )
        // Reads are retried after any transient failure; writes only when nothing was sent.
        .retry(
            RetryPolicy::attempts(3)
                .with_backoff(Duration::from_millis(10), Duration::from_millis(200)),
        )
        .observer(|event: &Event<'_>| match event {
            Event::ServerDown { server, retry_in } => {
                println!("  [event] {server} is down; next probe in {retry_in:?}")
            }
            Event::ServerUp { server } => println!("  [event] {server} is up again"),
            Event::Retry {
                server,
                command,
                attempt,
                error,
                ..
            } => println!(
                "  [event] retrying {command} on {server} after attempt {attempt}: {error}"
            ),
            _ => {}
        })
        .distribution(Chosen(chosen))
        .build()?;

    // Single keys: each lives on exactly one server.
    println!("\nsingle keys:");
    for i in 0..6 {
        let key = format!("example:cluster:{i}");
        let members = cluster.membership();
        let server = members.addr_for(key.as_bytes());
        let value = format!("value {i}");
        match cluster.set(key.as_bytes(), value.as_bytes(), Expiry::after_secs(300)) {
            Ok(()) => {}
            Err(error) => {
                println!("  set {key} on {server} -> failed: {error}");
                continue;
            }
        }
        let read = cluster.get(key.as_bytes())?;
        println!(
            "  {key} lives on {server}: get -> {:?}",
            read.map(|item| String::from_utf8_lossy(&item.value).into_owned())
        );
    }

    // A batch of writes: one pipeline per server, all servers at once.
    println!("\nset_many of 100 entries:");
    let keys: Vec<String> = (0..100)
        .map(|i| format!("example:cluster:batch:{i}"))
        .collect();
    // The example prints every outcome, so it wants the report whether or not all were stored.
    let report =
        cluster
            .set_many(keys.iter().map(|key| {
                Entry::new(key.as_str(), "batched").with_expiry(Expiry::after_secs(300))
            }))
            .unwrap_or_else(BatchError::into_report);
    println!("  {} of {} stored", report.done_count(), report.len());
    for (index, result) in report.failures().take(5) {
        let what = match result {
            ItemResult::Failed(error) => format!("failed: {error}"),
            ItemResult::Unconfirmed => "sent, unconfirmed".into(),
            ItemResult::NotSent => "not sent".into(),
            ItemResult::Done(()) => unreachable!("failures() lists only the others"),
        };
        println!("  {} -> {what}", keys[index]);
    }
    if let Some(error) = report.stop_error() {
        println!("  a server stopped mid-batch: {error}");
    }

    // A fan-out read: every server answers for its own keys; a failing server fails only
    // its own.
    println!("\nget_many of 100 keys plus 2 never stored:");
    let mut wanted = keys.clone();
    wanted.extend([
        "example:cluster:missing:1".into(),
        "example:cluster:missing:2".into(),
    ]);
    let found = cluster.get_many(&wanted)?;
    let mut per_server = vec![0usize; cluster.servers().len()];
    for key in found.found.keys() {
        per_server[cluster.server_for(key)] += 1;
    }
    let failed = found.failed_keys().count();
    println!(
        "  found {}, failed {failed}, missed {}",
        found.found.len(),
        wanted.len() - found.found.len() - failed
    );
    for (server, count) in cluster.servers().iter().zip(&per_server) {
        println!("  {server}: {count} found");
    }
    for failure in &found.failed {
        println!(
            "  {}: {} keys unread -> {}",
            failure.server,
            failure.keys.len(),
            failure.error
        );
    }

    let cleanup = cluster
        .delete_many(keys.iter())
        .unwrap_or_else(BatchError::into_report);
    println!(
        "\ndelete_many -> {} of {} confirmed",
        cleanup.done_count(),
        cleanup.len()
    );
    Ok(())
}
