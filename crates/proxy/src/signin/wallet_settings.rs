//! `[signin.wallet_tokens]`: the wallet → token dialect (a wallet signs a
//! nonce; authgate answers with its own access JWT and a rotating refresh
//! token, or a namespace API key). The file model, its compiled form (with
//! the issuer that makes authgate's own access tokens count on proxied
//! routes), and the checks of the routes that mount it.

use super::settings::ChallengeLimits;
use crate::assertion::AssertionSigner;
use crate::policy::router::Builtin;
use authgate_core::settings::IssuerSection;
use authgate_core::verify::jwks::KeySet;
use authgate_core::verify::jwt::Issuer;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// `[signin.wallet_tokens]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WalletTokensSection {
    /// The `iss` of the access tokens.
    #[serde(default = "default_issuer")]
    pub issuer: String,
    /// The `aud` of the access tokens.
    #[serde(default = "default_audience")]
    pub audience: String,
    /// How long a challenge can be answered.
    #[serde(default = "default_nonce_ttl", with = "humantime_serde")]
    pub nonce_ttl: Duration,
    /// Lifetime of an access token.
    #[serde(default = "default_access_ttl", with = "humantime_serde")]
    pub access_ttl: Duration,
    /// Lifetime of a refresh token.
    #[serde(default = "default_refresh_ttl", with = "humantime_serde")]
    pub refresh_ttl: Duration,
    /// Refresh tokens are spent on use and replaced (reuse of a spent one
    /// revokes its family). `false` for clients that cannot store a new
    /// token: the same token then stays valid until it expires.
    #[serde(default = "yes")]
    pub rotate_refresh_tokens: bool,
    /// Prefix of the namespace API keys (`<prefix><random>:<namespace>`).
    #[serde(default = "default_key_prefix")]
    pub api_key_prefix: String,
    /// Most pending challenges at once, in all and per wallet, namespace
    /// (`per_client`) and IP.
    #[serde(default)]
    pub limits: ChallengeLimits,
    /// The namespaces wallets sign in to; each is the workspace of the
    /// identities it yields.
    pub namespaces: Vec<NamespaceSection>,
}

/// `[[signin.wallet_tokens.namespaces]]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NamespaceSection {
    /// The namespace (also the workspace slug).
    pub name: String,
    /// Scopes its access tokens and API keys carry.
    #[serde(default)]
    pub scopes: Vec<String>,
}

fn default_issuer() -> String {
    "authgate".into()
}
fn default_audience() -> String {
    "authgate".into()
}
fn default_nonce_ttl() -> Duration {
    Duration::from_secs(300)
}
fn default_access_ttl() -> Duration {
    Duration::from_secs(15 * 60)
}
fn default_refresh_ttl() -> Duration {
    Duration::from_secs(30 * 24 * 3600)
}
fn default_key_prefix() -> String {
    "ak_".into()
}
fn yes() -> bool {
    true
}

/// The compiled `[signin.wallet_tokens]`.
pub struct WalletTokens {
    /// As configured.
    pub section: WalletTokensSection,
    /// Namespaces by name.
    pub namespaces: BTreeMap<String, NamespaceSection>,
    /// authgate's own issuer: its access tokens, verified with the
    /// assertion key's JWKS (also among the runtime's issuers).
    pub issuer: Arc<Issuer>,
    /// Signs the access tokens (the `[identity.assertion]` key).
    pub signer: Arc<AssertionSigner>,
}

impl std::fmt::Debug for WalletTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalletTokens")
            .field("issuer", &self.section.issuer)
            .field("namespaces", &self.namespaces.keys())
            .finish()
    }
}

/// Check `s` and build the issuer; errors are `(key, message)`.
fn compile(
    s: &WalletTokensSection,
    signer: Option<&Arc<AssertionSigner>>,
) -> Result<WalletTokens, Vec<(String, String)>> {
    let key = |k: &str| format!("signin.wallet_tokens.{k}");
    let mut errs = Vec::new();
    for (name, d) in [
        ("nonce_ttl", s.nonce_ttl),
        ("access_ttl", s.access_ttl),
        ("refresh_ttl", s.refresh_ttl),
    ] {
        if d.is_zero() {
            errs.push((key(name), "more than zero".into()));
        }
    }
    if s.issuer.is_empty() || s.audience.is_empty() {
        errs.push((key("issuer"), "issuer and audience are non-empty".into()));
    }
    let prefix_ok = !s.api_key_prefix.is_empty()
        && s.api_key_prefix.len() <= 32
        && s.api_key_prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !prefix_ok {
        errs.push((key("api_key_prefix"), "1–32 of A-Z a-z 0-9 _ -".into()));
    }
    if !s.limits.valid() {
        errs.push((key("limits"), "every limit is at least 1".into()));
    }
    let mut namespaces = BTreeMap::new();
    if s.namespaces.is_empty() {
        errs.push((key("namespaces"), "at least one namespace".into()));
    }
    for (i, n) in s.namespaces.iter().enumerate() {
        let ok = !n.name.is_empty()
            && n.name.len() <= 64
            && n.name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !ok {
            errs.push((
                format!("{}[{i}].name", key("namespaces")),
                "1–64 of A-Z a-z 0-9 _ - .".into(),
            ));
        }
        if namespaces.insert(n.name.clone(), n.clone()).is_some() {
            errs.push((
                format!("{}[{i}].name", key("namespaces")),
                format!("'{}' appears twice", n.name),
            ));
        }
    }
    let Some(signer) = signer else {
        errs.push((
            "identity.assertion".into(),
            "signin.wallet_tokens signs its access tokens with the assertion key: configure [identity.assertion]".into(),
        ));
        return Err(errs);
    };
    if !errs.is_empty() {
        return Err(errs);
    }
    let issuer = issuer_section(s);
    let keys = KeySet::from_jwks_json(signer.jwks().as_bytes())
        .map_err(|m| vec![("identity.assertion".to_string(), m)])?;
    let issuer = Issuer::with_keys(&issuer, keys).map_err(|m| vec![(key("issuer"), m)])?;
    Ok(WalletTokens {
        section: s.clone(),
        namespaces,
        issuer: Arc::new(issuer),
        signer: signer.clone(),
    })
}

/// The issuer entry of authgate's own access tokens: EdDSA only, its
/// audience, the namespace claim as the workspace.
fn issuer_section(s: &WalletTokensSection) -> IssuerSection {
    IssuerSection {
        name: "authgate-wallet".into(),
        issuer: s.issuer.clone(),
        audiences: vec![s.audience.clone()],
        insecure_no_audience: false,
        algorithms: vec!["EdDSA".into()],
        secret_file: None,
        secret_env: None,
        public_key_file: None,
        jwks_file: None,
        jwks_url: None,
        insecure_http_jwks: false,
        jwks_refresh: Duration::from_secs(300),
        jwks_cooldown: Duration::from_secs(30),
        leeway: Duration::from_secs(30),
        subject_claim: "sub".into(),
        workspace_claim: "namespace".into(),
        insecure_platform_wide: false,
    }
}

/// The wallet-token handlers and whether each is public (`Some(true)`),
/// authenticated (`Some(false)`) or not one of them.
fn public(h: Builtin) -> Option<bool> {
    match h {
        Builtin::WalletChallenge
        | Builtin::WalletVerify
        | Builtin::WalletApiKey
        | Builtin::WalletRefresh
        | Builtin::WalletLogout => Some(true),
        Builtin::WalletKeyToken | Builtin::WalletWhoami => Some(false),
        _ => None,
    }
}

/// Whether `h` is a wallet-token handler.
pub fn handles(h: Builtin) -> bool {
    public(h).is_some()
}

/// Check `[signin.wallet_tokens]` against the rest of `file` (a database
/// store, the assertion key, how its routes are mounted) and compile it.
pub fn validate(
    file: &crate::config::model::FileConfig,
    signer: Option<&Arc<AssertionSigner>>,
) -> (Option<Arc<WalletTokens>>, Vec<(String, String)>) {
    let mut errs = Vec::new();
    let compiled = match &file.signin.wallet_tokens {
        None => None,
        Some(s) => {
            if file.store.url.is_none() {
                errs.push((
                    "signin.wallet_tokens".into(),
                    "needs a database store (store.url): nonces, refresh tokens and API keys live there".into(),
                ));
            }
            let prefixed = file
                .credentials
                .prefixes
                .iter()
                .any(|p| p.prefix == s.api_key_prefix && p.kind == "api_key" && !p.checksum);
            if !prefixed {
                errs.push((
                    "signin.wallet_tokens.api_key_prefix".into(),
                    format!(
                        "the keys it issues (<prefix><random>:<namespace>, no checksum) need [[credentials.prefixes]] prefix = \"{}\" kind = \"api_key\" checksum = false",
                        s.api_key_prefix
                    ),
                ));
            }
            match compile(s, signer) {
                Ok(c) => Some(Arc::new(c)),
                Err(e) => {
                    errs.extend(e);
                    None
                }
            }
        }
    };
    for (i, r) in file.routes.iter().enumerate() {
        let Some(h) = r.handler.as_deref().and_then(Builtin::parse) else {
            continue;
        };
        let Some(open) = public(h) else { continue };
        let key = format!("routes[{i}]");
        if file.signin.wallet_tokens.is_none() {
            errs.push((
                format!("{key}.handler"),
                format!("'{}' needs [signin.wallet_tokens]", h.name()),
            ));
        }
        if open && !r.auth.public {
            errs.push((
                format!("{key}.auth"),
                format!("'{}' is where a wallet starts: set public = true", h.name()),
            ));
        }
        let accepts_ok = match h {
            Builtin::WalletKeyToken => r.auth.accept == ["api_key"],
            _ => {
                !r.auth.accept.is_empty()
                    && r.auth.accept.iter().all(|k| k == "api_key" || k == "jwt")
            }
        };
        if !open && (r.auth.public || !accepts_ok) {
            errs.push((
                format!("{key}.auth"),
                match h {
                    Builtin::WalletKeyToken => format!(
                        "'{}' exchanges an API key: accept = [\"api_key\"] only",
                        h.name()
                    ),
                    _ => format!(
                        "'{}' describes the caller: accept = [\"api_key\", \"jwt\"]",
                        h.name()
                    ),
                },
            ));
        }
    }
    (compiled, errs)
}
