//! Keeps this instance coherent with the database store: reads the change
//! feed (woken at once by PostgreSQL notifications, polled every
//! `store.poll_interval` as a safety net) and drops exactly the changed
//! keys from the identity cache; writes the batched `last_used_at`; applies
//! migrations at start when `store.auto_migrate` is on; and says when the
//! store is down (`authgate_store_up{store}`, one log line per transition);
//! and purges, every `minting.purge_interval` (a minute by default),
//! minted keys long expired or revoked
//! (`minting.keep_expired`) and change-feed entries no instance can still
//! need (older than ten cache lifetimes, and at least an hour), so the
//! store does not grow without bound under a steady minting load.

use crate::cache::IdentityCache;
use crate::config::reload::ConfigHandle;
use crate::metrics::METRICS;
use async_trait::async_trait;
use authgate_store::KeyStore;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often `last_used_at` is written.
const USAGE_EVERY: Duration = Duration::from_secs(10);
/// How often expired minted keys and old change entries are purged without
/// `[minting]`.
const PURGE_EVERY: Duration = Duration::from_secs(60);
/// Change entries are kept at least this long.
const MIN_FEED_RETENTION: Duration = Duration::from_secs(3600);

/// Purge what `rt`'s store no longer needs; errors are logged (the next
/// run retries).
async fn purge(rt: &crate::config::Runtime, store: &dyn KeyStore) {
    let keep = rt
        .minting
        .as_ref()
        .map_or(Duration::from_secs(3600), |m| m.section.keep_expired);
    let retention = MIN_FEED_RETENTION.max(rt.cache.ttl.saturating_mul(10));
    let at = authgate_store::now();
    match store
        .purge(at - keep.as_secs() as i64, at - retention.as_secs() as i64)
        .await
    {
        Ok(p) if p.keys + p.changes > 0 => {
            tracing::info!(keys = p.keys, changes = p.changes, "store purged")
        }
        Ok(_) => {}
        Err(e) => tracing::debug!(error = %e, "store purge not run"),
    }
}

/// The background service.
pub struct StoreSync {
    config: ConfigHandle,
    cache: IdentityCache,
}

impl StoreSync {
    /// Sync the store of whatever config `config` holds into `cache`.
    pub fn new(config: ConfigHandle, cache: IdentityCache) -> Self {
        Self { config, cache }
    }
}

/// Where this instance is in one store's feed.
struct Cursor {
    store: Arc<dyn KeyStore>,
    seq: Option<i64>,
    up: Option<bool>,
}

impl Cursor {
    fn health(&mut self, up: bool, error: Option<&str>) {
        if self.up != Some(up) {
            match (up, error) {
                (true, _) if self.up.is_some() => {
                    tracing::info!(store = %self.store.describe(), "store recovered")
                }
                (true, _) => {}
                (false, e) => tracing::error!(
                    store = %self.store.describe(),
                    error = e.unwrap_or(""),
                    "store unavailable: cached credentials keep working, others get 503"
                ),
            }
            self.up = Some(up);
        }
        METRICS
            .store_up
            .with_label_values(&[self.store.name()])
            .set(i64::from(up));
    }

    /// Apply the feed since the last position (the first call only marks
    /// where the feed is: the cache starts empty).
    async fn catch_up(&mut self, cache: &IdentityCache) {
        let result = match self.seq {
            None => self.store.head().await.map(|h| {
                self.seq = Some(h);
            }),
            Some(seq) => self.store.changes_since(seq).await.map(|changes| {
                for c in &changes {
                    cache.invalidate_digest(c.digest);
                    self.seq = Some(c.seq);
                }
                METRICS.store_changes.inc_by(changes.len() as u64);
            }),
        };
        match result {
            Ok(()) => self.health(true, None),
            Err(e) => self.health(false, Some(&e.to_string())),
        }
    }
}

#[async_trait]
impl BackgroundService for StoreSync {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut cursor: Option<Cursor> = None;
        let mut migrated_for: Option<String> = None;
        let mut last_usage = Instant::now();
        let mut last_purge: Option<Instant> = None;
        loop {
            let rt = self.config.current();
            let Some(store) = rt.keystore.clone() else {
                cursor = None;
                tokio::select! {
                    _ = shutdown.changed() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            };
            let poll = rt.file.store.poll_interval;
            let every = rt
                .minting
                .as_ref()
                .map_or(PURGE_EVERY, |m| m.section.purge_interval);
            if last_purge.is_none_or(|t| t.elapsed() >= every) {
                last_purge = Some(Instant::now());
                purge(&rt, store.as_ref()).await;
            }
            if rt.file.store.auto_migrate && migrated_for.as_deref() != Some(&store.describe()) {
                match store.migrate().await {
                    Ok(v) => {
                        tracing::info!(store = %store.describe(), version = v, "store schema migrated");
                        migrated_for = Some(store.describe());
                    }
                    Err(e) => tracing::error!(error = %e, "store migration failed"),
                }
            }
            drop(rt);
            // A new store (first run, or a reload that changed store.url).
            if !cursor
                .as_ref()
                .is_some_and(|c| Arc::ptr_eq(&c.store, &store))
            {
                cursor = Some(Cursor {
                    store: store.clone(),
                    seq: None,
                    up: None,
                });
            }
            if let Some(c) = cursor.as_mut() {
                c.catch_up(&self.cache).await;
            }
            if last_usage.elapsed() >= USAGE_EVERY {
                last_usage = Instant::now();
                if let Err(e) = store.flush_usage().await {
                    tracing::debug!(error = %e, "last_used_at not written");
                }
            }
            tokio::select! {
                _ = shutdown.changed() => {
                    let _ = store.flush_usage().await;
                    return;
                }
                _ = store.wait_change(poll) => {}
            }
        }
    }
}
