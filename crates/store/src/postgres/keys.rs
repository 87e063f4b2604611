//! The [`KeyStore`] operations on PostgreSQL: migrations, key writes
//! (each in one transaction with its change entries), listing, the purge
//! and the change feed.

use super::rows::{cascade, get, insert, parent_expiry, row, row_values, save, COLUMNS};
use super::{err, write_err, PgStore};
use crate::key_limits::LimitColumns;
use crate::model::{capped_expiry, now, Cascade, Change, KeyPatch, ListFilter, NewKey, StoredKey};
use crate::nonce::{Nonce, NonceCaps};
use crate::{redact, schema, KeyStore, Purged, WriteError, PURGE_BATCH};
use async_trait::async_trait;
use authgate_core::store::StoreError;
use std::time::Duration;

#[async_trait]
impl KeyStore for PgStore {
    async fn migrate(&self) -> Result<u32, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(err)?;
        tx.execute("SELECT pg_advisory_xact_lock(7355608)", &[])
            .await
            .map_err(err)?;
        tx.batch_execute(schema::VERSION_TABLE).await.map_err(err)?;
        let mut v: i32 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM authgate_schema_version",
                &[],
            )
            .await
            .map_err(err)?
            .get(0);
        while (v as usize) < schema::POSTGRES.len() {
            tx.batch_execute(schema::POSTGRES[v as usize])
                .await
                .map_err(err)?;
            v += 1;
        }
        tx.execute("DELETE FROM authgate_schema_version", &[])
            .await
            .map_err(err)?;
        tx.execute(
            "INSERT INTO authgate_schema_version (version) VALUES ($1)",
            &[&v],
        )
        .await
        .map_err(err)?;
        tx.commit().await.map_err(err)?;
        Ok(v as u32)
    }

    async fn schema_version(&self) -> Result<u32, StoreError> {
        let c = self.client().await?;
        let exists: bool = c
            .query_one(
                "SELECT to_regclass('authgate_schema_version') IS NOT NULL",
                &[],
            )
            .await
            .map_err(err)?
            .get(0);
        if !exists {
            return Ok(0);
        }
        let v: i32 = c
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM authgate_schema_version",
                &[],
            )
            .await
            .map_err(err)?
            .get(0);
        Ok(v as u32)
    }

    async fn create(&self, key: NewKey) -> Result<StoredKey, WriteError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(write_err)?;
        let at = now();
        let parent = parent_expiry(&tx, &key, at).await?;
        let mut k = key.stored(at);
        if k.parent_id.is_some() {
            k.expires_at = capped_expiry(k.expires_at, parent);
        }
        insert(&tx, &k).await.map_err(write_err)?;
        tx.commit().await.map_err(write_err)?;
        Ok(k)
    }

    async fn import(&self, keys: Vec<NewKey>) -> Result<usize, WriteError> {
        use tokio_postgres::binary_copy::BinaryCopyInWriter;
        use tokio_postgres::types::Type;
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(write_err)?;
        let sink = tx
            .copy_in(&format!("COPY authgate_keys ({COLUMNS}) FROM STDIN BINARY"))
            .await
            .map_err(write_err)?;
        let types = [
            Type::TEXT,
            Type::BYTEA,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT_ARRAY,
            Type::TEXT_ARRAY,
            Type::TEXT,
            Type::INT8,
            Type::BOOL,
            Type::TEXT,
            Type::TEXT,
            Type::JSONB,
            Type::TEXT,
            Type::INT8,
            Type::INT8,
            Type::INT8,
            Type::INT8,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::INT8,
            Type::INT8,
            Type::INT8,
            Type::INT8,
            Type::INT8,
            Type::TEXT,
            Type::INT8,
        ];
        let writer = BinaryCopyInWriter::new(sink, &types);
        futures_util::pin_mut!(writer);
        let at = now();
        let n = keys.len();
        for key in keys {
            let k = key.stored(at);
            let (digest, kind) = (k.digest.as_slice(), k.kind.as_str());
            let limits = LimitColumns::of_key(&k);
            let row = row_values(&k, &digest, &kind, &limits);
            writer.as_mut().write(&row).await.map_err(write_err)?;
        }
        writer.finish().await.map_err(write_err)?;
        tx.commit().await.map_err(write_err)?;
        Ok(n)
    }

    async fn get(&self, id: &str) -> Result<Option<StoredKey>, StoreError> {
        let c = self.client().await?;
        get(&c, id, false).await
    }

    async fn list(&self, f: &ListFilter) -> Result<Vec<StoredKey>, StoreError> {
        let c = self.client().await?;
        let kind = f.kind.map(|k| k.as_str());
        let limit = i64::from(f.limit.clamp(1, 1000));
        let rows = c
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM authgate_keys WHERE ($1::text IS NULL OR workspace = $1) \
                     AND ($2::text IS NULL OR kind = $2) AND ($3::text IS NULL OR subject = $3) \
                     AND ($4::text IS NULL OR id > $4) ORDER BY id LIMIT $5"
                ),
                &[&f.workspace, &kind, &f.subject, &f.after, &limit],
            )
            .await
            .map_err(err)?;
        rows.iter().map(row).collect()
    }

    async fn update(&self, id: &str, patch: &KeyPatch) -> Result<Option<StoredKey>, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(err)?;
        let Some(mut k) = get(&tx, id, true).await? else {
            return Ok(None);
        };
        patch.apply(&mut k, now());
        save(&tx, &k).await.map_err(err)?;
        if let Some(Some(e)) = patch.expires_at {
            cascade(&tx, &k.id, Cascade::ExpireBy(e))
                .await
                .map_err(err)?;
        }
        tx.commit().await.map_err(err)?;
        Ok(Some(k))
    }

    async fn revoke(&self, id: &str) -> Result<Option<StoredKey>, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(err)?;
        let Some(mut k) = get(&tx, id, true).await? else {
            return Ok(None);
        };
        let at = now();
        k.revoked_at.get_or_insert(at);
        k.updated_at = at;
        save(&tx, &k).await.map_err(err)?;
        cascade(&tx, &k.id, Cascade::Revoke(at))
            .await
            .map_err(err)?;
        tx.commit().await.map_err(err)?;
        Ok(Some(k))
    }

    async fn rotate(
        &self,
        id: &str,
        new: NewKey,
        overlap_until: i64,
    ) -> Result<Option<(StoredKey, StoredKey)>, WriteError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(write_err)?;
        let Some(mut old) = get(&tx, id, true).await? else {
            return Ok(None);
        };
        let at = now();
        old.expires_at = Some(
            old.expires_at
                .map_or(overlap_until, |e| e.min(overlap_until)),
        );
        old.updated_at = at;
        save(&tx, &old).await.map_err(write_err)?;
        cascade(&tx, &old.id, Cascade::ExpireBy(overlap_until))
            .await
            .map_err(write_err)?;
        let next = new.stored(at);
        insert(&tx, &next).await.map_err(write_err)?;
        tx.commit().await.map_err(write_err)?;
        Ok(Some((old, next)))
    }

    async fn children(&self, parent_id: &str) -> Result<Vec<[u8; 32]>, StoreError> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT digest FROM authgate_keys WHERE parent_id = $1",
                &[&parent_id],
            )
            .await
            .map_err(err)?;
        rows.iter()
            .map(|r| {
                let d: Vec<u8> = r.try_get(0).map_err(err)?;
                d.try_into()
                    .map_err(|_| StoreError::corrupt("key with a bad digest"))
            })
            .collect()
    }

    async fn purge(&self, minted_before: i64, changes_before: i64) -> Result<Purged, StoreError> {
        let c = self.client().await?;
        let keys = c
            .execute(
                "DELETE FROM authgate_keys WHERE id IN (SELECT id FROM authgate_keys \
                 WHERE parent_id IS NOT NULL AND (expires_at < $1 OR revoked_at < $1) LIMIT $2)",
                &[&minted_before, &PURGE_BATCH],
            )
            .await
            .map_err(err)?;
        let changes = c
            .execute(
                "DELETE FROM authgate_key_changes WHERE seq IN (SELECT seq FROM \
                 authgate_key_changes WHERE at < $1 AND seq < (SELECT MAX(seq) FROM \
                 authgate_key_changes) LIMIT $2)",
                &[&changes_before, &PURGE_BATCH],
            )
            .await
            .map_err(err)?;
        let replays = c
            .execute(
                "DELETE FROM authgate_replay WHERE digest IN (SELECT digest FROM \
                 authgate_replay WHERE expires_at <= $1 LIMIT $2)",
                &[&now(), &PURGE_BATCH],
            )
            .await
            .map_err(err)?;
        Ok(Purged {
            keys: keys as usize,
            changes: changes as usize,
            replays: replays as usize,
        })
    }

    async fn changes_since(&self, seq: i64) -> Result<Vec<Change>, StoreError> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT seq, digest FROM authgate_key_changes WHERE seq > $1 ORDER BY seq LIMIT 10000",
                &[&seq],
            )
            .await
            .map_err(err)?;
        rows.iter()
            .map(|r| {
                let d: Vec<u8> = r.try_get(1).map_err(err)?;
                Ok(Change {
                    seq: r.try_get(0).map_err(err)?,
                    digest: d
                        .try_into()
                        .map_err(|_| StoreError::corrupt("change with a bad digest"))?,
                })
            })
            .collect()
    }

    async fn head(&self) -> Result<i64, StoreError> {
        let c = self.client().await?;
        Ok(c.query_one(
            "SELECT COALESCE(MAX(seq), 0) FROM authgate_key_changes",
            &[],
        )
        .await
        .map_err(err)?
        .get(0))
    }

    async fn wait_change(&self, max: Duration) {
        self.listen();
        let _ = tokio::time::timeout(max, self.changed.notified()).await;
    }

    async fn flush_usage(&self) -> Result<usize, StoreError> {
        let used: Vec<Vec<u8>> = match self.used.lock() {
            Ok(mut u) => u.drain().map(|d| d.to_vec()).collect(),
            Err(_) => return Ok(0),
        };
        if used.is_empty() {
            return Ok(0);
        }
        let c = self.client().await?;
        c.execute(
            "UPDATE authgate_keys SET last_used_at = $1 WHERE digest = ANY($2)",
            &[&now(), &used],
        )
        .await
        .map_err(err)?;
        Ok(used.len())
    }

    fn describe(&self) -> String {
        redact(&self.url)
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
