//! The verified identity a request carries, and the headers that present it
//! to the upstream.
//!
//! Forwarding is strip-then-inject: every inbound header in the identity
//! namespace is removed first, so a client can never spoof one, then the
//! verified values are written.

use crate::credential::CredentialKind;
use pingora_http::RequestHeader;

/// Who a verified credential speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Subject: user, service or application id.
    pub subject: String,
    /// Workspace slug the credential is bound to.
    pub workspace: Option<String>,
    /// Granted scopes (empty for workspace keys = full access to their surface).
    pub scopes: Vec<String>,
    /// Credential kind.
    pub kind: CredentialKind,
    /// Credential id, safe to log (never the credential).
    pub credential_id: String,
    /// Unix seconds after which the credential is no longer valid.
    pub expires_at: Option<u64>,
    /// Sub-resources the credential may reach (empty = all).
    pub allow: Vec<String>,
    /// Usage tag (surface) of the key.
    pub usage: Option<String>,
    /// Whether the credential may reach any workspace.
    pub platform_wide: bool,
    /// Whether scopes are enforced (false for workspace API keys: possession grants the surface).
    pub scoped: bool,
}

impl Identity {
    /// Whether the identity has expired at `now` (unix seconds).
    pub fn expired_at(&self, now: u64) -> bool {
        matches!(self.expires_at, Some(exp) if exp <= now)
    }
}

/// Remove every header whose name starts with `prefix` (lower-case).
pub fn strip_namespace(req: &mut RequestHeader, prefix: &str) {
    let doomed: Vec<http::HeaderName> = req
        .headers
        .keys()
        .filter(|name| name.as_str().starts_with(prefix))
        .cloned()
        .collect();
    for name in doomed {
        req.remove_header(&name);
    }
}

/// Write the identity headers (`<prefix>subject`, `…workspace`, `…scopes`,
/// `…method`, `…credential-id`, `…expires-at`).
pub fn inject(req: &mut RequestHeader, prefix: &str, id: &Identity) -> pingora::Result<()> {
    req.insert_header(format!("{prefix}subject"), id.subject.as_str())?;
    if let Some(ws) = &id.workspace {
        req.insert_header(format!("{prefix}workspace"), ws.as_str())?;
    }
    req.insert_header(format!("{prefix}scopes"), id.scopes.join(" "))?;
    req.insert_header(format!("{prefix}method"), id.kind.as_str())?;
    req.insert_header(format!("{prefix}credential-id"), id.credential_id.as_str())?;
    if let Some(exp) = id.expires_at {
        req.insert_header(format!("{prefix}expires-at"), exp.to_string())?;
    }
    Ok(())
}
