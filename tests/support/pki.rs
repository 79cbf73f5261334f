//! Test certificates: a CA of a test's own, the server and client certificates it signs (as
//! files, for memcached's `-Z` options and the client's `TlsConfig`), and memcached serving
//! them. For the TLS tests and the large-value tests over TLS alike.

use std::fs;
use std::path::{Path, PathBuf};

pub use rcgen::ExtendedKeyUsagePurpose;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

use crate::{unique_key, Memcached};

/// A CA, and the files of certificates it signed, in a directory of the test's own.
pub struct Pki {
    /// The directory the CA and every certificate it issued are written to, removed on drop.
    pub dir: PathBuf,
    /// The CA's certificate.
    pub ca: rcgen::Certificate,
    ca_key: KeyPair,
}

/// A certificate and its key, as files.
pub struct Issued {
    /// The certificate, PEM.
    pub cert: PathBuf,
    /// Its private key, PEM.
    pub key: PathBuf,
}

impl Pki {
    /// A new CA named for `name`, in a directory of its own.
    pub fn new(name: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!(
            "memcache-sync-tls-{}-{name}-{}",
            std::process::id(),
            unique_key("")
                .iter()
                .map(|&b| b as char)
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
        ));
        fs::create_dir_all(&dir).unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("memcache-sync test CA {name}"));
        let ca = params.self_signed(&ca_key).unwrap();
        fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        Pki { dir, ca, ca_key }
    }

    /// The CA certificate's file.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// A certificate for `names`, for a server or a client, valid now unless `expired`.
    pub fn issue(&self, file: &str, names: &[&str], purpose: ExtendedKeyUsagePurpose) -> Issued {
        self.issue_with(file, names, purpose, false)
    }

    /// [`Pki::issue`], expired (valid in 2020 only) if `expired`.
    pub fn issue_with(
        &self,
        file: &str,
        names: &[&str],
        purpose: ExtendedKeyUsagePurpose,
        expired: bool,
    ) -> Issued {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, file);
        params.extended_key_usages = vec![purpose];
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let cert = params.signed_by(&key, &self.ca, &self.ca_key).unwrap();
        let issued = Issued {
            cert: self.dir.join(format!("{file}.pem")),
            key: self.dir.join(format!("{file}.key")),
        };
        fs::write(&issued.cert, cert.pem()).unwrap();
        fs::write(&issued.key, key.serialize_pem()).unwrap();
        issued
    }

    /// A server certificate for `localhost` and `127.0.0.1`.
    pub fn server(&self) -> Issued {
        self.issue(
            "server",
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        )
    }

    /// A client certificate.
    pub fn client(&self) -> Issued {
        self.issue("client", &["client"], ExtendedKeyUsagePurpose::ClientAuth)
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// memcached serving `cert` over TLS only; with `client_ca`, requiring client certificates
/// signed by it (`ssl_verify_mode=2`).
pub fn serve_tls(cert: &Issued, client_ca: Option<&Path>) -> Memcached {
    let mut options = format!(
        "ssl_chain_cert={},ssl_key={}",
        cert.cert.display(),
        cert.key.display()
    );
    if let Some(ca) = client_ca {
        options.push_str(&format!(",ssl_ca_cert={},ssl_verify_mode=2", ca.display()));
    }
    Memcached::start_tls(&["-o", &options])
}
