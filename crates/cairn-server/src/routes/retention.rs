//! `/v1/collections/{collection}/retention`: how many of its own changes a collection keeps
//! in its history (for `as_of` reads and audits) — longer or shorter than the database-wide
//! change-log retention (`Database::set_collection_retention`). `null`: the database's.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api_error::ApiError;
use crate::auth::credentials::Credentials;
use crate::auth::Need;
use crate::body::JsonBody;
use crate::collection_name::CollectionName;
use crate::openapi::ErrorResponses;
use crate::state::SharedState;

/// A collection's retention.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Changes of its own the collection keeps (at least 1); null: the database-wide
    /// change-log retention decides. At most 2^40 (`MAX_COLLECTION_RETENTION_CHANGES`).
    #[schema(minimum = 1, maximum = 1_099_511_627_776_u64)]
    pub changes: Option<u64>,
}

/// A collection's retention (needs read access).
#[utoipa::path(get, operation_id = "get_retention", path = "/v1/collections/{collection}/retention", tag = "collections",
    params(CollectionName),
    responses((status = 200, description = "The retention", body = Retention), ErrorResponses))]
pub async fn get(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
) -> Result<Json<Retention>, ApiError> {
    let need = Need::read(&collection);
    let changes = state
        .read(credentials, need, move |db, _| {
            Ok(db.collection_retention(&collection)?)
        })
        .await?;
    Ok(Json(Retention { changes }))
}

/// Sets a collection's retention (needs write access): records the change log trims from
/// now on are kept in the collection's history up to this many; null drops its kept history.
#[utoipa::path(put, operation_id = "set_retention", path = "/v1/collections/{collection}/retention", tag = "collections",
    params(CollectionName),
    request_body = Retention,
    responses((status = 200, description = "The retention after the change", body = Retention), ErrorResponses))]
pub async fn set(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
    JsonBody(request): JsonBody<Retention>,
) -> Result<Json<Retention>, ApiError> {
    if let Some(n) = request.changes {
        let limit = cairn::limits::MAX_COLLECTION_RETENTION_CHANGES;
        if n == 0 || n > limit {
            // A bad request, not a write too large: the body is outside its documented range.
            return Err(ApiError::bad_request(
                "invalid_retention",
                format!("`changes` must be between 1 and {limit} (or null), got {n}"),
            ));
        }
    }
    let need = Need::write(&collection);
    let changes = state
        .run(credentials, need, move |db, _| {
            db.set_collection_retention(&collection, request.changes)?;
            Ok(db.collection_retention(&collection)?)
        })
        .await?;
    Ok(Json(Retention { changes }))
}

// The OpenAPI document's `maximum` above is a literal; it must be the engine's limit.
const _: () = assert!(cairn::limits::MAX_COLLECTION_RETENTION_CHANGES == 1_099_511_627_776);
