//! What a database store holds and the admin operations exchange: a key as
//! stored ([`StoredKey`], never the plaintext), a key to create
//! ([`NewKey`]), a partial update ([`KeyPatch`]), list filters and the
//! change feed's entries ([`Change`]).

use authgate_core::credential::CredentialKind;
use authgate_core::store::KeyRecord;
use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// One stored key (API key, server key, access token or stamp key).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredKey {
    /// Credential id, safe to log.
    pub id: String,
    /// Digest of the credential (or of the stamp scheme + public key).
    #[serde(serialize_with = "hex_digest")]
    pub digest: [u8; 32],
    /// Kind of credential.
    pub kind: CredentialKind,
    /// Subject.
    pub subject: String,
    /// Workspace slug.
    pub workspace: Option<String>,
    /// Scopes (empty: the whole surface of a workspace key).
    pub scopes: Vec<String>,
    /// Allow-list of sub-resources (empty: all).
    pub allow: Vec<String>,
    /// Usage tag.
    pub usage: Option<String>,
    /// Unix seconds after which the key is refused.
    pub expires_at: Option<i64>,
    /// Refused while set (reversible, unlike a revocation).
    pub disabled: bool,
    /// Stamp keys: the scheme label.
    pub scheme: Option<String>,
    /// Stamp keys: the public key (hex).
    pub public_key: Option<String>,
    /// Free-form JSON the operator attaches.
    pub metadata: serde_json::Value,
    /// The key this one replaced (rotation).
    pub rotated_from: Option<String>,
    /// Creation time (Unix seconds).
    pub created_at: i64,
    /// Last change (Unix seconds).
    pub updated_at: i64,
    /// Revocation time; a revoked key is refused for good.
    pub revoked_at: Option<i64>,
    /// Last verification seen (recorded on cache misses, batched).
    pub last_used_at: Option<i64>,
}

fn hex_digest<S: serde::Serializer>(d: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("sha256:{}", hex::encode(d)))
}

impl StoredKey {
    /// The record the verifiers read: a revoked key reads as disabled.
    pub fn to_record(&self) -> KeyRecord {
        KeyRecord {
            id: self.id.clone(),
            kind: self.kind,
            subject: self.subject.clone(),
            workspace: self.workspace.clone(),
            scopes: self.scopes.clone(),
            allow: self.allow.clone(),
            usage: self.usage.clone(),
            expires_at: self.expires_at.map(|e| e.max(0) as u64),
            disabled: self.disabled || self.revoked_at.is_some(),
        }
    }
}

/// A key to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewKey {
    /// Credential id.
    pub id: String,
    /// Digest of the credential.
    pub digest: [u8; 32],
    /// Kind.
    pub kind: CredentialKind,
    /// Subject.
    pub subject: String,
    /// Workspace slug.
    pub workspace: Option<String>,
    /// Scopes.
    pub scopes: Vec<String>,
    /// Allow-list.
    pub allow: Vec<String>,
    /// Usage tag.
    pub usage: Option<String>,
    /// Expiry (Unix seconds).
    pub expires_at: Option<i64>,
    /// Stamp scheme label.
    pub scheme: Option<String>,
    /// Stamp public key (hex).
    pub public_key: Option<String>,
    /// Free-form JSON.
    pub metadata: serde_json::Value,
    /// Rotation source.
    pub rotated_from: Option<String>,
}

impl NewKey {
    /// The stored form at `at` (Unix seconds).
    pub fn stored(self, at: i64) -> StoredKey {
        StoredKey {
            id: self.id,
            digest: self.digest,
            kind: self.kind,
            subject: self.subject,
            workspace: self.workspace,
            scopes: self.scopes,
            allow: self.allow,
            usage: self.usage,
            expires_at: self.expires_at,
            disabled: false,
            scheme: self.scheme,
            public_key: self.public_key,
            metadata: self.metadata,
            rotated_from: self.rotated_from,
            created_at: at,
            updated_at: at,
            revoked_at: None,
            last_used_at: None,
        }
    }
}

/// A partial update; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyPatch {
    /// New scopes.
    pub scopes: Option<Vec<String>>,
    /// New allow-list.
    pub allow: Option<Vec<String>>,
    /// New expiry; `Some(None)` (JSON `null`) clears it.
    #[serde(default, deserialize_with = "double_option")]
    pub expires_at: Option<Option<i64>>,
    /// New metadata (replaces the old).
    pub metadata: Option<serde_json::Value>,
    /// Disable (`true`) or enable (`false`).
    pub disabled: Option<bool>,
}

fn double_option<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(d).map(Some)
}

impl KeyPatch {
    /// Apply to `k` at `at`.
    pub fn apply(&self, k: &mut StoredKey, at: i64) {
        if let Some(s) = &self.scopes {
            k.scopes = s.clone();
        }
        if let Some(a) = &self.allow {
            k.allow = a.clone();
        }
        if let Some(e) = self.expires_at {
            k.expires_at = e;
        }
        if let Some(m) = &self.metadata {
            k.metadata = m.clone();
        }
        if let Some(d) = self.disabled {
            k.disabled = d;
        }
        k.updated_at = at;
    }
}

/// Which keys a list returns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListFilter {
    /// Only this workspace.
    pub workspace: Option<String>,
    /// Only this kind.
    pub kind: Option<CredentialKind>,
    /// Only this subject.
    pub subject: Option<String>,
    /// Ids strictly after this one (the cursor: ids are the sort order).
    pub after: Option<String>,
    /// At most this many (1–1000).
    pub limit: u32,
}

/// One entry of the change feed: the key with this digest changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// Position in the feed, increasing.
    pub seq: i64,
    /// Digest of the changed key.
    pub digest: [u8; 32],
}
