//! `/v1/collections/{collection}/schema/inferred`: what `cairn schema infer` shows: the fields
//! the documents actually hold, with their types and counts, and optionally the schema
//! document those statistics suggest (`?format=schema`, as `--emit` prints it).
//!
//! Reading the statistics brings them up to date from the change log and stores them in a
//! system collection, so the handler runs on the blocking pool like a write; the caller only
//! needs read access to the collection.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api_error::ApiError;
use crate::auth::credentials::Credentials;
use crate::auth::Need;
use crate::collection_name::CollectionName;
use crate::extract::ApiQuery;
use crate::openapi::ErrorResponses;
use crate::routes::schemas::to_json;
use crate::state::SharedState;

/// What the inferred-schema response holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InferFormat {
    /// The field statistics only.
    #[default]
    Fields,
    /// The statistics and the schema document they suggest.
    Schema,
}

/// Query of the inferred-schema route.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct InferQuery {
    /// `fields` (default) or `schema` (also return the suggested schema document, ready for
    /// `PUT .../schema`).
    #[param(inline)]
    #[serde(default)]
    pub format: InferFormat,
}

/// One field path's statistics.
#[derive(Debug, Serialize, ToSchema)]
pub struct InferredField {
    /// The field path (`a.b`; array elements appear as `a[]`).
    pub path: String,
    /// Documents holding the field.
    pub documents: u64,
    /// Per type label (`int`, `string`, ...), how many documents hold that type there.
    pub types: BTreeMap<String, u64>,
}

/// A collection's inferred schema.
#[derive(Debug, Serialize, ToSchema)]
pub struct InferredSchemaView {
    /// Documents in the collection.
    pub documents: u64,
    /// The commit the statistics are current to.
    pub as_of_seq: u64,
    /// Whether more distinct field paths exist than are tracked (at most 1,000).
    pub truncated: bool,
    /// The fields, by path.
    pub fields: Vec<InferredField>,
    /// With `format=schema`: the schema document the statistics suggest.
    #[schema(value_type = Option<Object>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<serde_json::Value>,
}

/// The fields a collection's documents hold, with their types and counts (needs read access).
/// The first call on a collection scans it once; later calls only apply the changes since.
#[utoipa::path(get, operation_id = "infer_schema", path = "/v1/collections/{collection}/schema/inferred", tag = "schemas",
    params(CollectionName, InferQuery),
    responses((status = 200, description = "The inferred schema", body = InferredSchemaView), ErrorResponses))]
pub async fn inferred(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
    ApiQuery(query): ApiQuery<InferQuery>,
) -> Result<Json<InferredSchemaView>, ApiError> {
    let need = Need::read(&collection);
    let view = state
        .run(credentials, need, move |db, _| {
            let inferred = cairn::infer::infer_schema(db, &collection)?;
            let schema = (query.format == InferFormat::Schema)
                .then(|| to_json(&cairn::infer::emit_schema(&inferred)));
            Ok(InferredSchemaView {
                documents: inferred.documents,
                as_of_seq: inferred.as_of_seq,
                truncated: inferred.truncated,
                fields: inferred
                    .fields
                    .into_iter()
                    .map(|(path, stats)| InferredField {
                        path,
                        documents: stats.documents,
                        types: stats.types,
                    })
                    .collect(),
                schema,
            })
        })
        .await?;
    Ok(Json(view))
}
