//! TLS material from the configuration: the APIs' server side (`UseSSL`,
//! `UseMutualTLS`, `SSLValidOUs`), the client side towards topology
//! servers, the MySQL backend and NATS ([`ClientTls`]: one description,
//! each adapter hands it to its driver), and the PEM files every TLS key
//! names. Everything is read and checked at start-up (and on reload), so a
//! file that is missing or does not parse stops the process with a message
//! naming the key, instead of a server that silently runs without TLS.
//! [`explain_failure`] turns a failed handshake into a message naming the
//! keys to change.
//!
//! One crypto provider everywhere: rustls with *ring*.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::Config;

/// Why TLS material is unusable; the message names the key and the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct TlsError {
    /// The configuration key.
    pub key: &'static str,
    /// What is wrong.
    pub reason: String,
}

fn err(key: &'static str, reason: impl Into<String>) -> TlsError {
    TlsError {
        key,
        reason: reason.into(),
    }
}

/// The crypto provider of every TLS endpoint.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads a PEM certificate chain (at least one certificate).
pub fn read_certificates(
    key: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let text = std::fs::read(path)
        .map_err(|e| err(key, format!("cannot read {}: {e}", path.display())))?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<_, _>>()
        .map_err(|e| {
            err(
                key,
                format!("{} is not a PEM certificate file: {e}", path.display()),
            )
        })?;
    if certs.is_empty() {
        return Err(err(
            key,
            format!("{} holds no PEM certificate", path.display()),
        ));
    }
    Ok(certs)
}

/// Reads a PEM private key (PKCS#8, PKCS#1 or SEC1).
pub fn read_private_key(
    key: &'static str,
    path: &Path,
) -> Result<PrivateKeyDer<'static>, TlsError> {
    let text = std::fs::read(path)
        .map_err(|e| err(key, format!("cannot read {}: {e}", path.display())))?;
    PrivateKeyDer::from_pem_slice(&text).map_err(|e| {
        err(
            key,
            format!("{} holds no usable PEM private key: {e}", path.display()),
        )
    })
}

fn roots(key: &'static str, path: &Path) -> Result<rustls::RootCertStore, TlsError> {
    let mut store = rustls::RootCertStore::empty();
    for cert in read_certificates(key, path)? {
        store
            .add(cert)
            .map_err(|e| err(key, format!("{}: {e}", path.display())))?;
    }
    Ok(store)
}

/// The APIs' TLS, as `UseSSL` and friends ask.
#[derive(Clone)]
pub struct ServerTls {
    /// For HTTP/1.1 (ALPN `http/1.1`).
    pub http: Arc<rustls::ServerConfig>,
    /// For gRPC (ALPN `h2`).
    pub grpc: Arc<rustls::ServerConfig>,
    /// `SSLValidOUs`: with mutual TLS, the organizational units a client
    /// certificate must name one of (empty: any certificate the CA signed).
    pub valid_ous: Vec<String>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("valid_ous", &self.valid_ous)
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// Builds the servers' TLS from the configuration; `None` without `UseSSL`.
    pub fn from_config(c: &Config) -> Result<Option<Self>, TlsError> {
        if !c.use_ssl {
            return Ok(None);
        }
        if c.ssl_cert_file.is_empty() {
            return Err(err(
                "SSLCertFile",
                "UseSSL needs SSLCertFile (PEM certificate chain)",
            ));
        }
        if c.ssl_private_key_file.is_empty() {
            return Err(err(
                "SSLPrivateKeyFile",
                "UseSSL needs SSLPrivateKeyFile (PEM private key)",
            ));
        }
        let chain = read_certificates("SSLCertFile", Path::new(&c.ssl_cert_file))?;
        let key = read_private_key("SSLPrivateKeyFile", Path::new(&c.ssl_private_key_file))?;
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| err("UseSSL", e.to_string()))?;
        let builder = if c.use_mutual_tls {
            if c.ssl_ca_file.is_empty() {
                return Err(err(
                    "SSLCAFile",
                    "UseMutualTLS needs SSLCAFile (the authority client certificates chain to)",
                ));
            }
            let roots = roots("SSLCAFile", Path::new(&c.ssl_ca_file))?;
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                roots.into(),
                provider(),
            )
            .build()
            .map_err(|e| err("SSLCAFile", e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let base = builder.with_single_cert(chain, key).map_err(|e| {
            err(
                "SSLPrivateKeyFile",
                format!("does not match SSLCertFile: {e}"),
            )
        })?;
        let mut http = base.clone();
        http.alpn_protocols = vec![b"http/1.1".to_vec()];
        let mut grpc = base;
        grpc.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Some(Self {
            http: Arc::new(http),
            grpc: Arc::new(grpc),
            valid_ous: c.ssl_valid_ous.clone(),
        }))
    }

    /// Whether a verified client certificate may talk to us (`SSLValidOUs`).
    /// Without a list every verified certificate may; with one, the
    /// certificate's subject must name one of its units.
    pub fn admits(&self, client: Option<&CertificateDer<'_>>) -> Result<(), String> {
        if self.valid_ous.is_empty() {
            return Ok(());
        }
        let Some(cert) = client else {
            return Err("no client certificate".into());
        };
        let units = organizational_units(cert)?;
        if units.iter().any(|u| self.valid_ous.contains(u)) {
            Ok(())
        } else {
            Err(format!(
                "client certificate organizational units {units:?} are not among SSLValidOUs"
            ))
        }
    }
}

/// The organizational units (`OU`) of a certificate's subject.
pub fn organizational_units(cert: &CertificateDer<'_>) -> Result<Vec<String>, String> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref())
        .map_err(|e| format!("unreadable client certificate: {e}"))?;
    Ok(parsed
        .subject()
        .iter_organizational_unit()
        .filter_map(|a| a.as_str().ok().map(str::to_string))
        .collect())
}

/// Checks every TLS file the configuration names, so that start-up fails
/// on a missing or unreadable one rather than the first connection.
pub fn check_files(c: &Config) -> Result<(), TlsError> {
    ServerTls::from_config(c)?;
    let pairs: [(&'static str, &str, &'static str, &str, &'static str, &str); 3] = [
        (
            "MySQLTopologySSLCAFile",
            &c.mysql_topology_ssl_ca_file,
            "MySQLTopologySSLCertFile",
            &c.mysql_topology_ssl_cert_file,
            "MySQLTopologySSLPrivateKeyFile",
            &c.mysql_topology_ssl_private_key_file,
        ),
        (
            "MySQLOrchestratorSSLCAFile",
            &c.mysql_orchestrator_ssl_ca_file,
            "MySQLOrchestratorSSLCertFile",
            &c.mysql_orchestrator_ssl_cert_file,
            "MySQLOrchestratorSSLPrivateKeyFile",
            &c.mysql_orchestrator_ssl_private_key_file,
        ),
        (
            "NatsCAFile",
            &c.nats_ca_file,
            "NatsCertFile",
            &c.nats_cert_file,
            "NatsKeyFile",
            &c.nats_key_file,
        ),
    ];
    for (ca_key, ca, cert_key, cert, key_key, key) in pairs {
        if !ca.is_empty() {
            read_certificates(ca_key, Path::new(ca))?;
        }
        match (cert.is_empty(), key.is_empty()) {
            (true, true) => {}
            (false, false) => {
                read_certificates(cert_key, Path::new(cert))?;
                read_private_key(key_key, Path::new(key))?;
            }
            (false, true) => {
                return Err(err(
                    key_key,
                    format!("{cert_key} is set but {key_key} is not"),
                ));
            }
            (true, false) => {
                return Err(err(
                    cert_key,
                    format!("{key_key} is set but {cert_key} is not"),
                ));
            }
        }
    }
    Ok(())
}

/// The configuration keys of one TLS client, for messages that say what to set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientKeys {
    /// The key that turns TLS on.
    pub enable: &'static str,
    /// The authority the server's certificate must chain to.
    pub ca: &'static str,
    /// The client certificate.
    pub cert: &'static str,
    /// Its private key.
    pub key: &'static str,
    /// The key that skips verifying the server, if there is one.
    pub skip_verify: Option<&'static str>,
}

/// `MySQLTopology*`: connections to topology servers.
pub const TOPOLOGY_KEYS: ClientKeys = ClientKeys {
    enable: "MySQLTopologyUseMutualTLS",
    ca: "MySQLTopologySSLCAFile",
    cert: "MySQLTopologySSLCertFile",
    key: "MySQLTopologySSLPrivateKeyFile",
    skip_verify: Some("MySQLTopologySSLSkipVerify"),
};

/// `MySQLOrchestrator*`: the MySQL backend.
pub const BACKEND_KEYS: ClientKeys = ClientKeys {
    enable: "MySQLOrchestratorUseMutualTLS",
    ca: "MySQLOrchestratorSSLCAFile",
    cert: "MySQLOrchestratorSSLCertFile",
    key: "MySQLOrchestratorSSLPrivateKeyFile",
    skip_verify: Some("MySQLOrchestratorSSLSkipVerify"),
};

/// `Nats*File` (ours): the NATS bus (a `tls://` URL also turns TLS on).
pub const NATS_KEYS: ClientKeys = ClientKeys {
    enable: "NatsCAFile (or a tls:// NatsUrl)",
    ca: "NatsCAFile",
    cert: "NatsCertFile",
    key: "NatsKeyFile",
    skip_verify: None,
};

/// How a client reaches a server over TLS: which authority to trust,
/// which certificate to present. Paths, not contents: drivers read them
/// when they connect (start-up already checked them, [`check_files`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTls {
    /// PEM authority the server's certificate must chain to (only it is
    /// trusted); `None`: the driver's default roots.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain and private key, presented when the
    /// server asks for one.
    pub identity: Option<(PathBuf, PathBuf)>,
    /// Accept any server certificate: encrypted, not authenticated.
    pub skip_verify: bool,
    /// The keys this came from, for messages.
    pub keys: ClientKeys,
}

fn path_of(value: &str) -> Option<PathBuf> {
    (!value.is_empty()).then(|| PathBuf::from(value))
}

fn identity_of(cert: &str, key: &str) -> Option<(PathBuf, PathBuf)> {
    Some((path_of(cert)?, path_of(key)?))
}

impl ClientTls {
    /// TLS to topology servers; `None` unless `MySQLTopologyUseMutualTLS`.
    /// (`MySQLTopologyUseMixedTLS` alone keeps connections plain.)
    pub fn topology(c: &Config) -> Option<Self> {
        c.mysql_topology_use_mutual_tls.then(|| Self {
            ca_file: path_of(&c.mysql_topology_ssl_ca_file),
            identity: identity_of(
                &c.mysql_topology_ssl_cert_file,
                &c.mysql_topology_ssl_private_key_file,
            ),
            skip_verify: c.mysql_topology_ssl_skip_verify,
            keys: TOPOLOGY_KEYS,
        })
    }

    /// TLS to the MySQL backend; `None` unless `MySQLOrchestratorUseMutualTLS`.
    pub fn backend(c: &Config) -> Option<Self> {
        c.mysql_orchestrator_use_mutual_tls.then(|| Self {
            ca_file: path_of(&c.mysql_orchestrator_ssl_ca_file),
            identity: identity_of(
                &c.mysql_orchestrator_ssl_cert_file,
                &c.mysql_orchestrator_ssl_private_key_file,
            ),
            skip_verify: c.mysql_orchestrator_ssl_skip_verify,
            keys: BACKEND_KEYS,
        })
    }

    /// TLS to NATS; `None` unless `NatsCAFile` or `NatsCertFile` is set
    /// (a `tls://` URL alone still gets TLS, trusting the system's roots).
    pub fn nats(c: &Config) -> Option<Self> {
        let identity = identity_of(&c.nats_cert_file, &c.nats_key_file);
        let ca_file = path_of(&c.nats_ca_file);
        (ca_file.is_some() || identity.is_some()).then_some(Self {
            ca_file,
            identity,
            skip_verify: false,
            keys: NATS_KEYS,
        })
    }
}

/// The rustls error somewhere in `e`'s chain. TLS streams report their
/// failures as `io::Error`s wrapping rustls's (sometimes twice), and
/// `io::Error::source` skips the wrapped error itself, so io errors are
/// opened too.
pub fn rustls_error_in<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut current = Some(e);
    while let Some(err) = current {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            && let Some(tls) = rustls_error_in(inner)
        {
            return Some(tls);
        }
        current = err.source();
    }
    None
}

/// What a failed TLS handshake means, and which of `keys` to look at.
pub fn explain_failure(e: &rustls::Error, keys: &ClientKeys) -> String {
    use rustls::{AlertDescription as A, CertificateError as C, Error as E};
    match e {
        E::InvalidCertificate(C::UnknownIssuer | C::BadSignature | C::BadEncoding) => {
            let skip = keys
                .skip_verify
                .map(|k| format!(" (or {k}: true to accept any)"))
                .unwrap_or_default();
            format!(
                "TLS: the server's certificate is not trusted ({e}): set {} to the authority that signed it{skip}",
                keys.ca
            )
        }
        E::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => {
            format!("TLS: the server's certificate does not name the host connected to ({e})")
        }
        E::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
            format!("TLS: the server's certificate has expired ({e})")
        }
        E::AlertReceived(
            A::CertificateRequired
            | A::HandshakeFailure
            | A::BadCertificate
            | A::UnknownCA
            | A::CertificateUnknown
            | A::AccessDenied
            | A::DecryptError,
        ) => format!(
            "TLS: the server refused the connection ({e}): it requires a client certificate \
             signed by an authority it trusts ({}, {})",
            keys.cert, keys.key
        ),
        other => format!("TLS: {other}"),
    }
}
