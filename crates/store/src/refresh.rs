//! Refresh tokens of the wallet-token sign-in: opaque tokens held by digest
//! (SHA-256 of the token, hex), grouped in families (one per sign-in). A
//! token is spent when it is exchanged; presenting a spent token again is
//! the signature of a stolen token (OAuth 2.1 §4.3.1, RFC 6819 §5.2.2.3),
//! so the whole family is revoked.

/// One refresh token, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    /// SHA-256 of the token, lowercase hex (the primary key).
    pub digest: String,
    /// The family: every token descending from one sign-in.
    pub family: String,
    /// The wallet address (checksummed) it was issued to.
    pub subject: String,
    /// The namespace it is for.
    pub namespace: String,
    /// Unix seconds after which it is void.
    pub expires_at: i64,
}

/// What exchanging a refresh token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshUse {
    /// Active: it is now spent (when a successor was given, which now
    /// stands in its place) or still active (no successor: no rotation).
    Valid(RefreshToken),
    /// Already spent: its whole family was revoked (this many tokens,
    /// spent ones included).
    Reused(usize),
    /// Unknown, expired or revoked.
    Invalid,
}

/// Columns in the order [`RefreshToken`] is read.
pub(crate) const COLUMNS: &str = "digest, family, subject, namespace, expires_at";

/// A stored token as an exchange reads it: the token, when it was spent,
/// when it was revoked.
pub(crate) type Row = (RefreshToken, Option<i64>, Option<i64>);

/// What an exchange does with the row it read at `at` (the same in both
/// backends; each runs it inside its transaction).
pub(crate) enum Step {
    /// Answer [`RefreshUse::Invalid`]: unknown, revoked or expired.
    Invalid,
    /// Spent already: revoke this family, answer [`RefreshUse::Reused`].
    RevokeFamily(String),
    /// Active: spend it (when there is a successor) and answer valid.
    Spend(RefreshToken),
}

/// Decide the [`Step`] for `row`, exchanged for `namespace` at `at`.
pub(crate) fn step(row: Option<Row>, namespace: &str, at: i64) -> Step {
    match row {
        None | Some((_, _, Some(_))) => Step::Invalid,
        Some((t, _, None)) if t.expires_at <= at => Step::Invalid,
        Some((t, Some(_), None)) => Step::RevokeFamily(t.family),
        Some((t, None, None)) if t.namespace != namespace => Step::Invalid,
        Some((t, None, None)) => Step::Spend(t),
    }
}

/// `next` as stored in the place of `spent`: its family, subject and
/// namespace.
pub(crate) fn successor(spent: &RefreshToken, next: &RefreshToken) -> RefreshToken {
    RefreshToken {
        family: spent.family.clone(),
        subject: spent.subject.clone(),
        namespace: spent.namespace.clone(),
        ..next.clone()
    }
}
