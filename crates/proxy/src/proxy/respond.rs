//! Write authgate's own responses (refusals, 404s) without closing the
//! connection: `respond_error` always sends `Connection: close`, which makes
//! a flood of bad credentials 3–6× more expensive. A refused request's small
//! body is drained first, so a refused POST keeps its connection too. A
//! larger unread body closes the connection, but only after a bounded
//! "lingering close" (as nginx does): closing a socket with unread data sends
//! a TCP reset, which can destroy the refusal before the client reads it.

use super::forward::RequestId;
use crate::error::ErrorResponse;
use pingora::proxy::Session;
use pingora_http::ResponseHeader;
use std::time::Duration;

/// Largest unread request body drained before a refusal.
const DRAIN_MAX: usize = 64 * 1024;
/// Longest a drain may take.
const DRAIN_WITHIN: Duration = Duration::from_millis(500);

/// Longest the lingering close keeps reading a refused body.
const LINGER_WITHIN: Duration = Duration::from_secs(2);
/// Most a lingering close reads (and drops) before giving up.
const LINGER_MAX: usize = 16 * 1024 * 1024;

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
    let unread = !session.is_body_empty() && !session.is_body_done();
    let close = unread && !drain(session).await;
    if close {
        session.set_keepalive(None);
    }
    session.write_response_header(Box::new(h), false).await?;
    session
        .write_response_body(Some(resp.body.clone()), true)
        .await?;
    if close && !session.is_body_done() {
        linger(session).await;
    }
    Ok(())
}

/// After a refusal that gives up the connection, keep reading (and dropping)
/// what the client is still sending, up to LINGER_MAX bytes within
/// LINGER_WITHIN, so the close does not reset the refusal away. The
/// connection is not reused whatever this reads.
async fn linger(session: &mut Session) {
    let read = async {
        let mut total = 0usize;
        while total <= LINGER_MAX {
            match session.read_request_body().await {
                Ok(Some(chunk)) => total += chunk.len(),
                Ok(None) | Err(_) => break,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER_WITHIN, read).await;
}
