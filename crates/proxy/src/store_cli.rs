//! `authgate store …`: schema migrations and a status line for the
//! database store a config names.

use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;

/// `authgate store …`
#[derive(Subcommand, Debug)]
pub enum StoreCommand {
    /// Apply pending schema migrations to the config's `store.url`.
    Migrate {
        /// Config file.
        #[arg(long, short, default_value = "conf/authgate.toml")]
        config: PathBuf,
    },
    /// Print the schema version and the change feed's position.
    Status {
        /// Config file.
        #[arg(long, short, default_value = "conf/authgate.toml")]
        config: PathBuf,
    },
}

/// Run a store subcommand.
pub fn run(cmd: StoreCommand) -> ExitCode {
    let (path, migrate) = match &cmd {
        StoreCommand::Migrate { config } => (config, true),
        StoreCommand::Status { config } => (config, false),
    };
    let rt = match crate::config::load(path) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{}: invalid configuration:\n{e}", path.display());
            return ExitCode::from(2);
        }
    };
    let Some(store) = rt.keystore.clone() else {
        eprintln!("{}: no store.url: nothing to migrate", path.display());
        return ExitCode::from(2);
    };
    let runtime = match crate::command_runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    runtime.block_on(async move {
        let result = if migrate {
            store.migrate().await
        } else {
            store.schema_version().await
        };
        match result {
            Ok(v) => {
                let head = store.head().await.unwrap_or(-1);
                println!(
                    "{}: schema version {v}, change feed at {head}",
                    store.describe()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{}: {e}", store.describe());
                ExitCode::from(1)
            }
        }
    })
}
