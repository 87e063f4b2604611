//! Counting and reporting: HDR latency histograms, status codes and errors,
//! overall and per credential kind, rendered as text or as one JSON document.
//!
//! Workers record into a few mutex-guarded shards (a lock per response is far
//! cheaper than the request itself, and sharding keeps contention low on
//! many-core runners); the shards are merged once at the end. Progress
//! counters are plain atomics so the once-a-second line never takes a lock.

use super::credentials::Kind;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Why a request got no HTTP response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// TCP connect or HTTP handshake failed.
    Connect,
    /// No complete response within `--timeout`.
    Timeout,
    /// The connection broke mid-request (reset, closed, protocol error).
    Io,
}

/// What one request ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A complete response with this status.
    Status(u16),
    /// No response.
    Failed(Failure),
}

/// Errors by cause.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ErrorCounts {
    /// Connect or handshake failures.
    pub connect: u64,
    /// Timeouts.
    pub timeout: u64,
    /// Broken connections.
    pub io: u64,
}

impl ErrorCounts {
    /// Sum of all causes.
    pub fn total(&self) -> u64 {
        self.connect + self.timeout + self.io
    }

    fn add(&mut self, other: &ErrorCounts) {
        self.connect += other.connect;
        self.timeout += other.timeout;
        self.io += other.io;
    }
}

/// What a request carried: a kind (or nothing), genuine or forged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Label {
    /// The credential kind; `None` for requests without a credential.
    pub kind: Option<Kind>,
    /// A forged credential (`--invalid`).
    pub invalid: bool,
}

impl Label {
    /// `none`, `api_key`, or `api_key:invalid`.
    pub fn name(&self) -> String {
        match (self.kind, self.invalid) {
            (None, _) => "none".into(),
            (Some(k), false) => k.as_str().into(),
            (Some(k), true) => format!("{k}:invalid"),
        }
    }
}

/// Latency histogram plus status and error counts of a set of requests.
#[derive(Debug, Clone)]
pub struct Tally {
    hist: Histogram<u64>,
    status: BTreeMap<u16, u64>,
    errors: ErrorCounts,
}

impl Default for Tally {
    fn default() -> Self {
        Self::new()
    }
}

impl Tally {
    /// An empty tally (microsecond histogram, 3 significant digits, grows as needed).
    pub fn new() -> Self {
        // `Histogram::new` only fails for sigfig > 5.
        let hist = Histogram::new(3).unwrap_or_else(|_| unreachable!("3 significant figures"));
        Self {
            hist,
            status: BTreeMap::new(),
            errors: ErrorCounts::default(),
        }
    }

    /// Count one request; `latency` is recorded only for responses.
    pub fn record(&mut self, outcome: Outcome, latency: Duration) {
        match outcome {
            Outcome::Status(code) => {
                *self.status.entry(code).or_default() += 1;
                let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
                // `record` grows the histogram; `saturating_record` would not
                // and would clamp everything above the current top (2 ms
                // when new) down to a tiny value. It only fails past u64
                // range, where clamping is the right answer.
                if self.hist.record(us).is_err() {
                    self.hist.saturating_record(us);
                }
            }
            Outcome::Failed(Failure::Connect) => self.errors.connect += 1,
            Outcome::Failed(Failure::Timeout) => self.errors.timeout += 1,
            Outcome::Failed(Failure::Io) => self.errors.io += 1,
        }
    }

    /// Add `other` into `self`.
    pub fn merge(&mut self, other: &Tally) {
        // Both histograms auto-resize, so adding cannot go out of range.
        let _ = self.hist.add(&other.hist);
        for (code, n) in &other.status {
            *self.status.entry(*code).or_default() += n;
        }
        self.errors.add(&other.errors);
    }

    /// Responses plus errors.
    pub fn requests(&self) -> u64 {
        self.status.values().sum::<u64>() + self.errors.total()
    }

    /// Percentiles of the recorded latencies.
    pub fn latency(&self) -> Latency {
        let h = &self.hist;
        if h.is_empty() {
            return Latency::default();
        }
        Latency {
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            mean: (h.mean() * 10.0).round() / 10.0,
        }
    }

    fn status_map(&self) -> BTreeMap<String, u64> {
        self.status
            .iter()
            .map(|(c, n)| (c.to_string(), *n))
            .collect()
    }
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest.
    pub max: u64,
    /// Mean, one decimal.
    pub mean: f64,
}

#[derive(Default)]
struct Shard {
    all: Tally,
    by_label: BTreeMap<Label, Tally>,
}

/// Shared, concurrent recording of a run.
pub struct Recorder {
    shards: Vec<Mutex<Shard>>,
    done: AtomicU64,
    measured: AtomicU64,
    failed: AtomicU64,
}

impl Recorder {
    /// A recorder with `shards` independent locks (at least one).
    pub fn new(shards: usize) -> Self {
        Self {
            shards: (0..shards.max(1)).map(|_| Mutex::default()).collect(),
            done: AtomicU64::new(0),
            measured: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    /// Count one request (warm-up ones only in the progress counters).
    pub fn record(
        &self,
        shard: usize,
        label: Label,
        outcome: Outcome,
        latency: Duration,
        measured: bool,
    ) {
        self.done.fetch_add(1, Ordering::Relaxed);
        if matches!(outcome, Outcome::Failed(_)) {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        if !measured {
            return;
        }
        self.measured.fetch_add(1, Ordering::Relaxed);
        let slot = &self.shards[shard % self.shards.len()];
        // A poisoned shard only means another worker panicked mid-update of
        // plain counters; the data is still usable.
        let mut s = slot.lock().unwrap_or_else(|e| e.into_inner());
        s.all.record(outcome, latency);
        s.by_label
            .entry(label)
            .or_default()
            .record(outcome, latency);
    }

    /// Requests finished so far (warm-up included), how many of them count
    /// in the summary (measured), and how many failed.
    pub fn progress(&self) -> (u64, u64, u64) {
        (
            self.done.load(Ordering::Relaxed),
            self.measured.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }

    /// Merge the shards into the overall tally and the per-label tallies.
    pub fn merged(&self) -> (Tally, BTreeMap<Label, Tally>) {
        let mut all = Tally::new();
        let mut by_label: BTreeMap<Label, Tally> = BTreeMap::new();
        for slot in &self.shards {
            let s = slot.lock().unwrap_or_else(|e| e.into_inner());
            all.merge(&s.all);
            for (label, t) in &s.by_label {
                by_label.entry(*label).or_default().merge(t);
            }
        }
        (all, by_label)
    }
}

/// How the run was driven, for the report header.
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    /// The target URL.
    pub url: String,
    /// `closed` (as fast as responses come back) or `open` (fixed rate).
    pub mode: &'static str,
    /// Requested rate in open-loop mode.
    pub target_rps: Option<f64>,
    /// Worker tasks.
    pub concurrency: usize,
    /// Keep-alive connections.
    pub connections: usize,
}

/// Per-kind section of the report.
#[derive(Debug, Clone, Serialize)]
pub struct KindReport {
    /// Responses plus errors.
    pub requests: u64,
    /// Latency percentiles (µs) of the responses.
    pub latency_us: Latency,
    /// Responses by status code.
    pub status: BTreeMap<String, u64>,
    /// Requests without a response.
    pub errors: u64,
}

/// The result of a run; its JSON field names are stable.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// How the run was driven.
    #[serde(flatten)]
    pub info: RunInfo,
    /// Measured requests (responses plus errors; warm-up excluded).
    pub requests: u64,
    /// Length of the measured phase, seconds.
    pub duration_s: f64,
    /// `requests / duration_s`.
    pub rps: f64,
    /// Latency percentiles (µs) of the responses. Open-loop runs measure
    /// from the scheduled send time, so queueing delay is included.
    pub latency_us: Latency,
    /// Responses by status code.
    pub status: BTreeMap<String, u64>,
    /// Requests without a response (sum of `error_kinds`).
    pub errors: u64,
    /// Errors by cause.
    pub error_kinds: ErrorCounts,
    /// Open loop: scheduled requests never sent because the run fell too far
    /// behind (more than the grace period at the end). Always 0 closed-loop.
    pub missed: u64,
    /// The same counts per credential kind (`none` without credentials;
    /// `<kind>:invalid` for forged ones).
    pub by_kind: BTreeMap<String, KindReport>,
}

impl Report {
    /// Build from merged tallies.
    pub fn new(
        info: RunInfo,
        all: &Tally,
        by_label: &BTreeMap<Label, Tally>,
        duration: Duration,
        missed: u64,
    ) -> Self {
        let duration_s = duration.as_secs_f64();
        let requests = all.requests();
        let rps = if duration_s > 0.0 {
            requests as f64 / duration_s
        } else {
            0.0
        };
        Report {
            info,
            requests,
            duration_s: (duration_s * 1000.0).round() / 1000.0,
            rps: (rps * 10.0).round() / 10.0,
            latency_us: all.latency(),
            status: all.status_map(),
            errors: all.errors.total(),
            error_kinds: all.errors,
            missed,
            by_kind: by_label
                .iter()
                .map(|(label, t)| {
                    let r = KindReport {
                        requests: t.requests(),
                        latency_us: t.latency(),
                        status: t.status_map(),
                        errors: t.errors.total(),
                    };
                    (label.name(), r)
                })
                .collect(),
        }
    }

    /// One JSON document (pretty-printed).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// A short human-readable summary.
    pub fn to_text(&self) -> String {
        let i = &self.info;
        let mode = match i.target_rps {
            Some(r) => format!("open loop at {r} req/s"),
            None => "closed loop".into(),
        };
        let l = &self.latency_us;
        let mut out = format!(
            "target    {} ({mode}, {} workers, {} connections)\n\
             requests  {} in {:.2} s = {:.1} req/s\n\
             latency   p50 {}  p90 {}  p99 {}  p99.9 {}  max {}\n\
             status    {}\n\
             errors    {} (connect {}, timeout {}, io {})\n",
            i.url,
            i.concurrency,
            i.connections,
            self.requests,
            self.duration_s,
            self.rps,
            us(l.p50),
            us(l.p90),
            us(l.p99),
            us(l.p999),
            us(l.max),
            statuses(&self.status),
            self.errors,
            self.error_kinds.connect,
            self.error_kinds.timeout,
            self.error_kinds.io,
        );
        if self.missed > 0 {
            out.push_str(&format!(
                "missed    {} scheduled requests never sent (the target could not keep up)\n",
                self.missed
            ));
        }
        if self.by_kind.len() > 1 || self.by_kind.keys().any(|k| k != "none") {
            out.push_str("by kind\n");
            for (name, k) in &self.by_kind {
                out.push_str(&format!(
                    "  {name:<22} {:>9} req  p50 {:>9}  p99 {:>9}  {}{}\n",
                    k.requests,
                    us(k.latency_us.p50),
                    us(k.latency_us.p99),
                    statuses(&k.status),
                    if k.errors > 0 {
                        format!("  errors {}", k.errors)
                    } else {
                        String::new()
                    },
                ));
            }
        }
        out
    }
}

fn statuses(m: &BTreeMap<String, u64>) -> String {
    if m.is_empty() {
        return "-".into();
    }
    m.iter()
        .map(|(c, n)| format!("{c}: {n}"))
        .collect::<Vec<_>>()
        .join("  ")
}

/// Microseconds for humans: `850µs`, `1.25ms`, `2.100s`.
fn us(v: u64) -> String {
    match v {
        0..=999 => format!("{v}µs"),
        1_000..=999_999 => format!("{:.2}ms", v as f64 / 1e3),
        _ => format!("{:.3}s", v as f64 / 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synthetic() -> (Tally, BTreeMap<Label, Tally>) {
        let label = Label {
            kind: Some(Kind::ApiKey),
            invalid: false,
        };
        let forged = Label {
            kind: Some(Kind::ApiKey),
            invalid: true,
        };
        let rec = Recorder::new(3);
        for v in 1..=1000u64 {
            let (l, code) = if v % 10 == 0 {
                (forged, 401)
            } else {
                (label, 200)
            };
            rec.record(
                v as usize,
                l,
                Outcome::Status(code),
                Duration::from_micros(v),
                true,
            );
        }
        // Warm-up: counted in progress, not in the report.
        rec.record(
            0,
            label,
            Outcome::Status(500),
            Duration::from_secs(9),
            false,
        );
        rec.record(
            1,
            label,
            Outcome::Failed(Failure::Timeout),
            Duration::ZERO,
            true,
        );
        rec.record(
            2,
            label,
            Outcome::Failed(Failure::Connect),
            Duration::ZERO,
            true,
        );
        assert_eq!(rec.progress(), (1003, 1002, 2));
        rec.merged()
    }

    #[test]
    fn percentiles_of_a_known_distribution() {
        let (all, _) = synthetic();
        let l = all.latency();
        assert_eq!(
            (l.p50, l.p90, l.p99, l.p999, l.max),
            (500, 900, 990, 999, 1000)
        );
        assert_eq!(l.mean, 500.5);
        assert_eq!(Tally::new().latency(), Latency::default());

        // Values far above the histogram's initial range are kept, not clamped.
        let mut t = Tally::new();
        for v in [100, 200, 5_000_000] {
            t.record(Outcome::Status(200), Duration::from_micros(v));
        }
        let l = t.latency();
        assert_eq!(l.p50, 200);
        assert!((5_000_000..5_010_000).contains(&l.max), "{l:?}");
        assert!(l.p999 >= 5_000_000, "{l:?}");
    }

    #[test]
    fn json_has_the_stable_fields() {
        let (all, by) = synthetic();
        let info = RunInfo {
            url: "http://127.0.0.1:1".into(),
            mode: "closed",
            target_rps: None,
            concurrency: 4,
            connections: 4,
        };
        let r = Report::new(info, &all, &by, Duration::from_secs(2), 0);
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(v["requests"], 1002);
        assert_eq!(v["duration_s"], 2.0);
        assert_eq!(v["rps"], 501.0);
        assert_eq!(v["latency_us"]["p50"], 500);
        assert_eq!(v["latency_us"]["p999"], 999);
        assert_eq!(v["latency_us"]["max"], 1000);
        assert_eq!(v["status"]["200"], 900);
        assert_eq!(v["status"]["401"], 100);
        assert!(v["status"].get("500").is_none(), "warm-up leaked");
        assert_eq!(v["errors"], 2);
        assert_eq!(v["error_kinds"]["timeout"], 1);
        assert_eq!(v["error_kinds"]["connect"], 1);
        assert_eq!(v["mode"], "closed");
        assert_eq!(v["by_kind"]["api_key"]["requests"], 902);
        assert_eq!(v["by_kind"]["api_key"]["errors"], 2);
        assert_eq!(v["by_kind"]["api_key:invalid"]["status"]["401"], 100);
        assert_eq!(v["by_kind"]["api_key:invalid"]["latency_us"]["max"], 1000);
        let text = r.to_text();
        assert!(text.contains("p99.9 999µs"), "{text}");
        assert!(text.contains("200: 900  401: 100"), "{text}");
        assert!(text.contains("api_key:invalid"), "{text}");
    }

    #[test]
    fn human_units() {
        assert_eq!(us(850), "850µs");
        assert_eq!(us(1250), "1.25ms");
        assert_eq!(us(2_100_000), "2.100s");
    }
}
