//! One MySQL connection with a timeout on every call.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder, Value};
use orc_model::ProbeErrorKind;
use orc_runtime::tls::ClientTls;

use crate::Error;

/// How to reach and authenticate to a server.
#[derive(Clone)]
pub struct ConnectOptions {
    /// Hostname or IP (ignored when `socket` is set).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Unix socket path; takes precedence over TCP.
    pub socket: Option<PathBuf>,
    /// User name.
    pub user: String,
    /// Password (never logged).
    pub password: String,
    /// Bound on connection set-up.
    pub connect_timeout: Duration,
    /// Bound on every statement.
    pub read_timeout: Duration,
    /// TLS over TCP (`None`: plain; unix sockets are never encrypted).
    /// The files are read at every connection, so a renewed certificate
    /// is used without a restart.
    pub tls: Option<ClientTls>,
}

impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("socket", &self.socket)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("tls", &self.tls)
            .finish()
    }
}

impl ConnectOptions {
    /// TCP options with orchestrator's default timeouts (2 s connect, 10 s read).
    pub fn tcp(host: &str, port: u16, user: &str, password: &str) -> Self {
        Self {
            host: host.to_string(),
            port,
            socket: None,
            user: user.to_string(),
            password: password.to_string(),
            connect_timeout: Duration::from_secs(2),
            read_timeout: Duration::from_secs(10),
            tls: None,
        }
    }

    /// Unix-socket options.
    pub fn socket(path: impl Into<PathBuf>, user: &str, password: &str) -> Self {
        Self {
            socket: Some(path.into()),
            ..Self::tcp("localhost", 3306, user, password)
        }
    }

    /// `host:port` or the socket path, for messages.
    pub fn target(&self) -> String {
        match &self.socket {
            Some(p) => p.display().to_string(),
            None if self.host.contains(':') => format!("[{}]:{}", self.host, self.port),
            None => format!("{}:{}", self.host, self.port),
        }
    }

    fn opts(&self) -> OptsBuilder {
        let builder = OptsBuilder::default()
            .user(Some(self.user.clone()))
            .pass(Some(self.password.clone()))
            .prefer_socket(false)
            .stmt_cache_size(0);
        match &self.socket {
            Some(path) => builder.socket(Some(path.to_string_lossy().into_owned())),
            None => builder
                .ip_or_hostname(self.host.clone())
                .tcp_port(self.port)
                .ssl_opts(self.tls.as_ref().map(crate::tls::ssl_opts)),
        }
    }
}

/// Column names of one result set, with a case-insensitive index.
#[derive(Debug)]
pub struct Columns {
    names: Vec<String>,
    index: std::collections::HashMap<String, usize>,
}

impl Columns {
    /// Indexes column names (first occurrence wins).
    pub fn new(names: impl IntoIterator<Item = String>) -> Arc<Self> {
        let names: Vec<String> = names.into_iter().collect();
        let mut index = std::collections::HashMap::with_capacity(names.len());
        for (i, n) in names.iter().enumerate() {
            index.entry(n.to_ascii_lowercase()).or_insert(i);
        }
        Arc::new(Self { names, index })
    }

    /// The names, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Position of a column by case-insensitive name.
    pub fn position(&self, name: &str) -> Option<usize> {
        let mut buf = [0u8; 64];
        if name.len() <= buf.len() {
            for (b, c) in buf.iter_mut().zip(name.bytes()) {
                *b = c.to_ascii_lowercase();
            }
            let lower = std::str::from_utf8(&buf[..name.len()]).ok()?;
            self.index.get(lower).copied()
        } else {
            self.index.get(&name.to_ascii_lowercase()).copied()
        }
    }
}

/// One result row: column names shared by the result set, values as text
/// (`None` for SQL NULL).
#[derive(Debug, Clone)]
pub struct Row {
    columns: Arc<Columns>,
    values: Vec<Option<String>>,
}

impl Row {
    /// Builds a row (used by tests replaying captured result sets).
    pub fn new(columns: Arc<Columns>, values: Vec<Option<String>>) -> Self {
        Self { columns, values }
    }

    /// Value of a column by case-insensitive name; `None` when absent or NULL.
    pub fn get(&self, name: &str) -> Option<&str> {
        let i = self.columns.position(name)?;
        self.values.get(i)?.as_deref()
    }

    /// Whether the row has a column of that name.
    pub fn has(&self, name: &str) -> bool {
        self.columns.position(name).is_some()
    }

    /// Value by position.
    pub fn at(&self, i: usize) -> Option<&str> {
        self.values.get(i)?.as_deref()
    }

    /// Column names.
    pub fn columns(&self) -> &[String] {
        self.columns.names()
    }
}

/// An open connection. Every call is bounded by the read timeout; a call
/// that times out leaves the session unusable (drop it and reconnect).
pub struct Session {
    conn: Conn,
    opts: ConnectOptions,
    /// Column indexes of the last result sets, by position: a probe asks the
    /// same questions every time, so their columns are indexed once.
    columns_cache: Vec<Arc<Columns>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("target", &self.opts.target())
            .finish()
    }
}

impl Session {
    /// Connects within `connect_timeout`.
    pub async fn connect(opts: &ConnectOptions) -> Result<Self, Error> {
        let target = opts.target();
        let conn = match tokio::time::timeout(opts.connect_timeout, Conn::new(opts.opts())).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return Err(Error::from_connect(&target, opts, &e)),
            Err(_) => {
                return Err(Error::Timeout {
                    target,
                    operation: "connect".into(),
                    after: opts.connect_timeout,
                });
            }
        };
        Ok(Self {
            conn,
            opts: opts.clone(),
            columns_cache: Vec::new(),
        })
    }

    /// Where this session is connected.
    pub fn target(&self) -> String {
        self.opts.target()
    }

    /// Changes the bound on every later statement.
    pub fn set_read_timeout(&mut self, timeout: Duration) {
        self.opts.read_timeout = timeout;
    }

    /// Runs statements that return no rows.
    pub async fn exec(&mut self, sql: &str) -> Result<(), Error> {
        let timeout = self.opts.read_timeout;
        self.exec_within(sql, timeout).await
    }

    /// Runs statements that return no rows, within `timeout`.
    pub async fn exec_within(&mut self, sql: &str, timeout: Duration) -> Result<(), Error> {
        let target = self.opts.target();
        match tokio::time::timeout(timeout, self.conn.query_drop(sql)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::from_driver(&target, sql, &e)),
            Err(_) => Err(Error::Timeout {
                target,
                operation: sql.to_string(),
                after: timeout,
            }),
        }
    }

    /// Runs one statement and returns its rows.
    pub async fn query(&mut self, sql: &str) -> Result<Vec<Row>, Error> {
        let mut sets = self.query_multi(sql).await?;
        Ok(if sets.is_empty() {
            Vec::new()
        } else {
            sets.swap_remove(0)
        })
    }

    /// The first column of the first row, if any.
    pub async fn query_value(&mut self, sql: &str) -> Result<Option<String>, Error> {
        Ok(self
            .query(sql)
            .await?
            .first()
            .and_then(|r| r.at(0).map(str::to_string)))
    }

    /// The first column of the first row, within `timeout` (for statements
    /// that wait on the server, longer than the read timeout).
    pub async fn query_value_within(
        &mut self,
        sql: &str,
        timeout: Duration,
    ) -> Result<Option<String>, Error> {
        let target = self.opts.target();
        let work = async {
            let rows: Vec<mysql_async::Row> = self.conn.query(sql).await?;
            Ok::<_, mysql_async::Error>(rows.into_iter().next().map(row_values))
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(Ok(row)) => Ok(row.and_then(|v| v.into_iter().next().flatten())),
            Ok(Err(e)) => Err(Error::from_driver(&target, sql, &e)),
            Err(_) => Err(Error::Timeout {
                target,
                operation: sql.chars().take(120).collect(),
                after: timeout,
            }),
        }
    }

    /// Runs several `;`-separated statements in one round trip and returns
    /// one row list per result set, in order.
    pub async fn query_multi(&mut self, sql: &str) -> Result<Vec<Vec<Row>>, Error> {
        match self.query_multi_partial(sql).await {
            (sets, None) => Ok(sets),
            (_, Some(e)) => Err(e),
        }
    }

    /// Like [`Session::query_multi`], but keeps the result sets that
    /// completed before an error, and returns the error beside them.
    pub async fn query_multi_partial(&mut self, sql: &str) -> (Vec<Vec<Row>>, Option<Error>) {
        let timeout = self.opts.read_timeout;
        let target = self.opts.target();
        let mut sets: Vec<Vec<Row>> = Vec::new();
        let cache = &mut self.columns_cache;
        let work = async {
            let mut result = self.conn.query_iter(sql).await?;
            loop {
                let columns = cached_columns(cache, sets.len(), result.columns_ref());
                let rows: Vec<mysql_async::Row> = result.collect().await?;
                sets.push(
                    rows.into_iter()
                        .map(|r| Row::new(columns.clone(), row_values(r)))
                        .collect(),
                );
                if result.is_empty() {
                    break;
                }
            }
            Ok::<_, mysql_async::Error>(())
        };
        let error = match tokio::time::timeout(timeout, work).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(Error::from_driver(&target, sql, &e)),
            Err(_) => Some(Error::Timeout {
                target,
                operation: sql.chars().take(120).collect(),
                after: timeout,
            }),
        };
        (sets, error)
    }

    /// Closes the connection politely (bounded by one second).
    pub async fn close(self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.conn.disconnect()).await;
    }
}

/// The index of a result set's columns, reused when position and names match.
fn cached_columns(
    cache: &mut Vec<Arc<Columns>>,
    position: usize,
    columns: &[mysql_async::Column],
) -> Arc<Columns> {
    if let Some(cached) = cache.get(position) {
        let same = cached.names.len() == columns.len()
            && cached
                .names
                .iter()
                .zip(columns)
                .all(|(n, c)| n.as_bytes() == c.name_ref());
        if same {
            return cached.clone();
        }
    }
    let fresh = Columns::new(columns.iter().map(|c| c.name_str().into_owned()));
    if position < cache.len() {
        cache[position] = fresh.clone();
    } else if position == cache.len() {
        cache.push(fresh.clone());
    }
    fresh
}

fn row_values(row: mysql_async::Row) -> Vec<Option<String>> {
    row.unwrap()
        .into_iter()
        .map(|v| match v {
            Value::NULL => None,
            // Valid UTF-8 (the normal case) becomes a String without a copy.
            Value::Bytes(b) => Some(
                String::from_utf8(b)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            ),
            Value::Int(i) => Some(i.to_string()),
            Value::UInt(u) => Some(u.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Double(d) => Some(d.to_string()),
            other => Some(other.as_sql(true).trim_matches('\'').to_string()),
        })
        .collect()
}

impl Error {
    /// A failed connection, with what to change when TLS is the reason.
    fn from_connect(target: &str, opts: &ConnectOptions, e: &mysql_async::Error) -> Self {
        let mut error = Self::from_driver(target, "connect", e);
        if let (Error::Mysql { message, .. }, Some(hint)) =
            (&mut error, crate::tls::connect_hint(opts, e))
        {
            message.push_str(": ");
            message.push_str(&hint);
        }
        error
    }

    fn from_driver(target: &str, operation: &str, e: &mysql_async::Error) -> Self {
        let message = e.to_string();
        let kind = classify(e);
        Error::Mysql {
            target: target.to_string(),
            operation: operation.chars().take(120).collect(),
            kind,
            code: match e {
                mysql_async::Error::Server(s) => Some(s.code),
                _ => None,
            },
            message,
        }
    }
}

fn classify(e: &mysql_async::Error) -> ProbeErrorKind {
    use std::io::ErrorKind as Io;
    // A failed TLS handshake means a live server that will not let us in
    // (untrusted certificate on either side): like wrong credentials, not
    // evidence that the server is down.
    if orc_runtime::tls::rustls_error_in(e).is_some() {
        return ProbeErrorKind::AccessDenied;
    }
    match e {
        mysql_async::Error::Server(s) => match s.code {
            // ER_ACCESS_DENIED_ERROR, ER_HOST_NOT_PRIVILEGED, ER_DBACCESS_DENIED_ERROR,
            // ER_SPECIFIC_ACCESS_DENIED_ERROR, ER_TABLEACCESS_DENIED_ERROR
            1044 | 1045 | 1130 | 1142 | 1227 => ProbeErrorKind::AccessDenied,
            _ => ProbeErrorKind::Query,
        },
        mysql_async::Error::Io(io) => {
            let text = io.to_string().to_ascii_lowercase();
            let os_kind = match io {
                mysql_async::IoError::Io(ioe) => Some(ioe.kind()),
                // Our own TLS material is unusable (PEM, host name).
                mysql_async::IoError::Tls(_) => return ProbeErrorKind::Other,
            };
            match os_kind {
                Some(Io::ConnectionRefused) => ProbeErrorKind::Refused,
                Some(Io::TimedOut) => ProbeErrorKind::Timeout,
                Some(
                    Io::ConnectionReset
                    | Io::ConnectionAborted
                    | Io::BrokenPipe
                    | Io::UnexpectedEof,
                ) => ProbeErrorKind::ConnectionLost,
                _ if text.contains("lookup")
                    || text.contains("resolve")
                    || text.contains("name or service") =>
                {
                    ProbeErrorKind::Unresolvable
                }
                _ if text.contains("refused") => ProbeErrorKind::Refused,
                _ => ProbeErrorKind::ConnectionLost,
            }
        }
        mysql_async::Error::Driver(d) => {
            let text = d.to_string().to_ascii_lowercase();
            if text.contains("connection") && text.contains("closed") {
                ProbeErrorKind::ConnectionLost
            } else {
                ProbeErrorKind::Other
            }
        }
        _ => ProbeErrorKind::Other,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use std::io::ErrorKind;

    use super::*;

    fn io(e: std::io::Error) -> mysql_async::Error {
        mysql_async::Error::Io(mysql_async::IoError::Io(e))
    }

    #[test]
    fn a_failed_tls_handshake_is_a_live_server_refusing_us_not_a_dead_one() {
        let untrusted = io(std::io::Error::new(
            ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        ));
        assert_eq!(classify(&untrusted), ProbeErrorKind::AccessDenied);
        let refused = io(std::io::Error::from(ErrorKind::ConnectionRefused));
        assert_eq!(classify(&refused), ProbeErrorKind::Refused);
    }
}
