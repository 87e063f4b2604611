//! `authgate passthrough`: a bare pingora proxy (no routing, no auth, no
//! header work) to one upstream. It is the floor that benchmarks compare
//! authgate against; it is not meant to front real traffic.

use async_trait::async_trait;
use pingora::prelude::*;
use pingora::proxy::{ProxyHttp, Session};
use pingora::server::configuration::ServerConf;
use pingora::upstreams::peer::HttpPeer;
use std::process::ExitCode;

struct Bare {
    upstream: std::net::SocketAddr,
}

#[async_trait]
impl ProxyHttp for Bare {
    type CTX = ();

    fn new_ctx(&self) -> Self::CTX {}

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut ()) -> Result<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(self.upstream, false, String::new())))
    }
}

/// Run a bare passthrough from `listen` to `upstream` with `threads` workers
/// (stealing work from each other or not).
pub fn run(listen: &str, upstream: &str, threads: usize, work_stealing: bool) -> ExitCode {
    let Ok(upstream) = upstream.parse::<std::net::SocketAddr>() else {
        eprintln!("--upstream must be ip:port");
        return ExitCode::from(2);
    };
    let conf = ServerConf {
        threads,
        work_stealing,
        grace_period_seconds: Some(1),
        graceful_shutdown_timeout_seconds: Some(1),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut svc = pingora::proxy::http_proxy_service(&server.configuration, Bare { upstream });
    svc.add_tcp(listen);
    server.add_service(svc);
    server.run_forever()
}
