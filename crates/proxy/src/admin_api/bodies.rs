//! The admin API's request and response bodies. The handlers deserialize
//! and serialize exactly these types, and the OpenAPI document
//! ([`super::openapi`]) derives its schemas from them (utoipa), so the
//! document cannot drift from what the API reads and writes. The
//! patterns restate the handlers' field checks as schema constraints.

use crate::credential::CredentialKind;
use authgate_store::StoredKey;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::{IntoParams, IntoResponses, ToSchema};

/// Scopes and allow-list entries (ids, slugs and usage tags are
/// `^[A-Za-z0-9._-]{1,128}$`, subjects visible ASCII with inner spaces).
pub const ITEM: &str = "^[!-~]{1,128}$";

/// The stamp schemes a key can be registered with (short and Turnkey names).
pub const SCHEMES: [&str; 6] = [
    "p256",
    "secp256k1",
    "ed25519",
    "SIGNATURE_SCHEME_TK_API_P256",
    "SIGNATURE_SCHEME_TK_API_SECP256K1_EIP191",
    "SIGNATURE_SCHEME_TK_API_ED25519",
];

/// Scopes and allow-lists: at most 64 entries of [`ITEM`].
fn list_schema() -> Schema {
    let item = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(ITEM));
    Schema::Array(ArrayBuilder::new().items(item).max_items(Some(64)).build())
}

fn string_enum(values: &[&str], nullable: bool) -> Schema {
    let ty = if nullable {
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::new(Type::String)
    };
    Schema::Object(
        ObjectBuilder::new()
            .schema_type(ty)
            .enum_values(Some(values.iter().copied()))
            .build(),
    )
}

fn scheme_schema() -> Schema {
    string_enum(&SCHEMES, false)
}

fn kind_filter_schema() -> Schema {
    string_enum(&CredentialKind::stored_names(), false)
}

/// `POST /admin/v1/keys`: a key to mint. `kind` must have a family in
/// `credentials.prefixes` (the served document lists those kinds).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewKey)]
pub struct CreateBody {
    /// `api_key`, `server_key`, `access_token` or `publishable_key`.
    pub kind: String,
    /// Whom the key acts for.
    #[schema(pattern = "^[!-~]([ -~]{0,254}[!-~])?$")]
    pub subject: String,
    /// Workspace slug the key is bound to.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,128}$")]
    pub workspace: Option<String>,
    /// Scopes (empty: the whole surface of a workspace key).
    #[serde(default)]
    #[schema(schema_with = list_schema)]
    pub scopes: Vec<String>,
    /// Allow-list of sub-resources (empty: all).
    #[serde(default)]
    #[schema(schema_with = list_schema)]
    pub allow: Vec<String>,
    /// Usage tag.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,128}$")]
    pub usage: Option<String>,
    /// Unix seconds after which the key is refused.
    #[serde(default, deserialize_with = "authgate_store::model::whole_seconds")]
    #[schema(minimum = 0, maximum = 99999999999_i64)]
    pub expires_at: Option<i64>,
    /// Free-form JSON object (at most 16 KiB).
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Key id (generated when absent).
    #[schema(pattern = "^[A-Za-z0-9._-]{1,128}$")]
    pub id: Option<String>,
    /// The key's own rate limit, e.g. `{"rate": 100, "per": "1s", "burst": 20}`.
    pub rate_limit: Option<authgate_store::KeyRateLimit>,
    /// A usage quota, e.g. `{"remaining": 1000, "refill": {"amount": 1000, "interval": "monthly"}}`.
    pub quota: Option<authgate_store::QuotaSetting>,
}

/// `POST /admin/v1/keys/{id}/rotate`.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
#[schema(as = Rotation)]
pub struct RotateBody {
    /// How long the old key keeps working, e.g. `"1h"` (default 1h, at
    /// most 30 days).
    #[schema(
        pattern = "^([1-9][0-9]{0,5}s|[1-9][0-9]{0,3}m|([1-9][0-9]?|[1-6][0-9]{2}|7[01][0-9]|720)h|([1-9]|[12][0-9]|30)d)$"
    )]
    pub overlap: Option<String>,
    /// Id of the new key (generated when absent).
    #[schema(pattern = "^[A-Za-z0-9._-]{1,128}$")]
    pub id: Option<String>,
}

/// `POST /admin/v1/stamp-keys`: a stamp public key to register. The key
/// must be a valid point of its scheme's curve (else 400).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewStampKey)]
pub struct StampBody {
    /// Signature scheme.
    #[schema(schema_with = scheme_schema)]
    pub scheme: String,
    /// Public key, hex (compressed or uncompressed).
    #[schema(pattern = "^[0-9a-fA-F]{64,130}$")]
    pub public_key: String,
    /// Whom the key signs for.
    #[schema(pattern = "^[!-~]([ -~]{0,254}[!-~])?$")]
    pub subject: String,
    /// Workspace slug the key is bound to.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,128}$")]
    pub workspace: Option<String>,
    /// Scopes.
    #[serde(default)]
    #[schema(schema_with = list_schema)]
    pub scopes: Vec<String>,
    /// Allow-list of sub-resources.
    #[serde(default)]
    #[schema(schema_with = list_schema)]
    pub allow: Vec<String>,
    /// Usage tag.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,128}$")]
    pub usage: Option<String>,
    /// Unix seconds after which the key is refused.
    #[serde(default, deserialize_with = "authgate_store::model::whole_seconds")]
    #[schema(minimum = 0, maximum = 99999999999_i64)]
    pub expires_at: Option<i64>,
    /// Free-form JSON object (at most 16 KiB).
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Key id (generated when absent).
    #[schema(pattern = "^[A-Za-z0-9._-]{1,128}$")]
    pub id: Option<String>,
}

/// The RFC 9421 algorithms a signing key can be registered with.
pub const SIGNING_ALGS: [&str; 6] = [
    "rsa-pss-sha512",
    "rsa-v1_5-sha256",
    "ecdsa-p384-sha384",
    "ecdsa-p256-sha256",
    "ed25519",
    "hmac-sha256",
];

fn signing_alg_schema() -> Schema {
    string_enum(&SIGNING_ALGS, false)
}

/// `POST /admin/v1/signing-keys`: an RFC 9421 signing key to register
/// under the `keyid` its signatures name. Asymmetric keys bring their PEM
/// public key; an `hmac-sha256` key names its secret file in the
/// instances' `[store] hmac_secrets_dir` (the secret never goes through
/// the API or into the database).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewSigningKey)]
pub struct SigningKeyBody {
    /// The `keyid` signers send: 1–256 visible ASCII characters, not a
    /// hex public key (those name stamp keys).
    #[schema(pattern = "^[!-~]{1,256}$")]
    pub keyid: String,
    /// The algorithm; a message's `alg` may only repeat it.
    #[schema(schema_with = signing_alg_schema)]
    pub alg: String,
    /// PEM public key (every algorithm but `hmac-sha256`).
    pub public_key: Option<String>,
    /// `hmac-sha256`: the secret's file name in `hmac_secrets_dir`.
    #[schema(pattern = "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$")]
    pub secret_name: Option<String>,
    /// Whom the key signs for.
    #[schema(pattern = "^[!-~]([ -~]{0,254}[!-~])?$")]
    pub subject: String,
    /// Workspace slug the key is bound to.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,128}$")]
    pub workspace: Option<String>,
    /// Scopes.
    #[serde(default)]
    #[schema(schema_with = list_schema)]
    pub scopes: Vec<String>,
    /// Allow-list of sub-resources.
    #[serde(default)]
    #[schema(schema_with = list_schema)]
    pub allow: Vec<String>,
    /// Usage tag.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,128}$")]
    pub usage: Option<String>,
    /// Unix seconds after which the key is refused.
    #[serde(default, deserialize_with = "authgate_store::model::whole_seconds")]
    #[schema(minimum = 0, maximum = 99999999999_i64)]
    pub expires_at: Option<i64>,
    /// Free-form JSON object (at most 16 KiB).
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Key id (generated when absent).
    #[schema(pattern = "^[A-Za-z0-9._-]{1,128}$")]
    pub id: Option<String>,
}

/// `GET /admin/v1/keys` filters and paging.
#[derive(Deserialize, IntoParams, Default)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only keys of this workspace.
    pub workspace: Option<String>,
    /// Only keys of this kind.
    #[param(schema_with = kind_filter_schema)]
    pub kind: Option<String>,
    /// Only keys of this subject.
    pub subject: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// One key.
#[derive(Serialize, ToSchema)]
pub struct KeyReply {
    /// The key (never its secret).
    pub key: StoredKey,
}

/// A new key and its secret, shown this once.
#[derive(Serialize, ToSchema)]
pub struct Created {
    /// The new key.
    pub key: StoredKey,
    /// The credential itself; only its digest is stored.
    pub secret: String,
    /// Rotation: the old key, now with its overlap deadline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<StoredKey>,
}

/// A page of keys, by id.
#[derive(Serialize, ToSchema)]
pub struct KeyPage {
    /// The keys.
    pub keys: Vec<StoredKey>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    pub next_cursor: Option<String>,
}

/// An error, in the style of the proxy's refusals.
#[derive(Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// Machine-readable code (`invalid_request`, `not_found`, …).
    pub error: String,
    /// What went wrong, for a person.
    pub message: String,
    /// `insufficient_scope`: the scope the call needs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required: Option<String>,
}

/// The answers every operation may give.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum CommonErrors {
    /// Missing or invalid admin token.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// The token lacks the scope.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// The key store is temporarily unavailable (with `Retry-After`).
    #[response(status = 503)]
    Unavailable(ErrorBody),
}
