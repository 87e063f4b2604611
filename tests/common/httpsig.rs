//! RFC 9421 signing for tests, written out by hand (not authgate's base
//! builder): the default components, one line each as §2.5 specifies.

use base64::Engine;
use sha2::Digest;

/// Standard base64.
pub fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// Signs a signature base.
pub type Signer = Box<dyn Fn(&[u8]) -> Vec<u8> + Send + Sync>;

/// A signing key.
pub enum Key {
    Ed(ed25519_dalek::SigningKey),
    P256(p256::ecdsa::SigningKey),
    /// A key registered by name (`[[signing_keys]]`): its keyid, RFC 9421
    /// algorithm name and signer.
    Named {
        keyid: String,
        alg: &'static str,
        sign: Signer,
    },
}

impl Key {
    /// The keyid authgate resolves: the public key in hex.
    pub fn keyid(&self) -> String {
        match self {
            Key::Ed(k) => hex::encode(k.verifying_key().to_bytes()),
            Key::P256(k) => hex::encode(k.verifying_key().to_encoded_point(true).as_bytes()),
            Key::Named { keyid, .. } => keyid.clone(),
        }
    }
    /// The RFC 9421 algorithm name.
    pub fn alg(&self) -> &'static str {
        match self {
            Key::Ed(_) => "ed25519",
            Key::P256(_) => "ecdsa-p256-sha256",
            Key::Named { alg, .. } => alg,
        }
    }
    /// Sign `base`.
    pub fn sign(&self, base: &[u8]) -> Vec<u8> {
        match self {
            Key::Ed(k) => {
                use ed25519_dalek::Signer;
                k.sign(base).to_bytes().to_vec()
            }
            Key::P256(k) => {
                use p256::ecdsa::signature::Signer;
                let s: p256::ecdsa::Signature = k.sign(base);
                s.to_bytes().to_vec()
            }
            Key::Named { sign, .. } => sign(base),
        }
    }
}

/// What a client signs.
#[derive(Clone, Copy)]
pub struct Req<'a> {
    /// Method.
    pub method: &'a str,
    /// Path.
    pub path: &'a str,
    /// Query without `?`.
    pub query: Option<&'a str>,
    /// Body.
    pub body: Option<&'a [u8]>,
}

/// `(Signature-Input, Signature, Content-Digest)` for `r` sent to
/// `authority`, covering `components` (the default set when `None`), with
/// `params` after the component list.
pub fn sign(
    key: &Key,
    authority: &str,
    r: &Req<'_>,
    components: Option<&[&str]>,
    params: &str,
) -> (String, String, Option<String>) {
    sign_with(key, authority, r, components, params, &[])
}

/// [`sign`], with the values of covered header fields other than
/// `content-digest` taken from `fields`.
pub fn sign_with(
    key: &Key,
    authority: &str,
    r: &Req<'_>,
    components: Option<&[&str]>,
    params: &str,
    fields: &[(&str, &str)],
) -> (String, String, Option<String>) {
    let digest = r
        .body
        .map(|b| format!("sha-256=:{}:", b64(&sha2::Sha256::digest(b))));
    let mut default = vec!["@method", "@authority", "@path"];
    if r.query.is_some() {
        default.push("@query");
    }
    if r.body.is_some() {
        default.push("content-digest");
    }
    let components = components.map(|c| c.to_vec()).unwrap_or(default);
    let mut base = String::new();
    for c in &components {
        let value = match *c {
            "@method" => r.method.to_string(),
            "@authority" => authority.to_string(),
            "@path" => r.path.to_string(),
            "@query" => format!("?{}", r.query.unwrap_or("")),
            "content-digest" => digest.clone().unwrap_or_default(),
            other => fields
                .iter()
                .find(|(n, _)| *n == other)
                .map(|(_, v)| v.to_string())
                .unwrap_or_else(|| panic!("no value for {other}")),
        };
        base.push_str(&format!("\"{c}\": {value}\n"));
    }
    let list = components
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(" ");
    let sig_params = format!("({list}){params}");
    base.push_str(&format!("\"@signature-params\": {sig_params}"));
    let signature = key.sign(base.as_bytes());
    (
        format!("sig1={sig_params}"),
        format!("sig1=:{}:", b64(&signature)),
        digest,
    )
}
