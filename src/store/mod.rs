//! Where opaque credential records live, behind one async trait.
//!
//! Records are found by digest only; plaintext is never stored. The first
//! implementation, [`memory::MemoryStore`], holds the `[[keys]]` of the
//! config file and is replaced wholesale on reload.

pub mod memory;

use crate::credential::CredentialKind;
use async_trait::async_trait;
use std::sync::Arc;

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
}

/// A store failure. Verification fails closed on it (503), and it is never cached.
#[derive(Debug, thiserror::Error)]
#[error("store unavailable: {0}")]
pub struct StoreError(pub String);

/// Lookup of opaque credentials by digest.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// The record whose credential digests to `digest`, if any.
    async fn lookup(&self, digest: &[u8; 32]) -> Result<Option<Arc<KeyRecord>>, StoreError>;

    /// A short name for logs and metrics.
    fn name(&self) -> &'static str;
}
