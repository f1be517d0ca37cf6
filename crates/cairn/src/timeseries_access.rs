//! Time-series collections for the query language: a time-series collection's points, each
//! as the document `{time_field: t, meta_field: series, ...values}`, are the collection's
//! documents for `find`, `count`, `distinct`, `explain`, pipelines, `delete_many` (which
//! deletes the matching points) and `update_many` (which deletes each matching point and
//! appends its patched form: a patch may change values, the time — the point moves — or the
//! series; like any append, a point written at a time its series already holds replaces it).
//! The source reads them from the chunks, leaving out whole series and chunks the filter's
//! top-level conditions exclude:
//! * conditions on the meta field (or a path inside it) are tested on each series' key once,
//!   so series that fail them are never read (`series_skipped`);
//! * integer bounds on the time field (`$eq`, `$gt`, `$gte`, `$lt`, `$lte`, `$in`) limit the
//!   chunk spans visited, and chunks whose header shows no time in range are not decoded
//!   (`chunks_skipped`, `chunks_decoded`).
//!
//! The executor re-checks the whole filter on every point, so pruning only saves work. Times
//! read as integers (a `DateTime` time field's microseconds), as the time-series API gives
//! them.
//!
//! It lives in the facade because it joins two crates that must not know each other: the
//! time-series layer knows no query language, and the query layer knows no chunks.

use std::sync::Arc;

use cairn_doc::Value;
use cairn_engine::Transaction;
use cairn_query::access::{AccessMethod, DocumentSource, QueryModel, ScanContext};
use cairn_query::{Filter, Op, QueryError, Result};
use cairn_timeseries::{scan_points, SeriesOptions, TsError};

/// The time-series model: no operators or indexes, a source per time-series collection.
pub struct TimeSeriesQueryModel;

impl QueryModel for TimeSeriesQueryModel {
    fn name(&self) -> &'static str {
        "timeseries"
    }

    fn access_methods(
        &self,
        _txn: &mut Transaction,
        _collection: &str,
        _filter: &Filter,
    ) -> Result<Vec<Arc<dyn AccessMethod>>> {
        Ok(Vec::new())
    }

    fn source(
        &self,
        txn: &mut Transaction,
        collection: &str,
    ) -> Result<Option<Arc<dyn DocumentSource>>> {
        match cairn_timeseries::options(txn, collection) {
            Ok(options) => Ok(Some(Arc::new(PointSource {
                collection: collection.to_string(),
                options,
            }))),
            // Not a time-series collection, or none at all (the caller's own read of it
            // reports that).
            Err(TsError::NotTimeSeries { .. })
            | Err(TsError::Engine(cairn_engine::EngineError::UnknownCollection { .. })) => Ok(None),
            Err(err) => Err(query_error(err)),
        }
    }
}

fn query_error(err: TsError) -> QueryError {
    match err {
        TsError::Engine(engine) => QueryError::Engine(engine),
        other => QueryError::Model(Box::new(other)),
    }
}

/// An error of the scan: the time-series layer's, or the query's own (a timed-out budget).
enum ScanError {
    Ts(TsError),
    Query(QueryError),
}

impl From<TsError> for ScanError {
    fn from(err: TsError) -> ScanError {
        ScanError::Ts(err)
    }
}

/// The points of one time-series collection as documents.
struct PointSource {
    collection: String,
    options: SeriesOptions,
}

impl DocumentSource for PointSource {
    fn describe(&self) -> String {
        format!(
            "time-series chunks of `{}` (series by `{}`, time range on `{}`)",
            self.collection, self.options.meta_field, self.options.time_field
        )
    }

    fn scan(
        &self,
        cx: &mut ScanContext<'_>,
        filter: &Filter,
        visit: &mut dyn FnMut(&[u8], Value) -> Result<bool>,
    ) -> Result<()> {
        let mut conjuncts = Vec::new();
        flatten(filter, &mut conjuncts);
        let meta = &self.options.meta_field;
        let time = &self.options.time_field;
        let on_meta: Vec<Filter> = conjuncts
            .iter()
            .filter(|c| matches!(c, Filter::Field(path, _) if path.first() == meta.as_str()))
            .map(|c| (*c).clone())
            .collect();
        let on_meta = Filter::And(on_meta);
        let mut keep_series = |series: &Value| {
            let mut doc = cairn_doc::Object::new();
            doc.insert(meta.as_str(), series.clone());
            on_meta.matches(&Value::Object(doc))
        };
        let range = time_range(&conjuncts, time);
        let mut emit = |key: &[u8], series: &Value, point: cairn_timeseries::Point| {
            let doc = point.to_document(time, meta, series);
            visit(key, doc).map_err(ScanError::Query)
        };
        let scanned = scan_points(cx.txn, &self.collection, range, &mut keep_series, &mut emit);
        let stats = match scanned {
            Ok(stats) => stats,
            Err(ScanError::Query(err)) => return Err(err),
            Err(ScanError::Ts(err)) => return Err(query_error(err)),
        };
        cx.count("series_read", stats.series_read);
        cx.count("series_skipped", stats.series_skipped);
        cx.count("chunks_decoded", stats.chunks_decoded);
        cx.count("chunks_skipped", stats.chunks_skipped);
        Ok(())
    }

    fn delete(&self, txn: &mut Transaction, keys: &[Vec<u8>]) -> Result<u64> {
        cairn_timeseries::delete_points(txn, &self.collection, keys).map_err(query_error)
    }

    fn rewrite(&self, txn: &mut Transaction, keys: &[Vec<u8>], documents: &[Value]) -> Result<()> {
        // All deletes first: a patched point may land on the time of another matched point.
        cairn_timeseries::delete_points(txn, &self.collection, keys).map_err(query_error)?;
        cairn_timeseries::insert_documents(txn, &self.collection, documents).map_err(query_error)
    }
}

/// The top-level conjuncts of `filter` (through nested `$and`s).
fn flatten<'f>(filter: &'f Filter, out: &mut Vec<&'f Filter>) {
    match filter {
        Filter::And(parts) => parts.iter().for_each(|part| flatten(part, out)),
        other => out.push(other),
    }
}

/// The time range `[from, to)` the top-level conditions on `time` (exactly that field)
/// allow, from their integer operands; other operators and operands leave it wider (the
/// executor's re-check decides).
fn time_range(conjuncts: &[&Filter], time: &str) -> (i64, i128) {
    let (mut from, mut to) = (i64::MIN, i128::from(i64::MAX) + 1);
    for conjunct in conjuncts {
        let Filter::Field(path, ops) = conjunct else {
            continue;
        };
        if path.segments().len() != 1 || path.first() != time {
            continue;
        }
        for op in ops {
            let (lo, hi) = op_range(op);
            from = from.max(lo);
            to = to.min(hi);
        }
    }
    (from, to)
}

/// The times one operator can hold for, as `[from, to)`; everything when it does not bound
/// an integer time.
fn op_range(op: &Op) -> (i64, i128) {
    let all = (i64::MIN, i128::from(i64::MAX) + 1);
    let int = |v: &Value| match v {
        Value::Int(t) => Some(*t),
        _ => None,
    };
    match op {
        Op::Eq(v) => int(v).map_or(all, |t| (t, i128::from(t) + 1)),
        Op::Gt(v) => int(v).map_or(all, |t| match t.checked_add(1) {
            Some(next) => (next, all.1),
            None => (i64::MAX, i128::from(i64::MAX)),
        }),
        Op::Gte(v) => int(v).map_or(all, |t| (t, all.1)),
        Op::Lt(v) => int(v).map_or(all, |t| (i64::MIN, i128::from(t))),
        Op::Lte(v) => int(v).map_or(all, |t| (i64::MIN, i128::from(t) + 1)),
        Op::In(values) => {
            let times: Option<Vec<i64>> = values.iter().map(int).collect();
            match times {
                Some(times) if !times.is_empty() => {
                    let lo = times.iter().copied().min().unwrap_or(i64::MIN);
                    let hi = times.iter().copied().max().unwrap_or(i64::MAX);
                    (lo, i128::from(hi) + 1)
                }
                Some(_) => (0, 0),
                None => all,
            }
        }
        _ => all,
    }
}
