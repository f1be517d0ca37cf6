//! `/v1/consumers`: the pull API of the event log. A consumer is a named position kept by
//! the server (`consumers.rs`): `GET …/events` returns the events after it without
//! moving it, `POST …/ack` moves it (durably, before answering), so a client restarted at any
//! point resumes where it acknowledged. Following one collection needs read access to it;
//! following every user collection needs an admin.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use crate::api_error::ApiError;
use crate::auth::credentials::Credentials;
use crate::auth::Need;
use crate::body::JsonBody;
use crate::consumers::{self, need_for, ConsumerRecord};
use crate::event_log::{ChangeEvent, Position, EVENT_FORMAT_VERSION};
use crate::extract::{ApiPath, ApiQuery};
use crate::limits::{DEFAULT_EVENTS_PER_PULL, MAX_EVENTS_PER_PULL};
use crate::openapi::ErrorResponses;
use crate::state::SharedState;

/// Body of `POST /v1/consumers`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConsumer {
    /// 1 to 128 ASCII letters, digits, `_`, `.` or `-`.
    #[schema(pattern = r"^[A-Za-z0-9_.-]{1,128}$")]
    pub name: String,
    /// The collection to follow; absent: every user collection (admins only).
    #[schema(pattern = r"^[A-Za-z_][A-Za-z0-9_-]{0,127}$")]
    #[serde(default)]
    pub collection: Option<String>,
    /// Deliver the events committed after this sequence number (0: everything still in the
    /// log); absent: from now on.
    #[schema(minimum = 0)]
    #[serde(default)]
    pub from_seq: Option<u64>,
}

/// A position in the log: after commit `seq`, or after change `index` of it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PositionView {
    /// The commit's sequence number.
    #[schema(minimum = 0)]
    pub seq: u64,
    /// The change within the commit (below 4,294,967,295); absent: the whole commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    // Declared as a 64-bit integer with its real bounds: `u32` alone is declared `int32`,
    // whose range stops at 2^31 - 1 and would make the document disagree with the server.
    #[schema(value_type = Option<u64>, minimum = 0, maximum = 4_294_967_294_u64)]
    pub index: Option<u32>,
}

impl From<Position> for PositionView {
    fn from(position: Position) -> PositionView {
        PositionView {
            seq: position.seq,
            index: (!position.is_whole_commit()).then_some(position.index),
        }
    }
}

impl PositionView {
    fn position(self) -> Result<Position, ApiError> {
        match self.index {
            None => Ok(Position::after_commit(self.seq)),
            Some(u32::MAX) => Err(ApiError::bad_request(
                "invalid_position",
                "`index` must be below 4294967295 (omit it for the whole commit)",
            )),
            Some(index) => Ok(Position {
                seq: self.seq,
                index,
            }),
        }
    }
}

/// A consumer and how far it got.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsumerView {
    /// The name.
    pub name: String,
    /// The collection it follows; null: every user collection.
    pub collection: Option<String>,
    /// The acknowledged position: events after it are delivered.
    pub position: PositionView,
    /// Commits in the log after the acknowledged one, of every collection, Cairn's own
    /// included (an acknowledgement is itself a commit, so right after one this is at least 1).
    pub commits_behind: u64,
    /// When it was created, RFC 3339.
    pub created_at: String,
    /// When it last acknowledged, RFC 3339; null if never.
    pub acked_at: Option<String>,
}

impl ConsumerView {
    fn of(record: &ConsumerRecord, last_seq: u64) -> ConsumerView {
        let time = |us: i64| cairn::DateTime::from_micros(us).to_string();
        ConsumerView {
            name: record.name.clone(),
            collection: record.collection.clone(),
            position: record.position().into(),
            commits_behind: last_seq.saturating_sub(record.seq),
            created_at: time(record.created_at_us),
            acked_at: record.acked_at_us.map(time),
        }
    }
}

/// Every consumer the caller may read.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsumerList {
    /// In name order.
    pub consumers: Vec<ConsumerView>,
}

/// Query of `GET /v1/consumers/{consumer}/events`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Most events to return: 1 to 1,000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub max: Option<i64>,
}

/// A page of events.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    /// The event format's version (1).
    pub format: u32,
    /// The events after the consumer's position, in log order.
    pub events: Vec<ChangeEvent>,
    /// Acknowledge this to consume the page (and the changes skipped on the way).
    pub next: PositionView,
    /// Whether more may follow at once (the page stopped at `max` or at the scan bound).
    pub more: bool,
}

/// Answer of an acknowledgement.
#[derive(Debug, Serialize, ToSchema)]
pub struct AckReply {
    /// The position now stored (durable).
    pub position: PositionView,
    /// False when the acknowledged position was not past the stored one (a retry).
    pub moved: bool,
}

/// The `{consumer}` path segment.
#[derive(Debug, Deserialize)]
pub struct ConsumerPath {
    consumer: String,
}

/// Lists the consumers the caller may read.
#[utoipa::path(get, operation_id = "list_consumers", path = "/v1/consumers", tag = "changes",
    responses((status = 200, description = "The consumers", body = ConsumerList), ErrorResponses))]
pub async fn list(
    State(state): State<SharedState>,
    credentials: Credentials,
) -> Result<Json<ConsumerList>, ApiError> {
    let consumers = state
        .read(credentials, Need::Authenticated, move |db, principal| {
            let last = db.last_seq();
            let records = consumers::list(db, principal)?;
            Ok(records.iter().map(|r| ConsumerView::of(r, last)).collect())
        })
        .await?;
    Ok(Json(ConsumerList { consumers }))
}

/// Creates a consumer positioned after `from_seq` (default: the latest commit). 409
/// `consumer_exists` if the name is taken.
#[utoipa::path(post, operation_id = "create_consumer", path = "/v1/consumers", tag = "changes",
    request_body = CreateConsumer,
    responses((status = 201, description = "Created", body = ConsumerView), ErrorResponses))]
pub async fn create(
    State(state): State<SharedState>,
    credentials: Credentials,
    JsonBody(request): JsonBody<CreateConsumer>,
) -> Result<(StatusCode, Json<ConsumerView>), ApiError> {
    consumers::check_name(&request.name)?;
    if let Some(collection) = &request.collection {
        crate::collection_name::check(collection)?;
    }
    let need = need_for(request.collection.as_deref());
    let view = state
        .run(credentials, need, move |db, _| {
            let record = consumers::create(
                db,
                &request.name,
                request.collection.as_deref(),
                request.from_seq,
            )?;
            Ok(ConsumerView::of(&record, db.last_seq()))
        })
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// One consumer and its position.
#[utoipa::path(get, operation_id = "get_consumer", path = "/v1/consumers/{consumer}", tag = "changes",
    params(("consumer" = String, Path, description = "Consumer name", pattern = r"^[A-Za-z0-9_.-]{1,128}$")),
    responses((status = 200, description = "The consumer", body = ConsumerView), ErrorResponses))]
pub async fn get(
    State(state): State<SharedState>,
    credentials: Credentials,
    ApiPath(path): ApiPath<ConsumerPath>,
) -> Result<Json<ConsumerView>, ApiError> {
    let view = state
        .read(credentials, Need::Authenticated, move |db, principal| {
            let record = consumers::get(db, principal, &path.consumer)?;
            Ok(ConsumerView::of(&record, db.last_seq()))
        })
        .await?;
    Ok(Json(view))
}

/// Deletes a consumer and its position.
#[utoipa::path(delete, operation_id = "delete_consumer", path = "/v1/consumers/{consumer}", tag = "changes",
    params(("consumer" = String, Path, description = "Consumer name", pattern = r"^[A-Za-z0-9_.-]{1,128}$")),
    responses((status = 204, description = "Deleted"), ErrorResponses))]
pub async fn delete(
    State(state): State<SharedState>,
    credentials: Credentials,
    ApiPath(path): ApiPath<ConsumerPath>,
) -> Result<StatusCode, ApiError> {
    state
        .run(credentials, Need::Authenticated, move |db, principal| {
            consumers::delete(db, principal, &path.consumer)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The events after the consumer's acknowledged position (the position does not move: until
/// acknowledged, the same events come again). 410 `change_log_trimmed` if retention removed
/// part of what the consumer has not acknowledged.
#[utoipa::path(get, operation_id = "pull_events", path = "/v1/consumers/{consumer}/events", tag = "changes",
    params(("consumer" = String, Path, description = "Consumer name", pattern = r"^[A-Za-z0-9_.-]{1,128}$"), EventsQuery),
    responses((status = 200, description = "A page of events", body = EventPage), ErrorResponses))]
pub async fn events(
    State(state): State<SharedState>,
    credentials: Credentials,
    ApiPath(path): ApiPath<ConsumerPath>,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> Result<Json<EventPage>, ApiError> {
    let max = match query.max {
        None => DEFAULT_EVENTS_PER_PULL,
        Some(max) => usize::try_from(max)
            .ok()
            .filter(|max| (1..=MAX_EVENTS_PER_PULL).contains(max))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_query",
                    format!("`max` must be 1 to {MAX_EVENTS_PER_PULL}"),
                )
                .with_details(json!({ "max": max }))
            })?,
    };
    let pull = state
        .scan(credentials, Need::Authenticated, move |db, principal| {
            let record = consumers::get(db, principal, &path.consumer)?;
            consumers::pull(db, &record, max)
        })
        .await?;
    Ok(Json(EventPage {
        format: EVENT_FORMAT_VERSION,
        events: pull.events,
        next: pull.next.into(),
        more: pull.more,
    }))
}

/// Moves the consumer's position forward, durably, before answering. A position at or behind
/// the stored one changes nothing (`moved: false`), so a retried acknowledgement is harmless;
/// 422 `ack_beyond_log` past the latest commit.
#[utoipa::path(post, operation_id = "ack_events", path = "/v1/consumers/{consumer}/ack", tag = "changes",
    params(("consumer" = String, Path, description = "Consumer name", pattern = r"^[A-Za-z0-9_.-]{1,128}$")),
    request_body = PositionView,
    responses((status = 200, description = "The stored position", body = AckReply), ErrorResponses))]
pub async fn ack(
    State(state): State<SharedState>,
    credentials: Credentials,
    ApiPath(path): ApiPath<ConsumerPath>,
    JsonBody(request): JsonBody<PositionView>,
) -> Result<Json<AckReply>, ApiError> {
    let to = request.position()?;
    let (position, moved) = state
        .run(credentials, Need::Authenticated, move |db, principal| {
            consumers::ack(db, principal, &path.consumer, to)
        })
        .await?;
    Ok(Json(AckReply {
        position: position.into(),
        moved,
    }))
}
