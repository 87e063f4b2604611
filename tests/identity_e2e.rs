//! Identity options through the real binary: peppered digests
//! (`hmac-sha256`, digest computed by openssl), `x-auth-expires-at` for keys
//! and JWTs, renamed identity headers (and spoofed copies of them dropped),
//! `hierarchical_scopes` and `any_scopes`.

mod common;

use common::*;
use serde_json::Value;

/// HMAC-SHA-256 of `data` keyed with `key`, in hex, by `openssl dgst`.
fn openssl_hmac(key: &str, data: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", key])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl is required");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(data.as_bytes())
        .unwrap();
    let out = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
    let hex = out.rsplit(' ').next().unwrap().trim().to_string();
    assert_eq!(hex.len(), 64, "{out}");
    hex
}

const ROUTE: &str = r#"
[[routes]]
path = "/api/v1/workspaces/{workspace}/runs"
upstream = "echo"
auth = { accept = ["api_key", "jwt"] }
"#;

/// GET the runs route with `bearer` (and `extra` headers); status and what
/// the upstream received (`Null` when nothing arrived).
async fn get(gate: &Gate, up: &Upstream, bearer: &str, extra: &[(&str, &str)]) -> (u16, Value) {
    up.recorder.clear();
    let mut req = client()
        .get(gate.url("/api/v1/workspaces/acme/runs"))
        .bearer_auth(bearer);
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let status = req.send().await.unwrap().status().as_u16();
    let seen = up.seen();
    (status, seen.first().cloned().unwrap_or(Value::Null))
}

#[tokio::test]
async fn peppered_digests_verify_with_the_pepper_and_only_with_it() {
    let up = Upstream::start();
    let (cred, stanza) = key("mantyx_", "api_key", "key_pep", "acme", &[], "");
    // The stored digest, computed outside authgate: HMAC-SHA-256(pepper, key).
    let pepper = "pepper-for-tests-0123456789";
    let digest = format!("hmac-sha256:{}", openssl_hmac(pepper, &cred));
    let stanza: String = stanza
        .lines()
        .map(|l| {
            if l.starts_with("digest = ") {
                format!("digest = \"{digest}\"\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    assert!(stanza.contains(&digest), "{stanza}");
    let extra = format!(
        "[credentials]\ndigest = \"hmac-sha256\"\npepper_env = \"AG_TEST_PEPPER\"\n{ROUTE}\n{stanza}"
    );
    let gate = Gate::start_env(&up, &extra, &[("AG_TEST_PEPPER", pepper)], false);
    let (status, seen) = get(&gate, &up, &cred, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(seen["headers"]["x-auth-credential-id"], "key_pep");
    drop(gate);
    // Another pepper: the same store no longer matches.
    let gate = Gate::start_env(&up, &extra, &[("AG_TEST_PEPPER", "other")], false);
    assert_eq!(get(&gate, &up, &cred, &[]).await.0, 401);
}

#[tokio::test]
async fn expiry_is_forwarded_for_keys_and_jwts() {
    let up = Upstream::start();
    let (cred, stanza) = key("mantyx_", "api_key", "key_exp", "acme", &[], "");
    let stanza = stanza.replace(
        "disabled = false",
        "disabled = false\nexpires_at = \"2099-01-01T00:00:00Z\"",
    );
    let (forever, stanza2) = key("mantyx_", "api_key", "key_forever", "acme", &[], "");
    let extra = format!(
        r#"
[[jwt.issuers]]
name = "hs"
issuer = "https://issuer.test"
audiences = ["authgate"]
algorithms = ["HS256"]
secret_file = "{}"
workspace_claim = "namespace"
{ROUTE}
{stanza}{stanza2}"#,
        fixture("jwt/keys/hs256.secret").display()
    );
    let gate = Gate::start(&up, &extra);
    let (status, seen) = get(&gate, &up, &cred, &[]).await;
    assert_eq!(status, 200);
    // 2099-01-01T00:00:00Z
    assert_eq!(seen["headers"]["x-auth-expires-at"], "4070908800");
    let (status, seen) = get(&gate, &up, &forever, &[("x-auth-expires-at", "1")]).await;
    assert_eq!(status, 200);
    assert!(
        seen["headers"].get("x-auth-expires-at").is_none(),
        "no expiry, and the spoofed one dropped: {seen}"
    );
    let jwt = jwt_case("valid_hs256");
    let (status, seen) = get(&gate, &up, &jwt, &[]).await;
    assert_eq!(status, 200);
    // The fixture tokens' exp: 2100-01-01T00:00:00Z.
    assert_eq!(seen["headers"]["x-auth-expires-at"], "4102444800");
}

fn jwt_case(name: &str) -> String {
    let cases: Vec<Value> =
        serde_json::from_slice(&std::fs::read(fixture("jwt/cases.json")).unwrap()).unwrap();
    cases.iter().find(|c| c["name"] == name).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn renamed_identity_headers_are_used_and_spoofed_copies_dropped() {
    let up = Upstream::start();
    let (cred, stanza) = key("mantyx_", "api_key", "key_ren", "acme", &["runs:read"], "");
    let stanza = stanza.replace(
        "disabled = false",
        "disabled = false\nexpires_at = \"2099-01-01T00:00:00Z\"",
    );
    let renames = [
        ("subject", "x-user-id", "subject-key_ren"),
        ("workspace", "x-tenant", "acme"),
        ("scopes", "x-perms", "runs:read"),
        ("method", "x-cred-kind", "api_key"),
        ("credential_id", "x-cred-id", "key_ren"),
        ("expires_at", "x-cred-expiry", "4070908800"),
    ];
    let mut section = String::from("[identity.headers]\n");
    for (field, name, _) in renames {
        section.push_str(&format!("{field} = \"{name}\"\n"));
    }
    let (forever, stanza2) = key("mantyx_", "api_key", "key_ren2", "acme", &[], "");
    let public = "[[routes]]\npath = \"/open\"\nupstream = \"echo\"\nauth = { public = true }\n";
    let gate = Gate::start(
        &up,
        &format!("{section}{ROUTE}\n{public}\n{stanza}{stanza2}"),
    );
    let spoofed: Vec<(&str, &str)> = renames.iter().map(|(_, n, _)| (*n, "spoofed")).collect();
    let (status, seen) = get(&gate, &up, &cred, &spoofed).await;
    assert_eq!(status, 200);
    let h = &seen["headers"];
    for (field, name, want) in renames {
        assert_eq!(h[name], want, "{field} as {name}: {h}");
        let default = format!("x-auth-{}", field.replace('_', "-"));
        assert!(h.get(&default).is_none(), "{default} still sent: {h}");
    }
    // A key without expiry: the renamed expiry header is not sent, and a
    // client's copy of it is dropped.
    let (status, seen) = get(&gate, &up, &forever, &spoofed).await;
    assert_eq!(status, 200);
    assert!(seen["headers"].get("x-cred-expiry").is_none(), "{seen}");
    // A public route: no identity, and none of the client's copies either.
    up.recorder.clear();
    let mut req = client().get(gate.url("/open"));
    for (k, v) in &spoofed {
        req = req.header(*k, *v);
    }
    assert_eq!(req.send().await.unwrap().status(), 200);
    let h = &up.seen()[0]["headers"];
    for (_, name, _) in renames {
        assert!(
            h.get(name).is_none(),
            "{name} spoofed on a public route: {h}"
        );
    }
}

#[tokio::test]
async fn hierarchical_and_any_scopes() {
    let up = Upstream::start();
    let (writer, k1) = key("mantyx_", "api_key", "key_w", "acme", &["runs:write"], "");
    let (b_reader, k2) = key("mantyx_", "api_key", "key_b", "acme", &["b:read"], "");
    let (c_reader, k3) = key("mantyx_", "api_key", "key_c", "acme", &["c:read"], "");
    let routes = r#"
[[routes]]
path = "/read"
upstream = "echo"
auth = { accept = ["api_key"], scopes = ["runs:read"] }

[[routes]]
path = "/any"
upstream = "echo"
auth = { accept = ["api_key"], any_scopes = ["a:read", "b:read"] }
"#;
    let status = |gate: &Gate, path: &str, cred: &str| {
        let url = gate.url(path);
        let cred = cred.to_string();
        async move {
            client()
                .get(url)
                .bearer_auth(cred)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let flat = Gate::start(&up, &format!("{routes}\n{k1}{k2}{k3}"));
    assert_eq!(
        status(&flat, "/read", &writer).await,
        403,
        "no hierarchy by default"
    );
    assert_eq!(status(&flat, "/any", &b_reader).await, 200);
    assert_eq!(status(&flat, "/any", &c_reader).await, 403);
    assert_eq!(status(&flat, "/any", &writer).await, 403);
    drop(flat);
    let tree = Gate::start(
        &up,
        &format!("[identity]\nhierarchical_scopes = true\n{routes}\n{k1}{k2}{k3}"),
    );
    assert_eq!(
        status(&tree, "/read", &writer).await,
        200,
        "x:write implies x:read"
    );
    assert_eq!(status(&tree, "/read", &b_reader).await, 403);
    assert_eq!(status(&tree, "/any", &c_reader).await, 403);
}
