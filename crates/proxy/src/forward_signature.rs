//! RFC 9421 signatures on what authgate forwards
//! (`[identity.assertion] sign_requests = true`): after the identity
//! headers are written, authgate signs the request it sends upstream with
//! the assertion key, so an upstream can check both who the caller is and
//! that the request came through authgate unchanged. The signature (label
//! `authgate`, `keyid` the key's `kid`, `alg="ed25519"`, `tag="authgate"`)
//! covers `@method`, `@authority`, `@path`, `@query` (when there is one),
//! every identity header present, `x-request-id`, and `content-digest`
//! when the request carries one (authgate attests the header it forwards;
//! it verified the body against it when the request was itself a message
//! signature). The public key is the one in authgate's JWKS.

use crate::assertion::AssertionSigner;
use crate::identity_headers::IdentityHeaders;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::{HeaderMap, HeaderName, HeaderValue};
use pingora::http::RequestHeader;

/// The label of authgate's signature.
pub const LABEL: &str = "authgate";

static SIGNATURE_INPUT: HeaderName = HeaderName::from_static("signature-input");
static SIGNATURE: HeaderName = HeaderName::from_static("signature");
static CONTENT_DIGEST: HeaderName = HeaderName::from_static("content-digest");
static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A header field's value as RFC 9421 §2.1 reads it: every line, trimmed,
/// joined by `", "`; `None` when absent or not text (identity headers are
/// always text; a client's `Content-Digest` that is not is left uncovered).
fn field(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    let mut out: Option<String> = None;
    for v in headers.get_all(name) {
        let v = v.to_str().ok()?.trim();
        match &mut out {
            Some(s) => {
                s.push_str(", ");
                s.push_str(v);
            }
            None => out = Some(v.to_string()),
        }
    }
    out
}

/// The covered components and the signature base for `up` at `now`.
fn base(up: &RequestHeader, kid: &str, names: &IdentityHeaders, now: u64) -> (String, String) {
    let raw = String::from_utf8_lossy(up.raw_path());
    let (path, query) = match raw.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (raw.to_string(), None),
    };
    let path = if path.is_empty() { "/".into() } else { path };
    let mut lines: Vec<(String, String)> = vec![
        ("\"@method\"".into(), up.method.as_str().to_string()),
        ("\"@path\"".into(), path),
    ];
    if let Some(host) = field(&up.headers, &http::header::HOST) {
        lines.insert(1, ("\"@authority\"".into(), host.to_ascii_lowercase()));
    }
    if let Some(q) = query {
        lines.push(("\"@query\"".into(), format!("?{q}")));
    }
    let identity = [
        &names.subject,
        &names.workspace,
        &names.scopes,
        &names.method,
        &names.credential_id,
        &names.expires_at,
        &names.actor_kind,
        &names.actor_id,
        &names.parent_credential_id,
        &names.stamp_scheme,
        &names.assertion,
    ];
    for name in identity.into_iter().chain([&X_REQUEST_ID, &CONTENT_DIGEST]) {
        if let Some(v) = field(&up.headers, name) {
            lines.push((format!("\"{}\"", name.as_str()), v));
        }
    }
    let list = lines
        .iter()
        .map(|(id, _)| id.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let params = format!(r#"({list});created={now};keyid="{kid}";alg="ed25519";tag="{LABEL}""#);
    let mut base = String::new();
    for (id, v) in &lines {
        base.push_str(id);
        base.push_str(": ");
        base.push_str(v);
        base.push('\n');
    }
    base.push_str("\"@signature-params\": ");
    base.push_str(&params);
    (params, base)
}

/// Set or extend the dictionary header `name` with `member`.
fn add_member(up: &mut RequestHeader, name: &HeaderName, member: String) -> Result<(), String> {
    let value = match field(&up.headers, name) {
        Some(existing) if !existing.is_empty() => format!("{existing}, {member}"),
        _ => member,
    };
    let value = HeaderValue::try_from(value).map_err(|e| e.to_string())?;
    up.insert_header(name.clone(), value)
        .map_err(|e| e.to_string())
}

/// Sign `up` (as it will be sent) at `now` (Unix seconds).
pub fn sign(
    signer: &AssertionSigner,
    up: &mut RequestHeader,
    names: &IdentityHeaders,
    now: u64,
) -> Result<(), String> {
    let kid = signer.section().kid.clone();
    let (params, base) = base(up, &kid, names, now);
    let signature = signer.sign_bytes(base.as_bytes());
    add_member(up, &SIGNATURE_INPUT, format!("{LABEL}={params}"))?;
    add_member(
        up,
        &SIGNATURE,
        format!("{LABEL}=:{}:", STANDARD.encode(signature)),
    )
}
