//! RFC 9421's own test vectors (Appendix B, in
//! `tests/fixtures/httpsig/rfc9421.json`): for every request example the
//! rebuilt signature base equals the RFC's byte for byte and the RFC's
//! signature verifies with the B.1 key; changing any covered part of the
//! request, or lying about the algorithm, fails it. RFC 9530's
//! `Content-Digest` of the test request's body, and round trips for the
//! algorithms no request example uses (ECDSA P-256/P-384, RSA v1.5).

use authgate_core::verify::httpsig::{
    digest, parse, signature_base, Algorithm, HttpSigError, RequestParts, VerifyKey,
};
use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/httpsig/rfc9421.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

struct Request {
    method: String,
    scheme: String,
    authority: String,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
}

impl Request {
    fn from(v: &Value) -> Self {
        let mut headers = HeaderMap::new();
        for h in v["headers"].as_array().unwrap() {
            headers.append(
                HeaderName::from_bytes(h[0].as_str().unwrap().as_bytes()).unwrap(),
                HeaderValue::from_str(h[1].as_str().unwrap()).unwrap(),
            );
        }
        Self {
            method: v["method"].as_str().unwrap().into(),
            scheme: v["scheme"].as_str().unwrap().into(),
            authority: v["authority"].as_str().unwrap().into(),
            path: v["path"].as_str().unwrap().into(),
            query: v["query"].as_str().map(String::from),
            headers,
        }
    }

    fn parts(&self) -> RequestParts<'_> {
        RequestParts {
            method: &self.method,
            scheme: &self.scheme,
            authority: &self.authority,
            path: &self.path,
            query: self.query.as_deref(),
            headers: &self.headers,
        }
    }
}

fn key(f: &Value, keyid: &str) -> VerifyKey {
    let k = &f["keys"][keyid];
    let alg = Algorithm::parse(k["alg"].as_str().unwrap()).unwrap();
    match k["secret_base64"].as_str() {
        Some(s) => {
            VerifyKey::hmac(base64::engine::general_purpose::STANDARD.decode(s).unwrap()).unwrap()
        }
        None => VerifyKey::from_pem(alg, k["public_pem"].as_str().unwrap()).unwrap(),
    }
}

/// Verify vector `v` against `req`: the base, then the signature.
fn check(f: &Value, v: &Value, req: &Request) -> Result<String, HttpSigError> {
    let label = v["label"].as_str().unwrap();
    let inputs = parse(
        &format!("{label}={}", v["signature_input"].as_str().unwrap()),
        &format!("{label}=:{}:", v["signature"].as_str().unwrap()),
    )?;
    assert_eq!(inputs.len(), 1);
    let input = &inputs[0];
    assert_eq!(input.keyid.as_deref(), v["keyid"].as_str());
    assert_eq!(input.created, Some(1618884473));
    let base = signature_base(&req.parts(), input)?;
    key(f, v["keyid"].as_str().unwrap()).verify(
        input.alg.as_deref(),
        base.as_bytes(),
        &input.signature,
    )?;
    Ok(base)
}

#[test]
fn every_request_example_of_the_rfc_verifies_with_its_exact_base() {
    let f = fixture();
    let req = Request::from(&f["request"]);
    let vectors = f["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 5);
    for v in vectors {
        let want: Vec<&str> = v["base"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        let base = check(&f, v, &req).unwrap_or_else(|e| panic!("{}: {e}", v["section"]));
        assert_eq!(base, want.join("\n"), "{}", v["section"]);
    }
}

#[test]
fn changing_any_covered_component_fails_the_signature() {
    let f = fixture();
    type Change = fn(&mut Request);
    let changes: [(&str, Change); 8] = [
        ("@method", |r| r.method = "PUT".into()),
        ("@path", |r| r.path = "/bar".into()),
        ("@query", |r| r.query = Some("param=Value&Pet=cat".into())),
        ("@authority", |r| r.authority = "example.org".into()),
        ("date", |r| {
            r.headers.insert(
                "date",
                HeaderValue::from_static("Tue, 20 Apr 2021 02:07:56 GMT"),
            );
        }),
        ("content-type", |r| {
            r.headers
                .insert("content-type", HeaderValue::from_static("text/plain"));
        }),
        ("content-length", |r| {
            r.headers
                .insert("content-length", HeaderValue::from_static("19"));
        }),
        ("content-digest", |r| {
            r.headers.insert(
                "content-digest",
                HeaderValue::from_static("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"),
            );
        }),
    ];
    let mut failed = 0;
    for v in f["vectors"].as_array().unwrap() {
        let covered = v["signature_input"].as_str().unwrap();
        for (component, change) in &changes {
            // The query covers Pet too: changing Pet breaks @query-param.
            let affected = covered.contains(&format!("\"{component}\""))
                || (*component == "@query" && covered.contains("@query-param"));
            let mut req = Request::from(&f["request"]);
            change(&mut req);
            let got = check(&f, v, &req);
            if affected {
                assert_eq!(
                    got,
                    Err(HttpSigError::BadSignature),
                    "{} {component}",
                    v["section"]
                );
                failed += 1;
            } else {
                assert!(
                    got.is_ok(),
                    "{} {component} is not covered: {got:?}",
                    v["section"]
                );
            }
        }
    }
    assert!(failed >= 20, "{failed}");
}

#[test]
fn missing_components_lies_and_malformed_fields_are_refused() {
    let f = fixture();
    let v = &f["vectors"][4]; // B.2.6, ed25519
    let mut req = Request::from(&f["request"]);
    req.headers.remove("date");
    assert!(
        matches!(check(&f, v, &req), Err(HttpSigError::MissingComponent(c)) if c == "\"date\"")
    );
    // The key is ed25519; a message claiming another algorithm is refused
    // before any verification.
    let req = Request::from(&f["request"]);
    let input = &parse(
        &format!(
            "sig-b26={};alg=\"hmac-sha256\"",
            v["signature_input"].as_str().unwrap()
        ),
        &format!("sig-b26=:{}:", v["signature"].as_str().unwrap()),
    )
    .unwrap()[0];
    let base = signature_base(&req.parts(), input).unwrap();
    assert_eq!(
        key(&f, "test-key-ed25519").verify(input.alg.as_deref(), base.as_bytes(), &input.signature),
        Err(HttpSigError::AlgorithmMismatch)
    );
    // A truthful alg passes (it is covered, so the RFC's signature no longer
    // matches: the base differs), proving alg is checked before the bytes.
    assert_eq!(
        key(&f, "test-key-ed25519").verify(Some("ed25519"), base.as_bytes(), &input.signature),
        Err(HttpSigError::BadSignature)
    );
    for (input, sig) in [
        ("sig1=(\"@method\"", "sig1=:AAAA:"),
        ("sig1=(\"@method\")", "sig2=:AAAA:"),
        ("sig1=(\"@method\")", "sig1=\"not bytes\""),
        ("sig1=(\"@Method\")", "sig1=:AAAA:"),
        ("sig1=(\"@method\" \"@method\")", "sig1=:AAAA:"),
        ("sig1=(@method)", "sig1=:AAAA:"),
        ("sig1=(\"@method\");created=\"x\"", "sig1=:AAAA:"),
    ] {
        assert!(
            matches!(parse(input, sig), Err(HttpSigError::Malformed(_))),
            "{input} / {sig}"
        );
    }
}

#[test]
fn content_digest_of_the_rfc_request_body() {
    let f = fixture();
    let body = f["request"]["body"].as_str().unwrap().as_bytes();
    let cd = f["request"]["headers"][3][1].as_str().unwrap();
    assert!(cd.starts_with("sha-512="));
    assert_eq!(digest::verify(cd, body), Ok(()));
    // RFC 9530's sha-256 of the same body.
    assert_eq!(
        digest::verify(
            "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
            body
        ),
        Ok(())
    );
    assert_eq!(
        digest::verify(cd, b"{\"hello\": \"world!\"}"),
        Err(HttpSigError::DigestMismatch)
    );
    assert!(matches!(
        digest::verify("md5=:AAAA:", body),
        Err(HttpSigError::Unsupported(_))
    ));
    assert!(matches!(
        digest::verify("sha-256=notbytes", body),
        Err(HttpSigError::Malformed(_))
    ));
}

#[test]
fn the_algorithms_without_a_request_example_round_trip() {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
    let f = fixture();
    let base = b"\"@method\": GET\n\"@signature-params\": (\"@method\");created=1";
    let rng = SystemRandom::new();
    let spki_pem = |der: &[u8]| {
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----",
            base64::engine::general_purpose::STANDARD.encode(der)
        )
    };
    for (alg, signing) in [
        (
            Algorithm::EcdsaP256Sha256,
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        ),
        (
            Algorithm::EcdsaP384Sha384,
            &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        ),
    ] {
        let pair = EcdsaKeyPair::generate(signing).unwrap();
        let sig = pair.sign(&rng, base).unwrap();
        let spki = aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(
            pair.public_key(),
        )
        .unwrap();
        let key = VerifyKey::from_pem(alg, &spki_pem(spki.as_ref())).unwrap();
        assert_eq!(
            key.verify(Some(alg.name()), base, sig.as_ref()),
            Ok(()),
            "{alg:?}"
        );
        let mut bad = sig.as_ref().to_vec();
        bad[5] ^= 1;
        assert_eq!(
            key.verify(None, base, &bad),
            Err(HttpSigError::BadSignature)
        );
    }
    // RSA PKCS#1 v1.5 with the RFC's B.1.1 key.
    let pem = f["keys"]["test-key-rsa"]["private_pem"].as_str().unwrap();
    let der: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(der)
        .unwrap();
    let pair = RsaKeyPair::from_der(&der).unwrap();
    let mut sig = vec![0u8; pair.public_modulus_len()];
    pair.sign(&signature::RSA_PKCS1_SHA256, &rng, base, &mut sig)
        .unwrap();
    let key = VerifyKey::from_pem(
        Algorithm::RsaV15Sha256,
        f["keys"]["test-key-rsa"]["public_pem"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(key.verify(Some("rsa-v1_5-sha256"), base, &sig), Ok(()));
    assert_eq!(
        key.verify(Some("rsa-pss-sha512"), base, &sig),
        Err(HttpSigError::AlgorithmMismatch)
    );
    assert!(
        VerifyKey::hmac(vec![1; 16]).is_err(),
        "short HMAC secrets are refused"
    );
}
