//! Refresh tokens in PostgreSQL (see [`crate::refresh`]): an exchange locks
//! the token's row (`FOR UPDATE`), so two instances exchanging the same
//! token at once see it active only once.

use super::{err, PgStore};
use crate::model::now;
use crate::refresh::{self, RefreshToken, RefreshUse, Step, COLUMNS};
use authgate_core::store::StoreError;
use deadpool_postgres::GenericClient;

async fn insert(c: &impl GenericClient, t: &RefreshToken, at: i64) -> Result<u64, StoreError> {
    c.execute(
        "INSERT INTO authgate_refresh_tokens (digest, family, subject, namespace, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        &[&t.digest, &t.family, &t.subject, &t.namespace, &t.expires_at, &at],
    )
    .await
    .map_err(err)
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::corrupt(format!("authgate_refresh_tokens: {e}"))
}

impl PgStore {
    pub(crate) async fn refresh_put(&self, t: &RefreshToken) -> Result<(), StoreError> {
        let c = self.client().await?;
        let at = now();
        c.execute(
            "DELETE FROM authgate_refresh_tokens WHERE expires_at <= $1",
            &[&at],
        )
        .await
        .map_err(err)?;
        insert(&c, t, at).await.map(|_| ())
    }

    pub(crate) async fn refresh_use(
        &self,
        digest: &str,
        namespace: &str,
        successor: Option<&RefreshToken>,
    ) -> Result<RefreshUse, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(err)?;
        let at = now();
        let row = tx
            .query_opt(
                &format!("SELECT {COLUMNS}, used_at, revoked_at FROM authgate_refresh_tokens WHERE digest = $1 FOR UPDATE"),
                &[&digest],
            )
            .await
            .map_err(err)?;
        let row = match row {
            None => None,
            Some(r) => Some((
                RefreshToken {
                    digest: r.try_get(0).map_err(corrupt)?,
                    family: r.try_get(1).map_err(corrupt)?,
                    subject: r.try_get(2).map_err(corrupt)?,
                    namespace: r.try_get(3).map_err(corrupt)?,
                    expires_at: r.try_get(4).map_err(corrupt)?,
                },
                r.try_get::<_, Option<i64>>(5).map_err(corrupt)?,
                r.try_get::<_, Option<i64>>(6).map_err(corrupt)?,
            )),
        };
        let outcome = match refresh::step(row, namespace, at) {
            Step::Invalid => RefreshUse::Invalid,
            Step::RevokeFamily(family) => {
                let n = tx
                    .execute(
                        "UPDATE authgate_refresh_tokens SET revoked_at = $1 WHERE family = $2 AND revoked_at IS NULL",
                        &[&at, &family],
                    )
                    .await
                    .map_err(err)?;
                RefreshUse::Reused(n as usize)
            }
            Step::Spend(t) => {
                if let Some(next) = successor {
                    tx.execute(
                        "UPDATE authgate_refresh_tokens SET used_at = $1 WHERE digest = $2",
                        &[&at, &t.digest],
                    )
                    .await
                    .map_err(err)?;
                    insert(&tx, &refresh::successor(&t, next), at).await?;
                }
                RefreshUse::Valid(t)
            }
        };
        tx.commit().await.map_err(err)?;
        Ok(outcome)
    }

    pub(crate) async fn refresh_revoke(
        &self,
        digest: &str,
        namespace: &str,
    ) -> Result<bool, StoreError> {
        let c = self.client().await?;
        c.execute(
            "UPDATE authgate_refresh_tokens SET revoked_at = $1 WHERE digest = $2 AND namespace = $3 AND revoked_at IS NULL AND used_at IS NULL AND expires_at > $1",
            &[&now(), &digest, &namespace],
        )
        .await
        .map(|n| n == 1)
        .map_err(err)
    }

    pub(crate) async fn refresh_revoke_all(
        &self,
        subject: &str,
        namespace: &str,
    ) -> Result<usize, StoreError> {
        let c = self.client().await?;
        c.execute(
            "UPDATE authgate_refresh_tokens SET revoked_at = $1 WHERE subject = $2 AND namespace = $3 AND revoked_at IS NULL AND used_at IS NULL AND expires_at > $1",
            &[&now(), &subject, &namespace],
        )
        .await
        .map(|n| n as usize)
        .map_err(err)
    }
}
