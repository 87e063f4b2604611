//! X-Stamp verification cost per scheme: parse alone, the whole parse +
//! verify, and the bare signature check of the underlying crate, on vectors
//! from the real clients (`tests/fixtures/stamps/vectors.json`).

use authgate::verify::stamp::{eip191_digest, parse, verify};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use k256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::ecdsa::signature::Verifier;
use serde::Deserialize;

#[derive(Deserialize)]
struct Vector {
    name: String,
    body: String,
    stamp: String,
}

struct Case {
    body: String,
    stamp: String,
    public_key: Vec<u8>,
    /// r ‖ s for ECDSA, R ‖ S for ed25519.
    signature: Vec<u8>,
}

fn case(name: &str) -> Case {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/stamps/vectors.json"
    );
    let text = std::fs::read_to_string(path).expect("vectors.json");
    let all: Vec<Vector> = serde_json::from_str(&text).expect("json");
    let v = all.into_iter().find(|v| v.name == name).expect(name);
    let raw = URL_SAFE_NO_PAD.decode(&v.stamp).expect("base64url");
    let m: serde_json::Value = serde_json::from_slice(&raw).expect("stamp json");
    let public_key = hex::decode(m["publicKey"].as_str().expect("key")).expect("hex");
    let stamp = parse(&v.stamp).expect("vector parses");
    Case {
        body: v.body,
        stamp: v.stamp,
        public_key,
        signature: stamp.signature_bytes().to_vec(),
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("stamp");

    let p = case("p256_node_string_ts");
    g.bench_function("p256/parse", |b| {
        b.iter(|| parse(black_box(&p.stamp)).expect("parse"))
    });
    g.bench_function("p256/parse+verify", |b| {
        b.iter(|| {
            let s = parse(black_box(&p.stamp)).expect("parse");
            verify(&s, black_box(p.body.as_bytes())).expect("verify")
        })
    });
    let pk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&p.public_key).expect("key");
    let ps = p256::ecdsa::Signature::from_slice(&p.signature).expect("sig");
    g.bench_function("p256/raw_crypto", |b| {
        b.iter(|| {
            pk.verify(black_box(p.body.as_bytes()), black_box(&ps))
                .expect("verify")
        })
    });

    let k = case("eth_viem_local");
    g.bench_function("secp256k1/parse", |b| {
        b.iter(|| parse(black_box(&k.stamp)).expect("parse"))
    });
    g.bench_function("secp256k1/parse+verify", |b| {
        b.iter(|| {
            let s = parse(black_box(&k.stamp)).expect("parse");
            verify(&s, black_box(k.body.as_bytes())).expect("verify")
        })
    });
    let kk = k256::ecdsa::VerifyingKey::from_sec1_bytes(&k.public_key).expect("key");
    let ks = k256::ecdsa::Signature::from_slice(&k.signature).expect("sig");
    g.bench_function("secp256k1/raw_crypto", |b| {
        b.iter(|| {
            kk.verify_prehash(&eip191_digest(black_box(k.body.as_bytes())), black_box(&ks))
                .expect("verify")
        })
    });

    let e = case("sol_noble_wallet");
    g.bench_function("ed25519/parse", |b| {
        b.iter(|| parse(black_box(&e.stamp)).expect("parse"))
    });
    g.bench_function("ed25519/parse+verify", |b| {
        b.iter(|| {
            let s = parse(black_box(&e.stamp)).expect("parse");
            verify(&s, black_box(e.body.as_bytes())).expect("verify")
        })
    });
    let ek_bytes: [u8; 32] = e.public_key.as_slice().try_into().expect("32 bytes");
    let ek = ed25519_dalek::VerifyingKey::from_bytes(&ek_bytes).expect("key");
    let es_bytes: [u8; 64] = e.signature.as_slice().try_into().expect("64 bytes");
    let es = ed25519_dalek::Signature::from_bytes(&es_bytes);
    g.bench_function("ed25519/raw_crypto", |b| {
        b.iter(|| {
            ek.verify_strict(black_box(e.body.as_bytes()), black_box(&es))
                .expect("verify")
        })
    });

    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
