//! The [`KeyStore`] operations on SQLite: migrations, key writes (each in
//! one transaction with its change entries), listing, the purge and the
//! change feed, each run on the store's blocking thread.

use super::migration::{migrate, version};
use super::rows::{cascade, get, insert, insert_row, parent_expiry, row, save, COLUMNS};
use super::{err, write_err, SqliteStore};
use crate::model::{capped_expiry, now, Cascade, Change, KeyPatch, ListFilter, NewKey, StoredKey};
use crate::nonce::{Nonce, NonceCaps};
use crate::{KeyStore, Purged, WriteError, PURGE_BATCH};
use async_trait::async_trait;
use authgate_core::store::StoreError;
use rusqlite::params;
use std::time::Duration;

#[async_trait]
impl KeyStore for SqliteStore {
    async fn migrate(&self) -> Result<u32, StoreError> {
        self.run(|c| migrate(c).map_err(err)).await
    }

    async fn schema_version(&self) -> Result<u32, StoreError> {
        self.run(|c| version(c).map_err(err)).await
    }

    async fn create(&self, key: NewKey) -> Result<StoredKey, WriteError> {
        self.run(move |c| {
            let at = now();
            let tx = c.transaction().map_err(write_err)?;
            let parent = parent_expiry(&tx, &key, at)?;
            let mut k = key.stored(at);
            if k.parent_id.is_some() {
                k.expires_at = capped_expiry(k.expires_at, parent);
            }
            insert(&tx, &k).map_err(write_err)?;
            tx.commit().map_err(write_err)?;
            Ok(k)
        })
        .await
    }

    async fn import(&self, keys: Vec<NewKey>) -> Result<usize, WriteError> {
        self.run(move |c| {
            let tx = c.transaction().map_err(write_err)?;
            let at = now();
            let n = keys.len();
            for key in keys {
                insert_row(&tx, &key.stored(at)).map_err(write_err)?;
            }
            tx.commit().map_err(write_err)?;
            Ok(n)
        })
        .await
    }

    async fn get(&self, id: &str) -> Result<Option<StoredKey>, StoreError> {
        let id = id.to_string();
        self.run(move |c| get(c, &id).map_err(err)).await
    }

    async fn list(&self, f: &ListFilter) -> Result<Vec<StoredKey>, StoreError> {
        let f = f.clone();
        self.run(move |c| {
            let mut stmt = c
                .prepare(&format!(
                    "SELECT {COLUMNS} FROM authgate_keys WHERE (?1 IS NULL OR workspace = ?1) \
                     AND (?2 IS NULL OR kind = ?2) AND (?3 IS NULL OR subject = ?3) \
                     AND (?4 IS NULL OR id > ?4) ORDER BY id LIMIT ?5"
                ))
                .map_err(err)?;
            let rows = stmt
                .query_map(
                    params![
                        f.workspace,
                        f.kind.map(|k| k.as_str()),
                        f.subject,
                        f.after,
                        f.limit.clamp(1, 1000)
                    ],
                    row,
                )
                .map_err(err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(err)
        })
        .await
    }

    async fn update(&self, id: &str, patch: &KeyPatch) -> Result<Option<StoredKey>, StoreError> {
        let (id, patch) = (id.to_string(), patch.clone());
        self.run(move |c| {
            let tx = c.transaction().map_err(err)?;
            let Some(mut k) = get(&tx, &id).map_err(err)? else {
                return Ok(None);
            };
            patch.apply(&mut k, now());
            save(&tx, &k).map_err(err)?;
            if let Some(Some(e)) = patch.expires_at {
                cascade(&tx, &k.id, Cascade::ExpireBy(e)).map_err(err)?;
            }
            tx.commit().map_err(err)?;
            Ok(Some(k))
        })
        .await
    }

    async fn revoke(&self, id: &str) -> Result<Option<StoredKey>, StoreError> {
        let id = id.to_string();
        self.run(move |c| {
            let tx = c.transaction().map_err(err)?;
            let Some(mut k) = get(&tx, &id).map_err(err)? else {
                return Ok(None);
            };
            let at = now();
            k.revoked_at.get_or_insert(at);
            k.updated_at = at;
            save(&tx, &k).map_err(err)?;
            cascade(&tx, &k.id, Cascade::Revoke(at)).map_err(err)?;
            tx.commit().map_err(err)?;
            Ok(Some(k))
        })
        .await
    }

    async fn rotate(
        &self,
        id: &str,
        new: NewKey,
        overlap_until: i64,
    ) -> Result<Option<(StoredKey, StoredKey)>, WriteError> {
        let id = id.to_string();
        self.run(move |c| {
            let tx = c.transaction().map_err(write_err)?;
            let Some(mut old) = get(&tx, &id).map_err(write_err)? else {
                return Ok(None);
            };
            let at = now();
            old.expires_at = Some(
                old.expires_at
                    .map_or(overlap_until, |e| e.min(overlap_until)),
            );
            old.updated_at = at;
            save(&tx, &old).map_err(write_err)?;
            cascade(&tx, &old.id, Cascade::ExpireBy(overlap_until)).map_err(write_err)?;
            let next = new.stored(at);
            insert(&tx, &next).map_err(write_err)?;
            tx.commit().map_err(write_err)?;
            Ok(Some((old, next)))
        })
        .await
    }

    async fn children(&self, parent_id: &str) -> Result<Vec<[u8; 32]>, StoreError> {
        let parent = parent_id.to_string();
        self.run(move |c| {
            let rows: Vec<Vec<u8>> = c
                .prepare_cached("SELECT digest FROM authgate_keys WHERE parent_id = ?1")
                .and_then(|mut s| {
                    s.query_map([parent], |r| r.get(0))?
                        .collect::<Result<_, _>>()
                })
                .map_err(err)?;
            rows.into_iter()
                .map(|d| {
                    d.try_into()
                        .map_err(|_| StoreError::corrupt("key with a bad digest"))
                })
                .collect()
        })
        .await
    }

    async fn purge(&self, minted_before: i64, changes_before: i64) -> Result<Purged, StoreError> {
        self.run(move |c| {
            let tx = c.transaction().map_err(err)?;
            let keys = tx
                .execute(
                    "DELETE FROM authgate_keys WHERE id IN (SELECT id FROM authgate_keys \
                     WHERE parent_id IS NOT NULL AND (expires_at < ?1 OR revoked_at < ?1) \
                     LIMIT ?2)",
                    params![minted_before, PURGE_BATCH],
                )
                .map_err(err)?;
            let changes = tx
                .execute(
                    "DELETE FROM authgate_key_changes WHERE seq IN (SELECT seq FROM \
                     authgate_key_changes WHERE at < ?1 AND seq < (SELECT MAX(seq) FROM \
                     authgate_key_changes) LIMIT ?2)",
                    params![changes_before, PURGE_BATCH],
                )
                .map_err(err)?;
            let replays = tx
                .execute(
                    "DELETE FROM authgate_replay WHERE digest IN (SELECT digest FROM \
                     authgate_replay WHERE expires_at <= ?1 LIMIT ?2)",
                    params![now(), PURGE_BATCH],
                )
                .map_err(err)?;
            tx.commit().map_err(err)?;
            Ok(Purged {
                keys,
                changes,
                replays,
            })
        })
        .await
    }

    async fn changes_since(&self, seq: i64) -> Result<Vec<Change>, StoreError> {
        self.run(move |c| {
            let mut stmt = c
                .prepare(
                    "SELECT seq, digest FROM authgate_key_changes WHERE seq > ?1 \
                     ORDER BY seq LIMIT 10000",
                )
                .map_err(err)?;
            let rows = stmt
                .query_map([seq], |r| {
                    let d: Vec<u8> = r.get(1)?;
                    Ok((r.get::<_, i64>(0)?, d))
                })
                .map_err(err)?;
            let mut out = Vec::new();
            for r in rows {
                let (seq, d) = r.map_err(err)?;
                let digest = d
                    .try_into()
                    .map_err(|_| StoreError::corrupt("change with a bad digest"))?;
                out.push(Change { seq, digest });
            }
            Ok(out)
        })
        .await
    }

    async fn head(&self) -> Result<i64, StoreError> {
        self.run(|c| {
            c.query_row(
                "SELECT COALESCE(MAX(seq), 0) FROM authgate_key_changes",
                [],
                |r| r.get(0),
            )
            .map_err(err)
        })
        .await
    }

    async fn wait_change(&self, max: Duration) {
        // No notifications in SQLite: the caller polls.
        tokio::time::sleep(max).await;
    }

    async fn flush_usage(&self) -> Result<usize, StoreError> {
        let used: Vec<[u8; 32]> = match self.used.lock() {
            Ok(mut u) => u.drain().collect(),
            Err(_) => return Ok(0),
        };
        if used.is_empty() {
            return Ok(0);
        }
        let n = used.len();
        self.run(move |c| {
            let tx = c.transaction().map_err(err)?;
            let at = now();
            for d in &used {
                tx.execute(
                    "UPDATE authgate_keys SET last_used_at = ?1 WHERE digest = ?2",
                    params![at, d.as_slice()],
                )
                .map_err(err)?;
            }
            tx.commit().map_err(err)?;
            Ok(n)
        })
        .await
    }

    fn describe(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }

    async fn put_nonce(&self, n: &Nonce, caps: &NonceCaps) -> Result<(), WriteError> {
        self.nonce_put(n, caps).await
    }

    async fn get_nonce(&self, nonce_value: &str) -> Result<Option<Nonce>, StoreError> {
        self.nonce_get(nonce_value).await
    }

    async fn consume_nonce(&self, nonce_value: &str) -> Result<bool, StoreError> {
        self.nonce_consume(nonce_value).await
    }

    async fn put_refresh(&self, token: &crate::RefreshToken) -> Result<(), StoreError> {
        self.refresh_put(token).await
    }

    async fn use_refresh(
        &self,
        digest: &str,
        namespace: &str,
        successor: Option<&crate::RefreshToken>,
    ) -> Result<crate::RefreshUse, StoreError> {
        self.refresh_use(digest, namespace, successor).await
    }

    async fn revoke_refresh(&self, digest: &str, namespace: &str) -> Result<bool, StoreError> {
        self.refresh_revoke(digest, namespace).await
    }

    async fn revoke_refresh_all(
        &self,
        subject: &str,
        namespace: &str,
    ) -> Result<usize, StoreError> {
        self.refresh_revoke_all(subject, namespace).await
    }
}
