//! `[[rate_limits]]` and `[redis]`: the file model and its compilation into
//! the post-authentication rate-limit stage. A limit is local (each
//! instance counts alone, in memory) or global (`scope = "global"`: the
//! fleet shares one bucket on Redis, spent through leases). A limit whose
//! section is unchanged keeps its state across a reload (its counters and
//! leases are not reset); a changed one starts fresh.

use super::model::FileConfig;
use super::runtime::Runtime;
use crate::credential::CredentialKind;
use crate::redis_buckets::RedisBuckets;
use authgate_core::limits::{Limit, LimitKey, LimitSpec};
use authgate_core::limits_global::{GlobalLimit, OutagePolicy, SharedBuckets};
use authgate_core::limits_keys::PerKeyLimits;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

/// `[[rate_limits]]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSection {
    /// Name (default `limit-<index>`), shown in `RateLimit-Policy`.
    pub name: Option<String>,
    /// What to count by: `credential`, `workspace`, `subject` or `route`.
    pub key: String,
    /// Requests per `per`, sustained.
    pub rate: u32,
    /// The period of `rate` (`1s`, `1m`, …).
    #[serde(with = "humantime_serde")]
    pub per: Duration,
    /// Requests allowed at once (default: `rate`).
    pub burst: Option<u32>,
    /// Route names it applies to (default: every authenticated route).
    #[serde(default)]
    pub routes: Vec<String>,
    /// Credential kinds it applies to (default: all).
    #[serde(default)]
    pub kinds: Vec<String>,
    /// `local` (default: each instance counts alone) or `global` (the
    /// fleet shares one bucket on `[redis]`).
    pub scope: Option<String>,
    /// Global limits while Redis cannot be reached: `local` (default:
    /// enforced per instance), `open` (admit) or `closed` (503).
    pub on_outage: Option<String>,
}

/// `[redis]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RedisSection {
    /// `redis://[user:password@]host:port[/db]`.
    #[serde(default)]
    pub url: String,
    /// The name of an environment variable holding `url`, so that a
    /// password stays out of the file; set one of the two.
    pub url_env: Option<String>,
    /// Prefix of every key authgate writes.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// Longest wait for one Redis call (connecting included); past it
    /// the global limits' outage policy applies.
    #[serde(default = "default_redis_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

/// `[key_limits]`: whether keys' own rate limits (set on key records) are
/// counted on this instance alone or across the fleet on `[redis]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KeyLimitsSection {
    /// `local` or `global` (default: `global` with `[redis]`, else `local`).
    pub scope: Option<String>,
    /// Global only: `local` (default), `open` or `closed`.
    pub on_outage: Option<String>,
}

/// Keys' own rate limits: global on `[redis]` unless `[key_limits]` says
/// `local`; the previous runtime's limiters when nothing changed.
pub fn per_key(
    file: &FileConfig,
    prev: Option<&Runtime>,
    redis: Option<&Arc<RedisBuckets>>,
) -> (Arc<PerKeyLimits>, Vec<(String, String)>) {
    let mut errs = Vec::new();
    let section = file.key_limits.as_ref();
    let global = match section.and_then(|s| s.scope.as_deref()) {
        None => file.redis.is_some(),
        Some("local") => false,
        Some("global") => {
            if file.redis.is_none() {
                errs.push((
                    "key_limits.scope".into(),
                    "global key limits need a [redis] section".into(),
                ));
            }
            true
        }
        Some(other) => {
            errs.push((
                "key_limits.scope".into(),
                format!("unknown scope '{other}' (local, global)"),
            ));
            false
        }
    };
    let outage = match section.and_then(|s| s.on_outage.as_deref()) {
        None => OutagePolicy::Local,
        Some(p) => OutagePolicy::parse(p).unwrap_or_else(|| {
            errs.push((
                "key_limits.on_outage".into(),
                "local, open or closed".into(),
            ));
            OutagePolicy::Local
        }),
    };
    if let Some(kept) = prev.filter(|p| {
        p.per_key_limits.0.as_ref() == section
            && p.redis.as_ref().map(|(s, _)| s) == file.redis.as_ref()
    }) {
        return (kept.per_key_limits.1.clone(), errs);
    }
    let limits = match (global, redis) {
        (true, Some(backend)) => {
            let backend: Arc<dyn SharedBuckets> = backend.clone();
            PerKeyLimits::global(backend, outage)
        }
        _ => PerKeyLimits::local(),
    };
    (Arc::new(limits), errs)
}

fn default_prefix() -> String {
    "authgate:".into()
}

fn default_redis_timeout() -> Duration {
    Duration::from_millis(100)
}

/// The shared buckets of `[redis]`: the previous runtime's when the section
/// is unchanged, else new ones (Redis is reached on first use); the error
/// is for `redis.url`.
pub fn redis(
    file: &FileConfig,
    prev: Option<&Runtime>,
) -> (Option<(RedisSection, Arc<RedisBuckets>)>, Option<String>) {
    let Some(section) = &file.redis else {
        return (None, None);
    };
    if let Some(kept) = prev
        .and_then(|p| p.redis.as_ref())
        .filter(|(s, _)| s == section)
    {
        return (Some(kept.clone()), None);
    }
    if section.timeout.is_zero() {
        return (None, Some("redis.timeout must be more than zero".into()));
    }
    match RedisBuckets::new(&section.url, &section.prefix, section.timeout) {
        Ok(b) => (Some((section.clone(), Arc::new(b))), None),
        Err(e) => (None, Some(e)),
    }
}

/// Local and global limits.
type Compiled = (
    Vec<Arc<Limit>>,
    Vec<Arc<GlobalLimit>>,
    Vec<(String, String)>,
);

/// Compile every limit of `file`, reusing `prev`'s state for unchanged
/// ones; global ones take their buckets from `redis`. Errors are
/// `(key, message)`.
pub fn compile(
    file: &FileConfig,
    prev: Option<&Runtime>,
    redis: Option<&Arc<RedisBuckets>>,
) -> Compiled {
    let mut errs = Vec::new();
    let mut out = Vec::new();
    let mut global = Vec::new();
    let route_names: Vec<String> = file.routes.iter().map(|r| r.display_name()).collect();
    for (i, s) in file.rate_limits.iter().enumerate() {
        let at = |k: &str| format!("rate_limits[{i}].{k}");
        let before = errs.len();
        let key = LimitKey::parse(&s.key);
        if key.is_none() {
            errs.push((
                at("key"),
                format!(
                    "unknown key '{}' (credential, workspace, subject, route, ip)",
                    s.key
                ),
            ));
        }
        if s.rate == 0 {
            errs.push((at("rate"), "at least 1".into()));
        }
        if s.per.is_zero() || s.per > Duration::from_secs(86_400) {
            errs.push((at("per"), "more than zero, at most 1 day".into()));
        }
        if s.burst == Some(0) {
            errs.push((at("burst"), "at least 1".into()));
        }
        for (j, r) in s.routes.iter().enumerate() {
            if !route_names.contains(r) {
                errs.push((at(&format!("routes[{j}]")), format!("no route named '{r}'")));
            }
        }
        let mut kinds = Vec::new();
        for (j, k) in s.kinds.iter().enumerate() {
            match CredentialKind::parse(k) {
                Some(k) => kinds.push(k),
                None => errs.push((at(&format!("kinds[{j}]")), format!("unknown kind '{k}'"))),
            }
        }
        let global_scope = match s.scope.as_deref() {
            None | Some("local") => false,
            Some("global") => true,
            Some(other) => {
                errs.push((
                    at("scope"),
                    format!("unknown scope '{other}' (local, global)"),
                ));
                false
            }
        };
        let outage = match s.on_outage.as_deref() {
            None => Some(OutagePolicy::Local),
            Some(p) => OutagePolicy::parse(p),
        };
        if outage.is_none() {
            errs.push((at("on_outage"), "local, open or closed".into()));
        }
        if s.on_outage.is_some() && !global_scope {
            errs.push((at("on_outage"), "only for scope = \"global\"".into()));
        }
        if global_scope && file.redis.is_none() {
            errs.push((at("scope"), "global limits need a [redis] section".into()));
        }
        let (Some(key), Some(outage), true) = (key, outage, errs.len() == before) else {
            continue;
        };
        let spec = LimitSpec {
            name: s.name.clone().unwrap_or_else(|| format!("limit-{i}")),
            key,
            rate: s.rate,
            per: s.per,
            burst: s.burst.unwrap_or(s.rate),
            routes: s.routes.clone(),
            kinds,
        };
        if spec.quota().is_none() {
            errs.push((
                at("rate"),
                "rate per period is below one request per nanosecond's resolution".into(),
            ));
            continue;
        }
        if global_scope {
            // `None` only when [redis] failed, which has its own error.
            let Some(backend) = redis else { continue };
            // Kept only with the same [redis] (a limit holds its buckets).
            let kept = prev
                .filter(|p| p.redis.as_ref().map(|(s, _)| s) == file.redis.as_ref())
                .and_then(|p| {
                    p.global_limits
                        .iter()
                        .find(|l| l.spec == spec && l.outage == outage)
                        .cloned()
                });
            let backend: Arc<dyn SharedBuckets> = backend.clone();
            if let Some(l) = kept.or_else(|| GlobalLimit::new(spec, outage, backend).map(Arc::new))
            {
                global.push(l);
            }
            continue;
        }
        let kept = prev.and_then(|p| p.rate_limits.iter().find(|l| l.spec == spec).cloned());
        if let Some(l) = kept.or_else(|| Limit::new(spec).map(Arc::new)) {
            out.push(l);
        }
    }
    (out, global, errs)
}
