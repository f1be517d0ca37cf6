//! `/v1/graph`: edge collections, traversals and shortest paths over HTTP — what
//! `cairn collection create --edges`, `cairn traverse` and `cairn path` do. Queries run on one
//! snapshot on the reader threads, under the request timeout as their time budget and the graph
//! layer's memory limit. A vertex filter reads vertex documents only of collections the caller
//! may read (others never match), so it cannot reveal what access hides.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use cairn::graph::{
    self, Direction, EdgeOptions, EdgeRef, GraphError, OnVertexDelete, Path, Returns, Traversal,
    Uniqueness, VertexRef, Walk,
};
use cairn::{Filter, JsonExpression};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::api_error::ApiError;
use crate::auth::credentials::Credentials;
use crate::auth::{Access, Need};
use crate::body::JsonBody;
use crate::collection_name;
use crate::limits::MAX_GRAPH_RESULTS;
use crate::openapi::{ErrorResponses, FilterSchema};
use crate::routes::queries::parse_filter;
use crate::state::SharedState;

impl From<GraphError> for ApiError {
    fn from(err: GraphError) -> ApiError {
        let message = err.to_string();
        match err {
            GraphError::NotEdgeCollection { collection } => {
                ApiError::bad_request("not_edge_collection", message)
                    .with_details(json!({ "collection": collection }))
            }
            GraphError::InvalidVertex { field, reason } => {
                ApiError::bad_request("invalid_vertex", message)
                    .with_details(json!({ "field": field, "reason": reason }))
            }
            GraphError::NameTooLong { name, limit, .. } => {
                ApiError::bad_request("invalid_collection_name", message)
                    .with_details(json!({ "name": name, "limit": limit }))
            }
            GraphError::InvalidQuery { reason } => ApiError::bad_request("invalid_query", message)
                .with_details(json!({ "reason": reason })),
            GraphError::InvalidProperty { name, .. } => {
                ApiError::bad_request("invalid_property", message)
                    .with_details(json!({ "name": name }))
            }
            GraphError::InvalidWeight {
                collection,
                edge,
                field,
                ..
            } => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_weight", message)
                .with_details(
                    json!({ "collection": collection, "edge": edge.to_value(), "field": field }),
                ),
            GraphError::TimeBudgetExceeded { budget_ms } => {
                ApiError::new(StatusCode::REQUEST_TIMEOUT, "query_timeout", message)
                    .with_details(json!({ "budget_ms": budget_ms }))
            }
            GraphError::MemoryLimitExceeded { limit_bytes } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "limit_exceeded", message)
                    .with_details(json!({ "what": "graph query memory", "limit": limit_bytes }))
            }
            GraphError::Corrupt { .. } => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
            }
            GraphError::Engine(engine) => ApiError::from(engine),
        }
    }
}

/// What deleting a vertex does to the edges naming it.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnDelete {
    /// Refused while edges name the vertex.
    #[default]
    Restrict,
    /// The edges are deleted in the same transaction.
    Cascade,
    /// Edges may dangle.
    None,
}

impl From<OnDelete> for OnVertexDelete {
    fn from(mode: OnDelete) -> OnVertexDelete {
        match mode {
            OnDelete::Restrict => OnVertexDelete::Restrict,
            OnDelete::Cascade => OnVertexDelete::Cascade,
            OnDelete::None => OnVertexDelete::None,
        }
    }
}

/// Body of `POST /v1/graph/edge-collections`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEdgeCollection {
    /// 1 to 120 ASCII letters, digits, `_` and `-`, starting with a letter or `_`.
    #[schema(pattern = r"^[A-Za-z_][A-Za-z0-9_-]{0,119}$")]
    pub name: String,
    /// What deleting a vertex named by an edge does (default `restrict`).
    #[serde(default)]
    pub on_vertex_delete: OnDelete,
    /// Collections edges may point into under `restrict`/`cascade` (each needs write access:
    /// it gets the extension that sees its deletes).
    #[schema(max_items = 64)]
    #[serde(default)]
    pub vertex_collections: Vec<String>,
    /// Top-level edge properties to store in the adjacency index (at most 8), so traversals
    /// filtering on them and weighted shortest paths on them read no edge document.
    #[schema(max_items = 8)]
    #[serde(default)]
    pub store_properties: Vec<String>,
}

/// An edge collection.
#[derive(Debug, Serialize, ToSchema)]
pub struct EdgeCollectionInfo {
    /// Its name.
    pub name: String,
    /// What deleting a vertex does.
    pub on_vertex_delete: OnDelete,
}

/// Which edges a query follows.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Way {
    /// `_from` is the vertex.
    #[default]
    Out,
    /// `_to` is the vertex.
    In,
    /// Both.
    Any,
}

impl From<Way> for Direction {
    fn from(way: Way) -> Direction {
        match way {
            Way::Out => Direction::Out,
            Way::In => Direction::In,
            Way::Any => Direction::Any,
        }
    }
}

/// Body of `POST /v1/graph/traverse`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TraverseRequest {
    /// Start vertices as `collection/id` text.
    #[schema(min_items = 1, max_items = 10_000)]
    pub start: Vec<String>,
    /// Edge collections to follow.
    #[schema(min_items = 1, max_items = 64)]
    pub edges: Vec<String>,
    /// Which way edges are followed (default `out`).
    #[serde(default)]
    pub direction: Way,
    /// Smallest depth returned (default 1; 0 returns the start vertices).
    #[schema(minimum = 0, maximum = 64)]
    #[serde(default)]
    pub min_depth: Option<u32>,
    /// Largest depth reached (default 1, at most 64).
    #[schema(minimum = 0, maximum = 64)]
    #[serde(default)]
    pub max_depth: Option<u32>,
    /// `global`: each vertex once (default); `path`: once per path.
    #[serde(default)]
    pub uniqueness: Option<UniquenessName>,
    /// `vertices` (default), `edges` or `paths`.
    #[serde(default)]
    pub returns: Option<ReturnsName>,
    /// Results to return: default and at most 10,000.
    #[schema(minimum = 0, maximum = 10_000)]
    #[serde(default)]
    pub limit: Option<usize>,
    /// Follow only edges matching this filter.
    #[schema(value_type = Option<FilterSchema>)]
    #[serde(default)]
    pub edge_filter: Option<JsonExpression>,
    /// Return and expand only vertices matching this filter.
    #[schema(value_type = Option<FilterSchema>)]
    #[serde(default)]
    pub vertex_filter: Option<JsonExpression>,
    /// Also return how the traversal ran (`explain`: plan and counters).
    #[serde(default)]
    pub explain: bool,
}

/// Traversal uniqueness.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UniquenessName {
    /// Each vertex once per traversal.
    Global,
    /// Each vertex at most once per path.
    Path,
}

/// What each traversal result carries.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReturnsName {
    /// The vertex and its depth.
    Vertices,
    /// Also the edge it was reached by.
    Edges,
    /// Also the path from its start vertex.
    Paths,
}

/// A path.
#[derive(Debug, Serialize, ToSchema)]
pub struct PathView {
    /// Its vertices (`collection/id`), from the start.
    pub vertices: Vec<String>,
    /// Its edges (`collection/id`), one fewer.
    pub edges: Vec<String>,
    /// The number of edges, or the sum of their weights.
    pub weight: f64,
}

/// One traversal result.
#[derive(Debug, Serialize, ToSchema)]
pub struct VisitView {
    /// The vertex reached (`collection/id`).
    pub vertex: String,
    /// Its depth.
    pub depth: u32,
    /// The edge it was reached by (`returns`: `edges`, `paths`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edge: Option<String>,
    /// The path from its start vertex (`returns`: `paths`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathView>,
}

/// Traversal results.
#[derive(Debug, Serialize, ToSchema)]
pub struct TraverseResponse {
    /// In breadth-first order.
    pub results: Vec<VisitView>,
    /// With `explain: true`: the plan and what it read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<GraphExplainView>,
}

/// How a graph query ran.
#[derive(Debug, Serialize, ToSchema)]
pub struct GraphExplainView {
    /// The algorithm and how edges were read (adjacency sides, stored properties or edge
    /// documents for the edge filter and weight).
    pub plan: String,
    /// Counters: `vertices_expanded`, `adjacency_edges`, `stored_property_reads`,
    /// `edge_documents_read`, `vertex_documents_read`, `memory_bytes`, `returned`, `elapsed_us`.
    pub executed: std::collections::BTreeMap<String, u64>,
}

impl From<&graph::GraphExplain> for GraphExplainView {
    fn from(explain: &graph::GraphExplain) -> GraphExplainView {
        let executed = explain
            .counters()
            .into_iter()
            .map(|(name, n)| (name.to_string(), n))
            .collect();
        GraphExplainView {
            plan: explain.plan.clone(),
            executed,
        }
    }
}

/// Body of `POST /v1/graph/path`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PathRequest {
    /// From this vertex (`collection/id`).
    pub from: String,
    /// To this vertex (`collection/id`).
    pub to: String,
    /// Edge collections to follow.
    #[schema(min_items = 1, max_items = 64)]
    pub edges: Vec<String>,
    /// Which way edges are followed (default `out`).
    #[serde(default)]
    pub direction: Way,
    /// Minimise the sum of this numeric edge field (weights must be >= 0) instead of the
    /// number of edges.
    #[serde(default)]
    pub weight: Option<String>,
    /// Follow only edges matching this filter.
    #[schema(value_type = Option<FilterSchema>)]
    #[serde(default)]
    pub edge_filter: Option<JsonExpression>,
    /// Also return how the search ran (`explain`: plan and counters).
    #[serde(default)]
    pub explain: bool,
}

/// A shortest path, or `null` when the target cannot be reached.
#[derive(Debug, Serialize, ToSchema)]
pub struct PathResponse {
    /// The path.
    pub path: Option<PathView>,
    /// With `explain: true`: the plan and what it read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<GraphExplainView>,
}

fn edge_text(edge: &EdgeRef) -> String {
    VertexRef::new(edge.collection.clone(), edge.id.clone()).to_text()
}

fn path_view(path: &Path) -> PathView {
    PathView {
        vertices: path.vertices.iter().map(VertexRef::to_text).collect(),
        edges: path.edges.iter().map(edge_text).collect(),
        weight: path.weight,
    }
}

/// Read access to every edge collection named (each name checked first).
fn read_edges(edges: &[String]) -> Result<Need, ApiError> {
    if edges.is_empty() || edges.len() > 64 {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("`edges` names {} collections; give 1 to 64", edges.len()),
        )
        .with_details(serde_json::json!({ "at": "edges" })));
    }
    for name in edges {
        collection_name::check(name)?;
    }
    Ok(Need::Collections(
        edges
            .iter()
            .map(|name| (name.clone(), Access::ReadOnly))
            .collect(),
    ))
}

fn optional_filter(filter: Option<JsonExpression>) -> Result<Option<Filter>, ApiError> {
    filter.map(|f| parse_filter(Some(f))).transpose()
}

/// Creates an edge collection and registers its vertex collections (needs write access to
/// all of them).
#[utoipa::path(post, operation_id = "create_edge_collection", path = "/v1/graph/edge-collections", tag = "graph",
    request_body = CreateEdgeCollection,
    responses((status = 201, description = "Created", body = EdgeCollectionInfo), ErrorResponses))]
pub async fn create_edge_collection(
    State(state): State<SharedState>,
    credentials: Credentials,
    JsonBody(request): JsonBody<CreateEdgeCollection>,
) -> Result<(StatusCode, Json<EdgeCollectionInfo>), ApiError> {
    collection_name::check(&request.name)?;
    let mut need = vec![(request.name.clone(), Access::ReadWrite)];
    for name in &request.vertex_collections {
        collection_name::check(name)?;
        need.push((name.clone(), Access::ReadWrite));
    }
    let mode = request.on_vertex_delete;
    state
        .run(credentials, Need::Collections(need), move |db, _| {
            let options = EdgeOptions {
                on_vertex_delete: mode.into(),
                vertex_collections: request.vertex_collections.clone(),
                properties: request.store_properties.clone(),
            };
            graph::create_edge_collection(db, &request.name, &options)?;
            Ok((
                StatusCode::CREATED,
                Json(EdgeCollectionInfo {
                    name: request.name,
                    on_vertex_delete: mode,
                }),
            ))
        })
        .await
}

/// Walks edge collections breadth first from start vertices (needs read access to the edge
/// collections; a vertex filter only matches vertices the caller may read).
#[utoipa::path(post, operation_id = "traverse", path = "/v1/graph/traverse", tag = "graph",
    request_body = TraverseRequest,
    responses((status = 200, description = "The vertices reached", body = TraverseResponse), ErrorResponses))]
pub async fn traverse(
    State(state): State<SharedState>,
    credentials: Credentials,
    JsonBody(request): JsonBody<TraverseRequest>,
) -> Result<Json<TraverseResponse>, ApiError> {
    // The document's bounds, enforced (serde accepts any length).
    if request.start.is_empty() || request.start.len() > 10_000 {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!(
                "`start` names {} vertices; give 1 to 10,000",
                request.start.len()
            ),
        )
        .with_details(serde_json::json!({ "at": "start" })));
    }
    let need = read_edges(&request.edges)?;
    let starts = request
        .start
        .iter()
        .map(|text| VertexRef::parse("start", text))
        .collect::<Result<Vec<_>, _>>()?;
    let edge_filter = optional_filter(request.edge_filter)?;
    let edge_fields = edge_filter.as_ref().and_then(graph::filter_fields);
    let vertex_filter = optional_filter(request.vertex_filter)?;
    let explain = request.explain;
    let limit = request
        .limit
        .unwrap_or(MAX_GRAPH_RESULTS)
        .min(MAX_GRAPH_RESULTS);
    let timeout = state.limits.request_timeout();
    let (results, explained) = state
        .read(credentials, need, move |db, principal| {
            let edge_match = edge_filter.as_ref().map(graph::matcher);
            let vertex_match = vertex_filter.as_ref().map(graph::matcher);
            let readable = |name: &str| {
                !cairn::is_system_collection(name) && principal.access(name) >= Access::ReadOnly
            };
            let mut walk = Walk::new(&request.edges, request.direction.into());
            walk.edge_filter = edge_match.as_ref().map(|m| m as graph::DocFilter<'_>);
            walk.edge_filter_fields = edge_fields.as_deref();
            walk.budget.time = walk.budget.time.min(timeout);
            let mut spec = Traversal::new(walk, request.max_depth.unwrap_or(1));
            spec.min_depth = request.min_depth.unwrap_or(1);
            spec.uniqueness = match request.uniqueness {
                Some(UniquenessName::Path) => Uniqueness::Path,
                _ => Uniqueness::Global,
            };
            spec.returns = match request.returns {
                Some(ReturnsName::Edges) => Returns::Edges,
                Some(ReturnsName::Paths) => Returns::Paths,
                _ => Returns::Vertices,
            };
            spec.limit = Some(limit);
            spec.vertex_filter = vertex_match.as_ref().map(|m| m as graph::DocFilter<'_>);
            spec.readable = Some(&readable);
            let (visits, explained) = graph::traverse_explained(&mut db.read()?, &starts, &spec)?;
            let views = visits
                .into_iter()
                .map(|visit| VisitView {
                    vertex: visit.vertex.to_text(),
                    depth: visit.depth,
                    edge: visit.edge.as_ref().map(edge_text),
                    path: visit.path.as_ref().map(path_view),
                })
                .collect();
            Ok((views, explain.then(|| GraphExplainView::from(&explained))))
        })
        .await?;
    Ok(Json(TraverseResponse {
        results,
        explain: explained,
    }))
}

/// The shortest path between two vertices (needs read access to the edge collections).
#[utoipa::path(post, operation_id = "shortest_path", path = "/v1/graph/path", tag = "graph",
    request_body = PathRequest,
    responses((status = 200, description = "The path, or null", body = PathResponse), ErrorResponses))]
pub async fn path(
    State(state): State<SharedState>,
    credentials: Credentials,
    JsonBody(request): JsonBody<PathRequest>,
) -> Result<Json<PathResponse>, ApiError> {
    let need = read_edges(&request.edges)?;
    let from = VertexRef::parse("from", &request.from)?;
    let to = VertexRef::parse("to", &request.to)?;
    let edge_filter = optional_filter(request.edge_filter)?;
    let edge_fields = edge_filter.as_ref().and_then(graph::filter_fields);
    let explain = request.explain;
    let timeout = state.limits.request_timeout();
    let (path, explained) = state
        .read(credentials, need, move |db, _| {
            let edge_match = edge_filter.as_ref().map(graph::matcher);
            let mut walk = Walk::new(&request.edges, request.direction.into());
            walk.edge_filter = edge_match.as_ref().map(|m| m as graph::DocFilter<'_>);
            walk.edge_filter_fields = edge_fields.as_deref();
            walk.budget.time = walk.budget.time.min(timeout);
            let (found, explained) = graph::shortest_path_explained(
                &mut db.read()?,
                &from,
                &to,
                &walk,
                request.weight.as_deref(),
            )?;
            Ok((
                found.as_ref().map(path_view),
                explain.then(|| GraphExplainView::from(&explained)),
            ))
        })
        .await?;
    Ok(Json(PathResponse {
        path,
        explain: explained,
    }))
}
