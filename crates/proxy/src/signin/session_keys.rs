//! Session-key sign-in (`[signin.session_keys]`), the four answers:
//!
//! - challenge `{address, client_id, chain_id, session_public_key}` → a
//!   stored single-use nonce and the EIP-4361 message to sign, which binds
//!   the session key (`urn:authgate:session-key:ed25519:<hex>`);
//! - verify `{…, signature, nonce}` → the wallet's `personal_sign` over that
//!   exact message is recovered and compared; only then is the nonce
//!   consumed and the session key stored (kind `session`, subject the
//!   checksummed address, the client's workspace) →
//!   `{expires_at, user: {address}, session_id}`;
//! - refresh (signed by the session key) → `expires_at` moved on, never
//!   past the sign-in's `max_lifetime`;
//! - revoke (signed) → the session is revoked in the store: refused here at
//!   once and by every instance through the change feed.

use super::settings::SessionKeys;
use crate::cache::IdentityCache;
use crate::credential::CredentialKind;
use crate::error::ErrorResponse;
use crate::identity::Identity;
use crate::verify::stamp::{key_digest, normalise_key, NormalisedKey, StampScheme};
use authgate_core::wallet::{personal, Address, SiweMessage, WalletError};
use authgate_store::now;
use authgate_store::{KeyPatch, KeyStore, NewKey, Nonce, WriteError};
use rand::distributions::{Alphanumeric, DistString};
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::{Duration, UNIX_EPOCH};

/// What every answer gets.
pub struct Ctx<'a> {
    /// The compiled `[signin.session_keys]`.
    pub settings: &'a SessionKeys,
    /// The database store.
    pub store: &'a dyn KeyStore,
    /// This instance's identity cache.
    pub cache: &'a IdentityCache,
    /// The client's IP, for the per-IP bound.
    pub ip: String,
}

fn reply(status: u16, body: Value) -> ErrorResponse {
    ErrorResponse::json(status, &body)
}

fn error(status: u16, code: &str, message: impl Into<String>) -> ErrorResponse {
    ErrorResponse::coded(status, code, message)
}

fn bad(code: &str, message: impl Into<String>) -> ErrorResponse {
    error(400, code, message)
}

fn unavailable(e: impl std::fmt::Display) -> ErrorResponse {
    tracing::warn!(error = %e, "sign-in: store call failed");
    ErrorResponse::store_down("sign-in")
}

fn wallet_error(e: WalletError) -> ErrorResponse {
    match e {
        WalletError::Address(m) => bad("invalid_address", m),
        WalletError::SignatureFormat(m) => bad("invalid_signature_format", m),
        WalletError::Unrecoverable => {
            error(401, "signature_mismatch", "signature does not match wallet")
        }
        WalletError::Message(m) => bad("invalid_message", m),
    }
}

fn rfc3339(unix_seconds: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_secs(unix_seconds.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

/// A chain id as a JSON number or a decimal string.
#[derive(Deserialize)]
#[serde(untagged)]
enum ChainId {
    Number(u64),
    Text(String),
}

impl ChainId {
    fn value(&self) -> Result<u64, ErrorResponse> {
        match self {
            ChainId::Number(n) => Ok(*n),
            ChainId::Text(s) => s
                .parse()
                .map_err(|_| bad("invalid_chain_id", "chain_id: a decimal EIP-155 chain id")),
        }
    }
}

/// What challenge and verify both carry.
#[derive(Deserialize)]
struct Claim {
    address: String,
    client_id: String,
    chain_id: ChainId,
    session_public_key: String,
}

/// The claim, checked against the config: the address, the client's
/// chain, the session key as a valid ed25519 point (hex, `0x` optional).
struct Checked<'s> {
    address: Address,
    client: &'s super::settings::ClientSection,
    chain_id: u64,
    session_key: NormalisedKey,
}

fn check<'s>(ctx: &Ctx<'s>, c: &Claim) -> Result<Checked<'s>, ErrorResponse> {
    let address = Address::parse(&c.address).map_err(wallet_error)?;
    let client = ctx.settings.clients.get(&c.client_id).ok_or_else(|| {
        bad(
            "unknown_client",
            format!(
                "no client '{}'",
                c.client_id.chars().take(64).collect::<String>()
            ),
        )
    })?;
    let chain_id = c.chain_id.value()?;
    if !client.chain_ids.contains(&chain_id) {
        return Err(bad(
            "unsupported_chain",
            format!("chain {chain_id} is not enabled for this client"),
        ));
    }
    let hex_key = c
        .session_public_key
        .strip_prefix("0x")
        .unwrap_or(&c.session_public_key);
    let key = normalise_key(StampScheme::Ed25519, hex_key).map_err(|e| {
        bad(
            "invalid_session_key",
            format!(
                "session_public_key: not an ed25519 public key ({})",
                e.reason()
            ),
        )
    })?;
    Ok(Checked {
        address,
        client,
        chain_id,
        session_key: key,
    })
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ErrorResponse> {
    serde_json::from_slice(body).map_err(|e| bad("invalid_request", e.to_string()))
}

/// `POST …/challenge`
pub async fn challenge(ctx: &Ctx<'_>, body: &[u8]) -> ErrorResponse {
    let claim: Claim = match parse(body) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let c = match check(ctx, &claim) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let s = &ctx.settings.section;
    let issued = now();
    let expires = issued + s.nonce_ttl.as_secs() as i64;
    let nonce = Alphanumeric.sample_string(&mut rand::thread_rng(), 17);
    let message = SiweMessage {
        scheme: None,
        domain: s.domain.clone(),
        address: c.address.checksummed(),
        statement: s.statement.clone(),
        uri: s.uri.clone(),
        version: "1".into(),
        chain_id: c.chain_id,
        nonce: nonce.clone(),
        issued_at: rfc3339(issued),
        expiration_time: Some(rfc3339(expires)),
        not_before: None,
        request_id: None,
        resources: vec![format!(
            "{}{}",
            authgate_core::wallet::siwe::SESSION_KEY_URN,
            c.session_key.to_hex()
        )],
    }
    .to_message();
    let record = Nonce {
        nonce: nonce.clone(),
        address: c.address.checksummed(),
        client_id: c.client.id.clone(),
        chain_id: c.chain_id as i64,
        session_key: c.session_key.to_hex(),
        ip: ctx.ip.clone(),
        message: message.clone(),
        expires_at: expires,
    };
    let caps = s.limits.caps();
    match ctx.store.put_nonce(&record, &caps).await {
        Ok(()) => reply(
            200,
            json!({"nonce": nonce, "message": message, "expires_at": rfc3339(expires)}),
        ),
        Err(WriteError::Conflict(m)) => {
            let mut r = error(429, "too_many_challenges", m);
            r.headers
                .push(("retry-after", s.nonce_ttl.as_secs().to_string()));
            r
        }
        Err(WriteError::Store(e)) => unavailable(e),
        Err(e @ WriteError::ParentInactive(_)) => unavailable(e),
    }
}

#[derive(Deserialize)]
struct VerifyBody {
    #[serde(flatten)]
    claim: Claim,
    signature: String,
    nonce: String,
}

/// `POST …/verify`
pub async fn verify(ctx: &Ctx<'_>, body: &[u8]) -> ErrorResponse {
    let b: VerifyBody = match parse(body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let c = match check(ctx, &b.claim) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(e) = personal::parse_signature(&b.signature) {
        return wallet_error(e);
    }
    let pending = match ctx.store.get_nonce(&b.nonce).await {
        Ok(Some(n)) => n,
        Ok(None) => return bad("invalid_nonce", "invalid or expired nonce"),
        Err(e) => return unavailable(e),
    };
    // The answer must be for the challenge as issued.
    if pending.address != c.address.checksummed()
        || pending.client_id != c.client.id
        || pending.chain_id != c.chain_id as i64
        || pending.session_key != c.session_key.to_hex()
    {
        return bad(
            "challenge_mismatch",
            "address, client_id, chain_id or session_public_key differ from the challenge",
        );
    }
    match personal::recover(pending.message.as_bytes(), &b.signature) {
        Ok(signer) if signer == c.address => {}
        Ok(_) | Err(WalletError::Unrecoverable) => {
            return error(401, "signature_mismatch", "signature does not match wallet")
        }
        Err(e) => return wallet_error(e),
    }
    // Consumed only now, and only once across instances.
    match ctx.store.consume_nonce(&b.nonce).await {
        Ok(true) => {}
        Ok(false) => return bad("invalid_nonce", "invalid or expired nonce"),
        Err(e) => return unavailable(e),
    }
    let s = &ctx.settings.section;
    let at = now();
    let expires = at + s.session_ttl.as_secs() as i64;
    let key = &c.session_key;
    let id = format!(
        "ses_{}",
        Alphanumeric.sample_string(&mut rand::thread_rng(), 20)
    );
    let new = NewKey {
        id: id.clone(),
        digest: key_digest(StampScheme::Ed25519, key),
        kind: CredentialKind::Session,
        subject: c.address.checksummed(),
        workspace: Some(c.client.workspace.clone()),
        scopes: c.client.scopes.clone(),
        allow: Vec::new(),
        usage: None,
        expires_at: Some(expires),
        scheme: Some(StampScheme::Ed25519.label().to_string()),
        public_key: Some(key.to_hex()),
        metadata: json!({
            "client_id": c.client.id,
            "chain_id": c.chain_id,
            "max_until": at + s.max_lifetime.as_secs() as i64,
        }),
        rotated_from: None,
        minted: None,
        rate_limit: None,
        quota: None,
    };
    match ctx.store.create(new).await {
        Ok(k) => {
            ctx.cache.invalidate_digest(k.digest);
            tracing::info!(target: "signin", session_id = %k.id, subject = %k.subject, client = %c.client.id, "session signed in");
            reply(
                200,
                json!({
                    "expires_at": rfc3339(expires),
                    "user": {"address": c.address.checksummed()},
                    "session_id": id,
                }),
            )
        }
        Err(WriteError::Conflict(_)) => error(
            409,
            "session_key_in_use",
            "this session public key is already registered; generate a new one",
        ),
        Err(WriteError::Store(e)) => unavailable(e),
        Err(e @ WriteError::ParentInactive(_)) => unavailable(e),
    }
}

/// The caller's session, which must be a session credential.
fn session_id(identity: Option<&Identity>) -> Result<&str, ErrorResponse> {
    match identity {
        Some(id) if id.kind == CredentialKind::Session => Ok(&id.credential_id),
        _ => Err(error(
            401,
            "session_required",
            "sign this request with the session key",
        )),
    }
}

/// `POST …/refresh` (signed by the session key)
pub async fn refresh(ctx: &Ctx<'_>, identity: Option<&Identity>) -> ErrorResponse {
    let id = match session_id(identity) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let k = match ctx.store.get(id).await {
        Ok(Some(k)) if k.revoked_at.is_none() => k,
        Ok(_) => return error(401, "session_revoked", "the session no longer exists"),
        Err(e) => return unavailable(e),
    };
    let at = now();
    let max_until = k.metadata["max_until"]
        .as_i64()
        .unwrap_or(k.created_at + ctx.settings.section.max_lifetime.as_secs() as i64);
    let expires = (at + ctx.settings.section.session_ttl.as_secs() as i64).min(max_until);
    let patch = KeyPatch {
        expires_at: Some(Some(expires)),
        ..Default::default()
    };
    match ctx.store.update(id, &patch).await {
        Ok(Some(k)) => {
            ctx.cache.invalidate_digest(k.digest);
            reply(
                200,
                json!({"expires_at": rfc3339(expires), "session_id": k.id, "max_expires_at": rfc3339(max_until)}),
            )
        }
        Ok(None) => error(401, "session_revoked", "the session no longer exists"),
        Err(e) => unavailable(e),
    }
}

/// `POST …/revoke` (signed by the session key)
pub async fn revoke(ctx: &Ctx<'_>, identity: Option<&Identity>) -> ErrorResponse {
    let id = match session_id(identity) {
        Ok(id) => id,
        Err(r) => return r,
    };
    match ctx.store.revoke(id).await {
        Ok(Some(k)) => {
            ctx.cache.invalidate_digest(k.digest);
            tracing::info!(target: "signin", session_id = %k.id, "session revoked");
            reply(200, json!({"revoked": true, "session_id": k.id}))
        }
        Ok(None) => error(401, "session_revoked", "the session no longer exists"),
        Err(e) => unavailable(e),
    }
}
