//! The two doors' work: check who knocks (a server key of a workspace with
//! minting on), read the body (`{"user": {"id"}}` or `{"agent": {"id"},
//! "can": {model: [operations]}}`), derive the scopes, never more than the
//! server key holds, and store the new key by digest with its actor and
//! parent. The answer is shaped like Stripe's `ephemeralKeys.create`:
//! `{id, object, secret, created, expires_at, actor: {kind, id}, workspace,
//! scopes}`; the secret is shown once.

use super::settings::{is_name, Minting};
use crate::cache::IdentityCache;
use crate::credential::digest::Digester;
use crate::credential::CredentialKind;
use crate::error::ErrorResponse;
use crate::identity::Identity;
use authgate_core::actor::{ActorKind, Minted};
use authgate_core::policy::decide::has_scope;
use authgate_store::{now, KeyStore, NewKey, WriteError};
use serde::Deserialize;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

/// Most scopes one capability may carry.
const MAX_SCOPES: usize = 64;

/// Which door was knocked on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    /// `ek_` for one end user.
    Ephemeral,
    /// `rk_` for one agent, restricted to named operations.
    Capability,
}

impl Door {
    fn kind(self) -> CredentialKind {
        match self {
            Door::Ephemeral => CredentialKind::EphemeralKey,
            Door::Capability => CredentialKind::RestrictedKey,
        }
    }

    fn actor(self) -> ActorKind {
        match self {
            Door::Ephemeral => ActorKind::User,
            Door::Capability => ActorKind::Agent,
        }
    }
}

/// What a door needs.
pub struct Ctx<'a> {
    /// The compiled `[minting]`.
    pub minting: &'a Minting,
    /// The database store.
    pub store: &'a dyn KeyStore,
    /// This instance's identity cache.
    pub cache: &'a IdentityCache,
    /// How credentials are digested.
    pub digester: &'a Digester,
    /// `identity.hierarchical_scopes`.
    pub hierarchical: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Participant {
    id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DoorBody {
    user: Option<Participant>,
    agent: Option<Participant>,
    can: Option<BTreeMap<String, Vec<String>>>,
}

fn bad(code: &str, message: impl Into<String>) -> ErrorResponse {
    ErrorResponse::coded(400, code, message)
}

fn forbidden(code: &str, message: impl Into<String>) -> ErrorResponse {
    ErrorResponse::coded(403, code, message)
}

/// Actor ids: 1–128 of `A-Z a-z 0-9 . _ - : @`.
fn check_actor_id(id: &str) -> Result<(), ErrorResponse> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':' | b'@'));
    if ok {
        Ok(())
    } else {
        Err(bad(
            "invalid_request",
            "id: 1-128 characters of A-Z a-z 0-9 . _ - : @",
        ))
    }
}

/// The participant this door mints for, refusing the other kind.
fn participant(door: Door, b: &DoorBody) -> Result<&str, ErrorResponse> {
    let (own, other, own_name, other_name) = match door {
        Door::Ephemeral => (&b.user, &b.agent, "user", "agent"),
        Door::Capability => (&b.agent, &b.user, "agent", "user"),
    };
    if other.is_some() {
        let hint = match door {
            Door::Ephemeral => "this door mints ephemeral keys for users; an agent gets a restricted key at the capability door",
            Door::Capability => "this door mints restricted keys for agents; a user gets an ephemeral key at the ephemeral-key door",
        };
        return Err(forbidden(
            "invalid_participant_kind",
            format!("{other_name}: {hint}"),
        ));
    }
    let Some(p) = own else {
        return Err(bad("invalid_request", format!("{own_name}.id is required")));
    };
    check_actor_id(&p.id)?;
    Ok(&p.id)
}

/// The scopes `can` names, checked against the configured models.
pub fn scopes_for(
    m: &Minting,
    can: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<String>, ErrorResponse> {
    if can.is_empty() {
        return Err(bad("invalid_request", "can: at least one model"));
    }
    let mut out = BTreeSet::new();
    for (model, ops) in can {
        if !is_name(model) {
            return Err(bad(
                "invalid_capability",
                format!("can: '{model}' is not a model name ([a-z][a-z0-9_]{{0,63}})"),
            ));
        }
        if ops.is_empty() {
            return Err(bad(
                "invalid_capability",
                format!("can.{model}: at least one operation"),
            ));
        }
        let known = m.models.get(model);
        if known.is_none() && !m.section.any_capability {
            return Err(bad(
                "unknown_capability",
                format!("can: no model '{model}' in this platform"),
            ));
        }
        for op in ops {
            if !is_name(op) {
                return Err(bad(
                    "invalid_capability",
                    format!("can.{model}: '{op}' is not an operation name"),
                ));
            }
            if known.is_some_and(|k| !k.contains(op)) {
                return Err(bad(
                    "unknown_capability",
                    format!("can.{model}: no operation '{op}'"),
                ));
            }
            out.insert(m.scope(model, op));
        }
    }
    if out.len() > MAX_SCOPES {
        return Err(bad(
            "invalid_capability",
            format!("can: at most {MAX_SCOPES} operations"),
        ));
    }
    Ok(out.into_iter().collect())
}

/// Mint at `door` for the server key `parent`, from the request `body`.
pub async fn mint(
    ctx: &Ctx<'_>,
    door: Door,
    parent: Option<&Identity>,
    body: &[u8],
) -> ErrorResponse {
    let parent = match parent {
        Some(p) if p.kind == CredentialKind::ServerKey => p,
        _ => {
            return forbidden(
                "server_key_required",
                "only a server key can mint; publishable, ephemeral and restricted keys cannot",
            )
        }
    };
    let workspace = match parent.workspace.as_deref() {
        Some(w) if ctx.minting.enabled_for(w) => w,
        _ => {
            return forbidden(
                "minting_disabled",
                "minting is not enabled for this server key's workspace",
            )
        }
    };
    let b: DoorBody = match serde_json::from_slice(body) {
        Ok(b) => b,
        Err(e) if e.is_data() => return bad("invalid_request", e.to_string()),
        Err(e) => return bad("invalid_json", e.to_string()),
    };
    let actor_id = match participant(door, &b) {
        Ok(id) => id.to_string(),
        Err(r) => return r,
    };
    let scopes = match (door, &b.can) {
        (Door::Ephemeral, Some(_)) => {
            return bad(
                "invalid_request",
                "can: an ephemeral key carries the user's whole surface; restrict an agent at \
                 the capability door",
            )
        }
        // The user's whole surface: the server key's own scopes, if any.
        (Door::Ephemeral, None) => parent.scopes.clone(),
        (Door::Capability, None) => return bad("invalid_request", "can is required"),
        (Door::Capability, Some(can)) => match scopes_for(ctx.minting, can) {
            Ok(s) => s,
            Err(r) => return r,
        },
    };
    if parent.scoped {
        let over: Vec<&String> = scopes
            .iter()
            .filter(|s| !has_scope(&parent.scopes, s, ctx.hierarchical))
            .collect();
        if !over.is_empty() {
            return ErrorResponse::json(
                403,
                &json!({"error": "scope_exceeds_parent", "message": "a minted key cannot hold more than the server key that mints it", "scopes": over}),
            );
        }
    }
    let kind = door.kind();
    let prefix = match door {
        Door::Ephemeral => &ctx.minting.ephemeral_prefix,
        Door::Capability => &ctx.minting.capability_prefix,
    };
    let ttl = ctx.minting.ttl(kind, &parent.credential_id).as_secs() as i64;
    // A key id collision (64 random bits) is retried, not reported.
    for _ in 0..3 {
        let secret = crate::credential::mint::mint(prefix);
        let key = NewKey {
            id: format!("key_{:016x}", rand::random::<u64>()),
            digest: ctx.digester.digest(&secret),
            kind,
            subject: actor_id.clone(),
            workspace: Some(workspace.to_string()),
            scopes: scopes.clone(),
            allow: parent.allow.clone(),
            usage: parent.usage.clone(),
            expires_at: Some(now() + ttl),
            scheme: None,
            public_key: None,
            metadata: json!({}),
            rotated_from: None,
            minted: Some(Minted {
                actor_kind: door.actor(),
                actor_id: actor_id.clone(),
                parent_id: parent.credential_id.clone(),
            }),
            rate_limit: None,
            quota: None,
        };
        match ctx.store.create(key).await {
            Ok(k) => {
                ctx.cache.invalidate_digest(k.digest);
                tracing::info!(target: "minting", parent = %parent.credential_id, key_id = %k.id,
                    kind = kind.as_str(), actor = %actor_id, "key minted");
                return ErrorResponse::json(
                    200,
                    &json!({
                        "id": k.id,
                        "object": kind.as_str(),
                        "secret": secret,
                        "created": k.created_at,
                        "expires_at": k.expires_at,
                        "actor": {"kind": door.actor().as_str(), "id": actor_id},
                        "workspace": k.workspace,
                        "scopes": k.scopes,
                    }),
                );
            }
            Err(WriteError::Conflict(_)) => continue,
            Err(WriteError::ParentInactive(m)) => {
                return forbidden(
                    "parent_inactive",
                    format!("minting needs an active server key held in the database store ({m})"),
                )
            }
            Err(WriteError::Store(e)) => {
                tracing::warn!(error = %e, "minting: store call failed");
                return ErrorResponse::store_down("key");
            }
        }
    }
    ErrorResponse::store_down("key")
}
