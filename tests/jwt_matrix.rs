//! The JWT matrix: tokens made by an independent tool (PyJWT, see
//! `tests/fixtures/jwt/gen.py`) for every algorithm family and each refusal,
//! and JWKS rotation, single-flight refetch and last-good-set behaviour
//! against a live JWKS URL. Hand-made tokens pin the order of the refusals
//! around the JOSE header and the signature segment.

use authgate::config::model::IssuerSection;
use authgate::verify::jwt::{verify, Issuer};
use authgate::verify::Verdict;
use serde::Deserialize;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Deserialize)]
struct Case {
    name: String,
    issuer_key: String,
    token: String,
    expect: String,
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jwt")
}

fn section(name: &str) -> IssuerSection {
    let mut s: IssuerSection = toml::from_str(&format!(
        "name = \"{name}\"\nissuer = \"https://issuer.test\"\naudiences = [\"authgate\"]\nalgorithms = []\nworkspace_claim = \"namespace\""
    ))
    .unwrap();
    let rsa = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"];
    let all_public: Vec<&str> = rsa
        .iter()
        .copied()
        .chain(["ES256", "ES384", "EdDSA"])
        .collect();
    let (algs, file): (Vec<&str>, (&str, String)) = match name {
        "hs256" => (vec!["HS256"], ("secret", "keys/hs256.secret".into())),
        "hs384" => (vec!["HS384"], ("secret", "keys/hs384.secret".into())),
        "hs512" => (vec!["HS512"], ("secret", "keys/hs512.secret".into())),
        "rsa" => (rsa.to_vec(), ("pem", "keys/rsa.pub.pem".into())),
        "ec256" => (vec!["ES256"], ("pem", "keys/ec256.pub.pem".into())),
        "ed25519" => (vec!["EdDSA"], ("pem", "keys/ed25519.pub.pem".into())),
        "jwks" => (all_public, ("jwks", "jwks.json".into())),
        "jwks_rotated" => (all_public, ("jwks", "jwks_rotated.json".into())),
        other => panic!("unknown issuer_key {other}"),
    };
    s.algorithms = algs.iter().map(|a| a.to_string()).collect();
    match file.0 {
        "secret" => s.secret_file = Some(file.1),
        "pem" => s.public_key_file = Some(file.1),
        _ => s.jwks_file = Some(file.1),
    }
    s
}

/// The reason authgate gives for each class of the independent generator.
fn expected_reason(expect: &str) -> &'static str {
    match expect {
        "alg_none" => "alg_none",
        "alg_confusion" | "alg_not_allowed" => "alg_not_allowed",
        "unknown_kid" => "unknown_kid",
        "wrong_issuer" => "unknown_issuer",
        "wrong_audience" => "wrong_audience",
        "tampered" | "bad_signature" => "bad_signature",
        "expired" => "expired",
        "not_yet_valid" => "not_yet_valid",
        "malformed" => "malformed",
        other => panic!("unmapped expectation {other}"),
    }
}

fn cases() -> Vec<Case> {
    serde_json::from_slice(&std::fs::read(dir().join("cases.json")).unwrap()).unwrap()
}

#[tokio::test]
async fn every_fixture_case_gets_its_verdict() {
    let cases = cases();
    assert!(cases.len() >= 30, "fixture set shrank: {}", cases.len());
    for case in cases {
        let issuer = Arc::new(
            Issuer::build(&section(&case.issuer_key), &dir())
                .unwrap_or_else(|e| panic!("{}: {e:?}", case.name)),
        );
        let verdict = verify(&[issuer], &case.token).await;
        match (case.expect.as_str(), verdict) {
            ("valid", Verdict::Valid(id)) => {
                assert_eq!(id.subject, "user-123", "{}", case.name);
                assert_eq!(id.workspace.as_deref(), Some("acme"), "{}", case.name);
                assert!(
                    id.scopes.contains(&"runs:read".to_string()),
                    "{}: {:?}",
                    case.name,
                    id.scopes
                );
                assert_eq!(id.expires_at, Some(4102444800), "{}", case.name);
            }
            ("valid", Verdict::Invalid(r)) => panic!("{} should verify, got {r}", case.name),
            (want, Verdict::Valid(_)) => panic!("{} should be refused as {want}", case.name),
            (want, Verdict::Invalid(r)) => assert_eq!(r, expected_reason(want), "{}", case.name),
        }
    }
}

#[tokio::test]
async fn scopes_come_from_scp_arrays_too() {
    let case = cases()
        .into_iter()
        .find(|c| c.name == "scp_array_hs256")
        .unwrap();
    let issuer = Arc::new(Issuer::build(&section("hs256"), &dir()).unwrap());
    let Verdict::Valid(id) = verify(&[issuer], &case.token).await else {
        panic!("scp token refused")
    };
    assert_eq!(
        id.scopes,
        vec!["runs:read".to_string(), "models:read".to_string()]
    );
}

#[tokio::test]
async fn single_jwk_files_work_as_key_files() {
    for (file, alg, case) in [
        ("keys/rsa.pub.jwk.json", "RS256", "valid_rs256_jwks"),
        ("keys/ec256.pub.jwk.json", "ES256", "valid_es256_jwks"),
        ("keys/ed25519.pub.jwk.json", "EdDSA", "valid_eddsa_jwks"),
    ] {
        let mut s = section("jwks");
        s.jwks_file = Some(file.into());
        s.algorithms = vec![alg.into()];
        let issuer = Arc::new(Issuer::build(&s, &dir()).unwrap());
        assert!(
            matches!(verify(&[issuer], &token(case)).await, Verdict::Valid(_)),
            "{file}"
        );
    }
}

#[test]
fn issuers_refuse_unsafe_key_setups() {
    // HMAC and public-key algorithms on one issuer invite algorithm confusion.
    let mut mixed = section("rsa");
    mixed.algorithms = vec!["HS256".into(), "RS256".into()];
    assert!(Issuer::build(&mixed, &dir()).is_err());
    // A public key file for an HMAC issuer, and a secret for an RSA issuer.
    let mut hs_with_pem = section("hs256");
    hs_with_pem.secret_file = None;
    hs_with_pem.public_key_file = Some("keys/rsa.pub.pem".into());
    assert!(Issuer::build(&hs_with_pem, &dir()).is_err());
    let mut rs_with_secret = section("rsa");
    rs_with_secret.public_key_file = None;
    rs_with_secret.secret_file = Some("keys/hs256.secret".into());
    assert!(Issuer::build(&rs_with_secret, &dir()).is_err());
    // A PEM of the wrong family.
    let mut wrong_family = section("rsa");
    wrong_family.public_key_file = Some("keys/ec256.pub.pem".into());
    assert!(Issuer::build(&wrong_family, &dir()).is_err());
    // Two key sources at once.
    let mut two = section("rsa");
    two.jwks_file = Some("jwks.json".into());
    assert!(Issuer::build(&two, &dir()).is_err());
}

/// An HS256 token over the exact `header` and `payload` JSON given.
fn hand_made(header: &str, payload: &str, signature: Option<&str>) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let secret = std::fs::read(dir().join("keys/hs256.secret")).unwrap();
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &secret);
    let tag = URL_SAFE_NO_PAD.encode(aws_lc_rs::hmac::sign(&key, input.as_bytes()));
    format!("{input}.{}", signature.unwrap_or(&tag))
}

#[tokio::test]
async fn hand_made_tokens_keep_their_refusal_order() {
    let good = r#"{"iss":"https://issuer.test","sub":"u","exp":4102444800,"aud":"authgate"}"#;
    let evil = r#"{"iss":"https://evil.test","sub":"u","exp":4102444800}"#;
    let no_sub = r#"{"iss":"https://issuer.test","exp":4102444800}"#;
    let cases = [
        (r#"{"alg":"HS256","typ":"JWT"}"#, good, None, "valid"),
        // The full JOSE header must parse, but only once the key is chosen.
        (r#"{"alg":"HS256","typ":5}"#, good, None, "malformed"),
        (r#"{"alg":"HS256","typ":5}"#, evil, None, "unknown_issuer"),
        (r#"{"alg":"HS256","crit":"b64"}"#, good, None, "malformed"),
        (r#"["HS256",null]"#, good, None, "malformed"),
        (r#"["HS256",null]"#, evil, None, "unknown_issuer"),
        (r#"{"alg":"HS256","kid":7}"#, good, None, "malformed"),
        (r#"{"alg":"NONE"}"#, good, None, "alg_none"),
        (r#"{"alg":"hs256"}"#, good, None, "alg_not_allowed"),
        (
            r#"{"alg":"HS256","x-extra":{"a":[1]}}"#,
            good,
            None,
            "valid",
        ),
        (r#"{"alg":"HS256"}"#, good, Some("!!"), "malformed"),
        (r#"{"alg":"HS256"}"#, good, Some(""), "bad_signature"),
        (r#"{"alg":"HS256"}"#, no_sub, None, "missing_claim"),
        (
            r#"{"alg":"HS256"}"#,
            &good.replace("authgate", "other"),
            None,
            "wrong_audience",
        ),
        // The issuer names an audience: a token for anyone is refused.
        (
            r#"{"alg":"HS256"}"#,
            &good.replace(r#","aud":"authgate""#, ""),
            None,
            "missing_claim",
        ),
        (
            r#"{"alg":"HS256"}"#,
            &good.replace(r#""authgate""#, "7"),
            None,
            "missing_claim",
        ),
        (
            r#"{"alg":"HS256"}"#,
            &good.replace(r#""authgate""#, r#"["authgate",7]"#),
            None,
            "missing_claim",
        ),
        (
            r#"{"alg":"HS256"}"#,
            &good.replace(r#""authgate""#, r#"["web","authgate"]"#),
            None,
            "valid",
        ),
    ];
    let issuers = [Arc::new(Issuer::build(&section("hs256"), &dir()).unwrap())];
    for (header, payload, signature, want) in cases {
        let token = hand_made(header, payload, signature);
        let got = match verify(&issuers, &token).await {
            Verdict::Valid(_) => "valid",
            Verdict::Invalid(r) => r,
        };
        assert_eq!(got, want, "{header} {payload} {signature:?}");
    }
}

/// A JWKS server on loopback whose document can be swapped or broken.
struct JwksServer {
    url: String,
    doc: Arc<Mutex<Option<Vec<u8>>>>,
    hits: Arc<AtomicUsize>,
}

impl JwksServer {
    fn start(initial: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/.well-known/jwks.json",
            listener.local_addr().unwrap()
        );
        let doc = Arc::new(Mutex::new(Some(
            std::fs::read(dir().join(initial)).unwrap(),
        )));
        let hits = Arc::new(AtomicUsize::new(0));
        let (d, h) = (doc.clone(), hits.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                h.fetch_add(1, Ordering::SeqCst);
                // Slow enough that concurrent misses overlap one fetch.
                std::thread::sleep(Duration::from_millis(100));
                let resp = match d.lock().unwrap().clone() {
                    Some(body) => {
                        let mut r = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len()).into_bytes();
                        r.extend_from_slice(&body);
                        r
                    }
                    None => b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec(),
                };
                let _ = s.write_all(&resp);
            }
        });
        Self { url, doc, hits }
    }

    fn serve(&self, file: Option<&str>) {
        *self.doc.lock().unwrap() = file.map(|f| std::fs::read(dir().join(f)).unwrap());
    }
}

fn token(name: &str) -> String {
    cases().into_iter().find(|c| c.name == name).unwrap().token
}

#[tokio::test]
async fn jwks_url_rotation_single_flight_and_last_good_set() {
    let server = JwksServer::start("jwks.json");
    let mut s = section("jwks");
    s.jwks_file = None;
    s.jwks_url = Some(server.url.clone());
    // A cooldown far from the time the checks inside it take (even on a
    // loaded machine), and sleeps past it.
    s.jwks_cooldown = Duration::from_secs(1);
    let issuer = Arc::new(
        Issuer::build_with(&s, &dir(), Some(&authgate::verify::jwks::http_fetcher())).unwrap(),
    );
    let issuers = vec![issuer.clone()];
    let old = token("valid_rs256_jwks");
    let new = token("rotated_rs256");

    // First use fetches the set; 16 concurrent first uses share one fetch.
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (i, t) = (issuers.clone(), old.clone());
        tasks.push(tokio::spawn(async move {
            matches!(verify(&i, &t).await, Verdict::Valid(_))
        }));
    }
    for t in tasks {
        assert!(
            t.await.unwrap(),
            "old key must verify after the first fetch"
        );
    }
    assert_eq!(
        server.hits.load(Ordering::SeqCst),
        1,
        "concurrent misses collapse into one fetch"
    );

    // Rotation: the new kid is unknown, so a refetch (after the cooldown) finds it.
    server.serve(Some("jwks_rotated.json"));
    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert!(
        matches!(verify(&issuers, &new).await, Verdict::Valid(_)),
        "rotated key not picked up"
    );
    assert_eq!(server.hits.load(Ordering::SeqCst), 2);

    // Within the cooldown an unknown kid does not refetch.
    assert!(matches!(
        verify(&issuers, &old).await,
        Verdict::Invalid("unknown_kid")
    ));
    assert_eq!(server.hits.load(Ordering::SeqCst), 2, "cooldown must hold");

    // A failing fetch keeps the last good set.
    server.serve(None);
    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert!(matches!(
        verify(&issuers, &old).await,
        Verdict::Invalid("unknown_kid")
    ));
    assert_eq!(
        server.hits.load(Ordering::SeqCst),
        3,
        "the refetch was attempted"
    );
    assert!(
        matches!(verify(&issuers, &new).await, Verdict::Valid(_)),
        "last good set must keep serving"
    );
    assert_eq!(issuer.jwks().unwrap().key_count(), 4);
}
