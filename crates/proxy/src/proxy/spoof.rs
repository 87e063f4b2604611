//! Inbound headers a client could use to lie to the upstream, beyond the
//! identity namespace and the credential headers (see [`crate::identity`]).
//!
//! Three families, all removed before forwarding:
//!
//! - **Underscore spellings** of any protected name (`x_auth_subject`,
//!   `X_Forwarded_For`, `x_api_key`, …). CGI/WSGI-style upstreams (RFC 3875
//!   §4.1.18) map `_` and `-` to the same variable, so such a header would
//!   reach the application as the identity header itself. Removed always,
//!   whatever the peer or route: a trusted proxy never needs to send them.
//!   Removed rather than refused, as nginx does by default: a stray header
//!   must not break a client, and removal leaves nothing to spoof.
//! - **Client-address headers** (`X-Real-IP`, `True-Client-IP`,
//!   `X-Client-IP`, `CF-Connecting-IP`, `Fastly-Client-IP`,
//!   `X-Cluster-Client-IP`): treated like `X-Forwarded-For`, kept only when
//!   the peer is in `identity.trusted_proxies`.
//! - **Method and URL overrides** (`X-HTTP-Method-Override`,
//!   `X-HTTP-Method`, `X-Method-Override`, `X-Original-URL`,
//!   `X-Rewrite-URL`): an upstream that honours them would execute another
//!   method or path than the one authgate authorised. Removed unless the
//!   route sets `keep_override_headers`, and then the policy is decided on
//!   the overridden method and path (see [`Overrides`]).

use crate::credential::extract::CREDENTIAL_HEADERS;
use crate::error::Refusal;
use http::{HeaderMap, HeaderName, Method};

/// Headers naming the client's address, set by CDNs and load balancers.
pub const CLIENT_ADDRESS: [&str; 6] = [
    "x-real-ip",
    "true-client-ip",
    "x-client-ip",
    "cf-connecting-ip",
    "fastly-client-ip",
    "x-cluster-client-ip",
];

/// Headers that override the request method.
pub const METHOD_OVERRIDE: [&str; 3] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// Headers that override the request path.
pub const URL_OVERRIDE: [&str; 2] = ["x-original-url", "x-rewrite-url"];

/// Forwarding headers authgate rewrites itself (see `forward.rs`): kept
/// and appended to only from a trusted proxy. `X-Forwarded-For` first,
/// `X-Forwarded-Proto` second.
pub static FORWARDING: [HeaderName; 4] = [
    HeaderName::from_static("x-forwarded-for"),
    HeaderName::from_static("x-forwarded-proto"),
    HeaderName::from_static("x-forwarded-host"),
    http::header::FORWARDED,
];

/// What the peer and the route allow to pass.
#[derive(Debug, Clone, Copy)]
pub struct Allowed {
    /// The peer is a trusted proxy: client-address headers are kept.
    pub trusted_peer: bool,
    /// The route keeps method/URL override headers.
    pub overrides: bool,
}

/// Remove the spoofable headers of the three families from `headers`.
///
/// `protected(name)` says whether a dash-spelled, lower-case name belongs to
/// the identity namespace (its prefix or one of its renamed headers); the
/// fixed families above are checked here. One pass over the names; nothing
/// is allocated when nothing is removed (the usual case).
pub fn strip(headers: &mut HeaderMap, allowed: Allowed, protected: impl Fn(&str) -> bool) {
    let doomed = |name: &HeaderName| {
        let s = name.as_str();
        if s.contains('_') {
            return underscore_protected(s, &protected);
        }
        (!allowed.trusted_peer && CLIENT_ADDRESS.contains(&s))
            || (!allowed.overrides && is_override(s))
    };
    if !headers.keys().any(doomed) {
        return;
    }
    let names: Vec<HeaderName> = headers.keys().filter(|n| doomed(n)).cloned().collect();
    for name in names {
        headers.remove(&name);
    }
}

/// Whether `name` (lower case) is a method or URL override header.
pub fn is_override(name: &str) -> bool {
    METHOD_OVERRIDE.contains(&name) || URL_OVERRIDE.contains(&name)
}

/// Whether an underscore spelling reads, with `_` as `-`, as a protected name.
fn underscore_protected(name: &str, protected: &impl Fn(&str) -> bool) -> bool {
    let dashed = name.replace('_', "-");
    let d = dashed.as_str();
    protected(d)
        || CREDENTIAL_HEADERS
            .iter()
            .chain(&FORWARDING)
            .any(|n| n.as_str() == d)
        || CLIENT_ADDRESS.contains(&d)
        || is_override(d)
        || d == "x-request-id"
}

/// The method and path a request asks the upstream to execute when its route
/// keeps override headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overrides {
    /// The overriding method, if any header names one.
    pub method: Option<Method>,
    /// The overriding path (without query), if any header names one.
    pub path: Option<String>,
}

impl Overrides {
    /// Read the override headers. Several headers of one kind must agree;
    /// a method must be a valid token and a path must be origin-form
    /// (`/…`). Anything else is refused: an upstream could read either value.
    pub fn read(headers: &HeaderMap) -> Result<Self, Refusal> {
        let method = one_value(headers, &METHOD_OVERRIDE)?
            .map(|m| {
                Method::from_bytes(m.trim().to_ascii_uppercase().as_bytes())
                    .map_err(|_| Refusal::InvalidRequest("bad_override"))
            })
            .transpose()?;
        let path = one_value(headers, &URL_OVERRIDE)?
            .map(|u| {
                let u = u.trim();
                if !u.starts_with('/') || u.starts_with("//") {
                    return Err(Refusal::InvalidRequest("bad_override"));
                }
                let path = u.split(['?', '#']).next().unwrap_or(u);
                Ok(path.to_string())
            })
            .transpose()?;
        Ok(Self { method, path })
    }

    /// Whether any override is present.
    pub fn any(&self) -> bool {
        self.method.is_some() || self.path.is_some()
    }
}

/// The single value the headers `names` agree on, if any is present.
fn one_value<'a>(headers: &'a HeaderMap, names: &[&str]) -> Result<Option<&'a str>, Refusal> {
    let mut found: Option<&str> = None;
    for name in names {
        for v in headers.get_all(*name) {
            let v = v
                .to_str()
                .map_err(|_| Refusal::InvalidRequest("bad_override"))?;
            match found {
                Some(prev) if !prev.trim().eq_ignore_ascii_case(v.trim()) => {
                    return Err(Refusal::InvalidRequest("ambiguous_override"))
                }
                _ => found = Some(v),
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn map(names: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for n in names {
            h.append(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_static("v"),
            );
        }
        h
    }

    fn left(h: &HeaderMap) -> Vec<&str> {
        let mut v: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        v.sort();
        v
    }

    const IDENTITY: fn(&str) -> bool = |n| n.starts_with("x-auth-") || n == "x-user-id";

    #[test]
    fn underscore_spellings_of_protected_names_go_always() {
        let mut h = map(&[
            "x_auth_subject",
            "X_Auth_Workspace",
            "x_user_id",
            "x_api_key",
            "x_server_key",
            "x_forwarded_for",
            "x_real_ip",
            "x_http_method_override",
            "x_request_id",
            "my_header",
            "x-other",
        ]);
        let all = Allowed {
            trusted_peer: true,
            overrides: true,
        };
        strip(&mut h, all, IDENTITY);
        assert_eq!(left(&h), ["my_header", "x-other"]);
    }

    #[test]
    fn client_address_kept_only_from_trusted_peers() {
        let names = CLIENT_ADDRESS;
        let mut h = map(&names);
        let trusted = Allowed {
            trusted_peer: true,
            overrides: false,
        };
        strip(&mut h, trusted, IDENTITY);
        assert_eq!(h.len(), names.len());
        strip(
            &mut h,
            Allowed {
                trusted_peer: false,
                overrides: false,
            },
            IDENTITY,
        );
        assert!(h.is_empty(), "{h:?}");
    }

    #[test]
    fn overrides_kept_only_when_the_route_allows() {
        let names = [METHOD_OVERRIDE.as_slice(), URL_OVERRIDE.as_slice()].concat();
        let mut h = map(&names);
        let keep = Allowed {
            trusted_peer: false,
            overrides: true,
        };
        strip(&mut h, keep, IDENTITY);
        assert_eq!(h.len(), 5);
        let drop = Allowed {
            trusted_peer: false,
            overrides: false,
        };
        strip(&mut h, drop, IDENTITY);
        assert!(h.is_empty(), "{h:?}");
    }

    #[test]
    fn override_values_read_strictly() {
        let mut h = HeaderMap::new();
        assert!(!Overrides::read(&h).unwrap().any());
        h.insert("x-http-method-override", HeaderValue::from_static("post"));
        h.insert("x-original-url", HeaderValue::from_static("/a/b?x=1"));
        let o = Overrides::read(&h).unwrap();
        assert_eq!(o.method, Some(Method::POST));
        assert_eq!(o.path.as_deref(), Some("/a/b"));
        h.insert("x-method-override", HeaderValue::from_static("DELETE"));
        assert_eq!(
            Overrides::read(&h),
            Err(Refusal::InvalidRequest("ambiguous_override"))
        );
        let mut h = HeaderMap::new();
        h.insert("x-rewrite-url", HeaderValue::from_static("http://evil/x"));
        assert_eq!(
            Overrides::read(&h),
            Err(Refusal::InvalidRequest("bad_override"))
        );
        let mut h = HeaderMap::new();
        h.insert("x-http-method", HeaderValue::from_static("GE T"));
        assert_eq!(
            Overrides::read(&h),
            Err(Refusal::InvalidRequest("bad_override"))
        );
    }
}
