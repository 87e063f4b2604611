//! The run itself: worker tasks sharing a schedule and a recorder.
//!
//! - **Closed loop** (no `--rate`): each worker sends its next request as
//!   soon as the previous response is in; latency is send → last body byte.
//! - **Open loop** (`--rate R`): request *k* is due at `start + k/R`. A free
//!   worker takes the next ticket, waits for its due time and sends; latency
//!   is measured from the due time, not the actual send, so time spent
//!   queued behind a slow response counts (no coordinated omission); only
//!   the tool's own timer slack on an idle worker is not charged. When
//!   the target falls more than [`GRACE`] behind the end of the schedule, the
//!   remaining tickets are not sent and are reported as `missed`.
//!
//! Every run is bounded by a duration or a request count; a warm-up phase
//! runs first at the same load and is not recorded.

use super::client::{request, Target};
use super::credentials::Kind;
use super::mix::Mix;
use super::report::{Label, Recorder, Report, RunInfo};
use super::source::Source;
use super::wire::Connection;
use bytes::Bytes;
use http::{Request, Uri};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// How long an open-loop run may overrun its schedule before giving up on
/// the requests still queued.
pub const GRACE: Duration = Duration::from_secs(1);

/// When a run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// After this much measured time.
    Duration(Duration),
    /// After this many measured requests.
    Requests(u64),
}

/// What each request carries.
pub enum Selector {
    /// No credential; always this path.
    Plain(Uri),
    /// Credentials drawn by `mix`; a share `invalid` (0..=1) are forgeries.
    Credentials {
        /// Kind weights.
        mix: Mix,
        /// Sources indexed by [`Kind::index`].
        sources: Vec<Option<Source>>,
        /// Share of forged credentials.
        invalid: f64,
    },
}

impl Selector {
    /// Credentials from `sources` by `mix`; every kind of the mix needs a source.
    pub fn credentials(
        mix: Mix,
        sources: BTreeMap<Kind, Source>,
        invalid: f64,
    ) -> Result<Selector, String> {
        if !(0.0..=1.0).contains(&invalid) {
            return Err(format!("--invalid {invalid} is not between 0 and 1"));
        }
        let mut by_index: Vec<Option<Source>> = Kind::ALL.iter().map(|_| None).collect();
        for (kind, source) in sources {
            by_index[kind.index()] = Some(source);
        }
        for kind in mix.kinds() {
            if by_index[kind.index()].is_none() {
                return Err(format!(
                    "--mix asks for {kind}, but the credentials file has none"
                ));
            }
        }
        Ok(Selector::Credentials {
            mix,
            sources: by_index,
            invalid,
        })
    }

    fn next(&self, target: &Target, rng: &mut StdRng) -> (Label, Request<Bytes>) {
        match self {
            Selector::Plain(path) => (
                Label {
                    kind: None,
                    invalid: false,
                },
                request(target, path, None),
            ),
            Selector::Credentials {
                mix,
                sources,
                invalid,
            } => {
                let kind = mix.pick(rng.gen_range(0..mix.total()));
                let forge = *invalid > 0.0 && rng.gen::<f64>() < *invalid;
                let label = Label {
                    kind: Some(kind),
                    invalid: forge,
                };
                // `credentials()` checked that every kind of the mix has a source.
                let Some(source) = &sources[kind.index()] else {
                    return (label, request(target, &Uri::from_static("/"), None));
                };
                (label, source.request(target, forge, rng))
            }
        }
    }
}

/// Everything a run needs.
pub struct Plan {
    /// Where to send.
    pub target: Target,
    /// What to send.
    pub selector: Selector,
    /// Worker tasks (requests in flight at most).
    pub concurrency: usize,
    /// Keep-alive connections (≤ `concurrency`); workers share them evenly.
    pub connections: usize,
    /// When to stop.
    pub stop: Stop,
    /// Open-loop rate in requests per second; `None` = closed loop.
    pub rate: Option<f64>,
    /// Unrecorded phase before measuring.
    pub warmup: Duration,
    /// Per-request timeout (also the connect timeout).
    pub timeout: Duration,
    /// Print a progress line on stderr once per second.
    pub progress: bool,
    /// Stop early (and still report) on Ctrl-C.
    pub stop_on_ctrl_c: bool,
}

enum Schedule {
    Closed {
        measure_start: Instant,
        end: Option<Instant>,
        limit: Option<u64>,
    },
    Open {
        t0: Instant,
        interval_ns: f64,
        /// First measured ticket.
        first: u64,
        /// Measured tickets.
        count: u64,
        /// Nothing is sent after this.
        hard_end: Instant,
    },
}

impl Schedule {
    fn due(t0: Instant, interval_ns: f64, k: u64) -> Instant {
        t0 + Duration::from_nanos((k as f64 * interval_ns) as u64)
    }

    fn measure_start(&self) -> Instant {
        match self {
            Schedule::Closed { measure_start, .. } => *measure_start,
            Schedule::Open {
                t0,
                interval_ns,
                first,
                ..
            } => Self::due(*t0, *interval_ns, *first),
        }
    }
}

struct Shared {
    target: Target,
    selector: Selector,
    slots: Vec<Mutex<Connection>>,
    recorder: Recorder,
    schedule: Schedule,
    tickets: AtomicU64,
    measured_sent: AtomicU64,
    interrupted: AtomicBool,
}

/// Run `plan` to completion and report.
pub async fn run(plan: Plan) -> Report {
    let concurrency = plan.concurrency.max(1);
    let connections = plan.connections.clamp(1, concurrency);
    let slots: Vec<Mutex<Connection>> = (0..connections)
        .map(|_| Mutex::new(Connection::new(plan.timeout)))
        .collect();
    // Connect before the clock starts; a failure here is retried (and
    // counted) by the first request on that connection.
    for slot in &slots {
        let _ = slot.lock().await.open(&plan.target.addr).await;
    }
    let t0 = Instant::now();
    let schedule = match plan.rate {
        None => {
            let measure_start = t0 + plan.warmup;
            let (end, limit) = match plan.stop {
                Stop::Duration(d) => (Some(measure_start + d), None),
                Stop::Requests(n) => (None, Some(n)),
            };
            Schedule::Closed {
                measure_start,
                end,
                limit,
            }
        }
        Some(rate) => {
            let interval_ns = 1e9 / rate;
            let first = (plan.warmup.as_nanos() as f64 / interval_ns).ceil() as u64;
            let count = match plan.stop {
                Stop::Requests(n) => n,
                Stop::Duration(d) => (d.as_nanos() as f64 / interval_ns).ceil() as u64,
            };
            let hard_end = Schedule::due(t0, interval_ns, first + count) + GRACE;
            Schedule::Open {
                t0,
                interval_ns,
                first,
                count,
                hard_end,
            }
        }
    };
    let measure_start = schedule.measure_start();
    let shared = Arc::new(Shared {
        target: plan.target.clone(),
        selector: plan.selector,
        slots,
        recorder: Recorder::new(concurrency.min(16)),
        schedule,
        tickets: AtomicU64::new(0),
        measured_sent: AtomicU64::new(0),
        interrupted: AtomicBool::new(false),
    });
    let progress = plan
        .progress
        .then(|| tokio::spawn(progress_line(shared.clone(), t0, measure_start)));
    let ctrl_c = plan.stop_on_ctrl_c.then(|| {
        let s = shared.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("interrupted: finishing the requests in flight");
                s.interrupted.store(true, Ordering::Relaxed);
            }
        })
    });
    let workers: Vec<_> = (0..concurrency)
        .map(|id| tokio::spawn(worker(shared.clone(), id)))
        .collect();
    for w in workers {
        let _ = w.await;
    }
    let finished = Instant::now();
    for task in [progress, ctrl_c].into_iter().flatten() {
        task.abort();
    }
    let missed = match &shared.schedule {
        Schedule::Open { count, .. } if !shared.interrupted.load(Ordering::Relaxed) => {
            count.saturating_sub(shared.measured_sent.load(Ordering::Relaxed))
        }
        _ => 0,
    };
    let (all, by_label) = shared.recorder.merged();
    let info = RunInfo {
        url: shared.target.url.clone(),
        mode: if plan.rate.is_some() {
            "open"
        } else {
            "closed"
        },
        target_rps: plan.rate,
        concurrency,
        connections,
    };
    Report::new(
        info,
        &all,
        &by_label,
        finished.saturating_duration_since(measure_start),
        missed,
    )
}

async fn worker(shared: Arc<Shared>, id: usize) {
    let mut rng = StdRng::from_entropy();
    let slot = &shared.slots[id % shared.slots.len()];
    loop {
        if shared.interrupted.load(Ordering::Relaxed) {
            return;
        }
        // Decide whether to send, and from when latency is measured.
        let (measured, start) = match &shared.schedule {
            Schedule::Closed {
                measure_start,
                end,
                limit,
            } => {
                let now = Instant::now();
                let measured = now >= *measure_start;
                if measured {
                    if end.is_some_and(|e| now >= e) {
                        return;
                    }
                    if let Some(n) = limit {
                        if shared.tickets.fetch_add(1, Ordering::Relaxed) >= *n {
                            return;
                        }
                    }
                }
                (measured, None)
            }
            Schedule::Open {
                t0,
                interval_ns,
                first,
                count,
                hard_end,
            } => {
                let k = shared.tickets.fetch_add(1, Ordering::Relaxed);
                if k >= first + count {
                    return;
                }
                let due = Schedule::due(*t0, *interval_ns, k);
                // A worker that takes its ticket early is idle until `due`;
                // whatever its timer oversleeps (tokio timers tick in whole
                // milliseconds) is the tool's delay, not the target's. A
                // worker already late (busy with slow responses) is charged
                // from `due`: that backlog is what the target caused.
                // A worker already due sends at once: no timer to arm.
                let now = Instant::now();
                let early = now < due;
                let woke = if early {
                    tokio::time::sleep_until(due.into()).await;
                    Instant::now()
                } else {
                    now
                };
                if woke >= *hard_end {
                    return;
                }
                (k >= *first, Some(if early { woke } else { due }))
            }
        };
        let (label, req) = shared.selector.next(&shared.target, &mut rng);
        let mut conn = slot.lock().await;
        let sent = Instant::now();
        let outcome = conn.send(&shared.target.addr, &req).await;
        let done = Instant::now();
        drop(conn);
        if measured {
            shared.measured_sent.fetch_add(1, Ordering::Relaxed);
        }
        let latency = done.saturating_duration_since(start.unwrap_or(sent));
        shared
            .recorder
            .record(id, label, outcome, latency, measured);
    }
}

async fn progress_line(shared: Arc<Shared>, t0: Instant, measure_start: Instant) {
    let mut tick =
        tokio::time::interval_at((t0 + Duration::from_secs(1)).into(), Duration::from_secs(1));
    let mut prev = 0u64;
    loop {
        tick.tick().await;
        let (done, measured, failed) = shared.recorder.progress();
        let now = Instant::now();
        // The summary counts measured requests only: say which is which.
        let phase = if now < measure_start {
            " (warm-up: not in the summary)".to_string()
        } else {
            format!("  {measured} measured")
        };
        eprintln!(
            "[{:>4}s] {:>8} req/s  {:>10} done  {} errors{phase}",
            now.duration_since(t0).as_secs(),
            done - prev,
            done,
            failed,
        );
        prev = done;
    }
}
