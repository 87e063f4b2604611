//! The post-authentication stage chain: after a credential is verified,
//! each [`Stage`] in order either lets the request continue or refuses it
//! with a typed [`Refusal`]. The chain is compiled with the runtime, so a
//! reload changes it like any setting. The first stage is [`Decide`]
//! (workspace, usage, allow-list, scopes); rate limits and quotas are
//! stages that come after it.
//!
//! Stages are synchronous on purpose: they run on every admitted request
//! and must not wait for I/O there (a fleet-wide limit works from a local
//! lease, refilled in the background).

use crate::error::Refusal;
use crate::identity::Identity;
use crate::policy::decide::decide;
use crate::policy::Requirements;
use std::sync::Arc;

/// What a stage sees of an authenticated request.
pub struct StageInput<'a> {
    /// The route's name (for per-route limits and metrics).
    pub route: &'a str,
    /// The route's requirements.
    pub requirements: &'a Requirements,
    /// The verified identity.
    pub identity: &'a Identity,
    /// Path parameters of the matched route.
    pub params: &'a dyn PathParams,
    /// The client's address, when a limit counts by it.
    pub client_ip: Option<&'a str>,
    /// Where stages report on an admitted request, when the route asks
    /// (`None`: nobody reads it, so nothing is computed).
    pub notes: Option<&'a StageNotes>,
}

/// What stages report of an admitted request, for its response.
#[derive(Default)]
pub struct StageNotes {
    /// The tightest rate limit that counted the request.
    pub rate_limit: std::cell::Cell<Option<RateLimitNote>>,
}

impl std::fmt::Debug for StageNotes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StageNotes").finish_non_exhaustive()
    }
}

/// A rate limit's state after admitting a request: the IETF draft's
/// `RateLimit-Policy` and `RateLimit` headers of the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitNote {
    /// The limit's name.
    pub policy: String,
    /// Requests allowed at once (the burst).
    pub quota: u32,
    /// The limit's period, seconds.
    pub window: u64,
    /// Requests left at once.
    pub remaining: u32,
    /// Seconds until the quota is whole again.
    pub reset: u64,
}

impl RateLimitNote {
    /// `RateLimit-Policy` and `RateLimit`, as the refusals write them.
    pub fn headers(&self) -> [(&'static str, String); 2] {
        [
            (
                "ratelimit-policy",
                format!("\"{}\";q={};w={}", self.policy, self.quota, self.window),
            ),
            (
                "ratelimit",
                format!("\"{}\";r={};t={}", self.policy, self.remaining, self.reset),
            ),
        ]
    }
}

/// Path parameters by name.
pub trait PathParams {
    /// The value of parameter `name`, if the route has it.
    fn param(&self, name: &str) -> Option<&str>;
}

impl PathParams for Vec<(String, String)> {
    fn param(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One post-authentication stage.
pub trait Stage: Send + Sync {
    /// Name for logs.
    fn name(&self) -> &'static str;
    /// Continue (`Ok`) or refuse.
    fn check(&self, input: &StageInput<'_>) -> Result<(), Refusal>;
}

/// The chain, run in order; the first refusal ends it.
#[derive(Clone)]
pub struct Stages(Vec<Arc<dyn Stage>>);

impl std::fmt::Debug for Stages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|s| s.name()))
            .finish()
    }
}

impl Stages {
    /// A chain of `stages`, in order.
    pub fn new(stages: Vec<Arc<dyn Stage>>) -> Self {
        Self(stages)
    }

    /// The default chain: [`Decide`] only.
    pub fn decide_only(workspace_param: &str, hierarchical_scopes: bool) -> Self {
        Self(vec![Arc::new(Decide {
            workspace_param: workspace_param.to_string(),
            hierarchical_scopes,
        })])
    }

    /// This chain with `stage` appended.
    pub fn then(mut self, stage: Arc<dyn Stage>) -> Self {
        self.0.push(stage);
        self
    }

    /// Run every stage in order.
    #[inline]
    pub fn run(&self, input: &StageInput<'_>) -> Result<(), Refusal> {
        for stage in &self.0 {
            stage.check(input)?;
        }
        Ok(())
    }

    /// The stages' names, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|s| s.name()).collect()
    }
}

/// Workspace binding, usage tag, allow-list and scopes
/// ([`crate::policy::decide`]).
#[derive(Debug, Clone)]
pub struct Decide {
    /// The path parameter bound to the workspace.
    pub workspace_param: String,
    /// Whether `a:b` grants `a:b:c`.
    pub hierarchical_scopes: bool,
}

impl Stage for Decide {
    fn name(&self) -> &'static str {
        "decide"
    }

    fn check(&self, input: &StageInput<'_>) -> Result<(), Refusal> {
        decide(
            input.requirements,
            input.identity,
            |name| input.params.param(name),
            &self.workspace_param,
            self.hierarchical_scopes,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::{CredentialKind, KindSet};

    struct Refuse;
    impl Stage for Refuse {
        fn name(&self) -> &'static str {
            "refuse"
        }
        fn check(&self, _: &StageInput<'_>) -> Result<(), Refusal> {
            Err(Refusal::InvalidRequest("stage"))
        }
    }

    #[test]
    fn stages_run_in_order_and_the_first_refusal_wins() {
        let reqs = Requirements {
            accept: KindSet::from_iter([CredentialKind::ApiKey]),
            all_scopes: vec![],
            any_scopes: vec![],
            usage: None,
            allow_param: None,
            require_timestamp: false,
            browser: false,
            signature: Default::default(),
        };
        let rec = crate::store::KeyRecord {
            id: "k".into(),
            kind: CredentialKind::ApiKey,
            subject: "s".into(),
            workspace: Some("acme".into()),
            scopes: vec![],
            allow: vec![],
            usage: None,
            expires_at: None,
            disabled: false,
            minted: None,
            signing: None,
            limits: Default::default(),
        };
        let id = Identity::from_record(&rec, None);
        let own: Vec<(String, String)> = vec![("workspace".into(), "acme".into())];
        let other: Vec<(String, String)> = vec![("workspace".into(), "evil".into())];
        let input = |p: &'static Vec<(String, String)>| StageInput {
            notes: None,
            route: "r",
            requirements: &reqs,
            identity: &id,
            params: p,
            client_ip: None,
        };
        let own: &'static Vec<(String, String)> = Box::leak(Box::new(own));
        let other: &'static Vec<(String, String)> = Box::leak(Box::new(other));
        let chain = Stages::decide_only("workspace", false);
        assert_eq!(chain.run(&input(own)), Ok(()));
        assert!(matches!(
            chain.run(&input(other)),
            Err(Refusal::WorkspaceMismatch { .. })
        ));
        let both = Stages::new(vec![
            Arc::new(Decide {
                workspace_param: "workspace".into(),
                hierarchical_scopes: false,
            }),
            Arc::new(Refuse),
        ]);
        assert_eq!(both.names(), ["decide", "refuse"]);
        // decide refuses first for a foreign workspace; the later stage
        // refuses an otherwise admitted request
        assert!(matches!(
            both.run(&input(other)),
            Err(Refusal::WorkspaceMismatch { .. })
        ));
        assert_eq!(both.run(&input(own)), Err(Refusal::InvalidRequest("stage")));
    }
}
