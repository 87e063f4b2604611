//! The verified identity a request carries, with its header values
//! rendered once (the proxy's `identity_headers` decides the names).

use crate::actor::Minted;
use crate::credential::CredentialKind;
use crate::store::KeyRecord;
use http::HeaderValue;
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
                    actor: match &self.minted {
                        Some(m) => Some([
                            HeaderValue::from_static(m.actor_kind.as_str()),
                            v(&m.actor_id)?,
                            v(&m.parent_id)?,
                        ]),
                        None => None,
                    },
                })
            })
            .as_ref()
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
