//! `/v1/series`: time-series collections over HTTP — what `cairn collection create
//! --timeseries` and `cairn series ...` do. Writes (append, delete, retention) run as one
//! transaction each, retried on conflicts; reads run on one snapshot on the reader threads.
//! Points travel as documents `{time_field, meta_field, ...values}` in extended JSON; times
//! and durations are integers in the collection's unit (microseconds for a `DateTime` time
//! field).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use cairn::timeseries::{
    self, Aggregate, Bucket, Downsample, Fill, SeriesOptions, TsError, DEFAULT_CHUNK_SPAN,
};
use cairn::{Transaction, Value};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::api_error::ApiError;
use crate::auth::credentials::Credentials;
use crate::auth::Need;
use crate::body::JsonBody;
use crate::collection_name::{self, CollectionName};
use crate::limits::MAX_SERIES_RESULTS;
use crate::openapi::{AnyValueSchema, Document, ErrorResponses};
use crate::state::SharedState;
use crate::transact::{self, TxnError};

impl From<TsError> for ApiError {
    fn from(err: TsError) -> ApiError {
        let message = err.to_string();
        match err {
            TsError::NotTimeSeries { collection } => {
                ApiError::bad_request("not_timeseries_collection", message)
                    .with_details(json!({ "collection": collection }))
            }
            TsError::InvalidOptions { reason } => ApiError::bad_request("invalid_options", message)
                .with_details(json!({ "reason": reason })),
            TsError::BadTime { field, .. }
            | TsError::MissingMeta { field }
            | TsError::UnsupportedValue { field, .. } => {
                ApiError::bad_request("invalid_point", message)
                    .with_details(json!({ "field": field }))
            }
            TsError::LimitExceeded { what, limit, .. } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "limit_exceeded", message)
                    .with_details(json!({ "what": what, "limit": limit }))
            }
            TsError::UnsupportedAggregate { field, .. } | TsError::SumOverflow { field } => {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_aggregate",
                    message,
                )
                .with_details(json!({ "field": field }))
            }
            TsError::DimensionMismatch { field, .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "dimension_mismatch",
                message,
            )
            .with_details(json!({ "field": field })),
            TsError::InvalidQuery { reason } => ApiError::bad_request("invalid_query", message)
                .with_details(json!({ "reason": reason })),
            TsError::Corrupt { .. } => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
            }
            TsError::Engine(engine) => ApiError::from(engine),
        }
    }
}

/// A time-series error inside a transaction body: engine errors stay retryable.
fn txn_error(err: TsError) -> TxnError {
    match err {
        TsError::Engine(engine) => TxnError::Engine(engine),
        other => TxnError::Api(other.into()),
    }
}

/// Body of `POST /v1/series`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSeriesCollection {
    /// 1 to 120 ASCII letters, digits, `_` and `-`, starting with a letter or `_`.
    #[schema(pattern = r"^[A-Za-z_][A-Za-z0-9_-]{0,119}$")]
    pub name: String,
    /// The field holding each point's time (an integer, or a `$date`).
    #[schema(min_length = 1, max_length = 128)]
    pub time_field: String,
    /// The field whose value names the series (a value or an object).
    #[schema(min_length = 1, max_length = 128)]
    pub meta_field: String,
    /// Time one chunk covers at most (default one day in microseconds).
    #[schema(minimum = 1)]
    #[serde(default)]
    pub chunk_span: Option<i64>,
    /// Retention: points older than this relative to the `now` of an expire request are
    /// dropped, whole chunks at a time.
    #[schema(minimum = 1)]
    #[serde(default)]
    pub expire_after: Option<i64>,
}

/// A time-series collection's options.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesCollectionInfo {
    /// Its name.
    pub name: String,
    /// The time field.
    pub time_field: String,
    /// The meta field (the series key).
    pub meta_field: String,
    /// Time one chunk covers at most.
    pub chunk_span: i64,
    /// Retention, if any.
    pub expire_after: Option<i64>,
}

/// Body of `POST /v1/series/{collection}/points`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppendRequest {
    /// Points as documents `{time_field, meta_field, ...values}`; values are numbers, vectors
    /// (arrays of numbers), strings or booleans. All commit together or none.
    #[schema(value_type = Vec<Document>, max_items = 1_000_000)]
    pub points: Vec<Value>,
}

/// Outcome of a write.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesWritten {
    /// Points appended or deleted, or chunks dropped (retention).
    pub count: u64,
    /// Sequence number of the commit.
    pub seq: u64,
}

/// Body of `POST /v1/series/{collection}/range`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RangeRequest {
    /// The series key (the meta field's value).
    #[schema(value_type = AnyValueSchema)]
    pub series: Value,
    /// Start of the range (inclusive).
    pub from: i64,
    /// End of the range (exclusive).
    pub to: i64,
    /// Points to return: default and at most 100,000 (the rest is reported as `truncated`).
    #[schema(minimum = 0, maximum = 100_000)]
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Points of one series, and what the read did (chunks whose bounds excluded the range are
/// skipped without decoding).
#[derive(Debug, Serialize, ToSchema)]
pub struct RangeResponse {
    /// The points as documents, in time order.
    #[schema(value_type = Vec<Document>)]
    pub points: Vec<Value>,
    /// Whether more points were in the range than returned.
    pub truncated: bool,
    /// Chunks visited but skipped by their time bounds.
    pub chunks_skipped: u64,
    /// Chunks decoded.
    pub chunks_decoded: u64,
}

/// An aggregate's name.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AggregateName {
    /// Arithmetic mean (numbers; vectors per component).
    Avg,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Sum.
    Sum,
    /// Number of points carrying the field.
    Count,
    /// Value of the earliest point.
    First,
    /// Value of the latest point.
    Last,
}

impl From<AggregateName> for Aggregate {
    fn from(name: AggregateName) -> Aggregate {
        match name {
            AggregateName::Avg => Aggregate::Avg,
            AggregateName::Min => Aggregate::Min,
            AggregateName::Max => Aggregate::Max,
            AggregateName::Sum => Aggregate::Sum,
            AggregateName::Count => Aggregate::Count,
            AggregateName::First => Aggregate::First,
            AggregateName::Last => Aggregate::Last,
        }
    }
}

/// What empty buckets become.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FillName {
    /// Left out (default).
    #[default]
    None,
    /// Present, every aggregate `null`.
    Null,
    /// The previous bucket's results.
    Previous,
}

/// Body of `POST /v1/series/{collection}/downsample`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DownsampleRequest {
    /// One series key; absent: every series of the collection.
    #[schema(value_type = Option<AnyValueSchema>)]
    #[serde(default)]
    pub series: Option<Value>,
    /// Start of the range (inclusive).
    pub from: i64,
    /// End of the range (exclusive).
    pub to: i64,
    /// Bucket width (buckets start at multiples of it).
    #[schema(minimum = 1)]
    pub every: i64,
    /// The field aggregated.
    #[schema(min_length = 1, max_length = 128)]
    pub field: String,
    /// The aggregates, each a key of every bucket.
    #[schema(min_items = 1, max_items = 7)]
    pub aggregates: Vec<AggregateName>,
    /// Gap filling (default `none`).
    #[serde(default)]
    pub fill: FillName,
}

/// The buckets of one series.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesBuckets {
    /// The series key.
    #[schema(value_type = AnyValueSchema)]
    pub series: Value,
    /// Buckets `{"start": t, "<aggregate>": value, ...}` in time order.
    #[schema(value_type = Vec<Object>)]
    pub buckets: Vec<serde_json::Value>,
}

/// Downsampled series.
#[derive(Debug, Serialize, ToSchema)]
pub struct DownsampleResponse {
    /// One entry per series, in series creation order.
    pub series: Vec<SeriesBuckets>,
}

/// The latest point of every series.
#[derive(Debug, Serialize, ToSchema)]
pub struct LatestResponse {
    /// One point (as a document) per series, in series creation order.
    #[schema(value_type = Vec<Document>)]
    pub points: Vec<Value>,
}

/// Body of `POST /v1/series/{collection}/trajectory`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrajectoryRequest {
    /// The series key.
    #[schema(value_type = AnyValueSchema)]
    pub series: Value,
    /// The vector field.
    #[schema(min_length = 1, max_length = 128)]
    pub field: String,
    /// Start of the range (inclusive).
    pub from: i64,
    /// End of the range (exclusive).
    pub to: i64,
    /// Also interpolate (linearly) the vector at this time, from the nearest points of the
    /// range either side of it.
    #[serde(default)]
    pub at: Option<i64>,
}

/// A trajectory point.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrajectoryPoint {
    /// Its time.
    pub t: i64,
    /// Its vector.
    pub v: Vec<f64>,
}

/// A trajectory.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrajectoryResponse {
    /// The vectors in time order (at most 100,000).
    pub points: Vec<TrajectoryPoint>,
    /// Whether more points were in the range than returned.
    pub truncated: bool,
    /// The vector interpolated at `at`, `null` when `at` is not between two points of the
    /// range (absent when `at` was not asked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<Option<Vec<f64>>>,
}

/// Body of `POST /v1/series/{collection}/delete`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteRangeRequest {
    /// The series key.
    #[schema(value_type = AnyValueSchema)]
    pub series: Value,
    /// Start of the range (inclusive).
    pub from: i64,
    /// End of the range (exclusive).
    pub to: i64,
}

/// Body of `POST /v1/series/{collection}/expire`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpireRequest {
    /// The current time in the collection's unit: chunks whose newest point is older than
    /// `now - expire_after` are dropped.
    pub now: i64,
}

fn info(name: String, options: &SeriesOptions) -> SeriesCollectionInfo {
    SeriesCollectionInfo {
        name,
        time_field: options.time_field.clone(),
        meta_field: options.meta_field.clone(),
        chunk_span: options.chunk_span,
        expire_after: options.expire_after,
    }
}

/// Creates a time-series collection (needs write access to it).
#[utoipa::path(post, operation_id = "create_series_collection", path = "/v1/series", tag = "series",
    request_body = CreateSeriesCollection,
    responses((status = 201, description = "Created", body = SeriesCollectionInfo), ErrorResponses))]
pub async fn create(
    State(state): State<SharedState>,
    credentials: Credentials,
    JsonBody(request): JsonBody<CreateSeriesCollection>,
) -> Result<(StatusCode, Json<SeriesCollectionInfo>), ApiError> {
    collection_name::check(&request.name)?;
    let mut options = SeriesOptions::new(
        &request.time_field,
        &request.meta_field,
        request.chunk_span.unwrap_or(DEFAULT_CHUNK_SPAN),
    );
    options.expire_after = request.expire_after;
    state
        .run(credentials, Need::write(&request.name), move |db, _| {
            transact::run(db, |txn| {
                timeseries::create(txn, &request.name, &options).map_err(txn_error)
            })?;
            Ok((StatusCode::CREATED, Json(info(request.name, &options))))
        })
        .await
}

/// A time-series collection's options: its time and meta fields, chunk span and retention
/// (needs read access; 400 `not_timeseries_collection` for a collection of documents). Times
/// are integers in the collection's unit: a time field written as `$date` is kept in
/// microseconds since the Unix epoch.
#[utoipa::path(get, operation_id = "get_series_collection", path = "/v1/series/{collection}", tag = "series",
    params(CollectionName),
    responses((status = 200, description = "The options", body = SeriesCollectionInfo), ErrorResponses))]
pub async fn describe(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
) -> Result<Json<SeriesCollectionInfo>, ApiError> {
    let described = state
        .read(credentials, Need::read(&collection), move |db, _| {
            let options = timeseries::options(&mut db.read()?, &collection)?;
            Ok(info(collection, &options))
        })
        .await?;
    Ok(Json(described))
}

/// Appends points (any order; a point at a time its series holds replaces it), atomically.
#[utoipa::path(post, operation_id = "append_points", path = "/v1/series/{collection}/points", tag = "series",
    params(CollectionName), request_body = AppendRequest,
    responses((status = 200, description = "Appended", body = SeriesWritten), ErrorResponses))]
pub async fn append(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
    JsonBody(request): JsonBody<AppendRequest>,
) -> Result<Json<SeriesWritten>, ApiError> {
    let count = request.points.len() as u64;
    let (_, seq) = state
        .run(credentials, Need::write(&collection), move |db, _| {
            transact::run(db, |txn| {
                timeseries::insert_documents(txn, &collection, &request.points).map_err(txn_error)
            })
        })
        .await?;
    Ok(Json(SeriesWritten { count, seq }))
}

/// Refuses a range whose end is not after its start (the empty range is a caller mistake).
fn check_range(from: i64, to: i64) -> Result<(), ApiError> {
    if from >= to {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("the range is empty: `from` ({from}) must be below `to` ({to})"),
        )
        .with_details(json!({ "at": "from" })));
    }
    Ok(())
}

/// The points of one series in `[from, to)`, with the chunks skipped and decoded.
#[utoipa::path(post, operation_id = "range_points", path = "/v1/series/{collection}/range", tag = "series",
    params(CollectionName), request_body = RangeRequest,
    responses((status = 200, description = "The points", body = RangeResponse), ErrorResponses))]
pub async fn range(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
    JsonBody(request): JsonBody<RangeRequest>,
) -> Result<Json<RangeResponse>, ApiError> {
    check_range(request.from, request.to)?;
    let limit = request
        .limit
        .unwrap_or(MAX_SERIES_RESULTS)
        .min(MAX_SERIES_RESULTS);
    let response = state
        .read(credentials, Need::read(&collection), move |db, _| {
            let mut txn = db.read()?;
            let options = timeseries::options(&mut txn, &collection)?;
            let (points, stats) = timeseries::read_range(
                &mut txn,
                &collection,
                &request.series,
                request.from,
                request.to,
            )?;
            let truncated = points.len() > limit;
            Ok(RangeResponse {
                points: points
                    .iter()
                    .take(limit)
                    .map(|p| {
                        p.to_document(&options.time_field, &options.meta_field, &request.series)
                    })
                    .collect(),
                truncated,
                chunks_skipped: stats.chunks_skipped,
                chunks_decoded: stats.chunks_decoded,
            })
        })
        .await?;
    Ok(Json(response))
}

fn bucket_json(bucket: &Bucket, aggregates: &[Aggregate]) -> serde_json::Value {
    let mut object = serde_json::Map::new();
    object.insert("start".to_string(), json!(bucket.start));
    for (agg, value) in aggregates.iter().zip(&bucket.values) {
        let value = value
            .as_ref()
            .map_or(Ok(serde_json::Value::Null), |v| {
                serde_json::to_value(v.to_value())
            })
            .unwrap_or(serde_json::Value::Null);
        object.insert(agg.name().to_string(), value);
    }
    serde_json::Value::Object(object)
}

/// Buckets of `every` over `[from, to)` per series, reduced by the aggregates.
#[utoipa::path(post, operation_id = "downsample", path = "/v1/series/{collection}/downsample", tag = "series",
    params(CollectionName), request_body = DownsampleRequest,
    responses((status = 200, description = "The buckets", body = DownsampleResponse), ErrorResponses))]
pub async fn downsample(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
    JsonBody(request): JsonBody<DownsampleRequest>,
) -> Result<Json<DownsampleResponse>, ApiError> {
    check_range(request.from, request.to)?;
    if request.every <= 0 || request.aggregates.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_query",
            "`every` must be positive and `aggregates` name at least one aggregate",
        ));
    }
    let per_series =
        (i128::from(request.to) - i128::from(request.from)) / i128::from(request.every) + 1;
    if per_series > MAX_SERIES_RESULTS as i128 {
        return Err(too_many_buckets(per_series as u64));
    }
    let aggregates: Vec<Aggregate> = request.aggregates.iter().map(|&a| a.into()).collect();
    let spec = Downsample {
        from: request.from,
        to: request.to,
        every: request.every,
        field: request.field,
        aggregates: aggregates.clone(),
        fill: match request.fill {
            FillName::None => Fill::None,
            FillName::Null => Fill::Null,
            FillName::Previous => Fill::Previous,
        },
    };
    let series = request.series;
    let results = state
        .read(credentials, Need::read(&collection), move |db, _| {
            let mut txn = db.read()?;
            Ok(match series {
                Some(key) => {
                    let buckets = timeseries::downsample(&mut txn, &collection, &key, &spec)?;
                    vec![(key, buckets)]
                }
                None => timeseries::downsample_all(&mut txn, &collection, &spec)?,
            })
        })
        .await?;
    let total: usize = results.iter().map(|(_, b)| b.len()).sum();
    if total > MAX_SERIES_RESULTS {
        return Err(too_many_buckets(total as u64));
    }
    let series = results
        .into_iter()
        .map(|(series, buckets)| SeriesBuckets {
            series,
            buckets: buckets
                .iter()
                .map(|b| bucket_json(b, &aggregates))
                .collect(),
        })
        .collect();
    Ok(Json(DownsampleResponse { series }))
}

fn too_many_buckets(actual: u64) -> ApiError {
    ApiError::from(TsError::LimitExceeded {
        what: "buckets in one HTTP downsample",
        actual,
        limit: MAX_SERIES_RESULTS as u64,
    })
}

/// The latest point of every series (one record per series, no chunk decoded).
#[utoipa::path(get, operation_id = "latest_points", path = "/v1/series/{collection}/latest", tag = "series",
    params(CollectionName),
    responses((status = 200, description = "The latest points", body = LatestResponse), ErrorResponses))]
pub async fn latest(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
) -> Result<Json<LatestResponse>, ApiError> {
    let points = state
        .read(credentials, Need::read(&collection), move |db, _| {
            let mut txn = db.read()?;
            let options = timeseries::options(&mut txn, &collection)?;
            Ok(timeseries::latest(&mut txn, &collection)?
                .iter()
                .map(|(series, point)| {
                    point.to_document(&options.time_field, &options.meta_field, series)
                })
                .collect())
        })
        .await?;
    Ok(Json(LatestResponse { points }))
}

/// The vectors of one field of one series over `[from, to)`, optionally interpolated at a
/// time.
#[utoipa::path(post, operation_id = "trajectory", path = "/v1/series/{collection}/trajectory", tag = "series",
    params(CollectionName), request_body = TrajectoryRequest,
    responses((status = 200, description = "The trajectory", body = TrajectoryResponse), ErrorResponses))]
pub async fn trajectory(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
    JsonBody(request): JsonBody<TrajectoryRequest>,
) -> Result<Json<TrajectoryResponse>, ApiError> {
    check_range(request.from, request.to)?;
    let response = state
        .read(credentials, Need::read(&collection), move |db, _| {
            let mut txn = db.read()?;
            trajectory_in(&mut txn, &collection, &request)
        })
        .await?;
    Ok(Json(response))
}

fn trajectory_in(
    txn: &mut Transaction,
    collection: &str,
    request: &TrajectoryRequest,
) -> Result<TrajectoryResponse, ApiError> {
    let path = timeseries::trajectory(
        txn,
        collection,
        &request.series,
        &request.field,
        request.from,
        request.to,
    )?;
    let at = match request.at {
        Some(at) => Some(interpolate_in(&path, &request.field, at)?),
        None => None,
    };
    Ok(TrajectoryResponse {
        truncated: path.len() > MAX_SERIES_RESULTS,
        points: path
            .into_iter()
            .take(MAX_SERIES_RESULTS)
            .map(|(t, v)| TrajectoryPoint { t, v })
            .collect(),
        at,
    })
}

/// Linear interpolation at `at` within an already-read trajectory (without a second read).
fn interpolate_in(
    path: &[(i64, Vec<f64>)],
    field: &str,
    at: i64,
) -> Result<Option<Vec<f64>>, ApiError> {
    Ok(timeseries::interpolate_path(path, field, at)?)
}

/// Deletes the points of one series in `[from, to)`, atomically.
#[utoipa::path(post, operation_id = "delete_points", path = "/v1/series/{collection}/delete", tag = "series",
    params(CollectionName), request_body = DeleteRangeRequest,
    responses((status = 200, description = "Deleted", body = SeriesWritten), ErrorResponses))]
pub async fn delete(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
    JsonBody(request): JsonBody<DeleteRangeRequest>,
) -> Result<Json<SeriesWritten>, ApiError> {
    check_range(request.from, request.to)?;
    let (count, seq) = state
        .run(credentials, Need::write(&collection), move |db, _| {
            transact::run(db, |txn| {
                timeseries::delete_range(
                    txn,
                    &collection,
                    &request.series,
                    request.from,
                    request.to,
                )
                .map_err(txn_error)
            })
        })
        .await?;
    Ok(Json(SeriesWritten { count, seq }))
}

/// Retention: drops every chunk whose newest point is older than `now - expire_after`, whole.
#[utoipa::path(post, operation_id = "expire_points", path = "/v1/series/{collection}/expire", tag = "series",
    params(CollectionName), request_body = ExpireRequest,
    responses((status = 200, description = "Chunks dropped", body = SeriesWritten), ErrorResponses))]
pub async fn expire(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
    JsonBody(request): JsonBody<ExpireRequest>,
) -> Result<Json<SeriesWritten>, ApiError> {
    let (count, seq) = state
        .run(credentials, Need::write(&collection), move |db, _| {
            transact::run(db, |txn| {
                timeseries::expire(txn, &collection, request.now).map_err(txn_error)
            })
        })
        .await?;
    Ok(Json(SeriesWritten { count, seq }))
}
