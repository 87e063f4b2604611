//! `[minting]`: which workspaces' server keys may mint, how long minted keys
//! live, and which capabilities a restricted key may name. The file model,
//! its compiled form and the checks against the rest of the config.

use crate::credential::sniff::PrefixAction;
use crate::credential::CredentialKind;
use crate::policy::router::Builtin;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// `[minting]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MintingSection {
    /// Workspaces whose server keys may mint; `["*"]`: every workspace.
    pub workspaces: Vec<String>,
    /// Life of an ephemeral key (`ek_`).
    #[serde(default = "default_ephemeral_ttl", with = "humantime_serde")]
    pub ephemeral_ttl: Duration,
    /// Life of a restricted capability (`rk_`).
    #[serde(default = "default_capability_ttl", with = "humantime_serde")]
    pub capability_ttl: Duration,
    /// No minted key lives longer, whatever a per-key setting says.
    #[serde(default = "default_max_ttl", with = "humantime_serde")]
    pub max_ttl: Duration,
    /// Per server key (by key id): its own lives, capped by `max_ttl`.
    #[serde(default)]
    pub server_keys: BTreeMap<String, KeyLives>,
    /// How a capability becomes a scope: `{model}` and `{operation}` are
    /// replaced (default `{model}.{operation}`: `tasks.update`).
    #[serde(default = "default_scope_format")]
    pub scope_format: String,
    /// The models a capability may name and their operations, e.g.
    /// `tasks = ["create", "read", "update"]`.
    #[serde(default)]
    pub models: BTreeMap<String, Vec<String>>,
    /// Accept any model and operation (well-formed names only) instead of
    /// the `models` list.
    #[serde(default)]
    pub any_capability: bool,
    /// How long expired or revoked minted keys are kept before the purge
    /// deletes them (for audit).
    #[serde(default = "default_keep", with = "humantime_serde")]
    pub keep_expired: Duration,
    /// How often each instance purges (expired minted keys, old change
    /// entries).
    #[serde(default = "default_purge_interval", with = "humantime_serde")]
    pub purge_interval: Duration,
    /// Where the ephemeral-key door is mounted when no route names
    /// `mint_ephemeral` (`""`: not mounted).
    #[serde(default = "default_ephemeral_path")]
    pub ephemeral_path: String,
    /// Where the capability door is mounted when no route names
    /// `mint_capability` (`""`: not mounted).
    #[serde(default = "default_capability_path")]
    pub capability_path: String,
}

fn default_ephemeral_path() -> String {
    "/auth/ephemeral-keys".into()
}

fn default_capability_path() -> String {
    "/auth/capability".into()
}

/// Mount the doors `[minting]` names at their paths (`POST`, server keys
/// only), unless a route already names their handler or the path is empty.
pub fn mount_doors(file: &mut crate::config::model::FileConfig) {
    let Some(m) = &file.minting else {
        return;
    };
    let doors = [
        ("mint_ephemeral", m.ephemeral_path.clone()),
        ("mint_capability", m.capability_path.clone()),
    ];
    for (handler, path) in doors {
        let routed = file
            .routes
            .iter()
            .any(|r| r.handler.as_deref() == Some(handler));
        if path.is_empty() || routed {
            continue;
        }
        file.routes.push(crate::config::model::RouteSection {
            name: Some(format!("minting {handler}")),
            host: None,
            path,
            methods: vec!["POST".into()],
            upstream: None,
            handler: Some(handler.into()),
            keep_override_headers: false,
            auth: crate::config::model::AuthSection {
                accept: vec!["server_key".into()],
                ..Default::default()
            },
        });
    }
}

/// `[minting.server_keys.ID]`
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct KeyLives {
    /// This key's ephemeral-key life.
    #[serde(default, with = "humantime_serde")]
    pub ephemeral_ttl: Option<Duration>,
    /// This key's capability life.
    #[serde(default, with = "humantime_serde")]
    pub capability_ttl: Option<Duration>,
}

fn default_ephemeral_ttl() -> Duration {
    Duration::from_secs(15 * 60)
}

fn default_capability_ttl() -> Duration {
    Duration::from_secs(60 * 60)
}

fn default_max_ttl() -> Duration {
    Duration::from_secs(24 * 3600)
}

fn default_keep() -> Duration {
    Duration::from_secs(3600)
}

fn default_purge_interval() -> Duration {
    Duration::from_secs(60)
}

fn default_scope_format() -> String {
    "{model}.{operation}".into()
}

/// The compiled `[minting]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Minting {
    /// As configured.
    pub section: MintingSection,
    /// `workspaces = ["*"]`.
    pub every_workspace: bool,
    /// The prefix ephemeral keys are minted with.
    pub ephemeral_prefix: String,
    /// The prefix restricted keys are minted with.
    pub capability_prefix: String,
    /// Models and their operations, as sets.
    pub models: BTreeMap<String, BTreeSet<String>>,
}

impl Minting {
    /// Whether server keys of `workspace` may mint.
    pub fn enabled_for(&self, workspace: &str) -> bool {
        self.every_workspace || self.section.workspaces.iter().any(|w| w == workspace)
    }

    /// The life of a key of `kind` minted by server key `parent`.
    pub fn ttl(&self, kind: CredentialKind, parent: &str) -> Duration {
        let own = self.section.server_keys.get(parent);
        let t = if kind == CredentialKind::EphemeralKey {
            own.and_then(|o| o.ephemeral_ttl)
                .unwrap_or(self.section.ephemeral_ttl)
        } else {
            own.and_then(|o| o.capability_ttl)
                .unwrap_or(self.section.capability_ttl)
        };
        t.min(self.section.max_ttl)
    }

    /// The scope for `operation` on `model`.
    pub fn scope(&self, model: &str, operation: &str) -> String {
        self.section
            .scope_format
            .replace("{model}", model)
            .replace("{operation}", operation)
    }
}

/// Model and operation names: `[a-z][a-z0-9_]{0,63}`.
pub fn is_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

/// The first prefix of `kind` in `credentials.prefixes`, checksummed first.
fn prefix_of(
    rules: &[crate::credential::sniff::PrefixRule],
    kind: CredentialKind,
) -> Option<String> {
    let mut c: Vec<_> = rules
        .iter()
        .filter(|r| r.action == PrefixAction::Verify(kind))
        .collect();
    c.sort_by_key(|r| !r.checksum);
    c.first().map(|r| r.prefix.clone())
}

/// Check `[minting]` against the rest of `file` (`rules`: its compiled
/// prefix table): the section needs a database store and a prefix for each
/// minted kind; a minting handler needs the section, a protected route and
/// `accept = ["server_key"]` only. Errors are `(key, message)`.
pub fn validate(
    file: &crate::config::model::FileConfig,
    rules: &[crate::credential::sniff::PrefixRule],
) -> (Option<Arc<Minting>>, Vec<(String, String)>) {
    let mut errs: Vec<(String, String)> = Vec::new();
    let compiled = file.minting.as_ref().map(|s| {
        let key = |k: &str| format!("minting.{k}");
        if file.store.url.is_none() {
            errs.push((
                "minting".into(),
                "needs a database store (store.url): minted keys live there".into(),
            ));
        }
        let every = s.workspaces.iter().any(|w| w == "*");
        if s.workspaces.is_empty() || (every && s.workspaces.len() > 1) {
            errs.push((
                key("workspaces"),
                "a list of slugs, or [\"*\"] alone".into(),
            ));
        }
        for (name, d) in [
            ("ephemeral_ttl", s.ephemeral_ttl),
            ("capability_ttl", s.capability_ttl),
            ("max_ttl", s.max_ttl),
        ] {
            if d < Duration::from_secs(1) {
                errs.push((key(name), "at least 1s".into()));
            }
        }
        if s.purge_interval < Duration::from_millis(100) {
            errs.push((key("purge_interval"), "at least 100ms".into()));
        }
        if !(s.scope_format.contains("{model}") && s.scope_format.contains("{operation}"))
            || s.scope_format.bytes().any(|b| !(0x21..0x7f).contains(&b))
        {
            errs.push((
                key("scope_format"),
                "names {model} and {operation}, no spaces".into(),
            ));
        }
        if s.models.is_empty() && !s.any_capability {
            errs.push((
                key("models"),
                "list the models capabilities may name, or set any_capability = true".into(),
            ));
        }
        let mut models = BTreeMap::new();
        for (m, ops) in &s.models {
            if !is_name(m) || ops.is_empty() || !ops.iter().all(|o| is_name(o)) {
                errs.push((
                    format!("minting.models.{m}"),
                    "names of [a-z][a-z0-9_]{0,63}, at least one operation".into(),
                ));
            }
            models.insert(m.clone(), ops.iter().cloned().collect());
        }
        let ephemeral = prefix_of(rules, CredentialKind::EphemeralKey);
        let capability = prefix_of(rules, CredentialKind::RestrictedKey);
        if ephemeral.is_none() || capability.is_none() {
            errs.push((
                "credentials.prefixes".into(),
                "minting needs a family of kind ephemeral_key (ek_) and one of restricted_key (rk_)"
                    .into(),
            ));
        }
        Arc::new(Minting {
            section: s.clone(),
            every_workspace: every,
            ephemeral_prefix: ephemeral.unwrap_or_default(),
            capability_prefix: capability.unwrap_or_default(),
            models,
        })
    });
    for (i, r) in file.routes.iter().enumerate() {
        let Some(h @ (Builtin::MintEphemeral | Builtin::MintCapability)) =
            r.handler.as_deref().and_then(Builtin::parse)
        else {
            continue;
        };
        let key = format!("routes[{i}]");
        if file.minting.is_none() {
            errs.push((
                format!("{key}.handler"),
                format!("'{}' needs [minting]", h.name()),
            ));
        }
        if r.auth.public || r.auth.accept != ["server_key"] {
            errs.push((
                format!("{key}.auth"),
                format!(
                    "'{}' is a server key's door: accept = [\"server_key\"] only",
                    h.name()
                ),
            ));
        }
    }
    (compiled, errs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minting(toml_text: &str) -> Minting {
        let section: MintingSection = toml::from_str(toml_text).unwrap();
        Minting {
            every_workspace: false,
            ephemeral_prefix: "ek_".into(),
            capability_prefix: "rk_".into(),
            models: BTreeMap::new(),
            section,
        }
    }

    #[test]
    fn lives_default_per_key_and_capped() {
        let m = minting(
            r#"
workspaces = ["acme"]
max_ttl = "2h"
[server_keys.srv_short]
ephemeral_ttl = "5m"
[server_keys.srv_long]
capability_ttl = "48h"
"#,
        );
        use CredentialKind::*;
        assert_eq!(m.ttl(EphemeralKey, "other"), Duration::from_secs(900));
        assert_eq!(m.ttl(RestrictedKey, "other"), Duration::from_secs(3600));
        assert_eq!(m.ttl(EphemeralKey, "srv_short"), Duration::from_secs(300));
        assert_eq!(m.ttl(RestrictedKey, "srv_short"), Duration::from_secs(3600));
        assert_eq!(m.ttl(RestrictedKey, "srv_long"), Duration::from_secs(7200));
        assert!(m.enabled_for("acme") && !m.enabled_for("globex"));
    }

    #[test]
    fn scopes_follow_the_configured_format() {
        let mut m = minting("workspaces = [\"acme\"]");
        assert_eq!(m.scope("tasks", "update"), "tasks.update");
        m.section.scope_format = "{model}:{operation}".into();
        assert_eq!(m.scope("comments", "read"), "comments:read");
    }

    #[test]
    fn names_are_lower_snake_case() {
        for ok in ["tasks", "a", "task_2"] {
            assert!(is_name(ok), "{ok}");
        }
        for bad in [
            "",
            "Tasks",
            "2tasks",
            "tasks.update",
            "tâche",
            &"a".repeat(65),
        ] {
            assert!(!is_name(bad), "{bad}");
        }
    }
}
