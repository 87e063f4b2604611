//! Opaque credentials (API keys, server keys, access tokens): looked up by
//! digest in the [`crate::store::Store`]; plaintext never leaves the request.

use super::{unix_now, Verdict};
use crate::config::Runtime;
use crate::credential::CredentialKind;
use crate::identity::Identity;
use crate::store::StoreError;
use std::sync::Arc;

/// Verify an opaque credential by its store digest (see
/// [`crate::credential::digest::Digester`]).
pub async fn verify(
    rt: &Runtime,
    kind: CredentialKind,
    digest: &[u8; 32],
) -> Result<Verdict, StoreError> {
    let Some(rec) = crate::store::lookup(rt.store.as_ref(), digest, rt.file.store.timeout).await?
    else {
        return Ok(Verdict::Invalid("unknown"));
    };
    if rec.kind != kind {
        return Ok(Verdict::Invalid("kind_mismatch"));
    }
    if rec.disabled {
        return Ok(Verdict::Invalid("disabled"));
    }
    if matches!(rec.expires_at, Some(exp) if exp <= unix_now()) {
        return Ok(Verdict::Invalid("expired"));
    }
    Ok(Verdict::Valid(Arc::new(Identity {
        subject: rec.subject.clone(),
        workspace: rec.workspace.clone(),
        scopes: rec.scopes.clone(),
        kind,
        credential_id: rec.id.clone(),
        expires_at: rec.expires_at,
        allow: rec.allow.clone(),
        usage: rec.usage.clone(),
        platform_wide: false,
        // Keys without scopes (workspace API keys, plain server keys) carry
        // no granular scopes: possession grants their surface. Access tokens
        // are always scoped.
        scoped: kind == CredentialKind::AccessToken || !rec.scopes.is_empty(),
        scheme: None,
        grace: 0,
        rendered: Default::default(),
    })))
}
