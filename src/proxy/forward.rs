//! What the upstream receives: the identity namespace and credentials
//! stripped, verified identity headers injected, a request id, and the
//! `X-Forwarded-*` headers.

use crate::config::Runtime;
use crate::credential::extract::CREDENTIAL_HEADERS;
use crate::identity::{inject, strip_namespace, Identity};
use crate::policy::router::Route;
use pingora::proxy::Session;
use pingora_http::RequestHeader;
use rand::Rng;

/// The request's host without port: `Host` for HTTP/1, `:authority` for HTTP/2.
pub fn request_host(req: &RequestHeader) -> Option<&str> {
    let raw = req.uri.host().or_else(|| {
        req.headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
    })?;
    Some(strip_port(raw))
}

fn strip_port(raw: &str) -> &str {
    if let Some(rest) = raw.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match raw.rsplit_once(':') {
        Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => raw,
    }
}

/// Keep a well-formed inbound `x-request-id` (1–128 of `[A-Za-z0-9._-]`), else mint one.
pub fn request_id(req: &RequestHeader) -> String {
    if let Some(v) = req.headers.get("x-request-id") {
        let b = v.as_bytes();
        if !b.is_empty()
            && b.len() <= 128
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(c))
        {
            // Checked ASCII above.
            return String::from_utf8_lossy(b).into_owned();
        }
    }
    let n: u128 = rand::thread_rng().gen();
    format!("{n:032x}")
}

/// Rewrite the upstream request: strip, inject, forward.
pub fn prepare_upstream_request(
    session: &Session,
    up: &mut RequestHeader,
    rt: &Runtime,
    route: &Route,
    identity: Option<&Identity>,
    request_id: &str,
) -> pingora::Result<()> {
    let prefix = rt.identity.header_prefix.as_str();
    strip_namespace(up, prefix);
    if !route.forward_credentials {
        for h in CREDENTIAL_HEADERS {
            up.remove_header(h);
        }
    }
    if let Some(id) = identity {
        inject(up, prefix, id)?;
    }
    up.insert_header("x-request-id", request_id)?;
    let client_ip = session
        .client_addr()
        .and_then(|a| a.as_inet())
        .map(|a| a.ip().to_string());
    if let Some(ip) = client_ip {
        let xff = match up
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
        {
            Some(prev) if !prev.is_empty() => format!("{prev}, {ip}"),
            _ => ip,
        };
        up.insert_header("x-forwarded-for", xff)?;
    }
    let tls = session.digest().is_some_and(|d| d.ssl_digest.is_some());
    up.insert_header("x-forwarded-proto", if tls { "https" } else { "http" })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_without_port() {
        for (host, want) in [
            ("api.example.com", "api.example.com"),
            ("api.example.com:8080", "api.example.com"),
            ("[::1]:8080", "::1"),
            ("127.0.0.1:1", "127.0.0.1"),
        ] {
            let mut req = RequestHeader::build("GET", b"/", None).unwrap();
            req.insert_header("host", host).unwrap();
            assert_eq!(request_host(&req), Some(want), "{host}");
        }
    }

    #[test]
    fn request_id_kept_or_minted() {
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        req.insert_header("x-request-id", "abc-123").unwrap();
        assert_eq!(request_id(&req), "abc-123");
        req.insert_header("x-request-id", "bad id\"").unwrap();
        let minted = request_id(&req);
        assert_eq!(minted.len(), 32);
    }
}
