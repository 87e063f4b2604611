//! The wallet proofs against vectors made by viem (and re-checked by ethers
//! and the siwe package) in `tests/fixtures/wallet/` (see its gen.mjs):
//! `personal_sign` recovery with every encoding wallets send, malleated and
//! tampered signatures refused, and SIWE messages built byte-identically to
//! viem's and parsed back to the same fields.

use authgate_core::wallet::{personal, recover, Address, SiweMessage, WalletError};
use k256::elliptic_curve::ops::Neg;
use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/wallet/vectors.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn address_of(v: &Value, wallet: &Value) -> String {
    v["wallets"][wallet.as_u64().unwrap() as usize]["address"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn the_wallets_addresses_derive_from_their_keys() {
    let v = vectors();
    for w in v["wallets"].as_array().unwrap() {
        let key = hex::decode(&w["private_key"].as_str().unwrap()[2..]).unwrap();
        let sk = k256::ecdsa::SigningKey::from_slice(&key).unwrap();
        let a = Address::from_public_key(sk.verifying_key());
        assert_eq!(a.checksummed(), w["address"].as_str().unwrap());
    }
}

#[test]
fn personal_sign_recovers_the_signer_in_every_encoding() {
    let v = vectors();
    let cases = v["personal"].as_array().unwrap();
    assert_eq!(cases.len(), 18);
    for c in cases {
        let want = address_of(&v, &c["wallet"]);
        let msg = c["message"].as_str().unwrap().as_bytes();
        let sig = c["signature"].as_str().unwrap();
        assert_eq!(recover(msg, sig).unwrap().checksummed(), want, "{c}");
        // Without 0x, upper-case hex, v as 0/1.
        assert_eq!(recover(msg, &sig[2..]).unwrap().checksummed(), want);
        assert_eq!(
            recover(msg, &format!("0x{}", sig[2..].to_uppercase()))
                .unwrap()
                .checksummed(),
            want
        );
        let mut raw = hex::decode(&sig[2..]).unwrap();
        raw[64] -= 27;
        assert_eq!(
            recover(msg, &hex::encode(&raw)).unwrap().checksummed(),
            want
        );
        // Another message: another (or no) signer, never this one.
        let mut other = msg.to_vec();
        other.push(b'!');
        assert_ne!(
            recover(&other, sig).map(|a| a.checksummed()).ok(),
            Some(want.clone())
        );
    }
}

#[test]
fn malleated_and_malformed_signatures_are_refused_precisely() {
    let v = vectors();
    let c = &v["personal"][0];
    let msg = c["message"].as_str().unwrap().as_bytes();
    let raw = hex::decode(&c["signature"].as_str().unwrap()[2..]).unwrap();
    // (r, n - s, v ^ 1) is the same signature malleated: refused.
    let sig = k256::ecdsa::Signature::from_slice(&raw[..64]).unwrap();
    let (r, s) = sig.split_scalars();
    let high = k256::ecdsa::Signature::from_scalars(r, s.as_ref().neg()).unwrap();
    let mut mall = high.to_bytes().to_vec();
    mall.push(if raw[64] == 27 { 28 } else { 27 });
    assert_eq!(
        recover(msg, &hex::encode(&mall)),
        Err(WalletError::SignatureFormat("high-S signature"))
    );
    let mut bad_v = raw.clone();
    bad_v[64] = 29;
    assert_eq!(
        recover(msg, &hex::encode(&bad_v)),
        Err(WalletError::SignatureFormat("v must be 27, 28, 0 or 1"))
    );
    for bad in [
        String::new(),
        "0x".into(),
        hex::encode(&raw[..64]),
        format!("{}00", hex::encode(&raw)),
        format!("0x{}zz", &hex::encode(&raw)[..128]),
    ] {
        assert!(
            matches!(
                personal::parse_signature(&bad),
                Err(WalletError::SignatureFormat(_))
            ),
            "{bad}"
        );
    }
    let zero = format!("{}1b", "00".repeat(64));
    assert!(recover(msg, &zero).is_err());
}

#[test]
fn siwe_messages_match_viem_byte_for_byte_and_parse_back() {
    let v = vectors();
    for c in v["siwe"].as_array().unwrap() {
        let f = &c["fields"];
        let s = |k: &str| f[k].as_str().map(str::to_string);
        let fields = SiweMessage {
            scheme: s("scheme"),
            domain: s("domain").unwrap(),
            address: s("address").unwrap(),
            statement: s("statement"),
            uri: s("uri").unwrap(),
            version: s("version").unwrap(),
            chain_id: f["chain_id"].as_u64().unwrap(),
            nonce: s("nonce").unwrap(),
            issued_at: s("issued_at").unwrap(),
            expiration_time: s("expiration_time"),
            not_before: s("not_before"),
            request_id: s("request_id"),
            resources: f["resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_string())
                .collect(),
        };
        let text = c["message"].as_str().unwrap();
        assert_eq!(fields.to_message(), text);
        assert_eq!(SiweMessage::parse(text).unwrap(), fields);
        let signer = recover(text.as_bytes(), c["signature"].as_str().unwrap()).unwrap();
        assert_eq!(signer.checksummed(), address_of(&v, &c["wallet"]));
        assert_eq!(Address::parse(&fields.address).unwrap(), signer);
        if fields
            .resources
            .iter()
            .any(|r| r.starts_with("urn:authgate"))
        {
            assert_eq!(fields.session_key().unwrap()[0], 0xd7);
        } else {
            assert!(fields.session_key().is_err());
        }
        // Changing any signed line changes the signer.
        let tampered = text.replacen(
            &format!("Chain ID: {}", fields.chain_id),
            &format!("Chain ID: {}", fields.chain_id + 1),
            1,
        );
        assert_ne!(
            recover(tampered.as_bytes(), c["signature"].as_str().unwrap()),
            Ok(signer)
        );
    }
}

#[test]
fn siwe_times_and_malformed_messages() {
    let v = vectors();
    let text = v["siwe"][0]["message"].as_str().unwrap();
    let m = SiweMessage::parse(text).unwrap();
    // Issued 10:00:00Z, expires 10:05:00Z on 2026-12-02.
    let issued = authgate_core::wallet::siwe::parse_time("2026-12-02T10:00:00.000Z").unwrap();
    assert_eq!(
        authgate_core::wallet::siwe::parse_time("2026-12-02T12:00:00+02:00").unwrap(),
        issued
    );
    assert!(m.check_time(issued + 60_000).is_ok());
    // Found by the wallet fuzz target: a multi-byte character where an
    // offset would start made the time parser slice inside it (a panic).
    for t in [
        "2026-12-02T131b0:00:00.000Z\u{2D68C}ourc",
        "2026-12-02T10:00:00é:00",
        "é12:00",
    ] {
        assert!(authgate_core::wallet::siwe::parse_time(t).is_err(), "{t}");
    }
    assert!(m.check_time(issued + 300_000).is_err());
    let broken = [
        text.replacen(" wants you to sign in", " would like you to sign in", 1),
        text.replacen("Version: 1", "Version: 2", 1),
        text.replacen("Nonce: ", "Nonce: ab", 1)
            .replacen("Nonce: ab", "Nonce: a!", 1),
        text.replacen("\nURI: ", "\nURL: ", 1),
        format!("{text}\nTrailing: x"),
        text.replacen("Chain ID: 1", "Chain ID: 01", 1),
        text.replacen(
            "Issued At: 2026-12-02T10:00:00.000Z",
            "Issued At: yesterday",
            1,
        ),
    ];
    for b in &broken {
        assert!(
            matches!(
                SiweMessage::parse(b),
                Err(WalletError::Message(_) | WalletError::Address(_))
            ),
            "{b}"
        );
    }
}
