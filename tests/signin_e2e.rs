//! Session-key sign-in through the real proxy, on SQLite and on PostgreSQL,
//! with two instances sharing the store: challenge → the wallet's
//! `personal_sign` over the EIP-4361 message → a session key that signs
//! requests (the upstream sees the wallet as subject, `x-auth-method:
//! session`) → refresh → revoke, refused at once on this instance and soon on
//! the other. Every refusal on the way, and the challenge bounds.

mod common;

use authgate::wallet::SiweMessage;
use common::pg::{CutProxy, TempDb};
use common::wallet::{address, personal_sign, wallet};
use common::*;
use serde_json::{json, Value};
use std::time::Duration;

const ACTIVITIES: &str = "/api/v1/workspaces/acme/activities";

fn signin_config(store_url: &str) -> String {
    format!(
        r#"
[store]
url = "{store_url}"
poll_interval = "100ms"
auto_migrate = true

[signin.session_keys]
domain = "app.example.com"
uri = "https://app.example.com/login"
statement = "Sign in to Example."
session_ttl = "1h"
max_lifetime = "2h"
limits = {{ per_address = 3 }}
clients = [{{ id = "web", workspace = "acme", chain_ids = [1, 8453] }}]

[[routes]]
path = "/api/v1/auth/challenge"
methods = ["POST"]
handler = "session_challenge"
auth = {{ public = true }}

[[routes]]
path = "/api/v1/auth/verify"
methods = ["POST"]
handler = "session_verify"
auth = {{ public = true }}

[[routes]]
path = "/api/v1/auth/refresh"
methods = ["POST"]
handler = "session_refresh"
auth = {{ accept = ["session"] }}

[[routes]]
path = "/api/v1/auth/revoke"
methods = ["POST"]
handler = "session_revoke"
auth = {{ accept = ["session"] }}

[[routes]]
path = "/api/v1/auth/whoami"
methods = ["POST"]
handler = "whoami"
auth = {{ accept = ["session"] }}

[[routes]]
path = "/api/v1/workspaces/{{workspace}}/activities"
methods = ["POST"]
upstream = "echo"
auth = {{ accept = ["session"] }}

[[routes]]
path = "/stamps-only"
methods = ["POST"]
upstream = "echo"
auth = {{ accept = ["stamp"] }}
"#
    )
}

fn session_key(n: u8) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[n; 32])
}

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

struct Client {
    http: reqwest::Client,
}

impl Client {
    async fn post(&self, g: &Gate, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(g.url(path))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// POST a fresh body signed by the session key (`X-Stamp`).
    async fn signed(&self, g: &Gate, path: &str, key: &ed25519_dalek::SigningKey) -> (u16, Value) {
        let body = format!(
            r#"{{"timestampMs":"{}","n":{}}}"#,
            now_ms(),
            rand::random::<u32>()
        );
        let r = self
            .http
            .post(g.url(path))
            .header("x-stamp", authgate::demo::ed25519_stamp(key, &body))
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

fn claim(w: &k256::ecdsa::SigningKey, key: &ed25519_dalek::SigningKey, chain: Value) -> Value {
    json!({
        "address": address(w).checksummed().to_lowercase(),
        "client_id": "web",
        "chain_id": chain,
        "session_public_key": hex::encode(key.verifying_key().to_bytes()),
    })
}

fn with(mut v: Value, k: &str, x: Value) -> Value {
    v[k] = x;
    v
}

async fn flow(store_url: &str) {
    let up = Upstream::start();
    let cfg = signin_config(store_url);
    let g = Gate::start(&up, &cfg);
    let g2 = Gate::start(&up, &cfg);
    store_ready(&g, store_url).await;
    store_ready(&g2, store_url).await;
    let c = Client { http: client() };
    let w = wallet(7);
    let key = session_key(9);

    // Challenge: a SIWE message binding the session key, for this address.
    let (s, ch) = c
        .post(&g, "/api/v1/auth/challenge", claim(&w, &key, json!(1)))
        .await;
    assert_eq!(s, 200, "{ch}");
    let message = ch["message"].as_str().unwrap();
    let m = SiweMessage::parse(message).unwrap();
    assert_eq!(m.address, address(&w).checksummed());
    assert_eq!(m.domain, "app.example.com");
    assert_eq!(m.chain_id, 1);
    assert_eq!(m.nonce, ch["nonce"].as_str().unwrap());
    assert_eq!(m.session_key().unwrap(), key.verifying_key().to_bytes());
    assert!(m.expiration_time.is_some());
    let answer = |sig: String| {
        let mut v = claim(&w, &key, json!(1));
        v["signature"] = json!(sig);
        v["nonce"] = ch["nonce"].clone();
        v
    };

    // Wrong wallet, malformed signature, a mismatched claim: refused, and
    // the nonce survives them.
    let (s, r) = c
        .post(
            &g,
            "/api/v1/auth/verify",
            answer(personal_sign(&wallet(8), message)),
        )
        .await;
    assert_eq!(
        (s, r["error"].as_str()),
        (401, Some("signature_mismatch")),
        "{r}"
    );
    let (s, r) = c
        .post(&g, "/api/v1/auth/verify", answer("0x1234".into()))
        .await;
    assert_eq!(
        (s, r["error"].as_str()),
        (400, Some("invalid_signature_format")),
        "{r}"
    );
    let other_chain = with(
        answer(personal_sign(&w, message)),
        "chain_id",
        json!("8453"),
    );
    let (s, r) = c.post(&g, "/api/v1/auth/verify", other_chain).await;
    assert_eq!(
        (s, r["error"].as_str()),
        (400, Some("challenge_mismatch")),
        "{r}"
    );

    // Before sign-in the session key is nobody.
    let (s, _) = c.signed(&g, ACTIVITIES, &key).await;
    assert_eq!(s, 401);

    // The right signature, answered on the *other* instance: one store.
    let (s, v) = c
        .post(
            &g2,
            "/api/v1/auth/verify",
            answer(personal_sign(&w, message)),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["user"]["address"], address(&w).checksummed());
    let session_id = v["session_id"].as_str().unwrap().to_string();
    assert!(session_id.starts_with("ses_"));
    assert!(v["expires_at"].as_str().unwrap().ends_with('Z'));
    // The nonce was single-use, on every instance.
    for gate in [&g, &g2] {
        let (s, r) = c
            .post(
                gate,
                "/api/v1/auth/verify",
                answer(personal_sign(&w, message)),
            )
            .await;
        assert_eq!(
            (s, r["error"].as_str()),
            (400, Some("invalid_nonce")),
            "{r}"
        );
    }

    // Session-signed requests reach the upstream as the wallet: at once on
    // the instance that signed in; on the other once the change feed has
    // dropped the "unknown key" it cached before the sign-in.
    up.recorder.clear();
    let (s, r) = c.signed(&g2, ACTIVITIES, &key).await;
    assert_eq!(s, 200, "{r}");
    let known_there = eventually(Duration::from_secs(5), || async {
        c.signed(&g, ACTIVITIES, &key).await.0 == 200
    })
    .await;
    assert!(known_there, "the other instance never learned the session");
    let seen = up.seen();
    assert_eq!(seen.len(), 2, "refused requests never reach the upstream");
    for req in &seen {
        let h = &req["headers"];
        assert_eq!(h["x-auth-method"], "session");
        assert_eq!(h["x-auth-subject"], address(&w).checksummed());
        assert_eq!(h["x-auth-workspace"], "acme");
        assert!(h.get("x-stamp").is_none(), "the credential is stripped");
    }
    // A session is not a registered stamp key: a stamp-only route refuses it.
    let (s, r) = c.signed(&g, "/stamps-only", &key).await;
    assert_eq!(s, 401, "{r}");
    assert!(
        r["message"].as_str().unwrap().contains("accepts: stamp"),
        "{r}"
    );
    let (s, who) = c.signed(&g, "/api/v1/auth/whoami", &key).await;
    assert_eq!(s, 200);
    assert_eq!(who["method"], "session");
    assert_eq!(who["credential_id"], session_id.as_str());

    // The session key also signs RFC 9421 message signatures: method, path
    // and time bound, for a request the X-Stamp envelope cannot cover.
    up.recorder.clear();
    let authority = format!("127.0.0.1:{}", g.port);
    let key_hex = hex::encode(key.verifying_key().to_bytes());
    let signer = common::httpsig::Key::Ed(key.clone());
    let body = br#"{"op":"create"}"#;
    let r = common::httpsig::Req {
        method: "POST",
        path: ACTIVITIES,
        query: None,
        body: Some(body),
    };
    let params = format!(
        ";created={};keyid=\"{key_hex}\";alg=\"ed25519\"",
        now_ms() / 1000
    );
    let (si, sig, digest) = common::httpsig::sign(&signer, &authority, &r, None, &params);
    let resp = c
        .http
        .post(g.url(ACTIVITIES))
        .header("signature-input", si)
        .header("signature", sig)
        .header("content-digest", digest.unwrap())
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let seen = up.seen();
    assert_eq!(seen[0]["headers"]["x-auth-method"], "session");
    assert_eq!(
        seen[0]["headers"]["x-auth-subject"],
        address(&w).checksummed()
    );

    // Refresh extends the session, capped by max_lifetime (2h).
    let (s, r) = c.signed(&g, "/api/v1/auth/refresh", &key).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["session_id"], session_id.as_str());
    let exp = authgate::wallet::siwe::parse_time(r["expires_at"].as_str().unwrap()).unwrap();
    let max = authgate::wallet::siwe::parse_time(r["max_expires_at"].as_str().unwrap()).unwrap();
    assert!(exp <= max && exp > now_ms() as i64 + 3_500_000, "{r}");

    // Revoke on one instance: refused there at once, and on the other soon.
    let (s, r) = c.signed(&g, "/api/v1/auth/revoke", &key).await;
    assert_eq!(s, 200, "{r}");
    let (s, _) = c.signed(&g, ACTIVITIES, &key).await;
    assert_eq!(s, 401, "refused by the next request");
    let refused_there = eventually(Duration::from_secs(5), || async {
        c.signed(&g2, ACTIVITIES, &key).await.0 == 401
    })
    .await;
    assert!(
        refused_there,
        "the other instance still accepts a revoked session"
    );
    let (s, _) = c.signed(&g, "/api/v1/auth/refresh", &key).await;
    assert_eq!(s, 401, "a revoked session cannot be refreshed");
}

async fn refusals(store_url: &str) {
    let up = Upstream::start();
    let g = Gate::start(&up, &signin_config(store_url));
    store_ready(&g, store_url).await;
    let c = Client { http: client() };
    let (w, key) = (wallet(3), session_key(4));
    let base = claim(&w, &key, json!(1));
    for (body, status, code) in [
        (
            with(base.clone(), "client_id", json!("nope")),
            400,
            "unknown_client",
        ),
        (
            with(base.clone(), "chain_id", json!(5)),
            400,
            "unsupported_chain",
        ),
        (
            with(base.clone(), "chain_id", json!("one")),
            400,
            "invalid_chain_id",
        ),
        (
            with(base.clone(), "address", json!("0x1234")),
            400,
            "invalid_address",
        ),
        (
            with(
                base.clone(),
                "address",
                json!("0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"),
            ),
            400,
            "invalid_address",
        ),
        (
            with(base.clone(), "session_public_key", json!("zz")),
            400,
            "invalid_session_key",
        ),
        (
            with(
                base.clone(),
                "session_public_key",
                json!(hex::encode([0u8; 32])),
            ),
            400,
            "invalid_session_key",
        ),
        (json!({"address": 5}), 400, "invalid_request"),
    ] {
        let (s, r) = c.post(&g, "/api/v1/auth/challenge", body.clone()).await;
        assert_eq!(
            (s, r["error"].as_str()),
            (status, Some(code)),
            "{body} → {r}"
        );
    }
    let r = c
        .http
        .post(g.url("/api/v1/auth/challenge"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // An unknown nonce.
    let mut v = base.clone();
    v["nonce"] = json!("neverIssued1");
    v["signature"] = json!(format!("0x{}1b", "11".repeat(64)));
    let (s, r) = c.post(&g, "/api/v1/auth/verify", v).await;
    assert_eq!(
        (s, r["error"].as_str()),
        (400, Some("invalid_nonce")),
        "{r}"
    );
    // Bounded per address (3 here): the fourth pending challenge is a 429.
    for i in 0..3 {
        let (s, r) = c.post(&g, "/api/v1/auth/challenge", base.clone()).await;
        assert_eq!(s, 200, "{i}: {r}");
    }
    let r = c
        .http
        .post(g.url("/api/v1/auth/challenge"))
        .body(base.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "too_many_challenges");
    // Refresh and revoke need a session: other credentials are refused.
    let (s, _) = c.signed(&g, "/api/v1/auth/refresh", &key).await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn session_keys_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/signin.db", dir.path().display());
    flow(&url).await;
}

#[tokio::test]
async fn session_keys_on_postgres() {
    let db = TempDb::new().await;
    flow(&db.url).await;
}

#[tokio::test]
async fn sign_in_refusals_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    refusals(&format!("sqlite://{}/signin.db", dir.path().display())).await;
}

#[tokio::test]
async fn sign_in_refusals_on_postgres() {
    let db = TempDb::new().await;
    refusals(&db.url).await;
}

/// A store outage fails sign-in closed (503, `Retry-After`), while a
/// session already cached keeps working; recovery needs nothing.
#[tokio::test]
async fn a_store_outage_fails_sign_in_closed_and_spares_cached_sessions() {
    let db = TempDb::new().await;
    let proxy = CutProxy::start().await;
    let url = db.url_via(&proxy);
    let up = Upstream::start();
    let cfg = signin_config(&url).replace("[store]\n", "[store]\ntimeout = \"500ms\"\n");
    let g = Gate::start(&up, &cfg);
    store_ready(&g, &url).await;
    let c = Client { http: client() };
    let (w, key) = (wallet(11), session_key(12));
    let (s, ch) = c
        .post(&g, "/api/v1/auth/challenge", claim(&w, &key, json!(1)))
        .await;
    assert_eq!(s, 200, "{ch}");
    let mut answer = claim(&w, &key, json!(1));
    answer["signature"] = json!(personal_sign(&w, ch["message"].as_str().unwrap()));
    answer["nonce"] = ch["nonce"].clone();
    let (s, v) = c.post(&g, "/api/v1/auth/verify", answer).await;
    assert_eq!(s, 200, "{v}");
    // The session's own change entry must not drop it from the cache later.
    feed_applied(&db, &g).await;
    let (s, _) = c.signed(&g, ACTIVITIES, &key).await;
    assert_eq!(s, 200, "cached now");

    proxy.cut();
    let (w2, key2) = (wallet(13), session_key(14));
    let r = c
        .http
        .post(g.url("/api/v1/auth/challenge"))
        .body(claim(&w2, &key2, json!(1)).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    let (s, _) = c.signed(&g, ACTIVITIES, &key).await;
    assert_eq!(s, 200, "a cached session survives the outage");
    // An unknown session key is never let through: 503, not 200.
    let (s, _) = c.signed(&g, ACTIVITIES, &key2).await;
    assert_eq!(s, 503);

    proxy.restore();
    let back = eventually(Duration::from_secs(10), || async {
        c.post(&g, "/api/v1/auth/challenge", claim(&w2, &key2, json!(1)))
            .await
            .0
            == 200
    })
    .await;
    assert!(back, "sign-in did not recover with the store");
}

/// `[signin.session_keys]` applies on reload: a client added to the file is
/// accepted without a restart.
#[tokio::test]
async fn sign_in_settings_apply_on_reload() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/signin.db", dir.path().display());
    let up = Upstream::start();
    let cfg = signin_config(&url);
    let g = Gate::start(&up, &cfg);
    store_ready(&g, &url).await;
    g.until_watching().await;
    let c = Client { http: client() };
    let mobile = with(
        claim(&wallet(5), &session_key(6), json!(10)),
        "client_id",
        json!("mobile"),
    );
    let (s, r) = c.post(&g, "/api/v1/auth/challenge", mobile.clone()).await;
    assert_eq!(
        (s, r["error"].as_str()),
        (400, Some("unknown_client")),
        "{r}"
    );
    let text = std::fs::read_to_string(&g.config).unwrap().replace(
        "clients = [{ id = \"web\"",
        "clients = [{ id = \"mobile\", workspace = \"acme\", chain_ids = [10] }, { id = \"web\"",
    );
    g.rewrite(&text);
    let reloaded = eventually(Duration::from_secs(10), || async {
        c.post(&g, "/api/v1/auth/challenge", mobile.clone()).await.0 == 200
    })
    .await;
    assert!(reloaded, "the new client was never accepted");
}

#[test]
fn sign_in_config_is_checked() {
    let cases = [
        // No database store.
        ("", "[signin.session_keys]\ndomain = \"a.example\"\nuri = \"https://a.example\"\nclients = [{ id = \"web\", workspace = \"acme\", chain_ids = [1] }]\n", "needs a database store"),
        // A sign-in handler without its section.
        ("[store]\nurl = \"sqlite://k.db\"\n", "[[routes]]\npath = \"/c\"\nhandler = \"session_challenge\"\nauth = { public = true }\n", "needs [signin.session_keys]"),
        // Refresh must accept the session kind only.
        ("[store]\nurl = \"sqlite://k.db\"\n", "[signin.session_keys]\ndomain = \"a.example\"\nuri = \"https://a.example\"\nclients = [{ id = \"web\", workspace = \"acme\", chain_ids = [1] }]\n[[routes]]\npath = \"/r\"\nhandler = \"session_refresh\"\nauth = { accept = [\"api_key\"] }\n", "accept = [\\\"session\\\"] only"),
        // No clients, zero TTL.
        ("[store]\nurl = \"sqlite://k.db\"\n", "[signin.session_keys]\ndomain = \"a.example\"\nuri = \"https://a.example\"\nnonce_ttl = \"0s\"\nclients = []\n", "at least one client"),
    ];
    for (store, signin, want) in cases {
        let err = check_refuses(&format!(
            "{store}[upstreams.a]\nbackends = [\"127.0.0.1:9\"]\n{signin}"
        ));
        assert!(
            err.contains(want.replace("\\\"", "\"").as_str()),
            "want {want} in:\n{err}"
        );
    }
}
