//! The `authgate` command line: serve, check, keys, and (feature `tools`)
//! demo, echo, passthrough, loadtest.

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
    /// Database store: migrations and status.
    Store {
        #[command(subcommand)]
        command: authgate_proxy::store_cli::StoreCommand,
    },
    /// Mint credentials.
    Keys {
        #[command(subcommand)]
        command: authgate::credential::cli::KeysCommand,
    },
    /// The tools: demo, echo, passthrough, loadtest (feature `tools`).
    #[cfg(feature = "tools")]
    #[command(flatten)]
    Tool(authgate_tools::cli::ToolCommand),
}

/// Give SIGINT and SIGTERM their default action (terminate) until the
/// server installs its own handlers. A process started as a background job
/// of a non-interactive shell inherits SIGINT as *ignored*; a SIGINT that
/// arrived during start-up, before pingora's handlers existed, was then
/// lost and the server ran on. Now such a signal ends the process, as a
/// stop request during start-up should.
fn default_stop_signals() {
    #[cfg(unix)]
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: setting a standard disposition (SIG_DFL) for a standard
        // signal, before any other thread exists; no handler code runs.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
        }
    }
}

fn main() -> ExitCode {
    default_stop_signals();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config: path } => {
            let handle = match config::reload::ConfigHandle::load(path.clone()) {
                Ok(handle) => handle,
                Err(errors) => {
                    eprintln!("{}: invalid configuration:\n{errors}", path.display());
                    return ExitCode::from(2);
                }
            };
            let rt = handle.current();
            authgate::logging::init(rt.log_format, &rt.file.log.level);
            drop(rt);
            match authgate::server::build(handle) {
                Ok(server) => server.run_forever(),
                Err(e) => {
                    eprintln!("cannot start: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Check { config: path } => match config::check(&path) {
            Ok(rt) => {
                println!(
                    "{}: ok ({} routes, {} upstreams, {} keys, {} issuers)",
                    path.display(),
                    rt.router.len(),
                    rt.pools.len(),
                    rt.auth.key_count,
                    rt.auth.issuers.len()
                );
                ExitCode::SUCCESS
            }
            Err(errors) => {
                eprintln!("{}: {} error(s)\n{errors}", path.display(), errors.0.len());
                ExitCode::from(1)
            }
        },
        Command::Store { command } => authgate_proxy::store_cli::run(command),
        Command::Keys { command } => authgate::credential::cli::run(command),
        #[cfg(feature = "tools")]
        Command::Tool(command) => authgate_tools::cli::run(command),
    }
}
