//! Parsing what orchestrator's routes receive: instance keys, numbers,
//! pages and flags (the caller is [`crate::access::Caller`]).

use std::collections::HashMap;

use axum::extract::{Path, Query};
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
