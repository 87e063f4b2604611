//! `credential::extract::extract` over a header block.
//!
//! Input: raw header lines, `name: value` separated by `\n` (what a client
//! controls); lines that are not a valid header name/value are skipped, as
//! the HTTP layer would refuse them first. Checked for two limits (4096, the
//! default, and 16 to reach the size refusal often):
//!
//! - no panic;
//! - `Ok(None)` only when no credential header is present;
//! - a found credential is non-empty, within the limit, visible ASCII, and
//!   is (a part of) a value of a header of its carrier, and every
//!   `Authorization` value names the Bearer or ApiKey scheme;
//! - `Ambiguous` only with at least two credential header values.

#![no_main]

use authgate::credential::extract::{extract, Carrier, CREDENTIAL_HEADERS};
use authgate::error::Refusal;
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;

fn headers(data: &[u8]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for line in data.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let value = value.strip_prefix(b" ").unwrap_or(value);
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
            map.append(n, v);
        }
    }
    map
}

fn carrier_header(c: Carrier) -> &'static HeaderName {
    match c {
        Carrier::Bearer | Carrier::ApiKeyScheme => &CREDENTIAL_HEADERS[0],
        Carrier::XApiKey => &CREDENTIAL_HEADERS[1],
        Carrier::ServerKey => &CREDENTIAL_HEADERS[2],
        Carrier::Stamp => &CREDENTIAL_HEADERS[3],
        // Only registered verifiers' `detect` produces these, never `extract`.
        Carrier::Other(name) => panic!("extract produced a registered verifier's carrier {name}"),
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fuzz_target!(|data: &[u8]| {
    let map = headers(data);
    let credential_values: usize = CREDENTIAL_HEADERS
        .iter()
        .map(|h| map.get_all(h).iter().count())
        .sum();
    for max in [4096usize, 16] {
        match extract(&map, max) {
            Ok(None) => assert_eq!(credential_values, 0, "a credential header was ignored"),
            Ok(Some(p)) => {
                let v = p.value.as_bytes();
                assert!(!v.is_empty() && v.len() <= max, "length {}", v.len());
                assert!(
                    v.iter().all(|c| (0x21..=0x7e).contains(c)),
                    "not visible ASCII"
                );
                let carried = map
                    .get_all(carrier_header(p.carrier))
                    .iter()
                    .any(|h| contains(h.as_bytes(), v));
                assert!(carried, "{:?} not in its carrier", p.carrier);
                // Every Authorization value passed the scheme check.
                for h in map.get_all(http::header::AUTHORIZATION) {
                    let t = h.as_bytes().trim_ascii();
                    let end = t.iter().position(|b| *b == b' ' || *b == b'\t');
                    let scheme = &t[..end.unwrap_or(t.len())];
                    assert!(
                        scheme.eq_ignore_ascii_case(b"bearer")
                            || scheme.eq_ignore_ascii_case(b"apikey"),
                        "accepted scheme {scheme:?}"
                    );
                }
            }
            Err(Refusal::Ambiguous) => assert!(credential_values >= 2),
            Err(Refusal::Malformed(_)) => assert!(credential_values >= 1),
            Err(other) => panic!("unexpected refusal {other:?}"),
        }
    }
});
