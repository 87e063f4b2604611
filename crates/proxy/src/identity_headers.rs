//! The headers that present a verified identity to the upstream.
//!
//! Forwarding is strip-then-inject: every inbound header in the identity
//! namespace is removed first, so a client can never spoof one, then the
//! verified values are written.

use crate::config::model::HeaderNamesSection;
use authgate_core::identity::Identity;
use http::{HeaderMap, HeaderName, HeaderValue};

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
    /// Minted keys: `user` or `agent`.
    pub actor_kind: HeaderName,
    /// Minted keys: the actor's id.
    pub actor_id: HeaderName,
    /// Minted keys: the id of the server key that minted it.
    pub parent_credential_id: HeaderName,
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
            actor_kind: name("actor_kind", &None, "actor-kind")?,
            actor_id: name("actor_id", &None, "actor-id")?,
            parent_credential_id: name("parent_credential_id", &None, "parent-credential-id")?,
        })
    }

    /// Every identity header name, in a fixed order.
    pub fn all(&self) -> [&HeaderName; 11] {
        [
            &self.subject,
            &self.workspace,
            &self.scopes,
            &self.method,
            &self.credential_id,
            &self.expires_at,
            &self.assertion,
            &self.stamp_scheme,
            &self.actor_kind,
            &self.actor_id,
            &self.parent_credential_id,
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
        if let Some([kind, actor, parent]) = &v.actor {
            put(headers, &self.actor_kind, kind.clone())?;
            put(headers, &self.actor_id, actor.clone())?;
            put(headers, &self.parent_credential_id, parent.clone())?;
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
            minted: None,
            limits: Default::default(),
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
