//! Structured logs through `tracing` (pingora's `log` records included).
//!
//! One of pingora's records is demoted: a client that closes its connection
//! or stalls mid request header (a slowloris, a port scanner, a dropped
//! mobile link) makes pingora log `Fail to proxy: … ConnectionClosed` at
//! ERROR, once per connection. That is expected client behaviour, and an
//! attacker could flood the error log with it; authgate counts it in
//! `authgate_client_aborts_total{reason}` and logs it only when the log
//! level shows debug records.

use crate::metrics::METRICS;
use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Filter, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One compact human-readable line per record.
    #[default]
    Text,
    /// One JSON object per record, fields flattened.
    Json,
}

impl LogFormat {
    /// `text` or `json`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "text" => Some(LogFormat::Text),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }
}

/// Install the global subscriber writing `format` at `level` (a `tracing`
/// filter); `RUST_LOG` overrides the level. Safe to call twice (the second
/// call does nothing).
pub fn init(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let hint = filter.max_level_hint();
    let aborts = ClientAborts {
        show: hint.is_some_and(|max| max >= LevelFilter::DEBUG),
        hint,
    };
    let layer = fmt::layer().with_target(true).with_writer(std::io::stderr);
    let layer = match format {
        LogFormat::Json => layer.json().flatten_event(true).boxed(),
        LogFormat::Text => layer.compact().boxed(),
    };
    // The level filter is global, so disabled callsites (pingora's and
    // tokio's debug and trace records on every request) cost nothing; the
    // abort filter only looks at what it lets through, at ERROR.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(layer.with_filter(aborts))
        .try_init();
}

/// Counts pingora's "client went away mid header" errors, and hides them
/// unless debug records are shown.
struct ClientAborts {
    show: bool,
    /// The level filter's most verbose level, passed on so this filter
    /// never widens what the subscriber asks callsites for.
    hint: Option<LevelFilter>,
}

impl<S> Filter<S> for ClientAborts {
    fn enabled(&self, _: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        true
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        // Only ERROR records need a look at each event.
        if *meta.level() == Level::ERROR {
            Interest::sometimes()
        } else {
            Interest::always()
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        self.hint
    }

    fn event_enabled(&self, event: &Event<'_>, _: &Context<'_, S>) -> bool {
        // pingora logs through `log`: the record's own target is a field
        // (`log.target`), the event's metadata names the bridge.
        if *event.metadata().level() != Level::ERROR {
            return true;
        }
        let mut message = Message::default();
        event.record(&mut message);
        if !message.target.starts_with("pingora") {
            return true;
        }
        match client_abort(&message.text) {
            Some(reason) => {
                METRICS.client_aborts.with_label_values(&[reason]).inc();
                self.show
            }
            None => true,
        }
    }
}

/// The reason label when `message` is pingora's record of a client that
/// ended its connection while its request header was being read.
fn client_abort(message: &str) -> Option<&'static str> {
    // pingora-proxy's `handle_new_request`: "Fail to proxy: Downstream
    // <ErrorType> context: …, downstream session type: …".
    let rest = message.strip_prefix("Fail to proxy: Downstream ")?;
    if !message.contains("downstream session type") {
        return None;
    }
    [
        ("ConnectionClosed", "closed"),
        ("ReadTimedout", "timeout"),
        ("ReadError", "read_error"),
    ]
    .into_iter()
    .find(|(etype, _)| rest.starts_with(etype))
    .map(|(_, reason)| reason)
}

/// The text and `log` target of a bridged `log` record.
#[derive(Default)]
struct Message {
    text: String,
    target: String,
}

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.text = format!("{value:?}");
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.text = value.to_string(),
            "log.target" => self.target = value.to_string(),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::client_abort;

    #[test]
    fn client_aborts_recognised_by_pingoras_wording() {
        let line = |etype: &str| {
            format!(
                "Fail to proxy: Downstream {etype} context: while reading request headers, \
                 bytes already read: 17, downstream session type: HTTP/1.1"
            )
        };
        assert_eq!(client_abort(&line("ConnectionClosed")), Some("closed"));
        assert_eq!(client_abort(&line("ReadTimedout")), Some("timeout"));
        assert_eq!(client_abort(&line("ReadError")), Some("read_error"));
        assert_eq!(client_abort(&line("InvalidHTTPHeader")), None);
        // Upstream failures and proxy errors stay errors.
        assert_eq!(
            client_abort("Fail to proxy: Upstream ConnectionClosed context: x, status: 502"),
            None
        );
        assert_eq!(
            client_abort("Fail to proxy: Downstream ConnectionClosed, status: 0, tries: 1"),
            None
        );
    }
}
