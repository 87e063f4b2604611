//! Minting throughput and first use of a freshly minted key, on SQLite and
//! on PostgreSQL. One authgate instance (one worker thread, pinned to core
//! 0 with `taskset` when it exists) in front of `authgate echo --fixed`; a
//! server key created over the admin API; then:
//!
//! - **minting**: `CONCURRENCY` loops (default 16) POST
//!   `/auth/ephemeral-keys` for `SECONDS` (default 10): keys/s, and the
//!   authgate process's CPU time per key (from `/proc/PID/stat`), so the
//!   rate one core sustains is keys/s ÷ the share of a core used;
//! - **first use**: `SAMPLES` times (default 500) mint a key, then send the
//!   first request with it (a cache miss answered by the store), then a
//!   second (cached): p50/p99 of each, end to end on loopback.
//!
//! Run: `cargo bench --bench minting` (PostgreSQL at 127.0.0.1:5432 with
//! trust auth; `AUTHGATE_TEST_PG` overrides the server). Uses the binary
//! cargo builds for the bench profile (release).

use serde_json::{json, Value};
use sha2::Digest;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "support/mod.rs"]
mod support;
use support::{cpu_seconds, env_or, free_port, pct, serve_pinned, Kill};

/// Start authgate on `store_url`; returns (child, port, admin port).
fn start(
    bin: &str,
    dir: &std::path::Path,
    store_url: &str,
    upstream: u16,
    digest: &str,
) -> (Child, u16, u16) {
    let (port, admin) = (free_port(), free_port());
    let cfg = format!(
        r#"[server]
listen = ["127.0.0.1:{port}"]
threads = 1
[admin]
listen = "127.0.0.1:{admin}"
[[admin.tokens]]
id = "bench"
digest = "sha256:{digest}"
scopes = ["keys:read", "keys:write"]
[log]
level = "error"
[store]
url = "{store_url}"
auto_migrate = true
[upstreams.echo]
backends = ["127.0.0.1:{upstream}"]
[[credentials.prefixes]]
prefix = "sk_test_"
kind = "server_key"
[[credentials.prefixes]]
prefix = "ek_"
kind = "ephemeral_key"
checksum = true
[[credentials.prefixes]]
prefix = "rk_"
kind = "restricted_key"
checksum = true
[minting]
workspaces = ["acme"]
any_capability = true
[[routes]]
path = "/auth/ephemeral-keys"
methods = ["POST"]
handler = "mint_ephemeral"
auth = {{ accept = ["server_key"] }}
[[routes]]
path = "/w/{{workspace}}/x"
upstream = "echo"
auth = {{ accept = ["ephemeral_key"] }}
"#
    );
    let path = dir.join(format!("g{port}.toml"));
    std::fs::write(&path, cfg).expect("config");
    let child = serve_pinned(bin, &path);
    (child, port, admin)
}

async fn ready(c: &reqwest::Client, admin: u16, store: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = match c
            .get(format!("http://127.0.0.1:{admin}/metrics"))
            .send()
            .await
        {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text.contains(&format!("authgate_store_up{{store=\"{store}\"}} 1")) {
            return;
        }
        assert!(Instant::now() < deadline, "instance never ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn mint(c: &reqwest::Client, port: u16, sk: &str) -> Option<String> {
    let r = c
        .post(format!("http://127.0.0.1:{port}/auth/ephemeral-keys"))
        .header("x-server-key", sk)
        .header("content-type", "application/json")
        .body(r#"{"user":{"id":"u_bench"}}"#)
        .send()
        .await
        .ok()?;
    if r.status().as_u16() != 200 {
        return None;
    }
    let v: Value = r.json().await.ok()?;
    v["secret"].as_str().map(str::to_string)
}

async fn run(bin: &str, name: &str, store_url: &str, upstream: u16) {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = format!("agadm_{:032x}", rand::random::<u128>());
    let digest = hex::encode(sha2::Sha256::digest(token.as_bytes()));
    let (child, port, admin) = start(bin, dir.path(), store_url, upstream, &digest);
    let pid = child.id();
    let _kill = Kill(vec![child]);
    let c = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .expect("client");
    ready(&c, admin, name).await;
    let created: Value = c
        .post(format!("http://127.0.0.1:{admin}/admin/v1/keys"))
        .bearer_auth(&token)
        .json(&json!({"kind": "server_key", "subject": "app", "workspace": "acme"}))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let sk = created["secret"].as_str().expect("secret").to_string();

    // Throughput.
    let seconds = env_or("SECONDS", 10);
    let concurrency = env_or("CONCURRENCY", 16);
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let cpu0 = cpu_seconds(pid);
    let t0 = Instant::now();
    let mut loops = Vec::new();
    for _ in 0..concurrency {
        let (c, sk, stop, done, failed) = (
            c.clone(),
            sk.clone(),
            stop.clone(),
            done.clone(),
            failed.clone(),
        );
        loops.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match mint(&c, port, &sk).await {
                    Some(_) => done.fetch_add(1, Ordering::Relaxed),
                    None => failed.fetch_add(1, Ordering::Relaxed),
                };
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
    let n = done.load(Ordering::Relaxed) as f64;
    println!(
        "| {name} | {concurrency} | {:.0} | {:.0} | {:.0} % | {:.0} | {} |",
        n / wall,
        cpu / n * 1e6,
        cpu / wall * 100.0,
        n / cpu,
        failed.load(Ordering::Relaxed)
    );

    // First use of a freshly minted key, then the cached second use.
    let samples = env_or("SAMPLES", 500);
    let (mut first, mut second) = (Vec::new(), Vec::new());
    let url = format!("http://127.0.0.1:{port}/w/acme/x");
    for _ in 0..samples {
        let Some(ek) = mint(&c, port, &sk).await else {
            continue;
        };
        for v in [&mut first, &mut second] {
            let t = Instant::now();
            let s = c
                .get(&url)
                .bearer_auth(&ek)
                .send()
                .await
                .map(|r| r.status().as_u16());
            assert_eq!(s.ok(), Some(200), "a fresh key must pass");
            v.push(t.elapsed());
        }
    }
    first.sort();
    second.sort();
    LATENCY.with(|l| {
        l.borrow_mut().push(format!(
            "| {name} | {} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms |",
            first.len(),
            pct(&first, 0.5),
            pct(&first, 0.99),
            pct(&second, 0.5),
            pct(&second, 0.99)
        ))
    });
}

thread_local! {
    static LATENCY: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_authgate");
    let upstream = free_port();
    let _echo = Kill(vec![Command::new(bin)
        .args([
            "echo",
            "--fixed",
            "--listen",
            &format!("127.0.0.1:{upstream}"),
        ])
        .stderr(Stdio::null())
        .spawn()
        .expect("echo")]);
    let server = std::env::var("AUTHGATE_TEST_PG")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432".into());
    let db = format!("authgate_bench_{:016x}", rand::random::<u64>());
    let (admin_db, conn) =
        tokio_postgres::connect(&format!("{server}/postgres"), tokio_postgres::NoTls)
            .await
            .expect("PostgreSQL");
    tokio::spawn(conn);
    admin_db
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await
        .expect("create database");
    let sqlite_dir = tempfile::tempdir().expect("tempdir");
    println!("minting (POST /auth/ephemeral-keys, authgate on one worker thread):");
    println!("| store | clients | keys/s | CPU µs/key | core busy | keys/s per core | failed |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    run(
        bin,
        "sqlite",
        &format!("sqlite://{}/keys.db", sqlite_dir.path().display()),
        upstream,
    )
    .await;
    run(bin, "postgres", &format!("{server}/{db}"), upstream).await;
    println!();
    println!("first use of a freshly minted key (one client, loopback, end to end):");
    println!("| store | samples | first use p50 | first use p99 | cached p50 | cached p99 |");
    println!("|---|---:|---:|---:|---:|---:|");
    LATENCY.with(|l| {
        for line in l.borrow().iter() {
            println!("{line}");
        }
    });
    let _ = admin_db
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .await;
}
