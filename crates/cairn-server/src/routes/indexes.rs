//! `/v1/collections/{collection}/indexes`: list, create (built online from the documents
//! already there) and drop secondary and spatial indexes — `cairn index list | create | drop`
//! over HTTP. Both kinds share one name space per collection (they are extensions of it).
//! Listing needs read access to the collection; creating and dropping change how it is
//! stored, which is collection DDL and needs write access, as creating or dropping the
//! collection itself does.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use cairn::geo::index::{
    create_spatial_index, drop_spatial_index, list_spatial_indexes, SpatialInfo, SpatialSpec,
};
use cairn::{Database, IndexInfo, IndexKind, IndexSpec};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::api_error::ApiError;
use crate::auth::credentials::Credentials;
use crate::auth::Need;
use crate::body::JsonBody;
use crate::collection_name::CollectionName;
use crate::extract::ApiPath;
use crate::openapi::{ErrorResponses, FieldPathSchema};
use crate::state::SharedState;

/// How an index organises its entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum IndexKindName {
    /// Ordered: equality, ranges, prefixes of composite keys, sorted scans.
    #[default]
    Btree,
    /// Hashed: equality on every field only, with small keys however long the values.
    Hash,
    /// Spatial: one geometry field; serves `$withinDistance`, `$near`, `$intersects` and
    /// `$within` by exact distance to the stored triangles.
    Spatial,
}

impl From<IndexKind> for IndexKindName {
    fn from(kind: IndexKind) -> IndexKindName {
        match kind {
            IndexKind::BTree => IndexKindName::Btree,
            IndexKind::Hash => IndexKindName::Hash,
        }
    }
}

/// Body of `POST /v1/collections/{collection}/indexes`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIndex {
    /// The index name, unique within the collection (the rules of collection names).
    #[schema(pattern = r"^[A-Za-z_][A-Za-z0-9_-]{0,127}$")]
    pub name: String,
    /// The indexed field paths, in key order (1 to 8, no repeats; nested paths allowed).
    #[schema(value_type = Vec<FieldPathSchema>, min_items = 1, max_items = 8)]
    pub fields: Vec<String>,
    /// `btree` (default), `hash`, or `spatial` (exactly one geometry field, not unique).
    #[serde(default)]
    pub kind: IndexKindName,
    /// Refuse two documents with the same key (keys with a null or missing field are exempt).
    #[serde(default)]
    pub unique: bool,
}

/// An index as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct IndexDescription {
    /// Its name.
    pub name: String,
    /// The indexed field paths, in key order.
    pub fields: Vec<String>,
    /// `btree`, `hash` or `spatial`.
    pub kind: IndexKindName,
    /// Whether keys are unique.
    pub unique: bool,
    /// Whether the index is complete and used by queries (false while it builds).
    pub ready: bool,
    /// Whether some document held an array in an indexed field.
    pub multikey: bool,
    /// Number of entries.
    pub entries: u64,
    /// Bytes the entries occupy on disk.
    pub bytes: u64,
}

impl From<IndexInfo> for IndexDescription {
    fn from(info: IndexInfo) -> IndexDescription {
        IndexDescription {
            fields: info.spec.field_names(),
            name: info.spec.name,
            kind: info.spec.kind.into(),
            unique: info.spec.unique,
            ready: info.ready,
            multikey: info.multikey,
            entries: info.entries,
            bytes: info.bytes,
        }
    }
}

impl From<SpatialInfo> for IndexDescription {
    fn from(info: SpatialInfo) -> IndexDescription {
        IndexDescription {
            fields: vec![info.spec.field.to_string()],
            name: info.spec.name,
            kind: IndexKindName::Spatial,
            unique: false,
            ready: info.ready,
            multikey: false,
            entries: info.entries,
            bytes: info.bytes,
        }
    }
}

/// Every index of a collection, secondary ones first, each kind in creation order.
fn all_indexes(db: &Database, collection: &str) -> Result<Vec<IndexDescription>, ApiError> {
    let mut out: Vec<IndexDescription> = cairn::list_indexes(db, collection)?
        .into_iter()
        .map(IndexDescription::from)
        .collect();
    out.extend(
        list_spatial_indexes(db, collection)?
            .into_iter()
            .map(IndexDescription::from),
    );
    Ok(out)
}

/// What a create request asks for, validated.
enum Planned {
    /// A B-tree or hash index.
    Secondary(IndexSpec),
    /// A spatial index.
    Spatial(SpatialSpec),
}

impl Planned {
    fn name(&self) -> &str {
        match self {
            Planned::Secondary(spec) => &spec.name,
            Planned::Spatial(spec) => &spec.name,
        }
    }
}

/// A collection's indexes.
#[derive(Debug, Serialize, ToSchema)]
pub struct IndexList {
    /// Secondary indexes, then spatial ones, each in creation order.
    pub indexes: Vec<IndexDescription>,
}

/// Path of one index.
#[derive(Debug, Deserialize)]
pub struct IndexPath {
    name: String,
}

/// Lists a collection's indexes with their sizes.
#[utoipa::path(get, operation_id = "list_indexes", path = "/v1/collections/{collection}/indexes", tag = "indexes",
    params(CollectionName),
    responses((status = 200, description = "The indexes", body = IndexList), ErrorResponses))]
pub async fn list(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
) -> Result<Json<IndexList>, ApiError> {
    let need = Need::read(&collection);
    let indexes = state
        .read(credentials, need, move |db, _| all_indexes(db, &collection))
        .await?;
    Ok(Json(IndexList { indexes }))
}

/// Creates an index and builds it from the documents already there, online (the collection
/// stays readable and writable); answers when it is ready. A unique index over duplicate
/// values fails with 409 `unique_violation` and leaves no index behind.
#[utoipa::path(post, operation_id = "create_index", path = "/v1/collections/{collection}/indexes", tag = "indexes",
    params(CollectionName),
    request_body = CreateIndex,
    responses((status = 201, description = "Built and ready", body = IndexDescription), ErrorResponses))]
pub async fn create(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
    JsonBody(request): JsonBody<CreateIndex>,
) -> Result<(StatusCode, Json<IndexDescription>), ApiError> {
    let planned = index_spec(&request)?;
    let need = Need::write(&collection);
    let info = state
        .run(credentials, need, move |db, _| {
            let name = planned.name().to_string();
            if all_indexes(db, &collection)?
                .iter()
                .any(|info| info.name == name)
            {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "index_exists",
                    format!("`{collection}` already has an index `{name}`"),
                )
                .with_details(json!({ "collection": collection, "index": name })));
            }
            match &planned {
                Planned::Secondary(spec) => {
                    cairn::create_index(db, &collection, spec, &mut |_| {})?;
                }
                Planned::Spatial(spec) => {
                    create_spatial_index(db, &collection, spec)?;
                }
            }
            all_indexes(db, &collection)?
                .into_iter()
                .find(|info| info.name == name)
                // Dropped by a concurrent request between the build and this listing.
                .ok_or_else(|| {
                    ApiError::from(cairn::index::IndexError::UnknownIndex {
                        collection: collection.clone(),
                        name,
                    })
                })
        })
        .await?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// Drops an index and its entries.
#[utoipa::path(delete, operation_id = "drop_index", path = "/v1/collections/{collection}/indexes/{name}", tag = "indexes",
    params(CollectionName,
           ("name" = String, Path, description = "Index name", pattern = r"^[A-Za-z_][A-Za-z0-9_-]{0,127}$")),
    responses((status = 204, description = "Dropped"), ErrorResponses))]
pub async fn drop(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
    ApiPath(path): ApiPath<IndexPath>,
) -> Result<StatusCode, ApiError> {
    let need = Need::write(&collection);
    state
        .run(credentials, need, move |db, _| {
            let spatial = list_spatial_indexes(db, &collection)?
                .iter()
                .any(|info| info.spec.name == path.name);
            if spatial {
                Ok(drop_spatial_index(db, &collection, &path.name)?)
            } else {
                Ok(cairn::drop_index(db, &collection, &path.name)?)
            }
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The definition a request asks for; 400 `invalid_index` naming what is wrong.
fn index_spec(request: &CreateIndex) -> Result<Planned, ApiError> {
    // Index names follow the collection naming rules (the engine checks them as extension
    // names); say so in index terms rather than as a bad collection name.
    if let Err(err) = cairn::validate_collection_name(&request.name) {
        let reason = match err {
            cairn::EngineError::InvalidCollectionName { reason, .. } => reason.to_string(),
            other => other.to_string(),
        };
        return Err(ApiError::from(
            cairn::index::IndexError::InvalidDefinition {
                name: request.name.clone(),
                reason,
            },
        ));
    }
    let invalid = |reason: &str| {
        ApiError::from(cairn::index::IndexError::InvalidDefinition {
            name: request.name.clone(),
            reason: reason.to_string(),
        })
    };
    let kind = match request.kind {
        IndexKindName::Btree => IndexKind::BTree,
        IndexKindName::Hash => IndexKind::Hash,
        IndexKindName::Spatial => {
            if request.unique {
                return Err(invalid("a spatial index cannot be unique"));
            }
            let [field] = request.fields.as_slice() else {
                return Err(invalid("a spatial index takes exactly one field"));
            };
            return Ok(Planned::Spatial(SpatialSpec::new(&request.name, field)?));
        }
    };
    let fields: Vec<&str> = request.fields.iter().map(String::as_str).collect();
    Ok(Planned::Secondary(IndexSpec::new(
        &request.name,
        &fields,
        kind,
        request.unique,
    )?))
}
