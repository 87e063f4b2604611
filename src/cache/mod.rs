//! The hot identity cache: credential digest → verdict.
//!
//! Keys are the SHA-256 of the credential plus the config's auth generation,
//! never the credential itself. Valid entries live for min(configured TTL,
//! the credential's own expiry); invalid ones for the short negative TTL, so
//! a flood of garbage never reaches the store twice per key within it.
//! Concurrent misses for one key collapse into a single verification.
//! Valid verdicts are also copied into a per-thread [`front`], checked first.

mod front;

use crate::metrics::METRICS;
use crate::store::StoreError;
use crate::verify::{unix_now, Verdict};
use moka::future::Cache;
use moka::notification::RemovalCause;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Cache key: auth generation + credential digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// [`crate::config::Runtime::auth_generation`] at lookup time.
    pub generation: u64,
    /// SHA-256 of the credential.
    pub digest: [u8; 32],
}

#[derive(Debug)]
struct Ttls {
    positive_ms: AtomicU64,
    negative_ms: AtomicU64,
}

impl Ttls {
    /// How long `verdict` may be trusted from now.
    fn of(&self, verdict: &Verdict) -> Duration {
        match verdict {
            Verdict::Valid(id) => {
                let ttl = Duration::from_millis(self.positive_ms.load(Ordering::Relaxed));
                match id.expires_at {
                    Some(exp) => ttl.min(Duration::from_secs(exp.saturating_sub(unix_now()))),
                    None => ttl,
                }
            }
            Verdict::Invalid(_) => Duration::from_millis(self.negative_ms.load(Ordering::Relaxed)),
        }
    }
}

/// A cached verdict and the instant it stops being trusted.
#[derive(Debug, Clone)]
struct Entry {
    verdict: Verdict,
    deadline: Instant,
}

struct PerEntry;

impl moka::Expiry<CacheKey, Entry> for PerEntry {
    fn expire_after_create(
        &self,
        _key: &CacheKey,
        value: &Entry,
        now: Instant,
    ) -> Option<Duration> {
        Some(value.deadline.saturating_duration_since(now))
    }
}

/// The shared cache, cheap to clone.
#[derive(Clone)]
pub struct IdentityCache {
    inner: Cache<CacheKey, Entry>,
    ttls: Arc<Ttls>,
    /// This cache's current [`front`] epoch; replaced on every invalidation.
    epoch: Arc<AtomicU64>,
}

impl std::fmt::Debug for IdentityCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityCache")
            .field("entries", &self.inner.entry_count())
            .finish()
    }
}

impl IdentityCache {
    /// A cache of at most `max_entries`.
    pub fn new(max_entries: u64, ttl: Duration, negative_ttl: Duration) -> Self {
        let ttls = Arc::new(Ttls {
            positive_ms: AtomicU64::new(ttl.as_millis() as u64),
            negative_ms: AtomicU64::new(negative_ttl.as_millis() as u64),
        });
        let inner = Cache::builder()
            .max_capacity(max_entries)
            .expire_after(PerEntry)
            .support_invalidation_closures()
            .eviction_listener(|_k, _v, cause| {
                if cause == RemovalCause::Size {
                    METRICS.cache_evictions.inc();
                }
            })
            .build();
        Self {
            inner,
            ttls,
            epoch: Arc::new(AtomicU64::new(front::fresh_epoch())),
        }
    }

    /// Apply new TTLs (on reload); existing entries keep theirs.
    pub fn set_ttls(&self, ttl: Duration, negative_ttl: Duration) {
        self.ttls
            .positive_ms
            .store(ttl.as_millis() as u64, Ordering::Relaxed);
        self.ttls
            .negative_ms
            .store(negative_ttl.as_millis() as u64, Ordering::Relaxed);
    }

    /// The cached verdict, or run `verify` once (concurrent callers for the
    /// same key wait for that one run) and cache its verdict.
    pub async fn get_or_verify<F, Fut>(
        &self,
        key: CacheKey,
        verify: F,
    ) -> Result<Verdict, Arc<StoreError>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Verdict, StoreError>>,
    {
        // Read before the shared cache: a slot filled from an entry that an
        // invalidation races with carries the old epoch and never matches.
        let epoch = self.epoch.load(Ordering::Acquire);
        if let Some(id) = front::get(&key, epoch, Instant::now()) {
            METRICS.cache_hits.inc();
            return Ok(Verdict::Valid(id));
        }
        let entry = match self.inner.get(&key).await {
            Some(entry) => {
                METRICS.cache_hits.inc();
                entry
            }
            None => {
                METRICS.cache_misses.inc();
                let ttls = self.ttls.clone();
                let verified = async move {
                    let verdict = verify().await?;
                    let deadline = Instant::now() + ttls.of(&verdict);
                    Ok::<_, StoreError>(Entry { verdict, deadline })
                };
                self.inner.try_get_with(key, verified).await?
            }
        };
        if let Verdict::Valid(id) = &entry.verdict {
            front::put(key, epoch, entry.deadline, id.clone());
        }
        Ok(entry.verdict)
    }

    /// Make every per-thread front slot of this cache stale.
    fn new_epoch(&self) {
        self.epoch.store(front::fresh_epoch(), Ordering::Release);
    }

    /// Drop every entry for a credential id (e.g. after revocation).
    pub fn invalidate_credential_id(&self, id: &str) {
        let id = id.to_string();
        // Only fails when closures are unsupported, which the builder enables.
        let _ = self.inner.invalidate_entries_if(
            move |_, v| matches!(&v.verdict, Verdict::Valid(i) if i.credential_id == id),
        );
        self.new_epoch();
    }

    /// Drop the entry of one credential digest, in every generation held.
    pub fn invalidate_digest(&self, digest: [u8; 32]) {
        let _ = self
            .inner
            .invalidate_entries_if(move |k, _| k.digest == digest);
        self.new_epoch();
    }

    /// Drop everything.
    pub fn invalidate_all(&self) {
        self.inner.invalidate_all();
        self.new_epoch();
    }

    /// Approximate number of entries.
    pub fn entry_count(&self) -> u64 {
        self.inner.entry_count()
    }

    /// Run pending maintenance (tests and benches).
    pub async fn sync(&self) {
        self.inner.run_pending_tasks().await;
    }
}
