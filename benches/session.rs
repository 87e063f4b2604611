//! Session-signed request verification against its floor (#15's target:
//! within 1.2× of the bare ed25519 verify): the whole stamp orchestrator
//! for a cached `session` key (parse the X-Stamp envelope, scheme
//! allow-list, strict ed25519 over the body, freshness, the identity cache,
//! the replay guard), next to `verify_strict` alone on the same body; and
//! the sign-in's own cost, recovering a wallet address from a SIWE
//! `personal_sign` signature.
//!
//! `cargo bench --bench session`; the ratio is printed at the end.

use authgate::cache::IdentityCache;
use authgate::credential::{CredentialKind, KindSet};
use authgate::settings::StampsSection;
use authgate::store::{memory::MemoryStore, KeyRecord};
use authgate::verify::stamp::{key_digest, normalise_key, StampScheme};
use authgate::verify::Authenticator;
use authgate::wallet::personal;
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use ed25519_dalek::Signer;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn bench(c: &mut Criterion) {
    let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let public = hex::encode(key.verifying_key().to_bytes());
    let normalised = normalise_key(StampScheme::Ed25519, &public).expect("key");
    let record = KeyRecord {
        id: "ses_bench".into(),
        kind: CredentialKind::Session,
        subject: "0x0000000000000000000000000000000000000001".into(),
        workspace: Some("acme".into()),
        scopes: vec![],
        allow: vec![],
        usage: None,
        expires_at: None,
        disabled: false,
        minted: None,
        signing: None,
        limits: Default::default(),
    };
    let store = Arc::new(MemoryStore::new([(
        key_digest(StampScheme::Ed25519, &normalised),
        record,
    )]));
    let stamps = StampsSection {
        window: Duration::from_secs(300),
        replay_capacity: 50_000_000,
        ..Default::default()
    };
    let rt = authgate::runtime::AuthRuntime::minimal(store, stamps);
    let auth = Authenticator::new(IdentityCache::new(
        1000,
        Duration::from_secs(60),
        Duration::from_secs(5),
    ));
    let accept = KindSet::from_iter([CredentialKind::Session]);
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut n = 0u64;
    // A fresh body per iteration (the replay guard refuses a repeat), signed
    // in the untimed setup.
    let mut fresh = || {
        n += 1;
        let body = format!(r#"{{"timestampMs":"{}","n":{n},"op":"create"}}"#, now_ms());
        let header = authgate::demo::ed25519_stamp(&key, &body);
        (header, body)
    };
    let (h, b) = fresh();
    let first = tokio.block_on(auth.authenticate_stamp(&rt, accept, &h, b.as_bytes(), true));
    assert_eq!(
        first.expect("a cached session").kind,
        CredentialKind::Session
    );

    let mut g = c.benchmark_group("session");
    g.bench_function("orchestrator_cached", |bch| {
        bch.iter_batched(
            &mut fresh,
            |(header, body)| {
                tokio
                    .block_on(auth.authenticate_stamp(
                        &rt,
                        accept,
                        black_box(&header),
                        black_box(body.as_bytes()),
                        true,
                    ))
                    .expect("valid")
            },
            BatchSize::SmallInput,
        )
    });
    let vk = key.verifying_key();
    // The floor proper: signatures made in setup, only the verify timed.
    g.bench_function("ed25519_verify_strict", |bch| {
        bch.iter_batched(
            || {
                let (_, body) = fresh();
                let sig = key.sign(body.as_bytes());
                (body, sig)
            },
            |(body, sig)| {
                vk.verify_strict(black_box(body.as_bytes()), black_box(&sig))
                    .expect("valid")
            },
            BatchSize::SmallInput,
        )
    });
    let wallet = k256::ecdsa::SigningKey::from_slice(&[7; 32]).expect("wallet");
    let message = "app.example.com wants you to sign in with your Ethereum account:\n0x0000000000000000000000000000000000000001\n\nSign in.\n\nURI: https://app.example.com\nVersion: 1\nChain ID: 1\nNonce: abcdefgh12345678\nIssued At: 2026-12-02T10:00:00.000Z";
    let digest = authgate::verify::stamp::eip191_digest(message.as_bytes());
    let (sig, id) = wallet.sign_prehash_recoverable(&digest).expect("sign");
    let mut raw = sig.to_bytes().to_vec();
    raw.push(27 + id.to_byte());
    let signature = format!("0x{}", hex::encode(raw));
    g.bench_function("signin_recover_address", |bch| {
        bch.iter(|| {
            personal::recover(black_box(message.as_bytes()), black_box(&signature))
                .expect("recover")
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
