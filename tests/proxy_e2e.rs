//! Foundation end to end: routing, 404/405, 502, hot reload (file and
//! SIGHUP), refused broken configs, h2c and TLS downstreams, admin endpoints.

mod common;

use common::*;
use serde_json::Value;
use std::time::Duration;

const ROUTES: &str = r#"
[[routes]]
name = "get run"
path = "/api/v1/workspaces/{workspace}/agent-runs/{run_id}"
methods = ["GET"]
upstream = "echo"
auth = { public = true }

[[routes]]
name = "public"
path = "/public/{*rest}"
upstream = "echo"
auth = { public = true }

[[routes]]
name = "private"
path = "/private"
upstream = "echo"
auth = { accept = ["api_key"] }
"#;

#[tokio::test]
async fn routes_by_template_and_method() {
    let up = Upstream::start();
    let gate = Gate::start(&up, ROUTES);
    let c = client();

    let r = c
        .get(gate.url("/api/v1/workspaces/acme/agent-runs/r-17?x=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let echoed: Value = r.json().await.unwrap();
    assert_eq!(echoed["method"], "GET");
    assert_eq!(echoed["path"], "/api/v1/workspaces/acme/agent-runs/r-17");
    assert_eq!(echoed["query"], "x=1");
    assert_eq!(up.seen().len(), 1);

    let r = c
        .post(gate.url("/api/v1/workspaces/acme/agent-runs/r-17"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "GET");

    let r = c.get(gate.url("/nothing/here")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/json");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "not_found");

    // A route without public = true is never open.
    let r = c.get(gate.url("/private")).send().await.unwrap();
    assert_eq!(r.status(), 401);

    // Dot segments could route-confuse an upstream: refused.
    for path in [
        "/public/%2e%2e/private",
        "/public/../private",
        "/public//x",
        "/public/a%2Fb",
    ] {
        let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let (status, _) = raw_request(gate.port, &req);
        assert_eq!(status, 400, "{path}");
    }
    assert_eq!(up.seen().len(), 1, "refusals never reach the upstream");
}

#[tokio::test]
async fn routes_match_on_host_before_host_less_routes() {
    let (a, b) = (Upstream::start(), Upstream::start());
    let extra = format!(
        r#"
[upstreams.other]
backends = ["{}"]

[[routes]]
host = "api.example.com"
path = "/hosted"
upstream = "other"
auth = {{ public = true }}

[[routes]]
path = "/hosted"
upstream = "echo"
auth = {{ public = true }}

[[routes]]
host = "only.example.com"
path = "/only"
upstream = "echo"
auth = {{ public = true }}
"#,
        b.addr
    );
    let gate = Gate::start(&a, &extra);
    let c = client();
    let get = |path: &str, host: &str| c.get(gate.url(path)).header("host", host).send();
    assert_eq!(
        get("/hosted", "API.example.com:443")
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        (a.seen().len(), b.seen().len()),
        (0, 1),
        "the host-specific route wins"
    );
    assert_eq!(
        get("/hosted", "elsewhere.test").await.unwrap().status(),
        200
    );
    assert_eq!(
        (a.seen().len(), b.seen().len()),
        (1, 1),
        "other hosts take the host-less route"
    );
    assert_eq!(get("/only", "elsewhere.test").await.unwrap().status(), 404);
    assert_eq!(
        get("/only", "only.example.com").await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn upstream_down_is_a_json_502() {
    let up = Upstream::start();
    let dead = free_port();
    let extra = format!(
        r#"
[upstreams.dead]
backends = ["127.0.0.1:{dead}"]
connect_timeout = "500ms"

[[routes]]
path = "/down"
upstream = "dead"
auth = {{ public = true }}
"#
    );
    let gate = Gate::start(&up, &extra);
    let r = client().get(gate.url("/down")).send().await.unwrap();
    assert_eq!(r.status(), 502);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "bad_gateway");
}

#[tokio::test]
async fn hot_reload_changes_routes_without_restart_and_refuses_broken_files() {
    let up = Upstream::start();
    let gate = Gate::start(&up, ROUTES);
    let c = client();
    let pid = gate.pid();
    assert_eq!(
        c.get(gate.url("/v2/new")).send().await.unwrap().status(),
        404
    );

    let base = base_config(gate.port, gate.admin, up.addr);
    let added = format!("{base}\n{ROUTES}\n[[routes]]\npath = \"/v2/new\"\nupstream = \"echo\"\nauth = {{ public = true }}\n");
    gate.rewrite(&added);
    let url = gate.url("/v2/new");
    let ok = wait_for_status(&c, &url, 200).await;
    assert!(ok, "the new route never appeared");
    assert_eq!(gate.pid(), pid);

    // A broken file (unknown upstream) is refused: the running config stays.
    let broken = format!("{base}\n[[routes]]\npath = \"/v2/new\"\nupstream = \"nowhere\"\nauth = {{ public = true }}\n");
    gate.rewrite(&broken);
    let admin = gate.admin_url("/metrics");
    let refused = eventually(Duration::from_secs(5), || {
        let c = c.clone();
        let admin = admin.clone();
        async move {
            let text = c.get(&admin).send().await.unwrap().text().await.unwrap();
            text.contains(r#"authgate_config_reloads_total{outcome="error"}"#)
        }
    })
    .await;
    assert!(refused, "the broken reload was not counted");
    assert_eq!(
        c.get(gate.url("/v2/new")).send().await.unwrap().status(),
        200
    );
    assert_eq!(
        c.get(gate.url("/api/v1/workspaces/a/agent-runs/1"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn sighup_reloads_immediately() {
    let up = Upstream::start();
    let (port, admin) = (free_port(), free_port());
    let base = base_config(port, admin, up.addr)
        .replace("watch_interval = \"200ms\"", "watch_interval = \"0s\"");
    let gate = Gate::start_with(&format!("{base}\n{ROUTES}"), port, admin);
    let c = client();
    gate.rewrite(&format!(
        "{base}\n[[routes]]\npath = \"/hup\"\nupstream = \"echo\"\nauth = {{ public = true }}\n"
    ));
    // Past the 1 s default interval (plus the 50 ms settle delay): a watcher
    // that fell back to polling would have reloaded by now. This is the one
    // wait that must run its length: it shows that nothing happens.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let metrics = c
        .get(gate.admin_url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !metrics.contains("authgate_config_reloads_total{"),
        "no polling with watch_interval = 0s: {metrics}"
    );
    assert_eq!(
        c.get(gate.url("/hup")).send().await.unwrap().status(),
        404,
        "no polling with watch_interval = 0s"
    );
    gate.signal("HUP");
    let url = gate.url("/hup");
    let ok = wait_for_status(&c, &url, 200).await;
    assert!(ok, "SIGHUP did not reload");
    let metrics = c
        .get(gate.admin_url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"authgate_config_reloads_total{outcome="ok"} 1"#),
        "{metrics}"
    );
}

#[test]
fn check_command_lists_every_error_and_accepts_good_files() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        r#"
[upstreams.a]
backends = []
[[routes]]
path = "no-slash"
upstream = "missing"
auth = { accept = ["telepathy"] }
"#,
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_authgate"))
        .args(["check", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for key in [
        "upstreams.a.backends",
        "routes[0].path",
        "routes[0].upstream",
        "routes[0].auth.accept[0]",
    ] {
        assert!(err.contains(key), "missing {key} in:\n{err}");
    }

    let good = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/authgate.toml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_authgate"))
        .args(["check", "--config"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_changes_nothing_in_the_store_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let check = |config: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_authgate"))
            .args(["check", "--config"])
            .arg(config)
            .output()
            .unwrap()
    };
    let config = dir.path().join("authgate.toml");
    let write = |url: &str| {
        std::fs::write(
            &config,
            format!("[store]\nurl = \"{url}\"\n[upstreams.a]\nbackends = [\"127.0.0.1:9\"]\n[[routes]]\npath = \"/x\"\nupstream = \"a\"\nauth = {{ accept = [\"api_key\"] }}\n"),
        )
        .unwrap()
    };
    // A SQLite file that does not exist yet is fine, and is not created.
    write("sqlite://data/keys.db");
    let out = check(&config);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dir.path().join("data").exists(), "check created the store");
    // One that is not a database is an error naming store.url, left as is.
    std::fs::write(dir.path().join("junk.db"), b"not a database at all, really").unwrap();
    write("sqlite://junk.db");
    let out = check(&config);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("store.url"));
    assert_eq!(
        std::fs::read(dir.path().join("junk.db")).unwrap(),
        b"not a database at all, really"
    );
    // PostgreSQL is not contacted: a closed port still checks; a bad URL does not.
    write("postgres://authgate@127.0.0.1:9/none");
    assert!(check(&config).status.success());
    write("postgres://authgate@127.0.0.1:notaport/none");
    assert!(!check(&config).status.success());
}

#[tokio::test]
async fn h2c_downstream() {
    let up = Upstream::start();
    let gate = Gate::start(&up, ROUTES);
    let c = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let r = c.get(gate.url("/public/h2")).send().await.unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(r.status(), 200);
    let echoed: Value = r.json().await.unwrap();
    assert_eq!(echoed["path"], "/public/h2");
}

#[tokio::test]
async fn tls_downstream_with_h2_alpn() {
    let up = Upstream::start();
    let (port, admin, tls_port) = (free_port(), free_port(), free_port());
    let cert = fixture("tls/cert.pem");
    let key = fixture("tls/key.pem");
    let cfg = format!(
        "{}\n{ROUTES}",
        base_config(port, admin, up.addr).replace(
            "[admin]",
            &format!("[server.tls]\nlisten = \"127.0.0.1:{tls_port}\"\ncert = \"{}\"\nkey = \"{}\"\n\n[admin]", cert.display(), key.display())
        )
    );
    let _gate = Gate::start_with(&cfg, port, admin);
    let ca =
        reqwest::Certificate::from_pem(&std::fs::read(fixture("tls/ca.pem")).unwrap()).unwrap();
    for h2 in [false, true] {
        let mut b = reqwest::Client::builder().add_root_certificate(ca.clone());
        if !h2 {
            b = b.http1_only();
        }
        let c = b.build().unwrap();
        let r = c
            .get(format!("https://localhost:{tls_port}/public/tls"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.version(),
            if h2 {
                reqwest::Version::HTTP_2
            } else {
                reqwest::Version::HTTP_11
            }
        );
        let echoed: Value = r.json().await.unwrap();
        assert_eq!(echoed["headers"]["x-forwarded-proto"], "https");
    }
}

#[tokio::test]
async fn admin_serves_metrics_and_health() {
    let up = Upstream::start();
    let gate = Gate::start(&up, ROUTES);
    let c = client();
    assert_eq!(
        c.get(gate.url("/public/x")).send().await.unwrap().status(),
        200
    );
    let health: Value = c
        .get(gate.admin_url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["routes"], 3);
    // The access log and metrics are written just after the response.
    let url = gate.admin_url("/metrics");
    let counted = eventually(Duration::from_secs(3), || {
        let c = c.clone();
        let url = url.clone();
        async move {
            let text = c.get(&url).send().await.unwrap().text().await.unwrap();
            text.contains(r#"authgate_requests_total{route="public",status="200"} 1"#)
                && text.contains("authgate_request_duration_seconds_bucket")
        }
    })
    .await;
    assert!(counted, "request not counted in /metrics");
}

#[tokio::test]
async fn round_robin_and_health_checks_skip_a_dead_backend() {
    let (a, b) = (Upstream::start(), Upstream::start());
    let dead = free_port();
    let extra = format!(
        r#"
[upstreams.pair]
backends = ["{}", "{}"]

[upstreams.half_dead]
backends = ["{}", "127.0.0.1:{dead}"]
health_check = {{ kind = "tcp", interval = "100ms" }}

[[routes]]
path = "/rr"
upstream = "pair"
auth = {{ public = true }}

[[routes]]
path = "/hc"
upstream = "half_dead"
auth = {{ public = true }}
"#,
        a.addr, b.addr, a.addr
    );
    let gate = Gate::start(&a, &extra);
    let c = client();
    for _ in 0..6 {
        assert_eq!(c.get(gate.url("/rr")).send().await.unwrap().status(), 200);
    }
    assert_eq!(
        (a.seen().len(), b.seen().len()),
        (3, 3),
        "round-robin over both backends"
    );

    // Round-robin alternates between the two backends, so until the checker
    // marks the dead one down every other request fails: wait for four
    // successes in a row, then nothing fails.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut streak = 0;
    while streak < 4 && std::time::Instant::now() < deadline {
        let r = c.get(gate.url("/hc")).send().await;
        if r.is_ok_and(|r| r.status() == 200) {
            streak += 1;
        } else {
            streak = 0;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let down = streak >= 4;
    assert!(down, "the dead backend was never marked down");
    for _ in 0..10 {
        assert_eq!(c.get(gate.url("/hc")).send().await.unwrap().status(), 200);
    }
}

#[tokio::test]
async fn tls_to_the_upstream_with_sni_and_certificate_verification() {
    // The upstream terminates TLS and presents its certificate (for localhost,
    // signed by the test CA) only to a client whose SNI is "localhost": a 200
    // through it proves the SNI, and it records every SNI and handshake error.
    let up = Upstream::start();
    let tls = common::terminator::Terminator::start("localhost").await;
    let extra = format!(
        r#"
[upstreams.tls_noverify]
backends = ["{0}"]
tls = true
sni = "localhost"
insecure_skip_verify = true

[upstreams.tls_verify]
backends = ["{0}"]
tls = true
sni = "localhost"

[upstreams.tls_other_name]
backends = ["{0}"]
tls = true
sni = "other.test"
insecure_skip_verify = true

[[routes]]
path = "/public/{{*rest}}"
upstream = "tls_noverify"
auth = {{ public = true }}

[[routes]]
path = "/strict"
upstream = "tls_verify"
auth = {{ public = true }}

[[routes]]
path = "/other-name"
upstream = "tls_other_name"
auth = {{ public = true }}
"#,
        tls.addr
    );
    let gate = Gate::start(&up, &extra);
    let c = client();
    let r = c.get(gate.url("/public/over-tls")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let echoed: Value = r.json().await.unwrap();
    assert_eq!(echoed["sni"], "localhost");
    assert_eq!(tls.snis(), [Some("localhost".to_string())]);
    assert_eq!(tls.outcomes(), [Ok(())]);

    // The test CA is not trusted by the system: verification must refuse the
    // certificate (the gate aborts with an unknown-CA alert), not fail otherwise.
    let r = c.get(gate.url("/strict")).send().await.unwrap();
    assert_eq!(r.status(), 502);
    let outcomes = tls.outcomes();
    assert_eq!(tls.snis().len(), 2, "{outcomes:?}");
    assert_eq!(tls.snis()[1].as_deref(), Some("localhost"));
    let refused = outcomes[1].as_ref().unwrap_err();
    assert!(refused.contains("UnknownCA"), "{refused}");

    // The configured SNI is what is sent: another name gets no certificate.
    let r = c.get(gate.url("/other-name")).send().await.unwrap();
    assert_eq!(r.status(), 502);
    assert_eq!(tls.snis()[2].as_deref(), Some("other.test"));
    assert!(tls.outcomes()[2].is_err());
    assert!(up.seen().is_empty(), "nothing went to the plain upstream");
}

#[tokio::test]
async fn the_upstream_gets_the_request_line_body_and_other_headers_unchanged() {
    let up = Upstream::start();
    let gate = Gate::start(&up, ROUTES);
    // Raw HTTP/1.1: repeated headers, odd case, an encoded path and query,
    // and a body. Everything but what authgate owns must arrive as sent.
    let req = "POST /public/a%20b?x=1&y=%C3%A9 HTTP/1.1\r\nHost: x\r\nAccept: text/a\r\n\
               ACCEPT: text/b\r\nX-Custom-Thing: v1\r\nX-Forwarded-Host: evil\r\n\
               Content-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
    let (status, _) = raw_request(gate.port, req);
    assert_eq!(status, 200);
    // Absolute-form targets are forwarded too.
    let req = "GET http://x/public/abs?q=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let (status, _) = raw_request(gate.port, req);
    assert_eq!(status, 200);

    let seen = up.seen();
    assert_eq!(seen.len(), 2);
    let first = &seen[0];
    assert_eq!(first["method"], "POST");
    assert_eq!(first["path"], "/public/a%20b");
    assert_eq!(first["query"], "x=1&y=%C3%A9");
    assert_eq!(first["body"]["text"], "hello");
    let h = &first["headers"];
    assert_eq!(h["accept"], serde_json::json!(["text/a", "text/b"]));
    assert_eq!(h["x-custom-thing"], "v1");
    assert_eq!(h["content-type"], "text/plain");
    assert!(h.get("x-forwarded-host").is_none(), "spoofable: {h}");
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "http");
    assert_eq!(h["x-request-id"].as_str().map(str::len), Some(32));
    assert_eq!(seen[1]["path"], "/public/abs");
    assert_eq!(seen[1]["query"], "q=2");
}
