//! JWS signature keys parsed once, when keys are loaded (config load or
//! reload, JWKS fetch), so that a request pays only for the signature check
//! over `header.payload`, never for parsing a key.
//!
//! Public keys become aws-lc-rs [`ParsedPublicKey`]s: one per RSA algorithm
//! (RS256…PS512 share the key but not the padding and digest), one for the
//! EC curve the point lies on, one for Ed25519. HMAC secrets become one
//! [`hmac::Key`] per hash, and tags are compared in constant time
//! ([`hmac::verify`]). ES256/ES384 signatures are the fixed-width `r‖s` of
//! RFC 7518 §3.4, hence the `*_FIXED` algorithms. RSA keys must be 2048 to
//! 8192 bits: a shorter or longer modulus is refused when the key is loaded
//! (aws-lc-rs would otherwise refuse every signature it made).

use aws_lc_rs::hmac;
use aws_lc_rs::signature::{
    self, ParsedPublicKey, RsaParameters, RsaPublicKeyComponents, VerificationAlgorithm,
};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind};

/// Why a signature was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// The key cannot check this algorithm: another family, or an EC key on
    /// the other curve.
    KeyMismatch,
    /// The signature does not verify (wrong key, altered input, bad length).
    Invalid,
}

/// A key that cannot be used to verify anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unusable {family:?} key: {reason}")]
pub struct KeyError {
    /// The family the key claimed to be.
    pub family: AlgorithmFamily,
    /// What was wrong with it.
    pub reason: &'static str,
}

/// A verification key, parsed and ready.
pub struct VerifyingKey {
    inner: Inner,
}

enum Inner {
    Hmac(Box<[hmac::Key; 3]>),
    Rsa(Box<[ParsedPublicKey; 6]>),
    Ec {
        alg: Algorithm,
        key: ParsedPublicKey,
    },
    Ed(ParsedPublicKey),
}

/// The RSA algorithms in the order of [`Inner::Rsa`], with their aws-lc-rs parameters.
const RSA: [(Algorithm, &RsaParameters); 6] = [
    (Algorithm::RS256, &signature::RSA_PKCS1_2048_8192_SHA256),
    (Algorithm::RS384, &signature::RSA_PKCS1_2048_8192_SHA384),
    (Algorithm::RS512, &signature::RSA_PKCS1_2048_8192_SHA512),
    (Algorithm::PS256, &signature::RSA_PSS_2048_8192_SHA256),
    (Algorithm::PS384, &signature::RSA_PSS_2048_8192_SHA384),
    (Algorithm::PS512, &signature::RSA_PSS_2048_8192_SHA512),
];

impl VerifyingKey {
    /// An HMAC key (HS256, HS384, HS512) from a shared secret.
    pub fn hmac(secret: &[u8]) -> Self {
        let keys = [hmac::HMAC_SHA256, hmac::HMAC_SHA384, hmac::HMAC_SHA512]
            .map(|alg| hmac::Key::new(alg, secret));
        Self {
            inner: Inner::Hmac(Box::new(keys)),
        }
    }

    /// Parse a key `jsonwebtoken` has read from a PEM file or a JWK: RSA as
    /// PKCS#1 DER (from SPKI or PKCS#1 PEM) or JWK `n`/`e`, EC as a SEC1
    /// point (PEM, or JWK `x`/`y`), Ed25519 as the raw 32 bytes (PEM or
    /// OKP `x`).
    pub fn from_decoding_key(key: &DecodingKey) -> Result<Self, KeyError> {
        let family = key.family();
        let err = |reason| KeyError { family, reason };
        let inner = match (family, key.kind()) {
            (AlgorithmFamily::Hmac, DecodingKeyKind::SecretOrDer(secret)) => {
                return Ok(Self::hmac(secret))
            }
            (AlgorithmFamily::Rsa, DecodingKeyKind::SecretOrDer(der)) => {
                let n = pkcs1_modulus(der).ok_or_else(|| err("not an RSA public key"))?;
                check_rsa_size(n).map_err(err)?;
                Inner::Rsa(
                    rsa_keys(|params| ParsedPublicKey::new(params, der).ok())
                        .ok_or_else(|| err("not an RSA public key"))?,
                )
            }
            (AlgorithmFamily::Rsa, DecodingKeyKind::RsaModulusExponent { n, e }) => {
                check_rsa_size(n).map_err(err)?;
                let components = RsaPublicKeyComponents { n, e };
                Inner::Rsa(
                    rsa_keys(|params| components.to_parsed_public_key(params).ok())
                        .ok_or_else(|| err("not an RSA modulus and exponent"))?,
                )
            }
            (AlgorithmFamily::Ec, DecodingKeyKind::SecretOrDer(point)) => {
                // The point says which curve it is on; try both JWS curves.
                let parse =
                    |alg: &'static dyn VerificationAlgorithm| ParsedPublicKey::new(alg, point).ok();
                if let Some(key) = parse(&signature::ECDSA_P256_SHA256_FIXED) {
                    Inner::Ec {
                        alg: Algorithm::ES256,
                        key,
                    }
                } else if let Some(key) = parse(&signature::ECDSA_P384_SHA384_FIXED) {
                    Inner::Ec {
                        alg: Algorithm::ES384,
                        key,
                    }
                } else {
                    return Err(err("not a P-256 or P-384 public key"));
                }
            }
            (AlgorithmFamily::Ed, DecodingKeyKind::SecretOrDer(raw)) => Inner::Ed(
                ParsedPublicKey::new(&signature::ED25519, raw)
                    .map_err(|_| err("not an Ed25519 public key"))?,
            ),
            _ => return Err(err("unsupported key encoding")),
        };
        Ok(Self { inner })
    }

    /// The algorithm family this key serves.
    pub fn family(&self) -> AlgorithmFamily {
        match &self.inner {
            Inner::Hmac(_) => AlgorithmFamily::Hmac,
            Inner::Rsa(_) => AlgorithmFamily::Rsa,
            Inner::Ec { .. } => AlgorithmFamily::Ec,
            Inner::Ed(_) => AlgorithmFamily::Ed,
        }
    }

    /// Whether this key can check `alg` at all: its family, and for EC its
    /// curve (a P-256 key serves ES256 only, a P-384 key ES384 only).
    pub fn serves(&self, alg: Algorithm) -> bool {
        match &self.inner {
            Inner::Ec { alg: curve, .. } => *curve == alg,
            _ => alg.family() == self.family(),
        }
    }

    /// Check `signature` (already base64url-decoded) over `message`
    /// (`header.payload` as sent) with algorithm `alg`.
    pub fn verify(
        &self,
        alg: Algorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        let checked = match (&self.inner, alg) {
            (Inner::Hmac(keys), Algorithm::HS256) => hmac::verify(&keys[0], message, signature),
            (Inner::Hmac(keys), Algorithm::HS384) => hmac::verify(&keys[1], message, signature),
            (Inner::Hmac(keys), Algorithm::HS512) => hmac::verify(&keys[2], message, signature),
            (Inner::Rsa(keys), alg) => {
                match RSA.iter().zip(keys.iter()).find(|((a, _), _)| *a == alg) {
                    Some((_, key)) => key.verify_sig(message, signature),
                    None => return Err(SignatureError::KeyMismatch),
                }
            }
            (Inner::Ec { alg: curve, key }, alg) if *curve == alg => {
                key.verify_sig(message, signature)
            }
            (Inner::Ed(key), Algorithm::EdDSA) => key.verify_sig(message, signature),
            _ => return Err(SignatureError::KeyMismatch),
        };
        checked.map_err(|_| SignatureError::Invalid)
    }
}

/// The modulus of a PKCS#1 `RSAPublicKey` (`SEQUENCE { n, e }`), as DER.
fn pkcs1_modulus(der: &[u8]) -> Option<&[u8]> {
    use der::{asn1::UintRef, Decode, Reader, SliceReader};
    let mut reader = SliceReader::new(der).ok()?;
    let n = reader
        .sequence(|seq| {
            let n = UintRef::decode(seq)?;
            UintRef::decode(seq)?;
            Ok(n)
        })
        .ok()?;
    reader.finish(n).ok().map(|n| n.as_bytes())
}

/// RS*/PS* keys must have a 2048- to 8192-bit modulus (big-endian bytes).
fn check_rsa_size(n: &[u8]) -> Result<(), &'static str> {
    let n = &n[n.iter().take_while(|b| **b == 0).count()..];
    let bits = match n.first() {
        Some(top) => n.len() * 8 - top.leading_zeros() as usize,
        None => 0,
    };
    match bits {
        0..=2047 => Err("RSA modulus shorter than 2048 bits"),
        2048..=8192 => Ok(()),
        _ => Err("RSA modulus longer than 8192 bits"),
    }
}

/// The key parsed for each of [`RSA`], in that order.
fn rsa_keys(
    parse: impl Fn(&'static RsaParameters) -> Option<ParsedPublicKey>,
) -> Option<Box<[ParsedPublicKey; 6]>> {
    let keys: Box<[ParsedPublicKey]> = RSA.iter().map(|(_, p)| parse(p)).collect::<Option<_>>()?;
    keys.try_into().ok()
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key material: an HMAC key is a secret.
        let mut d = f.debug_struct("VerifyingKey");
        d.field("family", &self.family());
        if let Inner::Ec { alg, .. } = &self.inner {
            d.field("alg", alg);
        }
        d.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair};
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;

    const MSG: &[u8] = b"eyJhbGciOiJ4In0.eyJzdWIiOiJ1In0";

    fn read(name: &str) -> Vec<u8> {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/jwt/keys");
        std::fs::read(dir.join(name)).unwrap()
    }

    fn pem_der(pem: &[u8]) -> Vec<u8> {
        let body: String = std::str::from_utf8(pem)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        STANDARD.decode(body).unwrap()
    }

    fn public(family: AlgorithmFamily, pem: &str) -> VerifyingKey {
        let pem = read(pem);
        let key = match family {
            AlgorithmFamily::Rsa => DecodingKey::from_rsa_pem(&pem),
            AlgorithmFamily::Ec => DecodingKey::from_ec_pem(&pem),
            _ => DecodingKey::from_ed_pem(&pem),
        };
        VerifyingKey::from_decoding_key(&key.unwrap()).unwrap()
    }

    /// `alg` signature over `msg` with the private key in `pem` (PKCS#8).
    fn sign(alg: Algorithm, pem: &str, msg: &[u8]) -> Vec<u8> {
        let der = pem_der(&read(pem));
        let rng = SystemRandom::new();
        let rsa = |enc: &'static dyn signature::RsaEncoding| {
            let pair = RsaKeyPair::from_pkcs8(&der).unwrap();
            let mut sig = vec![0; pair.public_modulus_len()];
            pair.sign(enc, &rng, msg, &mut sig).unwrap();
            sig
        };
        let ec = |a| {
            let pair = EcdsaKeyPair::from_pkcs8(a, &der).unwrap();
            pair.sign(&rng, msg).unwrap().as_ref().to_vec()
        };
        match alg {
            Algorithm::RS256 => rsa(&signature::RSA_PKCS1_SHA256),
            Algorithm::RS384 => rsa(&signature::RSA_PKCS1_SHA384),
            Algorithm::RS512 => rsa(&signature::RSA_PKCS1_SHA512),
            Algorithm::PS256 => rsa(&signature::RSA_PSS_SHA256),
            Algorithm::PS384 => rsa(&signature::RSA_PSS_SHA384),
            Algorithm::PS512 => rsa(&signature::RSA_PSS_SHA512),
            Algorithm::ES256 => ec(&signature::ECDSA_P256_SHA256_FIXED_SIGNING),
            Algorithm::ES384 => ec(&signature::ECDSA_P384_SHA384_FIXED_SIGNING),
            Algorithm::EdDSA => Ed25519KeyPair::from_pkcs8(&der)
                .unwrap()
                .sign(msg)
                .as_ref()
                .to_vec(),
            _ => unreachable!("HMAC is signed with hmac_tag"),
        }
    }

    fn hmac_tag(alg: hmac::Algorithm, secret: &[u8], msg: &[u8]) -> Vec<u8> {
        hmac::sign(&hmac::Key::new(alg, secret), msg)
            .as_ref()
            .to_vec()
    }

    /// Every public-key algorithm with its key pair files.
    fn public_cases() -> Vec<(Algorithm, AlgorithmFamily, &'static str, &'static str)> {
        use Algorithm::*;
        let rsa = |a| (a, AlgorithmFamily::Rsa, "rsa.pub.pem", "rsa.key.pem");
        vec![
            rsa(RS256),
            rsa(RS384),
            rsa(RS512),
            rsa(PS256),
            rsa(PS384),
            rsa(PS512),
            (ES256, AlgorithmFamily::Ec, "ec256.pub.pem", "ec256.key.pem"),
            (ES384, AlgorithmFamily::Ec, "ec384.pub.pem", "ec384.key.pem"),
            (
                EdDSA,
                AlgorithmFamily::Ed,
                "ed25519.pub.pem",
                "ed25519.key.pem",
            ),
        ]
    }

    #[test]
    fn each_public_algorithm_verifies_and_refuses_alterations() {
        for (alg, family, public_pem, private_pem) in public_cases() {
            let key = public(family, public_pem);
            let sig = sign(alg, private_pem, MSG);
            assert_eq!(key.verify(alg, MSG, &sig), Ok(()), "{alg:?}");
            let mut bad = sig.clone();
            bad[sig.len() / 2] ^= 1;
            assert_eq!(
                key.verify(alg, MSG, &bad),
                Err(SignatureError::Invalid),
                "{alg:?}"
            );
            assert_eq!(
                key.verify(alg, b"eyJhbGciOiJ4In0.eyJzdWIiOiJ2In0", &sig),
                Err(SignatureError::Invalid),
                "{alg:?} altered message"
            );
            assert_eq!(key.verify(alg, MSG, &[]), Err(SignatureError::Invalid));
        }
    }

    #[test]
    fn a_signature_by_another_key_is_refused() {
        let rsa2 = public(AlgorithmFamily::Rsa, "rsa2.pub.pem");
        let sig = sign(Algorithm::RS256, "rsa.key.pem", MSG);
        assert_eq!(
            rsa2.verify(Algorithm::RS256, MSG, &sig),
            Err(SignatureError::Invalid)
        );
        // The right family but not the right algorithm: PKCS#1 v1.5 is not PSS.
        let rsa = public(AlgorithmFamily::Rsa, "rsa.pub.pem");
        assert_eq!(
            rsa.verify(Algorithm::PS256, MSG, &sig),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            rsa.verify(Algorithm::RS384, MSG, &sig),
            Err(SignatureError::Invalid)
        );

        let secret = read("hs256.secret");
        let key = VerifyingKey::hmac(&secret);
        let tag = hmac_tag(
            hmac::HMAC_SHA256,
            b"another secret of thirty-two bytes!",
            MSG,
        );
        assert_eq!(
            key.verify(Algorithm::HS256, MSG, &tag),
            Err(SignatureError::Invalid)
        );
    }

    #[test]
    fn hmac_checks_each_hash_and_the_full_tag() {
        let secret = read("hs512.secret");
        let key = VerifyingKey::hmac(&secret);
        for (alg, h) in [
            (Algorithm::HS256, hmac::HMAC_SHA256),
            (Algorithm::HS384, hmac::HMAC_SHA384),
            (Algorithm::HS512, hmac::HMAC_SHA512),
        ] {
            let tag = hmac_tag(h, &secret, MSG);
            assert_eq!(key.verify(alg, MSG, &tag), Ok(()), "{alg:?}");
            assert_eq!(
                key.verify(alg, MSG, &tag[..tag.len() - 1]),
                Err(SignatureError::Invalid),
                "{alg:?} truncated tag"
            );
            let mut long = tag.clone();
            long.push(0);
            assert_eq!(key.verify(alg, MSG, &long), Err(SignatureError::Invalid));
        }
        // A 32-byte HS256 tag is not an HS512 tag.
        let tag = hmac_tag(hmac::HMAC_SHA256, &secret, MSG);
        assert_eq!(
            key.verify(Algorithm::HS512, MSG, &tag),
            Err(SignatureError::Invalid)
        );
    }

    #[test]
    fn ecdsa_signatures_must_be_fixed_width_r_s() {
        let key = public(AlgorithmFamily::Ec, "ec256.pub.pem");
        let sig = sign(Algorithm::ES256, "ec256.key.pem", MSG);
        assert_eq!(sig.len(), 64);
        assert_eq!(
            key.verify(Algorithm::ES256, MSG, &sig[..63]),
            Err(SignatureError::Invalid)
        );
        let mut long = sig.clone();
        long.push(0);
        assert_eq!(
            key.verify(Algorithm::ES256, MSG, &long),
            Err(SignatureError::Invalid)
        );
        // The same signature in ASN.1 DER (what X.509 uses) is not a JWS signature.
        let der = pem_der(&read("ec256.key.pem"));
        let pair =
            EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &der).unwrap();
        let asn1 = pair.sign(&SystemRandom::new(), MSG).unwrap();
        assert_eq!(
            key.verify(Algorithm::ES256, MSG, asn1.as_ref()),
            Err(SignatureError::Invalid)
        );
    }

    #[test]
    fn a_key_serves_only_its_family_and_curve() {
        let rsa = public(AlgorithmFamily::Rsa, "rsa.pub.pem");
        let ec256 = public(AlgorithmFamily::Ec, "ec256.pub.pem");
        let ec384 = public(AlgorithmFamily::Ec, "ec384.pub.pem");
        let ed = public(AlgorithmFamily::Ed, "ed25519.pub.pem");
        let hs = VerifyingKey::hmac(&read("hs256.secret"));
        let sig = sign(Algorithm::ES256, "ec256.key.pem", MSG);
        for (key, alg) in [
            (&rsa, Algorithm::ES256),
            (&rsa, Algorithm::HS256),
            (&ec256, Algorithm::ES384),
            (&ec384, Algorithm::ES256),
            (&ed, Algorithm::HS256),
            (&hs, Algorithm::RS256),
            (&hs, Algorithm::EdDSA),
        ] {
            assert_eq!(
                key.verify(alg, MSG, &sig),
                Err(SignatureError::KeyMismatch),
                "{key:?} {alg:?}"
            );
        }
        assert_eq!(ec256.family(), AlgorithmFamily::Ec);
        assert_eq!(hs.family(), AlgorithmFamily::Hmac);
    }

    #[test]
    fn rsa_keys_parse_from_spki_pkcs1_pem_and_jwk_components() {
        let spki_pem = read("rsa.pub.pem");
        let spki = DecodingKey::from_rsa_pem(&spki_pem).unwrap();
        // An "RSA PUBLIC KEY" (PKCS#1) PEM of the same key.
        let pkcs1_der = spki.try_get_as_bytes().unwrap();
        let pkcs1_pem = format!(
            "-----BEGIN RSA PUBLIC KEY-----\n{}\n-----END RSA PUBLIC KEY-----\n",
            STANDARD.encode(pkcs1_der)
        );
        assert_ne!(
            pem_der(&spki_pem),
            pkcs1_der,
            "SPKI and PKCS#1 differ on the wire"
        );
        let pkcs1 = DecodingKey::from_rsa_pem(pkcs1_pem.as_bytes()).unwrap();
        let jwk: jsonwebtoken::jwk::Jwk =
            serde_json::from_slice(&read("rsa.pub.jwk.json")).unwrap();
        let components = DecodingKey::from_jwk(&jwk).unwrap();
        assert!(matches!(
            components.kind(),
            DecodingKeyKind::RsaModulusExponent { .. }
        ));
        let sig = sign(Algorithm::PS256, "rsa.key.pem", MSG);
        let other = sign(Algorithm::PS256, "rsa2.key.pem", MSG);
        for key in [&spki, &pkcs1, &components] {
            let key = VerifyingKey::from_decoding_key(key).unwrap();
            assert_eq!(key.verify(Algorithm::PS256, MSG, &sig), Ok(()));
            assert_eq!(
                key.verify(Algorithm::PS256, MSG, &other),
                Err(SignatureError::Invalid)
            );
        }
    }

    #[test]
    fn ec_and_okp_jwks_parse_from_their_coordinates() {
        for (jwk, alg, private_pem) in [
            ("ec256.pub.jwk.json", Algorithm::ES256, "ec256.key.pem"),
            ("ed25519.pub.jwk.json", Algorithm::EdDSA, "ed25519.key.pem"),
        ] {
            let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_slice(&read(jwk)).unwrap();
            let key =
                VerifyingKey::from_decoding_key(&DecodingKey::from_jwk(&jwk).unwrap()).unwrap();
            assert_eq!(
                key.verify(alg, MSG, &sign(alg, private_pem, MSG)),
                Ok(()),
                "{alg:?}"
            );
        }
    }

    #[test]
    fn unusable_keys_are_refused_when_loaded() {
        // A private key where a public one belongs.
        let private = DecodingKey::from_rsa_pem(&read("rsa.key.pem")).unwrap();
        assert!(VerifyingKey::from_decoding_key(&private).is_err());
        assert!(VerifyingKey::from_decoding_key(&DecodingKey::from_rsa_der(b"not der")).is_err());
        // A point that is on neither curve, and one with a coordinate missing.
        let mut point = vec![4u8];
        point.extend([7u8; 64]);
        assert!(VerifyingKey::from_decoding_key(&DecodingKey::from_ec_der(&point)).is_err());
        assert!(VerifyingKey::from_decoding_key(&DecodingKey::from_ec_der(&point[..33])).is_err());
        assert!(VerifyingKey::from_decoding_key(&DecodingKey::from_ed_der(&[1u8; 31])).is_err());
        let zero_exponent = DecodingKey::from_rsa_raw_components(&[0xc5; 256], &[]);
        assert!(VerifyingKey::from_decoding_key(&zero_exponent).is_err());
    }

    #[test]
    fn rsa_keys_outside_2048_to_8192_bits_are_refused_when_loaded() {
        let short = DecodingKey::from_rsa_pem(&read("rsa1024.pub.pem")).unwrap();
        let e = VerifyingKey::from_decoding_key(&short).unwrap_err();
        assert!(e.to_string().contains("shorter than 2048"), "{e}");
        // The same bounds for JWK components: 2047 bits no, 2048 and 8192 yes.
        let exp = [1u8, 0, 1];
        let key = |n: &[u8]| {
            VerifyingKey::from_decoding_key(&DecodingKey::from_rsa_raw_components(n, &exp))
        };
        let mut n = vec![0xffu8; 256];
        n[0] = 0x7f;
        assert!(key(&n).is_err(), "2047 bits");
        n[0] = 0xc5;
        assert!(key(&n).is_ok(), "2048 bits");
        // A leading zero byte does not count.
        assert_eq!(check_rsa_size(&[&[0u8][..], &n].concat()), Ok(()));
        assert!(key(&vec![0xc5u8; 1024]).is_ok(), "8192 bits");
        assert!(key(&vec![0xc5u8; 1025]).is_err(), "8200 bits");
        assert_eq!(
            check_rsa_size(&[]),
            Err("RSA modulus shorter than 2048 bits")
        );
        assert_eq!(pkcs1_modulus(b"\x30\x03\x02\x01"), None);
    }

    #[test]
    fn a_key_serves_its_family_and_for_ec_its_curve_only() {
        let p256 = public(AlgorithmFamily::Ec, "ec256.pub.pem");
        let p384 = public(AlgorithmFamily::Ec, "ec384.pub.pem");
        let rsa = public(AlgorithmFamily::Rsa, "rsa.pub.pem");
        let hmac = VerifyingKey::hmac(&[7u8; 32]);
        assert!(p256.serves(Algorithm::ES256) && !p256.serves(Algorithm::ES384));
        assert!(p384.serves(Algorithm::ES384) && !p384.serves(Algorithm::ES256));
        assert!(rsa.serves(Algorithm::RS256) && rsa.serves(Algorithm::PS512));
        assert!(!rsa.serves(Algorithm::ES256) && !rsa.serves(Algorithm::HS256));
        assert!(hmac.serves(Algorithm::HS384) && !hmac.serves(Algorithm::RS256));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let shown = format!(
            "{:?}",
            VerifyingKey::hmac(b"correct horse battery staple, 32+")
        );
        assert!(!shown.contains("horse"), "{shown}");
        assert!(shown.contains("Hmac"), "{shown}");
    }
}
