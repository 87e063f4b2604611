//! The verified identity a request carries, with its header values
//! rendered once (the proxy's `identity_headers` decides the names).

use crate::actor::Minted;
use crate::credential::CredentialKind;
use crate::store::KeyRecord;
use http::HeaderValue;
use std::ops::Range;
use std::sync::Arc;

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
    /// Minted keys: the actor and the minting server key.
    pub minted: Option<Arc<Minted>>,
    /// The key's own rate limit and usage quota (stored keys only).
    pub limits: crate::limits_keys::KeyLimits,
    /// Header values rendered once: a cached identity serves many requests.
    pub rendered: Rendered,
}

/// Identity header values, rendered on first use.
#[derive(Debug, Clone, Default)]
pub struct Rendered(std::sync::OnceLock<Option<Values>>);

/// The rendered values.
#[derive(Debug, Clone)]
pub struct Values {
    /// Subject.
    pub subject: HeaderValue,
    /// Workspace slug, when bound to one.
    pub workspace: Option<HeaderValue>,
    /// Space-separated scopes.
    pub scopes: HeaderValue,
    /// Credential kind.
    pub method: HeaderValue,
    /// Credential id.
    pub credential_id: HeaderValue,
    /// Expiry (Unix seconds).
    pub expires_at: Option<HeaderValue>,
    /// Minted keys: actor kind, actor id and the minting key's id.
    pub actor: Option<[HeaderValue; 3]>,
}

impl PartialEq for Rendered {
    fn eq(&self, _: &Self) -> bool {
        // Derived data: two identities are equal by their fields.
        true
    }
}

impl Eq for Rendered {}

impl Identity {
    /// The identity's header values, rendered on first use; `None` when a
    /// value cannot be a header value.
    pub fn values(&self) -> Option<&Values> {
        self.rendered.0.get_or_init(|| self.render()).as_ref()
    }

    /// Every value written into one buffer and handed out as slices of it:
    /// a cached identity's values share one allocation and one reference
    /// count, so forwarding them touches a few adjacent cache lines rather
    /// than a reference count and a buffer per value (with many identities
    /// in rotation those were cache misses on every request).
    fn render(&self) -> Option<Values> {
        fn put(buf: &mut String, s: &str) -> Range<usize> {
            let start = buf.len();
            buf.push_str(s);
            start..buf.len()
        }
        let mut buf = String::new();
        let subject = put(&mut buf, &self.subject);
        let workspace = self.workspace.as_deref().map(|w| put(&mut buf, w));
        let scopes = put(&mut buf, &self.scopes.join(" "));
        let credential_id = put(&mut buf, &self.credential_id);
        let expires_at = self.expires_at.map(|e| put(&mut buf, &e.to_string()));
        let actor = self.minted.as_ref().map(|m| {
            let id = put(&mut buf, &m.actor_id);
            (m.actor_kind.as_str(), id, put(&mut buf, &m.parent_id))
        });
        let shared = bytes::Bytes::from(buf);
        let v = |r: Range<usize>| HeaderValue::from_maybe_shared(shared.slice(r)).ok();
        Some(Values {
            subject: v(subject)?,
            workspace: match workspace {
                Some(w) => Some(v(w)?),
                None => None,
            },
            scopes: v(scopes)?,
            method: HeaderValue::from_static(self.kind.as_str()),
            credential_id: v(credential_id)?,
            expires_at: match expires_at {
                Some(e) => Some(v(e)?),
                None => None,
            },
            actor: match actor {
                Some((kind, id, parent)) => {
                    Some([HeaderValue::from_static(kind), v(id)?, v(parent)?])
                }
                None => None,
            },
        })
    }
}

impl Identity {
    /// The identity a stored key record speaks for: the one constructor for
    /// every stored kind (API, server and access keys, stamp keys). Keys
    /// without scopes (workspace API keys, plain server keys) carry no
    /// granular scopes: possession grants their surface. Access tokens are
    /// always scoped.
    pub fn from_record(rec: &KeyRecord, scheme: Option<&'static str>) -> Self {
        Identity {
            subject: rec.subject.clone(),
            workspace: rec.workspace.clone(),
            scopes: rec.scopes.clone(),
            kind: rec.kind,
            credential_id: rec.id.clone(),
            expires_at: rec.expires_at,
            allow: rec.allow.clone(),
            usage: rec.usage.clone(),
            platform_wide: false,
            scoped: rec.kind == CredentialKind::AccessToken || !rec.scopes.is_empty(),
            scheme,
            grace: 0,
            minted: rec.minted.clone(),
            limits: rec.limits,
            rendered: Default::default(),
        }
    }

    /// Whether the identity has expired at `now` (unix seconds), leeway
    /// included.
    #[inline]
    pub fn expired_at(&self, now: u64) -> bool {
        matches!(self.valid_until(), Some(end) if end <= now)
    }

    /// The last instant (unix seconds, exclusive) the credential is accepted.
    #[inline]
    pub fn valid_until(&self) -> Option<u64> {
        self.expires_at.map(|exp| exp.saturating_add(self.grace))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actor::{ActorKind, Minted};

    fn identity() -> Identity {
        Identity {
            subject: "svc-reporting".into(),
            workspace: Some("acme".into()),
            scopes: vec!["runs:read".into(), "runs:write".into()],
            kind: CredentialKind::ApiKey,
            credential_id: "key_01".into(),
            expires_at: Some(1_900_000_000),
            allow: vec![],
            usage: None,
            platform_wide: false,
            scoped: true,
            scheme: None,
            grace: 0,
            minted: Some(Arc::new(Minted {
                actor_kind: ActorKind::Agent,
                actor_id: "a_42".into(),
                parent_id: "srv_7".into(),
            })),
            limits: Default::default(),
            rendered: Default::default(),
        }
    }

    #[test]
    fn values_are_rendered_from_the_fields_each_in_its_own_slice() {
        let id = identity();
        let v = id.values().unwrap();
        assert_eq!(v.subject, "svc-reporting");
        assert_eq!(v.workspace.as_ref().unwrap(), "acme");
        assert_eq!(v.scopes, "runs:read runs:write");
        assert_eq!(v.method, CredentialKind::ApiKey.as_str());
        assert_eq!(v.credential_id, "key_01");
        assert_eq!(v.expires_at.as_ref().unwrap(), "1900000000");
        let [kind, actor, parent] = v.actor.as_ref().unwrap();
        assert_eq!([kind, actor, parent], ["agent", "a_42", "srv_7"]);

        // Absent fields render as absent values; no scopes as an empty one.
        let bare = Identity {
            workspace: None,
            scopes: vec![],
            expires_at: None,
            minted: None,
            ..identity()
        };
        let v = bare.values().unwrap();
        assert!(v.workspace.is_none() && v.expires_at.is_none() && v.actor.is_none());
        assert_eq!(v.scopes, "");
        assert_eq!(v.credential_id, "key_01");
    }

    #[test]
    fn a_value_that_cannot_be_a_header_value_renders_nothing() {
        for broken in [
            Identity {
                subject: "a\r\nx-auth-subject: admin".into(),
                ..identity()
            },
            Identity {
                scopes: vec!["ok".into(), "bad\n".into()],
                ..identity()
            },
            Identity {
                minted: Some(Arc::new(Minted {
                    actor_kind: ActorKind::User,
                    actor_id: "u\0".into(),
                    parent_id: "srv_7".into(),
                })),
                ..identity()
            },
        ] {
            assert!(broken.values().is_none(), "{broken:?}");
        }
    }
}
