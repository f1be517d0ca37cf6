//! `/v1/cluster`: the replication group's state and membership (admins only). A single-node
//! server answers the status with `"mode": "single"` and refuses membership changes with 409
//! `not_clustered` (start it with a `[cluster]` section to form a group).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value as Json_};

use crate::api_error::ApiError;
use crate::auth::credentials::Credentials;
use crate::auth::Need;
use crate::body::JsonBody;
use crate::extract::ApiPath;
use crate::openapi::ErrorResponses;
use crate::replication::{NewMember, Replication};
use crate::state::SharedState;

/// Authenticates an admin and returns the replication layer, or 409 on a single node.
async fn admin(
    state: &SharedState,
    credentials: Credentials,
) -> Result<Option<std::sync::Arc<dyn Replication>>, ApiError> {
    state.run(credentials, Need::Admin, |_, _| Ok(())).await?;
    Ok(state.cluster.clone())
}

/// A node id from the path, parsed after authentication (so a stranger learns nothing from a
/// malformed path but 401).
fn parse_node_id(text: &str) -> Result<u64, ApiError> {
    match text.parse::<u64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(ApiError::bad_request(
            "invalid_path",
            format!("node id {text:?} is not a positive integer"),
        )),
    }
}

fn not_clustered() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "not_clustered",
        "this server is a single node; start it with a [cluster] section to form a group",
    )
}

/// The cluster: this node's id and role, the leader, term, commit and applied indexes, members
/// and each follower's replication lag (on the leader).
#[utoipa::path(get, operation_id = "cluster_status", path = "/v1/cluster", tag = "cluster",
    responses((status = 200, description = "The cluster's state (`mode` is `single` or `cluster`)", body = Object), ErrorResponses))]
pub async fn status(
    State(state): State<SharedState>,
    credentials: Credentials,
) -> Result<Json<Json_>, ApiError> {
    match admin(&state, credentials).await? {
        Some(cluster) => Ok(Json(cluster.status().await)),
        None => Ok(Json(json!({ "mode": "single" }))),
    }
}

/// Adds a learner: a replica that receives the log and serves `local`/`eventual` reads but
/// does not vote. Answers once it has caught up.
#[utoipa::path(post, operation_id = "cluster_add_learner", path = "/v1/cluster/learners", tag = "cluster",
    request_body = NewMember,
    responses((status = 200, description = "Added", body = Object), ErrorResponses))]
pub async fn add_learner(
    State(state): State<SharedState>,
    credentials: Credentials,
    JsonBody(member): JsonBody<NewMember>,
) -> Result<Json<Json_>, ApiError> {
    let cluster = admin(&state, credentials)
        .await?
        .ok_or_else(not_clustered)?;
    if member.node_id == 0 {
        return Err(ApiError::bad_request(
            "invalid_request",
            "node_id must be positive",
        ));
    }
    Ok(Json(cluster.add_learner(member).await?))
}

/// Makes a learner a voter.
#[utoipa::path(post, operation_id = "cluster_promote", path = "/v1/cluster/members/{node_id}/promote", tag = "cluster",
    params(("node_id" = u64, Path, description = "The learner's node id", minimum = 1)),
    responses((status = 200, description = "Promoted", body = Object), ErrorResponses))]
pub async fn promote(
    State(state): State<SharedState>,
    credentials: Credentials,
    ApiPath(node_id): ApiPath<String>,
) -> Result<Json<Json_>, ApiError> {
    let cluster = admin(&state, credentials)
        .await?
        .ok_or_else(not_clustered)?;
    Ok(Json(cluster.promote(parse_node_id(&node_id)?).await?))
}

/// Removes a node (voter or learner) from the cluster.
#[utoipa::path(delete, operation_id = "cluster_remove", path = "/v1/cluster/members/{node_id}", tag = "cluster",
    params(("node_id" = u64, Path, description = "The node's id", minimum = 1)),
    responses((status = 200, description = "Removed", body = Object), ErrorResponses))]
pub async fn remove(
    State(state): State<SharedState>,
    credentials: Credentials,
    ApiPath(node_id): ApiPath<String>,
) -> Result<Json<Json_>, ApiError> {
    let cluster = admin(&state, credentials)
        .await?
        .ok_or_else(not_clustered)?;
    Ok(Json(cluster.remove(parse_node_id(&node_id)?).await?))
}
