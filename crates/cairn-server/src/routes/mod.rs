//! The router: every route, its layers, and the OpenAPI document built from the same
//! declarations.
//!
//! Routes are grouped by what they serve, one module each. New capabilities (schemas, say)
//! plug in the same way the query, index and bulk routes did: a module here with
//! `#[utoipa::path]` handlers that go through `AppState::run` (`state.rs`) (or `read`), and
//! one `.routes(routes!(...))` line in `api_routes`.

pub mod auth;
pub mod backup;
pub mod bulk;
pub mod catalog;
pub mod changes;
pub mod cluster;
pub mod collections;
pub mod consumers;
pub mod documents;
pub mod graph;
pub mod indexes;
pub mod inference;
pub mod invariants;
pub mod migrations;
pub mod properties;
pub mod queries;
pub mod retention;
pub mod schemas;
pub mod series;
pub mod sources;
pub mod stats;
pub mod system;
pub mod transactions;
pub mod users;

use std::sync::Arc;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api_error::ApiError;
use crate::middleware;
use crate::openapi::ApiDoc;
use crate::state::SharedState;

/// The routers of the three route groups and the OpenAPI document describing all of them.
struct Parts {
    /// Routes under the concurrency and time limits.
    api: Router<SharedState>,
    /// Change streams (their own limit) and backups (one at a time): no timeout.
    streams: Router<SharedState>,
    /// Liveness and readiness: no limits, no credentials.
    probes: Router<SharedState>,
    openapi: utoipa::openapi::OpenApi,
}

fn parts() -> Parts {
    let (api, mut openapi) = api_routes().split_for_parts();
    let (streams, streams_doc) = OpenApiRouter::new()
        .routes(routes!(changes::stream))
        .routes(routes!(backup::backup))
        .split_for_parts();
    let (probes, probes_doc) = OpenApiRouter::new()
        .routes(routes!(system::health))
        .routes(routes!(system::ready))
        .split_for_parts();
    openapi.merge(streams_doc);
    openapi.merge(probes_doc);
    Parts {
        api,
        streams,
        probes,
        openapi,
    }
}

/// The complete application: API routes (under the request limits), change streams (their
/// own limit, no timeout) and backups (one at a time, no timeout), probes, `/openapi.json`, and JSON answers for unknown routes and
/// methods.
pub fn router(state: SharedState) -> Router {
    let parts = parts();
    let spec = Arc::new(parts.openapi.to_json().unwrap_or_else(|_| "{}".to_string()));
    let api = parts
        .api
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::replication::gate::gate,
        ))
        .route_layer(middleware::LimitLayer::new(state.clone()));
    Router::new()
        .merge(api)
        .merge(parts.streams)
        .merge(parts.probes)
        .merge(crate::console::router())
        .route(
            "/openapi.json",
            get(move || {
                let spec = spec.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        spec.as_str().to_owned(),
                    )
                }
            }),
        )
        .fallback(|| async { ApiError::route_not_found().into_response() })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not accept that method; see /openapi.json",
            )
            .into_response()
        })
        .layer(middleware::TrackLayer::new(state.clone()))
        .with_state(state)
}

/// The OpenAPI document alone, as served at `/openapi.json` (for tests and tooling).
pub fn openapi_json() -> String {
    parts().openapi.to_pretty_json().unwrap_or_default()
}

/// The routes that run under the concurrency and time limits.
fn api_routes() -> OpenApiRouter<SharedState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(collections::list, collections::create))
        .routes(routes!(collections::drop))
        .routes(routes!(collections::rename))
        .routes(routes!(documents::insert))
        .routes(routes!(
            documents::get,
            documents::put,
            documents::patch,
            documents::delete
        ))
        .routes(routes!(documents::compare_and_swap))
        .routes(routes!(properties::get, properties::put))
        .routes(routes!(documents::batch))
        .routes(routes!(bulk::update_many))
        .routes(routes!(bulk::delete_many))
        .routes(routes!(queries::query))
        .routes(routes!(queries::count))
        .routes(routes!(queries::distinct))
        .routes(routes!(queries::explain))
        .routes(routes!(queries::aggregate))
        .routes(routes!(indexes::list, indexes::create))
        .routes(routes!(indexes::drop))
        .routes(routes!(indexes::build_status))
        .routes(routes!(transactions::execute))
        .routes(routes!(auth::create_token))
        .routes(routes!(auth::revoke_current))
        .routes(routes!(auth::me))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::get, users::update, users::delete))
        .routes(routes!(system::metrics))
        .routes(routes!(stats::queries, stats::reset))
        .routes(routes!(schemas::get, schemas::put))
        .routes(routes!(schemas::history))
        .routes(routes!(migrations::migrate))
        .routes(routes!(inference::inferred))
        .routes(routes!(invariants::list, invariants::create))
        .routes(routes!(invariants::drop))
        .routes(routes!(graph::create_edge_collection))
        .routes(routes!(graph::traverse))
        .routes(routes!(graph::path))
        .routes(routes!(series::create))
        .routes(routes!(series::describe))
        .routes(routes!(series::append))
        .routes(routes!(series::range))
        .routes(routes!(series::downsample))
        .routes(routes!(series::latest))
        .routes(routes!(series::trajectory))
        .routes(routes!(series::delete))
        .routes(routes!(series::expire))
        .routes(routes!(sources::list, sources::create))
        .routes(routes!(sources::delete))
        .routes(routes!(catalog::list))
        .routes(routes!(catalog::get, catalog::update))
        .routes(routes!(catalog::lineage))
        .routes(routes!(catalog::table_lineage))
        .routes(routes!(retention::get, retention::set))
        .routes(routes!(consumers::list, consumers::create))
        .routes(routes!(consumers::get, consumers::delete))
        .routes(routes!(consumers::events))
        .routes(routes!(consumers::ack))
        .routes(routes!(cluster::status))
        .routes(routes!(cluster::add_learner))
        .routes(routes!(cluster::promote))
        .routes(routes!(cluster::remove))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_operation_has_a_unique_id_and_documents_its_errors() {
        let spec: serde_json::Value = serde_json::from_str(&openapi_json()).unwrap();
        let mut ids = BTreeSet::new();
        let paths = spec["paths"].as_object().unwrap();
        for (path, operations) in paths {
            for (method, operation) in operations.as_object().unwrap() {
                let id = operation["operationId"].as_str().unwrap().to_string();
                assert!(ids.insert(id.clone()), "duplicate operationId {id}");
                let open = matches!(path.as_str(), "/health" | "/ready");
                if path.starts_with("/v1") || path == "/metrics" {
                    assert!(operation["responses"]["401"].is_object(), "{method} {path}");
                    assert!(operation["responses"]["400"].is_object(), "{method} {path}");
                }
                assert!(open || operation["security"].is_null(), "{method} {path}");
            }
        }
        assert_eq!(ids.len(), 80);
        assert!(spec["components"]["schemas"]["DocumentValue"].is_object());
    }

    /// The document must admit every value the server accepts (schemathesis fails on a
    /// request the schema forbids yet the server takes): each typed-value wrapper the JSON
    /// reader knows, the mesh form, and the geometric filter operators are declared.
    #[test]
    fn document_values_admit_every_typed_value_and_filters_name_geometric_operators() {
        let spec: serde_json::Value = serde_json::from_str(&openapi_json()).unwrap();
        let schemas = &spec["components"]["schemas"];
        let document_value = schemas["DocumentValue"]["anyOf"].as_array().unwrap();
        assert!(document_value
            .iter()
            .any(|branch| branch["$ref"] == "#/components/schemas/TypedValue"));
        let wrappers: BTreeSet<&str> = schemas["TypedValue"]["anyOf"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|branch| branch["required"].as_array().unwrap())
            .map(|key| key.as_str().unwrap())
            .collect();
        for key in [
            "$date",
            "$uuid",
            "$bytes",
            "$vector",
            "$geometry",
            "$numberLong",
            "$numberInt",
            "$numberDouble",
            "$numberDecimal",
            "$oid",
            "$binary",
            "$timestamp",
            "$regularExpression",
            "$symbol",
            "$code",
        ] {
            assert!(wrappers.contains(key), "TypedValue lacks {key}");
        }
        let mesh = schemas["Geometry"]["anyOf"]
            .as_array()
            .unwrap()
            .iter()
            .find(|branch| branch["properties"]["type"]["enum"][0] == "mesh")
            .expect("a mesh branch");
        assert!(mesh["properties"]["vertices"].is_object());
        assert!(mesh["properties"]["triangles"].is_object());
        let filter = schemas["Filter"]["description"].as_str().unwrap();
        for op in ["$withinDistance", "$intersects", "$within", "$near"] {
            assert!(filter.contains(op), "Filter description lacks {op}");
        }
        let pipeline = spec.to_string();
        for stage in [
            "$facet",
            "$bucket",
            "$bucketByTime",
            "$replaceRoot",
            "$sortByCount",
        ] {
            assert!(
                pipeline.contains(stage),
                "the Pipeline description lacks {stage}"
            );
        }
    }

    #[test]
    fn every_collection_segment_is_declared_once_with_its_pattern() {
        let spec: serde_json::Value = serde_json::from_str(&openapi_json()).unwrap();
        let mut routes = 0;
        for (path, operations) in spec["paths"].as_object().unwrap() {
            if !path.contains("{collection}") {
                continue;
            }
            for (method, operation) in operations.as_object().unwrap() {
                let declared: Vec<_> = operation["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| p["name"] == "collection")
                    .collect();
                assert_eq!(declared.len(), 1, "{method} {path}");
                let param = declared[0];
                assert_eq!(param["in"], "path", "{method} {path}");
                assert_eq!(param["required"], true, "{method} {path}");
                assert_eq!(
                    param["schema"]["pattern"],
                    crate::openapi::COLLECTION_NAME_PATTERN,
                    "{method} {path}"
                );
                routes += 1;
            }
        }
        assert!(
            routes >= 25,
            "only {routes} operations with a collection segment"
        );
    }
}
