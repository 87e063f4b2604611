//! Rate limits, local to one instance: a post-authentication [`Stage`]
//! that keeps one GCRA limiter (the `governor` crate) per configured limit,
//! keyed by the credential, workspace, subject or route of each admitted
//! request. GCRA rather than a fixed window: a burst at a window's edge
//! cannot double the rate, and the state is one timestamp per key, checked
//! without a lock shared across worker threads (a sharded map). Idle keys
//! are dropped as the map grows, so memory stays bounded.
//!
//! Several limits may apply to a request; each is checked, and when any
//! refuses, the one with the longest wait is the answer (429 with
//! `Retry-After` and the `RateLimit-Policy` / `RateLimit` headers).
//! Requests to public routes carry no credential: only limits keyed by
//! client address (and `route` limits naming the route) count them
//! ([`RateLimits::check_public`]).

use crate::credential::CredentialKind;
use crate::error::Refusal;
use crate::limits_global::{GlobalLimit, GlobalVerdict};
use crate::limits_keys::PerKeyLimits;
use crate::stages::{RateLimitNote, Stage, StageInput, StageNotes};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What a limit counts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKey {
    /// The credential (its id).
    Credential,
    /// The credential's workspace (credentials without one share `-`).
    Workspace,
    /// The subject.
    Subject,
    /// The route, all callers together.
    Route,
    /// The client's address (the peer, or the `X-Real-IP` a trusted proxy
    /// set); the one key that also counts requests to public routes.
    Ip,
}

impl LimitKey {
    /// Parse the config spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "credential" => Some(LimitKey::Credential),
            "workspace" => Some(LimitKey::Workspace),
            "subject" => Some(LimitKey::Subject),
            "route" => Some(LimitKey::Route),
            "ip" => Some(LimitKey::Ip),
            _ => None,
        }
    }
}

/// One limit as configured.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitSpec {
    /// Name, shown in `RateLimit-Policy` and metrics.
    pub name: String,
    /// What it counts by.
    pub key: LimitKey,
    /// Requests per `per`, sustained.
    pub rate: u32,
    /// The period of `rate`.
    pub per: Duration,
    /// Requests allowed at once (at least 1).
    pub burst: u32,
    /// Route names it applies to (empty: every authenticated route).
    pub routes: Vec<String>,
    /// Credential kinds it applies to (empty: all).
    pub kinds: Vec<CredentialKind>,
}

impl LimitSpec {
    /// Whether this limit counts a request to `route` by a credential of
    /// `kind`, or to a public route (`None`). A public route is counted
    /// only by limits keyed by `ip` (every route, or the routes they
    /// name), and by limits keyed by `route` that name it; never by a
    /// limit restricted to credential kinds.
    pub fn applies(&self, route: &str, kind: Option<CredentialKind>) -> bool {
        let named = self.routes.iter().any(|r| r == route);
        match kind {
            Some(kind) => {
                (self.routes.is_empty() || named)
                    && (self.kinds.is_empty() || self.kinds.contains(&kind))
            }
            None => {
                self.kinds.is_empty()
                    && match self.key {
                        LimitKey::Ip => self.routes.is_empty() || named,
                        LimitKey::Route => named,
                        _ => false,
                    }
            }
        }
    }

    /// The GCRA quota: one request every `per / rate`, `burst` at once.
    pub fn quota(&self) -> Option<Quota> {
        let rate = self.rate.max(1);
        let interval = self.per.checked_div(rate)?;
        let burst = NonZeroU32::new(self.burst.max(1))?;
        Quota::with_period(interval).map(|q| q.allow_burst(burst))
    }
}

type Keyed<C> = RateLimiter<String, DefaultKeyedStateStore<String>, C, StateInformationMiddleware>;

/// Keys held before idle ones are dropped.
const RETAIN_EVERY: u64 = 4096;

/// One limit with its state.
pub struct Limit<C: Clock = DefaultClock> {
    /// As configured.
    pub spec: LimitSpec,
    limiter: Keyed<C>,
    clock: C,
    checks: AtomicU64,
}

impl<C: Clock> std::fmt::Debug for Limit<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limit").field("spec", &self.spec).finish()
    }
}

/// A limit's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Allowed, with this many requests left in the burst.
    Allowed(u32),
    /// Refused: wait this long.
    Refused(Duration),
}

impl Limit<DefaultClock> {
    /// A limit on the system clock; `None` when the spec has no valid quota.
    pub fn new(spec: LimitSpec) -> Option<Self> {
        Self::with_clock(spec, DefaultClock::default())
    }
}

impl<C: Clock + Clone> Limit<C> {
    /// A limit on `clock` (a fake one in tests).
    pub fn with_clock(spec: LimitSpec, clock: C) -> Option<Self> {
        let quota = spec.quota()?;
        let limiter: Keyed<C> =
            RateLimiter::<
                String,
                DefaultKeyedStateStore<String>,
                C,
                governor::middleware::NoOpMiddleware<C::Instant>,
            >::new(quota, DefaultKeyedStateStore::default(), clock.clone())
            .with_middleware::<StateInformationMiddleware>();
        Some(Self {
            spec,
            limiter,
            clock,
            checks: AtomicU64::new(0),
        })
    }

    /// Count one request for `key`.
    pub fn check(&self, key: &str) -> Verdict {
        if self.checks.fetch_add(1, Ordering::Relaxed) % RETAIN_EVERY == RETAIN_EVERY - 1 {
            self.limiter.retain_recent();
        }
        // An owned key only for the map; the common case is one allocation.
        match self.limiter.check_key(&key.to_string()) {
            Ok(snapshot) => Verdict::Allowed(snapshot.remaining_burst_capacity()),
            Err(not_until) => Verdict::Refused(not_until.wait_time_from(self.clock.now())),
        }
    }

    /// Keys currently held.
    pub fn len(&self) -> usize {
        self.limiter.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.limiter.is_empty()
    }
}

/// The stage: every applicable limit, local then global, then the key's
/// own.
#[derive(Debug, Default, Clone)]
pub struct RateLimits {
    limits: Vec<Arc<Limit>>,
    global: Vec<Arc<GlobalLimit>>,
    per_key: Option<Arc<PerKeyLimits>>,
}

impl RateLimits {
    /// The stage over local `limits`.
    pub fn new(limits: Vec<Arc<Limit>>) -> Self {
        Self {
            limits,
            global: Vec::new(),
            per_key: None,
        }
    }

    /// The stage over local `limits` and `global` ones.
    pub fn with_global(limits: Vec<Arc<Limit>>, global: Vec<Arc<GlobalLimit>>) -> Self {
        Self {
            limits,
            global,
            per_key: None,
        }
    }

    /// Also count keys that carry their own rate limit, in `per_key`.
    pub fn with_per_key(mut self, per_key: Arc<PerKeyLimits>) -> Self {
        self.per_key = Some(per_key);
        self
    }
}

/// The note of `spec` after admitting a request with `left` of its burst
/// left: the whole burst is back after `(burst − left) × per / rate`.
fn allowed_note(spec: &LimitSpec, left: u32) -> RateLimitNote {
    let burst = spec.burst.max(1);
    let used = f64::from(burst.saturating_sub(left));
    let reset = used * spec.per.as_secs_f64() / f64::from(spec.rate.max(1));
    RateLimitNote {
        policy: spec.name.clone(),
        quota: burst,
        window: spec.per.as_secs().max(1),
        remaining: left.min(burst),
        reset: reset.ceil() as u64,
    }
}

/// The key of `input` for a limit counting by `key`.
fn key_of<'a>(key: LimitKey, input: &'a StageInput<'_>) -> &'a str {
    let id = input.identity;
    match key {
        LimitKey::Credential => &id.credential_id,
        LimitKey::Workspace => id.workspace.as_deref().unwrap_or("-"),
        LimitKey::Subject => &id.subject,
        LimitKey::Route => input.route,
        LimitKey::Ip => input.client_ip.unwrap_or("-"),
    }
}

/// What the limits that counted a request said: the longest wait of a
/// refusal, the fewest requests left of an admission, and whether a
/// global limit was unreachable under a fail-closed policy.
#[derive(Default)]
struct Tally<'s> {
    worst: Option<(&'s LimitSpec, Duration)>,
    tightest: Option<(&'s LimitSpec, u32)>,
    unavailable: bool,
}

impl<'s> Tally<'s> {
    fn note(&mut self, spec: &'s LimitSpec, verdict: Verdict) {
        match verdict {
            Verdict::Refused(wait) => {
                if self.worst.is_none_or(|(_, w)| wait > w) {
                    self.worst = Some((spec, wait));
                }
            }
            Verdict::Allowed(left) => {
                if self.tightest.is_none_or(|(_, l)| left < l) {
                    self.tightest = Some((spec, left));
                }
            }
        }
    }

    fn global(&mut self, spec: &'s LimitSpec, verdict: GlobalVerdict) {
        match verdict {
            GlobalVerdict::Limit(v) => self.note(spec, v),
            GlobalVerdict::Unavailable => self.unavailable = true,
        }
    }

    /// The refusal, if any; else the note for `RateLimit` headers.
    fn verdict(self, notes: Option<&StageNotes>) -> Result<(), Refusal> {
        match self.worst {
            Some((spec, wait)) => Err(Refusal::RateLimited {
                policy: spec.name.clone(),
                quota: spec.burst.max(1),
                window: spec.per.as_secs().max(1),
                retry_after: wait.as_secs_f64().ceil().max(1.0) as u64,
            }),
            None if self.unavailable => Err(Refusal::LimitUnavailable),
            None => {
                if let (Some(notes), Some((spec, left))) = (notes, self.tightest) {
                    notes.rate_limit.set(Some(allowed_note(spec, left)));
                }
                Ok(())
            }
        }
    }
}

impl Stage for RateLimits {
    fn name(&self) -> &'static str {
        "rate_limits"
    }

    fn check(&self, input: &StageInput<'_>) -> Result<(), Refusal> {
        // The key's own limit, when it has one (its spec names it `key`).
        let own = input.identity.limits.rate.map(|r| (r, r.spec()));
        let kind = Some(input.identity.kind);
        let mut tally = Tally::default();
        for l in &self.limits {
            if l.spec.applies(input.route, kind) {
                tally.note(&l.spec, l.check(key_of(l.spec.key, input)));
            }
        }
        for g in &self.global {
            if g.spec.applies(input.route, kind) {
                tally.global(&g.spec, g.check(key_of(g.spec.key, input)));
            }
        }
        if let (Some(per_key), Some((rate, spec))) = (&self.per_key, &own) {
            match per_key.check(&input.identity.credential_id, *rate) {
                Some(v) => tally.note(spec, v),
                None => tally.unavailable = true,
            }
        }
        tally.verdict(input.notes)
    }
}

impl RateLimits {
    /// Whether any limit counts by client address (the proxy then works it
    /// out for every request).
    pub fn needs_ip(&self) -> bool {
        let ip = |s: &LimitSpec| s.key == LimitKey::Ip;
        self.limits.iter().any(|l| ip(&l.spec)) || self.global.iter().any(|g| ip(&g.spec))
    }

    /// Count a request to the public `route` from `ip` (no credential):
    /// the limits keyed by `ip`, and those keyed by `route` that name it.
    pub fn check_public(&self, route: &str, ip: Option<&str>) -> Result<(), Refusal> {
        let key = |k: LimitKey| match k {
            LimitKey::Route => route,
            _ => ip.unwrap_or("-"),
        };
        let mut tally = Tally::default();
        for l in &self.limits {
            if l.spec.applies(route, None) {
                tally.note(&l.spec, l.check(key(l.spec.key)));
            }
        }
        for g in &self.global {
            if g.spec.applies(route, None) {
                tally.global(&g.spec, g.check(key(g.spec.key)));
            }
        }
        tally.verdict(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    fn spec(rate: u32, per: Duration, burst: u32) -> LimitSpec {
        LimitSpec {
            name: "t".into(),
            key: LimitKey::Credential,
            rate,
            per,
            burst,
            routes: vec![],
            kinds: vec![],
        }
    }

    #[test]
    fn gcra_allows_the_burst_then_the_rate_never_a_window_edge_double() {
        let clock = FakeRelativeClock::default();
        // 10 per second, burst 3.
        let l = Limit::with_clock(spec(10, Duration::from_secs(1), 3), clock.clone()).unwrap();
        assert_eq!(l.check("k"), Verdict::Allowed(2));
        assert_eq!(l.check("k"), Verdict::Allowed(1));
        assert_eq!(l.check("k"), Verdict::Allowed(0));
        let Verdict::Refused(wait) = l.check("k") else {
            panic!("the fourth at once is refused");
        };
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(100),
            "{wait:?}"
        );
        // One interval later, exactly one more.
        clock.advance(Duration::from_millis(100));
        assert!(matches!(l.check("k"), Verdict::Allowed(_)));
        assert!(matches!(l.check("k"), Verdict::Refused(_)));
        // Over 10 s of steady pressure at 1 ms steps, at most rate × t + burst pass.
        let mut passed = 0;
        for _ in 0..10_000 {
            clock.advance(Duration::from_millis(1));
            if matches!(l.check("k"), Verdict::Allowed(_)) {
                passed += 1;
            }
        }
        assert!((99..=101).contains(&passed), "{passed}");
        // Keys are independent.
        assert!(matches!(l.check("other"), Verdict::Allowed(2)));
    }

    #[test]
    fn idle_keys_are_dropped_so_memory_stays_bounded() {
        let clock = FakeRelativeClock::default();
        let l = Limit::with_clock(spec(1, Duration::from_secs(1), 1), clock.clone()).unwrap();
        for i in 0..RETAIN_EVERY - 1 {
            l.check(&format!("k{i}"));
        }
        assert_eq!(l.len() as u64, RETAIN_EVERY - 1);
        clock.advance(Duration::from_secs(10));
        l.check("last"); // the RETAIN_EVERY-th check sweeps idle keys
        assert!(l.len() <= 1, "{}", l.len());
    }

    #[test]
    fn public_routes_are_counted_by_ip_limits_and_by_route_limits_that_name_them() {
        let with = |key, routes: &[&str], kinds: Vec<CredentialKind>| LimitSpec {
            key,
            routes: routes.iter().map(|r| r.to_string()).collect(),
            kinds,
            ..spec(1, Duration::from_secs(1), 1)
        };
        let api = Some(CredentialKind::ApiKey);
        assert!(with(LimitKey::Ip, &[], vec![]).applies("signin", None));
        assert!(with(LimitKey::Ip, &["signin"], vec![]).applies("signin", None));
        assert!(!with(LimitKey::Ip, &["other"], vec![]).applies("signin", None));
        assert!(!with(LimitKey::Ip, &[], vec![CredentialKind::ApiKey]).applies("signin", None));
        assert!(with(LimitKey::Route, &["signin"], vec![]).applies("signin", None));
        assert!(!with(LimitKey::Route, &[], vec![]).applies("signin", None));
        assert!(!with(LimitKey::Credential, &[], vec![]).applies("signin", None));
        // Authenticated routes as before.
        assert!(with(LimitKey::Credential, &[], vec![]).applies("runs", api));
        assert!(!with(LimitKey::Credential, &["x"], vec![]).applies("runs", api));

        let ip = Arc::new(Limit::new(with(LimitKey::Ip, &[], vec![])).unwrap());
        let stage = RateLimits::new(vec![ip]);
        assert!(stage.needs_ip());
        assert_eq!(stage.check_public("signin", Some("192.0.2.1")), Ok(()));
        assert!(matches!(
            stage.check_public("signin", Some("192.0.2.1")),
            Err(Refusal::RateLimited { .. })
        ));
        assert_eq!(
            stage.check_public("signin", Some("192.0.2.2")),
            Ok(()),
            "each address has its own bucket"
        );
        assert!(!RateLimits::new(vec![]).needs_ip());
    }

    #[test]
    fn bad_quotas_are_refused() {
        assert!(spec(10, Duration::ZERO, 1).quota().is_none());
        assert!(
            spec(0, Duration::from_secs(1), 0).quota().is_some(),
            "rate and burst floor at 1"
        );
    }
}
