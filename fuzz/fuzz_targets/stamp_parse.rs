//! `verify::stamp::parse_bytes` (size, unpadded base64url, the
//! three-member JSON envelope, scheme label, public key on its curve,
//! signature encoding and range) and `verify::stamp::verify` over a body.
//!
//! Input: the `X-Stamp` value, optionally followed by `\n` and a body (a
//! header value cannot hold a newline). Properties:
//!
//! - no panic; a value over 4096 bytes is refused as too large;
//! - render → parse: a parsed stamp re-rendered in its normal form
//!   (lower-case hex of the compressed key, canonical DER of `r ‖ low-S`
//!   or the 64-byte ed25519 signature) parses again to the same scheme,
//!   key id and replay digest;
//! - a signature only verifies over a body that the vector generator signed
//!   with that key (`tests/fixtures/stamps/vectors.json`, collected at
//!   start-up; the valid vectors must be among them).

#![no_main]

use authgate::verify::stamp::{self, StampError, StampScheme, MAX_STAMP_HEADER_BYTES};
use authgate_fuzz::{der_int_minimal, der_seq, stamp_vectors};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use std::collections::HashSet;
use std::sync::LazyLock;

/// `(key id, body)` pairs the generator signed.
static SIGNED: LazyLock<HashSet<(String, Vec<u8>)>> = LazyLock::new(|| {
    let mut signed = HashSet::new();
    let mut valid = 0;
    for v in stamp_vectors() {
        let Ok(s) = stamp::parse(&v.stamp) else {
            continue;
        };
        if stamp::verify(&s, v.body.as_bytes()).is_ok() {
            signed.insert((s.key_id(), v.body.into_bytes()));
            valid += usize::from(v.expect == "valid");
        }
    }
    assert!(valid >= 20, "self-test: only {valid} valid vectors verify");
    signed
});

fn normal_form(s: &stamp::Stamp) -> String {
    let sig = s.signature_bytes();
    let sig_hex = match s.scheme() {
        StampScheme::Ed25519 => hex::encode(sig),
        StampScheme::P256 | StampScheme::Secp256k1Eip191 => {
            let (r, low_s) = sig.split_at(32);
            let (r, low_s): (&[u8; 32], &[u8; 32]) =
                (r.try_into().unwrap(), low_s.try_into().unwrap());
            hex::encode(der_seq(&der_int_minimal(r), &der_int_minimal(low_s)))
        }
    };
    let json = serde_json::json!({
        "publicKey": s.key_id(),
        "scheme": s.scheme().label(),
        "signature": sig_hex,
    });
    URL_SAFE_NO_PAD.encode(json.to_string())
}

fuzz_target!(|data: &[u8]| {
    let (header, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let parsed = stamp::parse_bytes(header);
    if header.len() > MAX_STAMP_HEADER_BYTES {
        assert_eq!(parsed.as_ref().err(), Some(&StampError::TooLarge));
    }
    let Ok(s) = parsed else { return };

    let again = stamp::parse(&normal_form(&s)).expect("the normal form parses");
    assert_eq!(again.scheme(), s.scheme());
    assert_eq!(again.key_id(), s.key_id());
    assert_eq!(again.replay_digest(), s.replay_digest());

    if stamp::verify(&s, body).is_ok() {
        assert!(
            SIGNED.contains(&(s.key_id(), body.to_vec())),
            "forged stamp: key {} over {:?}",
            s.key_id(),
            String::from_utf8_lossy(body)
        );
    }
});
