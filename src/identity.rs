//! The verified identity a request carries, and the headers that present it
//! to the upstream.
//!
//! Forwarding is strip-then-inject: every inbound header in the identity
//! namespace is removed first, so a client can never spoof one, then the
//! verified values are written.

use crate::config::model::HeaderNamesSection;
use crate::credential::CredentialKind;
use http::{HeaderMap, HeaderName, HeaderValue};

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
    /// The stamp scheme, for stamp identities.
    pub scheme: Option<&'static str>,
    /// Seconds past `expires_at` the credential is still accepted: a JWT
    /// issuer's clock leeway, 0 for everything else.
    pub grace: u64,
    /// Header values rendered once: a cached identity serves many requests.
    pub rendered: Rendered,
}

/// Identity header values, rendered on first use.
#[derive(Debug, Clone, Default)]
pub struct Rendered(std::sync::OnceLock<Option<Values>>);

/// The rendered values.
#[derive(Debug, Clone)]
pub struct Values {
    subject: HeaderValue,
    workspace: Option<HeaderValue>,
    scopes: HeaderValue,
    method: HeaderValue,
    credential_id: HeaderValue,
    expires_at: Option<HeaderValue>,
}

impl PartialEq for Rendered {
    fn eq(&self, _: &Self) -> bool {
        // Derived data: two identities are equal by their fields.
        true
    }
}

impl Eq for Rendered {}

impl Identity {
    fn values(&self) -> Option<&Values> {
        self.rendered
            .0
            .get_or_init(|| {
                let v = |s: &str| HeaderValue::from_str(s).ok();
                Some(Values {
                    subject: v(&self.subject)?,
                    workspace: match &self.workspace {
                        Some(w) => Some(v(w)?),
                        None => None,
                    },
                    scopes: v(&self.scopes.join(" "))?,
                    method: HeaderValue::from_static(self.kind.as_str()),
                    credential_id: v(&self.credential_id)?,
                    expires_at: self.expires_at.map(HeaderValue::from),
                })
            })
            .as_ref()
    }
}

impl Identity {
    /// Whether the identity has expired at `now` (unix seconds), leeway
    /// included.
    pub fn expired_at(&self, now: u64) -> bool {
        matches!(self.valid_until(), Some(end) if end <= now)
    }

    /// The last instant (unix seconds, exclusive) the credential is accepted.
    pub fn valid_until(&self) -> Option<u64> {
        self.expires_at.map(|exp| exp.saturating_add(self.grace))
    }
}

/// The names of the identity headers, resolved once at config load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityHeaders {
    /// Namespace prefix: every inbound header starting with it is removed.
    pub prefix: String,
    /// Subject.
    pub subject: HeaderName,
    /// Workspace slug.
    pub workspace: HeaderName,
    /// Space-separated scopes.
    pub scopes: HeaderName,
    /// Credential kind.
    pub method: HeaderName,
    /// Credential id.
    pub credential_id: HeaderName,
    /// Expiry (Unix seconds).
    pub expires_at: HeaderName,
    /// Signed assertion.
    pub assertion: HeaderName,
    /// Stamp scheme (stamp identities only).
    pub stamp_scheme: HeaderName,
}

impl IdentityHeaders {
    /// Resolve names: an override, else `<prefix><default>`. Errors name the field.
    pub fn resolve(prefix: &str, o: &HeaderNamesSection) -> Result<Self, (&'static str, String)> {
        let name = |field: &'static str, over: &Option<String>, default: &str| {
            let text = over.clone().unwrap_or_else(|| format!("{prefix}{default}"));
            HeaderName::from_bytes(text.as_bytes())
                .ok()
                .filter(|n| n.as_str() == text)
                .ok_or((field, format!("'{text}' is not a lower-case header name")))
        };
        let subject = name("subject", &o.subject, "subject")?;
        let workspace = name("workspace", &o.workspace, "workspace")?;
        let scopes = name("scopes", &o.scopes, "scopes")?;
        let method = name("method", &o.method, "method")?;
        let credential_id = name("credential_id", &o.credential_id, "credential-id")?;
        let expires_at = name("expires_at", &o.expires_at, "expires-at")?;
        let stamp_scheme = name("stamp_scheme", &None, "stamp-scheme")?;
        Ok(Self {
            prefix: prefix.to_string(),
            subject,
            workspace,
            scopes,
            method,
            credential_id,
            expires_at,
            assertion: name("assertion", &o.assertion, "assertion")?,
            stamp_scheme,
        })
    }

    fn all(&self) -> [&HeaderName; 8] {
        [
            &self.subject,
            &self.workspace,
            &self.scopes,
            &self.method,
            &self.credential_id,
            &self.expires_at,
            &self.assertion,
            &self.stamp_scheme,
        ]
    }

    /// Whether a lower-case, dash-spelled name is in the namespace or is one
    /// of the identity headers (the test [`crate::proxy::spoof`] applies to
    /// underscore spellings). A prefix written with `_` counts as with `-`.
    pub fn protects(&self, name: &str) -> bool {
        let prefix = self.prefix.to_ascii_lowercase().replace('_', "-");
        name.starts_with(prefix.as_str()) || self.all().iter().any(|n| n.as_str() == name)
    }

    /// Remove every inbound header in the namespace or with an identity name.
    pub fn strip(&self, headers: &mut HeaderMap) {
        let doomed = |name: &HeaderName| {
            name.as_str().starts_with(self.prefix.as_str()) || self.all().contains(&name)
        };
        // Usually nothing to remove: check before allocating. Collect, then
        // remove: linear however many spoofed names a request carries.
        if !headers.keys().any(doomed) {
            return;
        }
        let names: Vec<HeaderName> = headers.keys().filter(|n| doomed(n)).cloned().collect();
        for name in names {
            headers.remove(&name);
        }
    }

    /// Write the identity headers (names and values are shared: no copies,
    /// no re-parsing).
    pub fn inject(&self, headers: &mut HeaderMap, id: &Identity) -> pingora::Result<()> {
        let Some(v) = id.values() else {
            return Err(pingora::Error::explain(
                pingora::ErrorType::InternalError,
                "identity value not representable as a header",
            ));
        };
        put(headers, &self.subject, v.subject.clone())?;
        if let Some(ws) = &v.workspace {
            put(headers, &self.workspace, ws.clone())?;
        }
        put(headers, &self.scopes, v.scopes.clone())?;
        put(headers, &self.method, v.method.clone())?;
        put(headers, &self.credential_id, v.credential_id.clone())?;
        if let Some(exp) = &v.expires_at {
            put(headers, &self.expires_at, exp.clone())?;
        }
        if let Some(scheme) = id.scheme {
            put(
                headers,
                &self.stamp_scheme,
                HeaderValue::from_static(scheme),
            )?;
        }
        Ok(())
    }
}

/// Set `name` to `value`, replacing any previous values; an error (not a
/// panic) if the map is full.
pub fn put(headers: &mut HeaderMap, name: &HeaderName, value: HeaderValue) -> pingora::Result<()> {
    headers
        .try_insert(name.clone(), value)
        .map(|_| ())
        .map_err(|_| {
            pingora::Error::explain(pingora::ErrorType::InvalidHTTPHeader, "too many headers")
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::CredentialKind;

    fn identity() -> Identity {
        Identity {
            subject: "u1".into(),
            workspace: Some("acme".into()),
            scopes: vec!["a".into(), "b".into()],
            kind: CredentialKind::AccessToken,
            credential_id: "tok_1".into(),
            expires_at: Some(42),
            allow: vec![],
            usage: None,
            platform_wide: false,
            scoped: true,
            scheme: None,
            grace: 0,
            rendered: Default::default(),
        }
    }

    #[test]
    fn strip_then_inject_with_overrides() {
        let names = HeaderNamesSection {
            subject: Some("x-user-id".into()),
            ..Default::default()
        };
        let h = IdentityHeaders::resolve("x-auth-", &names).unwrap();
        let mut req = HeaderMap::new();
        let spoof = HeaderValue::from_static("spoof");
        for name in [
            "x-auth-subject",
            "X-Auth-Anything",
            "x-user-id",
            "x-auth-subject",
        ] {
            req.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                spoof.clone(),
            );
        }
        req.insert("x-other", HeaderValue::from_static("kept"));
        h.strip(&mut req);
        assert_eq!(req.len(), 1, "only x-other is left: {req:?}");
        h.inject(&mut req, &identity()).unwrap();
        let get = |n: &str| req.get(n).map(|v| v.to_str().unwrap().to_string());
        assert_eq!(get("x-user-id").as_deref(), Some("u1"));
        assert_eq!(get("x-auth-subject"), None);
        assert_eq!(get("x-auth-anything"), None);
        assert_eq!(get("x-other").as_deref(), Some("kept"));
        assert_eq!(get("x-auth-scopes").as_deref(), Some("a b"));
        assert_eq!(get("x-auth-method").as_deref(), Some("access_token"));
        assert_eq!(get("x-auth-expires-at").as_deref(), Some("42"));
        assert!(IdentityHeaders::resolve(
            "x-auth-",
            &HeaderNamesSection {
                scopes: Some("Bad Name".into()),
                ..Default::default()
            }
        )
        .is_err());
    }
}
