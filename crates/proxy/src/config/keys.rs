//! Validation of key records (`[[keys]]` and `store.keys_file`) into the
//! store's `(digest, record)` pairs.

use super::model::KeySection;
use super::validate::Errors;
use crate::credential::digest::Digester;
use crate::credential::CredentialKind;
use crate::store::KeyRecord;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::io::BufRead;

/// Where a key record came from; shown as its config path in errors
/// (formatted only then, so loading allocates nothing per record beyond the
/// record itself).
#[derive(Debug, Clone, Copy)]
pub(super) enum Source {
    /// `[[keys]]` entry `i` of the config file.
    Toml(usize),
    /// Line `n` of `store.keys_file`.
    File(usize),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Toml(i) => write!(f, "keys[{i}]"),
            Source::File(n) => write!(f, "store.keys_file:{n}"),
        }
    }
}

/// The store digest of a `kind = "stamp"` record (scheme + normalised key).
fn stamp_key_digest(k: &KeySection, key: Source, errs: &mut Errors) -> Option<[u8; 32]> {
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

/// Stream a JSON Lines keys file into `keys`, one line at a time (each
/// record's key path is `store.keys_file:LINE`); returns the SHA-256 of the
/// whole file. A 3M-line file never exists as parsed records all at once.
pub(super) fn read_keys_jsonl(
    mut reader: impl BufRead,
    keys: &mut KeyBuilder<'_>,
    errs: &mut Errors,
) -> std::io::Result<[u8; 32]> {
    let mut file_digest = Sha256::new();
    let mut line = Vec::new();
    // Parsed in batches, then copied into records batch by batch: the
    // records of a batch pack densely instead of between each line's
    // short-lived parse (which left the kept memory fragmented).
    let mut batch: Vec<(usize, KeySection)> = Vec::with_capacity(BATCH);
    let flush =
        |batch: &mut Vec<(usize, KeySection)>, keys: &mut KeyBuilder<'_>, errs: &mut Errors| {
            for (n, k) in batch.drain(..) {
                keys.add(Source::File(n), k, errs);
            }
        };
    for n in 1.. {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        file_digest.update(&line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<KeySection>(&line) {
            Ok(k) => batch.push((n, k)),
            Err(e) => errs.push(Source::File(n).to_string(), e.to_string()),
        }
        if batch.len() == BATCH {
            flush(&mut batch, keys, errs);
        }
    }
    flush(&mut batch, keys, errs);
    Ok(file_digest.finalize().into())
}

/// Lines parsed before their records are built.
const BATCH: usize = 16_384;

/// Turns key records into store entries one at a time, recording every
/// problem in `errs`; duplicate digests are caught as records are added,
/// duplicate ids (of otherwise valid records) in [`KeyBuilder::finish`].
pub(super) struct KeyBuilder<'a> {
    digester: &'a Digester,
    digests: HashSet<[u8; 32]>,
    out: Vec<([u8; 32], KeyRecord)>,
    sources: Vec<Source>,
}

impl<'a> KeyBuilder<'a> {
    /// An empty builder digesting with `digester`.
    pub(super) fn new(digester: &'a Digester) -> Self {
        Self {
            digester,
            digests: HashSet::new(),
            out: Vec::new(),
            sources: Vec::new(),
        }
    }

    /// The store entries, after checking that no two share an id.
    pub(super) fn finish(self, errs: &mut Errors) -> Vec<([u8; 32], KeyRecord)> {
        let mut ids = HashSet::with_capacity(self.out.len());
        for ((_, rec), source) in self.out.iter().zip(&self.sources) {
            if !ids.insert(rec.id.as_str()) {
                errs.push(format!("{source}.id"), format!("duplicate id '{}'", rec.id));
            }
        }
        drop(ids);
        self.out
    }

    /// Validate `k` (found at `key`) and keep its entry.
    pub(super) fn add(&mut self, key: Source, k: KeySection, errs: &mut Errors) {
        // Sessions are made by sign-in, never written in a config file.
        let kind = CredentialKind::parse(&k.kind)
            .filter(|k| k.is_stored() && *k != CredentialKind::Session);
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
            stamp_key_digest(&k, key, errs)
        } else {
            match k.digest.as_deref().map(|d| self.digester.parse(d)) {
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
        if let Some(problem) = k.rate_limit.as_ref().and_then(|r| r.problem()) {
            errs.push(format!("{key}.rate_limit"), problem);
            return;
        }
        if let (Some(d), Some(kind), Some(expires_at)) = (digest, kind, expires_at) {
            if !self.digests.insert(d) {
                errs.push(format!("{key}.digest"), "duplicate digest");
                return;
            }
            self.sources.push(key);
            self.out.push((
                d,
                KeyRecord {
                    // Copies, not moves: made one after another (a batch at
                    // a time) they pack densely, and the parsed records'
                    // strings are freed in whole pages.
                    id: k.id.clone(),
                    kind,
                    subject: k.subject.clone(),
                    workspace: k.workspace.clone(),
                    scopes: k.scopes.clone(),
                    allow: k.allow.clone(),
                    usage: k.usage.clone(),
                    expires_at,
                    disabled: k.disabled,
                    minted: None,
                    signing: None,
                    limits: authgate_core::limits_keys::KeyLimits {
                        rate: k.rate_limit.as_ref().map(|r| r.rate()),
                        quota: false,
                    },
                },
            ));
        }
    }
}
