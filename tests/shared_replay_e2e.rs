//! Replays refused across a fleet (`[stamps] shared_replay`, on by default
//! with PostgreSQL): two instances on one PostgreSQL; a stamped request or
//! an RFC 9421 signed request accepted by one instance is refused when the
//! same bytes arrive at the other (as they would through a load balancer),
//! while the switch turned off lets the second instance accept it (only the
//! instance that saw it refuses it). A store that cannot record the claim:
//! by default the instance's own guard decides alone (counted), or, with
//! `replay_outage = "refuse"`, the request is refused (503).

mod common;

use common::httpsig::{sign, Key, Req};
use common::pg::{CutProxy, TempDb};
use common::*;
use serde_json::Value;

fn key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[0x42; 32])
}

fn config(store_url: &str, stamps: &str) -> String {
    format!(
        r#"
[store]
url = "{store_url}"
poll_interval = "100ms"
auto_migrate = true
timeout = "500ms"

[stamps]
{stamps}

[[keys]]
id = "signer"
kind = "stamp"
scheme = "ed25519"
public_key = "{pk}"
subject = "wallet-1"
workspace = "acme"

[[routes]]
path = "/api/v1/workspaces/{{workspace}}/activities"
methods = ["POST"]
upstream = "echo"
auth = {{ accept = ["stamp"] }}

[[routes]]
path = "/api/v1/workspaces/{{workspace}}/items"
methods = ["GET"]
upstream = "echo"
auth = {{ accept = ["stamp"] }}
"#,
        pk = hex::encode(key().verifying_key().to_bytes())
    )
}

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

/// One stamped request, sent as is to `g`: its status and body.
async fn send_stamped(g: &Gate, body: &str, stamp: &str) -> (u16, Value) {
    let r = client()
        .post(g.url("/api/v1/workspaces/acme/activities"))
        .header("x-stamp", stamp)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// One RFC 9421 signed GET (authority `api.example.com`, as a load balancer
/// would pass it to every instance), sent as is to `g`.
async fn send_signed(g: &Gate, input: &str, signature: &str) -> u16 {
    client()
        .get(g.url("/api/v1/workspaces/acme/items"))
        .header("host", "api.example.com")
        .header("signature-input", input)
        .header("signature", signature)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn signed_get() -> (String, String) {
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let k = Key::Ed(key());
    let req = Req {
        method: "GET",
        path: "/api/v1/workspaces/acme/items",
        query: None,
        body: None,
    };
    let params = format!(";created={created};keyid=\"{}\";alg=\"ed25519\"", k.keyid());
    let (input, signature, _) = sign(&k, "api.example.com", &req, None, &params);
    (input, signature)
}

#[tokio::test]
async fn a_replay_is_refused_by_every_instance_sharing_postgres() {
    let db = TempDb::new().await;
    let up = Upstream::start();
    let cfg = config(&db.url, "");
    let (g, g2) = (Gate::start(&up, &cfg), Gate::start(&up, &cfg));
    store_ready(&g, &db.url).await;
    store_ready(&g2, &db.url).await;

    let body = format!(r#"{{"timestampMs":"{}","n":1}}"#, now_ms());
    let stamp = authgate::demo::ed25519_stamp(&key(), &body);
    assert_eq!(send_stamped(&g, &body, &stamp).await.0, 200);
    let (s, r) = send_stamped(&g2, &body, &stamp).await;
    assert_eq!(s, 401, "the other instance refuses the replay: {r}");
    assert_eq!(up.seen().len(), 1, "the replay never reached the upstream");
    assert_eq!(send_stamped(&g, &body, &stamp).await.0, 401);

    let (input, signature) = signed_get();
    assert_eq!(send_signed(&g2, &input, &signature).await, 200);
    assert_eq!(
        send_signed(&g, &input, &signature).await,
        401,
        "RFC 9421 replay on the other instance"
    );
    // A fresh request still passes on both.
    for gate in [&g, &g2] {
        let body = format!(
            r#"{{"timestampMs":"{}","n":{}}}"#,
            now_ms(),
            rand::random::<u32>()
        );
        let stamp = authgate::demo::ed25519_stamp(&key(), &body);
        assert_eq!(send_stamped(gate, &body, &stamp).await.0, 200);
    }
}

#[tokio::test]
async fn with_shared_replay_off_only_the_instance_that_saw_it_refuses() {
    let db = TempDb::new().await;
    let up = Upstream::start();
    let cfg = config(&db.url, "shared_replay = false");
    let (g, g2) = (Gate::start(&up, &cfg), Gate::start(&up, &cfg));
    store_ready(&g, &db.url).await;
    store_ready(&g2, &db.url).await;
    let body = format!(r#"{{"timestampMs":"{}","n":2}}"#, now_ms());
    let stamp = authgate::demo::ed25519_stamp(&key(), &body);
    assert_eq!(send_stamped(&g, &body, &stamp).await.0, 200);
    assert_eq!(
        send_stamped(&g2, &body, &stamp).await.0,
        200,
        "per-instance guard only"
    );
    assert_eq!(send_stamped(&g, &body, &stamp).await.0, 401);
}

/// Store outage, `replay_outage = "refuse"`: a claim the store cannot
/// record refuses the request (503).
#[tokio::test]
async fn a_store_that_cannot_record_the_claim_refuses_the_request() {
    outage("replay_outage = \"refuse\"", 503).await;
}

/// Store outage, by default: the instance's own guard decides alone, so a
/// known key keeps working (and a replay to this instance is still 401).
#[tokio::test]
async fn by_default_an_outage_falls_back_to_the_instance_guard() {
    outage("", 200).await;
}

async fn outage(stamps: &str, during: u16) {
    let db = TempDb::new().await;
    let proxy = CutProxy::start().await;
    let url = db.url_via(&proxy);
    let up = Upstream::start();
    let g = Gate::start(&up, &config(&url, stamps));
    store_ready(&g, &url).await;
    let fresh = || {
        let body = format!(
            r#"{{"timestampMs":"{}","n":{}}}"#,
            now_ms(),
            rand::random::<u32>()
        );
        let stamp = authgate::demo::ed25519_stamp(&key(), &body);
        (body, stamp)
    };
    let (body, stamp) = fresh();
    assert_eq!(send_stamped(&g, &body, &stamp).await.0, 200);
    proxy.cut();
    let (body, stamp) = fresh();
    let (s, _) = send_stamped(&g, &body, &stamp).await;
    assert_eq!(s, during);
    if during == 200 {
        assert_eq!(
            send_stamped(&g, &body, &stamp).await.0,
            401,
            "replayed here"
        );
        let m = metrics(&client(), &g).await;
        assert!(
            sample(&m, "authgate_verifications_total{outcome=\"store_unavailable\",verifier=\"shared_replay\"}").unwrap_or(0.0) >= 1.0,
            "counted"
        );
    }
    proxy.restore();
    let back = eventually(std::time::Duration::from_secs(10), || async {
        let (body, stamp) = fresh();
        send_stamped(&g, &body, &stamp).await.0 == 200
    })
    .await;
    assert!(back, "did not recover with the store");
}

#[test]
fn shared_replay_needs_a_database_store() {
    let text = check_refuses(
        "[upstreams.echo]\nbackends = [\"127.0.0.1:9\"]\n[stamps]\nshared_replay = true\n",
    );
    assert!(text.contains("stamps.shared_replay"), "{text}");
}
