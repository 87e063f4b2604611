//! Upstream pools: round-robin over backends, active health checks, timeouts
//! and optional TLS with SNI.
//!
//! Pools are part of the runtime config. A reload that leaves a pool's section
//! unchanged keeps the same [`Pool`] (and so its health state); the
//! [`HealthChecks`] background service checks whatever pools are current.

use crate::config::model::UpstreamSection;
use crate::config::reload::ConfigHandle;
use async_trait::async_trait;
use pingora::lb::health_check::{HttpHealthCheck, TcpHealthCheck};
use pingora::lb::selection::RoundRobin;
use pingora::lb::{Backend, LoadBalancer};
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use pingora::upstreams::peer::HttpPeer;
use std::collections::HashMap;

/// How an upstream's backends are health-checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthCheckKind {
    /// A TCP connect.
    Tcp,
    /// `GET path`, healthy on 200.
    Http,
}

impl HealthCheckKind {
    /// `tcp` or `http`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "tcp" => Some(HealthCheckKind::Tcp),
            "http" => Some(HealthCheckKind::Http),
            _ => None,
        }
    }
}
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One upstream pool.
pub struct Pool {
    name: String,
    section: UpstreamSection,
    lb: LoadBalancer<RoundRobin>,
    /// A peer per backend, built once and handed out round-robin (skipping
    /// backends the health checks marked down).
    peers: Vec<(Backend, HttpPeer)>,
    /// Whether each of `peers` is ready, copied from pingora's health map
    /// after each health check round: reading a flag per request instead
    /// of hashing the backend into that map.
    ready: Vec<AtomicBool>,
    next: AtomicUsize,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("name", &self.name)
            .field("backends", &self.section.backends)
            .finish()
    }
}

impl Pool {
    /// Build a pool; errors are `(key suffix, message)` pairs.
    pub fn build(name: &str, section: &UpstreamSection) -> Result<Self, Vec<(String, String)>> {
        let mut errs = Vec::new();
        if section.backends.is_empty() {
            errs.push((
                ".backends".to_string(),
                "at least one backend is required".to_string(),
            ));
        }
        for (i, b) in section.backends.iter().enumerate() {
            if std::net::ToSocketAddrs::to_socket_addrs(b.as_str()).is_err() {
                errs.push((
                    format!(".backends[{i}]"),
                    format!("'{b}' is not a resolvable host:port"),
                ));
            }
        }
        let hc_kind = match &section.health_check {
            None => None,
            Some(hc) => match HealthCheckKind::parse(&hc.kind) {
                Some(kind) => Some(kind),
                None => {
                    errs.push((
                        ".health_check.kind".to_string(),
                        format!("unknown kind '{}' (tcp, http)", hc.kind),
                    ));
                    None
                }
            },
        };
        if section.connect_timeout.is_zero() {
            errs.push((
                ".connect_timeout".to_string(),
                "must be greater than zero".to_string(),
            ));
        }
        if section.read_timeout.is_zero() {
            errs.push((
                ".read_timeout".to_string(),
                "must be greater than zero".to_string(),
            ));
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        let mut lb =
            LoadBalancer::<RoundRobin>::try_from_iter(section.backends.iter().map(String::as_str))
                .map_err(|e| vec![(".backends".to_string(), e.to_string())])?;
        let first_host = section.backends[0]
            .rsplit_once(':')
            .map(|(h, _)| h.to_string())
            .unwrap_or_default();
        let sni = section.sni.clone().unwrap_or(first_host);
        if let (Some(hc), Some(kind)) = (&section.health_check, hc_kind) {
            if kind == HealthCheckKind::Http {
                let mut check = HttpHealthCheck::new(&sni, section.tls);
                check.peer_template.options.verify_cert = !section.insecure_skip_verify;
                check.peer_template.options.connection_timeout = Some(section.connect_timeout);
                if let Ok(req) = pingora_http::RequestHeader::build("GET", hc.path.as_bytes(), None)
                {
                    let mut req = req;
                    let _ = req.insert_header("host", sni.as_str());
                    check.req = req;
                }
                lb.set_health_check(Box::new(check));
            } else if section.tls {
                lb.set_health_check(TcpHealthCheck::new_tls(&sni));
            } else {
                lb.set_health_check(TcpHealthCheck::new());
            }
        }
        let peers: Vec<(Backend, HttpPeer)> = lb
            .backends()
            .get_backend()
            .iter()
            .map(|b| (b.clone(), Self::make_peer(section, &sni, b)))
            .collect();
        let ready = peers
            .iter()
            .map(|(b, _)| AtomicBool::new(lb.backends().ready(b)))
            .collect();
        Ok(Self {
            name: name.to_string(),
            section: section.clone(),
            lb,
            peers,
            ready,
            next: AtomicUsize::new(0),
        })
    }

    /// The config section this pool was built from.
    pub fn section(&self) -> &UpstreamSection {
        &self.section
    }

    /// The pool name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The next healthy backend as a peer, or `None` when none is healthy.
    pub fn peer(&self) -> Option<Box<HttpPeer>> {
        let n = self.peers.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let checked = self.section.health_check.is_some();
        (0..n)
            .map(|k| start.wrapping_add(k) % n)
            .find(|&i| !checked || self.ready.get(i).is_some_and(|r| r.load(Ordering::Relaxed)))
            .and_then(|i| self.peers.get(i))
            .map(|(_, peer)| Box::new(peer.clone()))
    }

    fn make_peer(section: &UpstreamSection, sni: &str, backend: &Backend) -> HttpPeer {
        let mut peer = HttpPeer::new(backend, section.tls, sni.to_string());
        peer.options.connection_timeout = Some(section.connect_timeout);
        peer.options.read_timeout = Some(section.read_timeout);
        peer.options.verify_cert = !section.insecure_skip_verify;
        peer.options.verify_hostname = !section.insecure_skip_verify;
        peer
    }

    /// Run one health check round now.
    pub async fn check_health(&self) {
        let backends = self.lb.backends();
        backends.run_health_check(true).await;
        for ((backend, _), ready) in self.peers.iter().zip(&self.ready) {
            ready.store(backends.ready(backend), Ordering::Relaxed);
        }
    }

    fn interval(&self) -> Option<Duration> {
        self.section.health_check.as_ref().map(|h| h.interval)
    }
}

/// Background service that health-checks the current config's pools.
pub struct HealthChecks {
    config: ConfigHandle,
}

impl HealthChecks {
    /// Check the pools of whatever config `config` holds.
    pub fn new(config: ConfigHandle) -> Self {
        Self { config }
    }
}

#[async_trait]
impl BackgroundService for HealthChecks {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut last: HashMap<usize, Instant> = HashMap::new();
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tick.tick() => {}
            }
            let rt = self.config.current();
            let now = Instant::now();
            for pool in rt.pools.values() {
                let Some(every) = pool.interval() else {
                    continue;
                };
                let id = Arc::as_ptr(pool) as usize;
                if last
                    .get(&id)
                    .is_some_and(|t| now.duration_since(*t) < every)
                {
                    continue;
                }
                last.insert(id, now);
                pool.check_health().await;
            }
            // Forget pools that a reload dropped.
            last.retain(|id, _| rt.pools.values().any(|p| Arc::as_ptr(p) as usize == *id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(backends: &[&str], health: bool) -> UpstreamSection {
        let hc = if health {
            "\n[health_check]\nkind = \"tcp\"\n"
        } else {
            ""
        };
        let list: Vec<String> = backends.iter().map(|b| format!("\"{b}\"")).collect();
        toml::from_str(&format!("backends = [{}]{hc}", list.join(", "))).unwrap()
    }

    fn addrs(pool: &Pool, n: usize) -> Vec<String> {
        (0..n)
            .map(|_| pool.peer().expect("a peer")._address.to_string())
            .collect()
    }

    #[test]
    fn peers_rotate_over_every_backend_with_the_section_options() {
        let s = section(&["127.0.0.1:7001", "127.0.0.1:7002"], false);
        let pool = Pool::build("p", &s).unwrap();
        let got = addrs(&pool, 4);
        assert_eq!(
            got,
            [
                "127.0.0.1:7001",
                "127.0.0.1:7002",
                "127.0.0.1:7001",
                "127.0.0.1:7002"
            ]
        );
        let peer = pool.peer().unwrap();
        assert_eq!(peer.options.read_timeout, Some(s.read_timeout));
        assert_eq!(peer.options.connection_timeout, Some(s.connect_timeout));

        // With health checks, backends found down are skipped (nothing listens
        // on these ports), and with none up there is no peer.
        let pool = Pool::build("p", &section(&["127.0.0.1:7001", "127.0.0.1:7002"], true)).unwrap();
        assert_eq!(addrs(&pool, 2), ["127.0.0.1:7001", "127.0.0.1:7002"]);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(pool.check_health());
        assert!(pool.peer().is_none(), "every backend is down");

        // A backend that answers the check is handed out, the other skipped.
        let up = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let up_addr = up.local_addr().unwrap().to_string();
        let pool = Pool::build("p", &section(&[&up_addr, "127.0.0.1:7002"], true)).unwrap();
        rt.block_on(pool.check_health());
        assert_eq!(addrs(&pool, 3), [up_addr.as_str(); 3]);
    }
}
