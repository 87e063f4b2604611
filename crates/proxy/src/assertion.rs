//! Signed identity assertions: a short-lived EdDSA JWT per forwarded request
//! carrying the identity plus the request's method and path, so upstreams can
//! verify that the identity really came from authgate. The matching JWKS is
//! served on the admin listener at `/.well-known/jwks.json`.

use crate::config::model::AssertionSection;
use crate::config::validate::resolve;
use crate::identity::Identity;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use std::path::Path;

/// Signs assertions with one Ed25519 key.
pub struct AssertionSigner {
    section: AssertionSection,
    signing: ed25519_dalek::SigningKey,
    key: EncodingKey,
    header: Header,
    jwks: String,
}

impl std::fmt::Debug for AssertionSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssertionSigner")
            .field("kid", &self.section.kid)
            .finish()
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
    sub: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    workspace: Option<&'a str>,
    scope: String,
    /// Credential kind.
    amr: &'a str,
    /// Credential id.
    cid: &'a str,
    /// HTTP method and path of the request this assertion is for.
    htm: &'a str,
    htu: &'a str,
    iat: u64,
    exp: u64,
    jti: &'a str,
}

impl AssertionSigner {
    /// Load the key; errors are `(key suffix, message)`.
    pub fn build(section: &AssertionSection, base: &Path) -> Result<Self, (String, String)> {
        let pem = std::fs::read_to_string(resolve(base, &section.key_file)).map_err(|e| {
            (
                ".key_file".to_string(),
                format!("cannot read '{}': {e}", section.key_file),
            )
        })?;
        let signing = ed25519_dalek::SigningKey::from_pkcs8_pem(&pem).map_err(|_| {
            (
                ".key_file".to_string(),
                "not a PKCS#8 PEM Ed25519 private key".to_string(),
            )
        })?;
        let key = EncodingKey::from_ed_pem(pem.as_bytes()).map_err(|e| {
            (
                ".key_file".to_string(),
                format!("unusable Ed25519 key: {e}"),
            )
        })?;
        let x = URL_SAFE_NO_PAD.encode(signing.verifying_key().to_bytes());
        let jwks = serde_json::json!({"keys": [{
            "kty": "OKP", "crv": "Ed25519", "x": x, "kid": section.kid, "alg": "EdDSA", "use": "sig"
        }]})
        .to_string();
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(section.kid.clone());
        Ok(Self {
            section: section.clone(),
            signing,
            key,
            header,
            jwks,
        })
    }

    /// The config section it was built from.
    pub fn section(&self) -> &AssertionSection {
        &self.section
    }

    /// Sign `message` with the key (ed25519): what RFC 9421 signatures on
    /// forwarded requests use.
    pub fn sign_bytes(&self, message: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer;
        self.signing.sign(message).to_bytes()
    }

    /// Sign `claims` as an EdDSA JWT under this key's `kid` (the access
    /// tokens of the wallet sign-in).
    pub fn sign_claims<T: Serialize>(&self, claims: &T) -> Result<String, String> {
        jsonwebtoken::encode(&self.header, claims, &self.key).map_err(|e| e.to_string())
    }

    /// A 32-byte secret derived from the key for `label`
    /// (HMAC-SHA-256 keyed with the private key): stable while the key is,
    /// and unrelated across labels. `None` only if HMAC refused the key
    /// (it takes any length): callers then fail closed.
    pub fn derive_secret(&self, label: &[u8]) -> Option<[u8; 32]> {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(self.signing.as_bytes()).ok()?;
        mac.update(label);
        Some(mac.finalize().into_bytes().into())
    }

    /// The public JWKS document.
    pub fn jwks(&self) -> &str {
        &self.jwks
    }

    /// Sign an assertion for `id` on `method path`.
    pub fn sign(
        &self,
        id: &Identity,
        method: &str,
        path: &str,
        request_id: &str,
        now: u64,
    ) -> Result<String, String> {
        let claims = Claims {
            iss: &self.section.issuer,
            aud: self.section.audience.as_deref(),
            sub: &id.subject,
            workspace: id.workspace.as_deref(),
            scope: id.scopes.join(" "),
            amr: id.kind.as_str(),
            cid: &id.credential_id,
            htm: method,
            htu: path,
            iat: now,
            exp: now + self.section.ttl.as_secs().max(1),
            jti: request_id,
        };
        jsonwebtoken::encode(&self.header, &claims, &self.key).map_err(|e| e.to_string())
    }
}

/// Write a fresh PKCS#8 PEM Ed25519 key to `path` (used by the demo). A
/// new file is created readable by its owner only (Unix).
pub fn generate_key(path: &Path) -> std::io::Result<()> {
    use ed25519_dalek::pkcs8::{spki::der::pem::LineEnding, EncodePrivateKey};
    let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(std::io::Error::other)?;
    crate::secret::write_private(path, pem.as_bytes())
}
