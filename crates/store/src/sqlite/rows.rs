//! Key rows in SQLite: the column list, reading a row into a
//! [`StoredKey`], and the writes that append to the change feed in the
//! same transaction.

use super::write_err;
use crate::key_limits::LimitColumns;
use crate::model::{now, Cascade, NewKey, StoredKey};
use crate::WriteError;
use authgate_core::credential::CredentialKind;
use rusqlite::{params, Connection, OptionalExtension, Row};

/// The columns of `authgate_keys`, in the order [`row`] reads them.
pub(super) const COLUMNS: &str =
    "id, digest, kind, subject, workspace, scopes, allow, usage, expires_at, \
    disabled, scheme, public_key, metadata, rotated_from, created_at, updated_at, revoked_at, \
    last_used_at, actor_kind, actor_id, parent_id, rl_rate, rl_per_ms, rl_burst, \
    quota_remaining, quota_refill_amount, quota_refill_interval, quota_refilled_at";

pub(super) fn json_list(text: String) -> rusqlite::Result<Vec<String>> {
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

pub(super) fn row(r: &Row<'_>) -> rusqlite::Result<StoredKey> {
    let digest: Vec<u8> = r.get(1)?;
    let bad = |what: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Blob,
            format!("bad {what}").into(),
        )
    };
    let kind: String = r.get(2)?;
    let metadata: String = r.get(12)?;
    let (rate_limit, quota) = LimitColumns {
        rate: r.get(21)?,
        per_ms: r.get(22)?,
        burst: r.get(23)?,
        remaining: r.get(24)?,
        refill_amount: r.get(25)?,
        refill_interval: r.get(26)?,
        refilled_at: r.get(27)?,
    }
    .read()
    .ok_or_else(|| bad("rate limit or quota"))?;
    Ok(StoredKey {
        id: r.get(0)?,
        digest: digest.try_into().map_err(|_| bad("digest"))?,
        kind: CredentialKind::parse(&kind).ok_or_else(|| bad("kind"))?,
        subject: r.get(3)?,
        workspace: r.get(4)?,
        scopes: json_list(r.get(5)?)?,
        allow: json_list(r.get(6)?)?,
        usage: r.get(7)?,
        expires_at: r.get(8)?,
        disabled: r.get(9)?,
        scheme: r.get(10)?,
        public_key: r.get(11)?,
        metadata: serde_json::from_str(&metadata).map_err(|_| bad("metadata"))?,
        rotated_from: r.get(13)?,
        created_at: r.get(14)?,
        updated_at: r.get(15)?,
        revoked_at: r.get(16)?,
        last_used_at: r.get(17)?,
        actor_kind: r.get(18)?,
        actor_id: r.get(19)?,
        parent_id: r.get(20)?,
        rate_limit,
        quota,
    })
}

pub(super) fn get(c: &Connection, id: &str) -> rusqlite::Result<Option<StoredKey>> {
    c.query_row(
        &format!("SELECT {COLUMNS} FROM authgate_keys WHERE id = ?1"),
        [id],
        row,
    )
    .optional()
}

/// Insert `k` (one prepared statement, cached per connection).
pub(super) fn insert_row(c: &Connection, k: &StoredKey) -> rusqlite::Result<()> {
    let mut stmt = c.prepare_cached(&format!(
        "INSERT INTO authgate_keys ({COLUMNS}) VALUES \
         (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, \
         ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28)"
    ))?;
    let l = LimitColumns::of_key(k);
    stmt.execute(params![
        k.id,
        k.digest.as_slice(),
        k.kind.as_str(),
        k.subject,
        k.workspace,
        serde_json::to_string(&k.scopes).unwrap_or_else(|_| "[]".into()),
        serde_json::to_string(&k.allow).unwrap_or_else(|_| "[]".into()),
        k.usage,
        k.expires_at,
        k.disabled,
        k.scheme,
        k.public_key,
        k.metadata.to_string(),
        k.rotated_from,
        k.created_at,
        k.updated_at,
        k.revoked_at,
        k.last_used_at,
        k.actor_kind,
        k.actor_id,
        k.parent_id,
        l.rate,
        l.per_ms,
        l.burst,
        l.remaining,
        l.refill_amount,
        l.refill_interval,
        l.refilled_at,
    ])
    .map(|_| ())
}

/// Insert `k` and record the change.
pub(super) fn insert(c: &Connection, k: &StoredKey) -> rusqlite::Result<()> {
    insert_row(c, k)?;
    changed(c, &k.digest)
}

/// Rewrite the mutable fields of `k`.
pub(super) fn save(c: &Connection, k: &StoredKey) -> rusqlite::Result<()> {
    let l = LimitColumns::of_key(k);
    c.execute(
        "UPDATE authgate_keys SET scopes = ?2, allow = ?3, expires_at = ?4, disabled = ?5, \
         metadata = ?6, updated_at = ?7, revoked_at = ?8, rl_rate = ?9, rl_per_ms = ?10, \
         rl_burst = ?11, quota_remaining = ?12, quota_refill_amount = ?13, \
         quota_refill_interval = ?14, quota_refilled_at = ?15 WHERE id = ?1",
        params![
            k.id,
            serde_json::to_string(&k.scopes).unwrap_or_else(|_| "[]".into()),
            serde_json::to_string(&k.allow).unwrap_or_else(|_| "[]".into()),
            k.expires_at,
            k.disabled,
            k.metadata.to_string(),
            k.updated_at,
            k.revoked_at,
            l.rate,
            l.per_ms,
            l.burst,
            l.remaining,
            l.refill_amount,
            l.refill_interval,
            l.refilled_at,
        ],
    )?;
    changed(c, &k.digest)
}

/// End the keys `parent` minted as `how` says, each with a change entry.
pub(super) fn cascade(c: &Connection, parent: &str, how: Cascade) -> rusqlite::Result<()> {
    let (filter, set, t) = match how {
        Cascade::Revoke(at) => ("revoked_at IS NULL", "revoked_at = ?2, updated_at = ?2", at),
        Cascade::ExpireBy(t) => (
            "revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?2)",
            "expires_at = ?2",
            t,
        ),
    };
    let both: [&dyn rusqlite::ToSql; 2] = [&parent, &t];
    let digests: Vec<Vec<u8>> = c
        .prepare(&format!(
            "SELECT digest FROM authgate_keys WHERE parent_id = ?1 AND {filter}"
        ))?
        .query_map(&both[..if filter.contains("?2") { 2 } else { 1 }], |r| {
            r.get(0)
        })?
        .collect::<Result<_, _>>()?;
    if digests.is_empty() {
        return Ok(());
    }
    c.execute(
        &format!("UPDATE authgate_keys SET {set} WHERE parent_id = ?1 AND {filter}"),
        params![parent, t],
    )?;
    for d in digests {
        c.execute(
            "INSERT INTO authgate_key_changes (digest, at) VALUES (?1, ?2)",
            params![d, now()],
        )?;
    }
    Ok(())
}

/// The expiry of `key`'s parent when `key` is minted and the parent may
/// mint now; an error naming why not otherwise.
pub(super) fn parent_expiry(
    c: &Connection,
    key: &NewKey,
    at: i64,
) -> Result<Option<i64>, WriteError> {
    let Some(m) = &key.minted else {
        return Ok(None);
    };
    match get(c, &m.parent_id).map_err(write_err)? {
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

pub(super) fn changed(c: &Connection, digest: &[u8; 32]) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO authgate_key_changes (digest, at) VALUES (?1, ?2)",
        params![digest.as_slice(), now()],
    )
    .map(|_| ())
}
