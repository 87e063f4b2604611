//! From a presented credential to a verified [`Identity`]. The
//! [`Authenticator`] holds the hot cache and the registry of
//! [`RequestVerifier`]s ([`seam`]): [`TokenVerifier`] (sniff the kind,
//! check the route accepts it, reject garbage before any lookup, then the
//! cache or [`opaque`] / [`jwt`]), [`StampVerifier`] ([`stamp_auth`]) and
//! the RFC 9421 [`httpsig_auth::MessageSignatureVerifier`], which detects
//! its own `Signature-Input` header.

pub mod claims;
pub mod httpsig;
pub mod httpsig_auth;
pub mod httpsig_keys;
pub mod jwks;
pub mod jws;
pub mod jwt;
pub mod opaque;
pub mod seam;
pub mod stamp;
pub mod stamp_auth;

pub use seam::{Needs, RequestVerifier, RequestView, StampVerifier, TokenVerifier, Verification};

use crate::cache::{CacheKey, IdentityCache};
use crate::credential::digest::sha256;
use crate::credential::extract::{Carrier, Presented};
use crate::credential::mint::checksum_ok;
use crate::credential::sniff::{PrefixAction, Sniffed};
use crate::credential::{CredentialKind, KindSet};
use crate::error::Refusal;
use crate::identity::Identity;
use crate::metrics::METRICS;
use crate::runtime::AuthRuntime;
use crate::store::StoreError;
use http::{HeaderMap, HeaderName};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// What a verifier concluded. Both outcomes are cacheable; a store failure is
/// an `Err` instead and is never cached.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// Verified.
    Valid(Arc<Identity>),
    /// Not valid, with a short reason for logs and metrics.
    Invalid(&'static str),
}

/// The verification stage of the pipeline: the hot cache and the
/// registered verifiers. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Authenticator {
    cache: IdentityCache,
    verifiers: Arc<Vec<Arc<dyn RequestVerifier>>>,
    /// Every header that carries a credential: the built-in ones, then
    /// what registered verifiers read (removed before forwarding).
    credential_headers: Arc<Vec<HeaderName>>,
    /// Parsed RFC 9421 keys registered in the store.
    stored_keys: httpsig_keys::StoredKeys,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.verifiers.iter().map(|v| v.name()).collect();
        f.debug_struct("Authenticator")
            .field("cache", &self.cache)
            .field("verifiers", &names)
            .finish()
    }
}

/// How many verifiers [`Authenticator::new`] registers (tokens, stamps).
const BUILT_IN: usize = 2;

/// A cached verdict as the request's outcome: the one expiry re-check after
/// the cache (an entry may outlive its credential), `invalid` for refusals
/// (the family's refusal variant), 503 for a store failure.
pub fn settle(
    verdict: Result<Verdict, Arc<StoreError>>,
    invalid: fn(&'static str) -> Refusal,
) -> Result<Arc<Identity>, Refusal> {
    match verdict {
        // The wall clock is read only for a credential that expires.
        Ok(Verdict::Valid(id)) if id.valid_until().is_some() && id.expired_at(unix_now()) => {
            Err(invalid("expired"))
        }
        Ok(Verdict::Valid(id)) => Ok(id),
        Ok(Verdict::Invalid(reason)) => Err(invalid(reason)),
        Err(_) => Err(Refusal::StoreUnavailable),
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The fleet-wide half of replay refusal: when `rt.shared_replay`, claim
/// `digest` (a stamp's or a message signature's) in the store for the
/// replay window. `Ok(false)`: another instance (or this one) claimed it
/// already. A store that does not answer: 503 with `[stamps] replay_outage
/// = "refuse"`; by default the instance's own guard (already passed)
/// decides alone, counted as `authgate_verifications_total{verifier=
/// "shared_replay", outcome="store_unavailable"}` and logged once per
/// outage.
pub async fn claim_across_instances(rt: &AuthRuntime, digest: &[u8; 32]) -> Result<bool, Refusal> {
    if !rt.shared_replay {
        return Ok(true);
    }
    let ttl = rt
        .stamps
        .window
        .saturating_add(rt.stamps.leeway.saturating_mul(2));
    let until = unix_now().saturating_add(ttl.as_secs()) as i64;
    use std::sync::atomic::{AtomicBool, Ordering};
    static DEGRADED: AtomicBool = AtomicBool::new(false);
    match crate::store::claim_once(rt.store.as_ref(), digest, until, rt.store_timeout).await {
        Ok(claimed) => {
            if DEGRADED.swap(false, Ordering::Relaxed) {
                tracing::warn!("shared replay claims recorded again");
            }
            Ok(claimed.unwrap_or(true))
        }
        Err(e) => {
            METRICS
                .verifications
                .with_label_values(&["shared_replay", "store_unavailable"])
                .inc();
            if rt.stamps.replay_outage == crate::settings::ReplayOutage::Refuse {
                return Err(Refusal::StoreUnavailable);
            }
            if !DEGRADED.swap(true, Ordering::Relaxed) {
                tracing::warn!(error = %e, "shared replay claims unavailable: each instance refuses replays on its own until the store answers");
            }
            Ok(true)
        }
    }
}

impl Authenticator {
    /// An authenticator over `cache` with the built-in verifiers (tokens,
    /// stamps, RFC 9421 message signatures). The stamp replay guard lives in
    /// the runtime, so a reload can resize it without forgetting.
    pub fn new(cache: IdentityCache) -> Self {
        let mut auth = Self {
            cache,
            verifiers: Arc::new(vec![
                Arc::new(TokenVerifier),
                Arc::new(StampVerifier),
                Arc::new(httpsig_auth::MessageSignatureVerifier),
            ]),
            credential_headers: Arc::default(),
            stored_keys: Default::default(),
        };
        auth.credential_headers = Arc::new(auth.collect_credential_headers());
        auth
    }

    fn collect_credential_headers(&self) -> Vec<HeaderName> {
        crate::credential::extract::CREDENTIAL_HEADERS
            .iter()
            .chain(self.extra_headers())
            .cloned()
            .collect()
    }

    /// Every header that carries a credential (built-in carriers and the
    /// registered verifiers' own), in a fixed order.
    pub fn credential_headers(&self) -> &[HeaderName] {
        &self.credential_headers
    }

    /// Register another verifier. Its carriers must not be taken: a carrier
    /// has exactly one verifier (the first registered keeps it).
    pub fn register(mut self, verifier: Arc<dyn RequestVerifier>) -> Self {
        Arc::make_mut(&mut self.verifiers).push(verifier);
        self.credential_headers = Arc::new(self.collect_credential_headers());
        self
    }

    /// The verifier for credentials found in `carrier`.
    pub fn verifier_for(&self, carrier: Carrier) -> Option<&Arc<dyn RequestVerifier>> {
        self.verifiers
            .iter()
            .find(|v| v.carriers().contains(&carrier))
    }

    /// The single credential of a request: the built-in carriers
    /// ([`crate::credential::extract`]), then what registered verifiers
    /// detect themselves; two different credentials are ambiguous.
    pub fn find<'r>(
        &self,
        headers: &'r HeaderMap,
        max_bytes: usize,
    ) -> Result<Option<Presented<'r>>, Refusal> {
        let mut found = crate::credential::extract::extract(headers, max_bytes)?;
        // The built-in verifiers detect nothing themselves.
        for v in self.verifiers.iter().skip(BUILT_IN) {
            if let Some(own) = v.detect(headers)? {
                if found.is_some_and(|f| f.value != own.value) {
                    return Err(Refusal::Ambiguous);
                }
                found = Some(own);
            }
        }
        Ok(found)
    }

    /// Headers registered verifiers read beyond the built-in credential
    /// headers (removed before forwarding like those).
    pub fn extra_headers(&self) -> impl Iterator<Item = &HeaderName> {
        self.verifiers
            .iter()
            .skip(BUILT_IN)
            .flat_map(|v| v.headers().iter())
    }

    /// Verify with `verifier` (the one registered for the carrier): the
    /// built-in token verifier is called directly (no boxed future on the
    /// hottest path), every other through the trait.
    pub async fn verify_with(
        &self,
        verifier: &Arc<dyn RequestVerifier>,
        v: Verification<'_>,
    ) -> Result<Arc<Identity>, Refusal> {
        // Token carriers always resolve to the built-in token verifier: it
        // is registered first and a carrier keeps its first verifier.
        if TokenVerifier::CARRIERS.contains(&v.presented.carrier) {
            return self
                .authenticate(v.rt, v.requirements.accept, v.presented)
                .await;
        }
        verifier.verify(self, v).await
    }

    /// The hot cache (for invalidation).
    pub fn cache(&self) -> &IdentityCache {
        &self.cache
    }

    /// Verify `presented` for a route accepting `accept`.
    pub async fn authenticate(
        &self,
        rt: &AuthRuntime,
        accept: KindSet,
        presented: Presented<'_>,
    ) -> Result<Arc<Identity>, Refusal> {
        let value = presented.value;
        if presented.carrier == Carrier::Stamp {
            // Stamps are verified with the body; see `authenticate_stamp`.
            return Err(Refusal::InvalidStamp("body_required"));
        }
        let (kind, checksum_prefix) = match rt.prefixes.sniff(value) {
            Sniffed::Unknown => return Err(Refusal::InvalidToken("unknown_prefix")),
            Sniffed::Rejected => return Err(Refusal::InvalidToken("rejected_family")),
            Sniffed::Jwt => (CredentialKind::Jwt, None),
            Sniffed::Opaque(rule) => match rule.action {
                PrefixAction::Verify(k) => (k, rule.checksum.then_some(rule.prefix.as_str())),
                PrefixAction::Reject => return Err(Refusal::InvalidToken("rejected_family")),
            },
        };
        // x-server-key carries server keys only; anything else there is a mistake.
        if presented.carrier == Carrier::ServerKey && kind != CredentialKind::ServerKey {
            return Err(Refusal::InvalidToken("not_a_server_key"));
        }
        if !accept.contains(kind) {
            return Err(Refusal::KindNotAccepted {
                accepts: accept.describe(),
            });
        }
        // Opaque credentials are cached under their store digest (peppered
        // when a pepper is configured), so revoking a digest in the store
        // can drop exactly its cache entry; JWTs under their SHA-256.
        let key = CacheKey {
            // A JWT verdict also depends on the fetched JWKS sets.
            generation: match kind {
                CredentialKind::Jwt => rt
                    .auth_generation
                    .wrapping_add(jwks::jwks_epoch().wrapping_mul(0x9E37_79B9_7F4A_7C15)),
                _ => rt.auth_generation,
            },
            digest: match kind {
                CredentialKind::Jwt => sha256(value.as_bytes()),
                _ => rt.digester.digest(value),
            },
        };
        // A valid verdict this thread holds already passed every check
        // below; the checksum is for credentials not seen yet (a typo, a
        // guess), refused before they reach the shared cache or the store.
        if let Some(id) = self.cache.front_hit(&key) {
            return settle(Ok(Verdict::Valid(id)), Refusal::InvalidToken);
        }
        if let Some(prefix) = checksum_prefix {
            if !checksum_ok(value, prefix) {
                METRICS
                    .verifications
                    .with_label_values(&[kind.as_str(), "bad_checksum"])
                    .inc();
                return Err(Refusal::InvalidToken("bad_checksum"));
            }
        }
        let verdict = self
            .cache
            .shared_or_verify(key, || async {
                let started = Instant::now();
                let result = match kind {
                    CredentialKind::Jwt => Ok(jwt::verify(&rt.issuers, value).await),
                    _ => opaque::verify(rt, kind, &key.digest).await,
                };
                let outcome = match &result {
                    Ok(Verdict::Valid(_)) => "valid",
                    Ok(Verdict::Invalid(r)) => r,
                    Err(_) => "store_error",
                };
                METRICS
                    .verifications
                    .with_label_values(&[kind.as_str(), outcome])
                    .inc();
                METRICS
                    .verify_seconds
                    .with_label_values(&[kind.as_str()])
                    .observe(started.elapsed().as_secs_f64());
                result
            })
            .await;
        settle(verdict, Refusal::InvalidToken)
    }
}
