//! Find the credential in a request's headers.
//!
//! Carriers (`docs/contracts.md` §1): `Authorization: Bearer`, `Authorization: ApiKey`,
//! `X-API-Key` and `x-server-key`. Header and scheme names are matched
//! case-insensitively and surrounding whitespace is trimmed. The same
//! credential in several carriers is fine; two different ones are refused
//! rather than picking one. Nothing here allocates on success.

use crate::error::Refusal;
use http::{HeaderMap, HeaderName};

/// Where a credential was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    /// `Authorization: Bearer …`
    Bearer,
    /// `Authorization: ApiKey …`
    ApiKeyScheme,
    /// `X-API-Key: …`
    XApiKey,
    /// `x-server-key: …`
    ServerKey,
    /// `X-Stamp: …` (a signature over the body).
    Stamp,
    /// A carrier a registered verifier detects itself (see
    /// `verify::seam::RequestVerifier::detect`), by its name.
    Other(&'static str),
}

/// A credential as presented, borrowed from the request headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Presented<'a> {
    /// The credential text, trimmed and checked to be visible ASCII.
    pub value: &'a str,
    /// Where it came from. When it arrived in several carriers this is the
    /// server-key carrier if that was one of them, else the first seen.
    pub carrier: Carrier,
}

/// Header names that carry credentials (removed before forwarding unless a
/// route keeps them): `Authorization`, `X-API-Key`, `x-server-key`,
/// `X-Stamp`. Pre-parsed: a lookup by `&str` parses the name every time.
pub static CREDENTIAL_HEADERS: [HeaderName; 4] = [
    http::header::AUTHORIZATION,
    HeaderName::from_static("x-api-key"),
    HeaderName::from_static("x-server-key"),
    HeaderName::from_static("x-stamp"),
];
static X_API_KEY: &HeaderName = &CREDENTIAL_HEADERS[1];
static X_SERVER_KEY: &HeaderName = &CREDENTIAL_HEADERS[2];
static X_STAMP: &HeaderName = &CREDENTIAL_HEADERS[3];

/// Extract the single credential of a request, if any.
///
/// Errors: [`Refusal::Ambiguous`] for two different credentials, and
/// [`Refusal::Malformed`] for empty, oversized or non-visible-ASCII values or
/// an unsupported `Authorization` scheme.
pub fn extract(headers: &HeaderMap, max_bytes: usize) -> Result<Option<Presented<'_>>, Refusal> {
    // Only the carriers present are looked up, rather than four hashed
    // lookups on every request.
    let present = present_among(headers, &CREDENTIAL_HEADERS);
    let [authorization, x_api_key, x_server_key, x_stamp] =
        std::array::from_fn(|i| present & (1 << i) != 0);
    let mut found: Option<Presented<'_>> = None;
    if authorization {
        for value in headers.get_all(http::header::AUTHORIZATION) {
            let raw = trim(value.as_bytes());
            let (scheme, rest) = split_scheme(raw);
            let carrier = if scheme.eq_ignore_ascii_case(b"bearer") {
                Carrier::Bearer
            } else if scheme.eq_ignore_ascii_case(b"apikey") {
                Carrier::ApiKeyScheme
            } else {
                return Err(Refusal::Malformed("authorization_scheme"));
            };
            merge(&mut found, check(rest, max_bytes)?, carrier)?;
        }
    }
    for (here, name, carrier) in [
        (x_api_key, X_API_KEY, Carrier::XApiKey),
        (x_stamp, X_STAMP, Carrier::Stamp),
        (x_server_key, X_SERVER_KEY, Carrier::ServerKey),
    ] {
        if here {
            for value in headers.get_all(name) {
                merge(&mut found, check(value.as_bytes(), max_bytes)?, carrier)?;
            }
        }
    }
    Ok(found)
}

/// Which of `names` the request carries: bit `i` is set when `names[i]`
/// (for `i` < 64) is one of `headers`' names. One pass over the request's
/// own names, usually a handful, compared without hashing: cheaper than a
/// hashed lookup per name when most are absent.
pub fn present_among(headers: &HeaderMap, names: &[HeaderName]) -> u64 {
    let mut present = 0u64;
    for name in headers.keys() {
        if let Some(i) = names.iter().take(64).position(|c| c == name) {
            present |= 1 << i;
        }
    }
    present
}

fn merge<'a>(
    found: &mut Option<Presented<'a>>,
    value: &'a str,
    carrier: Carrier,
) -> Result<(), Refusal> {
    match found {
        None => {
            *found = Some(Presented { value, carrier });
            Ok(())
        }
        Some(prev) if prev.value == value => {
            if carrier == Carrier::ServerKey {
                prev.carrier = Carrier::ServerKey;
            }
            Ok(())
        }
        Some(_) => Err(Refusal::Ambiguous),
    }
}

fn trim(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b {
        if first.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = b {
        if last.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    b
}

fn split_scheme(b: &[u8]) -> (&[u8], &[u8]) {
    match b.iter().position(|c| *c == b' ' || *c == b'\t') {
        Some(i) => (&b[..i], &b[i + 1..]),
        None => (b, &[]),
    }
}

/// Trim and validate one credential value: non-empty, at most `max_bytes`,
/// visible ASCII only (no spaces, no control characters, no UTF-8).
fn check(raw: &[u8], max_bytes: usize) -> Result<&str, Refusal> {
    let v = trim(raw);
    if v.is_empty() {
        return Err(Refusal::Malformed("credential_empty"));
    }
    if v.len() > max_bytes {
        return Err(Refusal::Malformed("credential_too_large"));
    }
    // No early exit: the whole-slice fold vectorises (a JWT is hundreds of bytes).
    let visible = v
        .iter()
        .fold(true, |ok, &c| ok & (c.wrapping_sub(0x21) < 0x5e));
    if !visible {
        return Err(Refusal::Malformed("credential_charset"));
    }
    // Visible ASCII is valid UTF-8, so this cannot fail; map defensively anyway.
    std::str::from_utf8(v).map_err(|_| Refusal::Malformed("credential_charset"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_bytes(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn extraction_table() {
        type Want = Result<Option<(&'static str, Carrier)>, Refusal>;
        let big = "a".repeat(4097);
        type Case<'a> = (&'a str, Vec<(&'a str, &'a [u8])>, Want);
        let cases: Vec<Case<'_>> = vec![
            ("none", vec![], Ok(None)),
            (
                "bearer",
                vec![("authorization", b"Bearer mantyx_abc")],
                Ok(Some(("mantyx_abc", Carrier::Bearer))),
            ),
            (
                "bearer case",
                vec![("Authorization", b"bEaReR   mantyx_abc  ")],
                Ok(Some(("mantyx_abc", Carrier::Bearer))),
            ),
            (
                "apikey scheme",
                vec![("authorization", b"ApiKey k1")],
                Ok(Some(("k1", Carrier::ApiKeyScheme))),
            ),
            (
                "x-api-key",
                vec![("X-API-Key", b" k1 ")],
                Ok(Some(("k1", Carrier::XApiKey))),
            ),
            (
                "server key",
                vec![("x-server-key", b"sk_live_1")],
                Ok(Some(("sk_live_1", Carrier::ServerKey))),
            ),
            (
                "same twice",
                vec![("authorization", b"Bearer k1"), ("x-api-key", b"k1")],
                Ok(Some(("k1", Carrier::Bearer))),
            ),
            (
                "same twice, x-api-key sent first: the fixed order decides",
                vec![("x-api-key", b"k1"), ("authorization", b"Bearer k1")],
                Ok(Some(("k1", Carrier::Bearer))),
            ),
            (
                "stamp and x-api-key differ",
                vec![("x-stamp", b"s1"), ("x-api-key", b"k1")],
                Err(Refusal::Ambiguous),
            ),
            (
                "same, server carrier wins",
                vec![("authorization", b"Bearer k1"), ("x-server-key", b"k1")],
                Ok(Some(("k1", Carrier::ServerKey))),
            ),
            (
                "different",
                vec![("authorization", b"Bearer k1"), ("x-api-key", b"k2")],
                Err(Refusal::Ambiguous),
            ),
            (
                "two auth headers differ",
                vec![
                    ("authorization", b"Bearer k1"),
                    ("authorization", b"Bearer k2"),
                ],
                Err(Refusal::Ambiguous),
            ),
            (
                "empty bearer",
                vec![("authorization", b"Bearer ")],
                Err(Refusal::Malformed("credential_empty")),
            ),
            (
                "empty x-api-key",
                vec![("x-api-key", b"   ")],
                Err(Refusal::Malformed("credential_empty")),
            ),
            (
                "basic",
                vec![("authorization", b"Basic dXNlcjpwYXNz")],
                Err(Refusal::Malformed("authorization_scheme")),
            ),
            (
                "tab inside",
                vec![("x-api-key", b"k\ty")],
                Err(Refusal::Malformed("credential_charset")),
            ),
            (
                "inner space",
                vec![("authorization", b"Bearer a b")],
                Err(Refusal::Malformed("credential_charset")),
            ),
            (
                "non ascii",
                vec![("x-api-key", "kä".as_bytes())],
                Err(Refusal::Malformed("credential_charset")),
            ),
            (
                "too large",
                vec![("x-api-key", big.as_bytes())],
                Err(Refusal::Malformed("credential_too_large")),
            ),
        ];
        for (name, pairs, want) in cases {
            let h = headers(&pairs);
            let got = extract(&h, 4096).map(|o| o.map(|p| (p.value, p.carrier)));
            assert_eq!(got, want, "case {name}");
        }
    }
}
