//! Stamps in the pipeline: after the body is read, check the stamp in a
//! fixed order — format, signature over the exact body, freshness, the
//! registered key (store + hot cache, like API keys), then replay — and
//! produce an [`Identity`] with method `stamp` and the scheme.

use super::stamp::{check_freshness, key_digest, parse, verify, StampError};
use super::{unix_now, Authenticator, Verdict};
use crate::cache::CacheKey;
use crate::config::Runtime;
use crate::credential::{CredentialKind, KindSet};
use crate::error::Refusal;
use crate::identity::Identity;
use crate::metrics::METRICS;
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
        rt: &Runtime,
        accept: KindSet,
        header: &str,
        body: &[u8],
        require_timestamp: bool,
    ) -> Result<Arc<Identity>, Refusal> {
        if !accept.contains(CredentialKind::Stamp) {
            return Err(Refusal::KindNotAccepted {
                accepts: accept.describe(),
            });
        }
        let started = Instant::now();
        let stamp = parse(header).map_err(refuse)?;
        verify(&stamp, body).map_err(refuse)?;
        METRICS
            .verify_seconds
            .with_label_values(&["stamp"])
            .observe(started.elapsed().as_secs_f64());
        let st = &rt.file.stamps;
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        check_freshness(
            body,
            &st.timestamp_field,
            now_ms,
            st.window,
            st.leeway,
            require_timestamp,
        )
        .map_err(refuse)?;
        let key = CacheKey {
            generation: rt.auth_generation,
            digest: key_digest(stamp.scheme(), stamp.public_key()),
        };
        let verdict = self
            .cache()
            .get_or_verify(key, || async {
                let rec =
                    crate::store::lookup(rt.store.as_ref(), &key.digest, rt.file.store.timeout)
                        .await?;
                Ok(match rec {
                    Some(r) if r.kind != CredentialKind::Stamp => Verdict::Invalid("unknown_key"),
                    Some(r) if r.disabled => Verdict::Invalid("disabled"),
                    Some(r) if r.expires_at.is_some_and(|e| e <= unix_now()) => {
                        Verdict::Invalid("expired")
                    }
                    Some(r) => Verdict::Valid(Arc::new(Identity {
                        subject: r.subject.clone(),
                        workspace: r.workspace.clone(),
                        scopes: r.scopes.clone(),
                        kind: CredentialKind::Stamp,
                        credential_id: r.id.clone(),
                        expires_at: r.expires_at,
                        allow: r.allow.clone(),
                        usage: r.usage.clone(),
                        platform_wide: false,
                        scoped: !r.scopes.is_empty(),
                        scheme: None,
                        grace: 0,
                        rendered: Default::default(),
                    })),
                    None => Verdict::Invalid("unknown_key"),
                })
            })
            .await;
        let id = match verdict {
            Ok(Verdict::Valid(id)) if id.expired_at(unix_now()) => {
                return Err(Refusal::InvalidStamp("expired"))
            }
            Ok(Verdict::Valid(id)) => id,
            Ok(Verdict::Invalid(r)) => {
                METRICS.verifications.with_label_values(&["stamp", r]).inc();
                return Err(Refusal::InvalidStamp(r));
            }
            Err(_) => return Err(Refusal::StoreUnavailable),
        };
        // Last: only a stamp that passed everything else is remembered.
        rt.replay.check_and_remember(&stamp).map_err(refuse)?;
        METRICS
            .verifications
            .with_label_values(&["stamp", "valid"])
            .inc();
        let mut with_scheme = (*id).clone();
        with_scheme.scheme = Some(stamp.scheme().label());
        with_scheme.rendered = Default::default();
        Ok(Arc::new(with_scheme))
    }
}
