//! The `authgate` command line: serve, check, demo, echo, keys.

use authgate::config;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc instead of glibc malloc: the proxy allocates small, short-lived
/// buffers on every request, where glibc's arena bookkeeping (consolidation,
/// unlinking) showed up at ≈15 % of a request's CPU in `perf`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "authgate",
    version,
    about = "Authentication edge proxy on pingora"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the proxy.
    Serve {
        /// Config file.
        #[arg(long, short, default_value = "conf/authgate.toml")]
        config: PathBuf,
    },
    /// Validate a config file and exit non-zero listing every error (like `nginx -t`).
    Check {
        /// Config file.
        #[arg(long, short, default_value = "conf/authgate.toml")]
        config: PathBuf,
    },
    /// Start authgate with demo credentials in front of a built-in echo upstream.
    Demo(authgate::demo::DemoArgs),
    /// Run the echo upstream alone.
    Echo {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:3000")]
        listen: String,
        /// Answer every request with the same small JSON body instead of
        /// describing it (a fast upstream for benchmarks).
        #[arg(long)]
        fixed: bool,
    },
    /// A bare pingora proxy to one upstream (the benchmark floor; no auth).
    Passthrough {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: String,
        /// The upstream `ip:port`.
        #[arg(long, default_value = "127.0.0.1:3000")]
        upstream: String,
        /// Worker threads.
        #[arg(long, default_value_t = 1)]
        threads: usize,
    },
    /// Mint credentials.
    Keys {
        #[command(subcommand)]
        command: authgate::credential::cli::KeysCommand,
    },
    /// Generate a load-test config and credentials, and drive load at an edge.
    Loadtest {
        #[command(subcommand)]
        command: authgate::loadtest::LoadtestCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config: path } => {
            let rt = match config::load(&path) {
                Ok(rt) => rt,
                Err(errors) => {
                    eprintln!("{}: invalid configuration:\n{errors}", path.display());
                    return ExitCode::from(2);
                }
            };
            authgate::logging::init(&rt.file.log);
            let handle = config::reload::ConfigHandle::new(rt, Some(path));
            match authgate::server::build(handle) {
                Ok(server) => server.run_forever(),
                Err(e) => {
                    eprintln!("cannot start: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Check { config: path } => match config::load(&path) {
            Ok(rt) => {
                println!(
                    "{}: ok ({} routes, {} upstreams, {} keys, {} issuers)",
                    path.display(),
                    rt.router.len(),
                    rt.pools.len(),
                    rt.key_count,
                    rt.issuers.len()
                );
                ExitCode::SUCCESS
            }
            Err(errors) => {
                eprintln!("{}: {} error(s)\n{errors}", path.display(), errors.0.len());
                ExitCode::from(1)
            }
        },
        Command::Demo(args) => authgate::demo::run(args),
        Command::Echo { listen, fixed } => {
            authgate::logging::init(&Default::default());
            let rt = match authgate::command_runtime() {
                Ok(rt) => rt,
                Err(code) => return code,
            };
            rt.block_on(async move {
                match tokio::net::TcpListener::bind(&listen).await {
                    Ok(l) => {
                        eprintln!("echo upstream listening on {listen}");
                        if fixed {
                            authgate::echo::serve_fixed(l).await;
                        } else {
                            authgate::echo::serve(l).await;
                        }
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("cannot listen on {listen}: {e}");
                        ExitCode::from(1)
                    }
                }
            })
        }
        Command::Passthrough {
            listen,
            upstream,
            threads,
        } => authgate::passthrough::run(&listen, &upstream, threads),
        Command::Keys { command } => authgate::credential::cli::run(command),
        Command::Loadtest { command } => authgate::loadtest::run(command),
    }
}
