//! The fleet store: PostgreSQL through a deadpool pool of tokio-postgres
//! connections. Every change appends to `authgate_key_changes` and sends
//! `NOTIFY authgate_keys` in the same transaction; a dedicated connection
//! LISTENs (reconnecting on failure) and wakes [`KeyStore::wait_change`].
//! Migrations take an advisory lock, so instances starting together do not
//! race.

use crate::key_limits::LimitColumns;
use crate::model::{capped_expiry, now, Cascade, Change, KeyPatch, ListFilter, NewKey, StoredKey};
use crate::nonce::{self, Nonce, NonceCaps};
use crate::{redact, schema, KeyStore, Purged, WriteError, PURGE_BATCH};
use async_trait::async_trait;
use authgate_core::credential::CredentialKind;
use authgate_core::limits_keys::QuotaSpend;
use authgate_core::store::{KeyRecord, Store, StoreError};
use deadpool_postgres::{GenericClient, Pool};
use futures_util::StreamExt;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{AsyncMessage, NoTls, Row};

/// The channel changes are announced on.
const CHANNEL: &str = "authgate_keys";

/// A PostgreSQL key store.
pub struct PgStore {
    pool: Pool,
    url: String,
    used: Mutex<HashSet<[u8; 32]>>,
    changed: Arc<Notify>,
    listening: AtomicBool,
    /// Held while the store lives: its listener stops once this is gone
    /// (a reload that changed `store.url` dropped the store).
    alive: Arc<()>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &redact(&self.url))
            .finish()
    }
}

pub(crate) fn err(e: tokio_postgres::Error) -> StoreError {
    StoreError::unavailable(e.to_string())
}

fn write_err(e: tokio_postgres::Error) -> WriteError {
    if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        WriteError::Conflict("a key with this id or credential exists".into())
    } else {
        WriteError::Store(err(e))
    }
}

fn pool_err(e: deadpool_postgres::PoolError) -> StoreError {
    StoreError::unavailable(format!("no connection: {e}"))
}

const COLUMNS: &str = "id, digest, kind, subject, workspace, scopes, allow, usage, expires_at, \
    disabled, scheme, public_key, metadata, rotated_from, created_at, updated_at, revoked_at, \
    last_used_at, actor_kind, actor_id, parent_id, rl_rate, rl_per_ms, rl_burst, \
    quota_remaining, quota_refill_amount, quota_refill_interval, quota_refilled_at";

fn row(r: &Row) -> Result<StoredKey, StoreError> {
    let corrupt = |what: &str| StoreError::corrupt(format!("bad {what} in authgate_keys"));
    let digest: Vec<u8> = r.try_get(1).map_err(err)?;
    let kind: String = r.try_get(2).map_err(err)?;
    let (rate_limit, quota) = LimitColumns {
        rate: r.try_get(21).map_err(err)?,
        per_ms: r.try_get(22).map_err(err)?,
        burst: r.try_get(23).map_err(err)?,
        remaining: r.try_get(24).map_err(err)?,
        refill_amount: r.try_get(25).map_err(err)?,
        refill_interval: r.try_get(26).map_err(err)?,
        refilled_at: r.try_get(27).map_err(err)?,
    }
    .read()
    .ok_or_else(|| corrupt("rate limit or quota"))?;
    Ok(StoredKey {
        id: r.try_get(0).map_err(err)?,
        digest: digest.try_into().map_err(|_| corrupt("digest"))?,
        kind: CredentialKind::parse(&kind).ok_or_else(|| corrupt("kind"))?,
        subject: r.try_get(3).map_err(err)?,
        workspace: r.try_get(4).map_err(err)?,
        scopes: r.try_get(5).map_err(err)?,
        allow: r.try_get(6).map_err(err)?,
        usage: r.try_get(7).map_err(err)?,
        expires_at: r.try_get(8).map_err(err)?,
        disabled: r.try_get(9).map_err(err)?,
        scheme: r.try_get(10).map_err(err)?,
        public_key: r.try_get(11).map_err(err)?,
        metadata: r.try_get(12).map_err(err)?,
        rotated_from: r.try_get(13).map_err(err)?,
        created_at: r.try_get(14).map_err(err)?,
        updated_at: r.try_get(15).map_err(err)?,
        revoked_at: r.try_get(16).map_err(err)?,
        last_used_at: r.try_get(17).map_err(err)?,
        actor_kind: r.try_get(18).map_err(err)?,
        actor_id: r.try_get(19).map_err(err)?,
        parent_id: r.try_get(20).map_err(err)?,
        rate_limit,
        quota,
    })
}

async fn get<C: GenericClient>(
    c: &C,
    id: &str,
    lock: bool,
) -> Result<Option<StoredKey>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM authgate_keys WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    match c.query_opt(&sql, &[&id]).await.map_err(err)? {
        Some(r) => row(&r).map(Some),
        None => Ok(None),
    }
}

/// The 28 values of [`COLUMNS`] for `k`; `digest`, `kind` and the limit
/// columns are `k`'s, held by the caller (they are not fields of `k` in
/// that form).
fn row_values<'a>(
    k: &'a StoredKey,
    digest: &'a &'a [u8],
    kind: &'a &'static str,
    l: &'a LimitColumns,
) -> [&'a (dyn ToSql + Sync); 28] {
    [
        &k.id,
        digest,
        kind,
        &k.subject,
        &k.workspace,
        &k.scopes,
        &k.allow,
        &k.usage,
        &k.expires_at,
        &k.disabled,
        &k.scheme,
        &k.public_key,
        &k.metadata,
        &k.rotated_from,
        &k.created_at,
        &k.updated_at,
        &k.revoked_at,
        &k.last_used_at,
        &k.actor_kind,
        &k.actor_id,
        &k.parent_id,
        &l.rate,
        &l.per_ms,
        &l.burst,
        &l.remaining,
        &l.refill_amount,
        &l.refill_interval,
        &l.refilled_at,
    ]
}

async fn insert<C: GenericClient>(c: &C, k: &StoredKey) -> Result<(), tokio_postgres::Error> {
    let (digest, kind) = (k.digest.as_slice(), k.kind.as_str());
    let limits = LimitColumns::of_key(k);
    c.execute(
        &format!(
            "INSERT INTO authgate_keys ({COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, \
             $20, $21, $22, $23, $24, $25, $26, $27, $28)"
        ),
        &row_values(k, &digest, &kind, &limits),
    )
    .await?;
    changed(c, &k.digest).await
}

async fn save<C: GenericClient>(c: &C, k: &StoredKey) -> Result<(), tokio_postgres::Error> {
    let l = LimitColumns::of_key(k);
    c.execute(
        "UPDATE authgate_keys SET scopes = $2, allow = $3, expires_at = $4, disabled = $5, \
         metadata = $6, updated_at = $7, revoked_at = $8, rl_rate = $9, rl_per_ms = $10, \
         rl_burst = $11, quota_remaining = $12, quota_refill_amount = $13, \
         quota_refill_interval = $14, quota_refilled_at = $15 WHERE id = $1",
        &[
            &k.id,
            &k.scopes,
            &k.allow,
            &k.expires_at,
            &k.disabled,
            &k.metadata,
            &k.updated_at,
            &k.revoked_at,
            &l.rate,
            &l.per_ms,
            &l.burst,
            &l.remaining,
            &l.refill_amount,
            &l.refill_interval,
            &l.refilled_at,
        ],
    )
    .await?;
    changed(c, &k.digest).await
}

/// End the keys `parent` minted as `how` says, each with a change entry.
async fn cascade<C: GenericClient>(
    c: &C,
    parent: &str,
    how: Cascade,
) -> Result<(), tokio_postgres::Error> {
    let (sql, t) = match how {
        Cascade::Revoke(at) => (
            "UPDATE authgate_keys SET revoked_at = $2, updated_at = $2 \
             WHERE parent_id = $1 AND revoked_at IS NULL RETURNING digest",
            at,
        ),
        Cascade::ExpireBy(t) => (
            "UPDATE authgate_keys SET expires_at = $2 WHERE parent_id = $1 AND revoked_at IS NULL \
             AND (expires_at IS NULL OR expires_at > $2) RETURNING digest",
            t,
        ),
    };
    let rows = c.query(sql, &[&parent, &t]).await?;
    for r in rows {
        let d: Vec<u8> = r.try_get(0)?;
        if let Ok(digest) = <[u8; 32]>::try_from(d.as_slice()) {
            changed(c, &digest).await?;
        }
    }
    Ok(())
}

/// The expiry of `key`'s parent when `key` is minted and the parent may
/// mint now (its row locked until commit, so a concurrent revocation waits
/// and then cascades to this key); an error naming why not otherwise.
async fn parent_expiry<C: GenericClient>(
    c: &C,
    key: &NewKey,
    at: i64,
) -> Result<Option<i64>, WriteError> {
    let Some(m) = &key.minted else {
        return Ok(None);
    };
    match get(c, &m.parent_id, true).await? {
        Some(p) if p.can_mint(at) => Ok(p.expires_at),
        Some(_) => Err(WriteError::ParentInactive(format!(
            "{} is not an active server key",
            m.parent_id
        ))),
        None => Err(WriteError::ParentInactive(format!(
            "no key {}",
            m.parent_id
        ))),
    }
}

async fn changed<C: GenericClient>(c: &C, digest: &[u8; 32]) -> Result<(), tokio_postgres::Error> {
    // Writers take turns on the feed until they commit: sequence numbers
    // are handed out in commit order, so a reader that has seen n has seen
    // every change below n (without this, a later number committed first
    // could be read and an earlier one skipped for good).
    c.execute(
        "LOCK TABLE authgate_key_changes IN SHARE ROW EXCLUSIVE MODE",
        &[],
    )
    .await?;
    c.execute(
        "INSERT INTO authgate_key_changes (digest, at) VALUES ($1, $2)",
        &[&digest.as_slice(), &now()],
    )
    .await?;
    c.execute(&format!("NOTIFY {CHANNEL}"), &[])
        .await
        .map(|_| ())
}

impl PgStore {
    /// A pool for `url` (no connection is made until first use).
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let mut cfg = deadpool_postgres::Config::new();
        cfg.url = Some(url.to_string());
        cfg.pool = Some(deadpool_postgres::PoolConfig::new(16));
        let pool = cfg
            .create_pool(Some(deadpool_postgres::Runtime::Tokio1), NoTls)
            .map_err(|e| StoreError::unavailable(format!("store.url: {e}")))?;
        Ok(Self {
            pool,
            url: url.to_string(),
            used: Mutex::new(HashSet::new()),
            changed: Arc::new(Notify::new()),
            listening: AtomicBool::new(false),
            alive: Arc::new(()),
        })
    }

    /// LISTEN on a dedicated connection, forever: every notification (and
    /// every reconnection, which may have missed some) wakes the waiter.
    fn listen(&self) {
        if self.listening.swap(true, Ordering::AcqRel) {
            return;
        }
        let (url, changed) = (self.url.clone(), self.changed.clone());
        let alive = Arc::downgrade(&self.alive);
        let gone = move || alive.strong_count() == 0;
        tokio::spawn(async move {
            while !gone() {
                match tokio_postgres::connect(&url, NoTls).await {
                    Ok((client, mut conn)) => {
                        let mut messages =
                            futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
                        let driver = async {
                            while let Some(m) = messages.next().await {
                                match m {
                                    Ok(AsyncMessage::Notification(_)) => changed.notify_one(),
                                    Ok(_) => {}
                                    Err(_) => break,
                                }
                            }
                        };
                        let subscribe = async {
                            if client
                                .batch_execute(&format!("LISTEN {CHANNEL}"))
                                .await
                                .is_ok()
                            {
                                // Subscribed: catch up on what a gap may have hidden.
                                changed.notify_one();
                            }
                            std::future::pending::<()>().await
                        };
                        let dropped = async {
                            while !gone() {
                                tokio::time::sleep(Duration::from_secs(1)).await;
                            }
                        };
                        tokio::select! {
                            _ = driver => {}
                            _ = subscribe => {}
                            _ = dropped => return,
                        }
                        tracing::warn!("store notifications lost; reconnecting");
                    }
                    Err(e) => tracing::warn!(error = %e, "store notifications: cannot connect"),
                }
                changed.notify_one();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(pool_err)
    }
}

#[async_trait]
impl Store for PgStore {
    async fn lookup(&self, digest: &[u8; 32]) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        let c = self.client().await?;
        let sql = format!("SELECT {COLUMNS} FROM authgate_keys WHERE digest = $1");
        let stmt = c.prepare_cached(&sql).await.map_err(err)?;
        let found = match c
            .query_opt(&stmt, &[&digest.as_slice()])
            .await
            .map_err(err)?
        {
            Some(r) => Some(row(&r)?),
            None => None,
        };
        if found.is_some() {
            if let Ok(mut used) = self.used.lock() {
                used.insert(*digest);
            }
        }
        Ok(found.map(|k| Arc::new(k.to_record())))
    }

    fn name(&self) -> &'static str {
        "postgres"
    }

    async fn claim_once(
        &self,
        key: &[u8; 32],
        expires_at: i64,
    ) -> Result<Option<bool>, StoreError> {
        let c = self.client().await?;
        crate::replay::claim_postgres(&c, key, expires_at)
            .await
            .map(Some)
    }

    async fn spend_quota(&self, id: &str, at: i64) -> Result<QuotaSpend, StoreError> {
        let c = self.client().await?;
        crate::quota::spend_postgres(&c, id, at).await
    }
}

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
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(write_err)?;
        // One issuer at a time across the fleet, so the bounds are exact.
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('authgate_nonces'))",
            &[],
        )
        .await
        .map_err(write_err)?;
        tx.execute(
            "DELETE FROM authgate_nonces WHERE expires_at <= $1",
            &[&now()],
        )
        .await
        .map_err(write_err)?;
        let total: i64 = tx
            .query_one("SELECT count(*) FROM authgate_nonces", &[])
            .await
            .map_err(write_err)?
            .get(0);
        if total >= caps.total {
            return Err(nonce::full("server"));
        }
        for (column, value, cap) in nonce::bounds(n, caps) {
            let count: i64 = tx
                .query_one(
                    &format!("SELECT count(*) FROM authgate_nonces WHERE {column} = $1"),
                    &[&value],
                )
                .await
                .map_err(write_err)?
                .get(0);
            if count >= cap {
                return Err(nonce::full(column));
            }
        }
        tx.execute(
            "INSERT INTO authgate_nonces (nonce, address, client_id, chain_id, session_key, ip, message, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[&n.nonce, &n.address, &n.client_id, &n.chain_id, &n.session_key, &n.ip, &n.message, &n.expires_at, &now()],
        )
        .await
        .map_err(write_err)?;
        tx.commit().await.map_err(write_err)
    }

    async fn get_nonce(&self, nonce_value: &str) -> Result<Option<Nonce>, StoreError> {
        let c = self.client().await?;
        let row = c
            .query_opt(
                &format!(
                    "SELECT {} FROM authgate_nonces WHERE nonce = $1 AND expires_at > $2",
                    nonce::COLUMNS
                ),
                &[&nonce_value, &now()],
            )
            .await
            .map_err(err)?;
        row.map(|r| {
            Ok(Nonce {
                nonce: r.try_get(0).map_err(nonce::corrupt)?,
                address: r.try_get(1).map_err(nonce::corrupt)?,
                client_id: r.try_get(2).map_err(nonce::corrupt)?,
                chain_id: r.try_get(3).map_err(nonce::corrupt)?,
                session_key: r.try_get(4).map_err(nonce::corrupt)?,
                ip: r.try_get(5).map_err(nonce::corrupt)?,
                message: r.try_get(6).map_err(nonce::corrupt)?,
                expires_at: r.try_get(7).map_err(nonce::corrupt)?,
            })
        })
        .transpose()
    }

    async fn consume_nonce(&self, nonce_value: &str) -> Result<bool, StoreError> {
        let c = self.client().await?;
        c.execute(
            "DELETE FROM authgate_nonces WHERE nonce = $1",
            &[&nonce_value],
        )
        .await
        .map(|n| n == 1)
        .map_err(err)
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
