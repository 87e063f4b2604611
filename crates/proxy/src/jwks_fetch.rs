//! Fetching JWKS documents over HTTP for the core's [`JwksCache`], and the
//! background service that refreshes every issuer's set.
//!
//! [`JwksCache`]: authgate_core::verify::jwks::JwksCache

use crate::config::reload::ConfigHandle;
use async_trait::async_trait;
use authgate_core::verify::jwks::JwksFetch;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// A JWKS fetch over HTTP(S) with reqwest (rustls), 5 s per attempt.
pub struct HttpFetch {
    client: Result<reqwest::Client, String>,
}

impl HttpFetch {
    /// A fetcher with its own connection pool.
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| e.to_string());
        Self { client }
    }
}

impl Default for HttpFetch {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl JwksFetch for HttpFetch {
    async fn fetch(&self, url: &str) -> Result<Vec<u8>, String> {
        let client = self.client.as_ref().map_err(Clone::clone)?;
        let resp = client.get(url).send().await.map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("status {}", resp.status()));
        }
        let body = resp.bytes().await.map_err(|e| e.to_string())?;
        Ok(body.to_vec())
    }
}

/// The process-wide fetcher every config load hands to its issuers (one
/// connection pool, kept across reloads).
pub fn http_fetcher() -> Arc<dyn JwksFetch> {
    static FETCH: LazyLock<Arc<dyn JwksFetch>> = LazyLock::new(|| Arc::new(HttpFetch::new()));
    FETCH.clone()
}

/// Background service refreshing the JWKS of the current config's issuers.
pub struct JwksRefresher {
    config: ConfigHandle,
}

impl JwksRefresher {
    /// Refresh the issuers of whatever config `config` holds.
    pub fn new(config: ConfigHandle) -> Self {
        Self { config }
    }
}

#[async_trait]
impl BackgroundService for JwksRefresher {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tick.tick() => {}
            }
            let rt = self.config.current();
            for issuer in &rt.auth.issuers {
                if let Some(cache) = issuer.jwks() {
                    cache.refresh_if_due().await;
                }
            }
        }
    }
}
