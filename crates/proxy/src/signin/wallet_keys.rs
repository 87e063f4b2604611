//! Namespace API keys of the wallet-token dialect: issued on a wallet
//! proof (`<prefix><random>:<namespace>`, the same key again for the same
//! wallet and namespace) and exchanged for a short access token.

use super::wallet_tokens::{access_token, fail, proof, random_token, unavailable, Ctx};
use crate::credential::CredentialKind;
use crate::error::ErrorResponse;
use crate::identity::Identity;
use authgate_core::wallet::Address;
use authgate_store::{now, ListFilter, NewKey};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::json;
use sha2::Sha256;

/// What marks a key this dialect issued (in its metadata).
const ISSUED_BY: &str = "wallet_tokens";

/// The API key of `ns` for `salt`. Keys are derived, not stored: the
/// store holds the salt (metadata) and the key's digest only, and the key
/// is `HMAC-SHA-256(secret, salt)` with a secret derived from the assertion
/// key, so the same wallet asking again gets the same key back without it
/// ever being written down. Rotating the assertion key changes every
/// derivation; the next request of each wallet then revokes its old key and
/// issues a new one.
fn derive_key(ctx: &Ctx<'_>, salt: &str, ns: &str) -> Option<String> {
    use hmac::{Hmac, Mac};
    let secret = ctx
        .settings
        .signer
        .derive_secret(b"authgate wallet api keys v1")?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret).ok()?;
    mac.update(salt.as_bytes());
    let random = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    Some(format!(
        "{}{random}:{ns}",
        ctx.settings.section.api_key_prefix
    ))
}

fn key_reply(key: String, ns: &str, address: &Address, status: u16) -> ErrorResponse {
    ErrorResponse::json(
        status,
        &json!({"api_key": key, "namespace": ns, "wallet": address.checksummed()}),
    )
}

/// `POST …/api-key`: the wallet's key for the namespace (200 the existing
/// one, 201 a new one).
pub async fn api_key(ctx: &Ctx<'_>, body: &[u8]) -> ErrorResponse {
    let (address, ns) = match proof(ctx, body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let cannot = || {
        tracing::error!("wallet sign-in: cannot derive an API key");
        fail(500, "cannot issue a key")
    };
    let filter = ListFilter {
        workspace: Some(ns.name.clone()),
        kind: Some(CredentialKind::ApiKey),
        subject: Some(address.checksummed()),
        after: None,
        limit: 1000,
    };
    let existing = match ctx.store.list(&filter).await {
        Ok(keys) => keys,
        Err(e) => return unavailable(e),
    };
    let at = now();
    for k in existing.iter().filter(|k| {
        k.metadata["issued_by"] == ISSUED_BY
            && k.revoked_at.is_none()
            && !k.disabled
            && k.expires_at.is_none_or(|e| e > at)
    }) {
        let Some(salt) = k.metadata["salt"].as_str() else {
            continue;
        };
        let Some(key) = derive_key(ctx, salt, &ns.name) else {
            return cannot();
        };
        if ctx.digester.digest(&key) == k.digest {
            return key_reply(key, &ns.name, &address, 200);
        }
        // Derived under an earlier assertion key: it cannot be handed out
        // again, so it gives way to a new one.
        match ctx.store.revoke(&k.id).await {
            Ok(_) => ctx.cache.invalidate_digest(k.digest),
            Err(e) => return unavailable(e),
        }
    }
    let salt = random_token(16);
    let Some(key) = derive_key(ctx, &salt, &ns.name) else {
        return cannot();
    };
    let new = NewKey {
        id: format!("wak_{}", random_token(12)),
        digest: ctx.digester.digest(&key),
        kind: CredentialKind::ApiKey,
        subject: address.checksummed(),
        workspace: Some(ns.name.clone()),
        scopes: ns.scopes.clone(),
        allow: Vec::new(),
        usage: None,
        expires_at: None,
        scheme: None,
        public_key: None,
        metadata: json!({"issued_by": ISSUED_BY, "salt": salt, "namespace": ns.name}),
        rotated_from: None,
        minted: None,
        rate_limit: None,
        quota: None,
    };
    match ctx.store.create(new).await {
        Ok(k) => {
            ctx.cache.invalidate_digest(k.digest);
            tracing::info!(target: "signin", key_id = %k.id, subject = %k.subject, namespace = %ns.name, "wallet API key issued");
            key_reply(key, &ns.name, &address, 201)
        }
        Err(e) => unavailable(e),
    }
}

/// `POST …/token` with an API key: a short access token for its namespace.
pub fn key_token(ctx: &Ctx<'_>, identity: Option<&Identity>) -> ErrorResponse {
    let Some(id) = identity.filter(|id| id.kind == CredentialKind::ApiKey) else {
        return fail(401, "API key required");
    };
    let Some(ns) = id
        .workspace
        .as_deref()
        .and_then(|w| ctx.settings.namespaces.get(w))
    else {
        return fail(403, "this API key is not bound to a namespace");
    };
    match access_token(ctx, &id.subject, &ns.name, &id.scopes, "api_key") {
        Ok(access) => ErrorResponse::json(
            200,
            &json!({
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": ctx.settings.section.access_ttl.as_secs(),
                "namespace": ns.name,
            }),
        ),
        Err(r) => r,
    }
}
