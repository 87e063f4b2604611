//! authgate-tools: what load-tests and demonstrates the proxy, kept out of
//! the production proxy's code path: [`loadtest`] (with its embedded test
//! keys), the [`echo`] upstream, the bare pingora [`passthrough`] and the
//! [`demo`].

pub mod cli;
pub mod demo;
pub mod echo;
pub mod loadtest;
pub mod passthrough;

pub use authgate_proxy::{
    assertion, cache, command_runtime, config, credential, error, identity, logging, metrics,
    policy, secret, server, store, verify,
};
