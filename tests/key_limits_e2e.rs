//! Limits a key carries itself, set through the admin API: its own rate
//! limit (429 under the policy `key`, other keys unaffected, changed and
//! removed at run time) and its usage quota, spent once per admitted
//! request across two instances sharing PostgreSQL (exactly the quota
//! reaches the upstream, then 429 `quota_exhausted`), read and set again
//! through the API, refilled when its period turns, and refused (503, never
//! a pass) while the database cannot be reached. A key's own limit is
//! shared by the fleet on Redis.

mod common;

use common::pg::{CutProxy, TempDb};
use common::redis_server::TempPrefix;
use common::*;
use serde_json::{json, Value};

const PATH: &str = "/w/acme/x";

fn config(store_url: &str, admin: &str, extra: &str) -> String {
    format!(
        r#"
[store]
url = "{store_url}"
poll_interval = "100ms"
auto_migrate = true
timeout = "500ms"

{admin}
{extra}

[[routes]]
path = "/w/{{workspace}}/x"
upstream = "echo"
auth = {{ accept = ["api_key"] }}
"#
    )
}

/// One admin call: status and JSON body.
async fn admin(
    g: &Gate,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = client()
        .request(m, g.admin_url(&format!("/admin/v1{path}")))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let s = resp.status().as_u16();
    (s, resp.json().await.unwrap_or(Value::Null))
}

/// Create an API key for `acme` with `extra` fields: (id, secret).
async fn create(g: &Gate, token: &str, extra: Value) -> (String, String) {
    let mut body = json!({"kind": "api_key", "subject": "svc", "workspace": "acme"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (s, v) = admin(g, token, "POST", "/keys", Some(body)).await;
    assert_eq!(s, 201, "{v}");
    (
        v["key"]["id"].as_str().unwrap().into(),
        v["secret"].as_str().unwrap().into(),
    )
}

/// One request with `secret`: status, body and headers.
async fn call(g: &Gate, secret: &str) -> (u16, Value, reqwest::header::HeaderMap) {
    let r = client()
        .get(g.url(PATH))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap();
    let (s, h) = (r.status().as_u16(), r.headers().clone());
    (s, r.json().await.unwrap_or(Value::Null), h)
}

fn reached(up: &Upstream, id: &str) -> usize {
    up.seen()
        .iter()
        .filter(|r| r["headers"]["x-auth-credential-id"] == id)
        .count()
}

#[tokio::test]
async fn a_key_carries_its_own_rate_limit_set_through_the_admin_api() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/keys.db", dir.path().display());
    let (token, stanza) = admin_token();
    let up = Upstream::start();
    let g = Gate::start(&up, &config(&url, &stanza, ""));

    // Bad limits are refused with a precise error.
    for bad in [
        json!({"rate": 0, "per": "1s"}),
        json!({"rate": 1, "per": "2d"}),
        json!({"rate": 1, "per": "soon"}),
        json!({"rate": 1, "per": "1s", "extra": 1}),
    ] {
        let body =
            json!({"kind": "api_key", "subject": "s", "workspace": "acme", "rate_limit": bad});
        let (s, v) = admin(&g, &token, "POST", "/keys", Some(body)).await;
        assert_eq!(s, 400, "{v}");
    }

    let (limited, secret) = create(
        &g,
        &token,
        json!({"rate_limit": {"rate": 1, "per": "1m", "burst": 2}}),
    )
    .await;
    let (free, free_secret) = create(&g, &token, json!({})).await;
    let (_, one) = admin(&g, &token, "GET", &format!("/keys/{limited}"), None).await;
    assert_eq!(
        one["key"]["rate_limit"],
        json!({"rate": 1, "per": "1m", "burst": 2})
    );

    assert_eq!(call(&g, &secret).await.0, 200);
    assert_eq!(call(&g, &secret).await.0, 200);
    let (s, v, h) = call(&g, &secret).await;
    assert_eq!(
        (s, v["error"].as_str(), v["limit"].as_str()),
        (429, Some("rate_limited"), Some("key")),
        "{v}"
    );
    assert_eq!(h["ratelimit-policy"], "\"key\";q=2;w=60");
    assert!(h["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    assert_eq!(
        reached(&up, &limited),
        2,
        "the refused request reached nothing"
    );
    for _ in 0..5 {
        assert_eq!(
            call(&g, &free_secret).await.0,
            200,
            "another key is not limited"
        );
    }
    assert_eq!(reached(&up, &free), 5);

    // Raised at run time: the next request counts under the new limit.
    let (s, _) = admin(
        &g,
        &token,
        "PATCH",
        &format!("/keys/{limited}"),
        Some(json!({"rate_limit": {"rate": 1, "per": "1m", "burst": 5}})),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(call(&g, &secret).await.0, 200);
    // Removed: no limit at all.
    let (s, v) = admin(
        &g,
        &token,
        "PATCH",
        &format!("/keys/{limited}"),
        Some(json!({"rate_limit": null})),
    )
    .await;
    assert_eq!((s, &v["key"]["rate_limit"]), (200, &Value::Null));
    for _ in 0..8 {
        assert_eq!(call(&g, &secret).await.0, 200);
    }
}

#[tokio::test]
async fn a_quota_is_spent_exactly_once_per_request_across_two_instances() {
    let db = TempDb::new().await;
    let (token, stanza) = admin_token();
    let up = Upstream::start();
    let cfg = config(&db.url, &stanza, "");
    let (a, b) = (Gate::start(&up, &cfg), Gate::start(&up, &cfg));
    store_ready(&a, &db.url).await;
    store_ready(&b, &db.url).await;

    let (id, secret) = create(&a, &token, json!({"quota": {"remaining": 7}})).await;
    // Concurrent requests on both instances: exactly 7 pass.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let g = if i % 2 == 0 { a.url(PATH) } else { b.url(PATH) };
        let secret = secret.clone();
        tasks.push(tokio::spawn(async move {
            let r = client().get(g).bearer_auth(secret).send().await.unwrap();
            let s = r.status().as_u16();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }));
    }
    let mut passed = 0;
    for t in tasks {
        let (s, v) = t.await.unwrap();
        match s {
            200 => passed += 1,
            429 => assert_eq!(v["error"], "quota_exhausted", "{v}"),
            other => panic!("{other}: {v}"),
        }
    }
    assert_eq!(passed, 7);
    assert_eq!(reached(&up, &id), 7, "the upstream saw exactly the quota");
    let (s, v, h) = call(&b, &secret).await;
    assert_eq!((s, v["error"].as_str()), (429, Some("quota_exhausted")));
    assert!(h.get("retry-after").is_none(), "no refill, no retry");

    // Read and set through the API (on the other instance).
    let (_, one) = admin(&b, &token, "GET", &format!("/keys/{id}"), None).await;
    assert_eq!(one["key"]["quota"]["remaining"], 0);
    let (s, v) = admin(
        &b,
        &token,
        "PATCH",
        &format!("/keys/{id}"),
        Some(json!({"quota": {"remaining": 2}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(call(&a, &secret).await.0, 200);
    assert_eq!(call(&b, &secret).await.0, 200);
    assert_eq!(call(&a, &secret).await.0, 429);

    // A daily refill: exhausted says when; once the day turns (the last
    // refill moved to yesterday here), the next request refills it.
    let (s, _) = admin(
        &a,
        &token,
        "PATCH",
        &format!("/keys/{id}"),
        Some(json!({"quota": {"remaining": 0, "refill": {"amount": 3, "interval": "daily"}}})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, v, h) = call(&a, &secret).await;
    assert_eq!((s, v["error"].as_str()), (429, Some("quota_exhausted")));
    let after: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=86_400).contains(&after), "{after}");
    assert_eq!(v["retry_after"], after);
    let (pg, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    pg.execute(
        "UPDATE authgate_keys SET quota_refilled_at = quota_refilled_at - 86400 WHERE id = $1",
        &[&id],
    )
    .await
    .unwrap();
    for g in [&a, &b, &a] {
        assert_eq!(call(g, &secret).await.0, 200);
    }
    assert_eq!(call(&b, &secret).await.0, 429);
    let (_, one) = admin(&b, &token, "GET", &format!("/keys/{id}"), None).await;
    assert_eq!(one["key"]["quota"]["remaining"], 0);
    assert_eq!(
        one["key"]["quota"]["refill"],
        json!({"amount": 3, "interval": "daily"})
    );

    // Removed: the key is unlimited again.
    admin(
        &a,
        &token,
        "PATCH",
        &format!("/keys/{id}"),
        Some(json!({"quota": null})),
    )
    .await;
    for _ in 0..3 {
        assert_eq!(call(&b, &secret).await.0, 200);
    }
}

#[tokio::test]
async fn a_quota_fails_closed_while_the_database_is_cut() {
    let db = TempDb::new().await;
    let proxy = CutProxy::start().await;
    let (token, stanza) = admin_token();
    let up = Upstream::start();
    let g = Gate::start(&up, &config(&db.url_via(&proxy), &stanza, ""));
    store_ready(&g, &db.url).await;
    let (id, secret) = create(&g, &token, json!({"quota": {"remaining": 100}})).await;
    // The key's own change entry must not drop it from the cache later.
    feed_applied(&db, &g).await;
    assert_eq!(call(&g, &secret).await.0, 200, "cached from now on");

    proxy.cut();
    let before = reached(&up, &id);
    for _ in 0..3 {
        let (s, v, _) = call(&g, &secret).await;
        assert_eq!(s, 503, "{v}");
    }
    assert_eq!(reached(&up, &id), before, "nothing passed unspent");
    let m = metrics(&client(), &g).await;
    assert!(
        sample(&m, "authgate_quota_spends_total{outcome=\"unavailable\"}").unwrap_or(0.0) >= 3.0
    );

    proxy.restore();
    assert!(
        eventually(std::time::Duration::from_secs(10), || async {
            call(&g, &secret).await.0 == 200
        })
        .await,
        "recovers once the database answers"
    );
}

#[tokio::test]
async fn a_keys_own_limit_is_shared_by_the_fleet_on_redis() {
    let db = TempDb::new().await;
    let prefix = TempPrefix::new();
    let (token, stanza) = admin_token();
    let up = Upstream::start();
    let redis = format!(
        "[redis]\nurl = \"{}\"\nprefix = \"{}\"\n",
        common::redis_server::url(),
        prefix.prefix
    );
    let cfg = config(&db.url, &stanza, &redis);
    let (a, b) = (Gate::start(&up, &cfg), Gate::start(&up, &cfg));
    store_ready(&a, &db.url).await;
    store_ready(&b, &db.url).await;

    // 20 at once, one more a minute: two local limits would admit 40.
    let (id, secret) = create(
        &a,
        &token,
        json!({"rate_limit": {"rate": 1, "per": "1m", "burst": 20}}),
    )
    .await;
    let mut refused = 0;
    for i in 0..40 {
        let g = if i % 2 == 0 { &a } else { &b };
        let (s, v, _) = call(g, &secret).await;
        match s {
            200 => {}
            429 => {
                assert_eq!(v["limit"], "key");
                refused += 1;
            }
            other => panic!("{other}: {v}"),
        }
    }
    let passed = reached(&up, &id);
    // The fleet admits the burst, plus at most two on credit per instance.
    assert!((20..=24).contains(&passed), "{passed} admitted");
    assert_eq!(passed + refused, 40);
    assert!(!prefix.keys().is_empty(), "the bucket lives in Redis");
}
