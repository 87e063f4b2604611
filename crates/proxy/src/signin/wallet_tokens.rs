//! Wallet → token sign-in (`[signin.wallet_tokens]`), the answers a client
//! of that dialect expects, with its field names, statuses and error
//! strings (`{"error": "…"}`):
//!
//! - challenge `{wallet, purpose, namespace}` → a stored single-use nonce
//!   `{wallet, namespace, nonce, purpose, expires_at}`;
//! - verify `{wallet, nonce, signature, namespace}`: the wallet signed the
//!   nonce string itself (`personal_sign`) → an access JWT (authgate's own
//!   EdDSA key) and an opaque refresh token (stored by digest);
//! - API key: the same proof → `<prefix><random>:<namespace>`, the same key
//!   again for the same wallet and namespace, and API key → access JWT
//!   (in [`super::wallet_keys`]); whoami;
//! - refresh: the token is spent and replaced (reuse revokes its family);
//! - logout: one refresh token, or with a JWT and `all: true` all of the
//!   subject's in the namespace.

use super::wallet_settings::{NamespaceSection, WalletTokens};
use crate::cache::IdentityCache;
use crate::error::ErrorResponse;
use crate::identity::Identity;
use authgate_core::credential::digest::Digester;
use authgate_core::verify::Verdict;
use authgate_core::wallet::{personal, Address, WalletError};
use authgate_store::{now, KeyStore, Nonce, RefreshToken};
use authgate_store::{RefreshUse, WriteError};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// What every answer gets.
pub struct Ctx<'a> {
    /// The compiled `[signin.wallet_tokens]`.
    pub settings: &'a WalletTokens,
    /// The database store.
    pub store: &'a dyn KeyStore,
    /// This instance's identity cache.
    pub cache: &'a IdentityCache,
    /// How API keys are digested in the store.
    pub digester: &'a Digester,
    /// The client's IP, for the per-IP bound.
    pub ip: String,
}

/// The dialect's error shape.
pub(super) fn fail(status: u16, message: &str) -> ErrorResponse {
    ErrorResponse::json(status, &json!({ "error": message }))
}

pub(super) fn unavailable(e: impl std::fmt::Display) -> ErrorResponse {
    tracing::warn!(error = %e, "wallet sign-in: store call failed");
    ErrorResponse::store_down("sign-in")
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ErrorResponse> {
    serde_json::from_slice(body).map_err(|_| fail(400, "invalid request body"))
}

fn wallet(s: &str) -> Result<Address, ErrorResponse> {
    Address::parse(s).map_err(|_| fail(400, "invalid wallet address"))
}

fn namespace<'s>(ctx: &Ctx<'s>, name: &str) -> Result<&'s NamespaceSection, ErrorResponse> {
    ctx.settings
        .namespaces
        .get(name)
        .ok_or_else(|| fail(400, "unknown namespace"))
}

/// The nonce table's `client_id` for a namespace of this dialect (so the
/// per-client bound is per namespace, apart from session-key clients).
fn nonce_client(ns: &str) -> String {
    format!("wallet_tokens:{ns}")
}

pub(super) fn random_token(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

fn rfc3339(unix_seconds: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix_seconds.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

#[derive(Deserialize)]
struct ChallengeBody {
    wallet: String,
    #[serde(default)]
    purpose: String,
    #[serde(default = "default_namespace")]
    namespace: String,
}

fn default_namespace() -> String {
    "default".into()
}

/// `POST …/challenge`
pub async fn challenge(ctx: &Ctx<'_>, body: &[u8]) -> ErrorResponse {
    let b: ChallengeBody = match parse(body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (address, ns) = match wallet(&b.wallet).and_then(|a| Ok((a, namespace(ctx, &b.namespace)?)))
    {
        Ok(v) => v,
        Err(r) => return r,
    };
    if b.purpose.len() > 64 || b.purpose.chars().any(char::is_control) {
        return fail(400, "invalid purpose");
    }
    let s = &ctx.settings.section;
    let expires = now() + s.nonce_ttl.as_secs() as i64;
    let nonce = hex::encode(random_token(24).as_bytes())[..48].to_string();
    let record = Nonce {
        nonce: nonce.clone(),
        address: address.checksummed(),
        client_id: nonce_client(&ns.name),
        chain_id: 0,
        session_key: b.purpose.clone(),
        ip: ctx.ip.clone(),
        message: nonce.clone(),
        expires_at: expires,
    };
    let caps = s.limits.caps();
    match ctx.store.put_nonce(&record, &caps).await {
        Ok(()) => ErrorResponse::json(
            200,
            &json!({
                "wallet": address.checksummed(),
                "namespace": ns.name,
                "nonce": nonce,
                "purpose": b.purpose,
                "expires_at": rfc3339(expires),
            }),
        ),
        Err(WriteError::Conflict(_)) => {
            let mut r = fail(429, "too many pending challenges");
            r.headers
                .push(("retry-after", s.nonce_ttl.as_secs().to_string()));
            r
        }
        Err(e) => unavailable(e),
    }
}

#[derive(Deserialize)]
struct ProofBody {
    wallet: String,
    nonce: String,
    signature: String,
    #[serde(default = "default_namespace")]
    namespace: String,
}

/// The wallet proof verify and API-key issuance share: the nonce was issued
/// to this wallet for this namespace, the wallet signed the nonce string;
/// only then is the nonce consumed (once, across instances).
pub(super) async fn proof<'s>(
    ctx: &Ctx<'s>,
    body: &[u8],
) -> Result<(Address, &'s NamespaceSection), ErrorResponse> {
    let b: ProofBody = parse(body)?;
    let address = wallet(&b.wallet)?;
    let ns = namespace(ctx, &b.namespace)?;
    let invalid_nonce = || fail(400, "invalid or expired nonce");
    if b.nonce.is_empty() || b.nonce.len() > 128 {
        return Err(invalid_nonce());
    }
    let pending = match ctx.store.get_nonce(&b.nonce).await {
        Ok(Some(n)) => n,
        Ok(None) => return Err(invalid_nonce()),
        Err(e) => return Err(unavailable(e)),
    };
    if pending.address != address.checksummed() || pending.client_id != nonce_client(&ns.name) {
        return Err(invalid_nonce());
    }
    match personal::recover(pending.message.as_bytes(), &b.signature) {
        Ok(signer) if signer == address => {}
        Ok(_) | Err(WalletError::Unrecoverable) => {
            return Err(fail(401, "signature does not match wallet"))
        }
        Err(_) => return Err(fail(400, "invalid signature format")),
    }
    match ctx.store.consume_nonce(&b.nonce).await {
        Ok(true) => Ok((address, ns)),
        Ok(false) => Err(invalid_nonce()),
        Err(e) => Err(unavailable(e)),
    }
}

#[derive(Serialize)]
struct AccessClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    namespace: &'a str,
    #[serde(skip_serializing_if = "String::is_empty")]
    scope: String,
    /// How the subject proved itself: `wallet` or `api_key`.
    amr: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
}

/// A fresh access token for `subject` in `ns`.
pub(super) fn access_token(
    ctx: &Ctx<'_>,
    subject: &str,
    ns: &str,
    scopes: &[String],
    amr: &str,
) -> Result<String, ErrorResponse> {
    let s = &ctx.settings.section;
    let iat = now();
    let claims = AccessClaims {
        iss: &s.issuer,
        aud: &s.audience,
        sub: subject,
        namespace: ns,
        scope: scopes.join(" "),
        amr,
        iat,
        exp: iat + s.access_ttl.as_secs() as i64,
        jti: random_token(12),
    };
    ctx.settings.signer.sign_claims(&claims).map_err(|e| {
        tracing::error!(error = %e, "wallet sign-in: cannot sign an access token");
        fail(500, "cannot issue a token")
    })
}

fn refresh_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new refresh token and its record (its own family until the store
/// puts it in its predecessor's).
fn new_refresh(ctx: &Ctx<'_>, subject: &str, ns: &str) -> (String, RefreshToken) {
    let token = format!("rt_{}", random_token(32));
    let record = RefreshToken {
        digest: refresh_digest(&token),
        family: random_token(12),
        subject: subject.to_string(),
        namespace: ns.to_string(),
        expires_at: now() + ctx.settings.section.refresh_ttl.as_secs() as i64,
    };
    (token, record)
}

fn token_reply(
    access: String,
    refresh: Option<String>,
    subject: &str,
    ns: &str,
    ctx: &Ctx<'_>,
) -> ErrorResponse {
    let mut body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ctx.settings.section.access_ttl.as_secs(),
        "subject": subject,
        "namespace": ns,
    });
    if let (Some(r), Some(map)) = (refresh, body.as_object_mut()) {
        map.insert("refresh_token".into(), Value::String(r));
    }
    ErrorResponse::json(200, &body)
}

/// `POST …/verify`
pub async fn verify(ctx: &Ctx<'_>, body: &[u8]) -> ErrorResponse {
    let (address, ns) = match proof(ctx, body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let subject = address.checksummed();
    let access = match access_token(ctx, &subject, &ns.name, &ns.scopes, "wallet") {
        Ok(t) => t,
        Err(r) => return r,
    };
    let (refresh, record) = new_refresh(ctx, &subject, &ns.name);
    if let Err(e) = ctx.store.put_refresh(&record).await {
        return unavailable(e);
    }
    tracing::info!(target: "signin", subject = %subject, namespace = %ns.name, "wallet signed in");
    token_reply(access, Some(refresh), &subject, &ns.name, ctx)
}

#[derive(Deserialize)]
struct RefreshBody {
    refresh_token: String,
    #[serde(default = "default_namespace")]
    namespace: String,
}

/// `POST …/refresh`
pub async fn refresh(ctx: &Ctx<'_>, body: &[u8]) -> ErrorResponse {
    let b: RefreshBody = match parse(body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let ns = match namespace(ctx, &b.namespace) {
        Ok(ns) => ns,
        Err(r) => return r,
    };
    let digest = refresh_digest(&b.refresh_token);
    // With rotation, the successor is stored in the same transaction that
    // spends the token (the store gives it the token's family and
    // subject); without, the token is only checked.
    let successor = ctx
        .settings
        .section
        .rotate_refresh_tokens
        .then(|| new_refresh(ctx, "", &ns.name));
    let used = ctx
        .store
        .use_refresh(&digest, &ns.name, successor.as_ref().map(|(_, r)| r))
        .await;
    let token = match used {
        Ok(RefreshUse::Valid(t)) => t,
        Ok(RefreshUse::Invalid) => return fail(401, "invalid or expired refresh token"),
        Ok(RefreshUse::Reused(n)) => {
            tracing::warn!(target: "signin", revoked = n, "wallet sign-in: a spent refresh token was presented again; its family is revoked");
            return fail(401, "refresh token reuse detected; sign in again");
        }
        Err(e) => return unavailable(e),
    };
    let reply_refresh = successor.map(|(next, _)| next);
    match access_token(ctx, &token.subject, &ns.name, &ns.scopes, "wallet") {
        Ok(access) => token_reply(access, reply_refresh, &token.subject, &ns.name, ctx),
        Err(r) => r,
    }
}

/// `GET …/whoami` with an API key or an access token.
pub fn whoami(identity: Option<&Identity>) -> ErrorResponse {
    let Some(id) = identity else {
        return fail(401, "unauthorized");
    };
    ErrorResponse::json(
        200,
        &json!({
            "authenticated": true,
            "subject": id.subject,
            "namespace": id.workspace,
            "method": id.kind.as_str(),
            "expires_at": id.expires_at,
        }),
    )
}

#[derive(Deserialize)]
struct LogoutBody {
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default = "default_namespace")]
    namespace: String,
    #[serde(default)]
    all: bool,
}

/// `POST …/logout`: one refresh token, or (`all: true`, with an access
/// token of this issuer as `Authorization: Bearer`) every refresh token of
/// its subject in the namespace. Unknown tokens answer the same as known
/// ones (nothing to learn by probing).
pub async fn logout(ctx: &Ctx<'_>, body: &[u8], bearer: Option<&str>) -> ErrorResponse {
    let b: LogoutBody = match parse(body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let ns = match namespace(ctx, &b.namespace) {
        Ok(ns) => ns,
        Err(r) => return r,
    };
    if b.all {
        let need = || {
            fail(
                401,
                "a valid access token is required to log out everywhere",
            )
        };
        let Some(token) = bearer else { return need() };
        let issuers = std::slice::from_ref(&ctx.settings.issuer);
        let id = match authgate_core::verify::jwt::verify(issuers, token).await {
            Verdict::Valid(id) if id.workspace.as_deref() == Some(ns.name.as_str()) => id,
            _ => return need(),
        };
        return match ctx.store.revoke_refresh_all(&id.subject, &ns.name).await {
            Ok(n) => ErrorResponse::json(200, &json!({"status": "ok", "revoked": n})),
            Err(e) => unavailable(e),
        };
    }
    let Some(token) = b.refresh_token.filter(|t| !t.is_empty()) else {
        return fail(400, "refresh_token is required");
    };
    match ctx
        .store
        .revoke_refresh(&refresh_digest(&token), &ns.name)
        .await
    {
        Ok(_) => ErrorResponse::json(200, &json!({"status": "ok"})),
        Err(e) => unavailable(e),
    }
}
