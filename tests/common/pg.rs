//! PostgreSQL for end-to-end tests: a database of the test's own (random
//! name, dropped on drop) on the local server, and a TCP proxy in front of
//! the server that a test can cut to simulate an outage.

use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The server tests use; `AUTHGATE_TEST_PG` overrides it.
pub fn server() -> String {
    std::env::var("AUTHGATE_TEST_PG").unwrap_or_else(|_| "postgres://root@127.0.0.1:5432".into())
}

/// `host:port` of [`server`].
fn server_addr() -> String {
    let s = server();
    let rest = s.split("://").nth(1).unwrap_or("127.0.0.1:5432");
    let host = rest.rsplit('@').next().unwrap_or(rest);
    host.split('/').next().unwrap_or(host).to_string()
}

/// A fresh database, dropped on drop.
pub struct TempDb {
    pub name: String,
    pub url: String,
}

impl TempDb {
    pub async fn new() -> Self {
        let name = format!("authgate_e2e_{:016x}", rand::random::<u64>());
        let (client, conn) =
            tokio_postgres::connect(&format!("{}/postgres", server()), tokio_postgres::NoTls)
                .await
                .expect("PostgreSQL at 127.0.0.1:5432");
        tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create database");
        let url = format!("{}/{name}", server());
        Self { name, url }
    }

    /// The database's URL through `proxy` instead of directly.
    pub fn url_via(&self, proxy: &CutProxy) -> String {
        self.url
            .replacen(&server_addr(), &proxy.addr.to_string(), 1)
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let (server, name) = (server(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok((client, conn)) =
                    tokio_postgres::connect(&format!("{server}/postgres"), tokio_postgres::NoTls)
                        .await
                {
                    tokio::spawn(conn);
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// A TCP proxy to the PostgreSQL server (or, with [`CutProxy::to`], any
/// TCP server); [`CutProxy::cut`] closes every connection and refuses new
/// ones until [`CutProxy::restore`].
pub struct CutProxy {
    pub addr: SocketAddr,
    cut: Arc<watch::Sender<bool>>,
}

impl CutProxy {
    pub async fn start() -> Self {
        Self::to(server_addr()).await
    }

    /// A proxy to `target` (`host:port`).
    pub async fn to(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, _) = watch::channel(false);
        let cut = Arc::new(tx);
        let c = cut.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                if *c.borrow() {
                    drop(client);
                    continue;
                }
                let mut rx = c.subscribe();
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(mut upstream) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = copy_bidirectional(&mut client, &mut upstream) => {}
                        _ = rx.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        Self { addr, cut }
    }

    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    pub fn restore(&self) {
        self.cut.send_replace(false);
    }
}
