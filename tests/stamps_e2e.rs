//! Stamps through the real proxy: the public Turnkey clients' vectors
//! (`tests/fixtures/stamps`), freshly signed stamps for freshness and replay,
//! size limits, and what the upstream received (the exact body, or nothing).

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeSet;

const ACTIVITIES: &str = "/api/v1/workspaces/acme/activities";

fn vectors() -> Vec<Value> {
    serde_json::from_slice(&std::fs::read(fixture("stamps/vectors.json")).unwrap()).unwrap()
}

fn short(scheme: &str) -> &'static str {
    match scheme {
        "SIGNATURE_SCHEME_TK_API_P256" => "p256",
        "SIGNATURE_SCHEME_TK_API_SECP256K1_EIP191" => "secp256k1",
        _ => "ed25519",
    }
}

fn signer(seed: u8) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
}

fn stamp(key: &ed25519_dalek::SigningKey, body: &str) -> String {
    authgate::demo::ed25519_stamp(key, body)
}

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

/// A gate whose stamp window is `window`, with every valid vector's key and
/// `signer(1)`'s key registered for workspace `acme`.
fn gate(up: &Upstream, window: &str) -> Gate {
    gate_with(up, window, "")
}

/// [`gate`] with extra `[stamps]` settings.
fn gate_with(up: &Upstream, window: &str, stamps: &str) -> Gate {
    let mut keys = BTreeSet::new();
    for v in vectors().iter().filter(|v| v["expect"] == "valid") {
        keys.insert((
            short(v["scheme"].as_str().unwrap()),
            v["public_key"].as_str().unwrap().to_string(),
        ));
    }
    keys.insert(("ed25519", hex::encode(signer(1).verifying_key().to_bytes())));
    let mut cfg = format!(
        r#"
[stamps]
window = "{window}"
{stamps}

[[routes]]
path = "/api/v1/workspaces/{{workspace}}/activities"
methods = ["POST"]
upstream = "echo"
auth = {{ accept = ["stamp"] }}

[[routes]]
path = "/keys-only"
upstream = "echo"
auth = {{ accept = ["api_key"] }}
"#
    );
    for (i, (scheme, key)) in keys.iter().enumerate() {
        cfg.push_str(&format!(
            "[[keys]]\nid = \"stamp-{i}\"\nkind = \"stamp\"\nscheme = \"{scheme}\"\npublic_key = \"{key}\"\nsubject = \"wallet-{i}\"\nworkspace = \"acme\"\n"
        ));
    }
    Gate::start(up, &cfg)
}

/// Vectors refused at extraction, before any stamp parsing: the header is
/// empty or holds a character outside visible ASCII (400 with this message).
const REFUSED_AT_EXTRACTION: &[(&str, &str)] = &[
    ("enc_empty", "Credential header is empty"),
    (
        "enc_inner_space",
        "Credential contains characters outside visible ASCII",
    ),
];

/// A window that admits the vectors' fresh timestamp today and on any later
/// day: derived from the oldest fresh body's `timestampMs` (the vectors are
/// dated November 2023), plus half an hour.
fn window_for_vectors() -> String {
    let oldest = vectors()
        .iter()
        .filter(|v| v["fresh"] == true)
        .map(|v| {
            let body: Value = serde_json::from_str(v["body"].as_str().unwrap()).unwrap();
            match &body["timestampMs"] {
                Value::String(s) => s.parse::<u128>().unwrap(),
                n => u128::from(n.as_u64().unwrap()),
            }
        })
        .min()
        .unwrap();
    format!("{}s", (now_ms() - oldest) / 1000 + 1800)
}

#[tokio::test]
async fn stamps_from_the_public_clients_pass_and_forgeries_do_not() {
    let up = Upstream::start();
    // Staleness is tested with fresh stamps below and at library level with a
    // fixed clock; here the window is wide enough for the vectors' date.
    let g = gate(&up, &window_for_vectors());
    let c = client();
    let mut passed = 0;
    let mut accepted = BTreeSet::new();
    let mut extraction = BTreeSet::new();
    for v in vectors() {
        let (name, expect) = (v["name"].as_str().unwrap(), v["expect"].as_str().unwrap());
        if expect == "stale" {
            continue;
        }
        up.recorder.clear();
        let body = v["body"].as_str().unwrap().to_string();
        let r = c
            .post(g.url(ACTIVITIES))
            .header("x-stamp", v["stamp"].as_str().unwrap())
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        let digest =
            authgate::verify::stamp::parse(v["stamp"].as_str().unwrap()).map(|s| s.replay_digest());
        let refused = |reason: &str| {
            (
                401,
                serde_json::json!({ "error": "invalid_stamp", "reason": reason }),
            )
        };
        let got = (
            status,
            serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
        );
        if let Some((_, message)) = REFUSED_AT_EXTRACTION.iter().find(|(n, _)| *n == name) {
            // Header values outside visible ASCII stop at extraction.
            extraction.insert(name.to_string());
            let want = serde_json::json!({ "error": "invalid_request", "message": message });
            assert_eq!(got, (400, want), "{name}");
            assert!(up.seen().is_empty(), "{name}");
        } else if expect == "valid" && digest.as_ref().is_ok_and(|d| accepted.contains(d)) {
            // A re-encoding (high-S twin, uncompressed key, upper-case hex) of a
            // stamp accepted earlier: one replay memory covers every form.
            assert_eq!(got, refused("replayed"), "{name}: {text}");
            assert!(
                up.seen().is_empty(),
                "{name}: a replay reached the upstream"
            );
        } else if expect == "valid" {
            accepted.insert(digest.unwrap());
            assert_eq!(status, 200, "{name}: {text}");
            let seen = up.seen();
            assert_eq!(seen.len(), 1, "{name}");
            assert_eq!(
                seen[0]["body"]["text"], body,
                "{name}: the body must be forwarded unchanged"
            );
            assert_eq!(seen[0]["headers"]["x-auth-method"], "stamp", "{name}");
            assert_eq!(
                seen[0]["headers"]["x-auth-stamp-scheme"], v["scheme"],
                "{name}"
            );
            assert_eq!(seen[0]["headers"]["x-auth-workspace"], "acme", "{name}");
            assert!(
                seen[0]["headers"].get("x-stamp").is_none(),
                "{name}: credential forwarded"
            );
            passed += 1;
        } else {
            assert_eq!(got, refused(expect), "{name}: {text}");
            assert!(
                up.seen().is_empty(),
                "{name}: a refused stamp reached the upstream"
            );
        }
    }
    assert_eq!(
        extraction.len(),
        REFUSED_AT_EXTRACTION.len(),
        "{extraction:?}"
    );
    assert!(passed >= 15, "only {passed} real-client stamps passed");
}

#[tokio::test]
async fn fresh_stamps_replays_staleness_and_limits() {
    let up = Upstream::start();
    let g = gate(&up, "5m");
    let c = client();
    let key = signer(1);
    let body = format!(r#"{{"timestampMs":"{}","op":"sign"}}"#, now_ms());
    let st = stamp(&key, &body);
    let post = |stamp: String, body: String| {
        c.post(g.url(ACTIVITIES))
            .header("x-stamp", stamp)
            .body(body)
            .send()
    };

    let r = post(st.clone(), body.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    let seen = up.seen();
    assert_eq!(
        seen[0]["body"]["text"], body,
        "the body must be forwarded unchanged"
    );
    assert!(seen[0]["headers"]["x-auth-subject"]
        .as_str()
        .unwrap()
        .starts_with("wallet-"));

    let refusals: Vec<(&str, String, String, u16, &str)> = {
        let stale = format!(r#"{{"timestampMs":{},"op":"sign"}}"#, now_ms() - 600_000);
        let no_ts = r#"{"op":"sign"}"#.to_string();
        let tampered = body.replace("sign", "drain");
        let stranger = signer(9);
        let big = padded(1024 * 1024 + 1);
        vec![
            ("replay", st.clone(), body.clone(), 401, "replayed"),
            ("stale", stamp(&key, &stale), stale, 401, "stale"),
            (
                "no timestamp",
                stamp(&key, &no_ts),
                no_ts,
                401,
                "missing_timestamp",
            ),
            ("tampered body", st.clone(), tampered, 401, "bad_signature"),
            (
                "unregistered key",
                stamp(&stranger, &body),
                body.clone(),
                401,
                "unknown_key",
            ),
            (
                "body over the limit",
                stamp(&key, &big),
                big,
                413,
                "payload_too_large",
            ),
        ]
    };
    up.recorder.clear();
    for (name, st, body, status, needle) in refusals {
        let r = post(st, body).await.unwrap();
        assert_eq!(r.status(), status, "{name}");
        let text = r.text().await.unwrap();
        assert!(text.contains(needle), "{name}: {text}");
    }
    assert!(up.seen().is_empty(), "refused stamps reached the upstream");

    // A stamp where the route takes only API keys, and a stamp next to a bearer.
    let fresh = format!(r#"{{"timestampMs":{}}}"#, now_ms());
    let r = c
        .post(g.url("/keys-only"))
        .header("x-stamp", stamp(&key, &fresh))
        .body(fresh.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("accepts: api_key"));
    let r = c
        .post(g.url(ACTIVITIES))
        .header("x-stamp", stamp(&key, &fresh))
        .bearer_auth("mantyx_whatever")
        .body(fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(up.seen().is_empty());
}

/// A fresh JSON body of exactly `len` bytes.
fn padded(len: usize) -> String {
    let head = format!(r#"{{"timestampMs":{},"pad":""#, now_ms());
    let pad = len.saturating_sub(head.len() + 2);
    format!("{head}{}\"}}", "x".repeat(pad))
}

#[tokio::test]
async fn large_bodies_up_to_the_default_limit_reach_the_upstream_whole() {
    let up = Upstream::start();
    let g = gate(&up, "5m");
    let key = signer(1);
    let h1 = client();
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    // Around pingora's 64 KiB replay buffer, and up to the 1 MiB default.
    let sizes = [
        100,
        64 * 1024 - 1,
        64 * 1024,
        64 * 1024 + 1,
        200_000,
        1024 * 1024,
    ];
    for (c, proto) in [(&h1, "h1"), (&h2, "h2")] {
        for len in sizes {
            let body = padded(len);
            assert_eq!(body.len(), len);
            let r = c
                .post(g.url(ACTIVITIES))
                .header("x-stamp", stamp(&key, &body))
                .body(body.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(
                r.status(),
                200,
                "{proto} {len}: {}",
                r.text().await.unwrap()
            );
            let seen = up.seen();
            let got = seen.last().unwrap()["body"]["text"].as_str().unwrap();
            assert!(
                got == body,
                "{proto} {len}: upstream got {} bytes",
                got.len()
            );
        }
    }
    assert_eq!(up.seen().len(), 2 * sizes.len());

    // One byte over the limit, declared or not: nothing reaches the upstream.
    up.recorder.clear();
    let over = padded(1024 * 1024 + 1);
    let r = h1
        .post(g.url(ACTIVITIES))
        .header("x-stamp", stamp(&key, &over))
        .body(over.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert!(r.text().await.unwrap().contains("payload_too_large"));
    // Undeclared (chunked): past the 64 KiB replay buffer it is refused as
    // needing a length, whatever its size. The gate answers before the body
    // ends, so the client reads while it writes (raw, to see the answer).
    let head = format!(
        "POST {ACTIVITIES} HTTP/1.1\r\nHost: x\r\nX-Stamp: {}\r\nTransfer-Encoding: chunked\r\n\r\n",
        stamp(&key, &over)
    );
    let resp = send_chunked(g.port, &head, over.as_bytes());
    assert!(resp.starts_with("HTTP/1.1 411"), "{resp}");
    assert!(resp.contains("length_required"), "{resp}");
    assert!(up.seen().is_empty());
}

#[tokio::test]
async fn a_refused_large_body_is_read_to_its_end_so_the_client_sees_the_refusal() {
    use std::io::{Read, Write};
    let up = Upstream::start();
    let g = gate(&up, "5m");
    let key = signer(1);
    // 8 MiB declared against the 1 MiB limit: the refusal comes first, and
    // closing with that much unread would reset the connection under a
    // client that writes its whole body before reading (as most do).
    let over = padded(8 * 1024 * 1024);
    let head = format!(
        "POST {ACTIVITIES} HTTP/1.1\r\nHost: x\r\nX-Stamp: {}\r\nContent-Length: {}\r\n\r\n",
        stamp(&key, &over),
        over.len()
    );
    let port = g.port;
    let resp = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(over.as_bytes())
            .expect("the whole body is accepted (read and dropped)");
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
    .await
    .unwrap();
    assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");
    assert!(resp.contains("payload_too_large"), "{resp}");
    assert!(up.seen().is_empty());
}

/// Send `head` then `body` in 16 KiB chunks on one connection, reading the
/// response concurrently (it may come, and the connection close, before the
/// body is sent); returns the response text.
fn send_chunked(port: u16, head: &str, body: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut w = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut r = w.try_clone().unwrap();
    r.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            match r.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            let text = String::from_utf8_lossy(&buf);
            if let Some((head, rest)) = text.split_once("\r\n\r\n") {
                let len = head.lines().find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                });
                if len.is_some_and(|n| rest.len() >= n) {
                    break;
                }
            }
        }
        String::from_utf8_lossy(&buf).into_owned()
    });
    let _ = w.write_all(head.as_bytes());
    for c in body.chunks(16 * 1024) {
        if w.write_all(format!("{:x}\r\n", c.len()).as_bytes())
            .is_err()
            || w.write_all(c).is_err()
            || w.write_all(b"\r\n").is_err()
        {
            break;
        }
    }
    let _ = w.write_all(b"0\r\n\r\n");
    reader.join().unwrap()
}

#[tokio::test]
async fn chunked_bodies_are_verified_and_bounded_by_the_replay_buffer() {
    let up = Upstream::start();
    let g = gate(&up, "5m");
    let key = signer(1);
    let c = client();
    let send = |body: String| {
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = body
            .as_bytes()
            .chunks(8 * 1024)
            .map(|c| Ok(c.to_vec()))
            .collect();
        c.post(g.url(ACTIVITIES))
            .header("x-stamp", stamp(&key, &body))
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                chunks,
            )))
            .send()
    };
    let small = padded(40 * 1024);
    let r = send(small.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(up.seen()[0]["body"]["text"], small);
    assert_eq!(up.seen()[0]["headers"]["transfer-encoding"], "chunked");

    up.recorder.clear();
    let r = send(padded(100 * 1024)).await.unwrap();
    assert_eq!(r.status(), 411);
    assert!(r.text().await.unwrap().contains("length_required"));
    assert!(up.seen().is_empty());
}

#[test]
fn slow_and_truncated_bodies_fail_cleanly() {
    use std::io::{Read, Write};
    let up = Upstream::start();
    let g = gate_with(&up, "5m", "body_timeout = \"400ms\"");
    let key = signer(1);
    let body = format!(r#"{{"timestampMs":{}}}"#, now_ms());
    let head = format!(
        "POST {ACTIVITIES} HTTP/1.1\r\nHost: x\r\nX-Stamp: {}\r\nContent-Length: {}\r\n\r\n",
        stamp(&key, &body),
        body.len()
    );
    // Slow: half the body, then silence past the timeout.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", g.port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&body.as_bytes()[..body.len() / 2]).unwrap();
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    assert!(resp.starts_with("HTTP/1.1 408"), "{resp}");
    // Truncated: half the body, then the client closes its side.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", g.port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&body.as_bytes()[..body.len() / 2]).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");
    assert!(up.seen().is_empty(), "a partial body reached the upstream");
}

#[test]
fn register_stamp_key_prints_a_normalised_stanza() {
    let vk = signer(3).verifying_key();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_authgate"))
        .args([
            "keys",
            "register-stamp-key",
            "--scheme",
            "ed25519",
            "--id",
            "w1",
            "--workspace",
            "acme",
            "--public-key",
        ])
        .arg(hex::encode(vk.to_bytes()).to_uppercase())
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(&format!("public_key = \"{}\"", hex::encode(vk.to_bytes()))),
        "{text}"
    );
    assert!(text.contains("kind = \"stamp\""));
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_authgate"))
        .args([
            "keys",
            "register-stamp-key",
            "--scheme",
            "p256",
            "--id",
            "w2",
            "--public-key",
            "02ff",
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
}
