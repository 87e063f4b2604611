//! Criterion benches for each hot-path stage: extract+sniff, API-key cache
//! hit and miss (store lookup), JWT cache hit and cold verify per algorithm,
//! and the full decision for a request with a warm cache.
//!
//! Next to each `jwt/cold/<alg>` sit two references on the same token:
//! `jwt/floor/<alg>`, the bare aws-lc-rs signature check with a key parsed
//! once (the crypto floor a first-sight verify cannot beat), and
//! `jwt/jsonwebtoken_decode/<alg>`, `jsonwebtoken::decode` with the same
//! validation rules (which parses the key on every call).

use authgate::cache::IdentityCache;
use authgate::config::{parse, validate::validate, Runtime};
use authgate::credential::cli::{mint_record, stanza, CreateArgs};
use authgate::credential::digest::{sha256, Digester};
use authgate::credential::extract::extract;
use authgate::credential::{CredentialKind, KindSet};
use authgate::policy::decide::decide;
use authgate::policy::router::{Access, RouteMatch};
use authgate::verify::{jwt, opaque, Authenticator};
use aws_lc_rs::hmac;
use aws_lc_rs::signature::{self, ParsedPublicKey};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use std::hint::black_box;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jwt")
}

struct World {
    rt: Runtime,
    api_key: String,
    tokens: Vec<(&'static str, String)>,
}

const ALGS: [(&str, &str, &str); 4] = [
    ("HS256", "keys/hs256.secret", "secret_file"),
    ("RS256", "keys/rsa.pub.pem", "public_key_file"),
    ("ES256", "keys/ec256.pub.pem", "public_key_file"),
    ("EdDSA", "keys/ed25519.pub.pem", "public_key_file"),
];

fn world() -> World {
    let args = CreateArgs::new(CredentialKind::ApiKey, "key_bench", "svc", "acme", &[]);
    let minted = mint_record("mantyx_", CredentialKind::ApiKey, &Digester::Sha256, &args);
    let mut cfg = String::from(
        r#"
[upstreams.api]
backends = ["127.0.0.1:3000"]
[[credentials.prefixes]]
prefix = "mantyx_"
kind = "api_key"
[[routes]]
path = "/api/v1/workspaces/{workspace}/agent-runs"
upstream = "api"
auth = { accept = ["api_key", "jwt"], scopes = ["runs:read"] }
"#,
    );
    for (alg, file, field) in ALGS {
        cfg.push_str(&format!(
            "[[jwt.issuers]]\nname = \"{alg}\"\nissuer = \"https://{alg}.test\"\nalgorithms = [\"{alg}\"]\n{field} = \"{file}\"\nworkspace_claim = \"namespace\"\n"
        ));
    }
    cfg.push_str(&stanza(&[minted.record]));
    let rt = validate(parse(&cfg, "bench").unwrap(), &fixtures(), None).unwrap();
    let tokens = ALGS
        .iter()
        .map(|(alg, _, _)| {
            let key = match *alg {
                "HS256" => EncodingKey::from_secret(&read("keys/hs256.secret")),
                "RS256" => EncodingKey::from_rsa_pem(&read("keys/rsa.key.pem")).unwrap(),
                "ES256" => EncodingKey::from_ec_pem(&read("keys/ec256.key.pem")).unwrap(),
                _ => EncodingKey::from_ed_pem(&read("keys/ed25519.key.pem")).unwrap(),
            };
            let claims = serde_json::json!({"iss": format!("https://{alg}.test"), "sub": "u", "namespace": "acme",
                "scope": "runs:read", "exp": 4102444800u64});
            let alg_enum: Algorithm = alg.parse().unwrap();
            (*alg, jsonwebtoken::encode(&Header::new(alg_enum), &claims, &key).unwrap())
        })
        .collect();
    World {
        rt,
        api_key: minted.credential.expose().to_string(),
        tokens,
    }
}

fn read(p: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(p)).unwrap()
}

/// The DER inside a PEM file.
fn pem_der(pem: &[u8]) -> Vec<u8> {
    let body: String = std::str::from_utf8(pem)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    STANDARD.decode(body).unwrap()
}

/// The crypto floor of one algorithm: a key parsed once, outside the loop.
enum FloorKey {
    Hmac(Box<hmac::Key>),
    Public(ParsedPublicKey),
}

impl FloorKey {
    fn new(alg: &str) -> Self {
        let public = |a: &'static dyn signature::VerificationAlgorithm, p: &str| {
            Self::Public(ParsedPublicKey::new(a, pem_der(&read(p))).unwrap())
        };
        match alg {
            "HS256" => Self::Hmac(Box::new(hmac::Key::new(
                hmac::HMAC_SHA256,
                &read("keys/hs256.secret"),
            ))),
            "RS256" => public(&signature::RSA_PKCS1_2048_8192_SHA256, "keys/rsa.pub.pem"),
            "ES256" => public(&signature::ECDSA_P256_SHA256_FIXED, "keys/ec256.pub.pem"),
            _ => public(&signature::ED25519, "keys/ed25519.pub.pem"),
        }
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        match self {
            Self::Hmac(k) => hmac::verify(k, msg, sig).is_ok(),
            Self::Public(k) => k.verify_sig(msg, sig).is_ok(),
        }
    }
}

/// `jsonwebtoken::decode` as authgate used it: key and rules of the bench issuer.
fn jsonwebtoken_setup(alg: &str) -> (DecodingKey, Validation) {
    let key = match alg {
        "HS256" => DecodingKey::from_secret(&read("keys/hs256.secret")),
        "RS256" => DecodingKey::from_rsa_pem(&read("keys/rsa.pub.pem")).unwrap(),
        "ES256" => DecodingKey::from_ec_pem(&read("keys/ec256.pub.pem")).unwrap(),
        _ => DecodingKey::from_ed_pem(&read("keys/ed25519.pub.pem")).unwrap(),
    };
    let mut v = Validation::new(alg.parse().unwrap());
    v.leeway = 30;
    v.validate_nbf = true;
    v.validate_aud = false;
    v.set_issuer(&[format!("https://{alg}.test")]);
    v.set_required_spec_claims(&["exp", "iss"]);
    (key, v)
}

fn benches(c: &mut Criterion) {
    let w = world();
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let auth = Authenticator::new(IdentityCache::new(
        100_000,
        std::time::Duration::from_secs(60),
        std::time::Duration::from_secs(5),
    ));
    let accept: KindSet = [CredentialKind::ApiKey, CredentialKind::Jwt]
        .into_iter()
        .collect();
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "authorization",
        format!("Bearer {}", w.api_key).parse().unwrap(),
    );

    c.bench_function("extract+sniff/api_key", |b| {
        b.iter(|| {
            let p = extract(black_box(&headers), 4096).unwrap().unwrap();
            black_box(w.rt.auth.prefixes.sniff(p.value));
        })
    });
    c.bench_function("sniff/jwt", |b| {
        b.iter(|| black_box(w.rt.auth.prefixes.sniff(black_box(&w.tokens[0].1))))
    });

    let presented = extract(&headers, 4096).unwrap().unwrap();
    tokio
        .block_on(auth.authenticate(&w.rt.auth, accept, presented))
        .unwrap();
    c.bench_function("api_key/cache_hit", |b| {
        b.to_async(&tokio).iter(|| async {
            black_box(
                auth.authenticate(&w.rt.auth, accept, presented)
                    .await
                    .unwrap(),
            )
        })
    });
    let sha = sha256(w.api_key.as_bytes());
    c.bench_function("api_key/miss_store_lookup", |b| {
        b.to_async(&tokio).iter(|| async {
            black_box(
                opaque::verify(&w.rt.auth, CredentialKind::ApiKey, &sha)
                    .await
                    .unwrap(),
            )
        })
    });

    let mut group = c.benchmark_group("jwt");
    for (alg, token) in &w.tokens {
        let mut h = http::HeaderMap::new();
        h.insert("authorization", format!("Bearer {token}").parse().unwrap());
        let p = extract(&h, 4096).unwrap().unwrap();
        tokio
            .block_on(auth.authenticate(&w.rt.auth, accept, p))
            .unwrap();
        group.bench_with_input(BenchmarkId::new("cache_hit", alg), &p, |b, p| {
            b.to_async(&tokio).iter(|| async {
                black_box(auth.authenticate(&w.rt.auth, accept, *p).await.unwrap())
            })
        });
        group.bench_with_input(BenchmarkId::new("cold", alg), token, |b, t| {
            b.to_async(&tokio)
                .iter(|| async { black_box(jwt::verify(&w.rt.auth.issuers, t).await) })
        });
        let floor = FloorKey::new(alg);
        let (msg, sig) = token.rsplit_once('.').unwrap();
        let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        assert!(floor.verify(msg.as_bytes(), &sig), "floor {alg}");
        group.bench_function(BenchmarkId::new("floor", alg), |b| {
            b.iter(|| black_box(floor.verify(black_box(msg.as_bytes()), black_box(&sig))))
        });
        let (key, validation) = jsonwebtoken_setup(alg);
        group.bench_with_input(
            BenchmarkId::new("jsonwebtoken_decode", alg),
            token,
            |b, t| {
                b.iter(|| {
                    black_box(
                        jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
                            t,
                            &key,
                            &validation,
                        )
                        .unwrap(),
                    )
                })
            },
        );
    }
    group.finish();

    let path = "/api/v1/workspaces/acme/agent-runs";
    c.bench_function("decision/full_warm", |b| {
        b.to_async(&tokio).iter(|| async {
            let RouteMatch::Found(route, params) = w.rt.router.find(None, &http::Method::GET, path)
            else {
                panic!("no route")
            };
            let Access::Protected(reqs) = &route.access else {
                panic!("public")
            };
            let p = extract(&headers, 4096).unwrap().unwrap();
            let id = auth.authenticate(&w.rt.auth, reqs.accept, p).await.unwrap();
            decide(reqs, &id, |n| params.get(n), "workspace", false).unwrap();
            let mut up = headers.clone();
            w.rt.headers.strip(&mut up);
            w.rt.headers.inject(&mut up, &id).unwrap();
            black_box(up)
        })
    });
}

criterion_group!(hot_path, benches);
criterion_main!(hot_path);
