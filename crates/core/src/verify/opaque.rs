//! Opaque credentials (API keys, server keys, access tokens): looked up by
//! digest in the [`crate::store::Store`]; plaintext never leaves the request.

use super::{unix_now, Verdict};
use crate::credential::CredentialKind;
use crate::identity::Identity;
use crate::runtime::AuthRuntime;
use crate::store::{KeyRecord, StoreError};
use std::sync::Arc;

/// Verify an opaque credential by its store digest (see
/// [`crate::credential::digest::Digester`]).
pub async fn verify(
    rt: &AuthRuntime,
    kind: CredentialKind,
    digest: &[u8; 32],
) -> Result<Verdict, StoreError> {
    let rec = crate::store::lookup(rt.store.as_ref(), digest, rt.store_timeout).await?;
    Ok(record_verdict(rec.as_deref(), kind, Reasons::OPAQUE))
}

/// The reasons a record check gives, per credential family.
#[derive(Debug, Clone, Copy)]
pub struct Reasons {
    /// No record with that digest.
    pub unknown: &'static str,
    /// A record of another kind.
    pub kind_mismatch: &'static str,
}

impl Reasons {
    /// API keys, server keys, access tokens.
    pub const OPAQUE: Reasons = Reasons {
        unknown: "unknown",
        kind_mismatch: "kind_mismatch",
    };
    /// Stamp keys: an unregistered key and a key of another kind read alike.
    pub const STAMP: Reasons = Reasons {
        unknown: "unknown_key",
        kind_mismatch: "unknown_key",
    };
}

/// The one check of a stored record against the kind presented: unknown,
/// wrong kind, disabled, expired, else valid with [`Identity::from_record`].
pub fn record_verdict(rec: Option<&KeyRecord>, kind: CredentialKind, reasons: Reasons) -> Verdict {
    match rec {
        None => Verdict::Invalid(reasons.unknown),
        Some(r) if r.kind != kind => Verdict::Invalid(reasons.kind_mismatch),
        Some(r) if r.disabled => Verdict::Invalid("disabled"),
        Some(r) if r.expires_at.is_some_and(|exp| exp <= unix_now()) => Verdict::Invalid("expired"),
        Some(r) => Verdict::Valid(Arc::new(Identity::from_record(r, None))),
    }
}
