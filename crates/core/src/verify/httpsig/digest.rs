//! `Content-Digest` (RFC 9530): a dictionary of algorithm → byte sequence;
//! `sha-256` and `sha-512` are checked against the body, and at least one
//! of them must be present (others are ignored, never trusted alone).

use super::HttpSigError;
use sha2::{Digest, Sha256, Sha512};

/// Check the `Content-Digest` field value `field` against `body`.
pub fn verify(field: &str, body: &[u8]) -> Result<(), HttpSigError> {
    let mut check = StreamingDigest::new(field)?;
    check.update(body);
    check.finish()
}

/// A `Content-Digest` checked as the body goes by (a body too large to
/// buffer is hashed while it streams to the upstream, and judged at its
/// end): the expected `sha-256` / `sha-512` values and running hashes.
#[derive(Clone)]
pub struct StreamingDigest {
    sha256: Option<(Sha256, Vec<u8>)>,
    sha512: Option<(Sha512, Vec<u8>)>,
}

impl std::fmt::Debug for StreamingDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamingDigest")
            .field("sha256", &self.sha256.is_some())
            .field("sha512", &self.sha512.is_some())
            .finish()
    }
}

impl StreamingDigest {
    /// Parse the field: at least one of `sha-256`, `sha-512` (others are
    /// ignored, never trusted alone).
    pub fn new(field: &str) -> Result<Self, HttpSigError> {
        let dict: sfv::Dictionary = sfv::Parser::new(field)
            .parse()
            .map_err(|e| HttpSigError::Malformed(format!("content-digest: {e}")))?;
        let mut out = Self {
            sha256: None,
            sha512: None,
        };
        for (alg, entry) in &dict {
            let sfv::ListEntry::Item(item) = entry else {
                return Err(HttpSigError::Malformed(
                    "content-digest: not a byte sequence".into(),
                ));
            };
            let Some(want) = item.bare_item.as_byte_sequence() else {
                return Err(HttpSigError::Malformed(
                    "content-digest: not a byte sequence".into(),
                ));
            };
            match alg.as_str() {
                "sha-256" => out.sha256 = Some((Sha256::new(), want.to_vec())),
                "sha-512" => out.sha512 = Some((Sha512::new(), want.to_vec())),
                _ => {}
            }
        }
        if out.sha256.is_none() && out.sha512.is_none() {
            return Err(HttpSigError::Unsupported(
                "content-digest: no sha-256 or sha-512".into(),
            ));
        }
        Ok(out)
    }

    /// Hash the next piece of the body.
    pub fn update(&mut self, chunk: &[u8]) {
        if let Some((h, _)) = &mut self.sha256 {
            h.update(chunk);
        }
        if let Some((h, _)) = &mut self.sha512 {
            h.update(chunk);
        }
    }

    /// Judge the whole body: every listed digest must match.
    pub fn finish(self) -> Result<(), HttpSigError> {
        let same = |got: &[u8], want: &[u8]| bool::from(subtle::ConstantTimeEq::ct_eq(got, want));
        if let Some((h, want)) = self.sha256 {
            if !same(&h.finalize(), &want) {
                return Err(HttpSigError::DigestMismatch);
            }
        }
        if let Some((h, want)) = self.sha512 {
            if !same(&h.finalize(), &want) {
                return Err(HttpSigError::DigestMismatch);
            }
        }
        Ok(())
    }
}
