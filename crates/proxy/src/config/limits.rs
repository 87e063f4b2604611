//! `[[rate_limits]]`: the file model and its compilation into the
//! post-authentication rate-limit stage. A limit whose section is unchanged
//! keeps its state across a reload (its counters are not reset); a changed
//! one starts fresh.

use super::model::FileConfig;
use super::runtime::Runtime;
use crate::credential::CredentialKind;
use authgate_core::limits::{Limit, LimitKey, LimitSpec};
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
}

/// Compile every limit of `file`, reusing `prev`'s state for unchanged
/// ones; errors are `(key, message)`.
pub fn compile(
    file: &FileConfig,
    prev: Option<&Runtime>,
) -> (Vec<Arc<Limit>>, Vec<(String, String)>) {
    let mut errs = Vec::new();
    let mut out = Vec::new();
    let route_names: Vec<String> = file.routes.iter().map(|r| r.display_name()).collect();
    for (i, s) in file.rate_limits.iter().enumerate() {
        let at = |k: &str| format!("rate_limits[{i}].{k}");
        let before = errs.len();
        let key = LimitKey::parse(&s.key);
        if key.is_none() {
            errs.push((
                at("key"),
                format!(
                    "unknown key '{}' (credential, workspace, subject, route)",
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
        let (Some(key), true) = (key, errs.len() == before) else {
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
        let kept = prev.and_then(|p| p.rate_limits.iter().find(|l| l.spec == spec).cloned());
        match kept.or_else(|| Limit::new(spec).map(Arc::new)) {
            Some(l) => out.push(l),
            None => errs.push((
                at("rate"),
                "rate per period is below one request per nanosecond's resolution".into(),
            )),
        }
    }
    (out, errs)
}
