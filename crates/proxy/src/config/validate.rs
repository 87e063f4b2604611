//! Turn a [`FileConfig`] into a [`Runtime`], collecting every error with the
//! key path that caused it.

use super::keys::{read_keys_jsonl, KeyBuilder, Source};
use super::model::FileConfig;
use super::parse::key_path;
use super::routes::build_router;
use super::runtime::Runtime;
use super::sections;
use super::{ConfigError, ConfigErrors};
use crate::assertion::AssertionSigner;
use crate::credential::digest::sha256;
use crate::store::memory::MemoryStore;
use crate::upstream::Pool;
use crate::verify::stamp::ReplayGuard;
use authgate_core::runtime::AuthRuntime;
use authgate_core::stages::Stages;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Collects errors as validation walks the file.
#[derive(Default)]
pub struct Errors(pub(crate) Vec<ConfigError>);

impl Errors {
    /// Record a problem at `path`.
    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigError {
            path: path.into(),
            message: message.into(),
        });
    }
}

use super::database::StoreMode;
pub use authgate_core::settings::resolve;

/// Validate `file` (paths relative to `base`), reusing unchanged parts of `prev`.
pub fn validate(
    file: FileConfig,
    base: &Path,
    prev: Option<&Runtime>,
) -> Result<Runtime, ConfigErrors> {
    validate_in(file, base, prev, StoreMode::Open)
}

/// [`validate`], with the database of `store.url` opened or only probed.
pub fn validate_in(
    file: FileConfig,
    base: &Path,
    prev: Option<&Runtime>,
    mode: StoreMode,
) -> Result<Runtime, ConfigErrors> {
    let mut file = file;
    crate::minting::settings::mount_doors(&mut file);
    let mut errs = Errors::default();
    let mut watched = Vec::new();

    sections::urls_from_env(&mut file, &mut errs);
    sections::check_server(&file, base, &mut errs);

    // Upstream pools, reused from `prev` when their section is unchanged so
    // health state and connection pools survive a reload.
    let mut pools = BTreeMap::new();
    for (name, section) in &file.upstreams {
        let reuse = prev
            .and_then(|p| p.pools.get(name))
            .filter(|p| p.section() == section)
            .cloned();
        let pool = match reuse {
            Some(p) => Ok(p),
            None => Pool::build(name, section).map(Arc::new),
        };
        match pool {
            Ok(p) => {
                pools.insert(name.clone(), p);
            }
            Err(problems) => {
                for (key, msg) in problems {
                    errs.push(format!("upstreams.{}{key}", key_path(name)), msg);
                }
            }
        }
    }

    let router = build_router(
        &file.routes,
        &pools,
        &file.credentials.browser_usages,
        &mut errs,
    );

    // Credentials.
    let creds = &file.credentials;
    if creds.max_bytes == 0 || creds.max_bytes > 64 * 1024 {
        errs.push("credentials.max_bytes", "must be between 1 and 65536");
    }
    let digester = sections::digester(creds, &mut errs);
    let prefixes = sections::prefixes(creds, &mut errs);

    let mut keys = KeyBuilder::new(&digester);
    for (i, k) in file.keys.iter().enumerate() {
        keys.add(Source::Toml(i), k.clone(), &mut errs);
    }
    let mut keys_file_digest = [0u8; 32];
    if let Some(p) = &file.store.keys_file {
        let path = resolve(base, p);
        watched.push(path.clone());
        let read = std::fs::File::open(&path).and_then(|f| {
            read_keys_jsonl(
                std::io::BufReader::with_capacity(1 << 16, f),
                &mut keys,
                &mut errs,
            )
        });
        match read {
            Ok(digest) => keys_file_digest = digest,
            Err(e) => errs.push("store.keys_file", format!("cannot read '{p}': {e}")),
        }
    }
    let records = keys.finish(&mut errs);

    for (key, gives_up) in super::insecure::check(&file, &mut errs) {
        tracing::warn!(key = %key, "insecure setting in force: {gives_up}");
    }
    // JWT issuers, reusing JWKS caches of unchanged issuers.
    let mut file_digests = FileDigests::default();
    let mut issuers = sections::issuers(
        &file.jwt.issuers,
        base,
        prev,
        &mut file_digests,
        &mut watched,
        &mut errs,
    );

    // Identity.
    let id = &file.identity;
    let (headers, trusted_proxies) = sections::identity(id, &mut errs);
    let assertion = match &id.assertion {
        None => None,
        Some(section) => match prev
            .filter(|_| file_digests.unchanged(&resolve(base, &section.key_file), prev))
            .and_then(|p| p.assertion.clone())
            .filter(|a| a.section() == section)
        {
            Some(same) => Some(same),
            None => match AssertionSigner::build(section, base) {
                Ok(s) => Some(Arc::new(s)),
                Err((sub, msg)) => {
                    errs.push(format!("identity.assertion{sub}"), msg);
                    None
                }
            },
        },
    };
    let st = &file.stamps;
    sections::check_stamps_and_store(&file, base, &mut errs);
    let log_format = sections::log_format(&file.log.format, &mut errs);

    if let Some(a) = &id.assertion {
        watched.push(resolve(base, &a.key_file));
    }
    let (redis, redis_err) = super::limits::redis(&file, prev);
    if let Some(e) = redis_err {
        errs.push("redis.url", e);
    }
    let (rate_limits, global_limits, limit_errs) =
        super::limits::compile(&file, prev, redis.as_ref().map(|(_, b)| b));
    let (per_key_limits, per_key_errs) =
        super::limits::per_key(&file, prev, redis.as_ref().map(|(_, b)| b));
    for (k, m) in per_key_errs {
        errs.push(&k, m);
    }
    let limits = std::sync::Arc::new(
        authgate_core::limits::RateLimits::with_global(rate_limits.clone(), global_limits.clone())
            .with_per_key(per_key_limits.clone()),
    );
    for (k, m) in limit_errs {
        errs.push(&k, m);
    }
    let (signin, signin_errs) = crate::signin::settings::validate(&file);
    for (k, m) in signin_errs {
        errs.push(&k, m);
    }
    let (wallet_tokens, wallet_errs) =
        crate::signin::wallet_settings::validate(&file, assertion.as_ref());
    for (k, m) in wallet_errs {
        errs.push(&k, m);
    }
    let (signing_keys, signing_errs) = super::signing_keys::compile(&file.signing_keys, base);
    for (k, m) in signing_errs {
        errs.push(&k, m);
    }
    for k in &file.signing_keys {
        for f in [&k.public_key_file, &k.secret_file].into_iter().flatten() {
            let path = resolve(base, f);
            file_digests.unchanged(&path, prev);
            watched.push(path);
        }
    }
    let (signed_retry, retry_errs) = crate::signin::retry_settings::validate(&file);
    for (k, m) in retry_errs {
        errs.push(&k, m);
    }
    // authgate's own access tokens count on proxied routes like any
    // issuer's.
    if let Some(w) = &wallet_tokens {
        if issuers
            .iter()
            .any(|i| i.section().issuer == w.issuer.section().issuer)
        {
            errs.push(
                "signin.wallet_tokens.issuer",
                format!(
                    "'{}' is also a [[jwt.issuers]] entry: give authgate's own tokens their own issuer",
                    w.issuer.section().issuer
                ),
            );
        }
        issuers.push(w.issuer.clone());
    }
    let (minting, minting_errs) = crate::minting::settings::validate(&file, prefixes.rules());
    for (k, m) in minting_errs {
        errs.push(&k, m);
    }
    let admin_tokens = match super::database::admin_tokens(&file.admin.tokens) {
        Ok(t) => t,
        Err(e) => {
            for (k, m) in e {
                errs.push(&k, m);
            }
            Vec::new()
        }
    };
    let key_count = records.len();
    let file_keys = Arc::new(MemoryStore::new(records));
    let (store, keystore) = if errs.0.is_empty() {
        match super::database::store_for(&file, base, prev, file_keys.clone(), mode) {
            Ok(s) => s,
            Err(e) => {
                errs.push("store.url", e);
                return Err(ConfigErrors(errs.0));
            }
        }
    } else {
        return Err(ConfigErrors(errs.0));
    };
    let headers = match headers {
        Some(h) if errs.0.is_empty() => h,
        _ => return Err(ConfigErrors(errs.0)),
    };

    let auth_fingerprint = sha256(
        format!(
            "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{}|{:?}",
            file.keys,
            file.credentials,
            file.jwt,
            file.signin.wallet_tokens,
            file.signing_keys,
            file.identity,
            (&file.store.url, &file.store.hmac_secrets_dir),
            hex::encode(keys_file_digest),
            file_digests.0,
        )
        .as_bytes(),
    );
    let auth_generation = match prev {
        Some(p) if p.auth_fingerprint == auth_fingerprint => p.auth.auth_generation,
        Some(p) => p.auth.auth_generation + 1,
        None => 1,
    };

    if let Some(tls) = &file.server.tls {
        // Read at start only; digested so a reload can tell they changed.
        for f in [&tls.cert, &tls.key] {
            let path = resolve(base, f);
            file_digests.unchanged(&path, prev);
            watched.push(path);
        }
    }
    let replay_ttl = st.window.saturating_add(st.leeway.saturating_mul(2));
    let replay = match prev {
        Some(p) => p.auth.replay.with_settings(replay_ttl, st.replay_capacity),
        None => ReplayGuard::new(replay_ttl, st.replay_capacity),
    };

    Ok(Runtime {
        auth: AuthRuntime {
            replay,
            max_credential_bytes: creds.max_bytes,
            prefixes,
            digester,
            key_count,
            store,
            store_timeout: file.store.timeout,
            issuers,
            stamps: file.stamps.clone(),
            signing_keys,
            hmac_secrets_dir: file
                .store
                .hmac_secrets_dir
                .as_deref()
                .map(|d| resolve(base, d)),
            shared_replay: shared_replay(&file),
            stages: {
                let decide = Stages::decide_only(
                    &file.identity.workspace_param,
                    file.identity.hierarchical_scopes,
                );
                // Always: any key may carry its own limit.
                decide.then(limits.clone())
            },
            auth_generation,
        },
        identity: file.identity.clone(),
        headers,
        trusted_proxies,
        assertion,
        cache: file.cache.clone(),
        base_dir: base.to_path_buf(),
        router,
        pools,
        log_format,
        keystore,
        file_keys,
        admin_tokens,
        signin,
        wallet_tokens,
        signed_retry,
        minting,
        rate_limits,
        global_limits,
        limits_need_ip: limits.needs_ip(),
        limits,
        per_key_limits: (file.key_limits.clone(), per_key_limits),
        redis,
        auth_fingerprint,
        file_digests: file_digests.0,
        watched_files: watched,
        file,
    })
}

/// SHA-256 of the key files the config names (issuer secrets, public keys,
/// JWKS files, the assertion key), read at every load: what decides
/// whether a built issuer or signer may be reused, and part of the
/// authentication fingerprint (a changed key invalidates the cache).
#[derive(Default)]
pub(super) struct FileDigests(BTreeMap<PathBuf, [u8; 32]>);

impl FileDigests {
    /// Digest `path` now and say whether `prev` saw the same contents.
    pub(super) fn unchanged(&mut self, path: &Path, prev: Option<&Runtime>) -> bool {
        // An unreadable file digests to a marker: the build that follows
        // reports the read error itself.
        let now = std::fs::read(path)
            .map(|b| sha256(&b))
            .unwrap_or([0xff; 32]);
        self.0.insert(path.to_path_buf(), now);
        prev.and_then(|p| p.file_digests.get(path)) == Some(&now)
    }
}

/// Whether replays are refused across instances: `[stamps] shared_replay`,
/// by default on exactly when the database store is PostgreSQL (the store
/// instances share).
fn shared_replay(file: &FileConfig) -> bool {
    let postgres = file
        .store
        .url
        .as_deref()
        .is_some_and(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"));
    file.stamps.shared_replay.unwrap_or(postgres) && file.store.url.is_some()
}
