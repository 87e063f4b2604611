//! `[signin.signed_retry]`: the signed-retry dialect (a platform client
//! extends a session by having the session's current key sign a payload;
//! authgate answers with a new session key sealed to the client). The file
//! model, its compiled form, and the checks of the route that mounts it.

use super::settings::ChallengeLimits;
use crate::policy::router::Builtin;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// `[signin.signed_retry]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SignedRetrySection {
    /// The `organizationId` written into every payload to sign.
    pub organization_id: String,
    /// How long a `requestId` can be answered.
    #[serde(default = "default_request_ttl", with = "humantime_serde")]
    pub request_ttl: Duration,
    /// Lifetime of the session a retry creates.
    #[serde(default = "default_session_ttl", with = "humantime_serde")]
    pub session_ttl: Duration,
    /// Most pending requests at once, in all and per session (`per_address`),
    /// client and IP.
    #[serde(default)]
    pub limits: ChallengeLimits,
    /// The platform clients (HTTP Basic credentials).
    pub clients: Vec<RetryClientSection>,
}

/// `[[signin.signed_retry.clients]]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RetryClientSection {
    /// The Basic user name.
    pub id: String,
    /// SHA-256 of the client secret, hex (the secret itself is never in
    /// the config; make it with `printf %s "$SECRET" | sha256sum`).
    pub secret_sha256: String,
    /// The workspace whose sessions this client may extend.
    pub workspace: String,
}

fn default_request_ttl() -> Duration {
    Duration::from_secs(300)
}

fn default_session_ttl() -> Duration {
    Duration::from_secs(24 * 3600)
}

/// One compiled client.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryClient {
    /// The Basic user name.
    pub id: String,
    /// SHA-256 of its secret.
    pub secret_digest: [u8; 32],
    /// Its sessions' workspace.
    pub workspace: String,
}

/// The compiled `[signin.signed_retry]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedRetry {
    /// As configured.
    pub section: SignedRetrySection,
    /// Clients by id.
    pub clients: BTreeMap<String, RetryClient>,
}

fn compile(s: &SignedRetrySection) -> Result<SignedRetry, Vec<(String, String)>> {
    let key = |k: &str| format!("signin.signed_retry.{k}");
    let mut errs = Vec::new();
    if s.organization_id.is_empty() || s.organization_id.chars().any(char::is_control) {
        errs.push((key("organization_id"), "a non-empty id".into()));
    }
    for (name, d) in [
        ("request_ttl", s.request_ttl),
        ("session_ttl", s.session_ttl),
    ] {
        if d.is_zero() {
            errs.push((key(name), "more than zero".into()));
        }
    }
    if !s.limits.valid() {
        errs.push((key("limits"), "every limit is at least 1".into()));
    }
    if s.clients.is_empty() {
        errs.push((key("clients"), "at least one client".into()));
    }
    let mut clients = BTreeMap::new();
    for (i, c) in s.clients.iter().enumerate() {
        let at = format!("{}[{i}]", key("clients"));
        let digest = hex::decode(&c.secret_sha256)
            .ok()
            .and_then(|d| <[u8; 32]>::try_from(d).ok());
        let Some(secret_digest) = digest else {
            errs.push((
                format!("{at}.secret_sha256"),
                "64 hex digits (SHA-256 of the secret)".into(),
            ));
            continue;
        };
        if c.id.is_empty() || c.id.contains(':') || c.workspace.is_empty() {
            errs.push((
                at.clone(),
                "id (without ':') and workspace are required".into(),
            ));
        }
        let client = RetryClient {
            id: c.id.clone(),
            secret_digest,
            workspace: c.workspace.clone(),
        };
        if clients.insert(c.id.clone(), client).is_some() {
            errs.push((format!("{at}.id"), format!("'{}' appears twice", c.id)));
        }
    }
    if errs.is_empty() {
        Ok(SignedRetry {
            section: s.clone(),
            clients,
        })
    } else {
        Err(errs)
    }
}

/// Check `[signin.signed_retry]` against the rest of `file` (a database
/// store, P-256 stamps, a public route with an `{id}`) and compile it.
pub fn validate(
    file: &crate::config::model::FileConfig,
) -> (Option<Arc<SignedRetry>>, Vec<(String, String)>) {
    let mut errs = Vec::new();
    let compiled = match &file.signin.signed_retry {
        None => None,
        Some(s) => {
            if file.store.url.is_none() {
                errs.push((
                    "signin.signed_retry".into(),
                    "needs a database store (store.url): sessions and requests live there".into(),
                ));
            }
            if !file
                .stamps
                .schemes
                .contains(&crate::verify::stamp::StampScheme::P256)
            {
                errs.push((
                    "stamps.schemes".into(),
                    "signed-retry sessions sign with P-256: add SIGNATURE_SCHEME_TK_API_P256"
                        .into(),
                ));
            }
            match compile(s) {
                Ok(c) => Some(Arc::new(c)),
                Err(e) => {
                    errs.extend(e);
                    None
                }
            }
        }
    };
    for (i, r) in file.routes.iter().enumerate() {
        if r.handler.as_deref().and_then(Builtin::parse) != Some(Builtin::SignedRetry) {
            continue;
        }
        let key = format!("routes[{i}]");
        if file.signin.signed_retry.is_none() {
            errs.push((
                format!("{key}.handler"),
                "'signed_retry' needs [signin.signed_retry]".into(),
            ));
        }
        if !r.auth.public {
            errs.push((
                format!("{key}.auth"),
                "'signed_retry' checks the client's Basic credentials itself: set public = true"
                    .into(),
            ));
        }
        if !r.path.contains("{id}") {
            errs.push((
                format!("{key}.path"),
                "'signed_retry' needs the session as {id} in the path".into(),
            ));
        }
    }
    (compiled, errs)
}
