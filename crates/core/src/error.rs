//! Every refusal authgate can answer, mapped to HTTP in exactly one place.
//!
//! Bodies are fixed JSON documents (see `docs/contracts.md` §5); they never echo a
//! credential and never say whether an unknown key exists. The precise reason
//! goes to logs and metrics through [`Refusal::reason`].

use bytes::Bytes;
use serde_json::json;

/// Why a request was not forwarded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// No route matches the host and path.
    #[error("no route")]
    NotFound,
    /// A route matches the path but not the method.
    #[error("method not allowed")]
    MethodNotAllowed {
        /// Value of the `Allow` header.
        allow: String,
    },
    /// The path is not in normal form (dot segments, encoded slashes, …).
    #[error("path not in normal form")]
    BadPath,
    /// No credential the route considers was presented.
    #[error("no credential")]
    MissingCredential,
    /// Only credentials of kinds the route does not accept were presented.
    #[error("credential kind not accepted here")]
    KindNotAccepted {
        /// Comma-separated list of what the route accepts.
        accepts: String,
    },
    /// Two different credentials were presented.
    #[error("ambiguous credentials")]
    Ambiguous,
    /// The credential is syntactically unusable.
    #[error("malformed credential: {0}")]
    Malformed(&'static str),
    /// The credential is well-formed but not valid (unknown, expired, revoked, bad signature, …).
    #[error("invalid credential: {0}")]
    InvalidToken(&'static str),
    /// A stamp that failed a check (format, signature, freshness, replay, unknown key).
    #[error("invalid stamp: {0}")]
    InvalidStamp(&'static str),
    /// An RFC 9421 message signature was refused (the reason is precise:
    /// it concerns the signature and the request, never a secret).
    #[error("invalid message signature: {0}")]
    InvalidSignature(&'static str),
    /// The body is over the route's limit.
    #[error("payload too large")]
    PayloadTooLarge,
    /// A body without a declared length grew past what can be replayed.
    #[error("length required")]
    LengthRequired,
    /// The body did not arrive in time.
    #[error("body timeout")]
    BodyTimeout,
    /// The identity lacks a scope the route demands.
    #[error("insufficient scope")]
    InsufficientScope {
        /// The scopes the route requires.
        required: Vec<String>,
    },
    /// The key belongs to another surface or its allow-list excludes this resource.
    #[error("forbidden: {reason}")]
    Forbidden {
        /// Short reason for logs.
        reason: &'static str,
        /// Hint for the client.
        hint: String,
    },
    /// The path's workspace is not the credential's.
    #[error("workspace mismatch")]
    WorkspaceMismatch {
        /// The credential's own workspace, if any.
        own: Option<String>,
    },
    /// The credential store could not answer; fail closed.
    #[error("credential store unavailable")]
    StoreUnavailable,
    /// A global rate limit's shared bucket could not answer and its
    /// outage policy is to refuse.
    #[error("rate limiting unavailable")]
    LimitUnavailable,
    /// No healthy upstream.
    #[error("upstream unavailable")]
    BadGateway,
    /// The upstream did not connect or answer within its timeouts.
    #[error("upstream timed out")]
    GatewayTimeout,
    /// The request itself is unusable (authority disagreeing with `Host`,
    /// conflicting or refused override headers); the label says which.
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
    /// A rate limit refused the request (the limit with the longest wait).
    #[error("rate limited")]
    RateLimited {
        /// The limit's name.
        policy: String,
        /// Requests the limit allows at once (its burst).
        quota: u32,
        /// The limit's window in seconds.
        window: u64,
        /// Whole seconds until a request would pass (at least 1).
        retry_after: u64,
    },
    /// The key's usage quota is spent.
    #[error("usage quota exhausted")]
    QuotaExhausted {
        /// Whole seconds until it refills, when it does.
        retry_after: Option<u64>,
    },
}

/// A refusal rendered for the wire.
#[derive(Debug, Clone)]
pub struct ErrorResponse {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: Bytes,
    /// Extra headers (`WWW-Authenticate`, `Allow`).
    pub headers: Vec<(&'static str, String)>,
}

impl ErrorResponse {
    /// `status` with `body` as JSON.
    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        Self {
            status,
            body: Bytes::from(body.to_string()),
            headers: Vec::new(),
        }
    }

    /// `status` with `{"error": code, "message": message}`: the shape of
    /// the answers authgate writes itself (sign-in, minting).
    pub fn coded(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self::json(
            status,
            &serde_json::json!({"error": code, "message": message.into()}),
        )
    }

    /// 503 `temporarily_unavailable` with `Retry-After: 1`, naming `what`
    /// is unavailable (the cause goes to the log, never the client).
    pub fn store_down(what: &str) -> Self {
        let mut r = Self::coded(
            503,
            "temporarily_unavailable",
            format!("The {what} store is temporarily unavailable"),
        );
        r.headers.push(("retry-after", "1".into()));
        r
    }
}

impl Refusal {
    /// A short, stable label for logs and metrics (never contains the credential).
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::NotFound => "no_route",
            Refusal::MethodNotAllowed { .. } => "method_not_allowed",
            Refusal::BadPath => "bad_path",
            Refusal::MissingCredential => "missing_credential",
            Refusal::KindNotAccepted { .. } => "kind_not_accepted",
            Refusal::Ambiguous => "ambiguous_credentials",
            Refusal::Malformed(r) => r,
            Refusal::InvalidToken(r) => r,
            Refusal::InvalidStamp(r) => r,
            Refusal::InvalidSignature(r) => r,
            Refusal::PayloadTooLarge => "payload_too_large",
            Refusal::LengthRequired => "length_required",
            Refusal::BodyTimeout => "body_timeout",
            Refusal::InsufficientScope { .. } => "insufficient_scope",
            Refusal::Forbidden { reason, .. } => reason,
            Refusal::WorkspaceMismatch { .. } => "workspace_mismatch",
            Refusal::StoreUnavailable => "store_unavailable",
            Refusal::LimitUnavailable => "rate_limit_unavailable",
            Refusal::BadGateway => "upstream_unavailable",
            Refusal::GatewayTimeout => "upstream_timeout",
            Refusal::InvalidRequest(r) => r,
            Refusal::RateLimited { .. } => "rate_limited",
            Refusal::QuotaExhausted { .. } => "quota_exhausted",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::NotFound | Refusal::WorkspaceMismatch { .. } => 404,
            Refusal::MethodNotAllowed { .. } => 405,
            Refusal::BadPath
            | Refusal::Ambiguous
            | Refusal::Malformed(_)
            | Refusal::InvalidRequest(_) => 400,
            Refusal::MissingCredential
            | Refusal::KindNotAccepted { .. }
            | Refusal::InvalidToken(_)
            | Refusal::InvalidStamp(_)
            | Refusal::InvalidSignature(_) => 401,
            Refusal::PayloadTooLarge => 413,
            Refusal::LengthRequired => 411,
            Refusal::BodyTimeout => 408,
            Refusal::InsufficientScope { .. } | Refusal::Forbidden { .. } => 403,
            Refusal::StoreUnavailable | Refusal::LimitUnavailable => 503,
            Refusal::BadGateway => 502,
            Refusal::GatewayTimeout => 504,
            Refusal::RateLimited { .. } | Refusal::QuotaExhausted { .. } => 429,
        }
    }

    /// Render status, body and headers.
    pub fn to_response(&self) -> ErrorResponse {
        let mut headers = Vec::new();
        let body = match self {
            Refusal::NotFound => {
                json!({"error": "not_found", "message": "No route matches this request"})
            }
            Refusal::MethodNotAllowed { allow } => {
                headers.push(("allow", allow.clone()));
                json!({"error": "method_not_allowed", "message": "This route does not serve this method"})
            }
            Refusal::BadPath => {
                json!({"error": "invalid_request", "message": "Path must not contain dot segments, empty segments or encoded separators"})
            }
            Refusal::MissingCredential => {
                headers.push(("www-authenticate", r#"Bearer realm="authgate""#.to_string()));
                json!({"error": "Unauthorized", "message": "API key or OAuth access token required"})
            }
            Refusal::KindNotAccepted { accepts } => {
                headers.push(("www-authenticate", r#"Bearer realm="authgate""#.to_string()));
                json!({"error": "Unauthorized", "message": format!("This route accepts: {accepts}")})
            }
            Refusal::Ambiguous => {
                headers.push((
                    "www-authenticate",
                    r#"Bearer error="invalid_request""#.to_string(),
                ));
                json!({"error": "ambiguous_credentials", "message": "Two different credentials were presented; send exactly one"})
            }
            Refusal::Malformed(reason) => {
                headers.push((
                    "www-authenticate",
                    format!(r#"Bearer error="invalid_request", error_description="{reason}""#),
                ));
                json!({"error": "invalid_request", "message": malformed_message(reason)})
            }
            Refusal::InvalidToken(_) => {
                headers.push((
                    "www-authenticate",
                    r#"Bearer error="invalid_token""#.to_string(),
                ));
                json!({"error": "Invalid API key or OAuth access token"})
            }
            Refusal::InvalidStamp(reason) => {
                // Stamp reasons concern the signature and body, never a secret,
                // so they are precise.
                headers.push((
                    "www-authenticate",
                    format!(r#"Stamp error="invalid_stamp", error_description="{reason}""#),
                ));
                json!({"error": "invalid_stamp", "reason": reason})
            }
            Refusal::InvalidSignature(reason) => {
                headers.push((
                    "www-authenticate",
                    format!(r#"Signature error="invalid_signature", error_description="{reason}""#),
                ));
                json!({"error": "invalid_signature", "reason": reason})
            }
            Refusal::PayloadTooLarge => {
                json!({"error": "payload_too_large", "message": "The request body exceeds this route's limit"})
            }
            Refusal::LengthRequired => {
                json!({"error": "length_required", "message": "Send Content-Length with a signed body over 64 KiB"})
            }
            Refusal::BodyTimeout => {
                json!({"error": "body_timeout", "message": "The request body did not arrive in time"})
            }
            Refusal::InsufficientScope { required } => {
                let list = required.join(" ");
                headers.push((
                    "www-authenticate",
                    format!(r#"Bearer error="insufficient_scope", scope="{list}""#),
                ));
                let required = if required.len() == 1 {
                    json!(required[0])
                } else {
                    json!(required)
                };
                json!({"error": "insufficient_scope", "required": required})
            }
            Refusal::Forbidden { hint, .. } => {
                json!({"error": "This credential may not be used here", "hint": hint})
            }
            Refusal::WorkspaceMismatch { own } => {
                let hint = match own {
                    Some(ws) => format!("This credential belongs to workspace '{ws}'"),
                    None => "This credential is not bound to a workspace".to_string(),
                };
                json!({"error": "Workspace path does not match this credential", "hint": hint})
            }
            Refusal::StoreUnavailable => {
                headers.push(("retry-after", "1".to_string()));
                json!({"error": "temporarily_unavailable", "message": "Credential verification is temporarily unavailable"})
            }
            Refusal::LimitUnavailable => {
                headers.push(("retry-after", "1".to_string()));
                json!({"error": "temporarily_unavailable", "reason": "rate_limit_unavailable", "message": "Rate limiting is temporarily unavailable"})
            }
            Refusal::BadGateway => {
                json!({"error": "bad_gateway", "message": "The upstream is unavailable"})
            }
            Refusal::GatewayTimeout => {
                json!({"error": "gateway_timeout", "message": "The upstream did not answer in time"})
            }
            Refusal::InvalidRequest(reason) => {
                json!({"error": "invalid_request", "reason": reason, "message": invalid_request_message(reason)})
            }
            Refusal::RateLimited {
                policy,
                quota,
                window,
                retry_after,
            } => {
                // RFC 9110 Retry-After, and draft-ietf-httpapi-ratelimit-headers.
                headers.push(("retry-after", retry_after.to_string()));
                headers.push((
                    "ratelimit-policy",
                    format!("\"{policy}\";q={quota};w={window}"),
                ));
                headers.push(("ratelimit", format!("\"{policy}\";r=0;t={retry_after}")));
                json!({"error": "rate_limited", "retry_after": retry_after, "limit": policy, "message": "Too many requests for this credential; retry after the given seconds"})
            }
            Refusal::QuotaExhausted { retry_after } => match retry_after {
                Some(after) => {
                    headers.push(("retry-after", after.to_string()));
                    json!({"error": "quota_exhausted", "retry_after": after, "message": "This key's usage quota is exhausted; it refills after the given seconds"})
                }
                None => {
                    json!({"error": "quota_exhausted", "message": "This key's usage quota is exhausted"})
                }
            },
        };
        ErrorResponse {
            status: self.status(),
            body: Bytes::from(body.to_string()),
            headers,
        }
    }
}

fn invalid_request_message(reason: &str) -> &'static str {
    match reason {
        "authority_mismatch" => "The request target's authority and the Host header differ",
        "ambiguous_override" => {
            "Override headers disagree; send one method and one URL override at most"
        }
        "bad_override" => "An override header is not a method token or an origin-form path",
        "override_not_allowed" => {
            "The overridden method and path lead to a route that does not accept overrides"
        }
        _ => "The request is malformed",
    }
}

fn malformed_message(reason: &str) -> &'static str {
    match reason {
        "credential_too_large" => "Credential exceeds the maximum size",
        "credential_empty" => "Credential header is empty",
        "credential_charset" => "Credential contains characters outside visible ASCII",
        "authorization_scheme" => "Unsupported Authorization scheme",
        _ => "Malformed credential",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_bodies_follow_the_contract() {
        let cases: Vec<(Refusal, u16, &str)> = vec![
            (
                Refusal::MissingCredential,
                401,
                r#""message":"API key or OAuth access token required""#,
            ),
            (
                Refusal::InvalidToken("unknown"),
                401,
                r#"{"error":"Invalid API key or OAuth access token"}"#,
            ),
            (
                Refusal::InsufficientScope {
                    required: vec!["runs:write".into()],
                },
                403,
                r#""required":"runs:write""#,
            ),
            (
                Refusal::InsufficientScope {
                    required: vec!["a".into(), "b".into()],
                },
                403,
                r#""required":["a","b"]"#,
            ),
            (
                Refusal::WorkspaceMismatch {
                    own: Some("acme".into()),
                },
                404,
                "workspace 'acme'",
            ),
            (Refusal::Ambiguous, 400, "ambiguous_credentials"),
            (Refusal::NotFound, 404, "not_found"),
            (Refusal::BadGateway, 502, "bad_gateway"),
        ];
        for (refusal, status, needle) in cases {
            let r = refusal.to_response();
            assert_eq!(r.status, status, "{refusal:?}");
            let body = std::str::from_utf8(&r.body).unwrap();
            assert!(body.contains(needle), "{refusal:?}: {body}");
        }
    }

    #[test]
    fn insufficient_scope_sets_www_authenticate() {
        let r = Refusal::InsufficientScope {
            required: vec!["runs:write".into()],
        }
        .to_response();
        assert!(r.headers.iter().any(|(k, v)| *k == "www-authenticate"
            && v == r#"Bearer error="insufficient_scope", scope="runs:write""#));
    }
}
