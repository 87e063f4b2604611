//! Checks 1–7 of one stamp under the `[stamps]` settings, in order: body
//! size, envelope and key/signature decoding ([`parse_bytes`]), the scheme
//! allow-list, the signature over the exact body ([`verify`]), then
//! freshness ([`check_freshness`]). What the stamp proves is possession of
//! the key; whether that key is registered, and replay (check 8, last so
//! only stamps that passed everything are remembered), belong to the one
//! orchestrator, `Authenticator::authenticate_stamp`.

use super::freshness::check_freshness;
use super::{parse_bytes, verify, Stamp, StampError};
use crate::settings::StampsSection;

/// Run checks 1–7 on `header` (the raw `X-Stamp` value) over `body` at
/// `now_ms` (Unix milliseconds); `require_timestamp` is the route's.
pub fn check(
    st: &StampsSection,
    header: &[u8],
    body: &[u8],
    now_ms: u64,
    require_timestamp: bool,
) -> Result<Stamp, StampError> {
    if body.len() > st.max_body {
        return Err(StampError::BodyTooLarge);
    }
    let stamp = parse_bytes(header)?;
    if !st.schemes.contains(&stamp.scheme()) {
        return Err(StampError::SchemeNotAllowed);
    }
    verify(&stamp, body)?;
    check_freshness(
        body,
        &st.timestamp_field,
        now_ms,
        st.window,
        st.leeway,
        require_timestamp,
    )?;
    Ok(stamp)
}
