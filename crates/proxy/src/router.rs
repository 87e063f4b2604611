//! The route table: optional host + path template (matchit) + methods.
//!
//! Several routes may share one path template (a mixed-auth route: one entry
//! per method group, or per host); they are tried host-specific first, then
//! in file order. A path that matches but whose method no route serves
//! answers 405 with `Allow`.

use crate::upstream::Pool;
pub use authgate_core::policy::{Access, Requirements};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One route.
#[derive(Debug)]
pub struct Route {
    /// Name for logs and metrics.
    pub name: String,
    /// Lower-case host, or any.
    pub host: Option<String>,
    /// The path template.
    pub path: String,
    /// Methods served (empty = all).
    pub methods: Vec<http::Method>,
    /// Where an admitted request goes.
    pub target: Target,
    /// Who may pass.
    pub access: Access,
    /// Forward credential headers upstream.
    pub forward_credentials: bool,
    /// Keep method/URL override headers (policy then follows the override).
    pub keep_override_headers: bool,
    /// Add `RateLimit` headers to the responses of admitted requests.
    pub rate_limit_headers: bool,
    /// Request metrics, resolved once.
    pub metrics: crate::metrics::RouteMetrics,
}

/// Where a route sends an admitted request.
#[derive(Debug)]
pub enum Target {
    /// Forward to this upstream pool.
    Upstream(Arc<Pool>),
    /// authgate answers itself.
    Builtin(Builtin),
}

/// Responses authgate writes itself (routes with `handler = "…"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// The verified identity as JSON.
    Whoami,
    /// The identity-assertion key as a JWKS.
    Jwks,
    /// `{"status":"ok"}`.
    Health,
    /// Session-key sign-in: issue a challenge.
    SessionChallenge,
    /// Session-key sign-in: verify the wallet's signature, start a session.
    SessionVerify,
    /// Extend the calling session.
    SessionRefresh,
    /// End the calling session.
    SessionRevoke,
    /// A server key mints an ephemeral key (`ek_`) for one end user.
    MintEphemeral,
    /// A server key mints a restricted capability (`rk_`) for one agent.
    MintCapability,
    /// Wallet-token sign-in: issue a nonce.
    WalletChallenge,
    /// Wallet-token sign-in: verify the signed nonce, issue tokens.
    WalletVerify,
    /// Wallet-token sign-in: the signed nonce yields a namespace API key.
    WalletApiKey,
    /// Exchange a namespace API key for an access token.
    WalletKeyToken,
    /// Exchange (and rotate) a refresh token.
    WalletRefresh,
    /// The caller's identity (API key or access token).
    WalletWhoami,
    /// Revoke one refresh token, or all of the caller's.
    WalletLogout,
    /// Extend a session by a signed retry (a new key sealed to the client).
    SignedRetry,
}

impl Builtin {
    /// The names config files use, for error messages.
    pub const NAMES: &'static str =
        "whoami, jwks, health, session_challenge, session_verify, session_refresh, \
         session_revoke, mint_ephemeral, mint_capability, wallet_challenge, wallet_verify, \
         wallet_api_key, wallet_key_token, wallet_refresh, wallet_whoami, wallet_logout, signed_retry";

    /// Parse a config name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "whoami" => Some(Builtin::Whoami),
            "jwks" => Some(Builtin::Jwks),
            "health" => Some(Builtin::Health),
            "session_challenge" => Some(Builtin::SessionChallenge),
            "session_verify" => Some(Builtin::SessionVerify),
            "session_refresh" => Some(Builtin::SessionRefresh),
            "session_revoke" => Some(Builtin::SessionRevoke),
            "mint_ephemeral" => Some(Builtin::MintEphemeral),
            "mint_capability" => Some(Builtin::MintCapability),
            "wallet_challenge" => Some(Builtin::WalletChallenge),
            "wallet_verify" => Some(Builtin::WalletVerify),
            "wallet_api_key" => Some(Builtin::WalletApiKey),
            "wallet_key_token" => Some(Builtin::WalletKeyToken),
            "wallet_refresh" => Some(Builtin::WalletRefresh),
            "wallet_whoami" => Some(Builtin::WalletWhoami),
            "wallet_logout" => Some(Builtin::WalletLogout),
            "signed_retry" => Some(Builtin::SignedRetry),
            _ => None,
        }
    }

    /// The config name.
    pub fn name(self) -> &'static str {
        match self {
            Builtin::Whoami => "whoami",
            Builtin::Jwks => "jwks",
            Builtin::Health => "health",
            Builtin::SessionChallenge => "session_challenge",
            Builtin::SessionVerify => "session_verify",
            Builtin::SessionRefresh => "session_refresh",
            Builtin::SessionRevoke => "session_revoke",
            Builtin::MintEphemeral => "mint_ephemeral",
            Builtin::MintCapability => "mint_capability",
            Builtin::WalletChallenge => "wallet_challenge",
            Builtin::WalletVerify => "wallet_verify",
            Builtin::WalletApiKey => "wallet_api_key",
            Builtin::WalletKeyToken => "wallet_key_token",
            Builtin::WalletRefresh => "wallet_refresh",
            Builtin::WalletWhoami => "wallet_whoami",
            Builtin::WalletLogout => "wallet_logout",
            Builtin::SignedRetry => "signed_retry",
        }
    }
}

impl Route {
    /// The upstream pool name, or `builtin:<handler>`, for logs.
    pub fn target_name(&self) -> &str {
        match &self.target {
            Target::Upstream(p) => p.name(),
            Target::Builtin(b) => match b {
                Builtin::Whoami => "builtin:whoami",
                Builtin::Jwks => "builtin:jwks",
                Builtin::Health => "builtin:health",
                Builtin::SessionChallenge => "builtin:session_challenge",
                Builtin::SessionVerify => "builtin:session_verify",
                Builtin::SessionRefresh => "builtin:session_refresh",
                Builtin::SessionRevoke => "builtin:session_revoke",
                Builtin::MintEphemeral => "builtin:mint_ephemeral",
                Builtin::MintCapability => "builtin:mint_capability",
                Builtin::WalletChallenge => "builtin:wallet_challenge",
                Builtin::WalletVerify => "builtin:wallet_verify",
                Builtin::WalletApiKey => "builtin:wallet_api_key",
                Builtin::WalletKeyToken => "builtin:wallet_key_token",
                Builtin::WalletRefresh => "builtin:wallet_refresh",
                Builtin::WalletWhoami => "builtin:wallet_whoami",
                Builtin::WalletLogout => "builtin:wallet_logout",
                Builtin::SignedRetry => "builtin:signed_retry",
            },
        }
    }

    fn serves(&self, method: &http::Method) -> bool {
        self.methods.is_empty() || self.methods.contains(method)
    }

    fn host_matches(&self, host: Option<&str>) -> bool {
        match (&self.host, host) {
            (None, _) => true,
            (Some(want), Some(got)) => want.eq_ignore_ascii_case(got),
            (Some(_), None) => false,
        }
    }
}

/// The outcome of a lookup.
pub enum RouteMatch<'a> {
    /// A route, with the path parameters.
    Found(&'a Arc<Route>, matchit::Params<'a, 'a>),
    /// The path matches, the method does not; the `Allow` value.
    MethodNotAllowed(String),
    /// Nothing matches.
    NotFound,
}

/// Routes indexed by path template.
#[derive(Default)]
pub struct Router {
    paths: matchit::Router<Vec<Arc<Route>>>,
    count: usize,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("routes", &self.count)
            .finish()
    }
}

impl Router {
    /// Build from `(key path, route)` pairs; errors are `(key path, message)`.
    pub fn build(routes: Vec<(String, Route)>) -> Result<Self, Vec<(String, String)>> {
        let mut errs = Vec::new();
        let count = routes.len();
        let mut by_path: BTreeMap<String, Vec<(String, Arc<Route>)>> = BTreeMap::new();
        for (key, route) in routes {
            let same = by_path.entry(route.path.clone()).or_default();
            for (other_key, other) in same.iter() {
                let overlap = other.host == route.host
                    && (other.methods.is_empty()
                        || route.methods.is_empty()
                        || other.methods.iter().any(|m| route.methods.contains(m)));
                if overlap {
                    errs.push((
                        format!("{key}.path"),
                        format!("overlaps {other_key} (same host, path and method)"),
                    ));
                }
            }
            same.push((key, Arc::new(route)));
        }
        let mut paths = matchit::Router::new();
        for (path, mut group) in by_path {
            // Host-specific routes are tried before host-less ones.
            group.sort_by_key(|(_, r)| r.host.is_none());
            let key = group[0].0.clone();
            let routes = group.into_iter().map(|(_, r)| r).collect();
            if let Err(e) = paths.insert(path, routes) {
                errs.push((format!("{key}.path"), e.to_string()));
            }
        }
        if errs.is_empty() {
            Ok(Self { paths, count })
        } else {
            Err(errs)
        }
    }

    /// Number of routes.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there is no route.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Find the route for a request.
    pub fn find<'a>(
        &'a self,
        host: Option<&str>,
        method: &http::Method,
        path: &'a str,
    ) -> RouteMatch<'a> {
        let Ok(m) = self.paths.at(path) else {
            return RouteMatch::NotFound;
        };
        let mut host_seen = false;
        for route in m.value.iter() {
            if !route.host_matches(host) {
                continue;
            }
            host_seen = true;
            if route.serves(method) {
                return RouteMatch::Found(route, m.params);
            }
        }
        if !host_seen {
            return RouteMatch::NotFound;
        }
        let mut allow: Vec<&str> = m
            .value
            .iter()
            .filter(|r| r.host_matches(host))
            .flat_map(|r| r.methods.iter().map(|m| m.as_str()))
            .collect();
        allow.sort_unstable();
        allow.dedup();
        RouteMatch::MethodNotAllowed(allow.join(", "))
    }
}

/// Whether a request path is in normal form: no empty, `.` or `..` segments
/// and no percent-encoded `/`, `\` or `.`, which upstreams may decode
/// differently than the router (a classic route-confusion bypass).
pub fn path_is_normal(path: &str) -> bool {
    let b = path.as_bytes();
    if b.first() != Some(&b'/') {
        return false;
    }
    // One pass; the end of the path closes the last segment.
    let mut seg_start = 1;
    for i in 1..=b.len() {
        match b.get(i).copied().unwrap_or(b'/') {
            b'/' => {
                let seg = &b[seg_start..i];
                let last = i == b.len();
                if seg == b"." || seg == b".." || (seg.is_empty() && !last) {
                    return false;
                }
                seg_start = i + 1;
            }
            b'\\' => return false,
            // Encoded dot, slash or backslash.
            b'%' => {
                let hex = |k: usize| b.get(k).map_or(0, u8::to_ascii_lowercase);
                if matches!(
                    (hex(i + 1), hex(i + 2)),
                    (b'2', b'e') | (b'2', b'f') | (b'5', b'c')
                ) {
                    return false;
                }
            }
            _ => {}
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_paths() {
        for (p, ok) in [
            ("/", true),
            ("/api/v1/x", true),
            ("/api/v1/x/", true),
            ("/api//x", false),
            ("/api/./x", false),
            ("/api/../x", false),
            ("/api/..", false),
            ("/api/%2e%2e/x", false),
            ("/api/a%2Fb", false),
            ("/api/a%5Cb", false),
            ("/api/a\\b", false),
            ("/api/a%20b", true),
            ("relative", false),
            ("", false),
            ("//", false),
            ("/.", false),
            ("/..", false),
            ("/a/.", false),
            ("/./a", false),
            ("/.hidden/a..b/...", true),
            ("/a%", true),
            ("/a%2", true),
            ("/a%2E", false),
            ("/%5c", false),
        ] {
            assert_eq!(path_is_normal(p), ok, "{p}");
        }
    }
}
