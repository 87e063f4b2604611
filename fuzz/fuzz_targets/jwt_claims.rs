//! `verify::claims`: the lenient parse of the registered claims
//! (`Registered`) and `Rules::check`.
//!
//! Input: a JWT payload (JSON bytes). Checked for an issuer with and
//! without audiences, and a leeway of 0 and 60 s, at a fixed `now`.
//!
//! Property: no panic, and whenever both `Registered` and a plain
//! `serde_json::Value` parse the payload, the verdict equals the one a
//! straightforward reading of the `Value` gives (`exp`/`nbf` a non-negative
//! integer or finite float, `iss`/`aud` a string or an array of strings,
//! anything else unusable, checks in the documented order). A payload only
//! `Value` parses (a duplicate registered claim, a misplaced object) is
//! refused as malformed by the verifier before the rules run.

#![no_main]

use authgate::verify::claims::{ClaimError, Registered, Rules};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const NOW: u64 = 1_700_000_000;
const ISSUER: &str = "https://issuer.test";

enum Field<T> {
    Parsed(T),
    Failed,
    Absent,
}

fn date(v: Option<&Value>) -> Field<u64> {
    let Some(v) = v else { return Field::Absent };
    if let Some(n) = v.as_u64() {
        return Field::Parsed(n);
    }
    match v {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(f) if f.is_finite() && f >= 0.0 && f < u64::MAX as f64 => {
                Field::Parsed(f.round() as u64)
            }
            _ => Field::Failed,
        },
        _ => Field::Failed,
    }
}

fn strings(v: Option<&Value>) -> Field<Vec<&str>> {
    match v {
        None | Some(Value::Null) => Field::Absent,
        Some(Value::String(s)) => Field::Parsed(vec![s.as_str()]),
        Some(Value::Array(a)) => match a.iter().map(Value::as_str).collect::<Option<Vec<_>>>() {
            Some(v) => Field::Parsed(v),
            None => Field::Failed,
        },
        Some(_) => Field::Failed,
    }
}

fn expected(claims: &serde_json::Map<String, Value>, rules: &Rules) -> Result<(), ClaimError> {
    let exp = date(claims.get("exp"));
    let nbf = date(claims.get("nbf"));
    let (Field::Parsed(exp), Field::Parsed(iss)) = (exp, strings(claims.get("iss"))) else {
        return Err(ClaimError::Missing);
    };
    if matches!(nbf, Field::Failed) {
        return Err(ClaimError::Missing);
    }
    if exp < NOW.saturating_sub(rules.leeway) {
        return Err(ClaimError::Expired);
    }
    if matches!(nbf, Field::Parsed(n) if n > NOW.saturating_add(rules.leeway)) {
        return Err(ClaimError::NotYetValid);
    }
    if !iss.contains(&rules.issuer.as_str()) {
        return Err(ClaimError::WrongIssuer);
    }
    if rules.audiences.is_empty() {
        return Ok(());
    }
    match strings(claims.get("aud")) {
        Field::Parsed(aud) if aud.iter().any(|a| rules.audiences.contains(*a)) => Ok(()),
        Field::Parsed(_) => Err(ClaimError::WrongAudience),
        Field::Failed | Field::Absent => Err(ClaimError::Missing),
    }
}

fuzz_target!(|data: &[u8]| {
    let registered = serde_json::from_slice::<Registered<'_>>(data);
    let value = serde_json::from_slice::<serde_json::Map<String, Value>>(data);
    for audiences in [&["authgate"][..], &[]] {
        for leeway in [0, 60] {
            let rules = Rules {
                issuer: ISSUER.into(),
                audiences: audiences.iter().map(|a| a.to_string()).collect(),
                leeway,
            };
            let Ok(reg) = &registered else { continue };
            let got = rules.check(reg, NOW);
            if let Ok(claims) = &value {
                assert_eq!(
                    got,
                    expected(claims, &rules),
                    "payload {:?}",
                    String::from_utf8_lossy(data)
                );
            }
        }
    }
});
