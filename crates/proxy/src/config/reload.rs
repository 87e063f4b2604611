//! Live configuration: an `ArcSwap<Runtime>` that requests read, and a
//! background service that reloads it on file change and on SIGHUP.
//!
//! A request keeps the `Arc<Runtime>` it started with, so a reload never
//! disturbs in-flight requests. An invalid file never replaces a good one:
//! every error is logged and the running config stays.

use super::fingerprint;
use super::{load_with, ConfigError, ConfigErrors, Runtime};
use crate::cache::IdentityCache;
use crate::metrics::METRICS;
use arc_swap::ArcSwap;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Shared handle on the current runtime config.
#[derive(Clone, Debug)]
pub struct ConfigHandle {
    current: Arc<ArcSwap<Runtime>>,
    path: Option<PathBuf>,
    /// The fingerprint of the followed files as the last load or reload
    /// read them (see [`fingerprint`]); a refused reload counts, so a bad
    /// file is retried only once it changes again.
    read: Arc<ArcSwap<[u8; 32]>>,
}

impl ConfigHandle {
    /// Wrap an initial runtime loaded from `path` (`None` for built-in
    /// configs that never reload). The files are stamped now: prefer
    /// [`ConfigHandle::load`], which stamps them before reading.
    pub fn new(rt: Runtime, path: Option<PathBuf>) -> Self {
        let read = path.as_deref().map_or([0; 32], |p| {
            fingerprint::digest(&fingerprint::stamps(p, &rt.watched_files))
        });
        Self::read_as(rt, path, read)
    }

    /// Load `path` and follow it. The config file is stamped before it is
    /// read (the files it references as soon as they are known), so an
    /// edit made while authgate starts is reloaded, not taken for read.
    pub fn load(path: PathBuf) -> Result<Self, ConfigErrors> {
        let before = fingerprint::stamps(&path, &[]);
        let rt = super::load(&path)?;
        let read = fingerprint::digest(&fingerprint::as_read(&before, &path, &rt.watched_files));
        Ok(Self::read_as(rt, Some(path), read))
    }

    fn read_as(rt: Runtime, path: Option<PathBuf>, read: [u8; 32]) -> Self {
        Self {
            current: Arc::new(ArcSwap::from_pointee(rt)),
            path,
            read: Arc::new(ArcSwap::from_pointee(read)),
        }
    }

    /// Whether the config file or a file it references changed since the
    /// last load or reload read them (always `false` without a path).
    pub fn changed_since_read(&self) -> bool {
        self.path.as_deref().is_some_and(|p| {
            let now = fingerprint::stamps(p, &self.current().watched_files);
            fingerprint::digest(&now) != **self.read.load()
        })
    }

    /// The runtime now in force.
    pub fn current(&self) -> Arc<Runtime> {
        self.current.load_full()
    }

    /// The file this config reloads from.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Reload from the file now; on success publish and drop stale cache entries.
    pub fn reload(&self, cache: &IdentityCache) -> Result<Arc<Runtime>, ConfigErrors> {
        let Some(path) = &self.path else {
            return Ok(self.current());
        };
        let prev = self.current();
        // Stamped before reading: an edit made while this runs differs
        // from what is remembered below, and is reloaded at the next poll.
        let before = fingerprint::stamps(path, &prev.watched_files);
        let loaded = load_with(path, Some(&prev)).and_then(|rt| {
            let restart = needs_restart(&prev, &rt);
            if restart.is_empty() {
                Ok(rt)
            } else {
                Err(ConfigErrors(restart))
            }
        });
        let followed = loaded
            .as_ref()
            .map_or(&prev.watched_files, |rt| &rt.watched_files);
        let read = fingerprint::as_read(&before, path, followed);
        self.read.store(Arc::new(fingerprint::digest(&read)));
        match loaded {
            Ok(rt) => {
                let rt = Arc::new(rt);
                if rt.auth.auth_generation != prev.auth.auth_generation {
                    // Generations make old entries unreachable already; this frees them.
                    cache.invalidate_all();
                }
                cache.set_ttls(rt.cache.ttl, rt.cache.negative_ttl);
                cache.resize(rt.cache.max_entries);
                self.current.store(rt.clone());
                // The previous config (a large key store, say) is freed here
                // unless a request still holds it.
                drop(prev);
                super::release_freed_memory();
                METRICS.reloads.with_label_values(&["ok"]).inc();
                tracing::info!(
                    routes = rt.router.len(),
                    generation = rt.auth.auth_generation,
                    "config reloaded"
                );
                Ok(rt)
            }
            Err(errors) => {
                METRICS.reloads.with_label_values(&["error"]).inc();
                for e in &errors.0 {
                    tracing::error!(key = %e.path, "config reload refused: {}", e.message);
                }
                Err(errors)
            }
        }
    }
}

/// Settings read only when the server starts (listeners, TLS certificate
/// files, worker threads, grace period): a reload that changes one is
/// refused whole, naming each, so the running config always is the file.
fn needs_restart(prev: &Runtime, next: &Runtime) -> Vec<ConfigError> {
    let (a, b) = (&prev.file, &next.file);
    let mut changed = Vec::new();
    let mut check = |key: &str, same: bool| {
        if !same {
            changed.push(ConfigError {
                path: key.to_string(),
                message: "takes effect only after a restart: restart authgate, or restore \
                          the running value to reload the rest"
                    .to_string(),
            });
        }
    };
    check("server.listen", a.server.listen == b.server.listen);
    check("server.h2c", a.server.h2c == b.server.h2c);
    check("server.threads", a.server.threads == b.server.threads);
    check(
        "server.work_stealing",
        a.server.steals_work() == b.server.steals_work(),
    );
    check(
        "server.grace_period",
        a.server.grace_period == b.server.grace_period,
    );
    check("admin.listen", a.admin.listen == b.admin.listen);
    // The subscriber is installed once per process.
    check("log.format", a.log.format == b.log.format);
    check("log.level", a.log.level == b.log.level);
    check(
        "server.tls",
        format!("{:?}", a.server.tls) == format!("{:?}", b.server.tls),
    );
    if let Some(tls) = &b.server.tls {
        for (key, file) in [("server.tls.cert", &tls.cert), ("server.tls.key", &tls.key)] {
            let path = super::validate::resolve(&next.base_dir, file);
            check(
                key,
                prev.file_digests.get(&path) == next.file_digests.get(&path),
            );
        }
    }
    changed
}

/// Background service: poll for changes and listen for SIGHUP.
pub struct Reloader {
    handle: ConfigHandle,
    cache: IdentityCache,
}

impl Reloader {
    /// Reload `handle`, invalidating `cache` when authentication changes.
    pub fn new(handle: ConfigHandle, cache: IdentityCache) -> Self {
        Self { handle, cache }
    }
}

#[async_trait]
impl BackgroundService for Reloader {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        if self.handle.path().is_none() {
            return;
        }
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        loop {
            let interval = self.handle.current().file.server.watch_interval;
            let poll = async {
                if interval.is_zero() {
                    std::future::pending::<()>().await
                } else {
                    tokio::time::sleep(interval).await
                }
            };
            let hup_fut = async {
                match hup.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let forced = tokio::select! {
                _ = shutdown.changed() => return,
                _ = poll => false,
                _ = hup_fut => true,
            };
            if !forced && !self.handle.changed_since_read() {
                continue;
            }
            // Let an editor finish writing before reading.
            tokio::time::sleep(Duration::from_millis(50)).await;
            // File reads and parsing (millions of keys, say) run on a
            // blocking thread, never on an async worker.
            let (handle, cache) = (self.handle.clone(), self.cache.clone());
            let _ = tokio::task::spawn_blocking(move || handle.reload(&cache)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> IdentityCache {
        IdentityCache::new(10, Duration::from_secs(1), Duration::from_secs(1))
    }

    fn loaded(text: &str) -> (tempfile::TempDir, PathBuf, ConfigHandle) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("authgate.toml");
        std::fs::write(&path, text).unwrap();
        let handle = ConfigHandle::load(path.clone()).unwrap();
        (dir, path, handle)
    }

    #[test]
    fn an_edit_made_after_the_load_is_seen_by_the_first_poll() {
        let (_dir, path, handle) = loaded("");
        // Edited after the load, before the watcher starts.
        std::fs::write(&path, "# edited\n").unwrap();
        assert!(handle.changed_since_read(), "the first poll must reload");
    }

    #[test]
    fn a_config_left_alone_is_not_reloaded() {
        let (_dir, _path, handle) = loaded("");
        assert!(!handle.changed_since_read());
        handle.reload(&cache()).unwrap();
        assert!(
            !handle.changed_since_read(),
            "a reload remembers what it read"
        );
    }

    #[test]
    fn a_refused_file_is_retried_only_once_it_changes_again() {
        let (_dir, path, handle) = loaded("");
        std::fs::write(&path, "[server\n").unwrap();
        assert!(handle.changed_since_read());
        assert!(handle.reload(&cache()).is_err());
        assert!(
            !handle.changed_since_read(),
            "a refused file is not read again at every poll"
        );
        std::fs::write(&path, "# fixed\n").unwrap();
        assert!(handle.changed_since_read());
        handle.reload(&cache()).unwrap();
        assert!(!handle.changed_since_read());
    }
}
