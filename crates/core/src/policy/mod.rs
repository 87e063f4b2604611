//! Who may pass: what a protected route demands ([`Requirements`]) and the
//! decision for a verified identity on a matched route ([`decide`]). The
//! route table itself is the proxy's.

pub mod decide;

use crate::credential::KindSet;

/// What a route demands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Open to anyone (explicit `public = true`).
    Public,
    /// A verified credential meeting the requirements.
    Protected(Requirements),
}

/// Requirements of a protected route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirements {
    /// Accepted credential kinds.
    pub accept: KindSet,
    /// Scopes that must all be present.
    pub all_scopes: Vec<String>,
    /// Scopes of which one must be present.
    pub any_scopes: Vec<String>,
    /// The surface; keys tagged for another usage are refused.
    pub usage: Option<String>,
    /// Path parameter checked against the key's allow-list.
    pub allow_param: Option<String>,
    /// Stamp routes: the body must carry a fresh timestamp.
    pub require_timestamp: bool,
    /// A browser surface: publishable keys may be accepted, and a server
    /// key presented here is refused (it must never reach a browser).
    pub browser: bool,
    /// RFC 9421 signatures: the components that must be covered (empty:
    /// the default set; `content-digest` is required with a body either
    /// way) and whether a `nonce` parameter is required.
    pub signature: SignaturePolicy,
}

/// What a route demands of an RFC 9421 message signature.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignaturePolicy {
    /// Components that must be covered; empty: `@method`, `@authority`,
    /// `@path`, and `@query` when the request has a query.
    pub components: Vec<String>,
    /// A `nonce` parameter is required.
    pub nonce: bool,
}
