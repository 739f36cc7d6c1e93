//! TLS material from the configuration: the APIs' server side (`UseSSL`,
//! `UseMutualTLS`, `SSLValidOUs`) and the PEM files every other TLS key
//! names. Everything is read and checked at start-up (and on reload), so a
//! file that is missing or does not parse stops the process with a message
//! naming the key, instead of a server that silently runs without TLS.
//!
//! One crypto provider everywhere: rustls with *ring*.

use std::path::Path;
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
