//! JWT issuer options through the real binary: `secret_env`,
//! `subject_claim`, a custom `leeway` next to the default one, and
//! `insecure_platform_wide` (tokens that may reach any workspace).

mod common;

use common::*;
use serde_json::{json, Value};

const SECRET: &str = "jwt-options-secret-0123456789abcdef0123456789abcdef0123456789ab";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An HS256 token for `iss` with `SECRET`; `claims` override the defaults.
fn token(iss: &str, claims: Value) -> String {
    let mut c = json!({
        "iss": iss, "aud": "authgate", "sub": "user-1", "workspace": "acme",
        "scope": "runs:read", "iat": now(), "exp": now() + 600,
    });
    for (k, v) in claims.as_object().unwrap() {
        c[k] = v.clone();
    }
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &c,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

fn issuer(name: &str, iss: &str, extra: &str) -> String {
    format!(
        "[[jwt.issuers]]\nname = \"{name}\"\nissuer = \"{iss}\"\naudiences = [\"authgate\"]\nalgorithms = [\"HS256\"]\nsecret_env = \"AG_JWT_SECRET\"\n{extra}\n"
    )
}

#[tokio::test]
async fn issuer_options_shape_the_identity_and_the_time_checks() {
    let up = Upstream::start();
    let extra = format!(
        "{}{}{}{}\n[[routes]]\npath = \"/api/v1/workspaces/{{workspace}}/runs\"\nupstream = \"echo\"\nauth = {{ accept = [\"jwt\"] }}\n",
        issuer("plain", "https://plain.test", ""),
        issuer("mail", "https://mail.test", "subject_claim = \"email\""),
        issuer("tight", "https://tight.test", "leeway = \"5s\""),
        issuer("platform", "https://platform.test", "insecure_platform_wide = true"),
    );
    // The secret comes from the environment only.
    let gate = Gate::start_env(&up, &extra, &[("AG_JWT_SECRET", SECRET)], false);
    let c = client();
    let send = |ws: &str, t: String| {
        let url = gate.url(&format!("/api/v1/workspaces/{ws}/runs"));
        let c = c.clone();
        async move {
            c.get(url)
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let subject = || up.seen().last().unwrap()["headers"]["x-auth-subject"].clone();

    assert_eq!(
        send("acme", token("https://plain.test", json!({}))).await,
        200
    );
    assert_eq!(subject(), "user-1");
    let mail = token("https://mail.test", json!({ "email": "dev@example.com" }));
    assert_eq!(send("acme", mail).await, 200);
    assert_eq!(subject(), "dev@example.com");

    // Not valid for another 20 s: inside the default 30 s leeway, outside
    // a 5 s one. (`exp` within the leeway: see the report, it is refused.)
    let early = json!({ "nbf": now() + 20 });
    assert_eq!(
        send("acme", token("https://plain.test", early.clone())).await,
        200
    );
    assert_eq!(send("acme", token("https://tight.test", early)).await, 401);

    // Another workspace: refused for a workspace-bound issuer, allowed for a
    // platform-wide one.
    assert_eq!(
        send("other", token("https://plain.test", json!({}))).await,
        404
    );
    assert_eq!(
        send("other", token("https://platform.test", json!({}))).await,
        200
    );
    assert_eq!(
        up.seen().last().unwrap()["path"],
        "/api/v1/workspaces/other/runs"
    );
    drop(gate);

    // Another secret in the environment: the same tokens are refused.
    let gate = Gate::start_env(
        &up,
        &extra,
        &[("AG_JWT_SECRET", &SECRET.replace('j', "J"))],
        false,
    );
    let r = client()
        .get(gate.url("/api/v1/workspaces/acme/runs"))
        .bearer_auth(token("https://plain.test", json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn an_expiry_within_the_leeway_is_accepted() {
    // README: `leeway = "30s"` applies to `exp` as to `nbf`. The JWT check
    // allows it, but `Authenticator::authenticate` then refuses any identity
    // whose `expires_at` is past, with no leeway.
    let up = Upstream::start();
    let extra = format!(
        "{}\n[[routes]]\npath = \"/api/v1/workspaces/{{workspace}}/runs\"\nupstream = \"echo\"\nauth = {{ accept = [\"jwt\"] }}\n",
        issuer("plain", "https://plain.test", ""),
    );
    let gate = Gate::start_env(&up, &extra, &[("AG_JWT_SECRET", SECRET)], false);
    let late = token("https://plain.test", json!({ "exp": now() - 20 }));
    let r = client()
        .get(gate.url("/api/v1/workspaces/acme/runs"))
        .bearer_auth(late)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "expired 20 s ago, inside the 30 s leeway");
}
