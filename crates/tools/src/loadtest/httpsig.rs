//! RFC 9421 message signatures for the load tool (`httpsig_ed25519`): a
//! POST of a fresh JSON body, signed with ed25519 over `@method`,
//! `@authority`, `@path` (`@query` when there is one) and `content-digest`
//! (RFC 9530 `sha-256` of the body), with `created`, the key's public key
//! in hex as `keyid`, `alg="ed25519"` and a `nonce`: the default coverage
//! authgate requires of a request with a body. The signature base is
//! written out here line by line (RFC 9421 §2.5), not with authgate's own
//! builder; the end-to-end test checks that authgate accepts it.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use http::{HeaderName, HeaderValue, Uri};
use sha2::{Digest, Sha256};

/// `Signature-Input`.
pub static SIGNATURE_INPUT: HeaderName = HeaderName::from_static("signature-input");
/// `Signature`.
pub static SIGNATURE: HeaderName = HeaderName::from_static("signature");
/// `Content-Digest`.
pub static CONTENT_DIGEST: HeaderName = HeaderName::from_static("content-digest");

/// The three headers of a POST of `body` to `path` on `authority`, signed
/// by `key` at `created` (Unix seconds) with `nonce`.
pub fn sign(
    key: &SigningKey,
    authority: &str,
    path: &Uri,
    body: &[u8],
    created: u64,
    nonce: u64,
) -> [(HeaderName, HeaderValue); 3] {
    let digest = format!("sha-256=:{}:", STANDARD.encode(Sha256::digest(body)));
    let query = path.query();
    let components = if query.is_some() {
        r#"("@method" "@authority" "@path" "@query" "content-digest")"#
    } else {
        r#"("@method" "@authority" "@path" "content-digest")"#
    };
    let params = format!(
        r#"{components};created={created};keyid="{}";alg="ed25519";nonce="{nonce:016x}""#,
        hex::encode(key.verifying_key().to_bytes())
    );
    let mut base = format!(
        "\"@method\": POST\n\"@authority\": {}\n\"@path\": {}\n",
        authority.to_ascii_lowercase(),
        path.path()
    );
    if let Some(q) = query {
        base.push_str(&format!("\"@query\": ?{q}\n"));
    }
    base.push_str(&format!(
        "\"content-digest\": {digest}\n\"@signature-params\": {params}"
    ));
    let signature = STANDARD.encode(key.sign(base.as_bytes()).to_bytes());
    // Visible ASCII throughout; an empty value (refused by authgate, and
    // counted) beats a panic on the hot path.
    let value = |s: String| HeaderValue::from_str(&s).unwrap_or(HeaderValue::from_static(""));
    [
        (SIGNATURE_INPUT.clone(), value(format!("sig1={params}"))),
        (SIGNATURE.clone(), value(format!("sig1=:{signature}:"))),
        (CONTENT_DIGEST.clone(), value(digest)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use authgate_core::verify::httpsig::{parse, signature_base, RequestParts};

    /// What authgate's own parser and base builder make of the headers
    /// verifies with the key.
    #[test]
    fn authgate_rebuilds_the_same_base() {
        let key = SigningKey::from_bytes(&[9; 32]);
        for path in ["/w/ws-1/agent-runs", "/w/ws-1/agent-runs?x=1"] {
            let uri: Uri = path.parse().unwrap();
            let [input, sig, digest] = sign(&key, "127.0.0.1:8080", &uri, b"{}", 1_700_000_000, 7);
            let mut headers = http::HeaderMap::new();
            headers.insert(digest.0, digest.1);
            let inputs = parse(input.1.to_str().unwrap(), sig.1.to_str().unwrap()).unwrap();
            let parts = RequestParts {
                method: "POST",
                scheme: "http",
                authority: "127.0.0.1:8080",
                path: uri.path(),
                query: uri.query(),
                headers: &headers,
            };
            let base = signature_base(&parts, &inputs[0]).unwrap();
            let s = ed25519_dalek::Signature::from_slice(&inputs[0].signature).unwrap();
            key.verifying_key()
                .verify_strict(base.as_bytes(), &s)
                .unwrap();
            assert_eq!(inputs[0].alg.as_deref(), Some("ed25519"));
        }
    }
}
