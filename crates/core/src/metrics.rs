//! Prometheus metrics, one process-wide registry served on the admin listener.

use prometheus::{
    exponential_buckets, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGaugeVec, Opts, Registry,
};
use std::sync::{LazyLock, OnceLock};

/// All of authgate's metrics.
pub struct Metrics {
    /// The registry holding them.
    pub registry: Registry,
    /// Requests by route and status.
    pub requests: IntCounterVec,
    /// Request latency by route (seconds, whole request including upstream).
    pub request_seconds: HistogramVec,
    /// Verifications (cache misses) by verifier and outcome.
    pub verifications: IntCounterVec,
    /// Verification latency by verifier.
    pub verify_seconds: HistogramVec,
    /// Cache lookups by result (`hit`, `miss`).
    pub cache_lookups: IntCounterVec,
    /// `cache_lookups{result="hit"}`, resolved once (hot path).
    pub cache_hits: IntCounter,
    /// `cache_lookups{result="miss"}`, resolved once.
    pub cache_misses: IntCounter,
    /// Entries evicted for size.
    pub cache_evictions: IntCounter,
    /// JWKS fetches by issuer and outcome.
    pub jwks_fetches: IntCounterVec,
    /// Config reloads by outcome.
    pub reloads: IntCounterVec,
    /// Client connections that ended while authgate read their request
    /// header (closed, timed out, read error): expected client behaviour,
    /// counted here instead of logged as errors.
    pub client_aborts: IntCounterVec,
    /// 1 while the database store answers, 0 while it does not (absent
    /// without a database store).
    pub store_up: IntGaugeVec,
    /// Change-feed entries applied to the cache (one per changed key).
    pub store_changes: IntCounter,
    /// Admin API requests by operation and status.
    pub admin_requests: IntCounterVec,
    /// 1 while a global rate limit's shared bucket answers, 0 while its
    /// outage policy is in force (by limit; absent without global limits).
    pub rate_limit_backend_up: IntGaugeVec,
    /// Transitions of a global limit's backend, by limit and new state.
    pub rate_limit_backend_transitions: IntCounterVec,
    /// Calls to a global limit's shared bucket, by limit and outcome.
    /// Usage-quota spends by outcome (`spent`, `exhausted`, `unavailable`).
    pub quota_spends: IntCounterVec,
    pub rate_limit_backend_calls: IntCounterVec,
}

/// The process-wide metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

fn counter_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    // Names and labels are constants checked by the unit test below, so
    // construction cannot fail at run time.
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric definition");
    let _ = r.register(Box::new(c.clone()));
    c
}

fn histogram_vec(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    start: f64,
) -> HistogramVec {
    let buckets = exponential_buckets(start, 2.0, 18).unwrap_or_default();
    let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)
        .expect("valid metric definition");
    let _ = r.register(Box::new(h.clone()));
    h
}

impl Metrics {
    fn new() -> Self {
        let r = Registry::new();
        let cache_evictions = IntCounter::new(
            "authgate_cache_evictions_total",
            "Identity cache entries evicted for size",
        )
        .expect("valid metric definition");
        let _ = r.register(Box::new(cache_evictions.clone()));
        // Labelled by backend, so an instance without a database store
        // has no series at all (rather than a 0 that reads as "down").
        let store_up = IntGaugeVec::new(
            Opts::new(
                "authgate_store_up",
                "1 while the database store answers, 0 while it does not",
            ),
            &["store"],
        )
        .expect("valid metric definition");
        let _ = r.register(Box::new(store_up.clone()));
        let store_changes = IntCounter::new(
            "authgate_store_changes_total",
            "Change-feed entries applied to the identity cache",
        )
        .expect("valid metric definition");
        let _ = r.register(Box::new(store_changes.clone()));
        let rate_limit_backend_up = IntGaugeVec::new(
            Opts::new(
                "authgate_rate_limit_backend_up",
                "1 while a global rate limit's shared bucket answers, 0 while its outage policy is in force",
            ),
            &["limit"],
        )
        .expect("valid metric definition");
        let _ = r.register(Box::new(rate_limit_backend_up.clone()));
        let cache_lookups = counter_vec(
            &r,
            "authgate_cache_lookups_total",
            "Identity cache lookups",
            &["result"],
        );
        Self {
            cache_hits: cache_lookups.with_label_values(&["hit"]),
            cache_misses: cache_lookups.with_label_values(&["miss"]),
            cache_lookups,
            requests: counter_vec(
                &r,
                "authgate_requests_total",
                "Requests by route and status",
                &["route", "status"],
            ),
            request_seconds: histogram_vec(
                &r,
                "authgate_request_duration_seconds",
                "Request latency",
                &["route"],
                0.00005,
            ),
            verifications: counter_vec(
                &r,
                "authgate_verifications_total",
                "Credential verifications by verifier and outcome",
                &["verifier", "outcome"],
            ),
            verify_seconds: histogram_vec(
                &r,
                "authgate_verify_duration_seconds",
                "Verification latency",
                &["verifier"],
                0.000001,
            ),
            jwks_fetches: counter_vec(
                &r,
                "authgate_jwks_fetches_total",
                "JWKS fetches",
                &["issuer", "outcome"],
            ),
            reloads: counter_vec(
                &r,
                "authgate_config_reloads_total",
                "Config reloads",
                &["outcome"],
            ),
            client_aborts: counter_vec(
                &r,
                "authgate_client_aborts_total",
                "Client connections that ended mid request header, by reason",
                &["reason"],
            ),
            admin_requests: counter_vec(
                &r,
                "authgate_admin_requests_total",
                "Admin API requests by operation and status",
                &["op", "status"],
            ),
            rate_limit_backend_transitions: counter_vec(
                &r,
                "authgate_rate_limit_backend_transitions_total",
                "Global rate limit backend transitions, by limit and new state",
                &["limit", "state"],
            ),
            quota_spends: counter_vec(
                &r,
                "authgate_quota_spends_total",
                "Usage-quota spends by outcome (spent, exhausted, unavailable)",
                &["outcome"],
            ),
            rate_limit_backend_calls: counter_vec(
                &r,
                "authgate_rate_limit_backend_calls_total",
                "Calls to a global rate limit's shared bucket, by limit and outcome",
                &["limit", "outcome"],
            ),
            rate_limit_backend_up,
            store_up,
            store_changes,
            cache_evictions,
            registry: r,
        }
    }

    /// Render the text exposition format.
    pub fn render(&self) -> String {
        use prometheus::Encoder;
        let mut buf = Vec::new();
        let _ = prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// One route's request metrics, resolved once instead of by label lookup
/// on every request.
pub struct RouteMetrics {
    route: String,
    seconds: Histogram,
    by_status: Box<[OnceLock<IntCounter>]>,
}

impl RouteMetrics {
    /// Handles for the route named `route`.
    pub fn new(route: &str) -> Self {
        Self {
            route: route.to_string(),
            seconds: METRICS.request_seconds.with_label_values(&[route]),
            by_status: (0..600).map(|_| OnceLock::new()).collect(),
        }
    }

    /// Count one request answered with `status` that took `seconds`.
    pub fn observe(&self, status: u16, seconds: f64) {
        self.seconds.observe(seconds);
        let resolve = || {
            METRICS
                .requests
                .with_label_values(&[&self.route, &status.to_string()])
        };
        match self.by_status.get(usize::from(status)) {
            Some(slot) => slot.get_or_init(resolve).inc(),
            None => resolve().inc(),
        }
    }
}

impl std::fmt::Debug for RouteMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteMetrics")
            .field("route", &self.route)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn route_metrics_count_by_status() {
        let m = super::RouteMetrics::new("rm-test");
        m.observe(200, 0.001);
        m.observe(200, 0.001);
        m.observe(404, 0.001);
        m.observe(999, 0.001);
        let text = super::METRICS.render();
        assert!(text.contains(r#"authgate_requests_total{route="rm-test",status="200"} 2"#));
        assert!(text.contains(r#"authgate_requests_total{route="rm-test",status="404"} 1"#));
        assert!(text.contains(r#"authgate_requests_total{route="rm-test",status="999"} 1"#));
        assert!(text.contains(r#"authgate_request_duration_seconds_count{route="rm-test"} 4"#));
    }
}
