//! Responses authgate writes itself, for routes that name a `handler`
//! instead of an `upstream`. The route's `auth` is enforced first, like for
//! any route; the handler sees the verified identity, if any.

use crate::config::Runtime;
use crate::error::ErrorResponse;
use crate::identity::Identity;
use crate::policy::router::Builtin;
use bytes::Bytes;
use serde_json::json;

/// The response of `handler` for a request admitted with `identity`.
pub fn respond(handler: Builtin, rt: &Runtime, identity: Option<&Identity>) -> ErrorResponse {
    let (status, body) = match handler {
        Builtin::Health => (200, json!({"status": "ok"}).to_string()),
        Builtin::Jwks => match &rt.assertion {
            Some(signer) => (200, signer.jwks().to_string()),
            None => (200, json!({"keys": []}).to_string()),
        },
        Builtin::Whoami => match identity {
            Some(id) => (200, whoami(id).to_string()),
            // A public whoami route: nobody to describe.
            None => (200, json!({"authenticated": false}).to_string()),
        },
        // Answered by `crate::signin` and `crate::minting` (asynchronously,
        // with the store).
        Builtin::SessionChallenge
        | Builtin::SessionVerify
        | Builtin::SessionRefresh
        | Builtin::SessionRevoke
        | Builtin::MintEphemeral
        | Builtin::MintCapability
        | Builtin::WalletChallenge
        | Builtin::WalletVerify
        | Builtin::WalletApiKey
        | Builtin::WalletKeyToken
        | Builtin::WalletRefresh
        | Builtin::WalletWhoami
        | Builtin::WalletLogout
        | Builtin::SignedRetry => (404, json!({"error": "not_found"}).to_string()),
    };
    ErrorResponse {
        status,
        body: Bytes::from(body),
        headers: Vec::new(),
    }
}

/// What a caller may learn about its own credential (never the credential).
fn whoami(id: &Identity) -> serde_json::Value {
    let mut v = json!({
        "authenticated": true,
        "subject": id.subject,
        "workspace": id.workspace,
        "scopes": id.scopes,
        "method": id.kind.as_str(),
        "credential_id": id.credential_id,
        "expires_at": id.expires_at,
    });
    if let (Some(m), Some(obj)) = (&id.minted, v.as_object_mut()) {
        obj.insert(
            "actor".into(),
            json!({"kind": m.actor_kind.as_str(), "id": m.actor_id}),
        );
        obj.insert("parent_credential_id".into(), json!(m.parent_id));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::CredentialKind;

    #[test]
    fn whoami_describes_the_identity_and_nothing_else() {
        let id = Identity {
            subject: "u1".into(),
            workspace: Some("acme".into()),
            scopes: vec!["runs:read".into()],
            kind: CredentialKind::AccessToken,
            credential_id: "tok_1".into(),
            expires_at: Some(42),
            allow: vec![],
            usage: None,
            platform_wide: false,
            scoped: true,
            scheme: None,
            grace: 0,
            minted: None,
            limits: Default::default(),
            rendered: Default::default(),
        };
        let v = whoami(&id);
        assert_eq!(
            v,
            json!({"authenticated": true, "subject": "u1", "workspace": "acme",
                   "scopes": ["runs:read"], "method": "access_token",
                   "credential_id": "tok_1", "expires_at": 42})
        );
    }
}
