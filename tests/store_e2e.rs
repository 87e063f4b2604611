//! A fleet on one PostgreSQL, through the real binary: two instances share
//! a database (their own, dropped after). A key issued on one works on
//! both; revoked on one, it is refused by the next request there and, on
//! the other, as soon as the change feed's notification arrives (the poll
//! safety net is set far away, so only the push can do it). Then the
//! database is cut off with a TCP proxy: a cached key keeps working, an
//! unseen one gets 503 `temporarily_unavailable` with `Retry-After`, the
//! store is reported down, and everything recovers on its own.

mod common;

use common::pg::{CutProxy, TempDb};
use common::*;
use serde_json::{json, Value};
use sha2::Digest;
use std::time::{Duration, Instant};

fn token() -> (String, String) {
    let t = format!("agadm_{:032x}", rand::random::<u128>());
    let digest = hex::encode(sha2::Sha256::digest(t.as_bytes()));
    let stanza = format!("[[admin.tokens]]\nid = \"ops\"\ndigest = \"sha256:{digest}\"\nscopes = [\"keys:read\", \"keys:write\"]\n");
    (t, stanza)
}

fn config(url: &str, tokens: &str) -> String {
    format!(
        "[store]\nurl = \"{url}\"\nauto_migrate = true\npoll_interval = \"30s\"\ntimeout = \"1s\"\n\n{tokens}\n[[routes]]\npath = \"/w/{{workspace}}/x\"\nupstream = \"echo\"\nauth = {{ accept = [\"api_key\"] }}\n"
    )
}

async fn create(c: &reqwest::Client, gate: &Gate, token: &str, subject: &str) -> (String, String) {
    let r = c
        .post(gate.admin_url("/admin/v1/keys"))
        .bearer_auth(token)
        .json(&json!({"kind": "api_key", "subject": subject, "workspace": "acme"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let v: Value = r.json().await.unwrap();
    (
        v["secret"].as_str().unwrap().to_string(),
        v["key"]["id"].as_str().unwrap().to_string(),
    )
}

async fn status(c: &reqwest::Client, gate: &Gate, key: &str) -> u16 {
    c.get(gate.url("/w/acme/x"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Wait until the instance has migrated and answers a store lookup.
async fn ready(c: &reqwest::Client, gate: &Gate) {
    let ok = eventually(Duration::from_secs(10), || async {
        sample(
            &metrics(c, gate).await,
            "authgate_store_up{store=\"postgres\"}",
        ) == Some(1.0)
    })
    .await;
    assert!(ok, "the store never came up");
}

#[tokio::test]
async fn a_fleet_on_postgres_shares_keys_revocations_and_outages() {
    let db = TempDb::new().await;
    let proxy = CutProxy::start().await;
    let up = Upstream::start();
    let (t, stanza) = token();
    // a reaches PostgreSQL through the cuttable proxy, b directly.
    let a = Gate::start(&up, &config(&db.url_via(&proxy), &stanza));
    let b = Gate::start(&up, &config(&db.url, &stanza));
    let c = client();
    ready(&c, &a).await;
    ready(&c, &b).await;

    // Issued on a, works on both (and both cache it).
    let (k1, id1) = create(&c, &a, &t, "svc-1").await;
    assert_eq!(status(&c, &a, &k1).await, 200);
    assert_eq!(status(&c, &b, &k1).await, 200);
    assert_eq!(status(&c, &b, &k1).await, 200);

    // Revoked on a: refused on a at once, on b once the push arrives.
    let r = c
        .post(a.admin_url(&format!("/admin/v1/keys/{id1}/revoke")))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let revoked_at = Instant::now();
    assert_eq!(status(&c, &a, &k1).await, 401);
    let refused = eventually(Duration::from_secs(5), || async {
        status(&c, &b, &k1).await == 401
    })
    .await;
    let took = revoked_at.elapsed();
    assert!(refused, "b still accepts the revoked key");
    // The poll is 30 s away: only the notification can explain a refusal now.
    assert!(took < Duration::from_secs(5), "{took:?}");
    let m = metrics(&c, &b).await;
    assert!(sample(&m, "authgate_store_changes_total").unwrap_or(0.0) >= 1.0);

    // Outage: a's connection to PostgreSQL is cut.
    let (cached, _) = create(&c, &a, &t, "svc-2").await;
    // The key's own change entry must not drop it from a's cache later.
    feed_applied(&db, &a).await;
    assert_eq!(status(&c, &a, &cached).await, 200);
    proxy.cut();
    let (unseen, _) = create(&c, &b, &t, "svc-3").await;
    let r = c
        .get(a.url("/w/acme/x"))
        .bearer_auth(&unseen)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        503,
        "an unverifiable key is never a pass"
    );
    assert_eq!(
        r.headers().get("retry-after").map(|v| v.to_str().unwrap()),
        Some("1")
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    assert_eq!(
        status(&c, &a, &cached).await,
        200,
        "a cached key keeps working"
    );
    assert_eq!(
        status(&c, &a, "mantyx_not_a_real_key_at_all_0000000").await / 100,
        4
    );
    // Reported down (the change feed is read at the latest every 30 s;
    // a's notification connection dropped, which wakes it at once).
    let down = eventually(Duration::from_secs(10), || async {
        sample(
            &metrics(&c, &a).await,
            "authgate_store_up{store=\"postgres\"}",
        ) == Some(0.0)
    })
    .await;
    assert!(down, "the outage was not reported");

    // Recovery needs nobody.
    proxy.restore();
    let back = eventually(Duration::from_secs(10), || async {
        status(&c, &a, &unseen).await == 200
    })
    .await;
    assert!(back, "a did not recover");
    ready(&c, &a).await;
}
