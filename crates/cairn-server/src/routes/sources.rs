//! `/v1/sources`: external sources (PostgreSQL, SQLite, files) queried in SQL as
//! `source.schema.table` — list with health, add, remove; admins only.
//!
//! The server never links the SQL layer: the sources come through the [`Sources`] seam,
//! which `cairn serve` fills from `cairn-sql` (its registry and health schedule). Without it
//! (an embedded test server) the routes answer 501 `sources_unavailable`. A URL is only ever
//! answered with its password replaced by `***`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api_error::ApiError;
use crate::auth::credentials::Credentials;
use crate::auth::Need;
use crate::body::JsonBody;
use crate::extract::ApiPath;
use crate::openapi::ErrorResponses;
use crate::state::SharedState;

/// A source as answered (its URL redacted) with its last health check.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SourceInfo {
    /// The name: its catalog in SQL.
    pub name: String,
    /// `postgres`, `sqlite`, `csv`, `parquet` or `json`.
    pub kind: String,
    /// Where it is, the password replaced by `***`.
    pub url: String,
    /// `up`, `down`, or `unknown` (not checked yet).
    pub status: String,
    /// Why it is down.
    pub error: Option<String>,
    /// How long the last check took, in milliseconds.
    pub latency_ms: Option<f64>,
    /// When the last check ran (milliseconds since the Unix epoch).
    pub checked_at_ms: Option<u64>,
    /// Its tables as `schema.table` (query them as `name.schema.table`).
    pub tables: Vec<String>,
}

/// All sources.
#[derive(Debug, Serialize, ToSchema)]
pub struct SourceList {
    /// In name order.
    pub sources: Vec<SourceInfo>,
}

/// Body of `POST /v1/sources`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSource {
    /// Lower-case letters, digits and `_`, starting with a letter.
    #[schema(pattern = r"^[a-z][a-z0-9_]{0,62}$")]
    pub name: String,
    /// `postgres`, `sqlite`, `csv`, `parquet` or `json`.
    pub kind: String,
    /// `postgres://user:password@host:port/db`, or an absolute path of a file or folder.
    #[schema(min_length = 1, max_length = 4096)]
    pub url: String,
}

/// Why the source layer refused (mapped to the HTTP status and code of the common body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceRefusal {
    /// Bad name, unknown kind, or a URL that does not fit the kind (400 `invalid_source`).
    Invalid(String),
    /// The name is taken (409 `source_exists`).
    Exists(String),
    /// No such source (404 `source_not_found`).
    NotFound(String),
    /// Anything else (500).
    Internal(String),
}

impl From<SourceRefusal> for ApiError {
    fn from(refusal: SourceRefusal) -> ApiError {
        match refusal {
            SourceRefusal::Invalid(m) => ApiError::bad_request("invalid_source", m),
            SourceRefusal::Exists(m) => ApiError::new(StatusCode::CONFLICT, "source_exists", m),
            SourceRefusal::NotFound(m) => {
                ApiError::new(StatusCode::NOT_FOUND, "source_not_found", m)
            }
            SourceRefusal::Internal(m) => ApiError::internal(m),
        }
    }
}

/// What the server needs of the source layer. Every method may block (it reads and writes
/// the database): the routes call them on the blocking pool.
pub trait Sources: Send + Sync {
    /// Every source with its last health check.
    fn list(&self) -> Result<Vec<SourceInfo>, SourceRefusal>;
    /// Defines a source.
    fn add(&self, name: &str, kind: &str, url: &str) -> Result<SourceInfo, SourceRefusal>;
    /// Removes a source.
    fn remove(&self, name: &str) -> Result<(), SourceRefusal>;
    /// Health in Prometheus' text format (`cairn_source_up`, latency, rows transferred).
    fn metrics_text(&self) -> String;
    /// Every source's tables with their columns, for the catalog (`/v1/catalog`); a source
    /// that is down lists none.
    fn catalog_entries(&self) -> Vec<cairn::catalog::CatalogEntry> {
        Vec::new()
    }
}

fn sources(state: &SharedState) -> Result<Arc<dyn Sources>, ApiError> {
    state.sources.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "sources_unavailable",
            "this server has no source layer (it runs inside `cairn serve`)",
        )
    })
}

/// Lists sources with their health.
#[utoipa::path(get, operation_id = "list_sources", path = "/v1/sources", tag = "sources",
    responses((status = 200, description = "All sources", body = SourceList),
              (status = 501, description = "No source layer", body = crate::api_error::ErrorBody),
              ErrorResponses))]
pub async fn list(
    State(state): State<SharedState>,
    credentials: Credentials,
) -> Result<Json<SourceList>, ApiError> {
    let layer = sources(&state)?;
    let sources = state
        .read(credentials, Need::Admin, move |_, _| Ok(layer.list()?))
        .await?;
    Ok(Json(SourceList { sources }))
}

/// Defines a source (stored in the database; its health is checked at once).
#[utoipa::path(post, operation_id = "create_source", path = "/v1/sources", tag = "sources",
    request_body = CreateSource,
    responses((status = 201, description = "Created", body = SourceInfo),
              (status = 501, description = "No source layer", body = crate::api_error::ErrorBody),
              ErrorResponses))]
pub async fn create(
    State(state): State<SharedState>,
    credentials: Credentials,
    JsonBody(request): JsonBody<CreateSource>,
) -> Result<(StatusCode, Json<SourceInfo>), ApiError> {
    let layer = sources(&state)?;
    let info = state
        .run(credentials, Need::Admin, move |_, _| {
            Ok(layer.add(&request.name, &request.kind, &request.url)?)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// Removes a source (its data stays where it is).
#[utoipa::path(delete, operation_id = "delete_source", path = "/v1/sources/{name}", tag = "sources",
    params(("name" = String, Path, description = "The source")),
    responses((status = 204, description = "Removed"),
              (status = 501, description = "No source layer", body = crate::api_error::ErrorBody),
              ErrorResponses))]
pub async fn delete(
    State(state): State<SharedState>,
    credentials: Credentials,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let layer = sources(&state)?;
    state
        .run(credentials, Need::Admin, move |_, _| {
            Ok(layer.remove(&name)?)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
