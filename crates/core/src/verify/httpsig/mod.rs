//! RFC 9421 HTTP Message Signatures and RFC 9530 `Content-Digest`, the
//! verification core: parse `Signature-Input` / `Signature` (RFC 8941
//! structured fields, with the `sfv` crate), rebuild the signature base of
//! a request exactly as RFC 9421 §2 specifies ([`base`]), and check the
//! signature with the algorithm of the key's registration, never the one
//! the message claims ([`alg`]). Wiring into the proxy (key registration,
//! route policy, replay) builds on these pieces.

pub mod alg;
pub mod base;
pub mod digest;
pub mod input;

pub use alg::{Algorithm, VerifyKey};
pub use base::{signature_base, RequestParts};
pub use input::{parse, Component, SignatureInput};

/// Why a message signature was refused; every variant is the client's
/// fault (401 with the reason above), none a server fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpSigError {
    /// `Signature-Input` or `Signature` is not a valid structured field, or
    /// a label is in one and not the other.
    #[error("malformed signature fields: {0}")]
    Malformed(String),
    /// A covered component is not in the message (or not derivable).
    #[error("covered component missing from the message: {0}")]
    MissingComponent(String),
    /// A component or parameter this verifier does not support.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The `alg` parameter differs from the key's registered algorithm.
    #[error("algorithm mismatch")]
    AlgorithmMismatch,
    /// The signature does not verify over the rebuilt base.
    #[error("bad signature")]
    BadSignature,
    /// `Content-Digest` does not match the body.
    #[error("content digest mismatch")]
    DigestMismatch,
}

impl HttpSigError {
    /// A short, stable label for refusals and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            HttpSigError::Malformed(_) => "signature_malformed",
            HttpSigError::MissingComponent(_) => "signature_missing_component",
            HttpSigError::Unsupported(_) => "signature_unsupported",
            HttpSigError::AlgorithmMismatch => "algorithm_mismatch",
            HttpSigError::BadSignature => "bad_signature",
            HttpSigError::DigestMismatch => "digest_mismatch",
        }
    }
}
