//! What the upstream receives: the identity namespace and credentials
//! stripped, verified identity headers injected, a request id, and the
//! `X-Forwarded-*` headers.

use crate::config::Runtime;
use crate::credential::extract::present_among;
use crate::identity::{put, Identity};
use crate::policy::router::Route;
use crate::proxy::spoof;
use crate::verify::unix_now;
use http::{HeaderMap, HeaderName, HeaderValue};
use pingora::protocols::http::authority::{raw_target_authority, RawTargetAuthority};
use pingora::proxy::Session;
use pingora_http::RequestHeader;
use rand::Rng;
use std::net::IpAddr;

/// The request's host without port: `Host` for HTTP/1, `:authority` for HTTP/2.
/// An HTTP/1 absolute-form target without `Host` is routed on its authority
/// (with `Host`, both must agree: see [`authority_conflict`]).
/// `host` is the request's `Host` header ([`host_header`]), looked up once
/// by the caller for every use.
pub fn request_host<'r>(req: &'r RequestHeader, host: Option<&'r HeaderValue>) -> Option<&'r str> {
    let raw = req
        .uri
        .host()
        .or_else(|| host.and_then(|h| h.to_str().ok()))
        .or_else(|| {
            raw_target_authority(req.raw_path())
                .authority()
                .and_then(|a| std::str::from_utf8(a).ok())
        })?;
    Some(strip_port(raw))
}

/// The request's `Host` header.
pub fn host_header(req: &RequestHeader) -> Option<&HeaderValue> {
    req.headers.get(http::header::HOST)
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

/// `x-request-id`.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static X_FORWARDED_FOR: &HeaderName = &spoof::FORWARDING[0];
static X_FORWARDED_PROTO: &HeaderName = &spoof::FORWARDING[1];
static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

/// A request's id: a well-formed inbound `x-request-id` (1–128 of
/// `[A-Za-z0-9._-]`) kept as is, else 32 random hex digits. Always a valid
/// header value, shared rather than copied when written.
#[derive(Debug, Clone)]
pub struct RequestId(HeaderValue);

impl Default for RequestId {
    fn default() -> Self {
        Self(HeaderValue::from_static(""))
    }
}

impl RequestId {
    /// The id as text (ASCII by construction).
    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or("")
    }

    /// The id as a header value.
    pub fn header_value(&self) -> &HeaderValue {
        &self.0
    }
}

/// Keep a well-formed inbound `x-request-id`, else mint one.
pub fn request_id(req: &RequestHeader) -> RequestId {
    if let Some(v) = req.headers.get(&X_REQUEST_ID) {
        let b = v.as_bytes();
        if !b.is_empty()
            && b.len() <= 128
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(c))
        {
            return RequestId(v.clone());
        }
    }
    let n: u128 = rand::thread_rng().gen();
    let mut hex = [0u8; 32];
    for (i, d) in hex.iter_mut().enumerate() {
        *d = b"0123456789abcdef"[((n >> (124 - 4 * i)) & 0xf) as usize];
    }
    // Hex digits are always a valid header value.
    RequestId(HeaderValue::from_bytes(&hex).unwrap_or_else(|_| HeaderValue::from_static("0")))
}

/// Whether the client reached authgate over TLS.
pub fn is_tls(session: &Session) -> bool {
    session.digest().is_some_and(|d| d.ssl_digest.is_some())
}

/// The TCP peer's address, and whether it is a trusted proxy
/// (`identity.trusted_proxies`), whose forwarding headers are believed.
pub fn peer_and_trust(session: &Session, rt: &Runtime) -> (Option<IpAddr>, bool) {
    let peer = session
        .client_addr()
        .and_then(|a| a.as_inet())
        .map(|a| a.ip());
    let trusted = peer.is_some_and(|ip| rt.trusted_proxies.iter().any(|n| n.contains(&ip)));
    (peer, trusted)
}

/// The client's address: the peer, or the `X-Real-IP` a trusted proxy set.
pub fn client_ip(session: &Session, rt: &Runtime) -> Option<IpAddr> {
    let (peer, trusted) = peer_and_trust(session, rt);
    let forwarded = trusted
        .then(|| session.req_header().headers.get("x-real-ip"))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<IpAddr>().ok());
    forwarded.or(peer)
}

/// Rewrite the upstream request: strip, inject, forward.
///
/// The headers are edited as a plain `http::HeaderMap` (names pre-parsed,
/// values shared) rather than through pingora's case-preserving
/// `insert_header`, which re-parses and copies every name twice. The cost:
/// the upstream sees header names in canonical case (standard ones
/// Title-Cased, others lower-case), as from HAProxy; HTTP field names are
/// case-insensitive.
pub fn prepare_upstream_request(
    session: &Session,
    up: &mut RequestHeader,
    rt: &Runtime,
    route: &Route,
    identity: Option<&Identity>,
    request_id: &RequestId,
    credentials: &[http::HeaderName],
) -> pingora::Result<()> {
    let assertion = match (identity, &rt.assertion) {
        (Some(id), Some(signer)) => {
            let req = session.req_header();
            let token = signer
                .sign(
                    id,
                    req.method.as_str(),
                    req.uri.path(),
                    request_id.as_str(),
                    unix_now(),
                )
                .and_then(|t| HeaderValue::try_from(t).map_err(|e| e.to_string()));
            match token {
                Ok(token) => Some(token),
                // Fail closed: an upstream that expects an assertion must not get a request without one.
                Err(e) => {
                    return Err(pingora::Error::explain(
                        pingora::ErrorType::InternalError,
                        format!("assertion signing failed: {e}"),
                    ))
                }
            }
        }
        _ => None,
    };
    let tls = is_tls(session);
    let (peer, trusted) = peer_and_trust(session, rt);

    let mut taken = take_parts(up);
    let headers = &mut taken.parts.headers;
    // Room for what is added below: one growth instead of several.
    let _ = headers.try_reserve(12);
    let names = &rt.headers;
    names.strip(headers);
    if !route.forward_credentials {
        remove_present(headers, credentials);
    }
    let allowed = spoof::Allowed {
        trusted_peer: trusted,
        overrides: route.keep_override_headers,
    };
    spoof::strip(headers, allowed, |n| names.protects(n));
    if let Some(id) = identity {
        names.inject(headers, id)?;
        if let Some(token) = assertion {
            put(headers, &names.assertion, token)?;
        }
    }
    put(headers, &X_REQUEST_ID, request_id.header_value().clone())?;
    forwarded(headers, trusted, peer, tls)?;
    if rt.identity.set_real_ip {
        real_ip(headers, trusted, peer)?;
    }
    restore(up, taken)?;
    if let (Some(_), Some(signer)) = (identity, &rt.assertion) {
        if signer.section().sign_requests {
            // Fail closed, as for the assertion.
            crate::forward_signature::sign(signer, up, &rt.headers, tls, unix_now()).map_err(
                |e| {
                    pingora::Error::explain(
                        pingora::ErrorType::InternalError,
                        format!("request signing failed: {e}"),
                    )
                },
            )?;
        }
    }
    Ok(())
}

/// Remove every header named in `names`: only those present (found by
/// [`present_among`]), since a hashed removal per name on every request
/// costs more than the comparisons. More than 64 names: each removed.
fn remove_present(headers: &mut HeaderMap, names: &[http::HeaderName]) {
    if names.len() > 64 {
        for h in names {
            headers.remove(h);
        }
        return;
    }
    let present = present_among(headers, names);
    for (i, c) in names.iter().enumerate() {
        if present & (1 << i) != 0 {
            headers.remove(c);
        }
    }
}

/// Whether the request names two different authorities: an absolute-form
/// target (or h2 `:authority`) and a `Host` header that disagree (RFC 9112
/// §3.2.2 says to ignore `Host` then; authgate refuses instead, since an
/// upstream or cache behind it may read the other one). Default ports
/// (`:80` for http, `:443` for https) are ignored.
/// `host` is the request's `Host` header ([`host_header`]).
pub fn authority_conflict(req: &RequestHeader, host: Option<&HeaderValue>) -> bool {
    let authority = match req.uri.authority() {
        Some(a) => a.as_str().as_bytes(),
        None => match raw_target_authority(req.raw_path()) {
            RawTargetAuthority::Absolute { authority, .. } => authority,
            RawTargetAuthority::AmbiguousAuthority => return true,
            RawTargetAuthority::None => return false,
        },
    };
    let Some(host) = host else {
        return false;
    };
    let scheme = match req.uri.scheme_str() {
        Some(s) => s.as_bytes(),
        None => match raw_target_authority(req.raw_path()) {
            RawTargetAuthority::Absolute { scheme, .. } => scheme,
            _ => b"http",
        },
    };
    let default: &[u8] = if scheme.eq_ignore_ascii_case(b"https") {
        b":443"
    } else {
        b":80"
    };
    let norm = |s: &[u8]| {
        let s = s.trim_ascii();
        s.strip_suffix(default).unwrap_or(s).to_ascii_lowercase()
    };
    norm(host.as_bytes()) != norm(authority)
}

/// `X-Real-IP`: the client's address, or a trusted proxy's value as sent.
fn real_ip(headers: &mut HeaderMap, trusted: bool, peer: Option<IpAddr>) -> pingora::Result<()> {
    if trusted && headers.contains_key(&X_REAL_IP) {
        return Ok(());
    }
    match peer {
        Some(ip) => put(headers, &X_REAL_IP, PeerValues::of(ip, false).xff),
        None => Ok(()),
    }
}

/// Move the parts out of `up`, remembering what `RequestHeader` keeps beside
/// them (a request-target the URI cannot hold, h2 END_STREAM).
struct Taken {
    parts: http::request::Parts,
    raw_target: Option<Vec<u8>>,
    send_end_stream: Option<bool>,
}

///
/// An HTTP/1 absolute-form target (`GET http://host/p HTTP/1.1`) leaves as
/// origin-form (`/p`, encoding kept) with `Host` set to its authority, the
/// one authgate routed on (a conflicting `Host` was refused earlier): the
/// upstream never sees a client-chosen authority in the request line.
fn take_parts(up: &mut RequestHeader) -> Taken {
    let (host, raw): (Option<HeaderValue>, &[u8]) = match raw_target_authority(up.raw_path()) {
        RawTargetAuthority::Absolute {
            authority,
            path_and_query,
            ..
        } => (
            HeaderValue::from_bytes(authority).ok(),
            match path_and_query {
                [] => b"/",
                pq => pq,
            },
        ),
        _ => (None, up.raw_path()),
    };
    let from_uri = up.uri.path_and_query().map(|p| p.as_str().as_bytes());
    let origin_query_only = raw.first() == Some(&b'?');
    let raw_target =
        (from_uri != Some(raw) || !up.raw_path_is_utf8() || origin_query_only).then(|| {
            if origin_query_only {
                [b"/", raw].concat()
            } else {
                raw.to_vec()
            }
        });
    let send_end_stream = up.send_end_stream();
    let empty = RequestHeader::from(http::Request::new(()).into_parts().0);
    let mut parts: http::request::Parts = std::mem::replace(up, empty).into();
    if let Some(host) = host {
        parts.headers.insert(http::header::HOST, host);
    }
    Taken {
        parts,
        raw_target,
        send_end_stream,
    }
}

fn restore(up: &mut RequestHeader, taken: Taken) -> pingora::Result<()> {
    let mut rebuilt = RequestHeader::from(taken.parts);
    if let Some(raw) = taken.raw_target {
        rebuilt.set_raw_path(&raw)?;
    }
    if let Some(end) = taken.send_end_stream {
        rebuilt.set_send_end_stream(end);
    }
    *up = rebuilt;
    Ok(())
}

/// `X-Forwarded-For`, `X-Forwarded-Proto` and `Forwarded` (RFC 7239): inbound
/// values are kept (and appended to) only when the peer is a trusted proxy;
/// otherwise they are replaced, so clients cannot forge their address.
fn forwarded(
    headers: &mut HeaderMap,
    trusted: bool,
    peer: Option<IpAddr>,
    tls: bool,
) -> pingora::Result<()> {
    let proto = HeaderValue::from_static(if tls { "https" } else { "http" });
    if !trusted {
        // Replaced outright: nothing of the client's is kept or looked up.
        remove_present(headers, &spoof::FORWARDING);
        put(headers, X_FORWARDED_PROTO, proto)?;
        if let Some(ip) = peer {
            let fresh = PeerValues::of(ip, tls);
            put(headers, X_FORWARDED_FOR, fresh.xff)?;
            put(headers, &http::header::FORWARDED, fresh.forwarded)?;
        }
        return Ok(());
    }
    let Some(ip) = peer else {
        return put(headers, X_FORWARDED_PROTO, proto);
    };
    let fresh = PeerValues::of(ip, tls);
    // A trusted chain may arrive as several header lines: they are one list
    // (RFC 9110 §5.3), kept in order, with this hop appended.
    let joined = |headers: &HeaderMap, name: &HeaderName, next: &HeaderValue| {
        let prev: Vec<&str> = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        if prev.is_empty() {
            return next.clone();
        }
        HeaderValue::try_from(format!(
            "{}, {}",
            prev.join(", "),
            next.to_str().unwrap_or("")
        ))
        .unwrap_or_else(|_| next.clone())
    };
    let xff = joined(headers, X_FORWARDED_FOR, &fresh.xff);
    put(headers, X_FORWARDED_FOR, xff)?;
    let fwd = joined(headers, &http::header::FORWARDED, &fresh.forwarded);
    put(headers, &http::header::FORWARDED, fwd)?;
    if !headers.contains_key(X_FORWARDED_PROTO) {
        put(headers, X_FORWARDED_PROTO, proto)?;
    }
    Ok(())
}

/// The rendered `X-Forwarded-For` and `Forwarded` elements for one peer;
/// each worker thread keeps the last peer's (a connection's requests, and
/// the few addresses of the load balancers in front, repeat).
#[derive(Clone)]
struct PeerValues {
    ip: IpAddr,
    tls: bool,
    xff: HeaderValue,
    forwarded: HeaderValue,
}

thread_local! {
    static LAST_PEER: std::cell::RefCell<Option<PeerValues>> = const { std::cell::RefCell::new(None) };
}

impl PeerValues {
    fn of(ip: IpAddr, tls: bool) -> Self {
        LAST_PEER.with(|last| {
            if let Some(v) = last
                .borrow()
                .as_ref()
                .filter(|v| v.ip == ip && v.tls == tls)
            {
                return v.clone();
            }
            let node = match ip {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => format!("\"[{v6}]\""),
            };
            let proto = if tls { "https" } else { "http" };
            // Shared bytes: later clones only bump a reference count.
            let value = |s: String| {
                HeaderValue::from_maybe_shared(bytes::Bytes::from(s))
                    .unwrap_or_else(|_| HeaderValue::from_static("unknown"))
            };
            let v = PeerValues {
                ip,
                tls,
                xff: value(ip.to_string()),
                forwarded: value(format!("for={node};proto={proto}")),
            };
            *last.borrow_mut() = Some(v.clone());
            v
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_credential_header_present_is_removed_with_all_its_lines() {
        let creds: Vec<http::HeaderName> = crate::credential::extract::CREDENTIAL_HEADERS
            .iter()
            .cloned()
            .chain(["signature-input", "signature"].map(http::HeaderName::from_static))
            .collect();
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("authorization", "Bearer a"),
            ("authorization", "Bearer b"),
            ("x-api-key", "k"),
            ("signature", "sig1=:AA==:"),
            ("accept", "*/*"),
            ("x-other", "kept"),
        ] {
            h.append(
                http::HeaderName::from_static(k),
                HeaderValue::from_static(v),
            );
        }
        remove_present(&mut h, &creds);
        let mut left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        left.sort();
        assert_eq!(left, ["accept", "x-other"]);
        // Nothing to remove: nothing changes.
        remove_present(&mut h, &creds);
        assert_eq!(h.len(), 2);
        // More names than the bitmask holds: every one is still removed.
        let many: Vec<http::HeaderName> = (0..70)
            .map(|i| http::HeaderName::try_from(format!("x-cred-{i}")).unwrap())
            .collect();
        let mut h = HeaderMap::new();
        h.insert("x-cred-69", HeaderValue::from_static("v"));
        h.insert("x-cred-3", HeaderValue::from_static("v"));
        remove_present(&mut h, &many);
        assert!(h.is_empty());
    }

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
            assert_eq!(request_host(&req, host_header(&req)), Some(want), "{host}");
        }
    }

    #[test]
    fn authorities_must_agree() {
        let req = |target: &[u8], host: Option<&str>| {
            let mut r = RequestHeader::build("GET", target, None).unwrap();
            if let Some(h) = host {
                r.insert_header("host", h).unwrap();
            }
            r
        };
        for (target, host, conflict) in [
            (&b"/a"[..], Some("x"), false),
            (b"http://x/a", Some("x"), false),
            (b"http://X:80/a", Some("x"), false),
            (b"https://x:443/a", Some("x"), false),
            (b"http://x/a", None, false),
            (b"http://x/a", Some("y"), true),
            (b"http://x:8080/a", Some("x"), true),
            (b"https://x:80/a", Some("x"), true),
        ] {
            let r = req(target, host);
            assert_eq!(
                authority_conflict(&r, host_header(&r)),
                conflict,
                "{} / {host:?}",
                String::from_utf8_lossy(target)
            );
        }
        // h2: `:authority` lives in the URI.
        let mut h2 = RequestHeader::build("GET", b"/a", None).unwrap();
        h2.set_uri("https://api.example.com/a".parse().unwrap());
        h2.insert_header("host", "evil.example").unwrap();
        assert!(authority_conflict(&h2, host_header(&h2)));
        h2.insert_header("host", "api.example.com").unwrap();
        assert!(!authority_conflict(&h2, host_header(&h2)));
    }

    #[test]
    fn absolute_form_leaves_as_origin_form_with_its_host() {
        for (target, want) in [
            (
                &b"http://api.example.com/p/a%20b?q=1"[..],
                &b"/p/a%20b?q=1"[..],
            ),
            (b"http://api.example.com", b"/"),
            (b"http://api.example.com?q=1", b"/?q=1"),
            (b"/plain?x", b"/plain?x"),
        ] {
            let mut up = RequestHeader::build("GET", target, None).unwrap();
            up.insert_header("host", "api.example.com").unwrap();
            let taken = take_parts(&mut up);
            restore(&mut up, taken).unwrap();
            assert_eq!(up.raw_path(), want, "{}", String::from_utf8_lossy(target));
            assert_eq!(up.headers["host"], "api.example.com");
        }
    }

    #[test]
    fn request_id_kept_or_minted() {
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        req.insert_header("x-request-id", "abc-123").unwrap();
        assert_eq!(request_id(&req).as_str(), "abc-123");
        req.insert_header("x-request-id", "bad id\"").unwrap();
        let minted = request_id(&req);
        assert_eq!(minted.as_str().len(), 32);
        assert!(minted.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(minted.as_str(), request_id(&req).as_str());
    }
}
