//! Structured logs through `tracing` (pingora's `log` records included).

use crate::config::model::LogSection;
use tracing_subscriber::EnvFilter;

/// Install the global subscriber; `RUST_LOG` overrides the configured level.
/// Safe to call twice (the second call does nothing).
pub fn init(cfg: &LogSection) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&cfg.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true)
        .with_writer(std::io::stderr);
    let _ = if cfg.format == "json" {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.compact().try_init()
    };
}
