//! Public keys already decoded and checked, by the exact text a stamp
//! carried. Decompressing a point and checking it costs more than the rest
//! of a stamp's parsing together (for ed25519 about a third of the
//! signature check itself), and a client signs many requests with one key
//! (a session key, a registered stamp key), so a key is checked once and
//! then reused. Only keys that passed every check of [`super::key`] are
//! kept; a text that fails is checked again each time. The same text always
//! decodes to the same key, so a hit is exactly what a fresh parse gives.
//! Bounded: at most [`CAPACITY`] keys per scheme (least recently used go).

use super::key::{self, NormalisedKey};
use super::StampError;
use ed25519_dalek::VerifyingKey as Ed25519Key;
use k256::ecdsa::VerifyingKey as Secp256k1Key;
use moka::sync::Cache;
use p256::ecdsa::VerifyingKey as P256Key;
use std::sync::LazyLock;

/// Keys kept per scheme.
pub const CAPACITY: u64 = 16_384;

/// Longest key text kept (an uncompressed SEC1 key is 130 hex digits).
const MAX_TEXT: usize = 132;

type Parsed<K> = Cache<String, (K, NormalisedKey)>;

static P256_KEYS: LazyLock<Parsed<P256Key>> = LazyLock::new(|| Cache::new(CAPACITY));
static SECP256K1_KEYS: LazyLock<Parsed<Secp256k1Key>> = LazyLock::new(|| Cache::new(CAPACITY));
static ED25519_KEYS: LazyLock<Parsed<Ed25519Key>> = LazyLock::new(|| Cache::new(CAPACITY));

fn cached<K: Clone + Send + Sync + 'static>(
    cache: &Parsed<K>,
    text: &str,
    parse: fn(&str) -> Result<(K, NormalisedKey), StampError>,
) -> Result<(K, NormalisedKey), StampError> {
    if let Some(hit) = cache.get(text) {
        return Ok(hit);
    }
    let parsed = parse(text)?;
    if text.len() <= MAX_TEXT {
        cache.insert(text.to_string(), parsed.clone());
    }
    Ok(parsed)
}

/// [`key::p256`], through the cache.
pub(super) fn p256(text: &str) -> Result<(P256Key, NormalisedKey), StampError> {
    cached(&P256_KEYS, text, key::p256)
}

/// [`key::secp256k1`], through the cache.
pub(super) fn secp256k1(text: &str) -> Result<(Secp256k1Key, NormalisedKey), StampError> {
    cached(&SECP256K1_KEYS, text, key::secp256k1)
}

/// [`key::ed25519`], through the cache.
pub(super) fn ed25519(text: &str) -> Result<(Ed25519Key, NormalisedKey), StampError> {
    cached(&ED25519_KEYS, text, key::ed25519)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_key_is_the_key_a_fresh_parse_gives() {
        let sk = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        let text = hex::encode(sk.verifying_key().to_bytes());
        let fresh = key::ed25519(&text).unwrap();
        let first = ed25519(&text).unwrap();
        let second = ed25519(&text).unwrap();
        assert_eq!(first, fresh);
        assert_eq!(second, fresh);
        assert!(ED25519_KEYS.contains_key(text.as_str()));
        // Upper-case hex is another text for the same key: checked on its own.
        let upper = text.to_uppercase();
        assert_eq!(ed25519(&upper).unwrap().1, fresh.1);
    }

    #[test]
    fn a_refused_key_is_refused_every_time_and_never_kept() {
        // A small-order point (the identity) and a non-canonical encoding.
        let weak = format!("01{}", "00".repeat(31));
        let non_canonical = format!("ed{}7f", "ff".repeat(30));
        for text in [weak, non_canonical, "zz".repeat(32)] {
            for _ in 0..2 {
                assert_eq!(ed25519(&text), Err(StampError::BadPublicKey), "{text}");
            }
            assert!(!ED25519_KEYS.contains_key(text.as_str()));
        }
        let bad_sec1 = format!("04{}", "11".repeat(64));
        for _ in 0..2 {
            assert!(p256(&bad_sec1).is_err());
            assert!(secp256k1(&bad_sec1).is_err());
        }
        assert!(!P256_KEYS.contains_key(bad_sec1.as_str()));
    }
}
