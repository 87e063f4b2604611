//! Live reload through the real binary, beyond the main config file: a key
//! removed from `store.keys_file` stops working at once (cached verdicts
//! included), a prefix family turned to `reject` refuses its keys, a
//! request in flight finishes on the config it started with, and a refused
//! reload logs every error with its key path.

mod common;

use common::*;
use std::time::Duration;

/// Mint an API key; returns the credential and its `store.keys_file` line.
fn json_key(id: &str) -> (String, String) {
    let k = authgate::credential::CredentialKind::ApiKey;
    let args =
        authgate::credential::cli::CreateArgs::new(k, id, &format!("subject-{id}"), "acme", &[]);
    let m = authgate::credential::cli::mint_record(
        "mantyx_",
        k,
        &authgate::credential::digest::Digester::Sha256,
        &args,
    );
    let line = serde_json::to_string(&m.record).unwrap();
    (m.credential.expose().to_string(), line)
}

/// Write `text` to `path` by rename, so the watcher never sees half a file.
fn replace(path: &std::path::Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

async fn status(c: &reqwest::Client, url: &str, bearer: &str) -> u16 {
    let r = c.get(url).bearer_auth(bearer).send().await.unwrap();
    r.status().as_u16()
}

/// Poll until `url` with `bearer` answers `want` (within 5 s).
async fn until_status(c: &reqwest::Client, url: &str, bearer: &str, want: u16) -> bool {
    eventually(Duration::from_secs(5), || async {
        status(c, url, bearer).await == want
    })
    .await
}

#[tokio::test]
async fn a_key_removed_from_the_keys_file_stops_working_at_once() {
    let up = Upstream::start();
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.jsonl");
    let (a, line_a) = json_key("key_a");
    let (b, line_b) = json_key("key_b");
    std::fs::write(&keys, format!("{line_a}\n{line_b}\n")).unwrap();
    let extra = format!(
        "[store]\nkeys_file = \"{}\"\n\n[[routes]]\npath = \"/k\"\nupstream = \"echo\"\nauth = {{ accept = [\"api_key\"] }}\n",
        keys.display()
    );
    let gate = Gate::start(&up, &extra);
    let c = client();
    let url = gate.url("/k");
    // Both work, and key_a's verdict is now cached.
    assert_eq!(status(&c, &url, &a).await, 200);
    assert_eq!(status(&c, &url, &a).await, 200);
    assert_eq!(status(&c, &url, &b).await, 200);
    gate.until_watching().await;

    // Only the keys file changes: key_a is revoked, key_b stays.
    replace(&keys, &format!("{line_b}\n"));
    assert!(
        until_status(&c, &url, &a, 401).await,
        "a removed key kept working"
    );
    assert_eq!(status(&c, &url, &b).await, 200);

    // A broken keys file is refused whole: key_b keeps working, key_a stays out.
    replace(&keys, &format!("{line_b}\nnot json\n"));
    let admin = gate.admin_url("/metrics");
    let refused = eventually(Duration::from_secs(5), || async {
        let text = c.get(&admin).send().await.unwrap().text().await.unwrap();
        text.contains(r#"authgate_config_reloads_total{outcome="error"} 1"#)
    })
    .await;
    assert!(refused, "the broken keys file was not refused");
    assert_eq!(status(&c, &url, &b).await, 200);
    assert_eq!(status(&c, &url, &a).await, 401);
}

#[tokio::test]
async fn a_key_removed_from_the_jwks_file_stops_working_at_once() {
    let up = Upstream::start();
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    std::fs::copy(fixture("jwt/jwks.json"), &jwks).unwrap();
    let extra = format!(
        r#"
[[jwt.issuers]]
name = "file"
issuer = "https://issuer.test"
audiences = ["authgate"]
algorithms = ["RS256"]
jwks_file = "{}"
workspace_claim = "namespace"

[[routes]]
path = "/j"
upstream = "echo"
auth = {{ accept = ["jwt"] }}
"#,
        jwks.display()
    );
    let gate = Gate::start(&up, &extra);
    gate.until_watching().await;
    let c = client();
    let url = gate.url("/j");
    let (old, new) = (
        fixture_token("valid_rs256_jwks"),
        fixture_token("rotated_rs256"),
    );
    assert_eq!(status(&c, &url, &old).await, 200);
    assert_eq!(status(&c, &url, &new).await, 401);
    // The rotated set drops rsa-1 and adds rsa-2.
    replace(
        &jwks,
        &std::fs::read_to_string(fixture("jwt/jwks_rotated.json")).unwrap(),
    );
    assert!(
        until_status(&c, &url, &old, 401).await,
        "a removed JWK kept working"
    );
    assert_eq!(status(&c, &url, &new).await, 200);
}

#[tokio::test]
async fn a_request_in_flight_finishes_on_the_config_it_started_with() {
    use std::io::{Read, Write};
    let up = Upstream::start();
    let signer = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    let stamp_key = format!(
        "[[keys]]\nid = \"stamp_old\"\nkind = \"stamp\"\nscheme = \"ed25519\"\npublic_key = \"{}\"\nsubject = \"wallet\"\nworkspace = \"acme\"\n",
        hex::encode(signer.verifying_key().to_bytes())
    );
    let routes =
        "[[routes]]\npath = \"/s\"\nupstream = \"echo\"\nauth = { accept = [\"stamp\"] }\n";
    let gate = Gate::start(&up, &format!("{routes}\n{stamp_key}"));
    gate.until_watching().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let body = format!(r#"{{"timestampMs":{now},"op":"in-flight"}}"#);
    let stamp = authgate::demo::ed25519_stamp(&signer, &body);
    // Admitted under the first config: head and half the body are sent.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", gate.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "POST /s HTTP/1.1\r\nHost: x\r\nX-Stamp: {stamp}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        &body[..body.len() / 2]
    )
    .unwrap();
    // The new config no longer knows the key; a marker route shows it is live.
    let base = std::fs::read_to_string(&gate.config).unwrap();
    let base = base.replace(&stamp_key, "");
    gate.rewrite(&format!(
        "{base}\n[[routes]]\npath = \"/marker\"\nupstream = \"echo\"\nauth = {{ public = true }}\n"
    ));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let marker = "GET /marker HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    while raw_request(gate.port, marker).0 != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "the reload never happened"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The rest of the body: the request completes with the key it started with.
    s.write_all(&body.as_bytes()[body.len() / 2..]).unwrap();
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let stamped: Vec<_> = up
        .seen()
        .into_iter()
        .filter(|r| r["path"] == "/s")
        .collect();
    assert_eq!(stamped.len(), 1);
    assert_eq!(stamped[0]["headers"]["x-auth-credential-id"], "stamp_old");
    assert_eq!(stamped[0]["body"]["text"], body.as_str());
    // A new request with that key is refused under the new config.
    let body2 = body.replace("in-flight", "after");
    let req = format!(
        "POST /s HTTP/1.1\r\nHost: x\r\nX-Stamp: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body2}",
        authgate::demo::ed25519_stamp(&signer, &body2),
        body2.len()
    );
    let (status, text) = raw_request(gate.port, &req);
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("unknown_key"), "{text}");
}

#[tokio::test]
async fn a_refused_reload_logs_every_error_with_its_key_path() {
    let up = Upstream::start();
    let gate = Gate::start_logged(
        &up,
        "[[routes]]\npath = \"/p\"\nupstream = \"echo\"\nauth = { public = true }\n",
    );
    let base = std::fs::read_to_string(&gate.config).unwrap();
    gate.until_watching().await;
    gate.rewrite(&format!(
        "{base}\n[cache]\nmax_entries = 0\n\n[[routes]]\npath = \"/q\"\nupstream = \"nowhere\"\nauth = {{ public = true }}\n"
    ));
    let want = [
        ("cache.max_entries", "must be at least 1"),
        ("routes[1].upstream", "no upstream named 'nowhere'"),
    ];
    let logged = |log: &str| {
        want.iter().all(|(key, msg)| {
            log.lines().any(|l| {
                l.contains("config reload refused")
                    && l.contains(&format!("\"key\":\"{key}\""))
                    && l.contains(msg)
            })
        })
    };
    let ok = eventually(Duration::from_secs(5), || async { logged(&gate.log()) }).await;
    assert!(
        ok,
        "errors not logged with their key paths:\n{}",
        gate.log()
    );
    // And the running config stayed.
    let r = client().get(gate.url("/p")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_prefix_family_turned_to_reject_refuses_its_keys_after_reload() {
    let up = Upstream::start();
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.jsonl");
    let (a, line_a) = json_key("key_p");
    std::fs::write(&keys, format!("{line_a}\n")).unwrap();
    let extra = format!(
        "[store]\nkeys_file = \"{}\"\n\n[[routes]]\npath = \"/k\"\nupstream = \"echo\"\nauth = {{ accept = [\"api_key\"] }}\n",
        keys.display()
    );
    let gate = Gate::start(&up, &extra);
    let c = client();
    let url = gate.url("/k");
    // Verified and cached under the api_key family.
    assert_eq!(status(&c, &url, &a).await, 200);
    assert_eq!(status(&c, &url, &a).await, 200);
    gate.until_watching().await;
    let original = std::fs::read_to_string(&gate.config).unwrap();
    let rejected = original.replacen(
        "prefix = \"mantyx_\"\nkind = \"api_key\"",
        "prefix = \"mantyx_\"\nkind = \"reject\"",
        1,
    );
    assert_ne!(original, rejected, "the family is in the base config");
    gate.rewrite(&rejected);
    assert!(
        until_status(&c, &url, &a, 401).await,
        "the rejected family's key kept working"
    );
    // And back: the family verifies again.
    gate.rewrite(&original);
    assert!(until_status(&c, &url, &a, 200).await);
}
