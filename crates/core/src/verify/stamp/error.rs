//! Why a stamp was refused: one kind per stage of the check order, each with
//! a short, stable label for logs and metrics.

/// Why an `X-Stamp` was refused.
///
/// Stages run in a fixed order (see the module docs of
/// [`crate::verify::stamp`]); the first failing stage decides the variant.
/// The labels from [`StampError::reason`] never contain key or signature
/// material, so they are safe to log and to use as metric labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum StampError {
    /// The header exceeds [`crate::verify::stamp::MAX_STAMP_HEADER_BYTES`].
    #[error("stamp header too large")]
    TooLarge,
    /// Empty, or not unpadded base64url (standard-alphabet characters,
    /// padding, whitespace, non-zero trailing bits).
    #[error("stamp is not unpadded base64url")]
    Encoding,
    /// Not a JSON object with exactly the string members `publicKey`,
    /// `scheme` and `signature` (unknown, missing, duplicate or wrongly
    /// typed members, trailing data).
    #[error("stamp is not the expected JSON object")]
    Json,
    /// `scheme` is not one of the three known labels (case-sensitive).
    #[error("unknown stamp scheme")]
    UnknownScheme,
    /// The scheme is known but not accepted here.
    #[error("stamp scheme not allowed")]
    SchemeNotAllowed,
    /// `publicKey` is not hex, has the wrong size or prefix, is not a curve
    /// point, or is a weak (small-order) ed25519 key.
    #[error("bad stamp public key")]
    BadPublicKey,
    /// `signature` is not hex, not the DER accepted for ECDSA (see
    /// [`crate::verify::stamp`]), has an out-of-range `r`/`s`, or is not 64
    /// bytes for ed25519.
    #[error("bad stamp signature encoding")]
    BadSignatureEncoding,
    /// A secp256k1 signature whose `s` is in the upper half of the group
    /// order (Ethereum's low-S rule).
    #[error("high-S secp256k1 signature")]
    HighS,
    /// The signature does not verify over the body with the stamp's key.
    #[error("stamp signature does not verify")]
    BadSignature,
    /// The body's timestamp is outside the freshness window.
    #[error("stamp timestamp outside the freshness window")]
    Stale,
    /// The body carries no timestamp (or is not JSON) and one is required.
    #[error("stamped body has no timestamp")]
    MissingTimestamp,
    /// The body's timestamp is present but not a non-negative integer of
    /// milliseconds (or appears twice).
    #[error("stamped body has an unusable timestamp")]
    BadTimestamp,
    /// This signature was already used within the replay window.
    #[error("stamp replayed")]
    Replayed,
    /// The body exceeds the configured maximum.
    #[error("stamped body too large")]
    BodyTooLarge,
}

impl StampError {
    /// A short, stable label for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            StampError::TooLarge => "stamp_too_large",
            StampError::Encoding => "stamp_encoding",
            StampError::Json => "stamp_json",
            StampError::UnknownScheme => "unknown_scheme",
            StampError::SchemeNotAllowed => "scheme_not_allowed",
            StampError::BadPublicKey => "bad_public_key",
            StampError::BadSignatureEncoding => "bad_signature_encoding",
            StampError::HighS => "high_s",
            StampError::BadSignature => "bad_signature",
            StampError::Stale => "stale",
            StampError::MissingTimestamp => "missing_timestamp",
            StampError::BadTimestamp => "bad_timestamp",
            StampError::Replayed => "replayed",
            StampError::BodyTooLarge => "body_too_large",
        }
    }

    /// Whether the header itself is malformed (as opposed to well-formed but
    /// not valid). A proxy may answer the former as a malformed request and
    /// the latter as an invalid credential.
    pub fn is_malformed(&self) -> bool {
        matches!(
            self,
            StampError::TooLarge
                | StampError::Encoding
                | StampError::Json
                | StampError::UnknownScheme
                | StampError::BadPublicKey
                | StampError::BadSignatureEncoding
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_distinct_snake_case_labels() {
        let all = [
            StampError::TooLarge,
            StampError::Encoding,
            StampError::Json,
            StampError::UnknownScheme,
            StampError::SchemeNotAllowed,
            StampError::BadPublicKey,
            StampError::BadSignatureEncoding,
            StampError::HighS,
            StampError::BadSignature,
            StampError::Stale,
            StampError::MissingTimestamp,
            StampError::BadTimestamp,
            StampError::Replayed,
            StampError::BodyTooLarge,
        ];
        let mut seen = std::collections::HashSet::new();
        for e in all {
            let r = e.reason();
            assert!(seen.insert(r), "duplicate reason {r}");
            assert!(
                r.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{r}"
            );
        }
    }
}
