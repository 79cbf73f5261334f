//! TLS cost, on a private `memcached -Z` with certificates made at start: `get` and `set` of
//! 100 B through a `Client` over TLS against a raw rustls floor (one `StreamOwned`, one
//! request at a time, no parsing beyond finding the reply's end); then what a new TLS
//! connection costs (a full handshake, a resumed one, plain TCP for reference) and what a pool
//! checkout costs instead. Rounds interleave the contenders, and each ratio is the median of
//! per-round ratios, so a machine that slows down mid-run slows both sides.
//!
//! ```text
//! cargo bench --features tls --bench tls              # ~20 s
//! TLS_BENCH_QUICK=1 cargo bench --features tls --bench tls
//! ```

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use memcache_sync::rustls::{self, pki_types::ServerName, ClientConfig, RootCertStore};
use memcache_sync::{Client, Config, Expiry, Pool, PoolConfig, TlsConfig};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

const VALUE_LEN: usize = 100;

/// memcached with TLS only, killed on drop.
struct Server {
    child: Child,
    dir: std::path::PathBuf,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A CA, a server certificate for 127.0.0.1 signed by it, and memcached serving it; the
/// CA's certificate for the clients.
fn start() -> (Server, rcgen::Certificate) {
    let dir = std::env::temp_dir().join(format!("memcache-sync-bench-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "bench CA");
    let ca = params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let options = format!(
        "ssl_chain_cert={},ssl_key={}",
        dir.join("cert.pem").display(),
        dir.join("key.pem").display()
    );
    let child = Command::new("memcached")
        .args([
            "-Z",
            "-o",
            &options,
            "-p",
            &port.to_string(),
            "-U",
            "0",
            "-l",
            "127.0.0.1",
        ])
        .args(["-u", "root", "-t", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("memcached (with TLS) on PATH");
    let server = Server { child, dir, port };
    let give_up = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < give_up, "memcached did not listen");
        std::thread::sleep(Duration::from_millis(10));
    }
    (server, ca)
}

/// The floor: rustls over a TcpStream, one request written, the reply read until it ends.
struct Floor {
    stream: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
    buf: Vec<u8>,
}

impl Floor {
    fn connect(port: u16, config: Arc<ClientConfig>) -> Floor {
        let socket = TcpStream::connect(("127.0.0.1", port)).unwrap();
        socket.set_nodelay(true).unwrap();
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let session = rustls::ClientConnection::new(config, name).unwrap();
        Floor {
            stream: rustls::StreamOwned::new(session, socket),
            buf: vec![0; 64 * 1024],
        }
    }

    fn exchange(&mut self, request: &[u8], end: &[u8]) {
        self.stream.write_all(request).unwrap();
        let mut len = 0;
        while !self.buf[..len].ends_with(end) {
            let n = self.stream.read(&mut self.buf[len..]).unwrap();
            assert!(n > 0, "closed");
            len += n;
        }
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Nanoseconds per call of `f`, over `n` calls.
fn per_call(n: usize, mut f: impl FnMut()) -> f64 {
    let started = Instant::now();
    for _ in 0..n {
        f();
    }
    started.elapsed().as_nanos() as f64 / n as f64
}

fn main() {
    let quick = std::env::var_os("TLS_BENCH_QUICK").is_some();
    let (rounds, ops, connects) = if quick { (5, 500, 50) } else { (15, 3000, 300) };
    let (server, ca) = start();
    let addr = format!("127.0.0.1:{}", server.port);
    let mut roots = RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    let rustls_config = Arc::new(
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    let tls = TlsConfig::from_rustls(rustls_config.clone());
    let config = Config::default().with_tls(tls.clone());

    let value = vec![b'v'; VALUE_LEN];
    let mut set_request = format!("set bench:k 0 0 {VALUE_LEN}\r\n").into_bytes();
    set_request.extend_from_slice(&value);
    set_request.extend_from_slice(b"\r\n");
    let mut floor = Floor::connect(server.port, rustls_config.clone());
    let mut client = Client::builder(&addr)
        .config(config.clone())
        .connect()
        .unwrap();
    client.set(b"bench:k", &value, Expiry::Never).unwrap();
    // Warm-up.
    for _ in 0..ops {
        floor.exchange(b"get bench:k\r\n", b"END\r\n");
        client.get(b"bench:k").unwrap();
    }

    let (mut get_ratio, mut set_ratio) = (Vec::new(), Vec::new());
    let (mut get_ns, mut set_ns, mut floor_get_ns, mut floor_set_ns) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let f = per_call(ops, || floor.exchange(b"get bench:k\r\n", b"END\r\n"));
        let c = per_call(ops, || {
            client.get(b"bench:k").unwrap().unwrap();
        });
        get_ratio.push(c / f);
        floor_get_ns.push(f);
        get_ns.push(c);
        let f = per_call(ops, || floor.exchange(&set_request, b"STORED\r\n"));
        let c = per_call(ops, || {
            client.set(b"bench:k", &value, Expiry::Never).unwrap()
        });
        set_ratio.push(c / f);
        floor_set_ns.push(f);
        set_ns.push(c);
    }

    // A new connection each time: full handshakes (resumption off), resumed ones (one TlsConfig, whose cache the first connect filled),
    // plain TCP's connect for reference; against a pooled checkout and return.
    let full = per_call(connects, || {
        let mut fresh = ClientConfig::clone(&rustls_config);
        fresh.resumption = rustls::client::Resumption::disabled();
        let config = Config::default().with_tls(TlsConfig::from_rustls(Arc::new(fresh)));
        let mut c = Client::builder(&addr).config(config).connect().unwrap();
        c.get(b"bench:k").unwrap();
    });
    let resumed = per_call(connects, || {
        let mut c = Client::builder(&addr)
            .config(config.clone())
            .connect()
            .unwrap();
        c.get(b"bench:k").unwrap();
    });
    let tcp = per_call(connects, || {
        TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    });
    let pool = Pool::builder(&addr)
        .config(config.clone())
        .pool(PoolConfig::default().with_max_size(1))
        .build();
    pool.get().unwrap().get(b"bench:k").unwrap();
    let pooled = per_call(connects * 10, || {
        pool.get().unwrap().get(b"bench:k").unwrap();
    });
    let warm = per_call(connects * 10, || {
        client.get(b"bench:k").unwrap();
    });

    println!(
        "TLS against memcached -Z (1 thread), {rounds} rounds of {ops} ops, {VALUE_LEN} B values"
    );
    println!("| op | client µs | rustls floor µs | client / floor (median of rounds) |");
    println!("|---|---|---|---|");
    let us = |xs: &Vec<f64>| median(xs.clone()) / 1000.0;
    println!(
        "| get | {:.1} | {:.1} | {:.3} |",
        us(&get_ns),
        us(&floor_get_ns),
        median(get_ratio)
    );
    println!(
        "| set | {:.1} | {:.1} | {:.3} |",
        us(&set_ns),
        us(&floor_set_ns),
        median(set_ratio)
    );
    println!();
    println!("| a get on … | µs |");
    println!("|---|---|");
    println!(
        "| a new connection, full TLS handshake | {:.1} |",
        full / 1000.0
    );
    println!(
        "| a new connection, resumed TLS session | {:.1} |",
        resumed / 1000.0
    );
    println!("| (a plain TCP connect alone) | {:.1} |", tcp / 1000.0);
    println!(
        "| a pooled connection (checkout + get + return) | {:.1} |",
        pooled / 1000.0
    );
    println!("| the client's open connection | {:.1} |", warm / 1000.0);
}
