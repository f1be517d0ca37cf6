//! Layers around the API routes: request metrics ([`TrackLayer`]), the concurrency limit (503
//! beyond it) and the per-request time limit (408 beyond it) ([`LimitLayer`]). A request
//! refused by a limit costs the server almost nothing, so it keeps serving the others.
//!
//! Written as plain tower services rather than `axum::middleware::from_fn`: that adapter
//! clones and boxes the inner service and boxes two futures on every request, which
//! `cairn bench http` showed as a visible share of a GET's cost. These wrap the inner future
//! in place and allocate nothing per request.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use pin_project_lite::pin_project;
use serde_json::json;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Timeout;
use tower::{Layer, Service};

use crate::api_error::ApiError;
use crate::state::SharedState;

/// Counts every request and records its latency under its route template.
#[derive(Clone)]
pub struct TrackLayer {
    state: SharedState,
}

impl TrackLayer {
    /// Records into `state.metrics`.
    pub fn new(state: SharedState) -> TrackLayer {
        TrackLayer { state }
    }
}

impl<S> Layer<S> for TrackLayer {
    type Service = Track<S>;

    fn layer(&self, inner: S) -> Track<S> {
        Track {
            inner,
            state: self.state.clone(),
        }
    }
}

/// The service of [`TrackLayer`].
#[derive(Clone)]
pub struct Track<S> {
    inner: S,
    state: SharedState,
}

impl<S> Service<Request> for Track<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = TrackFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let started = Instant::now();
        let method = req.method().clone();
        // A shared handle on the template, not a copy of it.
        let route = req.extensions().get::<MatchedPath>().cloned();
        TrackFuture {
            inner: self.inner.call(req),
            record: Some(Pending {
                state: self.state.clone(),
                started,
                method,
                route,
            }),
        }
    }
}

/// What a tracked request records once it has its response.
struct Pending {
    state: SharedState,
    started: Instant,
    method: Method,
    route: Option<MatchedPath>,
}

pin_project! {
    /// The future of [`Track`]: the inner response, recorded as it passes.
    pub struct TrackFuture<F> {
        #[pin]
        inner: F,
        record: Option<Pending>,
    }
}

impl<F> Future for TrackFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(response) = std::task::ready!(this.inner.poll(cx));
        if let Some(pending) = this.record.take() {
            let elapsed = pending.started.elapsed();
            let route = pending
                .route
                .as_ref()
                .map_or("unmatched", MatchedPath::as_str);
            let method = &pending.method;
            let status = response.status();
            pending.state.metrics.record(method, route, status, elapsed);
            tracing::debug!(%method, %route, status = status.as_u16(), elapsed_us = elapsed.as_micros() as u64, "request");
        }
        Poll::Ready(Ok(response))
    }
}

/// Refuses the request with 503 when [`crate::config::LimitsConfig::max_concurrent_requests`]
/// are in progress, and answers 408 when it runs past the request timeout. Work already handed
/// to the blocking pool finishes in the background; a timed-out write may therefore still
/// commit, exactly as if the connection had dropped.
#[derive(Clone)]
pub struct LimitLayer {
    state: SharedState,
}

impl LimitLayer {
    /// Applies `state.limits` with `state.requests` as the permits.
    pub fn new(state: SharedState) -> LimitLayer {
        LimitLayer { state }
    }
}

impl<S> Layer<S> for LimitLayer {
    type Service = Limit<S>;

    fn layer(&self, inner: S) -> Limit<S> {
        Limit {
            inner,
            state: self.state.clone(),
        }
    }
}

/// The service of [`LimitLayer`].
#[derive(Clone)]
pub struct Limit<S> {
    inner: S,
    state: SharedState,
}

impl<S> Service<Request> for Limit<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = LimitFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let Ok(permit) = self.state.requests.clone().try_acquire_owned() else {
            return LimitFuture::refused(overloaded(self.state.limits.max_concurrent_requests));
        };
        let limits = &self.state.limits;
        LimitFuture {
            inner: Some(tokio::time::timeout(
                limits.request_timeout(),
                self.inner.call(req),
            )),
            refusal: None,
            timeout_ms: limits.request_timeout_ms,
            permit: Some(permit),
        }
    }
}

pin_project! {
    /// The future of [`Limit`]: a refusal, or the inner response under the time limit,
    /// holding its request permit until it is done.
    pub struct LimitFuture<F> {
        // `None` when refused.
        #[pin]
        inner: Option<Timeout<F>>,
        // The refusal, until it is handed out.
        refusal: Option<Response>,
        // The limit, for the 408 answer.
        timeout_ms: u64,
        // The request's place among those in progress, released when this future ends.
        permit: Option<OwnedSemaphorePermit>,
    }
}

impl<F> LimitFuture<F> {
    fn refused(response: Response) -> LimitFuture<F> {
        LimitFuture {
            inner: None,
            refusal: Some(response),
            timeout_ms: 0,
            permit: None,
        }
    }
}

impl<F> Future for LimitFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(inner) = this.inner.as_pin_mut() else {
            let response = this.refusal.take();
            return Poll::Ready(Ok(response.unwrap_or_else(|| {
                ApiError::internal("a refused request was polled after completion").into_response()
            })));
        };
        let outcome = std::task::ready!(inner.poll(cx));
        this.permit.take();
        match outcome {
            Ok(outcome) => Poll::Ready(outcome),
            Err(_) => Poll::Ready(Ok(timed_out(*this.timeout_ms))),
        }
    }
}

fn overloaded(limit: usize) -> Response {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "overloaded",
        format!("{limit} requests are already in progress; retry shortly"),
    )
    .with_details(json!({ "max_concurrent_requests": limit }))
    .into_response()
}

fn timed_out(timeout_ms: u64) -> Response {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
        format!("the request took longer than {timeout_ms} ms"),
    )
    .with_details(json!({ "request_timeout_ms": timeout_ms }))
    .into_response()
}
