//! The database side of a config: the `[store] url` store (opened once and
//! kept across reloads while the URL stays), layered behind the config's
//! own keys, and the admin API's tokens.

use super::model::{AdminTokenSection, FileConfig};
use super::runtime::Runtime;
use crate::store::memory::MemoryStore;
use crate::store::{KeyRecord, Store, StoreError};
use async_trait::async_trait;
use authgate_store::KeyStore;
use std::path::Path;
use std::sync::Arc;

/// The config's keys (`[[keys]]`, `store.keys_file`) first, then the
/// database: a key written into the config keeps working whatever the
/// database holds, and the database is asked only about the rest.
#[derive(Debug)]
pub struct LayeredStore {
    file: Arc<MemoryStore>,
    db: Arc<dyn KeyStore>,
}

#[async_trait]
impl Store for LayeredStore {
    async fn lookup(&self, digest: &[u8; 32]) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        if let Some(found) = self.file.lookup(digest).await? {
            return Ok(Some(found));
        }
        self.db.lookup(digest).await
    }

    fn name(&self) -> &'static str {
        self.db.name()
    }

    async fn claim_once(
        &self,
        key: &[u8; 32],
        expires_at: i64,
    ) -> Result<Option<bool>, StoreError> {
        self.db.claim_once(key, expires_at).await
    }

    async fn spend_quota(
        &self,
        id: &str,
        at: i64,
    ) -> Result<authgate_core::limits_keys::QuotaSpend, StoreError> {
        self.db.spend_quota(id, at).await
    }
}

/// What verification reads, and the database behind it (if any).
pub type Stores = (Arc<dyn Store>, Option<Arc<dyn KeyStore>>);

/// How a load treats the database of `store.url`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    /// Open it (creating and migrating a SQLite file): serve and reload.
    Open,
    /// Only check it, changing nothing: `authgate check`.
    Probe,
}

/// The store for `file`: the config's keys alone, or layered over the
/// database of `store.url` (the previous runtime's handle when the URL is
/// unchanged, so pools and notifications survive a reload). With
/// [`StoreMode::Probe`] the database is checked, not opened.
pub fn store_for(
    file: &FileConfig,
    base: &Path,
    prev: Option<&Runtime>,
    records: Arc<MemoryStore>,
    mode: StoreMode,
) -> Result<Stores, String> {
    let Some(url) = &file.store.url else {
        return Ok((records, None));
    };
    if mode == StoreMode::Probe {
        authgate_store::probe(url, base).map_err(|e| e.to_string())?;
        return Ok((records, None));
    }
    let reused = prev
        .filter(|p| p.file.store.url.as_ref() == Some(url))
        .and_then(|p| p.keystore.clone());
    let db = match reused {
        Some(db) => db,
        None => authgate_store::open(url, base).map_err(|e| e.to_string())?,
    };
    let layered = LayeredStore {
        file: records,
        db: db.clone(),
    };
    Ok((Arc::new(layered), Some(db)))
}

/// An admin API token, compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminToken {
    /// Name for logs.
    pub id: String,
    /// SHA-256 of the token.
    pub digest: [u8; 32],
    /// May read keys.
    pub read: bool,
    /// May create, change and revoke keys.
    pub write: bool,
}

/// Compile `[[admin.tokens]]`; errors are `(key, message)`.
pub fn admin_tokens(
    tokens: &[AdminTokenSection],
) -> Result<Vec<AdminToken>, Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut errs = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        let key = format!("admin.tokens[{i}]");
        let digest = t
            .digest
            .strip_prefix("sha256:")
            .and_then(|h| hex::decode(h).ok())
            .and_then(|b| <[u8; 32]>::try_from(b).ok());
        let Some(digest) = digest else {
            errs.push((
                format!("{key}.digest"),
                "expected sha256:<64 hex digits>".into(),
            ));
            continue;
        };
        let (mut read, mut write) = (false, false);
        for (j, s) in t.scopes.iter().enumerate() {
            match s.as_str() {
                "keys:read" => read = true,
                "keys:write" => write = true,
                other => errs.push((
                    format!("{key}.scopes[{j}]"),
                    format!("unknown scope '{other}' (keys:read, keys:write)"),
                )),
            }
        }
        if t.id.is_empty() {
            errs.push((format!("{key}.id"), "must not be empty".into()));
        }
        if out.iter().any(|o: &AdminToken| o.digest == digest) {
            errs.push((format!("{key}.digest"), "the same token twice".into()));
        }
        out.push(AdminToken {
            id: t.id.clone(),
            digest,
            read,
            write,
        });
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(errs)
    }
}
