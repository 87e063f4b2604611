//! RFC 9421 through the real proxy with requests signed by an independent
//! client: `http-message-signatures` (PyPI) made `fixtures/httpsig/proxy.json`
//! (`gen_proxy.py`) for all six algorithms authgate verifies, each key
//! registered by name in `[[signing_keys]]`. For every algorithm: valid
//! GET, POST and streamed large POST reach the upstream with the key's
//! identity; a covered header, the path, the method or the query changed
//! is `bad_signature`; `expires` passed is `signature_expired`; the same
//! signature again, or a fresh one reusing its nonce, is `replayed`; an
//! unregistered `keyid` is `unknown_key`; an `alg` naming another
//! algorithm than the key's registration is `algorithm_mismatch`; a
//! signature without `@authority` is `signature_missing_component`; a
//! large body that does not match its signed digest is `digest_mismatch`
//! and never reaches the upstream whole. Refusals reach nothing.
//!
//! The fixtures are signed at a fixed time, so the route allows a window of
//! ten years; the clock checks themselves are tested with live signatures
//! in `httpsig_e2e.rs`.

mod common;

use common::*;
use serde_json::Value;

const ALGS: [&str; 6] = [
    "ed25519",
    "ecdsa-p256-sha256",
    "ecdsa-p384-sha384",
    "rsa-pss-sha512",
    "rsa-v1_5-sha256",
    "hmac-sha256",
];

fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string(fixture("httpsig/proxy.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["cases"].as_array().unwrap().clone()
}

fn case<'a>(all: &'a [Value], alg: &str, name: &str) -> &'a Value {
    all.iter()
        .find(|c| c["alg"] == alg && c["case"] == name)
        .unwrap_or_else(|| panic!("no fixture {alg}/{name}"))
}

fn config() -> String {
    let mut cfg = String::from(
        r#"
[stamps]
window = "3650d"
max_body = 65536

[[routes]]
path = "/api/v1/workspaces/{workspace}/runs"
upstream = "echo"
auth = { accept = ["stamp"] }

[[routes]]
path = "/api/v1/workspaces/{workspace}/jobs"
upstream = "echo"
auth = { accept = ["stamp"] }
"#,
    );
    for alg in ALGS {
        let material = if alg == "hmac-sha256" {
            format!(
                "secret_file = {:?}",
                fixture("httpsig/proxy/hmac.secret").display().to_string()
            )
        } else {
            format!(
                "public_key_file = {:?}",
                fixture(&format!("httpsig/proxy/{alg}.pub.pem"))
                    .display()
                    .to_string()
            )
        };
        cfg.push_str(&format!(
            r#"
[[signing_keys]]
keyid = "fx-{alg}"
alg = "{alg}"
{material}
subject = "svc-{alg}"
workspace = "acme"
"#
        ));
    }
    cfg
}

/// The body a case was signed over (a large one is made from its spec).
fn body_of(c: &Value) -> Option<Vec<u8>> {
    if let Some(spec) = c["body_spec"].as_object() {
        let pattern = spec["pattern"].as_str().unwrap().as_bytes();
        let len = spec["len"].as_u64().unwrap() as usize;
        return Some(pattern.iter().copied().cycle().take(len).collect());
    }
    c["body"].as_str().map(|b| b.as_bytes().to_vec())
}

/// What is sent: the fixture's request, with what a test changes.
#[derive(Clone)]
struct Sent {
    method: String,
    path: String,
    query: Option<String>,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

fn sent(c: &Value) -> Sent {
    Sent {
        method: c["method"].as_str().unwrap().into(),
        path: c["path"].as_str().unwrap().into(),
        query: c["query"].as_str().map(Into::into),
        headers: c["headers"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect(),
        body: body_of(c),
    }
}

impl Sent {
    fn header(mut self, name: &str, value: &str) -> Self {
        for (k, v) in &mut self.headers {
            if k == name {
                *v = value.into();
            }
        }
        self
    }
}

/// Send over a fresh client; `Host` is the fixture's (the signed
/// `@authority`). Returns the status, the JSON body and `WWW-Authenticate`.
async fn send(g: &Gate, s: &Sent) -> (u16, Value, String) {
    let url = match &s.query {
        Some(q) => g.url(&format!("{}?{q}", s.path)),
        None => g.url(&s.path),
    };
    let m = reqwest::Method::from_bytes(s.method.as_bytes()).unwrap();
    let mut req = client().request(m, url);
    for (k, v) in &s.headers {
        req = req.header(k.as_str(), v.as_str());
    }
    if let Some(b) = &s.body {
        req = req.body(b.clone());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let www = resp
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
        www,
    )
}

/// Expect a 401 with `reason`, its `WWW-Authenticate`, and nothing upstream.
async fn refused(g: &Gate, up: &Upstream, s: &Sent, reason: &str, what: &str) {
    let before = up.seen().len();
    let (status, v, www) = send(g, s).await;
    assert_eq!(
        (status, v["reason"].as_str().unwrap_or("")),
        (401, reason),
        "{what}: {v}"
    );
    assert!(
        www.starts_with("Signature ") && www.contains(reason),
        "{what}: WWW-Authenticate {www:?}"
    );
    assert_eq!(up.seen().len(), before, "{what}: reached the upstream");
}

/// The last request the upstream received, which must be `s` as signed.
async fn admitted(g: &Gate, up: &Upstream, s: &Sent, alg: &str, what: &str) -> Value {
    let (status, v, _) = send(g, s).await;
    assert_eq!(status, 200, "{what}: {v}");
    let seen = up.seen();
    let last = seen.last().unwrap().clone();
    assert_eq!(last["method"], s.method.as_str(), "{what}");
    assert_eq!(last["path"], s.path.as_str(), "{what}");
    assert_eq!(last["headers"]["x-auth-subject"], format!("svc-{alg}"));
    assert_eq!(last["headers"]["x-auth-workspace"], "acme");
    assert!(last["headers"].get("signature").is_none(), "{what}");
    assert!(last["headers"].get("signature-input").is_none(), "{what}");
    last
}

/// Wait (up to 2 s) for the upstream to record a request past `count`.
async fn settle(up: &Upstream, count: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while up.seen().len() <= count && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn every_algorithm_signed_by_an_independent_client_through_the_proxy() {
    let all = cases();
    let up = Upstream::start();
    let g = Gate::start(&up, &config());

    for alg in ALGS {
        let get = sent(case(&all, alg, "get"));
        let what = |w: &str| format!("{alg}: {w}");

        // Tampered copies first: refused, so nothing of them is remembered.
        refused(
            &g,
            &up,
            &get.clone().header("x-tenant", "green"),
            "bad_signature",
            &what("covered header changed"),
        )
        .await;
        let mut path = get.clone();
        path.path = "/api/v1/workspaces/acme/jobs".into();
        refused(&g, &up, &path, "bad_signature", &what("path changed")).await;
        let mut method = get.clone();
        method.method = "DELETE".into();
        refused(&g, &up, &method, "bad_signature", &what("method changed")).await;
        let mut query = get.clone();
        query.query = Some("limit=1000&after=run_9".into());
        refused(&g, &up, &query, "bad_signature", &what("query changed")).await;

        // Valid, then the same signature again, then its nonce reused.
        let last = admitted(&g, &up, &get, alg, &what("GET")).await;
        assert_eq!(last["query"], "limit=10&after=run_9");
        assert_eq!(last["headers"]["x-tenant"], "blue");
        refused(&g, &up, &get, "replayed", &what("same signature again")).await;
        let reuse = sent(case(&all, alg, "nonce_reused"));
        refused(&g, &up, &reuse, "replayed", &what("nonce reused")).await;

        let post = sent(case(&all, alg, "post"));
        let last = admitted(&g, &up, &post, alg, &what("POST")).await;
        assert_eq!(
            last["body"]["text"].as_str().unwrap().as_bytes(),
            post.body.as_deref().unwrap()
        );

        // A body past the route's buffer streams and arrives whole.
        let large = sent(case(&all, alg, "large"));
        let last = admitted(&g, &up, &large, alg, &what("large POST")).await;
        assert_eq!(
            last["body"]["text"].as_str().map(str::len),
            large.body.as_ref().map(Vec::len),
            "{alg}: the large body arrived whole"
        );
        // The same length, one byte changed after signing: the signature
        // holds, the digest does not; the upstream never gets it whole.
        let mut tampered = sent(case(&all, alg, "large_tampered"));
        if let Some(b) = tampered.body.as_mut() {
            let n = b.len();
            b[n - 1] ^= 1;
        }
        let whole = |up: &Upstream| {
            up.seen()
                .iter()
                .filter(|r| {
                    r["body"]["text"].as_str().map(str::len) == large.body.as_ref().map(Vec::len)
                })
                .count()
        };
        let before = whole(&up);
        let count = up.seen().len();
        let (status, v, _) = send(&g, &tampered).await;
        assert_eq!(
            (status, v["reason"].as_str()),
            (401, Some("digest_mismatch")),
            "{alg}: large body changed: {v}"
        );
        assert_eq!(
            whole(&up),
            before,
            "{alg}: the changed body never arrived whole"
        );
        // The upstream got the head and part of the body before authgate
        // cut it; it records that broken request when it notices, which
        // may be after the answer above. Let it land before counting.
        settle(&up, count).await;

        for (name, reason) in [
            ("expired", "signature_expired"),
            ("no_authority", "signature_missing_component"),
            ("alg_lie", "algorithm_mismatch"),
            ("unknown_keyid", "unknown_key"),
        ] {
            let s = sent(case(&all, alg, name));
            refused(&g, &up, &s, reason, &what(name)).await;
        }
    }
}
