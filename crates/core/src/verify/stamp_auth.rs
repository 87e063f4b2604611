//! Stamps in the pipeline, the one stamp orchestrator: after the body is
//! read, checks 1–7 ([`check`]: size, format, scheme allow-list, signature
//! over the exact body, freshness), then the registered key (store + hot
//! cache, like API keys, one [`record_verdict`]), then replay; the result
//! is an [`Identity`] with method `stamp` (or `session`, for a wallet
//! sign-in's session key) and the scheme.

use super::opaque::{record_verdict, Reasons};
use super::stamp::{check, key_digest, StampError, StampScheme};
use super::{settle, Authenticator};
use crate::cache::CacheKey;
use crate::credential::{CredentialKind, KindSet};
use crate::error::Refusal;
use crate::identity::Identity;
use crate::metrics::METRICS;
use crate::runtime::AuthRuntime;
use crate::store::KeyRecord;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

fn refuse(e: StampError) -> Refusal {
    METRICS
        .verifications
        .with_label_values(&["stamp", e.reason()])
        .inc();
    Refusal::InvalidStamp(e.reason())
}

impl Authenticator {
    /// Verify the `X-Stamp` header `header` over `body` for a route accepting `accept`.
    pub async fn authenticate_stamp(
        &self,
        rt: &AuthRuntime,
        accept: KindSet,
        header: &str,
        body: &[u8],
        require_timestamp: bool,
    ) -> Result<Arc<Identity>, Refusal> {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        self.authenticate_stamp_at(rt, accept, header, body, require_timestamp, now_ms)
            .await
    }

    /// [`Self::authenticate_stamp`] at `now_ms` (Unix milliseconds), for
    /// fixtures with a fixed clock.
    pub async fn authenticate_stamp_at(
        &self,
        rt: &AuthRuntime,
        accept: KindSet,
        header: &str,
        body: &[u8],
        require_timestamp: bool,
        now_ms: u64,
    ) -> Result<Arc<Identity>, Refusal> {
        if !accept.contains(CredentialKind::Stamp) && !accept.contains(CredentialKind::Session) {
            return Err(Refusal::KindNotAccepted {
                accepts: accept.describe(),
            });
        }
        let started = Instant::now();
        let stamp = check(
            &rt.stamps,
            header.as_bytes(),
            body,
            now_ms,
            require_timestamp,
        )
        .map_err(refuse)?;
        METRICS
            .verify_seconds
            .with_label_values(&["stamp"])
            .observe(started.elapsed().as_secs_f64());
        let digest = key_digest(stamp.scheme(), stamp.public_key());
        let id = self
            .registered_key(rt, digest, Refusal::InvalidStamp)
            .await
            .inspect_err(|r| {
                if let Refusal::InvalidStamp(reason) = r {
                    METRICS
                        .verifications
                        .with_label_values(&["stamp", reason])
                        .inc();
                }
            })?;
        if !accept.contains(id.kind) {
            return Err(Refusal::KindNotAccepted {
                accepts: accept.describe(),
            });
        }
        // Last: only a stamp that passed everything else is remembered,
        // here and (when shared) in the store for the other instances.
        rt.replay.check_and_remember(&stamp).map_err(refuse)?;
        if !super::claim_across_instances(rt, &stamp.replay_digest()).await? {
            return Err(refuse(StampError::Replayed));
        }
        METRICS
            .verifications
            .with_label_values(&["stamp", "valid"])
            .inc();
        Ok(with_scheme(&id, stamp.scheme()))
    }

    /// The identity of the registered key (a stamp key, or a wallet
    /// sign-in's session key) whose digest is `digest`, through the hot
    /// cache: the one lookup of stamps and message signatures. Refusals
    /// are `invalid(reason)`, a store failure 503.
    pub(super) async fn registered_key(
        &self,
        rt: &AuthRuntime,
        digest: [u8; 32],
        invalid: fn(&'static str) -> Refusal,
    ) -> Result<Arc<Identity>, Refusal> {
        self.registered_key_where(rt, digest, invalid, |_| true)
            .await
    }

    /// [`Self::registered_key`] for records that pass `fits` (any other
    /// reads as unknown).
    pub(super) async fn registered_key_where(
        &self,
        rt: &AuthRuntime,
        digest: [u8; 32],
        invalid: fn(&'static str) -> Refusal,
        fits: fn(&KeyRecord) -> bool,
    ) -> Result<Arc<Identity>, Refusal> {
        let key = CacheKey {
            generation: rt.auth_generation,
            digest,
        };
        let verdict = self
            .cache()
            .get_or_verify(key, || async {
                let rec =
                    crate::store::lookup(rt.store.as_ref(), &key.digest, rt.store_timeout).await?;
                let rec = rec.filter(|r| fits(r));
                let kind = match rec.as_deref().map(|r| r.kind) {
                    Some(CredentialKind::Session) => CredentialKind::Session,
                    _ => CredentialKind::Stamp,
                };
                Ok(record_verdict(rec.as_deref(), kind, Reasons::STAMP))
            })
            .await;
        settle(verdict, invalid)
    }
}

/// `id` with the scheme its request was signed with (for
/// `x-auth-stamp-scheme`).
pub(super) fn with_scheme(id: &Identity, scheme: StampScheme) -> Arc<Identity> {
    let mut with = id.clone();
    with.scheme = Some(scheme.label());
    with.rendered = Default::default();
    Arc::new(with)
}
