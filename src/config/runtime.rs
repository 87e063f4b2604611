//! The validated, internal form of the configuration, published through
//! `ArcSwap` and read by every request. Never deserialized directly.

use super::model::{CacheSection, FileConfig, IdentitySection};
use crate::assertion::AssertionSigner;
use crate::credential::digest::Digester;
use crate::credential::sniff::PrefixTable;
use crate::identity::IdentityHeaders;
use crate::policy::router::Router;
use crate::store::Store;
use crate::upstream::Pool;
use crate::verify::jwt::Issuer;
use crate::verify::stamp::ReplayGuard;
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
    /// Prefix families.
    pub prefixes: PrefixTable,
    /// How opaque credentials are digested.
    pub digester: Digester,
    /// Longest credential accepted.
    pub max_credential_bytes: usize,
    /// Opaque credential records.
    pub store: Arc<dyn Store>,
    /// How many key records the config (and its keys file) holds.
    pub key_count: usize,
    /// JWT issuers.
    pub issuers: Vec<Arc<Issuer>>,
    /// Identity header and policy settings.
    pub identity: IdentitySection,
    /// Resolved identity header names.
    pub headers: IdentityHeaders,
    /// Peers whose forwarding headers are trusted.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Signer of identity assertions, when configured.
    pub assertion: Option<Arc<AssertionSigner>>,
    /// Cache settings.
    pub cache: CacheSection,
    /// Stamp signatures seen within the freshness window; carried across
    /// reloads (resized, never emptied).
    pub replay: ReplayGuard,
    /// Changes whenever anything that decides authentication changes; part of
    /// every cache key, so a reload that removes or disables a key can never
    /// be answered from an old cache entry.
    pub auth_generation: u64,
    /// Fingerprint of the auth-relevant inputs, to decide `auth_generation`.
    pub auth_fingerprint: [u8; 32],
    /// SHA-256 of each key file the config names, as read at load.
    pub file_digests: BTreeMap<PathBuf, [u8; 32]>,
    /// Files whose change triggers a reload (the config and what it references).
    pub watched_files: Vec<PathBuf>,
}
