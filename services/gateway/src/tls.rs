//! Serving the APIs over TLS (`UseSSL`): connections are accepted and
//! their handshakes run concurrently (a slow or hostile client holds up
//! nobody), a client certificate is checked against `SSLValidOUs`, and the
//! certificates in force are those of the last configuration loaded, so a
//! reload rotates them without a restart.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use orc_runtime::tls::ServerTls;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

/// How long a client gets to complete its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The TLS settings in force; a reload replaces them.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    current: Arc<RwLock<Arc<ServerTls>>>,
}

impl TlsSettings {
    /// Starts with `tls`.
    pub fn new(tls: ServerTls) -> Self {
        Self {
            current: Arc::new(RwLock::new(Arc::new(tls))),
        }
    }

    /// Puts `tls` in force for new connections.
    pub fn replace(&self, tls: ServerTls) {
        if let Ok(mut c) = self.current.write() {
            *c = Arc::new(tls);
        }
    }

    fn now(&self) -> Arc<ServerTls> {
        self.current
            .read()
            .map(|c| c.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }
}

/// Which API a listener serves (they differ in ALPN).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// HTTP/1.1.
    Http,
    /// gRPC (HTTP/2).
    Grpc,
}

/// Accepted, handshaken, admitted TLS connections.
pub struct TlsIncoming {
    rx: mpsc::Receiver<(TlsConnection, SocketAddr)>,
    local: SocketAddr,
}

/// Accepts TLS connections on `listener` until `shutdown`.
pub fn accept(
    listener: TcpListener,
    settings: TlsSettings,
    api: Api,
    shutdown: CancellationToken,
) -> std::io::Result<TlsIncoming> {
    let local = listener.local_addr()?;
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let (tcp, peer) = tokio::select! {
                _ = shutdown.cancelled() => return,
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            // Small request/response exchanges: no Nagle delay.
            let _ = tcp.set_nodelay(true);
            let tls = settings.now();
            let tx = tx.clone();
            tokio::spawn(async move {
                match handshake(tcp, &tls, api).await {
                    Ok(conn) => {
                        let _ = tx.send((conn, peer)).await;
                    }
                    Err(reason) => {
                        tracing::warn!(%peer, %reason, "TLS connection refused");
                    }
                }
            });
        }
    });
    Ok(TlsIncoming { rx, local })
}

async fn handshake(tcp: TcpStream, tls: &ServerTls, api: Api) -> Result<TlsConnection, String> {
    let config = match api {
        Api::Http => tls.http.clone(),
        Api::Grpc => tls.grpc.clone(),
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp))
        .await
        .map_err(|_| "handshake timed out".to_string())?
        .map_err(|e| format!("handshake failed: {e}"))?;
    let client = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .cloned();
    tls.admits(client.as_ref())?;
    Ok(TlsConnection(stream))
}

impl axum::serve::Listener for TlsIncoming {
    type Io = TlsConnection;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(c) => c,
            // The accept loop stopped (shutdown): nothing more comes.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

impl TlsIncoming {
    /// The connections as a stream, for tonic.
    pub fn into_stream(
        self,
    ) -> impl futures_util::Stream<Item = Result<TlsConnection, std::io::Error>> {
        futures_util::stream::unfold(self.rx, |mut rx| async move {
            rx.recv().await.map(|(c, _)| (Ok(c), rx))
        })
    }
}

/// One TLS connection.
pub struct TlsConnection(TlsStream<TcpStream>);

impl AsyncRead for TlsConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

impl tonic::transport::server::Connected for TlsConnection {
    type ConnectInfo = Option<SocketAddr>;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.0.get_ref().0.peer_addr().ok()
    }
}
