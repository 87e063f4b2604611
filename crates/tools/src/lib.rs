//! authgate-tools: what load-tests and demonstrates the proxy, kept out of
//! the production proxy's code path: [`loadtest`] (with its embedded test
//! keys), the [`echo`] upstream, the bare pingora [`passthrough`], the
//! [`demo`] and the sign-in client that plays a wallet ([`signin_client`]).

pub mod cli;
pub mod demo;
pub mod echo;
pub mod loadtest;
pub mod passthrough;
pub mod signin_client;
pub mod signin_tokens;

pub use authgate_core::wallet;
pub use authgate_proxy::{
    assertion, cache, command_runtime, config, credential, error, identity, logging, metrics,
    policy, secret, server, store, verify,
};
