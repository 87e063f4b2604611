//! What the upstream receives: the identity namespace and credentials
//! stripped, verified identity headers injected, a request id, and the
//! `X-Forwarded-*` headers.

use crate::config::Runtime;
use crate::credential::extract::CREDENTIAL_HEADERS;
use crate::identity::Identity;
use crate::policy::router::Route;
use crate::verify::unix_now;
use pingora::proxy::Session;
use pingora_http::RequestHeader;
use rand::Rng;
use std::net::IpAddr;

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
    let names = &rt.headers;
    names.strip(up);
    if !route.forward_credentials {
        for h in CREDENTIAL_HEADERS {
            if up.headers.contains_key(h) {
                up.remove_header(h);
            }
        }
    }
    if let Some(id) = identity {
        names.inject(up, id)?;
        if let Some(signer) = &rt.assertion {
            let req = session.req_header();
            match signer.sign(
                id,
                req.method.as_str(),
                req.uri.path(),
                request_id,
                unix_now(),
            ) {
                Ok(token) => {
                    up.insert_header(names.assertion.clone(), token)?;
                }
                Err(e) => {
                    // Fail closed: an upstream that expects an assertion must not get a request without one.
                    return Err(pingora::Error::explain(
                        pingora::ErrorType::InternalError,
                        format!("assertion signing failed: {e}"),
                    ));
                }
            }
        }
    }
    up.insert_header("x-request-id", request_id)?;
    let tls = session.digest().is_some_and(|d| d.ssl_digest.is_some());
    let peer = session
        .client_addr()
        .and_then(|a| a.as_inet())
        .map(|a| a.ip());
    forwarded(up, rt, peer, tls)
}

/// `X-Forwarded-For`, `X-Forwarded-Proto` and `Forwarded` (RFC 7239): inbound
/// values are kept (and appended to) only when the peer is a trusted proxy;
/// otherwise they are replaced, so clients cannot forge their address.
fn forwarded(
    up: &mut RequestHeader,
    rt: &Runtime,
    peer: Option<IpAddr>,
    tls: bool,
) -> pingora::Result<()> {
    let trusted = peer.is_some_and(|ip| rt.trusted_proxies.iter().any(|n| n.contains(&ip)));
    if !trusted {
        for h in [
            "x-forwarded-for",
            "x-forwarded-proto",
            "x-forwarded-host",
            "forwarded",
        ] {
            up.remove_header(h);
        }
    }
    let proto = if tls { "https" } else { "http" };
    let Some(ip) = peer else {
        up.insert_header("x-forwarded-proto", proto)?;
        return Ok(());
    };
    let joined =
        |prev: Option<&http::HeaderValue>, next: String| match prev.and_then(|v| v.to_str().ok()) {
            Some(p) if !p.trim().is_empty() => format!("{p}, {next}"),
            _ => next,
        };
    let xff = joined(up.headers.get("x-forwarded-for"), ip.to_string());
    up.insert_header("x-forwarded-for", xff)?;
    let node = match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("\"[{v6}]\""),
    };
    let fwd = joined(
        up.headers.get("forwarded"),
        format!("for={node};proto={proto}"),
    );
    up.insert_header("forwarded", fwd)?;
    if up.headers.get("x-forwarded-proto").is_none() {
        up.insert_header("x-forwarded-proto", proto)?;
    }
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
