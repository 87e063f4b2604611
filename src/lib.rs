//! authgate: a reverse-proxy authentication middleware on pingora.
//!
//! A request flows through the modules in this order:
//! [`policy::router`] (match host/path/method) → [`credential::extract`]
//! (find the credential) → [`credential::sniff`] (prefix or JWT shape) →
//! [`verify`] (hot [`cache`], else [`verify::opaque`] via the [`store`] or
//! [`verify::jwt`]) → [`policy::decide`] (workspace, usage, allow-list,
//! scopes) → [`proxy::forward`] (strip spoofable headers, inject identity) →
//! the upstream pool ([`upstream`]). Refusals are rendered by [`error`].
//! [`config`] holds the validated, hot-reloaded runtime every request reads.

pub mod admin;
pub mod assertion;
pub mod cache;
pub mod config;
pub mod credential;
pub mod demo;
pub mod echo;
pub mod error;
pub mod identity;
pub mod loadtest;
pub mod logging;
pub mod metrics;
pub mod passthrough;
pub mod policy;
pub mod proxy;
pub mod secret;
pub mod server;
pub mod store;
pub mod upstream;
pub mod verify;

/// A multi-threaded tokio runtime for a command that is not a pingora
/// server (`echo`, `loadtest run`); on failure the error is printed and the
/// exit code returned.
pub fn command_runtime() -> Result<tokio::runtime::Runtime, std::process::ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("runtime: {e}");
            std::process::ExitCode::from(1)
        })
}
