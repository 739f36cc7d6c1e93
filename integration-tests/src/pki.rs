//! Certificates for TLS tests: a private authority, server certificates
//! for `localhost`/`127.0.0.1`, client certificates with an organizational
//! unit, all written as PEM files; and the clients (HTTPS, gRPC over TLS)
//! that present them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;

/// A plain HTTP client (reqwest needs a process-wide crypto provider even
/// for plain HTTP; this installs *ring*, the one everything here uses).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap_or_default()
}

/// A throw-away authority and the files it signed.
pub struct Pki {
    dir: tempfile::TempDir,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

/// A certificate and its key, as files.
#[derive(Debug, Clone)]
pub struct Pair {
    /// PEM certificate.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

impl Pki {
    /// A new authority (its certificate in `ca.pem`).
    pub fn new() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let key = rcgen::KeyPair::generate()?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "orchestrator-rs test CA");
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key)?;
        std::fs::write(dir.path().join("ca.pem"), cert.pem())?;
        Ok(Self {
            dir,
            issuer: rcgen::Issuer::new(params, key),
        })
    }

    /// The authority's certificate.
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The directory the files are in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn sign(&self, name: &str, params: rcgen::CertificateParams) -> anyhow::Result<Pair> {
        let key = rcgen::KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        let pair = Pair {
            cert: self.dir.path().join(format!("{name}.pem")),
            key: self.dir.path().join(format!("{name}-key.pem")),
        };
        std::fs::write(&pair.cert, cert.pem())?;
        std::fs::write(&pair.key, key.serialize_pem())?;
        Ok(pair)
    }

    /// A server certificate for `localhost` and `127.0.0.1`.
    pub fn server(&self, name: &str) -> anyhow::Result<Pair> {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()])?;
        params
            .subject_alt_names
            .push(rcgen::SanType::IpAddress(std::net::IpAddr::V4(
                std::net::Ipv4Addr::LOCALHOST,
            )));
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        self.sign(name, params)
    }

    /// A client certificate for `user` in organizational unit `ou`.
    pub fn client(&self, user: &str, ou: &str) -> anyhow::Result<Pair> {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, user);
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationalUnitName, ou);
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(user, params)
    }

    /// A rustls client trusting this authority, presenting `identity`.
    pub fn client_config(
        &self,
        identity: Option<&Pair>,
        alpn: &[&[u8]],
    ) -> anyhow::Result<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in orc_runtime::tls::read_certificates("ca", &self.ca())? {
            roots.add(cert)?;
        }
        let builder = rustls::ClientConfig::builder_with_provider(orc_runtime::tls::provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots);
        let mut config = match identity {
            Some(p) => builder.with_client_auth_cert(
                orc_runtime::tls::read_certificates("cert", &p.cert)?,
                orc_runtime::tls::read_private_key("key", &p.key)?,
            )?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = alpn.iter().map(|a| a.to_vec()).collect();
        Ok(config)
    }

    /// An HTTPS client trusting this authority, presenting `identity`.
    pub fn https(&self, identity: Option<&Pair>) -> anyhow::Result<reqwest::Client> {
        Ok(reqwest::Client::builder()
            .use_preconfigured_tls(self.client_config(identity, &[b"http/1.1"])?)
            .timeout(std::time::Duration::from_secs(10))
            .build()?)
    }

    /// A gRPC channel over TLS to `addr`, presenting `identity`.
    pub async fn grpc(
        &self,
        addr: SocketAddr,
        identity: Option<&Pair>,
    ) -> anyhow::Result<tonic::transport::Channel> {
        let config = Arc::new(self.client_config(identity, &[b"h2"])?);
        let connector = tower::service_fn(move |_: tonic::transport::Uri| {
            let config = config.clone();
            async move {
                let tcp = tokio::net::TcpStream::connect(addr).await?;
                let name = rustls::pki_types::ServerName::try_from("localhost")
                    .map_err(std::io::Error::other)?;
                let tls = tokio_rustls::TlsConnector::from(config)
                    .connect(name, tcp)
                    .await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
            }
        });
        tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?
            .connect_with_connector(connector)
            .await
            .context("gRPC over TLS")
    }
}
