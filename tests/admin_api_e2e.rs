//! The key API through the real binary on the embedded SQLite store, and
//! the proxy in front of a real upstream: a key created over the API works
//! at once, a disabled or revoked one is refused by the very next request,
//! a rotated one keeps working until its overlap deadline, tokens are
//! checked (none, wrong, read-only), input is validated, and with no admin
//! token configured the API is off.

mod common;

use common::*;
use serde_json::{json, Value};
use sha2::Digest;
use std::time::Duration;

/// A token and its `[[admin.tokens]]` stanza.
fn token(id: &str, scopes: &str) -> (String, String) {
    let t = format!("agadm_{:032x}", rand::random::<u128>());
    let digest = hex::encode(sha2::Sha256::digest(t.as_bytes()));
    let stanza = format!(
        "[[admin.tokens]]\nid = \"{id}\"\ndigest = \"sha256:{digest}\"\nscopes = [{scopes}]\n"
    );
    (t, stanza)
}

struct Api {
    c: reqwest::Client,
    base: String,
}

impl Api {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.c.request(m, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
            headers,
        )
    }
}

async fn status(c: &reqwest::Client, url: &str, key: &str) -> u16 {
    c.get(url)
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn config(dir: &std::path::Path, tokens: &str) -> String {
    format!(
        "[store]\nurl = \"sqlite://{}/keys.db\"\n\n{tokens}\n[[routes]]\npath = \"/w/{{workspace}}/x\"\nupstream = \"echo\"\nauth = {{ accept = [\"api_key\", \"server_key\"] }}\n",
        dir.display()
    )
}

#[tokio::test]
async fn keys_issued_over_the_api_work_and_revocation_is_immediate() {
    let up = Upstream::start();
    let dir = tempfile::tempdir().unwrap();
    let (rw, rw_stanza) = token("ops", "\"keys:read\", \"keys:write\"");
    let (ro, ro_stanza) = token("audit", "\"keys:read\"");
    let gate = Gate::start(
        &up,
        &config(dir.path(), &format!("{rw_stanza}\n{ro_stanza}")),
    );
    let c = client();
    let api = Api {
        c: c.clone(),
        base: gate.admin_url("/admin/v1"),
    };
    let url = gate.url("/w/acme/x");

    // Tokens: none, wrong, read-only for a write.
    let (s, body, headers) = api.call("GET", "/keys", None, None).await;
    assert_eq!((s, body["error"].as_str()), (401, Some("unauthorized")));
    assert!(headers.get("www-authenticate").is_some());
    assert_eq!(
        api.call("GET", "/keys", Some("agadm_wrong"), None).await.0,
        401
    );
    let (s, body, _) = api
        .call(
            "POST",
            "/keys",
            Some(&ro),
            Some(json!({"kind": "api_key", "subject": "x"})),
        )
        .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
    assert_eq!(api.call("GET", "/keys", Some(&ro), None).await.0, 200);

    // Create: the secret once, a usable key at once.
    let (s, created, headers) = api
        .call("POST", "/keys", Some(&rw), Some(json!({"kind": "api_key", "subject": "svc-a", "workspace": "acme", "metadata": {"owner": "team-a"}})))
        .await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(headers.get("cache-control").unwrap(), "no-store");
    let secret = created["secret"].as_str().unwrap().to_string();
    let id = created["key"]["id"].as_str().unwrap().to_string();
    assert!(secret.starts_with("mantyx_"), "{secret}");
    assert_eq!(created["key"]["metadata"]["owner"], "team-a");
    assert_eq!(status(&c, &url, &secret).await, 200);
    let seen = up.seen();
    let last = seen.last().unwrap();
    assert_eq!(last["headers"]["x-auth-subject"], "svc-a");
    assert_eq!(last["headers"]["x-auth-credential-id"], id.as_str());
    assert_eq!(
        status(&c, &gate.url("/w/other/x"), &secret).await,
        404,
        "bound to its workspace"
    );

    // Read: the secret is never shown again.
    let (s, listed, _) = api
        .call("GET", "/keys?workspace=acme&kind=api_key", Some(&ro), None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(listed["keys"][0]["id"], id.as_str());
    assert!(!listed.to_string().contains(&secret));
    let (s, one, _) = api
        .call("GET", &format!("/keys/{id}"), Some(&ro), None)
        .await;
    assert_eq!((s, one["key"]["subject"].as_str()), (200, Some("svc-a")));
    assert!(!one.to_string().contains(&secret));

    // Disable → the next request is refused; enable → it passes again.
    let (s, _, _) = api
        .call(
            "PATCH",
            &format!("/keys/{id}"),
            Some(&rw),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(status(&c, &url, &secret).await, 401);
    let (s, body, _) = api
        .call("POST", &format!("/keys/{id}/rotate"), Some(&rw), None)
        .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (409, Some("disabled")),
        "a successor must not restore access"
    );
    api.call(
        "PATCH",
        &format!("/keys/{id}"),
        Some(&rw),
        Some(json!({"disabled": false})),
    )
    .await;
    assert_eq!(status(&c, &url, &secret).await, 200);

    // Revoke → refused by the very next request, for good.
    let (s, revoked, _) = api
        .call("POST", &format!("/keys/{id}/revoke"), Some(&rw), None)
        .await;
    assert_eq!(s, 200);
    assert!(revoked["key"]["revoked_at"].is_i64());
    assert_eq!(status(&c, &url, &secret).await, 401);
    api.call(
        "PATCH",
        &format!("/keys/{id}"),
        Some(&rw),
        Some(json!({"disabled": false})),
    )
    .await;
    assert_eq!(
        status(&c, &url, &secret).await,
        401,
        "enabling does not undo a revocation"
    );
    let (s, _, _) = api
        .call("POST", &format!("/keys/{id}/rotate"), Some(&rw), None)
        .await;
    assert_eq!(s, 409, "a revoked key cannot be rotated");

    // Rotate with an overlap: both work, then only the new one.
    let (_, k2, _) = api
        .call(
            "POST",
            "/keys",
            Some(&rw),
            Some(json!({"kind": "server_key", "subject": "svc-b", "workspace": "acme"})),
        )
        .await;
    let (old_secret, k2_id) = (
        k2["secret"].as_str().unwrap().to_string(),
        k2["key"]["id"].as_str().unwrap().to_string(),
    );
    assert!(old_secret.starts_with("sk_live_"), "{old_secret}");
    assert_eq!(status(&c, &url, &old_secret).await, 200);
    let (s, rotated, _) = api
        .call(
            "POST",
            &format!("/keys/{k2_id}/rotate"),
            Some(&rw),
            Some(json!({"overlap": "2s"})),
        )
        .await;
    assert_eq!(s, 201, "{rotated}");
    let new_secret = rotated["secret"].as_str().unwrap().to_string();
    assert_eq!(rotated["key"]["rotated_from"], k2_id.as_str());
    assert_eq!(rotated["previous"]["id"], k2_id.as_str());
    assert_eq!(status(&c, &url, &new_secret).await, 200);
    assert_eq!(
        status(&c, &url, &old_secret).await,
        200,
        "inside the overlap"
    );
    let refused = eventually(Duration::from_secs(6), || async {
        status(&c, &url, &old_secret).await == 401
    })
    .await;
    assert!(refused, "the old key outlived its overlap deadline");
    assert_eq!(status(&c, &url, &new_secret).await, 200);

    // Validation and errors.
    for (body, want) in [
        (json!({"kind": "jwt", "subject": "x"}), "kind"),
        (json!({"kind": "api_key", "subject": ""}), "subject"),
        (
            json!({"kind": "api_key", "subject": "x", "surprise": 1}),
            "surprise",
        ),
        (
            json!({"kind": "api_key", "subject": "x", "workspace": "a b"}),
            "workspace",
        ),
        (
            json!({"kind": "api_key", "subject": "x", "expires_at": 1_700_000_000_000i64}),
            "expires_at",
        ),
        (
            json!({"kind": "api_key", "subject": "x", "expires_at": 4_000_000_000.5}),
            "expires_at",
        ),
        (
            json!({"kind": "api_key", "subject": "x", "prefix": "nope_"}),
            "prefix",
        ),
        (
            json!({"kind": "api_key", "subject": "x", "metadata": [1]}),
            "metadata",
        ),
    ] {
        let (s, b, _) = api
            .call("POST", "/keys", Some(&rw), Some(body.clone()))
            .await;
        assert_eq!(s, 400, "{body} → {b}");
        assert!(
            b["message"].as_str().unwrap_or("").contains(want),
            "{body} → {b}"
        );
    }
    let (s, _, _) = api
        .call(
            "POST",
            "/keys",
            Some(&rw),
            Some(json!({"kind": "api_key", "subject": "x", "id": k2_id})),
        )
        .await;
    assert_eq!(s, 409, "ids are unique");
    assert_eq!(api.call("GET", "/keys/nope", Some(&ro), None).await.0, 404);
    assert_eq!(
        api.call("GET", "/keys?limit=0", Some(&ro), None).await.0,
        400
    );
    assert_eq!(api.call("PUT", "/keys", Some(&rw), None).await.0, 405);
    assert_eq!(api.call("GET", "/nothing", Some(&rw), None).await.0, 404);
    let (s, doc, _) = api.call("GET", "/openapi.json", None, None).await;
    assert_eq!(s, 200);
    assert!(doc["paths"]["/admin/v1/keys"]["post"].is_object());
    assert_eq!(doc["openapi"], "3.1.0");
    // The document's kinds are the ones this config mints: each is created.
    let kinds = doc["components"]["schemas"]["NewKey"]["properties"]["kind"]["enum"]
        .as_array()
        .expect("a kind enum")
        .clone();
    assert!(kinds.contains(&json!("api_key")), "{kinds:?}");
    for kind in &kinds {
        // A whole number written as a float is a whole number (JSON Schema).
        let body = json!({"kind": kind, "subject": "doc", "expires_at": 4_000_000_000.0});
        let (s, b, _) = api.call("POST", "/keys", Some(&rw), Some(body)).await;
        assert_eq!(s, 201, "{kind}: {b}");
        assert_eq!(b["key"]["expires_at"], 4_000_000_000i64);
    }
    // The body schemas are the types the handlers read.
    for schema in [
        "NewKey",
        "KeyPatch",
        "Rotation",
        "NewStampKey",
        "Key",
        "Error",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
    assert_eq!(
        doc["components"]["schemas"]["NewKey"]["additionalProperties"],
        false
    );

    // Stamp keys: registered once.
    let sk = p256::ecdsa::SigningKey::from_bytes(&[0x11; 32].into()).unwrap();
    let pk_real = hex::encode(sk.verifying_key().to_encoded_point(true).as_bytes());
    let body =
        json!({"scheme": "p256", "public_key": pk_real, "subject": "wallet", "workspace": "acme"});
    let (s, reg, _) = api
        .call("POST", "/stamp-keys", Some(&rw), Some(body.clone()))
        .await;
    assert_eq!(s, 201, "{reg}");
    assert_eq!(reg["key"]["kind"], "stamp");
    assert_eq!(
        api.call("POST", "/stamp-keys", Some(&rw), Some(body))
            .await
            .0,
        409
    );
    let bad = json!({"scheme": "p256", "public_key": "zz", "subject": "wallet"});
    assert_eq!(
        api.call("POST", "/stamp-keys", Some(&rw), Some(bad))
            .await
            .0,
        400
    );
    // Paging: a cursor continues after the last id.
    let (_, page1, _) = api.call("GET", "/keys?limit=1", Some(&ro), None).await;
    let cursor = page1["next_cursor"].as_str().unwrap().to_string();
    let (_, page2, _) = api
        .call(
            "GET",
            &format!("/keys?limit=1&cursor={cursor}"),
            Some(&ro),
            None,
        )
        .await;
    assert_ne!(page1["keys"][0]["id"], page2["keys"][0]["id"]);

    // Counted.
    let m = metrics(&c, &gate).await;
    assert!(
        sample(
            &m,
            "authgate_admin_requests_total{op=\"create\",status=\"201\"}"
        )
        .unwrap_or(0.0)
            >= 2.0
    );
}

#[tokio::test]
async fn without_admin_tokens_the_api_is_off() {
    let up = Upstream::start();
    let dir = tempfile::tempdir().unwrap();
    let gate = Gate::start(&up, &config(dir.path(), ""));
    let c = client();
    let api = Api {
        c,
        base: gate.admin_url("/admin/v1"),
    };
    let (s, body, _) = api.call("GET", "/keys", Some("anything"), None).await;
    assert_eq!(s, 404, "{body}");
    assert_eq!(
        api.call(
            "POST",
            "/keys",
            None,
            Some(json!({"kind": "api_key", "subject": "x"}))
        )
        .await
        .0,
        404
    );
}

/// `authgate keys …` with `args`, the admin token in the environment.
fn keys_cli(args: &[&str], token: &str) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_authgate"))
        .arg("keys")
        .args(args)
        .env("AUTHGATE_ADMIN_TOKEN", token)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_keys_cli_drives_a_live_store_over_the_api_and_directly() {
    let up = Upstream::start();
    let dir = tempfile::tempdir().unwrap();
    let (rw, stanza) = token("ops", "\"keys:read\", \"keys:write\"");
    let gate = Gate::start(&up, &config(dir.path(), &stanza));
    let c = client();
    let url = gate.url("/w/acme/x");
    let admin = format!("http://127.0.0.1:{}", gate.admin);

    // Over the admin API.
    let (ok, out, err) = keys_cli(
        &[
            "create",
            "--kind",
            "api_key",
            "--subject",
            "cli-svc",
            "--workspace",
            "acme",
            "--admin",
            &admin,
        ],
        &rw,
    );
    assert!(ok, "{err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    let secret = created["secret"].as_str().unwrap().to_string();
    let id = created["key"]["id"].as_str().unwrap().to_string();
    assert_eq!(status(&c, &url, &secret).await, 200);
    let (ok, out, _) = keys_cli(&["list", "--workspace", "acme", "--admin", &admin], &rw);
    assert!(ok && out.contains(&id) && !out.contains(&secret), "{out}");
    let (ok, _, err) = keys_cli(&["list", "--admin", &admin], "agadm_wrong");
    assert!(!ok && err.starts_with("401"), "{err}");
    let (ok, _, err) = keys_cli(&["revoke", &id, "--admin", &admin], &rw);
    assert!(ok, "{err}");
    assert_eq!(status(&c, &url, &secret).await, 401);

    // Straight to the store the config names; the running instance learns
    // of it from the change feed (SQLite: its poll).
    let cfg = gate.config.to_string_lossy().to_string();
    let (ok, out, err) = keys_cli(
        &[
            "create",
            "--kind",
            "api_key",
            "--subject",
            "direct",
            "--workspace",
            "acme",
            "--store",
            "--config",
            &cfg,
        ],
        "",
    );
    assert!(ok, "{err}");
    let direct: Value = serde_json::from_str(&out).unwrap();
    let (dsecret, did) = (
        direct["secret"].as_str().unwrap().to_string(),
        direct["key"]["id"].as_str().unwrap().to_string(),
    );
    assert!(
        eventually(Duration::from_secs(5), || async {
            status(&c, &url, &dsecret).await == 200
        })
        .await
    );
    let (ok, _, err) = keys_cli(
        &[
            "rotate",
            &did,
            "--overlap",
            "1s",
            "--store",
            "--config",
            &cfg,
        ],
        "",
    );
    assert!(ok, "{err}");
    let (ok, _, err) = keys_cli(&["revoke", &did, "--store", "--config", &cfg], "");
    assert!(ok, "{err}");
    assert!(
        eventually(Duration::from_secs(5), || async {
            status(&c, &url, &dsecret).await == 401
        })
        .await,
        "a revocation written straight to the store reached the running instance"
    );
    let (ok, _, err) = keys_cli(&["list", "--store"], "");
    assert!(!ok && err.contains("--config"), "{err}");
}
