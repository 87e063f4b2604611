//! authgate-store: key stores behind the core's [`Store`] seam.
//!
//! - [`sqlite::SqliteStore`] (`sqlite:///path/keys.db`): the embedded
//!   default, no external service; migrated when opened.
//! - [`postgres::PgStore`] (`postgres://…`): the fleet store many instances
//!   share; a pool, versioned migrations (`authgate store migrate`, or at
//!   start), and LISTEN/NOTIFY to push changes.
//!
//! Both hold only digests, never a plaintext credential, and keep a change
//! feed ([`KeyStore::changes_since`]): every create, update, revocation and
//! rotation appends the key's digest with an increasing sequence, so each
//! instance drops exactly those cache entries, and one that was away
//! catches up on what it missed.

pub mod key_limits;
pub mod model;
pub mod nonce;
pub mod postgres;
mod quota;
pub mod refresh;
mod replay;
pub mod schema;
pub mod sqlite;

pub use key_limits::{KeyQuota, KeyRateLimit, QuotaRefill, QuotaSetting, RefillInterval};
pub use model::{capped_expiry, now, Cascade, Change, KeyPatch, ListFilter, NewKey, StoredKey};
pub use nonce::{Nonce, NonceCaps};
pub use refresh::{RefreshToken, RefreshUse};

use async_trait::async_trait;
use authgate_core::store::{Store, StoreError};
use std::sync::Arc;
use std::time::Duration;

/// A write the store refused (not a failure of the store).
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A key with this id or digest exists.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A minted key's parent is missing, revoked, disabled, expired or
    /// not a server key: nothing was written.
    #[error("parent key inactive: {0}")]
    ParentInactive(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one [`KeyStore::purge`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Minted keys expired or revoked before the cut-off.
    pub keys: usize,
    /// Change-feed entries older than the retention.
    pub changes: usize,
    /// Expired replay claims.
    pub replays: usize,
}

/// Most rows one purge deletes of each table (the next run takes the rest),
/// so a purge never holds a long lock.
pub const PURGE_BATCH: i64 = 10_000;

/// A store that can also be administered: the operations behind the admin
/// API and `authgate keys … --store`.
#[async_trait]
pub trait KeyStore: Store {
    /// Apply pending migrations; returns the schema version now in force.
    async fn migrate(&self) -> Result<u32, StoreError>;
    /// The schema version in force (0: never migrated).
    async fn schema_version(&self) -> Result<u32, StoreError>;
    /// Create a key. A minted key ([`NewKey::minted`]) is written only while
    /// its parent is an active server key, checked in the same transaction
    /// (so a revocation racing the mint cannot leave a live child), and its
    /// expiry is capped at the parent's.
    async fn create(&self, key: NewKey) -> Result<StoredKey, WriteError>;
    /// Create many keys in one transaction (all or none): the bulk path of
    /// `authgate store import`. No change-feed entries: a running instance
    /// may answer a key it saw unknown from its negative cache for up to
    /// `cache.negative_ttl`.
    async fn import(&self, keys: Vec<NewKey>) -> Result<usize, WriteError>;
    /// One key by id.
    async fn get(&self, id: &str) -> Result<Option<StoredKey>, StoreError>;
    /// Keys matching `filter`, by id.
    async fn list(&self, filter: &ListFilter) -> Result<Vec<StoredKey>, StoreError>;
    /// Apply `patch`; `None` when no such key.
    async fn update(&self, id: &str, patch: &KeyPatch) -> Result<Option<StoredKey>, StoreError>;
    /// Revoke for good, with every key it minted (each one a change-feed
    /// entry, so every instance drops them); `None` when no such key.
    async fn revoke(&self, id: &str) -> Result<Option<StoredKey>, StoreError>;
    /// Create `new` as the successor of `id`, whose expiry becomes
    /// `overlap_until` (if sooner), as does the expiry of every key `id`
    /// minted; `None` when no such key.
    async fn rotate(
        &self,
        id: &str,
        new: NewKey,
        overlap_until: i64,
    ) -> Result<Option<(StoredKey, StoredKey)>, WriteError>;
    /// Digests of the keys `parent_id` minted (to drop them from this
    /// instance's cache at once after a cascade).
    async fn children(&self, parent_id: &str) -> Result<Vec<[u8; 32]>, StoreError>;
    /// Delete minted keys that expired or were revoked before
    /// `minted_before`, and change-feed entries older than
    /// `changes_before` (the newest is always kept), and expired replay
    /// claims, at most [`PURGE_BATCH`] of each.
    async fn purge(&self, minted_before: i64, changes_before: i64) -> Result<Purged, StoreError>;
    /// Changes after `seq`, in order.
    async fn changes_since(&self, seq: i64) -> Result<Vec<Change>, StoreError>;
    /// The last sequence number of the change feed (0 when empty).
    async fn head(&self) -> Result<i64, StoreError>;
    /// Return when a change may have happened (a notification), or after
    /// `max` at the latest.
    async fn wait_change(&self, max: Duration);
    /// Write the batched `last_used_at` of keys looked up since the last call.
    async fn flush_usage(&self) -> Result<usize, StoreError>;
    /// The URL with any password removed, for logs.
    fn describe(&self) -> String;
    /// Issue a sign-in challenge within `caps` (expired ones are purged
    /// first); a full bound is a [`WriteError::Conflict`] naming it.
    async fn put_nonce(&self, nonce: &Nonce, caps: &NonceCaps) -> Result<(), WriteError>;
    /// A pending challenge, if it exists and has not expired.
    async fn get_nonce(&self, nonce: &str) -> Result<Option<Nonce>, StoreError>;
    /// Consume a challenge: `false` when it was already consumed (by a
    /// concurrent verification, possibly on another instance) or never was.
    async fn consume_nonce(&self, nonce: &str) -> Result<bool, StoreError>;
    /// Store a new refresh token (expired ones are deleted first).
    async fn put_refresh(&self, token: &RefreshToken) -> Result<(), StoreError>;
    /// Exchange the token with this digest for `namespace`, in one
    /// transaction: an active one of that namespace is spent and
    /// `successor` (which takes its family and subject) stored in its
    /// place, or, with no successor, left active; a spent one revokes its
    /// family; one of another namespace is invalid (and left as it is).
    async fn use_refresh(
        &self,
        digest: &str,
        namespace: &str,
        successor: Option<&RefreshToken>,
    ) -> Result<RefreshUse, StoreError>;
    /// Revoke the active token with this digest in `namespace`: `false`
    /// when there is none.
    async fn revoke_refresh(&self, digest: &str, namespace: &str) -> Result<bool, StoreError>;
    /// Revoke every active token of `subject` in `namespace`; how many.
    async fn revoke_refresh_all(&self, subject: &str, namespace: &str)
        -> Result<usize, StoreError>;
}

/// Open the store a `[store] url` names: `sqlite:///path`, `sqlite:path`
/// (relative to the config's directory) or `postgres://` /
/// `postgresql://`.
pub fn open(url: &str, base: &std::path::Path) -> Result<Arc<dyn KeyStore>, StoreError> {
    if let Some(rest) = url
        .strip_prefix("sqlite://")
        .or(url.strip_prefix("sqlite:"))
    {
        let path = authgate_core::settings::resolve(base, rest);
        return Ok(Arc::new(sqlite::SqliteStore::open(&path)?));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(postgres::PgStore::connect(url)?));
    }
    Err(StoreError::unavailable(
        "store.url must start with sqlite:// or postgres://",
    ))
}

/// Check `url` for `authgate check` without side effects: a SQLite file is
/// neither created nor migrated (see [`sqlite::probe`]); a PostgreSQL URL is
/// parsed, not connected to. Returns a line for the report.
pub fn probe(url: &str, base: &std::path::Path) -> Result<String, StoreError> {
    if let Some(rest) = url
        .strip_prefix("sqlite://")
        .or(url.strip_prefix("sqlite:"))
    {
        let path = authgate_core::settings::resolve(base, rest);
        return sqlite::probe(&path).map(|found| format!("sqlite {found}"));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        url.parse::<tokio_postgres::Config>()
            .map_err(|e| StoreError::unavailable(format!("store.url: {e}")))?;
        return Ok(format!("postgres {} (not contacted)", redact(url)));
    }
    Err(StoreError::unavailable(
        "store.url must start with sqlite:// or postgres://",
    ))
}

/// Redact the password of a URL (`user:secret@` → `user:***@`).
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            super::redact("postgres://u:pw@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(super::redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(super::redact("sqlite:///x.db"), "sqlite:///x.db");
    }
}
