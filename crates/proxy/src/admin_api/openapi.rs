//! The OpenAPI 3 document of the admin API, served at
//! `/admin/v1/openapi.json`. Written here beside the handlers (not derived
//! by a macro), with the validation rules of [`super::keys`] as schema
//! constraints and the kinds the running config can mint as the `kind`
//! enum; CI runs schemathesis against a live instance with it
//! (`.ci/schemathesis`).

use crate::config::Runtime;
use crate::credential::sniff::PrefixAction;
use serde_json::{json, Value};

/// Ids, workspace slugs and usage tags.
const NAME: &str = "^[A-Za-z0-9._-]{1,128}$";
/// Subjects: visible ASCII, inner spaces allowed.
const TEXT: &str = "^[!-~]([ -~]{0,254}[!-~])?$";
/// Scopes and allow-list entries.
const ITEM: &str = "^[!-~]{1,128}$";
/// Rotation overlaps, at most 30 days.
const OVERLAP: &str =
    "^([1-9][0-9]{0,5}s|[1-9][0-9]{0,3}m|([1-9][0-9]?|[1-6][0-9]{2}|7[01][0-9]|720)h|([1-9]|[12][0-9]|30)d)$";

fn name() -> Value {
    json!({"type": "string", "pattern": NAME, "nullable": true})
}

fn list() -> Value {
    json!({"type": "array", "maxItems": 64, "items": {"type": "string", "pattern": ITEM}})
}

fn nullable(mut schema: Value) -> Value {
    schema["nullable"] = json!(true);
    schema
}

fn seconds(nullable: bool) -> Value {
    json!({"type": "integer", "minimum": 0, "maximum": 99_999_999_999i64, "nullable": nullable})
}

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn key_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {
        "type": "object", "required": ["key"],
        "properties": {"key": {"$ref": "#/components/schemas/Key"}}
    }}}})
}

fn created_response() -> Value {
    json!({"description": "Created; the secret is shown once", "content": {"application/json": {"schema": {
        "type": "object", "required": ["key", "secret"],
        "properties": {
            "key": {"$ref": "#/components/schemas/Key"},
            "secret": {"type": "string"},
            "previous": {"$ref": "#/components/schemas/Key"}
        }
    }}}})
}

fn common_errors(mut responses: Value) -> Value {
    for (code, what) in [
        ("401", "Missing or invalid admin token"),
        ("403", "The token lacks the scope"),
        ("503", "The key store is temporarily unavailable"),
    ] {
        responses[code] = error_response(what);
    }
    responses
}

fn id_param() -> Value {
    json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}})
}

/// The document for the config `rt` (the kinds it can mint).
pub fn document(rt: &Runtime) -> Value {
    let mintable: Vec<&str> = ["api_key", "server_key", "access_token"]
        .into_iter()
        .filter(|k| {
            rt.auth
                .prefixes
                .rules()
                .iter()
                .any(|r| matches!(r.action, PrefixAction::Verify(kind) if kind.as_str() == *k))
        })
        .collect();
    let list_params = json!([
        {"name": "workspace", "in": "query", "schema": {"type": "string"}},
        {"name": "kind", "in": "query", "schema": {"type": "string", "enum": ["api_key", "server_key", "access_token", "stamp"]}},
        {"name": "subject", "in": "query", "schema": {"type": "string"}},
        {"name": "cursor", "in": "query", "schema": {"type": "string"}},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}
    ]);
    json!({
        "openapi": "3.0.3",
        "info": {"title": "authgate admin API", "version": "1"},
        "security": [{"bearer": []}],
        "paths": {
            "/admin/v1/keys": {
                "get": {"operationId": "listKeys", "parameters": list_params,
                    "responses": common_errors(json!({
                        "200": {"description": "A page of keys, by id", "content": {"application/json": {"schema": {
                            "type": "object", "required": ["keys", "next_cursor"],
                            "properties": {"keys": {"type": "array", "items": {"$ref": "#/components/schemas/Key"}},
                                           "next_cursor": {"type": "string", "nullable": true}}}}}},
                        "400": error_response("Bad filter")}))},
                "post": {"operationId": "createKey",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewKey"}}}},
                    "responses": common_errors(json!({"201": created_response(),
                        "400": error_response("Invalid field"), "409": error_response("Id taken")}))}
            },
            "/admin/v1/keys/{id}": {
                "parameters": [id_param()],
                "get": {"operationId": "getKey", "responses": common_errors(json!({"200": key_response("The key"), "404": error_response("No such key")}))},
                "patch": {"operationId": "updateKey",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/KeyPatch"}}}},
                    "responses": common_errors(json!({"200": key_response("Updated"), "400": error_response("Invalid field"), "404": error_response("No such key")}))},
            },
            "/admin/v1/keys/{id}/revoke": {
                "parameters": [id_param()],
                "post": {"operationId": "revokeKey", "responses": common_errors(json!({"200": key_response("Revoked"), "404": error_response("No such key")}))}
            },
            "/admin/v1/keys/{id}/rotate": {
                "parameters": [id_param()],
                "post": {"operationId": "rotateKey",
                    "requestBody": {"required": false, "content": {"application/json": {"schema": {
                        "type": "object", "additionalProperties": false,
                        "properties": {"overlap": {"type": "string", "pattern": OVERLAP, "description": "e.g. \"1h\"; default 1h, at most 30 days"},
                                       "id": name()}}}}},
                    "responses": common_errors(json!({"201": created_response(), "400": error_response("Invalid field"),
                        "404": error_response("No such key"), "409": error_response("Revoked or id taken")}))}
            },
            "/admin/v1/stamp-keys": {
                "post": {"operationId": "registerStampKey",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewStampKey"}}}},
                    "responses": common_errors(json!({"201": key_response("Registered"), "400": error_response("Invalid field"), "409": error_response("Already registered")}))}
            }
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {
                    "error": {"type": "string"}, "message": {"type": "string"}, "required": {"type": "string"}}},
                "Key": {"type": "object", "required": ["id", "digest", "kind", "subject", "scopes", "allow", "disabled", "metadata", "created_at", "updated_at"],
                    "properties": {
                        "id": {"type": "string"}, "digest": {"type": "string"},
                        "kind": {"type": "string", "enum": ["api_key", "server_key", "access_token", "stamp"]},
                        "subject": {"type": "string"}, "workspace": {"type": "string", "nullable": true},
                        "scopes": {"type": "array", "items": {"type": "string"}},
                        "allow": {"type": "array", "items": {"type": "string"}},
                        "usage": {"type": "string", "nullable": true},
                        "expires_at": {"type": "integer", "nullable": true},
                        "disabled": {"type": "boolean"},
                        "scheme": {"type": "string", "nullable": true},
                        "public_key": {"type": "string", "nullable": true},
                        "metadata": {"type": "object"},
                        "rotated_from": {"type": "string", "nullable": true},
                        "created_at": {"type": "integer"}, "updated_at": {"type": "integer"},
                        "revoked_at": {"type": "integer", "nullable": true},
                        "last_used_at": {"type": "integer", "nullable": true}}},
                "NewKey": {"type": "object", "required": ["kind", "subject"], "additionalProperties": false,
                    "properties": {
                        "kind": if mintable.is_empty() {
                            json!({"type": "string", "description": "no family to mint with in credentials.prefixes"})
                        } else {
                            json!({"type": "string", "enum": mintable})
                        },
                        "subject": {"type": "string", "pattern": TEXT}, "workspace": name(),
                        "scopes": list(), "allow": list(),
                        "usage": name(), "expires_at": seconds(true),
                        "metadata": {"type": "object", "nullable": true}, "id": name()}},
                "KeyPatch": {"type": "object", "additionalProperties": false,
                    "description": "Absent or null: unchanged, except expires_at where null clears the expiry.",
                    "properties": {
                        "scopes": nullable(list()), "allow": nullable(list()),
                        "expires_at": seconds(true),
                        "metadata": {"type": "object", "nullable": true},
                        "disabled": {"type": "boolean", "nullable": true}}},
                "NewStampKey": {"type": "object", "required": ["scheme", "public_key", "subject"], "additionalProperties": false,
                    "properties": {
                        "scheme": {"type": "string", "enum": ["p256", "secp256k1", "ed25519",
                            "SIGNATURE_SCHEME_TK_API_P256", "SIGNATURE_SCHEME_TK_API_SECP256K1_EIP191",
                            "SIGNATURE_SCHEME_TK_API_ED25519"]},
                        "public_key": {"type": "string", "pattern": "^[0-9a-fA-F]{64,130}$",
                            "description": "hex; must be a valid key of the scheme (else 400)"},
                        "subject": {"type": "string", "pattern": TEXT}, "workspace": name(),
                        "scopes": list(), "allow": list(),
                        "usage": name(), "expires_at": seconds(true),
                        "metadata": {"type": "object", "nullable": true}, "id": name()}}
            }
        }
    })
}
