//! The decision for a verified identity on a matched route, in a fixed
//! order: workspace binding (404, so a foreign workspace's existence is not
//! revealed), usage tag, allow-list, then scopes.

use super::Requirements;
use crate::credential::CredentialKind;
use crate::error::Refusal;
use crate::identity::Identity;

/// Decide whether `id` may use a route with `req`. `param` reads path
/// parameters; `workspace_param` names the one bound to the workspace.
pub fn decide<'p>(
    req: &Requirements,
    id: &Identity,
    param: impl Fn(&str) -> Option<&'p str>,
    workspace_param: &str,
    hierarchical: bool,
) -> Result<(), Refusal> {
    if let Some(slug) = param(workspace_param) {
        if !id.platform_wide && id.workspace.as_deref() != Some(slug) {
            return Err(Refusal::WorkspaceMismatch {
                own: id.workspace.clone(),
            });
        }
    }
    if req.browser && id.kind == CredentialKind::ServerKey {
        return Err(Refusal::Forbidden {
            reason: "secret_key_in_browser",
            hint: "This is a secret server key and this is a browser surface: use a \
                   publishable key here, and rotate this one if it was exposed"
                .into(),
        });
    }
    if let (Some(want), Some(have)) = (&req.usage, &id.usage) {
        if want != have {
            return Err(Refusal::Forbidden {
                reason: "wrong_usage",
                hint: format!(
                    "This key is for '{have}' and cannot be used on the '{want}' surface"
                ),
            });
        }
    }
    if let Some(p) = &req.allow_param {
        if !id.allow.is_empty() {
            let allowed = param(p).is_some_and(|v| id.allow.iter().any(|a| a == v));
            if !allowed {
                return Err(Refusal::Forbidden {
                    reason: "not_in_allow_list",
                    hint: format!("This key may only reach the {p} values it was issued for"),
                });
            }
        }
    }
    if id.scoped {
        let missing: Vec<String> = req
            .all_scopes
            .iter()
            .filter(|s| !has_scope(&id.scopes, s, hierarchical))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(Refusal::InsufficientScope { required: missing });
        }
        if !req.any_scopes.is_empty()
            && !req
                .any_scopes
                .iter()
                .any(|s| has_scope(&id.scopes, s, hierarchical))
        {
            return Err(Refusal::InsufficientScope {
                required: req.any_scopes.clone(),
            });
        }
    }
    Ok(())
}

/// Whether `granted` holds `want`; with `hierarchical`, `x:write` implies `x:read`.
pub fn has_scope(granted: &[String], want: &str, hierarchical: bool) -> bool {
    if granted.iter().any(|g| g == want) {
        return true;
    }
    if hierarchical {
        if let Some(resource) = want.strip_suffix(":read") {
            return granted
                .iter()
                .any(|g| g.strip_suffix(":write") == Some(resource));
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::{CredentialKind, KindSet};

    fn id(kind: CredentialKind, ws: Option<&str>, scopes: &[&str], scoped: bool) -> Identity {
        Identity {
            subject: "s".into(),
            workspace: ws.map(Into::into),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            kind,
            credential_id: "c".into(),
            expires_at: None,
            allow: vec![],
            usage: None,
            platform_wide: false,
            scoped,
            scheme: None,
            grace: 0,
            minted: None,
            limits: Default::default(),
            rendered: Default::default(),
        }
    }

    fn req(all: &[&str], any: &[&str]) -> Requirements {
        Requirements {
            accept: KindSet::EMPTY,
            all_scopes: all.iter().map(|s| s.to_string()).collect(),
            any_scopes: any.iter().map(|s| s.to_string()).collect(),
            usage: Some("developer_api".into()),
            allow_param: Some("agent_id".into()),
            require_timestamp: true,
            browser: false,
            signature: Default::default(),
        }
    }

    #[test]
    fn decision_table() {
        use CredentialKind::*;
        let mut with_allow = id(ApiKey, Some("acme"), &[], false);
        with_allow.allow = vec!["agent-1".into()];
        let mut wrong_usage = id(ApiKey, Some("acme"), &[], false);
        wrong_usage.usage = Some("billing".into());
        let mut platform = id(Jwt, None, &["runs:read"], true);
        platform.platform_wide = true;
        type Case<'a> = (
            &'a str,
            Identity,
            Requirements,
            &'a [(&'a str, &'a str)],
            bool,
            Result<(), &'a str>,
        );
        let cases: Vec<Case<'_>> = vec![
            (
                "key, own ws",
                id(ApiKey, Some("acme"), &[], false),
                req(&["runs:write"], &[]),
                &[("workspace", "acme")],
                false,
                Ok(()),
            ),
            (
                "key, other ws",
                id(ApiKey, Some("acme"), &[], false),
                req(&[], &[]),
                &[("workspace", "evil")],
                false,
                Err("workspace_mismatch"),
            ),
            (
                "no ws on ws route",
                id(Jwt, None, &["runs:read"], true),
                req(&[], &[]),
                &[("workspace", "acme")],
                false,
                Err("workspace_mismatch"),
            ),
            (
                "platform-wide",
                platform,
                req(&["runs:read"], &[]),
                &[("workspace", "acme")],
                false,
                Ok(()),
            ),
            (
                "token has scope",
                id(AccessToken, Some("acme"), &["runs:read"], true),
                req(&["runs:read"], &[]),
                &[],
                false,
                Ok(()),
            ),
            (
                "token lacks scope",
                id(AccessToken, Some("acme"), &["runs:read"], true),
                req(&["runs:write"], &[]),
                &[],
                false,
                Err("insufficient_scope"),
            ),
            (
                "hierarchical write→read",
                id(AccessToken, Some("acme"), &["runs:write"], true),
                req(&["runs:read"], &[]),
                &[],
                true,
                Ok(()),
            ),
            (
                "exact by default",
                id(AccessToken, Some("acme"), &["runs:write"], true),
                req(&["runs:read"], &[]),
                &[],
                false,
                Err("insufficient_scope"),
            ),
            (
                "read never implies write",
                id(AccessToken, Some("acme"), &["runs:read"], true),
                req(&["runs:write"], &[]),
                &[],
                true,
                Err("insufficient_scope"),
            ),
            (
                "any_of hit",
                id(AccessToken, None, &["b"], true),
                req(&[], &["a", "b"]),
                &[],
                false,
                Ok(()),
            ),
            (
                "any_of miss",
                id(AccessToken, None, &["c"], true),
                req(&[], &["a", "b"]),
                &[],
                false,
                Err("insufficient_scope"),
            ),
            (
                "allow-list hit",
                with_allow.clone(),
                req(&[], &[]),
                &[("agent_id", "agent-1")],
                false,
                Ok(()),
            ),
            (
                "allow-list miss",
                with_allow,
                req(&[], &[]),
                &[("agent_id", "agent-2")],
                false,
                Err("not_in_allow_list"),
            ),
            (
                "wrong usage",
                wrong_usage,
                req(&[], &[]),
                &[],
                false,
                Err("wrong_usage"),
            ),
        ];
        for (name, identity, r, params, hier, want) in cases {
            let got = decide(
                &r,
                &identity,
                |n| params.iter().find(|(k, _)| *k == n).map(|(_, v)| *v),
                "workspace",
                hier,
            );
            assert_eq!(got.map_err(|e| e.reason()), want, "case {name}");
        }
    }
}
