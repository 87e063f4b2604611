//! A per-thread front for positive verdicts: a direct-mapped table of the
//! identities this worker thread served recently, consulted before the
//! shared cache.
//!
//! A hit costs an index, a key compare and a clock read, where the shared
//! cache costs a concurrent-map lookup plus read bookkeeping. A slot is used
//! only while the shared entry it was copied from is alive: it keeps that
//! entry's deadline, and the epoch of its cache at the time it was read.
//! Every invalidation moves its cache to a fresh, process-unique epoch, so
//! older slots (and slots of any other cache in the process) never match.
//! Only valid verdicts are kept here; refusals stay in the shared cache.

use super::CacheKey;
use crate::identity::Identity;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Slots per thread (a power of two). About 80 bytes each.
const SLOTS: usize = 4096;

static NEXT_EPOCH: AtomicU64 = AtomicU64::new(1);

/// A process-unique epoch, never handed out twice.
pub(super) fn fresh_epoch() -> u64 {
    NEXT_EPOCH.fetch_add(1, Ordering::Relaxed)
}

struct Slot {
    key: CacheKey,
    epoch: u64,
    deadline: Instant,
    identity: Arc<Identity>,
}

thread_local! {
    static FRONT: RefCell<Vec<Option<Slot>>> = const { RefCell::new(Vec::new()) };
}

fn index(key: &CacheKey) -> usize {
    let mut head = [0u8; 8];
    head.copy_from_slice(&key.digest[..8]);
    (u64::from_le_bytes(head) ^ key.generation) as usize & (SLOTS - 1)
}

/// The identity cached for `key` under `epoch`, if still alive at `now`.
pub(super) fn get(key: &CacheKey, epoch: u64, now: Instant) -> Option<Arc<Identity>> {
    FRONT.with(|front| {
        let front = front.try_borrow().ok()?;
        let slot = front.get(index(key))?.as_ref()?;
        (slot.epoch == epoch && slot.key == *key && now < slot.deadline)
            .then(|| slot.identity.clone())
    })
}

/// Remember `identity` for `key` until `deadline`, stamped with the epoch
/// read before the shared cache was consulted.
pub(super) fn put(key: CacheKey, epoch: u64, deadline: Instant, identity: Arc<Identity>) {
    FRONT.with(|front| {
        let Ok(mut front) = front.try_borrow_mut() else {
            return;
        };
        if front.is_empty() {
            front.resize_with(SLOTS, || None);
        }
        let i = index(&key);
        if let Some(slot) = front.get_mut(i) {
            *slot = Some(Slot {
                key,
                epoch,
                deadline,
                identity,
            });
        }
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::credential::CredentialKind;
    use std::time::Duration;

    /// A minimal identity with credential id `id`.
    pub(in crate::cache) fn identity(id: &str) -> Arc<Identity> {
        Arc::new(Identity {
            subject: "s".into(),
            workspace: None,
            scopes: vec![],
            kind: CredentialKind::ApiKey,
            credential_id: id.into(),
            expires_at: None,
            allow: vec![],
            usage: None,
            platform_wide: false,
            scoped: false,
            scheme: None,
            grace: 0,
            minted: None,
            limits: Default::default(),
            rendered: Default::default(),
        })
    }

    #[test]
    fn hits_only_for_the_same_key_epoch_and_before_the_deadline() {
        let now = Instant::now();
        let key = CacheKey {
            generation: 1,
            digest: [7; 32],
        };
        let epoch = fresh_epoch();
        assert!(get(&key, epoch, now).is_none());
        put(key, epoch, now + Duration::from_secs(5), identity("a"));
        let hit = get(&key, epoch, now).expect("hit");
        assert_eq!(hit.credential_id, "a");
        // Another epoch (an invalidation, or another cache) never matches.
        assert!(get(&key, fresh_epoch(), now).is_none());
        // Past the shared entry's deadline.
        assert!(get(&key, epoch, now + Duration::from_secs(5)).is_none());
        // Same slot, other digest or generation: a miss, not the other identity.
        let mut other = key;
        other.generation = 2;
        assert!(get(&other, epoch, now).is_none());
        let mut collide = key;
        collide.digest[31] = 8; // same first 8 bytes: same slot
        assert_eq!(index(&collide), index(&key));
        assert!(get(&collide, epoch, now).is_none());
        put(collide, epoch, now + Duration::from_secs(5), identity("b"));
        assert_eq!(get(&collide, epoch, now).unwrap().credential_id, "b");
        assert!(get(&key, epoch, now).is_none(), "evicted by the collision");
    }
}
