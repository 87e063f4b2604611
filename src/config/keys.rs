//! Validation of key records (`[[keys]]` and `store.keys_file`) into the
//! store's `(digest, record)` pairs.

use super::model::KeySection;
use super::validate::Errors;
use crate::credential::digest::Digester;
use crate::credential::sniff::PrefixTable;
use crate::credential::CredentialKind;
use crate::store::KeyRecord;

/// The store digest of a `kind = "stamp"` record (scheme + normalised key).
fn stamp_key_digest(k: &KeySection, key: &str, errs: &mut Errors) -> Option<[u8; 32]> {
    use crate::verify::stamp::{key_digest, normalise_key, scheme_from_name};
    let Some(scheme) = k.scheme.as_deref().and_then(scheme_from_name) else {
        errs.push(
            format!("{key}.scheme"),
            "stamp keys need scheme = p256, secp256k1 or ed25519",
        );
        return None;
    };
    let Some(text) = &k.public_key else {
        errs.push(
            format!("{key}.public_key"),
            "stamp keys need the public key (hex)",
        );
        return None;
    };
    match normalise_key(scheme, text) {
        Ok(nk) => Some(key_digest(scheme, &nk)),
        Err(e) => {
            errs.push(
                format!("{key}.public_key"),
                format!("not a valid {} key ({})", scheme.label(), e.reason()),
            );
            None
        }
    }
}

/// Parse a JSON Lines keys file; each record's key path is `store.keys_file:LINE`.
pub(super) fn read_keys_jsonl(
    bytes: &[u8],
    out: &mut Vec<(String, KeySection)>,
    errs: &mut Errors,
) {
    for (n, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let key = format!("store.keys_file:{}", n + 1);
        match serde_json::from_slice::<KeySection>(line) {
            Ok(k) => out.push((key, k)),
            Err(e) => errs.push(key, e.to_string()),
        }
    }
}

/// Turn key records into store entries, recording every problem in `errs`.
pub(super) fn build_keys(
    keys: &[(String, KeySection)],
    digester: &Digester,
    prefixes: &PrefixTable,
    errs: &mut Errors,
) -> Vec<([u8; 32], KeyRecord)> {
    let _ = prefixes;
    let mut out: Vec<([u8; 32], KeyRecord)> = Vec::with_capacity(keys.len());
    let mut ids: std::collections::HashSet<&str> =
        std::collections::HashSet::with_capacity(keys.len());
    let mut digests: std::collections::HashSet<[u8; 32]> =
        std::collections::HashSet::with_capacity(keys.len());
    for (key, k) in keys {
        let kind = CredentialKind::parse(&k.kind).filter(|k| k.is_stored());
        if kind.is_none() {
            errs.push(
                format!("{key}.kind"),
                format!(
                    "unknown kind '{}' (api_key, server_key, access_token, stamp)",
                    k.kind
                ),
            );
        }
        let digest = if kind == Some(CredentialKind::Stamp) {
            stamp_key_digest(k, key, errs)
        } else {
            match k.digest.as_deref().map(|d| digester.parse(d)) {
                Some(Ok(d)) => Some(d),
                Some(Err(msg)) => {
                    errs.push(format!("{key}.digest"), msg);
                    None
                }
                None => {
                    errs.push(format!("{key}.digest"), "required for this kind");
                    None
                }
            }
        };
        if k.id.is_empty() {
            errs.push(format!("{key}.id"), "must not be empty");
        }
        if !ids.insert(k.id.as_str()) {
            errs.push(format!("{key}.id"), format!("duplicate id '{}'", k.id));
        }
        let expires_at = match &k.expires_at {
            None => Some(None),
            Some(t) => match humantime::parse_rfc3339_weak(t) {
                Ok(ts) => ts
                    .duration_since(std::time::UNIX_EPOCH)
                    .ok()
                    .map(|d| Some(d.as_secs())),
                Err(_) => None,
            },
        };
        if expires_at.is_none() {
            errs.push(
                format!("{key}.expires_at"),
                "must be an RFC 3339 time such as 2030-01-01T00:00:00Z",
            );
        }
        if let (Some(d), Some(kind), Some(expires_at)) = (digest, kind, expires_at) {
            if !digests.insert(d) {
                errs.push(format!("{key}.digest"), "duplicate digest");
                continue;
            }
            out.push((
                d,
                KeyRecord {
                    id: k.id.clone(),
                    kind,
                    subject: k.subject.clone(),
                    workspace: k.workspace.clone(),
                    scopes: k.scopes.clone(),
                    allow: k.allow.clone(),
                    usage: k.usage.clone(),
                    expires_at,
                    disabled: k.disabled,
                },
            ));
        }
    }
    out
}
