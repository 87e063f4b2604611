//! Every reloadable setting takes effect on reload, through the real binary
//! (key files rotated in place, the assertion key, the replay guard's
//! window and capacity), or at library level where the effect is not
//! visible on the wire (identity cache size and TTLs); settings read only at
//! start refuse the reload and name themselves.

mod common;

use authgate::cache::IdentityCache;
use authgate::config::reload::ConfigHandle;
use base64::Engine;
use common::*;
use std::path::Path;
use std::time::Duration;

fn jwt(alg: jsonwebtoken::Algorithm, key: &jsonwebtoken::EncodingKey) -> String {
    let now = authgate::verify::unix_now();
    let claims = serde_json::json!({
        "iss": "https://issuer.test", "aud": "authgate", "sub": "u1",
        "namespace": "acme", "iat": now, "exp": now + 600,
    });
    jsonwebtoken::encode(&jsonwebtoken::Header::new(alg), &claims, key).unwrap()
}

fn rsa(name: &str) -> jsonwebtoken::EncodingKey {
    let pem = std::fs::read(fixture(&format!("jwt/keys/{name}.key.pem"))).unwrap();
    jsonwebtoken::EncodingKey::from_rsa_pem(&pem).unwrap()
}

async fn status_with(c: &reqwest::Client, gate: &Gate, token: &str) -> u16 {
    c.get(gate.url("/api/x"))
        .bearer_auth(token)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

fn issuer(key_line: &str, algorithms: &str) -> String {
    format!(
        r#"
[[jwt.issuers]]
name = "iss"
issuer = "https://issuer.test"
audiences = ["authgate"]
algorithms = [{algorithms}]
{key_line}
workspace_claim = "namespace"

[[routes]]
path = "/api/{{*rest}}"
upstream = "echo"
auth = {{ accept = ["jwt"] }}
"#
    )
}

/// Start a gate whose issuer reads `file`, holding `first`; replace the
/// file's contents with `second`; the `before` token must then fail and the
/// `after` token pass.
async fn rotate(key_kind: &str, first: &Path, second: &Path, before: String, after: String) {
    let up = Upstream::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("key");
    std::fs::copy(first, &file).unwrap();
    let line = format!("{key_kind} = \"{}\"", file.display());
    let gate = Gate::start(&up, &issuer(&line, "\"RS256\""));
    let c = client();
    assert_eq!(status_with(&c, &gate, &before).await, 200, "{key_kind}");
    assert_eq!(status_with(&c, &gate, &after).await, 401, "{key_kind}");
    std::fs::copy(second, &file).unwrap();
    let rotated = eventually(Duration::from_secs(5), || {
        let (c, g, t) = (&c, &gate, &after);
        async move { status_with(c, g, t).await == 200 }
    })
    .await;
    assert!(rotated, "{key_kind}: the new key verifies after the reload");
    assert_eq!(
        status_with(&c, &gate, &before).await,
        401,
        "{key_kind}: the old key is refused, cached or not"
    );
}

#[tokio::test]
async fn pem_public_key_rotated_in_place() {
    rotate(
        "public_key_file",
        &fixture("jwt/keys/rsa.pub.pem"),
        &fixture("jwt/keys/rsa2.pub.pem"),
        jwt(jsonwebtoken::Algorithm::RS256, &rsa("rsa")),
        jwt(jsonwebtoken::Algorithm::RS256, &rsa("rsa2")),
    )
    .await;
}

#[tokio::test]
async fn jwks_file_rotated_in_place() {
    rotate(
        "jwks_file",
        &fixture("jwt/jwks.json"),
        &fixture("jwt/jwks_rotated.json"),
        fixture_token("valid_rs256_jwks"),
        fixture_token("rotated_rs256"),
    )
    .await;
}

fn write_assertion_key(path: &Path, seed: u8) -> ed25519_dalek::VerifyingKey {
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
    let pem = key
        .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .unwrap();
    std::fs::write(path, pem.as_bytes()).unwrap();
    key.verifying_key()
}

fn signed_by(assertion: &str, key: &ed25519_dalek::VerifyingKey) -> bool {
    let Some((input, sig)) = assertion.rsplit_once('.') else {
        return false;
    };
    let Ok(sig) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(sig) else {
        return false;
    };
    let Ok(sig) = ed25519_dalek::Signature::from_slice(&sig) else {
        return false;
    };
    key.verify_strict(input.as_bytes(), &sig).is_ok()
}

#[tokio::test]
async fn assertion_key_rotated_in_place() {
    let up = Upstream::start();
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("assertion.pem");
    let a = write_assertion_key(&key_file, 1);
    let (api, stanza) = key("mantyx_", "api_key", "key_a", "acme", &[], "");
    let extra = format!(
        r#"
[identity.assertion]
key_file = "{}"
audience = "upstream"

[[routes]]
path = "/api/{{*rest}}"
upstream = "echo"
auth = {{ accept = ["api_key"] }}
{stanza}"#,
        key_file.display()
    );
    let gate = Gate::start(&up, &extra);
    let c = client();
    let last_assertion = || {
        up.seen().last().unwrap()["headers"]["x-auth-assertion"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(status_with(&c, &gate, &api).await, 200);
    assert!(signed_by(&last_assertion(), &a));
    let b = write_assertion_key(&key_file, 2);
    let rotated = eventually(Duration::from_secs(5), || {
        let (c, g, api) = (&c, &gate, &api);
        async move { status_with(c, g, api).await == 200 && signed_by(&last_assertion(), &b) }
    })
    .await;
    assert!(
        rotated,
        "assertions are signed with the new key after the reload"
    );
    assert!(!signed_by(&last_assertion(), &a));
    // The JWKS the admin listener serves names the new key.
    let jwks = c
        .get(gate.admin_url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b.to_bytes());
    assert!(jwks.contains(&x), "{jwks}");
}

#[tokio::test]
async fn a_resized_replay_guard_still_refuses_what_it_saw() {
    let up = Upstream::start();
    let signer = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let public = hex::encode(signer.verifying_key().to_bytes());
    let (port, admin) = (free_port(), free_port());
    let cfg = |window: &str, capacity: u32| {
        format!(
            r#"{}
[stamps]
window = "{window}"
replay_capacity = {capacity}

[[routes]]
path = "/api/{{*rest}}"
methods = ["POST"]
upstream = "echo"
auth = {{ accept = ["stamp"] }}

[[keys]]
id = "stamp-1"
kind = "stamp"
scheme = "ed25519"
public_key = "{public}"
subject = "wallet-1"
workspace = "acme"
"#,
            base_config(port, admin, up.addr)
        )
    };
    let gate = Gate::start_with(&cfg("5m", 1000), port, admin);
    let c = client();
    let now = authgate::verify::unix_now() * 1000;
    let body = format!(r#"{{"timestampMs":{now}}}"#);
    let stamp = authgate::demo::ed25519_stamp(&signer, &body);
    let post = || {
        c.post(gate.url("/api/x"))
            .header("x-stamp", stamp.clone())
            .body(body.clone())
            .send()
    };
    assert_eq!(post().await.unwrap().status(), 200);
    assert_eq!(post().await.unwrap().status(), 401, "replayed");
    gate.rewrite(&cfg("10m", 5000));
    let reloaded = eventually(Duration::from_secs(5), || async {
        sample(
            &metrics(&c, &gate).await,
            "authgate_config_reloads_total{outcome=\"ok\"}",
        ) == Some(1.0)
    })
    .await;
    assert!(reloaded);
    let r = post().await.unwrap();
    assert_eq!(r.status(), 401, "the resized guard remembers the stamp");
    assert!(r.text().await.unwrap().contains("replayed"));
    assert_eq!(up.seen().len(), 1);
}

#[tokio::test]
async fn restart_only_settings_refuse_the_reload_and_say_so() {
    let up = Upstream::start();
    let gate = Gate::start_logged(&up, "");
    let c = client();
    let original = std::fs::read_to_string(&gate.config).unwrap();
    let route = "\n[[routes]]\npath = \"/new\"\nupstream = \"echo\"\nauth = { public = true }\n";
    assert_eq!(c.get(gate.url("/new")).send().await.unwrap().status(), 404);
    gate.rewrite(&format!(
        "{}{route}",
        original
            .replace("threads = 1", "threads = 3")
            .replace("grace_period = \"1s\"", "grace_period = \"2s\"")
            .replace("level = \"warn,access=info\"", "level = \"debug\"")
    ));
    let named = eventually(Duration::from_secs(5), || async {
        let log = gate.log();
        log.contains("server.threads")
            && log.contains("server.grace_period")
            && log.contains("log.level")
    })
    .await;
    assert!(named, "the refusal names each setting: {}", gate.log());
    assert_eq!(
        c.get(gate.url("/new")).send().await.unwrap().status(),
        404,
        "nothing of the refused file applies"
    );
    gate.rewrite(&format!("{original}{route}"));
    assert!(wait_for_status(&c, &gate.url("/new"), 200).await);
}

#[tokio::test]
async fn cache_size_and_ttls_follow_the_reloaded_file() {
    let up = Upstream::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("authgate.toml");
    let cfg = |size: u32, ttl: &str, negative: &str| {
        format!(
            "{}\n[cache]\nmax_entries = {size}\nttl = \"{ttl}\"\nnegative_ttl = \"{negative}\"\n",
            base_config(free_port(), free_port(), up.addr)
        )
    };
    std::fs::write(&path, cfg(100, "60s", "5s")).unwrap();
    let rt = authgate::config::load_with(&path, None).unwrap();
    let cache = IdentityCache::new(rt.cache.max_entries, rt.cache.ttl, rt.cache.negative_ttl);
    // Keep the listeners the same across the reload (they need a restart).
    let listeners = std::fs::read_to_string(&path).unwrap();
    let handle = ConfigHandle::new(rt, Some(path.clone()));
    assert_eq!(cache.max_entries(), Some(100));
    let head = listeners.split("[cache]").next().unwrap().to_string();
    std::fs::write(
        &path,
        format!("{head}[cache]\nmax_entries = 7\nttl = \"2s\"\nnegative_ttl = \"1s\"\n"),
    )
    .unwrap();
    handle.reload(&cache).unwrap();
    assert_eq!(cache.max_entries(), Some(7));
    assert_eq!(
        cache.ttls(),
        (Duration::from_secs(2), Duration::from_secs(1))
    );
}
