//! The HTTP side of the load tool: the target URL and the requests sent to
//! it (the connection itself is [`super::wire`]). Requests carry their body
//! as [`Bytes`]: empty for GETs (sent without a body), the signed JSON for
//! stamped POSTs.

use bytes::Bytes;
use http::{HeaderValue, Request, Uri};

/// Where the load goes.
#[derive(Debug, Clone)]
pub struct Target {
    /// The URL as given.
    pub url: String,
    /// `host:port` to connect to.
    pub addr: String,
    /// `Host` header value.
    pub host: HeaderValue,
    /// Path of the URL without a trailing `/` (`""` for the root).
    pub base_path: String,
    /// Query of the URL, if any (used when no credential path applies).
    pub query: Option<String>,
}

impl Target {
    /// Parse `http://host[:port][/base]`. Only plain `http` is supported.
    pub fn parse(url: &str) -> Result<Target, String> {
        let uri: Uri = url
            .parse()
            .map_err(|e| format!("--url '{url}' is not a URL: {e}"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => {
                return Err(format!(
                    "--url scheme '{other}' is not supported (plain http only)"
                ))
            }
            None => return Err(format!("--url '{url}' needs a scheme, e.g. http://{url}")),
        }
        let authority = uri
            .authority()
            .ok_or_else(|| format!("--url '{url}' has no host"))?;
        let port = authority.port_u16().unwrap_or(80);
        // `host()` keeps the brackets of an IPv6 literal, as connect wants.
        let addr = format!("{}:{port}", authority.host());
        let host_header = HeaderValue::from_str(authority.as_str())
            .map_err(|_| format!("--url '{url}' has an invalid host"))?;
        Ok(Target {
            url: url.to_string(),
            addr,
            host: host_header,
            base_path: uri.path().trim_end_matches('/').to_string(),
            query: uri.query().map(str::to_string),
        })
    }

    /// Whether the host is a loopback name or address.
    pub fn is_loopback(&self) -> bool {
        let host = self
            .addr
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or(&self.addr);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// The request path when no credential supplies one.
    pub fn plain_path(&self, path_override: Option<&str>) -> Result<Uri, String> {
        let mut p = format!("{}{}", self.base_path, path_override.unwrap_or(""));
        if p.is_empty() {
            p.push('/');
        }
        if let (None, Some(q)) = (path_override, &self.query) {
            p = format!("{p}?{q}");
        }
        super::credentials::parse_path(&p)
    }
}

/// A GET request for `path` with `Host` and an optional credential header.
pub fn request(
    target: &Target,
    path: &Uri,
    credential: Option<(&http::HeaderName, &HeaderValue)>,
) -> Request<Bytes> {
    let mut req = Request::new(Bytes::new());
    *req.uri_mut() = path.clone();
    let h = req.headers_mut();
    h.insert(http::header::HOST, target.host.clone());
    if let Some((name, value)) = credential {
        h.insert(name.clone(), value.clone());
    }
    req
}

/// A POST of the JSON `body` to `path` with `Host` and the credential's
/// headers; the connection adds `Content-Length`.
pub fn post_json(
    target: &Target,
    path: Uri,
    credential: Vec<(http::HeaderName, HeaderValue)>,
    body: Bytes,
) -> Request<Bytes> {
    let mut req = Request::new(body);
    *req.method_mut() = http::Method::POST;
    *req.uri_mut() = path;
    let h = req.headers_mut();
    h.insert(http::header::HOST, target.host.clone());
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for (name, value) in credential {
        h.insert(name, value);
    }
    req
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_table() {
        let t = Target::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            (t.addr.as_str(), t.base_path.as_str()),
            ("127.0.0.1:8080", "")
        );
        assert_eq!(t.host, "127.0.0.1:8080");
        assert!(t.is_loopback());
        assert_eq!(t.plain_path(None).unwrap(), "/");
        assert_eq!(t.plain_path(Some("/x")).unwrap(), "/x");

        let t = Target::parse("http://localhost/base/?a=1").unwrap();
        assert_eq!(t.addr, "localhost:80");
        assert_eq!(t.base_path, "/base");
        assert!(t.is_loopback());
        assert_eq!(t.plain_path(None).unwrap(), "/base?a=1");

        let t = Target::parse("http://[::1]:9000/").unwrap();
        assert_eq!(t.addr, "[::1]:9000");
        assert!(t.is_loopback());

        assert!(!Target::parse("http://example.com").unwrap().is_loopback());
        for bad in [
            "https://127.0.0.1",
            "127.0.0.1:8080",
            "http://",
            "not a url",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }
}
