//! Replay: each signature is accepted once while its stamp could still pass
//! the freshness check.
//!
//! The guard remembers [`Stamp::replay_digest`]: SHA-256 over the scheme and
//! the signature in its one normal form (`r ‖ low-S` for ECDSA, `R ‖ S` for
//! ed25519). A malleated ECDSA twin (`s → n - s`), another DER spelling or
//! another hex case of the same signature therefore counts as the same stamp.
//!
//! Lifetime: a stamp passes freshness while `ts - leeway <= now <= ts +
//! window + leeway`, a span of `window + 2·leeway`; an entry must live that
//! long, or a stamp first used early (dated up to `leeway` ahead) could be
//! replayed late. [`ReplayGuard::for_window`] sets that TTL.
//!
//! Capacity: size it for the peak rate of accepted stamps times the TTL.
//! When full, the least recently inserted entries go first (LRU, so a burst
//! of new stamps is always remembered), and
//! [`ReplayGuard::evicted_before_expiry`] counts entries dropped before their
//! TTL — any such count means old stamps could be replayed; alert on it.

use super::{Stamp, StampError};
use moka::notification::RemovalCause;
use moka::policy::EvictionPolicy;
use moka::sync::Cache;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Remembers used signatures for a fixed time. Cheap to clone (shared state).
#[derive(Clone)]
pub struct ReplayGuard {
    seen: Cache<[u8; 32], ()>,
    evicted: Arc<AtomicU64>,
    ttl: Duration,
    capacity: u64,
}

impl fmt::Debug for ReplayGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplayGuard")
            .field("ttl", &self.ttl)
            .field("entries", &self.seen.entry_count())
            .finish()
    }
}

impl ReplayGuard {
    /// A guard whose entries live `ttl`, holding at most `capacity` entries.
    pub fn new(ttl: Duration, capacity: u64) -> Self {
        let evicted = Arc::new(AtomicU64::new(0));
        let counter = evicted.clone();
        let seen = Cache::builder()
            .max_capacity(capacity)
            .time_to_live(ttl)
            .eviction_policy(EvictionPolicy::lru())
            .eviction_listener(move |_k, _v, cause| {
                if cause == RemovalCause::Size {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            })
            .build();
        Self {
            seen,
            evicted,
            ttl,
            capacity,
        }
    }

    /// The guard a reload with these settings should use: this one when they
    /// are unchanged, else a new guard that starts with every signature this
    /// one remembers (each for the new TTL from now: longer than needed,
    /// never shorter, so no stamp seen before the reload can be replayed).
    pub fn with_settings(&self, ttl: Duration, capacity: u64) -> Self {
        if ttl == self.ttl && capacity == self.capacity {
            return self.clone();
        }
        let next = Self::new(ttl, capacity);
        for (digest, ()) in self.seen.iter() {
            next.seen.insert(*digest, ());
        }
        next
    }

    /// The most entries held.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// A guard matching a freshness window: TTL = `window + 2·leeway`.
    pub fn for_window(window: Duration, leeway: Duration, capacity: u64) -> Self {
        Self::new(window.saturating_add(leeway.saturating_mul(2)), capacity)
    }

    /// The entry lifetime.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Accept `stamp` if its signature was not seen within the TTL, and
    /// remember it. Atomic: of concurrent calls with one signature, exactly
    /// one succeeds.
    pub fn check_and_remember(&self, stamp: &Stamp) -> Result<(), StampError> {
        self.check_and_remember_digest(stamp.replay_digest())
    }

    /// [`ReplayGuard::check_and_remember`] for a precomputed
    /// [`Stamp::replay_digest`].
    pub fn check_and_remember_digest(&self, digest: [u8; 32]) -> Result<(), StampError> {
        // `or_insert_with` runs the initialiser for exactly one caller per
        // absent key; every other (concurrent or later) caller sees an entry
        // that is not fresh.
        if self.seen.entry(digest).or_insert_with(|| ()).is_fresh() {
            Ok(())
        } else {
            Err(StampError::Replayed)
        }
    }

    /// Approximate number of remembered signatures.
    pub fn entry_count(&self) -> u64 {
        self.seen.entry_count()
    }

    /// Entries dropped for capacity before their TTL ran out.
    pub fn evicted_before_expiry(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    /// Run pending maintenance (expiry, eviction); for tests and metrics.
    pub fn run_pending_tasks(&self) {
        self.seen.run_pending_tasks();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;

    #[test]
    fn second_use_is_replayed() {
        let g = ReplayGuard::new(Duration::from_secs(60), 100);
        assert_eq!(g.check_and_remember_digest([1; 32]), Ok(()));
        assert_eq!(
            g.check_and_remember_digest([1; 32]),
            Err(StampError::Replayed)
        );
        assert_eq!(g.check_and_remember_digest([2; 32]), Ok(()));
    }

    #[test]
    fn new_settings_keep_what_was_seen() {
        let g = ReplayGuard::new(Duration::from_secs(60), 100);
        assert_eq!(g.check_and_remember_digest([7; 32]), Ok(()));
        let same = g.with_settings(Duration::from_secs(60), 100);
        assert_eq!(same.check_and_remember_digest([8; 32]), Ok(()));
        assert_eq!(
            g.check_and_remember_digest([8; 32]),
            Err(StampError::Replayed),
            "unchanged settings share one memory"
        );
        let bigger = g.with_settings(Duration::from_secs(120), 1000);
        assert_eq!(
            (bigger.ttl(), bigger.capacity()),
            (Duration::from_secs(120), 1000)
        );
        for seen in [[7; 32], [8; 32]] {
            assert_eq!(
                bigger.check_and_remember_digest(seen),
                Err(StampError::Replayed)
            );
        }
        assert_eq!(bigger.check_and_remember_digest([9; 32]), Ok(()));
    }

    #[test]
    fn ttl_covers_window_and_both_leeways() {
        let g = ReplayGuard::for_window(Duration::from_secs(300), Duration::from_secs(30), 10);
        assert_eq!(g.ttl(), Duration::from_secs(360));
    }

    #[test]
    fn entries_expire() {
        let g = ReplayGuard::new(Duration::from_millis(50), 100);
        assert_eq!(g.check_and_remember_digest([3; 32]), Ok(()));
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(g.check_and_remember_digest([3; 32]), Ok(()));
    }

    #[test]
    fn concurrent_uses_admit_exactly_one() {
        for round in 0..20u8 {
            let g = ReplayGuard::new(Duration::from_secs(60), 1000);
            let threads = 8;
            let barrier = Arc::new(Barrier::new(threads));
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    let (g, barrier) = (g.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        g.check_and_remember_digest([round; 32]).is_ok()
                    })
                })
                .collect();
            let admitted = handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .filter(|ok| *ok)
                .count();
            assert_eq!(admitted, 1, "round {round}");
        }
    }

    #[test]
    fn capacity_evictions_are_counted() {
        let g = ReplayGuard::new(Duration::from_secs(60), 10);
        for i in 0..50u8 {
            let _ = g.check_and_remember_digest([i; 32]);
        }
        g.run_pending_tasks();
        assert!(g.entry_count() <= 10, "{}", g.entry_count());
        assert!(
            g.evicted_before_expiry() >= 40,
            "{}",
            g.evicted_before_expiry()
        );
        // LRU keeps the newest
        assert_eq!(
            g.check_and_remember_digest([49; 32]),
            Err(StampError::Replayed)
        );
    }
}
