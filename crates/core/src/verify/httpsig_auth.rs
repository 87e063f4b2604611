//! RFC 9421 message signatures at the edge: a request signed with
//! `Signature-Input` / `Signature` by a registered ed25519 or P-256 key (a
//! stamp key, or a wallet sign-in's session key), for any method. Where a
//! stamp signs only the body, a message signature binds the method, the
//! authority, the path and the query, the body through `Content-Digest`
//! (RFC 9530), and a creation time.
//!
//! - `keyid` names a key registered by name in the config
//!   (`[[signing_keys]]`) or, failing that, either the key's public key in
//!   hex, as a stamp carries it (64 hex digits for ed25519, 66 or 130 SEC1
//!   for P-256; found in the store by the same digest as its stamps), or a
//!   key registered by name in the store ([`super::httpsig_keys`]). The
//!   algorithm is always the registration's; a message whose `alg` names
//!   another is refused (RFC 9421 §3.3.7).
//! - The first signature in `Signature-Input` that has a `keyid` is checked.
//!   It must cover `@method`, `@authority`, `@path`, `@query` when the
//!   request has a query, and `content-digest` when it has a body (the
//!   digest is then checked against the body, which is read before
//!   anything is forwarded, or, for a body larger than `[stamps]
//!   max_body`, by the proxy as it streams: [`Verification::body_streams`]);
//!   `created` is required and within
//!   `[stamps] window` (± `leeway`), `expires` is honoured.
//! - A signature is accepted once within the window (the stamps' replay
//!   guard, and across instances when `[stamps] shared_replay`); one with
//!   a `nonce` spends the nonce for its `keyid`, so a fresh signature that
//!   reuses it is refused as a replay too.
//!
//! Refusals are 401 `invalid_signature` with a precise reason.

use super::httpsig::{self, digest, HttpSigError, RequestParts, SignatureInput};
use super::seam::{Needs, RequestVerifier, Verification};
use super::stamp::{key_digest, public_key, verify_ed25519, verify_p256, PublicKey, StampScheme};
use super::Authenticator;
use crate::credential::extract::{Carrier, Presented};
use crate::credential::{CredentialKind, KindSet};
use crate::error::Refusal;
use crate::identity::Identity;
use crate::metrics::METRICS;
use crate::policy::SignaturePolicy;
use async_trait::async_trait;
use http::{HeaderMap, HeaderName};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// A signing key registered by `keyid` (`[[signing_keys]]`): its key
/// with its algorithm, and the identity its signatures carry.
#[derive(Debug)]
pub struct SigningKey {
    /// The key and its registered algorithm.
    pub key: httpsig::VerifyKey,
    /// Who signs with it.
    pub identity: Arc<Identity>,
}

/// The carrier name of a message signature.
pub const CARRIER: Carrier = Carrier::Other("httpsig");

/// `Signature-Input` and `Signature`: the headers this verifier reads
/// (removed before forwarding) and authgate writes when it signs.
pub static HEADERS: [HeaderName; 2] = [
    HeaderName::from_static("signature-input"),
    HeaderName::from_static("signature"),
];
/// `Signature-Input`.
pub static SIGNATURE_INPUT: &HeaderName = &HEADERS[0];
/// `Signature`.
pub static SIGNATURE: &HeaderName = &HEADERS[1];
/// `Content-Digest` (RFC 9530).
pub static CONTENT_DIGEST: HeaderName = HeaderName::from_static("content-digest");

fn refuse(reason: &'static str) -> Refusal {
    METRICS
        .verifications
        .with_label_values(&["httpsig", reason])
        .inc();
    Refusal::InvalidSignature(reason)
}

fn sig_error(e: HttpSigError) -> Refusal {
    refuse(e.reason())
}

/// The header's value as text; absent or not visible ASCII is malformed.
fn text<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Result<&'h str, Refusal> {
    let mut all = headers.get_all(name).iter();
    match (all.next(), all.next()) {
        (Some(v), None) => v.to_str().map_err(|_| refuse("signature_malformed")),
        _ => Err(refuse("signature_malformed")),
    }
}

/// What the route's policy demands of the covered components and the
/// nonce.
fn check_coverage(
    input: &SignatureInput,
    policy: &SignaturePolicy,
    has_query: bool,
    has_body: bool,
) -> Result<(), Refusal> {
    let covers = |name: &str| {
        input
            .components
            .iter()
            .any(|c| c.name == name && c.params.is_empty())
    };
    let mut required: Vec<&str> = if policy.components.is_empty() {
        let mut d = vec!["@method", "@authority", "@path"];
        if has_query {
            d.push("@query");
        }
        d
    } else {
        policy.components.iter().map(String::as_str).collect()
    };
    if has_body {
        required.push("content-digest");
    }
    if !required.iter().all(|r| covers(r)) {
        return Err(refuse("signature_missing_component"));
    }
    if policy.nonce && input.nonce.as_deref().is_none_or(str::is_empty) {
        return Err(refuse("signature_nonce_missing"));
    }
    Ok(())
}

/// `created` within the window, `expires` not passed, at `now` (seconds).
fn check_time(input: &SignatureInput, now: i64, window: i64, leeway: i64) -> Result<(), Refusal> {
    let Some(created) = input.created else {
        return Err(refuse("signature_created_missing"));
    };
    if created > now + leeway {
        return Err(refuse("signature_not_yet_valid"));
    }
    if now - created > window + leeway {
        return Err(refuse("signature_expired"));
    }
    if input.expires.is_some_and(|e| now > e + leeway) {
        return Err(refuse("signature_expired"));
    }
    Ok(())
}

/// The scheme a `keyid` names by its length (a stamp or session key's
/// public key in hex); any other `keyid` is a key registered by name.
pub fn scheme_of(keyid: &str) -> Option<StampScheme> {
    match keyid.len() {
        64 => Some(StampScheme::Ed25519),
        66 | 130 => Some(StampScheme::P256),
        _ => None,
    }
}

/// Verify `sig` over `base` with `key` by the stamps' own checks: strict
/// ed25519, or ECDSA P-256 with SHA-256 over `r ‖ s` (RFC 9421 §3.3.4),
/// either `s`.
fn verify_with(key: &PublicKey, base: &[u8], sig: &[u8]) -> Result<(), Refusal> {
    let ok = match key {
        PublicKey::Ed25519(k) => ed25519_dalek::Signature::from_slice(sig)
            .is_ok_and(|s| verify_ed25519(k, &s, base).is_ok()),
        PublicKey::P256(k) => {
            p256::ecdsa::Signature::from_slice(sig).is_ok_and(|s| verify_p256(k, &s, base).is_ok())
        }
        PublicKey::Secp256k1(_) => false,
    };
    if ok {
        Ok(())
    } else {
        Err(refuse("bad_signature"))
    }
}

impl Authenticator {
    /// Verify the RFC 9421 signature of the request in `v` at `now`
    /// (Unix seconds).
    pub async fn authenticate_message_signature(
        &self,
        v: &Verification<'_>,
        now: i64,
    ) -> Result<Arc<Identity>, Refusal> {
        let rt = v.rt;
        let accept = v.requirements.accept;
        if !accept.contains(CredentialKind::Stamp) && !accept.contains(CredentialKind::Session) {
            return Err(Refusal::KindNotAccepted {
                accepts: accept.describe(),
            });
        }
        let req = &v.request;
        let inputs = httpsig::parse(
            text(req.headers, SIGNATURE_INPUT)?,
            text(req.headers, SIGNATURE)?,
        )
        .map_err(sig_error)?;
        let input = inputs
            .iter()
            .find(|i| i.keyid.is_some())
            .ok_or_else(|| refuse("signature_keyid_missing"))?;
        let keyid = input.keyid.as_deref().unwrap_or_default();
        let body = v.body.unwrap_or_default();
        let has_body = !body.is_empty() || v.body_streams;
        check_coverage(
            input,
            &v.requirements.signature,
            req.query.is_some(),
            has_body,
        )?;
        let st = &rt.stamps;
        check_time(
            input,
            now,
            st.window.as_secs() as i64,
            st.leeway.as_secs() as i64,
        )?;
        check_digest(input, req.headers, body, has_body, v.body_streams)?;
        let parts = RequestParts {
            method: req.method.as_str(),
            scheme: req.scheme,
            authority: req.authority.unwrap_or_default(),
            path: req.path,
            query: req.query,
            headers: req.headers,
        };
        let base = httpsig::signature_base(&parts, input).map_err(sig_error)?;
        let named = rt.signing_keys.get(keyid);
        let (id, scheme) = match (named, scheme_of(keyid)) {
            // A key registered by name: its algorithm, its identity.
            (Some(named), _) => {
                named
                    .key
                    .verify(input.alg.as_deref(), base.as_bytes(), &input.signature)
                    .map_err(sig_error)?;
                (named.identity.clone(), None)
            }
            // A stamp or session key named by its public key.
            (None, Some(scheme)) => {
                let rfc_alg = match scheme {
                    StampScheme::Ed25519 => "ed25519",
                    _ => "ecdsa-p256-sha256",
                };
                if input.alg.as_deref().is_some_and(|a| a != rfc_alg) {
                    return Err(refuse("algorithm_mismatch"));
                }
                if !st.schemes.contains(&scheme) {
                    return Err(refuse("scheme_not_allowed"));
                }
                let (key, normal) = public_key(scheme, keyid).map_err(|_| refuse("unknown_key"))?;
                verify_with(&key, base.as_bytes(), &input.signature)?;
                let id = self
                    .registered_key(rt, key_digest(scheme, &normal), refuse)
                    .await?;
                (id, Some(scheme))
            }
            // A key registered in the store by name.
            (None, None) => {
                let (id, key) = self.stored_signing_key(rt, keyid, refuse).await?;
                key.verify(input.alg.as_deref(), base.as_bytes(), &input.signature)
                    .map_err(sig_error)?;
                (id, None)
            }
        };
        if !accept.contains(id.kind) {
            return Err(Refusal::KindNotAccepted {
                accepts: accept.describe(),
            });
        }
        // Last: only a signature that passed everything else is remembered.
        let seen = replay_digest(input, keyid);
        rt.replay
            .check_and_remember_digest(seen)
            .map_err(|_| refuse("replayed"))?;
        if !super::claim_across_instances(rt, &seen).await? {
            return Err(refuse("replayed"));
        }
        METRICS
            .verifications
            .with_label_values(&["httpsig", "valid"])
            .inc();
        Ok(match scheme {
            Some(scheme) => super::stamp_auth::with_scheme(&id, scheme),
            None => id,
        })
    }
}

/// What the replay guard remembers of an accepted signature: its `nonce`
/// under its `keyid` when it has one (RFC 9421 §7.2.2: a nonce is used
/// once, so a fresh signature that reuses it is a replay too), else the
/// signature itself.
fn replay_digest(input: &SignatureInput, keyid: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    match input.nonce.as_deref().filter(|n| !n.is_empty()) {
        Some(nonce) => {
            h.update(b"httpsig-nonce\0");
            h.update(keyid.as_bytes());
            h.update(b"\0");
            h.update(nonce.as_bytes());
        }
        None => {
            h.update(b"httpsig\0");
            h.update(&input.signature);
        }
    }
    h.finalize().into()
}

/// The `Content-Digest` rule: required when covered or when there is a
/// body; checked against a buffered body, parsed only for a streamed one
/// (the proxy judges it as the body goes by).
fn check_digest(
    input: &SignatureInput,
    headers: &HeaderMap,
    body: &[u8],
    has_body: bool,
    streams: bool,
) -> Result<(), Refusal> {
    if !(input.components.iter().any(|c| c.name == "content-digest") || has_body) {
        return Ok(());
    }
    let field =
        text(headers, &CONTENT_DIGEST).map_err(|_| refuse("signature_missing_component"))?;
    if streams {
        digest::StreamingDigest::new(field).map_err(sig_error)?;
    } else {
        digest::verify(field, body).map_err(sig_error)?;
    }
    Ok(())
}

/// The seam's verifier for RFC 9421 message signatures.
#[derive(Debug, Default)]
pub struct MessageSignatureVerifier;

#[async_trait]
impl RequestVerifier for MessageSignatureVerifier {
    fn name(&self) -> &'static str {
        "httpsig"
    }
    fn carriers(&self) -> &'static [Carrier] {
        &[CARRIER]
    }
    fn kinds(&self) -> KindSet {
        [CredentialKind::Stamp, CredentialKind::Session]
            .into_iter()
            .collect()
    }
    fn needs(&self) -> Needs {
        Needs::Body
    }
    fn detect<'r>(&self, headers: &'r HeaderMap) -> Result<Option<Presented<'r>>, Refusal> {
        match headers.get(SIGNATURE_INPUT) {
            None => Ok(None),
            Some(v) => match v.to_str() {
                Ok(value) => Ok(Some(Presented {
                    value,
                    carrier: CARRIER,
                })),
                Err(_) => Err(refuse("signature_malformed")),
            },
        }
    }
    fn headers(&self) -> &'static [HeaderName] {
        &HEADERS
    }
    async fn verify(
        &self,
        auth: &Authenticator,
        v: Verification<'_>,
    ) -> Result<Arc<Identity>, Refusal> {
        auth.authenticate_message_signature(&v, super::unix_now() as i64)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(si: &str) -> SignatureInput {
        httpsig::parse(si, "sig1=:AAAA:").unwrap().remove(0)
    }

    #[test]
    fn a_nonce_is_spent_per_keyid_whatever_the_signature() {
        let with = |nonce: &str, sig: &str| {
            httpsig::parse(
                &format!(r#"sig1=("@method");created=1;keyid="k";nonce="{nonce}""#),
                &format!("sig1=:{sig}:"),
            )
            .unwrap()
            .remove(0)
        };
        let a = replay_digest(&with("n1", "AAAA"), "k");
        assert_eq!(a, replay_digest(&with("n1", "BBBB"), "k"));
        assert_ne!(a, replay_digest(&with("n2", "AAAA"), "k"));
        assert_ne!(a, replay_digest(&with("n1", "AAAA"), "k2"));
        // Without a nonce the signature itself is what is remembered.
        let bare = |sig: &str| {
            httpsig::parse(
                r#"sig1=("@method");created=1;keyid="k""#,
                &format!("sig1=:{sig}:"),
            )
            .unwrap()
            .remove(0)
        };
        assert_eq!(
            replay_digest(&bare("AAAA"), "k"),
            replay_digest(&bare("AAAA"), "k")
        );
        assert_ne!(
            replay_digest(&bare("AAAA"), "k"),
            replay_digest(&bare("BBBB"), "k")
        );
    }

    #[test]
    fn the_default_components_are_required() {
        let d = SignaturePolicy::default();
        let all = input(
            r#"sig1=("@method" "@authority" "@path" "@query" "content-digest");created=1;keyid="k""#,
        );
        assert!(check_coverage(&all, &d, true, true).is_ok());
        let no_query = input(r#"sig1=("@method" "@authority" "@path");created=1;keyid="k""#);
        assert!(check_coverage(&no_query, &d, false, false).is_ok());
        assert!(
            check_coverage(&no_query, &d, true, false).is_err(),
            "a query must be covered"
        );
        assert!(
            check_coverage(&no_query, &d, false, true).is_err(),
            "a body needs content-digest"
        );
        let no_method = input(r#"sig1=("@authority" "@path");created=1;keyid="k""#);
        assert!(check_coverage(&no_method, &d, false, false).is_err());
        // A parameterised component is not the component itself.
        let param = input(r#"sig1=("@method" "@authority" "@path" "content-digest";sf);created=1"#);
        assert!(check_coverage(&param, &d, false, true).is_err());
    }

    #[test]
    fn a_route_policy_replaces_the_defaults_and_can_require_a_nonce() {
        let policy = SignaturePolicy {
            components: vec!["@method".into(), "@target-uri".into(), "x-tenant".into()],
            nonce: true,
        };
        let full =
            input(r#"sig1=("@method" "@target-uri" "x-tenant");created=1;keyid="k";nonce="n1""#);
        assert!(
            check_coverage(&full, &policy, true, false).is_ok(),
            "@query is not required by this route"
        );
        let no_header = input(r#"sig1=("@method" "@target-uri");created=1;keyid="k";nonce="n1""#);
        assert!(check_coverage(&no_header, &policy, false, false).is_err());
        let no_nonce = input(r#"sig1=("@method" "@target-uri" "x-tenant");created=1;keyid="k""#);
        assert!(check_coverage(&no_nonce, &policy, false, false).is_err());
        // A body still needs its digest covered, whatever the route lists.
        assert!(check_coverage(&full, &policy, false, true).is_err());
    }

    #[test]
    fn created_and_expires_bound_the_signature() {
        let at = |extra: &str| input(&format!(r#"sig1=("@method");keyid="k"{extra}"#));
        let ok = |i: &SignatureInput, now| check_time(i, now, 300, 2).is_ok();
        assert!(!ok(&at(""), 1000), "created is required");
        assert!(ok(&at(";created=1000"), 1000));
        assert!(ok(&at(";created=1000"), 1302));
        assert!(!ok(&at(";created=1000"), 1303), "older than the window");
        assert!(ok(&at(";created=1002"), 1000), "within the leeway");
        assert!(!ok(&at(";created=1003"), 1000), "from the future");
        assert!(!ok(&at(";created=1000;expires=1010"), 1013), "expired");
        assert!(ok(&at(";created=1000;expires=1010"), 1012));
    }

    #[test]
    fn keyids_name_their_scheme_by_length() {
        assert_eq!(scheme_of(&"a".repeat(64)), Some(StampScheme::Ed25519));
        assert_eq!(scheme_of(&"a".repeat(66)), Some(StampScheme::P256));
        assert_eq!(scheme_of(&"a".repeat(130)), Some(StampScheme::P256));
        assert_eq!(scheme_of("key-1"), None);
    }
}
