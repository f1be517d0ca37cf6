//! `/v1/stats/queries`: the query statistics per shape and the slow-query log (admins only:
//! shapes name every collection, and a read-only user of one collection should not learn
//! what is asked of the others). The query routes feed the recorder ([`note`]); a query at or
//! above `[limits] slow_query_ms` is also logged as a warning.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use cairn::query::{Observation, ShapeSummary, SlowQuery};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api_error::ApiError;
use crate::auth::credentials::Credentials;
use crate::auth::Need;
use crate::openapi::ErrorResponses;
use crate::state::{AppState, SharedState};
use cairn::query::limits::MAX_QUERY_SHAPES;

/// Records one query run, and logs it when it was slow.
pub fn note(state: &AppState, observation: &Observation<'_>) {
    if state.query_stats.record(observation) {
        tracing::warn!(
            collection = observation.collection,
            operation = observation.operation,
            elapsed_ms = observation.elapsed.as_secs_f64() * 1000.0,
            docs_examined = observation.docs_examined,
            returned = observation.returned,
            plan = observation.plan.unwrap_or(""),
            filter = %observation.filter.map_or_else(
                || "{}".to_string(),
                cairn::query::shape_of
            ),
            "slow query"
        );
    }
}

/// One query shape's figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShapeView {
    /// The collection.
    pub collection: String,
    /// `find`, `explain`, `count`, `distinct` or `aggregate`.
    pub operation: String,
    /// The filter with its constants replaced by `?` (for `aggregate`, its leading `$match`).
    pub filter: String,
    /// The sort (`{}` when none).
    pub sort: String,
    /// The pipeline's stage names (`aggregate` only).
    pub stages: Vec<String>,
    /// Runs.
    pub count: u64,
    /// Total time, milliseconds.
    pub total_ms: f64,
    /// Mean time, milliseconds.
    pub mean_ms: f64,
    /// 99th percentile, milliseconds (a histogram bucket's upper bound: up to 19% high).
    pub p99_ms: f64,
    /// Index entries and primary keys read, all runs.
    pub keys_examined: u64,
    /// Documents examined, all runs (for `aggregate`, in the source collection; 0 for
    /// `as_of` counts and distincts, which do not count them).
    pub docs_examined: u64,
    /// Documents returned, all runs (`count`: documents counted; `distinct`: values;
    /// `aggregate`: the last stage's output).
    pub returned: u64,
    /// Documents the filter matched, all runs (what `missing_index` weighs against
    /// `docs_examined`; equal to `returned` for `find` and `explain`).
    pub matched: u64,
    /// The last run's plan.
    pub last_plan: String,
    /// Runs read at least ten times the documents they match, at least 100 per run, with a
    /// full scan: an index on the filtered fields would likely help.
    pub missing_index: bool,
}

/// One slow query.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlowView {
    /// When it finished (RFC 3339, UTC).
    pub at: String,
    /// The collection.
    pub collection: String,
    /// The operation.
    pub operation: String,
    /// The filter's shape (constants removed).
    pub filter: String,
    /// The sort.
    pub sort: String,
    /// The pipeline's stage names.
    pub stages: Vec<String>,
    /// Its time, milliseconds.
    pub ms: f64,
    /// Documents examined.
    pub docs_examined: u64,
    /// Documents returned.
    pub returned: u64,
    /// The plan that ran.
    pub plan: String,
}

/// The statistics since the server started (or since the last reset).
#[derive(Debug, Serialize, ToSchema)]
pub struct QueryStatsView {
    /// Shapes, most total time first.
    pub shapes: Vec<ShapeView>,
    /// The slow-query log, newest first (at most 100).
    pub slow: Vec<SlowView>,
    /// Queries at or above this many milliseconds enter the slow-query log.
    pub slow_threshold_ms: u64,
    /// Shapes kept at most; the least-run shape makes room for a new one.
    pub max_shapes: usize,
    /// Shapes evicted so far to stay within `max_shapes`.
    pub evicted: u64,
}

fn ms(us: f64) -> f64 {
    (us / 10.0).round() / 100.0
}

fn shape_view(shape: ShapeSummary) -> ShapeView {
    ShapeView {
        collection: shape.collection,
        operation: shape.operation.to_string(),
        filter: shape.filter,
        sort: shape.sort,
        stages: shape.stages.iter().map(|s| s.to_string()).collect(),
        count: shape.count,
        total_ms: ms(shape.total_us as f64),
        mean_ms: ms(shape.mean_us),
        p99_ms: ms(shape.p99_us),
        keys_examined: shape.keys_examined,
        docs_examined: shape.docs_examined,
        returned: shape.returned,
        matched: shape.matched,
        last_plan: shape.last_plan,
        missing_index: shape.missing_index,
    }
}

fn rfc3339(at: std::time::SystemTime) -> String {
    let micros = at
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
    cairn::DateTime::from_micros(micros)
        .to_rfc3339()
        .unwrap_or_default()
}

fn slow_view(slow: SlowQuery) -> SlowView {
    SlowView {
        at: rfc3339(slow.at),
        collection: slow.collection,
        operation: slow.operation.to_string(),
        filter: slow.filter,
        sort: slow.sort,
        stages: slow.stages.iter().map(|s| s.to_string()).collect(),
        ms: ms(slow.elapsed_us as f64),
        docs_examined: slow.docs_examined,
        returned: slow.returned,
        plan: slow.plan,
    }
}

/// Query statistics per shape (count, total/mean/p99 time, documents examined against
/// returned, last plan, missing-index hint) and the slow-query log. Admins only.
#[utoipa::path(get, operation_id = "query_statistics", path = "/v1/stats/queries", tag = "system",
    responses((status = 200, description = "The statistics", body = QueryStatsView), ErrorResponses))]
pub async fn queries(
    State(state): State<SharedState>,
    credentials: Credentials,
) -> Result<Json<QueryStatsView>, ApiError> {
    let recorder = state.clone();
    let snapshot = state
        .read(credentials, Need::Admin, move |_, _| {
            Ok(recorder.query_stats.snapshot())
        })
        .await?;
    Ok(Json(QueryStatsView {
        slow_threshold_ms: u64::try_from(snapshot.slow_threshold.as_millis()).unwrap_or(u64::MAX),
        max_shapes: MAX_QUERY_SHAPES,
        evicted: snapshot.evicted,
        shapes: snapshot.shapes.into_iter().map(shape_view).collect(),
        slow: snapshot.slow.into_iter().map(slow_view).collect(),
    }))
}

/// Forgets the query statistics and the slow-query log. Admins only.
#[utoipa::path(delete, operation_id = "reset_query_statistics", path = "/v1/stats/queries", tag = "system",
    responses((status = 204, description = "Reset"), ErrorResponses))]
pub async fn reset(
    State(state): State<SharedState>,
    credentials: Credentials,
) -> Result<StatusCode, ApiError> {
    let recorder = state.clone();
    state
        .read(credentials, Need::Admin, move |_, _| {
            recorder.query_stats.reset();
            Ok(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
