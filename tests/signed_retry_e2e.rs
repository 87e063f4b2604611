//! The signed retry (Grid dialect) through the real proxy, on SQLite and on
//! PostgreSQL with two instances sharing the store: a platform client
//! (HTTP Basic) asks to extend a session, signs `payloadToSign` with the
//! session's current P-256 key (`Grid-Wallet-Signature`, an API-key stamp),
//! and receives a new session whose key is sealed to its `clientPublicKey`;
//! the client opens the bundle, and the new key signs requests at the edge
//! and the next retry. Every refusal on the way.

mod common;

use authgate::bundle;
use base64::Engine;
use common::pg::TempDb;
use common::*;
use p256::ecdsa::signature::Signer;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use serde_json::{json, Value};
use sha2::Digest;

const ACTIVITIES: &str = "/api/v1/workspaces/acme/activities";

fn config(store_url: &str, admin_stanza: &str) -> String {
    let digest = |s: &str| hex::encode(sha2::Sha256::digest(s.as_bytes()));
    format!(
        r#"
{admin_stanza}
[store]
url = "{store_url}"
poll_interval = "100ms"
auto_migrate = true

[signin.signed_retry]
organization_id = "org_abc123"
request_ttl = "5m"
session_ttl = "1h"
clients = [
  {{ id = "grid", secret_sha256 = "{grid}", workspace = "acme" }},
  {{ id = "other", secret_sha256 = "{other}", workspace = "beta" }},
]

[[routes]]
path = "/auth/sessions/{{id}}/refresh"
methods = ["POST"]
handler = "signed_retry"
auth = {{ public = true }}

[[routes]]
path = "/api/v1/workspaces/{{workspace}}/activities"
methods = ["POST"]
upstream = "echo"
auth = {{ accept = ["stamp", "session"] }}
"#,
        grid = digest("s3cret"),
        other = digest("other-secret"),
    )
}

fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

/// A Turnkey API-key stamp (P-256) of `body` by `key`.
fn stamp(key: &p256::SecretKey, body: &str) -> String {
    let signing = p256::ecdsa::SigningKey::from(key);
    let sig: p256::ecdsa::Signature = signing.sign(body.as_bytes());
    let doc = json!({
        "publicKey": hex::encode(key.public_key().to_encoded_point(true).as_bytes()),
        "scheme": "SIGNATURE_SCHEME_TK_API_P256",
        "signature": hex::encode(sig.to_der().as_bytes()),
    });
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(doc.to_string())
}

fn uncompressed(key: &p256::SecretKey) -> String {
    hex::encode(key.public_key().to_encoded_point(false).as_bytes())
}

struct Retry<'a> {
    gate: &'a Gate,
    auth: String,
}

impl Retry<'_> {
    async fn call(
        &self,
        id: &str,
        client_key: &str,
        signed: Option<(&str, &str)>,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let mut r = client()
            .post(self.gate.url(&format!("/auth/sessions/{id}/refresh")))
            .header("authorization", &self.auth)
            .header("content-type", "application/json")
            .body(json!({ "clientPublicKey": client_key }).to_string());
        if let Some((sig, request_id)) = signed {
            r = r
                .header("grid-wallet-signature", sig)
                .header("request-id", request_id);
        }
        let r = r.send().await.unwrap();
        let (status, headers) = (r.status().as_u16(), r.headers().clone());
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
            headers,
        )
    }
}

/// POST a body stamped by `key` to the proxied route: the status and what
/// the upstream saw.
async fn stamped(g: &Gate, up: &Upstream, key: &p256::SecretKey) -> (u16, Option<Value>) {
    let body = format!(
        r#"{{"timestampMs":"{}","n":{}}}"#,
        now_ms(),
        rand::random::<u32>()
    );
    let r = client()
        .post(g.url(ACTIVITIES))
        .header("x-stamp", stamp(key, &body))
        .body(body)
        .send()
        .await
        .unwrap();
    (
        r.status().as_u16(),
        up.seen().last().map(|s| s["headers"].clone()),
    )
}

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

async fn flow(store_url: &str) {
    let admin_token = format!("agadm_{:032x}", rand::random::<u128>());
    let stanza = format!(
        "[[admin.tokens]]\nid = \"ops\"\ndigest = \"sha256:{}\"\nscopes = [\"keys:read\", \"keys:write\"]\n",
        hex::encode(sha2::Sha256::digest(admin_token.as_bytes()))
    );
    let up = Upstream::start();
    let cfg = config(store_url, &stanza);
    let g = Gate::start(&up, &cfg);
    let g2 = Gate::start(&up, &cfg);
    store_ready(&g, store_url).await;
    store_ready(&g2, store_url).await;
    let admin = |path: &str| format!("http://127.0.0.1:{}/admin/v1{path}", g.admin);

    // The session to extend: a P-256 key registered by the operator.
    let first = p256::SecretKey::from_slice(&[0x51; 32]).unwrap();
    let r = client()
        .post(admin("/stamp-keys"))
        .bearer_auth(&admin_token)
        .json(&json!({
            "id": "grid_session_1", "scheme": "p256", "subject": "Account:alice", "workspace": "acme",
            "public_key": hex::encode(first.public_key().to_encoded_point(true).as_bytes()),
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let (s, _) = stamped(&g, &up, &first).await;
    assert_eq!(s, 200);

    let client_secret = p256::SecretKey::from_slice(&[0x61; 32]).unwrap();
    let client_key = uncompressed(&client_secret);
    let grid = Retry {
        gate: &g2,
        auth: basic("grid", "s3cret"),
    };

    // Refusals before anything is issued.
    for auth in [
        String::new(),
        basic("grid", "wrong"),
        basic("nobody", "s3cret"),
        "Bearer x".into(),
    ] {
        let (s, b, h) = Retry { gate: &g, auth }
            .call("grid_session_1", &client_key, None)
            .await;
        assert_eq!(
            (s, b["error"].as_str()),
            (401, Some("invalid_client")),
            "{b}"
        );
        assert!(h
            .get("www-authenticate")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("Basic"));
    }
    for bad in [
        "04abcd".to_string(),
        format!("04{}", "00".repeat(64)),
        hex::encode(client_secret.public_key().to_encoded_point(true).as_bytes()),
    ] {
        let (s, b, _) = grid.call("grid_session_1", &bad, None).await;
        assert_eq!(
            (s, b["error"].as_str()),
            (400, Some("invalid_client_public_key")),
            "{b}"
        );
    }
    let (s, b, _) = grid.call("no_such_session", &client_key, None).await;
    assert_eq!((s, b["error"].as_str()), (401, Some("session_inactive")));
    let foreign = Retry {
        gate: &g,
        auth: basic("other", "other-secret"),
    };
    let (s, _, _) = foreign.call("grid_session_1", &client_key, None).await;
    assert_eq!(s, 401, "another client's workspace");

    // The challenge.
    let (s, ch, _) = grid.call("grid_session_1", &client_key, None).await;
    assert_eq!(s, 202, "{ch}");
    let payload = ch["payloadToSign"].as_str().unwrap().to_string();
    let p: Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(p["type"], "ACTIVITY_TYPE_CREATE_READ_WRITE_SESSION_V2");
    assert!(
        p["timestampMs"].as_str().unwrap().parse::<u64>().is_ok(),
        "a string of digits"
    );
    assert_eq!(p["organizationId"], "org_abc123");
    assert_eq!(p["parameters"]["targetPublicKey"], client_key.as_str());
    let request_id = ch["requestId"].as_str().unwrap().to_string();
    assert!(request_id.starts_with("Request:"), "{request_id}");
    assert!(ch["expiresAt"].as_str().unwrap().ends_with('Z'));

    // Wrong signatures, a missing or foreign request id: refused, and the
    // request id survives them.
    let intruder = p256::SecretKey::from_slice(&[0x71; 32]).unwrap();
    let (s, b, _) = grid
        .call(
            "grid_session_1",
            &client_key,
            Some((&stamp(&intruder, &payload), &request_id)),
        )
        .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (401, Some("invalid_signature")),
        "{b}"
    );
    let (s, _, _) = grid
        .call(
            "grid_session_1",
            &client_key,
            Some((&stamp(&first, "{\"other\":1}"), &request_id)),
        )
        .await;
    assert_eq!(s, 401, "a signature over another payload");
    let (s, _, _) = grid
        .call(
            "grid_session_1",
            &client_key,
            Some(("not-a-stamp", &request_id)),
        )
        .await;
    assert_eq!(s, 401);
    let (s, b, _) = grid
        .call(
            "grid_session_1",
            &client_key,
            Some((&stamp(&first, &payload), "")),
        )
        .await;
    assert_eq!((s, b["error"].as_str()), (400, Some("request_id_required")));
    let (s, b, _) = grid
        .call(
            "grid_session_1",
            &uncompressed(&intruder),
            Some((&stamp(&first, &payload), &request_id)),
        )
        .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (401, Some("invalid_request_id")),
        "another client key: {b}"
    );
    let (s, _, _) = grid
        .call(
            "grid_session_1",
            &client_key,
            Some((&stamp(&first, &payload), "Request:made-up")),
        )
        .await;
    assert_eq!(s, 401);

    // The signed retry, on the other instance: 201 with the sealed key.
    let retry = Retry {
        gate: &g,
        auth: basic("grid", "s3cret"),
    };
    let (s, sess, _) = retry
        .call(
            "grid_session_1",
            &client_key,
            Some((&stamp(&first, &payload), &request_id)),
        )
        .await;
    assert_eq!(s, 201, "{sess}");
    let new_id = sess["id"].as_str().unwrap().to_string();
    assert!(new_id.starts_with("Session:"), "{new_id}");
    assert_eq!(sess["accountId"], "Account:alice");
    for field in ["type", "nickname", "createdAt", "updatedAt", "expiresAt"] {
        assert!(sess[field].is_string(), "{field}: {sess}");
    }
    // Once only.
    let (s, b, _) = retry
        .call(
            "grid_session_1",
            &client_key,
            Some((&stamp(&first, &payload), &request_id)),
        )
        .await;
    assert_eq!((s, b["error"].as_str()), (401, Some("invalid_request_id")));

    // The client opens the bundle; the key inside is the new session's:
    // it signs requests at the edge, on both instances.
    let opened = bundle::open(
        sess["encryptedSessionSigningKey"].as_str().unwrap(),
        &client_secret,
    )
    .unwrap();
    let second = p256::SecretKey::from_slice(&opened).unwrap();
    assert!(bundle::open(
        sess["encryptedSessionSigningKey"].as_str().unwrap(),
        &intruder
    )
    .is_err());
    for gate in [&g, &g2] {
        let (s, seen) = stamped(gate, &up, &second).await;
        assert_eq!(s, 200);
        let h = seen.unwrap();
        assert_eq!(
            (h["x-auth-method"].as_str(), h["x-auth-subject"].as_str()),
            (Some("session"), Some("Account:alice"))
        );
    }

    // And it extends its own session in turn (an id with ':' in the path).
    let (s, ch2, _) = grid.call(&new_id, &client_key, None).await;
    assert_eq!(s, 202, "{ch2}");
    let payload2 = ch2["payloadToSign"].as_str().unwrap();
    let (s, _, _) = grid
        .call(
            &new_id,
            &client_key,
            Some((&stamp(&first, payload2), ch2["requestId"].as_str().unwrap())),
        )
        .await;
    assert_eq!(
        s, 401,
        "the old session's key does not sign for the new one"
    );
    let (s, sess3, _) = grid
        .call(
            &new_id,
            &client_key,
            Some((
                &stamp(&second, payload2),
                ch2["requestId"].as_str().unwrap(),
            )),
        )
        .await;
    assert_eq!(s, 201, "{sess3}");

    // The session must be active on both calls: revoked in between → 401.
    let (s, ch3, _) = grid.call(&new_id, &client_key, None).await;
    assert_eq!(s, 202);
    let r = client()
        .post(admin(&format!("/keys/{new_id}/revoke")))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (s, b, _) = grid
        .call(
            &new_id,
            &client_key,
            Some((
                &stamp(&second, ch3["payloadToSign"].as_str().unwrap()),
                ch3["requestId"].as_str().unwrap(),
            )),
        )
        .await;
    assert_eq!((s, b["error"].as_str()), (401, Some("session_inactive")));
    let (s, _, _) = grid.call(&new_id, &client_key, None).await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn signed_retry_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    flow(&format!("sqlite://{}/grid.db", dir.path().display())).await;
}

#[tokio::test]
async fn signed_retry_on_postgres() {
    let db = TempDb::new().await;
    flow(&db.url).await;
}

/// The checks `authgate check` makes of the section and its route.
#[test]
fn signed_retry_config_is_checked() {
    let good = format!(
        "[upstreams.echo]\nbackends = [\"127.0.0.1:9\"]\n{}",
        config("sqlite:g.db", "")
    );
    let no_store = good.replace("url = \"sqlite:g.db\"", "");
    assert!(check_refuses(&no_store).contains("signin.signed_retry"));
    let no_id = good.replace("/auth/sessions/{id}/refresh", "/auth/sessions/refresh");
    assert!(check_refuses(&no_id).contains("{id}"));
    let closed = good.replace(
        "handler = \"signed_retry\"\nauth = { public = true }",
        "handler = \"signed_retry\"\nauth = { accept = [\"jwt\"] }",
    );
    assert!(check_refuses(&closed).contains("public = true"));
    let bad_digest = good.replacen("secret_sha256 = \"", "secret_sha256 = \"zz", 1);
    assert!(check_refuses(&bad_digest).contains("secret_sha256"));
}

/// A store outage fails the signed retry closed (503 with `Retry-After`)
/// on both calls, while a session already cached keeps signing requests;
/// recovery needs nothing.
#[tokio::test]
async fn a_store_outage_fails_the_signed_retry_closed() {
    let db = TempDb::new().await;
    let proxy = common::pg::CutProxy::start().await;
    let url = db.url_via(&proxy);
    let admin_token = format!("agadm_{:032x}", rand::random::<u128>());
    let stanza = format!(
        "[[admin.tokens]]\nid = \"ops\"\ndigest = \"sha256:{}\"\nscopes = [\"keys:read\", \"keys:write\"]\n",
        hex::encode(sha2::Sha256::digest(admin_token.as_bytes()))
    );
    let up = Upstream::start();
    let cfg = config(&url, &stanza).replace("[store]\n", "[store]\ntimeout = \"500ms\"\n");
    let g = Gate::start(&up, &cfg);
    store_ready(&g, &url).await;
    let key = p256::SecretKey::from_slice(&[0x52; 32]).unwrap();
    let r = client()
        .post(format!("http://127.0.0.1:{}/admin/v1/stamp-keys", g.admin))
        .bearer_auth(&admin_token)
        .json(&json!({
            "id": "grid_session_2", "scheme": "p256", "subject": "Account:bob", "workspace": "acme",
            "public_key": hex::encode(key.public_key().to_encoded_point(true).as_bytes()),
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // The key's own change entry must not drop it from the cache later.
    feed_applied(&db, &g).await;
    let (s, _) = stamped(&g, &up, &key).await;
    assert_eq!(s, 200, "cached now");
    let grid = Retry {
        gate: &g,
        auth: basic("grid", "s3cret"),
    };
    let client_key = uncompressed(&p256::SecretKey::from_slice(&[0x62; 32]).unwrap());
    let (s, ch, _) = grid.call("grid_session_2", &client_key, None).await;
    assert_eq!(s, 202);

    proxy.cut();
    let (s, _, h) = grid.call("grid_session_2", &client_key, None).await;
    assert_eq!(s, 503);
    assert!(h.contains_key("retry-after"));
    let payload = ch["payloadToSign"].as_str().unwrap();
    let (s, _, _) = grid
        .call(
            "grid_session_2",
            &client_key,
            Some((&stamp(&key, payload), ch["requestId"].as_str().unwrap())),
        )
        .await;
    assert_eq!(s, 503, "the signed call too");
    let (s, _) = stamped(&g, &up, &key).await;
    assert_eq!(s, 200, "a cached session survives the outage");

    proxy.restore();
    let back = eventually(std::time::Duration::from_secs(10), || async {
        grid.call("grid_session_2", &client_key, None).await.0 == 202
    })
    .await;
    assert!(back, "the signed retry did not recover with the store");
    // The request issued before the outage is still good.
    let (s, _, _) = grid
        .call(
            "grid_session_2",
            &client_key,
            Some((&stamp(&key, payload), ch["requestId"].as_str().unwrap())),
        )
        .await;
    assert_eq!(s, 201);
}
