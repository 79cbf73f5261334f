//! TLS with rustls, as a layer over any other [`Stream`]: the settings a caller gives
//! ([`TlsConfig`]), the handshake within the connect bound, and a stream that keeps the
//! [transport contract](super) record by record.

use std::fmt;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};

use super::Stream;
use crate::deadline::Bound;
use crate::error::{Error, Phase, TlsFailure};

/// How many records [`TlsStream::is_quiet`] takes in one check before it gives up and calls
/// the stream busy. TLS 1.3 servers send one or two session tickets after the handshake; a
/// peer that keeps sending records that carry no data is not a stream to trust.
const MAX_QUIET_RECORDS: usize = 8;

/// The most plaintext a TLS record carries (RFC 8446, section 5.1), and what rustls puts in
/// one unless `ClientConfig::max_fragment_size` says less.
const MAX_RECORD_PLAINTEXT: usize = 16 * 1024;

/// The bytes of a record's header, which rustls counts in `max_fragment_size`.
const RECORD_HEADER: usize = 5;

/// TLS settings for [`Config::with_tls`](crate::Config::with_tls).
///
/// [`TlsConfig::new`] trusts the Mozilla root set bundled in this crate (from
/// `webpki-roots`), which is what a managed service's certificate chains to;
/// [`TlsConfig::ca_file`] trusts a private CA instead. The server name that is checked
/// against the certificate, and sent as SNI, is the host part of each server's address
/// unless [`TlsConfig::server_name`] names another (a Unix socket path has no host, so it
/// needs one). For anything else (cipher suites, protocol versions, a custom verifier, key
/// logging), build a `rustls::ClientConfig` yourself and pass it to
/// [`TlsConfig::from_rustls`].
///
/// The `rustls::ClientConfig` is built once, at the first connect, and shared by every
/// clone of this value, so the connections of a [`Pool`](crate::Pool) or a
/// [`Cluster`](crate::Cluster) share one session cache and a new connection can resume a
/// session instead of running a full handshake.
///
/// ```
/// use memcache_sync::{Config, TlsConfig};
/// let config = Config::default().with_tls(TlsConfig::new());
/// assert!(config.tls().is_some());
/// ```
#[derive(Clone)]
pub struct TlsConfig {
    inner: Arc<Settings>,
}

#[derive(Clone)]
struct Settings {
    roots: Arc<RootCertStore>,
    client_auth: Option<Arc<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>>,
    server_name: Option<ServerName<'static>>,
    /// A caller's own configuration, used as it is.
    given: Option<Arc<ClientConfig>>,
    /// The configuration built from the fields above, at the first connect.
    built: OnceLock<Result<Arc<ClientConfig>, rustls::Error>>,
}

impl TlsConfig {
    /// TLS that trusts the bundled Mozilla roots and checks each server's host name, with
    /// TLS 1.2 and 1.3 and rustls's safe defaults (ring as the crypto provider).
    pub fn new() -> Self {
        let roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        Self::from_settings(Settings {
            roots: Arc::new(roots),
            client_auth: None,
            server_name: None,
            given: None,
            built: OnceLock::new(),
        })
    }

    /// TLS with a `rustls::ClientConfig` of the caller's, used as it is (its roots, client
    /// certificate, versions and verifier). The server name still comes from the address
    /// or from [`TlsConfig::server_name`].
    pub fn from_rustls(config: Arc<ClientConfig>) -> Self {
        let mut tls = Self::new();
        tls.edit().given = Some(config);
        tls
    }

    /// Trusts only the CA certificates in the PEM file at `path` (one or more `CERTIFICATE`
    /// blocks), instead of the bundled roots: for a private CA, as a self-hosted memcached
    /// with `ssl_chain_cert` uses. A file that cannot be read or holds no certificate is
    /// [`Error::InvalidArgument`].
    pub fn ca_file(mut self, path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let invalid = |reason: String| Error::InvalidArgument {
            what: "TLS CA file",
            reason: format!("{}: {reason}", path.display()),
        };
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(path).map_err(|e| invalid(e.to_string()))? {
            let cert = cert.map_err(|e| invalid(e.to_string()))?;
            roots.add(cert).map_err(|e| invalid(e.to_string()))?;
        }
        if roots.is_empty() {
            return Err(invalid("no certificate in the file".into()));
        }
        self.edit().roots = Arc::new(roots);
        Ok(self)
    }

    /// The name to check the server's certificate against and send as SNI, for every
    /// server, instead of each address's host. Required for a Unix domain socket. A name
    /// that is neither a DNS name nor an IP address is [`Error::InvalidArgument`].
    pub fn server_name(mut self, name: impl Into<String>) -> Result<Self, Error> {
        let name = ServerName::try_from(name.into()).map_err(|e| Error::InvalidArgument {
            what: "TLS server name",
            reason: e.to_string(),
        })?;
        self.edit().server_name = Some(name);
        Ok(self)
    }

    /// Presents `cert_chain` (the client's certificate first) and proves it with `key`, for
    /// a server that requires client certificates (memcached's `ssl_verify_mode` 2 or 3).
    /// A key that does not match the certificate fails at the first connect, as
    /// [`Error::Tls`] with [`TlsFailure::Config`].
    pub fn client_auth(
        mut self,
        cert_chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Self {
        self.edit().client_auth = Some(Arc::new((cert_chain, key)));
        self
    }

    /// [`TlsConfig::client_auth`] with the chain and the key read from PEM files. A file
    /// that cannot be read, or holds no certificate or no key, is [`Error::InvalidArgument`].
    pub fn client_auth_pem_files(
        self,
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Self, Error> {
        let invalid = |path: &Path, reason: String| Error::InvalidArgument {
            what: "TLS client certificate",
            reason: format!("{}: {reason}", path.display()),
        };
        let (chain_path, key_path) = (cert_chain.as_ref(), key.as_ref());
        let chain = CertificateDer::pem_file_iter(chain_path)
            .map_err(|e| invalid(chain_path, e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(chain_path, e.to_string()))?;
        if chain.is_empty() {
            return Err(invalid(chain_path, "no certificate in the file".into()));
        }
        let key =
            PrivateKeyDer::from_pem_file(key_path).map_err(|e| invalid(key_path, e.to_string()))?;
        Ok(self.client_auth(chain, key))
    }

    fn from_settings(settings: Settings) -> Self {
        Self {
            inner: Arc::new(settings),
        }
    }

    /// The settings, for a change: a clone's own copy, with nothing built yet.
    fn edit(&mut self) -> &mut Settings {
        let settings = Arc::make_mut(&mut self.inner);
        settings.built = OnceLock::new();
        settings
    }

    /// The rustls configuration every connection uses, built once.
    fn client_config(&self) -> Result<Arc<ClientConfig>, Error> {
        let settings = &*self.inner;
        if let Some(given) = &settings.given {
            return Ok(given.clone());
        }
        settings
            .built
            .get_or_init(|| settings.build())
            .clone()
            .map_err(|error| Error::Tls {
                failure: TlsFailure::Config,
                phase: Phase::Connect,
                source: Arc::new(error),
            })
    }

    /// The name to verify for the server at `host` (`None` for a Unix socket).
    fn name_for(&self, host: Option<&str>) -> Result<ServerName<'static>, Error> {
        let config = |reason: &str| Error::Tls {
            failure: TlsFailure::Config,
            phase: Phase::Connect,
            source: Arc::new(io::Error::new(
                io::ErrorKind::InvalidInput,
                reason.to_owned(),
            )),
        };
        if let Some(name) = &self.inner.server_name {
            return Ok(name.clone());
        }
        let host = host
            .ok_or_else(|| config("a Unix socket has no host name: set TlsConfig::server_name"))?;
        ServerName::try_from(host.to_owned())
            .map_err(|_| config("the address's host is neither a DNS name nor an IP address"))
    }
}

impl Settings {
    fn build(&self) -> Result<Arc<ClientConfig>, rustls::Error> {
        // The provider is named, not taken from the process default, so that another crate
        // that installs (or enables) a different one cannot make this panic or change it.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(self.roots.clone());
        let config = match &self.client_auth {
            Some(auth) => builder.with_client_auth_cert(auth.0.clone(), auth.1.clone_key())?,
            None => builder.with_no_client_auth(),
        };
        Ok(Arc::new(config))
    }
}

/// [`TlsConfig::new`].
impl Default for TlsConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let settings = &*self.inner;
        let mut debug = f.debug_struct("TlsConfig");
        if settings.given.is_some() {
            debug.field("rustls", &"<caller's ClientConfig>");
        } else {
            debug
                .field("roots", &settings.roots.len())
                .field("client_auth", &settings.client_auth.is_some());
        }
        debug.field("server_name", &settings.server_name).finish()
    }
}

/// Two settings are equal when they are the same settings (one value and its clones): a
/// rustls configuration cannot be compared.
impl PartialEq for TlsConfig {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for TlsConfig {}

/// A TLS session over another stream.
pub(crate) struct TlsStream {
    session: ClientConnection,
    inner: Stream,
    /// The length of the caller's chunk that is encrypted and not yet all sent: the next
    /// writes send its ciphertext, and the last of them answers `Ok` with this length.
    pending: Option<usize>,
    /// The most plaintext this session puts in one record.
    record_limit: usize,
}

impl fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsStream")
            .field("inner", &self.inner)
            .field("version", &self.session.protocol_version())
            .finish()
    }
}

/// The inner stream as rustls reads and writes it: one call of the stream's per call.
struct Io<'a>(&'a mut Stream);

impl Read for Io<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Io<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs the handshake over `inner` to the server at `host` (`None` for a Unix socket), every
/// read and write armed with the time left before `bound`, the connect's.
pub(crate) fn connect(
    inner: Stream,
    host: Option<&str>,
    tls: &TlsConfig,
    addr: &str,
    bound: &Bound,
) -> Result<Stream, Error> {
    let name = tls.name_for(host)?;
    let client_config = tls.client_config()?;
    let record_limit = client_config
        .max_fragment_size
        .map_or(MAX_RECORD_PLAINTEXT, |size| {
            size.saturating_sub(RECORD_HEADER)
        });
    let session = ClientConnection::new(client_config, name).map_err(|error| Error::Tls {
        failure: TlsFailure::Config,
        phase: Phase::Connect,
        source: Arc::new(error),
    })?;
    let mut stream = TlsStream {
        session,
        inner,
        pending: None,
        record_limit,
    };
    let lost = |source: io::Error| Error::Connect {
        addr: addr.to_owned(),
        source: Arc::new(source),
    };
    while stream.session.is_handshaking() || stream.session.wants_write() {
        let remaining = bound.remaining();
        if remaining.is_zero() {
            return Err(bound.expired(Phase::Connect));
        }
        let step = if stream.session.wants_write() {
            stream.inner.set_write_timeout(remaining).map_err(lost)?;
            stream.session.write_tls(&mut Io(&mut stream.inner))
        } else {
            stream.inner.set_read_timeout(remaining).map_err(lost)?;
            match stream.session.read_tls(&mut Io(&mut stream.inner)) {
                Ok(0) => Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection during the TLS handshake",
                )),
                Ok(n) => stream
                    .session
                    .process_new_packets()
                    .map(|_| n)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
                Err(error) => Err(error),
            }
        };
        match step {
            Ok(_) => {}
            Err(error) => match error.kind() {
                io::ErrorKind::Interrupted => {}
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                    if bound.passed() {
                        return Err(bound.expired(Phase::Connect));
                    }
                }
                _ => {
                    return Err(failure_or(error, Phase::Connect, |error| {
                        // A write that failed may have failed because the server refused us
                        // and said why first; the reason is the error, not the reset.
                        stream.alert_behind(error)
                    })
                    .unwrap_or_else(lost));
                }
            },
        }
    }
    Ok(Stream::Tls(Box::new(stream)))
}

impl TlsStream {
    /// One read of plaintext: what is decrypted already, or one read of ciphertext from the
    /// stream beneath (`Interrupted` if it completed no data record).
    pub(super) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(done) = self.plaintext(buf) {
            return done;
        }
        if self.session.wants_write() {
            // A reply the session owes the server (to a key update, say) goes out first.
            self.session
                .write_tls(&mut Io(&mut self.inner))
                .map_err(|e| self.alert_behind(e))?;
            return Err(io::ErrorKind::Interrupted.into());
        }
        match self.session.read_tls(&mut Io(&mut self.inner)) {
            Ok(0) => return Ok(0),
            Ok(_) => {}
            Err(error) => return Err(self.alert_behind(error)),
        }
        self.process()?;
        self.plaintext(buf)
            .unwrap_or_else(|| Err(io::ErrorKind::Interrupted.into()))
    }

    /// One write: encrypts a chunk of `buf` (unless one is still on its way) and sends its
    /// ciphertext with one write to the stream beneath; `Ok` with the chunk's length once the
    /// last of it left, `Interrupted` until then.
    pub(super) fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let chunk = match self.pending {
            Some(chunk) => chunk,
            None => {
                let chunk = self.session.writer().write(buf)?;
                self.pending = Some(chunk);
                chunk
            }
        };
        if self.session.wants_write() {
            self.session
                .write_tls(&mut Io(&mut self.inner))
                .map_err(|e| self.alert_behind(e))?;
        }
        if self.session.wants_write() {
            return Err(io::ErrorKind::Interrupted.into());
        }
        self.pending = None;
        if chunk == 0 && !buf.is_empty() {
            // The session's buffer was full of what it owed first; now it is sent, so the
            // next call takes the caller's bytes. `Ok(0)` would read as a closed stream.
            return Err(io::ErrorKind::Interrupted.into());
        }
        Ok(chunk)
    }

    /// The most plaintext one record carries: a write of at most this much, taken whole
    /// (as a write is whenever nothing of the last is still on its way), goes out as one
    /// record.
    pub(super) fn record_limit(&self) -> usize {
        self.record_limit
    }

    pub(super) fn inner(&mut self) -> &mut Stream {
        &mut self.inner
    }

    /// Whether the session is as the last reply left it: no plaintext decrypted and not
    /// handed out, no alert or close, and nothing but records without data (session
    /// tickets, which it takes in) arrived since.
    pub(super) fn is_quiet(&mut self) -> bool {
        for _ in 0..MAX_QUIET_RECORDS {
            match self.session.process_new_packets() {
                Ok(state) if state.plaintext_bytes_to_read() == 0 && !state.peer_has_closed() => {}
                _ => return false,
            }
            if self.inner.is_quiet() {
                return true;
            }
            // The peek saw bytes (or a close, or an error), so this read returns at once.
            match self.session.read_tls(&mut Io(&mut self.inner)) {
                Ok(0) | Err(_) => return false,
                Ok(_) => {}
            }
        }
        false
    }

    /// Plaintext already decrypted, if there is any (or the end of the stream, after the
    /// server's `close_notify`).
    fn plaintext(&mut self, buf: &mut [u8]) -> Option<io::Result<usize>> {
        match self.session.reader().read(buf) {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => None,
            // The peer closed without close_notify: read_tls saw the end, which is reported
            // as an end of stream like a plain socket's.
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => Some(Ok(0)),
            done => Some(done),
        }
    }

    /// Decrypts what was read, as an IO error carrying the TLS error if the session failed.
    fn process(&mut self) -> io::Result<()> {
        self.session
            .process_new_packets()
            .map(|_| ())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// The server's alert, if it sent one before the stream failed with `error`; else
    /// `error`. memcached, refusing a client certificate after a TLS 1.3 handshake, sends
    /// the alert and resets the connection at once, so the client's next write or read
    /// fails with a reset while the alert is still in the socket's receive queue.
    fn alert_behind(&mut self, error: io::Error) -> io::Error {
        if !matches!(
            error.kind(),
            io::ErrorKind::ConnectionReset
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::ConnectionAborted
        ) {
            return error;
        }
        // The stream failed, so this read does not block: it returns what was queued before
        // the reset, or the reset again.
        if matches!(self.session.read_tls(&mut Io(&mut self.inner)), Ok(n) if n > 0) {
            if let Err(tls) = self.process() {
                return tls;
            }
        }
        error
    }
}

/// The typed error for an IO error that carries a TLS failure; the IO error itself for any
/// other.
pub(crate) fn failure(error: io::Error, phase: Phase) -> Result<Error, io::Error> {
    if error
        .get_ref()
        .is_none_or(|inner| !inner.is::<rustls::Error>())
    {
        return Err(error);
    }
    let inner = error.into_inner().expect("checked above");
    let tls = inner.downcast::<rustls::Error>().expect("checked above");
    let failure = match &*tls {
        rustls::Error::InvalidCertificate(_)
        | rustls::Error::InvalidCertRevocationList(_)
        | rustls::Error::NoCertificatesPresented => TlsFailure::Certificate,
        rustls::Error::AlertReceived(_) => TlsFailure::Alert,
        _ => TlsFailure::Handshake,
    };
    Ok(Error::Tls {
        failure,
        phase,
        source: Arc::from(tls as Box<dyn std::error::Error + Send + Sync>),
    })
}

/// [`failure`], after `recover` has had a chance to find the TLS failure behind `error`.
fn failure_or(
    error: io::Error,
    phase: Phase,
    recover: impl FnOnce(io::Error) -> io::Error,
) -> Result<Error, io::Error> {
    failure(error, phase).or_else(|error| failure(recover(error), phase))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::net::TcpListener;
    use std::sync::mpsc;
    use std::thread;
    use std::time::Duration;

    /// A rustls server on loopback that completes one handshake (sending TLS 1.3 session
    /// tickets after it, as memcached's OpenSSL does), then sends each chunk it is given.
    fn server() -> (String, Arc<ClientConfig>, mpsc::Sender<&'static [u8]>) {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let chain = vec![cert.cert.der().clone()];
        let key = PrivateKeyDer::try_from(cert.key_pair.serialize_der()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain.clone(), key)
            .unwrap();
        let mut roots = RootCertStore::empty();
        roots.add(chain[0].clone()).unwrap();
        let client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = format!("localhost:{}", listener.local_addr().unwrap().port());
        let (send, chunks) = mpsc::channel::<&'static [u8]>();
        thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let mut session = rustls::ServerConnection::new(Arc::new(server)).unwrap();
            while session.is_handshaking() || session.wants_write() {
                session.complete_io(&mut socket).unwrap();
            }
            for chunk in chunks {
                session.writer().write_all(chunk).unwrap();
                while session.wants_write() {
                    session.write_tls(&mut socket).unwrap();
                }
            }
        });
        (addr, Arc::new(client), send)
    }

    #[test]
    fn session_tickets_after_the_handshake_leave_the_stream_quiet_and_data_does_not() {
        let (addr, client, send) = server();
        let config = Config::default().with_tls(TlsConfig::from_rustls(client));
        let Stream::Tls(mut stream) = crate::connect::open(&addr, &config).unwrap() else {
            panic!("not a TLS stream");
        };
        thread::sleep(Duration::from_millis(50));
        assert!(
            !stream.inner().is_quiet(),
            "no session ticket arrived: the test shows nothing"
        );
        assert!(stream.is_quiet(), "a session ticket was taken for data");
        assert!(stream.inner().is_quiet(), "the tickets were not consumed");
        assert!(stream.is_quiet());

        send.send(b"END\r\n").unwrap();
        thread::sleep(Duration::from_millis(50));
        assert!(!stream.is_quiet(), "a stray reply went unseen");
        // Decrypted by the check, it is still there for a read to find.
        assert!(!stream.is_quiet());
        let mut buf = [0u8; 16];
        assert_eq!(stream.read(&mut buf).unwrap(), 5);
        assert_eq!(&buf[..5], b"END\r\n");
        assert!(stream.is_quiet());

        drop(send);
        thread::sleep(Duration::from_millis(50));
        assert!(!stream.is_quiet(), "a closed stream looked quiet");
    }
}
