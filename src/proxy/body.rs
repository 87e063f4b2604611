//! Read a whole request body before anything reaches the upstream (stamp
//! routes), bounded in size and time. The body is kept in pingora's retry
//! buffer, which the proxy replays to the upstream unchanged; that buffer
//! holds 64 KiB, which bounds `stamps.max_body`.

use crate::error::Refusal;
use bytes::{Bytes, BytesMut};
use pingora::proxy::Session;
use std::time::Duration;

/// Read the body: 413 past `max` bytes (by `Content-Length` before reading,
/// or as it arrives), 408 when it takes longer than `timeout`, 400 when the
/// client breaks off mid-body.
pub async fn read_all(
    session: &mut Session,
    max: usize,
    timeout: Duration,
) -> Result<Bytes, Refusal> {
    let declared = session
        .req_header()
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(Refusal::PayloadTooLarge);
    }
    session.enable_retry_buffering();
    let mut buf = BytesMut::new();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, session.read_request_body()).await {
            Err(_) => return Err(Refusal::BodyTimeout),
            Ok(Err(_)) => return Err(Refusal::Malformed("body_read")),
            Ok(Ok(None)) => return Ok(buf.freeze()),
            Ok(Ok(Some(chunk))) => {
                if buf.len() + chunk.len() > max {
                    return Err(Refusal::PayloadTooLarge);
                }
                buf.extend_from_slice(&chunk);
            }
        }
    }
}
