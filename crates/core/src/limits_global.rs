//! Global rate limits: one limit shared by every instance of a fleet, kept
//! in a remote token bucket ([`SharedBuckets`]; Redis in the proxy) and
//! spent through **leases**, so the request path never waits for a round
//! trip.
//!
//! Each instance holds, per limited key, a small local balance of tokens
//! taken from the shared bucket. A request spends one locally; when the
//! balance runs low a background task takes the next batch, sized from the
//! rate this instance sees for the key (about [`LEASE_AHEAD`] of it,
//! between [`min_batch`] and [`max_batch`]), so a key far below its limit
//! does not cost a Redis call per request. Tokens a lease holds beyond a
//! minimal batch are dropped once the key has been idle for as long as its
//! bucket takes to refill. The shared bucket grants at most what it holds, so
//! the fleet as a whole never admits more than the bucket's rate and burst;
//! what a lease can cost is the other way round, tokens an instance took
//! but did not spend (at most one batch per instance per key). When the
//! bucket is empty it answers how long until the next token, and the
//! instance refuses locally until then without asking again. An instance
//! without tokens whose bucket is not known to be empty (a key it has not
//! seen, or requests faster than a batch comes back) admits up to
//! [`CREDIT`] requests on credit, repaid from the next batch, so a new key
//! is never refused for want of a lease; that is all a fleet can admit
//! beyond the bucket (per key and instance).
//!
//! When the shared bucket cannot be reached (an error or no answer within
//! the backend's timeout), each limit does what its [`OutagePolicy`] says
//! until a probe (one per second) succeeds: enforce the limit locally, per
//! instance (the default), admit, or refuse with 503. Each transition is
//! logged once and counted; `authgate_rate_limit_backend_up` shows the state.

use crate::limits::{Limit, LimitSpec, Verdict};
use crate::metrics::METRICS;
use async_trait::async_trait;
use dashmap::DashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How far ahead a lease reaches: a batch is about this long of the rate
/// this instance sees for the key.
pub const LEASE_AHEAD: Duration = Duration::from_millis(50);

/// Keys held before idle ones are dropped.
const RETAIN_AT: usize = 100_000;

/// Requests an instance may admit for a key on credit while it has no
/// tokens and the bucket is not known to be empty (repaid from the next
/// batch): what the fleet may admit beyond the bucket, per key per
/// instance.
pub const CREDIT: i64 = 2;

/// What the shared bucket answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// Tokens granted (at most what was asked).
    pub granted: u32,
    /// When fewer than asked: how long until the next token.
    pub wait: Duration,
}

/// A token bucket shared by the fleet: `rate` per `per`, `burst` at most.
#[async_trait]
pub trait SharedBuckets: Send + Sync + std::fmt::Debug {
    /// Take up to `want` tokens from bucket `key`, atomically.
    async fn take(&self, key: &str, want: u32, spec: &LimitSpec) -> Result<Grant, String>;
}

/// What a global limit does while its shared bucket cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutagePolicy {
    /// Enforce the limit on each instance alone (the fleet may then admit
    /// up to the limit times the number of instances).
    Local,
    /// Admit (fail open).
    Open,
    /// Refuse with 503 (fail closed).
    Closed,
}

impl OutagePolicy {
    /// Parse the config spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "local" => Some(Self::Local),
            "open" => Some(Self::Open),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }
}

/// A global limit's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlobalVerdict {
    /// As a local limit would answer (allowed or refused).
    Limit(Verdict),
    /// The shared bucket is unreachable and the policy is to refuse.
    Unavailable,
}

/// The largest batch a lease takes for `spec`: a quarter of the burst (so
/// several instances can hold leases at once), at least one.
pub fn max_batch(spec: &LimitSpec) -> u32 {
    (spec.burst / 4).max(1)
}

/// The smallest batch a lease takes for `spec`: 1/64 of the burst, at
/// least one (what an instance may strand of a key it stops seeing).
pub fn min_batch(spec: &LimitSpec) -> u32 {
    (spec.burst / 64).max(1)
}

/// How long the bucket of `spec` takes to refill from empty.
fn refill_time(spec: &LimitSpec) -> Duration {
    spec.per
        .mul_f64(f64::from(spec.burst.max(1)) / f64::from(spec.rate.max(1)))
}

#[derive(Debug)]
struct Lease {
    /// Local balance; negative while credit is owed.
    tokens: i64,
    /// A batch is being taken.
    pending: bool,
    /// The bucket is empty until then.
    blocked_until: Option<Instant>,
    /// Requests seen since `since` (the rate estimate).
    seen: u32,
    since: Instant,
    /// Requests per second seen, last estimate.
    rate: f64,
    last_used: Instant,
}

impl Lease {
    fn new(now: Instant) -> Self {
        Self {
            tokens: 0,
            pending: false,
            blocked_until: None,
            seen: 0,
            since: now,
            rate: 0.0,
            last_used: now,
        }
    }

    /// What this instance will spend of the key in [`LEASE_AHEAD`] at the
    /// rate it sees (the last estimate, or the current one once 10 ms old
    /// if higher), at least one.
    fn need(&self, now: Instant) -> u32 {
        let elapsed = now.duration_since(self.since);
        let current = if elapsed >= Duration::from_millis(10) {
            f64::from(self.seen) / elapsed.as_secs_f64()
        } else {
            0.0
        };
        ((self.rate.max(current) * LEASE_AHEAD.as_secs_f64()).ceil() as u32).max(1)
    }

    /// How many tokens to ask for: the need within `(min, max)`, plus what
    /// is owed.
    fn want(&self, (min, max): (u32, u32), now: Instant) -> u32 {
        self.need(now).clamp(min, max) + self.tokens.min(0).unsigned_abs() as u32
    }

    fn observe(&mut self, now: Instant) {
        self.seen += 1;
        self.last_used = now;
        let elapsed = now.duration_since(self.since);
        if elapsed >= Duration::from_millis(100) {
            self.rate = f64::from(self.seen) / elapsed.as_secs_f64();
            self.seen = 0;
            self.since = now;
        }
    }
}

/// Whether the shared bucket answers, with the transitions logged once.
#[derive(Debug)]
struct Health {
    up: AtomicBool,
    /// Milliseconds since `epoch` of the last probe while down.
    last_probe: AtomicU64,
    epoch: Instant,
}

impl Health {
    fn set(&self, up: bool, limit: &str, error: Option<&str>) {
        if self.up.swap(up, Ordering::Relaxed) != up {
            let state = if up { "up" } else { "down" };
            METRICS
                .rate_limit_backend_transitions
                .with_label_values(&[limit, state])
                .inc();
            METRICS
                .rate_limit_backend_up
                .with_label_values(&[limit])
                .set(i64::from(up));
            if up {
                tracing::warn!(
                    limit,
                    "rate limit backend reachable again: global limit restored"
                );
            } else {
                tracing::warn!(
                    limit,
                    error = error.unwrap_or(""),
                    "rate limit backend unreachable: outage policy in force until it answers"
                );
            }
        }
    }

    /// Whether a probe may go now (one per second while down).
    fn probe_due(&self) -> bool {
        let now = self.epoch.elapsed().as_millis() as u64;
        let last = self.last_probe.load(Ordering::Relaxed);
        now.saturating_sub(last) >= 1000
            && self
                .last_probe
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

/// One global limit with its leases.
pub struct GlobalLimit {
    /// As configured.
    pub spec: LimitSpec,
    /// What to do while the shared bucket is unreachable.
    pub outage: OutagePolicy,
    backend: Arc<dyn SharedBuckets>,
    fallback: Limit,
    leases: DashMap<String, Arc<Mutex<Lease>>>,
    health: Arc<Health>,
}

impl std::fmt::Debug for GlobalLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalLimit")
            .field("spec", &self.spec)
            .field("outage", &self.outage)
            .finish_non_exhaustive()
    }
}

impl GlobalLimit {
    /// A global limit over `backend`; `None` when the spec has no valid
    /// quota.
    pub fn new(
        spec: LimitSpec,
        outage: OutagePolicy,
        backend: Arc<dyn SharedBuckets>,
    ) -> Option<Self> {
        let fallback = Limit::new(spec.clone())?;
        METRICS
            .rate_limit_backend_up
            .with_label_values(&[&spec.name])
            .set(1);
        Some(Self {
            spec,
            outage,
            backend,
            fallback,
            leases: DashMap::new(),
            health: Arc::new(Health {
                up: AtomicBool::new(true),
                last_probe: AtomicU64::new(0),
                epoch: Instant::now(),
            }),
        })
    }

    /// Count one request for `key`.
    pub fn check(&self, key: &str) -> GlobalVerdict {
        let now = Instant::now();
        if !self.health.up.load(Ordering::Relaxed) {
            if self.health.probe_due() {
                let lease = self.lease(key, now);
                self.fetch(key, lease, 1);
            }
            return match self.outage {
                OutagePolicy::Local => GlobalVerdict::Limit(self.fallback.check(key)),
                OutagePolicy::Open => GlobalVerdict::Limit(Verdict::Allowed(0)),
                OutagePolicy::Closed => GlobalVerdict::Unavailable,
            };
        }
        let lease = self.lease(key, now);
        let Ok(mut l) = lease.lock() else {
            return GlobalVerdict::Unavailable;
        };
        // Tokens held across a refill would add to the bucket's next burst:
        // keep at most a minimal batch of them (a slow key then needs no
        // call per request, and a burst after a pause exceeds the bucket's
        // by at most 1/64 per instance).
        let bounds = (min_batch(&self.spec), max_batch(&self.spec));
        let floor = i64::from(bounds.0);
        if l.tokens > floor && now.duration_since(l.last_used) > refill_time(&self.spec) {
            l.tokens = floor;
        }
        l.observe(now);
        if l.tokens > 0 {
            l.tokens -= 1;
            let left = l.tokens;
            // Low water: what the next LEASE_AHEAD needs is all that is
            // left (at most one batch), take the next batch now.
            if !l.pending && left <= i64::from(l.need(now).min(bounds.1)) {
                let want = l.want(bounds, now);
                l.pending = true;
                drop(l);
                self.fetch(key, lease, want);
            }
            return GlobalVerdict::Limit(Verdict::Allowed(left as u32));
        }
        if let Some(until) = l.blocked_until {
            if now < until {
                return GlobalVerdict::Limit(Verdict::Refused(until - now));
            }
            l.blocked_until = None;
        }
        // Out of tokens, and the bucket not known to be empty (a new key,
        // or a batch slower than the requests): admitted on credit, repaid
        // from the next batch, at most CREDIT deep.
        let credit = l.tokens > -CREDIT;
        if credit {
            l.tokens -= 1;
        }
        if !l.pending {
            let want = l.want(bounds, now);
            l.pending = true;
            drop(l);
            self.fetch(key, lease, want);
        }
        if credit {
            GlobalVerdict::Limit(Verdict::Allowed(0))
        } else {
            GlobalVerdict::Limit(Verdict::Refused(Duration::from_millis(1)))
        }
    }

    fn lease(&self, key: &str, now: Instant) -> Arc<Mutex<Lease>> {
        if let Some(l) = self.leases.get(key) {
            return l.clone();
        }
        if self.leases.len() >= RETAIN_AT {
            let idle = Duration::from_secs(60);
            self.leases.retain(|_, l| {
                l.lock()
                    .map(|l| l.pending || now.duration_since(l.last_used) < idle)
                    .unwrap_or(false)
            });
        }
        self.leases
            .entry(key.to_string())
            .or_insert_with(|| Arc::new(Mutex::new(Lease::new(now))))
            .clone()
    }

    /// Take `want` tokens for `key` in the background; the lease is
    /// credited when the answer comes. Outside a runtime (never on the
    /// proxy's path) the backend counts as down.
    fn fetch(&self, key: &str, lease: Arc<Mutex<Lease>>, want: u32) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            self.health
                .set(false, &self.spec.name, Some("no async runtime"));
            return;
        };
        let backend = self.backend.clone();
        let health = self.health.clone();
        let spec = self.spec.clone();
        let key = key.to_string();
        rt.spawn(async move {
            let answer = backend.take(&key, want, &spec).await;
            METRICS
                .rate_limit_backend_calls
                .with_label_values(&[
                    spec.name.as_str(),
                    if answer.is_ok() { "ok" } else { "error" },
                ])
                .inc();
            let Ok(mut l) = lease.lock() else { return };
            l.pending = false;
            match answer {
                Ok(g) => {
                    l.tokens += i64::from(g.granted);
                    if g.granted < want && l.tokens <= 0 {
                        l.blocked_until = Some(Instant::now() + g.wait);
                    }
                    drop(l);
                    health.set(true, &spec.name, None);
                }
                Err(e) => {
                    drop(l);
                    health.set(false, &spec.name, Some(&e));
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    //! The lease logic over an in-process bucket (Redis itself is tested
    //! end to end in `tests/global_limits_e2e.rs`).
    use super::*;
    use crate::limits::LimitKey;

    /// A bucket that never refills, or that always fails.
    #[derive(Debug)]
    struct Bucket {
        tokens: Mutex<u32>,
        fail: AtomicBool,
        calls: AtomicU64,
    }

    #[async_trait]
    impl SharedBuckets for Bucket {
        async fn take(&self, _key: &str, want: u32, _spec: &LimitSpec) -> Result<Grant, String> {
            self.calls.fetch_add(1, Ordering::Relaxed);
            if self.fail.load(Ordering::Relaxed) {
                return Err("down".into());
            }
            let mut t = self.tokens.lock().map_err(|_| "poisoned")?;
            let granted = want.min(*t);
            *t -= granted;
            Ok(Grant {
                granted,
                wait: Duration::from_secs(3600),
            })
        }
    }

    fn limit(tokens: u32, outage: OutagePolicy) -> (Arc<Bucket>, GlobalLimit) {
        let bucket = Arc::new(Bucket {
            tokens: Mutex::new(tokens),
            fail: AtomicBool::new(false),
            calls: AtomicU64::new(0),
        });
        let spec = LimitSpec {
            name: format!("unit-{tokens}-{outage:?}"),
            key: LimitKey::Credential,
            rate: 1,
            per: Duration::from_secs(3600),
            burst: 40,
            routes: vec![],
            kinds: vec![],
        };
        let l = GlobalLimit::new(spec, outage, bucket.clone()).unwrap();
        (bucket, l)
    }

    /// Check `n` times, letting background leases land in between.
    async fn run(l: &GlobalLimit, key: &str, n: usize) -> usize {
        let mut allowed = 0;
        for _ in 0..n {
            if matches!(l.check(key), GlobalVerdict::Limit(Verdict::Allowed(_))) {
                allowed += 1;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        allowed
    }

    #[tokio::test]
    async fn the_fleet_admits_what_the_bucket_grants_credit_repaid() {
        let (bucket, l) = limit(25, OutagePolicy::Local);
        let allowed = run(&l, "k", 100).await;
        assert_eq!(allowed, 25, "the bucket's 25 (the credit repaid)");
        // Refused locally once the bucket said it is empty: no call per
        // request.
        let calls = bucket.calls.load(Ordering::Relaxed);
        assert_eq!(run(&l, "k", 50).await, 0);
        assert_eq!(bucket.calls.load(Ordering::Relaxed), calls);
        // Batches, not one call per token.
        assert!(calls < 25, "{calls} calls for 25 tokens");
    }

    #[tokio::test]
    async fn a_slow_key_takes_batches_and_stale_tokens_are_dropped() {
        let (bucket, mut l) = limit(1000, OutagePolicy::Local);
        // A burst of 640: batches of at least 10 even for a slow key.
        l.spec.burst = 640;
        l.spec.per = Duration::from_millis(30);
        l.spec.rate = 640;
        for _ in 0..8 {
            assert!(matches!(
                l.check("k"),
                GlobalVerdict::Limit(Verdict::Allowed(_))
            ));
            tokio::time::sleep(Duration::from_millis(15)).await;
        }
        // The first batch, and the one taken at low water: not one a request.
        assert_eq!(bucket.calls.load(Ordering::Relaxed), 2);
        let held = l.leases.get("k").map(|e| e.lock().unwrap().tokens).unwrap();
        assert!(held > 11, "{held}");
        // Idle for longer than a refill (30 ms): no more than a minimal
        // batch (10) is kept.
        tokio::time::sleep(Duration::from_millis(60)).await;
        l.check("k");
        let held = l.leases.get("k").map(|e| e.lock().unwrap().tokens).unwrap();
        assert!(held < 10, "{held}");
    }

    #[tokio::test]
    async fn an_empty_bucket_costs_at_most_the_credit() {
        let (_, l) = limit(0, OutagePolicy::Local);
        for key in ["k", "other"] {
            // One on credit; a second only if it came before the answer.
            let allowed = run(&l, key, 20).await;
            assert!((1..=CREDIT as usize).contains(&allowed), "{allowed}");
        }
    }

    #[tokio::test]
    async fn an_outage_applies_the_policy_until_a_probe_succeeds() {
        for (outage, want) in [
            (OutagePolicy::Open, Some(30)),
            (OutagePolicy::Closed, None),
            (OutagePolicy::Local, Some(40)),
        ] {
            let (bucket, l) = limit(1000, outage);
            bucket.fail.store(true, Ordering::Relaxed);
            run(&l, "k", 3).await;
            assert!(!l.health.up.load(Ordering::Relaxed), "{outage:?}");
            let mut allowed = 0;
            let mut unavailable = 0;
            for _ in 0..30 {
                match l.check("k") {
                    GlobalVerdict::Limit(Verdict::Allowed(_)) => allowed += 1,
                    GlobalVerdict::Unavailable => unavailable += 1,
                    GlobalVerdict::Limit(Verdict::Refused(_)) => {}
                }
            }
            match want {
                Some(n) => assert_eq!(allowed, n.min(30), "{outage:?}"),
                None => assert_eq!(unavailable, 30, "{outage:?}"),
            }
            // Back: the next probe (one a second) restores the lease path.
            bucket.fail.store(false, Ordering::Relaxed);
            l.health.last_probe.store(0, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(1100)).await;
            l.check("k");
            tokio::time::sleep(Duration::from_millis(20)).await;
            assert!(l.health.up.load(Ordering::Relaxed), "{outage:?}");
        }
    }
}
