//! Parser and verifier edge cases over stamps signed here, table-driven.
//! The vectors from the real npm clients live in `tests/stamp_vectors.rs`.

use super::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use k256::ecdsa::signature::hazmat::PrehashSigner;
use p256::ecdsa::signature::Signer;
use p256::elliptic_curve::ff::PrimeField;

const BODY: &[u8] = br#"{"timestampMs":"1700000000000","type":"ACTIVITY_TYPE_X"}"#;

/// Canonical DER of two 32-byte big-endian scalars.
fn der(rs: &[u8]) -> String {
    let int = |x: &[u8]| {
        let start = x.iter().position(|&b| b != 0).unwrap_or(x.len() - 1);
        let mut c = x[start..].to_vec();
        if c[0] & 0x80 != 0 {
            c.insert(0, 0);
        }
        let mut v = vec![2, c.len() as u8];
        v.extend(c);
        v
    };
    let body = [int(&rs[..32]), int(&rs[32..])].concat();
    let mut v = vec![0x30, body.len() as u8];
    v.extend(body);
    hex::encode(v)
}

fn header(public_key: &str, scheme: &str, signature: &str) -> String {
    let json =
        serde_json::json!({"publicKey": public_key, "scheme": scheme, "signature": signature});
    URL_SAFE_NO_PAD.encode(json.to_string())
}

fn p256_signer() -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_bytes(&[0x11; 32].into()).unwrap()
}

/// (public key hex, DER hex) of a P-256 stamp over `body`.
fn p256_parts(body: &[u8]) -> (String, String) {
    let sk = p256_signer();
    let sig: p256::ecdsa::Signature = sk.sign(body);
    let pk = hex::encode(sk.verifying_key().to_encoded_point(true).as_bytes());
    (pk, der(&sig.to_bytes()))
}

fn p256_stamp(body: &[u8]) -> String {
    let (pk, sig) = p256_parts(body);
    header(&pk, StampScheme::P256.label(), &sig)
}

fn k256_stamp(body: &[u8]) -> String {
    let sk = k256::ecdsa::SigningKey::from_bytes(&[0x22; 32].into()).unwrap();
    let sig: k256::ecdsa::Signature = sk.sign_prehash(&eip191_digest(body)).unwrap();
    let pk = hex::encode(sk.verifying_key().to_encoded_point(true).as_bytes());
    header(
        &pk,
        StampScheme::Secp256k1Eip191.label(),
        &der(&sig.to_bytes()),
    )
}

fn ed_stamp(body: &[u8]) -> String {
    let sk = ed25519_dalek::SigningKey::from_bytes(&[0x33; 32]);
    let sig = ed25519_dalek::Signer::sign(&sk, body);
    header(
        &hex::encode(sk.verifying_key().to_bytes()),
        StampScheme::Ed25519.label(),
        &hex::encode(sig.to_bytes()),
    )
}

fn outcome(h: &str, body: &[u8]) -> Result<(), StampError> {
    verify(&parse(h)?, body)
}

#[test]
fn each_scheme_round_trips_and_rejects_a_changed_body() {
    for (scheme, h) in [
        (StampScheme::P256, p256_stamp(BODY)),
        (StampScheme::Secp256k1Eip191, k256_stamp(BODY)),
        (StampScheme::Ed25519, ed_stamp(BODY)),
    ] {
        let stamp = parse(&h).unwrap();
        assert_eq!(stamp.scheme(), scheme);
        assert_eq!(verify(&stamp, BODY), Ok(()), "{scheme:?}");
        assert_eq!(
            verify(&stamp, b"{\"timestampMs\":\"1700000000001\"}"),
            Err(StampError::BadSignature),
            "{scheme:?}"
        );
        assert_eq!(verify(&stamp, b""), Err(StampError::BadSignature));
    }
}

#[test]
fn envelope_edge_cases() {
    let good = p256_stamp(BODY);
    let (pk, sig) = p256_parts(BODY);
    let label = StampScheme::P256.label();
    let json_b64 = |j: &str| URL_SAFE_NO_PAD.encode(j);
    let cases: Vec<(&str, Vec<u8>, StampError)> = vec![
        ("empty", vec![], StampError::Encoding),
        ("huge", vec![b'A'; MAX_STAMP_HEADER_BYTES + 1], StampError::TooLarge),
        ("at limit, not base64", vec![b'!'; MAX_STAMP_HEADER_BYTES], StampError::Encoding),
        ("at limit, base64 of zeros", vec![b'A'; MAX_STAMP_HEADER_BYTES], StampError::Json),
        ("non-UTF-8", vec![0xff, 0xfe, 0x80], StampError::Encoding),
        ("NUL", b"eyJ\0".to_vec(), StampError::Encoding),
        ("padded", format!("{good}==").into_bytes(), StampError::Encoding),
        ("leading space", format!(" {good}").into_bytes(), StampError::Encoding),
        ("Bearer prefix", format!("Stamp {good}").into_bytes(), StampError::Encoding),
        ("base64 of non-UTF-8", json_b64("\u{0}").into_bytes(), StampError::Json),
        (
            "latin-1 bytes in JSON",
            URL_SAFE_NO_PAD.encode(b"{\"publicKey\":\"\xe9\"}").into_bytes(),
            StampError::Json,
        ),
        (
            "number signature",
            json_b64(&format!(r#"{{"publicKey":"{pk}","scheme":"{label}","signature":1}}"#)).into_bytes(),
            StampError::Json,
        ),
        (
            "extra member",
            json_b64(&format!(r#"{{"publicKey":"{pk}","scheme":"{label}","signature":"{sig}","v":1}}"#)).into_bytes(),
            StampError::Json,
        ),
        (
            "duplicate scheme",
            json_b64(&format!(r#"{{"publicKey":"{pk}","scheme":"{label}","scheme":"{label}","signature":"{sig}"}}"#))
                .into_bytes(),
            StampError::Json,
        ),
        (
            "deeply nested",
            json_b64(&format!("{}{}", "[".repeat(1000), "]".repeat(1000))).into_bytes(),
            StampError::Json,
        ),
        (
            "scheme with trailing space",
            header(&pk, &format!("{label} "), &sig).into_bytes(),
            StampError::UnknownScheme,
        ),
        ("empty scheme", header(&pk, "", &sig).into_bytes(), StampError::UnknownScheme),
    ];
    for (name, input, want) in cases {
        assert_eq!(parse_bytes(&input).map(|_| ()).unwrap_err(), want, "{name}");
    }
    assert!(parse(&good).is_ok());
}

#[test]
fn hex_case_and_json_spelling_are_accepted_and_normalised() {
    let (pk, sig) = p256_parts(BODY);
    let label = StampScheme::P256.label();
    let spellings = [
        header(&pk.to_uppercase(), label, &sig.to_uppercase()),
        header(&pk, label, &sig.to_uppercase()),
        URL_SAFE_NO_PAD.encode(format!(
            "{{ \"signature\" : \"{sig}\", \"scheme\":\"{label}\", \"publicKey\":\"\\u{:04x}{}\" }}",
            pk.as_bytes()[0],
            &pk[1..]
        )),
    ];
    let reference = parse(&header(&pk, label, &sig)).unwrap();
    for h in spellings {
        let stamp = parse(&h).unwrap_or_else(|e| panic!("{h}: {e:?}"));
        assert_eq!(stamp.key_id(), pk);
        assert_eq!(stamp.replay_digest(), reference.replay_digest());
        assert_eq!(verify(&stamp, BODY), Ok(()));
    }
}

#[test]
fn p256_high_s_verifies_and_shares_the_replay_digest() {
    let sk = p256_signer();
    let sig: p256::ecdsa::Signature = sk.sign(BODY);
    let low = sig.normalize_s().unwrap_or(sig);
    let neg_s = -*low.s();
    let high = p256::ecdsa::Signature::from_scalars(low.r().to_repr(), neg_s.to_repr()).unwrap();
    assert!(
        high.normalize_s().is_some(),
        "constructed signature must be high-S"
    );
    let pk = hex::encode(sk.verifying_key().to_encoded_point(true).as_bytes());
    let label = StampScheme::P256.label();
    let a = parse(&header(&pk, label, &der(&low.to_bytes()))).unwrap();
    let b = parse(&header(&pk, label, &der(&high.to_bytes()))).unwrap();
    assert_eq!(verify(&a, BODY), Ok(()));
    assert_eq!(verify(&b, BODY), Ok(()));
    assert_eq!(a.replay_digest(), b.replay_digest());
    assert_eq!(a.signature_bytes(), b.signature_bytes());
}

#[test]
fn secp256k1_high_s_is_refused() {
    let sk = k256::ecdsa::SigningKey::from_bytes(&[0x22; 32].into()).unwrap();
    let sig: k256::ecdsa::Signature = sk.sign_prehash(&eip191_digest(BODY)).unwrap();
    let neg_s = -*sig.s();
    let high = k256::ecdsa::Signature::from_scalars(sig.r().to_repr(), neg_s.to_repr()).unwrap();
    let pk = hex::encode(sk.verifying_key().to_encoded_point(true).as_bytes());
    let label = StampScheme::Secp256k1Eip191.label();
    assert!(parse(&header(&pk, label, &der(&sig.to_bytes()))).is_ok());
    assert_eq!(
        parse(&header(&pk, label, &der(&high.to_bytes()))).map(|_| ()),
        Err(StampError::HighS)
    );
}

#[test]
fn fixed_width_der_is_accepted_for_p256_too() {
    // The wallet (secp256k1) case is the vector eth_fixed_width_der.
    // Search deterministic bodies for a signature with r < 2^248 whose
    // fixed-width INTEGER (as @turnkey/crypto writes it) is not minimal.
    let sk = p256_signer();
    let pk = hex::encode(sk.verifying_key().to_encoded_point(true).as_bytes());
    let found = (0..20_000u32).find_map(|i| {
        let body = format!(r#"{{"n":{i}}}"#);
        let sig: p256::ecdsa::Signature = sk.sign(body.as_bytes());
        let rs = sig.to_bytes();
        (rs[0] == 0 && rs[1] < 0x80).then_some((body, rs))
    });
    let (body, rs) = found.expect("a short r within 20,000 signatures");
    let fixed_int = |x: &[u8]| {
        let mut v = vec![2u8];
        if x[0] & 0x80 != 0 {
            v.push(33);
            v.push(0);
        } else {
            v.push(32);
        }
        v.extend_from_slice(x);
        v
    };
    let inner = [fixed_int(&rs[..32]), fixed_int(&rs[32..])].concat();
    let mut fixed = vec![0x30, inner.len() as u8];
    fixed.extend(inner);
    assert_ne!(
        hex::encode(&fixed),
        der(&rs),
        "must differ from canonical DER"
    );
    let h = header(&pk, StampScheme::P256.label(), &hex::encode(&fixed));
    assert_eq!(outcome(&h, body.as_bytes()), Ok(()));
}

#[test]
fn wrong_scheme_labels_fail() {
    let ed = ed_stamp(BODY);
    let p = p256_stamp(BODY);
    let relabel = |h: &str, to: StampScheme| {
        let raw = URL_SAFE_NO_PAD.decode(h).unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        v["scheme"] = to.label().into();
        URL_SAFE_NO_PAD.encode(v.to_string())
    };
    assert_eq!(
        outcome(&relabel(&ed, StampScheme::P256), BODY),
        Err(StampError::BadPublicKey)
    );
    assert_eq!(
        outcome(&relabel(&p, StampScheme::Ed25519), BODY),
        Err(StampError::BadPublicKey)
    );
    // The fixed P-256 key's x is not on secp256k1, so the key itself is refused.
    assert_eq!(
        outcome(&relabel(&p, StampScheme::Secp256k1Eip191), BODY),
        Err(StampError::BadPublicKey)
    );
    assert_eq!(
        outcome(&relabel(&ed, StampScheme::Secp256k1Eip191), BODY),
        Err(StampError::BadPublicKey)
    );
}

/// Every single-character change of a valid header either fails or yields
/// the same key and signature (a hex-case flip); none panics.
#[test]
fn single_character_mutations_never_yield_another_valid_stamp() {
    // A few characters from each class: base64url letters/digits, its two
    // specials, standard-base64 specials, padding, whitespace.
    let alphabet = b"Ahz4-_+/= ";
    for h in [p256_stamp(BODY), k256_stamp(BODY), ed_stamp(BODY)] {
        let reference = parse(&h).unwrap();
        let mut accepted = 0;
        for pos in 0..h.len() {
            for &c in alphabet {
                let mut m = h.clone().into_bytes();
                if m[pos] == c {
                    continue;
                }
                m[pos] = c;
                if let Ok(stamp) = parse_bytes(&m) {
                    if verify(&stamp, BODY).is_ok() {
                        accepted += 1;
                        assert_eq!(stamp.key_id(), reference.key_id());
                        assert_eq!(stamp.replay_digest(), reference.replay_digest());
                    }
                }
            }
        }
        // a few case flips inside hex are expected, not many
        assert!(accepted < 64, "{accepted} mutations accepted");
    }
}

/// The one orchestrator with `st`, every key in `stamps` registered.
fn orchestrator(
    st: crate::settings::StampsSection,
    stamps: &[&str],
) -> (crate::verify::Authenticator, crate::runtime::AuthRuntime) {
    use crate::credential::CredentialKind;
    use crate::store::{memory::MemoryStore, KeyRecord};
    let records = stamps.iter().map(|h| {
        let s = parse(h).unwrap();
        let rec = KeyRecord {
            id: s.public_key().to_hex(),
            kind: CredentialKind::Stamp,
            subject: "signer".into(),
            workspace: None,
            scopes: vec![],
            allow: vec![],
            usage: None,
            expires_at: None,
            disabled: false,
            minted: None,
            signing: None,
            limits: Default::default(),
        };
        (key_digest(s.scheme(), s.public_key()), rec)
    });
    let store = std::sync::Arc::new(MemoryStore::new(records.collect::<Vec<_>>()));
    let cache = crate::cache::IdentityCache::new(
        100,
        std::time::Duration::from_secs(60),
        std::time::Duration::from_secs(5),
    );
    (
        crate::verify::Authenticator::new(cache),
        crate::runtime::AuthRuntime::minimal(store, st),
    )
}

#[tokio::test]
async fn the_orchestrator_runs_the_checks_in_order() {
    use crate::credential::{CredentialKind, KindSet};
    use crate::error::Refusal;
    let p = p256_stamp(BODY);
    let (auth, rt) = orchestrator(
        crate::settings::StampsSection {
            schemes: vec![StampScheme::P256, StampScheme::Ed25519],
            max_body: 256,
            ..Default::default()
        },
        &[&p],
    );
    let accept = KindSet::from_iter([CredentialKind::Stamp]);
    let now = 1_700_000_030_000;
    let run = |h: String, body: Vec<u8>, at: u64| {
        let (auth, rt) = (&auth, &rt);
        async move {
            auth.authenticate_stamp_at(rt, accept, &h, &body, true, at)
                .await
                .map(|id| (id.credential_id.clone(), id.scheme))
        }
    };
    let refused = |e: StampError| Err(Refusal::InvalidStamp(e.reason()));
    assert_eq!(
        run(p.clone(), vec![b' '; 257], now).await,
        refused(StampError::BodyTooLarge)
    );
    assert_eq!(
        run(k256_stamp(BODY), BODY.to_vec(), now).await,
        refused(StampError::SchemeNotAllowed)
    );
    assert_eq!(
        run(p.clone(), b"{}".to_vec(), now).await,
        refused(StampError::BadSignature)
    );
    assert_eq!(
        run(p.clone(), BODY.to_vec(), now + 3_600_000).await,
        refused(StampError::Stale)
    );
    // the stale attempt was not remembered, so this first fresh use passes
    assert_eq!(
        run(p.clone(), BODY.to_vec(), now).await,
        Ok((p256_parts(BODY).0, Some(StampScheme::P256.label())))
    );
    assert_eq!(
        run(p.clone(), BODY.to_vec(), now).await,
        refused(StampError::Replayed)
    );
    assert_eq!(
        run(ed_stamp(b"{}"), b"{}".to_vec(), now).await,
        refused(StampError::MissingTimestamp)
    );
    // a valid stamp by a key nobody registered
    let unregistered = ed_stamp(BODY);
    assert_eq!(
        run(unregistered, BODY.to_vec(), now).await,
        Err(Refusal::InvalidStamp("unknown_key"))
    );
}

#[test]
fn scheme_labels_round_trip() {
    for s in StampScheme::ALL {
        assert_eq!(StampScheme::from_label(s.label()), Some(s));
        assert_eq!(StampScheme::from_label(&s.label().to_lowercase()), None);
    }
}
