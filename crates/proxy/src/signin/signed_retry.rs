//! The signed retry (`[signin.signed_retry]`, the Grid dialect):
//! `POST …/sessions/{id}/refresh` by a platform client (`Authorization:
//! Basic`) with `{"clientPublicKey": "04…"}`.
//!
//! - Without a signature → 202 `{payloadToSign, requestId, expiresAt}`: the
//!   payload is the activity JSON the session's key must sign, the request
//!   id is stored (single use, expiring) bound to the session, the client,
//!   the client key and the payload.
//! - Again with `Grid-Wallet-Signature` (a P-256 stamp over the payload by
//!   the session's current key) and `Request-Id` → 201 `AuthSession`: a new
//!   session whose P-256 signing key is generated here and returned only
//!   sealed to `clientPublicKey` (a Turnkey credential bundle,
//!   [`authgate_core::bundle`]); authgate keeps its public key only.
//!
//! The session must be active on both calls. Refusals: 401 (client, session,
//! request id, signature), 400 (malformed body or key), 429 (bounds), 503
//! (store down: fail closed).

use super::retry_settings::{RetryClient, SignedRetry};
use crate::cache::IdentityCache;
use crate::credential::CredentialKind;
use crate::error::ErrorResponse;
use crate::verify::stamp::{self, key_digest, normalise_key, StampScheme};
use authgate_core::bundle;
use authgate_store::{now, KeyStore, NewKey, Nonce, StoredKey, WriteError};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use rand::RngCore;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What every answer gets.
pub struct Ctx<'a> {
    /// The compiled `[signin.signed_retry]`.
    pub settings: &'a SignedRetry,
    /// The database store.
    pub store: &'a dyn KeyStore,
    /// This instance's identity cache.
    pub cache: &'a IdentityCache,
    /// The client's IP, for the per-IP bound.
    pub ip: String,
}

/// The request as the handler reads it.
pub struct Call<'r> {
    /// The `{id}` of the path.
    pub session_id: Option<String>,
    /// `Authorization`.
    pub authorization: Option<&'r str>,
    /// `Grid-Wallet-Signature`.
    pub signature: Option<&'r str>,
    /// `Request-Id`.
    pub request_id: Option<&'r str>,
    /// The body.
    pub body: &'r [u8],
}

fn refuse(status: u16, code: &str, message: &str) -> ErrorResponse {
    ErrorResponse::coded(status, code, message)
}

fn unavailable(e: impl std::fmt::Display) -> ErrorResponse {
    tracing::warn!(error = %e, "signed retry: store call failed");
    ErrorResponse::store_down("sign-in")
}

fn rfc3339(unix_seconds: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix_seconds.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

/// A UUID-shaped random id (version 4 layout).
fn uuid() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The platform client of `Authorization: Basic`, its secret compared by
/// digest in constant time (an unknown id costs the same comparison).
fn client<'s>(
    ctx: &Ctx<'s>,
    authorization: Option<&str>,
) -> Result<&'s RetryClient, ErrorResponse> {
    let mut r = refuse(
        401,
        "invalid_client",
        "platform client credentials required (HTTP Basic)",
    );
    r.headers
        .push(("www-authenticate", "Basic realm=\"authgate\"".into()));
    let decoded = authorization
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .and_then(|(_, b64)| STANDARD.decode(b64.trim()).ok())
        .and_then(|raw| String::from_utf8(raw).ok());
    let Some((id, secret)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
        return Err(r);
    };
    let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
    match ctx.settings.clients.get(id) {
        Some(c) if bool::from(c.secret_digest.ct_eq(&digest)) => Ok(c),
        Some(_) => Err(r),
        None => {
            let _ = [0u8; 32].ct_eq(&digest);
            Err(r)
        }
    }
}

/// The session `id`, active, P-256, in the client's workspace.
async fn session(
    ctx: &Ctx<'_>,
    id: &str,
    client: &RetryClient,
) -> Result<StoredKey, ErrorResponse> {
    let inactive = || {
        refuse(
            401,
            "session_inactive",
            "the session does not exist, has expired or was revoked",
        )
    };
    let k = match ctx.store.get(id).await {
        Ok(Some(k)) => k,
        Ok(None) => return Err(inactive()),
        Err(e) => return Err(unavailable(e)),
    };
    let active = k.revoked_at.is_none()
        && !k.disabled
        && k.expires_at.is_none_or(|e| e > now())
        && matches!(k.kind, CredentialKind::Session | CredentialKind::Stamp)
        && k.scheme.as_deref() == Some(StampScheme::P256.label())
        && k.workspace.as_deref() == Some(client.workspace.as_str());
    if active {
        Ok(k)
    } else {
        Err(inactive())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    client_public_key: String,
}

/// `POST …/sessions/{id}/refresh`
pub async fn respond(ctx: &Ctx<'_>, call: Call<'_>) -> ErrorResponse {
    let client = match client(ctx, call.authorization) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(id) = call.session_id.as_deref() else {
        return refuse(404, "not_found", "no session id in the path");
    };
    let old = match session(ctx, id, client).await {
        Ok(k) => k,
        Err(r) => return r,
    };
    let Ok(body) = serde_json::from_slice::<Body>(call.body) else {
        return refuse(
            400,
            "invalid_request",
            "a JSON body {\"clientPublicKey\": \"04…\"}",
        );
    };
    let client_hex = body.client_public_key.to_ascii_lowercase();
    let client_key = match bundle::client_key(&client_hex) {
        Ok(k) => k,
        Err(why) => return refuse(400, "invalid_client_public_key", why),
    };
    match call.signature {
        None => challenge(ctx, client, &old, &client_hex).await,
        Some(sig) => {
            retry(
                ctx,
                client,
                &old,
                &client_hex,
                &client_key,
                sig,
                call.request_id,
            )
            .await
        }
    }
}

/// The first call: store a request and answer what to sign.
async fn challenge(
    ctx: &Ctx<'_>,
    client: &RetryClient,
    old: &StoredKey,
    client_hex: &str,
) -> ErrorResponse {
    let s = &ctx.settings.section;
    let at_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let payload = json!({
        "type": "ACTIVITY_TYPE_CREATE_READ_WRITE_SESSION_V2",
        "timestampMs": at_ms.to_string(),
        "organizationId": s.organization_id,
        "parameters": {"targetPublicKey": client_hex},
    })
    .to_string();
    let request_id = format!("Request:{}", uuid());
    let expires = now() + s.request_ttl.as_secs() as i64;
    let record = Nonce {
        nonce: request_id.clone(),
        address: old.id.clone(),
        client_id: format!("signed_retry:{}", client.id),
        chain_id: 0,
        session_key: client_hex.to_string(),
        ip: ctx.ip.clone(),
        message: payload.clone(),
        expires_at: expires,
    };
    match ctx.store.put_nonce(&record, &s.limits.caps()).await {
        Ok(()) => ErrorResponse::json(
            202,
            &json!({"payloadToSign": payload, "requestId": request_id, "expiresAt": rfc3339(expires)}),
        ),
        Err(WriteError::Conflict(m)) => {
            let mut r = refuse(429, "too_many_requests", &m);
            r.headers
                .push(("retry-after", s.request_ttl.as_secs().to_string()));
            r
        }
        Err(e) => unavailable(e),
    }
}

/// The signed retry: check the request id and the stamp, then create the
/// new session and seal its key to the client.
async fn retry(
    ctx: &Ctx<'_>,
    client: &RetryClient,
    old: &StoredKey,
    client_hex: &str,
    client_key: &p256::PublicKey,
    signature: &str,
    request_id: Option<&str>,
) -> ErrorResponse {
    let bad_request_id = || {
        refuse(
            401,
            "invalid_request_id",
            "the request id is unknown, expired, used or for another session",
        )
    };
    let Some(request_id) = request_id.filter(|r| !r.is_empty() && r.len() <= 128) else {
        return refuse(
            400,
            "request_id_required",
            "a signed retry carries its Request-Id",
        );
    };
    let pending = match ctx.store.get_nonce(request_id).await {
        Ok(Some(n)) => n,
        Ok(None) => return bad_request_id(),
        Err(e) => return unavailable(e),
    };
    if pending.address != old.id
        || pending.client_id != format!("signed_retry:{}", client.id)
        || pending.session_key != client_hex
    {
        return bad_request_id();
    }
    let bad_signature = |why: &str| refuse(401, "invalid_signature", why);
    let stamp = match stamp::parse(signature) {
        Ok(s) => s,
        Err(_) => return bad_signature("Grid-Wallet-Signature is not a stamp"),
    };
    let signer_is_session = stamp.scheme() == StampScheme::P256
        && old.public_key.as_deref() == Some(stamp.public_key().to_hex().as_str());
    if !signer_is_session {
        return bad_signature("not signed by the session's current key");
    }
    if stamp::verify(&stamp, pending.message.as_bytes()).is_err() {
        return bad_signature("the signature does not verify over payloadToSign");
    }
    match ctx.store.consume_nonce(request_id).await {
        Ok(true) => {}
        Ok(false) => return bad_request_id(),
        Err(e) => return unavailable(e),
    }
    create_session(ctx, client, old, client_key).await
}

async fn create_session(
    ctx: &Ctx<'_>,
    client: &RetryClient,
    old: &StoredKey,
    client_key: &p256::PublicKey,
) -> ErrorResponse {
    let failed = |what: &str| {
        tracing::error!(what, "signed retry: cannot make the new session key");
        refuse(500, "internal_error", "cannot create the session")
    };
    let signing = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let public_hex = hex::encode(signing.public_key().to_encoded_point(true).as_bytes());
    let Ok(key) = normalise_key(StampScheme::P256, &public_hex) else {
        return failed("normalise");
    };
    let Ok(sealed) = bundle::seal(&signing.to_bytes(), client_key) else {
        return failed("seal");
    };
    let at = now();
    let expires = at + ctx.settings.section.session_ttl.as_secs() as i64;
    let nickname = old.metadata["nickname"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let new = NewKey {
        id: format!("Session:{}", uuid()),
        digest: key_digest(StampScheme::P256, &key),
        kind: CredentialKind::Session,
        subject: old.subject.clone(),
        workspace: old.workspace.clone(),
        scopes: old.scopes.clone(),
        allow: old.allow.clone(),
        usage: old.usage.clone(),
        expires_at: Some(expires),
        scheme: Some(StampScheme::P256.label().to_string()),
        public_key: Some(key.to_hex()),
        metadata: json!({"issued_by": "signed_retry", "client_id": client.id, "nickname": nickname, "type": "READ_WRITE"}),
        rotated_from: Some(old.id.clone()),
        minted: None,
        rate_limit: None,
        quota: None,
    };
    match ctx.store.create(new).await {
        Ok(k) => {
            ctx.cache.invalidate_digest(k.digest);
            tracing::info!(target: "signin", session_id = %k.id, from = %old.id, client = %client.id, "session extended by a signed retry");
            ErrorResponse::json(
                201,
                &json!({
                    "id": k.id,
                    "accountId": k.subject,
                    "type": "READ_WRITE",
                    "encryptedSessionSigningKey": sealed,
                    "nickname": nickname,
                    "createdAt": rfc3339(k.created_at),
                    "updatedAt": rfc3339(k.updated_at),
                    "expiresAt": rfc3339(expires),
                }),
            )
        }
        Err(e) => unavailable(e),
    }
}
