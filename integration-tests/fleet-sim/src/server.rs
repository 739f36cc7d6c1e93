//! Serving the fleet over the MySQL wire protocol: one listener per server
//! on its own loopback address, one task per connection.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use opensrv_mysql::{
    AsyncMysqlIntermediary, AsyncMysqlShim, Column, ColumnFlags, ColumnType, ErrorKind, OkResponse,
    ParamParser, QueryResultWriter, StatementMetaWriter, StatusFlags,
};
use tokio::io::AsyncWrite;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::model::{Fleet, FleetSpec, Liveness, Reply, SessionVars};
use crate::{Command, model};

/// A running simulated fleet. Dropping it stops every listener and connection.
pub struct Simulator {
    fleet: Arc<Mutex<Fleet>>,
    liveness: Vec<watch::Sender<Liveness>>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    port: u16,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("instances", &self.liveness.len())
            .field("port", &self.port)
            .finish()
    }
}

fn lock(fleet: &Mutex<Fleet>) -> std::sync::MutexGuard<'_, Fleet> {
    fleet
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Simulator {
    /// Binds every server's address and starts answering.
    pub async fn start(spec: FleetSpec) -> io::Result<Self> {
        if spec.first + spec.instances > model::MAX_INSTANCES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "servers up to {} asked; the simulator numbers at most {}",
                    spec.first + spec.instances,
                    model::MAX_INSTANCES
                ),
            ));
        }
        if !spec.first.is_multiple_of(spec.cluster_size.max(1)) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the first server must start a cluster (a multiple of the cluster size)",
            ));
        }
        crate::raise_open_files_limit();
        let fleet = Arc::new(Mutex::new(Fleet::new(&spec)));
        let (shutdown, _) = watch::channel(false);
        let mut liveness = Vec::with_capacity(spec.instances);
        let mut listeners = Vec::with_capacity(spec.instances);
        for i in 0..spec.instances {
            let addr = SocketAddr::from((model::address(spec.first + i), spec.port));
            listeners.push(bind(addr).map_err(|e| {
                io::Error::new(e.kind(), format!("binding {addr} (server {i}): {e}"))
            })?);
            liveness.push(watch::channel(Liveness::Up).0);
        }
        let mut tasks = Vec::with_capacity(spec.instances + 1);
        for (i, listener) in listeners.into_iter().enumerate() {
            let addr = SocketAddr::from((model::address(spec.first + i), spec.port));
            tasks.push(tokio::spawn(serve(
                fleet.clone(),
                i,
                addr,
                Some(listener),
                liveness[i].subscribe(),
                shutdown.subscribe(),
            )));
        }
        let ticker = fleet.clone();
        tasks.push(tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(100));
            loop {
                every.tick().await;
                lock(&ticker).tick();
            }
        }));
        Ok(Self {
            fleet,
            liveness,
            shutdown,
            tasks,
            port: spec.port,
        })
    }

    /// The port every server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Number of servers.
    pub fn len(&self) -> usize {
        self.liveness.len()
    }

    /// Whether the fleet has no server.
    pub fn is_empty(&self) -> bool {
        self.liveness.is_empty()
    }

    /// Runs `f` on the fleet's state.
    pub fn with<T>(&self, f: impl FnOnce(&Fleet) -> T) -> T {
        f(&lock(&self.fleet))
    }

    /// Changes the fleet's bookkeeping (not its servers: see [`Simulator::command`]).
    pub fn with_mut<T>(&self, f: impl FnOnce(&mut Fleet) -> T) -> T {
        f(&mut lock(&self.fleet))
    }

    /// Applies a command; liveness changes take effect on the network at once.
    pub fn command(&self, command: &Command) -> Result<(), String> {
        let mut fleet = lock(&self.fleet);
        fleet.apply(command)?;
        for (i, tx) in self.liveness.iter().enumerate() {
            if let Some(l) = fleet.liveness(i) {
                tx.send_if_modified(|cur| {
                    let changed = *cur != l;
                    *cur = l;
                    changed
                });
            }
        }
        Ok(())
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Accepts connections to one server while it is not dead; closes the
/// listener (connections are refused) while it is.
async fn serve(
    fleet: Arc<Mutex<Fleet>>,
    index: usize,
    addr: SocketAddr,
    mut listener: Option<TcpListener>,
    mut liveness: watch::Receiver<Liveness>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        if *liveness.borrow_and_update() == Liveness::Dead {
            listener = None;
            tokio::select! {
                r = liveness.wait_for(|l| *l != Liveness::Dead) => if r.is_err() { return },
                _ = shutdown.changed() => return,
            }
            continue;
        }
        let l = match listener.take() {
            Some(l) => l,
            None => match bind(addr) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("fleet-sim: rebinding {addr}: {e}; retrying");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        tokio::select! {
            accepted = l.accept() => {
                if let Ok((stream, _)) = accepted {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(connection(
                        fleet.clone(),
                        index,
                        stream,
                        liveness.clone(),
                        shutdown.clone(),
                    ));
                }
                listener = Some(l);
            }
            changed = liveness.changed() => {
                if changed.is_err() { return }
                listener = Some(l);
            }
            _ = shutdown.changed() => return,
        }
    }
}

async fn connection(
    fleet: Arc<Mutex<Fleet>>,
    index: usize,
    stream: TcpStream,
    mut liveness: watch::Receiver<Liveness>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut dead = liveness.clone();
    let died = async move {
        let _ = dead.wait_for(|l| *l == Liveness::Dead).await;
    };
    let work = async move {
        // A hung server accepts and never greets.
        if liveness.wait_for(|l| *l == Liveness::Up).await.is_err() {
            return;
        }
        let shim = Shim {
            fleet,
            index,
            session: SessionVars::default(),
            liveness,
            more: Arc::new(AtomicBool::new(false)),
        };
        let (r, w) = stream.into_split();
        let more = shim_more(&shim);
        let _ = AsyncMysqlIntermediary::run_on(shim, r, MarkMoreResults::new(w, more)).await;
    };
    tokio::select! {
        () = work => {}
        () = died => {}
        _ = shutdown.changed() => {}
    }
}

struct Shim {
    fleet: Arc<Mutex<Fleet>>,
    index: usize,
    session: SessionVars,
    liveness: watch::Receiver<Liveness>,
    /// Whether the result set being ended is followed by another.
    more: Arc<AtomicBool>,
}

fn shim_more(shim: &Shim) -> Arc<AtomicBool> {
    shim.more.clone()
}

/// The flag in a result set's closing packet that says another follows.
const SERVER_MORE_RESULTS_EXISTS: u16 = 0x0008;

/// Sets `SERVER_MORE_RESULTS_EXISTS` in the OK packets that close result
/// sets when another result set follows. `opensrv-mysql` 0.7 sets it only
/// in EOF packets; clients that negotiate `CLIENT_DEPRECATE_EOF` (every
/// modern one) get OK packets and would stop after the first result set of
/// a multi-statement batch. The writer follows packet boundaries (4-byte
/// header, payload) and rewrites the status of short `0xfe` payloads: a
/// text-protocol row cannot start with `0xfe` in fewer than 9 bytes.
struct MarkMoreResults<W> {
    inner: W,
    more: Arc<AtomicBool>,
    /// Bytes accepted from the caller, not yet taken by `inner`.
    pending: Vec<u8>,
    /// Position in the current packet: header bytes seen, payload length, payload bytes seen.
    header: [u8; 4],
    header_seen: usize,
    payload_len: usize,
    payload_seen: usize,
    /// Start of the current payload in `pending`, when it may need a rewrite.
    payload_at: Option<usize>,
}

impl<W> MarkMoreResults<W> {
    fn new(inner: W, more: Arc<AtomicBool>) -> Self {
        Self {
            inner,
            more,
            pending: Vec::with_capacity(4096),
            header: [0; 4],
            header_seen: 0,
            payload_len: 0,
            payload_seen: 0,
            payload_at: None,
        }
    }

    /// Appends `buf` to `pending`, rewriting closing packets as they complete.
    fn take(&mut self, buf: &[u8]) {
        for &b in buf {
            self.pending.push(b);
            if self.header_seen < 4 {
                self.header[self.header_seen] = b;
                self.header_seen += 1;
                if self.header_seen == 4 {
                    self.payload_len = usize::from(self.header[0])
                        | usize::from(self.header[1]) << 8
                        | usize::from(self.header[2]) << 16;
                    self.payload_seen = 0;
                    if self.payload_len == 0 {
                        self.header_seen = 0;
                        self.payload_at = None;
                    } else {
                        self.payload_at = Some(self.pending.len());
                    }
                }
                continue;
            }
            self.payload_seen += 1;
            if self.payload_seen == self.payload_len {
                if let Some(at) = self.payload_at.take() {
                    self.rewrite(at);
                }
                self.header_seen = 0;
            }
        }
    }

    fn rewrite(&mut self, at: usize) {
        let p = &mut self.pending[at..];
        // 0xfe, affected rows 0, insert id 0, status (2), warnings (2)[, info]
        if p.len() >= 7 && p.len() < 9 && p[0] == 0xfe && p[1] == 0 && p[2] == 0 {
            let status = u16::from_le_bytes([p[3], p[4]]);
            let status = if self.more.load(Ordering::Relaxed) {
                status | SERVER_MORE_RESULTS_EXISTS
            } else {
                status & !SERVER_MORE_RESULTS_EXISTS
            };
            p[3..5].copy_from_slice(&status.to_le_bytes());
        }
    }
}

impl<W: AsyncWrite + Unpin> MarkMoreResults<W> {
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Bytes of a packet whose payload is incomplete may still change.
        let ready = match self.payload_at {
            Some(at) if self.header_seen == 4 => at.saturating_sub(4),
            _ => self.pending.len(),
        };
        let mut done = 0;
        while done < ready {
            match Pin::new(&mut self.inner).poll_write(cx, &self.pending[done..ready]) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                Poll::Ready(Ok(n)) => done += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    self.consume(done);
                    return Poll::Pending;
                }
            }
        }
        self.consume(done);
        Poll::Ready(Ok(()))
    }

    fn consume(&mut self, n: usize) {
        self.pending.drain(..n);
        if let Some(at) = self.payload_at.as_mut() {
            *at = at.saturating_sub(n);
        }
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for MarkMoreResults<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.pending.len() > 1 << 20 {
            match self.drain(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        self.take(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut self.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut self.inner).poll_shutdown(cx),
            other => other,
        }
    }
}

/// Column definitions live as long as the process: `opensrv` borrows them
/// for the whole answer, and the simulator answers few distinct layouts.
fn columns(names: &[String]) -> &'static [Column] {
    static CACHE: OnceLock<Mutex<HashMap<Vec<String>, &'static [Column]>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(c) = cache.get(names) {
        return c;
    }
    let cols: Vec<Column> = names
        .iter()
        .map(|n| Column {
            table: String::new(),
            column: n.clone(),
            coltype: ColumnType::MYSQL_TYPE_VAR_STRING,
            colflags: ColumnFlags::empty(),
        })
        .collect();
    let leaked: &'static [Column] = Box::leak(cols.into_boxed_slice());
    cache.insert(names.to_vec(), leaked);
    leaked
}

#[async_trait::async_trait]
impl<W: AsyncWrite + Send + Unpin> AsyncMysqlShim<W> for Shim {
    type Error = io::Error;

    fn version(&self) -> String {
        self.fleet
            .lock()
            .ok()
            .and_then(|f| {
                f.servers
                    .get(self.index)
                    .map(|s| s.dialect.version().to_string())
            })
            .unwrap_or_default()
    }

    fn connect_id(&self) -> u32 {
        u32::try_from(self.index + 1).unwrap_or(u32::MAX)
    }

    async fn on_prepare<'a>(
        &'a mut self,
        _query: &'a str,
        info: StatementMetaWriter<'a, W>,
    ) -> io::Result<()> {
        info.error(
            ErrorKind::ER_NOT_SUPPORTED_YET,
            b"the fleet simulator answers text queries only",
        )
        .await
    }

    async fn on_execute<'a>(
        &'a mut self,
        _id: u32,
        _params: ParamParser<'a>,
        results: QueryResultWriter<'a, W>,
    ) -> io::Result<()> {
        results
            .error(
                ErrorKind::ER_NOT_SUPPORTED_YET,
                b"the fleet simulator answers text queries only",
            )
            .await
    }

    async fn on_close<'a>(&'a mut self, _stmt: u32)
    where
        W: 'async_trait,
    {
    }

    async fn on_query<'a>(
        &'a mut self,
        query: &'a str,
        results: QueryResultWriter<'a, W>,
    ) -> io::Result<()> {
        // A hung server stops answering what it was asked.
        if self
            .liveness
            .wait_for(|l| *l == Liveness::Up)
            .await
            .is_err()
        {
            return Err(io::Error::new(io::ErrorKind::ConnectionAborted, "stopped"));
        }
        let mut w = results;
        let statements = crate::sql::statements(query);
        let last = statements.len().saturating_sub(1);
        for (at, stmt) in statements.into_iter().enumerate() {
            let reply = lock(&self.fleet).execute(self.index, &mut self.session, stmt);
            // What follows decides how the previous answer is closed.
            self.more.store(true, Ordering::Relaxed);
            let ok = OkResponse {
                status_flags: if at < last {
                    StatusFlags::SERVER_MORE_RESULTS_EXISTS
                } else {
                    StatusFlags::empty()
                },
                ..OkResponse::default()
            };
            w = match reply {
                Reply::Ok => w.complete_one(ok).await?,
                Reply::Sleep(d) => {
                    tokio::time::sleep(d).await;
                    w.complete_one(ok).await?
                }
                Reply::Error(code, msg) => {
                    return w.error(ErrorKind::from(code), msg.as_bytes()).await;
                }
                Reply::Rows {
                    columns: names,
                    rows,
                } => {
                    let mut rw = w.start(columns(&names)).await?;
                    for row in &rows {
                        rw.write_row(row.iter().map(Option::as_deref)).await?;
                    }
                    rw.finish_one().await?
                }
            };
        }
        self.more.store(false, Ordering::Relaxed);
        w.no_more_results().await
    }
}
