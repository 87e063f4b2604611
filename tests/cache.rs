//! The hot cache: concurrent misses collapse into one store lookup, unknown
//! credentials are negatively cached, store failures fail closed and are not
//! cached, and invalidation by credential id and digest works.

use async_trait::async_trait;
use authgate::cache::IdentityCache;
use authgate::config::{parse, validate::validate, Runtime};
use authgate::credential::cli::{mint_record, CreateArgs};
use authgate::credential::digest::{sha256, Digester};
use authgate::credential::extract::{Carrier, Presented};
use authgate::credential::{CredentialKind, KindSet};
use authgate::error::Refusal;
use authgate::store::{KeyRecord, Store, StoreError};
use authgate::verify::Authenticator;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Default)]
struct CountingStore {
    records: HashMap<[u8; 32], Arc<KeyRecord>>,
    lookups: AtomicUsize,
    broken: AtomicBool,
}

#[async_trait]
impl Store for CountingStore {
    async fn lookup(&self, digest: &[u8; 32]) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(50)).await;
        if self.broken.load(Ordering::SeqCst) {
            return Err(StoreError::unavailable("down"));
        }
        Ok(self.records.get(digest).cloned())
    }
    fn name(&self) -> &'static str {
        "counting"
    }
}

fn runtime(store: Arc<CountingStore>) -> Runtime {
    let cfg = r#"
[upstreams.api]
backends = ["127.0.0.1:3000"]
[[credentials.prefixes]]
prefix = "mantyx_"
kind = "api_key"
"#;
    let mut rt = validate(parse(cfg, "t").unwrap(), std::path::Path::new("."), None).unwrap();
    rt.auth.store = store;
    rt
}

fn mint(id: &str) -> (String, [u8; 32], KeyRecord) {
    let args = CreateArgs::new(CredentialKind::ApiKey, id, "s", "acme", &[]);
    let m = mint_record("mantyx_", CredentialKind::ApiKey, &Digester::Sha256, &args);
    let cred = m.credential.expose().to_string();
    let rec = KeyRecord {
        id: id.into(),
        kind: CredentialKind::ApiKey,
        subject: "s".into(),
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
    (cred.clone(), sha256(cred.as_bytes()), rec)
}

fn presented(v: &str) -> Presented<'_> {
    Presented {
        value: v,
        carrier: Carrier::Bearer,
    }
}

fn accept() -> KindSet {
    [CredentialKind::ApiKey].into_iter().collect()
}

/// A store holding one minted key `id`, and an authenticator whose cache
/// trusts valid verdicts for `ttl`: (credential, digest, store, runtime, auth).
fn one_key(
    id: &str,
    ttl: Duration,
) -> (
    String,
    [u8; 32],
    Arc<CountingStore>,
    Arc<Runtime>,
    Authenticator,
) {
    let (cred, digest, rec) = mint(id);
    let mut store = CountingStore::default();
    store.records.insert(digest, Arc::new(rec));
    let store = Arc::new(store);
    let rt = Arc::new(runtime(store.clone()));
    let auth = Authenticator::new(IdentityCache::new(1000, ttl, Duration::from_secs(5)));
    (cred, digest, store, rt, auth)
}

/// The credential ids `n` concurrent authentications of `cred` got.
async fn concurrently(
    n: usize,
    auth: &Authenticator,
    rt: &Arc<Runtime>,
    cred: &str,
) -> Vec<String> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (auth, rt, cred) = (auth.clone(), rt.clone(), cred.to_string());
            tokio::spawn(async move {
                auth.authenticate(&rt.auth, accept(), presented(&cred))
                    .await
                    .map(|i| i.credential_id.clone())
            })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap().unwrap());
    }
    ids
}

#[tokio::test]
async fn concurrent_misses_collapse_into_one_lookup() {
    let (cred, digest, store, rt, auth) = one_key("k1", Duration::from_secs(60));
    for id in concurrently(32, &auth, &rt, &cred).await {
        assert_eq!(id, "k1");
    }
    assert_eq!(store.lookups.load(Ordering::SeqCst), 1);

    // Invalidation by credential id forces the next request to the store.
    auth.cache().invalidate_credential_id("k1");
    auth.cache().sync().await;
    auth.authenticate(&rt.auth, accept(), presented(&cred))
        .await
        .unwrap();
    assert_eq!(store.lookups.load(Ordering::SeqCst), 2);
    // And by digest.
    auth.cache().invalidate_digest(digest);
    auth.cache().sync().await;
    auth.authenticate(&rt.auth, accept(), presented(&cred))
        .await
        .unwrap();
    assert_eq!(store.lookups.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_stale_entry_is_verified_again_once_for_all_concurrent_callers() {
    // A TTL far from the time the first two calls take (even on a loaded
    // machine), and a sleep past it.
    let (cred, _, store, rt, auth) = one_key("k4", Duration::from_secs(1));
    auth.authenticate(&rt.auth, accept(), presented(&cred))
        .await
        .unwrap();
    auth.authenticate(&rt.auth, accept(), presented(&cred))
        .await
        .unwrap();
    assert_eq!(store.lookups.load(Ordering::SeqCst), 1);
    // Past the TTL the entry is still held (no timed eviction) but never
    // served: the next callers re-verify, and only one of them asks the store.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for id in concurrently(16, &auth, &rt, &cred).await {
        assert_eq!(id, "k4");
    }
    assert_eq!(store.lookups.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn unknown_keys_hit_the_store_once_per_negative_ttl() {
    let store = Arc::new(CountingStore::default());
    let rt = runtime(store.clone());
    let auth = Authenticator::new(IdentityCache::new(
        1000,
        Duration::from_secs(60),
        // Far from the time ten refusals take, even on a loaded machine.
        Duration::from_secs(1),
    ));
    let (cred, _, _) = mint("ghost");
    for _ in 0..10 {
        let r = auth
            .authenticate(&rt.auth, accept(), presented(&cred))
            .await;
        assert_eq!(r.unwrap_err(), Refusal::InvalidToken("unknown"));
    }
    assert_eq!(store.lookups.load(Ordering::SeqCst), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(auth
        .authenticate(&rt.auth, accept(), presented(&cred))
        .await
        .is_err());
    assert_eq!(
        store.lookups.load(Ordering::SeqCst),
        2,
        "the negative entry must expire"
    );
    // Garbage that fails the checksum never reaches the store at all.
    assert_eq!(
        auth.authenticate(&rt.auth, accept(), presented("mantyx_not-a-minted-key"))
            .await
            .unwrap_err(),
        Refusal::InvalidToken("bad_checksum")
    );
    assert_eq!(store.lookups.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn store_failures_fail_closed_and_are_not_cached() {
    let (cred, digest, rec) = mint("k2");
    let mut store = CountingStore::default();
    store.records.insert(digest, Arc::new(rec));
    store.broken.store(true, Ordering::SeqCst);
    let store = Arc::new(store);
    let rt = runtime(store.clone());
    let auth = Authenticator::new(IdentityCache::new(
        1000,
        Duration::from_secs(60),
        Duration::from_secs(5),
    ));
    assert_eq!(
        auth.authenticate(&rt.auth, accept(), presented(&cred))
            .await
            .unwrap_err(),
        Refusal::StoreUnavailable
    );
    store.broken.store(false, Ordering::SeqCst);
    assert!(
        auth.authenticate(&rt.auth, accept(), presented(&cred))
            .await
            .is_ok(),
        "a store error must not be cached"
    );
}

#[tokio::test]
async fn entries_expire_with_the_credential() {
    let (cred, digest, mut rec) = mint("k3");
    // Expiry is in whole seconds: two of them leave the first call at
    // least one second (a loaded machine can take a while to get there),
    // and the sleep goes past the end whatever the fraction was at mint.
    rec.expires_at = Some(authgate::verify::unix_now() + 2);
    let mut store = CountingStore::default();
    store.records.insert(digest, Arc::new(rec));
    let store = Arc::new(store);
    let rt = runtime(store.clone());
    let auth = Authenticator::new(IdentityCache::new(
        1000,
        Duration::from_secs(600),
        Duration::from_secs(5),
    ));
    assert!(auth
        .authenticate(&rt.auth, accept(), presented(&cred))
        .await
        .is_ok());
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(
        auth.authenticate(&rt.auth, accept(), presented(&cred))
            .await
            .unwrap_err(),
        Refusal::InvalidToken("expired")
    );
}
