//! `verify::jwt::verify`: the JWT front (split, base64url, JOSE header via
//! `alg`/`kid` and then `jsonwebtoken::Header`, unverified `iss`, algorithm
//! allow-list, key selection), the JWS signature check and the claims.
//!
//! Input: the token text (non-UTF-8 input is skipped: `extract` only yields
//! visible ASCII). It is checked against each fixture issuer of
//! `tests/fixtures/jwt` (three HMAC secrets, RSA/EC/Ed25519 PEM keys, two
//! JWKS files), one at a time, as all share the issuer URL.
//!
//! Property: no panic, and a token is `Valid` only if its signing input
//! (`header.payload`) is that of a fixture token the generator signed
//! with a fixture key (whatever verdict it expects: a valid-looking
//! mutation of its signature segment may verify). Nothing else can be valid without a private key, so any other
//! `Valid` is a forgery. At start-up every valid fixture must still verify,
//! so the target provably reaches the success path.

#![no_main]

use authgate::config::model::IssuerSection;
use authgate::verify::jwt::{verify, Issuer};
use authgate::verify::Verdict;
use authgate_fuzz::{fixtures, issuer_toml, jwt_cases, ready, ISSUER_KEYS};
use libfuzzer_sys::fuzz_target;
use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

struct Fixture {
    /// Each issuer alone (they share the `iss`, so `verify` would only ever
    /// pick the first of a list).
    issuers: Vec<(String, [Arc<Issuer>; 1])>,
    /// `header.payload` of every fixture token signed with a fixture key.
    signed: HashSet<String>,
}

fn signing_input(token: &str) -> &str {
    token.rsplit_once('.').map_or(token, |(m, _)| m)
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let dir = fixtures().join("jwt");
    let issuers: Vec<(String, [Arc<Issuer>; 1])> = ISSUER_KEYS
        .iter()
        .map(|k| {
            let section: IssuerSection = toml::from_str(&issuer_toml(k)).expect("issuer toml");
            let issuer = Issuer::build(&section, &dir).unwrap_or_else(|e| panic!("{k}: {e:?}"));
            (k.to_string(), [Arc::new(issuer)])
        })
        .collect();
    // Tokens the generator signed with a fixture key, whatever the verdict
    // it expects (expired, wrong audience, no kid, …): a mutation of their
    // signature segment may verify. Not the forged classes: tampered
    // payloads, foreign keys, `alg: none`, and HS256 keyed by the RSA
    // public key (algorithm confusion).
    const UNSIGNED: [&str; 4] = ["tampered", "bad_signature", "alg_confusion", "alg_none"];
    let signed = jwt_cases()
        .into_iter()
        .filter(|c| !UNSIGNED.contains(&c.expect.as_str()))
        .map(|c| signing_input(&c.token).to_string())
        .collect();
    let mut valid = 0;
    for case in jwt_cases().into_iter().filter(|c| c.expect == "valid") {
        let (_, issuer) = issuers
            .iter()
            .find(|(k, _)| *k == case.issuer_key)
            .expect("fixture issuer");
        assert!(
            matches!(ready(verify(issuer, &case.token)), Verdict::Valid(_)),
            "self-test: fixture {} no longer verifies",
            case.name
        );
        valid += 1;
    }
    assert!(valid >= 10, "self-test: only {valid} valid fixtures");
    Fixture { issuers, signed }
});

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let fx = &*FIXTURE;
    for (name, issuer) in &fx.issuers {
        if let Verdict::Valid(_) = ready(verify(issuer, token)) {
            assert!(
                fx.signed.contains(signing_input(token)),
                "issuer {name} accepted a token nobody signed: {token:?}"
            );
        }
    }
});
