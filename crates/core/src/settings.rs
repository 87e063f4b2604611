//! Settings the verifiers read, in the form operators write them
//! (`[stamps]`, `[[jwt.issuers]]`): typed, defaulted once here, and shared
//! with the proxy's config model so there is one definition of each key.

use crate::verify::stamp::StampScheme;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `[stamps]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StampsSection {
    /// Largest body verified on stamp routes (413 beyond). Bodies without a
    /// declared length are further limited to 64 KiB (411 beyond).
    #[serde(default = "default_stamp_body")]
    pub max_body: usize,
    /// How long the whole body may take to arrive.
    #[serde(default = "default_body_timeout", with = "humantime_serde")]
    pub body_timeout: Duration,
    /// Dotted path of the body's millisecond timestamp.
    #[serde(default = "default_ts_field")]
    pub timestamp_field: String,
    /// How old a stamped body may be.
    #[serde(default = "default_stamp_window", with = "humantime_serde")]
    pub window: Duration,
    /// Clock skew allowed both ways.
    #[serde(default = "default_leeway", with = "humantime_serde")]
    pub leeway: Duration,
    /// Replay memory size (stamps); evictions before expiry are counted.
    #[serde(default = "default_replay_capacity")]
    pub replay_capacity: u64,
    /// Accepted schemes, by wire label (default: all three).
    #[serde(default = "default_schemes")]
    pub schemes: Vec<StampScheme>,
    /// Refuse a replayed stamp or message signature across every instance
    /// sharing the database store (one write per signed request), not only
    /// on the instance that saw it first. Default: on with PostgreSQL, off
    /// otherwise.
    #[serde(default)]
    pub shared_replay: Option<bool>,
    /// What a shared claim the store cannot record does: `local` (the
    /// default: this instance's own guard decides alone, so sessions and
    /// keys already cached keep working through a store outage; a metric
    /// counts each such request) or `refuse` (503).
    #[serde(default)]
    pub replay_outage: ReplayOutage,
}

/// `[stamps] replay_outage`.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ReplayOutage {
    /// Fall back to the instance's own replay guard.
    #[default]
    Local,
    /// Refuse the request (503).
    Refuse,
}

impl Default for StampsSection {
    fn default() -> Self {
        Self {
            max_body: default_stamp_body(),
            body_timeout: default_body_timeout(),
            timestamp_field: default_ts_field(),
            window: default_stamp_window(),
            leeway: default_leeway(),
            replay_capacity: default_replay_capacity(),
            schemes: default_schemes(),
            shared_replay: None,
            replay_outage: ReplayOutage::Local,
        }
    }
}

fn default_stamp_body() -> usize {
    1024 * 1024
}
fn default_body_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_ts_field() -> String {
    "timestampMs".into()
}
fn default_stamp_window() -> Duration {
    Duration::from_secs(300)
}
fn default_schemes() -> Vec<StampScheme> {
    StampScheme::ALL.to_vec()
}
fn default_replay_capacity() -> u64 {
    1_000_000
}

/// `[[jwt.issuers]]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IssuerSection {
    /// Name for logs and metrics.
    pub name: String,
    /// Expected `iss` claim.
    pub issuer: String,
    /// Accepted `aud` values; required unless `insecure_no_audience`.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Accept tokens whatever their `aud` (a token minted for another
    /// service of the same issuer then passes). Logged at load.
    #[serde(default)]
    pub insecure_no_audience: bool,
    /// Allowed algorithms, e.g. `["RS256"]`.
    pub algorithms: Vec<String>,
    /// HMAC secret file (HS*).
    pub secret_file: Option<String>,
    /// Environment variable holding the HMAC secret (HS*).
    pub secret_env: Option<String>,
    /// PEM public key file (RS*, PS*, ES*, EdDSA).
    pub public_key_file: Option<String>,
    /// JWKS file.
    pub jwks_file: Option<String>,
    /// JWKS URL, refreshed in the background (`https`, or `http` with
    /// `insecure_http_jwks`).
    pub jwks_url: Option<String>,
    /// Allow a plain-`http` `jwks_url` (anyone on the path can then serve
    /// keys). Logged at load.
    #[serde(default)]
    pub insecure_http_jwks: bool,
    /// Period of background JWKS refresh.
    #[serde(default = "default_jwks_refresh", with = "humantime_serde")]
    pub jwks_refresh: Duration,
    /// Shortest time between two refetches triggered by an unknown `kid`.
    #[serde(default = "default_jwks_cooldown", with = "humantime_serde")]
    pub jwks_cooldown: Duration,
    /// Clock leeway for `exp` and `nbf`.
    #[serde(default = "default_leeway", with = "humantime_serde")]
    pub leeway: Duration,
    /// Claim holding the subject.
    #[serde(default = "default_sub_claim")]
    pub subject_claim: String,
    /// Claim holding the workspace slug.
    #[serde(default = "default_ws_claim")]
    pub workspace_claim: String,
    /// Tokens of this issuer may reach any workspace (the path's slug is
    /// not checked against theirs). Logged at load.
    #[serde(default)]
    pub insecure_platform_wide: bool,
}

fn default_jwks_refresh() -> Duration {
    Duration::from_secs(300)
}
fn default_jwks_cooldown() -> Duration {
    Duration::from_secs(30)
}
fn default_sub_claim() -> String {
    "sub".into()
}
fn default_ws_claim() -> String {
    "workspace".into()
}
fn default_leeway() -> Duration {
    Duration::from_secs(30)
}

/// `p` relative to `base` unless absolute: how every file a config names is found.
pub fn resolve(base: &Path, p: &str) -> PathBuf {
    let path = Path::new(p);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}
