//! Key files rotated in place take effect on reload (file watch or SIGHUP):
//! tokens signed with the old key are refused from then on, cached or not,
//! and tokens signed with the new key pass.

mod common;

use common::*;
use std::time::Duration;

fn hs256(secret: &[u8], sub: &str) -> String {
    let now = authgate::verify::unix_now();
    let claims = serde_json::json!({
        "iss": "https://issuer.test",
        "aud": "authgate",
        "sub": sub,
        "namespace": "acme",
        "iat": now,
        "exp": now + 600,
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .unwrap()
}

async fn status(c: &reqwest::Client, gate: &Gate, token: &str) -> u16 {
    c.get(gate.url("/api/x"))
        .bearer_auth(token)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

async fn rotate_secret_in_place(by_signal: bool) {
    let (a, b) = (
        b"secret-A-0123456789abcdef0123456789".as_slice(),
        b"secret-B-0123456789abcdef0123456789".as_slice(),
    );
    let up = Upstream::start();
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, a).unwrap();
    let watch = if by_signal {
        "watch_interval = \"0s\""
    } else {
        ""
    };
    let extra = format!(
        r#"
[[jwt.issuers]]
name = "hs"
issuer = "https://issuer.test"
audiences = ["authgate"]
algorithms = ["HS256"]
secret_file = "{}"
workspace_claim = "namespace"

[[routes]]
path = "/api/{{*rest}}"
upstream = "echo"
auth = {{ accept = ["jwt"] }}
"#,
        secret.display()
    );
    let (port, admin) = (free_port(), free_port());
    let mut cfg = format!("{}\n{extra}", base_config(port, admin, up.addr));
    if by_signal {
        cfg = cfg.replace("watch_interval = \"200ms\"", watch);
    }
    let gate = Gate::start_with(&cfg, port, admin);
    let c = client();
    let cached = hs256(a, "cached");
    assert_eq!(status(&c, &gate, &cached).await, 200);
    assert_eq!(status(&c, &gate, &hs256(b, "early")).await, 401);

    std::fs::write(&secret, b).unwrap();
    if by_signal {
        gate.signal("HUP");
    }
    let rotated = eventually(Duration::from_secs(5), || {
        let (c, gate) = (&c, &gate);
        async move { status(c, gate, &hs256(b, "new")).await == 200 }
    })
    .await;
    assert!(rotated, "a token signed with the new secret passes");
    assert_eq!(
        status(&c, &gate, &hs256(a, "fresh-old")).await,
        401,
        "a new token signed with the old secret is refused"
    );
    assert_eq!(
        status(&c, &gate, &cached).await,
        401,
        "a cached token signed with the old secret is refused"
    );
}

#[tokio::test]
async fn hs256_secret_rotated_in_place_takes_effect_on_file_reload() {
    rotate_secret_in_place(false).await;
}

#[tokio::test]
async fn hs256_secret_rotated_in_place_takes_effect_on_sighup() {
    rotate_secret_in_place(true).await;
}
