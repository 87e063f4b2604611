//! Configuration: the file model ([`model`]), its validation into the
//! internal [`Runtime`] ([`validate`]), and live reload ([`reload`]).
//!
//! Loading never half-succeeds: every error is collected with the key path
//! that caused it, and a file with any error produces no runtime at all.

pub mod database;
mod fingerprint;
mod insecure;
mod keys;
pub mod limits;
pub mod model;
mod parse;
pub mod reload;
mod routes;
pub mod runtime;
mod sections;
pub mod signing_keys;
pub mod validate;

pub use model::FileConfig;
pub use runtime::Runtime;

use std::fmt;
use std::path::Path;

/// One problem in a config file, named by its key path (e.g. `routes[1].upstream`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted key path, or the file name for syntax errors.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// All problems found in one load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

pub use parse::parse;

/// Read, parse and validate a config file (no previous runtime to reuse).
pub fn load(path: &Path) -> Result<Runtime, ConfigErrors> {
    load_with(path, None)
}

/// Read, parse and validate a config file for `authgate check`: like
/// [`load`], but the database of `store.url` is only probed (a SQLite file
/// is neither created nor migrated; PostgreSQL is not contacted).
pub fn check(path: &Path) -> Result<Runtime, ConfigErrors> {
    load_in(path, None, database::StoreMode::Probe)
}

/// Read, parse and validate a config file, reusing unchanged parts (upstream
/// pools with their health state, JWKS caches) of `prev`.
pub fn load_with(path: &Path, prev: Option<&Runtime>) -> Result<Runtime, ConfigErrors> {
    load_in(path, prev, database::StoreMode::Open)
}

fn load_in(
    path: &Path,
    prev: Option<&Runtime>,
    mode: database::StoreMode,
) -> Result<Runtime, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            path: path.display().to_string(),
            message: format!("cannot read: {e}"),
        }])
    })?;
    let file = parse(&text, &path.display().to_string())?;
    let base = path.parent().unwrap_or_else(|| Path::new("."));
    let loaded = validate::validate_in(file, base, prev, mode);
    release_freed_memory();
    loaded
}

/// Hand the memory freed after a load back to the OS. Validating a large
/// `store.keys_file` parses records before keeping them (3M keys: a 1.65 GB
/// peak for 1.07 GB kept); mimalloc, the binary's allocator, purges freed
/// pages only when the freeing thread allocates again, which the loading
/// thread may never do, so without this the peak stayed resident. Called
/// again once a reload has dropped the previous config (see [`reload`]).
/// Harmless where mimalloc is not the allocator.
pub(crate) fn release_freed_memory() {
    // SAFETY: `mi_collect` takes no pointers and may be called at any time
    // from any thread; it only frees and purges this thread's unused pages.
    unsafe { libmimalloc_sys::mi_collect(true) }
}
