//! Liveness, readiness and metrics. `/health` and `/ready` need no credentials (load
//! balancers and orchestrators probe them); `/metrics` needs an admin, since it names every
//! collection and counts users and tokens. Prometheus scrapes the loopback-only metrics
//! listener instead ([`crate::config::ServerConfig::metrics_listen`], [`metrics_router`]),
//! which needs no credentials.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::api_error::ApiError;
use crate::auth::credentials::Credentials;
use crate::auth::Need;
use crate::openapi::ErrorResponses;
use crate::state::SharedState;

/// Body of `/health` and `/ready`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    /// `ok` or `ready`.
    pub status: &'static str,
}

/// Liveness: the process is up and answering.
#[utoipa::path(get, operation_id = "health", path = "/health", tag = "system", security(()),
    responses((status = 200, description = "Alive", body = Status)))]
pub async fn health() -> Json<Status> {
    Json(Status { status: "ok" })
}

/// Readiness: the database is open and can write, the server is not shutting down, and every
/// reader thread is running (503 otherwise, so a load balancer stops sending traffic before the
/// listener closes, while the disk is full, or to a server whose reads could only time out).
#[utoipa::path(get, operation_id = "ready", path = "/ready", tag = "system", security(()),
    responses((status = 200, description = "Ready", body = Status),
              (status = 503, description = "Shutting down (`shutting_down`), reader threads are down (`readers_down`), or the database cannot write: the disk is full (`disk_full`) or the data file failed (`storage_unavailable`) — it recovers by itself at the next write once the cause is gone", body = crate::api_error::ErrorBody)))]
pub async fn ready(State(state): State<SharedState>) -> Result<Json<Status>, ApiError> {
    if state.shutting_down() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down",
        ));
    }
    if !state.reads.serving() {
        let (point, scan) = state.reads.alive();
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "readers_down",
            "reader threads have stopped; reads cannot be served",
        )
        .with_details(serde_json::json!({ "point_threads": point, "scan_threads": scan })));
    }
    if let Some(failure) = state.db.write_failure() {
        // Not ready while writes fail; the code says why (`disk_full`: free space).
        let mut not_ready = ApiError::from(failure);
        not_ready.status = StatusCode::SERVICE_UNAVAILABLE;
        return Err(not_ready);
    }
    Ok(Json(Status { status: "ready" }))
}

/// Prometheus metrics in the text exposition format (admins only; Prometheus scrapes the
/// loopback metrics listener, `metrics_listen`).
#[utoipa::path(get, operation_id = "metrics", path = "/metrics", tag = "system",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String),
              ErrorResponses))]
pub async fn metrics(
    State(state): State<SharedState>,
    credentials: Credentials,
) -> Result<Response, ApiError> {
    let stats = state
        .read(credentials, Need::Admin, |db, _| Ok(db.stats()?))
        .await?;
    Ok(prometheus_text(&state, &stats))
}

/// The router of the metrics listener: `GET /metrics` without credentials, nothing else.
pub fn metrics_router(state: SharedState) -> axum::Router {
    axum::Router::new()
        .route("/metrics", axum::routing::get(unauthenticated_metrics))
        .fallback(|| async { ApiError::route_not_found().into_response() })
        .with_state(state)
}

async fn unauthenticated_metrics(State(state): State<SharedState>) -> Result<Response, ApiError> {
    let db = state.db.clone();
    let stats = state
        .reads
        .run(crate::read_pool::Lane::Scan, move || Ok(db.stats()?))
        .await?;
    Ok(prometheus_text(&state, &stats))
}

fn prometheus_text(state: &SharedState, stats: &cairn::DatabaseStats) -> Response {
    let mut text = state.metrics.render(stats);
    if let Some(cluster) = &state.cluster {
        text.push_str(&cluster.metrics_text());
    }
    if let Some(sources) = &state.sources {
        text.push_str(&sources.metrics_text());
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
