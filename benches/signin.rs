//! Sign-in under load: challenge + wallet signature + verify, end to end
//! through one authgate instance (one worker thread, pinned to core 0 with
//! `taskset` when it exists), on SQLite and on PostgreSQL, for the two
//! wallet dialects:
//!
//! - **session keys**: `POST /api/v1/auth/challenge` (a SIWE message that
//!   binds a fresh ed25519 session key) → `personal_sign` → `POST
//!   /api/v1/auth/verify` (the session key is stored);
//! - **wallet tokens**: `POST /v1/auth/challenge` → `personal_sign` of the
//!   nonce → `POST /v1/auth/verify` (an access JWT and a refresh token).
//!
//! `CONCURRENCY` client loops (default 16) run for `SECONDS` (default 10),
//! each sign-in with a new wallet; per dialect and store: sign-ins/s, the
//! authgate process's CPU per sign-in (from `/proc/PID/stat`), and the
//! p50/p99 of the whole sign-in (both round trips plus the client's
//! signature) and of each call. The client signs on the bench process, so
//! its latency is part of the whole-flow numbers but not of the calls'.
//!
//! Run: `cargo bench --bench signin` (PostgreSQL at 127.0.0.1:5432 with
//! trust auth; `AUTHGATE_TEST_PG` overrides the server).

use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "support/mod.rs"]
mod support;
use support::{cpu_seconds, env_or, free_port, pct, serve_pinned, Kill};

fn config(port: u16, admin: u16, store_url: &str, pem: &std::path::Path) -> String {
    format!(
        r#"[server]
listen = ["127.0.0.1:{port}"]
threads = 1
[admin]
listen = "127.0.0.1:{admin}"
[log]
level = "error"
[store]
url = "{store_url}"
auto_migrate = true
[identity.assertion]
key_file = "{pem}"
[[credentials.prefixes]]
prefix = "ak_"
kind = "api_key"
checksum = false
[signin.session_keys]
domain = "bench.example.com"
uri = "https://bench.example.com"
limits = {{ per_ip = 1000000, per_client = 1000000 }}
clients = [{{ id = "web", workspace = "acme", chain_ids = [1] }}]
[signin.wallet_tokens]
limits = {{ per_ip = 1000000, per_client = 1000000 }}
namespaces = [{{ name = "acme" }}]
[[routes]]
path = "/api/v1/auth/challenge"
methods = ["POST"]
handler = "session_challenge"
auth = {{ public = true }}
[[routes]]
path = "/api/v1/auth/verify"
methods = ["POST"]
handler = "session_verify"
auth = {{ public = true }}
[[routes]]
path = "/v1/auth/challenge"
methods = ["POST"]
handler = "wallet_challenge"
auth = {{ public = true }}
[[routes]]
path = "/v1/auth/verify"
methods = ["POST"]
handler = "wallet_verify"
auth = {{ public = true }}
"#,
        pem = pem.display()
    )
}

fn personal_sign(w: &k256::ecdsa::SigningKey, message: &str) -> String {
    let digest = authgate::verify::stamp::eip191_digest(message.as_bytes());
    let Ok((sig, id)) = w.sign_prehash_recoverable(&digest) else {
        return String::new();
    };
    let mut raw = sig.to_bytes().to_vec();
    raw.push(27 + id.to_byte());
    format!("0x{}", hex::encode(raw))
}

#[derive(Clone, Copy, PartialEq)]
enum Dialect {
    SessionKeys,
    WalletTokens,
}

/// Timings of one sign-in: (whole, challenge call, verify call).
type Sample = (Duration, Duration, Duration);

async fn post(c: &reqwest::Client, url: &str, body: &Value) -> Option<Value> {
    let r = c.post(url).json(body).send().await.ok()?;
    if r.status().as_u16() != 200 {
        return None;
    }
    r.json().await.ok()
}

async fn sign_in(c: &reqwest::Client, port: u16, dialect: Dialect) -> Option<Sample> {
    let wallet = k256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
    let address = authgate::wallet::Address::from_public_key(wallet.verifying_key()).checksummed();
    let base = format!("http://127.0.0.1:{port}");
    let t0 = Instant::now();
    match dialect {
        Dialect::SessionKeys => {
            let session = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
            let claim = json!({"address": address, "client_id": "web", "chain_id": 1,
                "session_public_key": hex::encode(session.verifying_key().to_bytes())});
            let ch = post(c, &format!("{base}/api/v1/auth/challenge"), &claim).await?;
            let t1 = t0.elapsed();
            let mut answer = claim;
            answer["signature"] = json!(personal_sign(&wallet, ch["message"].as_str()?));
            answer["nonce"] = ch["nonce"].clone();
            let t2 = Instant::now();
            post(c, &format!("{base}/api/v1/auth/verify"), &answer).await?;
            Some((t0.elapsed(), t1, t2.elapsed()))
        }
        Dialect::WalletTokens => {
            let ch = post(
                c,
                &format!("{base}/v1/auth/challenge"),
                &json!({"wallet": address, "purpose": "login", "namespace": "acme"}),
            )
            .await?;
            let t1 = t0.elapsed();
            let nonce = ch["nonce"].as_str()?;
            let proof = json!({"wallet": address, "nonce": nonce,
                "signature": personal_sign(&wallet, nonce), "namespace": "acme"});
            let t2 = Instant::now();
            post(c, &format!("{base}/v1/auth/verify"), &proof).await?;
            Some((t0.elapsed(), t1, t2.elapsed()))
        }
    }
}

async fn run(bin: &str, store: &str, store_url: &str, dialect: Dialect) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let pem = dir.path().join("assertion.pem");
    authgate::assertion::generate_key(&pem).expect("assertion key");
    let (port, admin) = (free_port(), free_port());
    let path = dir.path().join("g.toml");
    std::fs::write(&path, config(port, admin, store_url, &pem)).expect("config");
    let child = serve_pinned(bin, &path);
    let pid = child.id();
    let _kill = Kill(vec![child]);
    let c = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .expect("client");
    let deadline = Instant::now() + Duration::from_secs(30);
    while sign_in(&c, port, dialect).await.is_none() {
        assert!(
            Instant::now() < deadline,
            "authgate never answered a sign-in"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seconds = env_or("SECONDS", 10);
    let concurrency = env_or("CONCURRENCY", 16);
    let stop = Arc::new(AtomicBool::new(false));
    let samples = Arc::new(Mutex::new(Vec::<Sample>::new()));
    let failed = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let cpu0 = cpu_seconds(pid);
    let t0 = Instant::now();
    let mut loops = Vec::new();
    for _ in 0..concurrency {
        let (c, stop, samples, failed) = (c.clone(), stop.clone(), samples.clone(), failed.clone());
        loops.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match sign_in(&c, port, dialect).await {
                    Some(s) => {
                        if let Ok(mut v) = samples.lock() {
                            v.push(s);
                        }
                    }
                    None => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for l in loops {
        let _ = l.await;
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds(pid) - cpu0;
    let all = samples.lock().map(|v| v.clone()).unwrap_or_default();
    let n = all.len() as f64;
    let sorted = |f: fn(&Sample) -> Duration| {
        let mut v: Vec<Duration> = all.iter().map(f).collect();
        v.sort();
        v
    };
    let (whole, ch, ve) = (sorted(|s| s.0), sorted(|s| s.1), sorted(|s| s.2));
    format!(
        "| {} | {store} | {concurrency} | {:.0} | {:.0} | {:.1} / {:.1} ms | {:.1} / {:.1} ms | {:.1} / {:.1} ms | {} |",
        match dialect {
            Dialect::SessionKeys => "session keys",
            Dialect::WalletTokens => "wallet tokens",
        },
        n / wall,
        cpu / n * 1e6,
        pct(&whole, 0.5),
        pct(&whole, 0.99),
        pct(&ch, 0.5),
        pct(&ch, 0.99),
        pct(&ve, 0.5),
        pct(&ve, 0.99),
        failed.load(Ordering::Relaxed)
    )
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_authgate");
    let server = std::env::var("AUTHGATE_TEST_PG")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432".into());
    let (admin_db, conn) =
        tokio_postgres::connect(&format!("{server}/postgres"), tokio_postgres::NoTls)
            .await
            .expect("PostgreSQL");
    tokio::spawn(conn);
    println!("sign-in under load (authgate on one worker thread; p50 / p99):");
    println!("| dialect | store | clients | sign-ins/s | authgate CPU µs/sign-in | whole sign-in | challenge call | verify call | failed |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for dialect in [Dialect::SessionKeys, Dialect::WalletTokens] {
        let dir = tempfile::tempdir().expect("tempdir");
        let sqlite = format!("sqlite://{}/signin.db", dir.path().display());
        println!("{}", run(bin, "sqlite", &sqlite, dialect).await);
        let db = format!("authgate_bench_{:016x}", rand::random::<u64>());
        admin_db
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .await
            .expect("create database");
        println!(
            "{}",
            run(bin, "postgres", &format!("{server}/{db}"), dialect).await
        );
        let _ = admin_db
            .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .await;
    }
}
