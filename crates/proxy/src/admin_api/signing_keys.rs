//! `POST /admin/v1/signing-keys`: register an RFC 9421 signing key under
//! its `keyid` in the database, for every instance sharing it (the
//! config's `[[signing_keys]]` are per instance). The key is stored as a
//! stamp-kind key whose scheme is the algorithm and whose public key is
//! the PEM, or `secret:<name>` for an HMAC key, whose secret each instance
//! reads from `[store] hmac_secrets_dir`. Listing, disabling, expiring and
//! revoking go through `/admin/v1/keys/{id}` like any key; the key's `id`
//! is its `keyid` when that is a valid id.

use super::bodies::{CommonErrors, ErrorBody, KeyReply, SigningKeyBody};
use super::checks::{bad, common, parse};
use super::keys::{public_key_record, register, Ctx};
use super::Reply;
use crate::verify::httpsig::Algorithm;
use crate::verify::httpsig_auth::scheme_of;
use crate::verify::httpsig_keys::{keyid_digest, material_key, valid_secret_name, SECRET_PREFIX};
use authgate_core::store::SigningMaterial;
use serde_json::Value;

/// Longest PEM accepted (an RSA-8192 public key is under 1.5 KiB).
const MAX_PEM: usize = 16 * 1024;

/// The stored key text of a registration: its PEM, or its secret's name.
fn key_text(b: &SigningKeyBody, alg: Algorithm) -> Result<String, Reply> {
    match (alg, &b.public_key, &b.secret_name) {
        (Algorithm::HmacSha256, None, Some(name)) => {
            if !valid_secret_name(name) {
                return Err(bad(
                    "secret_name: a file name of 1–128 of A-Z a-z 0-9 . _ - (not starting with a dot)",
                ));
            }
            Ok(format!("{SECRET_PREFIX}{name}"))
        }
        (Algorithm::HmacSha256, ..) => Err(bad(
            "hmac-sha256: set secret_name (the secret's file in hmac_secrets_dir), not public_key",
        )),
        (_, Some(pem), None) if pem.len() <= MAX_PEM => Ok(pem.trim().to_string()),
        (_, Some(_), None) => Err(bad("public_key: at most 16 KiB of PEM")),
        _ => Err(bad(format!(
            "{}: set public_key (PEM), not secret_name",
            alg.name()
        ))),
    }
}

/// `POST /admin/v1/signing-keys`: register an RFC 9421 signing key.
#[utoipa::path(post, path = "/admin/v1/signing-keys", operation_id = "registerSigningKey",
    request_body = SigningKeyBody,
    responses(CommonErrors,
        (status = 201, description = "Registered", body = KeyReply),
        (status = 400, description = "Invalid field, a key that does not parse, or an HMAC secret this instance cannot read", body = ErrorBody),
        (status = 409, description = "The keyid or id is taken", body = ErrorBody)))]
pub async fn register_signing_key(ctx: &Ctx<'_>, body: Value) -> Reply {
    let b: SigningKeyBody = match parse(body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if b.keyid.is_empty() || b.keyid.len() > 256 || !b.keyid.bytes().all(|c| c.is_ascii_graphic()) {
        return bad("keyid: 1–256 visible ASCII characters");
    }
    if scheme_of(&b.keyid).is_some() {
        return bad("keyid: 64, 66 or 130 characters name a stamp key by its public key; choose another length");
    }
    if ctx.rt.auth.signing_keys.contains_key(&b.keyid) {
        return Reply::error(
            409,
            "conflict",
            format!("keyid '{}' is configured in [[signing_keys]]", b.keyid),
        );
    }
    let Some(alg) = Algorithm::parse(&b.alg) else {
        return bad(format!(
            "alg: one of {}",
            super::bodies::SIGNING_ALGS.join(", ")
        ));
    };
    let material = match key_text(&b, alg) {
        Ok(key) => SigningMaterial {
            alg: alg.name().to_string(),
            key,
        },
        Err(r) => return r,
    };
    // The key must work here before it is stored (a PEM that parses, a
    // secret this instance can read and long enough).
    if let Err(e) = material_key(&material, ctx.rt.auth.hmac_secrets_dir.as_deref()) {
        return bad(format!("{}: {e}", alg.name()));
    }
    let id = b.id.clone().or_else(|| {
        let valid = b.keyid.len() <= 128
            && b.keyid
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
        valid.then(|| b.keyid.clone())
    });
    let c = match common(
        b.subject,
        b.workspace,
        b.scopes,
        b.allow,
        b.usage,
        b.expires_at,
        b.metadata,
        id,
    ) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let new = public_key_record(c, keyid_digest(&b.keyid), material.alg, material.key);
    register(ctx, new, "register_signing_key").await
}
