//! The three signature checks, and the message each one covers.
//!
//! | scheme | message the signature covers |
//! |---|---|
//! | P-256 | SHA-256(body), i.e. ECDSA-P256-SHA256 over the body |
//! | secp256k1 (EIP-191) | keccak256(`"\x19Ethereum Signed Message:\n"` ‖ decimal byte length of body ‖ body) |
//! | ed25519 | the body itself (RFC 8032, strict) |
//!
//! The body is the exact request body bytes; for EIP-191 the length is in
//! bytes (viem's `hashMessage` of a string hashes its UTF-8 encoding).

use super::StampError;
use ed25519_dalek::{Signature as Ed25519Signature, VerifyingKey as Ed25519Key};
use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::ecdsa::{Signature as Secp256k1Signature, VerifyingKey as Secp256k1Key};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature as P256Signature, VerifyingKey as P256Key};
use sha3::{Digest, Keccak256};

/// The EIP-191 (version `0x45`, `personal_sign`) prefix.
const EIP191_PREFIX: &[u8] = b"\x19Ethereum Signed Message:\n";

/// ECDSA-P256-SHA256 over `body`. Verifies the low-S form, so acceptance
/// does not depend on the crate's own high-S policy (the two forms are
/// equivalent for ECDSA).
pub(crate) fn verify_p256(
    key: &P256Key,
    sig: &P256Signature,
    body: &[u8],
) -> Result<(), StampError> {
    let low = sig.normalize_s().unwrap_or(*sig);
    key.verify(body, &low).map_err(|_| StampError::BadSignature)
}

/// secp256k1 ECDSA over the EIP-191 digest of `body`.
pub(super) fn verify_secp256k1_eip191(
    key: &Secp256k1Key,
    sig: &Secp256k1Signature,
    body: &[u8],
) -> Result<(), StampError> {
    key.verify_prehash(&eip191_digest(body), sig)
        .map_err(|_| StampError::BadSignature)
}

/// Strict ed25519 over `body`: canonical `S`, no small-order `R` or key.
pub(crate) fn verify_ed25519(
    key: &Ed25519Key,
    sig: &Ed25519Signature,
    body: &[u8],
) -> Result<(), StampError> {
    key.verify_strict(body, sig)
        .map_err(|_| StampError::BadSignature)
}

/// keccak256("\x19Ethereum Signed Message:\n" ‖ len(body) ‖ body).
pub fn eip191_digest(body: &[u8]) -> [u8; 32] {
    let mut h = Keccak256::new();
    h.update(EIP191_PREFIX);
    h.update(body.len().to_string().as_bytes());
    h.update(body);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eip191_digest_matches_known_values() {
        // viem: hashMessage("hello world")
        assert_eq!(
            hex::encode(eip191_digest(b"hello world")),
            "d9eba16ed0ecae432b71fe008c98cc872bb4cc214d3220a36f365326cf807d68"
        );
        // viem: hashMessage("") — the length is "0", not empty
        assert_eq!(
            hex::encode(eip191_digest(b"")),
            "5f35dce98ba4fba25530a026ed80b2cecdaa31091ba4958b99b52ea1d068adad"
        );
    }

    #[test]
    fn eip191_counts_bytes_not_characters() {
        let body = "é".as_bytes(); // 2 bytes, 1 character
        let mut h = Keccak256::new();
        h.update(b"\x19Ethereum Signed Message:\n2");
        h.update(body);
        let want: [u8; 32] = h.finalize().into();
        assert_eq!(eip191_digest(body), want);
    }
}
