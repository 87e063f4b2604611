//! Read a whole request body before anything reaches the upstream (stamp
//! routes), bounded in size and time.
//!
//! Hand-off to the upstream: pingora 0.9 starts sending the request body of a
//! request whose body was already read by replaying its retry buffer through
//! `request_body_filter`, and that buffer keeps at most 64 KiB
//! ([`REPLAY_LIMIT`]). So the reader turns retry buffering on only for the
//! last ≤ 64 KiB of a `Content-Length` body: the buffer then holds the tail,
//! which makes pingora call `request_body_filter` once, where the proxy swaps
//! in the whole verified body kept in the request context. A body without a
//! declared length (chunked, or HTTP/2 without `content-length`) is buffered
//! from the start and therefore limited to 64 KiB; past that it gets 411
//! Length Required, asking the client to declare the length. (A message
//! signature over a body of no declared length is not read here: it
//! streams, see [`super::digest_stream`].)

use crate::error::Refusal;
use bytes::{Bytes, BytesMut};
use pingora::proxy::Session;
use std::time::Duration;

/// The most pingora's retry buffer holds (`BODY_BUF_LIMIT` in pingora-core).
pub const REPLAY_LIMIT: usize = 64 * 1024;

/// Read the body: 413 past `max` bytes (by `Content-Length` before reading,
/// or as it arrives), 411 for an undeclared length past [`REPLAY_LIMIT`],
/// 408 when it takes longer than `timeout`, 400 when the client breaks off
/// mid-body or sends more or less than it declared.
pub async fn read_all(
    session: &mut Session,
    max: usize,
    timeout: Duration,
) -> Result<Bytes, Refusal> {
    let declared = declared_length(session);
    if declared.is_some_and(|n| n > max as u64) {
        return Err(Refusal::PayloadTooLarge);
    }
    if session.is_body_empty() {
        return Ok(Bytes::new());
    }
    // Without a declared length only the buffer's size can be replayed.
    let limit = match declared {
        Some(_) => max,
        None => max.min(REPLAY_LIMIT),
    };
    let mut buf = BytesMut::with_capacity(declared.map_or(0, |n| n as usize));
    // Bytes read since retry buffering was turned on (what the buffer holds).
    let mut buffered: Option<usize> = None;
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let remaining = declared.map_or(0, |n| n.saturating_sub(buf.len() as u64));
        if buffered.is_none() && (declared.is_none() || remaining <= REPLAY_LIMIT as u64) {
            session.enable_retry_buffering();
            buffered = Some(0);
        }
        match tokio::time::timeout_at(deadline, session.read_request_body()).await {
            Err(_) => return Err(Refusal::BodyTimeout),
            Ok(Err(_)) => return Err(Refusal::Malformed("body_read")),
            Ok(Ok(None)) => break,
            Ok(Ok(Some(chunk))) => {
                if buf.len() + chunk.len() > limit {
                    return Err(if declared.is_none() && limit < max {
                        Refusal::LengthRequired
                    } else {
                        Refusal::PayloadTooLarge
                    });
                }
                buf.extend_from_slice(&chunk);
                if let Some(n) = buffered.as_mut() {
                    *n += chunk.len();
                }
            }
        }
    }
    // The hand-off needs a non-empty, untruncated retry buffer; should a
    // read ever deliver more than the buffer at once, refuse rather than
    // let the upstream wait for a body that never comes.
    // (Counted here rather than asked of pingora, whose getter copies the
    // buffer.)
    if !buffered.is_some_and(|n| n > 0 && n <= REPLAY_LIMIT) {
        return Err(Refusal::Malformed("body_read"));
    }
    Ok(buf.freeze())
}

/// The request's `Content-Length`, unless the body is chunked.
fn declared_length(session: &Session) -> Option<u64> {
    declared_length_of(&session.req_header().headers)
}

/// The `Content-Length` of a request with these headers, unless it is
/// chunked.
pub(crate) fn declared_length_of(headers: &http::HeaderMap) -> Option<u64> {
    if headers.contains_key(http::header::TRANSFER_ENCODING) {
        return None;
    }
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}
