//! The verifier seam end to end: a credential family authgate does not ship
//! (a header `x-test-sig`, detected by its own verifier) is registered with
//! `server::build_with` and works through the real proxy to a real upstream
//! on loopback, with no change to the proxy, the extractor or the carrier
//! list: the upstream sees the verified identity and never the credential,
//! and a bad value, a second credential or a route that does not accept the
//! kind are refused like any other.

mod common;

use async_trait::async_trait;
use authgate::credential::extract::{Carrier, Presented};
use authgate::credential::{CredentialKind, KindSet};
use authgate::error::Refusal;
use authgate::identity::Identity;
use authgate::verify::{Authenticator, Needs, RequestVerifier, Verification};
use common::*;
use http::{HeaderMap, HeaderName};
use std::sync::Arc;

static SIG: HeaderName = HeaderName::from_static("x-test-sig");
static HEADERS: [HeaderName; 1] = [HeaderName::from_static("x-test-sig")];

/// Accepts `x-test-sig: good-<subject>`, and only for GET (it reads the
/// request view, as an RFC 9421 verifier would).
struct TestSig;

#[async_trait]
impl RequestVerifier for TestSig {
    fn name(&self) -> &'static str {
        "test-sig"
    }
    fn carriers(&self) -> &'static [Carrier] {
        &[Carrier::Other("test-sig")]
    }
    fn kinds(&self) -> KindSet {
        KindSet::from_iter([CredentialKind::ApiKey])
    }
    fn needs(&self) -> Needs {
        Needs::Head
    }
    fn detect<'r>(&self, headers: &'r HeaderMap) -> Result<Option<Presented<'r>>, Refusal> {
        match headers.get(&SIG).map(|v| v.to_str()) {
            None => Ok(None),
            Some(Ok(value)) => Ok(Some(Presented {
                value,
                carrier: Carrier::Other("test-sig"),
            })),
            Some(Err(_)) => Err(Refusal::Malformed("test_sig")),
        }
    }
    fn headers(&self) -> &'static [HeaderName] {
        &HEADERS
    }
    async fn verify(
        &self,
        _auth: &Authenticator,
        v: Verification<'_>,
    ) -> Result<Arc<Identity>, Refusal> {
        if !v.requirements.accept.contains(CredentialKind::ApiKey) {
            return Err(Refusal::KindNotAccepted {
                accepts: v.requirements.accept.describe(),
            });
        }
        let subject = v
            .presented
            .value
            .strip_prefix("good-")
            .filter(|_| v.request.method == http::Method::GET)
            .ok_or(Refusal::InvalidToken("bad_test_sig"))?;
        let rec = authgate::store::KeyRecord {
            id: format!("sig_{subject}"),
            kind: CredentialKind::ApiKey,
            subject: subject.to_string(),
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
        Ok(Arc::new(Identity::from_record(&rec, None)))
    }
}

#[tokio::test]
async fn a_registered_verifier_works_through_the_real_proxy() {
    let up = Upstream::start();
    let (port, admin) = (free_port(), free_port());
    let cfg = format!(
        "{}\n[[routes]]\npath = \"/w/{{workspace}}/x\"\nupstream = \"echo\"\nauth = {{ accept = [\"api_key\"] }}\n\n[[routes]]\npath = \"/jwt-only\"\nupstream = \"echo\"\nauth = {{ accept = [\"jwt\"] }}\n",
        base_config(port, admin, up.addr)
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("authgate.toml");
    std::fs::write(&path, cfg).unwrap();
    let rt = authgate::config::load(&path).unwrap();
    let handle = authgate::config::reload::ConfigHandle::new(rt, Some(path));
    let server = authgate::server::build_with(handle, vec![Arc::new(TestSig)]).unwrap();
    std::thread::spawn(move || server.run(pingora::server::RunArgs::default()));
    let c = client();
    let url = format!("http://127.0.0.1:{port}/w/acme/x");
    assert!(
        eventually(std::time::Duration::from_secs(10), || async {
            c.get(&url).send().await.is_ok()
        })
        .await,
        "the in-process server never listened"
    );

    let ok = c
        .get(&url)
        .header("x-test-sig", "good-alice")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let seen = up.seen();
    let last = seen.last().expect("the upstream saw the request");
    let h = &last["headers"];
    assert_eq!(h["x-auth-subject"], "alice", "{last}");
    assert_eq!(h["x-auth-credential-id"], "sig_alice", "{last}");
    assert!(
        h.get("x-test-sig").is_none(),
        "the credential was forwarded: {last}"
    );
    let count = seen.len();

    // Refused like any credential, and never forwarded.
    let bad = c
        .get(&url)
        .header("x-test-sig", "evil")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let post = c
        .post(&url)
        .header("x-test-sig", "good-alice")
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 401, "the verifier saw the method");
    let foreign = c
        .get(format!("http://127.0.0.1:{port}/w/other/x"))
        .header("x-test-sig", "good-alice")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 404, "the stages ran after the verifier");
    let two = c
        .get(&url)
        .header("x-test-sig", "good-alice")
        .header("x-api-key", "mantyx_other")
        .send()
        .await
        .unwrap();
    assert_eq!(two.status(), 400, "two different credentials are ambiguous");
    let kind = c
        .get(format!("http://127.0.0.1:{port}/jwt-only"))
        .header("x-test-sig", "good-alice")
        .send()
        .await
        .unwrap();
    assert_eq!(kind.status(), 401);
    assert_eq!(
        up.seen().len(),
        count,
        "no refused request reached the upstream"
    );
}
