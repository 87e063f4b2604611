//! A PostgreSQL database of the test's own (random name), dropped when the
//! guard goes, on the local server (127.0.0.1:5432, trust auth).

#![allow(dead_code)]

use rand::Rng;

/// The server tests use; `AUTHGATE_TEST_PG` overrides it.
pub fn server() -> String {
    std::env::var("AUTHGATE_TEST_PG").unwrap_or_else(|_| "postgres://root@127.0.0.1:5432".into())
}

/// A fresh database, dropped on drop.
pub struct TempDb {
    pub name: String,
    pub url: String,
}

impl TempDb {
    pub async fn new() -> Self {
        let name = format!("authgate_t_{:016x}", rand::thread_rng().gen::<u64>());
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
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let (server, name) = (server(), self.name.clone());
        // A runtime of its own: the test's may be shutting down.
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
