//! Metrics and access logs through the real binary: the metrics the README
//! names, with values produced by real traffic; the cache's TTLs and size
//! from the config as the verification counters show them; one access line
//! per request with its fields, and no credential in it for any carrier.

mod common;

use common::*;
use serde_json::Value;
use std::time::Duration;

/// Poll `/metrics` until every `(series, value)` holds (metrics are written
/// just after the response); panics naming the first that does not.
async fn expect_samples(c: &reqwest::Client, gate: &Gate, want: &[(&str, f64)]) {
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    loop {
        let text = metrics(c, gate).await;
        let wrong = want
            .iter()
            .find(|(series, v)| sample(&text, series) != Some(*v));
        match wrong {
            None => return,
            Some((series, v)) if std::time::Instant::now() > deadline => {
                panic!("{series} is not {v}:\n{text}")
            }
            Some(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

const KEYS_ROUTE: &str = r#"
[[routes]]
name = "keys"
path = "/k"
upstream = "echo"
auth = { accept = ["api_key"] }

[[routes]]
name = "open"
path = "/open"
upstream = "echo"
auth = { public = true }
"#;

#[tokio::test]
async fn the_readme_metrics_count_real_traffic() {
    let up = Upstream::start();
    let (api, stanza) = key("mantyx_", "api_key", "key_m", "acme", &[], "");
    let (unknown, _) = key("mantyx_", "api_key", "key_nobody", "acme", &[], "");
    let gate = Gate::start(&up, &format!("{KEYS_ROUTE}\n{stanza}"));
    let c = client();
    let get = |path: &str, cred: &str| {
        let r = c.get(gate.url(path));
        if cred.is_empty() {
            r.send()
        } else {
            r.bearer_auth(cred).send()
        }
    };
    for (path, cred, status) in [
        ("/k", api.as_str(), 200),
        ("/k", api.as_str(), 200),
        ("/k", unknown.as_str(), 401),
        ("/k", unknown.as_str(), 401),
        ("/k", "", 401),
        ("/open", "", 200),
    ] {
        assert_eq!(get(path, cred).await.unwrap().status(), status, "{path}");
    }
    // Two credentials verified once each (then cached), four cache lookups:
    // the first sight of each is a miss, the repeat a hit.
    expect_samples(
        &c,
        &gate,
        &[
            (r#"authgate_requests_total{route="keys",status="200"}"#, 2.0),
            (r#"authgate_requests_total{route="keys",status="401"}"#, 3.0),
            (r#"authgate_requests_total{route="open",status="200"}"#, 1.0),
            (
                r#"authgate_request_duration_seconds_count{route="keys"}"#,
                5.0,
            ),
            (
                r#"authgate_verifications_total{outcome="valid",verifier="api_key"}"#,
                1.0,
            ),
            (
                r#"authgate_verifications_total{outcome="unknown",verifier="api_key"}"#,
                1.0,
            ),
            (
                r#"authgate_verify_duration_seconds_count{verifier="api_key"}"#,
                2.0,
            ),
            (r#"authgate_cache_lookups_total{result="miss"}"#, 2.0),
            (r#"authgate_cache_lookups_total{result="hit"}"#, 2.0),
            ("authgate_cache_evictions_total", 0.0),
        ],
    )
    .await;

    // A reload, good then broken, is counted by outcome.
    let text = std::fs::read_to_string(&gate.config).unwrap();
    gate.until_watching().await;
    gate.rewrite(&format!("{text}\n[cache]\nmax_entries = 0\n"));
    expect_samples(
        &c,
        &gate,
        &[
            (r#"authgate_config_reloads_total{outcome="ok"}"#, 1.0),
            (r#"authgate_config_reloads_total{outcome="error"}"#, 1.0),
        ],
    )
    .await;
}

#[tokio::test]
async fn cache_ttls_from_the_config_bound_how_long_a_verdict_is_trusted() {
    let up = Upstream::start();
    let (api, stanza) = key("mantyx_", "api_key", "key_ttl", "acme", &[], "");
    let (unknown, _) = key("mantyx_", "api_key", "key_nobody", "acme", &[], "");
    // One second: far from the time two requests take, and the sleep below
    // (the only way to show a TTL) is just past it.
    let cache = "[cache]\nttl = \"1s\"\nnegative_ttl = \"1s\"\n";
    let gate = Gate::start(&up, &format!("{KEYS_ROUTE}\n{cache}\n{stanza}"));
    let c = client();
    let send_both = || async {
        for (cred, status) in [(&api, 200), (&api, 200), (&unknown, 401), (&unknown, 401)] {
            let r = c.get(gate.url("/k")).bearer_auth(cred).send().await;
            assert_eq!(r.unwrap().status(), status);
        }
    };
    let valid = r#"authgate_verifications_total{outcome="valid",verifier="api_key"}"#;
    let unknown_series = r#"authgate_verifications_total{outcome="unknown",verifier="api_key"}"#;
    send_both().await;
    expect_samples(&c, &gate, &[(valid, 1.0), (unknown_series, 1.0)]).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    send_both().await;
    expect_samples(&c, &gate, &[(valid, 2.0), (unknown_series, 2.0)]).await;
}

#[tokio::test]
async fn a_full_cache_evicts_and_verifies_again() {
    let up = Upstream::start();
    let (api, stanza) = key("mantyx_", "api_key", "key_full", "acme", &[], "");
    let gate = Gate::start(
        &up,
        &format!("{KEYS_ROUTE}\n[cache]\nmax_entries = 1\n\n{stanza}"),
    );
    let c = client();
    // Refusals live only in the shared cache (valid verdicts also have a
    // per-thread front), so three unknown keys contend for its one entry:
    // it evicts, and an evicted verdict is verified again. With room for
    // all three, each would be verified once per negative TTL (5 s).
    let unknown: Vec<String> = (0..3)
        .map(|i| {
            key(
                "mantyx_",
                "api_key",
                &format!("key_nobody{i}"),
                "acme",
                &[],
                "",
            )
            .0
        })
        .collect();
    let verified_again = eventually(Duration::from_secs(5), || async {
        for cred in &unknown {
            let r = c.get(gate.url("/k")).bearer_auth(cred).send().await;
            assert_eq!(r.unwrap().status(), 401);
        }
        let text = metrics(&c, &gate).await;
        let evicted = sample(&text, "authgate_cache_evictions_total").unwrap();
        let unknowns = sample(
            &text,
            r#"authgate_verifications_total{outcome="unknown",verifier="api_key"}"#,
        )
        .unwrap();
        evicted > 0.0 && unknowns > 3.0
    })
    .await;
    assert!(
        verified_again,
        "max_entries = 1 neither evicted nor re-verified:\n{}",
        metrics(&c, &gate).await
    );
    // The valid key is unaffected.
    let r = c
        .get(gate.url("/k"))
        .bearer_auth(&api)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// The access lines captured so far, parsed.
fn access_lines(gate: &Gate) -> Vec<Value> {
    gate.log()
        .lines()
        .filter(|l| l.contains("\"target\":\"access\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn access_lines_carry_their_fields_and_no_credential_for_any_carrier() {
    let up = Upstream::start();
    let (api, k1) = key("mantyx_", "api_key", "key_log", "acme", &[], "");
    let (srv, k2) = key("sk_live_", "server_key", "sk_log", "acme", &[], "");
    let signer = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let stamp_key = format!(
        "[[keys]]\nid = \"stamp_log\"\nkind = \"stamp\"\nscheme = \"ed25519\"\npublic_key = \"{}\"\nsubject = \"wallet\"\nworkspace = \"acme\"\n",
        hex::encode(signer.verifying_key().to_bytes())
    );
    let routes = r#"
[[routes]]
name = "keys"
path = "/k"
upstream = "echo"
auth = { accept = ["api_key"] }

[[routes]]
name = "backend"
path = "/b"
upstream = "echo"
auth = { accept = ["server_key"] }

[[routes]]
name = "stamped"
path = "/s"
methods = ["POST"]
upstream = "echo"
auth = { accept = ["stamp"] }
"#;
    let gate = Gate::start_logged(&up, &format!("{routes}\n{k1}{k2}{stamp_key}"));
    let c = client();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let body = format!(r#"{{"timestampMs":{now}}}"#);
    let stamp = authgate::demo::ed25519_stamp(&signer, &body);
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[8; 32]);
    let bad_stamp = authgate::demo::ed25519_stamp(&stranger, &body);
    let (bad_api, _) = key("mantyx_", "api_key", "key_none", "acme", &[], "");
    let (bad_srv, _) = key("sk_live_", "server_key", "sk_none", "acme", &[], "");
    // (method, path, header, credential, status, auth outcome, credential id)
    let cases = [
        (
            "GET",
            "/k",
            "x-api-key",
            api.as_str(),
            200,
            "allowed",
            "key_log",
        ),
        (
            "GET",
            "/k",
            "authorization",
            &format!("ApiKey {api}"),
            200,
            "allowed",
            "key_log",
        ),
        (
            "GET",
            "/b",
            "x-server-key",
            srv.as_str(),
            200,
            "allowed",
            "sk_log",
        ),
        (
            "POST",
            "/s",
            "x-stamp",
            stamp.as_str(),
            200,
            "allowed",
            "stamp_log",
        ),
        (
            "GET",
            "/k",
            "x-api-key",
            bad_api.as_str(),
            401,
            "unknown",
            "-",
        ),
        (
            "GET",
            "/b",
            "x-server-key",
            bad_srv.as_str(),
            401,
            "unknown",
            "-",
        ),
        (
            "POST",
            "/s",
            "x-stamp",
            bad_stamp.as_str(),
            401,
            "unknown_key",
            "-",
        ),
    ];
    for (method, path, header, cred, status, ..) in &cases {
        let req = if *method == "POST" {
            c.post(gate.url(path)).body(body.clone())
        } else {
            c.get(gate.url(path))
        };
        let r = req.header(*header, *cred).send().await.unwrap();
        assert_eq!(r.status(), *status, "{header} {path}");
    }
    let all = eventually(Duration::from_secs(3), || async {
        access_lines(&gate).len() >= cases.len()
    })
    .await;
    let log = gate.log();
    assert!(all, "missing access lines:\n{log}");
    let lines = access_lines(&gate);
    assert_eq!(lines.len(), cases.len(), "{log}");
    for (line, (method, path, header, _, status, auth, id)) in lines.iter().zip(&cases) {
        let ctx = format!("{header} {path}: {line}");
        assert_eq!(line["method"], *method, "{ctx}");
        assert_eq!(line["path"], *path, "{ctx}");
        assert_eq!(line["status"], *status, "{ctx}");
        assert_eq!(line["auth"], *auth, "{ctx}");
        assert_eq!(line["credential_id"], *id, "{ctx}");
        assert_eq!(line["upstream"], "echo", "{ctx}");
        assert!(
            line["route"].as_str().is_some_and(|r| !r.is_empty()),
            "{ctx}"
        );
        assert!(line["latency_us"].as_u64().is_some(), "{ctx}");
        assert_eq!(line["request_id"].as_str().map(str::len), Some(32), "{ctx}");
    }
    // No credential, nor any distinctive part of one, in the whole log.
    for (_, _, header, cred, ..) in &cases {
        let secret = cred.trim_start_matches("ApiKey ");
        let tail = &secret[secret.len() - 24..];
        assert!(!log.contains(tail), "{header} credential logged:\n{log}");
    }
}
