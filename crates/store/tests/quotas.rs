//! Keys' own limits in both stores against the real thing: the rate limit
//! and quota a key is created with round-trip and reach the verifiers'
//! record; a quota is spent one at a time and never below zero, by racing
//! spenders too; a due refill resets it (daily and monthly, by UTC period);
//! a patch sets or removes either.

mod common;

use authgate_core::credential::CredentialKind;
use authgate_core::limits_keys::QuotaSpend;
use authgate_store::{
    KeyPatch, KeyRateLimit, KeyStore, NewKey, QuotaRefill, QuotaSetting, RefillInterval,
};
use std::sync::Arc;
use std::time::Duration;

fn key(id: &str, n: u8, quota: Option<QuotaSetting>) -> NewKey {
    NewKey {
        id: id.into(),
        digest: [n; 32],
        kind: CredentialKind::ApiKey,
        subject: "svc".into(),
        workspace: Some("acme".into()),
        scopes: vec![],
        allow: vec![],
        usage: None,
        expires_at: None,
        scheme: None,
        public_key: None,
        metadata: serde_json::json!({}),
        rotated_from: None,
        minted: None,
        rate_limit: Some(KeyRateLimit {
            rate: 10,
            per: Duration::from_secs(1),
            burst: Some(3),
        }),
        quota,
    }
}

async fn quotas(s: Arc<dyn KeyStore>) {
    s.migrate().await.unwrap();
    let now = authgate_store::now();
    let k = s
        .create(key(
            "q1",
            1,
            Some(QuotaSetting {
                remaining: 3,
                refill: None,
            }),
        ))
        .await
        .unwrap();
    let rec = s.lookup(&[1; 32]).await.unwrap().unwrap();
    assert!(rec.limits.quota);
    assert_eq!(rec.limits.rate.map(|r| (r.rate, r.burst)), Some((10, 3)));
    assert_eq!(k.quota.unwrap().remaining, 3);

    for left in [2, 1, 0] {
        assert_eq!(
            s.spend_quota("q1", now).await.unwrap(),
            QuotaSpend::Spent(left)
        );
    }
    assert_eq!(
        s.spend_quota("q1", now).await.unwrap(),
        QuotaSpend::Exhausted(None)
    );
    assert_eq!(
        s.get("q1").await.unwrap().unwrap().quota.unwrap().remaining,
        0
    );
    // A key without a quota, or no key: nothing to spend.
    s.create(key("free", 2, None)).await.unwrap();
    assert_eq!(
        s.spend_quota("free", now).await.unwrap(),
        QuotaSpend::Unlimited
    );
    assert_eq!(
        s.spend_quota("nope", now).await.unwrap(),
        QuotaSpend::Unlimited
    );

    // Racing spenders: exactly the quota is spent.
    let set = |remaining, refill| KeyPatch {
        quota: Some(Some(QuotaSetting { remaining, refill })),
        ..Default::default()
    };
    s.update("q1", &set(5, None)).await.unwrap();
    let racers = (0..16).map(|_| {
        let s = s.clone();
        tokio::spawn(async move { s.spend_quota("q1", now).await.unwrap() })
    });
    let spent = futures_util::future::join_all(racers)
        .await
        .into_iter()
        .filter(|r| matches!(r, Ok(QuotaSpend::Spent(_))))
        .count();
    assert_eq!(spent, 5);

    // Refills: not before the period turns, then back to the amount.
    let daily = QuotaRefill {
        amount: 2,
        interval: RefillInterval::Daily,
    };
    s.update("q1", &set(0, Some(daily))).await.unwrap();
    let tomorrow = RefillInterval::Daily.next_start(now);
    assert_eq!(
        s.spend_quota("q1", now).await.unwrap(),
        QuotaSpend::Exhausted(Some(tomorrow))
    );
    assert_eq!(
        s.spend_quota("q1", tomorrow).await.unwrap(),
        QuotaSpend::Spent(1)
    );
    assert_eq!(
        s.spend_quota("q1", tomorrow + 5).await.unwrap(),
        QuotaSpend::Spent(0)
    );
    assert!(matches!(
        s.spend_quota("q1", tomorrow + 10).await.unwrap(),
        QuotaSpend::Exhausted(_)
    ));
    let monthly = QuotaRefill {
        amount: 1,
        interval: RefillInterval::Monthly,
    };
    s.update("q1", &set(0, Some(monthly))).await.unwrap();
    assert!(matches!(
        s.spend_quota("q1", tomorrow).await.unwrap(),
        QuotaSpend::Exhausted(_)
    ));
    let next_month = RefillInterval::Monthly.next_start(now);
    assert_eq!(
        s.spend_quota("q1", next_month).await.unwrap(),
        QuotaSpend::Spent(0)
    );

    // Removed: unlimited; the record says so after the patch.
    let clear = KeyPatch {
        quota: Some(None),
        rate_limit: Some(None),
        ..Default::default()
    };
    let k = s.update("q1", &clear).await.unwrap().unwrap();
    assert_eq!((k.quota, k.rate_limit), (None, None));
    assert_eq!(
        s.spend_quota("q1", now).await.unwrap(),
        QuotaSpend::Unlimited
    );
    let rec = s.lookup(&[1; 32]).await.unwrap().unwrap();
    assert!(!rec.limits.quota && rec.limits.rate.is_none());
}

#[tokio::test]
async fn sqlite_quotas() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/keys.db", dir.path().display());
    quotas(authgate_store::open(&url, dir.path()).unwrap()).await;
}

#[tokio::test]
async fn postgres_quotas() {
    let db = common::TempDb::new().await;
    quotas(authgate_store::open(&db.url, std::path::Path::new(".")).unwrap()).await;
}
