//! `authgate loadtest`: generate a load-test config with many credentials
//! ([`prepare`]) and drive HTTP load at an authgate edge ([`driver`]),
//! reporting throughput, latency percentiles and status counts ([`report`]).
//!
//! The tool only sends to the `--url` it is given and always stops by
//! itself; it is meant for loopback or hosts you operate.

pub mod client;
pub mod credentials;
pub mod driver;
pub mod httpsig;
pub mod mix;
pub mod prepare;
pub mod report;
pub mod source;
pub mod stamps;
pub mod wire;

use clap::{Args, Subcommand};
use driver::{Plan, Selector, Stop};
use source::Source;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// `authgate loadtest …`
#[derive(Subcommand, Debug)]
pub enum LoadtestCommand {
    /// Write an authgate config with many minted credentials, plus credentials.jsonl.
    #[command(long_about = PREPARE_ABOUT)]
    Prepare(PrepareArgs),
    /// Send HTTP load to --url and report req/s, latency percentiles and status counts.
    #[command(long_about = RUN_ABOUT)]
    Run(RunArgs),
}

const PREPARE_ABOUT: &str = "\
Write into --out a complete authgate config (authgate.toml) with --api-keys \
API keys, access tokens and server keys (digests only), --stamps ed25519 \
stamp keys (public keys only), four JWT issuers (HS256, RS256, ES256, EdDSA) \
and the demo routes, plus credentials.jsonl holding every plaintext \
credential and stamp signing seed for `authgate loadtest run`.

The RS256, ES256 and EdDSA issuers use authgate's TEST key pairs from \
tests/fixtures/jwt/keys (their private keys are public): the generated \
config is for load testing only and must never protect anything real.";

const RUN_ABOUT: &str = "\
Send GET requests to --url (plus each credential's path) from --concurrency \
workers over keep-alive HTTP/1.1 connections, then report req/s, latency \
percentiles (HDR histogram), status codes and errors, overall and per \
credential kind. Stamp keys (stamp_ed25519) send POSTs instead, each with a \
new JSON body {\"timestampMs\":<now>,\"n\":<counter>} and a new X-Stamp over it \
(signed by the load tool, about 20 us each).

Without --rate, each worker sends as soon as its previous response is in \
(closed loop, maximum rate). With --rate, requests are due on a fixed \
schedule and latency is measured from the due time, so queueing behind a \
slow response is counted (open loop, no coordinated omission).

Only point this at hosts you operate (loopback, your own staging edge). \
It stops by itself after --duration or --requests (Ctrl-C stops early).";

/// Options of `loadtest prepare`.
#[derive(Args, Debug, Clone)]
pub struct PrepareArgs {
    /// Output directory (created; files in it are overwritten).
    #[arg(long)]
    pub out: PathBuf,
    /// Distinct credentials of each opaque kind (api_key, access_token, server_key).
    #[arg(long, default_value_t = 1000)]
    pub api_keys: usize,
    /// Distinct tokens of each JWT kind (jwt_hs256, jwt_rs256, jwt_es256, jwt_eddsa).
    #[arg(long, default_value_t = 1000)]
    pub jwts: usize,
    /// Distinct ed25519 keys of each signing kind (stamp_ed25519 for
    /// X-Stamp, httpsig_ed25519 for RFC 9421), registered with scope runs:write.
    #[arg(long, default_value_t = 1000)]
    pub stamps: usize,
    /// Number of workspaces the credentials are spread over.
    #[arg(long, default_value_t = 16)]
    pub workspaces: usize,
    /// The upstream authgate forwards to (e.g. `authgate echo`).
    #[arg(long, default_value = "127.0.0.1:3000")]
    pub upstream: String,
    /// authgate's proxy listener.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// authgate's admin listener.
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub admin: String,
    /// Proxy worker threads in the generated config.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
}

/// Options of `loadtest run`.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Base URL, e.g. http://127.0.0.1:8080 (plain http only).
    #[arg(long)]
    pub url: String,
    /// credentials.jsonl from `loadtest prepare`; absent = requests without credentials.
    #[arg(long)]
    pub credentials: Option<PathBuf>,
    /// Kind weights, e.g. api_key=3,jwt_rs256=1 (default: every kind in the file, equally).
    #[arg(long)]
    pub mix: Option<String>,
    /// Share (0.0–1.0) of requests with forged, well-formed but unknown credentials
    /// (for stamps: a valid stamp by a fresh, unregistered key).
    #[arg(long, default_value_t = 0.0)]
    pub invalid: f64,
    /// Request path instead of each credential's own path (or of the URL's).
    #[arg(long)]
    pub path: Option<String>,
    /// Worker tasks, i.e. requests in flight at most.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Keep-alive connections shared by the workers (default: one per worker).
    #[arg(long)]
    pub connections: Option<usize>,
    /// How long to measure, e.g. 10s, 1m (default 10s, at most 1h).
    #[arg(long, value_parser = humantime::parse_duration, conflicts_with = "requests")]
    pub duration: Option<Duration>,
    /// Stop after this many measured requests instead of after a duration.
    #[arg(long)]
    pub requests: Option<u64>,
    /// Open loop at this many requests per second (absent: closed loop, max rate).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Unrecorded warm-up before measuring.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1s")]
    pub warmup: Duration,
    /// Per-request (and connect) timeout.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    pub timeout: Duration,
    /// Print one JSON document on stdout instead of the text summary.
    #[arg(long)]
    pub json: bool,
    /// No progress line on stderr.
    #[arg(long)]
    pub quiet: bool,
}

/// Longest run accepted, so that a typo cannot start a day-long flood.
const MAX_DURATION: Duration = Duration::from_secs(3600);
/// Default measured duration.
const DEFAULT_DURATION: Duration = Duration::from_secs(10);

/// Turn `run` options into a [`Plan`], checking every value.
pub fn plan(args: &RunArgs) -> Result<Plan, String> {
    let target = client::Target::parse(&args.url)?;
    if args.concurrency == 0 || args.concurrency > 100_000 {
        return Err("--concurrency must be between 1 and 100000".into());
    }
    let connections = args.connections.unwrap_or(args.concurrency);
    if connections == 0 || connections > args.concurrency {
        return Err(format!(
            "--connections must be between 1 and --concurrency ({})",
            args.concurrency
        ));
    }
    if !(0.0..=1.0).contains(&args.invalid) {
        return Err(format!("--invalid {} is not between 0 and 1", args.invalid));
    }
    let stop = match (args.duration, args.requests) {
        (_, Some(0)) => return Err("--requests must be at least 1".into()),
        (_, Some(n)) => Stop::Requests(n),
        (Some(d), None) if d.is_zero() || d > MAX_DURATION => {
            return Err("--duration must be more than 0 and at most 1h".into())
        }
        (Some(d), None) => Stop::Duration(d),
        (None, None) => Stop::Duration(DEFAULT_DURATION),
    };
    if args.warmup > MAX_DURATION || args.timeout.is_zero() {
        return Err("--warmup must be at most 1h and --timeout more than 0".into());
    }
    if let Some(r) = args.rate {
        if !(r.is_finite() && r > 0.0 && r <= 10_000_000.0) {
            return Err(format!(
                "--rate {r} must be more than 0 and at most 10000000"
            ));
        }
    }
    if let Some(p) = &args.path {
        credentials::parse_path(p).map_err(|e| format!("--path: {e}"))?;
    }
    let selector = match &args.credentials {
        None => {
            if args.mix.is_some() || args.invalid > 0.0 {
                return Err("--mix and --invalid need --credentials".into());
            }
            Selector::Plain(target.plain_path(args.path.as_deref())?)
        }
        Some(file) => {
            let lines = credentials::read_jsonl(file)?;
            let sources = Source::load(lines, &target.base_path, args.path.as_deref())?;
            let mix = match &args.mix {
                Some(m) => mix::Mix::parse(m).map_err(|e| e.to_string())?,
                None => mix::Mix::uniform(sources.keys().copied())
                    .ok_or_else(|| format!("{}: no credentials", file.display()))?,
            };
            Selector::credentials(mix, sources, args.invalid)?
        }
    };
    Ok(Plan {
        target,
        selector,
        concurrency: args.concurrency,
        connections,
        stop,
        rate: args.rate,
        warmup: args.warmup,
        timeout: args.timeout,
        progress: !args.quiet,
        stop_on_ctrl_c: true,
    })
}

/// Run a `loadtest` command.
pub fn run(cmd: LoadtestCommand) -> ExitCode {
    match cmd {
        LoadtestCommand::Prepare(args) => match prepare::prepare(&args) {
            Ok(p) => {
                println!(
                    "wrote {} and {}",
                    p.config.display(),
                    p.credentials.display()
                );
                for (kind, n) in &p.counts {
                    println!("  {kind:<13} {n}");
                }
                println!("\nnext:");
                println!("  authgate echo --listen {}", args.upstream);
                println!("  authgate serve --config {}", p.config.display());
                println!(
                    "  authgate loadtest run --url http://{} --credentials {} --duration 10s",
                    args.listen,
                    p.credentials.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("loadtest prepare: {e}");
                ExitCode::from(1)
            }
        },
        LoadtestCommand::Run(args) => {
            let plan = match plan(&args) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("loadtest run: {e}");
                    return ExitCode::from(2);
                }
            };
            if !plan.target.is_loopback() {
                eprintln!(
                    "note: {} is not a loopback address; only load hosts you operate",
                    plan.target.url
                );
            }
            let rt = match crate::command_runtime() {
                Ok(rt) => rt,
                Err(code) => return code,
            };
            let report = rt.block_on(driver::run(plan));
            let text = if args.json {
                format!("{}\n", report.to_json())
            } else {
                report.to_text()
            };
            // Like other Unix tools, a closed pipe (`| head`) ends the output
            // quietly; `print!` would panic on it.
            let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
            ExitCode::SUCCESS
        }
    }
}
