//! Credentials end to end through the real proxy: every carrier and kind
//! allowed, every refusal refused, and what the upstream received (nothing,
//! on refusal).

mod common;

use common::*;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use std::time::Duration;

struct Setup {
    up: Upstream,
    gate: Gate,
    api: String,
    token: String,
    server: String,
    disabled: String,
    expired: String,
}

fn routes() -> String {
    format!(
        r#"
[[jwt.issuers]]
name = "test"
issuer = "https://issuer.test"
audiences = ["authgate"]
algorithms = ["HS256"]
secret_file = "{}"
workspace_claim = "namespace"

[[routes]]
path = "/api/v1/workspaces/{{workspace}}/agent-runs"
upstream = "echo"
auth = {{ accept = ["api_key", "access_token", "jwt"], scopes = ["runs:read"] }}

[[routes]]
path = "/internal/{{*rest}}"
upstream = "echo"
auth = {{ accept = ["server_key"] }}

[[routes]]
path = "/browser"
upstream = "echo"
auth = {{ accept = ["api_key", "access_token"] }}
"#,
        fixture("jwt/keys/hs256.secret").display()
    )
}

fn setup() -> Setup {
    let up = Upstream::start();
    let (api, k1) = key("mantyx_", "api_key", "key_api", "acme", &[], "");
    let (token, k2) = key(
        "mantyx_at_",
        "access_token",
        "tok_reader",
        "acme",
        &["runs:read"],
        "",
    );
    let (server, k3) = key("sk_live_", "server_key", "sk_backend", "acme", &[], "");
    let (disabled, k4) = key("mantyx_", "api_key", "key_disabled", "acme", &[], "");
    let k4 = k4.replace("disabled = false", "disabled = true");
    let (expired, k5) = key("mantyx_", "api_key", "key_expired", "acme", &[], "");
    let k5 = k5.replace(
        "disabled = false",
        "disabled = false\nexpires_at = \"2020-01-01T00:00:00Z\"",
    );
    let gate = Gate::start(&up, &format!("{}\n{k1}{k2}{k3}{k4}{k5}", routes()));
    Setup {
        up,
        gate,
        api,
        token,
        server,
        disabled,
        expired,
    }
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_bytes(v.as_bytes()).unwrap(),
        );
    }
    h
}

/// (name, path, headers, expected status or method, expected body text or credential id)
type Case<'a, T> = (&'a str, &'a str, Vec<(&'a str, String)>, T, &'a str);

const RUNS: &str = "/api/v1/workspaces/acme/agent-runs";

#[tokio::test]
async fn every_carrier_and_kind_is_accepted_and_identity_forwarded() {
    let s = setup();
    let c = client();
    let jwt = fixture_token("valid_hs256");
    let allowed: Vec<Case<'_, &str>> = vec![
        (
            "bearer api key",
            RUNS,
            vec![("authorization", format!("Bearer {}", s.api))],
            "api_key",
            "key_api",
        ),
        (
            "apikey scheme",
            RUNS,
            vec![("authorization", format!("ApiKey {}", s.api))],
            "api_key",
            "key_api",
        ),
        (
            "x-api-key token",
            RUNS,
            vec![("x-api-key", s.token.clone())],
            "access_token",
            "tok_reader",
        ),
        (
            "same twice",
            RUNS,
            vec![
                ("authorization", format!("bearer {}", s.api)),
                ("x-api-key", s.api.clone()),
            ],
            "api_key",
            "key_api",
        ),
        (
            "server key",
            "/internal/jobs",
            vec![("x-server-key", s.server.clone())],
            "server_key",
            "sk_backend",
        ),
        (
            "jwt",
            RUNS,
            vec![("authorization", format!("Bearer {jwt}"))],
            "jwt",
            "jwt:",
        ),
    ];
    for (name, path, hs, method, cred_id) in allowed {
        s.up.recorder.clear();
        let mut hs: Vec<(&str, &str)> = hs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        // Spoofed identity headers must never reach the upstream.
        hs.push(("x-auth-subject", "root"));
        hs.push(("X-Auth-Workspace", "evil"));
        let r = c
            .get(s.gate.url(path))
            .headers(headers(&hs))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{name}");
        let seen = s.up.seen();
        assert_eq!(seen.len(), 1, "{name}");
        let h = &seen[0]["headers"];
        assert_eq!(h["x-auth-method"], method, "{name}");
        assert!(
            h["x-auth-credential-id"]
                .as_str()
                .unwrap()
                .starts_with(cred_id),
            "{name}"
        );
        assert_eq!(h["x-auth-workspace"], "acme", "{name}");
        // The subject of the credential, not the spoofed one (nor none): keys
        // minted by `common::key` carry `subject-<id>`; the fixture JWT's `sub`.
        let subject = if method == "jwt" {
            "user-123".to_string()
        } else {
            format!("subject-{cred_id}")
        };
        assert_eq!(h["x-auth-subject"], subject.as_str(), "{name}");
        for cred_header in ["authorization", "x-api-key", "x-server-key"] {
            assert!(
                h.get(cred_header).is_none(),
                "{name}: {cred_header} forwarded"
            );
        }
    }
}

#[tokio::test]
async fn every_refusal_is_refused_before_the_upstream() {
    let s = setup();
    let c = client();
    let (unknown, _) = key("mantyx_", "api_key", "key_unknown", "acme", &[], "");
    let mut typo = s.api.clone().into_bytes();
    let i = typo.len() - 10;
    typo[i] = if typo[i] == b'a' { b'b' } else { b'a' };
    let typo = String::from_utf8(typo).unwrap();
    let huge = format!("mantyx_{}", "a".repeat(5000));
    let cases: Vec<Case<'_, u16>> = vec![
        (
            "none",
            RUNS,
            vec![],
            401,
            "API key or OAuth access token required",
        ),
        (
            "unknown key",
            RUNS,
            vec![("authorization", format!("Bearer {unknown}"))],
            401,
            "Invalid API key",
        ),
        (
            "typo (checksum)",
            RUNS,
            vec![("authorization", format!("Bearer {typo}"))],
            401,
            "Invalid API key",
        ),
        (
            "refresh token",
            RUNS,
            vec![("authorization", "Bearer mantyx_rt_abcdef".into())],
            401,
            "Invalid API key",
        ),
        (
            "unknown prefix",
            RUNS,
            vec![("authorization", "Bearer pk_live_abc".into())],
            401,
            "Invalid API key",
        ),
        (
            "disabled",
            RUNS,
            vec![("authorization", format!("Bearer {}", s.disabled))],
            401,
            "Invalid API key",
        ),
        (
            "expired key",
            RUNS,
            vec![("authorization", format!("Bearer {}", s.expired))],
            401,
            "Invalid API key",
        ),
        (
            "two different",
            RUNS,
            vec![
                ("authorization", format!("Bearer {}", s.api)),
                ("x-api-key", s.token.clone()),
            ],
            400,
            "ambiguous_credentials",
        ),
        (
            "empty bearer",
            RUNS,
            vec![("authorization", "Bearer ".into())],
            400,
            "invalid_request",
        ),
        (
            "oversize",
            RUNS,
            vec![("x-api-key", huge)],
            400,
            "maximum size",
        ),
        (
            "non-ascii",
            RUNS,
            vec![("x-api-key", "mantyx_k\u{e4}y".into())],
            400,
            "visible ASCII",
        ),
        (
            "basic scheme",
            RUNS,
            vec![("authorization", "Basic dXNlcjpwYXNz".into())],
            400,
            "Authorization scheme",
        ),
        (
            "server key as bearer on browser route",
            "/browser",
            vec![("authorization", format!("Bearer {}", s.server))],
            401,
            "accepts: api_key, access_token",
        ),
        (
            "api key on backend route",
            "/internal/x",
            vec![("authorization", format!("Bearer {}", s.api))],
            401,
            "accepts: server_key",
        ),
        (
            "api key in x-server-key",
            "/internal/x",
            vec![("x-server-key", s.api.clone())],
            401,
            "Invalid API key",
        ),
        (
            "expired jwt",
            RUNS,
            vec![(
                "authorization",
                format!("Bearer {}", fixture_token("expired")),
            )],
            401,
            "Invalid API key",
        ),
        (
            "alg none",
            RUNS,
            vec![(
                "authorization",
                format!("Bearer {}", fixture_token("alg_none")),
            )],
            401,
            "Invalid API key",
        ),
        (
            "tampered jwt",
            RUNS,
            vec![(
                "authorization",
                format!("Bearer {}", fixture_token("tampered")),
            )],
            401,
            "Invalid API key",
        ),
        (
            "other workspace",
            "/api/v1/workspaces/other/agent-runs",
            vec![("authorization", format!("Bearer {}", s.api))],
            404,
            "belongs to workspace 'acme'",
        ),
    ];
    for (name, path, hs, status, needle) in cases {
        let hs: Vec<(&str, &str)> = hs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = c
            .get(s.gate.url(path))
            .headers(headers(&hs))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{name}");
        let www = r
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_string());
        let body = r.text().await.unwrap();
        assert!(body.contains(needle), "{name}: {body}");
        for secret in [&s.api, &s.token, &s.server] {
            assert!(
                !body.contains(secret.as_str()),
                "{name}: body echoes a credential"
            );
        }
        if status == 401 {
            assert!(www.is_some(), "{name}: 401 without WWW-Authenticate");
        }
    }
    assert!(
        s.up.seen().is_empty(),
        "a refused request reached the upstream: {:?}",
        s.up.seen()
    );
}

#[tokio::test]
async fn unknown_keys_are_negatively_cached_and_reload_revokes_at_once() {
    let s = setup();
    let c = client();
    let (unknown, _) = key("mantyx_", "api_key", "key_unknown", "acme", &[], "");
    for _ in 0..5 {
        let r = c
            .get(s.gate.url(RUNS))
            .bearer_auth(&unknown)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let metrics = c
        .get(s.gate.admin_url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"authgate_verifications_total{outcome="unknown",verifier="api_key"} 1"#),
        "the store was asked more than once:\n{metrics}"
    );

    // Warm the cache with the key, then remove it from the config.
    assert_eq!(
        c.get(s.gate.url(RUNS))
            .bearer_auth(&s.api)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let text = std::fs::read_to_string(&s.gate.config).unwrap();
    let without: String = text
        .split("[[keys]]")
        .filter(|stanza| !stanza.contains("\"key_api\""))
        .collect::<Vec<_>>()
        .join("[[keys]]");
    assert!(!without.contains("key_api"));
    s.gate.rewrite(&without);
    let url = s.gate.url(RUNS);
    let api = s.api.clone();
    let revoked = eventually(Duration::from_secs(5), || {
        let (c, url, api) = (c.clone(), url.clone(), api.clone());
        async move { c.get(&url).bearer_auth(&api).send().await.unwrap().status() == 401 }
    })
    .await;
    assert!(revoked, "a removed key kept working from the cache");
    // Other keys keep working.
    assert_eq!(
        c.get(s.gate.url(RUNS))
            .bearer_auth(&s.token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[test]
fn refusals_keep_the_connection_alive() {
    use std::io::{BufRead, BufReader, Read, Write};
    let s = setup();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", s.gate.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let req = "GET /api/v1/workspaces/acme/agent-runs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer mantyx_rt_x\r\n\r\n";
    for round in 0..3 {
        stream.write_all(req.as_bytes()).unwrap();
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        assert!(
            status.starts_with("HTTP/1.1 401"),
            "round {round}: {status}"
        );
        let mut len = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let lower = line.to_ascii_lowercase();
            assert!(
                !lower.starts_with("connection: close"),
                "round {round}: refusal closed the connection"
            );
            if let Some(v) = lower.strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; len];
        reader.read_exact(&mut body).unwrap();
    }
}

#[tokio::test]
async fn access_log_has_one_line_per_request_and_never_a_credential() {
    let up = Upstream::start();
    let (api, k1) = key("mantyx_", "api_key", "key_logged", "acme", &[], "");
    let gate = Gate::start_logged(&up, &format!("{}\n{k1}", routes()));
    let c = client();
    assert_eq!(
        c.get(gate.url(RUNS))
            .bearer_auth(&api)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let bogus = "mantyx_rt_this-must-not-be-logged";
    assert_eq!(
        c.get(gate.url(RUNS))
            .bearer_auth(bogus)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let ok = eventually(Duration::from_secs(3), || {
        let log = gate.log();
        async move {
            log.lines()
                .filter(|l| l.contains("\"target\":\"access\""))
                .count()
                >= 2
        }
    })
    .await;
    let log = gate.log();
    assert!(
        ok,
        "no access lines in {}:\n{log}",
        gate.dir.path().display()
    );
    let lines: Vec<Value> = log
        .lines()
        .filter(|l| l.contains("\"target\":\"access\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert_eq!(lines[0]["status"], 200);
    assert_eq!(lines[0]["auth"], "allowed");
    assert_eq!(lines[0]["credential_id"], "key_logged");
    assert_eq!(lines[0]["upstream"], "echo");
    assert!(lines[0]["latency_us"].as_u64().is_some());
    assert!(lines[0]["route"].as_str().unwrap().contains("agent-runs"));
    assert_eq!(lines[1]["status"], 401);
    assert_eq!(lines[1]["auth"], "rejected_family");
    assert!(
        !log.contains(&api) && !log.contains(bogus),
        "a credential was logged:\n{log}"
    );
}

#[test]
fn keys_create_prints_the_key_once_and_a_digest_only_stanza() {
    let conf = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/authgate.toml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_authgate"))
        .args([
            "keys",
            "create",
            "--kind",
            "access_token",
            "--workspace",
            "acme",
            "--scopes",
            "runs:read,runs:write",
            "--id",
            "tok_cli",
            "--config",
        ])
        .arg(&conf)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let credential = text
        .lines()
        .find(|l| l.starts_with("mantyx_at_"))
        .expect("the key is printed");
    assert_eq!(
        text.matches(credential).count(),
        1,
        "the key must be printed exactly once"
    );
    assert!(authgate::credential::mint::checksum_ok(
        credential,
        "mantyx_at_"
    ));
    let stanza = &text[text.find("[[keys]]").unwrap()..];
    // The digest, computed outside authgate (coreutils `sha256sum`).
    let digest = format!("sha256:{}", sha256sum(credential));
    assert!(stanza.contains(&digest), "{stanza}");
    assert!(
        stanza.contains("scopes = [\"runs:read\", \"runs:write\"]"),
        "{stanza}"
    );
    assert!(stanza.contains("kind = \"access_token\""), "{stanza}");
}

/// SHA-256 hex of `text` by coreutils' `sha256sum`: an independent known answer.
fn sha256sum(text: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("sha256sum (coreutils) is required");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let hex = String::from_utf8(out.stdout).unwrap();
    let hex = hex.split_whitespace().next().unwrap().to_string();
    assert_eq!(hex.len(), 64, "{hex}");
    hex
}
