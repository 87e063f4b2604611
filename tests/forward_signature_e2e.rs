//! `[identity.assertion] sign_requests = true`: the request authgate
//! forwards carries an RFC 9421 signature (label `authgate`) by the
//! assertion key. The upstream's copy of the request is checked with
//! authgate's core verifier (parser and signature base, tested against the
//! RFC's vectors) and the public key from the served JWKS: it verifies,
//! covers the identity headers, method, path, query and request id, and
//! fails once any covered part is changed. A client cannot bring its own
//! `authgate` signature through.

mod common;

use authgate::verify::httpsig::{parse, signature_base, RequestParts};
use base64::Engine;
use common::*;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

fn header_map(seen: &Value) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in seen["headers"].as_object().unwrap() {
        let name = HeaderName::from_bytes(k.as_bytes()).unwrap();
        let values: Vec<&Value> = match v {
            Value::Array(a) => a.iter().collect(),
            one => vec![one],
        };
        for v in values {
            h.append(
                name.clone(),
                HeaderValue::from_str(v.as_str().unwrap()).unwrap(),
            );
        }
    }
    h
}

/// Verify the upstream's copy `seen` with `key`; `Err` names what failed.
fn verify(
    seen: &Value,
    headers: &HeaderMap,
    key: &ed25519_dalek::VerifyingKey,
) -> Result<Vec<String>, String> {
    let text = |n: &str| {
        headers
            .get(n)
            .map(|v| v.to_str().unwrap().to_string())
            .ok_or(format!("no {n}"))
    };
    let inputs =
        parse(&text("signature-input")?, &text("signature")?).map_err(|e| e.to_string())?;
    let input = inputs
        .iter()
        .find(|i| i.label == "authgate")
        .ok_or("no authgate label")?;
    let host = text("host")?;
    let parts = RequestParts {
        method: seen["method"].as_str().unwrap(),
        scheme: "http",
        authority: &host,
        path: seen["path"].as_str().unwrap(),
        query: seen["query"].as_str(),
        headers,
    };
    let base = signature_base(&parts, input).map_err(|e| e.to_string())?;
    let sig = ed25519_dalek::Signature::from_slice(&input.signature).map_err(|e| e.to_string())?;
    key.verify_strict(base.as_bytes(), &sig)
        .map_err(|_| "bad signature".to_string())?;
    Ok(input.components.iter().map(|c| c.name.clone()).collect())
}

#[tokio::test]
async fn forwarded_requests_carry_authgates_signature() {
    let keys = tempfile::tempdir().unwrap();
    let pem = keys.path().join("assertion.pem");
    authgate::assertion::generate_key(&pem).unwrap();
    let up = Upstream::start();
    let (api, stanza) = key("mantyx_", "api_key", "key_fs", "acme", &[], "");
    let cfg = format!(
        "[identity.assertion]\nkey_file = \"{}\"\nkid = \"edge-1\"\nsign_requests = true\n\n{stanza}\n[[routes]]\npath = \"/api/v1/workspaces/{{workspace}}/runs\"\nupstream = \"echo\"\nauth = {{ accept = [\"api_key\"] }}\n\n[[routes]]\npath = \"/public/{{*rest}}\"\nupstream = \"echo\"\nauth = {{ public = true }}\n",
        pem.display()
    );
    let g = Gate::start(&up, &cfg);
    let c = client();
    let jwks: Value = c
        .get(g.admin_url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["kid"], "edge-1");
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(jwks["keys"][0]["x"].as_str().unwrap())
        .unwrap();
    let key = ed25519_dalek::VerifyingKey::from_bytes(&x.try_into().unwrap()).unwrap();

    // A client cannot bring its own `authgate` signature: signature
    // headers beside another credential are refused as ambiguous.
    let r = c
        .post(g.url("/api/v1/workspaces/acme/runs?limit=5"))
        .bearer_auth(&api)
        .header(
            "signature-input",
            "authgate=(\"@method\");created=1;keyid=\"edge-1\"",
        )
        .header("signature", "authgate=:AAAA:")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(up.seen().is_empty());
    let r = c
        .post(g.url("/api/v1/workspaces/acme/runs?limit=5"))
        .bearer_auth(&api)
        .header(
            "content-digest",
            "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
        )
        .body("{\"hello\": \"world\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let seen = up.seen().pop().unwrap();
    let headers = header_map(&seen);
    let covered = verify(&seen, &headers, &key).expect("authgate's signature verifies");
    for want in [
        "@method",
        "@authority",
        "@path",
        "@query",
        "x-auth-subject",
        "x-auth-workspace",
        "x-auth-scopes",
        "x-auth-method",
        "x-auth-credential-id",
        "x-request-id",
        "content-digest",
    ] {
        assert!(
            covered.iter().any(|c| c == want),
            "{want} not covered: {covered:?}"
        );
    }
    assert_eq!(
        headers.get_all("signature-input").iter().count(),
        1,
        "only authgate's signature arrives"
    );
    assert!(!headers["signature-input"]
        .to_str()
        .unwrap()
        .contains("created=1;"));

    // Any covered part changed on the way fails it.
    for (name, value) in [
        ("x-auth-subject", "someone-else"),
        ("x-auth-workspace", "globex"),
        ("x-request-id", "0000"),
        ("content-digest", "sha-256=:AAAA:"),
        ("host", "evil.example.com"),
    ] {
        let mut tampered = headers.clone();
        tampered.insert(name, HeaderValue::from_static(value));
        assert!(
            verify(&seen, &tampered, &key).is_err(),
            "{name} changed yet verified"
        );
    }
    let mut moved = seen.clone();
    moved["path"] = Value::String("/api/v1/workspaces/acme/admin".into());
    assert!(
        verify(&moved, &headers, &key).is_err(),
        "path changed yet verified"
    );
    let mut method = seen.clone();
    method["method"] = Value::String("DELETE".into());
    assert!(
        verify(&method, &headers, &key).is_err(),
        "method changed yet verified"
    );

    // A public route has no identity to attest: nothing is signed.
    let r = c.get(g.url("/public/x")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let seen = up.seen().pop().unwrap();
    assert!(seen["headers"].get("signature").is_none());
}
