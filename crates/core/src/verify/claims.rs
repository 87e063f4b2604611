//! The registered-claim checks of a verified JWT: `exp` and `iss` required,
//! then `exp`, `nbf` (both with leeway), `iss` and `aud`, in that order.
//!
//! These are the rules authgate used to hand to `jsonwebtoken::Validation`
//! (jsonwebtoken 11), kept answer for answer but one: the claims are read
//! with the same lenient types (numeric dates may be floats, `iss`/`aud` may
//! be a string or an array), so a token gets the verdict and reason it got
//! before. The exception fails closed: an issuer configured with audiences
//! requires `aud`, and one of the right type (jsonwebtoken let a token
//! without `aud`, or with `aud: 5`, through).

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

/// What an issuer demands of the registered claims.
#[derive(Debug, Clone)]
pub struct Rules {
    /// The one accepted `iss`.
    pub issuer: String,
    /// Accepted `aud` values; empty means `aud` is not checked. Otherwise
    /// `aud` is required: a string or an array of strings naming one of them.
    pub audiences: HashSet<String>,
    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    pub leeway: u64,
}

/// The registered claims of a payload, as far as they parse.
#[derive(Deserialize)]
pub struct Registered<'a> {
    #[serde(deserialize_with = "numeric_date", default)]
    exp: TryParse<u64>,
    #[serde(deserialize_with = "numeric_date", default)]
    nbf: TryParse<u64>,
    // Never checked, but parsed as before: a duplicate `sub` is malformed.
    #[serde(borrow)]
    #[allow(dead_code)]
    sub: TryParse<Cow<'a, str>>,
    #[serde(borrow)]
    iss: TryParse<OneOrMany<'a>>,
    #[serde(borrow)]
    aud: TryParse<OneOrMany<'a>>,
}

/// A claim that may be missing or of the wrong type without failing the parse.
#[derive(Default)]
enum TryParse<T> {
    Parsed(T),
    FailedToParse,
    #[default]
    NotPresent,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for TryParse<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(deserializer) {
            Ok(Some(value)) => TryParse::Parsed(value),
            Ok(None) => TryParse::NotPresent,
            Err(_) => TryParse::FailedToParse,
        })
    }
}

/// `iss` or `aud`: one string or an array of strings.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany<'a> {
    One(#[serde(borrow)] Cow<'a, str>),
    Many(#[serde(borrow)] HashSet<CowStr<'a>>),
}

#[derive(Deserialize, PartialEq, Eq, Hash)]
struct CowStr<'a>(#[serde(borrow)] Cow<'a, str>);

impl OneOrMany<'_> {
    /// Whether any of the values passes `accepted`.
    fn any(&self, accepted: impl Fn(&str) -> bool) -> bool {
        match self {
            OneOrMany::One(v) => accepted(v),
            OneOrMany::Many(vs) => vs.iter().any(|v| accepted(&v.0)),
        }
    }
}

/// A NumericDate: a non-negative integer, or a finite float rounded.
fn numeric_date<'de, D: Deserializer<'de>>(d: D) -> Result<TryParse<u64>, D::Error> {
    struct Numeric;
    impl Visitor<'_> for Numeric {
        type Value = TryParse<u64>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a NumericDate")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(TryParse::Parsed(v))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            if v.is_finite() && v >= 0.0 && v < u64::MAX as f64 {
                Ok(TryParse::Parsed(v.round() as u64))
            } else {
                Err(de::Error::custom("NumericDate out of range"))
            }
        }
    }
    Ok(d.deserialize_any(Numeric)
        .unwrap_or(TryParse::FailedToParse))
}

/// Why the claims were refused; [`ClaimError::reason`] is the verdict string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimError {
    /// `exp` or `iss` absent, `exp`/`nbf` not a NumericDate, or `aud` absent
    /// or not a string (array) where audiences are configured.
    Missing,
    /// `exp` is past, beyond the leeway.
    Expired,
    /// `nbf` is ahead, beyond the leeway.
    NotYetValid,
    /// `iss` is not the issuer's.
    WrongIssuer,
    /// `aud` names none of the accepted audiences.
    WrongAudience,
}

impl ClaimError {
    /// The short reason for logs, metrics and the verdict.
    pub fn reason(self) -> &'static str {
        match self {
            ClaimError::Missing => "missing_claim",
            ClaimError::Expired => "expired",
            ClaimError::NotYetValid => "not_yet_valid",
            ClaimError::WrongIssuer => "wrong_issuer",
            ClaimError::WrongAudience => "wrong_audience",
        }
    }
}

impl Rules {
    /// Check `claims` at `now` (Unix seconds).
    pub fn check(&self, claims: &Registered<'_>, now: u64) -> Result<(), ClaimError> {
        let (TryParse::Parsed(exp), TryParse::Parsed(iss)) = (&claims.exp, &claims.iss) else {
            return Err(ClaimError::Missing);
        };
        if matches!(claims.nbf, TryParse::FailedToParse) {
            return Err(ClaimError::Missing);
        }
        // Saturating: a leeway larger than the clock must not wrap around.
        if *exp < now.saturating_sub(self.leeway) {
            return Err(ClaimError::Expired);
        }
        if matches!(claims.nbf, TryParse::Parsed(nbf) if nbf > now.saturating_add(self.leeway)) {
            return Err(ClaimError::NotYetValid);
        }
        if !iss.any(|v| v == self.issuer) {
            return Err(ClaimError::WrongIssuer);
        }
        if self.audiences.is_empty() {
            return Ok(());
        }
        // Audiences configured: a token must name one. An absent or ill-typed
        // `aud` is a token meant for anyone, refused (jsonwebtoken let both
        // through).
        match &claims.aud {
            TryParse::Parsed(aud) if aud.any(|v| self.audiences.contains(v)) => Ok(()),
            TryParse::Parsed(_) => Err(ClaimError::WrongAudience),
            TryParse::NotPresent | TryParse::FailedToParse => Err(ClaimError::Missing),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::hmac;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use jsonwebtoken::errors::ErrorKind;
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    use serde_json::{Map, Value};

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn rules(audiences: &[&str]) -> Rules {
        Rules {
            issuer: "https://issuer.test".into(),
            audiences: audiences.iter().map(|a| a.to_string()).collect(),
            leeway: 30,
        }
    }

    /// The verdict of this module, as `jwt::verify` reaches it after the
    /// signature: both payload parses, then the rules.
    fn ours(payload: &str, rules: &Rules, now: u64) -> Verdict {
        serde_json::from_str::<Map<String, Value>>(payload).map_err(|_| "malformed")?;
        let claims: Registered = serde_json::from_str(payload).map_err(|_| "malformed")?;
        rules.check(&claims, now).map_err(ClaimError::reason)
    }

    /// The verdict `jsonwebtoken::decode` gave with the rules authgate set,
    /// mapped as authgate mapped it.
    fn jsonwebtoken_verdict(payload: &str, rules: &Rules) -> Verdict {
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256"}"#),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let tag = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, SECRET),
            signing_input.as_bytes(),
        );
        let token = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(tag));
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = rules.leeway;
        v.validate_nbf = true;
        v.set_issuer(&[rules.issuer.as_str()]);
        if rules.audiences.is_empty() {
            v.validate_aud = false;
        } else {
            v.aud = Some(rules.audiences.clone());
        }
        v.set_required_spec_claims(&["exp", "iss"]);
        let key = DecodingKey::from_secret(SECRET);
        match jsonwebtoken::decode::<Map<String, Value>>(&token, &key, &v) {
            Ok(_) => Ok(()),
            Err(e) => Err(match e.kind() {
                ErrorKind::ExpiredSignature => "expired",
                ErrorKind::ImmatureSignature => "not_yet_valid",
                ErrorKind::InvalidIssuer => "wrong_issuer",
                ErrorKind::InvalidAudience => "wrong_audience",
                ErrorKind::MissingRequiredClaim(_) | ErrorKind::InvalidClaimFormat(_) => {
                    "missing_claim"
                }
                _ => "malformed",
            }),
        }
    }

    type Verdict = Result<(), &'static str>;

    /// Payloads and the verdict with audience "api" / with no audience (where
    /// audiences are configured, a payload without `aud` is refused).
    /// `ISS` is the right issuer, `FUT` an hour ahead, `NOW±20`/`NOW±40`
    /// within / beyond the 30 s leeway.
    const CASES: &[(&str, &str, &str)] = &[
        (r#"{ISS,"exp":FUT}"#, "missing_claim", "ok"),
        (r#"{ISS,"exp":FUT.4}"#, "missing_claim", "ok"),
        (r#"{ISS}"#, "missing_claim", "missing_claim"),
        (r#"{"exp":FUT}"#, "missing_claim", "missing_claim"),
        (r#"{ISS,"exp":"FUT"}"#, "missing_claim", "missing_claim"),
        (r#"{ISS,"exp":-1}"#, "missing_claim", "missing_claim"),
        (r#"{ISS,"exp":1e30}"#, "missing_claim", "missing_claim"),
        (r#"{ISS,"exp":null}"#, "missing_claim", "missing_claim"),
        (r#"{"iss":5,"exp":FUT}"#, "missing_claim", "missing_claim"),
        (r#"{ISS,"exp":NOW-20}"#, "missing_claim", "ok"),
        (r#"{ISS,"exp":NOW-40}"#, "expired", "expired"),
        (r#"{ISS,"exp":FUT,"nbf":NOW+20}"#, "missing_claim", "ok"),
        (
            r#"{ISS,"exp":FUT,"nbf":NOW+40}"#,
            "not_yet_valid",
            "not_yet_valid",
        ),
        (
            r#"{ISS,"exp":FUT,"nbf":"soon"}"#,
            "missing_claim",
            "missing_claim",
        ),
        // A null date is not a NumericDate (unlike a null `aud`).
        (
            r#"{ISS,"exp":FUT,"nbf":null}"#,
            "missing_claim",
            "missing_claim",
        ),
        // Expiry is checked before the issuer.
        (
            r#"{"iss":"https://evil.test","exp":NOW-40}"#,
            "expired",
            "expired",
        ),
        (
            r#"{"iss":"https://evil.test","exp":FUT}"#,
            "wrong_issuer",
            "wrong_issuer",
        ),
        (
            r#"{"iss":["x","https://issuer.test"],"exp":FUT}"#,
            "missing_claim",
            "ok",
        ),
        (r#"{"iss":["x"],"exp":FUT}"#, "wrong_issuer", "wrong_issuer"),
        // `aud`: one must match where audiences are configured; absent or
        // ill-typed is refused there (see AUD_TIGHTENED), ignored elsewhere.
        (r#"{ISS,"exp":FUT,"aud":"api"}"#, "ok", "ok"),
        (r#"{ISS,"exp":FUT,"aud":["web","api"]}"#, "ok", "ok"),
        (r#"{ISS,"exp":FUT,"aud":"web"}"#, "wrong_audience", "ok"),
        (r#"{ISS,"exp":FUT,"aud":[]}"#, "wrong_audience", "ok"),
        (r#"{ISS,"exp":FUT,"aud":5}"#, "missing_claim", "ok"),
        (r#"{ISS,"exp":FUT,"aud":["api",5]}"#, "missing_claim", "ok"),
        (r#"{ISS,"exp":FUT,"aud":null}"#, "missing_claim", "ok"),
        (r#"{ISS,"exp":FUT,"aud":{"api":1}}"#, "missing_claim", "ok"),
        // Duplicated registered claims and non-objects are malformed; other
        // duplicates are not.
        (r#"{ISS,"exp":FUT,"exp":FUT}"#, "malformed", "malformed"),
        (
            r#"{ISS,"exp":FUT,"sub":"a","sub":"b"}"#,
            "malformed",
            "malformed",
        ),
        (r#"{ISS,"exp":FUT,"x":1,"x":2}"#, "missing_claim", "ok"),
        (r#"{ISS,"exp":FUT,"sub":{"a":1}}"#, "malformed", "malformed"),
        (r#"{ISS,"exp":FUT,"big":1e400}"#, "malformed", "malformed"),
        (r#"["https://issuer.test",FUT]"#, "malformed", "malformed"),
    ];

    /// Where authgate deliberately refuses what jsonwebtoken let through:
    /// audiences configured, `aud` absent or ill-typed.
    fn aud_tightened(template: &str, r: &Rules) -> bool {
        !r.audiences.is_empty()
            && (!template.contains(r#""aud""#)
                || [
                    r#""aud":5"#,
                    r#""aud":["api",5]"#,
                    r#""aud":null"#,
                    r#""aud":{"#,
                ]
                .iter()
                .any(|a| template.contains(a)))
    }

    fn payload(template: &str, now: u64) -> String {
        template
            .replace("ISS", r#""iss":"https://issuer.test""#)
            .replace("FUT", &(now + 3600).to_string())
            .replace("NOW-20", &(now - 20).to_string())
            .replace("NOW-40", &(now - 40).to_string())
            .replace("NOW+20", &(now + 20).to_string())
            .replace("NOW+40", &(now + 40).to_string())
    }

    fn verdict(s: &'static str) -> Verdict {
        if s == "ok" {
            Ok(())
        } else {
            Err(s)
        }
    }

    #[test]
    fn claims_get_the_verdicts_of_the_table() {
        let now = crate::verify::unix_now();
        for (template, with_aud, without_aud) in CASES {
            let p = payload(template, now);
            assert_eq!(ours(&p, &rules(&["api"]), now), verdict(with_aud), "{p}");
            assert_eq!(ours(&p, &rules(&[]), now), verdict(without_aud), "{p}");
        }
    }

    #[test]
    fn claims_get_the_verdicts_jsonwebtoken_gave() {
        // The differential check behind "behaviour unchanged": the same
        // payloads through `jsonwebtoken::decode` with the old rules.
        let now = crate::verify::unix_now();
        let mut tightened = 0;
        for (template, _, _) in CASES {
            let p = payload(template, now);
            for r in [rules(&["api"]), rules(&[])] {
                let (got, want) = (ours(&p, &r, now), jsonwebtoken_verdict(&p, &r));
                if aud_tightened(template, &r) && want == Ok(()) {
                    // The one deliberate difference, and only in this direction.
                    assert_eq!(got, Err("missing_claim"), "{p} audiences {:?}", r.audiences);
                    tightened += 1;
                } else {
                    assert_eq!(got, want, "{p} audiences {:?}", r.audiences);
                }
            }
        }
        assert!(tightened >= 5, "the aud cases ran ({tightened})");
    }

    #[test]
    fn a_leeway_beyond_the_clock_does_not_wrap() {
        let r = Rules {
            leeway: u64::MAX,
            ..rules(&[])
        };
        let claims: Registered =
            serde_json::from_str(r#"{"iss":"https://issuer.test","exp":1,"nbf":99999999999}"#)
                .unwrap();
        assert_eq!(r.check(&claims, 1_700_000_000), Ok(()));
    }
}
