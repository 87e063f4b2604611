//! JWT verification in a fixed order: shape and header, issuer (by the
//! unverified `iss`, only to choose keys), algorithm allow-list, key by
//! `kid`, signature, then claims (`exp`, `nbf`, `iss`, `aud`). `alg: none`
//! and algorithm confusion (an RSA public key used as an HMAC secret) cannot
//! pass: the algorithm must be in the issuer's list *and* match the key's
//! family.
//!
//! Keys are parsed once, when they are loaded ([`VerifyingKey`]); a request
//! pays for base64, the signature check and the claim parse, never for a key.
//! `jsonwebtoken` only reads PEM files and JWKs here, off the request path.

use super::claims::{ClaimError, Registered, Rules};
use super::jwks::{JwksCache, JwksFetch, KeyEntry, KeySet};
use super::jws::VerifyingKey;
use super::{unix_now, Verdict};
use crate::credential::digest::sha256;
use crate::credential::CredentialKind;
use crate::identity::Identity;
use crate::settings::resolve;
use crate::settings::IssuerSection;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

/// Where an issuer's keys come from.
#[derive(Debug)]
enum Keys {
    /// Fixed keys (secret, PEM file, JWKS file).
    Static(KeySet),
    /// A JWKS URL, refreshed in the background.
    Remote(Arc<JwksCache>),
}

/// One trusted issuer, validated and with its keys parsed.
#[derive(Debug)]
pub struct Issuer {
    section: IssuerSection,
    algorithms: Vec<Algorithm>,
    rules: Rules,
    keys: Keys,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    kid: Option<String>,
}

#[derive(Deserialize)]
struct RawIss {
    iss: Option<String>,
}

impl Issuer {
    /// Build from config without a JWKS fetcher (an issuer with a
    /// `jwks_url` is then an error); errors are `(key suffix, message)` pairs.
    pub fn build(section: &IssuerSection, base: &Path) -> Result<Self, Vec<(String, String)>> {
        Self::build_with(section, base, None)
    }

    /// Build from config, fetching a `jwks_url` with `fetcher`; errors are
    /// `(key suffix, message)` pairs.
    pub fn build_with(
        section: &IssuerSection,
        base: &Path,
        fetcher: Option<&Arc<dyn JwksFetch>>,
    ) -> Result<Self, Vec<(String, String)>> {
        let mut errs = Vec::new();
        let mut algs = Vec::new();
        for (i, a) in section.algorithms.iter().enumerate() {
            match Algorithm::from_str(a) {
                Ok(alg) => algs.push(alg),
                Err(_) => errs.push((
                    format!(".algorithms[{i}]"),
                    format!("unknown algorithm '{a}'"),
                )),
            }
        }
        if section.algorithms.is_empty() {
            errs.push((".algorithms".into(), "list at least one algorithm".into()));
        }
        let hmac = algs
            .iter()
            .any(|a| matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512));
        if hmac
            && algs
                .iter()
                .any(|a| !matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512))
        {
            errs.push((
                ".algorithms".into(),
                "HMAC and public-key algorithms cannot share an issuer (algorithm confusion)"
                    .into(),
            ));
        }
        let sources = [
            section.secret_file.is_some(),
            section.secret_env.is_some(),
            section.public_key_file.is_some(),
            section.jwks_file.is_some(),
            section.jwks_url.is_some(),
        ];
        if sources.iter().filter(|s| **s).count() != 1 {
            errs.push((
                String::new(),
                "set exactly one of secret_file, secret_env, public_key_file, jwks_file, jwks_url"
                    .into(),
            ));
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        let keys = load_keys(section, base, hmac, &algs, fetcher).map_err(|(k, m)| vec![(k, m)])?;
        let rules = Rules {
            issuer: section.issuer.clone(),
            audiences: section.audiences.iter().cloned().collect(),
            leeway: section.leeway.as_secs(),
        };
        Ok(Self {
            section: section.clone(),
            algorithms: algs,
            rules,
            keys,
        })
    }

    /// An issuer whose keys authgate holds itself (the access tokens its
    /// wallet sign-in issues, verified with its own JWKS): no file, no URL.
    /// Errors name an unknown algorithm.
    pub fn with_keys(section: &IssuerSection, keys: KeySet) -> Result<Self, String> {
        let algorithms = section
            .algorithms
            .iter()
            .map(|a| Algorithm::from_str(a).map_err(|_| format!("unknown algorithm '{a}'")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            section: section.clone(),
            algorithms,
            rules: Rules {
                issuer: section.issuer.clone(),
                audiences: section.audiences.iter().cloned().collect(),
                leeway: section.leeway.as_secs(),
            },
            keys: Keys::Static(keys),
        })
    }

    /// The config section this issuer was built from.
    pub fn section(&self) -> &IssuerSection {
        &self.section
    }

    /// The JWKS cache, for issuers with a `jwks_url`.
    pub fn jwks(&self) -> Option<&Arc<JwksCache>> {
        match &self.keys {
            Keys::Remote(c) => Some(c),
            Keys::Static(_) => None,
        }
    }

    async fn key_for(&self, kid: Option<&str>, alg: Algorithm) -> Option<Arc<KeyEntry>> {
        match &self.keys {
            Keys::Static(set) => set.select(kid, alg),
            Keys::Remote(cache) => cache.select(kid, alg).await,
        }
    }
}

fn load_keys(
    s: &IssuerSection,
    base: &Path,
    hmac: bool,
    algs: &[Algorithm],
    fetcher: Option<&Arc<dyn JwksFetch>>,
) -> Result<Keys, (String, String)> {
    let read = |key: &str, p: &str| {
        std::fs::read(resolve(base, p))
            .map_err(|e| (format!(".{key}"), format!("cannot read '{p}': {e}")))
    };
    if let Some(url) = &s.jwks_url {
        if hmac {
            return Err((
                ".jwks_url".into(),
                "a JWKS cannot hold HMAC secrets; use secret_file".into(),
            ));
        }
        let Some(fetcher) = fetcher else {
            return Err((".jwks_url".into(), "no JWKS fetcher in this build".into()));
        };
        return JwksCache::new(
            &s.name,
            url,
            s.jwks_refresh,
            s.jwks_cooldown,
            fetcher.clone(),
        )
        .map(|c| Keys::Remote(Arc::new(c)))
        .map_err(|m| (".jwks_url".into(), m));
    }
    if let Some(p) = &s.jwks_file {
        let bytes = read("jwks_file", p)?;
        return KeySet::from_jwks_json(&bytes)
            .map(Keys::Static)
            .map_err(|m| (".jwks_file".into(), m));
    }
    let secret = match (&s.secret_file, &s.secret_env) {
        (Some(p), _) => Some(read("secret_file", p)?),
        (_, Some(var)) => Some(
            std::env::var(var)
                .map_err(|_| {
                    (
                        ".secret_env".into(),
                        format!("environment variable {var} is unset"),
                    )
                })?
                .into_bytes(),
        ),
        _ => None,
    };
    if let Some(secret) = secret {
        // Errors name the key the secret came from.
        let key = if s.secret_file.is_some() {
            ".secret_file"
        } else {
            ".secret_env"
        };
        if !hmac {
            return Err((
                key.into(),
                "a secret needs HS256/HS384/HS512 algorithms".into(),
            ));
        }
        if secret.len() < 32 {
            return Err((
                key.into(),
                "an HMAC secret must be at least 32 bytes".into(),
            ));
        }
        return Ok(Keys::Static(KeySet::single(VerifyingKey::hmac(&secret))));
    }
    if hmac {
        return Err((
            ".public_key_file".into(),
            "HMAC algorithms need secret_file or secret_env".into(),
        ));
    }
    let p = s.public_key_file.as_deref().unwrap_or_default();
    let pem = read("public_key_file", p)?;
    let family = algs[0].family();
    let key = match family {
        jsonwebtoken::AlgorithmFamily::Rsa => DecodingKey::from_rsa_pem(&pem),
        jsonwebtoken::AlgorithmFamily::Ec => DecodingKey::from_ec_pem(&pem),
        _ => DecodingKey::from_ed_pem(&pem),
    }
    .map_err(|e| {
        (
            ".public_key_file".to_string(),
            format!("not a {family:?} public key PEM: {e}"),
        )
    })?;
    if algs.iter().any(|a| a.family() != family) {
        return Err((
            ".algorithms".into(),
            "all algorithms must match the public key's family".into(),
        ));
    }
    let key = VerifyingKey::from_decoding_key(&key)
        .map_err(|e| (".public_key_file".to_string(), e.to_string()))?;
    // An EC key serves one curve's algorithm: an ES384 listed for a P-256
    // key could never verify, so say so now rather than refuse every token.
    if let Some(a) = algs.iter().find(|a| !key.serves(**a)) {
        return Err((
            ".algorithms".into(),
            format!("the public key cannot verify {a:?} (an EC key serves its own curve's algorithm only)"),
        ));
    }
    Ok(Keys::Static(KeySet::single(key)))
}

fn decode_json<T: for<'de> Deserialize<'de>>(segment: &[u8]) -> Option<T> {
    serde_json::from_slice(segment).ok()
}

/// Verify a JWT against the configured issuers.
pub async fn verify(issuers: &[Arc<Issuer>], token: &str) -> Verdict {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Verdict::Invalid("malformed");
    };
    let Ok(header_json) = URL_SAFE_NO_PAD.decode(h) else {
        return Verdict::Invalid("malformed");
    };
    let Some(header) = decode_json::<RawHeader>(&header_json) else {
        return Verdict::Invalid("malformed");
    };
    if header.alg.eq_ignore_ascii_case("none") {
        return Verdict::Invalid("alg_none");
    }
    let Ok(alg) = Algorithm::from_str(&header.alg) else {
        return Verdict::Invalid("alg_not_allowed");
    };
    let Ok(payload) = URL_SAFE_NO_PAD.decode(p) else {
        return Verdict::Invalid("malformed");
    };
    let Some(RawIss { iss: Some(iss) }) = decode_json::<RawIss>(&payload) else {
        return Verdict::Invalid("malformed");
    };
    let Some(issuer) = issuers.iter().find(|i| i.section.issuer == iss) else {
        return Verdict::Invalid("unknown_issuer");
    };
    if !issuer.algorithms.contains(&alg) {
        return Verdict::Invalid("alg_not_allowed");
    }
    let Some(key) = issuer.key_for(header.kid.as_deref(), alg).await else {
        return Verdict::Invalid("unknown_kid");
    };
    let Some(message) = token.get(..h.len() + 1 + p.len()) else {
        return Verdict::Invalid("malformed");
    };
    let signed = Signed {
        alg,
        header_json: &header_json,
        message,
        signature: sig,
        payload: &payload,
    };
    match signed.verify(issuer, &key, token) {
        Ok(id) => Verdict::Valid(Arc::new(id)),
        Err(reason) => Verdict::Invalid(reason),
    }
}

/// A token whose issuer and key are chosen, still unverified.
struct Signed<'a> {
    alg: Algorithm,
    header_json: &'a [u8],
    /// `header.payload` as sent: the signing input.
    message: &'a str,
    /// The third segment, still base64url.
    signature: &'a str,
    payload: &'a [u8],
}

impl Signed<'_> {
    /// Header, signature, then claims: the checks and refusal reasons of
    /// `jsonwebtoken::decode`, which this replaces.
    fn verify(
        &self,
        issuer: &Issuer,
        key: &KeyEntry,
        token: &str,
    ) -> Result<Identity, &'static str> {
        // The whole JOSE header must parse (typed `typ`, `crit`, `jwk`, …),
        // not only the `alg` and `kid` read so far.
        serde_json::from_slice::<jsonwebtoken::Header>(self.header_json)
            .map_err(|_| "malformed")?;
        let signature = URL_SAFE_NO_PAD
            .decode(self.signature)
            .map_err(|_| "malformed")?;
        // A key of the right family on the wrong curve (an ES384 token for a
        // P-256 key) is a bad signature too, as it always was.
        key.key
            .verify(self.alg, self.message.as_bytes(), &signature)
            .map_err(|_| "bad_signature")?;
        let claims: Map<String, Value> =
            serde_json::from_slice(self.payload).map_err(|_| "malformed")?;
        let registered: Registered<'_> =
            serde_json::from_slice(self.payload).map_err(|_| "malformed")?;
        issuer
            .rules
            .check(&registered, unix_now())
            .map_err(ClaimError::reason)?;
        identity_from_claims(&issuer.section, &claims, token).ok_or("missing_claim")
    }
}

fn identity_from_claims(
    s: &IssuerSection,
    c: &Map<String, Value>,
    token: &str,
) -> Option<Identity> {
    let subject = c.get(&s.subject_claim)?.as_str()?.to_string();
    let workspace = c
        .get(&s.workspace_claim)
        .and_then(Value::as_str)
        .map(str::to_string);
    let scopes = match (c.get("scope"), c.get("scp")) {
        (Some(Value::String(s)), _) => s.split_ascii_whitespace().map(str::to_string).collect(),
        (_, Some(Value::Array(a))) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        (_, Some(Value::String(s))) => s.split_ascii_whitespace().map(str::to_string).collect(),
        _ => Vec::new(),
    };
    let credential_id = match c.get("jti").and_then(Value::as_str) {
        Some(jti) => format!("jwt:{jti}"),
        None => format!("jwt:{}", hex::encode(&sha256(token.as_bytes())[..8])),
    };
    Some(Identity {
        subject,
        workspace,
        scopes,
        kind: CredentialKind::Jwt,
        credential_id,
        expires_at: c.get("exp").and_then(Value::as_u64),
        allow: Vec::new(),
        usage: None,
        platform_wide: s.insecure_platform_wide,
        scoped: true,
        scheme: None,
        grace: s.leeway.as_secs(),
        minted: None,
        limits: Default::default(),
        rendered: Default::default(),
    })
}
