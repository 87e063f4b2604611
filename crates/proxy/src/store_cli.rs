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
    /// Copy the config's own keys (`[[keys]]`, `store.keys_file`) into its
    /// `store.url`, in one transaction (digests only, as in the config).
    Import {
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
        StoreCommand::Status { config } | StoreCommand::Import { config } => (config, false),
    };
    let import = matches!(cmd, StoreCommand::Import { .. });
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
    if import {
        return runtime.block_on(import_keys(&rt, store));
    }
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

/// `store import`: the config's keys into its store.
async fn import_keys(
    rt: &crate::config::Runtime,
    store: std::sync::Arc<dyn authgate_store::KeyStore>,
) -> ExitCode {
    let at = authgate_store::now();
    let keys: Vec<authgate_store::NewKey> = rt
        .file_keys
        .iter()
        .map(|(digest, r)| authgate_store::NewKey {
            id: r.id.clone(),
            digest: *digest,
            kind: r.kind,
            subject: r.subject.clone(),
            workspace: r.workspace.clone(),
            scopes: r.scopes.clone(),
            allow: r.allow.clone(),
            usage: r.usage.clone(),
            expires_at: r.expires_at.map(|e| e.min(i64::MAX as u64) as i64),
            scheme: None,
            public_key: None,
            metadata: serde_json::json!({"imported_at": at}),
            rotated_from: None,
            minted: None,
            rate_limit: None,
            quota: None,
        })
        .collect();
    let started = std::time::Instant::now();
    if let Err(e) = store.migrate().await {
        eprintln!("{}: {e}", store.describe());
        return ExitCode::from(1);
    }
    match store.import(keys).await {
        Ok(n) => {
            println!(
                "{}: imported {n} keys in {:.1} s",
                store.describe(),
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}: {e} (nothing was imported)", store.describe());
            ExitCode::from(1)
        }
    }
}
