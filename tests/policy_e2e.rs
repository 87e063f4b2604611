//! Policy and forwarding end to end: usage tags, allow-lists, scopes,
//! workspace binding, mixed-auth routes, the signed identity assertion
//! (verified against the JWKS authgate serves), and forwarding headers.

mod common;

use common::*;
use jsonwebtoken::jwk::JwkSet;
use serde_json::Value;

struct Setup {
    up: Upstream,
    gate: Gate,
    api: String,
    reader: String,
    server: String,
    _keydir: tempfile::TempDir,
}

fn setup(extra_identity: &str) -> Setup {
    let up = Upstream::start();
    let keydir = tempfile::tempdir().unwrap();
    let key_path = keydir.path().join("assertion.pem");
    authgate::assertion::generate_key(&key_path).unwrap();
    let (api, k1) = key(
        "mantyx_",
        "api_key",
        "key_dev",
        "acme",
        &[],
        "usage = \"developer_api\"",
    );
    let k1 = k1.replace("allow = []", "allow = [\"agent-1\"]");
    let (reader, k2) = key(
        "mantyx_at_",
        "access_token",
        "tok_reader",
        "acme",
        &["runs:read", "agents:read"],
        "",
    );
    let (server, k3) = key("sk_live_", "server_key", "sk_backend", "acme", &[], "");
    let cfg = format!(
        r#"
[identity]
trusted_proxies = [{extra_identity}]
[identity.assertion]
key_file = "{}"
kid = "test-kid"
audience = "echo"

[[routes]]
path = "/api/v1/workspaces/{{workspace}}/agents/{{agent_id}}"
methods = ["GET"]
upstream = "echo"
auth = {{ accept = ["api_key", "access_token"], scopes = ["agents:read"], usage = "developer_api", allow_param = "agent_id" }}

[[routes]]
path = "/api/v1/workspaces/{{workspace}}/invoices"
upstream = "echo"
auth = {{ accept = ["api_key"], usage = "billing" }}

[[routes]]
path = "/api/v1/workspaces/{{workspace}}/agent-runs"
methods = ["POST"]
upstream = "echo"
auth = {{ accept = ["api_key", "access_token"], scopes = ["runs:write"] }}

[[routes]]
name = "sessions read"
path = "/api/v1/workspaces/{{workspace}}/sessions"
methods = ["GET"]
upstream = "echo"
auth = {{ accept = ["access_token"], scopes = ["runs:read"] }}

[[routes]]
name = "sessions backend"
path = "/api/v1/workspaces/{{workspace}}/sessions"
methods = ["POST"]
upstream = "echo"
auth = {{ accept = ["server_key"] }}

[[routes]]
path = "/passthrough"
upstream = "echo"
auth = {{ accept = ["access_token"], forward_credentials = true }}

{k1}{k2}{k3}"#,
        key_path.display()
    );
    let gate = Gate::start(&up, &cfg);
    Setup {
        up,
        gate,
        api,
        reader,
        server,
        _keydir: keydir,
    }
}

#[tokio::test]
async fn allowed_requests_carry_a_verifiable_assertion_and_clean_headers() {
    let s = setup("");
    let c = client();
    let path = "/api/v1/workspaces/acme/agents/agent-1";
    let r = c
        .get(s.gate.url(path))
        .bearer_auth(&s.reader)
        .header("x-auth-assertion", "forged")
        .header("x-forwarded-for", "6.6.6.6")
        .header("forwarded", "for=6.6.6.6")
        .header("x-request-id", "req-abc")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let seen = s.up.seen();
    let h = &seen[0]["headers"];
    assert_eq!(h["x-auth-subject"], "subject-tok_reader");
    assert_eq!(h["x-auth-workspace"], "acme");
    assert_eq!(h["x-auth-scopes"], "runs:read agents:read");
    assert_eq!(h["x-auth-method"], "access_token");
    assert_eq!(h["x-auth-credential-id"], "tok_reader");
    assert_eq!(h["x-request-id"], "req-abc");
    assert_eq!(
        h["x-forwarded-for"], "127.0.0.1",
        "an untrusted peer's XFF must be replaced"
    );
    assert_eq!(h["forwarded"], "for=127.0.0.1;proto=http");
    assert!(h.get("authorization").is_none());

    let jwks: JwkSet = c
        .get(s.gate.admin_url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwk = jwks.find("test-kid").expect("kid served");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    v.set_audience(&["echo"]);
    v.set_issuer(&["authgate"]);
    let token = h["x-auth-assertion"].as_str().unwrap();
    assert_ne!(token, "forged");
    let claims = jsonwebtoken::decode::<Value>(token, &key, &v)
        .unwrap()
        .claims;
    assert_eq!(claims["sub"], "subject-tok_reader");
    assert_eq!(claims["workspace"], "acme");
    assert_eq!(claims["htm"], "GET");
    assert_eq!(claims["htu"], path);
    assert_eq!(claims["cid"], "tok_reader");
    assert_eq!(claims["jti"], "req-abc");

    // A route that forwards credentials keeps them.
    s.up.recorder.clear();
    assert_eq!(
        c.get(s.gate.url("/passthrough"))
            .bearer_auth(&s.reader)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        s.up.seen()[0]["headers"]["authorization"],
        format!("Bearer {}", s.reader)
    );
}

#[tokio::test]
async fn trusted_proxies_keep_and_extend_forwarding_headers() {
    let s = setup("\"127.0.0.0/8\"");
    let r = client()
        .get(s.gate.url("/api/v1/workspaces/acme/agents/agent-1"))
        .bearer_auth(&s.reader)
        .header("x-forwarded-for", "1.2.3.4")
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let h = &s.up.seen()[0]["headers"];
    assert_eq!(h["x-forwarded-for"], "1.2.3.4, 127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "https");
}

#[tokio::test]
async fn each_policy_refusal_has_its_status_body_and_headers() {
    let s = setup("");
    let c = client();
    let ws = "/api/v1/workspaces";
    struct Case<'a> {
        name: &'a str,
        method: reqwest::Method,
        path: String,
        cred: (&'a str, &'a str),
        status: u16,
        body: &'a str,
        www: Option<&'a str>,
    }
    let get = reqwest::Method::GET;
    let post = reqwest::Method::POST;
    let cases = vec![
        Case {
            name: "usage",
            method: get.clone(),
            path: format!("{ws}/acme/invoices"),
            cred: ("authorization", &s.api),
            status: 403,
            body: "\"hint\":\"This key is for 'developer_api'",
            www: None,
        },
        Case {
            name: "allow-list",
            method: get.clone(),
            path: format!("{ws}/acme/agents/agent-2"),
            cred: ("authorization", &s.api),
            status: 403,
            body: "may only reach the agent_id values",
            www: None,
        },
        Case {
            name: "scope",
            method: post.clone(),
            path: format!("{ws}/acme/agent-runs"),
            cred: ("authorization", &s.reader),
            status: 403,
            body: r#"{"error":"insufficient_scope","required":"runs:write"}"#,
            www: Some(r#"Bearer error="insufficient_scope", scope="runs:write""#),
        },
        Case {
            name: "workspace",
            method: get.clone(),
            path: format!("{ws}/other/agents/agent-1"),
            cred: ("authorization", &s.reader),
            status: 404,
            body: r#"{"error":"Workspace path does not match this credential","hint":"This credential belongs to workspace 'acme'"}"#,
            www: None,
        },
        Case {
            name: "mixed: token on backend POST",
            method: post.clone(),
            path: format!("{ws}/acme/sessions"),
            cred: ("authorization", &s.reader),
            status: 401,
            body: "This route accepts: server_key",
            www: Some(r#"Bearer realm="authgate""#),
        },
        Case {
            name: "mixed: server key on GET",
            method: get.clone(),
            path: format!("{ws}/acme/sessions"),
            cred: ("x-server-key", &s.server),
            status: 401,
            body: "This route accepts: access_token",
            www: Some(r#"Bearer realm="authgate""#),
        },
        Case {
            name: "missing",
            method: get.clone(),
            path: format!("{ws}/acme/sessions"),
            cred: ("x-nothing", "x"),
            status: 401,
            body: r#"{"error":"Unauthorized","message":"API key or OAuth access token required"}"#,
            www: Some(r#"Bearer realm="authgate""#),
        },
        Case {
            name: "invalid",
            method: get.clone(),
            path: format!("{ws}/acme/sessions"),
            cred: (
                "authorization",
                "mantyx_at_000000000000000000000000000000000000",
            ),
            status: 401,
            body: r#"{"error":"Invalid API key or OAuth access token"}"#,
            www: Some(r#"Bearer error="invalid_token""#),
        },
    ];
    for case in cases {
        let value = if case.cred.0 == "authorization" {
            format!("Bearer {}", case.cred.1)
        } else {
            case.cred.1.to_string()
        };
        let r = c
            .request(case.method, s.gate.url(&case.path))
            .header(case.cred.0, value)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), case.status, "{}", case.name);
        assert_eq!(
            r.headers()["content-type"],
            "application/json",
            "{}",
            case.name
        );
        assert_eq!(
            r.headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap()),
            case.www,
            "{}",
            case.name
        );
        let body = r.text().await.unwrap();
        assert!(body.contains(case.body), "{}: {body}", case.name);
    }
    assert!(s.up.seen().is_empty(), "refusals reached the upstream");

    // The mixed-auth route's other half works.
    let r = c
        .post(s.gate.url(&format!("{ws}/acme/sessions")))
        .header("x-server-key", &s.server)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .get(s.gate.url(&format!("{ws}/acme/sessions")))
        .bearer_auth(&s.reader)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
