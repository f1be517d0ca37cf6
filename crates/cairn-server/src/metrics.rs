//! `GET /metrics`: request counters and latency histograms (recorded by the `metrics` crate
//! into a Prometheus recorder owned by this server, not a process-global one, so several
//! servers in one process — tests, benchmarks — keep separate figures), followed by database
//! figures read fresh from [`cairn::Database::stats`] at scrape time (so dropped collections
//! vanish instead of lingering as stale series).

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use cairn::DatabaseStats;
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use parking_lot::RwLock;

use crate::error::ServerError;
use crate::limits::{MAX_CACHED_SERIES, MAX_INTERNED_LABELS};

/// Name of the request counter.
const REQUESTS_TOTAL: &str = "cairn_http_requests_total";
/// Name of the latency histogram.
const REQUEST_SECONDS: &str = "cairn_http_request_duration_seconds";
/// Latency buckets in seconds: 100 µs to 10 s, about three per decade, covering a cached
/// point read through a batch commit that waits for an fsync.
const LATENCY_BUCKETS_SECONDS: [f64; 15] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    10.0,
];

/// A series' key: interned method, route template and status.
type SeriesKey = (&'static str, &'static str, &'static str);

/// The registered handles of one series, so recording is two atomic updates instead of
/// building label sets and looking them up in the recorder's registry on every request.
#[derive(Clone)]
struct Series {
    requests: metrics::Counter,
    latency: metrics::Histogram,
}

impl Series {
    fn record(&self, elapsed: Duration) {
        self.requests.increment(1);
        self.latency.record(elapsed.as_secs_f64());
    }
}

/// The server's request metrics.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    /// Label values as `&'static str`, so recording a request allocates nothing: the set of
    /// routes, methods and statuses is small and fixed, so each is leaked once.
    labels: RwLock<HashSet<&'static str>>,
    /// Handles of the series seen so far.
    series: RwLock<HashMap<SeriesKey, Series>>,
}

impl Metrics {
    /// A recorder with the latency buckets above.
    pub fn new() -> Result<Metrics, ServerError> {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(REQUEST_SECONDS.to_string()),
                &LATENCY_BUCKETS_SECONDS,
            )
            .map_err(|err| ServerError::Task(format!("metrics setup: {err}")))?
            .build_recorder();
        let handle = recorder.handle();
        Ok(Metrics {
            recorder,
            handle,
            labels: RwLock::new(HashSet::new()),
            series: RwLock::new(HashMap::new()),
        })
    }

    /// The interned copy of a label value (or a fixed one once the bound is reached).
    fn intern(&self, value: &str) -> &'static str {
        if let Some(&interned) = self.labels.read().get(value) {
            return interned;
        }
        let mut labels = self.labels.write();
        if let Some(&interned) = labels.get(value) {
            return interned;
        }
        if labels.len() >= MAX_INTERNED_LABELS {
            return "other";
        }
        let interned: &'static str = Box::leak(value.to_string().into_boxed_str());
        labels.insert(interned);
        interned
    }

    /// Records one finished request. `route` is the route template (`/v1/collections/{collection}`),
    /// never the raw path, so series stay few.
    pub fn record(&self, method: &Method, route: &str, status: StatusCode, elapsed: Duration) {
        let key = (
            self.intern(method.as_str()),
            self.intern(route),
            self.intern(status.as_str()),
        );
        if let Some(series) = self.series.read().get(&key) {
            series.record(elapsed);
            return;
        }
        self.register(key).record(elapsed);
    }

    /// Registers a series' handles (and keeps them, up to [`MAX_CACHED_SERIES`]).
    fn register(&self, key: SeriesKey) -> Series {
        let (method, route, status) = key;
        let registered = metrics::with_local_recorder(&self.recorder, || Series {
            requests: metrics::counter!(REQUESTS_TOTAL, "method" => method, "route" => route, "status" => status),
            latency: metrics::histogram!(REQUEST_SECONDS, "method" => method, "route" => route),
        });
        let mut series = self.series.write();
        if series.len() < MAX_CACHED_SERIES {
            series.insert(key, registered.clone());
        }
        registered
    }

    /// The full scrape: request metrics, then database figures.
    pub fn render(&self, stats: &DatabaseStats) -> String {
        let mut out = self.handle.render();
        render_database(&mut out, stats);
        out
    }
}

/// Appends the database's figures in Prometheus text format.
pub fn render_database(out: &mut String, stats: &DatabaseStats) {
    let store = &stats.store;
    let counters: [(&str, &str, u64); 5] = [
        ("cairn_commits_total", "Storage commits (one per group commit) since start.", store.commits),
        ("cairn_fsyncs_total", "Durable storage commits, each one fsync, since start.", store.fsyncs),
        ("cairn_transactions_committed_total", "Transactions committed since start; divided by cairn_group_commits_total it is the mean group-commit batch size.", stats.transactions_committed),
        ("cairn_group_commits_total", "Group commits (batches of transactions sharing one storage commit) since start.", stats.group_commits),
        ("cairn_transaction_conflicts_total", "Transactions rejected for serialization conflicts since start.", stats.conflicts),
    ];
    for (name, help, value) in counters {
        metric(out, name, help, "counter", &[(None, value)]);
    }
    let gauges: [(&str, &str, u64); 6] = [
        (
            "cairn_last_sequence",
            "Sequence number of the latest commit.",
            stats.last_seq,
        ),
        (
            "cairn_changelog_entries",
            "Entries held in the change log.",
            stats.changelog_entries,
        ),
        (
            "cairn_changelog_bytes",
            "Bytes of pages used by the change log.",
            stats.changelog_bytes,
        ),
        (
            "cairn_disk_bytes",
            "Bytes the data file occupies on disk.",
            store.disk_bytes,
        ),
        (
            "cairn_cache_used_bytes",
            "Bytes held in the page cache.",
            store.cache_used_bytes,
        ),
        (
            "process_resident_memory_bytes",
            "Resident memory of the server process.",
            resident_memory_bytes(),
        ),
    ];
    for (name, help, value) in gauges {
        metric(out, name, help, "gauge", &[(None, value)]);
    }
    render_collections(out, stats);
}

/// Appends the per-collection gauges.
fn render_collections(out: &mut String, stats: &DatabaseStats) {
    let documents: Vec<_> = stats
        .collections
        .iter()
        .map(|c| (Some(c.name.as_str()), c.documents))
        .collect();
    metric(
        out,
        "cairn_collection_documents",
        "Documents per collection.",
        "gauge",
        &documents,
    );
    let bytes: Vec<_> = stats
        .collections
        .iter()
        .map(|c| (Some(c.name.as_str()), c.bytes))
        .collect();
    metric(
        out,
        "cairn_collection_bytes",
        "Bytes of pages per collection (documents and extensions).",
        "gauge",
        &bytes,
    );
}

/// Writes one metric family; each sample optionally labelled with a collection name.
fn metric(out: &mut String, name: &str, help: &str, kind: &str, samples: &[(Option<&str>, u64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (collection, value) in samples {
        match collection {
            // Collection names are ASCII letters, digits, `_` and `-`: nothing to escape.
            Some(collection) => {
                let _ = writeln!(out, "{name}{{collection=\"{collection}\"}} {value}");
            }
            None => {
                let _ = writeln!(out, "{name} {value}");
            }
        }
    }
}

/// Resident set size from `/proc/self/status` (`VmRSS`, in KiB); 0 where that file does not
/// exist.
fn resident_memory_bytes() -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return 0;
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kib| kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_database_figures_render_as_prometheus_text() {
        let metrics = Metrics::new().unwrap();
        metrics.record(
            &Method::GET,
            "/health",
            StatusCode::OK,
            Duration::from_millis(2),
        );
        let db = cairn::Database::open_in_memory().unwrap();
        db.create_collection("jobs").unwrap();
        let text = metrics.render(&db.stats().unwrap());
        assert!(
            text.contains(
                "cairn_http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("cairn_http_request_duration_seconds_bucket"));
        assert!(text.contains("cairn_collection_documents{collection=\"jobs\"} 0"));
        assert!(text.contains("# TYPE cairn_fsyncs_total counter"));
    }

    #[test]
    fn cached_series_keep_counting_and_stay_apart() {
        let metrics = Metrics::new().unwrap();
        let route = "/v1/collections/{collection}/documents/{id}";
        for status in [StatusCode::OK, StatusCode::OK, StatusCode::NOT_FOUND] {
            metrics.record(&Method::GET, route, status, Duration::from_micros(300));
        }
        metrics.record(
            &Method::PUT,
            route,
            StatusCode::OK,
            Duration::from_millis(3),
        );
        let text = metrics.handle.render();
        let counter = |method: &str, status: &str| {
            format!("cairn_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}}")
        };
        assert!(
            text.contains(&format!("{} 2", counter("GET", "200"))),
            "{text}"
        );
        assert!(
            text.contains(&format!("{} 1", counter("GET", "404"))),
            "{text}"
        );
        assert!(
            text.contains(&format!("{} 1", counter("PUT", "200"))),
            "{text}"
        );
        let latency = format!(
            "cairn_http_request_duration_seconds_count{{method=\"GET\",route=\"{route}\"}} 3"
        );
        assert!(text.contains(&latency), "{text}");
    }

    #[test]
    fn resident_memory_is_read_on_linux() {
        if std::path::Path::new("/proc/self/status").exists() {
            assert!(resident_memory_bytes() > 0);
        }
    }
}
