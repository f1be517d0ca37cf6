//! `/v1/collections/{collection}/query | count | distinct | explain | aggregate`: the query
//! layer over HTTP, with what `cairn query | count | explain | aggregate` offer on the command
//! line. Every query runs on one snapshot on the server's scan lane of reader threads (so it
//! never holds up point reads), under a time budget that ends with the request's deadline (so
//! it stops itself instead of running on after a 408, however long it was queued).

use std::time::{Duration, Instant};

use axum::extract::State;
use axum::Json;
use cairn::query::aggregate::Stage;
use cairn::query::{parse_sort, Pipeline, Projection};
use cairn::{AsOf, DateTime, Filter, JsonExpression, Query, Value};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api_error::ApiError;
use crate::auth::credentials::Credentials;
use crate::auth::{Access, Need};
use crate::body::{JsonBody, OptionalJsonBody};
use crate::collection_name::{self, CollectionName};
use crate::limits::{DEFAULT_QUERY_PAGE, MAX_QUERY_PAGE, MAX_QUERY_SKIP, MAX_QUERY_TIME_MS};
use crate::openapi::{
    AnyValueSchema, ErrorResponses, FilterSchema, PipelineSchema, ProjectionSchema, SortSchema,
};
use crate::response::{capped_json, JsonBytes};
use crate::routes::stats;
use crate::state::SharedState;
use cairn::query::Observation;
use cairn::query::{count_observed, distinct_observed, Observed};

/// Body of a query (and of `explain`); every field is optional.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    /// Which documents (default: all).
    #[schema(value_type = Option<FilterSchema>)]
    #[serde(default)]
    pub filter: Option<JsonExpression>,
    /// Order (default: `_id` ascending).
    #[schema(value_type = Option<SortSchema>)]
    #[serde(default)]
    pub sort: Option<JsonExpression>,
    /// Matching documents to skip first (at most 100,000; page with `cursor` beyond).
    #[schema(value_type = Option<u64>, minimum = 0, maximum = 100_000)]
    #[serde(default)]
    pub skip: Option<usize>,
    /// Documents to return: default 1,000, at most 100,000. When more match, the response
    /// carries a `cursor`.
    #[schema(value_type = Option<u64>, minimum = 0, maximum = 100_000)]
    #[serde(default)]
    pub limit: Option<usize>,
    /// Which fields to return.
    #[schema(value_type = Option<ProjectionSchema>)]
    #[serde(default)]
    pub projection: Option<JsonExpression>,
    /// Continue after this cursor (from the previous page of the same filter and sort).
    #[serde(default)]
    pub cursor: Option<String>,
    /// Stop with 408 `query_timeout` after this many milliseconds (default: the server's
    /// request timeout, which also caps it; at most 86,400,000).
    #[schema(value_type = Option<u64>, minimum = 0, maximum = 86_400_000)]
    #[serde(default)]
    pub max_time_ms: Option<u64>,
    /// Read the collection as it was at this point: a commit sequence number (`"1234"`) or
    /// an RFC 3339 time, within change-log retention (410 `change_log_trimmed` before it,
    /// 422 `as_of_unavailable` after the latest commit or before the collection's creation,
    /// drop or rename). Runs as a scan (indexes describe the present); no cursor.
    #[schema(value_type = Option<String>, max_length = 64)]
    #[serde(default)]
    pub as_of: Option<String>,
}

/// One page of query results.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueryResponse {
    /// The documents, in order, projected.
    #[schema(value_type = Vec<Object>)]
    pub documents: Vec<Value>,
    /// Pass as `cursor` (same filter and sort) for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// Body of `count`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CountRequest {
    /// Which documents (default: all).
    #[schema(value_type = Option<FilterSchema>)]
    #[serde(default)]
    pub filter: Option<JsonExpression>,
    /// Count as of this point: a commit sequence number (`"1234"`) or an RFC 3339 time, as
    /// in `query`.
    #[schema(value_type = Option<String>, max_length = 64)]
    #[serde(default)]
    pub as_of: Option<String>,
}

/// The number of matching documents.
#[derive(Debug, Serialize, ToSchema)]
pub struct CountResponse {
    /// How many documents match.
    pub count: u64,
}

/// Body of `distinct`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DistinctRequest {
    /// The field path whose values to collect (array elements count separately).
    #[schema(pattern = r"^[^.$][^.]*(\.[^.$][^.]*)*$")]
    pub field: String,
    /// Which documents (default: all).
    #[schema(value_type = Option<FilterSchema>)]
    #[serde(default)]
    pub filter: Option<JsonExpression>,
    /// Time travel: the values as of this commit sequence number or RFC 3339 time (by scan;
    /// errors as for `query`).
    #[schema(value_type = Option<String>, max_length = 64)]
    #[serde(default)]
    pub as_of: Option<String>,
}

/// The distinct values of a field.
#[derive(Debug, Serialize, ToSchema)]
pub struct DistinctResponse {
    /// In Cairn's total value order (null < booleans < numbers < strings < ...).
    #[schema(value_type = Vec<AnyValueSchema>)]
    pub values: Vec<Value>,
}

/// Body of `aggregate`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AggregateRequest {
    /// The stages.
    #[schema(value_type = PipelineSchema)]
    pub pipeline: Vec<JsonExpression>,
    /// Stop with 408 `query_timeout` after this many milliseconds (default: the server's
    /// request timeout, which also caps it; at most 86,400,000).
    #[schema(value_type = Option<u64>, minimum = 0, maximum = 86_400_000)]
    #[serde(default)]
    pub max_time_ms: Option<u64>,
}

/// A pipeline's output.
#[derive(Debug, Serialize, ToSchema)]
pub struct AggregateResponse {
    /// The documents the last stage produced, in order.
    #[schema(value_type = Vec<Object>)]
    pub documents: Vec<Value>,
}

/// One plan in an explanation.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanLine {
    /// What it does (e.g. `index age_idx [18, +inf)`, `full scan`).
    pub plan: String,
    /// Estimated documents read.
    pub estimated_rows: f64,
    /// Estimated cost (comparable between the plans of one query only).
    pub cost: f64,
}

/// What running the chosen plan did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Executed {
    /// Index entries read.
    pub keys_examined: u64,
    /// Documents read and tested against the filter.
    pub docs_examined: u64,
    /// Documents returned.
    pub returned: u64,
    /// Wall time, microseconds.
    pub elapsed_us: u64,
    /// The access method's own counters (`vector_nodes_visited`, `vector_distances`,
    /// `text_postings_read`, `text_documents_scored`, `spatial_candidates`, ...).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub counters: std::collections::BTreeMap<String, u64>,
}

/// How a query runs: the plan chosen, every plan considered, and what the chosen one did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExplainResponse {
    /// The chosen plan.
    pub chosen: PlanLine,
    /// Every plan considered, cheapest first (the chosen one included).
    pub considered: Vec<PlanLine>,
    /// What running the chosen plan examined.
    pub executed: Executed,
}

/// Finds documents: filter, sort, skip, limit, projection, and a cursor for the next page.
#[utoipa::path(post, operation_id = "query_documents", path = "/v1/collections/{collection}/query", tag = "queries",
    params(CollectionName),
    request_body = Option<QueryRequest>,
    responses((status = 200, description = "One page of results", body = QueryResponse), ErrorResponses))]
pub async fn query(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
    OptionalJsonBody(request): OptionalJsonBody<QueryRequest>,
) -> Result<JsonBytes, ApiError> {
    let deadline = Instant::now() + time_budget(&state, request.max_time_ms)?;
    let shape = ShapeParts::of(&request);
    let as_of = request.as_of.as_deref().map(parse_as_of).transpose()?;
    let mut query = build_query(request)?;
    let max_bytes = state.limits.max_response_bytes;
    // Half the limit in encoded bytes: the JSON of a page is usually larger.
    query.max_page_bytes = Some(max_bytes / 2);
    let need = Need::read(&collection);
    let recorder = state.clone();
    state
        .scan(credentials, need, move |db, _| {
            query.time_budget = time_left(deadline);
            let started = Instant::now();
            let page = match as_of {
                Some(as_of) => cairn::find_as_of(db, &collection, &query, as_of)?,
                None => cairn::find(db, &collection, &query)?,
            };
            stats::note(
                &recorder,
                &Observation {
                    collection: &collection,
                    operation: "find",
                    filter: shape.filter.as_ref(),
                    sort: shape.sort.as_ref(),
                    stages: &[],
                    elapsed: started.elapsed(),
                    keys_examined: page.stats.keys_examined,
                    docs_examined: page.stats.docs_examined,
                    returned: page.documents.len() as u64,
                    matched: None,
                    plan: Some(&page.plan),
                },
            );
            let response = QueryResponse {
                documents: page.documents,
                cursor: page.cursor,
            };
            capped_json(&response, max_bytes)
        })
        .await
}

/// The parts of a request that make its shape in the query statistics, kept before the
/// request is turned into a query.
struct ShapeParts {
    filter: Option<Value>,
    sort: Option<Value>,
}

impl ShapeParts {
    fn of(request: &QueryRequest) -> ShapeParts {
        ShapeParts {
            filter: request.filter.as_ref().map(|f| f.0.clone()),
            sort: request.sort.as_ref().map(|s| s.0.clone()),
        }
    }
}

/// Counts the documents matching a filter.
#[utoipa::path(post, operation_id = "count_documents", path = "/v1/collections/{collection}/count", tag = "queries",
    params(CollectionName),
    request_body = Option<CountRequest>,
    responses((status = 200, description = "The count", body = CountResponse), ErrorResponses))]
pub async fn count(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
    OptionalJsonBody(request): OptionalJsonBody<CountRequest>,
) -> Result<Json<CountResponse>, ApiError> {
    let shape = request.filter.as_ref().map(|f| f.0.clone());
    let filter = parse_filter(request.filter)?;
    let as_of = request.as_of.as_deref().map(parse_as_of).transpose()?;
    let need = Need::read(&collection);
    let recorder = state.clone();
    let count = state
        .scan(credentials, need, move |db, _| {
            let started = Instant::now();
            let (count, observed) = match as_of {
                Some(as_of) => (cairn::count_as_of(db, &collection, &filter, as_of)?, None),
                None => {
                    let (count, observed) = count_observed(db, &collection, &filter)?;
                    (count, Some(observed))
                }
            };
            let observation = observe(&collection, "count", shape.as_ref(), observed.as_ref());
            stats::note(
                &recorder,
                &Observation {
                    elapsed: started.elapsed(),
                    returned: count,
                    ..observation
                },
            );
            Ok(count)
        })
        .await?;
    Ok(Json(CountResponse { count }))
}

/// What the statistics learn of a `count`, `distinct` or pipeline run: the shape, and what
/// its read examined and under which plan (`None`: an as-of read, which reports neither).
/// The caller fills in the time and what was returned.
fn observe<'a>(
    collection: &'a str,
    operation: &'static str,
    filter: Option<&'a Value>,
    observed: Option<&'a Observed>,
) -> Observation<'a> {
    Observation {
        collection,
        operation,
        filter,
        sort: None,
        stages: &[],
        elapsed: Duration::ZERO,
        keys_examined: observed.map_or(0, |o| o.stats.keys_examined),
        docs_examined: observed.map_or(0, |o| o.stats.docs_examined),
        returned: 0,
        matched: observed.map(|o| o.stats.matched),
        plan: observed.map(|o| o.plan.as_str()),
    }
}

/// The distinct values of a field among the documents matching a filter.
#[utoipa::path(post, operation_id = "distinct_values", path = "/v1/collections/{collection}/distinct", tag = "queries",
    params(CollectionName),
    request_body = DistinctRequest,
    responses((status = 200, description = "The values", body = DistinctResponse), ErrorResponses))]
pub async fn distinct(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
    JsonBody(request): JsonBody<DistinctRequest>,
) -> Result<JsonBytes, ApiError> {
    let shape = request.filter.as_ref().map(|f| f.0.clone());
    let filter = parse_filter(request.filter)?;
    let as_of = request.as_of.as_deref().map(parse_as_of).transpose()?;
    let field = request.field;
    let need = Need::read(&collection);
    let max_bytes = state.limits.max_response_bytes;
    let recorder = state.clone();
    state
        .scan(credentials, need, move |db, _| {
            let started = Instant::now();
            let (values, observed) = match as_of {
                Some(as_of) => (
                    cairn::distinct_as_of(db, &collection, &field, &filter, as_of)?,
                    None,
                ),
                None => {
                    let (values, observed) = distinct_observed(db, &collection, &field, &filter)?;
                    (values, Some(observed))
                }
            };
            let observation = observe(&collection, "distinct", shape.as_ref(), observed.as_ref());
            stats::note(
                &recorder,
                &Observation {
                    elapsed: started.elapsed(),
                    returned: values.len() as u64,
                    ..observation
                },
            );
            capped_json(&DistinctResponse { values }, max_bytes)
        })
        .await
}

/// Shows how a query runs: the chosen plan, the alternatives with their estimated costs, and
/// what running it examined (the query is executed; its documents are not returned).
#[utoipa::path(post, operation_id = "explain_query", path = "/v1/collections/{collection}/explain", tag = "queries",
    params(CollectionName),
    request_body = Option<QueryRequest>,
    responses((status = 200, description = "The plan", body = ExplainResponse), ErrorResponses))]
pub async fn explain(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
    OptionalJsonBody(request): OptionalJsonBody<QueryRequest>,
) -> Result<Json<ExplainResponse>, ApiError> {
    let deadline = Instant::now() + time_budget(&state, request.max_time_ms)?;
    let shape = ShapeParts::of(&request);
    if request.as_of.is_some() {
        return Err(ApiError::bad_request(
            "invalid_request",
            "`as_of` is not supported by explain: as-of queries always scan",
        )
        .with_details(serde_json::json!({ "field": "as_of" })));
    }
    let mut query = build_query(request)?;
    let need = Need::read(&collection);
    let recorder = state.clone();
    let explained = state
        .scan(credentials, need, move |db, _| {
            query.time_budget = time_left(deadline);
            let explained = cairn::explain(db, &collection, &query)?;
            stats::note(
                &recorder,
                &Observation {
                    collection: &collection,
                    operation: "explain",
                    filter: shape.filter.as_ref(),
                    sort: shape.sort.as_ref(),
                    stages: &[],
                    elapsed: Duration::from_micros(explained.elapsed_us),
                    keys_examined: explained.executed.keys_examined,
                    docs_examined: explained.executed.docs_examined,
                    returned: explained.returned,
                    matched: None,
                    plan: Some(&explained.chosen.description),
                },
            );
            Ok(explained)
        })
        .await?;
    let line = |line: &cairn::query::PlanLine| PlanLine {
        plan: line.description.clone(),
        estimated_rows: line.estimated_rows.round(),
        cost: (line.cost * 10.0).round() / 10.0,
    };
    Ok(Json(ExplainResponse {
        chosen: line(&explained.chosen),
        considered: explained.considered.iter().map(line).collect(),
        executed: Executed {
            keys_examined: explained.executed.keys_examined,
            docs_examined: explained.executed.docs_examined,
            returned: explained.returned,
            elapsed_us: explained.elapsed_us,
            counters: explained
                .executed
                .counters
                .iter()
                .map(|(name, count)| (name.to_string(), *count))
                .collect(),
        },
    }))
}

/// Runs an aggregation pipeline. `$lookup` stages read their `from` collections too, so the
/// caller needs read access to each of them.
#[utoipa::path(post, operation_id = "aggregate", path = "/v1/collections/{collection}/aggregate", tag = "queries",
    params(CollectionName),
    request_body = AggregateRequest,
    responses((status = 200, description = "The pipeline's output", body = AggregateResponse), ErrorResponses))]
pub async fn aggregate(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
    JsonBody(request): JsonBody<AggregateRequest>,
) -> Result<JsonBytes, ApiError> {
    let deadline = Instant::now() + time_budget(&state, request.max_time_ms)?;
    let stages_value = Value::Array(request.pipeline.into_iter().map(|s| s.0).collect());
    let pipeline = Pipeline::parse(&stages_value)?;
    let mut reads = vec![(collection.clone(), Access::ReadOnly)];
    // `$lookup`s and `$graphLookup`s read other collections, inside `$facet` sub-pipelines too.
    for from in pipeline.foreign_collections() {
        collection_name::check(from)?;
        reads.push((from.to_string(), Access::ReadOnly));
    }
    let max_bytes = state.limits.max_response_bytes;
    let stages: Vec<&'static str> = pipeline.stages().iter().map(Stage::name).collect();
    let first_match = match pipeline.stages().first() {
        Some(Stage::Match(_)) => match &stages_value {
            Value::Array(stages) => stages.first().and_then(|s| match s {
                Value::Object(o) => o.get("$match").cloned(),
                _ => None,
            }),
            _ => None,
        },
        _ => None,
    };
    let recorder = state.clone();
    state
        .scan(credentials, Need::Collections(reads), move |db, _| {
            let started = Instant::now();
            let (documents, observed) = pipeline
                .time_budget(time_left(deadline))
                .run_observed(db, &collection)?;
            // Examined and matched count the source collection's read (leading `$match`es
            // answered with indexes), not what `$lookup`s read elsewhere.
            let observation = observe(
                &collection,
                "aggregate",
                first_match.as_ref(),
                Some(&observed),
            );
            stats::note(
                &recorder,
                &Observation {
                    stages: &stages,
                    elapsed: started.elapsed(),
                    returned: documents.len() as u64,
                    ..observation
                },
            );
            capped_json(&AggregateResponse { documents }, max_bytes)
        })
        .await
}

/// A filter from an optional request field (absent or null: every document).
pub fn parse_filter(filter: Option<JsonExpression>) -> Result<Filter, ApiError> {
    match filter {
        Some(JsonExpression(value)) => Ok(Filter::parse(&value)?),
        None => Ok(Filter::All),
    }
}

/// A query's time budget: what the request asks for, never more than the request timeout
/// (the query then stops itself instead of running on after a 408).
fn time_budget(state: &SharedState, max_time_ms: Option<u64>) -> Result<Duration, ApiError> {
    let timeout = state.limits.request_timeout();
    let Some(ms) = max_time_ms else {
        return Ok(timeout);
    };
    check_at_most("max_time_ms", ms, MAX_QUERY_TIME_MS)?;
    Ok(Duration::from_millis(ms).min(timeout))
}

/// What is left of a query's budget when a reader thread takes it up: time spent queued
/// counts, so a query never runs on past its request's deadline (nobody would read the
/// answer), and one queued past it fails at its first budget check.
fn time_left(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

/// The query a request body describes, with the route's defaults and bounds (page size,
/// skip); shared with in-process clients so they page exactly like the route.
pub fn build_query(request: QueryRequest) -> Result<Query, ApiError> {
    let limit = request.limit.unwrap_or(DEFAULT_QUERY_PAGE);
    check_at_most("limit", limit, MAX_QUERY_PAGE)?;
    let skip = request.skip.unwrap_or(0);
    check_at_most("skip", skip, MAX_QUERY_SKIP)?;
    let mut query = Query::new(parse_filter(request.filter)?);
    if let Some(JsonExpression(sort)) = request.sort {
        query.sort = parse_sort(&sort)?;
    }
    if let Some(JsonExpression(projection)) = request.projection {
        query.projection = Some(Projection::parse(&projection)?);
    }
    query.limit = Some(limit);
    query.skip = skip;
    query.after = request.cursor;
    Ok(query)
}

/// Parses an `as_of` point: digits are a commit sequence number, anything else an RFC 3339
/// time; 400 `invalid_as_of` otherwise.
pub fn parse_as_of(text: &str) -> Result<AsOf, ApiError> {
    let invalid = |reason: String| {
        ApiError::bad_request(
            "invalid_as_of",
            format!("`as_of` must be a sequence number or an RFC 3339 time: {reason}"),
        )
        .with_details(serde_json::json!({ "field": "as_of" }))
    };
    if text.len() > crate::limits::MAX_AS_OF_BYTES {
        return Err(invalid(format!(
            "{} bytes; at most {}",
            text.len(),
            crate::limits::MAX_AS_OF_BYTES
        )));
    }
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .map(AsOf::Seq)
            .map_err(|_| invalid("the sequence number is too large".to_string()));
    }
    DateTime::parse_rfc3339(text)
        .map(AsOf::Time)
        .map_err(|err| invalid(err.to_string()))
}

/// 400 `invalid_request` when a number in the request is over its limit.
fn check_at_most<N>(field: &'static str, value: N, limit: N) -> Result<(), ApiError>
where
    N: PartialOrd + std::fmt::Display + Serialize,
{
    if value > limit {
        return Err(ApiError::bad_request(
            "invalid_request",
            format!("`{field}` is {value}; the limit is {limit}"),
        )
        .with_details(serde_json::json!({ "field": field, "limit": limit })));
    }
    Ok(())
}

// Every `as_of` parameter declares `max_length = 64` as a literal; it must be the limit.
const _: () = assert!(crate::limits::MAX_AS_OF_BYTES == 64);

#[cfg(test)]
mod as_of_tests {
    use super::*;

    #[test]
    fn an_as_of_longer_than_its_limit_is_invalid_even_when_it_reads_as_a_number() {
        let zeros = "0".repeat(crate::limits::MAX_AS_OF_BYTES + 1);
        let err = parse_as_of(&zeros).err().map(|e| (e.status, e.code));
        assert_eq!(
            err,
            Some((axum::http::StatusCode::BAD_REQUEST, "invalid_as_of"))
        );
        assert_eq!(parse_as_of("0042").ok(), Some(AsOf::Seq(42)));
    }
}
