//! Layers around the API routes: request metrics, the concurrency limit (503 beyond it) and
//! the per-request time limit (408 beyond it). A request refused by a limit costs the server
//! almost nothing, so it keeps serving the others.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::api_error::ApiError;
use crate::state::SharedState;

/// Counts the request and records its latency under its route template.
pub async fn track(State(state): State<SharedState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |path| path.as_str())
        .to_string();
    let response = next.run(req).await;
    let elapsed = started.elapsed();
    state
        .metrics
        .record(&method, &route, response.status(), elapsed);
    tracing::debug!(%method, %route, status = response.status().as_u16(), elapsed_us = elapsed.as_micros() as u64, "request");
    response
}

/// Refuses the request with 503 when [`crate::config::LimitsConfig::max_concurrent_requests`]
/// are in progress, and answers 408 when it runs past the request timeout. Work already handed
/// to the blocking pool finishes in the background; a timed-out write may therefore still
/// commit, exactly as if the connection had dropped.
pub async fn limit(State(state): State<SharedState>, req: Request, next: Next) -> Response {
    let Ok(_permit) = state.requests.clone().try_acquire_owned() else {
        let limit = state.limits.max_concurrent_requests;
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            format!("{limit} requests are already in progress; retry shortly"),
        )
        .with_details(json!({ "max_concurrent_requests": limit }))
        .into_response();
    };
    let timeout = state.limits.request_timeout();
    match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!("the request took longer than {} ms", timeout.as_millis()),
        )
        .with_details(json!({ "request_timeout_ms": state.limits.request_timeout_ms }))
        .into_response(),
    }
}
