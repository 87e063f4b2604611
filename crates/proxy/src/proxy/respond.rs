//! Write authgate's own responses (refusals, 404s) without closing the
//! connection: `respond_error` always sends `Connection: close`, which makes
//! a flood of bad credentials 3–6× more expensive. A refused request's small
//! body is drained first, so a refused POST keeps its connection too.

use super::forward::RequestId;
use crate::error::ErrorResponse;
use pingora::proxy::Session;
use pingora_http::ResponseHeader;
use std::time::Duration;

/// Largest unread request body drained before a refusal.
const DRAIN_MAX: usize = 64 * 1024;
/// Longest a drain may take.
const DRAIN_WITHIN: Duration = Duration::from_millis(500);

/// Read and drop a small body of declared length; whether all of it came.
async fn drain(session: &mut Session) -> bool {
    let declared = session
        .req_header()
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_none_or(|n| n > DRAIN_MAX) {
        return false;
    }
    let read = async {
        let mut total = 0usize;
        loop {
            match session.read_request_body().await {
                Ok(Some(chunk)) => {
                    total += chunk.len();
                    if total > DRAIN_MAX {
                        return false;
                    }
                }
                Ok(None) => return true,
                Err(_) => return false,
            }
        }
    };
    matches!(tokio::time::timeout(DRAIN_WITHIN, read).await, Ok(true))
}

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
    // An unread request body would desync a reused connection. A small
    // declared body (up to DRAIN_MAX, what a refused JSON POST carries) is
    // read and dropped within DRAIN_WITHIN so the connection stays alive;
    // anything larger, chunked or slow closes it: refusing must stay cheap.
    if !session.is_body_empty() && !session.is_body_done() && !drain(session).await {
        session.set_keepalive(None);
    }
    session.write_response_header(Box::new(h), false).await?;
    session
        .write_response_body(Some(resp.body.clone()), true)
        .await?;
    Ok(())
}
