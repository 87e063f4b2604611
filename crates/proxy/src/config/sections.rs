//! Checks of the config's self-contained sections (server, credentials,
//! JWT issuers, identity, stamps and store, log, URLs read from the
//! environment): each reads its part of the
//! file, records what is wrong in the shared [`Errors`], and returns what it
//! built. [`super::validate`] calls them in turn and assembles the
//! [`super::runtime::Runtime`].

use super::model::{CredentialsSection, FileConfig, IdentitySection, IssuerSection};
use super::runtime::Runtime;
use super::validate::{resolve, Errors, FileDigests};
use crate::credential::digest::Digester;
use crate::credential::sniff::{PrefixAction, PrefixRule, PrefixTable};
use crate::credential::CredentialKind;
use crate::identity::IdentityHeaders;
use crate::logging::LogFormat;
use crate::secret::Secret;
use crate::verify::jwt::Issuer;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Listeners, TLS files, worker threads and the admin address.
pub(super) fn check_server(file: &FileConfig, base: &Path, errs: &mut Errors) {
    let s = &file.server;
    if s.listen.is_empty() && s.tls.is_none() {
        errs.push(
            "server.listen",
            "at least one listener (listen or tls) is required",
        );
    }
    for (i, l) in s.listen.iter().enumerate() {
        if l.parse::<std::net::SocketAddr>().is_err() {
            errs.push(
                format!("server.listen[{i}]"),
                format!("'{l}' is not an ip:port address"),
            );
        }
    }
    if let Some(tls) = &s.tls {
        if tls.listen.parse::<std::net::SocketAddr>().is_err() {
            errs.push(
                "server.tls.listen",
                format!("'{}' is not an ip:port address", tls.listen),
            );
        }
        for (k, p) in [("cert", &tls.cert), ("key", &tls.key)] {
            if !resolve(base, p).is_file() {
                errs.push(format!("server.tls.{k}"), format!("file '{p}' not found"));
            }
        }
    }
    if s.threads == 0 || s.threads > 256 {
        errs.push("server.threads", "must be between 1 and 256");
    }
    if !file.admin.listen.is_empty() && file.admin.listen.parse::<std::net::SocketAddr>().is_err() {
        errs.push(
            "admin.listen",
            format!("'{}' is not an ip:port address", file.admin.listen),
        );
    }
}

/// How credentials are digested: `credentials.digest`, with its pepper.
pub(super) fn digester(creds: &CredentialsSection, errs: &mut Errors) -> Digester {
    match creds.digest.as_str() {
        "sha256" => Digester::Sha256,
        "hmac-sha256" => match &creds.pepper_env {
            Some(var) => match env_value(var) {
                Ok(v) => Digester::HmacSha256(Secret::new(v)),
                Err(msg) => {
                    errs.push("credentials.pepper_env", msg);
                    Digester::Sha256
                }
            },
            None => {
                errs.push(
                    "credentials.pepper_env",
                    "required when digest = \"hmac-sha256\"",
                );
                Digester::Sha256
            }
        },
        other => {
            errs.push(
                "credentials.digest",
                format!("unknown digest '{other}' (sha256, hmac-sha256)"),
            );
            Digester::Sha256
        }
    }
}

/// The prefix table that picks a verifier for an opaque credential.
pub(super) fn prefixes(creds: &CredentialsSection, errs: &mut Errors) -> PrefixTable {
    let mut rules = Vec::new();
    for (i, p) in creds.prefixes.iter().enumerate() {
        let key = format!("credentials.prefixes[{i}]");
        if p.prefix.is_empty() || !p.prefix.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            errs.push(format!("{key}.prefix"), "must be non-empty visible ASCII");
        }
        if creds.prefixes[..i].iter().any(|q| q.prefix == p.prefix) {
            errs.push(
                format!("{key}.prefix"),
                format!("duplicate prefix '{}'", p.prefix),
            );
        }
        let action = match p.kind.as_str() {
            "reject" => PrefixAction::Reject,
            k => match CredentialKind::parse(k).filter(|k| k.is_opaque()) {
                Some(kind) => PrefixAction::Verify(kind),
                None => {
                    errs.push(
                        format!("{key}.kind"),
                        format!("unknown kind '{k}' (api_key, server_key, access_token, reject)"),
                    );
                    continue;
                }
            },
        };
        rules.push(PrefixRule {
            prefix: p.prefix.clone(),
            action,
            checksum: p.checksum,
        });
    }
    PrefixTable::new(rules)
}

/// The JWT issuers of `sections`, each reused from `prev` (with its JWKS
/// cache) when neither its section nor its key files changed; the key files
/// are digested into `file_digests` and added to `watched`.
pub(super) fn issuers(
    sections: &[IssuerSection],
    base: &Path,
    prev: Option<&Runtime>,
    file_digests: &mut FileDigests,
    watched: &mut Vec<PathBuf>,
    errs: &mut Errors,
) -> Vec<Arc<Issuer>> {
    let mut issuers = Vec::new();
    for (i, section) in sections.iter().enumerate() {
        let key = format!("jwt.issuers[{i}]");
        if sections[..i].iter().any(|o| o.issuer == section.issuer) {
            errs.push(
                format!("{key}.issuer"),
                format!("duplicate issuer '{}'", section.issuer),
            );
        }
        let mut same_files = true;
        for f in [
            &section.secret_file,
            &section.public_key_file,
            &section.jwks_file,
        ]
        .into_iter()
        .flatten()
        {
            let path = resolve(base, f);
            same_files &= file_digests.unchanged(&path, prev);
            watched.push(path);
        }
        // Reused (with its JWKS cache) only when neither its section nor
        // the key files it names changed: a key rotated in place must take
        // effect on reload.
        let reuse = prev
            .filter(|_| same_files)
            .and_then(|p| p.auth.issuers.iter().find(|is| is.section() == section))
            .cloned();
        match reuse {
            Some(is) => issuers.push(is),
            None => {
                match Issuer::build_with(section, base, Some(&crate::jwks_fetch::http_fetcher())) {
                    Ok(is) => issuers.push(Arc::new(is)),
                    Err(problems) => {
                        for (sub, msg) in problems {
                            errs.push(format!("{key}{sub}"), msg);
                        }
                    }
                }
            }
        }
    }
    issuers
}

/// The identity header names (`None` when they don't resolve) and the
/// trusted proxies' networks.
pub(super) fn identity(
    id: &IdentitySection,
    errs: &mut Errors,
) -> (Option<IdentityHeaders>, Vec<ipnet::IpNet>) {
    if id.header_prefix.is_empty() || id.header_prefix != id.header_prefix.to_ascii_lowercase() {
        errs.push(
            "identity.header_prefix",
            "must be a non-empty lower-case header-name prefix",
        );
    }
    let headers = match IdentityHeaders::resolve(&id.header_prefix, &id.headers) {
        Ok(h) => Some(h),
        Err((field, msg)) => {
            errs.push(format!("identity.headers.{field}"), msg);
            None
        }
    };
    if id.workspace_param.is_empty() {
        errs.push("identity.workspace_param", "must not be empty");
    }
    let mut trusted_proxies = Vec::new();
    for (i, cidr) in id.trusted_proxies.iter().enumerate() {
        let parsed = cidr
            .parse::<ipnet::IpNet>()
            .or_else(|_| cidr.parse::<std::net::IpAddr>().map(ipnet::IpNet::from));
        match parsed {
            Ok(net) => trusted_proxies.push(net),
            Err(_) => errs.push(
                format!("identity.trusted_proxies[{i}]"),
                format!("'{cidr}' is not an IP or CIDR"),
            ),
        }
    }
    (headers, trusted_proxies)
}

/// The plain bounds of `[stamps]`, `[store]` and `[cache]`.
pub(super) fn check_stamps_and_store(file: &FileConfig, base: &Path, errs: &mut Errors) {
    let st = &file.stamps;
    if st.max_body == 0 || st.max_body > 64 * 1024 * 1024 {
        errs.push("stamps.max_body", "must be between 1 and 67108864 (64 MiB)");
    }
    if st.window.is_zero() {
        errs.push("stamps.window", "must be greater than zero");
    }
    if st.replay_capacity == 0 {
        errs.push("stamps.replay_capacity", "must be at least 1");
    }
    if let Some(d) = &file.store.hmac_secrets_dir {
        if file.store.url.is_none() {
            errs.push(
                "store.hmac_secrets_dir",
                "needs a database store (store.url): it serves signing keys registered there",
            );
        } else if !resolve(base, d).is_dir() {
            errs.push(
                "store.hmac_secrets_dir",
                format!("'{d}' is not a directory"),
            );
        }
    }
    if st.shared_replay == Some(true) && file.store.url.is_none() {
        errs.push(
            "stamps.shared_replay",
            "needs a database store (store.url): the claims live there",
        );
    }
    if file.store.poll_interval < std::time::Duration::from_millis(10) {
        errs.push("store.poll_interval", "must be at least 10ms");
    }
    if file.store.timeout.is_zero() {
        errs.push("store.timeout", "must be greater than zero");
    }
    if file.cache.max_entries == 0 {
        errs.push("cache.max_entries", "must be at least 1");
    }
}

/// `log.format`, text when unknown (and recorded as an error).
pub(super) fn log_format(format: &str, errs: &mut Errors) -> LogFormat {
    LogFormat::parse(format).unwrap_or_else(|| {
        errs.push(
            "log.format",
            format!("unknown format '{}' (text, json)", format),
        );
        LogFormat::Text
    })
}

/// Fill `store.url` and `redis.url` from the environment variables their
/// `url_env` names (a URL with a password stays out of the file): each
/// section takes one of the two. Runs before anything reads the URLs.
pub(super) fn urls_from_env(file: &mut FileConfig, errs: &mut Errors) {
    if let Some(var) = &file.store.url_env {
        match (&file.store.url, env_value(var)) {
            (Some(_), _) => errs.push("store.url_env", "set store.url or store.url_env, not both"),
            (None, Ok(url)) => file.store.url = Some(url),
            (None, Err(msg)) => errs.push("store.url_env", msg),
        }
    }
    if let Some(redis) = file.redis.as_mut() {
        match (&redis.url_env, redis.url.is_empty()) {
            (Some(_), false) => {
                errs.push("redis.url_env", "set redis.url or redis.url_env, not both")
            }
            (Some(var), true) => match env_value(var) {
                Ok(url) => redis.url = url,
                Err(msg) => errs.push("redis.url_env", msg),
            },
            (None, true) => errs.push("redis.url", "required (or redis.url_env)"),
            (None, false) => {}
        }
    }
}

/// The value of environment variable `var`, which must be set and not empty.
fn env_value(var: &str) -> Result<String, String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(v),
        _ => Err(format!("environment variable {var} is unset or empty")),
    }
}
