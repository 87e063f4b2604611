//! `Content-Digest` (RFC 9530): a dictionary of algorithm → byte sequence;
//! `sha-256` and `sha-512` are checked against the body, and at least one
//! of them must be present (others are ignored, never trusted alone).

use super::HttpSigError;
use sha2::{Digest, Sha256, Sha512};

/// Check the `Content-Digest` field value `field` against `body`.
pub fn verify(field: &str, body: &[u8]) -> Result<(), HttpSigError> {
    let dict: sfv::Dictionary = sfv::Parser::new(field)
        .parse()
        .map_err(|e| HttpSigError::Malformed(format!("content-digest: {e}")))?;
    let mut checked = 0;
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
        let got: Vec<u8> = match alg.as_str() {
            "sha-256" => Sha256::digest(body).to_vec(),
            "sha-512" => Sha512::digest(body).to_vec(),
            _ => continue,
        };
        if !bool::from(subtle::ConstantTimeEq::ct_eq(got.as_slice(), want)) {
            return Err(HttpSigError::DigestMismatch);
        }
        checked += 1;
    }
    if checked == 0 {
        return Err(HttpSigError::Unsupported(
            "content-digest: no sha-256 or sha-512".into(),
        ));
    }
    Ok(())
}
