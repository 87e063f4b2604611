//! Requests signed by an independent client (`http-message-signatures`
//! 3.0.0 from PyPI, `tests/fixtures/httpsig/edge.json`, made by
//! `gen_edge.py`) pass authgate's edge verifier with ed25519 and P-256
//! keys registered like stamp keys, for GET with a query, DELETE and POST
//! with a `Content-Digest`; changing the method, path, query or body, or
//! presenting them after the window, fails each one.

use authgate_core::cache::IdentityCache;
use authgate_core::credential::extract::Presented;
use authgate_core::credential::{CredentialKind, KindSet};
use authgate_core::error::Refusal;
use authgate_core::policy::Requirements;
use authgate_core::runtime::AuthRuntime;
use authgate_core::settings::StampsSection;
use authgate_core::store::{memory::MemoryStore, KeyRecord};
use authgate_core::verify::httpsig_auth::CARRIER;
use authgate_core::verify::stamp::{key_digest, normalise_key, StampScheme};
use authgate_core::verify::{Authenticator, RequestView, Verification};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/httpsig/edge.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn scheme(alg: &str) -> StampScheme {
    match alg {
        "ed25519" => StampScheme::Ed25519,
        _ => StampScheme::P256,
    }
}

fn runtime(cases: &[Value]) -> AuthRuntime {
    let records = cases.iter().map(|c| {
        let s = scheme(c["alg"].as_str().unwrap());
        let key = normalise_key(s, c["keyid"].as_str().unwrap()).unwrap();
        (
            key_digest(s, &key),
            KeyRecord {
                id: format!("signer_{}", c["alg"].as_str().unwrap()),
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
            },
        )
    });
    let stamps = StampsSection {
        schemes: vec![StampScheme::Ed25519, StampScheme::P256],
        window: Duration::from_secs(300),
        ..Default::default()
    };
    AuthRuntime::minimal(Arc::new(MemoryStore::new(records)), stamps)
}

struct Case {
    method: Method,
    authority: String,
    path: String,
    query: Option<String>,
    body: Vec<u8>,
    headers: HeaderMap,
    created: i64,
}

impl Case {
    fn from(c: &Value) -> Self {
        let mut headers = HeaderMap::new();
        for (k, v) in c["headers"].as_object().unwrap() {
            headers.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v.as_str().unwrap()).unwrap(),
            );
        }
        Case {
            method: Method::from_bytes(c["method"].as_str().unwrap().as_bytes()).unwrap(),
            authority: c["authority"].as_str().unwrap().into(),
            path: c["path"].as_str().unwrap().into(),
            query: c["query"].as_str().map(str::to_string),
            body: c["body"].as_str().unwrap_or("").as_bytes().to_vec(),
            headers,
            created: c["created"].as_i64().unwrap(),
        }
    }
}

async fn verify(rt: &AuthRuntime, c: &Case, now: i64) -> Result<CredentialKind, Refusal> {
    let auth = Authenticator::new(IdentityCache::new(
        100,
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
    let v = Verification {
        rt,
        requirements: &reqs,
        request: RequestView {
            method: &c.method,
            scheme: "https",
            authority: Some(&c.authority),
            path: &c.path,
            query: c.query.as_deref(),
            headers: &c.headers,
        },
        presented: Presented {
            value: "",
            carrier: CARRIER,
        },
        body: Some(&c.body),
        body_streams: false,
    };
    auth.authenticate_message_signature(&v, now)
        .await
        .map(|id| id.kind)
}

fn reason(r: Result<CredentialKind, Refusal>) -> &'static str {
    match r {
        Err(Refusal::InvalidSignature(reason)) => reason,
        other => panic!("expected a refused signature, got {other:?}"),
    }
}

#[tokio::test]
async fn an_independent_clients_signatures_verify_and_tampering_fails() {
    let f = fixture();
    let cases = f["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 6);
    for c in cases {
        let what = format!("{} {}", c["alg"], c["method"]);
        // Each case on a fresh runtime: the replay guard must not link them.
        let case = Case::from(c);
        let at = case.created + 1;
        assert_eq!(
            verify(&runtime(cases), &case, at).await.unwrap(),
            CredentialKind::Stamp,
            "{what}"
        );
        // Replayed on the same runtime.
        let rt = runtime(cases);
        verify(&rt, &case, at).await.unwrap();
        assert_eq!(reason(verify(&rt, &case, at).await), "replayed", "{what}");
        // Too late.
        assert_eq!(
            reason(verify(&runtime(cases), &case, at + 3600).await),
            "signature_expired",
            "{what}"
        );
        let tamper = |f: &dyn Fn(&mut Case)| {
            let mut t = Case::from(c);
            f(&mut t);
            t
        };
        let method = tamper(&|t| t.method = Method::PATCH);
        assert_eq!(
            reason(verify(&runtime(cases), &method, at).await),
            "bad_signature",
            "{what}"
        );
        let path = tamper(&|t| t.path.push_str("/x"));
        assert_eq!(
            reason(verify(&runtime(cases), &path, at).await),
            "bad_signature",
            "{what}"
        );
        let authority = tamper(&|t| t.authority = "evil.example.com:8443".into());
        assert_eq!(
            reason(verify(&runtime(cases), &authority, at).await),
            "bad_signature",
            "{what}"
        );
        if case.query.is_some() {
            let query = tamper(&|t| t.query = Some("limit=1000".into()));
            assert_eq!(
                reason(verify(&runtime(cases), &query, at).await),
                "bad_signature",
                "{what}"
            );
        }
        if !case.body.is_empty() {
            let body = tamper(&|t| t.body = b"{}".to_vec());
            assert_eq!(
                reason(verify(&runtime(cases), &body, at).await),
                "digest_mismatch",
                "{what}"
            );
        }
    }
}
