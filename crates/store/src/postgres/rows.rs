//! Key rows in PostgreSQL: the column list, reading a row into a
//! [`StoredKey`], and the writes that append to the change feed in the
//! same transaction.

use super::{err, CHANNEL};
use crate::key_limits::LimitColumns;
use crate::model::{now, Cascade, NewKey, StoredKey};
use crate::WriteError;
use authgate_core::credential::CredentialKind;
use authgate_core::store::StoreError;
use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

/// The columns of `authgate_keys`, in the order [`row`] reads them.
pub(super) const COLUMNS: &str =
    "id, digest, kind, subject, workspace, scopes, allow, usage, expires_at, \
    disabled, scheme, public_key, metadata, rotated_from, created_at, updated_at, revoked_at, \
    last_used_at, actor_kind, actor_id, parent_id, rl_rate, rl_per_ms, rl_burst, \
    quota_remaining, quota_refill_amount, quota_refill_interval, quota_refilled_at";

pub(super) fn row(r: &Row) -> Result<StoredKey, StoreError> {
    let corrupt = |what: &str| StoreError::corrupt(format!("bad {what} in authgate_keys"));
    let digest: Vec<u8> = r.try_get(1).map_err(err)?;
    let kind: String = r.try_get(2).map_err(err)?;
    let (rate_limit, quota) = LimitColumns {
        rate: r.try_get(21).map_err(err)?,
        per_ms: r.try_get(22).map_err(err)?,
        burst: r.try_get(23).map_err(err)?,
        remaining: r.try_get(24).map_err(err)?,
        refill_amount: r.try_get(25).map_err(err)?,
        refill_interval: r.try_get(26).map_err(err)?,
        refilled_at: r.try_get(27).map_err(err)?,
    }
    .read()
    .ok_or_else(|| corrupt("rate limit or quota"))?;
    Ok(StoredKey {
        id: r.try_get(0).map_err(err)?,
        digest: digest.try_into().map_err(|_| corrupt("digest"))?,
        kind: CredentialKind::parse(&kind).ok_or_else(|| corrupt("kind"))?,
        subject: r.try_get(3).map_err(err)?,
        workspace: r.try_get(4).map_err(err)?,
        scopes: r.try_get(5).map_err(err)?,
        allow: r.try_get(6).map_err(err)?,
        usage: r.try_get(7).map_err(err)?,
        expires_at: r.try_get(8).map_err(err)?,
        disabled: r.try_get(9).map_err(err)?,
        scheme: r.try_get(10).map_err(err)?,
        public_key: r.try_get(11).map_err(err)?,
        metadata: r.try_get(12).map_err(err)?,
        rotated_from: r.try_get(13).map_err(err)?,
        created_at: r.try_get(14).map_err(err)?,
        updated_at: r.try_get(15).map_err(err)?,
        revoked_at: r.try_get(16).map_err(err)?,
        last_used_at: r.try_get(17).map_err(err)?,
        actor_kind: r.try_get(18).map_err(err)?,
        actor_id: r.try_get(19).map_err(err)?,
        parent_id: r.try_get(20).map_err(err)?,
        rate_limit,
        quota,
    })
}

pub(super) async fn get<C: GenericClient>(
    c: &C,
    id: &str,
    lock: bool,
) -> Result<Option<StoredKey>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM authgate_keys WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    match c.query_opt(&sql, &[&id]).await.map_err(err)? {
        Some(r) => row(&r).map(Some),
        None => Ok(None),
    }
}

/// The 28 values of [`COLUMNS`] for `k`; `digest`, `kind` and the limit
/// columns are `k`'s, held by the caller (they are not fields of `k` in
/// that form).
pub(super) fn row_values<'a>(
    k: &'a StoredKey,
    digest: &'a &'a [u8],
    kind: &'a &'static str,
    l: &'a LimitColumns,
) -> [&'a (dyn ToSql + Sync); 28] {
    [
        &k.id,
        digest,
        kind,
        &k.subject,
        &k.workspace,
        &k.scopes,
        &k.allow,
        &k.usage,
        &k.expires_at,
        &k.disabled,
        &k.scheme,
        &k.public_key,
        &k.metadata,
        &k.rotated_from,
        &k.created_at,
        &k.updated_at,
        &k.revoked_at,
        &k.last_used_at,
        &k.actor_kind,
        &k.actor_id,
        &k.parent_id,
        &l.rate,
        &l.per_ms,
        &l.burst,
        &l.remaining,
        &l.refill_amount,
        &l.refill_interval,
        &l.refilled_at,
    ]
}

pub(super) async fn insert<C: GenericClient>(
    c: &C,
    k: &StoredKey,
) -> Result<(), tokio_postgres::Error> {
    let (digest, kind) = (k.digest.as_slice(), k.kind.as_str());
    let limits = LimitColumns::of_key(k);
    c.execute(
        &format!(
            "INSERT INTO authgate_keys ({COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, \
             $20, $21, $22, $23, $24, $25, $26, $27, $28)"
        ),
        &row_values(k, &digest, &kind, &limits),
    )
    .await?;
    changed(c, &k.digest).await
}

pub(super) async fn save<C: GenericClient>(
    c: &C,
    k: &StoredKey,
) -> Result<(), tokio_postgres::Error> {
    let l = LimitColumns::of_key(k);
    c.execute(
        "UPDATE authgate_keys SET scopes = $2, allow = $3, expires_at = $4, disabled = $5, \
         metadata = $6, updated_at = $7, revoked_at = $8, rl_rate = $9, rl_per_ms = $10, \
         rl_burst = $11, quota_remaining = $12, quota_refill_amount = $13, \
         quota_refill_interval = $14, quota_refilled_at = $15 WHERE id = $1",
        &[
            &k.id,
            &k.scopes,
            &k.allow,
            &k.expires_at,
            &k.disabled,
            &k.metadata,
            &k.updated_at,
            &k.revoked_at,
            &l.rate,
            &l.per_ms,
            &l.burst,
            &l.remaining,
            &l.refill_amount,
            &l.refill_interval,
            &l.refilled_at,
        ],
    )
    .await?;
    changed(c, &k.digest).await
}

/// End the keys `parent` minted as `how` says, each with a change entry.
pub(super) async fn cascade<C: GenericClient>(
    c: &C,
    parent: &str,
    how: Cascade,
) -> Result<(), tokio_postgres::Error> {
    let (sql, t) = match how {
        Cascade::Revoke(at) => (
            "UPDATE authgate_keys SET revoked_at = $2, updated_at = $2 \
             WHERE parent_id = $1 AND revoked_at IS NULL RETURNING digest",
            at,
        ),
        Cascade::ExpireBy(t) => (
            "UPDATE authgate_keys SET expires_at = $2 WHERE parent_id = $1 AND revoked_at IS NULL \
             AND (expires_at IS NULL OR expires_at > $2) RETURNING digest",
            t,
        ),
    };
    let rows = c.query(sql, &[&parent, &t]).await?;
    for r in rows {
        let d: Vec<u8> = r.try_get(0)?;
        if let Ok(digest) = <[u8; 32]>::try_from(d.as_slice()) {
            changed(c, &digest).await?;
        }
    }
    Ok(())
}

/// The expiry of `key`'s parent when `key` is minted and the parent may
/// mint now (its row locked until commit, so a concurrent revocation waits
/// and then cascades to this key); an error naming why not otherwise.
pub(super) async fn parent_expiry<C: GenericClient>(
    c: &C,
    key: &NewKey,
    at: i64,
) -> Result<Option<i64>, WriteError> {
    let Some(m) = &key.minted else {
        return Ok(None);
    };
    match get(c, &m.parent_id, true).await? {
        Some(p) if p.can_mint(at) => Ok(p.expires_at),
        Some(_) => Err(WriteError::ParentInactive(format!(
            "{} is not an active server key",
            m.parent_id
        ))),
        None => Err(WriteError::ParentInactive(format!(
            "no key {}",
            m.parent_id
        ))),
    }
}

pub(super) async fn changed<C: GenericClient>(
    c: &C,
    digest: &[u8; 32],
) -> Result<(), tokio_postgres::Error> {
    // Writers take turns on the feed until they commit: sequence numbers
    // are handed out in commit order, so a reader that has seen n has seen
    // every change below n (without this, a later number committed first
    // could be read and an earlier one skipped for good).
    c.execute(
        "LOCK TABLE authgate_key_changes IN SHARE ROW EXCLUSIVE MODE",
        &[],
    )
    .await?;
    c.execute(
        "INSERT INTO authgate_key_changes (digest, at) VALUES ($1, $2)",
        &[&digest.as_slice(), &now()],
    )
    .await?;
    c.execute(&format!("NOTIFY {CHANNEL}"), &[])
        .await
        .map(|_| ())
}
