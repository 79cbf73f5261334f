//! TLS against real memcached started with `-Z` (and `ssl_ca_cert` + `ssl_verify_mode` for
//! client certificates), with certificates made at test time: every command, the pool's
//! reuse of sessions, each certificate failure and each refusal of a client certificate as
//! its typed error, and a silent or stalled handshake as a connect timeout.

use memcache_sync_test_support as support;

use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use memcache_sync::rustls::{self, AlertDescription, CertificateError};
use memcache_sync::{
    Client, Config, Error, Expiry, Phase, Pool, PoolConfig, TlsConfig, TlsFailure,
};
use support::pki::{serve_tls as start, ExtendedKeyUsagePurpose, Pki};
use support::{item, unique_key, Memcached};

/// What a bound may exceed its timeout by on a shared, loaded machine.
const MARGIN: Duration = Duration::from_millis(300);

fn config(tls: TlsConfig) -> Config {
    Config::default()
        .with_connect_timeout(Duration::from_secs(2))
        .with_read_timeout(Duration::from_millis(500))
        .with_write_timeout(Duration::from_millis(500))
        .with_tls(tls)
}

fn trusting(pki: &Pki) -> TlsConfig {
    TlsConfig::new().ca_file(pki.ca_file()).unwrap()
}

/// The first failure of a client that connects to `addr` and sets a key: at the handshake,
/// or (TLS 1.3 servers report a refused client certificate after it) at the first command.
fn first_failure(addr: &str, config: Config) -> Error {
    let mut client = match Client::builder(addr).config(config).connect() {
        Ok(client) => client,
        Err(error) => return error,
    };
    match client
        .set(b"tls:k", b"v", Expiry::Never)
        .and_then(|()| client.get(b"tls:k"))
    {
        Ok(got) => panic!("the server accepted the client: {got:?}"),
        Err(error) => error,
    }
}

/// The rustls error inside a TLS error, after checking what every TLS error must be.
fn tls_reason(error: &Error, failure: TlsFailure) -> rustls::Error {
    let Error::Tls {
        failure: got,
        source,
        ..
    } = error
    else {
        panic!("expected Error::Tls ({failure:?}), got {error:?}");
    };
    assert_eq!(*got, failure, "{error}");
    assert!(error.is_tls_error(), "{error:?}");
    assert!(!error.is_transient(), "{error:?}");
    assert!(!error.is_safe_to_retry(true), "{error:?}");
    assert!(!error.is_connection_error(), "{error:?}");
    assert!(!error.is_connection_lost(), "{error:?}");
    source
        .downcast_ref::<rustls::Error>()
        .unwrap_or_else(|| panic!("the source of {error:?} is not a rustls::Error"))
        .clone()
}

#[test]
fn every_command_works_over_tls_by_ip_address_and_by_host_name() {
    let pki = Pki::new("commands");
    let server = start(&pki.server(), None);
    let port = server.port();
    for addr in [format!("127.0.0.1:{port}"), format!("localhost:{port}")] {
        let mut client = Client::builder(&addr)
            .config(config(trusting(&pki)))
            .connect()
            .unwrap();
        let (key, other) = support::exercise_commands(&mut client, "tls:cmd:");
        assert_eq!(client.get(&other).unwrap(), None);
        // A value over many TLS records (16 KiB each), both ways.
        let large: Vec<u8> = (0..900_000u32).map(|i| (i % 251) as u8).collect();
        client.set(&key, &large, Expiry::Never).unwrap();
        assert_eq!(client.get(&key).unwrap(), item(&large, 0));
        assert!(client.version().unwrap().starts_with("1."));
        assert!(client.stats().unwrap().contains_key("curr_connections"));
        client.flush_all().unwrap();
        assert_eq!(client.get(&key).unwrap(), None);
    }
}

/// memcached's count of connections it has accepted, asked over `client`'s own connection.
fn total_connections(client: &mut Client) -> u64 {
    client.stats().unwrap()["total_connections"]
        .parse()
        .unwrap()
}

#[test]
fn session_tickets_that_arrive_after_the_handshake_are_not_taken_for_stray_bytes() {
    let pki = Pki::new("tickets");
    let server = start(&pki.server(), None);
    let mut client = Client::builder(&server.addr())
        .config(config(trusting(&pki)))
        .connect()
        .unwrap();
    let before = total_connections(&mut client);
    for i in 0..5 {
        // Time for the tickets (sent 0.15–0.4 ms after the handshake) and anything else
        // unasked to arrive before the next call looks.
        thread::sleep(Duration::from_millis(20));
        client.set(b"tls:t", format!("{i}"), Expiry::Never).unwrap();
        assert_eq!(
            client.get(b"tls:t").unwrap(),
            item(format!("{i}").as_bytes(), 0)
        );
    }
    assert_eq!(
        total_connections(&mut client),
        before,
        "the client reconnected"
    );
}

#[test]
fn pooled_tls_connections_are_reused_across_checkouts_without_a_new_handshake() {
    let pki = Pki::new("pool");
    let server = start(&pki.server(), None);
    let pool = Pool::builder(&server.addr())
        .config(config(trusting(&pki)))
        .pool(PoolConfig::default().with_max_size(2))
        .build();
    let before = total_connections(&mut pool.get().unwrap());
    for i in 0..20 {
        thread::sleep(Duration::from_millis(2));
        let mut client = pool.get().unwrap();
        client
            .set(b"tls:pool", format!("{i}"), Expiry::Never)
            .unwrap();
        assert_eq!(
            client.get(b"tls:pool").unwrap(),
            item(format!("{i}").as_bytes(), 0)
        );
    }
    assert_eq!(total_connections(&mut pool.get().unwrap()), before);
    assert_eq!(pool.open_connections(), 1);
}

#[test]
fn a_server_certificate_from_another_ca_is_a_typed_verification_error_at_connect() {
    let pki = Pki::new("ca");
    let other = Pki::new("other-ca");
    let server = start(&pki.server(), None);
    let error = first_failure(&server.addr(), config(trusting(&other)));
    assert!(
        matches!(
            error,
            Error::Tls {
                phase: Phase::Connect,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!error.may_have_reached_server(), "nothing was sent");
    let reason = tls_reason(&error, TlsFailure::Certificate);
    assert!(
        matches!(
            reason,
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
        ),
        "{reason:?}"
    );
    // The bundled roots do not trust a private CA either.
    let error = first_failure(&server.addr(), config(TlsConfig::new()));
    tls_reason(&error, TlsFailure::Certificate);
}

#[test]
fn a_certificate_for_another_name_is_a_typed_verification_error() {
    let pki = Pki::new("name");
    let cert = pki.issue(
        "elsewhere",
        &["cache.example.com"],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let server = start(&cert, None);
    let error = first_failure(&server.addr(), config(trusting(&pki)));
    let reason = tls_reason(&error, TlsFailure::Certificate);
    assert!(
        matches!(
            reason,
            rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
            )
        ),
        "{reason:?}"
    );
    // Named explicitly, the same certificate is accepted on the same address.
    let named = trusting(&pki).server_name("cache.example.com").unwrap();
    let mut client = Client::builder(&server.addr())
        .config(config(named))
        .connect()
        .unwrap();
    client.set(b"tls:named", b"v", Expiry::Never).unwrap();
}

#[test]
fn an_expired_certificate_is_a_typed_verification_error() {
    let pki = Pki::new("expired");
    let cert = pki.issue_with(
        "expired",
        &["127.0.0.1"],
        ExtendedKeyUsagePurpose::ServerAuth,
        true,
    );
    let server = start(&cert, None);
    let error = first_failure(&server.addr(), config(trusting(&pki)));
    let reason = tls_reason(&error, TlsFailure::Certificate);
    assert!(
        matches!(
            reason,
            rustls::Error::InvalidCertificate(
                CertificateError::Expired | CertificateError::ExpiredContext { .. }
            )
        ),
        "{reason:?}"
    );
}

#[test]
fn with_client_certificates_required_a_client_with_the_right_one_works() {
    let pki = Pki::new("mtls");
    let server = start(&pki.server(), Some(&pki.ca_file()));
    let client_cert = pki.client();
    let tls = trusting(&pki)
        .client_auth_pem_files(&client_cert.cert, &client_cert.key)
        .unwrap();
    let mut client = Client::builder(&server.addr())
        .config(config(tls))
        .connect()
        .unwrap();
    client.set(b"tls:mtls", b"v", Expiry::Never).unwrap();
    assert_eq!(client.get(b"tls:mtls").unwrap(), item(b"v", 0));
}

#[test]
fn with_client_certificates_required_a_client_without_one_gets_the_servers_alert() {
    let pki = Pki::new("mtls-none");
    let server = start(&pki.server(), Some(&pki.ca_file()));
    // TLS 1.3: the handshake completes, then memcached sends its alert and resets the
    // connection; the client's first write or read meets the reset, and reports the alert.
    for _ in 0..5 {
        let error = first_failure(&server.addr(), config(trusting(&pki)));
        let reason = tls_reason(&error, TlsFailure::Alert);
        assert_eq!(
            reason,
            rustls::Error::AlertReceived(AlertDescription::CertificateRequired),
            "{error}"
        );
    }
    // TLS 1.2: the handshake itself fails.
    let tls12 = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS12])
    .unwrap()
    .with_root_certificates(ca_roots(&pki))
    .with_no_client_auth();
    let error = first_failure(
        &server.addr(),
        config(TlsConfig::from_rustls(Arc::new(tls12))),
    );
    assert!(
        matches!(
            error,
            Error::Tls {
                phase: Phase::Connect,
                ..
            }
        ),
        "{error:?}"
    );
    let reason = tls_reason(&error, TlsFailure::Alert);
    assert!(
        matches!(reason, rustls::Error::AlertReceived(_)),
        "{reason:?}"
    );
}

#[test]
fn with_client_certificates_required_a_certificate_from_another_ca_gets_unknown_ca() {
    let pki = Pki::new("mtls-wrong");
    let other = Pki::new("mtls-other");
    let server = start(&pki.server(), Some(&pki.ca_file()));
    let stranger = other.client();
    let tls = trusting(&pki)
        .client_auth_pem_files(&stranger.cert, &stranger.key)
        .unwrap();
    let error = first_failure(&server.addr(), config(tls));
    let reason = tls_reason(&error, TlsFailure::Alert);
    assert_eq!(
        reason,
        rustls::Error::AlertReceived(AlertDescription::UnknownCA),
        "{error}"
    );
}

fn ca_roots(pki: &Pki) -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca.der().clone()).unwrap();
    roots
}

/// A connect to a listener that runs `serve` on each connection, with `timeout` as the
/// connect timeout: the error and how long it took.
fn connect_to_misbehaving(
    serve: impl Fn(std::net::TcpStream) + Send + 'static,
    timeout: Duration,
) -> (Error, Duration) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            serve(stream);
        }
    });
    let pki = Pki::new("misbehaving");
    let started = Instant::now();
    let result = Client::builder(&addr)
        .config(config(trusting(&pki)).with_connect_timeout(timeout))
        .connect();
    let elapsed = started.elapsed();
    (result.expect_err("the handshake completed"), elapsed)
}

#[test]
fn a_server_that_accepts_and_stays_silent_is_a_connect_timeout_within_the_connect_timeout() {
    let timeout = Duration::from_millis(400);
    let (error, elapsed) = connect_to_misbehaving(
        |stream| {
            thread::spawn(move || {
                thread::sleep(Duration::from_secs(5));
                drop(stream);
            });
        },
        timeout,
    );
    assert!(
        matches!(error, Error::Timeout { phase: Phase::Connect, timeout: t } if t == timeout),
        "{error:?}"
    );
    assert!(!error.may_have_reached_server());
    assert!(
        elapsed >= timeout && elapsed < timeout + MARGIN,
        "{elapsed:?}"
    );
}

#[test]
fn a_server_that_stalls_mid_handshake_trickling_bytes_is_a_connect_timeout() {
    let timeout = Duration::from_millis(400);
    let (error, elapsed) = connect_to_misbehaving(
        |mut stream| {
            thread::spawn(move || {
                let mut hello = [0u8; 512];
                let _ = stream.read(&mut hello);
                // The start of a ServerHello record, one byte every 100 ms: each read
                // returns something, so only the bound over them all can end the wait.
                for byte in [0x16, 0x03, 0x03, 0x00, 0x7a, 0x02, 0x00, 0x00, 0x76] {
                    if stream.write_all(&[byte]).is_err() {
                        return;
                    }
                    thread::sleep(Duration::from_millis(100));
                }
                thread::sleep(Duration::from_secs(5));
            });
        },
        timeout,
    );
    assert!(
        matches!(
            error,
            Error::Timeout {
                phase: Phase::Connect,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        elapsed >= timeout && elapsed < timeout + MARGIN,
        "{elapsed:?}"
    );
}

#[test]
fn a_peer_that_does_not_speak_tls_is_a_typed_handshake_error() {
    let (error, _) = connect_to_misbehaving(
        |mut stream| {
            let _ = stream.read(&mut [0u8; 512]);
            let _ = stream.write_all(b"ERROR\r\nERROR\r\nERROR\r\n");
            thread::sleep(Duration::from_millis(200));
        },
        Duration::from_secs(2),
    );
    tls_reason(&error, TlsFailure::Handshake);
}

#[test]
fn memcached_killed_while_a_reply_is_awaited_is_a_typed_error_never_a_miss() {
    let pki = Pki::new("kill");
    let mut server = start(&pki.server(), None);
    let mut client = Client::builder(&server.addr())
        .config(config(trusting(&pki)).with_read_timeout(Duration::from_secs(3)))
        .connect()
        .unwrap();
    client.set(b"tls:kill", b"v", Expiry::Never).unwrap();
    server.freeze();
    let killer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(150));
        // Killed while still stopped: it never answers.
        server.kill();
        server
    });
    let result = client.get(b"tls:kill");
    let _server = killer.join().unwrap();
    let error = result.expect_err("a reply from a killed server");
    assert!(error.is_connection_lost(), "{error:?}");
    assert!(!error.is_tls_error(), "{error:?}");
}

#[test]
fn tls_settings_that_cannot_be_used_are_refused_with_the_reason() {
    let missing = TlsConfig::new().ca_file("/nonexistent/ca.pem").unwrap_err();
    assert!(
        matches!(
            missing,
            Error::InvalidArgument {
                what: "TLS CA file",
                ..
            }
        ),
        "{missing:?}"
    );
    let pki = Pki::new("settings");
    let not_a_cert = pki.dir.join("empty.pem");
    fs::write(&not_a_cert, "no certificate here\n").unwrap();
    assert!(TlsConfig::new().ca_file(&not_a_cert).is_err());
    assert!(TlsConfig::new().server_name("not a name").is_err());

    // A Unix socket has no host to check the certificate against.
    let path = pki.dir.join("s.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let addr = format!("unix:{}", path.display());
    let error = Client::builder(&addr)
        .config(config(trusting(&pki)))
        .connect()
        .expect_err("connected without a server name");
    assert!(
        matches!(
            error,
            Error::Tls {
                failure: TlsFailure::Config,
                phase: Phase::Connect,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("server_name"), "{error}");

    // A client key that is not the certificate's.
    let a = pki.client();
    let b = pki.issue("client-b", &["b"], ExtendedKeyUsagePurpose::ClientAuth);
    let server = start(&pki.server(), None);
    let mismatched = trusting(&pki)
        .client_auth_pem_files(&a.cert, &b.key)
        .unwrap();
    let error = first_failure(&server.addr(), config(mismatched));
    assert!(
        matches!(
            error,
            Error::Tls {
                failure: TlsFailure::Config,
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn tls_settings_compare_equal_only_to_their_clones_and_never_print_keys() {
    let pki = Pki::new("eq");
    let client = pki.client();
    let tls = trusting(&pki)
        .client_auth_pem_files(&client.cert, &client.key)
        .unwrap();
    let config = Config::default().with_tls(tls.clone());
    assert_eq!(config.tls(), Some(&tls));
    assert_ne!(&trusting(&pki), &tls);
    let printed = format!("{config:?}");
    assert!(printed.contains("client_auth: true"), "{printed}");
    assert!(!printed.contains("PRIVATE"), "{printed}");
}

#[test]
fn authentication_runs_inside_the_tls_session_right_after_the_handshake() {
    let pki = Pki::new("auth");
    let auth = pki.dir.join("auth");
    fs::write(&auth, "app:s3cret\n").unwrap();
    let cert = pki.server();
    let options = format!(
        "ssl_chain_cert={},ssl_key={}",
        cert.cert.display(),
        cert.key.display()
    );
    let server = Memcached::start_tls(&["-o", &options, "-Y", &auth.display().to_string()]);
    let mut client = Client::builder(&server.addr())
        .config(config(trusting(&pki)).with_credentials("app", "s3cret"))
        .connect()
        .unwrap();
    client.set(b"tls:auth", b"v", Expiry::Never).unwrap();
    assert_eq!(client.get(b"tls:auth").unwrap(), item(b"v", 0));
    let wrong = Client::builder(&server.addr())
        .config(config(trusting(&pki)).with_credentials("app", "nope"))
        .connect();
    assert!(
        matches!(wrong, Err(Error::AuthenticationFailed)),
        "{:?}",
        wrong.err()
    );
}

#[test]
fn the_meta_commands_and_a_lock_work_over_tls() {
    let pki = Pki::new("meta");
    let server = start(&pki.server(), None);
    let mut client = Client::builder(&format!("127.0.0.1:{}", server.port()))
        .config(config(trusting(&pki)))
        .connect()
        .unwrap();
    support::exercise_meta_commands(&mut client);
}

#[test]
fn batches_and_a_cluster_of_two_tls_servers_work_as_over_tcp() {
    let pki = Pki::new("cluster");
    let servers = [start(&pki.server(), None), start(&pki.server(), None)];
    let addrs: Vec<String> = servers
        .iter()
        .map(|server| format!("127.0.0.1:{}", server.port()))
        .collect();
    let mut client = Client::builder(&addrs[0])
        .config(config(trusting(&pki)))
        .connect()
        .unwrap();
    let keys: Vec<Vec<u8>> = (0..2_000)
        .map(|i| unique_key(&format!("tls:batch:{i}:")))
        .collect();
    client
        .set_many(keys.iter().map(|k| memcache_sync::Entry::new(k, b"batch")))
        .unwrap();
    assert_eq!(client.get_many(&keys).unwrap().len(), keys.len());
    client.delete_many(&keys).unwrap();

    let cluster = memcache_sync::Cluster::builder(&addrs)
        .config(config(trusting(&pki)))
        .build()
        .unwrap();
    cluster
        .set_many(keys.iter().map(|k| memcache_sync::Entry::new(k, b"spread")))
        .unwrap();
    let report = cluster.get_many(&keys).unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed.first());
    assert_eq!(report.found.len(), keys.len());
    let owners: std::collections::HashSet<usize> =
        keys.iter().map(|k| cluster.server_for(k)).collect();
    assert_eq!(owners.len(), 2, "the keys spread over both TLS servers");
}

/// memcached before 1.6.39 stalls on a TLS connection when the record that ends a set's data
/// also carries the next command (memcached commit 96e05b75): a pipelined batch then timed
/// out within a thousand sets. Two connections at once, small values with one longer than a
/// record now and then, and every value read back.
#[test]
fn pipelined_sets_over_tls_are_all_answered_whatever_their_sizes() {
    let pki = Pki::new("pipelined");
    let server = start(&pki.server(), None);
    assert_pipelined_sets_are_answered(&server.addr(), || config(trusting(&pki)));
}

/// The same with records a caller made smaller (`max_fragment_size`), which the commands are
/// fitted to as well.
#[test]
fn pipelined_sets_over_tls_are_all_answered_in_records_of_a_callers_size() {
    let pki = Pki::new("fragment");
    let server = start(&pki.server(), None);
    let tls = || {
        let mut rustls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(ca_roots(&pki))
        .with_no_client_auth();
        rustls.max_fragment_size = Some(1_000);
        config(TlsConfig::from_rustls(Arc::new(rustls)))
    };
    assert_pipelined_sets_are_answered(&server.addr(), tls);
}

/// The same with quiet batches: each window's quiet meta commands and its closing `mn` fitted
/// to records alike.
#[test]
fn quiet_pipelined_sets_over_tls_are_all_answered_whatever_their_sizes() {
    let pki = Pki::new("quiet");
    let server = start(&pki.server(), None);
    assert_pipelined_sets_are_answered(&server.addr(), || {
        config(trusting(&pki)).with_quiet_batches(true)
    });
}

fn assert_pipelined_sets_are_answered(addr: &str, config: impl Fn() -> Config + Sync) {
    let value = |i: usize| -> Vec<u8> {
        let len = if i.is_multiple_of(50) {
            20_000
        } else {
            5 + i % 200
        };
        (0..len).map(|at| b'a' + ((i + at) % 26) as u8).collect()
    };
    thread::scope(|scope| {
        for thread in 0..2 {
            let config = &config;
            scope.spawn(move || {
                let mut client = Client::builder(addr).config(config()).connect().unwrap();
                for round in 0..10 {
                    let keys: Vec<Vec<u8>> = (0..1_000)
                        .map(|i| unique_key(&format!("tls:pipelined:{thread}:{round}:{i}:")))
                        .collect();
                    let entries = keys
                        .iter()
                        .enumerate()
                        .map(|(i, key)| memcache_sync::Entry::new(key, value(i)));
                    if let Err(error) = client.set_many(entries) {
                        panic!(
                            "thread {thread}, round {round}: {:?} after {} stored",
                            error.report().stop_error(),
                            error.report().done_count()
                        );
                    }
                    let found = client.get_many(&keys).unwrap();
                    for (i, key) in keys.iter().enumerate() {
                        assert_eq!(found[key], value(i), "round {round}, key {i}");
                    }
                }
            });
        }
    });
}
