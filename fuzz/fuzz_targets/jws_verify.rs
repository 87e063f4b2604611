//! `verify::jws::VerifyingKey::verify`, the JWS signature check, straight
//! on bytes: the fixture keys of `tests/fixtures/jwt` (three HMAC secrets,
//! two RSA keys, P-256, P-384, Ed25519) against every algorithm.
//!
//! Input: `[alg index][message length: u16 BE][message][signature]`, the
//! algorithm taken modulo 12; a short input is skipped.
//!
//! Property: no panic; a key never verifies for an algorithm it does not
//! serve; and a signature only verifies over a message the fixture
//! generator signed (the signing input of a fixture token that verifies
//! under one of these keys, collected at start-up; at least the valid
//! fixtures must be among them, so the success path is reached).

#![no_main]

use authgate::verify::jws::VerifyingKey;
use authgate_fuzz::{fixtures, jwt_cases};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey};
use libfuzzer_sys::fuzz_target;
use std::collections::HashSet;
use std::sync::LazyLock;

const ALGS: [Algorithm; 12] = [
    Algorithm::HS256,
    Algorithm::HS384,
    Algorithm::HS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::EdDSA,
];

/// A `jsonwebtoken` PEM reader for one key family.
type PemParser = fn(&[u8]) -> jsonwebtoken::errors::Result<DecodingKey>;

struct Fixture {
    keys: Vec<(&'static str, VerifyingKey)>,
    signed: HashSet<Vec<u8>>,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let dir = fixtures().join("jwt/keys");
    let read = |f: &str| std::fs::read(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    let mut keys = Vec::new();
    for f in ["hs256.secret", "hs384.secret", "hs512.secret"] {
        keys.push((f, VerifyingKey::hmac(&read(f))));
    }
    let pem: [(&str, PemParser); 5] = [
        ("rsa.pub.pem", DecodingKey::from_rsa_pem),
        ("rsa2.pub.pem", DecodingKey::from_rsa_pem),
        ("ec256.pub.pem", DecodingKey::from_ec_pem),
        ("ec384.pub.pem", DecodingKey::from_ec_pem),
        ("ed25519.pub.pem", DecodingKey::from_ed_pem),
    ];
    for (f, parse) in pem {
        let key = parse(&read(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        keys.push((f, VerifyingKey::from_decoding_key(&key).expect(f)));
    }
    let mut signed = HashSet::new();
    let mut valid = 0;
    for case in jwt_cases() {
        let Some((msg, sig)) = case.token.rsplit_once('.') else {
            continue;
        };
        let Ok(sig) = URL_SAFE_NO_PAD.decode(sig) else {
            continue;
        };
        let ok = keys.iter().any(|(_, k)| {
            ALGS.iter()
                .any(|a| k.verify(*a, msg.as_bytes(), &sig).is_ok())
        });
        if ok {
            signed.insert(msg.as_bytes().to_vec());
        }
        valid += usize::from(case.expect == "valid" && ok);
    }
    assert!(valid >= 10, "self-test: only {valid} valid fixtures verify");
    Fixture { keys, signed }
});

fuzz_target!(|data: &[u8]| {
    let fx = &*FIXTURE;
    let [a, hi, lo, rest @ ..] = data else { return };
    let alg = ALGS[usize::from(*a) % ALGS.len()];
    let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(rest.len());
    let (message, signature) = rest.split_at(len);
    for (name, key) in &fx.keys {
        if key.verify(alg, message, signature).is_ok() {
            assert!(
                key.serves(alg),
                "{name} verified {alg:?}, which it does not serve"
            );
            assert!(
                fx.signed.contains(message),
                "{name} {alg:?}: forged over {message:?}"
            );
        }
    }
});
