//! Where opaque credential records live, behind one async trait.
//!
//! Records are found by digest only; plaintext is never stored. The first
//! implementation, [`memory::MemoryStore`], holds the `[[keys]]` of the
//! config file and is replaced wholesale on reload.

pub mod memory;

use crate::actor::Minted;
use crate::credential::CredentialKind;
use crate::limits_keys::{KeyLimits, QuotaSpend};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// One opaque credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// Credential id, safe to log.
    pub id: String,
    /// Kind of credential.
    pub kind: CredentialKind,
    /// Subject.
    pub subject: String,
    /// Workspace slug.
    pub workspace: Option<String>,
    /// Scopes (empty for workspace API keys).
    pub scopes: Vec<String>,
    /// Allow-list of sub-resources (empty = all).
    pub allow: Vec<String>,
    /// Usage tag.
    pub usage: Option<String>,
    /// Unix seconds of expiry.
    pub expires_at: Option<u64>,
    /// Refused while set.
    pub disabled: bool,
    /// Minted keys (`ek_`, `rk_`): the actor and the minting server key.
    pub minted: Option<Arc<Minted>>,
    /// RFC 9421 signing keys registered in a database by `keyid`: the
    /// registered algorithm and key.
    pub signing: Option<Arc<SigningMaterial>>,
    /// The key's own rate limit, and whether it has a usage quota.
    pub limits: KeyLimits,
}

/// The key of an RFC 9421 signing key stored in a database: its algorithm
/// name and either a PEM public key or, for `hmac-sha256`, the name of a
/// secret file each instance reads itself (the secret is never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningMaterial {
    /// `rsa-pss-sha512`, `ecdsa-p384-sha384`, `hmac-sha256`, …
    pub alg: String,
    /// PEM text, or `secret:<name>` for an HMAC secret.
    pub key: String,
}

/// What kind of store failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The store did not answer within its timeout.
    Timeout,
    /// The store could not be reached or refused the query.
    Unavailable,
    /// The store answered with data authgate cannot use.
    Corrupt,
}

impl StoreErrorKind {
    /// A stable label for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreErrorKind::Timeout => "timeout",
            StoreErrorKind::Unavailable => "unavailable",
            StoreErrorKind::Corrupt => "corrupt",
        }
    }
}

/// A store failure. Verification fails closed on it (503), and it is never cached.
#[derive(Debug, thiserror::Error)]
#[error("store {}: {message}", kind.as_str())]
pub struct StoreError {
    /// What kind of failure.
    pub kind: StoreErrorKind,
    /// Detail for logs (never a credential).
    pub message: String,
}

impl StoreError {
    /// The store could not be reached or refused the query.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self {
            kind: StoreErrorKind::Unavailable,
            message: message.into(),
        }
    }

    /// The store answered with unusable data.
    pub fn corrupt(message: impl Into<String>) -> Self {
        Self {
            kind: StoreErrorKind::Corrupt,
            message: message.into(),
        }
    }

    /// The store did not answer within `after`.
    pub fn timeout(after: Duration) -> Self {
        Self {
            kind: StoreErrorKind::Timeout,
            message: format!("no answer within {after:?}"),
        }
    }
}

/// [`Store::lookup`] bounded by `timeout`: a store that hangs is a
/// [`StoreErrorKind::Timeout`], never a wait past it.
pub async fn lookup(
    store: &dyn Store,
    digest: &[u8; 32],
    timeout: Duration,
) -> Result<Option<Arc<KeyRecord>>, StoreError> {
    match tokio::time::timeout(timeout, store.lookup(digest)).await {
        Ok(result) => result,
        Err(_) => Err(StoreError::timeout(timeout)),
    }
}

/// Lookup of opaque credentials by digest.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// The record whose credential digests to `digest`, if any.
    async fn lookup(&self, digest: &[u8; 32]) -> Result<Option<Arc<KeyRecord>>, StoreError>;

    /// A short name for logs and metrics.
    fn name(&self) -> &'static str;

    /// Claim `key` (the digest of a one-time value: a stamp's or a message
    /// signature's) until `expires_at` (Unix seconds) for every instance
    /// sharing this store: `Some(true)` for the first claim, `Some(false)`
    /// when it is claimed already (a replay), `None` when the store is not
    /// shared (each instance's own replay guard decides alone).
    async fn claim_once(
        &self,
        _key: &[u8; 32],
        _expires_at: i64,
    ) -> Result<Option<bool>, StoreError> {
        Ok(None)
    }

    /// Spend one use of the usage quota of key `id`, atomically for every
    /// instance sharing this store, refilling it first when its refill
    /// period has turned (`at`: Unix seconds). A store that keeps no
    /// quotas fails closed.
    async fn spend_quota(&self, _id: &str, _at: i64) -> Result<QuotaSpend, StoreError> {
        Err(StoreError::unavailable("this store keeps no usage quotas"))
    }
}

/// [`Store::spend_quota`] bounded by `timeout`, like [`lookup`].
pub async fn spend_quota(
    store: &dyn Store,
    id: &str,
    at: i64,
    timeout: Duration,
) -> Result<QuotaSpend, StoreError> {
    match tokio::time::timeout(timeout, store.spend_quota(id, at)).await {
        Ok(result) => result,
        Err(_) => Err(StoreError::timeout(timeout)),
    }
}

/// [`Store::claim_once`] bounded by `timeout`, like [`lookup`].
pub async fn claim_once(
    store: &dyn Store,
    key: &[u8; 32],
    expires_at: i64,
    timeout: Duration,
) -> Result<Option<bool>, StoreError> {
    match tokio::time::timeout(timeout, store.claim_once(key, expires_at)).await {
        Ok(result) => result,
        Err(_) => Err(StoreError::timeout(timeout)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Hanging;

    #[async_trait]
    impl Store for Hanging {
        async fn lookup(&self, _: &[u8; 32]) -> Result<Option<Arc<KeyRecord>>, StoreError> {
            std::future::pending().await
        }
        fn name(&self) -> &'static str {
            "hanging"
        }
    }

    #[tokio::test]
    async fn a_hanging_store_is_a_timeout_not_a_wait() {
        let err = lookup(&Hanging, &[0; 32], Duration::from_millis(20))
            .await
            .unwrap_err();
        assert_eq!(err.kind, StoreErrorKind::Timeout);
        assert_eq!(err.to_string(), "store timeout: no answer within 20ms");
    }
}
