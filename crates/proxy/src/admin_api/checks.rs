//! Checking what the admin API is sent: ids, slugs, header-safe text,
//! scope lists, metadata, expiry and a key's own limits, each refused with
//! a 400 that names the field.

use super::Reply;
use serde_json::{json, Value};
use std::time::Duration;

/// A 400 `invalid_request` naming what is wrong.
pub(super) fn bad(message: impl Into<String>) -> Reply {
    Reply::error(400, "invalid_request", message)
}

/// Ids and workspace slugs: 1–128 of `A-Z a-z 0-9 . _ -`.
pub(super) fn check_name(field: &str, value: &str) -> Result<(), Reply> {
    let ok = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(bad(format!(
            "{field}: 1-128 characters of A-Z a-z 0-9 . _ -"
        )))
    }
}

/// Header-safe text: 1–256 visible ASCII characters (spaces allowed inside).
pub(super) fn check_text(field: &str, value: &str) -> Result<(), Reply> {
    let ok = !value.is_empty()
        && value.len() <= 256
        && value.bytes().all(|b| (0x20..0x7f).contains(&b))
        && value.trim() == value;
    if ok {
        Ok(())
    } else {
        Err(bad(format!("{field}: 1-256 visible ASCII characters")))
    }
}

/// Scopes and allow-list entries: at most 64, each 1–128 visible ASCII
/// characters without spaces.
pub(super) fn check_list(field: &str, list: &[String]) -> Result<(), Reply> {
    if list.len() > 64 {
        return Err(bad(format!("{field}: at most 64 entries")));
    }
    for (i, s) in list.iter().enumerate() {
        let ok = !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| (0x21..0x7f).contains(&b));
        if !ok {
            return Err(bad(format!(
                "{field}[{i}]: 1-128 visible ASCII characters, no spaces"
            )));
        }
    }
    Ok(())
}

/// Metadata: a JSON object of at most 16 KiB.
pub(super) fn check_metadata(m: &Value) -> Result<(), Reply> {
    if !m.is_object() {
        return Err(bad("metadata: a JSON object"));
    }
    if m.to_string().len() > 16 * 1024 {
        return Err(bad("metadata: at most 16 KiB"));
    }
    Ok(())
}

/// The JSON body as `T`, or a 400 naming the first field that does not fit.
pub(super) fn parse<T: serde::de::DeserializeOwned>(body: Value) -> Result<T, Reply> {
    serde_json::from_value(body).map_err(|e| bad(e.to_string()))
}

/// Largest `expires_at` accepted, exclusive: beyond it the value is
/// milliseconds, not seconds.
pub(super) const MAX_UNIX_SECONDS: i64 = 100_000_000_000;

/// Longest rotation overlap.
pub(super) const MAX_OVERLAP: Duration = Duration::from_secs(30 * 86_400);

/// A fresh random key id.
pub(super) fn new_id() -> String {
    format!("key_{:016x}", rand::random::<u64>())
}

/// The fields every new key shares, checked.
pub(super) struct Common {
    pub(super) subject: String,
    pub(super) workspace: Option<String>,
    pub(super) scopes: Vec<String>,
    pub(super) allow: Vec<String>,
    pub(super) usage: Option<String>,
    pub(super) expires_at: Option<i64>,
    pub(super) metadata: Value,
    pub(super) id: String,
}

/// Check the fields every new key shares; a fresh id when none is given.
#[allow(clippy::too_many_arguments)]
pub(super) fn common(
    subject: String,
    workspace: Option<String>,
    scopes: Vec<String>,
    allow: Vec<String>,
    usage: Option<String>,
    expires_at: Option<i64>,
    metadata: Option<Value>,
    id: Option<String>,
) -> Result<Common, Reply> {
    check_text("subject", &subject)?;
    if let Some(w) = &workspace {
        check_name("workspace", w)?;
    }
    check_list("scopes", &scopes)?;
    check_list("allow", &allow)?;
    if let Some(u) = &usage {
        check_name("usage", u)?;
    }
    // Unix seconds; a value in the past makes a key that is refused from
    // the start. Milliseconds (a common slip) are refused.
    if expires_at.is_some_and(|e| !(0..MAX_UNIX_SECONDS).contains(&e)) {
        return Err(bad(
            "expires_at: Unix seconds (0 to 99999999999), not milliseconds",
        ));
    }
    let metadata = metadata.unwrap_or_else(|| json!({}));
    check_metadata(&metadata)?;
    let id = match id {
        Some(id) => {
            check_name("id", &id)?;
            id
        }
        None => new_id(),
    };
    Ok(Common {
        subject,
        workspace,
        scopes,
        allow,
        usage,
        expires_at,
        metadata,
        id,
    })
}

/// A key's own rate limit and quota, when set, within bounds.
pub(super) fn check_limits(
    rate: Option<&authgate_store::KeyRateLimit>,
    quota: Option<&authgate_store::QuotaSetting>,
) -> Result<(), Reply> {
    match rate
        .and_then(|r| r.problem())
        .or_else(|| quota.and_then(|q| q.problem()))
    {
        Some(problem) => Err(bad(problem)),
        None => Ok(()),
    }
}
