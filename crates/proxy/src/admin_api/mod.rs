//! The key-management API on the admin listener, under `/admin/v1/`.
//!
//! Off unless `[[admin.tokens]]` are configured (then every call needs
//! `Authorization: Bearer <token>`; the token's SHA-256 is compared in
//! constant time with each configured digest), and off without a database
//! store (`store.url`). Errors are JSON in the style of the proxy's
//! refusals. Every change reaches this instance's cache before the answer
//! (the next request sees it) and the other instances through the store's
//! change feed. Handlers are in [`keys`]; the OpenAPI document in
//! [`openapi`].

pub mod bodies;
mod checks;
pub mod keys;
pub mod openapi;
pub mod signing_keys;

use crate::cache::IdentityCache;
use crate::config::database::AdminToken;
use crate::config::reload::ConfigHandle;
use crate::config::Runtime;
use crate::metrics::METRICS;
use http::{Method, Response};
use pingora::protocols::http::ServerSession;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

/// Largest request body accepted.
const MAX_BODY: usize = 64 * 1024;

/// The API, shared by the admin listener's requests.
pub struct AdminApi {
    pub(crate) config: ConfigHandle,
    pub(crate) cache: IdentityCache,
}

/// An answer: status and JSON body.
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: Value,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    /// `status` with `body`.
    pub fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body,
            headers: Vec::new(),
        }
    }

    /// `status` with `body` serialized.
    pub fn body<T: serde::Serialize>(status: u16, body: &T) -> Self {
        match serde_json::to_value(body) {
            Ok(v) => Self::json(status, v),
            Err(e) => Self::error(500, "internal", format!("serializing the answer: {e}")),
        }
    }

    /// An error in the proxy's style: `{"error": code, "message": …}`.
    pub fn error(status: u16, code: &str, message: impl Into<String>) -> Self {
        let body = bodies::ErrorBody {
            error: code.to_string(),
            message: message.into(),
            required: None,
        };
        match serde_json::to_value(&body) {
            Ok(v) => Self::json(status, v),
            Err(_) => Self::json(status, json!({"error": code})),
        }
    }

    /// 503 for a store that did not answer (never a guess).
    pub fn unavailable(e: impl std::fmt::Display) -> Self {
        tracing::warn!(error = %e, "admin API: store call failed");
        let mut r = Self::error(
            503,
            "temporarily_unavailable",
            "The key store is temporarily unavailable",
        );
        r.headers.push(("retry-after", "1".into()));
        r
    }

    /// Render as an HTTP response.
    pub fn into_response(self) -> Response<Vec<u8>> {
        let body = self.body.to_string().into_bytes();
        let mut resp = Response::new(body);
        *resp.status_mut() = http::StatusCode::from_u16(self.status)
            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        let h = resp.headers_mut();
        h.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        h.insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("no-store"),
        );
        for (name, value) in self.headers {
            if let Ok(v) = http::HeaderValue::from_str(&value) {
                h.insert(name, v);
            }
        }
        let len = resp.body().len();
        resp.headers_mut()
            .insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(len));
        resp
    }
}

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// `keys:read`.
    Read,
    /// `keys:write`.
    Write,
}

/// The configured token `presented` is, compared in constant time against
/// every configured digest.
fn token<'t>(tokens: &'t [AdminToken], presented: &str) -> Option<&'t AdminToken> {
    let digest = crate::credential::digest::sha256(presented.as_bytes());
    let mut found = None;
    for t in tokens {
        if bool::from(t.digest.ct_eq(&digest)) {
            found = Some(t);
        }
    }
    found
}

/// Check the caller's token for `need`.
fn authorize(rt: &Runtime, session: &ServerSession, need: Need) -> Result<String, Reply> {
    let presented = session
        .req_header()
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        });
    let unauthorized = || {
        let mut r = Reply::error(401, "unauthorized", "A valid admin token is required");
        r.headers.push((
            "www-authenticate",
            r#"Bearer realm="authgate-admin""#.into(),
        ));
        r
    };
    let t = presented
        .and_then(|p| token(&rt.admin_tokens, p))
        .ok_or_else(unauthorized)?;
    let allowed = match need {
        Need::Read => t.read || t.write,
        Need::Write => t.write,
    };
    if !allowed {
        let scope = match need {
            Need::Read => "keys:read",
            Need::Write => "keys:write",
        };
        return Err(Reply::body(
            403,
            &bodies::ErrorBody {
                error: "insufficient_scope".into(),
                message: format!("This token lacks {scope}"),
                required: Some(scope.into()),
            },
        ));
    }
    Ok(t.id.clone())
}

/// Read the whole request body (at most [`MAX_BODY`]) as JSON; an empty
/// body is `{}` unless `required`.
pub async fn read_json(session: &mut ServerSession, required: bool) -> Result<Value, Reply> {
    let mut body = Vec::new();
    loop {
        match session.read_request_body().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_BODY {
                    return Err(Reply::error(
                        413,
                        "payload_too_large",
                        "The body is over 64 KiB",
                    ));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(_) => return Err(Reply::error(400, "invalid_request", "Unreadable body")),
        }
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return if required {
            Err(Reply::error(
                400,
                "invalid_request",
                "A JSON body is required",
            ))
        } else {
            Ok(json!({}))
        };
    }
    serde_json::from_slice(&body)
        .map_err(|e| Reply::error(400, "invalid_request", format!("Body is not JSON: {e}")))
}

impl AdminApi {
    /// The API over `config`, invalidating `cache` on every change.
    pub fn new(config: ConfigHandle, cache: IdentityCache) -> Self {
        Self { config, cache }
    }

    /// Answer a request under `/admin/v1/`, or `None` for other paths.
    pub async fn handle(&self, session: &mut ServerSession) -> Option<Response<Vec<u8>>> {
        let path = session.req_header().uri.path().to_string();
        let rest = path.strip_prefix("/admin/v1/")?;
        let rt = self.config.current();
        let method = session.req_header().method.clone();
        let (op, reply) = if rt.admin_tokens.is_empty() {
            (
                "off",
                Reply::error(
                    404,
                    "not_found",
                    "The admin API is off: no admin.tokens configured",
                ),
            )
        } else if rest == "openapi.json" && method == Method::GET {
            ("openapi", Reply::json(200, openapi::document(&rt)))
        } else {
            self.route(&rt, session, &method, rest).await
        };
        METRICS
            .admin_requests
            .with_label_values(&[op, &reply.status.to_string()])
            .inc();
        Some(reply.into_response())
    }

    async fn route(
        &self,
        rt: &Runtime,
        session: &mut ServerSession,
        method: &Method,
        rest: &str,
    ) -> (&'static str, Reply) {
        let parts: Vec<&str> = rest.split('/').collect();
        let need = if *method == Method::GET {
            Need::Read
        } else {
            Need::Write
        };
        let (op, known) = match (method.as_str(), parts.as_slice()) {
            ("GET", ["keys"]) => ("list", true),
            ("POST", ["keys"]) => ("create", true),
            ("GET", ["keys", _]) => ("get", true),
            ("PATCH", ["keys", _]) => ("update", true),
            ("POST", ["keys", _, "revoke"]) => ("revoke", true),
            ("POST", ["keys", _, "rotate"]) => ("rotate", true),
            ("POST", ["stamp-keys"]) => ("register_stamp_key", true),
            ("POST", ["signing-keys"]) => ("register_signing_key", true),
            _ => ("unknown", false),
        };
        if !known {
            let allow = match parts.as_slice() {
                ["keys"] => Some("GET, POST"),
                ["keys", _] => Some("GET, PATCH"),
                ["keys", _, "revoke" | "rotate"] | ["stamp-keys"] | ["signing-keys"] => {
                    Some("POST")
                }
                _ => None,
            };
            return match allow {
                Some(methods) => {
                    let mut r = Reply::error(405, "method_not_allowed", "Method not allowed here");
                    r.headers.push(("allow", methods.to_string()));
                    ("unknown", r)
                }
                None => (
                    "unknown",
                    Reply::error(404, "not_found", "No such admin endpoint"),
                ),
            };
        }
        let caller = match authorize(rt, session, need) {
            Ok(id) => id,
            Err(r) => return (op, r),
        };
        let Some(store) = rt.keystore.clone() else {
            return (
                op,
                Reply::error(
                    409,
                    "no_store",
                    "Key management needs a database store (store.url)",
                ),
            );
        };
        let body = if matches!(
            op,
            "create" | "update" | "rotate" | "register_stamp_key" | "register_signing_key"
        ) {
            match read_json(session, op != "rotate").await {
                Ok(b) => b,
                Err(r) => return (op, r),
            }
        } else {
            Value::Null
        };
        let query = session.req_header().uri.query().unwrap_or("").to_string();
        let id = parts.get(1).copied().unwrap_or("");
        let ctx = keys::Ctx {
            rt,
            store: store.as_ref(),
            cache: &self.cache,
            caller: &caller,
        };
        // Never a hang: a store that does not answer is a 503.
        let limit = rt.file.store.timeout.saturating_mul(5);
        let call = async {
            match op {
                "list" => keys::list(&ctx, &query).await,
                "create" => keys::create(&ctx, body).await,
                "get" => keys::get(&ctx, id).await,
                "update" => keys::update(&ctx, id, body).await,
                "revoke" => keys::revoke(&ctx, id).await,
                "rotate" => keys::rotate(&ctx, id, body).await,
                "register_signing_key" => signing_keys::register_signing_key(&ctx, body).await,
                _ => keys::register_stamp_key(&ctx, body).await,
            }
        };
        let reply = match tokio::time::timeout(limit, call).await {
            Ok(r) => r,
            Err(_) => Reply::unavailable(format!("no answer within {limit:?}")),
        };
        (op, reply)
    }
}
