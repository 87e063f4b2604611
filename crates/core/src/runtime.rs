//! The compiled authentication settings one config load produces: what the
//! verifiers read on the request path. The proxy's runtime holds one of
//! these beside its routes, pools and listeners.

use crate::credential::digest::Digester;
use crate::credential::sniff::PrefixTable;
use crate::settings::StampsSection;
use crate::stages::Stages;
use crate::store::Store;
use crate::verify::jwt::Issuer;
use crate::verify::stamp::ReplayGuard;
use std::sync::Arc;
use std::time::Duration;

/// Everything verification needs, immutable once published (the replay
/// guard and the store have interior state of their own).
#[derive(Debug)]
pub struct AuthRuntime {
    /// Prefix families.
    pub prefixes: PrefixTable,
    /// How opaque credentials are digested.
    pub digester: Digester,
    /// Longest credential accepted.
    pub max_credential_bytes: usize,
    /// Opaque credential records.
    pub store: Arc<dyn Store>,
    /// Deadline of one store call.
    pub store_timeout: Duration,
    /// How many key records the config (and its keys file) holds.
    pub key_count: usize,
    /// JWT issuers.
    pub issuers: Vec<Arc<Issuer>>,
    /// Stamp settings.
    pub stamps: StampsSection,
    /// RFC 9421 signing keys named by `keyid` (`[[signing_keys]]`).
    pub signing_keys:
        std::collections::HashMap<String, Arc<crate::verify::httpsig_auth::SigningKey>>,
    /// Where the HMAC secrets of signing keys registered in the store are
    /// read from (`[store] hmac_secrets_dir`).
    pub hmac_secrets_dir: Option<std::path::PathBuf>,
    /// Stamp signatures seen within the freshness window; carried across
    /// reloads (resized, never emptied).
    pub replay: ReplayGuard,
    /// Whether a stamp or message signature is also claimed in the store,
    /// so that every instance sharing it refuses the replay
    /// ([`crate::store::Store::claim_once`]).
    pub shared_replay: bool,
    /// The post-authentication stages, in order.
    pub stages: Stages,
    /// Changes whenever anything that decides authentication changes; part of
    /// every cache key, so a reload that removes or disables a key can never
    /// be answered from an old cache entry.
    pub auth_generation: u64,
}

impl AuthRuntime {
    /// A runtime with `store` and `stamps` and nothing else configured (no
    /// prefixes, no issuers, SHA-256 digests, the default stage chain): for
    /// embedding the core and for tests. The proxy compiles its own from
    /// the config file.
    pub fn minimal(store: Arc<dyn Store>, stamps: StampsSection) -> Self {
        let replay = ReplayGuard::for_window(stamps.window, stamps.leeway, stamps.replay_capacity);
        Self {
            prefixes: PrefixTable::new(Vec::new()),
            digester: Digester::Sha256,
            max_credential_bytes: 4096,
            store,
            store_timeout: Duration::from_secs(2),
            key_count: 0,
            issuers: Vec::new(),
            stamps,
            signing_keys: Default::default(),
            hmac_secrets_dir: None,
            replay,
            shared_replay: false,
            stages: Stages::decide_only("workspace", false),
            auth_generation: 0,
        }
    }
}
