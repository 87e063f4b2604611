//! Public keys: decode the stamp's hex, check the point, normalise.
//!
//! ECDSA keys arrive as SEC1, compressed (`02`/`03`‖x, 33 bytes) or
//! uncompressed (`04`‖x‖y, 65 bytes): `@turnkey/api-key-stamper` copies the
//! configured `apiPublicKey` verbatim and its Node/WebCrypto paths accept
//! both forms (and either hex case), while `@turnkey/wallet-stamper` always
//! sends the compressed key it recovered from the wallet's signature. Both
//! normalise to compressed SEC1, so one key has one id. The hybrid form
//! (`06`/`07`) and the identity point are refused.
//!
//! Ed25519 keys are the 32-byte encoding. Refused: encodings that do not
//! decompress, non-canonical encodings (y ≥ p), and small-order ("weak")
//! points, which can verify signatures on almost any message.

use super::envelope::decode_hex;
use super::StampError;
use ed25519_dalek::VerifyingKey as Ed25519Key;
use k256::ecdsa::VerifyingKey as Secp256k1Key;
use p256::ecdsa::VerifyingKey as P256Key;
use std::fmt;

/// A public key in its normal form: the store looks keys up by this.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum NormalisedKey {
    /// Compressed SEC1 (`02`/`03`‖x) of a P-256 or secp256k1 key.
    Sec1Compressed([u8; 33]),
    /// The 32-byte ed25519 key.
    Ed25519([u8; 32]),
}

impl NormalisedKey {
    /// The normalised bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            NormalisedKey::Sec1Compressed(b) => b,
            NormalisedKey::Ed25519(b) => b,
        }
    }

    /// Lower-case hex of [`NormalisedKey::as_bytes`]: the key id.
    pub fn to_hex(&self) -> String {
        hex::encode(self.as_bytes())
    }
}

impl fmt::Debug for NormalisedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NormalisedKey({})", self.to_hex())
    }
}

impl fmt::Display for NormalisedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Decode and check a P-256 key.
pub(super) fn p256(text: &str) -> Result<(P256Key, NormalisedKey), StampError> {
    let bytes = sec1_bytes(text)?;
    let key = P256Key::from_sec1_bytes(&bytes).map_err(|_| StampError::BadPublicKey)?;
    let normal = compressed(key.to_encoded_point(true).as_bytes())?;
    Ok((key, normal))
}

/// Decode and check a secp256k1 key.
pub(super) fn secp256k1(text: &str) -> Result<(Secp256k1Key, NormalisedKey), StampError> {
    let bytes = sec1_bytes(text)?;
    let key = Secp256k1Key::from_sec1_bytes(&bytes).map_err(|_| StampError::BadPublicKey)?;
    let normal = compressed(key.to_encoded_point(true).as_bytes())?;
    Ok((key, normal))
}

/// Decode and check an ed25519 key.
pub(super) fn ed25519(text: &str) -> Result<(Ed25519Key, NormalisedKey), StampError> {
    let bad = StampError::BadPublicKey;
    let bytes = decode_hex(text, 32).ok_or(bad)?;
    let raw: [u8; 32] = bytes.as_slice().try_into().map_err(|_| bad)?;
    let key = Ed25519Key::from_bytes(&raw).map_err(|_| bad)?;
    // from_bytes reduces y mod p; re-encoding catches y >= p.
    if key.is_weak() || key.to_edwards().compress().to_bytes() != raw {
        return Err(bad);
    }
    Ok((key, NormalisedKey::Ed25519(raw)))
}

/// Hex of the compressed or uncompressed SEC1 form (no hybrid, no identity).
fn sec1_bytes(text: &str) -> Result<Vec<u8>, StampError> {
    let bytes = decode_hex(text, 65).ok_or(StampError::BadPublicKey)?;
    match (bytes.len(), bytes.first()) {
        (33, Some(0x02 | 0x03)) | (65, Some(0x04)) => Ok(bytes),
        _ => Err(StampError::BadPublicKey),
    }
}

fn compressed(bytes: &[u8]) -> Result<NormalisedKey, StampError> {
    bytes
        .try_into()
        .map(NormalisedKey::Sec1Compressed)
        .map_err(|_| StampError::BadPublicKey)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::stamp::StampScheme;

    fn decode(scheme: StampScheme, text: &str) -> Result<NormalisedKey, StampError> {
        match scheme {
            StampScheme::P256 => p256(text).map(|k| k.1),
            StampScheme::Secp256k1Eip191 => secp256k1(text).map(|k| k.1),
            StampScheme::Ed25519 => ed25519(text).map(|k| k.1),
        }
    }

    fn p256_key() -> p256::ecdsa::SigningKey {
        p256::ecdsa::SigningKey::from_bytes(&[7u8; 32].into()).unwrap()
    }

    #[test]
    fn ecdsa_keys_normalise_to_compressed_lower_hex() {
        let vk = *p256_key().verifying_key();
        let c = hex::encode(vk.to_encoded_point(true).as_bytes());
        let u = hex::encode(vk.to_encoded_point(false).as_bytes());
        for text in [c.clone(), u.clone(), c.to_uppercase(), u.to_uppercase()] {
            let n = decode(StampScheme::P256, &text).unwrap();
            assert_eq!(n.to_hex(), c, "{text}");
        }
        let k = k256::ecdsa::SigningKey::from_bytes(&[9u8; 32].into()).unwrap();
        let kc = hex::encode(k.verifying_key().to_encoded_point(true).as_bytes());
        let ku = hex::encode(k.verifying_key().to_encoded_point(false).as_bytes());
        let n = decode(StampScheme::Secp256k1Eip191, &ku).unwrap();
        assert_eq!(n.to_hex(), kc);
    }

    #[test]
    fn refused_keys() {
        let vk = *p256_key().verifying_key();
        let c = hex::encode(vk.to_encoded_point(true).as_bytes());
        let u = hex::encode(vk.to_encoded_point(false).as_bytes());
        let ed = ed25519_dalek::SigningKey::from_bytes(&[3u8; 32]).verifying_key();
        let cases: Vec<(StampScheme, String)> = vec![
            (StampScheme::P256, String::new()),
            (StampScheme::P256, format!("0x{c}")),
            (StampScheme::P256, c[..64].to_string()),
            (StampScheme::P256, format!("{c}00")),
            (StampScheme::P256, format!("06{}", &u[2..])),
            (StampScheme::P256, format!("07{}", &u[2..])),
            (StampScheme::P256, format!("04{}", &c[2..])),
            (StampScheme::P256, "00".to_string()),
            (StampScheme::P256, format!("02{}", "ff".repeat(32))), // x >= p
            (StampScheme::P256, hex::encode(ed.to_bytes())),
            (StampScheme::Secp256k1Eip191, format!("05{}", &c[2..])),
            (StampScheme::Ed25519, c.clone()),
            (StampScheme::Ed25519, format!("01{}", "00".repeat(31))), // identity
            (StampScheme::Ed25519, format!("ec{}7f", "ff".repeat(30))), // y = -1: order 2 (weak)
            (StampScheme::Ed25519, "00".repeat(31)),
        ];
        for (scheme, text) in cases {
            assert_eq!(
                decode(scheme, &text).map(|_| ()),
                Err(StampError::BadPublicKey),
                "{scheme:?} {text}"
            );
        }
        let n = decode(StampScheme::Ed25519, &hex::encode(ed.to_bytes())).unwrap();
        assert_eq!(n, NormalisedKey::Ed25519(ed.to_bytes()));
    }

    #[test]
    fn non_canonical_ed25519_encoding_is_refused() {
        // y = p + 1 encodes the same point as y = 1 (the identity, also weak);
        // y = p + 2 encodes y = 2 non-canonically, if 2 is a valid y.
        let p_plus = |k: u8| {
            let mut b = [0xffu8; 32];
            b[0] = 0xed_u8.wrapping_add(k);
            b[31] = 0x7f;
            b
        };
        let mut decompressible = 0;
        for k in 0..18u8 {
            let raw = p_plus(k);
            if Ed25519Key::from_bytes(&raw).is_ok_and(|key| !key.is_weak()) {
                decompressible += 1; // only the canonical-encoding check refuses these
            }
            assert!(
                decode(StampScheme::Ed25519, &hex::encode(raw)).is_err(),
                "y = p + {k} accepted"
            );
        }
        assert!(
            decompressible > 0,
            "the table exercises no non-canonical point"
        );
    }
}
