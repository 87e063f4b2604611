//! The fleet store: PostgreSQL through a deadpool pool of tokio-postgres
//! connections. Every change appends to `authgate_key_changes` and sends
//! `NOTIFY authgate_keys` in the same transaction; a dedicated connection
//! LISTENs (reconnecting on failure) and wakes [`crate::KeyStore::wait_change`].
//! Migrations take an advisory lock, so instances starting together do not
//! race.
//!
//! Here: the pool, the listener and the hot-path lookup; the key rows in
//! `rows`, the [`crate::KeyStore`] operations in `keys`, sign-in nonces in
//! `nonces`, refresh tokens in `refresh`.

mod keys;
mod nonces;
mod refresh;
mod rows;

use crate::{redact, WriteError};
use async_trait::async_trait;
use authgate_core::limits_keys::QuotaSpend;
use authgate_core::store::{KeyRecord, Store, StoreError};
use deadpool_postgres::Pool;
use futures_util::StreamExt;
use rows::{row, COLUMNS};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_postgres::error::SqlState;
use tokio_postgres::{AsyncMessage, NoTls};

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
