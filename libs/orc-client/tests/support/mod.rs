//! A small fake orchestrator API for the client's tests: HTTP/1.1 over TCP
//! or TLS (tokio-rustls, certificates made by rcgen), answering each GET
//! with a handler's (status, body) and recording what it was sent.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    dead_code,
    unreachable_pub
)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Path and query, e.g. `/api/clusters-info`.
    pub target: String,
    /// Header names (lowercase) and values.
    pub headers: Vec<(String, String)>,
    /// Whether the client presented a certificate (TLS only).
    pub client_certificate: bool,
}

impl Seen {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Answers a request: (status, JSON body).
pub type Handler = Arc<dyn Fn(&Seen) -> (u16, String) + Send + Sync>;

/// A running fake API.
pub struct FakeApi {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Requests answered, in order.
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// Connections accepted (TLS handshakes attempted, successful or not).
    pub connections: Arc<Mutex<usize>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeApi {
    /// `http://127.0.0.1:port` or `https://...`.
    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://{}", self.addr)
    }

    /// The requests seen so far.
    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Serves plain HTTP.
    pub async fn http(handler: Handler) -> Self {
        Self::start(handler, None).await
    }

    /// Serves HTTPS with the server certificate of `pki`; with
    /// `require_client_certificate`, only clients with a certificate signed
    /// by the test CA get through the handshake.
    pub async fn https(handler: Handler, pki: &Pki, require_client_certificate: bool) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots.add(pki.ca_der.clone()).unwrap();
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
        let verifier = if require_client_certificate {
            verifier.build().unwrap()
        } else {
            verifier.allow_unauthenticated().build().unwrap()
        };
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![pki.server_cert.clone()], pki.server_key.clone_key())
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        Self::start(handler, Some(acceptor)).await
    }

    async fn start(handler: Handler, tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(Mutex::new(0));
        let (seen2, connections2) = (seen.clone(), connections.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                *connections2.lock().unwrap() += 1;
                let (handler, seen, tls) = (handler.clone(), seen2.clone(), tls.clone());
                tokio::spawn(async move {
                    match tls {
                        None => answer(tcp, false, &handler, &seen).await,
                        Some(acceptor) => {
                            let Ok(stream) = acceptor.accept(tcp).await else {
                                return;
                            };
                            let presented = stream.get_ref().1.peer_certificates().is_some();
                            answer(stream, presented, &handler, &seen).await
                        }
                    }
                });
            }
        });
        Self {
            addr,
            seen,
            connections,
            task,
        }
    }
}

/// Reads one request, answers it and closes the connection.
async fn answer<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    client_certificate: bool,
    handler: &Handler,
    seen: &Mutex<Vec<Seen>>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let mut lines = text.split("\r\n");
    let target = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_default()
        .to_string();
    let headers = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let request = Seen {
        target,
        headers,
        client_certificate,
    };
    let (status, body) = handler(&request);
    seen.lock().unwrap().push(request);
    let reason = match status {
        200 => "OK",
        401 => "Unauthorized",
        404 => "Not Found",
        _ => "Internal Server Error",
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// A test CA, a server certificate for 127.0.0.1/localhost signed by it,
/// and a client certificate signed by it, with the PEM files the client reads.
pub struct Pki {
    /// Holds the files.
    pub dir: tempfile::TempDir,
    /// The CA certificate (PEM).
    pub ca_file: PathBuf,
    /// The client certificate (PEM).
    pub client_cert_file: PathBuf,
    /// The client key (PEM).
    pub client_key_file: PathBuf,
    /// The CA certificate.
    pub ca_der: CertificateDer<'static>,
    /// The server certificate.
    pub server_cert: CertificateDer<'static>,
    /// The server key.
    pub server_key: PrivateKeyDer<'static>,
}

impl Pki {
    /// Generates everything.
    pub fn new() -> Self {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "orc-client test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::CrlSign,
        ];
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().unwrap();
        let mut server_params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();

        let client_key = KeyPair::generate().unwrap();
        let mut client_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        client_params
            .distinguished_name
            .push(DnType::CommonName, "orchestrator-client");
        client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = client_params.signed_by(&client_key, &issuer).unwrap();

        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let ca_file = write("ca.pem", ca_cert.pem());
        let client_cert_file = write("client.pem", client_cert.pem());
        let client_key_file = write("client-key.pem", client_key.serialize_pem());
        Self {
            ca_file,
            client_cert_file,
            client_key_file,
            ca_der: ca_cert.der().clone(),
            server_cert: server_cert.der().clone(),
            server_key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
            dir,
        }
    }
}

/// Runs the client in-process: (exit status, stdout, stderr).
pub async fn client(env: &orc_client::Env, args: &[&str]) -> (i32, String, String) {
    let argv: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = orc_client::run(&argv, env, &mut out, &mut err).await;
    (
        code,
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

/// An environment pointing at `api`, without retries.
pub fn env(api: &str) -> orc_client::Env {
    orc_client::Env {
        api: Some(api.to_string()),
        retries: Some(0),
        user: Some("tester".into()),
        ..Default::default()
    }
}
