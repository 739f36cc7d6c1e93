//! Parsing what orchestrator's routes receive: instance keys, numbers,
//! pages, flags, and the authenticated user.

use std::collections::HashMap;

use axum::extract::{Path, Query};
use axum::http::HeaderMap;
use orc_model::InstanceKey;

use super::parse_key;
use crate::Gateway;
use crate::error::ApiError;

/// Query parameters.
pub(super) type Params = Query<HashMap<String, String>>;
/// Two path parameters.
pub(super) type P2 = Path<(String, String)>;
/// Three path parameters.
pub(super) type P3 = Path<(String, String, String)>;
/// Four path parameters.
pub(super) type P4 = Path<(String, String, String, String)>;

/// An instance key from `:host/:port` path segments.
pub(super) fn key(gw: &Gateway, host: &str, port: &str) -> Result<InstanceKey, ApiError> {
    parse_key(gw, host, port)
}

/// The authenticated user: HTTP basic auth, else `X-Forwarded-User`
/// (orchestrator's proxy authentication); empty when none.
pub(super) fn user(headers: &HeaderMap) -> String {
    let basic = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| decode_base64(b.trim()))
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|creds| creds.split_once(':').map(|(u, _)| u.to_string()));
    basic
        .or_else(|| {
            headers
                .get("X-Forwarded-User")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        })
        .map(|u| u.trim().to_string())
        .unwrap_or_default()
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let digits = text.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= value(*c)? << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len().max(1)]);
    }
    Some(out)
}

pub(super) fn flag(q: &HashMap<String, String>, name: &str) -> bool {
    q.get(name)
        .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes"))
}

pub(super) fn number(what: &str, text: &str) -> Result<i64, ApiError> {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| ApiError::BadRequest(format!("Invalid {what}: {text:?}")))
}

pub(super) fn page(text: &str) -> Result<Option<usize>, ApiError> {
    Ok(Some(
        usize::try_from(number("page", text)?).unwrap_or(usize::MAX),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_and_proxy_headers_name_the_user() {
        let mut h = HeaderMap::new();
        assert_eq!(user(&h), "");
        h.insert("X-Forwarded-User", "alice".parse().unwrap());
        assert_eq!(user(&h), "alice");
        // "bob:secret"
        h.insert(
            axum::http::header::AUTHORIZATION,
            "Basic Ym9iOnNlY3JldA==".parse().unwrap(),
        );
        assert_eq!(user(&h), "bob");
    }

    #[test]
    fn base64_decodes_padded_and_unpadded_text() {
        assert_eq!(decode_base64("YQ==").unwrap(), b"a");
        assert_eq!(decode_base64("YWI=").unwrap(), b"ab");
        assert_eq!(decode_base64("YWJj").unwrap(), b"abc");
        assert!(decode_base64("!!").is_none());
    }
}
