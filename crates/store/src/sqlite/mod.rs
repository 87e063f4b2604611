//! The embedded store: one SQLite file (WAL), queried on a blocking thread
//! so the async workers never wait on disk. Migrated when opened.
//!
//! Here: the connection, its blocking thread and the hot-path lookup; the
//! key rows in `rows`, the schema version and migrations in `migration`, the
//! [`crate::KeyStore`] operations in `keys`, sign-in nonces in `nonces`,
//! refresh tokens in `refresh`.

mod keys;
mod migration;
mod nonces;
mod refresh;
mod rows;

pub use migration::probe;

use crate::WriteError;
use async_trait::async_trait;
use authgate_core::limits_keys::QuotaSpend;
use authgate_core::store::{KeyRecord, Store, StoreError};
use migration::migrate;
use rows::{row, COLUMNS};
use rusqlite::{Connection, OptionalExtension};
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
