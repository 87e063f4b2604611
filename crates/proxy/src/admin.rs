//! The admin listener, separate from the proxy: `/metrics` (Prometheus text
//! format), `/healthz`, `/.well-known/jwks.json` (the identity assertion
//! key, when configured), and the key API under `/admin/v1/`
//! ([`crate::admin_api`]).

use crate::admin_api::AdminApi;
use crate::cache::IdentityCache;
use crate::config::reload::ConfigHandle;
use crate::metrics::METRICS;
use async_trait::async_trait;
use http::Response;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;

/// The admin HTTP application.
pub struct Admin {
    config: ConfigHandle,
    api: AdminApi,
}

impl Admin {
    /// Admin endpoints over `config`; the key API invalidates `cache`.
    pub fn new(config: ConfigHandle, cache: IdentityCache) -> Self {
        Self {
            api: AdminApi::new(config.clone(), cache),
            config,
        }
    }
}

fn reply(status: u16, content_type: &str, body: Vec<u8>) -> Response<Vec<u8>> {
    let mut resp = Response::new(body);
    *resp.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    let len = resp.body().len();
    resp.headers_mut()
        .insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(len));
    resp
}

#[async_trait]
impl ServeHttp for Admin {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        if let Some(resp) = self.api.handle(session).await {
            return resp;
        }
        let path = session.req_header().uri.path();
        match path {
            "/metrics" => reply(
                200,
                "text/plain; version=0.0.4",
                METRICS.render().into_bytes(),
            ),
            "/healthz" => {
                let rt = self.config.current();
                let body = serde_json::json!({
                    "status": "ok",
                    "routes": rt.router.len(),
                    "auth_generation": rt.auth.auth_generation,
                });
                reply(200, "application/json", body.to_string().into_bytes())
            }
            "/.well-known/jwks.json" => match &self.config.current().assertion {
                Some(signer) => reply(200, "application/json", signer.jwks().as_bytes().to_vec()),
                None => reply(
                    404,
                    "application/json",
                    br#"{"error":"no assertion key configured"}"#.to_vec(),
                ),
            },
            _ => reply(
                404,
                "application/json",
                br#"{"error":"not_found"}"#.to_vec(),
            ),
        }
    }
}
