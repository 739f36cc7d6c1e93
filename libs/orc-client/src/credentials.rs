//! Who the client is to the API, as orchestrator-client decides it: basic
//! authentication from `-b user:pass` (else `ORCHESTRATOR_AUTH_USER` and
//! `ORCHESTRATOR_AUTH_PASSWORD`, else the API URL's `user:pass@`), or a header
//! from `-e "Header: value"` (else `ORCHESTRATOR_AUTH_USER_HEADER`), which
//! replaces basic authentication when given. Secrets never reach an error
//! message or debug output: headers are marked sensitive, `Debug` is
//! redacted, and URLs are shown through [`mask_url`].

use base64::Engine as _;
use percent_encoding::percent_decode_str;
use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue};

/// The one authentication header sent with every request, if any.
#[derive(Clone, Default)]
pub struct Credentials {
    header: Option<(HeaderName, HeaderValue)>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.header {
            Some((name, _)) => write!(f, "Credentials({name}: <redacted>)"),
            None => write!(f, "Credentials(none)"),
        }
    }
}

/// Why the credentials given cannot be used (the secret is never repeated).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    /// `-e`/`ORCHESTRATOR_AUTH_USER_HEADER` is not `Header: value`.
    #[error(
        "invalid header authentication (-e/--headers-auth or ORCHESTRATOR_AUTH_USER_HEADER): expected \"Header: value\""
    )]
    Header,
    /// The user or password holds characters a header cannot carry.
    #[error(
        "invalid basic authentication (-b/--auth or ORCHESTRATOR_AUTH_USER/ORCHESTRATOR_AUTH_PASSWORD)"
    )]
    Basic,
}

impl Credentials {
    /// No authentication.
    pub fn none() -> Self {
        Self::default()
    }

    /// `Authorization: Basic base64(user:password)`.
    pub fn basic(user: &str, password: &str) -> Result<Self, CredentialsError> {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let mut value = HeaderValue::from_str(&format!("Basic {token}"))
            .map_err(|_| CredentialsError::Basic)?;
        value.set_sensitive(true);
        Ok(Self {
            header: Some((AUTHORIZATION, value)),
        })
    }

    /// A `Header: value` line, as curl's `-H`.
    pub fn header(line: &str) -> Result<Self, CredentialsError> {
        let (name, value) = line.split_once(':').ok_or(CredentialsError::Header)?;
        let name =
            HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| CredentialsError::Header)?;
        let mut value =
            HeaderValue::from_str(value.trim()).map_err(|_| CredentialsError::Header)?;
        value.set_sensitive(true);
        Ok(Self {
            header: Some((name, value)),
        })
    }

    /// orchestrator-client's choice: the header if given; else basic
    /// authentication from `user:password` (`-b`, or the environment's pair)
    /// unless both are empty; else the URL's own `user:password@`.
    pub fn resolve(
        header: Option<&str>,
        basic: Option<&str>,
        url_userinfo: Option<(String, String)>,
    ) -> Result<Self, CredentialsError> {
        if let Some(line) = header.filter(|h| !h.trim().is_empty()) {
            return Self::header(line);
        }
        if let Some(pair) = basic.filter(|b| *b != ":" && !b.is_empty()) {
            let (user, password) = pair.split_once(':').unwrap_or((pair, ""));
            return Self::basic(user, password);
        }
        match url_userinfo {
            Some((user, password)) => Self::basic(&user, &password),
            None => Ok(Self::none()),
        }
    }

    /// The header to send, if any.
    pub(crate) fn header_pair(&self) -> Option<(&HeaderName, &HeaderValue)> {
        self.header.as_ref().map(|(n, v)| (n, v))
    }
}

/// Splits `user:password@` off a URL: the URL without it, and the decoded pair.
pub fn split_userinfo(url: &str) -> (String, Option<(String, String)>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_string(), None);
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return (url.to_string(), None);
    };
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    (
        format!("{scheme}://{host}{path}"),
        Some((decode(user), decode(password))),
    )
}

/// A URL fit to show: a password in it becomes `****`.
pub fn mask_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            format!("{scheme}://{user}:****@{host}{path}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn sent(c: &Credentials) -> Option<(String, String)> {
        c.header_pair().map(|(n, v)| {
            (
                n.as_str().to_string(),
                v.to_str().unwrap_or_default().to_string(),
            )
        })
    }

    #[test]
    fn basic_authentication_encodes_user_and_password() {
        let c = Credentials::resolve(None, Some("user:pass"), None).unwrap();
        assert_eq!(
            sent(&c),
            Some(("authorization".into(), "Basic dXNlcjpwYXNz".into()))
        );
        // A password may hold colons; a lone user has an empty password.
        let c = Credentials::resolve(None, Some("u:p:w"), None).unwrap();
        assert_eq!(sent(&c).unwrap().1, "Basic dTpwOnc=");
        let c = Credentials::resolve(None, Some("u"), None).unwrap();
        assert_eq!(sent(&c).unwrap().1, "Basic dTo=");
    }

    #[test]
    fn an_empty_pair_means_no_authentication() {
        assert!(sent(&Credentials::resolve(None, Some(":"), None).unwrap()).is_none());
        assert!(sent(&Credentials::resolve(None, None, None).unwrap()).is_none());
    }

    #[test]
    fn header_authentication_replaces_basic() {
        let c = Credentials::resolve(Some("X-Forwarded-User: alice"), Some("u:p"), None).unwrap();
        assert_eq!(sent(&c), Some(("x-forwarded-user".into(), "alice".into())));
        assert_eq!(
            Credentials::resolve(Some("no colon here"), None, None).unwrap_err(),
            CredentialsError::Header
        );
    }

    #[test]
    fn url_credentials_apply_when_nothing_else_is_given() {
        let (url, info) = split_userinfo("https://bob:s%40cret@orc:3000/api");
        assert_eq!(url, "https://orc:3000/api");
        let info = info.unwrap();
        assert_eq!(info, ("bob".to_string(), "s@cret".to_string()));
        let c = Credentials::resolve(None, None, Some(info.clone())).unwrap();
        assert_eq!(sent(&c).unwrap().1, "Basic Ym9iOnNAY3JldA==");
        // -b wins over the URL's pair.
        let c = Credentials::resolve(None, Some("u:p"), Some(info)).unwrap();
        assert_eq!(sent(&c).unwrap().1, "Basic dTpw");
        assert_eq!(split_userinfo("http://orc:3000/api").1, None);
        assert_eq!(split_userinfo("http://orc/a@b").1, None);
    }

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            mask_url("http://bob:secret@orc:3000/api"),
            "http://bob:****@orc:3000/api"
        );
        assert_eq!(mask_url("http://orc:3000/api"), "http://orc:3000/api");
        assert_eq!(mask_url("http://orc/x@y"), "http://orc/x@y");
        let c = Credentials::resolve(None, Some("bob:secret"), None).unwrap();
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("secret") && !shown.contains("Ym9iOnNlY3JldA"),
            "{shown}"
        );
        let c = Credentials::resolve(Some("X-Token: secret"), None, None).unwrap();
        assert!(!format!("{c:?}").contains("secret"));
    }
}
