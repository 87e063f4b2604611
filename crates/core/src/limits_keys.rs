//! Limits a key record carries itself, set through the admin API (or a
//! config `[[keys]]` entry): its own rate limit, and whether it has a usage
//! quota.
//!
//! - A key's rate limit ([`KeyRate`]) counts the key's requests like a
//!   configured limit keyed by `credential`, under the policy name `key`.
//!   Keys with the same (rate, period, burst) share one limiter, created on
//!   first use ([`PerKeyLimits`]); each key has its own bucket in it. With
//!   a shared backend (Redis) the limiters are global, with the same leases
//!   as configured global limits.
//! - A usage quota is a number of uses left, kept in the store and spent
//!   one per admitted request there, atomically across instances (the
//!   store's [`crate::store::Store::spend_quota`]); the record only says
//!   that the key has one, so a key without one costs nothing.

use crate::error::Refusal;
use crate::identity::Identity;
use crate::limits::{Limit, LimitKey, LimitSpec, Verdict};
use crate::limits_global::{GlobalLimit, GlobalVerdict, OutagePolicy, SharedBuckets};
use crate::metrics::METRICS;
use crate::runtime::AuthRuntime;
use dashmap::DashMap;
use std::sync::Arc;
use std::time::Duration;

/// The policy name of every key's own limit (`RateLimit-Policy: "key"`).
pub const KEY_POLICY: &str = "key";

/// A key's own rate limit: `rate` requests per `per`, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyRate {
    /// Requests per `per`, sustained (at least 1).
    pub rate: u32,
    /// The period of `rate`.
    pub per: Duration,
    /// Requests allowed at once (at least 1).
    pub burst: u32,
}

impl KeyRate {
    /// The limit spec it counts under (keyed by credential).
    pub fn spec(&self) -> LimitSpec {
        LimitSpec {
            name: KEY_POLICY.into(),
            key: LimitKey::Credential,
            rate: self.rate.max(1),
            per: self.per,
            burst: self.burst.max(1),
            routes: Vec::new(),
            kinds: Vec::new(),
        }
    }
}

/// What a key record carries of its own limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyLimits {
    /// Its own rate limit.
    pub rate: Option<KeyRate>,
    /// Whether it has a usage quota (spent in the store).
    pub quota: bool,
}

/// The outcome of spending one use of a key's quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaSpend {
    /// Spent; this many uses are left.
    Spent(i64),
    /// None left; when the quota refills next, if it does (Unix seconds).
    Exhausted(Option<i64>),
    /// The key has no quota (any more): nothing to spend.
    Unlimited,
}

/// One limiter per distinct [`KeyRate`], local or global.
enum Limiter {
    Local(Limit),
    Global(GlobalLimit),
}

/// The limiters of keys' own rate limits.
pub struct PerKeyLimits {
    shared: Option<(Arc<dyn SharedBuckets>, OutagePolicy)>,
    limiters: DashMap<KeyRate, Arc<Limiter>>,
}

impl std::fmt::Debug for PerKeyLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerKeyLimits")
            .field("global", &self.shared.is_some())
            .field("limiters", &self.limiters.len())
            .finish()
    }
}

impl PerKeyLimits {
    /// Limiters in this instance's memory.
    pub fn local() -> Self {
        Self {
            shared: None,
            limiters: DashMap::new(),
        }
    }

    /// Limiters on a shared backend, following `outage` while it is down.
    pub fn global(backend: Arc<dyn SharedBuckets>, outage: OutagePolicy) -> Self {
        Self {
            shared: Some((backend, outage)),
            limiters: DashMap::new(),
        }
    }

    /// Count one request of credential `id` under its own `rate`;
    /// `None` when the backend is down and its policy is to refuse.
    pub fn check(&self, id: &str, rate: KeyRate) -> Option<Verdict> {
        let limiter = match self.limiters.get(&rate) {
            Some(l) => l.clone(),
            None => {
                let made = match &self.shared {
                    None => Limiter::Local(Limit::new(rate.spec())?),
                    Some((backend, outage)) => {
                        Limiter::Global(GlobalLimit::new(rate.spec(), *outage, backend.clone())?)
                    }
                };
                self.limiters
                    .entry(rate)
                    .or_insert_with(|| Arc::new(made))
                    .clone()
            }
        };
        match &*limiter {
            Limiter::Local(l) => Some(l.check(id)),
            Limiter::Global(g) => match g.check(id) {
                GlobalVerdict::Limit(v) => Some(v),
                GlobalVerdict::Unavailable => None,
            },
        }
    }
}

/// Spend one use of `identity`'s usage quota, when it has one: the last
/// check before forwarding, so only a request every other check admitted
/// spends. Exhausted is 429 `quota_exhausted` (with `Retry-After` until the
/// refill, when there is one); a store that cannot answer is 503, never a
/// pass.
pub async fn spend_quota(rt: &AuthRuntime, identity: &Identity) -> Result<(), Refusal> {
    if !identity.limits.quota {
        return Ok(());
    }
    let at = crate::verify::unix_now() as i64;
    let spent = crate::store::spend_quota(
        rt.store.as_ref(),
        &identity.credential_id,
        at,
        rt.store_timeout,
    )
    .await;
    let outcome = |o: &str| METRICS.quota_spends.with_label_values(&[o]).inc();
    match spent {
        Ok(QuotaSpend::Spent(_)) | Ok(QuotaSpend::Unlimited) => {
            outcome("spent");
            Ok(())
        }
        Ok(QuotaSpend::Exhausted(next)) => {
            outcome("exhausted");
            Err(Refusal::QuotaExhausted {
                retry_after: next.map(|n| n.saturating_sub(at).max(1) as u64),
            })
        }
        Err(e) => {
            outcome("unavailable");
            tracing::warn!(error = %e, credential_id = %identity.credential_id, "usage quota: store unavailable; refused");
            Err(Refusal::StoreUnavailable)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_with_the_same_limit_share_a_limiter_but_not_a_bucket() {
        let l = PerKeyLimits::local();
        let r = KeyRate {
            rate: 1,
            per: Duration::from_secs(60),
            burst: 2,
        };
        assert_eq!(l.check("a", r), Some(Verdict::Allowed(1)));
        assert_eq!(l.check("a", r), Some(Verdict::Allowed(0)));
        assert!(matches!(l.check("a", r), Some(Verdict::Refused(_))));
        assert_eq!(l.check("b", r), Some(Verdict::Allowed(1)), "b has its own");
        // Another limit for `a` (changed by an admin) starts afresh.
        let other = KeyRate { burst: 3, ..r };
        assert_eq!(l.check("a", other), Some(Verdict::Allowed(2)));
        assert_eq!(l.limiters.len(), 2);
    }
}
