//! The rate-limit stage's cost per admitted request (#17's target: a local
//! limit adds ≤ 0.3 µs on the cached path): one limit keyed by credential,
//! checked for 1,000 rotating credentials with a budget they never exhaust,
//! next to the same stage with no limit at all.
//!
//! `cargo bench --bench limits`.

use authgate::credential::CredentialKind;
use authgate::identity::Identity;
use authgate::store::KeyRecord;
use authgate_core::limits::{Limit, LimitKey, LimitSpec, RateLimits};
use authgate_core::policy::Requirements;
use authgate_core::stages::{Stage, StageInput};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use std::sync::Arc;
use std::time::Duration;

fn bench(c: &mut Criterion) {
    let ids: Vec<Identity> = (0..1000)
        .map(|i| {
            Identity::from_record(
                &KeyRecord {
                    id: format!("key_{i:04}"),
                    kind: CredentialKind::ApiKey,
                    subject: format!("svc-{i}"),
                    workspace: Some("acme".into()),
                    scopes: vec![],
                    allow: vec![],
                    usage: None,
                    expires_at: None,
                    disabled: false,
                    minted: None,
                    signing: None,
                    limits: Default::default(),
                },
                None,
            )
        })
        .collect();
    let limit = Limit::new(LimitSpec {
        name: "per-key".into(),
        key: LimitKey::Credential,
        rate: 1_000_000_000,
        per: Duration::from_secs(1),
        burst: 1_000_000,
        routes: vec![],
        kinds: vec![],
    })
    .expect("quota");
    let stage = RateLimits::new(vec![Arc::new(limit)]);
    let none = RateLimits::new(vec![]);
    let req = Requirements {
        accept: [CredentialKind::ApiKey].into_iter().collect(),
        all_scopes: vec![],
        any_scopes: vec![],
        usage: None,
        allow_param: None,
        require_timestamp: false,
        browser: false,
        signature: Default::default(),
    };
    let params: Vec<(String, String)> = vec![];
    let mut g = c.benchmark_group("rate_limits");
    for (name, chain) in [("one_limit_per_credential", &stage), ("no_limit", &none)] {
        let mut i = 0usize;
        g.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % ids.len();
                let input = StageInput {
                    route: "runs",
                    requirements: &req,
                    identity: &ids[i],
                    params: &params,
                    notes: None,
                    client_ip: None,
                };
                chain.check(black_box(&input)).expect("allowed")
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
