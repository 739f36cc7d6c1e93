//! HTTP(S) GETs over reqwest with rustls (ring provider): a [`Transport`]
//! built once from the TLS settings, a timeout on every request, and
//! failures classified so that the caller knows which are worth a retry.

use std::time::Duration;

use bytes::Bytes;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::credentials::Credentials;
use crate::tls::{self, TlsError, TlsOptions};

/// A response: status and body.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Body bytes.
    pub body: Bytes,
}

/// Why a GET failed before any response. URLs here never hold credentials.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    /// The URL is not usable.
    #[error("bad URL {url}: {reason}")]
    BadUrl {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// Could not connect or the exchange broke.
    #[error("cannot reach {url}: {reason}")]
    Unreachable {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The TLS handshake failed (untrusted certificate, refused client
    /// certificate, ...): trying again would fail the same way.
    #[error("cannot reach {url}: {reason}")]
    Tls {
        /// The URL.
        url: String,
        /// Why, with what to set.
        reason: String,
    },
    /// No complete answer in time.
    #[error("no answer from {url} within {after:?}")]
    Timeout {
        /// The URL.
        url: String,
        /// Bound.
        after: Duration,
    },
}

/// How long a connection may take to establish.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// One HTTP client for a run: TLS settings applied, connections reused.
#[derive(Debug, Clone)]
pub struct Transport {
    client: reqwest::Client,
}

impl Transport {
    /// Builds the client. `with_system_roots` loads the system's trusted
    /// certificates (needed only for `https://` APIs).
    pub fn new(options: &TlsOptions, with_system_roots: bool) -> Result<Self, TlsError> {
        let config = tls::client_config(options, with_system_roots)?;
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(config)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("orchestrator-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| TlsError::Config(e.to_string()))?;
        Ok(Self { client })
    }

    /// GETs `url` with the credentials' header, within `timeout`.
    pub async fn get(
        &self,
        url: &str,
        credentials: &Credentials,
        timeout: Duration,
    ) -> Result<Response, FetchError> {
        let mut request = self.client.get(url).timeout(timeout);
        if let Some((name, value)) = credentials.header_pair() {
            request = request.header(name, value);
        }
        send(request, url, timeout).await
    }

    async fn get_with_headers(
        &self,
        url: &str,
        headers: &[(String, String)],
        timeout: Duration,
    ) -> Result<Response, FetchError> {
        let mut request = self.client.get(url).timeout(timeout);
        for (k, v) in headers {
            request = request.header(k.as_str(), v.as_str());
        }
        send(request, url, timeout).await
    }
}

async fn send(
    request: reqwest::RequestBuilder,
    url: &str,
    timeout: Duration,
) -> Result<Response, FetchError> {
    let classify = |e: reqwest::Error| classify(e, url, timeout);
    let response = request.send().await.map_err(classify)?;
    let status = response.status().as_u16();
    let body = response.bytes().await.map_err(classify)?;
    Ok(Response { status, body })
}

fn classify(e: reqwest::Error, url: &str, timeout: Duration) -> FetchError {
    let url = url.to_string();
    if e.is_timeout() {
        return FetchError::Timeout {
            url,
            after: timeout,
        };
    }
    let e = e.without_url();
    if let Some(reason) = tls::explain(&e) {
        return FetchError::Tls { url, reason };
    }
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        let text = s.to_string();
        if !reason.ends_with(&text) {
            reason = format!("{reason}: {text}");
        }
        source = s.source();
    }
    if e.is_builder() {
        FetchError::BadUrl { url, reason }
    } else {
        FetchError::Unreachable { url, reason }
    }
}

/// GETs `url` with extra headers, within `timeout`, trusting the system's
/// roots (a one-off client; the command line builds one [`Transport`]).
pub async fn get(
    url: &str,
    headers: &[(String, String)],
    timeout: Duration,
) -> Result<Response, FetchError> {
    let transport =
        Transport::new(&TlsOptions::default(), url.starts_with("https://")).map_err(|e| {
            FetchError::BadUrl {
                url: url.to_string(),
                reason: e.to_string(),
            }
        })?;
    transport.get_with_headers(url, headers, timeout).await
}

/// What `jq @uri` leaves as is: letters, digits and `-_.~`.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes a query or path component (as `jq @uri`).
pub fn urlencode(s: &str) -> String {
    utf8_percent_encode(s, URI_COMPONENT).to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn components_are_encoded_as_jq_uri() {
        assert_eq!(urlencode("db 1:3306/x"), "db%201%3A3306%2Fx");
        assert_eq!(urlencode("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(urlencode("é"), "%C3%A9");
    }

    #[tokio::test]
    async fn an_unreachable_server_is_reported_with_its_url() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let url = format!("http://127.0.0.1:{port}/api/clusters");
        let e = get(&url, &[], Duration::from_secs(2)).await.unwrap_err();
        assert!(matches!(e, FetchError::Unreachable { .. }), "{e:?}");
        assert!(
            e.to_string().starts_with(&format!("cannot reach {url}: ")),
            "{e}"
        );
    }
}
