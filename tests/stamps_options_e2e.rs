//! Stamp options through the real binary: `insecure_no_timestamp = true` on a
//! route, a custom dotted `timestamp_field`, a non-default `max_body`, and
//! `replay_capacity`.

mod common;

use common::*;

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

#[tokio::test]
async fn timestamp_requirement_field_and_body_limit_follow_the_config() {
    let up = Upstream::start();
    let signer = ed25519_dalek::SigningKey::from_bytes(&[4; 32]);
    let extra = format!(
        r#"
[stamps]
timestamp_field = "meta.ts"
max_body = 1000

[[routes]]
path = "/strict"
upstream = "echo"
auth = {{ accept = ["stamp"] }}

[[routes]]
path = "/lenient"
upstream = "echo"
auth = {{ accept = ["stamp"], insecure_no_timestamp = true }}

[[keys]]
id = "stamp_opts"
kind = "stamp"
scheme = "ed25519"
public_key = "{}"
subject = "wallet"
workspace = "acme"
"#,
        hex::encode(signer.verifying_key().to_bytes())
    );
    let gate = Gate::start(&up, &extra);
    let c = client();
    let post = |path: &str, body: String| {
        let stamp = authgate::demo::ed25519_stamp(&signer, &body);
        c.post(gate.url(path))
            .header("x-stamp", stamp)
            .body(body)
            .send()
    };
    let reason = |text: &str| -> String {
        serde_json::from_str::<serde_json::Value>(text).unwrap()["reason"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };

    // The timestamp is read from the configured dotted path only.
    let r = post(
        "/strict",
        format!(r#"{{"meta":{{"ts":{}}},"n":1}}"#, now_ms()),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let r = post(
        "/strict",
        format!(r#"{{"timestampMs":{},"n":2}}"#, now_ms()),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(reason(&r.text().await.unwrap()), "missing_timestamp");
    let stale = now_ms() - 3_600_000;
    let r = post("/strict", format!(r#"{{"meta":{{"ts":{stale}}},"n":3}}"#))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(reason(&r.text().await.unwrap()), "stale");

    // A route that does not require one accepts a body without it (and
    // still checks one that is present).
    let r = post("/lenient", r#"{"op":"no-ts","n":4}"#.to_string())
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = post("/lenient", format!(r#"{{"meta":{{"ts":{stale}}},"n":5}}"#))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(reason(&r.text().await.unwrap()), "stale");

    // max_body = 1000: exactly 1000 bytes pass, 1001 do not.
    let sized = |len: usize, n: u32| {
        let head = format!(r#"{{"meta":{{"ts":{}}},"n":{n},"pad":""#, now_ms());
        let body = format!("{head}{}\"}}", "x".repeat(len - head.len() - 2));
        assert_eq!(body.len(), len);
        body
    };
    let r = post("/strict", sized(1000, 6)).await.unwrap();
    assert_eq!(r.status(), 200);
    let r = post("/strict", sized(1001, 7)).await.unwrap();
    assert_eq!(r.status(), 413);

    let ns: Vec<u64> = up
        .seen()
        .iter()
        .map(|r| {
            let body: serde_json::Value =
                serde_json::from_str(r["body"]["text"].as_str().unwrap()).unwrap();
            body["n"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(
        ns,
        [1, 4, 6],
        "only the accepted stamps reached the upstream"
    );
}

/// `replay_capacity` bounds the replay memory: with room for 4 stamps, one
/// seen before 50 others is forgotten once maintenance evicts it (the
/// documented trade-off of a too-small capacity), while with the default
/// capacity it stays refused.
#[tokio::test]
async fn replay_capacity_bounds_what_is_remembered() {
    let signer = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    let key = format!(
        "[[routes]]\npath = \"/s\"\nupstream = \"echo\"\nauth = {{ accept = [\"stamp\"] }}\n\
         [[keys]]\nid = \"stamp_cap\"\nkind = \"stamp\"\nscheme = \"ed25519\"\n\
         public_key = \"{}\"\nsubject = \"wallet\"\nworkspace = \"acme\"\n",
        hex::encode(signer.verifying_key().to_bytes())
    );
    for (capacity, forgets) in [("[stamps]\nreplay_capacity = 4\n", true), ("", false)] {
        let up = Upstream::start();
        let gate = Gate::start(&up, &format!("{capacity}{key}"));
        let c = client();
        let post = |body: String| {
            let stamp = authgate::demo::ed25519_stamp(&signer, &body);
            let req = c.post(gate.url("/s")).header("x-stamp", stamp).body(body);
            async move { req.send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
        };
        let first = format!(r#"{{"timestampMs":{},"n":-1}}"#, now_ms());
        assert_eq!(post(first.clone()).await, 200);
        for n in 0..50 {
            let body = format!(r#"{{"timestampMs":{},"n":{n}}}"#, now_ms());
            assert_eq!(post(body).await, 200);
        }
        let replayed = eventually(std::time::Duration::from_secs(3), || {
            let attempt = post(first.clone());
            async move { attempt.await == 200 }
        })
        .await;
        assert_eq!(replayed, forgets, "{capacity:?}");
    }
}
