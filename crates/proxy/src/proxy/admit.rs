//! Admission: route → find the credential → the verifier registered for its
//! carrier (reading the body first when it asks) → the post-authentication
//! stages. Nothing here knows a credential family: verifiers plug in
//! through [`authgate_core::verify::seam`], stages through
//! [`authgate_core::stages`].

use super::body;
use super::forward;
use super::spoof::Overrides;
use super::AuthGate;
use crate::config::Runtime;
use crate::credential::extract::{Carrier, Presented};
use crate::error::Refusal;
use crate::identity::Identity;
use crate::policy::router::{path_is_normal, Access, Route, RouteMatch};
use authgate_core::policy::Requirements;
use authgate_core::stages::{PathParams, RateLimitNote, StageInput, StageNotes};
use authgate_core::verify::{Needs, RequestVerifier, RequestView, Verification};
use pingora::proxy::Session;
use pingora_http::RequestHeader;
use std::sync::Arc;

/// What admission decided before any body was read.
pub(super) enum Admission {
    /// Forward (with an identity unless the route is public).
    Pass(Arc<Route>, Option<Arc<Identity>>),
    /// The credential's verifier needs the body: read it, then verify and
    /// run the stages.
    NeedsBody(Box<Pending>),
    /// Forward with an identity from a message signature whose body is too
    /// large to buffer: its `Content-Digest` is checked as it streams.
    Stream(Arc<Route>, Arc<Identity>),
}

/// A request waiting for its body before verification.
pub(super) struct Pending {
    pub(super) route: Arc<Route>,
    verifier: Arc<dyn RequestVerifier>,
    value: String,
    carrier: Carrier,
    method: http::Method,
    path: String,
    params: Vec<(String, String)>,
    /// The client's address, when a rate limit counts by it.
    client_ip: Option<String>,
}

/// What admission needs to know of the connection and the request beyond
/// its header.
pub(super) struct Facts<'a> {
    /// The client reached authgate over TLS.
    pub(super) tls: bool,
    /// A body follows whose length is not declared (HTTP/1.1 chunked, or
    /// HTTP/2 without `content-length`). Worked out only for requests with
    /// a `Signature-Input` (the one carrier that reads it); `false` for
    /// the rest.
    pub(super) undeclared_body: bool,
    /// The client's address, when a rate limit counts by it.
    pub(super) client_ip: Option<&'a str>,
}

/// A refusal, with the route when one matched.
pub(super) type Refused = (Option<Arc<Route>>, Refusal);

/// A lookup's route and parameters, or its refusal.
fn routed(found: RouteMatch<'_>) -> Result<(&Arc<Route>, matchit::Params<'_, '_>), Refused> {
    match found {
        RouteMatch::Found(route, params) => Ok((route, params)),
        RouteMatch::MethodNotAllowed(allow) => Err((None, Refusal::MethodNotAllowed { allow })),
        RouteMatch::NotFound => Err((None, Refusal::NotFound)),
    }
}

/// matchit's parameters as the stages read them.
struct Matched<'a, 'k, 'v>(&'a matchit::Params<'k, 'v>);

impl PathParams for Matched<'_, '_, '_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.0.get(name)
    }
}

/// The request as verifiers see it, with the effective method and path.
fn view<'a>(
    req: &'a RequestHeader,
    host_header: Option<&'a http::HeaderValue>,
    tls: bool,
    method: &'a http::Method,
    path: &'a str,
) -> RequestView<'a> {
    RequestView {
        method,
        scheme: if tls { "https" } else { "http" },
        // As the client addressed it, port included (RFC 9421 `@authority`).
        authority: req
            .uri
            .authority()
            .map(|a| a.as_str())
            .or_else(|| host_header.and_then(|h| h.to_str().ok())),
        path,
        query: req.uri.query(),
        headers: &req.headers,
    }
}

impl AuthGate {
    /// Route, authenticate and run the stages; `Ok` carries the route and
    /// identity (if any), or what must wait for the body. A public route
    /// runs only the limits that count it (by client address).
    ///
    /// `verified` receives the identity as soon as the credential is
    /// verified, so a later refusal (scope, workspace, usage) still names the
    /// credential in the access log; `noted` the tightest rate limit of an
    /// admitted request, when its route asks for `RateLimit` headers.
    pub(super) async fn admit(
        &self,
        rt: &Runtime,
        req: &RequestHeader,
        facts: &Facts<'_>,
        verified: &mut Option<Arc<Identity>>,
        noted: &mut Option<Box<RateLimitNote>>,
    ) -> Result<Admission, Refused> {
        let tls = facts.tls;
        let path = req.uri.path();
        if !path_is_normal(path) {
            return Err((None, Refusal::BadPath));
        }
        let host_header = forward::host_header(req);
        if forward::authority_conflict(req, host_header) {
            return Err((None, Refusal::InvalidRequest("authority_mismatch")));
        }
        let host = forward::request_host(req, host_header);
        let (route, params) = routed(rt.router.find(host, &req.method, path))?;
        // A route that keeps override headers is authorised on the method
        // and path the upstream will execute.
        let overrides;
        let (route, params, method, path) = if route.keep_override_headers {
            overrides = Overrides::read(&req.headers).map_err(|r| (Some(route.clone()), r))?;
            if overrides.any() {
                let method = overrides.method.as_ref().unwrap_or(&req.method);
                let path = overrides.path.as_deref().unwrap_or(path);
                if !path_is_normal(path) {
                    return Err((Some(route.clone()), Refusal::BadPath));
                }
                let (over, params) = routed(rt.router.find(host, method, path))?;
                if !over.keep_override_headers {
                    let refusal = Refusal::InvalidRequest("override_not_allowed");
                    return Err((Some(over.clone()), refusal));
                }
                (over, params, method, path)
            } else {
                (route, params, &req.method, path)
            }
        } else {
            (route, params, &req.method, path)
        };
        let reqs = match &route.access {
            Access::Public => {
                rt.limits
                    .check_public(&route.name, facts.client_ip)
                    .map_err(|r| (Some(route.clone()), r))?;
                return Ok(Admission::Pass(route.clone(), None));
            }
            Access::Protected(reqs) => reqs,
        };
        let fail = |r: Refusal| (Some(route.clone()), r);
        let presented = self
            .auth
            .find(&req.headers, rt.auth.max_credential_bytes)
            .map_err(fail)?
            .ok_or_else(|| fail(Refusal::MissingCredential))?;
        let Some(verifier) = self.auth.verifier_for(presented.carrier) else {
            return Err(fail(Refusal::Malformed("carrier")));
        };
        // A message signature over a body larger than the buffer, or of no
        // declared length: verified now, its digest judged as the body
        // streams.
        let streams = presented.carrier == authgate_core::verify::httpsig_auth::CARRIER
            && match body::declared_length_of(&req.headers) {
                Some(n) => n > rt.auth.stamps.max_body as u64,
                None => facts.undeclared_body,
            };
        if verifier.needs() == Needs::Body && !streams {
            if !reqs.accept.intersects(verifier.kinds()) {
                return Err(fail(Refusal::KindNotAccepted {
                    accepts: reqs.accept.describe(),
                }));
            }
            return Ok(Admission::NeedsBody(Box::new(Pending {
                route: route.clone(),
                verifier: verifier.clone(),
                value: presented.value.to_string(),
                carrier: presented.carrier,
                method: method.clone(),
                path: path.to_string(),
                params: params
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                client_ip: facts.client_ip.map(str::to_string),
            })));
        }
        let verification = Verification {
            rt: &rt.auth,
            requirements: reqs,
            request: view(req, host_header, tls, method, path),
            presented,
            body: None,
            body_streams: streams,
        };
        let identity = self
            .auth
            .verify_with(verifier, verification)
            .await
            .map_err(fail)?;
        *verified = Some(identity.clone());
        let params = Matched(&params);
        *noted = after_verification(rt, route, reqs, &identity, &params, facts.client_ip)
            .await
            .map_err(fail)?;
        if streams {
            return Ok(Admission::Stream(route.clone(), identity));
        }
        Ok(Admission::Pass(route.clone(), Some(identity)))
    }

    /// The body path: read the body (bounded in size and time), verify,
    /// run the stages.
    pub(super) async fn admit_body(
        &self,
        rt: &Runtime,
        session: &mut Session,
        pending: &Pending,
        verified: &mut Option<Arc<Identity>>,
        noted: &mut Option<Box<RateLimitNote>>,
    ) -> Result<(Arc<Identity>, bytes::Bytes), Refusal> {
        let Access::Protected(reqs) = &pending.route.access else {
            return Err(Refusal::NotFound);
        };
        let st = &rt.auth.stamps;
        let body = body::read_all(session, st.max_body, st.body_timeout).await?;
        let tls = forward::is_tls(session);
        let req = session.req_header();
        let verification = Verification {
            rt: &rt.auth,
            requirements: reqs,
            request: view(
                req,
                forward::host_header(req),
                tls,
                &pending.method,
                &pending.path,
            ),
            presented: Presented {
                value: &pending.value,
                carrier: pending.carrier,
            },
            body: Some(&body),
            body_streams: false,
        };
        let identity = self
            .auth
            .verify_with(&pending.verifier, verification)
            .await?;
        *verified = Some(identity.clone());
        *noted = after_verification(
            rt,
            &pending.route,
            reqs,
            &identity,
            &pending.params,
            pending.client_ip.as_deref(),
        )
        .await?;
        Ok((identity, body))
    }
}

/// After verification: the post-authentication stages, then one use of
/// the key's quota. Returns the tightest rate limit when the route asks for
/// `RateLimit` headers.
async fn after_verification(
    rt: &Runtime,
    route: &Route,
    requirements: &Requirements,
    identity: &Identity,
    params: &(dyn PathParams + Sync),
    client_ip: Option<&str>,
) -> Result<Option<Box<RateLimitNote>>, Refusal> {
    let note = {
        let notes = StageNotes::default();
        rt.auth.stages.run(&StageInput {
            route: &route.name,
            requirements,
            identity,
            params,
            client_ip,
            notes: route.rate_limit_headers.then_some(&notes),
        })?;
        notes.rate_limit.take().map(Box::new)
    };
    authgate_core::limits_keys::spend_quota(&rt.auth, identity).await?;
    Ok(note)
}
