//! How the client trusts an `https://` API and proves who it is: rustls with
//! the ring provider, the system's roots (or `ORC_CLIENT_CA_FILE` instead),
//! `ORC_CLIENT_INSECURE=1` to accept any server certificate, and a client
//! certificate and key (`ORC_CLIENT_CERT`, `ORC_CLIENT_KEY`) for servers that
//! require mutual TLS.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

/// The TLS settings, as the environment gives them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// `ORC_CLIENT_CA_FILE`: PEM certificates to trust instead of the system's roots.
    pub ca_file: Option<PathBuf>,
    /// `ORC_CLIENT_INSECURE=1`: accept any server certificate (as `curl -k`).
    pub insecure: bool,
    /// `ORC_CLIENT_CERT`: PEM client certificate (chain) for mutual TLS.
    pub client_cert: Option<PathBuf>,
    /// `ORC_CLIENT_KEY`: its PEM private key (default: looked for in the certificate file).
    pub client_key: Option<PathBuf>,
}

/// Why the TLS settings cannot be used. Each names the file and the variable.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {what} {path} ({var}): {reason}")]
    Read {
        /// What the file was meant to hold.
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// The variable that named it.
        var: &'static str,
        /// The IO error.
        reason: String,
    },
    /// A file holds no usable PEM item of the kind needed.
    #[error("{what} {path} ({var}) {reason}")]
    Content {
        /// What the file was meant to hold.
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// The variable that named it.
        var: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A client key without a certificate.
    #[error("ORC_CLIENT_KEY is set without ORC_CLIENT_CERT")]
    KeyWithoutCertificate,
    /// rustls refused the configuration (e.g. the key does not match the certificate).
    #[error("TLS configuration refused: {0}")]
    Config(String),
}

const CA_FILE: &str = "ORC_CLIENT_CA_FILE";
const CERT: &str = "ORC_CLIENT_CERT";
const KEY: &str = "ORC_CLIENT_KEY";

fn read(what: &'static str, path: &Path, var: &'static str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError::Read {
        what,
        path: path.to_path_buf(),
        var,
        reason: e.to_string(),
    })
}

fn content(what: &'static str, path: &Path, var: &'static str, reason: String) -> TlsError {
    TlsError::Content {
        what,
        path: path.to_path_buf(),
        var,
        reason,
    }
}

fn certificates(
    what: &'static str,
    path: &Path,
    var: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(what, path, var)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| content(what, path, var, format!("is not valid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(content(
            what,
            path,
            var,
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    Ok(certs)
}

fn private_key(path: &Path, var: &'static str) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read("client key", path, var)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        let reason = match e {
            rustls_pki_types::pem::Error::NoItemsFound => {
                "holds no PEM private key (PKCS#8, PKCS#1 or SEC1)".to_string()
            }
            other => format!("is not a valid PEM private key: {other}"),
        };
        content("client key", path, var, reason)
    })
}

/// The roots to trust: the CA file's certificates, else the system's.
fn roots(options: &TlsOptions, with_system_roots: bool) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    if let Some(path) = &options.ca_file {
        for (n, cert) in certificates("CA file", path, CA_FILE)?
            .into_iter()
            .enumerate()
        {
            roots.add(cert).map_err(|e| {
                content(
                    "CA file",
                    path,
                    CA_FILE,
                    format!("certificate {} is not usable as a CA: {e}", n + 1),
                )
            })?;
        }
    } else if with_system_roots {
        // Unreadable system certificates are skipped, as curl does; an
        // empty store shows up as an untrusted server certificate.
        let found = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(found.certs);
    }
    Ok(roots)
}

/// Builds the rustls configuration. The system's roots are loaded only when
/// `with_system_roots` (some API is `https://`); the files named are always
/// read, so a bad one is reported whatever the URL.
pub fn client_config(
    options: &TlsOptions,
    with_system_roots: bool,
) -> Result<ClientConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let roots = roots(options, with_system_roots && !options.insecure)?;
    let builder = if options.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyServerCertificate(provider)))
    } else {
        builder.with_root_certificates(roots)
    };
    match (&options.client_cert, &options.client_key) {
        (None, None) => Ok(builder.with_no_client_auth()),
        (None, Some(_)) => Err(TlsError::KeyWithoutCertificate),
        (Some(cert_path), key_path) => {
            let chain = certificates("client certificate", cert_path, CERT)?;
            let key = match key_path {
                Some(path) => private_key(path, KEY)?,
                None => private_key(cert_path, CERT).map_err(|_| {
                    content(
                        "client certificate",
                        cert_path,
                        CERT,
                        "holds no private key: set ORC_CLIENT_KEY".into(),
                    )
                })?,
            };
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                let key_shown = key_path.as_deref().unwrap_or(cert_path);
                TlsError::Config(format!(
                    "client certificate {} ({CERT}) and key {} ({KEY}): {e}",
                    cert_path.display(),
                    key_shown.display()
                ))
            })
        }
    }
}

/// `ORC_CLIENT_INSECURE=1`: any server certificate is accepted (the
/// handshake's signatures are still checked, so the connection is encrypted
/// to whoever holds the certificate's key).
#[derive(Debug)]
struct AnyServerCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyServerCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Explains a TLS failure found in an error's chain, if there is one.
pub(crate) fn explain(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(tls) = rustls_error(e) {
            return Some(describe(tls));
        }
        current = e.source();
    }
    None
}

/// The rustls error in `e`, looking inside `io::Error`s (the TLS stream
/// reports its failures as io errors wrapping rustls's, sometimes twice;
/// `io::Error::source` skips the wrapped error itself).
fn rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = e.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    let mut io = e.downcast_ref::<std::io::Error>()?;
    loop {
        let inner = io.get_ref()?;
        if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        io = inner.downcast_ref::<std::io::Error>()?;
    }
}

fn describe(e: &rustls::Error) -> String {
    use rustls::{AlertDescription as A, CertificateError as C, Error as E};
    match e {
        E::InvalidCertificate(C::UnknownIssuer | C::BadSignature | C::BadEncoding) => format!(
            "TLS: the server's certificate is not trusted ({e}); \
             set {CA_FILE} to the CA that signed it, or {}=1 to accept any",
            "ORC_CLIENT_INSECURE"
        ),
        E::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => format!(
            "TLS: the server's certificate does not name the host of ORCHESTRATOR_API ({e})"
        ),
        E::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
            format!("TLS: the server's certificate has expired ({e})")
        }
        E::AlertReceived(A::CertificateRequired | A::HandshakeFailure | A::BadCertificate)
        | E::AlertReceived(A::UnknownCA | A::CertificateUnknown | A::AccessDenied) => format!(
            "TLS: the server refused the connection ({e}); \
             it may require a client certificate it trusts ({CERT}, {KEY})"
        ),
        other => format!("TLS: {other}"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    fn error(options: TlsOptions) -> String {
        client_config(&options, false).unwrap_err().to_string()
    }

    #[test]
    fn a_missing_ca_file_is_named_with_its_variable() {
        let e = error(TlsOptions {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..Default::default()
        });
        assert!(
            e.starts_with("cannot read CA file /nonexistent/ca.pem (ORC_CLIENT_CA_FILE):"),
            "{e}"
        );
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let f = file("not a certificate\n");
        let e = error(TlsOptions {
            ca_file: Some(f.path().into()),
            ..Default::default()
        });
        assert!(e.contains(&f.path().display().to_string()), "{e}");
        assert!(e.contains("holds no PEM certificate"), "{e}");
    }

    #[test]
    fn a_garbled_certificate_is_refused() {
        let f = file("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n");
        let e = error(TlsOptions {
            ca_file: Some(f.path().into()),
            ..Default::default()
        });
        assert!(e.contains("CA file"), "{e}");
        assert!(e.contains(&f.path().display().to_string()), "{e}");
    }

    #[test]
    fn a_client_certificate_needs_its_key() {
        let cert = rcgen::generate_simple_self_signed(vec!["client".into()]).unwrap();
        let f = file(&cert.cert.pem());
        let e = error(TlsOptions {
            client_cert: Some(f.path().into()),
            ..Default::default()
        });
        assert!(
            e.contains("holds no private key: set ORC_CLIENT_KEY"),
            "{e}"
        );
        let bad_key = file("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n");
        let e = error(TlsOptions {
            client_cert: Some(f.path().into()),
            client_key: Some(bad_key.path().into()),
            ..Default::default()
        });
        assert!(e.contains("client key"), "{e}");
        assert!(e.contains("ORC_CLIENT_KEY"), "{e}");
        assert_eq!(
            error(TlsOptions {
                client_key: Some(bad_key.path().into()),
                ..Default::default()
            }),
            "ORC_CLIENT_KEY is set without ORC_CLIENT_CERT"
        );
    }

    #[test]
    fn a_key_that_does_not_match_the_certificate_is_refused() {
        let one = rcgen::generate_simple_self_signed(vec!["a".into()]).unwrap();
        let other = rcgen::generate_simple_self_signed(vec!["b".into()]).unwrap();
        let cert = file(&one.cert.pem());
        let key = file(&other.signing_key.serialize_pem());
        let e = error(TlsOptions {
            client_cert: Some(cert.path().into()),
            client_key: Some(key.path().into()),
            ..Default::default()
        });
        assert!(
            e.starts_with("TLS configuration refused: client certificate"),
            "{e}"
        );
    }

    #[test]
    fn a_certificate_and_key_in_one_file_are_accepted() {
        let one = rcgen::generate_simple_self_signed(vec!["a".into()]).unwrap();
        let both = file(&format!(
            "{}{}",
            one.cert.pem(),
            one.signing_key.serialize_pem()
        ));
        let config = client_config(
            &TlsOptions {
                client_cert: Some(both.path().into()),
                insecure: true,
                ..Default::default()
            },
            true,
        );
        assert!(config.is_ok());
    }

    #[test]
    fn tls_failures_are_explained() {
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        let text = explain(&io).unwrap();
        assert!(text.contains("not trusted"), "{text}");
        assert!(text.contains("ORC_CLIENT_CA_FILE"), "{text}");
        let twice = std::io::Error::other(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired),
        ));
        let text = explain(&twice).unwrap();
        assert!(text.contains("ORC_CLIENT_CERT"), "{text}");
        let plain = std::io::Error::other("refused");
        assert_eq!(explain(&plain), None);
    }
}
