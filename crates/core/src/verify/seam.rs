//! The verifier seam: every credential family is a [`RequestVerifier`]
//! registered with the [`super::Authenticator`]. A verifier declares the
//! carriers it verifies and what it needs of the request ([`Needs`]); the
//! proxy finds the credential ([`super::Authenticator::find`]), asks the
//! verifier registered for its carrier what it needs, reads the body only
//! when asked, and calls [`RequestVerifier::verify`]. Adding a verifier
//! (RFC 9421 signatures, session keys) is one `register` call: it may
//! detect its own credential in headers the built-in extractor does not
//! know ([`RequestVerifier::detect`]) and name the headers to strip before
//! forwarding ([`RequestVerifier::headers`]).

use super::Authenticator;
use crate::credential::extract::{Carrier, Presented};
use crate::credential::{CredentialKind, KindSet};
use crate::error::Refusal;
use crate::identity::Identity;
use crate::policy::Requirements;
use crate::runtime::AuthRuntime;
use async_trait::async_trait;
use http::{HeaderMap, HeaderName, Method};
use std::sync::Arc;

/// What a verifier needs before it can decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// The request head: method, authority, path, query, headers.
    Head,
    /// The head and the whole body (bounded by `[stamps]` limits).
    Body,
}

/// The request as a verifier sees it.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    /// Method (after an allowed override).
    pub method: &'a Method,
    /// `http` or `https`, as the client reached authgate.
    pub scheme: &'a str,
    /// Authority as the client addressed it (`:authority`, else `Host`),
    /// port included, when known.
    pub authority: Option<&'a str>,
    /// Path (after an allowed override).
    pub path: &'a str,
    /// Query string without `?`, when present.
    pub query: Option<&'a str>,
    /// Request headers.
    pub headers: &'a HeaderMap,
}

/// One verification call.
#[derive(Clone, Copy)]
pub struct Verification<'a> {
    /// The compiled settings of the current config.
    pub rt: &'a AuthRuntime,
    /// The route's requirements (accepted kinds, timestamp rule, …).
    pub requirements: &'a Requirements,
    /// The request.
    pub request: RequestView<'a>,
    /// The credential found for this verifier.
    pub presented: Presented<'a>,
    /// The body, when the verifier asked for it.
    pub body: Option<&'a [u8]>,
    /// A body follows that is not read here (too large, or of no declared
    /// length): it streams to the upstream and the caller checks its `Content-Digest` on the way
    /// (message signatures only; the signature must cover the digest).
    pub body_streams: bool,
}

/// A credential family's verifier.
#[async_trait]
pub trait RequestVerifier: Send + Sync {
    /// Name for logs.
    fn name(&self) -> &'static str;
    /// Carriers whose credentials this verifier verifies.
    fn carriers(&self) -> &'static [Carrier];
    /// Kinds of identity it can produce (a route accepting none of them
    /// is refused before any body is read).
    fn kinds(&self) -> KindSet;
    /// What it needs of the request.
    fn needs(&self) -> Needs;
    /// Find this verifier's own credential in headers the built-in
    /// extractor does not read (`None`: nothing of its own there). The
    /// carrier of what it returns must be one of [`Self::carriers`].
    fn detect<'r>(&self, _headers: &'r HeaderMap) -> Result<Option<Presented<'r>>, Refusal> {
        Ok(None)
    }
    /// Headers (beyond the built-in credential headers) that carry this
    /// verifier's credential and are removed before forwarding.
    fn headers(&self) -> &'static [HeaderName] {
        &[]
    }
    /// Verify, with the hot cache of `auth`.
    async fn verify(
        &self,
        auth: &Authenticator,
        v: Verification<'_>,
    ) -> Result<Arc<Identity>, Refusal>;
}

/// Opaque keys and JWTs: one header credential, sniffed by prefix.
#[derive(Debug, Default)]
pub struct TokenVerifier;

impl TokenVerifier {
    /// The carriers of opaque keys and JWTs.
    pub const CARRIERS: &'static [Carrier] = &[
        Carrier::Bearer,
        Carrier::ApiKeyScheme,
        Carrier::XApiKey,
        Carrier::ServerKey,
    ];
}

#[async_trait]
impl RequestVerifier for TokenVerifier {
    fn name(&self) -> &'static str {
        "token"
    }
    fn carriers(&self) -> &'static [Carrier] {
        Self::CARRIERS
    }
    fn kinds(&self) -> KindSet {
        [
            CredentialKind::ApiKey,
            CredentialKind::ServerKey,
            CredentialKind::AccessToken,
            CredentialKind::Jwt,
            CredentialKind::PublishableKey,
            CredentialKind::EphemeralKey,
            CredentialKind::RestrictedKey,
        ]
        .into_iter()
        .collect()
    }
    fn needs(&self) -> Needs {
        Needs::Head
    }
    async fn verify(
        &self,
        auth: &Authenticator,
        v: Verification<'_>,
    ) -> Result<Arc<Identity>, Refusal> {
        auth.authenticate(v.rt, v.requirements.accept, v.presented)
            .await
    }
}

/// `X-Stamp`: a signature over the body by a registered key.
#[derive(Debug, Default)]
pub struct StampVerifier;

#[async_trait]
impl RequestVerifier for StampVerifier {
    fn name(&self) -> &'static str {
        "stamp"
    }
    fn carriers(&self) -> &'static [Carrier] {
        &[Carrier::Stamp]
    }
    fn kinds(&self) -> KindSet {
        [CredentialKind::Stamp, CredentialKind::Session]
            .into_iter()
            .collect()
    }
    fn needs(&self) -> Needs {
        Needs::Body
    }
    async fn verify(
        &self,
        auth: &Authenticator,
        v: Verification<'_>,
    ) -> Result<Arc<Identity>, Refusal> {
        let Some(body) = v.body else {
            return Err(Refusal::InvalidStamp("body_required"));
        };
        let reqs = v.requirements;
        auth.authenticate_stamp(
            v.rt,
            reqs.accept,
            v.presented.value,
            body,
            reqs.require_timestamp,
        )
        .await
    }
}
