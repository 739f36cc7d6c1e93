//! Who may call what, identically on HTTP and gRPC.
//!
//! orchestrator's rules, from `AuthenticationMethod`:
//! - `""`: anyone may read and change;
//! - `basic`: every call needs `HTTPAuthUser`/`HTTPAuthPassword` (401
//!   otherwise), and then may change things;
//! - `multi`: as `basic`, and the user `readonly` (any password) may read;
//! - `proxy`: a trusted proxy names the user in `AuthUserHeader`; anyone may
//!   read, and users in `PowerAuthUsers` (`*`: anyone) or in one of the unix
//!   groups of `PowerAuthGroups` may change things;
//!
//! and `ReadOnly` refuses every change to everyone. A call that may not
//! change things is refused before its handler runs, so it changes nothing:
//! HTTP answers orchestrator's `{"Code":"ERROR","Message":"Unauthorized"}`
//! (HTTP 500), gRPC `PERMISSION_DENIED`; a call without valid credentials
//! gets HTTP 401 / gRPC `UNAUTHENTICATED`.
//!
//! Load balancer probes (`lb-check`, `_ping`, `health`, `status`,
//! `leader-check`, `routed-leader-check`, `raft-health`, and gRPC's health
//! service) answer without credentials: they change nothing and reveal
//! nothing but liveness and leadership.
//!
//! What each route and method needs is in [`crate::routes`]. The decision
//! is pure ([`Policy::caller`], [`Policy::check`]); [`AccessControl`] holds
//! the current policy so a configuration reload replaces it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use base64::Engine as _;
use orc_runtime::{AuthMethod, Config};

/// What a call needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Nothing: liveness and leadership probes.
    Nothing,
    /// To read.
    Read,
    /// To change something (servers, operator metadata, the configuration).
    Change,
    /// Decided by the handler from the request (gRPC `Topology.Operate`:
    /// each operation needs what its HTTP route needs).
    PerRequest,
}

/// Who calls, once authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Caller {
    /// The user name (empty: anonymous).
    pub user: String,
    /// Whether this caller may change things.
    pub can_change: bool,
}

/// Why a call is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No valid credentials (HTTP 401, gRPC `UNAUTHENTICATED`).
    #[error("Unauthenticated")]
    Unauthenticated,
    /// Authenticated (or anonymous where that is allowed) but not allowed
    /// to do this (orchestrator's "Unauthorized", gRPC `PERMISSION_DENIED`).
    #[error("Unauthorized")]
    Unauthorized,
}

impl Refusal {
    /// The gRPC status.
    pub fn to_status(&self) -> tonic::Status {
        match self {
            Refusal::Unauthenticated => tonic::Status::unauthenticated("Unauthenticated"),
            Refusal::Unauthorized => tonic::Status::permission_denied("Unauthorized"),
        }
    }
}

/// The access rules of one configuration.
#[derive(Clone)]
pub struct Policy {
    method: AuthMethod,
    user: String,
    password: String,
    user_header: String,
    power_users: Vec<String>,
    power_groups: Vec<String>,
    read_only: bool,
    groups: Arc<GroupCache>,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("method", &self.method)
            .field("user", &self.user)
            .field("user_header", &self.user_header)
            .field("power_users", &self.power_users)
            .field("power_groups", &self.power_groups)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

impl Default for Policy {
    /// Everyone may do everything (orchestrator's default).
    fn default() -> Self {
        Self {
            method: AuthMethod::None,
            user: String::new(),
            password: String::new(),
            user_header: "x-forwarded-user".into(),
            power_users: vec!["*".into()],
            power_groups: Vec::new(),
            read_only: false,
            groups: Arc::new(GroupCache::default()),
        }
    }
}

/// The user name of the `multi` method's read-only user.
pub const READ_ONLY_USER: &str = "readonly";

impl Policy {
    /// The rules a configuration asks for (validated at load).
    pub fn from_config(c: &Config) -> Self {
        Self {
            method: c.auth_method().unwrap_or(AuthMethod::Basic),
            user: c.http_auth_user.clone(),
            password: c.http_auth_password.clone(),
            user_header: c.auth_user_header.to_ascii_lowercase(),
            power_users: c.power_auth_users.clone(),
            power_groups: c.power_auth_groups.clone(),
            read_only: c.read_only,
            groups: Arc::new(GroupCache::default()),
        }
    }

    /// Authenticates a call from its headers.
    pub fn caller(&self, headers: &HeaderMap) -> Result<Caller, Refusal> {
        match self.method {
            AuthMethod::None => Ok(Caller {
                // Named for the audit only; nothing is checked.
                user: basic_credentials(headers)
                    .map(|(u, _)| u)
                    .or_else(|| header(headers, &self.user_header))
                    .unwrap_or_default(),
                can_change: true,
            }),
            AuthMethod::Basic => match basic_credentials(headers) {
                Some((u, p)) if self.is_configured_user(&u, &p) => Ok(Caller {
                    user: u,
                    can_change: true,
                }),
                _ => Err(Refusal::Unauthenticated),
            },
            AuthMethod::Multi => match basic_credentials(headers) {
                Some((u, _)) if u == READ_ONLY_USER => Ok(Caller {
                    user: u,
                    can_change: false,
                }),
                Some((u, p)) if self.is_configured_user(&u, &p) => Ok(Caller {
                    user: u,
                    can_change: true,
                }),
                _ => Err(Refusal::Unauthenticated),
            },
            AuthMethod::Proxy => {
                let user = header(headers, &self.user_header).unwrap_or_default();
                let can_change = self.is_power_user(&user);
                Ok(Caller { user, can_change })
            }
        }
    }

    /// Whether `caller` may do what `need` says.
    pub fn check(&self, caller: &Caller, need: Need) -> Result<(), Refusal> {
        match need {
            Need::Nothing | Need::Read | Need::PerRequest => Ok(()),
            Need::Change if self.read_only || !caller.can_change => Err(Refusal::Unauthorized),
            Need::Change => Ok(()),
        }
    }

    /// Authenticates and authorizes in one step; `Need::Nothing` skips
    /// authentication (the caller is then anonymous).
    pub fn admit(&self, headers: &HeaderMap, need: Need) -> Result<Caller, Refusal> {
        let caller = match need {
            Need::Nothing => self.caller(headers).unwrap_or_default(),
            _ => self.caller(headers)?,
        };
        self.check(&caller, need)?;
        Ok(Caller {
            can_change: caller.can_change && !self.read_only,
            ..caller
        })
    }

    fn is_configured_user(&self, user: &str, password: &str) -> bool {
        // Both compared in full whatever the first gives, so timing tells
        // nothing about which one is wrong.
        let u = constant_time_eq(user.as_bytes(), self.user.as_bytes());
        let p = constant_time_eq(password.as_bytes(), self.password.as_bytes());
        u & p
    }

    fn is_power_user(&self, user: &str) -> bool {
        if self.power_users.iter().any(|p| p == "*" || p == user) {
            return true;
        }
        !user.is_empty()
            && !self.power_groups.is_empty()
            && self
                .groups
                .of(user)
                .iter()
                .any(|g| self.power_groups.contains(g))
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// `Authorization: Basic base64(user:password)`.
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(!x));
    }
    diff == 0
}

/// Unix group memberships, looked up through the system's user database
/// and kept for a minute.
#[derive(Default)]
struct GroupCache {
    known: Mutex<HashMap<String, (Instant, Vec<String>)>>,
}

const GROUP_CACHE_TTL: Duration = Duration::from_secs(60);

impl GroupCache {
    fn of(&self, user: &str) -> Vec<String> {
        if let Ok(known) = self.known.lock()
            && let Some((at, groups)) = known.get(user)
            && at.elapsed() < GROUP_CACHE_TTL
        {
            return groups.clone();
        }
        let groups = unix_groups(user);
        if let Ok(mut known) = self.known.lock() {
            known.insert(user.to_string(), (Instant::now(), groups.clone()));
        }
        groups
    }
}

fn unix_groups(user: &str) -> Vec<String> {
    use nix::unistd::{Group, User, getgrouplist};
    let Ok(Some(u)) = User::from_name(user) else {
        return Vec::new();
    };
    let Ok(name) = std::ffi::CString::new(user) else {
        return Vec::new();
    };
    getgrouplist(&name, u.gid)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|gid| Group::from_gid(gid).ok().flatten().map(|g| g.name))
        .collect()
}

/// The policy in force; a configuration reload replaces it.
#[derive(Debug, Clone, Default)]
pub struct AccessControl {
    current: Arc<RwLock<Arc<Policy>>>,
}

impl AccessControl {
    /// Starts with `policy`.
    pub fn new(policy: Policy) -> Self {
        Self {
            current: Arc::new(RwLock::new(Arc::new(policy))),
        }
    }

    /// The policy now.
    pub fn policy(&self) -> Arc<Policy> {
        match self.current.read() {
            Ok(p) => p.clone(),
            // A writer panicked mid-replace: refuse everything rather than
            // guess what the policy was.
            Err(_) => Arc::new(Policy {
                read_only: true,
                method: AuthMethod::Basic,
                user: String::new(),
                password: String::new(),
                ..Policy::default()
            }),
        }
    }

    /// Puts `policy` in force.
    pub fn replace(&self, policy: Policy) {
        if let Ok(mut p) = self.current.write() {
            *p = Arc::new(policy);
        }
    }
}

/// The HTTP side: a middleware in front of every route.
#[derive(Debug, Clone)]
pub struct HttpAccess {
    /// The policy in force.
    pub control: AccessControl,
    /// `<URLPrefix>/api`.
    pub api_base: String,
}

/// Authenticates and authorizes an HTTP request before any handler runs;
/// the handler finds the [`Caller`] in the request's extensions.
pub async fn http_middleware(
    axum::extract::State(access): axum::extract::State<HttpAccess>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let path = request.uri().path();
    let need = match path.strip_prefix(access.api_base.as_str()) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => crate::routes::need_of(rest),
        _ => Need::Read,
    };
    match access.control.policy().admit(request.headers(), need) {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(Refusal::Unauthenticated) => (
            axum::http::StatusCode::UNAUTHORIZED,
            [(
                axum::http::header::WWW_AUTHENTICATE,
                "Basic realm=\"orchestrator\"",
            )],
            "401 Unauthorized\n",
        )
            .into_response(),
        Err(Refusal::Unauthorized) => crate::error::ApiError::Unauthorized.into_response(),
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    /// The caller the access layer admitted (anonymous when there is none,
    /// which only a test router without the layer sees).
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Caller>()
            .cloned()
            .unwrap_or_default())
    }
}

/// The gRPC side: a tower layer in front of every service.
#[derive(Debug, Clone)]
pub struct GrpcAccessLayer {
    /// The policy in force.
    pub control: AccessControl,
}

impl<S> tower::Layer<S> for GrpcAccessLayer {
    type Service = GrpcAccess<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcAccess {
            inner,
            control: self.control.clone(),
        }
    }
}

/// See [`GrpcAccessLayer`].
#[derive(Debug, Clone)]
pub struct GrpcAccess<S> {
    inner: S,
    control: AccessControl,
}

impl<S, ReqBody, ResBody> tower::Service<axum::http::Request<ReqBody>> for GrpcAccess<S>
where
    S: tower::Service<axum::http::Request<ReqBody>, Response = axum::http::Response<ResBody>>
        + Send
        + 'static,
    S::Future: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = axum::http::Response<ResBody>;
    type Error = S::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: axum::http::Request<ReqBody>) -> Self::Future {
        let need = crate::routes::grpc_need_of(request.uri().path());
        match self.control.policy().admit(request.headers(), need) {
            Ok(caller) => {
                request.extensions_mut().insert(caller);
                Box::pin(self.inner.call(request))
            }
            Err(refusal) => {
                let response = refusal.to_status().into_http();
                Box::pin(async move { Ok(response) })
            }
        }
    }
}

/// The caller of a gRPC call, as the access layer admitted it.
pub fn grpc_caller<T>(request: &tonic::Request<T>) -> Caller {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or_default()
}

/// Who a gRPC call is recorded as made by: the authenticated user, else
/// the name the request gives (only without authentication can the two
/// differ).
pub fn actor<T>(request: &tonic::Request<T>, claimed: &str) -> String {
    let caller = grpc_caller(request);
    if caller.user.is_empty() {
        claimed.to_string()
    } else {
        caller.user
    }
}

/// Refuses a gRPC call that needs `need` to a caller who may not.
pub fn require(caller: &Caller, need: Need) -> Result<(), tonic::Status> {
    if need == Need::Change && !caller.can_change {
        Err(Refusal::Unauthorized.to_status())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(json: &str) -> Policy {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        std::fs::write(&path, json).unwrap();
        let (c, _) = Config::load(Some(&path), &[]).unwrap();
        Policy::from_config(&c)
    }

    fn with(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn basic(user: &str, password: &str) -> HeaderMap {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        with(&[("authorization", &format!("Basic {token}"))])
    }

    #[test]
    fn without_a_method_everyone_may_change_unless_read_only() {
        let p = Policy::default();
        assert!(p.admit(&HeaderMap::new(), Need::Change).is_ok());
        assert_eq!(p.admit(&basic("bob", "x"), Need::Read).unwrap().user, "bob");
        let ro = policy(r#"{"ReadOnly":true}"#);
        assert_eq!(
            ro.admit(&HeaderMap::new(), Need::Change),
            Err(Refusal::Unauthorized)
        );
        assert!(ro.admit(&HeaderMap::new(), Need::Read).is_ok());
    }

    #[test]
    fn basic_needs_the_configured_credentials_for_everything_but_probes() {
        let p = policy(
            r#"{"AuthenticationMethod":"basic","HTTPAuthUser":"admin","HTTPAuthPassword":"s3cret"}"#,
        );
        assert_eq!(
            p.admit(&HeaderMap::new(), Need::Read),
            Err(Refusal::Unauthenticated)
        );
        assert_eq!(
            p.admit(&basic("admin", "wrong"), Need::Read),
            Err(Refusal::Unauthenticated)
        );
        assert_eq!(
            p.admit(&basic("admi", "s3cret"), Need::Read),
            Err(Refusal::Unauthenticated)
        );
        assert!(p.admit(&basic("admin", "s3cret"), Need::Change).is_ok());
        assert!(p.admit(&HeaderMap::new(), Need::Nothing).is_ok());
        assert_eq!(
            p.admit(&with(&[("authorization", "Basic !!!")]), Need::Read),
            Err(Refusal::Unauthenticated)
        );
    }

    #[test]
    fn multi_lets_readonly_read_only() {
        let p = policy(
            r#"{"AuthenticationMethod":"multi","HTTPAuthUser":"admin","HTTPAuthPassword":"s3cret"}"#,
        );
        assert!(p.admit(&basic("readonly", "anything"), Need::Read).is_ok());
        assert_eq!(
            p.admit(&basic("readonly", "anything"), Need::Change),
            Err(Refusal::Unauthorized)
        );
        assert!(p.admit(&basic("admin", "s3cret"), Need::Change).is_ok());
        assert_eq!(
            p.admit(&basic("eve", "s3cret"), Need::Read),
            Err(Refusal::Unauthenticated)
        );
    }

    #[test]
    fn proxy_lets_power_users_change() {
        let p = policy(
            r#"{"AuthenticationMethod":"proxy","AuthUserHeader":"X-Auth-User","PowerAuthUsers":["alice"]}"#,
        );
        let alice = with(&[("x-auth-user", "alice")]);
        let bob = with(&[("x-auth-user", "bob")]);
        assert!(p.admit(&alice, Need::Change).is_ok());
        assert_eq!(p.admit(&bob, Need::Change), Err(Refusal::Unauthorized));
        assert_eq!(p.admit(&bob, Need::Read).unwrap().user, "bob");
        assert_eq!(
            p.admit(&HeaderMap::new(), Need::Change),
            Err(Refusal::Unauthorized)
        );
        // The default `*` lets anyone change.
        let open = policy(r#"{"AuthenticationMethod":"proxy"}"#);
        assert!(open.admit(&bob, Need::Change).is_ok());
    }

    #[test]
    fn proxy_power_groups_are_unix_groups() {
        // root is in group root on every unix.
        let p = policy(
            r#"{"AuthenticationMethod":"proxy","PowerAuthUsers":[],"PowerAuthGroups":["root"]}"#,
        );
        let root = with(&[("x-forwarded-user", "root")]);
        assert!(p.admit(&root, Need::Change).is_ok());
        let nobody = with(&[("x-forwarded-user", "no-such-user-here")]);
        assert_eq!(p.admit(&nobody, Need::Change), Err(Refusal::Unauthorized));
    }

    #[test]
    fn equal_strings_compare_equal_only() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(constant_time_eq(b"", b""));
    }
}
