//! RFC 9421 signed requests with bodies larger than `[stamps] max_body`:
//! verified before forwarding (the signature must cover `content-digest`),
//! then streamed to the upstream while the body is hashed; the last piece
//! goes only after the digest matched. A body that does not match its
//! (signed) digest is refused with 401 `digest_mismatch` and the upstream
//! never receives it whole; a matching one arrives intact.

mod common;

use common::httpsig::{b64, sign, Key, Req};
use common::*;
use serde_json::Value;
use sha2::Digest;

const PATH: &str = "/api/v1/workspaces/acme/uploads";
const SIZE: usize = 512 * 1024;

fn key() -> Key {
    Key::Ed(ed25519_dalek::SigningKey::from_bytes(&[0x5a; 32]))
}

fn config(k: &Key) -> String {
    format!(
        r#"
[stamps]
max_body = 65536

[[keys]]
id = "uploader"
kind = "stamp"
scheme = "ed25519"
public_key = "{}"
subject = "svc-upload"
workspace = "acme"

[[routes]]
path = "/api/v1/workspaces/{{workspace}}/uploads"
methods = ["POST"]
upstream = "echo"
auth = {{ accept = ["stamp"] }}
"#,
        k.keyid()
    )
}

fn params(k: &Key) -> String {
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    format!(
        ";created={created};keyid=\"{}\";alg=\"ed25519\";nonce=\"{:016x}\"",
        k.keyid(),
        rand::random::<u64>()
    )
}

async fn send(g: &Gate, headers: &[(&str, &str)], body: Vec<u8>) -> (u16, Value) {
    let mut r = client().post(g.url(PATH)).body(body);
    for (n, v) in headers {
        r = r.header(*n, *v);
    }
    match r.send().await {
        Ok(resp) => {
            let s = resp.status().as_u16();
            (s, resp.json().await.unwrap_or(Value::Null))
        }
        Err(e) => panic!("no answer: {e}"),
    }
}

/// Bodies of the requests the upstream recorded on the upload path.
fn upstream_bodies(up: &Upstream) -> Vec<usize> {
    up.seen()
        .iter()
        .filter(|r| r["path"] == PATH)
        .map(|r| r["body"]["text"].as_str().map_or(0, str::len))
        .collect()
}

#[tokio::test]
async fn a_large_signed_body_streams_and_its_digest_is_judged_on_the_way() {
    let k = key();
    let up = Upstream::start();
    let g = Gate::start(&up, &config(&k));
    let authority = format!("127.0.0.1:{}", g.port);
    let body: Vec<u8> = (0..SIZE).map(|i| b'a' + (i % 26) as u8).collect();
    let req = Req {
        method: "POST",
        path: PATH,
        query: None,
        body: Some(&body),
    };

    // Matching: streamed through whole (a buffered route would answer 413).
    let (si, sig, digest) = sign(&k, &authority, &req, None, &params(&k));
    let digest = digest.unwrap();
    let ok = [
        ("signature-input", si.as_str()),
        ("signature", sig.as_str()),
        ("content-digest", digest.as_str()),
    ];
    let (s, v) = send(&g, &ok, body.clone()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        upstream_bodies(&up),
        vec![SIZE],
        "the upstream got the whole body"
    );
    assert_eq!(v["headers"]["x-auth-method"], "stamp");

    // The signature covers a digest of other bytes of the same length: it
    // verifies, the body streams, and the mismatch shows only at its end.
    let mut other = body.clone();
    other[SIZE - 1] = b'!';
    let other_req = Req {
        body: Some(&other),
        ..req
    };
    let (si, sig, digest) = sign(&k, &authority, &other_req, None, &params(&k));
    let digest = digest.unwrap();
    let bad = [
        ("signature-input", si.as_str()),
        ("signature", sig.as_str()),
        ("content-digest", digest.as_str()),
    ];
    let (s, v) = send(&g, &bad, body.clone()).await;
    assert_eq!(
        (s, v["reason"].as_str()),
        (401, Some("digest_mismatch")),
        "{v}"
    );
    let bodies = upstream_bodies(&up);
    assert!(
        bodies.iter().filter(|n| **n == SIZE).count() == 1,
        "the mismatched body never reached the upstream whole: {bodies:?}"
    );

    // A digest the signature does not cover: refused before anything moves.
    let (si, sig, _) = sign(
        &k,
        &authority,
        &Req { body: None, ..req },
        Some(&["@method", "@authority", "@path"]),
        &params(&k),
    );
    let own = format!("sha-256=:{}:", b64(&sha2::Sha256::digest(&body)));
    let uncovered = [
        ("signature-input", si.as_str()),
        ("signature", sig.as_str()),
        ("content-digest", own.as_str()),
    ];
    let before = up.seen().len();
    let (s, v) = send(&g, &uncovered, body.clone()).await;
    assert_eq!(
        (s, v["reason"].as_str()),
        (401, Some("signature_missing_component")),
        "{v}"
    );
    assert_eq!(up.seen().len(), before, "nothing reached the upstream");

    // The connection is usable again afterwards: a fresh matching upload.
    let (si, sig, digest) = sign(&k, &authority, &req, None, &params(&k));
    let digest = digest.unwrap();
    let again = [
        ("signature-input", si.as_str()),
        ("signature", sig.as_str()),
        ("content-digest", digest.as_str()),
    ];
    assert_eq!(send(&g, &again, body.clone()).await.0, 200);
}

/// Stamps still read the whole body first: past `max_body`, 413.
#[tokio::test]
async fn a_stamped_body_past_max_body_is_still_413() {
    let k = key();
    let up = Upstream::start();
    let g = Gate::start(&up, &config(&k));
    let body = format!(r#"{{"timestampMs":"1","pad":"{}"}}"#, "x".repeat(70_000));
    let sk = ed25519_dalek::SigningKey::from_bytes(&[0x5a; 32]);
    let stamp = authgate::demo::ed25519_stamp(&sk, &body);
    let (s, _) = send(&g, &[("x-stamp", stamp.as_str())], body.into_bytes()).await;
    assert_eq!(s, 413);
    assert!(up.seen().is_empty());
}

/// The three headers of a signature over `req` (default components).
fn signed(k: &Key, authority: &str, req: &Req) -> Vec<(&'static str, String)> {
    let (si, sig, digest) = sign(k, authority, req, None, &params(k));
    vec![
        ("signature-input", si),
        ("signature", sig),
        ("content-digest", digest.unwrap_or_default()),
    ]
}

/// Send `body` in 16 KiB pieces with no declared length: HTTP/1.1
/// `Transfer-Encoding: chunked`, or HTTP/2 (h2c) without `content-length`.
async fn send_undeclared(
    g: &Gate,
    h2: bool,
    headers: &[(&'static str, String)],
    body: Vec<u8>,
) -> (u16, Value) {
    let pieces: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(16 * 1024).map(|c| Ok(c.to_vec())).collect();
    let stream = futures_util::stream::iter(pieces);
    let c = if h2 {
        reqwest::Client::builder()
            .http2_prior_knowledge()
            .build()
            .unwrap()
    } else {
        client()
    };
    let mut r = c.post(g.url(PATH)).body(reqwest::Body::wrap_stream(stream));
    for (n, v) in headers {
        r = r.header(*n, v);
    }
    let resp = r.send().await.expect("an answer");
    let s = resp.status().as_u16();
    (s, resp.json().await.unwrap_or(Value::Null))
}

/// A body of no declared length streams too, small or large, over HTTP/1.1
/// (chunked) and HTTP/2: a matching one arrives whole (no 411 past the
/// 64 KiB buffer), a mismatched one is refused with `digest_mismatch` and
/// never arrives whole.
#[tokio::test]
async fn a_signed_body_of_no_declared_length_streams_whatever_its_size() {
    let k = key();
    let up = Upstream::start();
    let g = Gate::start(&up, &config(&k));
    let authority = format!("127.0.0.1:{}", g.port);
    for (h2, size) in [(false, 1000), (false, SIZE), (true, 1000), (true, SIZE)] {
        let whole = |up: &Upstream| upstream_bodies(up).iter().filter(|n| **n == size).count();
        let before = whole(&up);
        let body: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
        let req = Req {
            method: "POST",
            path: PATH,
            query: None,
            body: Some(&body),
        };
        let ok = signed(&k, &authority, &req);
        let (s, v) = send_undeclared(&g, h2, &ok, body.clone()).await;
        assert_eq!(s, 200, "h2 {h2}, {size}: {v}");
        assert_eq!(
            whole(&up),
            before + 1,
            "h2 {h2}, {size}: not arrived whole once"
        );

        let mut other = body.clone();
        other[size - 1] = b'!';
        let bad = signed(
            &k,
            &authority,
            &Req {
                body: Some(&other),
                ..req
            },
        );
        let (s, v) = send_undeclared(&g, h2, &bad, body.clone()).await;
        assert_eq!(
            (s, v["reason"].as_str()),
            (401, Some("digest_mismatch")),
            "h2 {h2}, {size}: {v}"
        );
        assert_eq!(
            whole(&up),
            before + 1,
            "h2 {h2}, {size}: the mismatch arrived whole"
        );
    }
}
