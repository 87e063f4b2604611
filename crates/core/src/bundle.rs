//! Turnkey credential bundles: a secret (a new session's P-256 private key)
//! sealed to a client's P-256 public key so that only the client can open
//! it, in the format the public `@turnkey/crypto` package's
//! `decryptCredentialBundle` reads.
//!
//! The sealing is HPKE base mode (RFC 9180) with DHKEM(P-256, HKDF-SHA256),
//! HKDF-SHA256 and AES-256-GCM and the `info` `turnkey_hpke`, with
//! Turnkey's framing, which an off-the-shelf HPKE library does not produce:
//!
//! - the AEAD's associated data is the encapsulated key followed by the
//!   receiver's key, both uncompressed (65 bytes each);
//! - the bundle is Base58Check (double SHA-256 checksum) of the
//!   *compressed* encapsulated key (33 bytes) followed by the ciphertext
//!   and its tag.
//!
//! [`seal`] makes a bundle with a fresh ephemeral key; [`open`] reads one
//! (for tests and tools). Both check every input and never panic.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{PublicKey, SecretKey};
use sha2::Sha256;

const HPKE_VERSION: &[u8] = b"HPKE-v1";
/// "KEM" ‖ I2OSP(0x0010, 2): DHKEM(P-256, HKDF-SHA256).
const SUITE_KEM: &[u8] = b"KEM\x00\x10";
/// "HPKE" ‖ KEM 0x0010 ‖ KDF 0x0001 (HKDF-SHA256) ‖ AEAD 0x0002 (AES-256-GCM).
const SUITE_HPKE: &[u8] = b"HPKE\x00\x10\x00\x01\x00\x02";

/// Why a bundle could not be made or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// Not Base58Check, too short, or its key is not a point of P-256.
    #[error("malformed bundle: {0}")]
    Malformed(&'static str),
    /// The AEAD refused: wrong receiver key or a changed bundle.
    #[error("the bundle does not open with this key")]
    Open,
    /// A derivation or the AEAD failed while sealing.
    #[error("cannot seal: {0}")]
    Seal(&'static str),
}

fn labeled_ikm(suite: &[u8], label: &[u8], ikm: &[u8]) -> Vec<u8> {
    [HPKE_VERSION, suite, label, ikm].concat()
}

fn labeled_info(suite: &[u8], label: &[u8], info: &[u8], len: u16) -> Vec<u8> {
    [&len.to_be_bytes()[..], HPKE_VERSION, suite, label, info].concat()
}

/// `LabeledExtract(salt, label, ikm)` of RFC 9180 §4.
fn labeled_extract(salt: &[u8], suite: &[u8], label: &[u8], ikm: &[u8]) -> Hkdf<Sha256> {
    Hkdf::<Sha256>::new(Some(salt), &labeled_ikm(suite, label, ikm))
}

fn expand<const N: usize>(prk: &Hkdf<Sha256>, info: &[u8]) -> Result<[u8; N], BundleError> {
    let mut out = [0u8; N];
    prk.expand(info, &mut out)
        .map_err(|_| BundleError::Seal("hkdf length"))?;
    Ok(out)
}

/// DHKEM's `ExtractAndExpand(dh, enc ‖ pkR)`: the KEM shared secret.
fn kem_secret(dh: &[u8], enc: &[u8], pk_r: &[u8]) -> Result<[u8; 32], BundleError> {
    let prk = labeled_extract(&[], SUITE_KEM, b"eae_prk", dh);
    let context = [enc, pk_r].concat();
    expand(
        &prk,
        &labeled_info(SUITE_KEM, b"shared_secret", &context, 32),
    )
}

/// The HPKE `info` Turnkey seals with (found by reading its key-schedule
/// constants: the `info_hash` they hold is of this string).
const INFO: &[u8] = b"turnkey_hpke";

/// The base-mode key schedule (no PSK, `info` [`INFO`]): the AEAD key and
/// nonce.
fn key_schedule(shared: &[u8; 32]) -> Result<([u8; 32], [u8; 12]), BundleError> {
    let hash = |label: &[u8], ikm: &[u8]| -> [u8; 32] {
        let (prk, _) = Hkdf::<Sha256>::extract(Some(&[]), &labeled_ikm(SUITE_HPKE, label, ikm));
        prk.into()
    };
    let context = [
        &[0u8][..],
        &hash(b"psk_id_hash", &[]),
        &hash(b"info_hash", INFO),
    ]
    .concat();
    let secret = labeled_extract(shared, SUITE_HPKE, b"secret", &[]);
    let key = expand(&secret, &labeled_info(SUITE_HPKE, b"key", &context, 32))?;
    let nonce = expand(
        &secret,
        &labeled_info(SUITE_HPKE, b"base_nonce", &context, 12),
    )?;
    Ok((key, nonce))
}

fn uncompressed(key: &PublicKey) -> Vec<u8> {
    key.to_encoded_point(false).as_bytes().to_vec()
}

/// What the AEAD needs: key, nonce, associated data.
struct Sealing {
    key: [u8; 32],
    nonce: [u8; 12],
    aad: Vec<u8>,
}

/// The AEAD inputs for ephemeral `enc` and receiver `pk_r`, given their
/// Diffie-Hellman output `dh`.
fn context(dh: &[u8], enc: &PublicKey, pk_r: &PublicKey) -> Result<Sealing, BundleError> {
    let (enc, pk_r) = (uncompressed(enc), uncompressed(pk_r));
    let shared = kem_secret(dh, &enc, &pk_r)?;
    let (key, nonce) = key_schedule(&shared)?;
    Ok(Sealing {
        key,
        nonce,
        aad: [enc, pk_r].concat(),
    })
}

/// Seal `secret` to `receiver` with a fresh ephemeral key.
pub fn seal(secret: &[u8], receiver: &PublicKey) -> Result<String, BundleError> {
    seal_with(secret, receiver, &SecretKey::random(&mut rand::rngs::OsRng))
}

/// Seal `secret` to `receiver` with the ephemeral key `ephemeral` (tests
/// pin it to compare with a committed bundle; [`seal`] draws a fresh one).
pub fn seal_with(
    secret: &[u8],
    receiver: &PublicKey,
    ephemeral: &SecretKey,
) -> Result<String, BundleError> {
    let enc = ephemeral.public_key();
    let dh = p256::ecdh::diffie_hellman(ephemeral.to_nonzero_scalar(), receiver.as_affine());
    let Sealing { key, nonce, aad } = context(dh.raw_secret_bytes(), &enc, receiver)?;
    let sealed = Aes256Gcm::new(&key.into())
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: secret,
                aad: &aad,
            },
        )
        .map_err(|_| BundleError::Seal("aead"))?;
    let out = [enc.to_encoded_point(true).as_bytes(), &sealed].concat();
    Ok(bs58::encode(out).with_check().into_string())
}

/// Open `bundle` with the receiver's private key.
pub fn open(bundle: &str, receiver: &SecretKey) -> Result<Vec<u8>, BundleError> {
    let bytes = bs58::decode(bundle)
        .with_check(None)
        .into_vec()
        .map_err(|_| BundleError::Malformed("not Base58Check"))?;
    if bytes.len() <= 33 + 16 {
        return Err(BundleError::Malformed("too short"));
    }
    let (enc, sealed) = bytes.split_at(33);
    let enc =
        PublicKey::from_sec1_bytes(enc).map_err(|_| BundleError::Malformed("not a P-256 key"))?;
    let dh = p256::ecdh::diffie_hellman(receiver.to_nonzero_scalar(), enc.as_affine());
    let Sealing { key, nonce, aad } = context(dh.raw_secret_bytes(), &enc, &receiver.public_key())
        .map_err(|_| BundleError::Open)?;
    Aes256Gcm::new(&key.into())
        .decrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: sealed,
                aad: &aad,
            },
        )
        .map_err(|_| BundleError::Open)
}

/// Parse a client's key as the signed retry sends it: an uncompressed SEC1
/// P-256 point, 130 hex digits starting `04`.
pub fn client_key(hex_key: &str) -> Result<PublicKey, &'static str> {
    if hex_key.len() != 130 || !hex_key.starts_with("04") {
        return Err("an uncompressed P-256 key: 130 hex digits starting 04");
    }
    let bytes = hex::decode(hex_key).map_err(|_| "not hex")?;
    PublicKey::from_sec1_bytes(&bytes).map_err(|_| "not a point of P-256")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> SecretKey {
        SecretKey::from_slice(&[n; 32]).unwrap()
    }

    #[test]
    fn seal_then_open_round_trips_and_binds_the_receiver() {
        let receiver = key(7);
        let secret = [42u8; 32];
        let b = seal(&secret, &receiver.public_key()).unwrap();
        assert_eq!(open(&b, &receiver).unwrap(), secret);
        // Another receiver cannot open it; a fresh ephemeral key each time.
        assert_eq!(open(&b, &key(8)), Err(BundleError::Open));
        assert_ne!(seal(&secret, &receiver.public_key()).unwrap(), b);
    }

    #[test]
    fn a_changed_bundle_is_refused_not_a_panic() {
        let receiver = key(7);
        let b = seal(b"secret", &receiver.public_key()).unwrap();
        let mut raw = bs58::decode(&b).with_check(None).into_vec().unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let tampered = bs58::encode(&raw).with_check().into_string();
        assert_eq!(open(&tampered, &receiver), Err(BundleError::Open));
        assert!(matches!(
            open("0OIl", &receiver),
            Err(BundleError::Malformed(_))
        ));
        assert!(matches!(
            open("", &receiver),
            Err(BundleError::Malformed(_))
        ));
        let short = bs58::encode([2u8; 40]).with_check().into_string();
        assert!(matches!(
            open(&short, &receiver),
            Err(BundleError::Malformed(_))
        ));
    }

    #[test]
    fn client_keys_must_be_uncompressed_points() {
        let good = hex::encode(key(3).public_key().to_encoded_point(false).as_bytes());
        assert!(client_key(&good).is_ok());
        let compressed = hex::encode(key(3).public_key().to_encoded_point(true).as_bytes());
        assert!(client_key(&compressed).is_err());
        assert!(
            client_key(&format!("04{}", "00".repeat(64))).is_err(),
            "not on the curve"
        );
        assert!(client_key(&format!("04{}", "zz".repeat(64))).is_err());
    }
}
