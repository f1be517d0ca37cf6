//! `/v1/collections/{collection}/schema`: read and set a collection's schema, and its history.
//! Migrations live in [`super::migrations`], inference in [`super::inference`].

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::api_error::ApiError;
use crate::auth::credentials::Credentials;
use crate::auth::{Access, Need, Principal};
use crate::body::JsonBody;
use crate::collection_name::{self, CollectionName};
use crate::openapi::ErrorResponses;
use crate::replication::gate::WriteLevel;
use crate::replication::{self, WriteCommand};
use crate::state::SharedState;

/// A collection's current schema.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchemaView {
    /// The current version (1 for the first schema; 0 for a schemaless collection).
    pub version: u64,
    /// The definition as set (`null`: the collection is schemaless).
    #[schema(value_type = Option<Object>)]
    pub schema: Option<serde_json::Value>,
    /// Whether a migration to this version is still running or was interrupted.
    pub migrating: bool,
    /// While migrating: how far the migration got.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<MigrationState>,
}

/// How far a migration in progress got.
#[derive(Debug, Serialize, ToSchema)]
pub struct MigrationState {
    /// Documents rewritten so far.
    pub migrated: u64,
    /// Documents examined so far.
    pub scanned: u64,
    /// Documents in the collection now.
    pub total: u64,
}

/// One version in a schema's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchemaVersion {
    /// The version.
    pub version: u64,
    /// When it was created (RFC 3339, UTC).
    pub at: String,
    /// Who created it.
    pub by: String,
    /// What changed.
    pub changes: Vec<String>,
    /// The definition.
    #[schema(value_type = Object)]
    pub schema: serde_json::Value,
}

/// A schema's history, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchemaHistory {
    /// The versions.
    pub versions: Vec<SchemaVersion>,
}

/// A document value as plain JSON (Cairn's extended JSON for typed values).
pub(crate) fn to_json(value: &cairn::Value) -> serde_json::Value {
    serde_json::from_str(&value.to_json_string()).unwrap_or(serde_json::Value::Null)
}

/// The collection's current schema (needs read access). A schemaless collection answers
/// version 0 with a `null` schema; an unknown one 404 `collection_not_found`.
#[utoipa::path(get, operation_id = "get_schema", path = "/v1/collections/{collection}/schema", tag = "schemas",
    params(CollectionName),
    responses((status = 200, description = "The schema", body = SchemaView), ErrorResponses))]
pub async fn get(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
) -> Result<Json<SchemaView>, ApiError> {
    let need = Need::read(&collection);
    let view = state
        .read(credentials, need, move |db, _| {
            let Some(info) = cairn::schema::schema_of(db, &collection)? else {
                return Ok(SchemaView {
                    version: 0,
                    schema: None,
                    migrating: false,
                    progress: None,
                });
            };
            Ok(SchemaView {
                version: info.version,
                schema: Some(to_json(&info.source)),
                migrating: info.migrating,
                progress: info
                    .progress
                    .filter(|_| info.migrating)
                    .map(|p| MigrationState {
                        migrated: p.migrated,
                        scanned: p.scanned,
                        total: p.total,
                    }),
            })
        })
        .await?;
    Ok(Json(view))
}

/// Sets the collection's schema: a new version when the change is compatible with the stored
/// documents (409 `migration_required` otherwise). Needs write access to the collection and to
/// every collection it references.
#[utoipa::path(put, operation_id = "set_schema", path = "/v1/collections/{collection}/schema", tag = "schemas",
    params(CollectionName),
    request_body(content = Object, description = "The schema document (fields, additional_fields, rules)"),
    responses((status = 200, description = "The new version", body = SchemaView), ErrorResponses))]
pub async fn put(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
    WriteLevel(level): WriteLevel,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> Result<Response, ApiError> {
    let source = cairn::Value::from_json_str(&body.to_string())?;
    let schema = cairn::schema::Schema::from_value(&source)?;
    let referenced = referenced_collections(&schema)?;
    let need = Need::write(&collection);
    if let Some(cluster) = state.cluster.clone() {
        return replication::propose_as(
            &state,
            cluster,
            credentials,
            need,
            level,
            move |db, principal| {
                may_reference(principal, &referenced)?;
                let current = cairn::schema::schema_of(db, &collection)?;
                Ok(WriteCommand::SetSchema {
                    version: current.map_or(0, |info| info.version) + 1,
                    collection,
                    schema: source.to_json_string(),
                    author: principal.name.clone(),
                })
            },
        )
        .await;
    }
    let view = state
        .run(credentials, need, move |db, principal| {
            may_reference(principal, &referenced)?;
            let version = cairn::schema::set_schema(db, &collection, &source, &principal.name)?;
            Ok(SchemaView {
                version,
                schema: Some(to_json(&source)),
                migrating: false,
                progress: None,
            })
        })
        .await?;
    Ok(Json(view).into_response())
}

/// Refuses a schema whose references name a collection `principal` may not write.
fn may_reference(principal: &Principal, referenced: &[String]) -> Result<(), ApiError> {
    match referenced
        .iter()
        .find(|c| principal.access(c) < Access::ReadWrite)
    {
        Some(other) => Err(ApiError::forbidden(format!(
            "referencing `{other}` needs write access to it"
        ))),
        None => Ok(()),
    }
}

/// The schema's version history (needs read access).
#[utoipa::path(get, operation_id = "get_schema_history", path = "/v1/collections/{collection}/schema/history", tag = "schemas",
    params(CollectionName),
    responses((status = 200, description = "Every version, oldest first", body = SchemaHistory), ErrorResponses))]
pub async fn history(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
) -> Result<Json<SchemaHistory>, ApiError> {
    let need = Need::read(&collection);
    let versions = state
        .read(credentials, need, move |db, _| {
            Ok(cairn::schema::history(db, &collection)?
                .into_iter()
                .map(|entry| SchemaVersion {
                    version: entry.version,
                    at: entry.at.to_string(),
                    by: entry.by,
                    changes: entry.changes,
                    schema: to_json(&entry.schema),
                })
                .collect())
        })
        .await?;
    Ok(Json(SchemaHistory { versions }))
}

/// The collections a schema's references point to, wherever they sit (inside arrays and maps
/// too), each checked like a path's collection (reserved names refused): changing to such a
/// schema, or trying a migration to it, needs access to them too.
pub(crate) fn referenced_collections(
    schema: &cairn::schema::Schema,
) -> Result<Vec<String>, ApiError> {
    let mut referenced = Vec::new();
    for reference in schema.references() {
        collection_name::check(&reference.collection)?;
        referenced.push(reference.collection.clone());
    }
    Ok(referenced)
}
