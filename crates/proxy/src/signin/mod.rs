//! Wallet sign-in answered by authgate itself (`[signin]` and routes with a
//! sign-in `handler`): challenges and sessions live in the database store,
//! so every instance sharing it accepts a nonce once and refuses a revoked
//! session. Two dialects: session keys ([`session_keys`]; sessions are
//! credentials of kind `session`, verified at the edge by the stamp
//! verifier like any registered key) and wallet tokens ([`wallet_tokens`];
//! authgate's own access JWTs, rotating refresh tokens, namespace API keys).

pub mod retry_settings;
pub mod session_keys;
pub mod settings;
pub mod signed_retry;
pub mod wallet_keys;
pub mod wallet_settings;
pub mod wallet_tokens;

use crate::config::Runtime;
use crate::error::ErrorResponse;
use crate::identity::Identity;
use crate::policy::router::Builtin;
use crate::verify::Authenticator;
use bytes::Bytes;
use pingora::proxy::Session;
use serde_json::json;
use std::time::Duration;

/// Largest sign-in request body.
const MAX_BODY: usize = 16 * 1024;
/// Longest a sign-in body may take to arrive.
const BODY_WITHIN: Duration = Duration::from_secs(5);

/// Whether `handler` is answered here.
pub fn handles(handler: Builtin) -> bool {
    wallet_settings::handles(handler)
        || matches!(
            handler,
            Builtin::SignedRetry
                | Builtin::SessionChallenge
                | Builtin::SessionVerify
                | Builtin::SessionRefresh
                | Builtin::SessionRevoke
        )
}

/// 503 for a handler whose section is missing (validation refuses such a
/// config; never a pass if it happens).
fn not_configured() -> ErrorResponse {
    let mut r = ErrorResponse::coded(503, "temporarily_unavailable", "sign-in is not configured");
    r.headers.push(("retry-after", "1".into()));
    r
}

/// The `Authorization: Bearer` token of the request, if any.
fn bearer(session: &Session) -> Option<String> {
    let v = session
        .req_header()
        .headers
        .get("authorization")?
        .to_str()
        .ok()?;
    let (scheme, token) = v.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

/// The `{id}` of the request's route, percent-decoded (`Session%3A…`).
fn path_id(session: &Session, rt: &Runtime) -> Option<String> {
    let req = session.req_header();
    let host = req
        .headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok());
    match rt.router.find(host, &req.method, req.uri.path()) {
        crate::policy::router::RouteMatch::Found(_, params) => params
            .get("id")
            .map(|id| id.replace("%3A", ":").replace("%3a", ":")),
        _ => None,
    }
}

/// Answer the signed retry.
async fn respond_retry(rt: &Runtime, auth: &Authenticator, session: &mut Session) -> ErrorResponse {
    let (Some(settings), Some(store)) = (rt.signed_retry.as_deref(), rt.keystore.as_deref()) else {
        return not_configured();
    };
    let ctx = signed_retry::Ctx {
        settings,
        store,
        cache: auth.cache(),
        ip: client_ip(session, rt),
    };
    let session_id = path_id(session, rt);
    let body = match crate::proxy::body::read_all(session, MAX_BODY, BODY_WITHIN).await {
        Ok(b) => b,
        Err(refusal) => return refusal.to_response(),
    };
    let headers = &session.req_header().headers;
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let call = signed_retry::Call {
        session_id,
        authorization: text("authorization"),
        signature: text("grid-wallet-signature"),
        request_id: text("request-id"),
        body: &body,
    };
    signed_retry::respond(&ctx, call).await
}

/// Answer a wallet-token handler.
async fn respond_wallet(
    handler: Builtin,
    rt: &Runtime,
    auth: &Authenticator,
    session: &mut Session,
    identity: Option<&Identity>,
) -> ErrorResponse {
    let (Some(settings), Some(store)) = (rt.wallet_tokens.as_deref(), rt.keystore.as_deref())
    else {
        return not_configured();
    };
    let ctx = wallet_tokens::Ctx {
        settings,
        store,
        cache: auth.cache(),
        digester: &rt.auth.digester,
        ip: client_ip(session, rt),
    };
    match handler {
        Builtin::WalletKeyToken => return wallet_keys::key_token(&ctx, identity),
        Builtin::WalletWhoami => return wallet_tokens::whoami(identity),
        _ => {}
    }
    let body = match crate::proxy::body::read_all(session, MAX_BODY, BODY_WITHIN).await {
        Ok(b) => b,
        Err(refusal) => return refusal.to_response(),
    };
    match handler {
        Builtin::WalletChallenge => wallet_tokens::challenge(&ctx, &body).await,
        Builtin::WalletVerify => wallet_tokens::verify(&ctx, &body).await,
        Builtin::WalletApiKey => wallet_keys::api_key(&ctx, &body).await,
        Builtin::WalletRefresh => wallet_tokens::refresh(&ctx, &body).await,
        _ => wallet_tokens::logout(&ctx, &body, bearer(session).as_deref()).await,
    }
}

/// The client's address: the peer, or the `X-Real-IP` a trusted proxy set.
fn client_ip(session: &Session, rt: &Runtime) -> String {
    crate::proxy::forward::client_ip(session, rt)
        .map_or_else(|| "unknown".into(), |ip| ip.to_string())
}

/// Answer a sign-in `handler` for a request admitted with `identity`;
/// `body` is the already verified body of a signed request, if any.
pub async fn respond(
    handler: Builtin,
    rt: &Runtime,
    auth: &Authenticator,
    session: &mut Session,
    identity: Option<&Identity>,
) -> ErrorResponse {
    if wallet_settings::handles(handler) {
        return respond_wallet(handler, rt, auth, session, identity).await;
    }
    if handler == Builtin::SignedRetry {
        return respond_retry(rt, auth, session).await;
    }
    let (Some(settings), Some(store)) = (rt.signin.as_deref(), rt.keystore.as_deref()) else {
        return not_configured();
    };
    let ctx = session_keys::Ctx {
        settings,
        store,
        cache: auth.cache(),
        ip: client_ip(session, rt),
    };
    match handler {
        Builtin::SessionChallenge | Builtin::SessionVerify => {
            let body = match crate::proxy::body::read_all(session, MAX_BODY, BODY_WITHIN).await {
                Ok(b) => b,
                Err(refusal) => return refusal.to_response(),
            };
            if handler == Builtin::SessionChallenge {
                session_keys::challenge(&ctx, &body).await
            } else {
                session_keys::verify(&ctx, &body).await
            }
        }
        Builtin::SessionRefresh => session_keys::refresh(&ctx, identity).await,
        Builtin::SessionRevoke => session_keys::revoke(&ctx, identity).await,
        _ => ErrorResponse {
            status: 404,
            body: Bytes::from(json!({"error": "not_found"}).to_string()),
            headers: Vec::new(),
        },
    }
}
