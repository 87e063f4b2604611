//! Server options through the real binary: SIGTERM lets requests in flight
//! finish within `grace_period` and then exits by itself; `server.h2c = false`
//! refuses HTTP/2 prior knowledge on the plain listener.

mod common;

use common::*;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

#[test]
fn sigterm_lets_requests_in_flight_finish_then_exits() {
    let up = Upstream::start();
    let signer = ed25519_dalek::SigningKey::from_bytes(&[6; 32]);
    let extra = format!(
        "[[routes]]\npath = \"/s\"\nupstream = \"echo\"\nauth = {{ accept = [\"stamp\"] }}\n\n\
         [[keys]]\nid = \"stamp_term\"\nkind = \"stamp\"\nscheme = \"ed25519\"\npublic_key = \"{}\"\nsubject = \"wallet\"\nworkspace = \"acme\"\n",
        hex::encode(signer.verifying_key().to_bytes())
    );
    // base_config's grace_period is 1 s.
    let mut gate = Gate::start(&up, &extra);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    // Four requests in flight: head and half the body sent.
    let mut flights = Vec::new();
    for n in 0..4 {
        let body = format!(r#"{{"timestampMs":{now},"n":{n}}}"#);
        let mut s = std::net::TcpStream::connect(("127.0.0.1", gate.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(
            s,
            "POST /s HTTP/1.1\r\nHost: x\r\nX-Stamp: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
            authgate::demo::ed25519_stamp(&signer, &body),
            body.len(),
            &body[..body.len() / 2]
        )
        .unwrap();
        flights.push((s, body));
    }
    // Let the gate read what was sent before it is told to stop.
    std::thread::sleep(Duration::from_millis(200));
    let stopping = Instant::now();
    gate.signal("TERM");
    std::thread::sleep(Duration::from_millis(300));
    assert!(gate.alive(), "SIGTERM stopped the gate at once");
    for (mut s, body) in flights {
        s.write_all(&body.as_bytes()[body.len() / 2..]).unwrap();
        let mut resp = String::new();
        let _ = s.read_to_string(&mut resp);
        assert!(resp.starts_with("HTTP/1.1 200"), "{body}: {resp}");
    }
    assert_eq!(
        up.seen().len(),
        4,
        "every request in flight reached the upstream"
    );
    // Then it exits by itself, within the grace period and the shutdown wait.
    let deadline = stopping + Duration::from_secs(8);
    while gate.alive() {
        assert!(Instant::now() < deadline, "still running 8 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn h2c_off_refuses_http2_prior_knowledge() {
    let up = Upstream::start();
    let (port, admin) = (free_port(), free_port());
    let cfg = format!(
        "{}\n[[routes]]\npath = \"/p\"\nupstream = \"echo\"\nauth = {{ public = true }}\n",
        base_config(port, admin, up.addr).replace("threads = 1", "threads = 1\nh2c = false")
    );
    let gate = Gate::start_with(&cfg, port, admin);
    let r = client().get(gate.url("/p")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.version(), reqwest::Version::HTTP_11);
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let got = h2.get(gate.url("/p")).send().await;
    assert!(
        got.as_ref().is_err()
            || got
                .as_ref()
                .is_ok_and(|r| r.version() != reqwest::Version::HTTP_2),
        "HTTP/2 prior knowledge was served: {got:?}"
    );
    assert_eq!(
        up.seen().len(),
        1,
        "only the HTTP/1.1 request reached the upstream"
    );
}

/// Both runtime flavours serve: two threads without work stealing (each a
/// single-thread runtime, connections spread at random) and one thread
/// with it; many connections at once, every request reaches the upstream.
#[tokio::test]
async fn both_runtime_flavours_serve_concurrent_connections() {
    for setting in [
        "threads = 2\nwork_stealing = false",
        "threads = 1\nwork_stealing = true",
    ] {
        let up = Upstream::start();
        let (port, admin) = (free_port(), free_port());
        let cfg = format!(
            "{}\n[[routes]]\npath = \"/p\"\nupstream = \"echo\"\nauth = {{ public = true }}\n",
            base_config(port, admin, up.addr).replace("threads = 1", setting)
        );
        let gate = Gate::start_with(&cfg, port, admin);
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let url = gate.url("/p");
            tasks.push(tokio::spawn(async move {
                // A fresh client per task: its own connection.
                let c = client();
                let mut ok = 0;
                for _ in 0..4 {
                    if c.get(&url).send().await.unwrap().status() == 200 {
                        ok += 1;
                    }
                }
                ok
            }));
        }
        let mut ok = 0;
        for t in tasks {
            ok += t.await.unwrap();
        }
        assert_eq!(ok, 64, "{setting}: every request answered 200");
        assert_eq!(
            up.seen().len(),
            64,
            "{setting}: every request reached the upstream"
        );
    }
}
