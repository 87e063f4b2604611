//! Wallet → token sign-in through the real proxy, on SQLite and on
//! PostgreSQL, with two instances sharing the store: challenge → the
//! wallet's `personal_sign` over the nonce string → authgate's own access
//! JWT (accepted on proxied routes: the upstream sees the wallet as subject
//! and the namespace as workspace) and a refresh token that rotates, whose
//! reuse revokes its family on every instance; namespace API keys (the same
//! key again for the same wallet), API key → access token, whoami, logout
//! of one token or all. Every refusal keeps the dialect's status and error
//! string.

mod common;

use common::pg::TempDb;
use common::wallet::{personal_sign, wallet};
use common::*;
use serde_json::{json, Value};

const ITEMS: &str = "/api/v1/workspaces/app/items";

fn config(store_url: &str, pem: &std::path::Path, rotate: bool) -> String {
    format!(
        r#"
[store]
url = "{store_url}"
poll_interval = "100ms"
auto_migrate = true

[identity.assertion]
key_file = "{pem}"
kid = "edge-1"

[[credentials.prefixes]]
prefix = "ak_"
kind = "api_key"
checksum = false

[signin.wallet_tokens]
issuer = "https://auth.example.com"
audience = "example-api"
rotate_refresh_tokens = {rotate}
limits = {{ per_address = 4 }}
namespaces = [{{ name = "app", scopes = ["items:read"] }}, {{ name = "other" }}]

[[routes]]
path = "/v1/auth/challenge"
methods = ["POST"]
handler = "wallet_challenge"
auth = {{ public = true }}

[[routes]]
path = "/v1/auth/verify"
methods = ["POST"]
handler = "wallet_verify"
auth = {{ public = true }}

[[routes]]
path = "/v1/auth/api-key"
methods = ["POST"]
handler = "wallet_api_key"
auth = {{ public = true }}

[[routes]]
path = "/v1/auth/token"
methods = ["POST"]
handler = "wallet_key_token"
auth = {{ accept = ["api_key"] }}

[[routes]]
path = "/v1/auth/refresh"
methods = ["POST"]
handler = "wallet_refresh"
auth = {{ public = true }}

[[routes]]
path = "/v1/auth/whoami"
methods = ["GET"]
handler = "wallet_whoami"
auth = {{ accept = ["api_key", "jwt"] }}

[[routes]]
path = "/v1/auth/logout"
methods = ["POST"]
handler = "wallet_logout"
auth = {{ public = true }}

[[routes]]
path = "/api/v1/workspaces/{{workspace}}/items"
upstream = "echo"
auth = {{ accept = ["jwt", "api_key"], scopes = ["items:read"] }}
"#,
        pem = pem.display()
    )
}

/// The checksummed address of `w`.
fn address(w: &k256::ecdsa::SigningKey) -> String {
    common::wallet::address(w).checksummed()
}

async fn post(g: &Gate, path: &str, body: Value, bearer: Option<&str>) -> (u16, Value) {
    let mut r = client()
        .post(g.url(path))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(t) = bearer {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn get(g: &Gate, path: &str, header: (&str, &str)) -> (u16, Value) {
    let r = client()
        .get(g.url(path))
        .header(header.0, header.1)
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

/// A nonce for `w` in `ns`.
async fn challenge(g: &Gate, w: &k256::ecdsa::SigningKey, ns: &str) -> String {
    let (s, ch) = post(
        g,
        "/v1/auth/challenge",
        json!({"wallet": address(w).to_lowercase(), "purpose": "login", "namespace": ns}),
        None,
    )
    .await;
    assert_eq!(s, 200, "{ch}");
    assert_eq!(ch["wallet"], address(w), "returned checksummed");
    assert_eq!(
        (ch["namespace"].as_str(), ch["purpose"].as_str()),
        (Some(ns), Some("login"))
    );
    assert!(ch["expires_at"].as_str().unwrap().ends_with('Z'));
    ch["nonce"].as_str().unwrap().to_string()
}

/// The proof body for `nonce` signed by `signer`, claimed by `w`.
fn proof(
    w: &k256::ecdsa::SigningKey,
    signer: &k256::ecdsa::SigningKey,
    nonce: &str,
    ns: &str,
) -> Value {
    json!({"wallet": address(w), "nonce": nonce, "signature": personal_sign(signer, nonce), "namespace": ns})
}

/// Sign in `w` to `ns` on `g`: the token answer.
async fn sign_in(g: &Gate, w: &k256::ecdsa::SigningKey, ns: &str) -> Value {
    let nonce = challenge(g, w, ns).await;
    let (s, t) = post(g, "/v1/auth/verify", proof(w, w, &nonce, ns), None).await;
    assert_eq!(s, 200, "{t}");
    t
}

/// What the upstream saw of the last request, as `(subject, workspace,
/// method)`.
fn seen(up: &Upstream) -> (String, String, String) {
    let all = up.seen();
    let r = all.last().expect("the upstream saw the request");
    let h = |n: &str| r["headers"][n].as_str().unwrap_or_default().to_string();
    (
        h("x-auth-subject"),
        h("x-auth-workspace"),
        h("x-auth-method"),
    )
}

async fn flow(store_url: &str) {
    let keys = tempfile::tempdir().unwrap();
    let pem = keys.path().join("assertion.pem");
    authgate::assertion::generate_key(&pem).unwrap();
    let up = Upstream::start();
    let cfg = config(store_url, &pem, true);
    let g = Gate::start(&up, &cfg);
    let g2 = Gate::start(&up, &cfg);
    store_ready(&g, store_url).await;
    store_ready(&g2, store_url).await;
    let w = wallet(7);

    // Refusals first, with the dialect's statuses and strings; the nonce
    // survives each of them.
    let nonce = challenge(&g, &w, "app").await;
    let refuse = |b: Value| {
        let g = &g;
        async move { post(g, "/v1/auth/verify", b, None).await }
    };
    let (s, r) = refuse(proof(&w, &wallet(8), &nonce, "app")).await;
    assert_eq!(
        (s, &r),
        (401, &json!({"error": "signature does not match wallet"}))
    );
    let mut bad = proof(&w, &w, &nonce, "app");
    bad["signature"] = json!("0x1234");
    let (s, r) = refuse(bad).await;
    assert_eq!(
        (s, &r),
        (400, &json!({"error": "invalid signature format"}))
    );
    let (s, r) = refuse(proof(&w, &w, "not-a-nonce", "app")).await;
    assert_eq!(
        (s, &r),
        (400, &json!({"error": "invalid or expired nonce"}))
    );
    // The nonce was issued for "app": not valid for "other", nor for
    // another wallet.
    let (s, r) = refuse(proof(&w, &w, &nonce, "other")).await;
    assert_eq!(
        (s, &r),
        (400, &json!({"error": "invalid or expired nonce"}))
    );
    let (s, _) = refuse(proof(&wallet(8), &wallet(8), &nonce, "app")).await;
    assert_eq!(s, 400);
    let (s, r) = refuse(proof(&w, &w, &nonce, "nowhere")).await;
    assert_eq!((s, &r), (400, &json!({"error": "unknown namespace"})));
    let (s, _) = post(&g, "/v1/auth/verify", json!("[1,"), None).await;
    assert_eq!(s, 400);

    // The right answer, on the other instance (one store).
    let (s, t) = post(&g2, "/v1/auth/verify", proof(&w, &w, &nonce, "app"), None).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 900);
    assert_eq!(
        (t["subject"].as_str(), t["namespace"].as_str()),
        (Some(address(&w).as_str()), Some("app"))
    );
    let access = t["access_token"].as_str().unwrap().to_string();
    let refresh = t["refresh_token"].as_str().unwrap().to_string();
    // Once only.
    let (s, r) = refuse(proof(&w, &w, &nonce, "app")).await;
    assert_eq!(
        (s, &r),
        (400, &json!({"error": "invalid or expired nonce"}))
    );

    // The access token is a JWT of authgate's own key: accepted on a
    // proxied route by both instances, bound to its namespace.
    for gate in [&g, &g2] {
        let (s, _) = get(gate, ITEMS, ("authorization", &format!("Bearer {access}"))).await;
        assert_eq!(s, 200);
        assert_eq!(seen(&up), (address(&w), "app".into(), "jwt".into()));
    }
    let (s, _) = get(
        &g,
        "/api/v1/workspaces/other/items",
        ("authorization", &format!("Bearer {access}")),
    )
    .await;
    assert_eq!(s, 404, "another namespace's path");
    let jwks: Value = client()
        .get(format!(
            "http://127.0.0.1:{}/.well-known/jwks.json",
            g.admin
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(&access).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    assert_eq!(
        header.kid.as_deref(),
        jwks["keys"][0]["kid"].as_str(),
        "its key is in the JWKS served"
    );
    let (s, who) = get(
        &g2,
        "/v1/auth/whoami",
        ("authorization", &format!("Bearer {access}")),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        (
            who["subject"].as_str(),
            who["namespace"].as_str(),
            who["method"].as_str()
        ),
        (Some(address(&w).as_str()), Some("app"), Some("jwt"))
    );

    // Refresh rotates: a new pair, the old token is spent.
    let (s, t2) = post(
        &g,
        "/v1/auth/refresh",
        json!({"refresh_token": refresh, "namespace": "app"}),
        None,
    )
    .await;
    assert_eq!(s, 200, "{t2}");
    let refresh2 = t2["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(refresh2, refresh);
    let (s, _) = get(
        &g,
        ITEMS,
        (
            "authorization",
            &format!("Bearer {}", t2["access_token"].as_str().unwrap()),
        ),
    )
    .await;
    assert_eq!(s, 200);
    // The spent token again (on the other instance): reuse, the family is
    // revoked, so the fresh token dies with it.
    let (s, r) = post(
        &g2,
        "/v1/auth/refresh",
        json!({"refresh_token": refresh, "namespace": "app"}),
        None,
    )
    .await;
    assert_eq!(
        (s, &r),
        (
            401,
            &json!({"error": "refresh token reuse detected; sign in again"})
        )
    );
    let (s, r) = post(
        &g,
        "/v1/auth/refresh",
        json!({"refresh_token": refresh2, "namespace": "app"}),
        None,
    )
    .await;
    assert_eq!(
        (s, &r),
        (401, &json!({"error": "invalid or expired refresh token"}))
    );
    let (s, _) = post(
        &g,
        "/v1/auth/refresh",
        json!({"refresh_token": "rt_made_up", "namespace": "app"}),
        None,
    )
    .await;
    assert_eq!(s, 401);

    // Logout of one token.
    let t3 = sign_in(&g, &w, "app").await;
    let r3 = t3["refresh_token"].as_str().unwrap();
    let (s, r) = post(
        &g2,
        "/v1/auth/logout",
        json!({"refresh_token": r3, "namespace": "app"}),
        None,
    )
    .await;
    assert_eq!((s, r["status"].as_str()), (200, Some("ok")));
    let (s, _) = post(
        &g,
        "/v1/auth/refresh",
        json!({"refresh_token": r3, "namespace": "app"}),
        None,
    )
    .await;
    assert_eq!(s, 401, "logged out");

    // Logout of all: needs an access token of this issuer; revokes every
    // refresh token of the subject in the namespace, on every instance.
    let a = sign_in(&g, &w, "app").await;
    let b = sign_in(&g2, &w, "app").await;
    let elsewhere = sign_in(&g, &w, "other").await;
    let (s, _) = post(
        &g,
        "/v1/auth/logout",
        json!({"namespace": "app", "all": true}),
        None,
    )
    .await;
    assert_eq!(s, 401, "all without a token");
    let (s, _) = post(
        &g,
        "/v1/auth/logout",
        json!({"namespace": "app", "all": true}),
        Some("not.a.jwt"),
    )
    .await;
    assert_eq!(s, 401);
    let (s, r) = post(
        &g,
        "/v1/auth/logout",
        json!({"namespace": "app", "all": true}),
        a["access_token"].as_str(),
    )
    .await;
    assert_eq!((s, r["revoked"].as_u64()), (200, Some(2)), "{r}");
    for t in [&a, &b] {
        let (s, _) = post(
            &g2,
            "/v1/auth/refresh",
            json!({"refresh_token": t["refresh_token"], "namespace": "app"}),
            None,
        )
        .await;
        assert_eq!(s, 401);
    }
    let (s, _) = post(
        &g2,
        "/v1/auth/refresh",
        json!({"refresh_token": elsewhere["refresh_token"], "namespace": "other"}),
        None,
    )
    .await;
    assert_eq!(s, 200, "another namespace's token is untouched");

    // Namespace API keys: the same wallet proof yields a key; asking again
    // returns the same key; it works on proxied routes, on both instances.
    let nonce = challenge(&g, &w, "app").await;
    let (s, k) = post(&g, "/v1/auth/api-key", proof(&w, &w, &nonce, "app"), None).await;
    assert_eq!(s, 201, "{k}");
    let api_key = k["api_key"].as_str().unwrap().to_string();
    assert!(
        api_key.starts_with("ak_") && api_key.ends_with(":app"),
        "{api_key}"
    );
    let nonce = challenge(&g2, &w, "app").await;
    let (s, k2) = post(&g2, "/v1/auth/api-key", proof(&w, &w, &nonce, "app"), None).await;
    assert_eq!(
        (s, k2["api_key"].as_str()),
        (200, Some(api_key.as_str())),
        "the existing key"
    );
    let nonce = challenge(&g2, &w, "other").await;
    let (s, k3) = post(
        &g2,
        "/v1/auth/api-key",
        proof(&w, &w, &nonce, "other"),
        None,
    )
    .await;
    assert_eq!(s, 201);
    assert_ne!(k3["api_key"], k["api_key"], "one key per namespace");
    let nonce = challenge(&g, &w, "app").await;
    let (s, _) = post(
        &g,
        "/v1/auth/api-key",
        proof(&w, &wallet(9), &nonce, "app"),
        None,
    )
    .await;
    assert_eq!(s, 401, "a key needs the wallet's own signature");
    for gate in [&g, &g2] {
        let (s, r) = get(gate, ITEMS, ("x-api-key", &api_key)).await;
        assert_eq!(s, 200, "{r}");
        assert_eq!(seen(&up), (address(&w), "app".into(), "api_key".into()));
    }

    // API key → access token for its namespace, with `ApiKey`, `Bearer` or
    // `X-API-Key`.
    for (h, v) in [
        ("authorization", format!("ApiKey {api_key}")),
        ("authorization", format!("Bearer {api_key}")),
        ("x-api-key", api_key.clone()),
    ] {
        let r = client()
            .post(g.url("/v1/auth/token"))
            .header(h, &v)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let t: Value = r.json().await.unwrap();
        assert_eq!(
            (t["namespace"].as_str(), t["expires_in"].as_u64()),
            (Some("app"), Some(900))
        );
        let (s, _) = get(
            &g2,
            ITEMS,
            (
                "authorization",
                &format!("Bearer {}", t["access_token"].as_str().unwrap()),
            ),
        )
        .await;
        assert_eq!(s, 200);
        assert_eq!(seen(&up).0, address(&w));
    }
    let (s, who) = get(&g, "/v1/auth/whoami", ("x-api-key", &api_key)).await;
    assert_eq!(
        (s, who["method"].as_str(), who["namespace"].as_str()),
        (200, Some("api_key"), Some("app"))
    );
    // A JWT cannot buy a JWT on the key route.
    let r = client()
        .post(g.url("/v1/auth/token"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Challenges are bounded per wallet (`per_address = 4` here): the
    // fifth pending one is refused with 429 and `Retry-After`.
    let busy = wallet(30);
    for _ in 0..4 {
        challenge(&g, &busy, "app").await;
    }
    let r = client()
        .post(g.url("/v1/auth/challenge"))
        .body(json!({"wallet": address(&busy), "namespace": "app"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "too many pending challenges");

    // Nothing a client sent ever reached the upstream as a credential.
    for r in up.seen() {
        assert!(
            r["headers"].get("authorization").is_none() && r["headers"].get("x-api-key").is_none()
        );
    }
}

#[tokio::test]
async fn wallet_tokens_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    flow(&format!("sqlite://{}/wallet.db", dir.path().display())).await;
}

#[tokio::test]
async fn wallet_tokens_on_postgres() {
    let db = TempDb::new().await;
    flow(&db.url).await;
}

/// `rotate_refresh_tokens = false`, for clients that cannot store a new
/// token: the same refresh token keeps working and is not sent back; logout
/// still ends it.
#[tokio::test]
async fn refresh_without_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}/wallet.db", dir.path().display());
    let pem = dir.path().join("assertion.pem");
    authgate::assertion::generate_key(&pem).unwrap();
    let up = Upstream::start();
    let g = Gate::start(&up, &config(&store, &pem, false));
    store_ready(&g, &store).await;
    let t = sign_in(&g, &wallet(5), "app").await;
    let refresh = t["refresh_token"].clone();
    for _ in 0..3 {
        let (s, r) = post(
            &g,
            "/v1/auth/refresh",
            json!({"refresh_token": refresh, "namespace": "app"}),
            None,
        )
        .await;
        assert_eq!(s, 200, "{r}");
        assert!(r.get("refresh_token").is_none(), "never echoed back");
        assert!(r["access_token"].is_string());
    }
    let (s, _) = post(
        &g,
        "/v1/auth/logout",
        json!({"refresh_token": refresh, "namespace": "app"}),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = post(
        &g,
        "/v1/auth/refresh",
        json!({"refresh_token": refresh, "namespace": "app"}),
        None,
    )
    .await;
    assert_eq!(s, 401);
}

/// The checks `authgate check` makes of the section and its routes.
#[test]
fn wallet_token_config_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("assertion.pem");
    authgate::assertion::generate_key(&pem).unwrap();
    let good = format!(
        "[upstreams.echo]\nbackends = [\"127.0.0.1:9\"]\n{}",
        config("sqlite:w.db", &pem, true)
    );
    let no_assertion = good
        .replace("[identity.assertion]", "[identity.unused]")
        .replace("key_file = ", "zz = ")
        .replace("kid = \"edge-1\"", "");
    let text = check_refuses(&no_assertion);
    assert!(text.contains("identity"), "{text}");
    let no_prefix = good.replace("prefix = \"ak_\"", "prefix = \"zz_\"");
    assert!(check_refuses(&no_prefix).contains("signin.wallet_tokens.api_key_prefix"));
    let no_store = good.replace("url = \"sqlite:w.db\"", "");
    assert!(check_refuses(&no_store).contains("signin.wallet_tokens"));
    let open_token = good.replace(
        "handler = \"wallet_key_token\"\nauth = { accept = [\"api_key\"] }",
        "handler = \"wallet_key_token\"\nauth = { public = true }",
    );
    assert!(check_refuses(&open_token).contains("wallet_key_token"));
    let closed_challenge = good.replace(
        "handler = \"wallet_challenge\"\nauth = { public = true }",
        "handler = \"wallet_challenge\"\nauth = { accept = [\"jwt\"] }",
    );
    assert!(check_refuses(&closed_challenge).contains("set public = true"));
}

/// A store outage fails the wallet endpoints closed (503 with
/// `Retry-After`), while an access token already issued keeps working (it
/// needs no store); recovery needs nothing.
#[tokio::test]
async fn a_store_outage_fails_wallet_sign_in_closed() {
    let db = TempDb::new().await;
    let proxy = common::pg::CutProxy::start().await;
    let url = db.url_via(&proxy);
    let keys = tempfile::tempdir().unwrap();
    let pem = keys.path().join("assertion.pem");
    authgate::assertion::generate_key(&pem).unwrap();
    let up = Upstream::start();
    let cfg = config(&url, &pem, true).replace("[store]\n", "[store]\ntimeout = \"500ms\"\n");
    let g = Gate::start(&up, &cfg);
    store_ready(&g, &url).await;
    let w = wallet(21);
    let t = sign_in(&g, &w, "app").await;
    let access = format!("Bearer {}", t["access_token"].as_str().unwrap());

    proxy.cut();
    for (path, body) in [
        (
            "/v1/auth/challenge",
            json!({"wallet": address(&w), "namespace": "app"}),
        ),
        (
            "/v1/auth/refresh",
            json!({"refresh_token": t["refresh_token"], "namespace": "app"}),
        ),
    ] {
        let r = client()
            .post(g.url(path))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 503, "{path}");
        assert!(r.headers().contains_key("retry-after"));
    }
    let (s, _) = get(&g, ITEMS, ("authorization", &access)).await;
    assert_eq!(s, 200, "a JWT needs no store");

    proxy.restore();
    let back = eventually(std::time::Duration::from_secs(10), || async {
        post(
            &g,
            "/v1/auth/challenge",
            json!({"wallet": address(&w), "namespace": "app"}),
            None,
        )
        .await
        .0 == 200
    })
    .await;
    assert!(back, "sign-in did not recover with the store");
}
