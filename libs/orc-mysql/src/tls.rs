//! TLS towards topology servers: the driver's options from a
//! [`ClientTls`], and what to tell the operator when a server refuses a
//! connection for want of TLS.

use mysql_async::{ClientIdentity, SslOpts};
use orc_runtime::tls::ClientTls;

use crate::ConnectOptions;

/// The driver's TLS options. With a CA file only that authority is
/// trusted, not the web's roots. The files are read at every connection.
pub(crate) fn ssl_opts(tls: &ClientTls) -> SslOpts {
    let mut ssl = SslOpts::default().with_danger_accept_invalid_certs(tls.skip_verify);
    if let Some(ca) = &tls.ca_file {
        ssl = ssl
            .with_root_certs(vec![ca.clone().into()])
            .with_disable_built_in_roots(true);
    }
    if let Some((cert, key)) = &tls.identity {
        ssl = ssl.with_client_identity(Some(ClientIdentity::new(
            cert.clone().into(),
            key.clone().into(),
        )));
    }
    ssl
}

/// Why a connection may have been refused for want of TLS, or what a
/// failed handshake means, naming the `MySQLTopology*` keys to change.
pub(crate) fn connect_hint(opts: &ConnectOptions, e: &mysql_async::Error) -> Option<String> {
    use orc_runtime::tls::{TOPOLOGY_KEYS as K, explain_failure, rustls_error_in};
    if let Some(tls) = rustls_error_in(e) {
        return Some(explain_failure(tls, &K));
    }
    let mysql_async::Error::Server(s) = e else {
        return None;
    };
    // ER_ACCESS_DENIED_ERROR is also how a server refuses an account that
    // requires TLS (REQUIRE SSL / X509) to a client that has none.
    if s.code != 1045 || opts.socket.is_some() {
        return None;
    }
    match &opts.tls {
        None => Some(format!(
            "the connection was not encrypted: if the account requires TLS (REQUIRE SSL or X509), \
             set {} with {} (and {}, {} for X509)",
            K.enable, K.ca, K.cert, K.key
        )),
        Some(tls) if tls.identity.is_none() => Some(format!(
            "no client certificate was presented: if the account requires one (REQUIRE X509), \
             set {} and {}",
            K.cert, K.key
        )),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn denied() -> mysql_async::Error {
        mysql_async::Error::Server(mysql_async::ServerError {
            code: 1045,
            message: "Access denied for user 'orc'@'127.0.0.1' (using password: YES)".into(),
            state: "28000".into(),
        })
    }

    #[test]
    fn access_denied_names_the_tls_keys_that_could_be_missing() {
        let plain = ConnectOptions::tcp("127.0.0.1", 3306, "orc", "pw");
        let hint = connect_hint(&plain, &denied()).unwrap();
        assert!(hint.contains("not encrypted"), "{hint}");
        assert!(hint.contains("MySQLTopologyUseMutualTLS"), "{hint}");

        let mut ca_only = plain.clone();
        ca_only.tls = Some(ClientTls {
            ca_file: Some("/ca.pem".into()),
            identity: None,
            skip_verify: false,
            keys: orc_runtime::tls::TOPOLOGY_KEYS,
        });
        let hint = connect_hint(&ca_only, &denied()).unwrap();
        assert!(hint.contains("MySQLTopologySSLCertFile"), "{hint}");

        let mut mutual = ca_only.clone();
        if let Some(t) = mutual.tls.as_mut() {
            t.identity = Some(("/cert.pem".into(), "/key.pem".into()));
        }
        assert_eq!(connect_hint(&mutual, &denied()), None);
        let socket = ConnectOptions::socket("/tmp/s.sock", "root", "");
        assert_eq!(connect_hint(&socket, &denied()), None);
    }
}
