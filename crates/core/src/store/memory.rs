//! In-memory store built from the config file's `[[keys]]`.

use super::{KeyRecord, Store, StoreError};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Records by digest, immutable once built.
#[derive(Debug, Default)]
pub struct MemoryStore {
    records: HashMap<[u8; 32], Arc<KeyRecord>>,
    lookups: AtomicU64,
}

impl MemoryStore {
    /// Build from `(digest, record)` pairs.
    pub fn new(records: impl IntoIterator<Item = ([u8; 32], KeyRecord)>) -> Self {
        Self {
            records: records.into_iter().map(|(d, r)| (d, Arc::new(r))).collect(),
            lookups: AtomicU64::new(0),
        }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the store holds no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Every record with its digest.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8; 32], &KeyRecord)> {
        self.records.iter().map(|(d, r)| (d, r.as_ref()))
    }

    /// How many lookups reached this store (for tests and benches).
    pub fn lookups(&self) -> u64 {
        self.lookups.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn lookup(&self, digest: &[u8; 32]) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        self.lookups.fetch_add(1, Ordering::Relaxed);
        // The map is keyed by a digest of a high-entropy secret, so the hash
        // lookup leaks nothing useful about the plaintext.
        Ok(self.records.get(digest).cloned())
    }

    fn name(&self) -> &'static str {
        "config"
    }
}
