//! RFC 9421 message-signature verification against its floor (#16's target:
//! within 1.2× of the raw ed25519 verify): the whole edge verifier for a
//! cached stamp key (parse `Signature-Input` / `Signature` as structured
//! fields, the coverage and time policy, rebuild the signature base, the
//! cached key, strict ed25519, the identity cache, the replay guard), next
//! to `verify_strict` alone over the same base with a pre-parsed key.
//!
//! `cargo bench --bench httpsig`; the ratio is the two times printed.

use authgate::cache::IdentityCache;
use authgate::credential::extract::Presented;
use authgate::credential::{CredentialKind, KindSet};
use authgate::policy::Requirements;
use authgate::settings::StampsSection;
use authgate::store::{memory::MemoryStore, KeyRecord};
use authgate::verify::httpsig_auth::CARRIER;
use authgate::verify::stamp::{key_digest, normalise_key, StampScheme};
use authgate::verify::{Authenticator, RequestView, Verification};
use base64::Engine;
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use ed25519_dalek::Signer;
use http::{HeaderMap, HeaderValue, Method};
use std::sync::Arc;
use std::time::Duration;

const AUTHORITY: &str = "api.example.com";
const PATH: &str = "/api/v1/workspaces/acme/runs";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A signed GET (base, headers) with a fresh nonce.
fn signed(key: &ed25519_dalek::SigningKey, keyid: &str, n: u64) -> (String, HeaderMap) {
    let params = format!(
        r#"("@method" "@authority" "@path" "@query");created={};keyid="{keyid}";alg="ed25519";nonce="{n:016x}""#,
        now()
    );
    let base = format!(
        "\"@method\": GET\n\"@authority\": {AUTHORITY}\n\"@path\": {PATH}\n\"@query\": ?limit=10\n\"@signature-params\": {params}"
    );
    let sig = key.sign(base.as_bytes()).to_bytes();
    let mut h = HeaderMap::new();
    let v = |s: String| HeaderValue::from_str(&s).expect("header");
    h.insert("signature-input", v(format!("sig1={params}")));
    h.insert(
        "signature",
        v(format!(
            "sig1=:{}:",
            base64::engine::general_purpose::STANDARD.encode(sig)
        )),
    );
    (base, h)
}

fn bench(c: &mut Criterion) {
    let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let keyid = hex::encode(key.verifying_key().to_bytes());
    let normalised = normalise_key(StampScheme::Ed25519, &keyid).expect("key");
    let record = KeyRecord {
        id: "signer".into(),
        kind: CredentialKind::Stamp,
        subject: "svc".into(),
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
    let reqs = Requirements {
        accept: KindSet::from_iter([CredentialKind::Stamp]),
        all_scopes: vec![],
        any_scopes: vec![],
        usage: None,
        allow_param: None,
        require_timestamp: true,
        browser: false,
        signature: Default::default(),
    };
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let method = Method::GET;
    let mut n = 0u64;
    let verify = |headers: &HeaderMap| {
        let v = Verification {
            rt: &rt,
            requirements: &reqs,
            request: RequestView {
                method: &method,
                scheme: "https",
                authority: Some(AUTHORITY),
                path: PATH,
                query: Some("limit=10"),
                headers,
            },
            presented: Presented {
                value: "",
                carrier: CARRIER,
            },
            body: Some(&[]),
            body_streams: false,
        };
        tokio.block_on(auth.authenticate_message_signature(&v, now()))
    };
    // Warm the identity cache and the key cache.
    n += 1;
    let (_, h) = signed(&key, &keyid, n);
    assert_eq!(verify(&h).expect("valid").kind, CredentialKind::Stamp);

    let mut g = c.benchmark_group("httpsig");
    g.bench_function("edge_verifier_cached", |b| {
        b.iter_batched(
            || {
                n += 1;
                signed(&key, &keyid, n).1
            },
            |h| verify(black_box(&h)).expect("valid"),
            BatchSize::SmallInput,
        )
    });
    let vk = key.verifying_key();
    let mut m = 1u64 << 40;
    g.bench_function("ed25519_verify_strict", |b| {
        b.iter_batched(
            || {
                m += 1;
                let (base, _) = signed(&key, &keyid, m);
                let sig = key.sign(base.as_bytes());
                (base, sig)
            },
            |(base, sig)| {
                vk.verify_strict(black_box(base.as_bytes()), black_box(&sig))
                    .expect("valid")
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
