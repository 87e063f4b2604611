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
use crate::verify::httpsig::{self, RequestParts};
use crate::verify::httpsig_auth::{CONTENT_DIGEST, SIGNATURE, SIGNATURE_INPUT};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::{HeaderMap, HeaderName, HeaderValue};
use pingora::http::RequestHeader;

/// The label of authgate's signature.
pub const LABEL: &str = "authgate";

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Whether `name` is present with text values only (identity headers always
/// are; a client's `Content-Digest` that is not is left uncovered).
fn signable(headers: &HeaderMap, name: &HeaderName) -> bool {
    let mut values = headers.get_all(name).iter().peekable();
    values.peek().is_some() && values.all(|v| v.to_str().is_ok())
}

/// The `Signature-Input` member for `up` at `now`: the components present,
/// then the parameters.
fn input_member(up: &RequestHeader, kid: &str, names: &IdentityHeaders, now: u64) -> String {
    let mut ids: Vec<&str> = vec!["\"@method\""];
    if signable(&up.headers, &http::header::HOST) {
        ids.push("\"@authority\"");
    }
    ids.push("\"@path\"");
    if up.raw_path().contains(&b'?') {
        ids.push("\"@query\"");
    }
    let headers: Vec<String> = names
        .all()
        .into_iter()
        .chain([&X_REQUEST_ID, &CONTENT_DIGEST])
        .filter(|n| signable(&up.headers, n))
        .map(|n| format!("\"{}\"", n.as_str()))
        .collect();
    ids.extend(headers.iter().map(String::as_str));
    format!(
        r#"{LABEL}=({});created={now};keyid="{kid}";alg="ed25519";tag="{LABEL}""#,
        ids.join(" ")
    )
}

/// Set or extend the dictionary header `name` with `member`.
fn add_member(up: &mut RequestHeader, name: &HeaderName, member: String) -> Result<(), String> {
    let existing: Vec<&str> = up
        .headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    let value = if existing.is_empty() {
        member
    } else {
        format!("{}, {member}", existing.join(", "))
    };
    let value = HeaderValue::try_from(value).map_err(|e| e.to_string())?;
    up.insert_header(name.clone(), value)
        .map_err(|e| e.to_string())
}

/// Sign `up` (as it will be sent, reached over TLS or not) at `now` (Unix
/// seconds). The signature base is the core's RFC 9421 builder (tested
/// against the RFC's vectors), over the member this function writes.
pub fn sign(
    signer: &AssertionSigner,
    up: &mut RequestHeader,
    names: &IdentityHeaders,
    tls: bool,
    now: u64,
) -> Result<(), String> {
    let member = input_member(up, &signer.section().kid, names, now);
    let input = httpsig::parse(&member, &format!("{LABEL}=::"))
        .map_err(|e| e.to_string())?
        .pop()
        .ok_or("no signature input")?;
    let raw = String::from_utf8_lossy(up.raw_path()).into_owned();
    let (path, query) = match raw.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (raw.as_str(), None),
    };
    let host = up
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let parts = RequestParts {
        method: up.method.as_str(),
        scheme: if tls { "https" } else { "http" },
        authority: host,
        path,
        query,
        headers: &up.headers,
    };
    let base = httpsig::signature_base(&parts, &input).map_err(|e| e.to_string())?;
    let signature = signer.sign_bytes(base.as_bytes());
    add_member(
        up,
        SIGNATURE_INPUT,
        format!("{LABEL}={}", input.params_value),
    )?;
    add_member(
        up,
        SIGNATURE,
        format!("{LABEL}=:{}:", STANDARD.encode(signature)),
    )
}
