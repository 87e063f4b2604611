//! The key operations: create (the secret is returned once, then only its
//! digest exists), list (filters, id cursor), get, update, revoke, rotate
//! (the old key keeps working until the overlap deadline) and stamp-key
//! registration. Input is validated field by field (`checks`); every
//! change drops the key's cache entries here before the answer.

use super::bodies::{
    CommonErrors, CreateBody, Created, ErrorBody, KeyPage, KeyReply, ListQuery, RotateBody,
    StampBody,
};
use super::checks::{
    bad, check_limits, check_list, check_metadata, common, parse, Common, MAX_OVERLAP,
    MAX_UNIX_SECONDS,
};
use super::Reply;
use crate::cache::IdentityCache;
use crate::config::Runtime;
use crate::credential::sniff::PrefixAction;
use crate::credential::CredentialKind;
use authgate_store::{KeyPatch, KeyStore, ListFilter, NewKey, StoredKey, WriteError};
use serde_json::{json, Value};
use std::time::Duration;

/// What every handler gets.
pub struct Ctx<'a> {
    /// The config in force.
    pub rt: &'a Runtime,
    /// The database store.
    pub store: &'a dyn KeyStore,
    /// This instance's identity cache.
    pub cache: &'a IdentityCache,
    /// The admin token's id, for the audit log line.
    pub caller: &'a str,
}

fn not_found(id: &str) -> Reply {
    Reply::error(404, "not_found", format!("No key '{id}'"))
}

pub(super) fn write_failed(e: WriteError) -> Reply {
    match e {
        WriteError::Conflict(m) => Reply::error(409, "conflict", m),
        WriteError::ParentInactive(m) => Reply::error(409, "parent_inactive", m),
        WriteError::Store(e) => Reply::unavailable(e),
    }
}

/// The prefix to mint `kind` with: the config's first family of that
/// kind, checksummed ones first.
fn prefix_for(rt: &Runtime, kind: CredentialKind) -> Result<String, Reply> {
    let mut candidates: Vec<_> = rt
        .auth
        .prefixes
        .rules()
        .iter()
        .filter(|r| r.action == PrefixAction::Verify(kind))
        .collect();
    candidates.sort_by_key(|r| !r.checksum);
    candidates.first().map(|r| r.prefix.clone()).ok_or_else(|| {
        bad(format!(
            "kind: no {kind} family in credentials.prefixes to mint with"
        ))
    })
}

/// Drop from this instance's cache the keys `parent` minted, after a
/// cascade (other instances drop them from the change feed; so does this
/// one if the lookup fails).
async fn drop_children(ctx: &Ctx<'_>, parent: &str) {
    match ctx.store.children(parent).await {
        Ok(digests) => {
            for d in digests {
                ctx.cache.invalidate_digest(d);
            }
        }
        Err(e) => tracing::warn!(error = %e, "minted keys left to the change feed"),
    }
}

pub(super) fn audit(ctx: &Ctx<'_>, op: &str, k: &StoredKey) {
    tracing::info!(target: "admin", caller = ctx.caller, op, key_id = %k.id, kind = k.kind.as_str(), "admin change");
}

/// `GET /admin/v1/keys?workspace=&kind=&subject=&cursor=&limit=`
#[utoipa::path(get, path = "/admin/v1/keys", operation_id = "listKeys",
    params(ListQuery),
    responses(CommonErrors,
        (status = 200, description = "A page of keys, by id", body = KeyPage),
        (status = 400, description = "Bad filter", body = ErrorBody)))]
pub async fn list(ctx: &Ctx<'_>, query: &str) -> Reply {
    let q: ListQuery = match serde_urlencoded::from_str(query) {
        Ok(q) => q,
        Err(e) => return bad(format!("query: {e}")),
    };
    let kind = match q.kind.as_deref().map(|k| (k, CredentialKind::parse(k))) {
        None => None,
        Some((_, Some(kind))) => Some(kind),
        Some((k, None)) => return bad(format!("kind: unknown kind '{k}'")),
    };
    let limit = match q.limit {
        None => 100,
        Some(n) if (1..=1000).contains(&n) => n,
        Some(_) => return bad("limit: 1-1000"),
    };
    let f = ListFilter {
        workspace: q.workspace,
        subject: q.subject,
        kind,
        after: q.cursor,
        limit,
    };
    match ctx.store.list(&f).await {
        Ok(keys) => {
            let next_cursor = (keys.len() == f.limit as usize)
                .then(|| keys.last().map(|k| k.id.clone()))
                .flatten();
            Reply::body(200, &KeyPage { keys, next_cursor })
        }
        Err(e) => Reply::unavailable(e),
    }
}

/// `GET /admin/v1/keys/{id}`
#[utoipa::path(get, path = "/admin/v1/keys/{id}", operation_id = "getKey",
    params(("id" = String, Path, description = "Key id")),
    responses(CommonErrors,
        (status = 200, description = "The key", body = KeyReply),
        (status = 404, description = "No such key", body = ErrorBody)))]
pub async fn get(ctx: &Ctx<'_>, id: &str) -> Reply {
    match ctx.store.get(id).await {
        Ok(Some(k)) => one(200, k),
        Ok(None) => not_found(id),
        Err(e) => Reply::unavailable(e),
    }
}

/// Mint a credential of `kind` for `c`: the key to store and the secret.
fn mint(ctx: &Ctx<'_>, kind: CredentialKind, c: Common) -> Result<(NewKey, String), Reply> {
    let prefix = prefix_for(ctx.rt, kind)?;
    let secret = crate::credential::mint::mint(&prefix);
    let digest = ctx.rt.auth.digester.digest(&secret);
    let key = NewKey {
        id: c.id,
        digest,
        kind,
        subject: c.subject,
        workspace: c.workspace,
        scopes: c.scopes,
        allow: c.allow,
        usage: c.usage,
        expires_at: c.expires_at,
        scheme: None,
        public_key: None,
        metadata: c.metadata,
        rotated_from: None,
        minted: None,
        rate_limit: None,
        quota: None,
    };
    Ok((key, secret))
}

fn created(key: StoredKey, secret: String, previous: Option<StoredKey>) -> Reply {
    Reply::body(
        201,
        &Created {
            key,
            secret,
            previous,
        },
    )
}

pub(super) fn one(status: u16, key: StoredKey) -> Reply {
    Reply::body(status, &KeyReply { key })
}

/// `POST /admin/v1/keys`
#[utoipa::path(post, path = "/admin/v1/keys", operation_id = "createKey",
    request_body = CreateBody,
    responses(CommonErrors,
        (status = 201, description = "Created; the secret is shown once", body = Created),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 409, description = "Id taken", body = ErrorBody)))]
pub async fn create(ctx: &Ctx<'_>, body: Value) -> Reply {
    let b: CreateBody = match parse(body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let kind = match CredentialKind::parse(&b.kind) {
        Some(
            k @ (CredentialKind::ApiKey
            | CredentialKind::ServerKey
            | CredentialKind::AccessToken
            | CredentialKind::PublishableKey),
        ) => k,
        _ => {
            return bad(
                "kind: api_key, server_key, access_token or publishable_key (stamp keys: POST \
                 /admin/v1/stamp-keys; ephemeral and restricted keys: the minting doors)",
            )
        }
    };
    let c = match common(
        b.subject,
        b.workspace,
        b.scopes,
        b.allow,
        b.usage,
        b.expires_at,
        b.metadata,
        b.id,
    ) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(r) = check_limits(b.rate_limit.as_ref(), b.quota.as_ref()) {
        return r;
    }
    let (mut key, secret) = match mint(ctx, kind, c) {
        Ok(m) => m,
        Err(r) => return r,
    };
    key.rate_limit = b.rate_limit;
    key.quota = b.quota;
    match ctx.store.create(key).await {
        Ok(k) => {
            ctx.cache.invalidate_digest(k.digest);
            audit(ctx, "create", &k);
            created(k, secret, None)
        }
        Err(e) => write_failed(e),
    }
}

/// `PATCH /admin/v1/keys/{id}`
#[utoipa::path(patch, path = "/admin/v1/keys/{id}", operation_id = "updateKey",
    params(("id" = String, Path, description = "Key id")),
    request_body = KeyPatch,
    responses(CommonErrors,
        (status = 200, description = "Updated", body = KeyReply),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 404, description = "No such key", body = ErrorBody)))]
pub async fn update(ctx: &Ctx<'_>, id: &str, body: Value) -> Reply {
    let patch: KeyPatch = match parse(body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Some(s) = &patch.scopes {
        if let Err(r) = check_list("scopes", s) {
            return r;
        }
    }
    if let Some(a) = &patch.allow {
        if let Err(r) = check_list("allow", a) {
            return r;
        }
    }
    if let Some(m) = &patch.metadata {
        if let Err(r) = check_metadata(m) {
            return r;
        }
    }
    if let Some(Some(e)) = patch.expires_at {
        if !(0..MAX_UNIX_SECONDS).contains(&e) {
            return bad("expires_at: Unix seconds (0 to 99999999999), not milliseconds");
        }
    }
    if let Err(r) = check_limits(
        patch.rate_limit.flatten().as_ref(),
        patch.quota.flatten().as_ref(),
    ) {
        return r;
    }
    match ctx.store.update(id, &patch).await {
        Ok(Some(k)) => {
            ctx.cache.invalidate_digest(k.digest);
            if patch.expires_at.is_some() {
                drop_children(ctx, &k.id).await;
            }
            audit(ctx, "update", &k);
            one(200, k)
        }
        Ok(None) => not_found(id),
        Err(e) => Reply::unavailable(e),
    }
}

/// `POST /admin/v1/keys/{id}/revoke`
#[utoipa::path(post, path = "/admin/v1/keys/{id}/revoke", operation_id = "revokeKey",
    params(("id" = String, Path, description = "Key id")),
    responses(CommonErrors,
        (status = 200, description = "Revoked", body = KeyReply),
        (status = 404, description = "No such key", body = ErrorBody)))]
pub async fn revoke(ctx: &Ctx<'_>, id: &str) -> Reply {
    match ctx.store.revoke(id).await {
        Ok(Some(k)) => {
            ctx.cache.invalidate_digest(k.digest);
            drop_children(ctx, &k.id).await;
            audit(ctx, "revoke", &k);
            one(200, k)
        }
        Ok(None) => not_found(id),
        Err(e) => Reply::unavailable(e),
    }
}

/// `POST /admin/v1/keys/{id}/rotate`
#[utoipa::path(post, path = "/admin/v1/keys/{id}/rotate", operation_id = "rotateKey",
    params(("id" = String, Path, description = "Key id")),
    request_body(content = Option<RotateBody>, description = "Optional; an empty body keeps the defaults"),
    responses(CommonErrors,
        (status = 201, description = "The new key; the old one works until the overlap deadline", body = Created),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 404, description = "No such key", body = ErrorBody),
        (status = 409, description = "Revoked, disabled, expired, or id taken", body = ErrorBody)))]
pub async fn rotate(ctx: &Ctx<'_>, id: &str, body: Value) -> Reply {
    // The body is optional: none, `{}` and `null` all keep the defaults.
    let body = if body.is_null() { json!({}) } else { body };
    let b: RotateBody = match parse(body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let overlap = match b.overlap.as_deref().map(humantime::parse_duration) {
        None => Duration::from_secs(3600),
        Some(Ok(d)) if !d.is_zero() && d <= MAX_OVERLAP => d,
        Some(_) => return bad("overlap: a duration such as \"1h\", at most 30 days"),
    };
    let old = match ctx.store.get(id).await {
        Ok(Some(k)) => k,
        Ok(None) => return not_found(id),
        Err(e) => return Reply::unavailable(e),
    };
    if old.revoked_at.is_some() {
        return Reply::error(409, "revoked", "A revoked key cannot be rotated");
    }
    // A successor must not restore access the old key no longer has.
    if old.disabled {
        return Reply::error(
            409,
            "disabled",
            "A disabled key cannot be rotated; enable it first",
        );
    }
    if old.expires_at.is_some_and(|e| e <= authgate_store::now()) {
        return Reply::error(409, "expired", "An expired key cannot be rotated");
    }
    if old.kind == CredentialKind::Stamp {
        return bad("stamp keys are rotated by registering the new public key");
    }
    if old.kind == CredentialKind::Session {
        return bad("sessions are not rotated: sign in again");
    }
    if old.kind.is_minted() {
        return bad("minted keys are not rotated: mint a new one");
    }
    let c = match common(
        old.subject.clone(),
        old.workspace.clone(),
        old.scopes.clone(),
        old.allow.clone(),
        old.usage.clone(),
        old.expires_at.filter(|e| *e > authgate_store::now()),
        Some(old.metadata.clone()),
        b.id,
    ) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (mut key, secret) = match mint(ctx, old.kind, c) {
        Ok(m) => m,
        Err(r) => return r,
    };
    key.rotated_from = Some(old.id.clone());
    // The successor keeps the key's own limit, and its quota as it stands
    // (the old key spends its own count until the overlap ends).
    key.rate_limit = old.rate_limit;
    key.quota = old.quota.map(|q| authgate_store::QuotaSetting {
        remaining: q.remaining,
        refill: q.refill,
    });
    let deadline = authgate_store::now() + overlap.as_secs() as i64;
    match ctx.store.rotate(id, key, deadline).await {
        Ok(Some((old, new))) => {
            ctx.cache.invalidate_digest(old.digest);
            ctx.cache.invalidate_digest(new.digest);
            drop_children(ctx, &old.id).await;
            audit(ctx, "rotate", &old);
            created(new, secret, Some(old))
        }
        Ok(None) => not_found(id),
        Err(e) => write_failed(e),
    }
}

/// `POST /admin/v1/stamp-keys`: register a stamp public key.
#[utoipa::path(post, path = "/admin/v1/stamp-keys", operation_id = "registerStampKey",
    request_body = StampBody,
    responses(CommonErrors,
        (status = 201, description = "Registered", body = KeyReply),
        (status = 400, description = "Invalid field or not a point of the curve", body = ErrorBody),
        (status = 409, description = "Already registered", body = ErrorBody)))]
pub async fn register_stamp_key(ctx: &Ctx<'_>, body: Value) -> Reply {
    use crate::verify::stamp::{key_digest, normalise_key, scheme_from_name};
    let b: StampBody = match parse(body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(scheme) = scheme_from_name(&b.scheme) else {
        return bad("scheme: p256, secp256k1, ed25519 or a wire label");
    };
    let key = match normalise_key(scheme, &b.public_key) {
        Ok(k) => k,
        Err(e) => {
            return bad(format!(
                "public_key: not a valid {} key ({})",
                scheme.label(),
                e.reason()
            ))
        }
    };
    let c = match common(
        b.subject,
        b.workspace,
        b.scopes,
        b.allow,
        b.usage,
        b.expires_at,
        b.metadata,
        b.id,
    ) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let new = public_key_record(
        c,
        key_digest(scheme, &key),
        scheme.label().to_string(),
        key.to_hex(),
    );
    register(ctx, new, "register_stamp_key").await
}

/// A stamp-kind key found by `digest`, with its scheme (or algorithm) and
/// public key text.
pub(super) fn public_key_record(
    c: Common,
    digest: [u8; 32],
    scheme: String,
    public_key: String,
) -> NewKey {
    NewKey {
        id: c.id,
        digest,
        kind: CredentialKind::Stamp,
        subject: c.subject,
        workspace: c.workspace,
        scopes: c.scopes,
        allow: c.allow,
        usage: c.usage,
        expires_at: c.expires_at,
        scheme: Some(scheme),
        public_key: Some(public_key),
        metadata: c.metadata,
        rotated_from: None,
        minted: None,
        rate_limit: None,
        quota: None,
    }
}

/// Store a registration: 201 with the key (its cache entry dropped here
/// first), or the write's error.
pub(super) async fn register(ctx: &Ctx<'_>, new: NewKey, op: &str) -> Reply {
    match ctx.store.create(new).await {
        Ok(k) => {
            ctx.cache.invalidate_digest(k.digest);
            audit(ctx, op, &k);
            one(201, k)
        }
        Err(e) => write_failed(e),
    }
}
