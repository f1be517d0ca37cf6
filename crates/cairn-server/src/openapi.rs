//! The OpenAPI 3 document served at `/openapi.json`, generated from the route annotations
//! (`#[utoipa::path]`) and the request and response types: the code is the specification.

use std::borrow::Cow;
use std::collections::BTreeMap;

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{OpenApi as OpenApiDoc, RefOr, Response};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use crate::api_error::ErrorBody;

/// The document's fixed parts; paths are added by the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Cairn",
        description = "Cairn's HTTP/JSON API. Errors always have the shape \
            {\"error\": {\"code\", \"message\", \"details\"}}. Documents use Cairn's extended JSON \
            ({\"$date\"}, {\"$uuid\"}, {\"$bytes\"}, {\"$vector\"}). Authenticate with HTTP Basic \
            or a bearer token from POST /v1/auth/tokens."
    ),
    modifiers(&Security),
    components(schemas(ErrorBody)),
    tags(
        (name = "collections", description = "Create, list and drop collections."),
        (name = "documents", description = "Read and write documents."),
        (name = "transactions", description = "Several operations, atomically."),
        (name = "changes", description = "The change stream (Server-Sent Events)."),
        (name = "auth", description = "Tokens and the current user."),
        (name = "users", description = "User management (admins)."),
        (name = "system", description = "Health, readiness and metrics."),
    )
)]
pub struct ApiDoc;

/// Declares the two ways to authenticate and requires one of them everywhere; the routes that
/// need none (`/health`, `/ready`, `/openapi.json`) say so themselves.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        openapi.security = Some(vec![
            SecurityRequirement::new("basic", Vec::<String>::new()),
            SecurityRequirement::new("bearer", Vec::<String>::new()),
        ]);
    }
}

/// The error statuses any `/v1` route can answer, each with the common error body.
pub struct ErrorResponses;

impl utoipa::IntoResponses for ErrorResponses {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        [
            ("400", "Malformed request: bad JSON, unknown fields, invalid document, id or patch."),
            ("401", "Missing or wrong credentials."),
            ("403", "The user lacks the permission, or the collection is reserved."),
            ("404", "The collection, document or user does not exist."),
            ("408", "The request took longer than the request timeout."),
            ("409", "Conflicts with the current state: duplicate id, existing collection, compare-and-swap mismatch, serialization conflict."),
            ("410", "The change log no longer holds the requested position."),
            ("413", "The body, a document or a transaction is over its limit."),
            ("422", "An extension (index) rejected the write."),
            ("503", "Too many requests in progress, or shutting down; retry."),
        ]
        .into_iter()
        .map(|(status, description)| (status.to_string(), error_response(description)))
        .collect()
    }
}

fn error_response(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(ErrorBody::schema()))
                .build(),
        )
        .build()
        .into()
}

/// A Cairn document as JSON: an object whose field names are non-empty, contain no `.` and do
/// not start with `$`; `_id`, when present, is an integer, a string or a `{"$uuid": ...}`.
/// Used only to describe bodies in the OpenAPI document.
pub struct Document;

impl PartialSchema for Document {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::Object))
            .description(Some(
                "A document: field names are non-empty, contain no `.` and do not start with `$`; \
                 `_id` (optional on insert) is an integer, a string or {\"$uuid\": ...}.",
            ))
            .property_names(Some(
                ObjectBuilder::new()
                    .schema_type(SchemaType::Type(Type::String))
                    .pattern(Some("^[^.$][^.]*$")),
            ))
            .additional_properties(Some(AdditionalProperties::FreeForm(true)))
            .into()
    }
}

impl ToSchema for Document {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Document")
    }
}

/// Update operators, e.g. `{"$set": {"a.b": 1}, "$inc": {"n": 1}}` (`$set $unset $inc $push
/// $pull`). Used only to describe bodies in the OpenAPI document.
pub struct PatchSchema;

impl PartialSchema for PatchSchema {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::Object))
            .description(Some(
                "Update operators: {\"$set\": {path: value}, \"$unset\": {path: \"\"}, \
                 \"$inc\": {path: number}, \"$push\": {path: value}, \"$pull\": {path: value}}.",
            ))
            .additional_properties(Some(AdditionalProperties::FreeForm(true)))
            .into()
    }
}

impl ToSchema for PatchSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Patch")
    }
}
