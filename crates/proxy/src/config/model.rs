//! The configuration file as written by operators: plain serde structs.
//!
//! Every struct denies unknown fields so a typo is an error, not a silently
//! ignored setting. Nothing here is used on the request path: [`super::validate`]
//! turns a [`FileConfig`] into the internal [`super::Runtime`].

pub use authgate_core::settings::{IssuerSection, StampsSection};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The whole TOML file.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Downstream listeners and process settings.
    #[serde(default)]
    pub server: ServerSection,
    /// The admin listener (`/metrics`, `/healthz`, JWKS).
    #[serde(default)]
    pub admin: AdminSection,
    /// Logging.
    #[serde(default)]
    pub log: LogSection,
    /// Upstream pools by name.
    #[serde(default)]
    pub upstreams: BTreeMap<String, UpstreamSection>,
    /// Routes, matched by host, path template and method.
    #[serde(default)]
    pub routes: Vec<RouteSection>,
    /// Credential extraction, sniffing and digests.
    #[serde(default)]
    pub credentials: CredentialsSection,
    /// The hot identity cache.
    #[serde(default)]
    pub cache: CacheSection,
    /// Opaque credential records (digests only) held in config.
    #[serde(default)]
    pub keys: Vec<KeySection>,
    /// RFC 9421 signing keys named by a `keyid` (RSA, P-384, HMAC, … ).
    #[serde(default)]
    pub signing_keys: Vec<crate::config::signing_keys::SigningKeySection>,
    /// JWT issuers.
    #[serde(default)]
    pub jwt: JwtSection,
    /// Identity headers and policy knobs.
    #[serde(default)]
    pub identity: IdentitySection,
    /// Signed requests (`X-Stamp`).
    #[serde(default)]
    pub stamps: StampsSection,
    /// Where else key records come from.
    #[serde(default)]
    pub store: StoreSection,
    /// Wallet sign-in answered by authgate (needs `store.url`).
    #[serde(default)]
    pub signin: crate::signin::settings::SigninSection,
    /// Rate limits on authenticated requests.
    #[serde(default)]
    pub rate_limits: Vec<super::limits::RateLimitSection>,
    /// The Redis server of global rate limits.
    pub redis: Option<super::limits::RedisSection>,
    /// `[key_limits]`: where keys' own rate limits count.
    #[serde(default)]
    pub key_limits: Option<super::limits::KeyLimitsSection>,
    /// Server keys minting ephemeral and restricted keys (needs `store.url`).
    #[serde(default)]
    pub minting: Option<crate::minting::settings::MintingSection>,
}

/// `[store]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// A JSON Lines file of `[[keys]]` records (one JSON object per line), for
    /// key sets too large to keep in the TOML file; reloaded like the config.
    pub keys_file: Option<String>,
    /// Longest wait for one store call; past it the request gets 503.
    #[serde(default = "default_store_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// A database store beside the config's keys: `sqlite:///path/keys.db`
    /// (embedded) or `postgres://…` (shared by a fleet).
    pub url: Option<String>,
    /// The name of an environment variable holding `url`, so that a URL
    /// with a password stays out of the file; set one of the two.
    pub url_env: Option<String>,
    /// Apply pending schema migrations at start (PostgreSQL; SQLite always
    /// migrates when opened). Off: run `authgate store migrate`.
    #[serde(default)]
    pub auto_migrate: bool,
    /// How often the change feed is read when no notification arrives
    /// (PostgreSQL pushes changes; this is the safety net).
    #[serde(default = "default_poll", with = "humantime_serde")]
    pub poll_interval: Duration,
    /// Directory of the HMAC secrets of RFC 9421 signing keys registered
    /// through the admin API: such a key names a file here, which every
    /// instance reads itself (the database never holds the secret).
    pub hmac_secrets_dir: Option<String>,
}

impl Default for StoreSection {
    fn default() -> Self {
        Self {
            keys_file: None,
            timeout: default_store_timeout(),
            url: None,
            url_env: None,
            auto_migrate: false,
            poll_interval: default_poll(),
            hmac_secrets_dir: None,
        }
    }
}

fn default_poll() -> Duration {
    Duration::from_secs(1)
}

fn default_store_timeout() -> Duration {
    Duration::from_secs(2)
}

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Plain-text listeners (HTTP/1.1, plus h2c when `h2c` is on).
    #[serde(default = "default_listen")]
    pub listen: Vec<String>,
    /// Accept HTTP/2 over plain text (prior knowledge).
    #[serde(default = "yes")]
    pub h2c: bool,
    /// TLS listener.
    pub tls: Option<TlsSection>,
    /// Worker threads of the proxy service.
    #[serde(default = "default_threads")]
    pub threads: usize,
    /// Let idle worker threads steal tasks from busy ones (one tokio
    /// multi-thread runtime); `false`: each thread its own single-thread
    /// runtime, connections spread at random (pingora's `NoSteal`). Unset:
    /// stealing with two threads or more; one thread has nobody to steal
    /// from and runs a single-thread runtime, which costs less per request.
    #[serde(default)]
    pub work_stealing: Option<bool>,
    /// How long a graceful shutdown waits for in-flight requests.
    #[serde(default = "default_grace", with = "humantime_serde")]
    pub grace_period: Duration,
    /// How often the config file is checked for changes (0s = never; SIGHUP still works).
    #[serde(default = "default_watch", with = "humantime_serde")]
    pub watch_interval: Duration,
}

impl ServerSection {
    /// Whether the worker threads steal work: as set, else with 2+ threads.
    pub fn steals_work(&self) -> bool {
        self.work_stealing.unwrap_or(self.threads > 1)
    }
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            h2c: true,
            tls: None,
            threads: default_threads(),
            work_stealing: None,
            grace_period: default_grace(),
            watch_interval: default_watch(),
        }
    }
}

/// `[server.tls]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// Address of the TLS listener.
    pub listen: String,
    /// PEM certificate chain.
    pub cert: String,
    /// PEM private key.
    pub key: String,
    /// Offer HTTP/2 by ALPN.
    #[serde(default = "yes")]
    pub h2: bool,
}

/// `[admin]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSection {
    /// Address of the admin listener; empty disables it.
    #[serde(default = "default_admin")]
    pub listen: String,
    /// Tokens of the key-management API (`/admin/v1/`); none: the API is off.
    #[serde(default)]
    pub tokens: Vec<AdminTokenSection>,
}

impl Default for AdminSection {
    fn default() -> Self {
        Self {
            listen: default_admin(),
            tokens: Vec::new(),
        }
    }
}

/// `[[admin.tokens]]`: a bearer token of the admin API, by digest.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AdminTokenSection {
    /// Name for logs.
    pub id: String,
    /// `sha256:<hex>` of the token (`authgate keys admin-token` mints one).
    pub digest: String,
    /// `keys:read`, `keys:write`.
    pub scopes: Vec<String>,
}

/// `[log]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    /// `text` or `json`.
    #[serde(default = "default_log_format")]
    pub format: String,
    /// A `tracing` filter such as `info` or `authgate_proxy=debug,authgate_core=debug`.
    #[serde(default = "default_log_level")]
    pub level: String,
}

impl Default for LogSection {
    fn default() -> Self {
        Self {
            format: default_log_format(),
            level: default_log_level(),
        }
    }
}

/// `[upstreams.NAME]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSection {
    /// `host:port` of each backend; round-robin between the healthy ones.
    pub backends: Vec<String>,
    /// TCP (and TLS) connect timeout.
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Timeout of each read from the upstream.
    #[serde(default = "default_read_timeout", with = "humantime_serde")]
    pub read_timeout: Duration,
    /// Speak TLS to the upstream.
    #[serde(default)]
    pub tls: bool,
    /// SNI (and certificate name) for TLS upstreams; defaults to the backend host.
    pub sni: Option<String>,
    /// Do NOT verify the upstream certificate (TLS only): anyone on the path
    /// can then impersonate the upstream. Logged as a warning at load.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// Active health check.
    pub health_check: Option<HealthCheckSection>,
}

/// `[upstreams.NAME.health_check]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckSection {
    /// `tcp` (connect) or `http` (GET `path`, healthy on 200: pingora's check).
    #[serde(default = "default_hc_kind")]
    pub kind: String,
    /// Path for `http` checks.
    #[serde(default = "default_hc_path")]
    pub path: String,
    /// Interval between checks.
    #[serde(default = "default_hc_interval", with = "humantime_serde")]
    pub interval: Duration,
}

/// `[[routes]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSection {
    /// A name for logs and metrics; defaults to `METHODS path`.
    pub name: Option<String>,
    /// Match only this `Host` (without port); absent = any host.
    pub host: Option<String>,
    /// Path template, e.g. `/api/v1/workspaces/{workspace}/runs/{run_id}` or `/static/{*rest}`.
    pub path: String,
    /// Methods this route serves; absent or empty = all.
    #[serde(default)]
    pub methods: Vec<String>,
    /// The upstream pool (or `handler`: exactly one of the two).
    #[serde(default)]
    pub upstream: Option<String>,
    /// A response authgate writes itself instead of forwarding:
    /// `whoami` (the verified identity as JSON), `jwks` (the assertion
    /// key's JWKS), `health`. The route's `auth` applies as usual.
    #[serde(default)]
    pub handler: Option<String>,
    /// Keep `X-HTTP-Method-Override`, `X-HTTP-Method`, `X-Method-Override`,
    /// `X-Original-URL` and `X-Rewrite-URL` for an upstream that honours them;
    /// authgate then routes and authorises the overridden method and path
    /// (which must lead to a route that keeps them too). Default: removed.
    #[serde(default)]
    pub keep_override_headers: bool,
    /// Who may pass.
    #[serde(default)]
    pub auth: AuthSection,
}

impl RouteSection {
    /// The route's name: `name`, else `METHODS path` (or the path alone).
    pub fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            if self.methods.is_empty() {
                self.path.clone()
            } else {
                format!("{} {}", self.methods.join(","), self.path)
            }
        })
    }
}

/// `[routes.auth]`
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    /// Open to anyone. Must be set explicitly; a route is never open by default.
    #[serde(default)]
    pub public: bool,
    /// Credential kinds accepted: `api_key`, `server_key`, `access_token`, `jwt`.
    #[serde(default)]
    pub accept: Vec<String>,
    /// Scopes that must all be present.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Scopes of which at least one must be present.
    #[serde(default)]
    pub any_scopes: Vec<String>,
    /// The surface this route belongs to; keys with another usage tag are refused.
    pub usage: Option<String>,
    /// Path parameter checked against a key's allow-list (e.g. `agent_id`).
    pub allow_param: Option<String>,
    /// Forward the credential headers to the upstream.
    #[serde(default)]
    pub forward_credentials: bool,
    /// Stamp routes: accept bodies without a timestamp. Replay protection
    /// then lasts only as long as the replay memory. Logged at load.
    #[serde(default)]
    pub insecure_no_timestamp: bool,
    /// RFC 9421 signatures: components that must be covered instead of the
    /// default set (`content-digest` stays required with a body).
    #[serde(default)]
    pub signature_components: Vec<String>,
    /// RFC 9421 signatures: require a `nonce` parameter.
    #[serde(default)]
    pub signature_nonce: bool,
    /// Add the `RateLimit-Policy` and `RateLimit` headers of the tightest
    /// rate limit to the responses of admitted requests (refusals always
    /// carry them).
    #[serde(default)]
    pub rate_limit_headers: bool,
}

/// `[credentials]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsSection {
    /// Longest credential accepted, in bytes.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: usize,
    /// `sha256` or `hmac-sha256` (then `pepper_env` names the variable holding the pepper).
    #[serde(default = "default_digest")]
    pub digest: String,
    /// Environment variable with the HMAC pepper.
    pub pepper_env: Option<String>,
    /// Prefix families.
    #[serde(default)]
    pub prefixes: Vec<PrefixSection>,
    /// Route `usage` tags that mark browser surfaces: only those routes may
    /// accept publishable keys, and they refuse server keys.
    #[serde(default = "default_browser_usages")]
    pub browser_usages: Vec<String>,
}

fn default_browser_usages() -> Vec<String> {
    vec!["browser".into()]
}

impl Default for CredentialsSection {
    fn default() -> Self {
        Self {
            max_bytes: default_max_bytes(),
            digest: default_digest(),
            browser_usages: default_browser_usages(),
            pepper_env: None,
            prefixes: Vec::new(),
        }
    }
}

/// `[[credentials.prefixes]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefixSection {
    /// The literal prefix, e.g. `mantyx_at_`.
    pub prefix: String,
    /// `api_key`, `server_key`, `access_token` or `reject`.
    pub kind: String,
    /// Credentials of this family end in an authgate checksum (keys minted here).
    #[serde(default = "yes")]
    pub checksum: bool,
}

/// `[cache]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSection {
    /// Longest time a verified identity is reused.
    #[serde(default = "default_cache_ttl", with = "humantime_serde")]
    pub ttl: Duration,
    /// How long an unknown credential is remembered as unknown.
    #[serde(default = "default_negative_ttl", with = "humantime_serde")]
    pub negative_ttl: Duration,
    /// Maximum number of cached credentials.
    #[serde(default = "default_cache_entries")]
    pub max_entries: u64,
}

impl Default for CacheSection {
    fn default() -> Self {
        Self {
            ttl: default_cache_ttl(),
            negative_ttl: default_negative_ttl(),
            max_entries: default_cache_entries(),
        }
    }
}

/// `[[keys]]`: one opaque credential, by digest.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KeySection {
    /// Credential id, safe to log.
    pub id: String,
    /// `sha256:<hex>` (or `hmac-sha256:<hex>`) of the credential (not for stamp keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// `api_key`, `server_key`, `access_token` or `stamp`.
    pub kind: String,
    /// Stamp keys: the public key, hex (normalised on load).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// Stamp keys: `p256`, `secp256k1` or `ed25519`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// The subject (user, service or application).
    pub subject: String,
    /// The workspace slug the key belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// Granted scopes (empty for workspace keys: full access to their surface).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Sub-resources the key may reach (empty = all).
    #[serde(default)]
    pub allow: Vec<String>,
    /// Usage tag, e.g. `developer_api`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<String>,
    /// RFC 3339 expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Refuse the key without deleting it.
    #[serde(default)]
    pub disabled: bool,
    /// The key's own rate limit, e.g. `{ rate = 100, per = "1s", burst = 20 }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<authgate_store::KeyRateLimit>,
}

/// `[jwt]`
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct JwtSection {
    /// Trusted issuers.
    #[serde(default)]
    pub issuers: Vec<IssuerSection>,
}

/// `[identity]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySection {
    /// Inbound headers with this prefix are always removed.
    #[serde(default = "default_identity_prefix")]
    pub header_prefix: String,
    /// Path parameter that binds a route to the credential's workspace.
    #[serde(default = "default_ws_param")]
    pub workspace_param: String,
    /// `runs:write` implies `runs:read`.
    #[serde(default)]
    pub hierarchical_scopes: bool,
    /// Peers (CIDRs) whose inbound `X-Forwarded-*` / `Forwarded` and
    /// client-address headers (`X-Real-IP`, `True-Client-IP`, …) are kept.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Set `X-Real-IP` to the client's address (kept as sent when the peer
    /// is a trusted proxy that sent one).
    #[serde(default)]
    pub set_real_ip: bool,
    /// Per-header name overrides; unset names are `<header_prefix><field>`.
    #[serde(default)]
    pub headers: HeaderNamesSection,
    /// Signed identity assertion for upstreams.
    pub assertion: Option<AssertionSection>,
}

impl Default for IdentitySection {
    fn default() -> Self {
        Self {
            header_prefix: default_identity_prefix(),
            workspace_param: default_ws_param(),
            hierarchical_scopes: false,
            trusted_proxies: Vec::new(),
            set_real_ip: false,
            headers: HeaderNamesSection::default(),
            assertion: None,
        }
    }
}

/// `[identity.headers]`: names of the identity headers.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HeaderNamesSection {
    /// Subject header (default `<prefix>subject`).
    pub subject: Option<String>,
    /// Workspace header (default `<prefix>workspace`).
    pub workspace: Option<String>,
    /// Scopes header (default `<prefix>scopes`).
    pub scopes: Option<String>,
    /// Credential kind header (default `<prefix>method`).
    pub method: Option<String>,
    /// Credential id header (default `<prefix>credential-id`).
    pub credential_id: Option<String>,
    /// Expiry header (default `<prefix>expires-at`).
    pub expires_at: Option<String>,
    /// Assertion header (default `<prefix>assertion`).
    pub assertion: Option<String>,
}

/// `[identity.assertion]`: a short-lived EdDSA JWT per forwarded request.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AssertionSection {
    /// PKCS#8 PEM Ed25519 private key.
    pub key_file: String,
    /// `kid` of the key in the served JWKS.
    #[serde(default = "default_assertion_kid")]
    pub kid: String,
    /// `iss` of assertions.
    #[serde(default = "default_assertion_iss")]
    pub issuer: String,
    /// `aud` of assertions, if any.
    pub audience: Option<String>,
    /// Lifetime of an assertion.
    #[serde(default = "default_assertion_ttl", with = "humantime_serde")]
    pub ttl: Duration,
    /// Also sign each forwarded request with RFC 9421 (label `authgate`,
    /// this key, its `kid` as `keyid`): method, authority, path, query, the
    /// identity headers, `x-request-id` and any `Content-Digest`.
    #[serde(default)]
    pub sign_requests: bool,
}

fn default_assertion_kid() -> String {
    "authgate-1".into()
}
fn default_assertion_iss() -> String {
    "authgate".into()
}
fn default_assertion_ttl() -> Duration {
    Duration::from_secs(60)
}

fn yes() -> bool {
    true
}
fn default_listen() -> Vec<String> {
    vec!["127.0.0.1:8080".into()]
}
fn default_threads() -> usize {
    2
}
fn default_grace() -> Duration {
    Duration::from_secs(5)
}
fn default_watch() -> Duration {
    Duration::from_secs(1)
}
fn default_admin() -> String {
    "127.0.0.1:9090".into()
}
fn default_log_format() -> String {
    "text".into()
}
fn default_log_level() -> String {
    "info".into()
}
fn default_connect_timeout() -> Duration {
    Duration::from_secs(2)
}
fn default_read_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_hc_kind() -> String {
    "tcp".into()
}
fn default_hc_path() -> String {
    "/healthz".into()
}
fn default_hc_interval() -> Duration {
    Duration::from_secs(5)
}
fn default_max_bytes() -> usize {
    4096
}
fn default_digest() -> String {
    "sha256".into()
}
fn default_cache_ttl() -> Duration {
    Duration::from_secs(60)
}
fn default_negative_ttl() -> Duration {
    Duration::from_secs(5)
}
fn default_cache_entries() -> u64 {
    200_000
}
fn default_identity_prefix() -> String {
    "x-auth-".into()
}
fn default_ws_param() -> String {
    "workspace".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_stealing_defaults_to_the_thread_count_and_follows_the_setting() {
        let with = |threads, work_stealing| ServerSection {
            threads,
            work_stealing,
            ..ServerSection::default()
        };
        assert!(!with(1, None).steals_work());
        assert!(with(2, None).steals_work());
        assert!(with(1, Some(true)).steals_work());
        assert!(!with(8, Some(false)).steals_work());
    }
}
