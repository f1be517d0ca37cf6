//! `/v1/catalog` and `/v1/collections/{collection}/tags`: the catalog of what the database
//! holds (`cairn::catalog`) — every collection the caller may read with its columns and types,
//! schema version and history, documents and bytes, extensions, tags, owner and origins, and
//! (from the source layer, when the server has one) every external table with its columns
//! and source — and the tags themselves. The listing runs on the blocking pool: a collection
//! without a declared schema gets its columns from inference, which stores its statistics.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use cairn::catalog::{self, CatalogEntry, CatalogError};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use crate::api_error::ApiError;
use crate::auth::credentials::Credentials;
use crate::auth::{Access, Need};
use crate::body::JsonBody;
use crate::collection_name::CollectionName;
use crate::extract::{ApiPath, ApiQuery};
use crate::openapi::ErrorResponses;
use crate::state::SharedState;

/// Query of `GET /v1/catalog`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CatalogQuery {
    /// Only entries carrying every tag: `KEY=VALUE` pairs separated by `,` (e.g.
    /// `alpha=0.55,model=v2`).
    #[param(max_length = 4096)]
    pub tags: Option<String>,
}

/// One column and its types.
#[derive(Debug, Serialize, ToSchema)]
pub struct ColumnView {
    /// The field path.
    pub path: String,
    /// Its types (declared, or every type inference saw).
    pub types: Vec<String>,
}

/// An attached extension.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExtensionView {
    /// Its kind (`index`, `spatial`, `vector`, `text`, `schema`, `invariant`, ...).
    pub kind: String,
    /// Its name.
    pub name: String,
}

/// One version of a declared schema.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchemaVersionView {
    /// The version.
    pub version: u64,
    /// When it was set (RFC 3339).
    pub at: String,
    /// Who set it.
    pub by: String,
    /// What changed.
    pub changes: Vec<String>,
}

/// One operation that filled an entry (its upstream lineage).
#[derive(Debug, Serialize, ToSchema)]
pub struct OriginView {
    /// `import`, `create_table_as`, `insert_select`, ...
    pub operation: String,
    /// What it read (collections, `source.schema.table`s, file names).
    pub inputs: Vec<String>,
    /// When (RFC 3339).
    pub at: String,
}

/// One catalog entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogEntryView {
    /// The name.
    pub name: String,
    /// `collection` (external sources add their own kinds).
    pub kind: String,
    /// The source it lives in; null for this database.
    pub source: Option<String>,
    /// Columns and types.
    pub columns: Vec<ColumnView>,
    /// Where the columns come from: `declared`, `inferred` or `source`.
    pub column_origin: String,
    /// The declared schema's version, if any.
    pub schema_version: Option<u64>,
    /// Documents, when known.
    pub documents: Option<u64>,
    /// Bytes of storage, when known.
    pub bytes: Option<u64>,
    /// Attached extensions.
    pub extensions: Vec<ExtensionView>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// The declared schema's versions, oldest first.
    pub schema_history: Vec<SchemaVersionView>,
    /// The user who created it (null: created without authentication or embedded).
    pub owner: Option<String>,
    /// When it was created (RFC 3339), for collections.
    pub created_at: Option<String>,
    /// Where its data came from, oldest first.
    pub origins: Vec<OriginView>,
}

impl From<CatalogEntry> for CatalogEntryView {
    fn from(entry: CatalogEntry) -> CatalogEntryView {
        CatalogEntryView {
            name: entry.name,
            kind: entry.kind,
            source: entry.source,
            columns: entry
                .columns
                .into_iter()
                .map(|c| ColumnView {
                    path: c.path,
                    types: c.types,
                })
                .collect(),
            column_origin: entry.column_origin.name().to_string(),
            schema_version: entry.schema_version,
            documents: entry.documents,
            bytes: entry.bytes,
            extensions: entry
                .extensions
                .into_iter()
                .map(|e| ExtensionView {
                    kind: e.kind,
                    name: e.name,
                })
                .collect(),
            tags: entry.tags,
            schema_history: entry
                .schema_history
                .into_iter()
                .map(|v| SchemaVersionView {
                    version: v.version,
                    at: v.at.to_string(),
                    by: v.by,
                    changes: v.changes,
                })
                .collect(),
            owner: entry.owner,
            created_at: entry.created_at.map(|at| at.to_string()),
            origins: entry
                .origins
                .into_iter()
                .map(|o| OriginView {
                    operation: o.operation,
                    inputs: o.inputs,
                    at: o.at.to_string(),
                })
                .collect(),
        }
    }
}

/// The catalog.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogView {
    /// Entries the caller may read, collections by name.
    pub entries: Vec<CatalogEntryView>,
}

/// Body of `PATCH /v1/collections/{collection}/tags`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagsUpdate {
    /// Tags to add or replace.
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    /// Keys to remove.
    #[serde(default)]
    pub remove: Vec<String>,
}

/// A collection's tags.
#[derive(Debug, Serialize, ToSchema)]
pub struct TagsView {
    /// Key to value.
    pub tags: BTreeMap<String, String>,
}

/// Lists every collection the caller may read, with columns, schema version, size,
/// extensions and tags; `tags` keeps those carrying every given tag.
#[utoipa::path(get, operation_id = "catalog", path = "/v1/catalog", tag = "collections",
    params(CatalogQuery),
    responses((status = 200, description = "The catalog", body = CatalogView), ErrorResponses))]
pub async fn list(
    State(state): State<SharedState>,
    credentials: Credentials,
    ApiQuery(query): ApiQuery<CatalogQuery>,
) -> Result<Json<CatalogView>, ApiError> {
    let filter = match &query.tags {
        None => Vec::new(),
        Some(text) => text
            .split(',')
            .filter(|pair| !pair.is_empty())
            .map(catalog::parse_tag)
            .collect::<Result<Vec<_>, _>>()?,
    };
    let layer = state.sources.clone();
    let entries = state
        .run(credentials, Need::Authenticated, move |db, principal| {
            let external = catalog::ListedEntries {
                name: "sources".to_string(),
                entries: layer.map(|l| l.catalog_entries()).unwrap_or_default(),
            };
            let entries = catalog::catalog(db, &[&external], &filter)?;
            // An external table is read in SQL under its `source.schema.table` name: the
            // same grant decides whether it is listed.
            Ok(entries
                .into_iter()
                .filter(|e| principal.access(&e.name) >= Access::ReadOnly)
                .map(CatalogEntryView::from)
                .collect())
        })
        .await?;
    Ok(Json(CatalogView { entries }))
}

/// A collection's tags (needs read access).
#[utoipa::path(get, operation_id = "get_tags", path = "/v1/collections/{collection}/tags", tag = "collections",
    params(CollectionName),
    responses((status = 200, description = "The tags", body = TagsView), ErrorResponses))]
pub async fn get(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
) -> Result<Json<TagsView>, ApiError> {
    let need = Need::read(&collection);
    let tags = state
        .read(credentials, need, move |db, _| {
            Ok(catalog::tags(db, &collection)?)
        })
        .await?;
    Ok(Json(TagsView { tags }))
}

/// Sets and removes tags of a collection in one transaction (needs write access); answers
/// the tags after.
#[utoipa::path(patch, operation_id = "update_tags", path = "/v1/collections/{collection}/tags", tag = "collections",
    params(CollectionName),
    request_body = TagsUpdate,
    responses((status = 200, description = "The tags after the change", body = TagsView), ErrorResponses))]
pub async fn update(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
    JsonBody(request): JsonBody<TagsUpdate>,
) -> Result<Json<TagsView>, ApiError> {
    let need = Need::write(&collection);
    let set: Vec<(String, String)> = request.set.into_iter().collect();
    let remove = request.remove;
    let tags = state
        .run(credentials, need, move |db, _| {
            Ok(catalog::update_tags(db, &collection, &set, &remove)?)
        })
        .await?;
    Ok(Json(TagsView { tags }))
}

/// Query of `GET /v1/collections/{collection}/lineage`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LineageQuery {
    /// `records` (default) or `openlineage` (the upstream records as OpenLineage run events).
    #[param(pattern = "^(records|openlineage)$")]
    pub format: Option<String>,
}

/// What filled a collection and what it fed.
#[derive(Debug, Serialize, ToSchema)]
pub struct LineageView {
    /// Records writing the collection (imports with their file, derivations with their
    /// inputs and statement), oldest first.
    #[schema(value_type = Vec<Object>)]
    pub upstream: Vec<serde_json::Value>,
    /// Records reading it, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub downstream: Vec<serde_json::Value>,
    /// With `format=openlineage`: the upstream records as OpenLineage `RunEvent`s.
    #[schema(value_type = Option<Vec<Object>>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub openlineage: Option<Vec<serde_json::Value>>,
}

/// A collection's lineage (needs read access).
#[utoipa::path(get, operation_id = "get_lineage", path = "/v1/collections/{collection}/lineage", tag = "collections",
    params(CollectionName, LineageQuery),
    responses((status = 200, description = "The lineage", body = LineageView), ErrorResponses))]
pub async fn lineage(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
    ApiQuery(query): ApiQuery<LineageQuery>,
) -> Result<Json<LineageView>, ApiError> {
    let openlineage = openlineage_format(&query)?;
    let need = Need::read(&collection);
    let view = state
        .read(credentials, need, move |db, _| {
            db.begin()?.collection_meta(&collection)?;
            lineage_view(db, &collection, openlineage)
        })
        .await?;
    Ok(Json(view))
}

/// The lineage of a collection or of an external table `source.schema.table` (what it fed:
/// SQL derivations and materialisations reading it). Needs read access to the name, the
/// access SQL asks to read it; an external table is known only by the records naming it.
#[utoipa::path(get, operation_id = "get_table_lineage", path = "/v1/lineage/{name}", tag = "collections",
    params(("name" = String, Path, description = "A collection, or `source.schema.table`"), LineageQuery),
    responses((status = 200, description = "The lineage", body = LineageView), ErrorResponses))]
pub async fn table_lineage(
    State(state): State<SharedState>,
    credentials: Credentials,
    ApiPath(name): ApiPath<String>,
    ApiQuery(query): ApiQuery<LineageQuery>,
) -> Result<Json<LineageView>, ApiError> {
    let openlineage = openlineage_format(&query)?;
    if name.contains('.') {
        if name.split('.').count() != 3 || name.split('.').any(str::is_empty) {
            return Err(ApiError::bad_request(
                "invalid_path",
                format!("`{name}`: an external table is named `source.schema.table`"),
            ));
        }
    } else {
        crate::collection_name::check(&name)?;
    }
    let need = Need::read(&name);
    let view = state
        .read(credentials, need, move |db, _| {
            if !name.contains('.') {
                db.begin()?.collection_meta(&name)?;
            }
            lineage_view(db, &name, openlineage)
        })
        .await?;
    Ok(Json(view))
}

/// Whether the query asks for OpenLineage events.
fn openlineage_format(query: &LineageQuery) -> Result<bool, ApiError> {
    match query.format.as_deref() {
        None | Some("records") => Ok(false),
        Some("openlineage") => Ok(true),
        Some(other) => Err(ApiError::bad_request(
            "invalid_query",
            format!("`format` is `records` or `openlineage`, not `{other}`"),
        )),
    }
}

fn lineage_view(
    db: &cairn::Database,
    name: &str,
    openlineage: bool,
) -> Result<LineageView, ApiError> {
    let found = cairn::lineage::lineage(db, name)?;
    let json = |record: &cairn::lineage::LineageRecord| {
        crate::routes::schemas::to_json(&lineage_value(record))
    };
    Ok(LineageView {
        upstream: found.upstream.iter().map(json).collect(),
        downstream: found.downstream.iter().map(json).collect(),
        openlineage: openlineage.then(|| {
            found
                .upstream
                .iter()
                .map(|r| crate::routes::schemas::to_json(&cairn::lineage::openlineage_event(r)))
                .collect()
        }),
    })
}

/// A record as a document: the stored form plus its id.
fn lineage_value(record: &cairn::lineage::LineageRecord) -> cairn::Value {
    cairn::lineage::record_value(record)
}

impl From<CatalogError> for ApiError {
    fn from(err: CatalogError) -> ApiError {
        let message = err.to_string();
        match err {
            CatalogError::Engine(err) => err.into(),
            CatalogError::Schema(err) => err.into(),
            CatalogError::Infer(err) => err.into(),
            CatalogError::InvalidTag { tag, .. } => {
                ApiError::bad_request("invalid_tag", message).with_details(json!({ "tag": tag }))
            }
            CatalogError::TooManyTags { limit, count, .. } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "limit_exceeded", message)
                    .with_details(json!({ "what": "tags", "actual": count, "limit": limit }))
            }
            CatalogError::Source { source_name, .. } => {
                ApiError::new(StatusCode::BAD_GATEWAY, "source_unavailable", message)
                    .with_details(json!({ "source": source_name }))
            }
        }
    }
}
