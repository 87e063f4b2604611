//! The minting doors (`[minting]` and routes with `handler =
//! "mint_ephemeral"` / `"mint_capability"`): an app backend holding a server
//! key asks authgate for a short-lived key for one end user (`ek_`) or one
//! agent (`rk_`) and hands that down, so a browser or an agent never sees
//! the server key. Minted keys live in the database store like any key
//! (verified on the ordinary hot path) and end with the server key that
//! minted them: revoking or rotating it out cascades to them on every
//! instance ([`authgate_store::KeyStore::revoke`]).

pub mod doors;
pub mod settings;

use crate::config::Runtime;
use crate::error::ErrorResponse;
use crate::identity::Identity;
use crate::policy::router::Builtin;
use crate::verify::Authenticator;
use pingora::proxy::Session;
use std::time::Duration;

/// Largest minting request body.
const MAX_BODY: usize = 16 * 1024;
/// Longest a minting body may take to arrive.
const BODY_WITHIN: Duration = Duration::from_secs(5);

/// Whether `handler` is a minting door.
pub fn handles(handler: Builtin) -> bool {
    matches!(handler, Builtin::MintEphemeral | Builtin::MintCapability)
}

/// Answer a minting door for a request admitted with `identity`.
pub async fn respond(
    handler: Builtin,
    rt: &Runtime,
    auth: &Authenticator,
    session: &mut Session,
    identity: Option<&Identity>,
) -> ErrorResponse {
    let (Some(minting), Some(store)) = (rt.minting.as_deref(), rt.keystore.as_deref()) else {
        // Validation refuses such a config; never a pass if it happens.
        return ErrorResponse::coded(503, "temporarily_unavailable", "minting is not configured");
    };
    let body = match crate::proxy::body::read_all(session, MAX_BODY, BODY_WITHIN).await {
        Ok(b) => b,
        Err(refusal) => return refusal.to_response(),
    };
    let ctx = doors::Ctx {
        minting,
        store,
        cache: auth.cache(),
        digester: &rt.auth.digester,
        hierarchical: rt.identity.hierarchical_scopes,
    };
    let door = if handler == Builtin::MintEphemeral {
        doors::Door::Ephemeral
    } else {
        doors::Door::Capability
    };
    doors::mint(&ctx, door, identity, &body).await
}
