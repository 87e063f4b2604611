//! `Content-Digest` judged while a body streams to the upstream (a
//! message-signed request whose body is larger than `[stamps] max_body`,
//! or of no declared length: HTTP/1.1 chunked, HTTP/2 without
//! `content-length`).
//! The signature was verified before forwarding and covers the digest; the
//! body is hashed piece by piece and each piece is passed on one step late,
//! so the last piece reaches the upstream only after the digest matched: a
//! mismatch leaves the upstream with an incomplete request (its connection
//! is dropped), never a complete one.

use crate::error::Refusal;
use authgate_core::verify::httpsig::digest::StreamingDigest;
use bytes::{Bytes, BytesMut};

/// The check of one request's body.
#[derive(Debug)]
pub struct DigestStream {
    check: Option<StreamingDigest>,
    held: Option<Bytes>,
}

impl DigestStream {
    /// For a request with this `Content-Digest` field (already parsed once
    /// by the verifier); `None` when it does not parse.
    pub fn new(field: &str) -> Option<Self> {
        StreamingDigest::new(field).ok().map(|check| Self {
            check: Some(check),
            held: None,
        })
    }

    /// Hash `body` and pass on the piece held from the previous call
    /// (holding this one); at `end`, judge the digest and pass on all that
    /// is left, or refuse.
    pub fn filter(&mut self, body: &mut Option<Bytes>, end: bool) -> Result<(), Refusal> {
        let current = body.take();
        let Some(check) = self.check.as_mut() else {
            return Err(Refusal::InvalidSignature("digest_mismatch"));
        };
        if let Some(piece) = &current {
            check.update(piece);
        }
        if !end {
            // Never `None` here: pingora reads a `None` body as its end. An
            // empty piece is written as nothing.
            *body = Some(std::mem::replace(&mut self.held, current).unwrap_or_default());
            return Ok(());
        }
        let judged = self.check.take().map(StreamingDigest::finish);
        if !matches!(judged, Some(Ok(()))) {
            self.held = None;
            return Err(Refusal::InvalidSignature("digest_mismatch"));
        }
        *body = match (self.held.take(), current) {
            (Some(a), Some(b)) => {
                let mut joined = BytesMut::with_capacity(a.len() + b.len());
                joined.extend_from_slice(&a);
                joined.extend_from_slice(&b);
                Some(joined.freeze())
            }
            (a, b) => a.or(b),
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use sha2::Digest;

    fn field(body: &[u8]) -> String {
        let d = sha2::Sha256::digest(body);
        format!(
            "sha-256=:{}:",
            base64::engine::general_purpose::STANDARD.encode(d)
        )
    }

    /// Feed `pieces`, collecting what would reach the upstream.
    fn run(field: &str, pieces: &[&[u8]]) -> (Vec<u8>, Result<(), Refusal>) {
        let mut s = DigestStream::new(field).unwrap();
        let mut out = Vec::new();
        for (i, p) in pieces.iter().enumerate() {
            let mut body = Some(Bytes::copy_from_slice(p));
            let r = s.filter(&mut body, i + 1 == pieces.len());
            if let Some(b) = body {
                out.extend_from_slice(&b);
            }
            if r.is_err() {
                return (out, r);
            }
        }
        (out, Ok(()))
    }

    #[test]
    fn a_matching_body_passes_whole_and_in_order() {
        let (out, r) = run(&field(b"hello world!"), &[b"hello", b" ", b"world", b"!"]);
        assert!(r.is_ok());
        assert_eq!(out, b"hello world!");
    }

    #[test]
    fn a_mismatch_holds_back_the_last_piece() {
        let (out, r) = run(&field(b"hello world!"), &[b"hello", b" ", b"mars!"]);
        assert!(matches!(
            r,
            Err(Refusal::InvalidSignature("digest_mismatch"))
        ));
        assert_eq!(out, b"hello", "the upstream never gets the whole body");
    }

    #[test]
    fn an_end_without_data_still_judges() {
        let mut s = DigestStream::new(&field(b"ab")).unwrap();
        let mut b = Some(Bytes::from_static(b"ab"));
        s.filter(&mut b, false).unwrap();
        assert_eq!(
            b.as_deref(),
            Some(&b""[..]),
            "held: an empty piece, not the end"
        );
        let mut end = None;
        s.filter(&mut end, true).unwrap();
        assert_eq!(end.as_deref(), Some(&b"ab"[..]));
    }
}
