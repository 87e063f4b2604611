//! The tools' subcommands, flattened into the `authgate` command line.

use clap::Subcommand;
use std::process::ExitCode;

/// `authgate demo | echo | passthrough | signin-client | loadtest`.
#[derive(Subcommand)]
pub enum ToolCommand {
    /// Start authgate with demo credentials in front of a built-in echo upstream.
    Demo(crate::demo::DemoArgs),
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
        /// Work stealing between the worker threads (`false`: one
        /// single-thread runtime per thread), as `[server] work_stealing`.
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        work_stealing: bool,
    },
    /// Play a wallet client through session-key sign-in against a running
    /// authgate (a throwaway wallet; see docs/signin.md).
    SigninClient(crate::signin_client::SigninClientArgs),
    /// Generate a load-test config and credentials, and drive load at an edge.
    Loadtest {
        #[command(subcommand)]
        command: crate::loadtest::LoadtestCommand,
    },
}

/// Run a tool subcommand.
pub fn run(command: ToolCommand) -> ExitCode {
    match command {
        ToolCommand::Demo(args) => crate::demo::run(args),
        ToolCommand::SigninClient(args) => crate::signin_client::run(args),
        ToolCommand::Echo { listen, fixed } => {
            crate::logging::init(Default::default(), "info");
            let rt = match crate::command_runtime() {
                Ok(rt) => rt,
                Err(code) => return code,
            };
            rt.block_on(async move {
                match tokio::net::TcpListener::bind(&listen).await {
                    Ok(l) => {
                        eprintln!("echo upstream listening on {listen}");
                        if fixed {
                            crate::echo::serve_fixed(l).await;
                        } else {
                            crate::echo::serve(l).await;
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
        ToolCommand::Passthrough {
            listen,
            upstream,
            threads,
            work_stealing,
        } => crate::passthrough::run(&listen, &upstream, threads, work_stealing),
        ToolCommand::Loadtest { command } => crate::loadtest::run(command),
    }
}
