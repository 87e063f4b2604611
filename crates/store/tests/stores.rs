//! Both stores against the real thing (SQLite in a temp file, PostgreSQL on
//! loopback in a database of the test's own): the same operations, the same
//! answers. Create, conflict, lookup by digest, list with filters and a
//! cursor, update, revoke, rotate with an overlap deadline, the change
//! feed, migrations that run once, and batched `last_used_at`.

mod common;

use authgate_core::actor::{ActorKind, Minted};
use authgate_core::credential::CredentialKind;
use authgate_store::{
    KeyPatch, KeyStore, ListFilter, NewKey, Nonce, NonceCaps, RefreshToken, RefreshUse, WriteError,
};
use std::sync::Arc;

fn key(id: &str, ws: &str, subject: &str, n: u8) -> NewKey {
    NewKey {
        id: id.into(),
        digest: [n; 32],
        kind: CredentialKind::ApiKey,
        subject: subject.into(),
        workspace: Some(ws.into()),
        scopes: vec!["runs:read".into()],
        allow: vec![],
        usage: None,
        expires_at: None,
        scheme: None,
        public_key: None,
        metadata: serde_json::json!({"team": "infra"}),
        rotated_from: None,
        minted: None,
        rate_limit: None,
        quota: None,
    }
}

fn nonce(n: &str, address: &str, ip: &str, expires_at: i64) -> Nonce {
    Nonce {
        nonce: n.into(),
        address: address.into(),
        client_id: "web".into(),
        chain_id: 1,
        session_key: "ab".repeat(32),
        ip: ip.into(),
        message: format!("sign {n}"),
        expires_at,
    }
}

/// Sign-in challenges: issued within bounds, read back whole, consumed
/// once, void once expired.
async fn nonces(s: &Arc<dyn KeyStore>) {
    let later = authgate_store::now() + 300;
    let caps = NonceCaps {
        total: 5,
        per_address: 2,
        per_client: 4,
        per_ip: 2,
    };
    let n1 = nonce("nonceAAA1", "0xA", "10.0.0.1", later);
    s.put_nonce(&n1, &caps).await.unwrap();
    assert_eq!(s.get_nonce("nonceAAA1").await.unwrap(), Some(n1.clone()));
    s.put_nonce(&nonce("nonceAAA2", "0xA", "10.0.0.2", later), &caps)
        .await
        .unwrap();
    let third = s
        .put_nonce(&nonce("nonceAAA3", "0xA", "10.0.0.3", later), &caps)
        .await;
    assert!(
        matches!(&third, Err(WriteError::Conflict(m)) if m.contains("address")),
        "{third:?}"
    );
    s.put_nonce(&nonce("nonceBBB1", "0xB", "10.0.0.1", later), &caps)
        .await
        .unwrap();
    let by_ip = s
        .put_nonce(&nonce("nonceCCC1", "0xC", "10.0.0.1", later), &caps)
        .await;
    assert!(
        matches!(&by_ip, Err(WriteError::Conflict(m)) if m.contains("ip")),
        "{by_ip:?}"
    );
    s.put_nonce(&nonce("nonceDDD1", "0xD", "10.0.0.9", later), &caps)
        .await
        .unwrap();
    let by_client = s
        .put_nonce(&nonce("nonceEEE1", "0xE", "10.0.0.8", later), &caps)
        .await;
    assert!(
        matches!(&by_client, Err(WriteError::Conflict(m)) if m.contains("client")),
        "{by_client:?}"
    );
    // Consumed once: a second consumer (another instance) gets false.
    assert!(s.consume_nonce("nonceAAA1").await.unwrap());
    assert!(!s.consume_nonce("nonceAAA1").await.unwrap());
    assert_eq!(s.get_nonce("nonceAAA1").await.unwrap(), None);
    assert!(!s.consume_nonce("never").await.unwrap());
    // Expired: not readable, and purged when the next one is issued.
    let gone = nonce("nonceOLD1", "0xF", "10.0.0.7", authgate_store::now() - 1);
    s.put_nonce(&gone, &caps).await.unwrap();
    assert_eq!(s.get_nonce("nonceOLD1").await.unwrap(), None);
    s.put_nonce(
        &nonce("nonceNEW1", "0xG", "10.0.0.6", later),
        &NonceCaps {
            per_client: 100,
            ..caps
        },
    )
    .await
    .unwrap();
    assert!(!s.consume_nonce("nonceOLD1").await.unwrap(), "purged");
}

fn refresh(digest: &str, family: &str, subject: &str, expires_at: i64) -> RefreshToken {
    RefreshToken {
        digest: digest.into(),
        family: family.into(),
        subject: subject.into(),
        namespace: "app".into(),
        expires_at,
    }
}

/// Refresh tokens: an exchange spends the token and stores its successor
/// in the same family; the spent one presented again revokes the family;
/// without rotation a token stays active; logout revokes one or all of a
/// subject's; expired tokens are void.
async fn refresh_tokens(s: &Arc<dyn KeyStore>) {
    let later = authgate_store::now() + 3600;
    let t1 = refresh("d1", "fam1", "0xA", later);
    s.put_refresh(&t1).await.unwrap();
    let t2 = refresh("d2", "other", "0xA", later);
    let used = s.use_refresh("d1", "app", Some(&t2)).await.unwrap();
    assert_eq!(used, RefreshUse::Valid(t1.clone()));
    // The successor joined t1's family, whatever family it was given.
    let t3 = refresh("d3", "x", "0xA", later);
    assert!(matches!(
        s.use_refresh("d2", "app", Some(&t3)).await.unwrap(),
        RefreshUse::Valid(t) if t.family == "fam1"
    ));
    // d1 again: reuse of a spent token revokes the whole family (d1, d2
    // spent, d3 active).
    assert_eq!(
        s.use_refresh("d1", "app", None).await.unwrap(),
        RefreshUse::Reused(3)
    );
    assert_eq!(
        s.use_refresh("d3", "app", None).await.unwrap(),
        RefreshUse::Invalid
    );
    assert_eq!(
        s.use_refresh("nope", "app", None).await.unwrap(),
        RefreshUse::Invalid
    );

    // No successor: the token stays usable.
    let k = refresh("k1", "fam2", "0xB", later);
    s.put_refresh(&k).await.unwrap();
    for _ in 0..2 {
        assert_eq!(
            s.use_refresh("k1", "app", None).await.unwrap(),
            RefreshUse::Valid(k.clone())
        );
    }
    // Exchanged for another namespace: invalid, and the token is untouched.
    assert_eq!(
        s.use_refresh("k1", "other", Some(&refresh("k2", "x", "0xB", later)))
            .await
            .unwrap(),
        RefreshUse::Invalid
    );
    assert_eq!(
        s.use_refresh("k1", "app", None).await.unwrap(),
        RefreshUse::Valid(k.clone())
    );
    // Logout one: wrong namespace does nothing, the right one revokes.
    assert!(!s.revoke_refresh("k1", "elsewhere").await.unwrap());
    assert!(s.revoke_refresh("k1", "app").await.unwrap());
    assert!(!s.revoke_refresh("k1", "app").await.unwrap(), "once");
    assert_eq!(
        s.use_refresh("k1", "app", None).await.unwrap(),
        RefreshUse::Invalid
    );

    // Logout all of a subject's, in one namespace only.
    for d in ["m1", "m2"] {
        s.put_refresh(&refresh(d, d, "0xC", later)).await.unwrap();
    }
    let mut elsewhere = refresh("m3", "m3", "0xC", later);
    elsewhere.namespace = "other".into();
    s.put_refresh(&elsewhere).await.unwrap();
    assert_eq!(s.revoke_refresh_all("0xC", "app").await.unwrap(), 2);
    assert_eq!(
        s.use_refresh("m1", "app", None).await.unwrap(),
        RefreshUse::Invalid
    );
    assert!(matches!(
        s.use_refresh("m3", "other", None).await.unwrap(),
        RefreshUse::Valid(_)
    ));

    // Eight exchanges of one token at once (as from eight instances): one
    // wins; the next finds it spent, which is reuse: the family goes (and
    // later ones find it revoked).
    s.put_refresh(&refresh("c0", "famc", "0xE", later))
        .await
        .unwrap();
    let racers = (0..8).map(|i| {
        let s = s.clone();
        tokio::spawn(async move {
            let next = refresh(&format!("c{}", i + 1), "x", "0xE", later);
            s.use_refresh("c0", "app", Some(&next)).await.unwrap()
        })
    });
    let outcomes = futures_util::future::join_all(racers).await;
    let wins = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(RefreshUse::Valid(_))))
        .count();
    assert_eq!(wins, 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, Ok(RefreshUse::Reused(_)))),
        "{outcomes:?}"
    );
    assert!(outcomes.iter().all(|o| o.is_ok()));
    for i in 1..=8 {
        assert_eq!(
            s.use_refresh(&format!("c{i}"), "app", None).await.unwrap(),
            RefreshUse::Invalid,
            "the winner's successor went with the family"
        );
    }

    // Expired: void.
    let old = refresh("e1", "e1", "0xD", authgate_store::now() - 1);
    s.put_refresh(&old).await.unwrap();
    assert_eq!(
        s.use_refresh("e1", "app", None).await.unwrap(),
        RefreshUse::Invalid
    );
}

/// Replay claims: the first claim of a digest wins, a second (as from
/// another instance) is a replay while the claim lives; an expired claim
/// is taken over; eight racing claims have one winner; the purge deletes
/// expired claims.
async fn replay_claims(s: &Arc<dyn KeyStore>) {
    let now = authgate_store::now();
    assert_eq!(s.claim_once(&[1; 32], now + 60).await.unwrap(), Some(true));
    assert_eq!(s.claim_once(&[1; 32], now + 60).await.unwrap(), Some(false));
    assert_eq!(s.claim_once(&[2; 32], now + 60).await.unwrap(), Some(true));
    // An expired claim is taken over, once.
    assert_eq!(s.claim_once(&[3; 32], now - 1).await.unwrap(), Some(true));
    assert_eq!(s.claim_once(&[3; 32], now + 60).await.unwrap(), Some(true));
    assert_eq!(s.claim_once(&[3; 32], now + 60).await.unwrap(), Some(false));
    let racers = (0..8).map(|_| {
        let s = s.clone();
        tokio::spawn(async move { s.claim_once(&[4; 32], now + 60).await.unwrap() })
    });
    let wins = futures_util::future::join_all(racers)
        .await
        .into_iter()
        .filter(|o| matches!(o, Ok(Some(true))))
        .count();
    assert_eq!(wins, 1);
    assert_eq!(s.claim_once(&[5; 32], now - 10).await.unwrap(), Some(true));
    let purged = s.purge(0, 0).await.unwrap();
    assert!(purged.replays >= 1, "{purged:?}");
    assert_eq!(
        s.claim_once(&[1; 32], now + 60).await.unwrap(),
        Some(false),
        "live claims stay"
    );
}

async fn exercise(s: Arc<dyn KeyStore>) {
    let v = s.migrate().await.unwrap();
    assert_eq!(v, 6);
    assert_eq!(s.migrate().await.unwrap(), 6, "migrations run once");
    assert_eq!(s.schema_version().await.unwrap(), 6);
    let head0 = s.head().await.unwrap();
    nonces(&s).await;
    refresh_tokens(&s).await;
    replay_claims(&s).await;

    let a = s.create(key("k_a", "acme", "alice", 1)).await.unwrap();
    assert_eq!(a.metadata["team"], "infra");
    assert!(a.created_at > 0 && a.revoked_at.is_none());
    s.create(key("k_b", "acme", "bob", 2)).await.unwrap();
    s.create(key("k_c", "other", "alice", 3)).await.unwrap();
    assert!(matches!(
        s.create(key("k_a", "acme", "x", 9)).await,
        Err(WriteError::Conflict(_))
    ));
    assert!(
        matches!(
            s.create(key("k_new", "acme", "x", 1)).await,
            Err(WriteError::Conflict(_))
        ),
        "a digest is unique"
    );

    // Lookup by digest: the verifiers' view.
    let rec = s.lookup(&[1; 32]).await.unwrap().unwrap();
    assert_eq!((rec.id.as_str(), rec.disabled), ("k_a", false));
    assert!(s.lookup(&[7; 32]).await.unwrap().is_none());

    // List: filters and cursor paging by id.
    let all = |f: ListFilter| {
        let s = s.clone();
        async move {
            s.list(&f)
                .await
                .unwrap()
                .into_iter()
                .map(|k| k.id)
                .collect::<Vec<_>>()
        }
    };
    let f = |ws: Option<&str>, subject: Option<&str>, after: Option<&str>, limit| ListFilter {
        workspace: ws.map(Into::into),
        kind: None,
        subject: subject.map(Into::into),
        after: after.map(Into::into),
        limit,
    };
    assert_eq!(all(f(Some("acme"), None, None, 10)).await, ["k_a", "k_b"]);
    assert_eq!(all(f(None, Some("alice"), None, 10)).await, ["k_a", "k_c"]);
    assert_eq!(all(f(None, None, None, 2)).await, ["k_a", "k_b"]);
    assert_eq!(all(f(None, None, Some("k_b"), 2)).await, ["k_c"]);
    let mut by_kind = f(None, None, None, 10);
    by_kind.kind = Some(CredentialKind::ServerKey);
    assert!(all(by_kind).await.is_empty());

    // Update: scopes, expiry, disable, then enable.
    let patch = KeyPatch {
        scopes: Some(vec!["runs:write".into()]),
        expires_at: Some(Some(4_000_000_000)),
        disabled: Some(true),
        ..Default::default()
    };
    let b = s.update("k_b", &patch).await.unwrap().unwrap();
    assert_eq!(b.scopes, ["runs:write"]);
    assert_eq!(b.expires_at, Some(4_000_000_000));
    assert!(s.lookup(&[2; 32]).await.unwrap().unwrap().disabled);
    let enable = KeyPatch {
        disabled: Some(false),
        expires_at: Some(None),
        ..Default::default()
    };
    let b = s.update("k_b", &enable).await.unwrap().unwrap();
    assert_eq!(b.expires_at, None);
    assert!(!s.lookup(&[2; 32]).await.unwrap().unwrap().disabled);
    assert!(s.update("nope", &enable).await.unwrap().is_none());

    // Revoke: for good, read as disabled.
    let c = s.revoke("k_c").await.unwrap().unwrap();
    assert!(c.revoked_at.is_some());
    assert!(s.lookup(&[3; 32]).await.unwrap().unwrap().disabled);
    assert!(s.revoke("nope").await.unwrap().is_none());

    // Rotate: the successor exists, the old key expires at the deadline.
    let mut next = key("k_a2", "acme", "alice", 4);
    next.rotated_from = Some("k_a".into());
    let (old, new) = s.rotate("k_a", next, 1_900_000_000).await.unwrap().unwrap();
    assert_eq!(old.expires_at, Some(1_900_000_000));
    assert_eq!(new.rotated_from.as_deref(), Some("k_a"));
    assert_eq!(
        s.get("k_a").await.unwrap().unwrap().expires_at,
        Some(1_900_000_000)
    );

    // Every change is in the feed, in order, with its digest.
    let changes = s.changes_since(head0).await.unwrap();
    let digests: Vec<u8> = changes.iter().map(|c| c.digest[0]).collect();
    assert_eq!(digests, [1, 2, 3, 2, 2, 3, 1, 4]);
    assert!(changes.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(s.head().await.unwrap(), changes.last().unwrap().seq);
    let later = s.changes_since(changes[5].seq).await.unwrap();
    assert_eq!(later.len(), 2);

    // last_used_at: recorded by lookups, written in a batch.
    assert!(s.get("k_b").await.unwrap().unwrap().last_used_at.is_none());
    s.lookup(&[2; 32]).await.unwrap();
    assert!(s.flush_usage().await.unwrap() >= 1);
    assert!(s.get("k_b").await.unwrap().unwrap().last_used_at.is_some());
    assert_eq!(s.flush_usage().await.unwrap(), 0, "the batch was emptied");
    minted(&s).await;
}

fn child(id: &str, parent: &str, n: u8, expires_at: Option<i64>) -> NewKey {
    let mut k = key(id, "acme", "u_1", n);
    k.kind = CredentialKind::EphemeralKey;
    k.expires_at = expires_at;
    k.minted = Some(Minted {
        actor_kind: ActorKind::User,
        actor_id: "u_1".into(),
        parent_id: parent.into(),
    });
    k
}

/// Minted keys: written only under an active server key, never outliving
/// it, read back with their actor; revocation and rotation of the parent
/// cascade with a change entry per child; the purge removes what expired
/// or was revoked long ago and old change entries, keeping the newest.
async fn minted(s: &Arc<dyn KeyStore>) {
    let now = authgate_store::now();
    let mut parent = key("srv_p", "acme", "app", 60);
    parent.kind = CredentialKind::ServerKey;
    parent.expires_at = Some(now + 600);
    s.create(parent).await.unwrap();
    // Capped at the parent's expiry.
    let c1 = s
        .create(child("ek_1", "srv_p", 61, Some(now + 3600)))
        .await
        .unwrap();
    assert_eq!(c1.expires_at, Some(now + 600));
    assert_eq!(c1.parent_id.as_deref(), Some("srv_p"));
    let rec = s.lookup(&[61; 32]).await.unwrap().unwrap();
    let m = rec.minted.as_deref().unwrap();
    assert_eq!(
        (m.actor_kind, m.actor_id.as_str()),
        (ActorKind::User, "u_1")
    );
    assert!(!rec.disabled);
    s.create(child("ek_2", "srv_p", 62, Some(now + 60)))
        .await
        .unwrap();
    // No parent, or a parent that is not an active server key: nothing written.
    for (id, parent, n) in [("ek_x", "nobody", 63), ("ek_y", "k_b", 64)] {
        assert!(matches!(
            s.create(child(id, parent, n, None)).await,
            Err(WriteError::ParentInactive(_))
        ));
        assert!(s.get(id).await.unwrap().is_none());
    }
    let mut children = s.children("srv_p").await.unwrap();
    children.sort();
    assert_eq!(children, [[61; 32], [62; 32]]);

    // Revocation cascades, one change entry per child.
    let before = s.head().await.unwrap();
    s.revoke("srv_p").await.unwrap().unwrap();
    let changed: Vec<u8> = s
        .changes_since(before)
        .await
        .unwrap()
        .iter()
        .map(|c| c.digest[0])
        .collect();
    assert_eq!(changed.len(), 3, "{changed:?}");
    assert!(changed.contains(&61) && changed.contains(&62) && changed.contains(&60));
    for n in [61, 62] {
        assert!(s.lookup(&[n; 32]).await.unwrap().unwrap().disabled);
    }
    assert!(matches!(
        s.create(child("ek_3", "srv_p", 65, None)).await,
        Err(WriteError::ParentInactive(_))
    ));

    // Rotation caps the children at the overlap deadline.
    let mut rot = key("srv_r", "acme", "app", 70);
    rot.kind = CredentialKind::ServerKey;
    s.create(rot).await.unwrap();
    s.create(child("ek_r", "srv_r", 71, Some(now + 3600)))
        .await
        .unwrap();
    let mut next = key("srv_r2", "acme", "app", 72);
    next.kind = CredentialKind::ServerKey;
    s.rotate("srv_r", next, now + 5).await.unwrap().unwrap();
    assert_eq!(
        s.get("ek_r").await.unwrap().unwrap().expires_at,
        Some(now + 5)
    );

    // A child whose actor cannot be read is refused (fail closed).
    // (Written straight through the model: the API never makes one.)
    let mut broken = child("ek_b", "srv_r2", 73, None).stored(now);
    broken.actor_kind = Some("admin".into());
    assert!(broken.to_record().disabled);

    // The purge: revoked children (ek_1, ek_2) are older than a cut-off in
    // the future; the newest change entry always stays.
    let head = s.head().await.unwrap();
    let p = s.purge(now + 10_000, now + 10_000).await.unwrap();
    assert!(p.keys >= 3, "{p:?}");
    assert!(p.changes >= 1, "{p:?}");
    for id in ["ek_1", "ek_2", "ek_r"] {
        assert!(s.get(id).await.unwrap().is_none(), "{id} purged");
    }
    assert!(
        s.get("srv_p").await.unwrap().is_some(),
        "only minted keys are purged"
    );
    assert_eq!(s.head().await.unwrap(), head, "the newest change is kept");
    assert!(s.changes_since(0).await.unwrap().len() == 1);
    // Nothing left to purge at a cut-off in the past.
    let p = s.purge(now - 10_000, now - 10_000).await.unwrap();
    assert_eq!((p.keys, p.changes), (0, 0));
}

#[tokio::test]
async fn sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/keys.db");
    let s = authgate_store::open(&format!("sqlite://{}", path.display()), dir.path()).unwrap();
    exercise(s).await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the database file is private");
    }
    // Reopened: the data and the schema version are still there.
    let again = authgate_store::open(&format!("sqlite:{}", path.display()), dir.path()).unwrap();
    assert_eq!(again.schema_version().await.unwrap(), 6);
    assert!(again.get("k_a2").await.unwrap().is_some());
}

#[tokio::test]
async fn postgres_store() {
    let db = common::TempDb::new().await;
    let s = authgate_store::open(&db.url, std::path::Path::new(".")).unwrap();
    assert_eq!(s.schema_version().await.unwrap(), 0, "a fresh database");
    exercise(s.clone()).await;
    assert!(!s.describe().contains("secret"));
}

#[tokio::test]
async fn postgres_notifications_wake_a_waiter() {
    let db = common::TempDb::new().await;
    let a = authgate_store::open(&db.url, std::path::Path::new(".")).unwrap();
    let b = authgate_store::open(&db.url, std::path::Path::new(".")).unwrap();
    a.migrate().await.unwrap();
    // b subscribes (its first wait returns at once: the catch-up wake).
    b.wait_change(std::time::Duration::from_secs(5)).await;
    let waiter = tokio::spawn(async move {
        let started = std::time::Instant::now();
        b.wait_change(std::time::Duration::from_secs(30)).await;
        started.elapsed()
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    a.create(key("k_n", "acme", "n", 5)).await.unwrap();
    let waited = waiter.await.unwrap();
    assert!(
        waited < std::time::Duration::from_secs(10),
        "the notification did not wake the waiter ({waited:?})"
    );
}

#[tokio::test]
async fn a_bad_url_is_an_error_not_a_panic() {
    assert!(authgate_store::open("mysql://x", std::path::Path::new(".")).is_err());
    let s = authgate_store::open(
        "postgres://root@127.0.0.1:1/none",
        std::path::Path::new("."),
    )
    .unwrap();
    assert!(s.lookup(&[0; 32]).await.is_err(), "unreachable is an error");
}

async fn import_all_or_nothing(s: Arc<dyn KeyStore>) {
    s.migrate().await.unwrap();
    let many: Vec<NewKey> = (0..1000u32)
        .map(|i| {
            let mut k = key(&format!("imp_{i:04}"), "acme", "bulk", 0);
            k.digest[..4].copy_from_slice(&i.to_be_bytes());
            k.digest[31] = 0xaa;
            k
        })
        .collect();
    assert_eq!(s.import(many.clone()).await.unwrap(), 1000);
    let mut d = [0u8; 32];
    d[..4].copy_from_slice(&999u32.to_be_bytes());
    d[31] = 0xaa;
    assert_eq!(s.lookup(&d).await.unwrap().unwrap().id, "imp_0999");
    // One duplicate: nothing of the second batch lands.
    let mut again: Vec<NewKey> = (0..10u32)
        .map(|i| {
            let mut k = key(&format!("new_{i}"), "acme", "bulk", 0);
            k.digest[..4].copy_from_slice(&(5000 + i).to_be_bytes());
            k
        })
        .collect();
    again.push(many[0].clone());
    assert!(matches!(
        s.import(again).await,
        Err(WriteError::Conflict(_)) | Err(WriteError::Store(_))
    ));
    assert!(s.get("new_0").await.unwrap().is_none(), "all or nothing");
}

#[tokio::test]
async fn sqlite_import() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/k.db", dir.path().display());
    import_all_or_nothing(authgate_store::open(&url, dir.path()).unwrap()).await;
}

#[tokio::test]
async fn postgres_import() {
    let db = common::TempDb::new().await;
    import_all_or_nothing(authgate_store::open(&db.url, std::path::Path::new(".")).unwrap()).await;
}
