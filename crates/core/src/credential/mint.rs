//! Mint opaque credentials: `<prefix><30 base62 chars><6 base62 checksum>`.
//!
//! 30 base62 characters carry ≈178 bits of randomness. The checksum is the
//! CRC-32 of prefix and body, so a typo or random garbage is refused before
//! any lookup (the idea of GitHub's token format).

use rand::Rng;

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BODY_LEN: usize = 30;
const CHECK_LEN: usize = 6;

/// Mint a new credential with `prefix`.
///
/// ```
/// use authgate_core::credential::mint::{checksum_ok, mint};
/// let key = mint("mantyx_");
/// assert!(key.starts_with("mantyx_") && key.len() == "mantyx_".len() + 36);
/// assert!(checksum_ok(&key, "mantyx_"));
/// // One changed character breaks the checksum, so it is refused before any lookup.
/// let typo = format!("{}{}", &key[..key.len() - 1], if key.ends_with('A') { 'B' } else { 'A' });
/// assert!(!checksum_ok(&typo, "mantyx_"));
/// ```
pub fn mint(prefix: &str) -> String {
    mint_with(prefix, &mut rand::rngs::OsRng)
}

/// Mint with a caller-chosen random source. Real credentials use [`mint`]
/// (the OS generator); the load tool forges many unknown-but-well-formed
/// keys per second and uses a seeded userspace generator instead.
pub fn mint_with(prefix: &str, rng: &mut impl Rng) -> String {
    let mut out = String::with_capacity(prefix.len() + BODY_LEN + CHECK_LEN);
    out.push_str(prefix);
    for _ in 0..BODY_LEN {
        out.push(ALPHABET[rng.gen_range(0..62)] as char);
    }
    let check = encode_crc(crc32fast::hash(out.as_bytes()));
    out.push_str(std::str::from_utf8(&check).unwrap_or("000000"));
    out
}

/// Whether `credential` (with `prefix` already matched) ends in a valid checksum.
pub fn checksum_ok(credential: &str, prefix: &str) -> bool {
    let Some(rest) = credential.strip_prefix(prefix) else {
        return false;
    };
    if rest.len() != BODY_LEN + CHECK_LEN || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let split = credential.len() - CHECK_LEN;
    let want = encode_crc(crc32fast::hash(&credential.as_bytes()[..split]));
    // Not secret (the checksum is public), so a plain compare is fine.
    want == credential.as_bytes()[split..]
}

fn encode_crc(mut v: u32) -> [u8; CHECK_LEN] {
    let mut out = [b'0'; CHECK_LEN];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(v % 62) as usize];
        v /= 62;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_keys_verify_and_typos_do_not() {
        let k = mint("mantyx_");
        assert!(k.starts_with("mantyx_"));
        assert_eq!(k.len(), "mantyx_".len() + 36);
        assert!(checksum_ok(&k, "mantyx_"));
        // flip one body character
        let mut bytes = k.clone().into_bytes();
        let i = "mantyx_".len() + 3;
        bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
        let typo = String::from_utf8(bytes).unwrap();
        assert!(!checksum_ok(&typo, "mantyx_"));
        assert!(!checksum_ok("mantyx_short", "mantyx_"));
        assert!(!checksum_ok(&format!("{k}x"), "mantyx_"));
        assert_ne!(mint("mantyx_"), mint("mantyx_"));
    }

    /// Known answers computed outside this code (Python: `zlib.crc32`, then
    /// six base62 digits, most significant first, alphabet `0-9A-Za-z`).
    #[test]
    fn checksums_match_independent_known_answers() {
        // The CRC-32 check value of "123456789" is 0xCBF43926.
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
        assert_eq!(&encode_crc(0xCBF4_3926), b"3jZRME");
        assert_eq!(&encode_crc(0), b"000000");
        assert_eq!(&encode_crc(u32::MAX), b"4gfFC3");
        for (key, prefix) in [
            ("mantyx_0123456789abcdefghijABCDEFGHIJ3rTqNi", "mantyx_"),
            ("sk_live_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz4WF2SO", "sk_live_"),
        ] {
            assert!(checksum_ok(key, prefix), "{key}");
            // The same body with any other checksum is refused.
            let other = format!("{}000000", &key[..key.len() - CHECK_LEN]);
            assert!(!checksum_ok(&other, prefix), "{other}");
        }
        // A minted key's checksum covers the prefix too.
        let body = &"mantyx_0123456789abcdefghijABCDEFGHIJ3rTqNi"["mantyx_".len()..];
        assert!(!checksum_ok(&format!("mantyz_{body}"), "mantyz_"));
    }
}
