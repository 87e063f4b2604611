//! authgate: a reverse-proxy authentication middleware on pingora.
//!
//! The workspace's crates, re-exported here under one name:
//! - [`authgate_core`]: credentials, verifiers, the identity cache, the
//!   store seam, policy and the refusal model (no pingora, no HTTP client);
//! - [`authgate_proxy`]: pingora glue, config and reload, server, admin, CLI;
//! - `authgate_tools` (feature `tools`, on by default): load tool, echo,
//!   passthrough, demo.

pub use authgate_core::{bundle, wallet};
pub use authgate_proxy::{
    admin, assertion, cache, command_runtime, config, credential, error, identity, logging,
    metrics, policy, proxy, runtime, secret, server, settings, signin, store, upstream, verify,
};

#[cfg(feature = "tools")]
pub use authgate_tools::{demo, echo, loadtest, passthrough};
