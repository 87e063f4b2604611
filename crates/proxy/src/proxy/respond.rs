//! Write authgate's own responses (refusals, 404s) without closing the
//! connection: `respond_error` always sends `Connection: close`, which makes
//! a flood of bad credentials 3–6× more expensive.

use super::forward::RequestId;
use crate::error::ErrorResponse;
use pingora::proxy::Session;
use pingora_http::ResponseHeader;

/// Send `resp` as a complete JSON response, keeping the connection alive.
pub async fn send(
    session: &mut Session,
    resp: &ErrorResponse,
    request_id: &RequestId,
) -> pingora::Result<()> {
    let mut h = ResponseHeader::build(resp.status, Some(6))?;
    h.insert_header("content-type", "application/json")?;
    h.insert_header("content-length", resp.body.len().to_string())?;
    h.insert_header("cache-control", "no-store")?;
    h.insert_header("x-request-id", request_id.header_value().clone())?;
    for (k, v) in &resp.headers {
        h.insert_header(*k, v.as_str())?;
    }
    // An unread request body would desync a reused connection. Refusing
    // must stay cheap, so rather than read an attacker's upload we close
    // the connection in that case; body-less requests stay keep-alive.
    if !session.is_body_empty() && !session.is_body_done() {
        session.set_keepalive(None);
    }
    session.write_response_header(Box::new(h), false).await?;
    session
        .write_response_body(Some(resp.body.clone()), true)
        .await?;
    Ok(())
}
