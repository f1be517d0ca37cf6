//! `GET /v1/collections/{collection}/changes`: the change stream, as Server-Sent Events, read
//! from the engine's change log.
//!
//! Each change is one event: `event: change`, `id: SEQ.INDEX` (the commit's sequence number
//! and the change's position in it), and the change as JSON. A client resumes with
//! `?since=SEQ` (everything committed after `SEQ`) or with the standard `Last-Event-ID`
//! header, which resumes exactly after the last event received, even in the middle of a
//! commit: no gap, no duplicate. If retention already trimmed the requested position, the
//! answer is 410 `change_log_trimmed`; if that happens while streaming (a client too slow for
//! the retention setting), an `event: error` with the same body ends the stream.
//!
//! The caller's authorization is checked again whenever users or tokens change and when its
//! token expires, before anything more is delivered: a revoked or expired token, a deleted
//! user, a new password or a lost grant ends the stream with an `event: error` (401 or 403
//! body), even while it is idle.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use cairn::{Change, DateTime};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use utoipa::IntoParams;

use crate::api_error::ApiError;
use crate::auth::credentials::Credentials;
use crate::auth::{store, Need, Principal};
use crate::collection_name::CollectionName;
use crate::event_log::{is_public, ChangeEvent, Position};
use crate::extract::ApiQuery;
use crate::limits::{CHANGES_PER_STREAM_READ, CHANGE_STREAM_KEEPALIVE};
use crate::openapi::ErrorResponses;
use crate::read_pool::Lane;
use crate::state::SharedState;

/// Events buffered between the log reader and a slow client: 64. The reader waits beyond it,
/// so a slow client holds at most this many events in memory.
const STREAM_BUFFER_EVENTS: usize = 64;

/// One Server-Sent Event of the change stream, as the OpenAPI document describes it.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // Describes the wire format; events are written by `change_event`.
pub struct SseEvent {
    /// `change`, or `error` (then `data` is the common error body and the stream ends).
    event: String,
    /// `SEQ.INDEX`, for `Last-Event-ID`.
    id: Option<String>,
    /// The change as JSON in the event log's format ([`ChangeEvent`], versioned by `format`).
    data: String,
}

/// Query of the change stream.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ChangesQuery {
    /// Stream the changes committed after this sequence number (default: from now on).
    #[param(minimum = 0)]
    pub since: Option<i64>,
}

/// Streams the collection's changes as Server-Sent Events.
#[utoipa::path(get, operation_id = "change_stream", path = "/v1/collections/{collection}/changes", tag = "changes",
    params(CollectionName, ChangesQuery,
           ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id (`SEQ.INDEX`)", pattern = r"^[0-9]{1,19}(\.[0-9]{1,10})?$")),
    responses((status = 200, description = "An event stream: `event: change`, `id: SEQ.INDEX`, data = the change as JSON",
               content_type = "text/event-stream", body = SseEvent), ErrorResponses))]
pub async fn stream(
    State(state): State<SharedState>,
    credentials: Credentials,
    headers: HeaderMap,
    CollectionName(collection): CollectionName,
    ApiQuery(query): ApiQuery<ChangesQuery>,
) -> Result<Response, ApiError> {
    let since = query
        .since
        .map(|since| {
            u64::try_from(since)
                .map_err(|_| ApiError::bad_request("invalid_query", "`since` must not be negative"))
        })
        .transpose()?;
    let resume = headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .map(|text| {
            Position::parse_event_id(text).ok_or_else(|| {
                ApiError::bad_request("invalid_event_id", "Last-Event-ID must be SEQ or SEQ.INDEX")
            })
        })
        .transpose()?;
    let Ok(permit) = state.streams.clone().try_acquire_owned() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            format!(
                "{} change streams are open; retry shortly",
                state.limits.max_change_streams
            ),
        ));
    };
    let name = collection.clone();
    // Subscribed before authenticating, so a change to users or tokens from then on is seen.
    let auth_changes = state.tokens.subscribe();
    let (start, first, principal) = state
        .read(
            credentials.clone(),
            Need::read(&collection),
            move |db, principal| {
                db.begin()?.collection_meta(&name)?;
                let start = resume.unwrap_or(Position::after_commit(
                    since.unwrap_or_else(|| db.last_seq()),
                ));
                let first = db.changes_after(start.read_after(), CHANGES_PER_STREAM_READ)?;
                Ok((start, first, Arc::new(principal.clone())))
            },
        )
        .await?;
    let (sender, receiver) = mpsc::channel(STREAM_BUFFER_EVENTS);
    // A password is not needed again (the re-check compares the user record's stamp): do not
    // keep it for the stream's lifetime.
    let credentials = match credentials {
        Credentials::Basic { user, client, .. } => Credentials::Basic {
            user,
            password: String::new(),
            client,
        },
        other => other,
    };
    let caller = Caller {
        credentials,
        principal,
        need: Need::read(&collection),
        changes: auth_changes,
    };
    tokio::spawn(async move {
        let _permit = permit;
        tail(state, collection, caller, start, first, sender).await;
    });
    let events = Sse::new(ReceiverStream::new(receiver))
        .keep_alive(KeepAlive::new().interval(CHANGE_STREAM_KEEPALIVE));
    Ok(events.into_response())
}

type Sender = mpsc::Sender<Result<Event, Infallible>>;

/// Who the stream delivers to, kept to check again that they still may.
struct Caller {
    credentials: Credentials,
    principal: Arc<Principal>,
    need: Need,
    /// Wakes when users or tokens change.
    changes: tokio::sync::watch::Receiver<u64>,
}

impl Caller {
    /// Whether the caller must be checked again before more is delivered: users or tokens
    /// changed, or the token expired.
    fn stale(&self) -> bool {
        let expired = self
            .principal
            .expires_at_us
            .is_some_and(|expires| expires <= DateTime::now().micros());
        expired || self.changes.has_changed().unwrap_or(false)
    }

    /// Checks again that the caller is who they were and may still read; the error ends the
    /// stream.
    async fn recheck(&mut self, state: &SharedState) -> Result<(), ApiError> {
        self.changes.borrow_and_update();
        if !state.auth_enabled {
            return Ok(());
        }
        let db = state.db.clone();
        let cache = state.tokens.clone();
        let credentials = self.credentials.clone();
        let principal = self.principal.clone();
        let need = self.need.clone();
        let current = state
            .reads
            .run(Lane::Point, move || {
                let current = store::recheck(&db, &cache, &credentials, &principal)?;
                current.authorize(&need)?;
                Ok(current)
            })
            .await?;
        self.principal = current;
        Ok(())
    }
}

/// What woke an idle stream.
enum Wake {
    /// A commit past the position.
    Commit,
    /// Users or tokens changed.
    Auth,
    /// Shutdown, or the client went away.
    Stop,
}

/// Sends the error as the stream's last event.
async fn send_error(sender: &Sender, err: &ApiError) {
    let body = serde_json::to_string(&err.body()).unwrap_or_default();
    let _ = sender
        .send(Ok(Event::default().event("error").data(body)))
        .await;
}

/// Sends changes from `start` on until the client goes away, the server shuts down, or the
/// log is trimmed past the client.
async fn tail(
    state: SharedState,
    collection: String,
    mut caller: Caller,
    mut position: Position,
    mut batch: Vec<Change>,
    sender: Sender,
) {
    let mut commits = state.commits.clone();
    let mut shutdown = state.shutdown.clone();
    let mut auth_changed = false;
    loop {
        if auth_changed || caller.stale() {
            if let Err(err) = caller.recheck(&state).await {
                send_error(&sender, &err).await;
                return;
            }
            auth_changed = false;
        }
        if !deliver(&batch, &collection, position, &sender).await {
            return;
        }
        if let Some(last) = batch.last() {
            position = position.max(Position::after_commit(last.seq));
        } else {
            let seen = position.seq;
            let wake = tokio::select! {
                woke = commits.wait_for(|&latest| latest > seen) => {
                    if woke.is_ok() { Wake::Commit } else { Wake::Stop }
                }
                changed = caller.changes.changed() => {
                    if changed.is_ok() { Wake::Auth } else { Wake::Stop }
                }
                _ = shutdown.changed() => Wake::Stop,
                () = sender.closed() => Wake::Stop,
            };
            match wake {
                Wake::Stop => return,
                _ if *shutdown.borrow() => return,
                // `changed()` marked the change seen, so `stale()` will not: check at the top,
                // with nothing to deliver, then wait again.
                Wake::Auth => {
                    auth_changed = true;
                    continue;
                }
                Wake::Commit => {}
            }
        }
        let db = state.db.clone();
        let after = position.read_after();
        let read = state.reads.run(Lane::Point, move || {
            Ok(db.changes_after(after, CHANGES_PER_STREAM_READ)?)
        });
        batch = match read.await {
            Ok(batch) => batch,
            Err(err) => {
                send_error(&sender, &err).await;
                return;
            }
        };
    }
}

/// Sends the batch's changes of `collection` past `position`; false when the client is gone.
async fn deliver(batch: &[Change], collection: &str, position: Position, sender: &Sender) -> bool {
    for change in batch {
        let at = Position::of(change);
        if at <= position {
            continue;
        }
        if change.collection == collection
            && is_public(change)
            && sender.send(Ok(change_event(change))).await.is_err()
        {
            return false;
        }
    }
    true
}

/// One change as an SSE event: the event log's format ([`ChangeEvent`]).
fn change_event(change: &Change) -> Event {
    let data = serde_json::to_string(&ChangeEvent::of(change)).unwrap_or_default();
    Event::default()
        .event("change")
        .id(format!("{}.{}", change.seq, change.index))
        .data(data)
}
