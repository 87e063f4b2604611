//! Local rate limits through the real proxy: the 429 shape and headers,
//! limits per credential, per workspace and per route, kinds and route
//! filters, refused requests never reaching the upstream, state kept
//! across a reload that keeps the limit, and config checks.

mod common;

use common::*;
use std::time::Duration;

const RUNS: &str = "/api/v1/workspaces/acme/runs";
const OTHER: &str = "/api/v1/workspaces/acme/other";

fn config(keys: &str, limits: &str) -> String {
    format!(
        r#"
[[routes]]
name = "runs"
path = "/api/v1/workspaces/{{workspace}}/runs"
upstream = "echo"
auth = {{ accept = ["api_key"] }}

[[routes]]
name = "other"
path = "/api/v1/workspaces/{{workspace}}/other"
upstream = "echo"
auth = {{ accept = ["api_key"] }}

{limits}
{keys}"#
    )
}

async fn get(c: &reqwest::Client, g: &Gate, path: &str, key: &str) -> reqwest::Response {
    c.get(g.url(path)).bearer_auth(key).send().await.unwrap()
}

#[tokio::test]
async fn limits_per_credential_workspace_and_route_answer_429_with_headers() {
    let up = Upstream::start();
    let (k1, s1) = key("mantyx_", "api_key", "k1", "acme", &[], "");
    let (k2, s2) = key("mantyx_", "api_key", "k2", "acme", &[], "");
    // Per credential: 3 at once on "runs" (slow refill, so the test is not
    // timing-sensitive); per workspace: 6 at once on every route.
    let limits = r#"
[[rate_limits]]
name = "per-key"
key = "credential"
rate = 1
per = "1m"
burst = 3
routes = ["runs"]

[[rate_limits]]
name = "per-workspace"
key = "workspace"
rate = 1
per = "1h"
burst = 6
kinds = ["api_key"]
"#;
    let g = Gate::start(&up, &config(&format!("{s1}{s2}"), limits));
    let c = client();
    for i in 0..3 {
        assert_eq!(get(&c, &g, RUNS, &k1).await.status(), 200, "k1 #{i}");
    }
    up.recorder.clear();
    let r = get(&c, &g, RUNS, &k1).await;
    assert_eq!(r.status(), 429);
    let h = r.headers().clone();
    let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(h["ratelimit-policy"], "\"per-key\";q=3;w=60");
    assert_eq!(
        h["ratelimit"].to_str().unwrap(),
        format!("\"per-key\";r=0;t={retry}")
    );
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited");
    assert_eq!(body["retry_after"], retry);
    assert_eq!(body["limit"], "per-key");
    assert!(
        up.seen().is_empty(),
        "a refused request reached the upstream"
    );
    // Another credential has its own per-key budget ...
    assert_eq!(get(&c, &g, RUNS, &k2).await.status(), 200);
    // ... and the per-key limit applies to "runs" only.
    assert_eq!(get(&c, &g, OTHER, &k1).await.status(), 200);
    // The workspace budget (6) is shared by both keys, and every applicable
    // limit counts a request (the per-key 429 above too): 3 + 1 + 1 + 1 =
    // 6 spent, so the next request of either key is refused by it.
    let r = get(&c, &g, OTHER, &k2).await;
    assert_eq!(r.status(), 429);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["limit"], "per-workspace");
    assert!(
        body["retry_after"].as_u64().unwrap() > 60,
        "the longest wait wins"
    );
}

#[tokio::test]
async fn a_reload_that_keeps_a_limit_keeps_its_state_and_a_change_resets_it() {
    let up = Upstream::start();
    let (k1, s1) = key("mantyx_", "api_key", "k1", "acme", &[], "");
    let limit = |burst: u32| {
        format!("[[rate_limits]]\nname = \"per-key\"\nkey = \"credential\"\nrate = 1\nper = \"1h\"\nburst = {burst}\n")
    };
    let g = Gate::start(&up, &config(&s1, &limit(2)));
    g.until_watching().await;
    let c = client();
    assert_eq!(get(&c, &g, RUNS, &k1).await.status(), 200);
    assert_eq!(get(&c, &g, RUNS, &k1).await.status(), 200);
    assert_eq!(get(&c, &g, RUNS, &k1).await.status(), 429);
    // Touch the file without changing the limit: still refused after the reload.
    let text = std::fs::read_to_string(&g.config).unwrap();
    g.rewrite(&format!("{text}\n# touched\n"));
    let m = metrics(&c, &g).await;
    let before = sample(&m, "authgate_config_reloads_total{outcome=\"ok\"}").unwrap_or(0.0);
    let reloaded = eventually(Duration::from_secs(10), || async {
        sample(
            &metrics(&c, &g).await,
            "authgate_config_reloads_total{outcome=\"ok\"}",
        )
        .unwrap_or(0.0)
            > before
    })
    .await;
    assert!(reloaded);
    assert_eq!(get(&c, &g, RUNS, &k1).await.status(), 429, "state kept");
    // A changed limit starts fresh.
    g.rewrite(&text.replace("burst = 2", "burst = 4"));
    let fresh = eventually(Duration::from_secs(10), || async {
        get(&c, &g, RUNS, &k1).await.status() == 200
    })
    .await;
    assert!(fresh, "the new limit never applied");
}

#[test]
fn rate_limit_config_is_checked() {
    for (limits, want) in [
        (
            "key = \"address\"\nrate = 1\nper = \"1s\"",
            "rate_limits[0].key",
        ),
        (
            "key = \"credential\"\nrate = 0\nper = \"1s\"",
            "rate_limits[0].rate",
        ),
        (
            "key = \"credential\"\nrate = 1\nper = \"0s\"",
            "rate_limits[0].per",
        ),
        (
            "key = \"credential\"\nrate = 1\nper = \"1s\"\nroutes = [\"nope\"]",
            "rate_limits[0].routes[0]",
        ),
        (
            "key = \"credential\"\nrate = 1\nper = \"1s\"\nkinds = [\"apikey\"]",
            "rate_limits[0].kinds[0]",
        ),
        (
            "key = \"credential\"\nrate = 1\nper = \"1s\"\nsurprise = 1",
            "unknown field `surprise`",
        ),
    ] {
        let err = check_refuses(&format!(
            "[upstreams.echo]\nbackends = [\"127.0.0.1:9\"]\n{}\n[[rate_limits]]\n{limits}\n",
            config("", "")
        ));
        assert!(err.contains(want), "want {want} in:\n{err}");
    }
}

/// A route with `rate_limit_headers` gets the tightest limit's
/// `RateLimit-Policy` and `RateLimit` on admitted responses (remaining
/// counts down, the reset grows); a route without it gets none.
#[tokio::test]
async fn allowed_responses_carry_ratelimit_headers_when_the_route_asks() {
    let up = Upstream::start();
    let (k1, s1) = key("mantyx_", "api_key", "k1", "acme", &[], "");
    let limits = r#"
[[rate_limits]]
name = "per-key"
key = "credential"
rate = 1
per = "1m"
burst = 5
routes = ["runs"]

[[rate_limits]]
name = "per-workspace"
key = "workspace"
rate = 10
per = "1m"
burst = 100
"#;
    let cfg = config(&s1, limits).replacen(
        "auth = { accept = [\"api_key\"] }",
        "auth = { accept = [\"api_key\"], rate_limit_headers = true }",
        1,
    );
    let g = Gate::start(&up, &cfg);
    let c = client();
    for left in (0..5).rev() {
        let r = get(&c, &g, RUNS, &k1).await;
        assert_eq!(r.status(), 200);
        let h = r.headers();
        assert_eq!(
            h["ratelimit-policy"], "\"per-key\";q=5;w=60",
            "the tightest"
        );
        let used = 5 - left;
        // (5 - left) requests back at one a minute.
        assert_eq!(
            h["ratelimit"].to_str().unwrap(),
            format!("\"per-key\";r={left};t={}", used * 60)
        );
    }
    let r = get(&c, &g, RUNS, &k1).await;
    assert_eq!(r.status(), 429);
    // "other" (limited by the workspace only) does not ask.
    let r = get(&c, &g, OTHER, &k1).await;
    assert_eq!(r.status(), 200);
    assert!(!r.headers().contains_key("ratelimit"));
    assert!(!r.headers().contains_key("ratelimit-policy"));
}

/// Public routes (no credential) are limited per client address: the peer,
/// or the `X-Real-IP` a trusted proxy sets; an untrusted peer's header is
/// ignored. An `ip` limit also counts authenticated requests per address.
#[tokio::test]
async fn public_routes_are_limited_per_client_address() {
    let up = Upstream::start();
    let (k1, s1) = key("mantyx_", "api_key", "k1", "acme", &[], "");
    let limits = r#"
[identity]
trusted_proxies = ["127.0.0.1/32"]

[[routes]]
name = "open"
path = "/open"
upstream = "echo"
auth = { public = true }

[[rate_limits]]
name = "per-ip"
key = "ip"
rate = 1
per = "1m"
burst = 2
"#;
    let g = Gate::start(&up, &config(&s1, limits));
    let c = client();
    let open = |ip: &'static str| {
        let c = c.clone();
        let url = g.url("/open");
        async move { c.get(url).header("x-real-ip", ip).send().await.unwrap() }
    };
    assert_eq!(open("198.51.100.1").await.status(), 200);
    assert_eq!(open("198.51.100.1").await.status(), 200);
    let before = up.seen().len();
    let r = open("198.51.100.1").await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["ratelimit-policy"], "\"per-ip\";q=2;w=60");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        (body["error"].as_str(), body["limit"].as_str()),
        (Some("rate_limited"), Some("per-ip"))
    );
    assert_eq!(
        up.seen().len(),
        before,
        "the refused request reached nothing"
    );
    // Another address has its own bucket.
    assert_eq!(open("198.51.100.2").await.status(), 200);
    // Authenticated requests from that address count in it too.
    let authed = |ip: &'static str| {
        let c = c.clone();
        let url = g.url(RUNS);
        let k = k1.clone();
        async move {
            c.get(url)
                .bearer_auth(k)
                .header("x-real-ip", ip)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(authed("198.51.100.2").await, 200);
    assert_eq!(authed("198.51.100.2").await, 429);
    assert_eq!(authed("198.51.100.3").await, 200);
}

#[tokio::test]
async fn an_untrusted_peer_cannot_choose_its_address() {
    let up = Upstream::start();
    let limits = r#"
[[routes]]
path = "/open"
upstream = "echo"
auth = { public = true }

[[rate_limits]]
key = "ip"
rate = 1
per = "1m"
burst = 1
"#;
    let g = Gate::start(&up, &config("", limits));
    let c = client();
    let send = |ip: String| c.get(g.url("/open")).header("x-real-ip", ip).send();
    assert_eq!(send("203.0.113.1".into()).await.unwrap().status(), 200);
    // A fresh X-Real-IP each time does not buy a fresh bucket: the peer
    // (127.0.0.1) is not a trusted proxy, so its own address counts.
    for i in 2..5 {
        assert_eq!(send(format!("203.0.113.{i}")).await.unwrap().status(), 429);
    }
}
