//! The `ProxyHttp` glue: thin, it calls the pipeline stages in order and
//! keeps the per-request state in [`RequestCtx`].
//!
//! `request_filter`: [`admit`] (route → find the credential → its
//! registered verifier → the post-authentication stages), refusing with a
//! keep-alive JSON response. `upstream_peer`: the route's pool.
//! `upstream_request_filter`: strip the identity namespace and credentials,
//! inject identity headers. `logging`: metrics and one access line.

mod admit;
pub mod body;
pub mod builtin;
pub mod digest_stream;
pub mod forward;
pub mod respond;
pub mod spoof;

use crate::config::reload::ConfigHandle;
use crate::config::Runtime;
use crate::error::Refusal;
use crate::identity::Identity;
use crate::metrics::METRICS;
use crate::policy::router::{Route, Target};
use crate::verify::Authenticator;
use admit::Admission;
use async_trait::async_trait;
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::upstreams::peer::HttpPeer;
use pingora_http::RequestHeader;
use std::sync::Arc;
use std::time::Instant;

/// The proxy application.
pub struct AuthGate {
    config: ConfigHandle,
    auth: Authenticator,
}

impl AuthGate {
    /// A proxy reading `config` and verifying with `auth`.
    pub fn new(config: ConfigHandle, auth: Authenticator) -> Self {
        Self { config, auth }
    }
}

/// Per-request state: config snapshot → route → identity → outcome.
///
/// Kept small: pingora holds it in each request's proxy future, which it
/// moves into a fresh heap box per request (and the generator layout may
/// hold it more than once), so every byte here is copied per request. What
/// only some routes use (a streamed digest's hash states, a late refusal,
/// a rate-limit note) is boxed and costs a pointer when absent.
pub struct RequestCtx {
    started: Instant,
    rt: Option<Arc<Runtime>>,
    route: Option<Arc<Route>>,
    identity: Option<Arc<Identity>>,
    outcome: Outcome,
    request_id: forward::RequestId,
    /// A stamp route's verified body, handed to the upstream by
    /// `request_body_filter` (see [`body`]).
    body: Option<bytes::Bytes>,
    /// A large message-signed body's `Content-Digest`, judged as it streams.
    stream: Option<Box<digest_stream::DigestStream>>,
    /// A refusal decided after forwarding began (a streamed digest that did
    /// not match), answered by `fail_to_proxy`.
    late_refusal: Option<Box<Refusal>>,
    /// The tightest rate limit of an admitted request whose route asks for
    /// `RateLimit` headers on its response.
    rate_limit: Option<Box<authgate_core::stages::RateLimitNote>>,
}

/// How a request ended, for the access log's `auth` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing decided yet.
    None,
    /// Admitted with a verified identity.
    Allowed,
    /// Admitted on a public route.
    Public,
    /// Admitted, then the upstream failed.
    UpstreamError,
    /// Refused, with the refusal's reason.
    Refused(&'static str),
}

impl Outcome {
    /// The label written to the access log.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::None => "none",
            Outcome::Allowed => "allowed",
            Outcome::Public => "public",
            Outcome::UpstreamError => "upstream_error",
            Outcome::Refused(reason) => reason,
        }
    }
}

#[async_trait]
impl ProxyHttp for AuthGate {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> Self::CTX {
        RequestCtx {
            started: Instant::now(),
            rt: None,
            route: None,
            identity: None,
            outcome: Outcome::None,
            request_id: forward::RequestId::default(),
            body: None,
            stream: None,
            late_refusal: None,
            rate_limit: None,
        }
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut Self::CTX) -> Result<bool> {
        let rt = self.config.current();
        ctx.request_id = forward::request_id(session.req_header());
        let mut verified = None;
        let tls = forward::is_tls(session);
        // Only a message signature (found by its `Signature-Input`) asks
        // whether a body of no declared length follows; other requests skip
        // the body reader's setup here.
        let undeclared_body = session
            .req_header()
            .headers
            .contains_key(authgate_core::verify::httpsig_auth::SIGNATURE_INPUT)
            && body::declared_length_of(&session.req_header().headers).is_none()
            && !session.is_body_empty();
        let ip = rt
            .limits_need_ip
            .then(|| forward::client_ip(session, &rt))
            .flatten()
            .map(|ip| ip.to_string());
        let facts = admit::Facts {
            tls,
            undeclared_body,
            client_ip: ip.as_deref(),
        };
        let admitted = match self
            .admit(
                &rt,
                session.req_header(),
                &facts,
                &mut verified,
                &mut ctx.rate_limit,
            )
            .await
        {
            Ok(Admission::NeedsBody(pending)) => {
                match self
                    .admit_body(&rt, session, &pending, &mut verified, &mut ctx.rate_limit)
                    .await
                {
                    Ok((identity, body)) => {
                        ctx.body = Some(body);
                        Ok((pending.route.clone(), Some(identity)))
                    }
                    Err(refusal) => Err((Some(pending.route.clone()), refusal)),
                }
            }
            Ok(Admission::Pass(route, identity)) => Ok((route, identity)),
            Ok(Admission::Stream(route, identity)) => {
                let field = session
                    .req_header()
                    .headers
                    .get(&authgate_core::verify::httpsig_auth::CONTENT_DIGEST)
                    .and_then(|v| v.to_str().ok());
                match field.and_then(digest_stream::DigestStream::new) {
                    Some(stream) => {
                        ctx.stream = Some(Box::new(stream));
                        Ok((route, Some(identity)))
                    }
                    None => Err((
                        Some(route),
                        Refusal::InvalidSignature("signature_missing_component"),
                    )),
                }
            }
            Err(refused) => Err(refused),
        };
        ctx.rt = Some(rt);
        match admitted {
            Ok((route, identity)) => {
                ctx.outcome = if identity.is_some() {
                    Outcome::Allowed
                } else {
                    Outcome::Public
                };
                if let Target::Builtin(handler) = route.target {
                    let Some(rt) = ctx.rt.as_deref() else {
                        return Err(Error::explain(ErrorType::InternalError, "no runtime"));
                    };
                    let resp = if crate::signin::handles(handler) {
                        crate::signin::respond(
                            handler,
                            rt,
                            &self.auth,
                            session,
                            identity.as_deref(),
                        )
                        .await
                    } else if crate::minting::handles(handler) {
                        crate::minting::respond(
                            handler,
                            rt,
                            &self.auth,
                            session,
                            identity.as_deref(),
                        )
                        .await
                    } else {
                        builtin::respond(handler, rt, identity.as_deref())
                    };
                    ctx.route = Some(route);
                    ctx.identity = identity;
                    respond::send(session, &resp, &ctx.request_id).await?;
                    return Ok(true);
                }
                ctx.route = Some(route);
                ctx.identity = identity;
                Ok(false)
            }
            Err((route, refusal)) => {
                ctx.route = route;
                ctx.identity = verified;
                ctx.outcome = Outcome::Refused(refusal.reason());
                respond::send(session, &refusal.to_response(), &ctx.request_id).await?;
                Ok(true)
            }
        }
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        ctx: &mut Self::CTX,
    ) -> Result<Box<HttpPeer>> {
        let Some(route) = &ctx.route else {
            return Err(Error::explain(
                ErrorType::InternalError,
                "no route in context",
            ));
        };
        match &route.target {
            Target::Upstream(pool) => pool
                .peer()
                .ok_or_else(|| Error::explain(ErrorType::HTTPStatus(502), "no healthy upstream")),
            // Built-in routes are answered in `request_filter`.
            Target::Builtin(_) => Err(Error::explain(
                ErrorType::InternalError,
                "built-in route reached the upstream phase",
            )),
        }
    }

    async fn response_filter(
        &self,
        _session: &mut Session,
        upstream_response: &mut pingora_http::ResponseHeader,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        // The route asked for the tightest rate limit's state (it replaces
        // any the upstream wrote).
        if let Some(note) = ctx.rate_limit.take() {
            for (name, value) in note.headers() {
                upstream_response.insert_header(name, value)?;
            }
        }
        Ok(())
    }

    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        upstream_request: &mut RequestHeader,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        let (Some(rt), Some(route)) = (&ctx.rt, &ctx.route) else {
            return Err(Error::explain(
                ErrorType::InternalError,
                "no route in context",
            ));
        };
        forward::prepare_upstream_request(
            session,
            upstream_request,
            rt,
            route,
            ctx.identity.as_deref(),
            &ctx.request_id,
            self.auth.credential_headers(),
        )
    }

    async fn request_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<bytes::Bytes>,
        end_of_stream: bool,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        if let Some(stream) = ctx.stream.as_mut() {
            if let Err(refusal) = stream.filter(body, end_of_stream) {
                ctx.outcome = Outcome::Refused(refusal.reason());
                ctx.late_refusal = Some(Box::new(refusal));
                return Err(Error::explain(
                    ErrorType::HTTPStatus(401),
                    "content-digest does not match the streamed body",
                ));
            }
            return Ok(());
        }
        // A stamp route's body was read and verified in `request_filter`;
        // pingora replays the retry buffer's tail here, once per upstream
        // attempt, and the whole verified body goes instead.
        if let (Some(verified), Some(_)) = (&ctx.body, body.as_ref()) {
            *body = Some(verified.clone());
        }
        Ok(())
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut Self::CTX,
    ) -> FailToProxy
    where
        Self::CTX: Send + Sync,
    {
        if let Some(refusal) = ctx.late_refusal.take() {
            let resp = refusal.to_response();
            session.set_keepalive(None);
            if let Err(err) = respond::send(session, &resp, &ctx.request_id).await {
                tracing::debug!(error = %err, "could not send the refusal");
            }
            return FailToProxy {
                error_code: resp.status,
                can_reuse_downstream: false,
            };
        }
        let code = match e.etype() {
            ErrorType::HTTPStatus(code) => *code,
            _ => match e.esource() {
                ErrorSource::Upstream
                    if matches!(
                        e.etype(),
                        ErrorType::ConnectTimedout
                            | ErrorType::ReadTimedout
                            | ErrorType::WriteTimedout
                    ) =>
                {
                    504
                }
                ErrorSource::Upstream => 502,
                ErrorSource::Downstream => match e.etype() {
                    ErrorType::WriteError | ErrorType::ReadError | ErrorType::ConnectionClosed => 0,
                    _ => 400,
                },
                ErrorSource::Internal | ErrorSource::Unset => 500,
            },
        };
        if code > 0 {
            let refusal_body = if code == 502 || code == 504 {
                if ctx.outcome == Outcome::None {
                    ctx.outcome = Outcome::UpstreamError;
                }
                if code == 504 {
                    Refusal::GatewayTimeout.to_response()
                } else {
                    Refusal::BadGateway.to_response()
                }
            } else {
                crate::error::ErrorResponse {
                    status: code,
                    body: bytes::Bytes::from(format!(
                        r#"{{"error":"proxy_error","status":{code}}}"#
                    )),
                    headers: Vec::new(),
                }
            };
            let mut resp = refusal_body;
            resp.status = code;
            session.set_keepalive(None);
            if let Err(err) = respond::send(session, &resp, &ctx.request_id).await {
                tracing::debug!(error = %err, "could not send error response");
            }
        }
        FailToProxy {
            error_code: code,
            can_reuse_downstream: false,
        }
    }

    async fn logging(&self, session: &mut Session, e: Option<&Error>, ctx: &mut Self::CTX) {
        let status = session
            .response_written()
            .map(|r| r.status.as_u16())
            .unwrap_or(0);
        let route = ctx.route.as_ref().map(|r| r.name.as_str()).unwrap_or("-");
        let upstream = ctx.route.as_ref().map(|r| r.target_name()).unwrap_or("-");
        let elapsed = ctx.started.elapsed();
        match &ctx.route {
            Some(r) => r.metrics.observe(status, elapsed.as_secs_f64()),
            None => {
                let code = http::StatusCode::from_u16(status).ok();
                let status_label = code.as_ref().map(|c| c.as_str()).unwrap_or("0");
                METRICS
                    .requests
                    .with_label_values(&[route, status_label])
                    .inc();
                METRICS
                    .request_seconds
                    .with_label_values(&[route])
                    .observe(elapsed.as_secs_f64());
            }
        }
        let req = session.req_header();
        tracing::info!(
            target: "access",
            method = %req.method,
            path = req.uri.path(),
            route,
            status,
            upstream,
            latency_us = elapsed.as_micros() as u64,
            auth = ctx.outcome.as_str(),
            credential_id = ctx.identity.as_ref().map(|i| i.credential_id.as_str()).unwrap_or("-"),
            request_id = ctx.request_id.as_str(),
            error = e.map(|e| e.etype().as_str()).unwrap_or(""),
        );
    }
}
