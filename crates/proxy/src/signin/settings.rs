//! `[signin]`: the wallet sign-in dialects authgate answers itself:
//! `[signin.session_keys]` (a wallet signs an EIP-4361 message that binds a
//! fresh ed25519 session key; requests are then signed with that key) and
//! `[signin.wallet_tokens]` (in [`super::wallet_settings`]) and
//! `[signin.signed_retry]` (in [`super::retry_settings`]).
//! The file model and its compiled form.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// `[signin]`
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SigninSection {
    /// Session-key sign-in (wallet → ed25519 session key).
    pub session_keys: Option<SessionKeysSection>,
    /// Wallet → access token, refresh token and namespace API keys.
    pub wallet_tokens: Option<super::wallet_settings::WalletTokensSection>,
    /// Signed retry: a session extended with a new key sealed to the client.
    pub signed_retry: Option<super::retry_settings::SignedRetrySection>,
}

/// `[signin.session_keys]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SessionKeysSection {
    /// The EIP-4361 `domain` (the site asking, an RFC 3986 authority).
    pub domain: String,
    /// The EIP-4361 `URI` the sign-in is for.
    pub uri: String,
    /// Optional one-line statement shown by the wallet.
    pub statement: Option<String>,
    /// How long a challenge can be answered.
    #[serde(default = "default_nonce_ttl", with = "humantime_serde")]
    pub nonce_ttl: Duration,
    /// How long a session lasts after sign-in or a refresh.
    #[serde(default = "default_session_ttl", with = "humantime_serde")]
    pub session_ttl: Duration,
    /// The latest a session can be refreshed to, from its sign-in.
    #[serde(default = "default_max_lifetime", with = "humantime_serde")]
    pub max_lifetime: Duration,
    /// Most pending challenges at once, in all and per address, client, IP.
    #[serde(default)]
    pub limits: ChallengeLimits,
    /// The clients allowed to sign users in.
    pub clients: Vec<ClientSection>,
}

/// `[signin.session_keys.limits]`
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ChallengeLimits {
    /// In all (the nonce table's cap).
    pub max_pending: i64,
    /// For one wallet address.
    pub per_address: i64,
    /// For one client.
    pub per_client: i64,
    /// From one client IP.
    pub per_ip: i64,
}

impl Default for ChallengeLimits {
    fn default() -> Self {
        Self {
            max_pending: 100_000,
            per_address: 5,
            per_client: 50_000,
            per_ip: 20,
        }
    }
}

/// `[[signin.session_keys.clients]]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClientSection {
    /// The `client_id` clients send.
    pub id: String,
    /// The workspace its sessions belong to.
    pub workspace: String,
    /// EIP-155 chain ids it may sign in on.
    pub chain_ids: Vec<u64>,
    /// Scopes its sessions carry (none: the whole workspace surface).
    #[serde(default)]
    pub scopes: Vec<String>,
}

impl ChallengeLimits {
    /// Whether every bound is at least 1.
    pub fn valid(&self) -> bool {
        [
            self.max_pending,
            self.per_address,
            self.per_client,
            self.per_ip,
        ]
        .iter()
        .all(|n| *n >= 1)
    }

    /// The bounds the store enforces when it issues a challenge.
    pub fn caps(&self) -> authgate_store::NonceCaps {
        authgate_store::NonceCaps {
            total: self.max_pending,
            per_address: self.per_address,
            per_client: self.per_client,
            per_ip: self.per_ip,
        }
    }
}

fn default_nonce_ttl() -> Duration {
    Duration::from_secs(300)
}

fn default_session_ttl() -> Duration {
    Duration::from_secs(24 * 3600)
}

fn default_max_lifetime() -> Duration {
    Duration::from_secs(30 * 24 * 3600)
}

/// The compiled `[signin.session_keys]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionKeys {
    /// As configured.
    pub section: SessionKeysSection,
    /// Clients by id.
    pub clients: BTreeMap<String, ClientSection>,
}

/// Check `s`; errors are `(key, message)` under `signin.session_keys`.
pub fn compile(s: &SessionKeysSection) -> Result<SessionKeys, Vec<(String, String)>> {
    let key = |k: &str| format!("signin.session_keys.{k}");
    let mut errs = Vec::new();
    let authority = |d: &str| {
        !d.is_empty()
            && d.len() <= 255
            && d.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
    };
    if !authority(&s.domain) {
        errs.push((key("domain"), "an authority such as app.example.com".into()));
    }
    if !s.uri.contains(':') || s.uri.contains(char::is_whitespace) {
        errs.push((
            key("uri"),
            "an absolute URI such as https://app.example.com".into(),
        ));
    }
    if s.statement.as_deref().is_some_and(|t| t.contains('\n')) {
        errs.push((key("statement"), "one line".into()));
    }
    for (name, d) in [
        ("nonce_ttl", s.nonce_ttl),
        ("session_ttl", s.session_ttl),
        ("max_lifetime", s.max_lifetime),
    ] {
        if d.is_zero() {
            errs.push((key(name), "more than zero".into()));
        }
    }
    if s.max_lifetime < s.session_ttl {
        errs.push((key("max_lifetime"), "at least session_ttl".into()));
    }
    if !s.limits.valid() {
        errs.push((key("limits"), "every limit is at least 1".into()));
    }
    let mut clients = BTreeMap::new();
    if s.clients.is_empty() {
        errs.push((key("clients"), "at least one client".into()));
    }
    for (i, c) in s.clients.iter().enumerate() {
        if c.id.is_empty() || c.workspace.is_empty() {
            errs.push((
                format!("{}[{i}]", key("clients")),
                "id and workspace are required".into(),
            ));
        }
        if c.chain_ids.is_empty() {
            errs.push((
                format!("{}[{i}].chain_ids", key("clients")),
                "at least one chain id".into(),
            ));
        }
        if clients.insert(c.id.clone(), c.clone()).is_some() {
            errs.push((
                format!("{}[{i}].id", key("clients")),
                format!("'{}' appears twice", c.id),
            ));
        }
    }
    if errs.is_empty() {
        Ok(SessionKeys {
            section: s.clone(),
            clients,
        })
    } else {
        Err(errs)
    }
}

/// Check `[signin]` against the rest of `file`: a sign-in handler needs its
/// section, the section needs a database store and ed25519 stamps, the
/// challenge and verify routes are public, and refresh/revoke accept
/// exactly the `session` kind. Errors are `(key, message)`.
pub fn validate(
    file: &crate::config::model::FileConfig,
) -> (Option<std::sync::Arc<SessionKeys>>, Vec<(String, String)>) {
    use crate::policy::router::Builtin;
    let mut errs = Vec::new();
    let compiled = match &file.signin.session_keys {
        None => None,
        Some(s) => match compile(s) {
            Ok(c) => Some(std::sync::Arc::new(c)),
            Err(e) => {
                errs.extend(e);
                None
            }
        },
    };
    if file.signin.session_keys.is_some() {
        if file.store.url.is_none() {
            errs.push((
                "signin.session_keys".into(),
                "needs a database store (store.url): challenges and sessions live there".into(),
            ));
        }
        if !file
            .stamps
            .schemes
            .contains(&crate::verify::stamp::StampScheme::Ed25519)
        {
            errs.push((
                "stamps.schemes".into(),
                "session keys sign with ed25519: add SIGNATURE_SCHEME_TK_API_ED25519".into(),
            ));
        }
    }
    for (i, r) in file.routes.iter().enumerate() {
        let Some(h) = r.handler.as_deref().and_then(Builtin::parse) else {
            continue;
        };
        let key = format!("routes[{i}]");
        let signed = matches!(h, Builtin::SessionRefresh | Builtin::SessionRevoke);
        let open = matches!(h, Builtin::SessionChallenge | Builtin::SessionVerify);
        if !(signed || open) {
            continue;
        }
        if file.signin.session_keys.is_none() {
            errs.push((
                format!("{key}.handler"),
                format!("'{}' needs [signin.session_keys]", h.name()),
            ));
        }
        if open && !r.auth.public {
            errs.push((
                format!("{key}.auth"),
                format!("'{}' is where a wallet starts: set public = true", h.name()),
            ));
        }
        if signed && (r.auth.public || r.auth.accept != ["session"]) {
            errs.push((
                format!("{key}.auth"),
                format!(
                    "'{}' acts on the caller's session: accept = [\"session\"] only",
                    h.name()
                ),
            ));
        }
    }
    (compiled, errs)
}
