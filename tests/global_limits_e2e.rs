//! Global rate limits on the real Redis (127.0.0.1:6379) through the real
//! proxy: two instances share one limit (together they admit the bucket's
//! burst, not twice it; refusals are 429 with the limit's headers and never
//! reach the upstream); with the connection to Redis cut by a TCP proxy,
//! each limit follows its outage policy (`closed`: 503, `open`: admit,
//! `local`: enforced per instance), the metric reads 0 and one line is
//! logged per limit; after the connection is restored the limits are
//! global again by themselves.

mod common;

use common::pg::CutProxy;
use common::redis_server::{addr, url, TempPrefix};
use common::*;
use std::time::Duration;

const RUNS: &str = "/api/v1/workspaces/acme/runs";

fn route(name: &str) -> String {
    format!(
        "[[routes]]\nname = \"{name}\"\npath = \"/api/v1/workspaces/{{workspace}}/{name}\"\nupstream = \"echo\"\nauth = {{ accept = [\"api_key\"] }}\n"
    )
}

/// One request per `per`, `burst` at once, on route `name`.
fn limit(name: &str, per: &str, burst: u32, outage: &str) -> String {
    format!(
        "[[rate_limits]]\nname = \"{name}\"\nkey = \"credential\"\nrate = 1\nper = \"{per}\"\nburst = {burst}\nroutes = [\"{name}\"]\nscope = \"global\"\non_outage = \"{outage}\"\n"
    )
}

fn redis_section(url: &str, prefix: &str) -> String {
    format!("[redis]\nurl = \"{url}\"\nprefix = \"{prefix}\"\ntimeout = \"200ms\"\n")
}

async fn status(g: &Gate, path: &str, key: &str) -> u16 {
    client()
        .get(g.url(path))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn two_instances_share_one_global_limit() {
    let p = TempPrefix::new();
    let up = Upstream::start();
    let (secret, k) = key("mantyx_", "api_key", "k1", "acme", &[], "");
    let cfg = format!(
        "{}{}{}{k}",
        route("runs"),
        limit("runs", "1h", 10, "local"),
        redis_section(&url(), &p.prefix)
    );
    let (g1, g2) = (Gate::start(&up, &cfg), Gate::start(&up, &cfg));
    let c = client();
    let mut admitted = [0, 0];
    let mut refused = None;
    for i in 0..40 {
        let g = if i % 2 == 0 { &g1 } else { &g2 };
        let r = c
            .get(g.url(RUNS))
            .bearer_auth(&secret)
            .send()
            .await
            .unwrap();
        match r.status().as_u16() {
            200 => admitted[i % 2] += 1,
            429 => refused = Some(r),
            s => panic!("status {s}"),
        }
        // Leave each lease time to come back (the limit is what is tested,
        // not how fast a lease returns).
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let total = admitted[0] + admitted[1];
    // One bucket of 10 for both (each alone would admit 10); up to two
    // requests on credit may be owed per instance.
    assert!((10..=14).contains(&total), "admitted {admitted:?}");
    assert!(admitted[0] > 0 && admitted[1] > 0, "{admitted:?}");
    let seen = up.seen().iter().filter(|r| r["path"] == RUNS).count();
    assert_eq!(seen, total, "refused requests reached the upstream");
    let r = refused.expect("a refusal");
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(r.headers()["ratelimit-policy"], "\"runs\";q=10;w=3600");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited", "{body}");
    assert_eq!(p.keys().len(), 1, "one bucket in Redis: {:?}", p.keys());
}

#[tokio::test]
async fn a_redis_outage_follows_each_limits_policy_and_recovers() {
    let p = TempPrefix::new();
    let proxy = CutProxy::to(addr()).await;
    let up = Upstream::start();
    let (secret, k) = key("mantyx_", "api_key", "k1", "acme", &[], "");
    let cfg = format!(
        "{}{}{}{}{}{}{}{k}",
        route("closed"),
        route("open"),
        route("local"),
        limit("closed", "1h", 400, "closed"),
        limit("open", "1s", 1, "open"),
        limit("local", "1h", 2, "local"),
        redis_section(&format!("redis://{}", proxy.addr), &p.prefix)
    );
    let g = Gate::start_logged(&up, &cfg);
    let path = |r: &str| format!("/api/v1/workspaces/acme/{r}");
    // Global while Redis answers: the open limit's burst of 1 holds. (A
    // limit whose bucket Redis reported empty refuses until its next token
    // without asking Redis, outage or not: the open one refills each
    // second, so it soon asks again and sees the outage.)
    assert_eq!(status(&g, &path("closed"), &secret).await, 200);
    assert_eq!(status(&g, &path("open"), &secret).await, 200);
    let c = client();
    let refused = eventually(Duration::from_secs(5), || async {
        status(&g, &path("open"), &secret).await == 429
    })
    .await;
    assert!(refused, "the open limit's burst of 1 was not enforced");

    proxy.cut();
    // closed: 503 once a lease call fails (its leases hold a few tokens).
    let unavailable = eventually(Duration::from_secs(10), || async {
        let r = c
            .get(g.url(&path("closed")))
            .bearer_auth(&secret)
            .send()
            .await
            .unwrap();
        r.status() == 503
            && r.json::<serde_json::Value>().await.unwrap()["reason"] == "rate_limit_unavailable"
    })
    .await;
    assert!(unavailable, "closed did not fail closed");
    // open: admitted past its burst once the outage is seen.
    let open = eventually(Duration::from_secs(10), || async {
        for _ in 0..3 {
            if status(&g, &path("open"), &secret).await != 200 {
                return false;
            }
        }
        true
    })
    .await;
    assert!(open, "open did not fail open");
    // local: enforced on this instance alone (burst 2), then 429.
    let mut local = Vec::new();
    for _ in 0..6 {
        local.push(status(&g, &path("local"), &secret).await);
    }
    assert!(local.contains(&429), "{local:?}");
    assert!(local.iter().all(|s| *s == 200 || *s == 429), "{local:?}");
    let m = metrics(&c, &g).await;
    for l in ["closed", "open"] {
        let series = format!("authgate_rate_limit_backend_up{{limit=\"{l}\"}}");
        assert_eq!(sample(&m, &series), Some(0.0), "{series}");
    }
    let down = |log: &str| log.matches("rate limit backend unreachable").count();
    let log = g.log();
    assert!((2..=3).contains(&down(&log)), "one line per limit:\n{log}");

    // Restored: global again by itself (a probe per second per limit).
    proxy.restore();
    let back = eventually(Duration::from_secs(15), || async {
        status(&g, &path("closed"), &secret).await == 200
    })
    .await;
    assert!(back, "closed never recovered");
    let back_open = eventually(Duration::from_secs(15), || async {
        status(&g, &path("open"), &secret).await == 429
    })
    .await;
    assert!(back_open, "open never became global again");
    let log = g.log();
    assert!(log.contains("rate limit backend reachable again"), "{log}");
    assert!((2..=3).contains(&down(&log)), "no repeated lines:\n{log}");
    let m = metrics(&c, &g).await;
    assert_eq!(
        sample(&m, "authgate_rate_limit_backend_up{limit=\"closed\"}"),
        Some(1.0)
    );
}

#[test]
fn global_limit_config_is_checked() {
    let base = "[upstreams.echo]\nbackends = [\"127.0.0.1:9\"]\n";
    let no_redis = check_refuses(
        &format!("{base}{}", limit("runs", "1s", 1, "local")).replace("routes = [\"runs\"]\n", ""),
    );
    assert!(no_redis.contains("[redis]"), "{no_redis}");
    let bad = check_refuses(&format!(
        "{base}{}{}",
        limit("x", "1s", 1, "sometimes").replace("routes = [\"x\"]\n", ""),
        redis_section("redis://127.0.0.1:6379", "p:")
    ));
    assert!(bad.contains("on_outage"), "{bad}");
    let local = check_refuses(&format!(
        "{base}[[rate_limits]]\nkey = \"route\"\nrate = 1\nper = \"1s\"\non_outage = \"open\"\n"
    ));
    assert!(local.contains("only for scope"), "{local}");
    let url = check_refuses(&format!("{base}{}", redis_section("http://x", "p:")));
    assert!(url.contains("redis.url"), "{url}");
}
