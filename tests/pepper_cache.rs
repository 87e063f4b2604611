//! With an HMAC pepper the store digest is not the credential's SHA-256:
//! the identity cache must be keyed by the store digest, so that dropping a
//! revoked credential's digest drops its cached verdict.

use authgate::cache::IdentityCache;
use authgate::config::{parse, validate::validate, Runtime};
use authgate::credential::cli::{mint_record, CreateArgs};
use authgate::credential::digest::Digester;
use authgate::credential::extract::{Carrier, Presented};
use authgate::credential::CredentialKind;
use authgate::error::Refusal;
use authgate::secret::Secret;
use authgate::store::memory::MemoryStore;
use authgate::store::KeyRecord;
use authgate::verify::Authenticator;
use std::sync::Arc;
use std::time::Duration;

fn runtime(digester: &Digester, records: Vec<([u8; 32], KeyRecord)>) -> Runtime {
    let cfg = "[upstreams.api]\nbackends = [\"127.0.0.1:3000\"]\n\
               [[credentials.prefixes]]\nprefix = \"mantyx_\"\nkind = \"api_key\"\n";
    let mut rt = validate(parse(cfg, "t").unwrap(), std::path::Path::new("."), None).unwrap();
    rt.auth.digester = digester.clone();
    rt.auth.store = Arc::new(MemoryStore::new(records));
    rt
}

#[tokio::test]
async fn a_peppered_digest_invalidates_its_cached_verdict() {
    let pepper = Digester::HmacSha256(Secret::new("pepper-0123456789".into()));
    let args = CreateArgs::new(CredentialKind::ApiKey, "k1", "s", "acme", &[]);
    let m = mint_record("mantyx_", CredentialKind::ApiKey, &pepper, &args);
    let cred = m.credential.expose().to_string();
    let digest = pepper.digest(&cred);
    let rec = KeyRecord {
        id: "k1".into(),
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
    let with_key = runtime(&pepper, vec![(digest, rec)]);
    // The same generation without the key: what a revocation leaves behind.
    let revoked = runtime(&pepper, vec![]);
    assert_eq!(with_key.auth.auth_generation, revoked.auth.auth_generation);
    let auth = Authenticator::new(IdentityCache::new(
        100,
        Duration::from_secs(600),
        Duration::from_secs(5),
    ));
    let accept = [CredentialKind::ApiKey].into_iter().collect();
    let presented = Presented {
        value: &cred,
        carrier: Carrier::Bearer,
    };
    assert!(auth
        .authenticate(&with_key.auth, accept, presented)
        .await
        .is_ok());
    assert!(
        auth.authenticate(&revoked.auth, accept, presented)
            .await
            .is_ok(),
        "served from the cache"
    );
    auth.cache().invalidate_digest(digest);
    assert_eq!(
        auth.authenticate(&revoked.auth, accept, presented)
            .await
            .unwrap_err(),
        Refusal::InvalidToken("unknown")
    );
}
