//! `verify::jwks::KeySet::from_jwks_json` (a JWKS document or a single
//! JWK, each key parsed into a `verify::jws::VerifyingKey`) and
//! `KeySet::select`.
//!
//! Input: the document bytes. Properties:
//!
//! - no panic;
//! - an accepted set is non-empty;
//! - render → parse: the document re-serialised by `jsonwebtoken` (what
//!   the set was read with) is accepted again with the same number of keys
//!   (at least as many if a JWK repeats a member: `jsonwebtoken` then
//!   reads it as an unknown key type, which is skipped, and the rendering
//!   keeps one of the members);
//! - `select` only returns a key that serves the algorithm (family, and the
//!   curve for EC), whose pinned `alg` (if any) is that algorithm, and, when
//!   a `kid` is asked for, that has this `kid` or none (a set without kids).

#![no_main]

use authgate::verify::jwks::KeySet;
use authgate_fuzz::Doc;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::Algorithm;
use libfuzzer_sys::fuzz_target;

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

fuzz_target!(|data: &[u8]| {
    let Ok(set) = KeySet::from_jwks_json(data) else {
        return;
    };
    assert!(!set.is_empty(), "an accepted JWKS holds no key");

    // The document as authgate read it: a set, else a single key.
    let doc = match serde_json::from_slice::<JwkSet>(data) {
        Ok(doc) => doc,
        Err(_) => JwkSet {
            keys: vec![serde_json::from_slice::<Jwk>(data).expect("accepted, so a JWK")],
        },
    };
    let rendered = serde_json::to_vec(&doc).expect("render JWKS");
    let again = match KeySet::from_jwks_json(&rendered) {
        Ok(again) => again.len(),
        Err(e) => panic!("re-rendered JWKS refused: {e}"),
    };
    // A JWK with a repeated member does not parse as its key type and is
    // skipped; rendered, only one of the members is left, and it may parse.
    let repeated = serde_json::from_slice::<Doc>(data).map_or(true, |d| !d.1.is_empty());
    if repeated {
        assert!(
            again >= set.len(),
            "re-rendered JWKS lost keys: {again} < {}",
            set.len()
        );
    } else {
        assert_eq!(again, set.len(), "re-rendered JWKS has another key count");
    }

    let kids: Vec<&str> = doc
        .keys
        .iter()
        .filter_map(|k| k.common.key_id.as_deref())
        .collect();
    for alg in ALGS {
        for kid in kids
            .iter()
            .copied()
            .map(Some)
            .chain([None, Some("no-such-kid")])
        {
            let Some(entry) = set.select(kid, alg) else {
                continue;
            };
            assert!(
                entry.key.serves(alg),
                "selected a key that cannot check {alg:?}"
            );
            assert!(
                entry.alg.is_none_or(|a| a == alg),
                "key pinned to {:?} chosen for {alg:?}",
                entry.alg
            );
            if let (Some(kid), Some(got)) = (kid, entry.kid.as_deref()) {
                assert_eq!(got, kid, "asked for one kid, got another");
            }
        }
    }
});
