//! Sign-in nonces in SQLite (see [`crate::nonce`]): issuing one is one
//! transaction on the store's single connection, so the caps on
//! outstanding nonces are exact.

use super::{err, write_err, SqliteStore};
use crate::model::now;
use crate::nonce::{self, Nonce, NonceCaps};
use crate::WriteError;
use authgate_core::store::StoreError;
use rusqlite::{params, OptionalExtension};

impl SqliteStore {
    pub(super) async fn nonce_put(&self, n: &Nonce, caps: &NonceCaps) -> Result<(), WriteError> {
        let (n, caps) = (n.clone(), *caps);
        self.run(move |c| {
            let tx = c.transaction().map_err(write_err)?;
            tx.execute("DELETE FROM authgate_nonces WHERE expires_at <= ?1", [now()])
                .map_err(write_err)?;
            let total: i64 = tx
                .query_row("SELECT count(*) FROM authgate_nonces", [], |r| r.get(0))
                .map_err(write_err)?;
            if total >= caps.total {
                return Err(nonce::full("server"));
            }
            for (column, value, cap) in nonce::bounds(&n, &caps) {
                let count: i64 = tx
                    .query_row(
                        &format!("SELECT count(*) FROM authgate_nonces WHERE {column} = ?1"),
                        [value],
                        |r| r.get(0),
                    )
                    .map_err(write_err)?;
                if count >= cap {
                    return Err(nonce::full(column));
                }
            }
            tx.execute(
                "INSERT INTO authgate_nonces (nonce, address, client_id, chain_id, session_key, ip, message, expires_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![n.nonce, n.address, n.client_id, n.chain_id, n.session_key, n.ip, n.message, n.expires_at, now()],
            )
            .map_err(write_err)?;
            tx.commit().map_err(write_err)
        })
        .await
    }

    pub(super) async fn nonce_get(&self, nonce_value: &str) -> Result<Option<Nonce>, StoreError> {
        let v = nonce_value.to_string();
        self.run(move |c| {
            c.query_row(
                &format!(
                    "SELECT {} FROM authgate_nonces WHERE nonce = ?1 AND expires_at > ?2",
                    nonce::COLUMNS
                ),
                params![v, now()],
                |r| {
                    Ok(Nonce {
                        nonce: r.get(0)?,
                        address: r.get(1)?,
                        client_id: r.get(2)?,
                        chain_id: r.get(3)?,
                        session_key: r.get(4)?,
                        ip: r.get(5)?,
                        message: r.get(6)?,
                        expires_at: r.get(7)?,
                    })
                },
            )
            .optional()
            .map_err(nonce::corrupt)
        })
        .await
    }

    pub(super) async fn nonce_consume(&self, nonce_value: &str) -> Result<bool, StoreError> {
        let v = nonce_value.to_string();
        self.run(move |c| {
            c.execute("DELETE FROM authgate_nonces WHERE nonce = ?1", [v])
                .map(|n| n == 1)
                .map_err(err)
        })
        .await
    }
}
