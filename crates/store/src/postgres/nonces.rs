//! Sign-in nonces in PostgreSQL (see [`crate::nonce`]): issuing one takes
//! a fleet-wide advisory lock, so the caps on outstanding nonces are exact.

use super::{err, write_err, PgStore};
use crate::model::now;
use crate::nonce::{self, Nonce, NonceCaps};
use crate::WriteError;
use authgate_core::store::StoreError;

impl PgStore {
    pub(super) async fn nonce_put(&self, n: &Nonce, caps: &NonceCaps) -> Result<(), WriteError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(write_err)?;
        // One issuer at a time across the fleet, so the bounds are exact.
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('authgate_nonces'))",
            &[],
        )
        .await
        .map_err(write_err)?;
        tx.execute(
            "DELETE FROM authgate_nonces WHERE expires_at <= $1",
            &[&now()],
        )
        .await
        .map_err(write_err)?;
        let total: i64 = tx
            .query_one("SELECT count(*) FROM authgate_nonces", &[])
            .await
            .map_err(write_err)?
            .get(0);
        if total >= caps.total {
            return Err(nonce::full("server"));
        }
        for (column, value, cap) in nonce::bounds(n, caps) {
            let count: i64 = tx
                .query_one(
                    &format!("SELECT count(*) FROM authgate_nonces WHERE {column} = $1"),
                    &[&value],
                )
                .await
                .map_err(write_err)?
                .get(0);
            if count >= cap {
                return Err(nonce::full(column));
            }
        }
        tx.execute(
            "INSERT INTO authgate_nonces (nonce, address, client_id, chain_id, session_key, ip, message, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[&n.nonce, &n.address, &n.client_id, &n.chain_id, &n.session_key, &n.ip, &n.message, &n.expires_at, &now()],
        )
        .await
        .map_err(write_err)?;
        tx.commit().await.map_err(write_err)
    }

    pub(super) async fn nonce_get(&self, nonce_value: &str) -> Result<Option<Nonce>, StoreError> {
        let c = self.client().await?;
        let row = c
            .query_opt(
                &format!(
                    "SELECT {} FROM authgate_nonces WHERE nonce = $1 AND expires_at > $2",
                    nonce::COLUMNS
                ),
                &[&nonce_value, &now()],
            )
            .await
            .map_err(err)?;
        row.map(|r| {
            Ok(Nonce {
                nonce: r.try_get(0).map_err(nonce::corrupt)?,
                address: r.try_get(1).map_err(nonce::corrupt)?,
                client_id: r.try_get(2).map_err(nonce::corrupt)?,
                chain_id: r.try_get(3).map_err(nonce::corrupt)?,
                session_key: r.try_get(4).map_err(nonce::corrupt)?,
                ip: r.try_get(5).map_err(nonce::corrupt)?,
                message: r.try_get(6).map_err(nonce::corrupt)?,
                expires_at: r.try_get(7).map_err(nonce::corrupt)?,
            })
        })
        .transpose()
    }

    pub(super) async fn nonce_consume(&self, nonce_value: &str) -> Result<bool, StoreError> {
        let c = self.client().await?;
        c.execute(
            "DELETE FROM authgate_nonces WHERE nonce = $1",
            &[&nonce_value],
        )
        .await
        .map(|n| n == 1)
        .map_err(err)
    }
}
