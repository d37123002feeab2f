//! The process's Prometheus metrics: one registry, the families every layer records into, and the
//! OpenMetrics text `GET /metrics` answers. A leaf like `model`: any module may record here.
//!
//! Label values are bounded: Okta buckets, methods and statuses are a handful each, and the
//! GraphQL operation names a client chooses are kept for the first `MAX_OPERATION_NAMES` seen,
//! the rest counted as `other`, so no client can grow the series without end.

use std::collections::HashSet;
use std::sync::atomic::AtomicU64;
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// Distinct GraphQL operation names given their own series; later ones count as `other`.
pub const MAX_OPERATION_NAMES: usize = 64;

/// The media type of `encode`'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// One Okta request: which bucket, method and HTTP status (or `error` when none came back).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OktaRequest {
    /// The rate-limit bucket the request was paced in.
    pub bucket: String,
    /// GET, POST…
    pub method: String,
    /// The status code, or `error` (timeout, reset, DNS).
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Bucket {
    bucket: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Kind {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    kind: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WebhookLabels {
    webhook: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Webhook {
    webhook: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Changed {
    object: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GraphqlLabels {
    operation: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Operation {
    operation: String,
}

/// What one sync run did, for `sync_run`.
#[derive(Debug, Clone, Default)]
pub struct RunFigures {
    /// full, reconcile, tail, hook, sweep…
    pub kind: String,
    /// Whether it succeeded.
    pub ok: bool,
    /// How long it took.
    pub duration: Duration,
    /// People created, updated or removed.
    pub people_changed: u64,
    /// Groups created, updated or removed.
    pub groups_changed: u64,
    /// Memberships added or removed.
    pub memberships_changed: u64,
    /// Removals held back by the mass-deletion hold.
    pub held: u64,
    /// Events it handled.
    pub events: u64,
}

/// Read when `/metrics` is asked: the state of the store, the index and the sync.
#[derive(Debug, Clone, Default)]
pub struct Vitals {
    /// Bytes the store takes on disk.
    pub store_bytes: u64,
    /// The change log's last sequence number (its length since the store was created).
    pub change_log_seq: u64,
    /// Entries the change log holds now.
    pub change_log_entries: u64,
    /// People, groups and memberships in the mirror.
    pub people: u64,
    /// Groups in the mirror.
    pub groups: u64,
    /// Memberships in the mirror.
    pub memberships: u64,
    /// Documents in the search index.
    pub index_documents: u64,
    /// Seconds since the last successful read of Okta, when there was one.
    pub staleness_seconds: Option<f64>,
    /// Seconds the log tail trails Okta, when it runs.
    pub tail_lag_seconds: Option<f64>,
}

/// Every metric the process keeps.
pub struct Metrics {
    registry: Registry,
    okta_requests: Family<OktaRequest, Counter>,
    okta_retries: Counter,
    okta_rate_limited: Family<Kind, Counter>,
    okta_remaining: Family<Bucket, Gauge>,
    sync_runs: Family<RunLabels, Counter>,
    sync_duration: Family<Kind, Histogram>,
    sync_changed: Family<Changed, Counter>,
    sync_held: Gauge,
    events: Family<Outcome, Counter>,
    hook_deliveries: Family<Outcome, Counter>,
    graphql_requests: Family<GraphqlLabels, Counter>,
    graphql_duration: Family<Operation, Histogram>,
    search_duration: Histogram,
    store_bytes: Gauge,
    change_log_seq: Gauge,
    change_log_entries: Gauge,
    objects: Family<Kind, Gauge>,
    index_documents: Gauge,
    staleness: Gauge<f64, AtomicU64>,
    tail_lag: Gauge<f64, AtomicU64>,
    rss: Gauge,
    open_files: Gauge,
    webhook_deliveries: Family<WebhookLabels, Counter>,
    webhook_dead_letters: Family<Webhook, Counter>,
    webhook_position: Family<Webhook, Gauge>,
    subscriptions: Gauge,
    operation_names: Mutex<HashSet<String>>,
}

/// The process's metrics.
pub fn global() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

fn seconds_histogram() -> Histogram {
    // 0.5 ms .. about 70 s.
    Histogram::new(exponential_buckets(0.0005, 2.5, 14))
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("oktamirror");
        let m = Metrics {
            okta_requests: Family::default(),
            okta_retries: Counter::default(),
            okta_rate_limited: Family::default(),
            okta_remaining: Family::default(),
            sync_runs: Family::default(),
            sync_duration: Family::new_with_constructor(seconds_histogram),
            sync_changed: Family::default(),
            sync_held: Gauge::default(),
            events: Family::default(),
            hook_deliveries: Family::default(),
            graphql_requests: Family::default(),
            graphql_duration: Family::new_with_constructor(seconds_histogram),
            search_duration: Histogram::new(exponential_buckets(0.0001, 2.5, 12)),
            store_bytes: Gauge::default(),
            change_log_seq: Gauge::default(),
            change_log_entries: Gauge::default(),
            objects: Family::default(),
            index_documents: Gauge::default(),
            staleness: Gauge::default(),
            tail_lag: Gauge::default(),
            rss: Gauge::default(),
            open_files: Gauge::default(),
            webhook_deliveries: Family::default(),
            webhook_dead_letters: Family::default(),
            webhook_position: Family::default(),
            subscriptions: Gauge::default(),
            operation_names: Mutex::new(HashSet::new()),
            registry: Registry::default(),
        };
        let r = &mut registry;
        r.register(
            "okta_requests",
            "Requests sent to Okta, by rate-limit bucket, method and status",
            m.okta_requests.clone(),
        );
        r.register(
            "okta_retries",
            "Okta requests repeated after a transient failure",
            m.okta_retries.clone(),
        );
        r.register(
            "okta_rate_limited",
            "429 answers from Okta, by kind (rate or concurrency)",
            m.okta_rate_limited.clone(),
        );
        r.register(
            "okta_rate_limit_remaining",
            "Requests left in the current window of each Okta bucket, as Okta last said",
            m.okta_remaining.clone(),
        );
        r.register(
            "sync_runs",
            "Sync runs by kind and outcome (ok or failed)",
            m.sync_runs.clone(),
        );
        r.register_with_unit(
            "sync_run_duration",
            "How long sync runs took, by kind",
            Unit::Seconds,
            m.sync_duration.clone(),
        );
        r.register(
            "sync_changed",
            "People, groups and memberships changed by sync runs",
            m.sync_changed.clone(),
        );
        r.register(
            "sync_held_removals",
            "Removals the last full sync held back (the mass-deletion hold)",
            m.sync_held.clone(),
        );
        r.register(
            "events",
            "Okta events (System Log or hooks) handled or skipped",
            m.events.clone(),
        );
        r.register(
            "hook_deliveries",
            "Event-hook deliveries, accepted or refused",
            m.hook_deliveries.clone(),
        );
        r.register(
            "graphql_requests",
            "GraphQL requests by operation name and outcome",
            m.graphql_requests.clone(),
        );
        r.register_with_unit(
            "graphql_request_duration",
            "GraphQL request durations by operation name",
            Unit::Seconds,
            m.graphql_duration.clone(),
        );
        r.register_with_unit(
            "search_duration",
            "People-search durations",
            Unit::Seconds,
            m.search_duration.clone(),
        );
        r.register_with_unit(
            "store_size",
            "Bytes the store takes on disk",
            Unit::Bytes,
            m.store_bytes.clone(),
        );
        r.register(
            "change_log_sequence",
            "The change log's last sequence number",
            m.change_log_seq.clone(),
        );
        r.register(
            "change_log_entries",
            "Entries the change log holds",
            m.change_log_entries.clone(),
        );
        r.register(
            "objects",
            "People, groups and memberships in the mirror",
            m.objects.clone(),
        );
        r.register(
            "index_documents",
            "Documents in the people-search index",
            m.index_documents.clone(),
        );
        r.register_with_unit(
            "staleness",
            "Time since the last successful read of Okta",
            Unit::Seconds,
            m.staleness.clone(),
        );
        r.register_with_unit(
            "tail_lag",
            "How far the System Log tail trails Okta",
            Unit::Seconds,
            m.tail_lag.clone(),
        );
        r.register_with_unit(
            "process_resident_memory",
            "Resident set size of the process",
            Unit::Bytes,
            m.rss.clone(),
        );
        r.register(
            "process_open_files",
            "File descriptors the process holds",
            m.open_files.clone(),
        );
        r.register(
            "webhook_deliveries",
            "Webhook POSTs by webhook and outcome (delivered, retried, dead_lettered)",
            m.webhook_deliveries.clone(),
        );
        r.register(
            "webhook_dead_letters",
            "Change-feed entries a webhook gave up on after its last retry",
            m.webhook_dead_letters.clone(),
        );
        r.register(
            "webhook_position",
            "The change-log sequence each webhook has delivered up to (compare with change_log_sequence)",
            m.webhook_position.clone(),
        );
        r.register(
            "subscriptions",
            "Open change-feed WebSocket connections",
            m.subscriptions.clone(),
        );
        Metrics { registry, ..m }
    }

    /// One Okta request's answer (`status` None: no answer came back).
    pub fn okta_request(&self, bucket: &str, method: &str, status: Option<u16>) {
        self.okta_requests
            .get_or_create(&OktaRequest {
                bucket: bucket.to_owned(),
                method: method.to_owned(),
                status: status.map_or_else(|| "error".to_owned(), |s| s.to_string()),
            })
            .inc();
    }

    /// An Okta request repeated after a transient failure.
    pub fn okta_retry(&self) {
        self.okta_retries.inc();
    }

    /// A 429 from Okta: `concurrency` when the org's concurrency limit answered, else `rate`.
    pub fn okta_rate_limited(&self, concurrency: bool) {
        let kind = if concurrency { "concurrency" } else { "rate" };
        self.okta_rate_limited
            .get_or_create(&Kind {
                kind: kind.to_owned(),
            })
            .inc();
    }

    /// What Okta's `X-Rate-Limit-Remaining` said for `bucket`.
    pub fn okta_remaining(&self, bucket: &str, remaining: u64) {
        self.okta_remaining
            .get_or_create(&Bucket {
                bucket: bucket.to_owned(),
            })
            .set(i64::try_from(remaining).unwrap_or(i64::MAX));
    }

    /// A finished sync run.
    pub fn sync_run(&self, run: &RunFigures) {
        let outcome = if run.ok { "ok" } else { "failed" };
        self.sync_runs
            .get_or_create(&RunLabels {
                kind: run.kind.clone(),
                outcome: outcome.to_owned(),
            })
            .inc();
        self.sync_duration
            .get_or_create(&Kind {
                kind: run.kind.clone(),
            })
            .observe(run.duration.as_secs_f64());
        for (object, n) in [
            ("person", run.people_changed),
            ("group", run.groups_changed),
            ("membership", run.memberships_changed),
        ] {
            if n > 0 {
                self.sync_changed
                    .get_or_create(&Changed {
                        object: object.to_owned(),
                    })
                    .inc_by(n);
            }
        }
        if matches!(run.kind.as_str(), "full" | "reconcile") {
            self.sync_held
                .set(i64::try_from(run.held).unwrap_or(i64::MAX));
        }
        if run.events > 0 {
            self.event("handled", run.events);
        }
    }

    /// Okta events handled or skipped (`outcome`), `n` of them.
    pub fn event(&self, outcome: &str, n: u64) {
        self.events
            .get_or_create(&Outcome {
                outcome: outcome.to_owned(),
            })
            .inc_by(n);
    }

    /// One webhook POST's outcome: `delivered`, `retried` (it failed and will be repeated) or
    /// `dead_lettered` (it failed for the last time: its `entries` are counted as dead letters).
    pub fn webhook_delivery(&self, webhook: &str, outcome: &str, entries: u64) {
        self.webhook_deliveries
            .get_or_create(&WebhookLabels {
                webhook: webhook.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
        if outcome == "dead_lettered" {
            self.webhook_dead_letters
                .get_or_create(&Webhook {
                    webhook: webhook.to_owned(),
                })
                .inc_by(entries);
        }
    }

    /// Where a webhook has delivered up to in the change log.
    pub fn webhook_position(&self, webhook: &str, seq: u64) {
        self.webhook_position
            .get_or_create(&Webhook {
                webhook: webhook.to_owned(),
            })
            .set(i64::try_from(seq).unwrap_or(i64::MAX));
    }

    /// A change-feed WebSocket connection opened (`true`) or closed.
    pub fn subscription(&self, opened: bool) {
        if opened {
            self.subscriptions.inc();
        } else {
            self.subscriptions.dec();
        }
    }

    /// One event-hook delivery, accepted or refused.
    pub fn hook_delivery(&self, accepted: bool) {
        let outcome = if accepted { "accepted" } else { "refused" };
        self.hook_deliveries
            .get_or_create(&Outcome {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// One GraphQL request: its operation name (if any), outcome (ok, error, refused, timeout)
    /// and duration.
    pub fn graphql_request(&self, operation: Option<&str>, outcome: &str, took: Duration) {
        let operation = self.operation_label(operation);
        self.graphql_requests
            .get_or_create(&GraphqlLabels {
                operation: operation.clone(),
                outcome: outcome.to_owned(),
            })
            .inc();
        self.graphql_duration
            .get_or_create(&Operation { operation })
            .observe(took.as_secs_f64());
    }

    /// One people search's duration.
    pub fn search(&self, took: Duration) {
        self.search_duration.observe(took.as_secs_f64());
    }

    fn operation_label(&self, operation: Option<&str>) -> String {
        let Some(name) = operation.filter(|n| !n.is_empty()) else {
            return "(anonymous)".to_owned();
        };
        let mut seen = self
            .operation_names
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if seen.contains(name) {
            return name.to_owned();
        }
        if seen.len() < MAX_OPERATION_NAMES
            && name.len() <= 128
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            seen.insert(name.to_owned());
            return name.to_owned();
        }
        "other".to_owned()
    }

    /// The registry in the OpenMetrics text format, with the gauges read now from `vitals` and
    /// from the process itself.
    pub fn encode(&self, vitals: &Vitals) -> Result<String, std::fmt::Error> {
        let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.store_bytes.set(clamp(vitals.store_bytes));
        self.change_log_seq.set(clamp(vitals.change_log_seq));
        self.change_log_entries
            .set(clamp(vitals.change_log_entries));
        for (kind, n) in [
            ("person", vitals.people),
            ("group", vitals.groups),
            ("membership", vitals.memberships),
        ] {
            self.objects
                .get_or_create(&Kind {
                    kind: kind.to_owned(),
                })
                .set(clamp(n));
        }
        self.index_documents.set(clamp(vitals.index_documents));
        self.staleness.set(vitals.staleness_seconds.unwrap_or(0.0));
        self.tail_lag.set(vitals.tail_lag_seconds.unwrap_or(0.0));
        let (rss, files) = process_figures();
        self.rss.set(clamp(rss));
        self.open_files.set(clamp(files));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// Resident memory in bytes and open file descriptors, from /proc (zeros elsewhere).
fn process_figures() -> (u64, u64) {
    // statm: size resident shared … in pages; 4 KiB pages on the platforms this runs on.
    const PAGE: u64 = 4096;
    let rss = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * PAGE);
    let files = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64);
    (rss, files)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every metric the Grafana dashboard in deploy/ plots is one this registry declares.
    #[test]
    fn the_dashboard_plots_only_metrics_that_exist() {
        let m = Metrics::new();
        // A family shows in the text once it has a series: give each one.
        m.okta_request("users", "GET", Some(200));
        m.okta_retry();
        m.okta_rate_limited(false);
        m.okta_remaining("users", 1);
        m.sync_run(&RunFigures {
            kind: "full".into(),
            people_changed: 1,
            ..RunFigures::default()
        });
        m.event("skipped", 1);
        m.hook_delivery(true);
        m.graphql_request(None, "ok", Duration::ZERO);
        m.search(Duration::ZERO);
        m.webhook_delivery("w", "dead_lettered", 1);
        m.webhook_position("w", 1);
        m.subscription(true);
        let text = m.encode(&Vitals::default()).expect("encode");
        let declared: HashSet<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# HELP "))
            .filter_map(|l| l.split(' ').next())
            .collect();
        let dashboard = include_str!("../deploy/grafana-dashboard.json");
        let mut plotted = 0;
        for (i, _) in dashboard.match_indices("oktamirror_") {
            let name: String = dashboard[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let base = ["_bucket", "_total", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .unwrap_or(&name);
            assert!(declared.contains(base), "the dashboard plots {name}");
            plotted += 1;
        }
        assert!(plotted > 15, "the dashboard was read");
    }

    #[test]
    fn operation_names_are_bounded() {
        let m = Metrics::new();
        for i in 0..(MAX_OPERATION_NAMES + 10) {
            m.graphql_request(Some(&format!("Op{i}")), "ok", Duration::from_millis(1));
        }
        m.graphql_request(Some("bad name {}"), "ok", Duration::from_millis(1));
        m.graphql_request(Some(""), "ok", Duration::from_millis(1));
        m.graphql_request(Some(&"Q".repeat(100_000)), "ok", Duration::from_millis(1));
        let text = m.encode(&Vitals::default()).expect("encode");
        let series = text
            .lines()
            .filter(|l| l.starts_with("oktamirror_graphql_requests_total{"))
            .count();
        // The first 64 names, `other` and `(anonymous)`.
        assert_eq!(series, MAX_OPERATION_NAMES + 2, "{text}");
        assert!(text.contains("operation=\"other\""));
        assert!(!text.contains("bad name"));
        assert!(
            !text.contains("QQQQ"),
            "a 100,000-character name is not a label"
        );
        assert!(
            text.contains("operation=\"(anonymous)\""),
            "an empty name is anonymous"
        );
    }
}
