//! The OpenAPI 3.1 document of the admin API, served at
//! `/admin/v1/openapi.json`: derived (utoipa) from the handlers'
//! annotations in [`super::keys`] and the body types in [`super::bodies`],
//! which are what the handlers really read and write. One part depends on
//! the running config and is filled in per document: the kinds a new key
//! may have (those with a family in `credentials.prefixes`). CI runs
//! schemathesis against a live instance with it (`.ci/schemathesis`).

use super::{keys, signing_keys};
use crate::config::Runtime;
use crate::credential::sniff::PrefixAction;
use serde_json::{json, Value};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The derived document, before the config's part.
#[derive(OpenApi)]
#[openapi(
    info(title = "authgate admin API", version = "1", description = "Issue, list, update, revoke and rotate keys; register stamp public keys and RFC 9421 signing keys."),
    paths(
        keys::list,
        keys::create,
        keys::get,
        keys::update,
        keys::revoke,
        keys::rotate,
        keys::register_stamp_key,
        signing_keys::register_signing_key
    ),
    security(("bearer" = [])),
    modifiers(&Bearer)
)]
struct AdminDoc;

/// Adds the bearer scheme every call uses.
struct Bearer;

impl Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The kinds the config `rt` can mint (a family in `credentials.prefixes`).
fn mintable(rt: &Runtime) -> Vec<&'static str> {
    ["api_key", "server_key", "access_token", "publishable_key"]
        .into_iter()
        .filter(|k| {
            rt.auth
                .prefixes
                .rules()
                .iter()
                .any(|r| matches!(r.action, PrefixAction::Verify(kind) if kind.as_str() == *k))
        })
        .collect()
}

/// The document for the config `rt`.
pub fn document(rt: &Runtime) -> Value {
    let mut doc = serde_json::to_value(AdminDoc::openapi()).unwrap_or_else(|_| json!({}));
    let kinds = mintable(rt);
    let kind = if kinds.is_empty() {
        json!({"type": "string", "description": "no family to mint with in credentials.prefixes"})
    } else {
        json!({"type": "string", "enum": kinds})
    };
    if let Some(slot) = doc.pointer_mut("/components/schemas/NewKey/properties/kind") {
        *slot = kind;
    }
    doc
}
