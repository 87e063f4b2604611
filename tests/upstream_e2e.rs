//! Upstream options through the real binary: TLS with certificate
//! verification on (the default) and the default SNI (the backend's host),
//! a certificate for another name refused, and `kind = "http"` health checks
//! (a backend that accepts connections but answers errors is taken out).

mod common;

use common::terminator::Terminator;
use common::*;
use serde_json::Value;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The test CA, trusted by the gate (rustls-native-certs reads `SSL_CERT_FILE`).
fn trust_test_ca() -> (&'static str, String) {
    ("SSL_CERT_FILE", fixture("tls/ca.pem").display().to_string())
}

#[tokio::test]
async fn verified_tls_with_the_default_sni_and_a_name_mismatch_refused() {
    let up = Upstream::start();
    let tls = Terminator::start("localhost").await;
    let other = Terminator::start("other.test").await;
    let extra = format!(
        r#"
[upstreams.by_name]
backends = ["localhost:{}"]
tls = true

[upstreams.wrong_name]
backends = ["127.0.0.1:{}"]
tls = true
sni = "other.test"

[[routes]]
path = "/by-name"
upstream = "by_name"
auth = {{ public = true }}

[[routes]]
path = "/wrong-name"
upstream = "wrong_name"
auth = {{ public = true }}
"#,
        tls.addr.port(),
        other.addr.port()
    );
    let (var, ca) = trust_test_ca();
    let gate = Gate::start_env(&up, &extra, &[(var, &ca)], false);
    let c = client();
    // No `sni`: the backend's host is sent, and the chain is verified.
    let r = c.get(gate.url("/by-name")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let echoed: Value = r.json().await.unwrap();
    assert_eq!(echoed["sni"], "localhost");
    assert_eq!(tls.snis(), [Some("localhost".to_string())]);
    assert_eq!(tls.outcomes(), [Ok(())]);
    // A trusted chain for the wrong name: refused by hostname verification.
    let r = c.get(gate.url("/wrong-name")).send().await.unwrap();
    assert_eq!(r.status(), 502);
    assert_eq!(other.snis(), [Some("other.test".to_string())]);
    let outcomes = other.outcomes();
    let refused = outcomes[0].as_ref().unwrap_err();
    assert!(refused.contains("BadCertificate"), "{refused}");
}

/// A backend that accepts connections and answers every request `503`,
/// recording each request line.
fn failing_backend() -> (std::net::SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let log = lines.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let log = log.clone();
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while let Ok(n) = s.read(&mut chunk) {
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                        buf.drain(..end + 4);
                        log.lock()
                            .unwrap()
                            .push(head.lines().next().unwrap_or("").to_string());
                        let resp = "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n";
                        if s.write_all(resp.as_bytes()).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (addr, lines)
}

#[tokio::test]
async fn http_health_checks_take_out_a_backend_that_answers_errors() {
    let (up, good) = (Upstream::start(), Upstream::start());
    let (bad, bad_lines) = failing_backend();
    let extra = format!(
        r#"
[upstreams.checked]
backends = ["{}", "{bad}"]
health_check = {{ kind = "http", path = "/custom-health", interval = "100ms" }}

[[routes]]
path = "/hc"
upstream = "checked"
auth = {{ public = true }}
"#,
        good.addr
    );
    let gate = Gate::start(&up, &extra);
    let c = client();
    // The failing backend accepts connections (a TCP check would pass it);
    // only the HTTP check sees its 503s. Until then every other request gets
    // a 503: wait for four successes in a row, then nothing fails.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut streak = 0;
    while streak < 4 && Instant::now() < deadline {
        let r = c.get(gate.url("/hc")).send().await.unwrap();
        if r.status() == 200 {
            streak += 1;
        } else {
            assert_eq!(r.status(), 503);
            streak = 0;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert!(streak >= 4, "the failing backend was never taken out");
    good.recorder.clear();
    for _ in 0..10 {
        assert_eq!(c.get(gate.url("/hc")).send().await.unwrap().status(), 200);
    }
    assert_eq!(good.seen().len(), 10);
    let lines = bad_lines.lock().unwrap().clone();
    assert!(
        lines.iter().any(|l| l == "GET /custom-health HTTP/1.1"),
        "the configured path was not checked: {lines:?}"
    );
}
