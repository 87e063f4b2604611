//! The embedded store: one SQLite file (WAL), queried on a blocking thread
//! so the async workers never wait on disk. Migrated when opened.

use crate::key_limits::LimitColumns;
use crate::model::{capped_expiry, now, Cascade, Change, KeyPatch, ListFilter, NewKey, StoredKey};
use crate::nonce::{self, Nonce, NonceCaps};
use crate::{schema, KeyStore, Purged, WriteError, PURGE_BATCH};
use async_trait::async_trait;
use authgate_core::credential::CredentialKind;
use authgate_core::limits_keys::QuotaSpend;
use authgate_core::store::{KeyRecord, Store, StoreError};
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A SQLite key store.
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
    used: Mutex<HashSet<[u8; 32]>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

pub(crate) fn err(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::IntegralValueOutOfRange(..) => StoreError::corrupt(e.to_string()),
        _ => StoreError::unavailable(e.to_string()),
    }
}

fn write_err(e: rusqlite::Error) -> WriteError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            WriteError::Conflict("a key with this id or credential exists".into())
        }
        _ => WriteError::Store(err(e)),
    }
}

const COLUMNS: &str = "id, digest, kind, subject, workspace, scopes, allow, usage, expires_at, \
    disabled, scheme, public_key, metadata, rotated_from, created_at, updated_at, revoked_at, \
    last_used_at, actor_kind, actor_id, parent_id, rl_rate, rl_per_ms, rl_burst, \
    quota_remaining, quota_refill_amount, quota_refill_interval, quota_refilled_at";

fn json_list(text: String) -> rusqlite::Result<Vec<String>> {
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn row(r: &Row<'_>) -> rusqlite::Result<StoredKey> {
    let digest: Vec<u8> = r.get(1)?;
    let bad = |what: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Blob,
            format!("bad {what}").into(),
        )
    };
    let kind: String = r.get(2)?;
    let metadata: String = r.get(12)?;
    let (rate_limit, quota) = LimitColumns {
        rate: r.get(21)?,
        per_ms: r.get(22)?,
        burst: r.get(23)?,
        remaining: r.get(24)?,
        refill_amount: r.get(25)?,
        refill_interval: r.get(26)?,
        refilled_at: r.get(27)?,
    }
    .read()
    .ok_or_else(|| bad("rate limit or quota"))?;
    Ok(StoredKey {
        id: r.get(0)?,
        digest: digest.try_into().map_err(|_| bad("digest"))?,
        kind: CredentialKind::parse(&kind).ok_or_else(|| bad("kind"))?,
        subject: r.get(3)?,
        workspace: r.get(4)?,
        scopes: json_list(r.get(5)?)?,
        allow: json_list(r.get(6)?)?,
        usage: r.get(7)?,
        expires_at: r.get(8)?,
        disabled: r.get(9)?,
        scheme: r.get(10)?,
        public_key: r.get(11)?,
        metadata: serde_json::from_str(&metadata).map_err(|_| bad("metadata"))?,
        rotated_from: r.get(13)?,
        created_at: r.get(14)?,
        updated_at: r.get(15)?,
        revoked_at: r.get(16)?,
        last_used_at: r.get(17)?,
        actor_kind: r.get(18)?,
        actor_id: r.get(19)?,
        parent_id: r.get(20)?,
        rate_limit,
        quota,
    })
}

fn get(c: &Connection, id: &str) -> rusqlite::Result<Option<StoredKey>> {
    c.query_row(
        &format!("SELECT {COLUMNS} FROM authgate_keys WHERE id = ?1"),
        [id],
        row,
    )
    .optional()
}

/// Insert `k` (one prepared statement, cached per connection).
fn insert_row(c: &Connection, k: &StoredKey) -> rusqlite::Result<()> {
    let mut stmt = c.prepare_cached(&format!(
        "INSERT INTO authgate_keys ({COLUMNS}) VALUES \
         (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, \
         ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28)"
    ))?;
    let l = LimitColumns::of_key(k);
    stmt.execute(params![
        k.id,
        k.digest.as_slice(),
        k.kind.as_str(),
        k.subject,
        k.workspace,
        serde_json::to_string(&k.scopes).unwrap_or_else(|_| "[]".into()),
        serde_json::to_string(&k.allow).unwrap_or_else(|_| "[]".into()),
        k.usage,
        k.expires_at,
        k.disabled,
        k.scheme,
        k.public_key,
        k.metadata.to_string(),
        k.rotated_from,
        k.created_at,
        k.updated_at,
        k.revoked_at,
        k.last_used_at,
        k.actor_kind,
        k.actor_id,
        k.parent_id,
        l.rate,
        l.per_ms,
        l.burst,
        l.remaining,
        l.refill_amount,
        l.refill_interval,
        l.refilled_at,
    ])
    .map(|_| ())
}

/// Insert `k` and record the change.
fn insert(c: &Connection, k: &StoredKey) -> rusqlite::Result<()> {
    insert_row(c, k)?;
    changed(c, &k.digest)
}

/// Rewrite the mutable fields of `k`.
fn save(c: &Connection, k: &StoredKey) -> rusqlite::Result<()> {
    let l = LimitColumns::of_key(k);
    c.execute(
        "UPDATE authgate_keys SET scopes = ?2, allow = ?3, expires_at = ?4, disabled = ?5, \
         metadata = ?6, updated_at = ?7, revoked_at = ?8, rl_rate = ?9, rl_per_ms = ?10, \
         rl_burst = ?11, quota_remaining = ?12, quota_refill_amount = ?13, \
         quota_refill_interval = ?14, quota_refilled_at = ?15 WHERE id = ?1",
        params![
            k.id,
            serde_json::to_string(&k.scopes).unwrap_or_else(|_| "[]".into()),
            serde_json::to_string(&k.allow).unwrap_or_else(|_| "[]".into()),
            k.expires_at,
            k.disabled,
            k.metadata.to_string(),
            k.updated_at,
            k.revoked_at,
            l.rate,
            l.per_ms,
            l.burst,
            l.remaining,
            l.refill_amount,
            l.refill_interval,
            l.refilled_at,
        ],
    )?;
    changed(c, &k.digest)
}

/// End the keys `parent` minted as `how` says, each with a change entry.
fn cascade(c: &Connection, parent: &str, how: Cascade) -> rusqlite::Result<()> {
    let (filter, set, t) = match how {
        Cascade::Revoke(at) => ("revoked_at IS NULL", "revoked_at = ?2, updated_at = ?2", at),
        Cascade::ExpireBy(t) => (
            "revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?2)",
            "expires_at = ?2",
            t,
        ),
    };
    let both: [&dyn rusqlite::ToSql; 2] = [&parent, &t];
    let digests: Vec<Vec<u8>> = c
        .prepare(&format!(
            "SELECT digest FROM authgate_keys WHERE parent_id = ?1 AND {filter}"
        ))?
        .query_map(&both[..if filter.contains("?2") { 2 } else { 1 }], |r| {
            r.get(0)
        })?
        .collect::<Result<_, _>>()?;
    if digests.is_empty() {
        return Ok(());
    }
    c.execute(
        &format!("UPDATE authgate_keys SET {set} WHERE parent_id = ?1 AND {filter}"),
        params![parent, t],
    )?;
    for d in digests {
        c.execute(
            "INSERT INTO authgate_key_changes (digest, at) VALUES (?1, ?2)",
            params![d, now()],
        )?;
    }
    Ok(())
}

/// The expiry of `key`'s parent when `key` is minted and the parent may
/// mint now; an error naming why not otherwise.
fn parent_expiry(c: &Connection, key: &NewKey, at: i64) -> Result<Option<i64>, WriteError> {
    let Some(m) = &key.minted else {
        return Ok(None);
    };
    match get(c, &m.parent_id).map_err(write_err)? {
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

fn changed(c: &Connection, digest: &[u8; 32]) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO authgate_key_changes (digest, at) VALUES (?1, ?2)",
        params![digest.as_slice(), now()],
    )
    .map(|_| ())
}

fn version(c: &Connection) -> rusqlite::Result<u32> {
    c.execute(schema::VERSION_TABLE, [])?;
    c.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM authgate_schema_version",
        [],
        |r| r.get(0),
    )
}

fn migrate(c: &mut Connection) -> rusqlite::Result<u32> {
    let mut v = version(c)?;
    while (v as usize) < schema::SQLITE.len() {
        let tx = c.transaction()?;
        tx.execute_batch(schema::SQLITE[v as usize])?;
        tx.execute("DELETE FROM authgate_schema_version", [])?;
        tx.execute(
            "INSERT INTO authgate_schema_version (version) VALUES (?1)",
            [v + 1],
        )?;
        tx.commit()?;
        v += 1;
    }
    Ok(v)
}

/// Check the database at `path` without changing anything (for `authgate
/// check`): a missing file is fine when its directory exists or can be
/// made (it is created, 0600, on start); an existing one must open as a
/// SQLite database whose schema is not newer than this build's. Returns
/// what was found, for the report.
pub fn probe(path: &Path) -> Result<String, StoreError> {
    use rusqlite::OpenFlags;
    if !path.exists() {
        let mut dir = path.parent();
        while let Some(d) = dir.filter(|d| !d.as_os_str().is_empty()) {
            if d.exists() {
                if !d.is_dir() {
                    return Err(StoreError::unavailable(format!(
                        "{} is not a directory",
                        d.display()
                    )));
                }
                break;
            }
            dir = d.parent();
        }
        return Ok(format!("{} (created on start)", path.display()));
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(err)?;
    let has_table: bool = conn
        .query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE name = 'authgate_schema_version'",
            [],
            |r| r.get(0),
        )
        .map_err(|e| {
            StoreError::unavailable(format!("{}: not a SQLite database ({e})", path.display()))
        })?;
    let v: u32 = if has_table {
        conn.query_row(
            "SELECT COALESCE(MAX(version), 0) FROM authgate_schema_version",
            [],
            |r| r.get(0),
        )
        .map_err(err)?
    } else {
        0
    };
    if v as usize > schema::SQLITE.len() {
        return Err(StoreError::unavailable(format!(
            "{}: schema version {v} is newer than this build's {}",
            path.display(),
            schema::SQLITE.len()
        )));
    }
    Ok(format!("{} (schema version {v})", path.display()))
}

impl SqliteStore {
    /// Open (creating, mode 0600) and migrate the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if !path.exists() {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::unavailable(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            authgate_core::secret::create_private(path).map_err(|e| {
                StoreError::unavailable(format!("cannot create {}: {e}", path.display()))
            })?;
        }
        let mut conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        migrate(&mut conn).map_err(err)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            path: path.to_path_buf(),
            used: Mutex::new(HashSet::new()),
        })
    }

    /// Run `f` on the connection on a blocking thread.
    pub(crate) async fn run<T, E>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: Send + 'static + From<StoreError>,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = conn
                .lock()
                .map_err(|_| StoreError::unavailable("connection lock poisoned"))?;
            f(&mut c)
        })
        .await
        .map_err(|e| E::from(StoreError::unavailable(e.to_string())))?
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn lookup(&self, digest: &[u8; 32]) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        let d = *digest;
        let found = self
            .run(move |c| {
                c.query_row(
                    &format!("SELECT {COLUMNS} FROM authgate_keys WHERE digest = ?1"),
                    [d.as_slice()],
                    row,
                )
                .optional()
                .map_err(err)
            })
            .await?;
        if found.is_some() {
            if let Ok(mut used) = self.used.lock() {
                used.insert(*digest);
            }
        }
        Ok(found.map(|k| Arc::new(k.to_record())))
    }

    fn name(&self) -> &'static str {
        "sqlite"
    }

    async fn claim_once(
        &self,
        key: &[u8; 32],
        expires_at: i64,
    ) -> Result<Option<bool>, StoreError> {
        let key = *key;
        self.run(move |c| crate::replay::claim_sqlite(c, &key, expires_at).map(Some))
            .await
    }

    async fn spend_quota(&self, id: &str, at: i64) -> Result<QuotaSpend, StoreError> {
        let id = id.to_string();
        self.run(move |c| crate::quota::spend_sqlite(c, &id, at))
            .await
    }
}

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
        let (n, caps) = (n.clone(), *caps);
        self.run(move |c| {
            let tx = c.transaction().map_err(write_err)?;
            tx.execute("DELETE FROM authgate_nonces WHERE expires_at <= ?1", [now()])
                .map_err(write_err)?;
            let total: i64 = tx
                .query_row("SELECT count(*) FROM authgate_nonces", [], |r| r.get(0))
                .map_err(write_err)?;
            if total >= caps.total {
                return Err(nonce::full("server"));
            }
            for (column, value, cap) in nonce::bounds(&n, &caps) {
                let count: i64 = tx
                    .query_row(
                        &format!("SELECT count(*) FROM authgate_nonces WHERE {column} = ?1"),
                        [value],
                        |r| r.get(0),
                    )
                    .map_err(write_err)?;
                if count >= cap {
                    return Err(nonce::full(column));
                }
            }
            tx.execute(
                "INSERT INTO authgate_nonces (nonce, address, client_id, chain_id, session_key, ip, message, expires_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![n.nonce, n.address, n.client_id, n.chain_id, n.session_key, n.ip, n.message, n.expires_at, now()],
            )
            .map_err(write_err)?;
            tx.commit().map_err(write_err)
        })
        .await
    }

    async fn get_nonce(&self, nonce_value: &str) -> Result<Option<Nonce>, StoreError> {
        let v = nonce_value.to_string();
        self.run(move |c| {
            c.query_row(
                &format!(
                    "SELECT {} FROM authgate_nonces WHERE nonce = ?1 AND expires_at > ?2",
                    nonce::COLUMNS
                ),
                params![v, now()],
                |r| {
                    Ok(Nonce {
                        nonce: r.get(0)?,
                        address: r.get(1)?,
                        client_id: r.get(2)?,
                        chain_id: r.get(3)?,
                        session_key: r.get(4)?,
                        ip: r.get(5)?,
                        message: r.get(6)?,
                        expires_at: r.get(7)?,
                    })
                },
            )
            .optional()
            .map_err(nonce::corrupt)
        })
        .await
    }

    async fn consume_nonce(&self, nonce_value: &str) -> Result<bool, StoreError> {
        let v = nonce_value.to_string();
        self.run(move |c| {
            c.execute("DELETE FROM authgate_nonces WHERE nonce = ?1", [v])
                .map(|n| n == 1)
                .map_err(err)
        })
        .await
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
