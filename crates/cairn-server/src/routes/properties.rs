//! One property of one entity, addressed as `(entity, name)`: the entity-graph team's API
//! (`GET`/`PUT /v1/collections/{collection}/documents/{id}/properties/{name}`). Thin by design:
//! a property is a field (a dotted path reaches into objects), read from the document and
//! written as `{"$set": {name: value}}` through the document patch — the same write path,
//! checks, replication and change log as `PATCH` — so it adds no second way to write.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use cairn::{FieldPath, Object, Value};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api_error::ApiError;
use crate::auth::credentials::Credentials;
use crate::auth::Need;
use crate::body::JsonBody;
use crate::collection_name::{self, CollectionName};
use crate::extract::{parse_doc_id, ApiPath};
use crate::openapi::ErrorResponses;
use crate::replication::gate::WriteLevel;
use crate::routes::documents::{not_found, patch_document, Updated};
use crate::state::SharedState;

/// Path of a property route.
#[derive(Debug, Deserialize)]
pub struct PropertyPath {
    collection: String,
    id: String,
    name: String,
}

impl PropertyPath {
    /// The collection (checked), the parsed id and the property's field path.
    fn resolve(self) -> Result<(String, cairn::DocId, String, FieldPath), ApiError> {
        collection_name::check(&self.collection)?;
        let id = parse_doc_id(&self.id)?;
        let path = FieldPath::parse(&self.name)?;
        if path.first() == "_id" {
            return Err(ApiError::bad_request(
                "invalid_property",
                "`_id` is the entity's key, not a property",
            ));
        }
        Ok((self.collection, id, self.name, path))
    }
}

/// A property's value.
#[derive(Debug, Serialize, ToSchema)]
pub struct Property {
    /// The property's name (a field path).
    pub name: String,
    /// Its value.
    #[schema(value_type = Object)]
    pub value: Value,
}

/// Body of a property write.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PropertyValue {
    /// The new value (any JSON value, Extended JSON for dates, vectors and geometry).
    #[schema(value_type = Object)]
    value: serde_json::Value,
}

/// Reads one property of an entity; 404 `property_not_found` when the entity lacks it.
#[utoipa::path(get, operation_id = "get_property", path = "/v1/collections/{collection}/documents/{id}/properties/{name}", tag = "documents",
    params(CollectionName,
           ("id" = String, Path, description = "Document id", min_length = 1, max_length = 1024),
           ("name" = String, Path, description = "Property name (a field path: `address.city`)", min_length = 1, max_length = 1024)),
    responses((status = 200, description = "The property", body = Property), ErrorResponses))]
pub async fn get(
    State(state): State<SharedState>,
    credentials: Credentials,
    ApiPath(path): ApiPath<PropertyPath>,
) -> Result<Response, ApiError> {
    let (collection, id, name, path) = path.resolve()?;
    let need = Need::read(&collection);
    let property = state
        .read(credentials, need, move |db, _| {
            let doc = db
                .get(&collection, &id)?
                .ok_or_else(|| not_found(&collection, &id))?;
            match path.get(&doc) {
                Some(value) => Ok(Property {
                    name,
                    value: value.clone(),
                }),
                None => Err(ApiError::new(
                    axum::http::StatusCode::NOT_FOUND,
                    "property_not_found",
                    format!("entity {} in `{collection}` has no property `{name}`", id),
                )),
            }
        })
        .await?;
    Ok(Json(property).into_response())
}

/// Sets one property of an entity (`$set` of that field); returns the entity as stored.
#[utoipa::path(put, operation_id = "put_property", path = "/v1/collections/{collection}/documents/{id}/properties/{name}", tag = "documents",
    params(CollectionName,
           ("id" = String, Path, description = "Document id", min_length = 1, max_length = 1024),
           ("name" = String, Path, description = "Property name (a field path: `address.city`)", min_length = 1, max_length = 1024)),
    request_body = PropertyValue,
    responses((status = 200, description = "Updated", body = Updated), ErrorResponses))]
pub async fn put(
    State(state): State<SharedState>,
    credentials: Credentials,
    ApiPath(path): ApiPath<PropertyPath>,
    WriteLevel(level): WriteLevel,
    JsonBody(body): JsonBody<PropertyValue>,
) -> Result<Response, ApiError> {
    let (collection, id, name, _) = path.resolve()?;
    let value = Value::from_json_str(&body.value.to_string())?;
    let mut set = Object::new();
    set.insert(name, value);
    let mut patch_value = Object::new();
    patch_value.insert("$set", Value::Object(set));
    let patch_value = Value::Object(patch_value);
    patch_document(&state, credentials, collection, id, level, patch_value).await
}
