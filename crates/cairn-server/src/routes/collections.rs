//! `/v1/collections`: list, create, drop.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api_error::ApiError;
use crate::auth::credentials::Credentials;
use crate::auth::{Access, Need};
use crate::body::JsonBody;
use crate::collection_name::{self, CollectionName};
use crate::openapi::ErrorResponses;
use crate::replication::gate::WriteLevel;
use crate::replication::{self, WriteCommand};
use crate::state::SharedState;

/// A collection.
#[derive(Debug, Serialize, ToSchema)]
pub struct CollectionInfo {
    /// Its name.
    pub name: String,
    /// When it was created (RFC 3339, UTC).
    pub created_at: String,
}

/// The collections the caller may read.
#[derive(Debug, Serialize, ToSchema)]
pub struct CollectionList {
    /// In name order.
    pub collections: Vec<CollectionInfo>,
}

/// Body of `POST /v1/collections`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCollection {
    /// 1 to 128 ASCII letters, digits, `_` and `-`, starting with a letter or `_`.
    #[schema(pattern = r"^[A-Za-z_][A-Za-z0-9_-]{0,127}$")]
    pub name: String,
}

impl From<cairn::CollectionMeta> for CollectionInfo {
    fn from(meta: cairn::CollectionMeta) -> CollectionInfo {
        CollectionInfo {
            name: meta.name,
            created_at: meta.created_at.to_string(),
        }
    }
}

/// Lists the collections the caller may read.
#[utoipa::path(get, operation_id = "list_collections", path = "/v1/collections", tag = "collections",
    responses((status = 200, description = "The collections", body = CollectionList), ErrorResponses))]
pub async fn list(
    State(state): State<SharedState>,
    credentials: Credentials,
) -> Result<Json<CollectionList>, ApiError> {
    let collections = state
        .read(credentials, Need::Authenticated, |db, principal| {
            Ok(db
                .list_collections()?
                .into_iter()
                .filter(|meta| !cairn::is_system_collection(&meta.name))
                .filter(|meta| principal.access(&meta.name) >= Access::ReadOnly)
                .map(CollectionInfo::from)
                .collect())
        })
        .await?;
    Ok(Json(CollectionList { collections }))
}

/// Creates a collection (needs write access to its name).
#[utoipa::path(post, operation_id = "create_collection", path = "/v1/collections", tag = "collections", request_body = CreateCollection,
    responses((status = 201, description = "Created", body = CollectionInfo), ErrorResponses))]
pub async fn create(
    State(state): State<SharedState>,
    credentials: Credentials,
    WriteLevel(level): WriteLevel,
    JsonBody(request): JsonBody<CreateCollection>,
) -> Result<Response, ApiError> {
    collection_name::check(&request.name)?;
    let need = Need::write(&request.name);
    if let Some(cluster) = state.cluster.clone() {
        return replication::propose(&state, cluster, credentials, need, level, false, || {
            Ok(WriteCommand::CreateCollection { name: request.name })
        })
        .await;
    }
    let meta = state
        .run(credentials, need, move |db, _| {
            Ok(db.create_collection(&request.name)?)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(CollectionInfo::from(meta))).into_response())
}

/// Drops a collection and every document in it (needs write access to it).
#[utoipa::path(delete, operation_id = "drop_collection", path = "/v1/collections/{collection}", tag = "collections",
    params(CollectionName),
    responses((status = 204, description = "Dropped"), ErrorResponses))]
pub async fn drop(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
    WriteLevel(level): WriteLevel,
) -> Result<Response, ApiError> {
    let need = Need::write(&collection);
    if let Some(cluster) = state.cluster.clone() {
        return replication::propose(&state, cluster, credentials, need, level, false, || {
            Ok(WriteCommand::DropCollection { name: collection })
        })
        .await;
    }
    state
        .run(credentials, need, move |db, _| {
            Ok(db.drop_collection(&collection)?)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
