//! Signatures: decode the stamp's hex for each scheme and apply the scheme's
//! rule on `s`.
//!
//! - P-256: DER (see [`super::der`]); **high-S accepted**. The Node runtime of
//!   `@turnkey/api-key-stamper` (OpenSSL) and its WebCrypto runtime do not
//!   normalise `s`, so half of the real client's stamps are high-S, and
//!   Turnkey's own `verifyStampSignature` (`@turnkey/crypto`, noble `p256`
//!   with `lowS: false`) accepts them. Malleability is handled where it
//!   matters, in the replay guard, which digests the low-S form.
//! - secp256k1 (EIP-191): DER; **high-S refused** ([`StampError::HighS`]).
//!   Ethereum requires low-S since EIP-2, every wallet's `personal_sign`
//!   emits it (viem/noble, ethers, MetaMask), and `k256` verification
//!   refuses high-S anyway.
//! - ed25519: exactly 64 bytes; canonical `S` is enforced at verification
//!   (`verify_strict`).
//!
//! Hex may be of either case (no client emits upper case for signatures,
//! but hex is case-insensitive and the replay guard does not see the text).

use super::der::{self, MAX_DER_BYTES};
use super::envelope::decode_hex;
use super::StampError;
use ed25519_dalek::Signature as Ed25519Signature;
use k256::ecdsa::Signature as Secp256k1Signature;
use p256::ecdsa::Signature as P256Signature;

/// Decode a P-256 DER signature (either half of the group order for `s`).
pub(super) fn p256(text: &str) -> Result<P256Signature, StampError> {
    let (r, s) = der_scalars(text)?;
    P256Signature::from_scalars(r, s).map_err(|_| StampError::BadSignatureEncoding)
}

/// Decode a secp256k1 DER signature; high-S is refused.
pub(super) fn secp256k1(text: &str) -> Result<Secp256k1Signature, StampError> {
    let (r, s) = der_scalars(text)?;
    let sig =
        Secp256k1Signature::from_scalars(r, s).map_err(|_| StampError::BadSignatureEncoding)?;
    if sig.normalize_s().is_some() {
        return Err(StampError::HighS);
    }
    Ok(sig)
}

/// Decode a 64-byte ed25519 signature.
pub(super) fn ed25519(text: &str) -> Result<Ed25519Signature, StampError> {
    let bytes = decode_hex(text, 64).ok_or(StampError::BadSignatureEncoding)?;
    let raw: [u8; 64] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| StampError::BadSignatureEncoding)?;
    Ok(Ed25519Signature::from_bytes(&raw))
}

fn der_scalars(text: &str) -> Result<([u8; 32], [u8; 32]), StampError> {
    let bytes = decode_hex(text, MAX_DER_BYTES).ok_or(StampError::BadSignatureEncoding)?;
    der::decode(&bytes)
}

/// `r ‖ s` with `s` in the lower half: the one spelling of a P-256 signature
/// and its malleated twin.
pub(super) fn p256_normal_bytes(sig: &P256Signature) -> [u8; 64] {
    let low = sig.normalize_s().unwrap_or(*sig);
    to_64(&low.to_bytes())
}

/// `r ‖ s` of a secp256k1 signature (already low-S by [`secp256k1`]).
pub(super) fn secp256k1_normal_bytes(sig: &Secp256k1Signature) -> [u8; 64] {
    let low = sig.normalize_s().unwrap_or(*sig);
    to_64(&low.to_bytes())
}

fn to_64(bytes: &[u8]) -> [u8; 64] {
    let mut out = [0u8; 64];
    if bytes.len() == 64 {
        out.copy_from_slice(bytes);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const N_P256: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
    const N_K1: &str = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";

    /// Minimal DER of two 32-byte big-endian scalars.
    fn der(r: &[u8; 32], s: &[u8; 32]) -> String {
        let int = |x: &[u8; 32]| {
            let start = x.iter().position(|&b| b != 0).unwrap_or(31);
            let mut c = x[start..].to_vec();
            if c[0] & 0x80 != 0 {
                c.insert(0, 0);
            }
            let mut v = vec![2, c.len() as u8];
            v.extend(c);
            v
        };
        let body = [int(r), int(s)].concat();
        let mut v = vec![0x30, body.len() as u8];
        v.extend(body);
        hex::encode(v)
    }

    fn scalar(hex_text: &str) -> [u8; 32] {
        hex::decode(hex_text).unwrap().try_into().unwrap()
    }

    /// n - 1 is the highest scalar: always high-S.
    fn n_minus_1(n: &str) -> [u8; 32] {
        let mut x = scalar(n);
        x[31] -= 1;
        x
    }

    #[test]
    fn s_policy_per_curve() {
        let one = {
            let mut x = [0u8; 32];
            x[31] = 1;
            x
        };
        // P-256: high-S decodes, and normalises to n - (n-1) = 1.
        let sig = p256(&der(&one, &n_minus_1(N_P256))).unwrap();
        assert_eq!(&p256_normal_bytes(&sig)[32..], &one);
        // secp256k1: high-S is refused, low-S decodes.
        assert_eq!(
            secp256k1(&der(&one, &n_minus_1(N_K1))).map(|_| ()),
            Err(StampError::HighS)
        );
        assert!(secp256k1(&der(&one, &one)).is_ok());
    }

    #[test]
    fn range_and_shape_table() {
        let one = {
            let mut x = [0u8; 32];
            x[31] = 1;
            x
        };
        let zero = [0u8; 32];
        let cases: Vec<(&str, String)> = vec![
            ("r = 0", der(&zero, &one)),
            ("s = 0", der(&one, &zero)),
            ("r = n", der(&scalar(N_P256), &one)),
            ("s = n", der(&one, &scalar(N_P256))),
            ("s = 2^256 - 1", der(&one, &[0xff; 32])),
            ("empty", String::new()),
            ("odd hex", "300".into()),
            ("0x prefix", format!("0x{}", der(&one, &one))),
            ("raw r||s", hex::encode([1u8; 64])),
            ("too long", "30".repeat(MAX_DER_BYTES + 1)),
        ];
        for (name, text) in cases {
            assert_eq!(
                p256(&text).map(|_| ()),
                Err(StampError::BadSignatureEncoding),
                "{name}"
            );
        }
        // P-256's n is below k1's, so it is an in-range (and high) k1 scalar.
        assert_eq!(
            secp256k1(&der(&one, &scalar(N_P256))).map(|_| ()),
            Err(StampError::HighS)
        );
        assert_eq!(
            secp256k1(&der(&scalar(N_K1), &one)).map(|_| ()),
            Err(StampError::BadSignatureEncoding)
        );
    }

    #[test]
    fn ed25519_lengths_and_case() {
        let sig = [0x5au8; 64];
        assert!(ed25519(&hex::encode(sig)).is_ok());
        assert!(ed25519(&hex::encode_upper(sig)).is_ok());
        for len in [0usize, 32, 63, 65, 72] {
            assert_eq!(
                ed25519(&hex::encode(vec![1u8; len])).map(|_| ()),
                Err(StampError::BadSignatureEncoding),
                "{len} bytes"
            );
        }
    }
}
