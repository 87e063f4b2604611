//! RFC 9421 message signatures through the real proxy: requests signed
//! with `Signature-Input` / `Signature` by a registered ed25519 or P-256
//! key (the same registration as its stamps), for GET and for POST with a
//! `Content-Digest` (RFC 9530). The signature base is written out here by
//! hand, line by line as RFC 9421 §2.5 specifies, not with authgate's
//! builder. Valid requests reach the upstream with the identity and
//! without the signature headers; every tampering is a 401 with its
//! precise reason and reaches nothing.

mod common;

use common::httpsig::{b64, sign, sign_with, Key, Req};
use common::*;
use serde_json::Value;
use sha2::Digest;
use std::time::{SystemTime, UNIX_EPOCH};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Signature parameters; a random nonce makes every signed request
/// unique (ed25519 is deterministic: the same request in the same second
/// would otherwise be a replay).
fn params(key: &Key, created: i64) -> String {
    format!(
        ";created={created};keyid=\"{}\";alg=\"{}\";nonce=\"{:016x}\"",
        key.keyid(),
        key.alg(),
        rand::random::<u64>()
    )
}

async fn send(g: &Gate, r: &Req<'_>, signed: &(String, String, Option<String>)) -> (u16, Value) {
    let url = match r.query {
        Some(q) => g.url(&format!("{}?{q}", r.path)),
        None => g.url(r.path),
    };
    let m = reqwest::Method::from_bytes(r.method.as_bytes()).unwrap();
    let mut req = client()
        .request(m, url)
        .header("signature-input", &signed.0)
        .header("signature", &signed.1);
    if let Some(d) = &signed.2 {
        req = req.header("content-digest", d);
    }
    if let Some(b) = r.body {
        req = req.body(b.to_vec());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn config(ed: &Key, p256: &Key) -> String {
    format!(
        r#"
[[keys]]
id = "signer_ed"
kind = "stamp"
scheme = "ed25519"
public_key = "{}"
subject = "svc-ed"
workspace = "acme"

[[keys]]
id = "signer_p256"
kind = "stamp"
scheme = "p256"
public_key = "{}"
subject = "svc-p256"
workspace = "acme"

[stamps]
schemes = ["SIGNATURE_SCHEME_TK_API_ED25519", "SIGNATURE_SCHEME_TK_API_P256"]

[[routes]]
path = "/api/v1/workspaces/{{workspace}}/runs"
upstream = "echo"
auth = {{ accept = ["stamp"] }}

[[routes]]
path = "/api/v1/workspaces/{{workspace}}/jobs"
upstream = "echo"
auth = {{ accept = ["stamp"] }}

[[routes]]
path = "/api/v1/workspaces/{{workspace}}/strict"
upstream = "echo"
auth = {{ accept = ["stamp"], signature_components = ["@method", "@authority", "@path", "x-tenant"], signature_nonce = true }}
"#,
        ed.keyid(),
        p256.keyid()
    )
}

fn reason(v: &Value) -> &str {
    v["reason"].as_str().unwrap_or("")
}

#[tokio::test]
async fn message_signatures_at_the_edge() {
    let ed = Key::Ed(ed25519_dalek::SigningKey::from_bytes(&[21; 32]));
    let p = Key::P256(p256::ecdsa::SigningKey::from_slice(&[22; 32]).unwrap());
    let up = Upstream::start();
    let g = Gate::start(&up, &config(&ed, &p));
    let authority = format!("127.0.0.1:{}", g.port);
    let runs = "/api/v1/workspaces/acme/runs";
    let get = Req {
        method: "GET",
        path: runs,
        query: Some("limit=10"),
        body: None,
    };
    let body = br#"{"task":"summarise"}"#;
    let post = Req {
        method: "POST",
        path: runs,
        query: None,
        body: Some(body),
    };

    // Valid, each algorithm, any method: the upstream sees the identity and
    // no signature headers.
    for (key, subject) in [(&ed, "svc-ed"), (&p, "svc-p256")] {
        for r in [&get, &post] {
            let s = sign(key, &authority, r, None, &params(key, now()));
            let (status, v) = send(&g, r, &s).await;
            assert_eq!(status, 200, "{} {}: {v}", key.alg(), r.method);
            let seen = up.seen();
            let last = seen.last().unwrap();
            assert_eq!(last["headers"]["x-auth-subject"], subject);
            assert_eq!(last["headers"]["x-auth-method"], "stamp");
            assert!(last["headers"].get("signature").is_none());
            assert!(last["headers"].get("signature-input").is_none());
            assert_eq!(last["method"], r.method);
        }
    }
    let reached = up.seen().len();

    // Tampering: what was signed is not what is sent.
    let s = sign(&ed, &authority, &get, None, &params(&ed, now()));
    for (what, r) in [
        (
            "path",
            Req {
                path: "/api/v1/workspaces/acme/jobs",
                ..get
            },
        ),
        (
            "query",
            Req {
                query: Some("limit=1000"),
                ..get
            },
        ),
        (
            "method",
            Req {
                method: "DELETE",
                ..get
            },
        ),
    ] {
        let (status, v) = send(&g, &r, &s).await;
        assert_eq!((status, reason(&v)), (401, "bad_signature"), "{what}: {v}");
    }
    // A covered header changed: the body's digest no longer matches it.
    let s = sign(&ed, &authority, &post, None, &params(&ed, now()));
    let other = Req {
        body: Some(br#"{"task":"delete everything"}"#),
        ..post
    };
    let (status, v) = send(&g, &other, &s).await;
    assert_eq!((status, reason(&v)), (401, "digest_mismatch"), "{v}");
    // The same body with a recomputed digest: the signature covers it.
    let mut forged = s.clone();
    forged.2 = Some(format!(
        "sha-256=:{}:",
        b64(&sha2::Sha256::digest(br#"{"task":"delete everything"}"#))
    ));
    let (status, v) = send(&g, &other, &forged).await;
    assert_eq!((status, reason(&v)), (401, "bad_signature"), "{v}");

    // Time: too old, from the future, past `expires`.
    for (what, p_, want) in [
        ("old", params(&ed, now() - 3600), "signature_expired"),
        (
            "future",
            params(&ed, now() + 3600),
            "signature_not_yet_valid",
        ),
        (
            "expires",
            format!("{};expires={}", params(&ed, now() - 200), now() - 100),
            "signature_expired",
        ),
        (
            "no created",
            format!(";keyid=\"{}\";alg=\"ed25519\"", ed.keyid()),
            "signature_created_missing",
        ),
    ] {
        let s = sign(&ed, &authority, &get, None, &p_);
        let (status, v) = send(&g, &get, &s).await;
        assert_eq!((status, reason(&v)), (401, want), "{what}: {v}");
    }

    // Replay: the same signed request twice.
    let s = sign(&ed, &authority, &get, None, &params(&ed, now()));
    assert_eq!(send(&g, &get, &s).await.0, 200);
    let (status, v) = send(&g, &get, &s).await;
    assert_eq!((status, reason(&v)), (401, "replayed"), "{v}");

    // Unknown key, an algorithm lie, a missing required component.
    let stranger = Key::Ed(ed25519_dalek::SigningKey::from_bytes(&[23; 32]));
    let s = sign(&stranger, &authority, &get, None, &params(&stranger, now()));
    let (status, v) = send(&g, &get, &s).await;
    assert_eq!((status, reason(&v)), (401, "unknown_key"), "{v}");
    let lie = format!(
        ";created={};keyid=\"{}\";alg=\"ecdsa-p256-sha256\"",
        now(),
        ed.keyid()
    );
    let s = sign(&ed, &authority, &get, None, &lie);
    let (status, v) = send(&g, &get, &s).await;
    assert_eq!((status, reason(&v)), (401, "algorithm_mismatch"), "{v}");
    let s = sign(
        &ed,
        &authority,
        &get,
        Some(&["@method", "@authority", "@path"]),
        &params(&ed, now()),
    );
    let (status, v) = send(&g, &get, &s).await;
    assert_eq!(
        (status, reason(&v)),
        (401, "signature_missing_component"),
        "the query is not covered: {v}"
    );

    // A large body whose digest does not match never reaches the upstream.
    let big = vec![b'x'; 600 * 1024];
    let big_req = Req {
        body: Some(&big),
        ..post
    };
    let mut s = sign(&ed, &authority, &big_req, None, &params(&ed, now()));
    s.2 = Some(format!(
        "sha-256=:{}:",
        b64(&sha2::Sha256::digest(b"other"))
    ));
    let (status, v) = send(&g, &big_req, &s).await;
    assert_eq!((status, reason(&v)), (401, "digest_mismatch"), "{v}");

    assert_eq!(
        up.seen().len(),
        reached + 1,
        "only the one valid replay-check request got through"
    );
}

/// A route's own policy: the components it lists (here a header the
/// default set does not name) and a required nonce.
#[tokio::test]
async fn a_route_can_demand_its_own_components_and_a_nonce() {
    let ed = Key::Ed(ed25519_dalek::SigningKey::from_bytes(&[24; 32]));
    let p = Key::P256(p256::ecdsa::SigningKey::from_slice(&[25; 32]).unwrap());
    let up = Upstream::start();
    let g = Gate::start(&up, &config(&ed, &p));
    let authority = format!("127.0.0.1:{}", g.port);
    let r = Req {
        method: "GET",
        path: "/api/v1/workspaces/acme/strict",
        query: None,
        body: None,
    };
    let tenant = [("x-tenant", "t-9")];
    let with = ["@method", "@authority", "@path", "x-tenant"];
    let without = ["@method", "@authority", "@path"];
    let no_nonce = format!(
        ";created={};keyid=\"{}\";alg=\"ed25519\"",
        now(),
        ed.keyid()
    );
    let send_with = |s: (String, String, Option<String>)| {
        let url = g.url(r.path);
        async move {
            let resp = client()
                .get(url)
                .header("x-tenant", "t-9")
                .header("signature-input", s.0)
                .header("signature", s.1)
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let v: Value = resp.json().await.unwrap_or(Value::Null);
            (status, v["reason"].as_str().unwrap_or("").to_string())
        }
    };
    let s = sign_with(
        &ed,
        &authority,
        &r,
        Some(&with),
        &params(&ed, now()),
        &tenant,
    );
    assert_eq!(send_with(s).await, (200, String::new()));
    let s = sign_with(
        &ed,
        &authority,
        &r,
        Some(&without),
        &params(&ed, now()),
        &tenant,
    );
    assert_eq!(
        send_with(s).await,
        (401, "signature_missing_component".to_string())
    );
    let s = sign_with(&ed, &authority, &r, Some(&with), &no_nonce, &tenant);
    assert_eq!(
        send_with(s).await,
        (401, "signature_nonce_missing".to_string())
    );
    // The header's value is covered: another tenant breaks the signature.
    let s = sign_with(
        &ed,
        &authority,
        &r,
        Some(&with),
        &params(&ed, now()),
        &[("x-tenant", "t-1")],
    );
    assert_eq!(send_with(s).await, (401, "bad_signature".to_string()));
}

#[test]
fn signature_components_are_checked_at_load() {
    let err = check_refuses(
        "[upstreams.a]\nbackends = [\"127.0.0.1:9\"]\n[[routes]]\npath = \"/x\"\nupstream = \"a\"\nauth = { accept = [\"stamp\"], signature_components = [\"@method\", \"@body\", \"X-Tenant\"] }\n",
    );
    assert!(
        err.contains("signature_components[1]") && err.contains("'@body'"),
        "{err}"
    );
    assert!(err.contains("signature_components[2]"), "{err}");
}
