//! The hot identity cache: credential digest → verdict.
//!
//! Keys are the SHA-256 of the credential plus the config's auth generation,
//! never the credential itself. Valid entries are trusted for min(configured
//! TTL less up to 10 % jitter, the credential's own expiry); invalid ones for
//! the short negative TTL, so a flood of garbage never reaches the store twice
//! per key within it. Concurrent misses (and refreshes) for one key collapse
//! into a single verification. Valid verdicts are also copied into a
//! per-thread front (`front.rs`), checked first.
//!
//! Each entry carries its own deadline, checked on read; a stale entry is
//! re-verified in place and otherwise left for size eviction. moka's
//! per-entry expiry is not used: its timer wheel removes every entry due in
//! the same ~1 s tick in one maintenance run on a request thread, and 100k
//! keys first seen together (a restart, a load test's warm-up) stalled the
//! worker for ~100 ms when they all came due. The jitter spreads such a
//! cohort's re-verifications over several seconds instead of one.

mod front;

use crate::identity::Identity;
use crate::metrics::METRICS;
use crate::store::StoreError;
use crate::verify::{unix_now, Verdict};
use arc_swap::ArcSwap;
use moka::future::Cache;
use moka::notification::RemovalCause;
use moka::ops::compute::{CompResult, Op};
use rand::Rng;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Cache key: auth generation + credential digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// [`crate::runtime::AuthRuntime::auth_generation`] at lookup time.
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
                let ms = self.positive_ms.load(Ordering::Relaxed);
                let ttl = Duration::from_millis(ms - rand::thread_rng().gen_range(0..=ms / 10));
                match id.valid_until() {
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

/// The shared cache, cheap to clone.
#[derive(Clone)]
pub struct IdentityCache {
    /// Replaced whole when a reload changes `cache.max_entries` (moka's
    /// capacity is fixed at build).
    inner: Arc<ArcSwap<Cache<CacheKey, Entry>>>,
    ttls: Arc<Ttls>,
    /// This cache's current front epoch; replaced on every invalidation.
    epoch: Arc<AtomicU64>,
}

impl std::fmt::Debug for IdentityCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityCache")
            .field("entries", &self.inner.load().entry_count())
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
        let inner = Arc::new(ArcSwap::from_pointee(build(max_entries)));
        Self {
            inner,
            ttls,
            epoch: Arc::new(AtomicU64::new(front::fresh_epoch())),
        }
    }

    /// Apply a new `max_entries` (on reload): a cache of the new size
    /// replaces the old one, whose entries are dropped (re-verified on next
    /// use). Nothing happens when the size is unchanged.
    pub fn resize(&self, max_entries: u64) {
        if self.inner.load().policy().max_capacity() == Some(max_entries) {
            return;
        }
        self.inner.store(Arc::new(build(max_entries)));
        self.new_epoch();
    }

    /// The capacity in force.
    pub fn max_entries(&self) -> Option<u64> {
        self.inner.load().policy().max_capacity()
    }

    /// The positive and negative TTLs in force.
    pub fn ttls(&self) -> (Duration, Duration) {
        (
            Duration::from_millis(self.ttls.positive_ms.load(Ordering::Relaxed)),
            Duration::from_millis(self.ttls.negative_ms.load(Ordering::Relaxed)),
        )
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

    /// The valid identity this thread's front holds for `key`, if any: the
    /// cheapest lookup, which a caller may try before checks a cached valid
    /// verdict has already passed, then go on to [`Self::shared_or_verify`].
    pub fn front_hit(&self, key: &CacheKey) -> Option<Arc<Identity>> {
        let epoch = self.epoch.load(Ordering::Acquire);
        let id = front::get(key, epoch, Instant::now())?;
        METRICS.cache_hits.inc();
        Some(id)
    }

    /// The cached verdict, or run `verify` once (concurrent callers for the
    /// same key wait for that one run) and cache its verdict: the thread's
    /// front, then [`Self::shared_or_verify`].
    pub async fn get_or_verify<F, Fut>(
        &self,
        key: CacheKey,
        verify: F,
    ) -> Result<Verdict, Arc<StoreError>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Verdict, StoreError>>,
    {
        match self.front_hit(&key) {
            Some(id) => Ok(Verdict::Valid(id)),
            None => self.shared_or_verify(key, verify).await,
        }
    }

    /// As [`Self::get_or_verify`] after a miss in the thread's front: the
    /// shared cache, else `verify`; a valid verdict is copied into the front.
    pub async fn shared_or_verify<F, Fut>(
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
        let now = Instant::now();
        // An `Arc` clone, not a guard, across the await (guards are not
        // `Send`); the front answers most lookups before this.
        let inner = self.inner.load_full();
        let entry = match inner.get(&key).await {
            Some(entry) if now < entry.deadline => {
                METRICS.cache_hits.inc();
                entry
            }
            _ => {
                METRICS.cache_misses.inc();
                self.verify_into(key, verify).await?
            }
        };
        if let Verdict::Valid(id) = &entry.verdict {
            front::put(key, epoch, entry.deadline, id.clone());
        }
        Ok(entry.verdict)
    }

    /// Verify and store the entry for `key`, unless a caller that held the
    /// key's lock first left a live one (callers for one key run one at a time).
    async fn verify_into<F, Fut>(&self, key: CacheKey, verify: F) -> Result<Entry, Arc<StoreError>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Verdict, StoreError>>,
    {
        let ttls = self.ttls.clone();
        let inner = self.inner.load_full();
        let computed = inner
            .entry(key)
            .and_try_compute_with(|current| async move {
                if let Some(current) = current {
                    if Instant::now() < current.value().deadline {
                        return Ok(Op::Nop);
                    }
                }
                let verdict = verify().await?;
                let deadline = Instant::now() + ttls.of(&verdict);
                Ok::<_, StoreError>(Op::Put(Entry { verdict, deadline }))
            })
            .await
            .map_err(Arc::new)?;
        match computed {
            CompResult::Inserted(e) | CompResult::ReplacedWith(e) | CompResult::Unchanged(e) => {
                Ok(e.into_value())
            }
            // Only `Nop` on a live entry or `Put` are ever returned above.
            CompResult::StillNone(_) | CompResult::Removed(_) => Err(Arc::new(
                StoreError::corrupt("identity cache: entry vanished while verifying"),
            )),
        }
    }

    /// Make every per-thread front slot of this cache stale.
    fn new_epoch(&self) {
        self.epoch.store(front::fresh_epoch(), Ordering::Release);
    }

    /// Drop every entry for a credential id (e.g. after revocation).
    pub fn invalidate_credential_id(&self, id: &str) {
        let id = id.to_string();
        // Only fails when closures are unsupported, which the builder enables.
        let _ = self.inner.load().invalidate_entries_if(
            move |_, v| matches!(&v.verdict, Verdict::Valid(i) if i.credential_id == id),
        );
        self.new_epoch();
    }

    /// Drop the entry of one credential digest, in every generation held.
    pub fn invalidate_digest(&self, digest: [u8; 32]) {
        let _ = self
            .inner
            .load()
            .invalidate_entries_if(move |k, _| k.digest == digest);
        self.new_epoch();
    }

    /// Drop everything.
    pub fn invalidate_all(&self) {
        self.inner.load().invalidate_all();
        self.new_epoch();
    }

    /// Approximate number of entries.
    pub fn entry_count(&self) -> u64 {
        self.inner.load().entry_count()
    }

    /// Run pending maintenance (tests and benches).
    pub async fn sync(&self) {
        let inner = self.inner.load_full();
        inner.run_pending_tasks().await;
    }
}

/// A moka cache of `max_entries`, counting size evictions.
fn build(max_entries: u64) -> Cache<CacheKey, Entry> {
    Cache::builder()
        .max_capacity(max_entries)
        .support_invalidation_closures()
        .eviction_listener(|_k, _v, cause| {
            if cause == RemovalCause::Size {
                METRICS.cache_evictions.inc();
            }
        })
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_ttls_are_jittered_down_by_at_most_a_tenth() {
        let ttls = Ttls {
            positive_ms: AtomicU64::new(60_000),
            negative_ms: AtomicU64::new(5_000),
        };
        let valid = Verdict::Valid(front::tests::identity("k"));
        let seen: std::collections::HashSet<Duration> = (0..200).map(|_| ttls.of(&valid)).collect();
        assert!(
            seen.iter()
                .all(|t| (Duration::from_secs(54)..=Duration::from_secs(60)).contains(t)),
            "{seen:?}"
        );
        assert!(seen.len() > 1, "no jitter: {seen:?}");
        assert_eq!(
            ttls.of(&Verdict::Invalid("unknown")),
            Duration::from_secs(5)
        );
        ttls.positive_ms.store(0, Ordering::Relaxed);
        assert_eq!(ttls.of(&valid), Duration::ZERO);
    }
}
