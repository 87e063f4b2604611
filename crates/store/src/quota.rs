//! Spending a key's usage quota: one conditional `UPDATE` per admitted
//! request, so every instance sharing the database spends from one count
//! and none spends below zero. When the key's refill period has turned
//! since `quota_refilled_at`, the same statement resets the count to the
//! refill amount before taking one. It writes no change-feed entry (a
//! quota's count is not cached anywhere).

use crate::key_limits::{next_refill, period_starts};
use authgate_core::limits_keys::QuotaSpend;
use authgate_core::store::StoreError;

/// Whether the refill is due: `?2`/`$2` is the start of today, `?3`/`$3`
/// of this month (UTC). The casts let PostgreSQL type the parameters.
macro_rules! due {
    ($day:literal, $month:literal) => {
        concat!(
            "(quota_refill_interval IS NOT NULL AND COALESCE(quota_refilled_at, 0) < \
             CASE quota_refill_interval WHEN 'daily' THEN CAST(",
            $day,
            " AS BIGINT) ELSE CAST(",
            $month,
            " AS BIGINT) END)"
        )
    };
}

macro_rules! spend_sql {
    ($id:literal, $day:literal, $month:literal, $now:literal) => {
        concat!(
            "UPDATE authgate_keys SET quota_remaining = CASE WHEN ",
            due!($day, $month),
            " THEN quota_refill_amount ELSE quota_remaining END - 1, \
             quota_refilled_at = CASE WHEN ",
            due!($day, $month),
            " THEN CAST(",
            $now,
            " AS BIGINT) ELSE quota_refilled_at END \
             WHERE id = ",
            $id,
            " AND quota_remaining IS NOT NULL AND CASE WHEN ",
            due!($day, $month),
            " THEN quota_refill_amount ELSE quota_remaining END > 0 \
             RETURNING quota_remaining"
        )
    };
}

/// SQLite: `?1` id, `?2` start of today, `?3` of this month, `?4` now.
const SPEND_SQLITE: &str = spend_sql!("?1", "?2", "?3", "?4");
/// PostgreSQL: the same with `$n`.
const SPEND_POSTGRES: &str = spend_sql!("$1", "$2", "$3", "$4");

/// Why nothing was spent: the key has no quota, or it is exhausted.
const STATE_SQLITE: &str =
    "SELECT quota_remaining, quota_refill_interval FROM authgate_keys WHERE id = ?1";
const STATE_POSTGRES: &str =
    "SELECT quota_remaining, quota_refill_interval FROM authgate_keys WHERE id = $1";

fn not_spent(state: Option<(Option<i64>, Option<String>)>, at: i64) -> QuotaSpend {
    match state {
        Some((Some(_), interval)) => QuotaSpend::Exhausted(next_refill(interval.as_deref(), at)),
        // Gone, or no quota (any more): nothing to spend. A key that is
        // gone is refused by its record, not here.
        _ => QuotaSpend::Unlimited,
    }
}

/// Spend one use of `id`'s quota at `at` on a SQLite connection.
pub(crate) fn spend_sqlite(
    c: &rusqlite::Connection,
    id: &str,
    at: i64,
) -> Result<QuotaSpend, StoreError> {
    use rusqlite::OptionalExtension;
    let (day, month) = period_starts(at);
    let err = crate::sqlite::err;
    let left: Option<i64> = c
        .query_row(SPEND_SQLITE, rusqlite::params![id, day, month, at], |r| {
            r.get(0)
        })
        .optional()
        .map_err(err)?;
    if let Some(left) = left {
        return Ok(QuotaSpend::Spent(left));
    }
    let state = c
        .query_row(STATE_SQLITE, [id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(err)?;
    Ok(not_spent(state, at))
}

/// Spend one use of `id`'s quota at `at` on a PostgreSQL connection.
pub(crate) async fn spend_postgres(
    c: &deadpool_postgres::Object,
    id: &str,
    at: i64,
) -> Result<QuotaSpend, StoreError> {
    let err = crate::postgres::err;
    let (day, month) = period_starts(at);
    let stmt = c.prepare_cached(SPEND_POSTGRES).await.map_err(err)?;
    if let Some(r) = c
        .query_opt(&stmt, &[&id, &day, &month, &at])
        .await
        .map_err(err)?
    {
        return Ok(QuotaSpend::Spent(r.try_get(0).map_err(err)?));
    }
    let state = match c.query_opt(STATE_POSTGRES, &[&id]).await.map_err(err)? {
        Some(r) => Some((r.try_get(0).map_err(err)?, r.try_get(1).map_err(err)?)),
        None => None,
    };
    Ok(not_spent(state, at))
}
