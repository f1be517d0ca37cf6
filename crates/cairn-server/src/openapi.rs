//! The OpenAPI 3 document served at `/openapi.json`, generated from the route annotations
//! (`#[utoipa::path]`) and the request and response types: the code is the specification.

use std::borrow::Cow;
use std::collections::BTreeMap;

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{
    AdditionalProperties, AnyOfBuilder, ArrayBuilder, ObjectBuilder, Schema, SchemaFormat,
    SchemaType, Type,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{OpenApi as OpenApiDoc, Ref, RefOr, Response};
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
        (name = "schemas", description = "A collection's schema: read, set, version history, migrations, inference."),
        (name = "invariants", description = "Invariants over a collection's sums: list, add (checked against the data), drop."),
        (name = "documents", description = "Read and write documents."),
        (name = "queries", description = "Find, count, distinct, explain and aggregate."),
        (name = "indexes", description = "Secondary indexes: list, create (online), drop."),
        (name = "graph", description = "Edge collections, traversals and shortest paths."),
        (name = "series", description = "Time-series collections: append points, range reads, downsampling, latest points, trajectories, retention."),
        (name = "transactions", description = "Several operations, atomically."),
        (name = "changes", description = "The change stream (Server-Sent Events)."),
        (name = "auth", description = "Tokens and the current user."),
        (name = "users", description = "User management (admins)."),
        (name = "sources", description = "External sources (PostgreSQL, SQLite, files) for SQL: list with health, add, remove (admins)."),
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
            ("400", "Malformed request: bad JSON, unknown fields, invalid document, id, patch, filter, sort, projection, pipeline, cursor, index definition, schema, migration or invariant."),
            ("401", "Missing or wrong credentials."),
            ("403", "The user lacks the permission, or the collection is reserved."),
            ("404", "The collection, document, user, index, index build record, schema or invariant does not exist."),
            ("408", "The request took longer than the request timeout, or a query or migration exceeded its time budget (a migration is then resumable)."),
            ("409", "Conflicts with the current state: duplicate id or unique key, existing collection, index or invariant, an index build already running, compare-and-swap mismatch, serialization conflict, a schema change needing a migration, a migration in progress, data breaking a new invariant, a backup the server cannot take (not configured, one in progress, a broken backup chain)."),
            ("410", "The change log no longer holds the requested position."),
            ("413", "The body, a document, a transaction (its operations or writes), a response (`max_response_bytes`; query pages stop early with a cursor instead), a query (sort or group memory, result size) or a bulk call is over its limit."),
            ("414", "The request target is longer than 65,534 bytes (`uri_too_long`)."),
            ("431", "The request's headers are larger than the server reads (`headers_too_large`)."),
            ("422", "A schema, a schema rule or an extension (index) rejected the write, a schema expression could not be evaluated, or an Idempotency-Key was reused with a different request (`idempotency_key_reused`)."),
            ("429", "Too many wrong passwords for the user name or from the client address: password logins are refused for the seconds in `Retry-After` (bearer tokens still work)."),
            ("500", "Stored data failed its checksum (`corruption`, naming the collection and id: the data file is damaged; `cairn check` lists the damage, restore a backup), or an internal error."),
            ("507", "The disk holding the database is full (`disk_full`): nothing was written; free space, and writes resume by themselves."),
            ("503", "Too many requests (or password logins) in progress, shutting down, the data file failed and is reopened at the next write (`storage_unavailable`), or an index build or schema inference gave way to concurrent writes; retry."),
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

/// A field name: non-empty, no `.`, not starting with `$` (at most 256 characters here; the
/// engine allows 1,024 bytes).
const FIELD_NAME_PATTERN: &str = r"^[^.$][^.]{0,255}$";

/// A field name other than `_id` (spelled out: JSON Schema generators rarely support
/// look-ahead).
const FIELD_NAME_EXCEPT_ID_PATTERN: &str =
    r"^([^.$_][^.]{0,255}|_([^.i][^.]{0,254})?|_i([^.d][^.]{0,253})?|_id[^.]{1,253})$";

/// A field path: field names joined by `.`.
const FIELD_PATH_PATTERN: &str = r"^[^.$][^.]*(\.[^.$][^.]*)*$";

/// A collection name, as the engine's `validate_name` checks it.
pub const COLLECTION_NAME_PATTERN: &str = r"^[A-Za-z_][A-Za-z0-9_-]{0,127}$";

fn reference(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

fn typed(kind: Type) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::Type(kind))
}

fn names(pattern: &str) -> ObjectBuilder {
    typed(Type::String).pattern(Some(pattern))
}

/// Any value a document field may hold, recursively: nested objects follow the field-name
/// rules too, and Cairn's typed values (`{"$date"}`, `{"$uuid"}`, `{"$bytes"}`, `{"$vector"}`,
/// `{"$geometry"}` and MongoDB's Extended JSON wrappers, [`TypedValueSchema`]) are the one
/// place a `$` key appears — the server reads all of them, so the schema must admit them.
pub struct DocumentValue;

impl PartialSchema for DocumentValue {
    fn schema() -> RefOr<Schema> {
        let object = typed(Type::Object)
            .property_names(Some(names(FIELD_NAME_PATTERN)))
            .additional_properties(Some(reference("DocumentValue")));
        let array = ArrayBuilder::new().items(reference("DocumentValue"));
        Schema::AnyOf(
            AnyOfBuilder::new()
                .item(typed(Type::Null))
                .item(typed(Type::Boolean))
                .item(typed(Type::Number))
                .item(typed(Type::String))
                .item(array)
                .item(object)
                .item(reference("TypedValue"))
                .build(),
        )
        .into()
    }
}

impl ToSchema for DocumentValue {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("DocumentValue")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        push_document_value(schemas);
    }
}

/// Registers `DocumentValue` and the schemas it refers to (for the types that use it).
fn push_document_value(schemas: &mut Vec<(String, RefOr<Schema>)>) {
    schemas.push(("DocumentValue".to_string(), DocumentValue::schema()));
    schemas.push(("TypedValue".to_string(), TypedValueSchema::schema()));
    schemas.push(("Geometry".to_string(), GeometrySchema::schema()));
}

/// An object with the one key `key` holding `value`: the shape of every typed-value wrapper.
fn wrapper(key: &str, value: impl Into<RefOr<Schema>>, description: &str) -> ObjectBuilder {
    typed(Type::Object)
        .description(Some(description))
        .property(key, value)
        .required(key)
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
}

/// A typed value: one of Cairn's wrappers, or a MongoDB Extended JSON v2 wrapper read on input
/// (README "Typed values"; `cairn-doc/src/json.rs` and `json/extended.rs` hold the mapping).
pub struct TypedValueSchema;

impl PartialSchema for TypedValueSchema {
    fn schema() -> RefOr<Schema> {
        let text = || typed(Type::String);
        let anything = || ObjectBuilder::new().schema_type(SchemaType::AnyValue);
        let date = AnyOfBuilder::new()
            .item(text().format(Some(SchemaFormat::Custom("date-time".to_string()))))
            .item(typed(Type::Number))
            .item(typed(Type::Object));
        let vector = ArrayBuilder::new()
            .items(typed(Type::Number))
            .max_items(Some(cairn::document_limits::MAX_VECTOR_DIM));
        let mongo = |key: &str, what: &str| {
            wrapper(key, anything(), &format!("MongoDB Extended JSON: {what}"))
        };
        Schema::AnyOf(
            AnyOfBuilder::new()
                .description(Some(
                    "A typed value: an object with exactly one `$` key. Written back as Cairn's \
                     own wrappers ($date, $uuid, $bytes, $vector, $geometry).",
                ))
                .item(wrapper(
                    "$date",
                    Schema::AnyOf(date.build()),
                    "A date-time: RFC 3339 text (years 0000-9999, at most microseconds), integer \
                     milliseconds since 1970, or {\"$numberLong\": \"ms\"}.",
                ))
                .item(wrapper(
                    "$uuid",
                    text().format(Some(SchemaFormat::Custom("uuid".to_string()))),
                    "A UUID (hyphenated, simple, braced or URN text).",
                ))
                .item(wrapper(
                    "$bytes",
                    text().format(Some(SchemaFormat::Custom("byte".to_string()))),
                    "Bytes, standard base64 with padding.",
                ))
                .item(wrapper(
                    "$vector",
                    vector,
                    "A vector of finite numbers (stored as 32-bit floats).",
                ))
                .item(wrapper(
                    "$geometry",
                    reference("Geometry"),
                    "A 3D geometry (see Geometry).",
                ))
                .item(mongo("$numberLong", "a 64-bit integer as decimal text"))
                .item(mongo("$numberInt", "a 32-bit integer as decimal text"))
                .item(mongo(
                    "$numberDouble",
                    "a double as text (finite only: Infinity and NaN are refused)",
                ))
                .item(mongo(
                    "$numberDecimal",
                    "a decimal as text, stored as a double when at most 15 significant digits",
                ))
                .item(mongo(
                    "$oid",
                    "an ObjectId, 24 hex digits, stored as that string",
                ))
                .item(mongo(
                    "$binary",
                    "{\"base64\", \"subType\"}: subtype 04 of 16 bytes is a UUID, others bytes",
                ))
                .item(mongo(
                    "$timestamp",
                    "{\"t\", \"i\"}, stored as the integer t << 32 | i",
                ))
                .item(mongo(
                    "$regularExpression",
                    "{\"pattern\", \"options\"}, stored as the string /pattern/options",
                ))
                .item(mongo("$symbol", "stored as a string"))
                .item(mongo("$code", "stored as a string"))
                .build(),
        )
        .into()
    }
}

impl ToSchema for TypedValueSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("TypedValue")
    }
}

/// A 3D geometry's JSON form, the value of `{"$geometry": ...}` (`cairn_doc::Geometry`):
/// points are `[x, y, z]`; a mesh lists its vertices and its triangles as index triples.
pub struct GeometrySchema;

impl PartialSchema for GeometrySchema {
    fn schema() -> RefOr<Schema> {
        let point = || {
            ArrayBuilder::new()
                .items(typed(Type::Number))
                .min_items(Some(3))
                .max_items(Some(3))
        };
        let points = |n: usize| {
            ArrayBuilder::new()
                .items(point())
                .min_items(Some(n))
                .max_items(Some(n))
        };
        let kind = |name: &str| typed(Type::String).enum_values(Some([name]));
        let shape = |name: &str, description: &str| {
            typed(Type::Object)
                .description(Some(description))
                .property("type", kind(name))
                .required("type")
                .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        };
        let index = typed(Type::Integer).minimum(Some(0.0));
        let triangle = ArrayBuilder::new()
            .items(index)
            .min_items(Some(3))
            .max_items(Some(3));
        let limits = cairn::document_limits::MAX_MESH_VERTICES;
        Schema::AnyOf(
            AnyOfBuilder::new()
                .description(Some(
                    "A 3D geometry; coordinates are finite numbers [x, y, z]. A mesh is \
                     {\"type\": \"mesh\", \"vertices\": [[x, y, z], ...], \"triangles\": [[i, j, k], ...]} \
                     with each triangle three indices into vertices (closed meshes bound a solid \
                     for $within).",
                ))
                .item(
                    shape("point", "A point.")
                        .property("coordinates", point())
                        .required("coordinates"),
                )
                .item(
                    shape("segment", "A segment between two points.")
                        .property("coordinates", points(2))
                        .required("coordinates"),
                )
                .item(
                    shape("triangle", "A triangle of three points.")
                        .property("coordinates", points(3))
                        .required("coordinates"),
                )
                .item(
                    shape(
                        "mesh",
                        &format!(
                            "A triangle mesh: at most {limits} vertices and twice as many \
                             triangles; each triangle [i, j, k] indexes vertices."
                        ),
                    )
                    .property(
                        "vertices",
                        ArrayBuilder::new().items(point()).max_items(Some(limits)),
                    )
                    .property(
                        "triangles",
                        ArrayBuilder::new()
                            .items(triangle)
                            .max_items(Some(cairn::document_limits::MAX_MESH_TRIANGLES)),
                    )
                    .required("vertices")
                    .required("triangles"),
                )
                .item(
                    shape("box", "An axis-aligned box from its min to its max corner.")
                        .property("min", point())
                        .property("max", point())
                        .required("min")
                        .required("max"),
                )
                .item(
                    shape("sphere", "A sphere.")
                        .property("center", point())
                        .property("radius", typed(Type::Number).minimum(Some(0.0)))
                        .required("center")
                        .required("radius"),
                )
                .build(),
        )
        .into()
    }
}

impl ToSchema for GeometrySchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Geometry")
    }
}

/// A document id: an integer (i64), a non-empty string (at most 1,024 bytes), or
/// `{"$uuid": "..."}`.
pub struct DocIdSchema;

impl PartialSchema for DocIdSchema {
    fn schema() -> RefOr<Schema> {
        let uuid = typed(Type::Object)
            .property(
                "$uuid",
                typed(Type::String).format(Some(SchemaFormat::Custom("uuid".to_string()))),
            )
            .required("$uuid")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        Schema::AnyOf(
            AnyOfBuilder::new()
                .item(
                    typed(Type::Integer)
                        .minimum(Some(i64::MIN as f64))
                        .maximum(Some(i64::MAX as f64)),
                )
                .item(
                    typed(Type::String)
                        .min_length(Some(1))
                        .max_length(Some(1024)),
                )
                .item(uuid)
                .build(),
        )
        .into()
    }
}

impl ToSchema for DocIdSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("DocId")
    }
}

/// A Cairn document as JSON: an object whose field names are non-empty, contain no `.` and do
/// not start with `$`; `_id`, when present, is a [`DocIdSchema`].
pub struct Document;

impl PartialSchema for Document {
    fn schema() -> RefOr<Schema> {
        typed(Type::Object)
            .description(Some(
                "A document: field names are non-empty, contain no `.` and do not start with `$`; \
                 `_id` (optional on insert; a UUIDv7 is generated) is an integer, a string or \
                 {\"$uuid\": ...}.",
            ))
            .property("_id", reference("DocId"))
            .property_names(Some(names(FIELD_NAME_PATTERN)))
            .additional_properties(Some(reference("DocumentValue")))
            .into()
    }
}

impl ToSchema for Document {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Document")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        push_document_value(schemas);
        schemas.push(("DocId".to_string(), DocIdSchema::schema()));
    }
}

/// A document addressed by the URL: like [`Document`], without `_id` (the path gives it; a
/// `_id` in the body is accepted only when it equals the path's).
pub struct AddressedDocument;

impl PartialSchema for AddressedDocument {
    fn schema() -> RefOr<Schema> {
        typed(Type::Object)
            .description(Some("A document without `_id` (the URL names it)."))
            .property_names(Some(names(FIELD_NAME_EXCEPT_ID_PATTERN)))
            .additional_properties(Some(reference("DocumentValue")))
            .into()
    }
}

impl ToSchema for AddressedDocument {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("AddressedDocument")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        push_document_value(schemas);
    }
}

/// Update operators, e.g. `{"$set": {"a.b": 1}, "$inc": {"n": 1}}`. Used only to describe
/// bodies in the OpenAPI document.
pub struct PatchSchema;

impl PartialSchema for PatchSchema {
    fn schema() -> RefOr<Schema> {
        let paths_to = |values: RefOr<Schema>| {
            typed(Type::Object)
                .property_names(Some(names(FIELD_PATH_PATTERN)))
                .additional_properties(Some(values))
        };
        let number: RefOr<Schema> = typed(Type::Number).into();
        // `$unset` ignores its operands and `$pull` only compares with them: neither is
        // stored, so neither is held to the document rules.
        let anything: RefOr<Schema> = AnyValueSchema::schema();
        typed(Type::Object)
            .description(Some(
                "Update operators: $set and $push take path → value, $pull path → the value to \
                 remove, $inc path → number, $unset path → anything (ignored). Paths are field names joined by `.`; a numeric segment \
                 indexes an array.",
            ))
            .property("$set", paths_to(reference("DocumentValue")))
            .property("$unset", paths_to(anything.clone()))
            .property("$inc", paths_to(number))
            .property("$push", paths_to(reference("DocumentValue")))
            .property("$pull", paths_to(anything))
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .into()
    }
}

impl ToSchema for PatchSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Patch")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        push_document_value(schemas);
    }
}

/// Compare-and-swap expectations: field path → the value it must hold.
pub struct ExpectedSchema;

impl PartialSchema for ExpectedSchema {
    fn schema() -> RefOr<Schema> {
        typed(Type::Object)
            .description(Some(
                "Field path → expected value; a missing field matches null, numbers compare by value.",
            ))
            .property_names(Some(names(FIELD_PATH_PATTERN)))
            .additional_properties(Some(reference("DocumentValue")))
            .into()
    }
}

impl ToSchema for ExpectedSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Expected")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        push_document_value(schemas);
    }
}

/// Per-collection grants: collection name → `none`, `read-only` or `read-write`.
pub struct GrantsSchema;

impl PartialSchema for GrantsSchema {
    fn schema() -> RefOr<Schema> {
        typed(Type::Object)
            .description(Some("Collection name → access, overriding the role."))
            .property_names(Some(names(COLLECTION_NAME_PATTERN)))
            .additional_properties(Some(reference("Access")))
            .into()
    }
}

impl ToSchema for GrantsSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Grants")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push(("Access".to_string(), crate::auth::Access::schema()));
    }
}

/// A filter, e.g. `{"age": {"$gte": 18}, "city": "Oslo"}`; `{}` matches every document.
pub struct FilterSchema;

impl PartialSchema for FilterSchema {
    fn schema() -> RefOr<Schema> {
        typed(Type::Object)
            .description(Some(
                "A filter: field path → value (equality) or operators ($eq $ne $gt $gte $lt $lte \
                 $in $nin $exists $type $regex $size $all $elemMatch $not), combined with $and, \
                 $or and $nor. {} matches every document. Geometric operators, on a field \
                 holding geometries; G is {\"$geometry\": Geometry} or WKT text: \
                 {\"$withinDistance\": {\"shape\": G, \"distance\": r}} (exact distance ≤ r), \
                 {\"$intersects\": G}, {\"$within\": G} (inside a box, sphere or closed mesh), \
                 {\"$near\": {\"shape\": G, \"k\": 10, \"maxDistance\": r, \"distanceField\": \"d\"}} \
                 (the k nearest, nearest first, each distance written to distanceField, default \
                 _distance; top level, at most one per query). A spatial index on the field \
                 answers them; without one they scan.",
            ))
            .additional_properties(Some(AdditionalProperties::FreeForm(true)))
            .into()
    }
}

impl ToSchema for FilterSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Filter")
    }
}

/// A sort: field path → 1 (ascending) or -1 (descending), in priority order.
pub struct SortSchema;

impl PartialSchema for SortSchema {
    fn schema() -> RefOr<Schema> {
        let direction = typed(Type::Integer).enum_values(Some([1, -1]));
        typed(Type::Object)
            .description(Some(
                "Field path → 1 (ascending) or -1 (descending), highest priority first; ties \
                 are broken by _id.",
            ))
            .property_names(Some(names(FIELD_PATH_PATTERN)))
            .additional_properties(Some(direction))
            .max_properties(Some(cairn::query::limits::MAX_SORT_FIELDS))
            .into()
    }
}

impl ToSchema for SortSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Sort")
    }
}

/// A projection: field path → 1/true (keep) or 0/false (drop); `_id` is kept unless dropped.
pub struct ProjectionSchema;

impl PartialSchema for ProjectionSchema {
    fn schema() -> RefOr<Schema> {
        let flag = AnyOfBuilder::new()
            .item(typed(Type::Boolean))
            .item(typed(Type::Integer).enum_values(Some([0, 1])));
        typed(Type::Object)
            .description(Some(
                "Field path → 1/true (return only these) or 0/false (return all but these); \
                 inclusion and exclusion do not mix, except for _id.",
            ))
            .property_names(Some(names(FIELD_PATH_PATTERN)))
            .additional_properties(Some(RefOr::<Schema>::from(Schema::AnyOf(flag.build()))))
            .into()
    }
}

impl ToSchema for ProjectionSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Projection")
    }
}

/// An aggregation pipeline: a list of one-key stage objects.
pub struct PipelineSchema;

impl PartialSchema for PipelineSchema {
    fn schema() -> RefOr<Schema> {
        let stage = typed(Type::Object)
            .description(Some(
                "One stage: {\"$match\": filter}, $project, $addFields/$set, $group, $sort, \
                 $skip, $limit, $unwind, $count, $lookup, $graphLookup, $replaceRoot/$replaceWith, $bucket, \
                 $bucketByTime (downsampling: time, every, by, output), $sortByCount or $facet.",
            ))
            .min_properties(Some(1))
            .max_properties(Some(1))
            .additional_properties(Some(AdditionalProperties::FreeForm(true)));
        ArrayBuilder::new()
            .description(Some("The stages, applied in order."))
            .items(stage)
            .max_items(Some(cairn::query::limits::MAX_PIPELINE_STAGES))
            .into()
    }
}

impl ToSchema for PipelineSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Pipeline")
    }
}

/// Any JSON value: a value as stored (typed values appear as `{"$date": ...}` and the like).
pub struct AnyValueSchema;

impl PartialSchema for AnyValueSchema {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::AnyValue)
            .description(Some("Any value, in Cairn's extended JSON."))
            .into()
    }
}

impl ToSchema for AnyValueSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("AnyValue")
    }
}

/// A field path: field names joined by `.` (a numeric segment indexes an array).
pub struct FieldPathSchema;

impl PartialSchema for FieldPathSchema {
    fn schema() -> RefOr<Schema> {
        names(FIELD_PATH_PATTERN)
            .description(Some("Field names joined by `.`, e.g. `address.city`."))
            .into()
    }
}

impl ToSchema for FieldPathSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("FieldPath")
    }
}
