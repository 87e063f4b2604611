//! Validation of `[[routes]]`: methods, upstream references and the auth
//! block, built into the [`Router`].

use super::model::{AuthSection, RouteSection};
use super::validate::Errors;
use crate::credential::{CredentialKind, KindSet};
use crate::policy::router::{Access, Builtin, Requirements, Route, Router, Target};
use crate::upstream::Pool;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Build the route table, recording every problem in `errs`.
pub(super) fn build_router(
    routes: &[RouteSection],
    pools: &BTreeMap<String, Arc<Pool>>,
    browser_usages: &[String],
    errs: &mut Errors,
) -> Router {
    let mut built = Vec::new();
    for (i, r) in routes.iter().enumerate() {
        let key = format!("routes[{i}]");
        let mut ok = true;
        if !r.path.starts_with('/') {
            errs.push(format!("{key}.path"), "must start with '/'");
            ok = false;
        }
        let mut methods = Vec::new();
        for (j, m) in r.methods.iter().enumerate() {
            match http::Method::from_bytes(m.to_ascii_uppercase().as_bytes()) {
                Ok(m) => methods.push(m),
                Err(_) => {
                    errs.push(
                        format!("{key}.methods[{j}]"),
                        format!("'{m}' is not an HTTP method"),
                    );
                    ok = false;
                }
            }
        }
        let target = match (&r.upstream, &r.handler) {
            (Some(name), None) => match pools.get(name) {
                Some(p) => Some(Target::Upstream(p.clone())),
                None => {
                    errs.push(
                        format!("{key}.upstream"),
                        format!("no upstream named '{name}'"),
                    );
                    None
                }
            },
            (None, Some(h)) => match Builtin::parse(h) {
                Some(b) => Some(Target::Builtin(b)),
                None => {
                    errs.push(
                        format!("{key}.handler"),
                        format!("unknown handler '{h}' ({})", Builtin::NAMES),
                    );
                    None
                }
            },
            (Some(_), Some(_)) => {
                errs.push(
                    format!("{key}.handler"),
                    "a route has an upstream or a handler, not both",
                );
                None
            }
            (None, None) => {
                errs.push(
                    format!("{key}.upstream"),
                    "missing: name an upstream or a handler",
                );
                None
            }
        };
        ok &= target.is_some();
        let access = build_access(&r.auth, &format!("{key}.auth"), browser_usages, errs);
        if let (true, Some(target), Some(access)) = (ok, target, access) {
            let name = r.display_name();
            built.push((
                key,
                Route {
                    metrics: crate::metrics::RouteMetrics::new(&name),
                    name,
                    host: r.host.as_ref().map(|h| h.to_ascii_lowercase()),
                    path: r.path.clone(),
                    methods,
                    target,
                    access,
                    forward_credentials: r.auth.forward_credentials,
                    keep_override_headers: r.keep_override_headers,
                    rate_limit_headers: r.auth.rate_limit_headers,
                },
            ));
        }
    }
    match Router::build(built) {
        Ok(router) => router,
        Err(problems) => {
            for (key, msg) in problems {
                errs.push(key, msg);
            }
            Router::default()
        }
    }
}

fn build_access(
    a: &AuthSection,
    key: &str,
    browser_usages: &[String],
    errs: &mut Errors,
) -> Option<Access> {
    if a.public {
        if !a.accept.is_empty() || !a.scopes.is_empty() || !a.any_scopes.is_empty() {
            errs.push(
                format!("{key}.public"),
                "a public route cannot also list accept or scopes",
            );
            return None;
        }
        return Some(Access::Public);
    }
    if a.accept.is_empty() {
        errs.push(
            format!("{key}.accept"),
            "a route must accept at least one credential kind, or set public = true",
        );
        return None;
    }
    let mut accept = KindSet::EMPTY;
    let mut ok = true;
    for (j, k) in a.accept.iter().enumerate() {
        match CredentialKind::parse(k) {
            Some(kind) => accept.insert(kind),
            None => {
                errs.push(
                    format!("{key}.accept[{j}]"),
                    format!(
                        "unknown kind '{k}' ({})",
                        CredentialKind::ALL.map(|k| k.as_str()).join(", ")
                    ),
                );
                ok = false;
            }
        }
    }
    for (field, list) in [("scopes", &a.scopes), ("any_scopes", &a.any_scopes)] {
        for (j, s) in list.iter().enumerate() {
            if s.is_empty()
                || s.bytes()
                    .any(|b| b == b' ' || b == b'"' || !(0x21..=0x7e).contains(&b))
            {
                errs.push(
                    format!("{key}.{field}[{j}]"),
                    "a scope is visible ASCII without spaces or quotes",
                );
                ok = false;
            }
        }
    }
    let browser = a.usage.as_ref().is_some_and(|u| browser_usages.contains(u));
    if accept.contains(CredentialKind::PublishableKey) && !browser {
        errs.push(
            format!("{key}.accept"),
            format!(
                "publishable keys are accepted only on browser surfaces: set usage to one of \
                 credentials.browser_usages ({})",
                browser_usages.join(", ")
            ),
        );
        ok = false;
    }
    for (j, c) in a.signature_components.iter().enumerate() {
        let derived = [
            "@method",
            "@target-uri",
            "@authority",
            "@scheme",
            "@request-target",
            "@path",
            "@query",
        ];
        let header = !c.is_empty()
            && c.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !(derived.contains(&c.as_str()) || header) {
            errs.push(
                format!("{key}.signature_components[{j}]"),
                format!(
                    "'{c}' is neither a derived component ({}) nor a lower-case header name",
                    derived.join(", ")
                ),
            );
            ok = false;
        }
    }
    ok.then(|| {
        Access::Protected(Requirements {
            browser,
            signature: crate::policy::SignaturePolicy {
                components: a.signature_components.clone(),
                nonce: a.signature_nonce,
            },
            accept,
            all_scopes: a.scopes.clone(),
            any_scopes: a.any_scopes.clone(),
            usage: a.usage.clone(),
            allow_param: a.allow_param.clone(),
            require_timestamp: !a.insecure_no_timestamp,
        })
    })
}
