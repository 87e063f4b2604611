//! `config::parse` (TOML into the file model, unknown keys refused) and
//! `config::validate::validate` (the whole file into a `Runtime`: routes,
//! prefixes, key records, issuers and their keys, stamps, identity).
//!
//! Input: the TOML text (non-UTF-8 input is skipped). Relative paths resolve
//! against `conf/`, so the shipped configs validate with their key files.
//! To keep the target hermetic, a file naming an absolute path or `..`
//! is only parsed, and upstream backends that are not a literal `ip:port`
//! are replaced by `127.0.0.1:1` (validation would resolve them by DNS).
//!
//! Property: no panic, and every refusal carries at least one error, each
//! with a key path and a message.

#![no_main]

use authgate::config::{self, ConfigErrors, FileConfig};
use authgate_fuzz::conf_dir;
use libfuzzer_sys::fuzz_target;
use std::net::SocketAddr;
use std::path::{Component, Path};
use std::sync::LazyLock;

static BASE: LazyLock<std::path::PathBuf> = LazyLock::new(conf_dir);

fn check_errors(e: &ConfigErrors) {
    assert!(!e.0.is_empty(), "a refusal without errors");
    for err in &e.0 {
        assert!(!err.path.is_empty() && !err.message.is_empty(), "{err:?}");
    }
}

/// Whether every file the config names stays under the base directory.
fn files_stay_inside(file: &FileConfig) -> bool {
    let mut paths: Vec<&str> = Vec::new();
    paths.extend(file.store.keys_file.as_deref());
    if let Some(tls) = &file.server.tls {
        paths.extend([tls.cert.as_str(), tls.key.as_str()]);
    }
    if let Some(a) = &file.identity.assertion {
        paths.push(&a.key_file);
    }
    for i in &file.jwt.issuers {
        paths.extend(i.secret_file.as_deref());
        paths.extend(i.public_key_file.as_deref());
        paths.extend(i.jwks_file.as_deref());
    }
    paths.iter().all(|p| {
        Path::new(p)
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut file = match config::parse(text, "fuzz.toml") {
        Ok(file) => file,
        Err(e) => {
            check_errors(&e);
            // The parser's own error comes first, named by the file; the
            // per-section errors after it name their section.
            assert_eq!(e.0[0].path, "fuzz.toml");
            assert!(e.0.iter().all(|err| !err.path.is_empty()));
            return;
        }
    };
    if !files_stay_inside(&file) {
        return;
    }
    // Opening a database is not this target's business (and would write
    // files or dial out).
    file.store.url = None;
    file.store.url_env = None;
    for pool in file.upstreams.values_mut() {
        for b in &mut pool.backends {
            if b.parse::<SocketAddr>().is_err() {
                *b = "127.0.0.1:1".into();
            }
        }
    }
    if let Err(e) = config::validate::validate(file, &BASE, None) {
        check_errors(&e);
    }
});
