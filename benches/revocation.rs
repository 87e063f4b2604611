//! Revocation propagation across a fleet: 3 authgate instances on one
//! PostgreSQL (a database of its own, dropped after), each under load;
//! 200 keys issued, warmed into every instance's cache, then revoked one
//! by one through instance 0's admin API. For each revocation and each
//! instance: the time from the admin API's 2xx to the first 401 from that
//! instance (probed every millisecond). Prints p50/p99/max.
//!
//! Run: `cargo bench --bench revocation` (needs PostgreSQL at
//! 127.0.0.1:5432 with trust auth; `AUTHGATE_TEST_PG` overrides the
//! server; `KEYS=` changes the count). Uses the binary cargo builds for
//! the bench profile (release).

use serde_json::{json, Value};
use sha2::Digest;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

struct Kill(Vec<Child>);
impl Drop for Kill {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: usize = std::env::var("KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
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
    let url = format!("{server}/{db}");

    let bin = env!("CARGO_BIN_EXE_authgate");
    let dir = tempfile::tempdir().expect("tempdir");
    let upstream = free_port();
    let mut kids = Kill(Vec::new());
    kids.0.push(
        Command::new(bin)
            .args([
                "echo",
                "--fixed",
                "--listen",
                &format!("127.0.0.1:{upstream}"),
            ])
            .stderr(Stdio::null())
            .spawn()
            .expect("echo"),
    );
    let token = format!("agadm_{:032x}", rand::random::<u128>());
    let digest = hex::encode(sha2::Sha256::digest(token.as_bytes()));
    let mut gates = Vec::new();
    for i in 0..3 {
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
url = "{url}"
auto_migrate = true
[upstreams.echo]
backends = ["127.0.0.1:{upstream}"]
[[credentials.prefixes]]
prefix = "mantyx_"
kind = "api_key"
[[routes]]
path = "/w/{{workspace}}/x"
upstream = "echo"
auth = {{ accept = ["api_key"] }}
"#
        );
        let path = dir.path().join(format!("g{i}.toml"));
        std::fs::write(&path, cfg).expect("config");
        kids.0.push(
            Command::new(bin)
                .args(["serve", "--config"])
                .arg(&path)
                .stderr(Stdio::null())
                .spawn()
                .expect("authgate"),
        );
        gates.push((port, admin));
    }
    let c = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .expect("client");
    // Ready: migrated and answering.
    for (_, admin) in &gates {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let up = c
                .get(format!("http://127.0.0.1:{admin}/metrics"))
                .send()
                .await
                .ok();
            let text = match up {
                Some(r) => r.text().await.unwrap_or_default(),
                None => String::new(),
            };
            if text.contains("authgate_store_up{store=\"postgres\"} 1") {
                break;
            }
            assert!(Instant::now() < deadline, "instance never ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let admin0 = format!("http://127.0.0.1:{}", gates[0].1);
    let mut keys = Vec::new();
    for i in 0..n {
        let v: Value = c
            .post(format!("{admin0}/admin/v1/keys"))
            .bearer_auth(&token)
            .json(&json!({"kind": "api_key", "subject": format!("svc-{i}"), "workspace": "acme"}))
            .send()
            .await
            .expect("create")
            .json()
            .await
            .expect("json");
        keys.push((
            v["key"]["id"].as_str().unwrap_or("").to_string(),
            v["secret"].as_str().unwrap_or("").to_string(),
        ));
    }
    let client = c.clone();
    let get = move |port: u16, key: String| {
        let c = client.clone();
        async move {
            c.get(format!("http://127.0.0.1:{port}/w/acme/x"))
                .bearer_auth(key)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };
    // Warm-up, one request per key and instance: each is a first sight
    // (a cache miss answered by PostgreSQL), timed end to end.
    let mut first_sight = Vec::new();
    for (port, _) in &gates {
        for (_, k) in &keys {
            let t = Instant::now();
            assert_eq!(get(*port, k.clone()).await, 200, "warm-up");
            first_sight.push(t.elapsed());
        }
    }
    let mut cached = Vec::new();
    for (port, _) in &gates {
        for (_, k) in &keys {
            let t = Instant::now();
            assert_eq!(get(*port, k.clone()).await, 200, "cached");
            cached.push(t.elapsed());
        }
    }
    first_sight.sort();
    cached.sort();
    // Load: 4 loops per instance over keys not yet revoked.
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicU64::new(0));
    let served = Arc::new(AtomicU64::new(0));
    let mut load = Vec::new();
    for (port, _) in &gates {
        for _ in 0..4 {
            let (stop, next, served, keys, port) = (
                stop.clone(),
                next.clone(),
                served.clone(),
                keys.clone(),
                *port,
            );
            let get = get.clone();
            load.push(tokio::spawn(async move {
                let mut i = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let from = next.load(Ordering::Relaxed) as usize + 1;
                    if from >= keys.len() {
                        break;
                    }
                    let k = &keys[from + i % (keys.len() - from)].1;
                    if get(port, k.clone()).await > 0 {
                        served.fetch_add(1, Ordering::Relaxed);
                    }
                    i += 1;
                }
            }));
        }
    }
    let mut same = Vec::new();
    let mut others = Vec::new();
    let started = Instant::now();
    for (i, (id, key)) in keys.iter().enumerate() {
        next.store(i as u64, Ordering::Relaxed);
        let r = c
            .post(format!("{admin0}/admin/v1/keys/{id}/revoke"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("revoke");
        assert_eq!(r.status().as_u16(), 200);
        let t0 = Instant::now();
        let mut pending: Vec<usize> = (0..gates.len()).collect();
        while !pending.is_empty() {
            let mut still = Vec::new();
            for g in pending {
                if get(gates[g].0, key.clone()).await == 401 {
                    let took = t0.elapsed();
                    if g == 0 {
                        same.push(took)
                    } else {
                        others.push(took)
                    }
                } else {
                    still.push(g);
                }
            }
            pending = still;
            if t0.elapsed() > Duration::from_secs(30) {
                panic!("a revocation did not propagate within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for l in load {
        let _ = l.await;
    }
    let elapsed = started.elapsed();
    same.sort();
    others.sort();
    println!(
        "revocations: {n}, instances: 3, background requests served: {} in {:.1} s",
        served.load(Ordering::Relaxed),
        elapsed.as_secs_f64()
    );
    println!("| where | samples | p50 | p99 | max |");
    println!("|---|---:|---:|---:|---:|");
    for (name, v) in [
        ("the instance that revoked", &same),
        ("the other instances", &others),
    ] {
        println!(
            "| {name} | {} | {:.1} ms | {:.1} ms | {:.1} ms |",
            v.len(),
            pct(v, 0.5).as_secs_f64() * 1e3,
            pct(v, 0.99).as_secs_f64() * 1e3,
            v.last().copied().unwrap_or_default().as_secs_f64() * 1e3
        );
    }
    println!();
    println!("| request (end to end, one client, loopback) | samples | p50 | p99 | max |");
    println!("|---|---:|---:|---:|---:|");
    for (name, v) in [
        ("first sight (PostgreSQL lookup)", &first_sight),
        ("cached", &cached),
    ] {
        println!(
            "| {name} | {} | {:.2} ms | {:.2} ms | {:.2} ms |",
            v.len(),
            pct(v, 0.5).as_secs_f64() * 1e3,
            pct(v, 0.99).as_secs_f64() * 1e3,
            v.last().copied().unwrap_or_default().as_secs_f64() * 1e3
        );
    }
    drop(kids);
    let _ = admin_db
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .await;
}
