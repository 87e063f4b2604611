//! What the upstream is told about the client, through the real binary:
//! `X-Forwarded-*` and `Forwarded` kept and appended to from trusted proxies,
//! replaced from anyone else; and the signed identity assertion's claims and
//! header, with a key made by `authgate keys assertion-key`.

mod common;

use common::*;
use jsonwebtoken::jwk::JwkSet;
use serde_json::Value;

const ROUTE: &str = r#"
[[routes]]
path = "/r"
upstream = "echo"
auth = { accept = ["access_token"] }
"#;

/// A gate with `identity` settings and one access token; returns the token.
fn gate(up: &Upstream, identity: &str) -> (Gate, String) {
    let (token, stanza) = key(
        "mantyx_at_",
        "access_token",
        "tok_fwd",
        "acme",
        &["runs:read", "agents:read"],
        "",
    );
    let gate = Gate::start(up, &format!("[identity]\n{identity}\n{ROUTE}\n{stanza}"));
    (gate, token)
}

/// Send one raw request to `/r` with `token` and `extra` header lines; the
/// headers the upstream received.
fn forwarded_headers(gate: &Gate, up: &Upstream, token: &str, extra: &str) -> Value {
    up.recorder.clear();
    let req = format!(
        "GET /r HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n{extra}Connection: close\r\n\r\n"
    );
    let (status, text) = raw_request(gate.port, &req);
    assert_eq!(status, 200, "{text}");
    let seen = up.seen();
    assert_eq!(seen.len(), 1);
    seen[0]["headers"].clone()
}

const INBOUND: &str = "X-Forwarded-For: 203.0.113.7, 10.0.0.2\r\n\
                       X-Forwarded-Proto: https\r\n\
                       X-Forwarded-Host: api.example.com\r\n\
                       Forwarded: for=203.0.113.7;proto=https, for=10.0.0.2\r\n";

#[tokio::test]
async fn a_trusted_proxy_s_forwarding_headers_are_kept_and_appended_to() {
    let up = Upstream::start();
    let (gate, token) = gate(&up, "trusted_proxies = [\"10.0.0.0/8\", \"127.0.0.0/8\"]");
    let h = forwarded_headers(&gate, &up, &token, INBOUND);
    assert_eq!(h["x-forwarded-for"], "203.0.113.7, 10.0.0.2, 127.0.0.1");
    assert_eq!(
        h["forwarded"],
        "for=203.0.113.7;proto=https, for=10.0.0.2, for=127.0.0.1;proto=http"
    );
    assert_eq!(
        h["x-forwarded-proto"], "https",
        "the proxy's scheme is kept"
    );
    // Without inbound values, authgate's own are sent.
    let h = forwarded_headers(&gate, &up, &token, "");
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    assert_eq!(h["forwarded"], "for=127.0.0.1;proto=http");
    assert_eq!(h["x-forwarded-proto"], "http");
}

#[tokio::test]
async fn repeated_forwarding_lines_from_a_trusted_proxy_are_all_kept() {
    // RFC 9110 §5.3: repeated field lines are one comma-separated list, in order.
    let up = Upstream::start();
    let (gate, token) = gate(&up, "trusted_proxies = [\"127.0.0.0/8\"]");
    let h = forwarded_headers(
        &gate,
        &up,
        &token,
        "X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-For: 10.0.0.2\r\n\
         Forwarded: for=203.0.113.7\r\nForwarded: for=10.0.0.2\r\n",
    );
    assert_eq!(h["x-forwarded-for"], "203.0.113.7, 10.0.0.2, 127.0.0.1");
    assert_eq!(
        h["forwarded"],
        "for=203.0.113.7, for=10.0.0.2, for=127.0.0.1;proto=http"
    );
}

#[tokio::test]
async fn forwarding_headers_from_a_peer_outside_the_trusted_list_are_replaced() {
    let up = Upstream::start();
    // Trusted proxies are configured, but the test client (127.0.0.1) is not one.
    let (gate, token) = gate(&up, "trusted_proxies = [\"10.0.0.0/8\", \"::1/128\"]");
    let h = forwarded_headers(&gate, &up, &token, INBOUND);
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    assert_eq!(h["forwarded"], "for=127.0.0.1;proto=http");
    assert_eq!(h["x-forwarded-proto"], "http");
    assert!(h.get("x-forwarded-host").is_none(), "{h}");
}

#[tokio::test]
async fn the_assertion_names_the_identity_and_expires_after_its_ttl() {
    let up = Upstream::start();
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("assertion.pem");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_authgate"))
        .args(["keys", "assertion-key", "--out"])
        .arg(&key_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pem = std::fs::read_to_string(&key_file).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the assertion key is readable by others");
    }
    let identity = format!(
        "[identity.assertion]\nkey_file = \"{}\"\nkid = \"k-7\"\nissuer = \"gate.test\"\naudience = \"svc\"\nttl = \"90s\"\n",
        key_file.display()
    );
    let (gate, token) = gate(&up, &identity);
    let c = client();
    let before = now_s();
    let r = c
        .get(gate.url("/r"))
        .bearer_auth(&token)
        .header("x-request-id", "req-assert-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let after = now_s();
    let h = &up.seen()[0]["headers"];
    let assertion = h["x-auth-assertion"].as_str().unwrap();

    let jwks: JwkSet = c
        .get(gate.admin_url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks.keys.len(), 1);
    let header = jsonwebtoken::decode_header(assertion).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    assert_eq!(header.kid.as_deref(), Some("k-7"));
    let key = jsonwebtoken::DecodingKey::from_jwk(jwks.find("k-7").expect("kid served")).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    v.set_audience(&["svc"]);
    v.set_issuer(&["gate.test"]);
    let claims = jsonwebtoken::decode::<Value>(assertion, &key, &v)
        .unwrap()
        .claims;
    assert_eq!(claims["sub"], "subject-tok_fwd");
    assert_eq!(claims["workspace"], "acme");
    assert_eq!(claims["scope"], "runs:read agents:read");
    assert_eq!(claims["amr"], "access_token");
    assert_eq!(claims["cid"], "tok_fwd");
    assert_eq!(claims["htm"], "GET");
    assert_eq!(claims["htu"], "/r");
    assert_eq!(claims["jti"], "req-assert-1");
    let iat = claims["iat"].as_u64().unwrap();
    assert!(
        (before..=after).contains(&iat),
        "iat {iat} not in {before}..={after}"
    );
    assert_eq!(claims["exp"].as_u64().unwrap(), iat + 90);

    // Signed by that key: another Ed25519 key does not verify it.
    let other = dir.path().join("other.pem");
    authgate::assertion::generate_key(&other).unwrap();
    let other_key = jsonwebtoken::DecodingKey::from_ed_pem(&public_pem_of(&other)).unwrap();
    assert!(jsonwebtoken::decode::<Value>(assertion, &other_key, &v).is_err());
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The SPKI PEM public key of a PKCS#8 Ed25519 private key file.
fn public_pem_of(path: &std::path::Path) -> Vec<u8> {
    use ed25519_dalek::pkcs8::{spki::der::pem::LineEnding, DecodePrivateKey, EncodePublicKey};
    let sk =
        ed25519_dalek::SigningKey::from_pkcs8_pem(&std::fs::read_to_string(path).unwrap()).unwrap();
    sk.verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap()
        .into_bytes()
}
