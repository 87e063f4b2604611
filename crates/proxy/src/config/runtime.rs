//! The validated, internal form of the configuration, published through
//! `ArcSwap` and read by every request. Never deserialized directly.

use super::database::AdminToken;
use super::model::{CacheSection, FileConfig, IdentitySection};
use crate::assertion::AssertionSigner;
use crate::identity::IdentityHeaders;
use crate::logging::LogFormat;
use crate::policy::router::Router;
use crate::upstream::Pool;
use authgate_core::runtime::AuthRuntime;
use authgate_store::KeyStore;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Everything a request needs, immutable once published.
#[derive(Debug)]
pub struct Runtime {
    /// The file it was built from (listener settings are read at start only).
    pub file: FileConfig,
    /// Directory relative paths were resolved against.
    pub base_dir: PathBuf,
    /// Route table.
    pub router: Router,
    /// Upstream pools by name.
    pub pools: BTreeMap<String, Arc<Pool>>,
    /// Identity header and policy settings.
    pub identity: IdentitySection,
    /// Resolved identity header names.
    pub headers: IdentityHeaders,
    /// Peers whose forwarding headers are trusted.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Signer of identity assertions, when configured.
    pub assertion: Option<Arc<AssertionSigner>>,
    /// Log line format (`log.format`, compiled).
    pub log_format: LogFormat,
    /// The database store of `store.url`, when configured (also behind
    /// `auth.store`, after the config's own keys).
    pub keystore: Option<Arc<dyn KeyStore>>,
    /// The config's own keys (`[[keys]]` and `store.keys_file`).
    pub file_keys: Arc<crate::store::memory::MemoryStore>,
    /// Rate limits (their state survives a reload that keeps them).
    pub rate_limits: Vec<Arc<authgate_core::limits::Limit>>,
    /// Global rate limits (their leases survive a reload that keeps them).
    pub global_limits: Vec<Arc<authgate_core::limits_global::GlobalLimit>>,
    /// The rate-limit stage (also run alone for public routes).
    pub limits: Arc<authgate_core::limits::RateLimits>,
    /// Whether a limit counts by client address.
    pub limits_need_ip: bool,
    /// Keys' own rate limits, with the section they were built from
    /// (kept by a reload that keeps both it and `[redis]`).
    pub per_key_limits: (
        Option<super::limits::KeyLimitsSection>,
        Arc<authgate_core::limits_keys::PerKeyLimits>,
    ),
    /// The shared buckets of `[redis]` (kept by a reload that keeps the
    /// section).
    pub redis: Option<(
        super::limits::RedisSection,
        Arc<crate::redis_buckets::RedisBuckets>,
    )>,
    /// Session-key sign-in (`[signin.session_keys]`), compiled.
    pub signin: Option<Arc<crate::signin::settings::SessionKeys>>,
    /// Wallet-token sign-in (`[signin.wallet_tokens]`), compiled.
    pub wallet_tokens: Option<Arc<crate::signin::wallet_settings::WalletTokens>>,
    /// Signed-retry sessions (`[signin.signed_retry]`), compiled.
    pub signed_retry: Option<Arc<crate::signin::retry_settings::SignedRetry>>,
    /// The minting doors (`[minting]`), compiled.
    pub minting: Option<Arc<crate::minting::settings::Minting>>,
    /// Admin API tokens (none: the API is off).
    pub admin_tokens: Vec<AdminToken>,
    /// Cache settings.
    pub cache: CacheSection,
    /// What verification reads (credentials, issuers, stamps, store).
    pub auth: AuthRuntime,
    /// Fingerprint of the auth-relevant inputs, to decide `auth_generation`.
    pub auth_fingerprint: [u8; 32],
    /// SHA-256 of each key file the config names, as read at load.
    pub file_digests: BTreeMap<PathBuf, [u8; 32]>,
    /// Files whose change triggers a reload (the config and what it references).
    pub watched_files: Vec<PathBuf>,
}
