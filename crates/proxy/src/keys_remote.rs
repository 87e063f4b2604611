//! `authgate keys create|list|revoke|rotate` against a live key store:
//! over the admin API (`--admin URL`, token from `AUTHGATE_ADMIN_TOKEN`),
//! or straight to the store a config names (`--store`, with `--config`:
//! its `store.url`, prefix table and digest settings). Both run the admin
//! API's own handlers, so validation and answers are the same; the answer
//! is printed as JSON (the secret of a new key appears there, once).

use crate::admin_api::{keys, Reply};
use crate::cache::IdentityCache;
use clap::Args;
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Where a remote key command goes.
#[derive(Args, Debug, Clone, Default)]
pub struct Target {
    /// The admin listener, e.g. `http://127.0.0.1:9090` (token from the
    /// `AUTHGATE_ADMIN_TOKEN` environment variable).
    #[arg(long)]
    pub admin: Option<String>,
    /// Go straight to the database store of `--config` (its `store.url`).
    #[arg(long)]
    pub store: bool,
    /// Config file (for `--store`: store URL, prefixes, digest).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// One operation.
pub enum Op {
    /// Create with this JSON body.
    Create(Value),
    /// List with this query string.
    List(String),
    /// Revoke this id.
    Revoke(String),
    /// Rotate this id with this JSON body.
    Rotate(String, Value),
}

impl Op {
    fn http(&self) -> (reqwest::Method, String, Option<&Value>) {
        match self {
            Op::Create(b) => (reqwest::Method::POST, "/admin/v1/keys".into(), Some(b)),
            Op::List(q) => (reqwest::Method::GET, format!("/admin/v1/keys?{q}"), None),
            Op::Revoke(id) => (
                reqwest::Method::POST,
                format!("/admin/v1/keys/{id}/revoke"),
                None,
            ),
            Op::Rotate(id, b) => (
                reqwest::Method::POST,
                format!("/admin/v1/keys/{id}/rotate"),
                Some(b),
            ),
        }
    }
}

async fn over_http(base: &str, op: &Op) -> Result<(u16, Value), String> {
    let token = std::env::var("AUTHGATE_ADMIN_TOKEN")
        .map_err(|_| "set AUTHGATE_ADMIN_TOKEN to an admin token".to_string())?;
    let (method, path, body) = op.http();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let mut req = client
        .request(method, format!("{}{path}", base.trim_end_matches('/')))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(b);
    }
    let resp = req.send().await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let text = resp.text().await.map_err(|e| e.to_string())?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

async fn in_store(config: &std::path::Path, op: Op) -> Result<(u16, Value), String> {
    let rt = crate::config::load(config).map_err(|e| format!("{}: {e}", config.display()))?;
    let store = rt
        .keystore
        .clone()
        .ok_or_else(|| format!("{}: no store.url", config.display()))?;
    // A throwaway cache: running instances learn of the change from the
    // store's change feed.
    let cache = IdentityCache::new(1, Duration::from_secs(1), Duration::from_secs(1));
    let ctx = keys::Ctx {
        rt: &rt,
        store: store.as_ref(),
        cache: &cache,
        caller: "cli",
    };
    let reply: Reply = match op {
        Op::Create(b) => keys::create(&ctx, b).await,
        Op::List(q) => keys::list(&ctx, &q).await,
        Op::Revoke(id) => keys::revoke(&ctx, &id).await,
        Op::Rotate(id, b) => keys::rotate(&ctx, &id, b).await,
    };
    Ok((reply.status, reply.body))
}

/// Run `op` against `target`; prints the answer, exit 0 on success.
pub fn run(target: &Target, op: Op) -> ExitCode {
    let runtime = match crate::command_runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    let result = runtime.block_on(async {
        match (&target.admin, target.store, &target.config) {
            (Some(base), false, _) => over_http(base, &op).await,
            (None, true, Some(config)) => in_store(config, op).await,
            (None, true, None) => Err("--store needs --config".into()),
            _ => Err("use either --admin URL or --store --config FILE".into()),
        }
    });
    match result {
        Ok((status, body)) => {
            let pretty = serde_json::to_string_pretty(&body).unwrap_or_default();
            if (200..300).contains(&status) {
                println!("{pretty}");
                ExitCode::SUCCESS
            } else {
                eprintln!("{status}: {pretty}");
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}
