//! Assemble the pingora server from a config: the proxy service with its
//! listeners (HTTP/1.1 + h2c, TLS with ALPN h2), the admin service, and the
//! background services (reload, health checks, JWKS refresh).

use crate::admin::Admin;
use crate::cache::IdentityCache;
use crate::config::reload::{ConfigHandle, Reloader};
use crate::config::validate::resolve;
use crate::proxy::AuthGate;
use crate::upstream::HealthChecks;
use crate::verify::jwks::JwksRefresher;
use crate::verify::{Authenticator, RequestVerifier};
use pingora::apps::HttpServerOptions;
use pingora::listeners::tls::TlsSettings;
use pingora::server::configuration::ServerConf;
use pingora::server::Server;
use pingora::services::background::background_service;
use pingora::services::listening::Service;
use std::sync::Arc;

/// Build a ready-to-run server for `handle` with the built-in verifiers.
pub fn build(handle: ConfigHandle) -> Result<Server, String> {
    build_with(handle, Vec::new())
}

/// Build a ready-to-run server for `handle`, registering `verifiers` after
/// the built-in ones (tokens, stamps): how a new credential family plugs in
/// without touching the proxy.
pub fn build_with(
    handle: ConfigHandle,
    verifiers: Vec<Arc<dyn RequestVerifier>>,
) -> Result<Server, String> {
    let rt = handle.current();
    let file = &rt.file;
    let cache = IdentityCache::new(rt.cache.max_entries, rt.cache.ttl, rt.cache.negative_ttl);
    let auth = verifiers
        .into_iter()
        .fold(Authenticator::new(cache.clone()), Authenticator::register);

    let conf = ServerConf {
        threads: file.server.threads,
        work_stealing: file.server.steals_work(),
        grace_period_seconds: Some(file.server.grace_period.as_secs()),
        graceful_shutdown_timeout_seconds: Some(file.server.grace_period.as_secs()),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();

    let mut proxy = pingora::proxy::http_proxy_service_with_name(
        &server.configuration,
        AuthGate::new(handle.clone(), auth),
        "authgate proxy",
    );
    if let Some(app) = proxy.app_logic_mut() {
        let mut opts = HttpServerOptions::default();
        opts.h2c = file.server.h2c;
        app.server_options = Some(opts);
    }
    for addr in &file.server.listen {
        proxy.add_tcp(addr);
    }
    if let Some(tls) = &file.server.tls {
        let cert = resolve(&rt.base_dir, &tls.cert);
        let key = resolve(&rt.base_dir, &tls.key);
        let mut settings =
            TlsSettings::intermediate(&cert.to_string_lossy(), &key.to_string_lossy())
                .map_err(|e| format!("server.tls: {e}"))?;
        if tls.h2 {
            settings.enable_h2();
        }
        proxy.add_tls_with_settings(&tls.listen, None, settings);
    }
    server.add_service(proxy);

    if !file.admin.listen.is_empty() {
        let mut admin = Service::new(
            "authgate admin".to_string(),
            pingora::apps::http_app::HttpServer::new_app(Admin::new(handle.clone(), cache.clone())),
        );
        admin.add_tcp(&file.admin.listen);
        server.add_service(admin);
    }
    server.add_service(background_service(
        "config reload",
        Reloader::new(handle.clone(), cache.clone()),
    ));
    server.add_service(background_service(
        "health checks",
        HealthChecks::new(handle.clone()),
    ));
    server.add_service(background_service(
        "store sync",
        crate::store_sync::StoreSync::new(handle.clone(), cache.clone()),
    ));
    server.add_service(background_service(
        "jwks refresh",
        JwksRefresher::new(handle),
    ));
    Ok(server)
}
