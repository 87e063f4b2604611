//! RFC 9421 signing keys registered in a database store by `keyid` (the
//! admin API's `POST /admin/v1/signing-keys`), beside the ones in the
//! config file (`[[signing_keys]]`, [`crate::runtime::AuthRuntime::signing_keys`]).
//!
//! A stored signing key is a stamp-kind record found by
//! [`keyid_digest`]: the identity comes through the hot cache like any
//! credential's (so revocation, expiry and the change feed apply as they
//! do to API keys), the key itself from the record's
//! [`SigningMaterial`]: a PEM public key, or for `hmac-sha256` the name of
//! a secret file in `[store] hmac_secrets_dir`, read by each instance (the
//! secret is never in the database). Parsed keys are kept in a small cache
//! of their own ([`StoredKeys`]); a key's material never changes under
//! its `keyid` (the digest is unique), so that cache needs no invalidation
//! beyond its time to live, which bounds how long an HMAC secret file's
//! old contents are still accepted after the file is replaced.

use super::httpsig::{Algorithm, VerifyKey};
use super::Authenticator;
use crate::error::Refusal;
use crate::identity::Identity;
use crate::runtime::AuthRuntime;
use crate::store::SigningMaterial;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The `key` of an HMAC signing key's [`SigningMaterial`]: this prefix and
/// the secret's file name.
pub const SECRET_PREFIX: &str = "secret:";

/// How long a parsed stored key is reused before it is read again.
const KEY_TTL: Duration = Duration::from_secs(60);

/// The store digest of a signing key registered under `keyid` (its own
/// domain: it cannot collide with a credential's or a stamp key's).
pub fn keyid_digest(keyid: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"authgate:httpsig-keyid\0");
    h.update(keyid.as_bytes());
    h.finalize().into()
}

/// Whether `name` may name a secret file: 1–128 of `A-Z a-z 0-9 . _ -`,
/// not starting with a dot (no paths, no hidden files).
pub fn valid_secret_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The verification key of `m`: its PEM parsed for its algorithm, or its
/// HMAC secret read from `secrets_dir`. The error is for the operator
/// (never the secret).
pub fn material_key(m: &SigningMaterial, secrets_dir: Option<&Path>) -> Result<VerifyKey, String> {
    let alg = Algorithm::parse(&m.alg).ok_or_else(|| format!("unknown algorithm '{}'", m.alg))?;
    match (alg, m.key.strip_prefix(SECRET_PREFIX)) {
        (Algorithm::HmacSha256, Some(name)) => {
            if !valid_secret_name(name) {
                return Err(format!("'{name}' is not a secret file name"));
            }
            let dir = secrets_dir.ok_or("no [store] hmac_secrets_dir is configured")?;
            let secret = std::fs::read(dir.join(name))
                .map_err(|e| format!("cannot read secret '{name}': {e}"))?;
            VerifyKey::hmac(secret)
        }
        (Algorithm::HmacSha256, None) => Err("an hmac-sha256 key names a secret".into()),
        (_, Some(_)) => Err(format!("a {} key is a PEM public key", alg.name())),
        (_, None) => VerifyKey::from_pem(alg, &m.key),
    }
}

/// Parsed stored keys by digest, for [`KEY_TTL`].
#[derive(Clone)]
pub struct StoredKeys(moka::sync::Cache<[u8; 32], Arc<VerifyKey>>);

impl Default for StoredKeys {
    fn default() -> Self {
        Self(
            moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(KEY_TTL)
                .build(),
        )
    }
}

impl std::fmt::Debug for StoredKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKeys")
            .field("entries", &self.0.entry_count())
            .finish()
    }
}

impl Authenticator {
    /// The identity and key of the signing key stored under `keyid`:
    /// refused as `unknown_key` when there is none (or it is revoked,
    /// disabled or expired, with those reasons), 503 when the store
    /// cannot answer, `unknown_key` when its key cannot be used here (an
    /// unreadable secret file is logged for the operator).
    pub(super) async fn stored_signing_key(
        &self,
        rt: &AuthRuntime,
        keyid: &str,
        refuse: fn(&'static str) -> Refusal,
    ) -> Result<(Arc<Identity>, Arc<VerifyKey>), Refusal> {
        let digest = keyid_digest(keyid);
        // Only a signing key's record answers to a keyid digest (a
        // session's never has signing material).
        let id = self
            .registered_key_where(rt, digest, refuse, |r| r.signing.is_some())
            .await?;
        if let Some(k) = self.stored_keys.0.get(&digest) {
            return Ok((id, k));
        }
        let rec = crate::store::lookup(rt.store.as_ref(), &digest, rt.store_timeout)
            .await
            .map_err(|_| Refusal::StoreUnavailable)?;
        let material = rec
            .as_deref()
            .and_then(|r| r.signing.clone())
            .ok_or_else(|| refuse("unknown_key"))?;
        let k = match material_key(&material, rt.hmac_secrets_dir.as_deref()) {
            Ok(k) => Arc::new(k),
            Err(e) => {
                tracing::warn!(credential_id = %id.credential_id, error = %e, "stored signing key unusable");
                return Err(refuse("unknown_key"));
            }
        };
        self.stored_keys.0.insert(digest, k.clone());
        Ok((id, k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_are_file_names_only() {
        for ok in ["partner", "partner-1.key", "A_b"] {
            assert!(valid_secret_name(ok), "{ok}");
        }
        for bad in ["", ".hidden", "../x", "a/b", "a b", &"x".repeat(129)] {
            assert!(!valid_secret_name(bad), "{bad}");
        }
    }

    #[test]
    fn material_is_checked_against_its_algorithm() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s"), [7u8; 32]).unwrap();
        std::fs::write(dir.path().join("short"), [7u8; 8]).unwrap();
        let m = |alg: &str, key: &str| SigningMaterial {
            alg: alg.into(),
            key: key.into(),
        };
        let hmac = material_key(&m("hmac-sha256", "secret:s"), Some(dir.path())).unwrap();
        assert_eq!(hmac.algorithm(), Algorithm::HmacSha256);
        for (material, dir, want) in [
            (m("hmac-sha256", "secret:s"), None, "hmac_secrets_dir"),
            (
                m("hmac-sha256", "secret:short"),
                Some(dir.path()),
                "32 bytes",
            ),
            (
                m("hmac-sha256", "secret:none"),
                Some(dir.path()),
                "cannot read",
            ),
            (
                m("hmac-sha256", "secret:../s"),
                Some(dir.path()),
                "file name",
            ),
            (
                m("hmac-sha256", "-----BEGIN"),
                Some(dir.path()),
                "names a secret",
            ),
            (m("rsa-pss-sha512", "secret:s"), Some(dir.path()), "PEM"),
            (
                m("rsa-pss-sha512", "aGVsbG8gd29ybGQ="),
                None,
                "rsa-pss-sha512 public key",
            ),
            (m("rsa-sha1", "x"), None, "unknown algorithm"),
        ] {
            let e = material_key(&material, dir).unwrap_err();
            assert!(e.contains(want), "{material:?}: {e}");
        }
        assert_ne!(keyid_digest("a"), keyid_digest("b"));
    }
}
