//! Query statistics per query shape (the anchors are PostgreSQL's `pg_stat_statements` and
//! MongoDB's profiler): how often each shape ran, its total, mean and p99 time, documents
//! examined against returned and matched, and its last plan; plus a log of the slowest recent queries.
//!
//! A *shape* is what stays when a query's constants are removed: the collection, the
//! operation, the filter with every constant replaced by `?` (keys sorted, so `{a, b}` and
//! `{b, a}` are one shape), the sort, and the pipeline's stage names. Queries that differ only
//! in their constants are one line, as in `pg_stat_statements`.
//!
//! The recorder is a plain value its callers feed ([`QueryStats::record`]): the query layer
//! knows nothing of who runs queries, and the server (or any other caller) owns one and feeds
//! it after each query. Memory is bounded: at most [`MAX_QUERY_SHAPES`] shapes (the least-run
//! shape is evicted for a new one, and evictions are counted), shape and plan texts cut at
//! [`MAX_SHAPE_TEXT_BYTES`], and [`MAX_SLOW_QUERIES`] entries in the slow-query log. Time is
//! kept per shape in a fixed histogram of [`TIME_BUCKETS`] logarithmic buckets, so p99 costs no
//! memory per run; it is reported as its bucket's upper bound (at most 19% above the truth).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use cairn_doc::Value;

use crate::limits::{MAX_QUERY_SHAPES, MAX_SHAPE_TEXT_BYTES, MAX_SLOW_QUERIES};

/// Buckets of the time histogram: bucket `i` holds times in `[2^(i/4), 2^((i+1)/4))`
/// microseconds, so 160 buckets reach past 10^12 µs (11 days); the last one takes the rest.
pub const TIME_BUCKETS: usize = 160;

/// A shape "misses an index" when its runs examine at least this many times the documents
/// their filter matches...
pub const MISSING_INDEX_RATIO: u64 = 10;
/// ...and at least this many documents per run on average (tiny collections are fine
/// scanned), with a last plan that scanned the whole collection.
pub const MISSING_INDEX_MIN_EXAMINED: u64 = 100;

/// One query that ran, as its caller saw it.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    /// The collection queried.
    pub collection: &'a str,
    /// `find`, `explain`, `count`, `distinct` or `aggregate`.
    pub operation: &'static str,
    /// The filter as sent (its constants are removed here), if any.
    pub filter: Option<&'a Value>,
    /// The sort as sent, if any.
    pub sort: Option<&'a Value>,
    /// The pipeline's stage names (`$match`, `$group`...), empty for other operations.
    pub stages: &'a [&'static str],
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Index entries and primary keys read (0 when the operation does not count them).
    pub keys_examined: u64,
    /// Documents read and tested (0 when the operation does not count them).
    pub docs_examined: u64,
    /// Documents returned (`count`: the documents counted; `distinct`: the values; a
    /// pipeline: the documents its last stage produced).
    pub returned: u64,
    /// Documents the filter matched, when the operation returns something else (`distinct`
    /// returns values, a pipeline may group what matched); `None` when it is `returned`. Whether an index would help is judged on examined
    /// against matched: a `$group` over every document examines as many as it matches.
    pub matched: Option<u64>,
    /// The plan that ran (`full scan`, `index by_age [18, +inf)`...), when known.
    pub plan: Option<&'a str>,
}

/// What identifies a shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ShapeKey {
    collection: String,
    operation: &'static str,
    filter: String,
    sort: String,
    stages: Vec<&'static str>,
}

/// Running totals of one shape.
#[derive(Debug, Clone)]
struct ShapeEntry {
    count: u64,
    total_us: u64,
    buckets: Box<[u32; TIME_BUCKETS]>,
    keys_examined: u64,
    docs_examined: u64,
    returned: u64,
    matched: u64,
    last_plan: String,
}

/// One shape's figures, as [`QueryStats::snapshot`] reports them.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapeSummary {
    /// The collection.
    pub collection: String,
    /// The operation (`find`...).
    pub operation: &'static str,
    /// The filter with constants replaced by `?`.
    pub filter: String,
    /// The sort (`{}` when none).
    pub sort: String,
    /// The pipeline's stage names.
    pub stages: Vec<&'static str>,
    /// Runs.
    pub count: u64,
    /// Total time, microseconds.
    pub total_us: u64,
    /// Mean time, microseconds.
    pub mean_us: f64,
    /// 99th percentile of the time, microseconds (its histogram bucket's upper bound).
    pub p99_us: f64,
    /// Index entries and primary keys read, over all runs.
    pub keys_examined: u64,
    /// Documents examined, over all runs.
    pub docs_examined: u64,
    /// Documents returned, over all runs.
    pub returned: u64,
    /// Documents the filter matched, over all runs (what is returned, for `find` and
    /// `explain`).
    pub matched: u64,
    /// The plan of the last run (empty when the operation reports none).
    pub last_plan: String,
    /// Its runs read far more documents than they return with a full scan: an index on the
    /// filtered fields would likely help.
    pub missing_index: bool,
}

/// One entry of the slow-query log.
#[derive(Debug, Clone, PartialEq)]
pub struct SlowQuery {
    /// When it finished.
    pub at: SystemTime,
    /// The collection.
    pub collection: String,
    /// The operation.
    pub operation: &'static str,
    /// The filter's shape (constants removed: the log is readable by admins who may not read
    /// the collection's values).
    pub filter: String,
    /// The sort.
    pub sort: String,
    /// The pipeline's stage names.
    pub stages: Vec<&'static str>,
    /// Its time, microseconds.
    pub elapsed_us: u64,
    /// Documents examined.
    pub docs_examined: u64,
    /// Documents returned.
    pub returned: u64,
    /// The plan that ran.
    pub plan: String,
}

/// Everything recorded, at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsSnapshot {
    /// Shapes, by total time descending.
    pub shapes: Vec<ShapeSummary>,
    /// The slow-query log, newest first.
    pub slow: Vec<SlowQuery>,
    /// Shapes evicted to make room since the start (or the last reset).
    pub evicted: u64,
    /// Queries at or above this time enter the slow-query log.
    pub slow_threshold: Duration,
}

#[derive(Debug, Default)]
struct Inner {
    shapes: HashMap<ShapeKey, ShapeEntry>,
    slow: std::collections::VecDeque<SlowQuery>,
    evicted: u64,
}

/// The recorder: cheap to feed (one short lock per query), bounded in memory.
#[derive(Debug)]
pub struct QueryStats {
    inner: Mutex<Inner>,
    slow_threshold: Duration,
}

impl QueryStats {
    /// A recorder whose slow-query log takes queries of at least `slow_threshold`.
    pub fn new(slow_threshold: Duration) -> QueryStats {
        QueryStats {
            inner: Mutex::new(Inner::default()),
            slow_threshold,
        }
    }

    /// The slow-query threshold.
    pub fn slow_threshold(&self) -> Duration {
        self.slow_threshold
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves at worst one half-updated counter: keep going.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds one run; returns whether it was slow (so the caller can also log it).
    pub fn record(&self, observation: &Observation<'_>) -> bool {
        let key = ShapeKey {
            collection: observation.collection.to_string(),
            operation: observation.operation,
            filter: observation
                .filter
                .map_or_else(|| "{}".to_string(), shape_of),
            sort: observation
                .sort
                .map_or_else(|| "{}".to_string(), sort_shape),
            stages: observation.stages.to_vec(),
        };
        let elapsed_us = u64::try_from(observation.elapsed.as_micros()).unwrap_or(u64::MAX);
        let plan = observation.plan.map(cut).unwrap_or_default();
        let slow = observation.elapsed >= self.slow_threshold;
        let mut inner = self.lock();
        if slow {
            if inner.slow.len() >= MAX_SLOW_QUERIES {
                inner.slow.pop_back();
            }
            inner.slow.push_front(SlowQuery {
                at: SystemTime::now(),
                collection: key.collection.clone(),
                operation: key.operation,
                filter: key.filter.clone(),
                sort: key.sort.clone(),
                stages: key.stages.clone(),
                elapsed_us,
                docs_examined: observation.docs_examined,
                returned: observation.returned,
                plan: plan.clone(),
            });
        }
        if !inner.shapes.contains_key(&key) && inner.shapes.len() >= MAX_QUERY_SHAPES {
            evict_least_run(&mut inner);
        }
        let entry = inner.shapes.entry(key).or_insert_with(|| ShapeEntry {
            count: 0,
            total_us: 0,
            buckets: Box::new([0; TIME_BUCKETS]),
            keys_examined: 0,
            docs_examined: 0,
            returned: 0,
            matched: 0,
            last_plan: String::new(),
        });
        entry.count += 1;
        entry.total_us = entry.total_us.saturating_add(elapsed_us);
        let bucket = &mut entry.buckets[bucket_of(elapsed_us)];
        *bucket = bucket.saturating_add(1);
        entry.keys_examined = entry
            .keys_examined
            .saturating_add(observation.keys_examined);
        entry.docs_examined = entry
            .docs_examined
            .saturating_add(observation.docs_examined);
        entry.returned = entry.returned.saturating_add(observation.returned);
        entry.matched = entry
            .matched
            .saturating_add(observation.matched.unwrap_or(observation.returned));
        if !plan.is_empty() {
            entry.last_plan = plan;
        }
        slow
    }

    /// Every shape (by total time, descending) and the slow-query log.
    pub fn snapshot(&self) -> StatsSnapshot {
        let inner = self.lock();
        let mut shapes: Vec<ShapeSummary> = inner
            .shapes
            .iter()
            .map(|(key, entry)| summary(key, entry))
            .collect();
        shapes.sort_by(|a, b| b.total_us.cmp(&a.total_us).then(a.filter.cmp(&b.filter)));
        StatsSnapshot {
            shapes,
            slow: inner.slow.iter().cloned().collect(),
            evicted: inner.evicted,
            slow_threshold: self.slow_threshold,
        }
    }

    /// Forgets everything recorded (like `pg_stat_statements_reset()`).
    pub fn reset(&self) {
        *self.lock() = Inner::default();
    }
}

/// Removes the shape run least often (the oldest-looking, cheapest one on ties).
fn evict_least_run(inner: &mut Inner) {
    let victim = inner
        .shapes
        .iter()
        .min_by_key(|(_, entry)| (entry.count, entry.total_us))
        .map(|(key, _)| key.clone());
    if let Some(victim) = victim {
        inner.shapes.remove(&victim);
        inner.evicted += 1;
    }
}

fn summary(key: &ShapeKey, entry: &ShapeEntry) -> ShapeSummary {
    let count = entry.count.max(1);
    let missing_index = entry.last_plan == "full scan"
        && entry.docs_examined / count >= MISSING_INDEX_MIN_EXAMINED
        && entry.docs_examined >= MISSING_INDEX_RATIO.saturating_mul(entry.matched.max(1));
    ShapeSummary {
        collection: key.collection.clone(),
        operation: key.operation,
        filter: key.filter.clone(),
        sort: key.sort.clone(),
        stages: key.stages.clone(),
        count: entry.count,
        total_us: entry.total_us,
        mean_us: entry.total_us as f64 / count as f64,
        p99_us: percentile(&entry.buckets, entry.count, 0.99),
        keys_examined: entry.keys_examined,
        docs_examined: entry.docs_examined,
        returned: entry.returned,
        matched: entry.matched,
        last_plan: entry.last_plan.clone(),
        missing_index,
    }
}

/// The histogram bucket of a time in microseconds.
fn bucket_of(us: u64) -> usize {
    if us <= 1 {
        return 0;
    }
    // floor(4 * log2(us)), computed exactly enough in f64 for bucket boundaries.
    let index = (4.0 * (us as f64).log2()).floor() as usize;
    index.min(TIME_BUCKETS - 1)
}

/// The upper bound of the bucket holding the `q` quantile of `count` runs.
fn percentile(buckets: &[u32; TIME_BUCKETS], count: u64, q: f64) -> f64 {
    let rank = ((count as f64) * q).ceil().max(1.0) as u64;
    let mut seen = 0u64;
    for (index, &n) in buckets.iter().enumerate() {
        seen += u64::from(n);
        if seen >= rank {
            return 2f64.powf((index + 1) as f64 / 4.0);
        }
    }
    2f64.powf(TIME_BUCKETS as f64 / 4.0)
}

/// A filter with its constants replaced by `?`: field names and operators stay, object keys
/// are sorted, a list of constants (`$in: [1, 2, 3]`) becomes one `?`.
pub fn shape_of(value: &Value) -> String {
    let mut out = String::new();
    write_shape(value, &mut out);
    cut(&out)
}

fn write_shape(value: &Value, out: &mut String) {
    match value {
        Value::Object(object) => {
            let mut entries: Vec<(&str, &Value)> = object.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, child)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "{key:?}: ");
                write_shape(child, out);
            }
            out.push('}');
        }
        Value::Array(items) if items.iter().any(is_composite) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_shape(item, out);
            }
            out.push(']');
        }
        _ => out.push('?'),
    }
}

fn is_composite(value: &Value) -> bool {
    matches!(value, Value::Object(_) | Value::Array(_))
}

/// A sort keeps its directions (they change the plan), with keys in their given order.
fn sort_shape(value: &Value) -> String {
    let Value::Object(object) = value else {
        return "?".to_string();
    };
    let mut out = String::from("{");
    for (i, (key, direction)) in object.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let direction = match direction {
            Value::Int(n) => n.to_string(),
            _ => "?".to_string(),
        };
        let _ = write!(out, "{key:?}: {direction}");
    }
    out.push('}');
    cut(&out)
}

/// Cuts a text at [`MAX_SHAPE_TEXT_BYTES`] (on a character boundary), marking the cut.
fn cut(text: &str) -> String {
    if text.len() <= MAX_SHAPE_TEXT_BYTES {
        return text.to_string();
    }
    let mut end = MAX_SHAPE_TEXT_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Value {
        Value::from_json_expression(text).unwrap()
    }

    fn run(stats: &QueryStats, filter: &str, us: u64, examined: u64, returned: u64) -> bool {
        let filter = json(filter);
        stats.record(&Observation {
            collection: "people",
            operation: "find",
            filter: Some(&filter),
            sort: None,
            stages: &[],
            elapsed: Duration::from_micros(us),
            keys_examined: 0,
            docs_examined: examined,
            returned,
            matched: None,
            plan: Some("full scan"),
        })
    }

    #[test]
    fn queries_differing_in_constants_are_one_shape() {
        let stats = QueryStats::new(Duration::from_secs(1));
        run(
            &stats,
            r#"{"age": {"$gte": 18}, "city": "Oslo"}"#,
            100,
            1000,
            3,
        );
        run(
            &stats,
            r#"{"city": "Rome", "age": {"$gte": 65}}"#,
            300,
            1000,
            5,
        );
        run(&stats, r#"{"city": {"$in": ["a", "b", "c"]}}"#, 50, 10, 1);
        let snapshot = stats.snapshot();
        assert_eq!(snapshot.shapes.len(), 2, "{snapshot:?}");
        let first = &snapshot.shapes[0];
        assert_eq!(first.filter, r#"{"age": {"$gte": ?}, "city": ?}"#);
        assert_eq!(first.count, 2);
        assert_eq!(first.total_us, 400);
        assert_eq!(first.mean_us, 200.0);
        assert_eq!((first.docs_examined, first.returned), (2000, 8));
        assert!(first.missing_index);
        assert!(
            first.p99_us >= 300.0 && first.p99_us < 300.0 * 1.19,
            "{}",
            first.p99_us
        );
        assert_eq!(snapshot.shapes[1].filter, r#"{"city": {"$in": ?}}"#);
        assert!(!snapshot.shapes[1].missing_index, "examines few documents");
    }

    #[test]
    fn the_slow_log_takes_queries_over_the_threshold_and_stays_bounded() {
        let stats = QueryStats::new(Duration::from_millis(5));
        assert!(!run(&stats, r#"{"a": 1}"#, 4_999, 1, 1));
        for _ in 0..MAX_SLOW_QUERIES + 10 {
            assert!(run(&stats, r#"{"a": 1}"#, 5_000, 1, 1));
        }
        let snapshot = stats.snapshot();
        assert_eq!(snapshot.slow.len(), MAX_SLOW_QUERIES);
        assert_eq!(snapshot.slow[0].filter, r#"{"a": ?}"#);
        assert_eq!(snapshot.slow[0].elapsed_us, 5_000);
    }

    #[test]
    fn shapes_kept_are_bounded_and_evictions_counted() {
        let stats = QueryStats::new(Duration::from_secs(1));
        // A popular shape survives a flood of one-off shapes.
        for _ in 0..5 {
            run(&stats, r#"{"popular": 1}"#, 10, 1, 1);
        }
        for i in 0..MAX_QUERY_SHAPES + 50 {
            run(&stats, &format!(r#"{{"field_{i}": 1}}"#), 10, 1, 1);
        }
        let snapshot = stats.snapshot();
        assert_eq!(snapshot.shapes.len(), MAX_QUERY_SHAPES);
        assert_eq!(snapshot.evicted, 51);
        assert!(snapshot
            .shapes
            .iter()
            .any(|s| s.filter == r#"{"popular": ?}"#));
        stats.reset();
        assert!(stats.snapshot().shapes.is_empty());
    }

    /// A pipeline that groups everything it reads returns few documents, yet an index could
    /// not help it: the missing-index judgement compares examined with matched.
    #[test]
    fn missing_index_is_judged_on_what_the_filter_matched() {
        let stats = QueryStats::new(Duration::from_secs(1));
        let all = json("{}");
        let selective = json(r#"{"kind": "rare"}"#);
        for (operation, filter, matched) in
            [("aggregate", &all, 5_000), ("distinct", &selective, 3)]
        {
            stats.record(&Observation {
                collection: "people",
                operation,
                filter: Some(filter),
                sort: None,
                stages: &["$group"],
                elapsed: Duration::from_micros(100),
                keys_examined: 0,
                docs_examined: 5_000,
                returned: 1,
                matched: Some(matched),
                plan: Some("full scan"),
            });
        }
        let snapshot = stats.snapshot();
        let of = |operation: &str| {
            snapshot
                .shapes
                .iter()
                .find(|s| s.operation == operation)
                .unwrap()
        };
        assert_eq!(of("aggregate").matched, 5_000);
        assert!(!of("aggregate").missing_index, "a whole-collection $group");
        assert_eq!(of("distinct").returned, 1);
        assert!(
            of("distinct").missing_index,
            "a selective distinct by full scan"
        );
    }

    #[test]
    fn long_shapes_are_cut() {
        let fields: Vec<String> = (0..2000).map(|i| format!(r#""f{i}": 1"#)).collect();
        let shape = shape_of(&json(&format!("{{{}}}", fields.join(","))));
        assert!(shape.len() <= MAX_SHAPE_TEXT_BYTES + '…'.len_utf8());
        assert!(shape.ends_with('…'));
    }

    #[test]
    fn histogram_buckets_cover_every_time() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(u64::MAX), TIME_BUCKETS - 1);
        assert!(bucket_of(1_000) < bucket_of(1_200));
    }
}
