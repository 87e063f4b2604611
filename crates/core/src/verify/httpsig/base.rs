//! The signature base of a request (RFC 9421 §2.5): one line per covered
//! component, `"<component id>": <value>`, then `"@signature-params": …`,
//! joined by LF with no trailing newline. Derived components (§2.2) come
//! from the request line and authority; header fields (§2.1) are the field
//! lines combined with `", "`, or re-serialized (`sf`), one dictionary
//! member (`key`) or each line as a byte sequence (`bs`).

use super::input::{Component, SignatureInput};
use super::HttpSigError;
use base64::Engine as _;
use http::HeaderMap;

/// What the base is built from.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// `GET`, `POST`, … as sent.
    pub method: &'a str,
    /// `http` or `https`.
    pub scheme: &'a str,
    /// Host and port as the client addressed them (lower-cased here).
    pub authority: &'a str,
    /// The path, percent-encoded as sent (`/` when empty).
    pub path: &'a str,
    /// The query without `?`, when there is one.
    pub query: Option<&'a str>,
    /// The request's header fields.
    pub headers: &'a HeaderMap,
}

fn missing(c: &Component) -> HttpSigError {
    HttpSigError::MissingComponent(c.id.clone())
}

/// Percent-encode all but the unreserved characters (RFC 3986).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn derived(p: &RequestParts<'_>, c: &Component) -> Result<Vec<String>, HttpSigError> {
    let path = if p.path.is_empty() { "/" } else { p.path };
    let query = p.query.map_or_else(|| "?".to_string(), |q| format!("?{q}"));
    let one = |v: String| Ok(vec![v]);
    match c.name.as_str() {
        "@method" => one(p.method.to_string()),
        "@scheme" => one(p.scheme.to_ascii_lowercase()),
        "@authority" => one(p.authority.to_ascii_lowercase()),
        "@path" => one(path.to_string()),
        "@query" => one(query),
        "@request-target" => one(match p.query {
            Some(q) => format!("{path}?{q}"),
            None => path.to_string(),
        }),
        "@target-uri" => one(format!(
            "{}://{}{}{}",
            p.scheme.to_ascii_lowercase(),
            p.authority.to_ascii_lowercase(),
            path,
            p.query.map_or_else(String::new, |q| format!("?{q}"))
        )),
        "@query-param" => {
            let name = c
                .param_str("name")
                .ok_or_else(|| HttpSigError::Malformed("@query-param needs name".into()))?;
            let values: Vec<String> = form_urlencoded::parse(p.query.unwrap_or("").as_bytes())
                .filter(|(k, _)| k == name)
                .map(|(_, v)| encode(&v))
                .collect();
            if values.is_empty() {
                Err(missing(c))
            } else {
                Ok(values)
            }
        }
        "@status" => Err(HttpSigError::Unsupported("@status (responses)".into())),
        other => Err(HttpSigError::Unsupported(format!(
            "derived component {other}"
        ))),
    }
}

fn field(p: &RequestParts<'_>, c: &Component) -> Result<String, HttpSigError> {
    for flag in ["req", "tr"] {
        if c.flag(flag) {
            return Err(HttpSigError::Unsupported(format!("the {flag} parameter")));
        }
    }
    let lines: Vec<&str> = p
        .headers
        .get_all(c.name.as_str())
        .iter()
        .map(|v| v.to_str().map(str::trim))
        .collect::<Result<_, _>>()
        .map_err(|_| HttpSigError::Malformed(format!("{}: not visible ASCII", c.name)))?;
    if lines.is_empty() {
        return Err(missing(c));
    }
    if c.flag("bs") {
        let b64 = base64::engine::general_purpose::STANDARD;
        return Ok(lines
            .iter()
            .map(|l| format!(":{}:", b64.encode(l.as_bytes())))
            .collect::<Vec<_>>()
            .join(", "));
    }
    let combined = lines.join(", ");
    if let Some(key) = c.param_str("key") {
        let dict: sfv::Dictionary = sfv::Parser::new(&combined)
            .parse()
            .map_err(|e| HttpSigError::Malformed(format!("{}: {e}", c.name)))?;
        let member = dict
            .iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| missing(c))?;
        let list: sfv::List = vec![member];
        let s: Option<String> = sfv::FieldType::serialize(&list);
        return s.ok_or_else(|| missing(c));
    }
    if c.flag("sf") {
        if let Ok(d) = sfv::Parser::new(&combined).parse::<sfv::Dictionary>() {
            let s: Option<String> = sfv::FieldType::serialize(&d);
            if let Some(s) = s {
                return Ok(s);
            }
        }
        if let Ok(l) = sfv::Parser::new(&combined).parse::<sfv::List>() {
            let s: Option<String> = sfv::FieldType::serialize(&l);
            if let Some(s) = s {
                return Ok(s);
            }
        }
        return Err(HttpSigError::Malformed(format!(
            "{}: not a structured field",
            c.name
        )));
    }
    Ok(combined)
}

/// The signature base of `input` over the request `p`.
pub fn signature_base(
    p: &RequestParts<'_>,
    input: &SignatureInput,
) -> Result<String, HttpSigError> {
    let mut out = String::new();
    for c in &input.components {
        let values = if c.name.starts_with('@') {
            derived(p, c)?
        } else {
            vec![field(p, c)?]
        };
        for v in values {
            if v.contains('\n') {
                return Err(HttpSigError::Malformed(format!("{}: a newline", c.id)));
            }
            out.push_str(&c.id);
            out.push_str(": ");
            out.push_str(&v);
            out.push('\n');
        }
    }
    out.push_str("\"@signature-params\": ");
    out.push_str(&input.params_value);
    Ok(out)
}
