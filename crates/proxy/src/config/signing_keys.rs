//! `[[signing_keys]]`: RFC 9421 signing keys named by their `keyid`, for the
//! algorithms a stamp key cannot carry (RSA-PSS, RSA v1.5, P-384, HMAC) or
//! a key that should be named rather than spelt out. The algorithm is the
//! registration's (RFC 9421 §3.3.7); public keys come from PEM files, HMAC
//! secrets from a file or an environment variable, never inline.

use super::validate::resolve;
use authgate_core::credential::CredentialKind;
use authgate_core::identity::Identity;
use authgate_core::store::KeyRecord;
use authgate_core::verify::httpsig::alg::{Algorithm, VerifyKey};
use authgate_core::verify::httpsig_auth::SigningKey;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// `[[signing_keys]]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SigningKeySection {
    /// The `keyid` signers send.
    pub keyid: String,
    /// `rsa-pss-sha512`, `rsa-v1_5-sha256`, `ecdsa-p384-sha384`,
    /// `ecdsa-p256-sha256`, `ed25519` or `hmac-sha256`.
    pub alg: String,
    /// PEM public key (every algorithm but HMAC).
    pub public_key_file: Option<String>,
    /// File holding the HMAC secret (at least 32 bytes).
    pub secret_file: Option<String>,
    /// Environment variable holding the HMAC secret.
    pub secret_env: Option<String>,
    /// Whom the key signs for.
    pub subject: String,
    /// Workspace it is bound to.
    pub workspace: Option<String>,
    /// Scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
}

fn key_material(s: &SigningKeySection, alg: Algorithm, base: &Path) -> Result<VerifyKey, String> {
    let read =
        |p: &str| std::fs::read(resolve(base, p)).map_err(|e| format!("cannot read '{p}': {e}"));
    match (alg, &s.public_key_file, &s.secret_file, &s.secret_env) {
        (Algorithm::HmacSha256, None, Some(f), None) => VerifyKey::hmac(read(f)?),
        (Algorithm::HmacSha256, None, None, Some(var)) => VerifyKey::hmac(
            std::env::var(var)
                .map_err(|_| format!("environment variable {var} is unset"))?
                .into_bytes(),
        ),
        (Algorithm::HmacSha256, ..) => {
            Err("hmac-sha256: set exactly one of secret_file, secret_env".into())
        }
        (_, Some(f), None, None) => {
            let pem = String::from_utf8(read(f)?).map_err(|_| format!("'{f}' is not PEM text"))?;
            VerifyKey::from_pem(alg, &pem)
        }
        _ => Err(format!(
            "{}: set public_key_file (and no secret)",
            alg.name()
        )),
    }
}

/// Signing keys by `keyid`.
pub type SigningKeys = HashMap<String, Arc<SigningKey>>;

/// Compile every entry: keys by `keyid`; errors are `(key, message)`.
pub fn compile(
    sections: &[SigningKeySection],
    base: &Path,
) -> (SigningKeys, Vec<(String, String)>) {
    let mut out = HashMap::new();
    let mut errs = Vec::new();
    for (i, s) in sections.iter().enumerate() {
        let at = format!("signing_keys[{i}]");
        let Some(alg) = Algorithm::parse(&s.alg) else {
            errs.push((
                format!("{at}.alg"),
                format!("unknown algorithm '{}'", s.alg),
            ));
            continue;
        };
        if s.keyid.is_empty() || s.keyid.len() > 256 || s.keyid.chars().any(char::is_control) {
            errs.push((format!("{at}.keyid"), "1–256 printable characters".into()));
            continue;
        }
        let key = match key_material(s, alg, base) {
            Ok(k) => k,
            Err(m) => {
                errs.push((at, m));
                continue;
            }
        };
        let record = KeyRecord {
            id: s.keyid.clone(),
            kind: CredentialKind::Stamp,
            subject: s.subject.clone(),
            workspace: s.workspace.clone(),
            scopes: s.scopes.clone(),
            allow: Vec::new(),
            usage: None,
            expires_at: None,
            disabled: false,
            minted: None,
            signing: None,
            limits: Default::default(),
        };
        let entry = SigningKey {
            key,
            identity: Arc::new(Identity::from_record(&record, None)),
        };
        if out.insert(s.keyid.clone(), Arc::new(entry)).is_some() {
            errs.push((
                format!("{at}.keyid"),
                format!("'{}' appears twice", s.keyid),
            ));
        }
    }
    (out, errs)
}
