//! authgate-proxy: the pingora side of authgate.
//!
//! A request flows through [`router`] (match host/path/method) → the core's
//! verifier registry ([`authgate_core::verify`]) → the core's
//! post-authentication stages → [`proxy::forward`] (strip spoofable
//! headers, inject identity with [`identity_headers`]) → the upstream pool
//! ([`upstream`]). [`config`] compiles and hot-reloads the runtime every
//! request reads; [`server`] assembles the pingora services, [`admin`] the
//! metrics/health listener, [`keys_cli`] the `authgate keys` commands.
//!
//! The core's modules are re-exported under their own names so paths read
//! the same from either crate (`crate::credential`, `crate::verify`, …).

pub mod admin;
pub mod admin_api;
pub mod assertion;
pub mod config;
pub mod forward_signature;
pub mod identity_headers;
pub mod jwks_fetch;
pub mod keys_cli;
pub mod keys_remote;
pub mod logging;
pub mod minting;
pub mod proxy;
pub mod redis_buckets;
pub mod router;
pub mod server;
pub mod signin;
pub mod store_cli;
pub mod store_sync;
pub mod upstream;

pub use authgate_core::{cache, error, metrics, runtime, secret, settings, store};

/// Credentials: the core's parsing and minting, and the key CLI.
pub mod credential {
    pub use crate::keys_cli as cli;
    pub use authgate_core::credential::*;
}

/// The verified identity (core) and the headers presenting it (proxy).
pub mod identity {
    pub use crate::identity_headers::*;
    pub use authgate_core::identity::*;
}

/// Verification (core), with the HTTP JWKS fetcher and refresher.
pub mod verify {
    pub use authgate_core::verify::*;
    /// JWKS sets and cache (core) and their HTTP fetching (proxy).
    pub mod jwks {
        pub use crate::jwks_fetch::*;
        pub use authgate_core::verify::jwks::*;
    }
}

/// Requirements and decisions (core) and the route table (proxy).
pub mod policy {
    pub use crate::router;
    pub use authgate_core::policy::*;
}

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
