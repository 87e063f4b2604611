//! A `jwks_url` issuer through the real binary: the key set is fetched and
//! refreshed in the background (no request needed), rotation is picked up by
//! that refresh alone, a failing fetch keeps the last good set, and every
//! fetch is counted in `authgate_jwks_fetches_total{issuer,outcome}`.

mod common;

use common::*;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A JWKS server on loopback whose document can be swapped or broken; it
/// records which version of the document each fetch was served.
struct JwksServer {
    url: String,
    /// (version, document; `None` answers 500)
    doc: Arc<Mutex<(usize, Option<Vec<u8>>)>>,
    served: Arc<Mutex<Vec<usize>>>,
}

impl JwksServer {
    fn start(initial: &str) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let doc = Arc::new(Mutex::new((
            0,
            Some(std::fs::read(fixture(&format!("jwt/{initial}"))).unwrap()),
        )));
        let served = Arc::new(Mutex::new(Vec::new()));
        let (d, log) = (doc.clone(), served.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let (version, body) = d.lock().unwrap().clone();
                let resp = match body {
                    Some(body) => {
                        let mut r = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len()).into_bytes();
                        r.extend_from_slice(&body);
                        r
                    }
                    None => b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec(),
                };
                let _ = s.write_all(&resp);
                log.lock().unwrap().push(version);
            }
        });
        Self { url, doc, served }
    }

    /// Serve `file` (or 500s) from now on, as a new version.
    fn serve(&self, file: Option<&str>) {
        let mut doc = self.doc.lock().unwrap();
        *doc = (
            doc.0 + 1,
            file.map(|f| std::fs::read(fixture(&format!("jwt/{f}"))).unwrap()),
        );
    }

    fn fetches(&self) -> usize {
        self.served.lock().unwrap().len()
    }

    /// Wait (up to 5 s) until the current version has been served.
    async fn next_fetch(&self) {
        let version = self.doc.lock().unwrap().0;
        let fetched = eventually(Duration::from_secs(5), || async {
            self.served.lock().unwrap().contains(&version)
        })
        .await;
        assert!(fetched, "no background fetch");
    }
}

async fn fetches(c: &reqwest::Client, gate: &Gate, outcome: &str) -> u64 {
    let series = format!("authgate_jwks_fetches_total{{issuer=\"remote\",outcome=\"{outcome}\"}}");
    sample(&metrics(c, gate).await, &series).map_or(0, |v| v as u64)
}

#[tokio::test]
async fn the_key_set_is_refreshed_in_the_background_and_kept_when_a_fetch_fails() {
    let server = JwksServer::start("jwks.json");
    let up = Upstream::start();
    // Refresh every second (the refresher's tick; the shortest possible),
    // and a cooldown so long that only the background refresh can fetch
    // again after the first fetch. The waits below are for refreshes.
    let extra = format!(
        r#"
[[jwt.issuers]]
name = "remote"
issuer = "https://issuer.test"
audiences = ["authgate"]
algorithms = ["RS256", "ES256"]
jwks_url = "{}"
insecure_http_jwks = true
jwks_refresh = "1s"
jwks_cooldown = "1h"
workspace_claim = "namespace"

[[routes]]
path = "/j"
upstream = "echo"
auth = {{ accept = ["jwt"] }}
"#,
        server.url
    );
    let gate = Gate::start(&up, &extra);
    let c = client();
    let status = |t: String| {
        let c = c.clone();
        let url = gate.url("/j");
        async move { c.get(url).bearer_auth(t).send().await.unwrap().status() }
    };
    // Fetched without any request.
    // Fetched (and counted once in place) without any request.
    let fetched = eventually(Duration::from_secs(5), || async {
        fetches(&c, &gate, "ok").await >= 1
    })
    .await;
    assert!(fetched, "the key set was not fetched in the background");
    assert!(server.fetches() >= 1);
    assert_eq!(status(fixture_token("valid_rs256_jwks")).await, 200);

    // Rotation: rsa-2 appears only in the new set, and the cooldown forbids
    // an on-demand refetch, so it verifies once a background refresh ran.
    let ok_before = fetches(&c, &gate, "ok").await;
    server.serve(Some("jwks_rotated.json"));
    server.next_fetch().await;
    // The counter moves once the fetched set is in place.
    let stored = eventually(Duration::from_secs(3), || async {
        fetches(&c, &gate, "ok").await > ok_before
    })
    .await;
    assert!(stored, "the rotated set was not counted");
    assert_eq!(status(fixture_token("rotated_rs256")).await, 200);
    // rsa-1 left the set: its token, verified and cached before, is refused
    // now, not after cache.ttl.
    assert_eq!(status(fixture_token("valid_rs256_jwks")).await, 401);

    // A failing fetch is counted and keeps the last good set: a token never
    // seen before (so not cached) still verifies against it.
    server.serve(None);
    server.next_fetch().await;
    let failed = eventually(Duration::from_secs(3), || async {
        fetches(&c, &gate, "error").await >= 1
    })
    .await;
    assert!(failed, "the failed fetch was not counted");
    assert_eq!(status(fixture_token("valid_es256_jwks")).await, 200);
    assert!(fetches(&c, &gate, "ok").await >= 2);
}
