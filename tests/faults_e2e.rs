//! Fault injection through the real proxy: upstreams that reset, close or
//! stall; a JWKS endpoint that goes down or serves garbage; key files
//! deleted or truncated under a reload; SIGTERM under load; SIGHUP storms.
//! Each fault must end in a precise answer (never a hang, never a pass) and
//! recover by itself.

mod common;

use common::raw::{Behaviour, RawUpstream};
use common::*;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn gate_in_front_of(up: &RawUpstream, pool: &str, extra: &str) -> Gate {
    let (port, admin) = (free_port(), free_port());
    let cfg = format!(
        r#"
[server]
listen = ["127.0.0.1:{port}"]
threads = 2
grace_period = "2s"
watch_interval = "100ms"

[admin]
listen = "127.0.0.1:{admin}"

[log]
level = "warn"

[upstreams.raw]
backends = ["{}"]
{pool}

[[routes]]
path = "/{{*rest}}"
upstream = "raw"
auth = {{ public = true }}
{extra}
"#,
        up.addr
    );
    Gate::start_with(&cfg, port, admin)
}

async fn json_error(gate: &Gate, path: &str) -> (u16, Value, Duration) {
    let started = Instant::now();
    let r = client()
        .get(gate.url(path))
        .send()
        .await
        .expect("an answer");
    let status = r.status().as_u16();
    let body = r.json().await.unwrap_or(Value::Null);
    (status, body, started.elapsed())
}

#[tokio::test]
async fn misbehaving_upstreams_get_json_502_or_504_and_never_hang() {
    for (behaviour, want, error) in [
        (Behaviour::Reset, 502, "bad_gateway"),
        (Behaviour::Close, 502, "bad_gateway"),
        (Behaviour::Stall, 504, "gateway_timeout"),
    ] {
        let up = RawUpstream::start(behaviour);
        let gate = gate_in_front_of(
            &up,
            "connect_timeout = \"500ms\"\nread_timeout = \"700ms\"",
            "",
        );
        let (status, body, took) = json_error(&gate, "/x").await;
        assert_eq!(status, want, "{behaviour:?}: {body}");
        assert_eq!(body["error"], error, "{behaviour:?}");
        // The client's own timeout is 10 s; the stall ends at read_timeout.
        assert!(took < Duration::from_secs(5), "{behaviour:?} took {took:?}");
        // The proxy keeps serving: a second request gets the same answer.
        assert_eq!(json_error(&gate, "/y").await.0, want, "{behaviour:?}");
    }
}

/// A JWKS endpoint whose answer the test switches: a document, garbage, or
/// a connection closed without an answer.
#[derive(Clone)]
enum Jwks {
    Doc(&'static str),
    Garbage,
    Down,
}

struct JwksServer {
    url: String,
    mode: Arc<Mutex<Jwks>>,
    hits: Arc<AtomicUsize>,
}

impl JwksServer {
    fn start(mode: Jwks) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let mode = Arc::new(Mutex::new(mode));
        let hits = Arc::new(AtomicUsize::new(0));
        let (m, h) = (mode.clone(), hits.clone());
        std::thread::spawn(move || {
            for s in listener.incoming() {
                let Ok(mut s) = s else { continue };
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                h.fetch_add(1, Ordering::SeqCst);
                let body = match m.lock().unwrap().clone() {
                    Jwks::Down => continue,
                    Jwks::Garbage => b"{\"keys\": [ this is not json".to_vec(),
                    Jwks::Doc(f) => std::fs::read(fixture(&format!("jwt/{f}"))).unwrap(),
                };
                let mut r = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                r.extend_from_slice(&body);
                let _ = s.write_all(&r);
            }
        });
        Self { url, mode, hits }
    }

    fn set(&self, mode: Jwks) {
        *self.mode.lock().unwrap() = mode;
    }
}

#[tokio::test]
async fn jwks_outage_keeps_cached_keys_refuses_unknown_kids_and_recovers() {
    let jwks = JwksServer::start(Jwks::Doc("jwks.json"));
    let up = Upstream::start();
    let extra = format!(
        r#"
[cache]
ttl = "200ms"
negative_ttl = "100ms"

[[jwt.issuers]]
name = "remote"
issuer = "https://issuer.test"
audiences = ["authgate"]
algorithms = ["RS256"]
jwks_url = "{}"
insecure_http_jwks = true
jwks_refresh = "300ms"
jwks_cooldown = "200ms"
workspace_claim = "namespace"

[[routes]]
path = "/api/{{*rest}}"
upstream = "echo"
auth = {{ accept = ["jwt"] }}
"#,
        jwks.url
    );
    let gate = Gate::start(&up, &extra);
    let c = client();
    let call = |t: String| {
        let c = c.clone();
        let url = gate.url("/api/x");
        async move {
            c.get(url)
                .bearer_auth(t)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };
    let old = fixture_token("valid_rs256_jwks");
    let rotated = fixture_token("rotated_rs256");
    assert_eq!(call(old.clone()).await, 200);

    for outage in [Jwks::Down, Jwks::Garbage] {
        jwks.set(outage);
        let before = jwks.hits.load(Ordering::SeqCst);
        // Several refresh periods and identity-cache TTLs pass in the outage.
        let refetched = eventually(Duration::from_secs(5), || async {
            jwks.hits.load(Ordering::SeqCst) >= before + 3
        })
        .await;
        assert!(refetched, "background refresh keeps trying");
        assert_eq!(call(old.clone()).await, 200, "last good keys keep working");
        assert_eq!(call(rotated.clone()).await, 401, "unknown kid refused");
    }
    // Recovery: the endpoint serves the rotated set; no restart.
    jwks.set(Jwks::Doc("jwks_rotated.json"));
    let recovered = eventually_ok(|| call(rotated.clone())).await;
    assert!(
        recovered,
        "the rotated key is picked up once the endpoint is back"
    );
    let metrics = metrics(&c, &gate).await;
    assert!(
        metrics.contains("authgate_jwks_fetches_total{issuer=\"remote\",outcome=\"error\"}"),
        "failed fetches are counted: {metrics}"
    );
}

/// `eventually` for a status-returning call: true once it answers 200.
async fn eventually_ok<F, Fut>(f: F) -> bool
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = u16>,
{
    eventually(Duration::from_secs(5), || {
        let fut = f();
        async move { fut.await == 200 }
    })
    .await
}

async fn reload_count(c: &reqwest::Client, gate: &Gate, outcome: &str) -> u64 {
    let series = format!("authgate_config_reloads_total{{outcome=\"{outcome}\"}}");
    sample(&metrics(c, gate).await, &series).map_or(0, |v| v as u64)
}

#[tokio::test]
async fn deleted_or_truncated_key_files_leave_the_old_config_serving() {
    let up = Upstream::start();
    let (api, stanza) = key("mantyx_", "api_key", "key_file", "acme", &[], "");
    // The same record as one JSON line of a keys file.
    let doc: toml::Table = toml::from_str(&stanza).unwrap();
    let record = &doc["keys"].as_array().unwrap()[0];
    let line = serde_json::to_string(record).unwrap();
    let gate_dir = tempfile::tempdir().unwrap();
    let keys = gate_dir.path().join("keys.jsonl");
    std::fs::write(&keys, format!("{line}\n")).unwrap();
    let secret = gate_dir.path().join("jwt.secret");
    std::fs::copy(fixture("jwt/keys/hs256.secret"), &secret).unwrap();
    let extra = format!(
        r#"
[store]
keys_file = "{}"

[[jwt.issuers]]
name = "hs"
issuer = "https://issuer.test"
audiences = ["authgate"]
algorithms = ["HS256"]
secret_file = "{}"
workspace_claim = "namespace"

[[routes]]
path = "/api/{{*rest}}"
upstream = "echo"
auth = {{ accept = ["api_key", "jwt"] }}
"#,
        keys.display(),
        secret.display()
    );
    let gate = Gate::start(&up, &extra);
    let c = client();
    let jwt = fixture_token("valid_hs256");
    let call = |cred: String| {
        let c = c.clone();
        let url = gate.url("/api/x");
        async move {
            c.get(url)
                .bearer_auth(cred)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };
    assert_eq!(call(api.clone()).await, 200);
    assert_eq!(call(jwt.clone()).await, 200);

    type Fault<'a> = (&'a str, Box<dyn Fn() + 'a>);
    let faults: [Fault; 3] = [
        (
            "keys file truncated mid-record",
            Box::new(|| std::fs::write(&keys, &line[..line.len() / 2]).unwrap()),
        ),
        (
            "keys file deleted",
            Box::new(|| std::fs::remove_file(&keys).unwrap()),
        ),
        (
            "secret file deleted",
            Box::new(|| {
                std::fs::write(&keys, format!("{line}\n")).unwrap();
                std::fs::remove_file(&secret).unwrap();
            }),
        ),
    ];
    for (what, fault) in faults {
        let errors = reload_count(&c, &gate, "error").await;
        fault();
        let refused = eventually(Duration::from_secs(5), || async {
            reload_count(&c, &gate, "error").await > errors
        })
        .await;
        assert!(refused, "{what}: the reload is refused");
        assert_eq!(call(api.clone()).await, 200, "{what}: old keys serve");
        assert_eq!(call(jwt.clone()).await, 200, "{what}: old secret serves");
    }
    // Recovery: the files come back and a reload succeeds.
    let ok = reload_count(&c, &gate, "ok").await;
    std::fs::copy(fixture("jwt/keys/hs256.secret"), &secret).unwrap();
    let reloaded = eventually(Duration::from_secs(5), || async {
        reload_count(&c, &gate, "ok").await > ok
    })
    .await;
    assert!(reloaded, "a good reload follows once the files are whole");
    assert!(eventually_ok(|| call(api.clone())).await);
    assert!(eventually_ok(|| call(jwt.clone())).await);
}

#[tokio::test]
async fn sigterm_under_load_finishes_in_flight_requests_and_refuses_new_ones() {
    let up = RawUpstream::start(Behaviour::Delay(800));
    let mut gate = gate_in_front_of(&up, "read_timeout = \"5s\"", "");
    let c = client();
    let mut in_flight = Vec::new();
    for i in 0..16 {
        let (c, url) = (c.clone(), gate.url(&format!("/slow/{i}")));
        in_flight.push(tokio::spawn(async move {
            match c.get(url).send().await {
                Ok(r) => r.status().as_u16(),
                Err(_) => 0,
            }
        }));
    }
    // All 16 reach the upstream, then SIGTERM.
    let reached = eventually(Duration::from_secs(5), || async { up.heads().len() == 16 }).await;
    assert!(reached, "16 requests in flight");
    gate.signal("TERM");
    tokio::time::sleep(Duration::from_millis(200)).await;
    // New connections are refused cleanly (the listener is closed).
    assert!(
        TcpStream::connect(("127.0.0.1", gate.port)).is_err(),
        "the listener closes at SIGTERM"
    );
    let mut statuses = Vec::new();
    for t in in_flight {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(statuses, vec![200; 16], "every in-flight request finished");
    assert_eq!(up.heads().len(), 16, "nothing retried or lost");
    let exited = eventually(Duration::from_secs(10), || {
        let alive = gate.alive();
        async move { !alive }
    })
    .await;
    assert!(exited, "the process exits after the grace period");
}

#[tokio::test]
async fn sighup_storm_under_load_serves_every_request() {
    let up = Upstream::start();
    let (api, stanza) = key("mantyx_", "api_key", "key_storm", "acme", &[], "");
    let routes = format!(
        "[[routes]]\npath = \"/api/{{*rest}}\"\nupstream = \"echo\"\nauth = {{ accept = [\"api_key\"] }}\n{stanza}"
    );
    let mut gate = Gate::start(&up, &routes);
    let c = client();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (c, url, api, stop) = (c.clone(), gate.url("/api/x"), api.clone(), stop.clone());
        load.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let s = match c.get(&url).bearer_auth(&api).send().await {
                    Ok(r) => r.status().as_u16(),
                    Err(_) => 0,
                };
                statuses.push(s);
            }
            statuses
        }));
    }
    let ok_before = reload_count(&c, &gate, "ok").await;
    for _ in 0..100 {
        gate.signal("HUP");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    let mut all = Vec::new();
    for t in load {
        all.extend(t.await.unwrap());
    }
    assert!(all.len() > 50, "load ran: {} requests", all.len());
    let bad: Vec<_> = all.iter().filter(|s| **s != 200).collect();
    assert!(
        bad.is_empty(),
        "{} of {} not 200: {bad:?}",
        bad.len(),
        all.len()
    );
    assert!(gate.alive(), "the storm did not kill the process");
    assert!(
        reload_count(&c, &gate, "ok").await > ok_before,
        "the signals reloaded"
    );
    assert_eq!(reload_count(&c, &gate, "error").await, 0);
}
