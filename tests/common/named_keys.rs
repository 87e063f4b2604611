//! RFC 9421 keys of the algorithms a key is registered with by name
//! (RSA-PSS-SHA512, RSA v1.5-SHA256, ECDSA P-384, HMAC-SHA256), generated
//! with aws-lc-rs (not authgate's code): each a signing [`Key`] and what
//! authgate is given to verify it.

use super::httpsig::Key;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use base64::Engine;

/// What verifies a key: a PEM public key, or an HMAC secret.
pub enum Material {
    Pem(String),
    Secret(Vec<u8>),
}

/// SPKI DER as PEM.
pub fn pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        lines.join("\n")
    )
}

/// A 2048-bit RSA key for `rsa-pss-sha512` or `rsa-v1_5-sha256`.
pub fn rsa(alg: &'static str, keyid: &str) -> (Key, Material) {
    let pair = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let spki = pem(pair.public_key().as_der().unwrap().as_ref());
    let pair = std::sync::Arc::new(pair);
    let padding: &'static dyn signature::RsaEncoding = if alg == "rsa-pss-sha512" {
        &signature::RSA_PSS_SHA512
    } else {
        &signature::RSA_PKCS1_SHA256
    };
    let key = Key::Named {
        keyid: keyid.into(),
        alg,
        sign: Box::new(move |base| {
            let mut sig = vec![0; pair.public_modulus_len()];
            pair.sign(padding, &SystemRandom::new(), base, &mut sig)
                .unwrap();
            sig
        }),
    };
    (key, Material::Pem(spki))
}

/// A P-384 key for `ecdsa-p384-sha384`.
pub fn p384(keyid: &str) -> (Key, Material) {
    let pair = EcdsaKeyPair::generate(&signature::ECDSA_P384_SHA384_FIXED_SIGNING).unwrap();
    let spki = pem(pair.public_key().as_der().unwrap().as_ref());
    let key = Key::Named {
        keyid: keyid.into(),
        alg: "ecdsa-p384-sha384",
        sign: Box::new(move |base| {
            pair.sign(&SystemRandom::new(), base)
                .unwrap()
                .as_ref()
                .to_vec()
        }),
    };
    (key, Material::Pem(spki))
}

/// A 48-byte `hmac-sha256` secret.
pub fn hmac(keyid: &str) -> (Key, Material) {
    let secret: Vec<u8> = (0..48).map(|_| rand::random::<u8>()).collect();
    let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &secret);
    let key = Key::Named {
        keyid: keyid.into(),
        alg: "hmac-sha256",
        sign: Box::new(move |base| aws_lc_rs::hmac::sign(&k, base).as_ref().to_vec()),
    };
    (key, Material::Secret(secret))
}

/// One of each algorithm, under the keyids `{prefix}-pss`, `-v15`,
/// `-p384` and `-hmac`.
pub fn one_of_each(prefix: &str) -> Vec<(Key, Material)> {
    vec![
        rsa("rsa-pss-sha512", &format!("{prefix}-pss")),
        rsa("rsa-v1_5-sha256", &format!("{prefix}-v15")),
        p384(&format!("{prefix}-p384")),
        hmac(&format!("{prefix}-hmac")),
    ]
}

/// Signature parameters for now: `created`, `keyid`, `alg` (which may
/// lie) and a random nonce.
pub fn params(k: &Key, alg: &str) -> String {
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    format!(
        ";created={created};keyid=\"{}\";alg=\"{alg}\";nonce=\"{:016x}\"",
        k.keyid(),
        rand::random::<u64>()
    )
}
