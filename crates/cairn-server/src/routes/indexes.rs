//! `/v1/collections/{collection}/indexes`: list, create (built online from the documents
//! already there) and drop secondary, spatial, vector and text indexes — `cairn index list | create
//! | drop` over HTTP. All kinds share one name space per collection (they are extensions of it).
//! Listing needs read access to the collection; creating and dropping change how it is
//! stored, which is collection DDL and needs write access, as creating or dropping the
//! collection itself does. Builds report their progress to `index_builds.rs`, which
//! `GET .../indexes/{name}/build` reads (a build can also run in the background).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cairn::geo::index::{
    create_spatial_index, drop_spatial_index, list_spatial_indexes, SpatialInfo, SpatialSpec,
};
use cairn::text::{
    create_text_index, drop_text_index, list_text_indexes, Language, TextInfo, TextSpec,
};
use cairn::vector::{
    create_vector_index, drop_vector_index, list_vector_indexes, HnswParams, Metric, VectorInfo,
    VectorSpec,
};
use cairn::{Database, IndexInfo, IndexKind, IndexSpec};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use crate::api_error::ApiError;
use crate::auth::credentials::Credentials;
use crate::auth::Need;
use crate::body::JsonBody;
use crate::collection_name::CollectionName;
use crate::extract::{ApiPath, ApiQuery};
use crate::index_builds::{BuildStatus, Progress};
use crate::openapi::{ErrorResponses, FieldPathSchema};
use crate::replication::gate::WriteLevel;
use crate::replication::{self, WriteCommand};
use crate::state::{blocking, AppState, SharedState};

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
    /// Vector: one vector field of a fixed dimension (`dims`) under a `metric`; an HNSW graph
    /// for nearest-neighbour search.
    Vector,
    /// Full text: string fields (nested paths, arrays of strings) analyzed in a `language`,
    /// per-field `boosts`; serves `$text` (BM25).
    Text,
}

/// The distance of a vector index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MetricName {
    /// `1 − cos θ`; zero vectors are refused.
    Cosine,
    /// The negated inner product.
    Dot,
    /// Euclidean distance.
    L2,
    /// Hyperbolic distance in the Poincaré ball; vectors must have norm < 1.
    Poincare,
}

impl From<MetricName> for Metric {
    fn from(name: MetricName) -> Metric {
        match name {
            MetricName::Cosine => Metric::Cosine,
            MetricName::Dot => Metric::Dot,
            MetricName::L2 => Metric::L2,
            MetricName::Poincare => Metric::Poincare,
        }
    }
}

impl From<Metric> for MetricName {
    fn from(metric: Metric) -> MetricName {
        match metric {
            Metric::Cosine => MetricName::Cosine,
            Metric::Dot => MetricName::Dot,
            Metric::L2 => MetricName::L2,
            Metric::Poincare => MetricName::Poincare,
        }
    }
}

/// The definition of a text index, as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct TextDescription {
    /// The analyzer's language (stop words and stemming).
    pub language: String,
    /// Each field's boost, in the order of `fields`.
    pub boosts: Vec<f64>,
    /// Edge n-gram lengths `[min, max]` for search-as-you-type, when on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edge_ngrams: Option<[usize; 2]>,
}

/// The definition of a vector index, as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct VectorDescription {
    /// The dimension of every vector.
    pub dims: usize,
    /// The distance.
    pub metric: MetricName,
    /// HNSW neighbours per node.
    pub m: usize,
    /// HNSW candidate list while inserting.
    pub ef_construction: usize,
    /// Default HNSW candidate list while searching.
    pub ef_search: usize,
}

impl From<IndexKind> for IndexKindName {
    fn from(kind: IndexKind) -> IndexKindName {
        match kind {
            IndexKind::BTree => IndexKindName::Btree,
            IndexKind::Hash => IndexKindName::Hash,
        }
    }
}

/// Body of `POST /v1/collections/{collection}/indexes` (also what a cluster replicates).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIndex {
    /// The index name, unique within the collection (the rules of collection names).
    #[schema(pattern = r"^[A-Za-z_][A-Za-z0-9_-]{0,127}$")]
    pub name: String,
    /// The indexed field paths, in key order (1 to 8, no repeats; nested paths allowed).
    #[schema(value_type = Vec<FieldPathSchema>, min_items = 1, max_items = 8)]
    pub fields: Vec<String>,
    /// `btree` (default), `hash`, `spatial` (exactly one geometry field, not unique) or
    /// `vector` (exactly one vector field, not unique; needs `dims` and `metric`) or `text`
    /// (string fields, not unique; `language`, `boosts`, `edge_ngrams`).
    #[serde(default)]
    pub kind: IndexKindName,
    /// Refuse two documents with the same key (keys with a null or missing field are exempt).
    #[serde(default)]
    pub unique: bool,
    /// Vector indexes: the dimension every vector must have.
    #[schema(minimum = 1, maximum = 65536)]
    #[serde(default)]
    pub dims: Option<usize>,
    /// Vector indexes: the distance.
    #[serde(default)]
    pub metric: Option<MetricName>,
    /// Vector indexes: HNSW neighbours per node (default 16).
    #[schema(minimum = 2, maximum = 128)]
    #[serde(default)]
    pub m: Option<usize>,
    /// Vector indexes: HNSW candidate list while inserting (default 128).
    #[schema(minimum = 1, maximum = 10000)]
    #[serde(default)]
    pub ef_construction: Option<usize>,
    /// Vector indexes: default HNSW candidate list while searching (default 64).
    #[schema(minimum = 1, maximum = 10000)]
    #[serde(default)]
    pub ef_search: Option<usize>,
    /// Text indexes: the analyzer's language (default `english`; also french, german,
    /// spanish, italian, portuguese, dutch, russian, swedish, or `none`).
    #[serde(default)]
    pub language: Option<String>,
    /// Text indexes: one boost per field, in the order of `fields` (default 1 each).
    #[serde(default)]
    pub boosts: Option<Vec<f64>>,
    /// Text indexes: also index edge n-grams of these lengths `[min, max]`
    /// (search-as-you-type).
    #[serde(default)]
    pub edge_ngrams: Option<[usize; 2]>,
}

/// An index as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct IndexDescription {
    /// Its name.
    pub name: String,
    /// The indexed field paths, in key order.
    pub fields: Vec<String>,
    /// `btree`, `hash`, `spatial` or `vector`.
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
    /// A vector index's definition (absent for other kinds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vector: Option<VectorDescription>,
    /// A text index's definition (absent for other kinds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<TextDescription>,
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
            vector: None,
            text: None,
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
            vector: None,
            text: None,
        }
    }
}

impl From<VectorInfo> for IndexDescription {
    fn from(info: VectorInfo) -> IndexDescription {
        let spec = info.spec;
        IndexDescription {
            fields: vec![spec.field_name()],
            name: spec.name,
            kind: IndexKindName::Vector,
            unique: false,
            ready: info.ready,
            multikey: false,
            entries: info.vectors,
            bytes: info.bytes,
            vector: Some(VectorDescription {
                dims: spec.dims,
                metric: spec.metric.into(),
                m: spec.params.m,
                ef_construction: spec.params.ef_construction,
                ef_search: spec.params.ef_search,
            }),
            text: None,
        }
    }
}

impl From<TextInfo> for IndexDescription {
    fn from(info: TextInfo) -> IndexDescription {
        let spec = info.spec;
        IndexDescription {
            fields: spec.fields.iter().map(|f| f.path.to_string()).collect(),
            name: spec.name,
            kind: IndexKindName::Text,
            unique: false,
            ready: info.ready,
            multikey: false,
            entries: info.documents,
            bytes: info.bytes,
            vector: None,
            text: Some(TextDescription {
                language: spec.language.name().to_string(),
                boosts: spec.fields.iter().map(|f| f.boost).collect(),
                edge_ngrams: spec.edge_ngrams.map(|(min, max)| [min, max]),
            }),
        }
    }
}

/// Every index of a collection, secondary ones first, each kind in creation order.
pub fn all_indexes(db: &Database, collection: &str) -> Result<Vec<IndexDescription>, ApiError> {
    let mut out: Vec<IndexDescription> = cairn::list_indexes(db, collection)?
        .into_iter()
        .map(IndexDescription::from)
        .collect();
    out.extend(
        list_spatial_indexes(db, collection)?
            .into_iter()
            .map(IndexDescription::from),
    );
    out.extend(
        list_vector_indexes(db, collection)?
            .into_iter()
            .map(IndexDescription::from),
    );
    out.extend(
        list_text_indexes(db, collection)?
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
    /// A vector index.
    Vector(VectorSpec),
    /// A text index.
    Text(TextSpec),
}

impl Planned {
    fn name(&self) -> &str {
        match self {
            Planned::Secondary(spec) => &spec.name,
            Planned::Spatial(spec) => &spec.name,
            Planned::Vector(spec) => &spec.name,
            Planned::Text(spec) => &spec.name,
        }
    }
}

/// A collection's indexes.
#[derive(Debug, Serialize, ToSchema)]
pub struct IndexList {
    /// Secondary indexes, then spatial, vector and text ones, each in creation order.
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

/// Query of `POST .../indexes`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CreateIndexQuery {
    /// Answer at once (202, with the build's status and a `Location` to poll) and build in the
    /// background, instead of answering when the index is ready. On a cluster the answer
    /// always waits for the build.
    #[serde(default)]
    pub background: Option<bool>,
}

/// Creates an index and builds it from the documents already there, online (the collection
/// stays readable and writable); answers when it is ready, or at once with
/// `?background=true`. Either way `GET .../indexes/{name}/build` reports how far the build
/// got. A unique index over duplicate values fails with 409 `unique_violation` (in the
/// background: the build's `error`) and leaves no index behind.
#[utoipa::path(post, operation_id = "create_index", path = "/v1/collections/{collection}/indexes", tag = "indexes",
    params(CollectionName, CreateIndexQuery),
    request_body = CreateIndex,
    responses((status = 201, description = "Built and ready", body = IndexDescription),
              (status = 202, description = "Building in the background; poll the `Location`",
               body = BuildStatus,
               headers(("Location" = String, description = "The build's status route"))),
              ErrorResponses))]
pub async fn create(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
    WriteLevel(level): WriteLevel,
    ApiQuery(query): ApiQuery<CreateIndexQuery>,
    JsonBody(request): JsonBody<CreateIndex>,
) -> Result<Response, ApiError> {
    let planned = index_spec(&request)?;
    let need = Need::write(&collection);
    if let Some(cluster) = state.cluster.clone() {
        // Checked above; every node builds the index from the same documents.
        let request = serde_json::to_value(&request)
            .map_err(|err| ApiError::internal(format!("encoding the index request: {err}")))?;
        return replication::propose(&state, cluster, credentials, need, level, false, || {
            Ok(WriteCommand::CreateIndex {
                collection,
                request,
            })
        })
        .await;
    }
    let name = planned.name().to_string();
    // The caller's access, the name and the registration first (a taken name answers 409
    // now, even in the background); the build runs after.
    let registry = state.clone();
    let (target, index) = (collection.clone(), name.clone());
    let started = state
        .run(credentials, need, move |db, _| {
            ensure_absent(db, &target, &index)?;
            let total = db.read()?.document_count(&target)?;
            registry.index_builds.start(&target, &index, total)
        })
        .await?;
    let builder = state.clone();
    let build = move || build_tracked(&builder, &collection, &planned);
    if query.background.unwrap_or(false) {
        // Detached: the build outlives this request; its record says how it ends.
        std::mem::drop(tokio::task::spawn_blocking(build));
        let location = format!(
            "/v1/collections/{}/indexes/{}/build",
            started.collection, started.index
        );
        return Ok((
            StatusCode::ACCEPTED,
            [(header::LOCATION, location)],
            Json(started),
        )
            .into_response());
    }
    let info = blocking(build).await?;
    Ok((StatusCode::CREATED, Json(info)).into_response())
}

/// How far the build of an index got: while building (documents scanned of the total,
/// entries written), and after it ended (ready, or failed with the error). Builds this server
/// ran since it started; the last 256 finished ones are kept. Needs read access.
#[utoipa::path(get, operation_id = "index_build_status", path = "/v1/collections/{collection}/indexes/{name}/build", tag = "indexes",
    params(CollectionName,
           ("name" = String, Path, description = "Index name", pattern = r"^[A-Za-z_][A-Za-z0-9_-]{0,127}$")),
    responses((status = 200, description = "The build's status", body = BuildStatus), ErrorResponses))]
pub async fn build_status(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
    ApiPath(path): ApiPath<IndexPath>,
) -> Result<Json<BuildStatus>, ApiError> {
    let registry = state.clone();
    let status = state
        .read(credentials, Need::read(&collection), move |_, _| {
            registry
                .index_builds
                .status(&collection, &path.name)
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::NOT_FOUND,
                        "build_not_found",
                        format!(
                            "this server has no record of a build of index `{}` of `{collection}` \
                             (it keeps builds since it started, the last 256 finished ones)",
                            path.name
                        ),
                    )
                    .with_details(json!({ "collection": collection, "index": path.name }))
                })
        })
        .await?;
    Ok(Json(status))
}

/// Builds a registered index, reporting progress to the registry and recording how it ended.
fn build_tracked(
    state: &AppState,
    collection: &str,
    planned: &Planned,
) -> Result<IndexDescription, ApiError> {
    let name = planned.name();
    state.index_builds.track(
        collection,
        name,
        |info: &IndexDescription| info.entries,
        |progress| {
            build_planned(&state.db, collection, planned, progress)
                .and_then(|()| describe(&state.db, collection, name))
        },
    )
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
    WriteLevel(level): WriteLevel,
) -> Result<Response, ApiError> {
    let need = Need::write(&collection);
    if let Some(cluster) = state.cluster.clone() {
        return replication::propose(&state, cluster, credentials, need, level, false, || {
            Ok(WriteCommand::DropIndex {
                collection,
                name: path.name,
            })
        })
        .await;
    }
    state
        .run(credentials, need, move |db, _| {
            drop_named(db, &collection, &path.name)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
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
    let vector_options = request.dims.is_some()
        || request.metric.is_some()
        || request.m.is_some()
        || request.ef_construction.is_some()
        || request.ef_search.is_some();
    if vector_options && request.kind != IndexKindName::Vector {
        return Err(invalid(
            "dims, metric, m, ef_construction and ef_search apply to kind `vector` only",
        ));
    }
    let text_options =
        request.language.is_some() || request.boosts.is_some() || request.edge_ngrams.is_some();
    if text_options && request.kind != IndexKindName::Text {
        return Err(invalid(
            "language, boosts and edge_ngrams apply to kind `text` only",
        ));
    }
    let kind = match request.kind {
        IndexKindName::Vector => return vector_spec(request).map(Planned::Vector),
        IndexKindName::Text => return text_spec(request).map(Planned::Text),
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

/// A vector index definition from a create request.
fn vector_spec(request: &CreateIndex) -> Result<VectorSpec, ApiError> {
    let invalid = |reason: &str| {
        ApiError::from(cairn::index::IndexError::InvalidDefinition {
            name: request.name.clone(),
            reason: reason.to_string(),
        })
    };
    if request.unique {
        return Err(invalid("a vector index cannot be unique"));
    }
    let [field] = request.fields.as_slice() else {
        return Err(invalid("a vector index takes exactly one field"));
    };
    let Some(dims) = request.dims else {
        return Err(invalid("a vector index needs `dims`"));
    };
    let Some(metric) = request.metric else {
        return Err(invalid(
            "a vector index needs `metric` (cosine, dot, l2 or poincare)",
        ));
    };
    let defaults = HnswParams::default();
    let params = HnswParams {
        m: request.m.unwrap_or(defaults.m),
        ef_construction: request.ef_construction.unwrap_or(defaults.ef_construction),
        ef_search: request.ef_search.unwrap_or(defaults.ef_search),
    };
    Ok(VectorSpec::with_params(
        &request.name,
        field,
        dims,
        metric.into(),
        params,
    )?)
}

/// A text index definition from a create request.
fn text_spec(request: &CreateIndex) -> Result<TextSpec, ApiError> {
    let invalid = |reason: String| {
        ApiError::from(cairn::index::IndexError::InvalidDefinition {
            name: request.name.clone(),
            reason,
        })
    };
    if request.unique {
        return Err(invalid("a text index cannot be unique".to_string()));
    }
    let boosts = match &request.boosts {
        None => vec![1.0; request.fields.len()],
        Some(boosts) if boosts.len() == request.fields.len() => boosts.clone(),
        Some(boosts) => {
            return Err(invalid(format!(
                "{} boosts for {} fields; give one per field",
                boosts.len(),
                request.fields.len()
            )))
        }
    };
    let language = match request.language.as_deref() {
        None => Language::English,
        Some(name) => Language::parse(name).ok_or_else(|| {
            let known: Vec<&str> = Language::ALL.iter().map(|l| l.name()).collect();
            invalid(format!(
                "unknown language `{name}` (known: {})",
                known.join(", ")
            ))
        })?,
    };
    let fields: Vec<(&str, f64)> = request
        .fields
        .iter()
        .map(String::as_str)
        .zip(boosts)
        .collect();
    let ngrams = request.edge_ngrams.map(|[min, max]| (min, max));
    Ok(TextSpec::new(&request.name, &fields, language, ngrams)?)
}

/// Creates the index a `POST .../indexes` body describes and builds it from the documents
/// already there; what a replicated create runs, and what in-process clients (the Python
/// package's embedded mode) call so both answer alike. 409 `index_exists` if the name is
/// taken.
pub fn create_index_in(
    db: &Database,
    collection: &str,
    request: &CreateIndex,
) -> Result<IndexDescription, ApiError> {
    let planned = index_spec(request)?;
    ensure_absent(db, collection, planned.name())?;
    build_planned(db, collection, &planned, &mut |_| {})?;
    describe(db, collection, planned.name())
}

/// 409 `index_exists` when `collection` has an index `name` of any kind.
fn ensure_absent(db: &Database, collection: &str, name: &str) -> Result<(), ApiError> {
    if all_indexes(db, collection)?
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
    Ok(())
}

/// Builds a parsed index definition, passing each builder's progress reports on.
fn build_planned(
    db: &Database,
    collection: &str,
    planned: &Planned,
    progress: &mut dyn FnMut(Progress),
) -> Result<(), ApiError> {
    match planned {
        Planned::Secondary(spec) => {
            cairn::create_index(db, collection, spec, &mut |p| {
                progress(Progress {
                    scanned: p.scanned,
                    total: Some(p.total),
                    written: p.written,
                })
            })?;
        }
        Planned::Spatial(spec) => {
            // The spatial builder reports no progress: the record jumps to the end.
            create_spatial_index(db, collection, spec)?;
        }
        Planned::Vector(spec) => {
            create_vector_index(db, collection, spec, &mut |vectors| {
                progress(Progress {
                    scanned: vectors,
                    total: None,
                    written: vectors,
                })
            })?;
        }
        Planned::Text(spec) => {
            create_text_index(db, collection, spec, &mut |p| {
                progress(Progress {
                    scanned: p.scanned,
                    total: Some(p.total),
                    written: 0,
                })
            })?;
        }
    }
    Ok(())
}

/// The listing of index `name` just built.
fn describe(db: &Database, collection: &str, name: &str) -> Result<IndexDescription, ApiError> {
    all_indexes(db, collection)?
        .into_iter()
        .find(|info| info.name == name)
        // Dropped by a concurrent request between the build and this listing.
        .ok_or_else(|| {
            ApiError::from(cairn::index::IndexError::UnknownIndex {
                collection: collection.to_string(),
                name: name.to_string(),
            })
        })
}

/// Drops the index `name` of `collection`, whatever its kind; what `DELETE .../indexes/{name}`
/// runs and in-process clients call.
pub fn drop_named(db: &Database, collection: &str, name: &str) -> Result<(), ApiError> {
    let spatial = list_spatial_indexes(db, collection)?
        .iter()
        .any(|info| info.spec.name == name);
    let vector = list_vector_indexes(db, collection)?
        .iter()
        .any(|info| info.spec.name == name);
    let text = list_text_indexes(db, collection)?
        .iter()
        .any(|info| info.spec.name == name);
    if spatial {
        Ok(drop_spatial_index(db, collection, name)?)
    } else if vector {
        Ok(drop_vector_index(db, collection, name)?)
    } else if text {
        Ok(drop_text_index(db, collection, name)?)
    } else {
        Ok(cairn::drop_index(db, collection, name)?)
    }
}
