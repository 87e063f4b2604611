//! authgate-core: the authentication core, with no HTTP server or client.
//!
//! A presented credential flows through [`credential::extract`] (find it) →
//! [`credential::sniff`] (prefix or JWT shape) → [`verify`] (the verifier
//! registered for its carrier: hot [`cache`], else [`verify::opaque`] via
//! the [`store`], [`verify::jwt`] or the stamp verifier) → the
//! post-authentication [`stages`] ([`policy::decide`] first). Refusals are
//! values of [`error::Refusal`]. [`runtime::AuthRuntime`] is what one config
//! load compiles for verification; the proxy crate owns everything HTTP.

pub mod actor;
pub mod bundle;
pub mod cache;
pub mod credential;
pub mod error;
pub mod identity;
pub mod limits;
pub mod limits_global;
pub mod limits_keys;
pub mod metrics;
pub mod policy;
pub mod runtime;
pub mod secret;
pub mod settings;
pub mod stages;
pub mod store;
pub mod verify;
pub mod wallet;
