//! X-Stamp vectors produced by the real npm clients (`tests/fixtures/stamps`,
//! see its README): every vector must give its expected outcome. No Node
//! needed; the vectors are checked in.

use authgate::cache::IdentityCache;
use authgate::credential::{CredentialKind, KindSet};
use authgate::error::Refusal;
use authgate::runtime::AuthRuntime;
use authgate::settings::StampsSection;
use authgate::store::{memory::MemoryStore, KeyRecord};
use authgate::verify::stamp::{
    check_freshness, key_digest, parse, verify, ReplayGuard, StampError, StampScheme,
    DEFAULT_TIMESTAMP_FIELD,
};
use authgate::verify::Authenticator;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// The fixture's clock (README: T0 + 30 s) and window.
const NOW_MS: u64 = 1_700_000_030_000;
const WINDOW: Duration = Duration::from_secs(300);
const LEEWAY: Duration = Duration::from_secs(30);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Vector {
    name: String,
    scheme: String,
    body: String,
    stamp: String,
    public_key: Option<String>,
    expect: String,
    fresh: bool,
    replay_group: Option<String>,
    client: String,
    #[allow(dead_code)]
    note: String,
}

fn vectors() -> Vec<Vector> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/stamps/vectors.json"
    );
    let text = std::fs::read_to_string(path).expect("read vectors.json");
    serde_json::from_str(&text).expect("parse vectors.json")
}

/// parse → verify → freshness → replay, as the module documents the order.
fn run(v: &Vector, guard: &ReplayGuard) -> Result<String, StampError> {
    let stamp = parse(&v.stamp)?;
    verify(&stamp, v.body.as_bytes())?;
    check_freshness(
        v.body.as_bytes(),
        DEFAULT_TIMESTAMP_FIELD,
        NOW_MS,
        WINDOW,
        LEEWAY,
        true,
    )?;
    guard.check_and_remember(&stamp)?;
    Ok(stamp.key_id())
}

fn outcome(result: &Result<String, StampError>) -> &'static str {
    match result {
        Ok(_) => "valid",
        Err(e) => e.reason(),
    }
}

/// One guard per replay group (vectors in file order), a new one otherwise.
fn guards(vectors: &[Vector]) -> BTreeMap<String, ReplayGuard> {
    vectors
        .iter()
        .filter_map(|v| v.replay_group.clone())
        .map(|g| (g, ReplayGuard::for_window(WINDOW, LEEWAY, 1000)))
        .collect()
}

#[test]
fn every_vector_gives_its_expected_outcome() {
    let vectors = vectors();
    let groups = guards(&vectors);
    let mut failures = Vec::new();
    for v in &vectors {
        let own = ReplayGuard::for_window(WINDOW, LEEWAY, 10);
        let guard = v.replay_group.as_ref().map_or(&own, |g| &groups[g]);
        let result = run(v, guard);
        let got = outcome(&result);
        if got != v.expect {
            failures.push(format!("{}: expected {}, got {got}", v.name, v.expect));
            continue;
        }
        if let Ok(key_id) = &result {
            if v.public_key.as_deref() != Some(key_id.as_str()) {
                failures.push(format!(
                    "{}: key id {key_id}, expected {:?}",
                    v.name, v.public_key
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The production orchestrator over every vector whose stamp parses, its
/// key registered: one runtime (one replay guard) per replay group.
fn orchestrator(vectors: &[Vector]) -> (Authenticator, AuthRuntime) {
    let records: Vec<_> = vectors
        .iter()
        .filter_map(|v| parse(&v.stamp).ok())
        .map(|s| {
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
        })
        .collect();
    let st = StampsSection {
        window: WINDOW,
        leeway: LEEWAY,
        ..StampsSection::default()
    };
    let cache = IdentityCache::new(1000, Duration::from_secs(60), Duration::from_secs(5));
    (
        Authenticator::new(cache),
        AuthRuntime::minimal(Arc::new(MemoryStore::new(records)), st),
    )
}

#[tokio::test]
async fn the_orchestrator_agrees_with_the_step_by_step_run() {
    let vectors = vectors();
    let accept = KindSet::from_iter([CredentialKind::Stamp]);
    let mut groups: BTreeMap<String, (Authenticator, AuthRuntime)> = BTreeMap::new();
    for v in &vectors {
        let fresh;
        let (auth, rt) = match &v.replay_group {
            Some(g) => groups
                .entry(g.clone())
                .or_insert_with(|| orchestrator(&vectors)),
            None => {
                fresh = orchestrator(&vectors);
                &fresh
            }
        };
        let got = auth
            .authenticate_stamp_at(rt, accept, &v.stamp, v.body.as_bytes(), true, NOW_MS)
            .await;
        match got {
            Ok(id) => {
                assert_eq!(v.expect, "valid", "{}", v.name);
                assert_eq!(Some(&id.credential_id), v.public_key.as_ref(), "{}", v.name);
                assert_eq!(id.scheme, Some(v.scheme.as_str()), "{}", v.name);
            }
            Err(Refusal::InvalidStamp(reason)) => assert_eq!(reason, v.expect, "{}", v.name),
            Err(other) => panic!("{}: {other:?}", v.name),
        }
    }
}

#[test]
fn fresh_flags_match_check_freshness() {
    for v in vectors() {
        let fresh = check_freshness(
            v.body.as_bytes(),
            DEFAULT_TIMESTAMP_FIELD,
            NOW_MS,
            WINDOW,
            LEEWAY,
            true,
        )
        .is_ok();
        assert_eq!(fresh, v.fresh, "{}", v.name);
    }
}

#[test]
fn a_replayed_stamp_passes_again_on_a_new_guard() {
    // The replay verdict comes from the guard, not from the stamp.
    for v in vectors().iter().filter(|v| v.expect == "replayed") {
        let guard = ReplayGuard::for_window(WINDOW, LEEWAY, 10);
        assert!(run(v, &guard).is_ok(), "{}", v.name);
        assert_eq!(run(v, &guard), Err(StampError::Replayed), "{}", v.name);
    }
}

#[test]
fn vectors_cover_every_scheme_and_outcome() {
    let vectors = vectors();
    let outcomes: BTreeSet<&str> = vectors.iter().map(|v| v.expect.as_str()).collect();
    for want in [
        "valid",
        "bad_signature",
        "high_s",
        "stale",
        "replayed",
        "stamp_encoding",
        "stamp_json",
        "unknown_scheme",
        "bad_public_key",
        "bad_signature_encoding",
        "missing_timestamp",
        "bad_timestamp",
    ] {
        assert!(outcomes.contains(want), "no vector expects {want}");
    }
    for scheme in StampScheme::ALL {
        let from_client = vectors
            .iter()
            .filter(|v| {
                v.scheme == scheme.label()
                    && v.expect == "valid"
                    && v.client.starts_with("@turnkey")
            })
            .count();
        assert!(
            from_client >= 2,
            "{scheme:?}: {from_client} valid client vectors"
        );
    }
}

/// Decode a stamp's JSON members without the module (to inspect raw encodings).
fn members(stamp: &str) -> serde_json::Map<String, serde_json::Value> {
    let raw = URL_SAFE_NO_PAD.decode(stamp).expect("base64url");
    serde_json::from_slice(&raw).expect("json")
}

/// (r, s) INTEGER contents of a DER signature, leniently.
fn der_ints(sig_hex: &str) -> (Vec<u8>, Vec<u8>) {
    let b = hex::decode(sig_hex).expect("hex");
    let r_len = usize::from(b[3]);
    let r = b[4..4 + r_len].to_vec();
    let s_len = usize::from(b[5 + r_len]);
    let s = b[6 + r_len..6 + r_len + s_len].to_vec();
    (r, s)
}

/// What the real clients emit, as the README documents it.
#[test]
fn client_encodings_are_as_documented() {
    let vectors = vectors();
    let by_name = |n: &str| {
        vectors
            .iter()
            .find(|v| v.name == n)
            .unwrap_or_else(|| panic!("{n}"))
    };
    for v in vectors.iter().filter(|v| v.client.starts_with("@turnkey")) {
        assert!(
            v.stamp
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{}: not unpadded base64url",
            v.name
        );
        let m = members(&v.stamp);
        let keys: Vec<&str> = m.keys().map(String::as_str).collect();
        assert_eq!(keys, ["publicKey", "scheme", "signature"], "{}", v.name);
        let sig = m["signature"].as_str().unwrap_or_default();
        assert!(
            sig.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
            "{}",
            v.name
        );
    }
    // api-key-stamper (Node runtime) emits high-S DER: s above n/2 (n/2 ≈ 7fffffff80…).
    let (_, s) = der_ints(
        members(&by_name("p256_node_high_s_natural").stamp)["signature"]
            .as_str()
            .unwrap(),
    );
    assert!(s.len() == 33 && s[0] == 0 && s[1] >= 0x80, "not high-S");
    // wallet-stamper's DER can be fixed-width (non-minimal) and its key is compressed.
    let eth = members(&by_name("eth_fixed_width_der").stamp);
    let (r, s) = der_ints(eth["signature"].as_str().unwrap());
    let non_minimal = |c: &[u8]| c.len() > 1 && c[0] == 0 && c[1] < 0x80;
    assert!(
        non_minimal(&r) || non_minimal(&s),
        "fixed-width vector is minimal DER"
    );
    assert_eq!(eth["publicKey"].as_str().unwrap().len(), 66);
    // the uncompressed-key vector really carries 65 bytes
    let unc = members(&by_name("p256_uncompressed_key").stamp);
    assert!(unc["publicKey"].as_str().unwrap().starts_with("04"));
}
