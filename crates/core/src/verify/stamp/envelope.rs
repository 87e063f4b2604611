//! The `X-Stamp` envelope: a size limit, unpadded base64url, then a JSON
//! object with exactly the string members `publicKey`, `scheme` and
//! `signature`; plus the hex decoding the members share.
//!
//! The real clients (`@turnkey/api-key-stamper`, `@turnkey/wallet-stamper`)
//! build the header as `btoa(JSON.stringify(stamp))` with `+`→`-`, `/`→`_`
//! and every `=` removed, so exactly that form is accepted: the URL-safe
//! alphabet, no padding, no whitespace, and zero trailing bits (a canonical
//! encoding has one spelling per payload).

use super::{StampError, MAX_STAMP_HEADER_BYTES};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;
use std::borrow::Cow;

/// The decoded JSON object, members still as text.
///
/// `deny_unknown_fields` plus serde's derive (which refuses a member that
/// appears twice) make this exactly the three-member object the clients emit.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WireStamp<'a> {
    /// Hex public key.
    #[serde(rename = "publicKey", borrow)]
    pub public_key: Cow<'a, str>,
    /// Scheme label.
    #[serde(borrow)]
    pub scheme: Cow<'a, str>,
    /// Hex signature.
    #[serde(borrow)]
    pub signature: Cow<'a, str>,
}

/// Size-check and base64url-decode the header value.
pub(super) fn decode_base64url(header: &[u8]) -> Result<Vec<u8>, StampError> {
    if header.len() > MAX_STAMP_HEADER_BYTES {
        return Err(StampError::TooLarge);
    }
    if header.is_empty() {
        return Err(StampError::Encoding);
    }
    URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| StampError::Encoding)
}

/// Parse the decoded bytes as the three-member JSON object.
pub(super) fn parse_json(json: &[u8]) -> Result<WireStamp<'_>, StampError> {
    // serde's derived struct impl also takes a JSON array of the members in
    // order; only an object is a stamp.
    let first = json
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    if first != Some(&b'{') {
        return Err(StampError::Json);
    }
    serde_json::from_slice(json).map_err(|_| StampError::Json)
}

/// Decode hex of either case into at most `max_bytes` bytes. `None` for
/// empty, odd-length, over-long or non-hex text (a `0x` prefix included).
pub(super) fn decode_hex(text: &str, max_bytes: usize) -> Option<Vec<u8>> {
    if text.is_empty() || !text.len().is_multiple_of(2) || text.len() > max_bytes.saturating_mul(2)
    {
        return None;
    }
    hex::decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn base64url_table() {
        let json = r#"{"publicKey":"02","scheme":"xy","signature":"30"}"#;
        let good = b64(json);
        assert_eq!(
            good.len() % 4,
            2,
            "the padding cases below need a partial quantum"
        );
        let cases: Vec<(String, Result<(), StampError>)> = vec![
            (good.clone(), Ok(())),
            (String::new(), Err(StampError::Encoding)),
            (format!("{good}=="), Err(StampError::Encoding)),
            (format!(" {good}"), Err(StampError::Encoding)),
            (format!("{good}\n"), Err(StampError::Encoding)),
            (good.replacen('e', "+", 1), Err(StampError::Encoding)),
            (good.replacen('e', "/", 1), Err(StampError::Encoding)),
            (
                "A".repeat(MAX_STAMP_HEADER_BYTES + 1),
                Err(StampError::TooLarge),
            ),
            ("A".repeat(5), Err(StampError::Encoding)), // 4n+1 characters never decode
        ];
        for (input, want) in cases {
            let got = decode_base64url(input.as_bytes()).map(|_| ());
            assert_eq!(got, want, "{input:?}");
        }
    }

    #[test]
    fn trailing_bits_must_be_zero() {
        let good = b64("ab"); // "YWI": the last character carries 2 unused bits
        assert_eq!(good, "YWI");
        assert!(decode_base64url(b"YWI").is_ok());
        assert_eq!(decode_base64url(b"YWJ"), Err(StampError::Encoding));
    }

    #[test]
    fn json_table() {
        let ok = r#"{"publicKey":"aa","scheme":"s","signature":"bb"}"#;
        let cases: &[(&str, bool)] = &[
            (ok, true),
            (r#"{"signature":"bb","scheme":"s","publicKey":"aa"}"#, true),
            (
                r#" {"publicKey":"a\u0061","scheme":"s","signature":"bb"} "#,
                true,
            ),
            (r#"{"publicKey":"aa","scheme":"s"}"#, false),
            (
                r#"{"publicKey":"aa","scheme":"s","signature":"bb","x":1}"#,
                false,
            ),
            (
                r#"{"publicKey":"aa","publicKey":"aa","scheme":"s","signature":"bb"}"#,
                false,
            ),
            (r#"{"publicKey":1,"scheme":"s","signature":"bb"}"#, false),
            (r#"{"publicKey":null,"scheme":"s","signature":"bb"}"#, false),
            (
                r#"{"publicKey":"aa","scheme":["s"],"signature":"bb"}"#,
                false,
            ),
            (r#"{"publickey":"aa","scheme":"s","signature":"bb"}"#, false),
            (r#"["aa","s","bb"]"#, false),
            (
                r#"{"publicKey":"aa","scheme":"s","signature":"bb"}}"#,
                false,
            ),
            ("", false),
            ("null", false),
        ];
        for (json, ok) in cases {
            assert_eq!(parse_json(json.as_bytes()).is_ok(), *ok, "{json}");
        }
        assert_eq!(
            parse_json(b"\xff\xfe{}").map(|_| ()).unwrap_err(),
            StampError::Json
        );
    }

    #[test]
    fn hex_table() {
        let cases: &[(&str, usize, Option<&[u8]>)] = &[
            ("00ff", 4, Some(&[0, 255])),
            ("00FF", 4, Some(&[0, 255])),
            ("", 4, None),
            ("0", 4, None),
            ("0x00", 4, None),
            ("zz", 4, None),
            ("00 0", 4, None),
            ("0000000000", 4, None),
        ];
        for (text, max, want) in cases {
            assert_eq!(decode_hex(text, *max).as_deref(), *want, "{text}");
        }
    }
}
