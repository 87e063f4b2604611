//! Routes authgate answers itself (`handler = …`): the route's auth applies,
//! the handler sees the verified identity, nothing reaches the upstream.

mod common;

use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn built_in_routes_answer_after_auth_and_never_forward() {
    let up = Upstream::start();
    let (api, stanza) = key("mantyx_", "api_key", "key_who", "acme", &["runs:read"], "");
    let extra = format!(
        r#"
[[routes]]
path = "/auth/whoami"
handler = "whoami"
auth = {{ accept = ["api_key"] }}

[[routes]]
path = "/auth/health"
handler = "health"
auth = {{ public = true }}

[[routes]]
path = "/.well-known/jwks.json"
handler = "jwks"
auth = {{ public = true }}
{stanza}"#
    );
    let gate = Gate::start(&up, &extra);
    let c = client();
    let r = c
        .get(gate.url("/auth/whoami"))
        .bearer_auth(&api)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({"authenticated": true, "subject": "subject-key_who", "workspace": "acme",
               "scopes": ["runs:read"], "method": "api_key", "credential_id": "key_who",
               "expires_at": null})
    );
    let r = c.get(gate.url("/auth/whoami")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .get(gate.url("/auth/whoami"))
        .bearer_auth("mantyx_unknown")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let health: Value = c
        .get(gate.url("/auth/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health, json!({"status": "ok"}));
    let jwks: Value = c
        .get(gate.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks, json!({"keys": []}), "no assertion key configured");
    assert!(up.seen().is_empty(), "nothing was forwarded");
}

#[test]
fn a_route_names_an_upstream_or_a_handler() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    let route = |target: &str| {
        format!(
            "[upstreams.echo]\nbackends = [\"127.0.0.1:1\"]\n[[routes]]\npath = \"/x\"\n{target}\nauth = {{ public = true }}\n"
        )
    };
    for (target, key) in [
        (
            "upstream = \"echo\"\nhandler = \"whoami\"",
            "routes[0].handler",
        ),
        ("handler = \"teapot\"", "routes[0].handler"),
        ("", "routes[0].upstream"),
    ] {
        std::fs::write(&path, route(target)).unwrap();
        let errs = authgate::config::load_with(&path, None).unwrap_err();
        let paths: Vec<&str> = errs.0.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, [key], "{target}");
    }
}
