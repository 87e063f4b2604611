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

#[tokio::test]
async fn stamps_from_the_public_clients_pass_and_forgeries_do_not() {
    let up = Upstream::start();
    // The vectors are dated November 2023: a wide window admits them here; staleness
    // is tested with fresh stamps below and at library level with a fixed clock.
    let g = gate(&up, "2000d");
    let c = client();
    let mut passed = 0;
    let mut accepted = BTreeSet::new();
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
        if expect == "valid" && digest.as_ref().is_ok_and(|d| accepted.contains(d)) {
            // A re-encoding (high-S twin, uncompressed key, upper-case hex) of a
            // stamp accepted earlier: one replay memory covers every form.
            assert_eq!(
                (status, text.contains("replayed")),
                (401, true),
                "{name}: {text}"
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
        } else if status == 400 {
            // Header values outside visible ASCII or over the size limit stop at extraction.
            assert!(
                matches!(expect, "stamp_encoding" | "stamp_too_large" | "stamp_json"),
                "{name}: 400 for {expect}: {text}"
            );
            assert!(up.seen().is_empty(), "{name}");
        } else {
            assert_eq!(status, 401, "{name}: {text}");
            let body: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(body["reason"], expect, "{name}");
            assert!(
                up.seen().is_empty(),
                "{name}: a refused stamp reached the upstream"
            );
        }
    }
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
        .body(over)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert!(up.seen().is_empty());
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
    assert!(
        resp.is_empty() || resp.starts_with("HTTP/1.1 400"),
        "{resp}"
    );
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
