//! The RFC 9421 §3.3 algorithms. A key is registered with its algorithm;
//! a message's `alg` parameter may only repeat it (§3.3.7), never choose
//! it. Asymmetric checks use aws-lc-rs (RSA-PSS, RSA PKCS#1 v1.5, ECDSA
//! with fixed-size `r ‖ s`) and ed25519-dalek (strict ed25519); HMAC keys
//! are compared in constant time.

use super::HttpSigError;
use aws_lc_rs::signature::{self, ParsedPublicKey, VerificationAlgorithm};
use base64::Engine as _;
use hmac::{Hmac, Mac};

/// A registered algorithm (its RFC 9421 name in [`Algorithm::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// `ed25519`
    Ed25519,
    /// `ecdsa-p256-sha256`
    EcdsaP256Sha256,
    /// `ecdsa-p384-sha384`
    EcdsaP384Sha384,
    /// `rsa-pss-sha512`
    RsaPssSha512,
    /// `rsa-v1_5-sha256`
    RsaV15Sha256,
    /// `hmac-sha256`
    HmacSha256,
}

impl Algorithm {
    /// Every algorithm.
    pub const ALL: [Algorithm; 6] = [
        Algorithm::Ed25519,
        Algorithm::EcdsaP256Sha256,
        Algorithm::EcdsaP384Sha384,
        Algorithm::RsaPssSha512,
        Algorithm::RsaV15Sha256,
        Algorithm::HmacSha256,
    ];

    /// The RFC 9421 name.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Ed25519 => "ed25519",
            Algorithm::EcdsaP256Sha256 => "ecdsa-p256-sha256",
            Algorithm::EcdsaP384Sha384 => "ecdsa-p384-sha384",
            Algorithm::RsaPssSha512 => "rsa-pss-sha512",
            Algorithm::RsaV15Sha256 => "rsa-v1_5-sha256",
            Algorithm::HmacSha256 => "hmac-sha256",
        }
    }

    /// Parse an RFC 9421 name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// aws-lc-rs's verification algorithm for `alg`: the ECDSA and RSA ones
/// (ed25519-dalek checks ed25519 strictly; HMAC is not a public key).
fn verification_algorithm(alg: Algorithm) -> Option<&'static dyn VerificationAlgorithm> {
    match alg {
        Algorithm::EcdsaP256Sha256 => Some(&signature::ECDSA_P256_SHA256_FIXED),
        Algorithm::EcdsaP384Sha384 => Some(&signature::ECDSA_P384_SHA384_FIXED),
        Algorithm::RsaPssSha512 => Some(&signature::RSA_PSS_2048_8192_SHA512),
        Algorithm::RsaV15Sha256 => Some(&signature::RSA_PKCS1_2048_8192_SHA256),
        Algorithm::Ed25519 | Algorithm::HmacSha256 => None,
    }
}

/// A verification key with its registered algorithm.
#[derive(Clone)]
pub struct VerifyKey {
    alg: Algorithm,
    material: Material,
}

#[derive(Clone)]
enum Material {
    Ed25519(ed25519_dalek::VerifyingKey),
    /// SPKI (or PKCS#1 RSAPublicKey) DER, parsed once.
    Parsed(ParsedPublicKey),
    Hmac(Vec<u8>),
}

impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the HMAC secret.
        f.debug_struct("VerifyKey").field("alg", &self.alg).finish()
    }
}

fn pem_der(pem: &str) -> Result<Vec<u8>, String> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("-----") && !l.is_empty())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| format!("not PEM: {e}"))
}

impl VerifyKey {
    /// A public key in PEM (SPKI `PUBLIC KEY`, or `RSA PUBLIC KEY` for RSA)
    /// for `alg`, parsed (and so checked) here, not per request.
    pub fn from_pem(alg: Algorithm, pem: &str) -> Result<Self, String> {
        let material = match alg {
            Algorithm::HmacSha256 => return Err("hmac-sha256 keys are secrets, not PEM".into()),
            Algorithm::Ed25519 => {
                use ed25519_dalek::pkcs8::DecodePublicKey;
                Material::Ed25519(
                    ed25519_dalek::VerifyingKey::from_public_key_pem(pem.trim())
                        .map_err(|e| format!("not an ed25519 public key: {e}"))?,
                )
            }
            other => {
                let verifier = verification_algorithm(other)
                    .ok_or_else(|| format!("{} keys are not PEM", other.name()))?;
                Material::Parsed(
                    ParsedPublicKey::new(verifier, pem_der(pem)?)
                        .map_err(|e| format!("not a {} public key: {e}", other.name()))?,
                )
            }
        };
        Ok(Self { alg, material })
    }

    /// An HMAC-SHA256 shared secret (at least 32 bytes).
    pub fn hmac(secret: Vec<u8>) -> Result<Self, String> {
        if secret.len() < 32 {
            return Err("an hmac-sha256 secret must be at least 32 bytes".into());
        }
        Ok(Self {
            alg: Algorithm::HmacSha256,
            material: Material::Hmac(secret),
        })
    }

    /// The registered algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// Verify `sig` over `base`; `claimed` is the message's `alg`, which
    /// must name this key's algorithm when present.
    pub fn verify(
        &self,
        claimed: Option<&str>,
        base: &[u8],
        sig: &[u8],
    ) -> Result<(), HttpSigError> {
        if claimed.is_some_and(|c| c != self.alg.name()) {
            return Err(HttpSigError::AlgorithmMismatch);
        }
        let ok = match &self.material {
            Material::Ed25519(k) => ed25519_dalek::Signature::from_slice(sig)
                .map(|s| k.verify_strict(base, &s).is_ok())
                .unwrap_or(false),
            Material::Hmac(secret) => {
                let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret) else {
                    return Err(HttpSigError::BadSignature);
                };
                mac.update(base);
                mac.verify_slice(sig).is_ok()
            }
            Material::Parsed(key) => key.verify_sig(base, sig).is_ok(),
        };
        if ok {
            Ok(())
        } else {
            Err(HttpSigError::BadSignature)
        }
    }
}
