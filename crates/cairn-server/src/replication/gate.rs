//! The consistency gate in front of the API routes: reads the requested level (`consistency`
//! query parameter, else the `Cairn-Consistency` header), and on a cluster decides, before the
//! handler runs, whether this node may serve the request: reads pass the replication layer's
//! read barrier (or are redirected to the leader), writes on a follower are redirected (307,
//! `Location` = the same request at the leader), and writes the cluster does not replicate yet
//! are refused (`not_replicated`) rather than applied to one node only.

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::api_error::ApiError;
use crate::replication::{Consistency, ReplicationError};
use crate::state::SharedState;

/// Header naming the level (the `consistency` query parameter wins when both are given).
pub const CONSISTENCY_HEADER: &str = "cairn-consistency";
/// Answer header: the applied Raft log index the read was served from.
pub const APPLIED_INDEX_HEADER: &str = "cairn-applied-index";
/// Answer header `possible` on reads that may miss acknowledged writes (`local`, `eventual`).
pub const STALE_HEADER: &str = "cairn-stale";

/// The level a write asked for (set by the gate; handlers read it with this extractor).
#[derive(Debug, Clone, Copy)]
pub struct WriteLevel(pub Consistency);

impl<S: Send + Sync> FromRequestParts<S> for WriteLevel {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<WriteLevel, ApiError> {
        Ok(parts
            .extensions
            .get::<WriteLevel>()
            .copied()
            .unwrap_or(WriteLevel(Consistency::Strong)))
    }
}

/// The level named by the request, if any.
pub fn requested_level(uri: &Uri, headers: &HeaderMap) -> Result<Option<Consistency>, ApiError> {
    let from_query = uri
        .query()
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (name == "consistency").then_some(value)
        });
    if let Some(value) = from_query {
        return Consistency::parse(value).map(Some);
    }
    match headers.get(CONSISTENCY_HEADER) {
        None => Ok(None),
        Some(value) => {
            let text = value.to_str().map_err(|_| {
                ApiError::bad_request(
                    "invalid_consistency",
                    "the Cairn-Consistency header is not text",
                )
            })?;
            Consistency::parse(text).map(Some)
        }
    }
}

/// How the gate treats a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A replicated write: proposed through Raft by its handler.
    Write,
    /// A read of replicated data.
    Read,
    /// Node-local (authentication, cluster administration): served here as is.
    Local,
    /// A write the cluster does not replicate yet.
    Unreplicated,
}

fn classify(method: &Method, path: &str) -> Kind {
    const WRITES: &[(&str, &str)] = &[
        ("POST", "/v1/collections"),
        ("DELETE", "/v1/collections/{collection}"),
        ("POST", "/v1/collections/{collection}/documents"),
        ("PUT", "/v1/collections/{collection}/documents/{id}"),
        ("PATCH", "/v1/collections/{collection}/documents/{id}"),
        ("DELETE", "/v1/collections/{collection}/documents/{id}"),
        ("POST", "/v1/collections/{collection}/documents/{id}/cas"),
        ("POST", "/v1/collections/{collection}/batch"),
        ("POST", "/v1/collections/{collection}/indexes"),
        ("DELETE", "/v1/collections/{collection}/indexes/{name}"),
        ("PUT", "/v1/collections/{collection}/schema"),
    ];
    const POST_READS: &[&str] = &["query", "count", "distinct", "explain", "aggregate"];
    if WRITES
        .iter()
        .any(|(m, p)| method.as_str() == *m && path == *p)
    {
        return Kind::Write;
    }
    if path.starts_with("/v1/auth") || path.starts_with("/v1/cluster") || path == "/metrics" {
        return Kind::Local;
    }
    let post_read = path
        .strip_prefix("/v1/collections/{collection}/")
        .is_some_and(|rest| POST_READS.contains(&rest))
        || path == "/v1/graph/path"
        || path == "/v1/graph/traverse";
    if method == Method::GET || method == Method::HEAD || post_read {
        return Kind::Read;
    }
    Kind::Unreplicated
}

/// The gate (a route layer, so the matched route template is known).
pub async fn gate(State(state): State<SharedState>, mut request: Request, next: Next) -> Response {
    let level = match requested_level(request.uri(), request.headers()) {
        Ok(level) => level,
        Err(err) => return err.into_response(),
    };
    let Some(cluster) = state.cluster.clone() else {
        // One node: its one copy is the majority, so every level is honoured as asked.
        let mut response = next.run(request).await;
        if let Some(level) = level {
            response
                .headers_mut()
                .insert(CONSISTENCY_HEADER, HeaderValue::from_static(level.name()));
        }
        return response;
    };
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let level = level.unwrap_or(Consistency::Strong);
    match classify(request.method(), &path) {
        Kind::Local => next.run(request).await,
        Kind::Unreplicated => ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "not_replicated",
            "this write is not replicated by the cluster yet; collection, index and schema changes and document writes are (README \"Clusters\")",
        )
        .into_response(),
        Kind::Write => {
            if level == Consistency::Local {
                return ApiError::bad_request(
                    "invalid_consistency",
                    "a write cannot be `local` on a cluster: use eventual, quorum or strong",
                )
                .into_response();
            }
            if !cluster.is_leader() {
                return redirect(cluster.leader_url(), request.uri());
            }
            request.extensions_mut().insert(super::gate::WriteLevel(level));
            next.run(request).await
        }
        Kind::Read => match cluster.read_barrier(level).await {
            Ok(stamp) => {
                let mut response = next.run(request).await;
                let headers = response.headers_mut();
                headers.insert(CONSISTENCY_HEADER, HeaderValue::from_static(level.name()));
                if let Ok(value) = HeaderValue::from_str(&stamp.applied_index.to_string()) {
                    headers.insert(APPLIED_INDEX_HEADER, value);
                }
                if stamp.possibly_stale {
                    headers.insert(STALE_HEADER, HeaderValue::from_static("possible"));
                }
                response
            }
            Err(ReplicationError::NotLeader { leader_url }) => redirect(leader_url, request.uri()),
            Err(err) => ApiError::from(err).into_response(),
        },
    }
}

/// 307 to the same request at the leader (the method and body are kept by clients), or 503
/// `no_quorum` while no leader is known.
fn redirect(leader_url: Option<String>, uri: &Uri) -> Response {
    let Some(leader) = leader_url else {
        return ApiError::from(ReplicationError::NoQuorum("no leader is known".into()))
            .into_response();
    };
    let target = format!(
        "{}{}",
        leader.trim_end_matches('/'),
        uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    );
    let mut response = ApiError::new(
        StatusCode::TEMPORARY_REDIRECT,
        "not_leader",
        "this node is not the leader; the request was redirected to it",
    )
    .with_details(json!({ "leader": leader }))
    .into_response();
    if let Ok(value) = HeaderValue::from_str(&target) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_classified_by_template_and_method() {
        assert_eq!(
            classify(
                &Method::POST,
                "/v1/collections/{collection}/documents/{id}/cas"
            ),
            Kind::Write
        );
        assert_eq!(
            classify(&Method::POST, "/v1/collections/{collection}/query"),
            Kind::Read
        );
        assert_eq!(
            classify(&Method::GET, "/v1/collections/{collection}/documents/{id}"),
            Kind::Read
        );
        assert_eq!(
            classify(&Method::POST, "/v1/collections/{collection}/update-many"),
            Kind::Unreplicated
        );
        assert_eq!(
            classify(
                &Method::DELETE,
                "/v1/collections/{collection}/indexes/{name}"
            ),
            Kind::Write
        );
        assert_eq!(
            classify(&Method::PUT, "/v1/collections/{collection}/schema"),
            Kind::Write
        );
        assert_eq!(
            classify(
                &Method::POST,
                "/v1/collections/{collection}/schema/migrations"
            ),
            Kind::Unreplicated
        );
        assert_eq!(classify(&Method::POST, "/v1/auth/tokens"), Kind::Local);
        assert_eq!(classify(&Method::POST, "/v1/cluster/learners"), Kind::Local);
    }

    #[test]
    fn the_query_parameter_wins_over_the_header() {
        let mut headers = HeaderMap::new();
        headers.insert(CONSISTENCY_HEADER, HeaderValue::from_static("local"));
        let uri: Uri = "/x?a=1&consistency=quorum".parse().unwrap();
        assert_eq!(
            requested_level(&uri, &headers).unwrap(),
            Some(Consistency::Quorum)
        );
        let uri: Uri = "/x".parse().unwrap();
        assert_eq!(
            requested_level(&uri, &headers).unwrap(),
            Some(Consistency::Local)
        );
        let uri: Uri = "/x?consistency=bogus".parse().unwrap();
        assert_eq!(
            requested_level(&uri, &headers).unwrap_err().code,
            "invalid_consistency"
        );
    }
}
