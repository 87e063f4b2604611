//! What a database store holds and the admin operations exchange: a key as
//! stored ([`StoredKey`], never the plaintext), a key to create
//! ([`NewKey`]), a partial update ([`KeyPatch`]), list filters and the
//! change feed's entries ([`Change`]).

use crate::key_limits::{key_limits, KeyQuota, KeyRateLimit, QuotaSetting};
use authgate_core::actor::{ActorKind, Minted};
use authgate_core::credential::CredentialKind;
use authgate_core::store::{KeyRecord, SigningMaterial};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// One stored key (API key, server key, access token or stamp key).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = Key)]
pub struct StoredKey {
    /// Credential id, safe to log.
    pub id: String,
    /// Digest of the credential (or of the stamp scheme + public key).
    #[serde(serialize_with = "hex_digest")]
    #[schema(value_type = String)]
    pub digest: [u8; 32],
    /// Kind of credential.
    #[schema(schema_with = kind_schema)]
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
    #[schema(value_type = Object)]
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
    /// Minted keys: `user` or `agent`.
    pub actor_kind: Option<String>,
    /// Minted keys: the actor's id.
    pub actor_id: Option<String>,
    /// Minted keys: the server key that minted this one; revoking or
    /// rotating it out ends this key too.
    pub parent_id: Option<String>,
    /// Its own rate limit, counted under the policy name `key`.
    pub rate_limit: Option<KeyRateLimit>,
    /// Its usage quota: uses left, and how they refill.
    pub quota: Option<KeyQuota>,
}

/// The kinds a stored key can have, as the admin API's schema lists them.
fn kind_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(CredentialKind::stored_names()))
        .build()
}

fn hex_digest<S: serde::Serializer>(d: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("sha256:{}", hex::encode(d)))
}

impl StoredKey {
    /// The record the verifiers read: a revoked key reads as disabled, and
    /// so does a minted key whose actor cannot be read (fail closed).
    pub fn to_record(&self) -> KeyRecord {
        let minted = self.minted();
        let broken = self.kind.is_minted() && minted.is_none();
        KeyRecord {
            id: self.id.clone(),
            kind: self.kind,
            subject: self.subject.clone(),
            workspace: self.workspace.clone(),
            scopes: self.scopes.clone(),
            allow: self.allow.clone(),
            usage: self.usage.clone(),
            expires_at: self.expires_at.map(|e| e.max(0) as u64),
            disabled: self.disabled || self.revoked_at.is_some() || broken,
            minted: minted.map(Arc::new),
            signing: self.signing_material().map(Arc::new),
            limits: key_limits(self.rate_limit.as_ref(), self.quota.as_ref()),
        }
    }

    /// An RFC 9421 signing key's algorithm and key: a stamp-kind key whose
    /// scheme is an RFC 9421 algorithm name (stamp keys carry stamp scheme
    /// labels instead).
    pub fn signing_material(&self) -> Option<SigningMaterial> {
        use authgate_core::verify::httpsig::Algorithm;
        match (&self.scheme, &self.public_key) {
            (Some(alg), Some(key))
                if self.kind == CredentialKind::Stamp && Algorithm::parse(alg).is_some() =>
            {
                Some(SigningMaterial {
                    alg: alg.clone(),
                    key: key.clone(),
                })
            }
            _ => None,
        }
    }

    /// The actor and parent of a minted key, when all three are present
    /// and the actor kind is known.
    pub fn minted(&self) -> Option<Minted> {
        match (&self.actor_kind, &self.actor_id, &self.parent_id) {
            (Some(kind), Some(id), Some(parent)) => Some(Minted {
                actor_kind: ActorKind::parse(kind)?,
                actor_id: id.clone(),
                parent_id: parent.clone(),
            }),
            _ => None,
        }
    }
}

impl StoredKey {
    /// Whether this key may mint at `at`: a server key neither revoked,
    /// disabled nor expired.
    pub fn can_mint(&self, at: i64) -> bool {
        self.kind == CredentialKind::ServerKey
            && self.revoked_at.is_none()
            && !self.disabled
            && self.expires_at.is_none_or(|e| e > at)
    }
}

/// The sooner of a minted key's own expiry and its parent's: a child never
/// outlives the key that minted it.
pub fn capped_expiry(own: Option<i64>, parent: Option<i64>) -> Option<i64> {
    match (own, parent) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// How a cascade ends the keys a server key minted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cascade {
    /// Revoked at this time (the parent was revoked).
    Revoke(i64),
    /// Expire by this time at the latest (the parent was rotated out or
    /// given an earlier expiry).
    ExpireBy(i64),
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
    /// Minted keys: the actor and the minting server key.
    pub minted: Option<Minted>,
    /// Its own rate limit.
    pub rate_limit: Option<KeyRateLimit>,
    /// Its usage quota.
    pub quota: Option<QuotaSetting>,
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
            actor_kind: self
                .minted
                .as_ref()
                .map(|m| m.actor_kind.as_str().to_string()),
            actor_id: self.minted.as_ref().map(|m| m.actor_id.clone()),
            parent_id: self.minted.map(|m| m.parent_id),
            rate_limit: self.rate_limit,
            quota: self.quota.map(|q| q.quota(at)),
        }
    }
}

/// A partial update; `None` leaves a field as it is.
///
/// Absent or `null`: unchanged, except `expires_at`, where `null` clears
/// the expiry.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyPatch {
    /// New scopes (at most 64 of 1–128 visible ASCII characters).
    #[schema(schema_with = patch_list_schema)]
    pub scopes: Option<Vec<String>>,
    /// New allow-list (as scopes).
    #[schema(schema_with = patch_list_schema)]
    pub allow: Option<Vec<String>>,
    /// New expiry (Unix seconds); `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 99999999999_i64)]
    pub expires_at: Option<Option<i64>>,
    /// New metadata (replaces the old; a JSON object of at most 16 KiB).
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    /// Disable (`true`) or enable (`false`).
    pub disabled: Option<bool>,
    /// The key's own rate limit; `null` removes it.
    #[serde(default, deserialize_with = "some_or_null")]
    #[schema(value_type = Option<KeyRateLimit>)]
    pub rate_limit: Option<Option<KeyRateLimit>>,
    /// The key's usage quota, set afresh (uses left from now, refill);
    /// `null` removes it.
    #[serde(default, deserialize_with = "some_or_null")]
    #[schema(value_type = Option<QuotaSetting>)]
    pub quota: Option<Option<QuotaSetting>>,
}

/// A present field, `null` included: `Some(None)` clears.
fn some_or_null<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A patched list: `null` or at most 64 entries of 1–128 visible ASCII
/// characters.
fn patch_list_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[!-~]{1,128}$")),
        )
        .max_items(Some(64))
        .build()
}

fn double_option<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    whole_seconds(d).map(Some)
}

/// Deserialize an optional `expires_at` in Unix seconds: `null`, an integer, or a number with
/// no fractional part (`1700000000.0`, which JSON Schema counts as an
/// integer); any other fraction is an error, never rounded.
pub fn whole_seconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    use serde::de::Error;
    match Option::<serde_json::Number>::deserialize(d)? {
        None => Ok(None),
        Some(n) => {
            if let Some(i) = n.as_i64() {
                return Ok(Some(i));
            }
            match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
                _ => Err(D::Error::custom(format!(
                    "expires_at: whole Unix seconds, not {n}"
                ))),
            }
        }
    }
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
        if let Some(r) = self.rate_limit {
            k.rate_limit = r;
        }
        if let Some(q) = self.quota {
            k.quota = q.map(|q| q.quota(at));
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
