//! Fleet-wide replay refusal (`[stamps] shared_replay`): a signed request's
//! one-time value (a stamp's or a message signature's digest) is claimed in
//! `authgate_replay` until the end of its freshness window; a second claim
//! of a live digest is a replay, on whichever instance it lands. Expired
//! claims are taken over (and deleted by the periodic purge).

use crate::model::now;
use authgate_core::store::StoreError;

/// Claim a digest: insert it, or take over an expired claim of it. One row
/// written means the claim is ours.
pub(crate) const CLAIM_SQLITE: &str =
    "INSERT INTO authgate_replay (digest, expires_at) VALUES (?1, ?2) \
     ON CONFLICT(digest) DO UPDATE SET expires_at = excluded.expires_at \
     WHERE authgate_replay.expires_at <= ?3";

/// The same for PostgreSQL.
pub(crate) const CLAIM_POSTGRES: &str =
    "INSERT INTO authgate_replay (digest, expires_at) VALUES ($1, $2) \
     ON CONFLICT (digest) DO UPDATE SET expires_at = excluded.expires_at \
     WHERE authgate_replay.expires_at <= $3";

/// Claim `digest` until `expires_at` on a SQLite connection.
pub(crate) fn claim_sqlite(
    c: &rusqlite::Connection,
    digest: &[u8; 32],
    expires_at: i64,
) -> Result<bool, StoreError> {
    c.execute(
        CLAIM_SQLITE,
        rusqlite::params![hex::encode(digest), expires_at, now()],
    )
    .map(|n| n == 1)
    .map_err(crate::sqlite::err)
}

/// Claim `digest` until `expires_at` on a PostgreSQL connection.
pub(crate) async fn claim_postgres(
    c: &deadpool_postgres::Object,
    digest: &[u8; 32],
    expires_at: i64,
) -> Result<bool, StoreError> {
    let stmt = c
        .prepare_cached(CLAIM_POSTGRES)
        .await
        .map_err(crate::postgres::err)?;
    c.execute(&stmt, &[&hex::encode(digest), &expires_at, &now()])
        .await
        .map(|n| n == 1)
        .map_err(crate::postgres::err)
}
