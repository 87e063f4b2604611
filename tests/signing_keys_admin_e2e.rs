//! RFC 9421 signing keys registered through the admin API
//! (`POST /admin/v1/signing-keys`) into the database store, through the
//! real proxy: an RSA-PSS-SHA512, an RSA v1.5-SHA256, a P-384 and an
//! HMAC-SHA256 key (its secret a file in `[store] hmac_secrets_dir`, never
//! sent to the API) each sign a request that passes on another instance
//! sharing the store (PostgreSQL) or on the one instance (SQLite); an
//! `alg` that lies, a changed path and an impostor key under a registered
//! keyid are refused; a revoked key is refused on both instances; the
//! registration refuses what would not work. Keys are generated with
//! aws-lc-rs (not authgate's code).

mod common;

use common::httpsig::{sign, Key, Req};
use common::named_keys::{one_of_each, p384, params, Material};
use common::pg::TempDb;
use common::*;
use serde_json::{json, Value};
use sha2::Digest;
use std::time::Duration;

const PATH: &str = "/api/v1/workspaces/acme/items";

fn config(store_url: &str, secrets: &std::path::Path, token: &str) -> String {
    format!(
        r#"
[[admin.tokens]]
id = "ops"
digest = "sha256:{digest}"
scopes = ["keys:read", "keys:write"]

[store]
url = "{store_url}"
poll_interval = "100ms"
auto_migrate = true
hmac_secrets_dir = "{secrets}"

[[routes]]
path = "/api/v1/workspaces/{{workspace}}/items"
methods = ["GET"]
upstream = "echo"
auth = {{ accept = ["stamp"] }}
"#,
        digest = hex::encode(sha2::Sha256::digest(token.as_bytes())),
        secrets = secrets.display(),
    )
}

async fn register(g: &Gate, token: &str, body: Value) -> (u16, Value) {
    let r = client()
        .post(g.admin_url("/admin/v1/signing-keys"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// A signed GET of `signed_for` sent to [`PATH`]: status and reason.
async fn signed_get(g: &Gate, k: &Key, alg: &str, signed_for: &str) -> (u16, Value) {
    let authority = format!("127.0.0.1:{}", g.port);
    let req = Req {
        method: "GET",
        path: signed_for,
        query: None,
        body: None,
    };
    let (input, sig, _) = sign(k, &authority, &req, None, &params(k, alg));
    let r = client()
        .get(g.url(PATH))
        .header("signature-input", input)
        .header("signature", sig)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

fn registration(k: &Key, material: &Material) -> Value {
    let mut body = json!({
        "keyid": k.keyid(),
        "alg": k.alg(),
        "subject": format!("svc-{}", k.keyid()),
        "workspace": "acme",
    });
    match material {
        Material::Pem(pem) => body["public_key"] = json!(pem),
        Material::Secret(_) => body["secret_name"] = json!(format!("{}.secret", k.keyid())),
    }
    body
}

async fn flow(store_url: &str, fleet: bool) {
    let secrets = tempfile::tempdir().unwrap();
    let token = format!("agadm_{:032x}", rand::random::<u128>());
    let keys = one_of_each("partner");
    for (k, m) in &keys {
        if let Material::Secret(s) = m {
            std::fs::write(secrets.path().join(format!("{}.secret", k.keyid())), s).unwrap();
        }
    }
    let up = Upstream::start();
    let cfg = config(store_url, secrets.path(), &token);
    let g = Gate::start(&up, &cfg);
    store_ready(&g, store_url).await;
    // With PostgreSQL a second instance verifies what the first registered.
    let other = fleet.then(|| Gate::start(&up, &cfg));
    if let Some(o) = &other {
        store_ready(o, store_url).await;
    }
    let verifier = other.as_ref().unwrap_or(&g);

    for (k, m) in &keys {
        let (s, v) = register(&g, &token, registration(k, m)).await;
        assert_eq!(s, 201, "{}: {v}", k.alg());
        assert_eq!(
            v["key"]["id"],
            k.keyid().as_str(),
            "the keyid is the key's id"
        );
        assert_eq!(v["key"]["scheme"], k.alg());
        assert_eq!(v["key"]["kind"], "stamp");
        if matches!(m, Material::Secret(_)) {
            let stored = v["key"]["public_key"].as_str().unwrap();
            assert_eq!(
                stored,
                format!("secret:{}.secret", k.keyid()),
                "only the name"
            );
        }
    }
    for (k, _) in &keys {
        let (s, v) = signed_get(verifier, k, k.alg(), PATH).await;
        assert_eq!(s, 200, "{}: {v}", k.alg());
        let seen = up.seen();
        let h = &seen.last().unwrap()["headers"];
        assert_eq!(h["x-auth-subject"], format!("svc-{}", k.keyid()).as_str());
        let liar = if k.alg() == "hmac-sha256" {
            "rsa-pss-sha512"
        } else {
            "hmac-sha256"
        };
        let (s, v) = signed_get(verifier, k, liar, PATH).await;
        assert_eq!((s, v["reason"].as_str()), (401, Some("algorithm_mismatch")));
        let (s, v) = signed_get(verifier, k, k.alg(), "/api/v1/workspaces/acme/other").await;
        assert_eq!((s, v["reason"].as_str()), (401, Some("bad_signature")));
    }
    // Another key under a registered keyid.
    let (impostor, _) = p384("partner-p384");
    let (s, v) = signed_get(verifier, &impostor, "ecdsa-p384-sha384", PATH).await;
    assert_eq!((s, v["reason"].as_str()), (401, Some("bad_signature")));
    // A keyid nobody registered.
    let (stranger, _) = p384("nobody");
    let (s, v) = signed_get(verifier, &stranger, "ecdsa-p384-sha384", PATH).await;
    assert_eq!((s, v["reason"].as_str()), (401, Some("unknown_key")));

    // What the registration refuses.
    let (k, m) = &keys[0];
    let Material::Pem(pem) = m else {
        unreachable!()
    };
    let cases = [
        (registration(k, m), 409, "conflict"),
        (
            json!({"keyid": "x".repeat(64), "alg": "rsa-pss-sha512", "public_key": pem, "subject": "s"}),
            400,
            "stamp key",
        ),
        (
            json!({"keyid": "k2", "alg": "rsa-sha1", "public_key": pem, "subject": "s"}),
            400,
            "alg",
        ),
        (
            json!({"keyid": "k2", "alg": "ecdsa-p384-sha384", "public_key": "-----BEGIN PUBLIC KEY-----\naGVsbG8=\n-----END PUBLIC KEY-----", "subject": "s"}),
            400,
            "not a ecdsa-p384-sha384 public key",
        ),
        (
            json!({"keyid": "k2", "alg": "hmac-sha256", "secret_name": "absent", "subject": "s"}),
            400,
            "cannot read",
        ),
        (
            json!({"keyid": "k2", "alg": "hmac-sha256", "secret_name": "../etc", "subject": "s"}),
            400,
            "secret_name",
        ),
        (
            json!({"keyid": "k2", "alg": "hmac-sha256", "public_key": pem, "subject": "s"}),
            400,
            "secret_name",
        ),
        (
            json!({"keyid": "k2", "alg": "rsa-pss-sha512", "subject": "s"}),
            400,
            "public_key",
        ),
    ];
    for (body, status, want) in cases {
        let (s, v) = register(&g, &token, body.clone()).await;
        assert_eq!(s, status, "{body}: {v}");
        assert!(v.to_string().contains(want), "want {want} in {v}");
    }
    let (s, _) = register(&g, "agadm_wrong", registration(k, m)).await;
    assert_eq!(s, 401);

    // Revoked on one instance: refused there at once, and on the other
    // once the change feed has carried it.
    let r = client()
        .post(g.admin_url(&format!("/admin/v1/keys/{}/revoke", k.keyid())))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (s, v) = signed_get(&g, k, k.alg(), PATH).await;
    assert_eq!((s, v["reason"].as_str()), (401, Some("disabled")), "{v}");
    if let Some(o) = &other {
        let refused = eventually(Duration::from_secs(10), || async {
            signed_get(o, k, k.alg(), PATH).await.0 == 401
        })
        .await;
        assert!(refused, "the other instance still accepts a revoked key");
    }
    // The others still sign.
    let (s, v) = signed_get(verifier, &keys[3].0, keys[3].0.alg(), PATH).await;
    assert_eq!(s, 200, "{v}");
}

#[tokio::test]
async fn signing_keys_registered_in_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    flow(&format!("sqlite://{}/keys.db", dir.path().display()), false).await;
}

#[tokio::test]
async fn signing_keys_registered_in_postgres_serve_the_fleet() {
    let db = TempDb::new().await;
    flow(&db.url, true).await;
}

/// `hmac_secrets_dir` needs a database store and a directory.
#[test]
fn hmac_secrets_dir_is_checked() {
    let base = "[upstreams.echo]\nbackends = [\"127.0.0.1:9\"]\n";
    let dir = tempfile::tempdir().unwrap();
    let no_store = check_refuses(&format!("{base}[store]\nhmac_secrets_dir = \"/tmp\"\n"));
    assert!(no_store.contains("store.url"), "{no_store}");
    let no_dir = check_refuses(&format!(
        "{base}[store]\nurl = \"sqlite://{}/k.db\"\nhmac_secrets_dir = \"/nonexistent-dir\"\n",
        dir.path().display()
    ));
    assert!(no_dir.contains("not a directory"), "{no_dir}");
}
