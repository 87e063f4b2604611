//! Helpers shared by the fuzz targets: the repository's fixtures (JWT cases
//! and keys, stamp vectors), a poll for futures that never wait, and the
//! canonical DER encoder the stamp targets compare against, and a JSON
//! reader that reports repeated keys.
//!
//! Fixtures are read from the checkout at run time (`tests/fixtures`), once
//! per process, so the targets always fuzz against the keys the tests use.

use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::task::{Context, Poll, Waker};

/// `tests/fixtures` of the checkout this crate was built from.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

/// `conf/` of the checkout this crate was built from.
pub fn conf_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../conf")
}

/// One case of `tests/fixtures/jwt/cases.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct JwtCase {
    /// Case name.
    pub name: String,
    /// Which issuer setup verifies it (see [`issuer_toml`]).
    pub issuer_key: String,
    /// The token.
    pub token: String,
    /// `valid` or the refusal class.
    pub expect: String,
}

/// The JWT fixture cases.
pub fn jwt_cases() -> Vec<JwtCase> {
    let bytes = std::fs::read(fixtures().join("jwt/cases.json")).expect("read jwt/cases.json");
    serde_json::from_slice(&bytes).expect("parse jwt/cases.json")
}

/// The issuer names of the JWT fixtures (`issuer_key` values).
pub const ISSUER_KEYS: [&str; 8] = [
    "hs256",
    "hs384",
    "hs512",
    "rsa",
    "ec256",
    "ed25519",
    "jwks",
    "jwks_rotated",
];

/// An `[[jwt.issuers]]` section (TOML) for a fixture issuer, as
/// `tests/jwt_matrix.rs` sets them up; paths relative to `tests/fixtures/jwt`.
pub fn issuer_toml(key: &str) -> String {
    let rsa = r#""RS256", "RS384", "RS512", "PS256", "PS384", "PS512""#;
    let public = format!(r#"{rsa}, "ES256", "ES384", "EdDSA""#);
    let (algs, source) = match key {
        "hs256" => (
            r#""HS256""#.to_string(),
            r#"secret_file = "keys/hs256.secret""#,
        ),
        "hs384" => (
            r#""HS384""#.to_string(),
            r#"secret_file = "keys/hs384.secret""#,
        ),
        "hs512" => (
            r#""HS512""#.to_string(),
            r#"secret_file = "keys/hs512.secret""#,
        ),
        "rsa" => (rsa.to_string(), r#"public_key_file = "keys/rsa.pub.pem""#),
        "ec256" => (
            r#""ES256""#.to_string(),
            r#"public_key_file = "keys/ec256.pub.pem""#,
        ),
        "ed25519" => (
            r#""EdDSA""#.to_string(),
            r#"public_key_file = "keys/ed25519.pub.pem""#,
        ),
        "jwks" => (public, r#"jwks_file = "jwks.json""#),
        "jwks_rotated" => (public, r#"jwks_file = "jwks_rotated.json""#),
        other => panic!("unknown issuer_key {other}"),
    };
    format!(
        "name = \"{key}\"\nissuer = \"https://issuer.test\"\naudiences = [\"authgate\"]\n\
         algorithms = [{algs}]\nworkspace_claim = \"namespace\"\n{source}\n"
    )
}

/// One vector of `tests/fixtures/stamps/vectors.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct StampVector {
    /// Vector name.
    pub name: String,
    /// The exact body.
    pub body: String,
    /// The `X-Stamp` header value.
    pub stamp: String,
    /// `valid` or the refusal class.
    pub expect: String,
}

/// The stamp vectors.
pub fn stamp_vectors() -> Vec<StampVector> {
    let bytes = std::fs::read(fixtures().join("stamps/vectors.json")).expect("read vectors.json");
    serde_json::from_slice(&bytes).expect("parse vectors.json")
}

/// Drive a future that must be ready on its first poll (JWT verification
/// with static keys never waits). Panics if it is not: that would be a
/// harness error, not a finding.
pub fn ready<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("a future with static keys was pending"),
    }
}

/// DER `INTEGER` content of a big-endian unsigned scalar, minimal.
pub fn der_int_minimal(x: &[u8; 32]) -> Vec<u8> {
    let start = x.iter().position(|b| *b != 0).unwrap_or(31);
    let mut v = Vec::with_capacity(33);
    if x[start] & 0x80 != 0 {
        v.push(0);
    }
    v.extend_from_slice(&x[start..]);
    v
}

/// `SEQUENCE { INTEGER r, INTEGER s }` from INTEGER contents.
pub fn der_seq(r: &[u8], s: &[u8]) -> Vec<u8> {
    let mut body = vec![0x02, r.len() as u8];
    body.extend_from_slice(r);
    body.extend_from_slice(&[0x02, s.len() as u8]);
    body.extend_from_slice(s);
    let mut v = vec![0x30, body.len() as u8];
    v.extend(body);
    v
}

/// A JSON document as a `Value` (the last of repeated keys kept, as
/// `serde_json` does), plus every key that appeared twice in one object
/// anywhere in it.
pub struct Doc(pub Value, pub HashSet<String>);

impl<'de> Deserialize<'de> for Doc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DocVisitor)
    }
}

struct DocVisitor;

impl<'de> Visitor<'de> for DocVisitor {
    type Value = Doc;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Doc, E> {
        Ok(Doc(Value::from(v), HashSet::new()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Doc, E> {
        Ok(Doc(Value::from(v), HashSet::new()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Doc, E> {
        Ok(Doc(Value::from(v), HashSet::new()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Doc, E> {
        Ok(Doc(Value::from(v), HashSet::new()))
    }
    fn visit_str<E>(self, v: &str) -> Result<Doc, E> {
        Ok(Doc(Value::from(v), HashSet::new()))
    }
    fn visit_unit<E>(self) -> Result<Doc, E> {
        Ok(Doc(Value::Null, HashSet::new()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Doc, A::Error> {
        let (mut items, mut dups) = (Vec::new(), HashSet::new());
        while let Some(Doc(v, d)) = seq.next_element::<Doc>()? {
            items.push(v);
            dups.extend(d);
        }
        Ok(Doc(Value::Array(items), dups))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Doc, A::Error> {
        let (mut obj, mut dups) = (Map::new(), HashSet::new());
        while let Some((k, Doc(v, d))) = map.next_entry::<String, Doc>()? {
            dups.extend(d);
            if obj.insert(k.clone(), v).is_some() {
                dups.insert(k);
            }
        }
        Ok(Doc(Value::Object(obj), dups))
    }
}
