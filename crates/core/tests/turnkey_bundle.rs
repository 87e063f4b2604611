//! Credential bundles against the public `@turnkey/crypto` package, through
//! the committed `tests/fixtures/grid/bundle.json` (re-checked by CI with
//! that package: `.ci/fixtures-check`):
//!
//! - the `authgate` vector is what [`bundle::seal_with`] makes with a
//!   pinned ephemeral key; this test requires the code to still produce
//!   exactly it (so the Node check is checking today's code);
//! - the `turnkey` vector was sealed by `@turnkey/crypto`'s `hpkeEncrypt`;
//!   authgate must open it.
//!
//! `UPDATE_FIXTURES=1` rewrites the `authgate` vector (then run
//! `node gen.mjs --check` in that directory).

use authgate_core::bundle;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::SecretKey;
use serde_json::{json, Value};

fn path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/grid/bundle.json")
}

fn secret(hex_key: &str) -> SecretKey {
    SecretKey::from_slice(&hex::decode(hex_key).unwrap()).unwrap()
}

#[test]
fn authgate_bundle_is_the_committed_one() {
    let client = SecretKey::from_slice(&[0x11; 32]).unwrap();
    let ephemeral = SecretKey::from_slice(&[0x22; 32]).unwrap();
    let session_key = [0x33u8; 32];
    let sealed = bundle::seal_with(&session_key, &client.public_key(), &ephemeral).unwrap();
    let vector = json!({
        "client_private_key": hex::encode(client.to_bytes()),
        "client_public_key": hex::encode(client.public_key().to_encoded_point(false).as_bytes()),
        "ephemeral_private_key": hex::encode(ephemeral.to_bytes()),
        "secret": hex::encode(session_key),
        "bundle": sealed,
    });
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(path()).unwrap()).unwrap();
    if std::env::var_os("UPDATE_FIXTURES").is_some() {
        doc["authgate"] = vector.clone();
        std::fs::write(path(), serde_json::to_string_pretty(&doc).unwrap() + "\n").unwrap();
    }
    assert_eq!(
        doc["authgate"], vector,
        "seal_with no longer makes the committed bundle"
    );
    assert_eq!(bundle::open(&sealed, &client).unwrap(), session_key);
}

#[test]
fn a_bundle_sealed_by_turnkey_opens() {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path()).unwrap()).unwrap();
    let v = &doc["turnkey"];
    let client = secret(v["client_private_key"].as_str().unwrap());
    let opened = bundle::open(v["bundle"].as_str().unwrap(), &client).unwrap();
    assert_eq!(hex::encode(opened), v["secret"].as_str().unwrap());
    // With another key it does not.
    let other = SecretKey::from_slice(&[0x44; 32]).unwrap();
    assert!(bundle::open(v["bundle"].as_str().unwrap(), &other).is_err());
}
