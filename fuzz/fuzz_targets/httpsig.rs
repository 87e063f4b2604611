//! RFC 9421 `Signature-Input` / `Signature` parsing (structured fields),
//! the signature-base builder and `Content-Digest` (RFC 9530).
//!
//! Input: line 1 is `Signature-Input`, line 2 `Signature`, then header
//! lines `name: value` up to an empty line, then the body. The request is
//! `POST https://example.com/foo?param=Value&Pet=dog` with those headers.
//!
//! Property: no panic; a base that builds has one line per covered
//! component value (a `@query-param` may give several) and ends with the
//! `@signature-params` line carrying the input's serialization; a digest
//! check never panics whatever the field and body.

#![no_main]

use authgate::verify::httpsig::{digest, parse, signature_base, RequestParts};
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let input = lines.next().unwrap_or_default();
    let sig = lines.next().unwrap_or_default();
    let mut headers = HeaderMap::new();
    let mut body = String::new();
    let mut in_body = false;
    for l in lines {
        if in_body {
            body.push_str(l);
            body.push('\n');
        } else if l.is_empty() {
            in_body = true;
        } else if let Some((n, v)) = l.split_once(':') {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(n.trim().as_bytes()),
                HeaderValue::from_str(v.trim()),
            ) {
                headers.append(n, v);
            }
        }
    }
    let parts = RequestParts {
        method: "POST",
        scheme: "https",
        authority: "example.com",
        path: "/foo",
        query: Some("param=Value&Pet=dog"),
        headers: &headers,
    };
    if let Ok(inputs) = parse(input, sig) {
        for i in &inputs {
            if let Ok(base) = signature_base(&parts, i) {
                let want_last = format!("\"@signature-params\": {}", i.params_value);
                assert!(base.ends_with(&want_last), "{base}");
                assert!(base.lines().count() > i.components.len(), "{base}");
            }
        }
    }
    if let Some(cd) = headers.get("content-digest").and_then(|v| v.to_str().ok()) {
        let _ = digest::verify(cd, body.as_bytes());
    }
});
