//! Refresh tokens in SQLite (see [`crate::refresh`]): each exchange is one
//! transaction on the store's single connection, so two exchanges of the
//! same token cannot both find it active.

use super::{err, SqliteStore};
use crate::model::now;
use crate::refresh::{self, RefreshToken, RefreshUse, Step, COLUMNS};
use authgate_core::store::StoreError;
use rusqlite::{params, Connection, OptionalExtension};

fn insert(c: &Connection, t: &RefreshToken, at: i64) -> rusqlite::Result<usize> {
    c.execute(
        "INSERT INTO authgate_refresh_tokens (digest, family, subject, namespace, expires_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![t.digest, t.family, t.subject, t.namespace, t.expires_at, at],
    )
}

impl SqliteStore {
    pub(crate) async fn refresh_put(&self, t: &RefreshToken) -> Result<(), StoreError> {
        let t = t.clone();
        self.run(move |c| {
            let at = now();
            let tx = c.transaction().map_err(err)?;
            tx.execute(
                "DELETE FROM authgate_refresh_tokens WHERE expires_at <= ?1",
                [at],
            )
            .map_err(err)?;
            insert(&tx, &t, at).map_err(err)?;
            tx.commit().map_err(err)
        })
        .await
    }

    pub(crate) async fn refresh_use(
        &self,
        digest: &str,
        namespace: &str,
        successor: Option<&RefreshToken>,
    ) -> Result<RefreshUse, StoreError> {
        let (digest, namespace, successor) = (
            digest.to_string(),
            namespace.to_string(),
            successor.cloned(),
        );
        self.run(move |c| {
            let at = now();
            let tx = c.transaction().map_err(err)?;
            let row = tx
                .query_row(
                    &format!("SELECT {COLUMNS}, used_at, revoked_at FROM authgate_refresh_tokens WHERE digest = ?1"),
                    [&digest],
                    |r| {
                        Ok((
                            RefreshToken {
                                digest: r.get(0)?,
                                family: r.get(1)?,
                                subject: r.get(2)?,
                                namespace: r.get(3)?,
                                expires_at: r.get(4)?,
                            },
                            r.get::<_, Option<i64>>(5)?,
                            r.get::<_, Option<i64>>(6)?,
                        ))
                    },
                )
                .optional()
                .map_err(err)?;
            let outcome = match refresh::step(row, &namespace, at) {
                Step::Invalid => RefreshUse::Invalid,
                Step::RevokeFamily(family) => RefreshUse::Reused(
                    tx.execute(
                        "UPDATE authgate_refresh_tokens SET revoked_at = ?1 WHERE family = ?2 AND revoked_at IS NULL",
                        params![at, family],
                    )
                    .map_err(err)?,
                ),
                Step::Spend(t) => {
                    if let Some(next) = &successor {
                        tx.execute(
                            "UPDATE authgate_refresh_tokens SET used_at = ?1 WHERE digest = ?2",
                            params![at, t.digest],
                        )
                        .map_err(err)?;
                        insert(&tx, &refresh::successor(&t, next), at).map_err(err)?;
                    }
                    RefreshUse::Valid(t)
                }
            };
            tx.commit().map_err(err)?;
            Ok(outcome)
        })
        .await
    }

    pub(crate) async fn refresh_revoke(
        &self,
        digest: &str,
        namespace: &str,
    ) -> Result<bool, StoreError> {
        let (digest, namespace) = (digest.to_string(), namespace.to_string());
        self.run(move |c| {
            c.execute(
                "UPDATE authgate_refresh_tokens SET revoked_at = ?1 WHERE digest = ?2 AND namespace = ?3 AND revoked_at IS NULL AND used_at IS NULL AND expires_at > ?1",
                params![now(), digest, namespace],
            )
            .map(|n| n == 1)
            .map_err(err)
        })
        .await
    }

    pub(crate) async fn refresh_revoke_all(
        &self,
        subject: &str,
        namespace: &str,
    ) -> Result<usize, StoreError> {
        let (subject, namespace) = (subject.to_string(), namespace.to_string());
        self.run(move |c| {
            c.execute(
                "UPDATE authgate_refresh_tokens SET revoked_at = ?1 WHERE subject = ?2 AND namespace = ?3 AND revoked_at IS NULL AND used_at IS NULL AND expires_at > ?1",
                params![now(), subject, namespace],
            )
            .map_err(err)
        })
        .await
    }
}
