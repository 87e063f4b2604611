//! `authgate loadtest`: the prepared config loads, and the real proxy on it
//! admits every prepared credential (and refuses forgeries), the driver counts what it sends
//! against the in-process echo upstream, and stamped runs pass the real
//! proxy (forged stamps are refused with 401).

mod common;

use authgate::loadtest::credentials::{self, Kind};
use authgate::loadtest::{driver, plan, prepare, PrepareArgs, RunArgs};
use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

fn prepare_args(out: &Path) -> PrepareArgs {
    PrepareArgs {
        out: out.to_path_buf(),
        api_keys: 25,
        jwts: 12,
        stamps: 10,
        workspaces: 4,
        upstream: "127.0.0.1:3000".into(),
        listen: "127.0.0.1:8080".into(),
        admin: "127.0.0.1:9090".into(),
        threads: 1,
    }
}

fn run_args(url: &str) -> RunArgs {
    RunArgs {
        url: url.into(),
        credentials: None,
        mix: None,
        invalid: 0.0,
        path: None,
        concurrency: 4,
        connections: None,
        duration: None,
        requests: Some(200),
        rate: None,
        warmup: Duration::ZERO,
        timeout: Duration::from_secs(10),
        json: true,
        quiet: true,
    }
}

#[test]
fn prepare_writes_a_config_that_loads_and_distinct_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let p = prepare::prepare(&prepare_args(dir.path())).unwrap();
    let rt = authgate::config::load(&p.config).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        rt.auth.key_count,
        3 * 25 + 2 * 10,
        "opaque keys and both signing kinds"
    );
    assert_eq!(rt.auth.issuers.len(), 4);
    let iss: HashSet<_> = rt
        .auth
        .issuers
        .iter()
        .map(|i| i.section().issuer.clone())
        .collect();
    assert_eq!(iss.len(), 4, "each issuer needs its own iss");

    let lines = credentials::read_jsonl(&p.credentials).unwrap();
    for kind in Kind::ALL {
        let of_kind: Vec<_> = lines.iter().filter(|l| l.kind == kind).collect();
        let want = match kind {
            k if k.is_jwt() => 12,
            k if k.is_stamp() => 10,
            _ => 25,
        };
        assert_eq!(of_kind.len(), want, "{kind}");
        let distinct: HashSet<_> = of_kind.iter().map(|l| &l.credential).collect();
        assert_eq!(distinct.len(), want, "{kind} credentials repeat");
        assert_eq!(p.counts[kind.index()], (kind, want));
    }
    let paths: HashSet<_> = lines.iter().map(|l| l.path.as_str()).collect();
    assert_eq!(paths.len(), 4 + 1, "four workspaces and the backend route");
    for f in [
        "jwt-hs256.secret",
        "jwt-rs256.pub.pem",
        "jwt-es256.pub.pem",
        "jwt-eddsa.pub.pem",
    ] {
        assert!(dir.path().join(f).is_file(), "{f}");
    }
    let text = std::fs::read_to_string(&p.config).unwrap();
    let keys = std::fs::read_to_string(dir.path().join("keys.jsonl")).unwrap();
    for l in &lines {
        assert!(
            !text.contains(&l.credential) && !keys.contains(&l.credential),
            "plaintext credential (or stamp seed) in the config or key file"
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&p.credentials)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "credentials.jsonl readable by others");
    }
}

/// `authgate_verifications_total` lines of the gate's `/metrics` for `outcome`.
async fn verifications(c: &reqwest::Client, gate: &common::Gate, outcome: &str) -> Vec<String> {
    let text = c
        .get(gate.admin_url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let needle = format!("outcome=\"{outcome}\"");
    text.lines()
        .filter(|l| l.starts_with("authgate_verifications_total{") && l.contains(&needle))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_admits_every_prepared_credential_and_refuses_forgeries() {
    // The real binary on the prepared config: each credential on its own
    // path and header, as `loadtest run` sends it.
    let dir = tempfile::tempdir().unwrap();
    let (up, gate, p) = prepared_gate(dir.path());
    let c = common::client();
    // Stamps sign a fresh body per request: `stamps_pass_the_real_proxy…` covers them.
    let lines: Vec<_> = credentials::read_jsonl(&p.credentials)
        .unwrap()
        .into_iter()
        .filter(|l| !l.kind.is_stamp())
        .collect();
    let total = lines.len();
    assert_eq!(total, 3 * 25 + 4 * 12);
    let pools = credentials::pools(lines, "", None).unwrap();
    let mut rng = rand::thread_rng();
    let mut admitted = 0;
    let send = |cred: &credentials::Prepared| {
        c.get(gate.url(&cred.path.to_string()))
            .header(cred.header.clone(), cred.value.clone())
            .send()
    };
    for (kind, pool) in &pools {
        for _ in 0..pool.len() {
            up.recorder.clear();
            let cred = pool.next();
            let r = send(cred).await.unwrap();
            assert_eq!(r.status(), 200, "{kind} {:?} refused", cred.path);
            let seen = up.seen();
            assert_eq!(seen.len(), 1, "{kind}");
            let method = if kind.is_jwt() { "jwt" } else { kind.as_str() };
            assert_eq!(seen[0]["headers"]["x-auth-method"], method, "{kind}");
            admitted += 1;
        }
        up.recorder.clear();
        for _ in 0..5 {
            let forged = pool.invalid(&mut rng);
            let r = send(&forged).await.unwrap();
            assert_eq!(r.status(), 401, "{kind} forgery");
        }
        assert!(
            up.seen().is_empty(),
            "{kind}: a forgery reached the upstream"
        );
    }
    assert_eq!(admitted, total);
    // Forgeries are well-formed (no 400 above) and pass the checksum gate,
    // so each was looked up (or its signature checked) and found wanting.
    assert_eq!(
        verifications(&c, &gate, "bad_checksum").await,
        Vec::<String>::new(),
        "forgeries stopped before lookup"
    );
    let unknown = verifications(&c, &gate, "unknown").await;
    assert_eq!(
        unknown.len(),
        3,
        "api_key, access_token, server_key: {unknown:?}"
    );
}

async fn echo() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(authgate::echo::serve(listener));
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_against_echo_counts_every_request() {
    let url = echo().await;
    let report = driver::run(plan(&run_args(&url)).unwrap()).await;
    let v: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(v["requests"], 200, "{v}");
    assert_eq!(v["status"]["200"], 200, "{v}");
    assert_eq!(v["status"].as_object().unwrap().len(), 1, "{v}");
    assert_eq!(v["errors"], 0, "{v}");
    assert_eq!(v["by_kind"]["none"]["requests"], 200, "{v}");
    assert_eq!(v["mode"], "closed");
    // Every request took some time: a zero median means nothing was recorded.
    let lat = |q: &str| v["latency_us"][q].as_u64().unwrap();
    assert!(lat("p50") > 0, "{v}");
    assert!(
        lat("p50") <= lat("p90") && lat("p90") <= lat("p99") && lat("p99") <= lat("max"),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_mix_and_forgeries_are_counted_by_kind() {
    let dir = tempfile::tempdir().unwrap();
    let p = prepare::prepare(&prepare_args(dir.path())).unwrap();
    let url = echo().await;
    let mut args = run_args(&url);
    args.credentials = Some(p.credentials.clone());
    args.mix = Some("api_key=1,jwt_rs256=1,server_key=1".into());
    args.invalid = 0.5;
    args.requests = Some(300);
    args.connections = Some(2);
    let report = driver::run(plan(&args).unwrap()).await;
    assert_eq!(report.requests, 300);
    assert_eq!(report.errors, 0);
    let names: HashSet<&str> = report.by_kind.keys().map(String::as_str).collect();
    let allowed: HashSet<&str> = [
        "api_key",
        "api_key:invalid",
        "jwt_rs256",
        "jwt_rs256:invalid",
        "server_key",
        "server_key:invalid",
    ]
    .into();
    assert!(names.is_subset(&allowed), "{names:?}");
    // 300 draws at 1/6 each: every label shows up unless something is wrong.
    assert_eq!(names.len(), 6, "{names:?}");
    let sum: u64 = report.by_kind.values().map(|k| k.requests).sum();
    assert_eq!(sum, 300);
    assert_eq!(report.info.connections, 2);
}

/// A proxy started from a prepared config, in front of a recording echo.
fn prepared_gate(dir: &Path) -> (common::Upstream, common::Gate, prepare::Prepared) {
    let up = common::Upstream::start();
    let (port, admin) = (common::free_port(), common::free_port());
    let p = prepare::prepare(&PrepareArgs {
        upstream: up.addr.to_string(),
        listen: format!("127.0.0.1:{port}"),
        admin: format!("127.0.0.1:{admin}"),
        ..prepare_args(dir)
    })
    .unwrap();
    let gate = common::Gate::serve_file(&p.config, port, admin);
    (up, gate, p)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stamps_pass_the_real_proxy_once_each_and_forgeries_get_401() {
    let dir = tempfile::tempdir().unwrap();
    let (up, gate, p) = prepared_gate(dir.path());
    let mut args = run_args(&gate.url(""));
    args.credentials = Some(p.credentials.clone());
    args.mix = Some("stamp_ed25519=1".into());
    args.requests = Some(120);
    let report = driver::run(plan(&args).unwrap()).await;
    assert_eq!(report.requests, 120);
    assert_eq!(report.errors, 0);
    assert_eq!(report.status.get("200"), Some(&120), "{:?}", report.status);
    assert_eq!(report.by_kind["stamp_ed25519"].requests, 120);

    // Every request reached the upstream as a stamped POST with its own body,
    // and the 120 requests went round all 10 keys.
    let seen: Vec<_> = up
        .seen()
        .into_iter()
        .filter(|r| r["method"] == "POST")
        .collect();
    assert_eq!(seen.len(), 120);
    let mut subjects = HashSet::new();
    let mut counters = HashSet::new();
    for r in &seen {
        let h = &r["headers"];
        assert_eq!(h["x-auth-method"], "stamp", "{r}");
        assert!(r["path"].as_str().unwrap().ends_with("/agent-runs"), "{r}");
        subjects.insert(h["x-auth-subject"].as_str().unwrap().to_string());
        let body: serde_json::Value =
            serde_json::from_str(r["body"]["text"].as_str().unwrap()).unwrap();
        assert!(body["timestampMs"].as_u64().is_some(), "{body}");
        counters.insert(body["n"].as_u64().unwrap());
    }
    assert_eq!(subjects.len(), 10, "{subjects:?}");
    assert!(subjects
        .iter()
        .all(|s| s.starts_with("stamp_ed25519-subject-")));
    assert_eq!(counters.len(), 120, "a body was sent twice");

    // Forged stamps (valid signatures by unregistered keys) are refused
    // before the upstream; the genuine ones in the same run still pass.
    up.recorder.clear();
    args.invalid = 0.5;
    args.requests = Some(200);
    let report = driver::run(plan(&args).unwrap()).await;
    assert_eq!(report.errors, 0);
    let (good, bad) = (
        &report.by_kind["stamp_ed25519"],
        &report.by_kind["stamp_ed25519:invalid"],
    );
    assert_eq!(good.requests + bad.requests, 200);
    assert!(bad.requests > 0 && good.requests > 0);
    assert_eq!(
        good.status.get("200"),
        Some(&good.requests),
        "{:?}",
        good.status
    );
    assert_eq!(
        bad.status.get("401"),
        Some(&bad.requests),
        "{:?}",
        bad.status
    );
    assert_eq!(report.status.get("401"), Some(&bad.requests));
    let posts = up.seen().iter().filter(|r| r["method"] == "POST").count();
    assert_eq!(posts as u64, good.requests);
}

/// RFC 9421 message signatures made by the load tool pass the real proxy,
/// each once; forgeries (valid signatures by unregistered keys) get 401.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_signatures_pass_the_real_proxy_and_forgeries_get_401() {
    let dir = tempfile::tempdir().unwrap();
    let (up, gate, p) = prepared_gate(dir.path());
    let mut args = run_args(&gate.url(""));
    args.credentials = Some(p.credentials.clone());
    args.mix = Some("httpsig_ed25519=1".into());
    args.requests = Some(120);
    let report = driver::run(plan(&args).unwrap()).await;
    assert_eq!(report.errors, 0);
    assert_eq!(report.status.get("200"), Some(&120), "{:?}", report.status);
    let seen: Vec<_> = up
        .seen()
        .into_iter()
        .filter(|r| r["method"] == "POST")
        .collect();
    assert_eq!(seen.len(), 120);
    let mut subjects = HashSet::new();
    for r in &seen {
        let h = &r["headers"];
        assert!(h.get("signature-input").is_none(), "stripped: {r}");
        assert!(h["content-digest"]
            .as_str()
            .unwrap()
            .starts_with("sha-256=:"));
        subjects.insert(h["x-auth-subject"].as_str().unwrap().to_string());
    }
    assert_eq!(subjects.len(), 10, "{subjects:?}");
    assert!(subjects
        .iter()
        .all(|s| s.starts_with("httpsig_ed25519-subject-")));

    up.recorder.clear();
    args.invalid = 0.5;
    args.requests = Some(100);
    let report = driver::run(plan(&args).unwrap()).await;
    let (good, bad) = (
        &report.by_kind["httpsig_ed25519"],
        &report.by_kind["httpsig_ed25519:invalid"],
    );
    assert!(bad.requests > 0 && good.requests > 0);
    assert_eq!(
        good.status.get("200"),
        Some(&good.requests),
        "{:?}",
        good.status
    );
    assert_eq!(
        bad.status.get("401"),
        Some(&bad.requests),
        "{:?}",
        bad.status
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_sends_the_schedule() {
    let url = echo().await;
    let mut args = run_args(&url);
    args.rate = Some(500.0);
    args.requests = Some(100);
    args.warmup = Duration::from_millis(100);
    let report = driver::run(plan(&args).unwrap()).await;
    assert_eq!(report.info.mode, "open");
    assert_eq!(report.errors, 0);
    assert!(report.requests > 0, "nothing was sent");
    assert_eq!(report.requests + report.missed, 100);
    // Paced, not sent at once: 100 requests at 500/s span at least 99/500 s.
    assert!(report.duration_s >= 0.19, "{}", report.duration_s);
    assert_eq!(
        report.status.get("200").copied().unwrap_or(0),
        report.requests
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connections_are_errors_not_responses() {
    // Bind and drop to find a port with nobody listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut args = run_args(&format!("http://127.0.0.1:{port}"));
    args.requests = Some(20);
    args.timeout = Duration::from_secs(2);
    let report = driver::run(plan(&args).unwrap()).await;
    assert_eq!(report.requests, 20);
    assert_eq!(report.errors, 20);
    assert_eq!(report.error_kinds.connect, 20);
    assert!(report.status.is_empty());
}

#[test]
fn bad_run_options_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = prepare::prepare(&PrepareArgs {
        jwts: 0,
        stamps: 0,
        ..prepare_args(dir.path())
    })
    .unwrap();
    let creds = Some(p.credentials.clone());
    type Edit = Box<dyn Fn(&mut RunArgs)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "https",
            Box::new(|a| a.url = "https://127.0.0.1:1".into()),
            "plain http only",
        ),
        (
            "mix without file",
            Box::new(|a| a.mix = Some("api_key".into())),
            "need --credentials",
        ),
        (
            "invalid without file",
            Box::new(|a| a.invalid = 0.1),
            "need --credentials",
        ),
        (
            "invalid > 1",
            Box::new(|a| a.invalid = 1.5),
            "between 0 and 1",
        ),
        (
            "zero concurrency",
            Box::new(|a| a.concurrency = 0),
            "--concurrency",
        ),
        (
            "too many connections",
            Box::new(|a| a.connections = Some(5)),
            "--connections",
        ),
        (
            "zero requests",
            Box::new(|a| a.requests = Some(0)),
            "--requests",
        ),
        ("negative rate", Box::new(|a| a.rate = Some(-1.0)), "--rate"),
        (
            "bad path",
            Box::new(|a| a.path = Some("x".into())),
            "--path",
        ),
        (
            "kind missing from file",
            Box::new(move |a| {
                a.credentials = creds.clone();
                a.mix = Some("jwt_es256".into());
            }),
            "has none",
        ),
        (
            "stamp kind missing from file",
            Box::new({
                let creds = Some(p.credentials.clone());
                move |a: &mut RunArgs| {
                    a.credentials = creds.clone();
                    a.mix = Some("stamp_ed25519".into());
                }
            }),
            "has none",
        ),
        (
            "bad mix",
            Box::new(|a| a.mix = Some("api_key=x".into())),
            "invalid --mix",
        ),
    ];
    for (name, edit, want) in cases {
        let mut a = run_args("http://127.0.0.1:1");
        if name == "bad mix" {
            a.credentials = Some(p.credentials.clone());
        }
        edit(&mut a);
        let err = plan(&a).err().unwrap_or_else(|| panic!("{name}: accepted"));
        assert!(err.contains(want), "{name}: {err}");
    }
}
