//! `X-Stamp`: a signature over the exact request body by a registered key
//! (`docs/contracts.md` §4).
//!
//! The header is `base64url(JSON.stringify({publicKey, scheme, signature}))`
//! as produced by `@turnkey/api-key-stamper` (P-256) and
//! `@turnkey/wallet-stamper` (secp256k1 via EIP-191, ed25519). Checks run in
//! a fixed order and the first failure decides the [`StampError`]:
//!
//! 1. size (≤ [`MAX_STAMP_HEADER_BYTES`]) and unpadded base64url (URL-safe
//!    alphabet, no `=`, no whitespace, zero trailing bits: what the clients'
//!    `btoa` + replace produces, and nothing else);
//! 2. a JSON object with exactly the string members `publicKey`, `scheme`,
//!    `signature`;
//! 3. the scheme label (exact, case-sensitive);
//! 4. the public key: hex (either case), on the curve, normalised to
//!    compressed SEC1 for ECDSA, canonical and not small-order for ed25519
//!    (a key that passed is kept by its text, `key_cache`, and not
//!    checked again);
//! 5. the signature encoding: DER for ECDSA (canonical, or the fixed-width
//!    form `@turnkey/crypto` emits for wallet signatures), 64 bytes for
//!    ed25519; `0 < r, s < n`; high-S refused for secp256k1 only;
//! 6. the signature over the body ([`verify`]);
//! 7. freshness of the body's timestamp ([`freshness`]);
//! 8. replay ([`replay`]).
//!
//! [`parse`] does 1–5, [`verify`] does 6, [`check`] runs 1–7 under the
//! `[stamps]` settings (with their scheme allow-list and body limit); the
//! one orchestrator, `Authenticator::authenticate_stamp`, adds the key
//! lookup and then 8. Nothing here panics on any input.

mod check;
mod crypto;
mod der;
mod envelope;
mod error;
pub mod freshness;
mod key;
mod key_cache;
pub mod replay;
mod signature;

pub use check::check;
pub use crypto::eip191_digest;
pub(crate) use crypto::{verify_ed25519, verify_p256};
pub use error::StampError;
pub use freshness::{check_freshness, DEFAULT_TIMESTAMP_FIELD};
pub use key::NormalisedKey;
pub use replay::ReplayGuard;

use sha2::{Digest, Sha256};

/// Largest `X-Stamp` value accepted, in bytes. Real stamps are under 500.
pub const MAX_STAMP_HEADER_BYTES: usize = 4096;

/// The three stamp schemes of `docs/contracts.md` §4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StampScheme {
    /// `SIGNATURE_SCHEME_TK_API_P256`: ECDSA P-256 over SHA-256(body).
    P256,
    /// `SIGNATURE_SCHEME_TK_API_SECP256K1_EIP191`: ECDSA secp256k1 over the
    /// EIP-191 `personal_sign` digest of the body.
    Secp256k1Eip191,
    /// `SIGNATURE_SCHEME_TK_API_ED25519`: ed25519 over the body.
    Ed25519,
}

impl StampScheme {
    /// Every scheme.
    pub const ALL: [StampScheme; 3] = [
        StampScheme::P256,
        StampScheme::Secp256k1Eip191,
        StampScheme::Ed25519,
    ];

    /// The wire label.
    pub fn label(&self) -> &'static str {
        match self {
            StampScheme::P256 => "SIGNATURE_SCHEME_TK_API_P256",
            StampScheme::Secp256k1Eip191 => "SIGNATURE_SCHEME_TK_API_SECP256K1_EIP191",
            StampScheme::Ed25519 => "SIGNATURE_SCHEME_TK_API_ED25519",
        }
    }

    /// The scheme with this exact wire label.
    pub fn from_label(label: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.label() == label)
    }
}

impl<'de> serde::Deserialize<'de> for StampScheme {
    /// By wire label, e.g. `"SIGNATURE_SCHEME_TK_API_P256"`.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let label = String::deserialize(d)?;
        StampScheme::from_label(&label).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown stamp scheme '{label}' (one of {})",
                StampScheme::ALL.map(|s| s.label()).join(", ")
            ))
        })
    }
}

/// Normalise a registered public key (hex) for `scheme`: compressed SEC1
/// for the ECDSA curves, 32 bytes for ed25519. Used when loading config.
pub fn normalise_key(scheme: StampScheme, text: &str) -> Result<NormalisedKey, StampError> {
    match scheme {
        StampScheme::P256 => key::p256(text).map(|k| k.1),
        StampScheme::Secp256k1Eip191 => key::secp256k1(text).map(|k| k.1),
        StampScheme::Ed25519 => key::ed25519(text).map(|k| k.1),
    }
}

/// The store digest of a registered stamp key: SHA-256 of `label:hex`, so a
/// key is bound to its scheme.
pub fn key_digest(scheme: StampScheme, key: &NormalisedKey) -> [u8; 32] {
    crate::credential::digest::sha256(format!("{}:{}", scheme.label(), key.to_hex()).as_bytes())
}

/// The scheme for a short or wire name (`p256`, `secp256k1`, `ed25519`, or the label).
pub fn scheme_from_name(name: &str) -> Option<StampScheme> {
    match name {
        "p256" => Some(StampScheme::P256),
        "secp256k1" => Some(StampScheme::Secp256k1Eip191),
        "ed25519" => Some(StampScheme::Ed25519),
        other => StampScheme::from_label(other),
    }
}

/// Key and signature, typed per scheme so they cannot be mixed up.
#[derive(Debug, Clone)]
enum Material {
    P256 {
        key: p256::ecdsa::VerifyingKey,
        sig: p256::ecdsa::Signature,
    },
    Secp256k1 {
        key: k256::ecdsa::VerifyingKey,
        sig: k256::ecdsa::Signature,
    },
    Ed25519 {
        key: ed25519_dalek::VerifyingKey,
        sig: ed25519_dalek::Signature,
    },
}

/// A parsed stamp: well-formed, key on its curve, signature well-encoded.
/// Not yet verified against a body: see [`verify`].
#[derive(Debug, Clone)]
pub struct Stamp {
    material: Material,
    key: NormalisedKey,
}

impl Stamp {
    /// The scheme.
    pub fn scheme(&self) -> StampScheme {
        match self.material {
            Material::P256 { .. } => StampScheme::P256,
            Material::Secp256k1 { .. } => StampScheme::Secp256k1Eip191,
            Material::Ed25519 { .. } => StampScheme::Ed25519,
        }
    }

    /// The public key, normalised (compressed SEC1 or 32-byte ed25519).
    pub fn public_key(&self) -> &NormalisedKey {
        &self.key
    }

    /// Lower-case hex of the normalised key: the id to look the key up by.
    pub fn key_id(&self) -> String {
        self.key.to_hex()
    }

    /// The signature in its one normal form: `r ‖ s` with low `s` for ECDSA
    /// (so a malleated twin has the same bytes), `R ‖ S` for ed25519.
    pub fn signature_bytes(&self) -> [u8; 64] {
        match &self.material {
            Material::P256 { sig, .. } => signature::p256_normal_bytes(sig),
            Material::Secp256k1 { sig, .. } => signature::secp256k1_normal_bytes(sig),
            Material::Ed25519 { sig, .. } => sig.to_bytes(),
        }
    }

    /// What the replay guard remembers: SHA-256 over the scheme label, a
    /// zero byte and [`Stamp::signature_bytes`]. Usable as a key in a shared
    /// store when several instances must agree on replays.
    pub fn replay_digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.scheme().label().as_bytes());
        h.update([0u8]);
        h.update(self.signature_bytes());
        h.finalize().into()
    }
}

/// Parse an `X-Stamp` header value (steps 1–5 of the module docs).
pub fn parse(header_value: &str) -> Result<Stamp, StampError> {
    parse_bytes(header_value.as_bytes())
}

/// [`parse`] for a raw header value, which need not be UTF-8.
pub fn parse_bytes(header_value: &[u8]) -> Result<Stamp, StampError> {
    let json = envelope::decode_base64url(header_value)?;
    let wire = envelope::parse_json(&json)?;
    let scheme = StampScheme::from_label(&wire.scheme).ok_or(StampError::UnknownScheme)?;
    let (material, key) = match scheme {
        StampScheme::P256 => {
            let (key, normal) = key_cache::p256(&wire.public_key)?;
            let sig = signature::p256(&wire.signature)?;
            (Material::P256 { key, sig }, normal)
        }
        StampScheme::Secp256k1Eip191 => {
            let (key, normal) = key_cache::secp256k1(&wire.public_key)?;
            let sig = signature::secp256k1(&wire.signature)?;
            (Material::Secp256k1 { key, sig }, normal)
        }
        StampScheme::Ed25519 => {
            let (key, normal) = key_cache::ed25519(&wire.public_key)?;
            let sig = signature::ed25519(&wire.signature)?;
            (Material::Ed25519 { key, sig }, normal)
        }
    };
    Ok(Stamp { material, key })
}

/// A registered key's verifying half.
#[derive(Debug, Clone)]
pub enum PublicKey {
    /// P-256.
    P256(p256::ecdsa::VerifyingKey),
    /// secp256k1.
    Secp256k1(k256::ecdsa::VerifyingKey),
    /// ed25519.
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// Decode and check the hex public key `text` of `scheme` (step 4, through
/// the parsed-key cache): the key and its normal form, whose
/// [`key_digest`] finds its registration.
pub fn public_key(
    scheme: StampScheme,
    text: &str,
) -> Result<(PublicKey, NormalisedKey), StampError> {
    Ok(match scheme {
        StampScheme::P256 => {
            let (k, n) = key_cache::p256(text)?;
            (PublicKey::P256(k), n)
        }
        StampScheme::Secp256k1Eip191 => {
            let (k, n) = key_cache::secp256k1(text)?;
            (PublicKey::Secp256k1(k), n)
        }
        StampScheme::Ed25519 => {
            let (k, n) = key_cache::ed25519(text)?;
            (PublicKey::Ed25519(k), n)
        }
    })
}

/// Decode a DER ECDSA signature as stamps carry it (`SEQUENCE { INTEGER r,
/// INTEGER s }`, canonical or the fixed-width variant described in the
/// `der` module) into big-endian, 32-byte `r` and `s`. Only the encoding is
/// checked here; `0 < r, s < n` is the curve's check, in [`parse`]. Public so
/// the fuzz targets can reach the decoder on its own.
pub fn decode_der_signature(der: &[u8]) -> Result<([u8; 32], [u8; 32]), StampError> {
    der::decode(der)
}

/// Verify the stamp's signature over the exact body bytes (step 6).
pub fn verify(stamp: &Stamp, body: &[u8]) -> Result<(), StampError> {
    match &stamp.material {
        Material::P256 { key, sig } => crypto::verify_p256(key, sig, body),
        Material::Secp256k1 { key, sig } => crypto::verify_secp256k1_eip191(key, sig, body),
        Material::Ed25519 { key, sig } => crypto::verify_ed25519(key, sig, body),
    }
}

#[cfg(test)]
mod tests;
