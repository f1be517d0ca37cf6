//! `/v1/collections/{collection}/invariants`: what `cairn invariant add | list | drop` do, over
//! HTTP. Adding one checks the documents already there (409 `invariant_violation` when they
//! break the rule, and nothing is added); listing reads the kept figures, never the documents.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use cairn::invariant::{
    add_invariant, drop_invariant, list_invariants, ExactSum, InvariantInfo, InvariantState, Rule,
};
use cairn::Database;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::api_error::ApiError;
use crate::auth::credentials::Credentials;
use crate::auth::Need;
use crate::body::JsonBody;
use crate::collection_name::CollectionName;
use crate::extract::ApiPath;
use crate::limits::MAX_INVARIANT_RULE_CHARS;
use crate::openapi::{AnyValueSchema, ErrorResponses};
use crate::routes::schemas::to_json;
use crate::state::SharedState;

/// Body of `POST /v1/collections/{collection}/invariants`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvariant {
    /// The rule: `conserve sum(FIELD)`, `FIELD >= N` (also `>`, `<=`, `<`), or
    /// `sum(FIELD) by GROUP >= N`.
    #[schema(min_length = 1, max_length = 1024)]
    pub rule: String,
    /// The name (default: derived from the rule).
    #[schema(pattern = r"^[A-Za-z_][A-Za-z0-9_-]{0,127}$")]
    #[serde(default)]
    pub name: Option<String>,
}

/// What kind of rule an invariant is.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvariantKind {
    /// `conserve sum(field)`: transactions keep the collection's sum unchanged.
    Conserve,
    /// `field OP bound`: checked per document.
    FieldBound,
    /// `sum(field) by group OP bound`: checked per group.
    GroupBound,
}

/// One group's sum.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupSum {
    /// The group value.
    #[schema(value_type = AnyValueSchema)]
    pub group: serde_json::Value,
    /// The sum of the field over the group (exact when an integer that fits 64 bits; else
    /// the nearest float).
    #[schema(value_type = f64)]
    pub sum: serde_json::Value,
}

/// An invariant and the figures it keeps.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvariantView {
    /// The name.
    pub name: String,
    /// The rule, normalized.
    pub rule: String,
    /// The kind of rule.
    pub kind: InvariantKind,
    /// `conserve`: the conserved total (exact when an integer that fits 64 bits).
    #[schema(value_type = Option<f64>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<serde_json::Value>,
    /// `group_bound`: how many groups hold documents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<u64>,
    /// `group_bound`: the group with the lowest sum.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lowest: Option<GroupSum>,
    /// `group_bound`: the group with the highest sum.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub highest: Option<GroupSum>,
}

/// A collection's invariants.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvariantList {
    /// The invariants, in the catalog's order.
    pub invariants: Vec<InvariantView>,
}

/// Path of one invariant.
#[derive(Debug, Deserialize)]
pub struct InvariantPath {
    name: String,
}

/// Lists a collection's invariants with the figures each keeps (needs read access).
#[utoipa::path(get, operation_id = "list_invariants", path = "/v1/collections/{collection}/invariants", tag = "invariants",
    params(CollectionName),
    responses((status = 200, description = "The invariants", body = InvariantList), ErrorResponses))]
pub async fn list(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
) -> Result<Json<InvariantList>, ApiError> {
    let need = Need::read(&collection);
    let invariants = state
        .read(credentials, need, move |db, _| {
            all_invariants(db, &collection)
        })
        .await?;
    Ok(Json(InvariantList { invariants }))
}

/// Adds an invariant after checking the documents already there: 409 `invariant_violation`
/// when they break it (nothing is added then), 409 `invariant_exists` when the name is taken.
/// Needs write access.
#[utoipa::path(post, operation_id = "create_invariant", path = "/v1/collections/{collection}/invariants", tag = "invariants",
    params(CollectionName),
    request_body = CreateInvariant,
    responses((status = 201, description = "Added", body = InvariantView), ErrorResponses))]
pub async fn create(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
    JsonBody(request): JsonBody<CreateInvariant>,
) -> Result<(StatusCode, Json<InvariantView>), ApiError> {
    if let Some(name) = &request.name {
        cairn::validate_collection_name(name).map_err(|err| {
            ApiError::bad_request(
                "invalid_invariant",
                format!("invalid invariant name: {err}"),
            )
            .with_details(json!({ "name": name }))
        })?;
    }
    let chars = request.rule.chars().count();
    if chars > MAX_INVARIANT_RULE_CHARS {
        return Err(ApiError::bad_request(
            "invalid_invariant",
            format!("the rule is {chars} characters; the limit is {MAX_INVARIANT_RULE_CHARS}"),
        )
        .with_details(json!({ "limit": MAX_INVARIANT_RULE_CHARS })));
    }
    // Parse before touching the database, so a bad rule is a 400 whatever the collection.
    let rule = Rule::parse(&request.rule)?;
    let name = request.name.unwrap_or_else(|| rule.default_name());
    let need = Need::write(&collection);
    let view = state
        .run(credentials, need, move |db, _| {
            if all_invariants(db, &collection)?
                .iter()
                .any(|view| view.name == name)
            {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "invariant_exists",
                    format!("`{collection}` already has an invariant `{name}`"),
                )
                .with_details(json!({ "collection": collection, "invariant": name })));
            }
            add_invariant(db, &collection, Some(&name), &request.rule)?;
            all_invariants(db, &collection)?
                .into_iter()
                .find(|view| view.name == name)
                // Dropped by a concurrent request between the add and this listing.
                .ok_or_else(|| {
                    ApiError::from(cairn::invariant::InvariantError::UnknownInvariant {
                        collection: collection.clone(),
                        name,
                    })
                })
        })
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Drops an invariant and its figures (needs write access).
#[utoipa::path(delete, operation_id = "drop_invariant", path = "/v1/collections/{collection}/invariants/{name}", tag = "invariants",
    params(CollectionName,
           ("name" = String, Path, description = "Invariant name", pattern = r"^[A-Za-z_][A-Za-z0-9_-]{0,127}$")),
    responses((status = 204, description = "Dropped"), ErrorResponses))]
pub async fn drop(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
    ApiPath(path): ApiPath<InvariantPath>,
) -> Result<StatusCode, ApiError> {
    let need = Need::write(&collection);
    state
        .run(credentials, need, move |db, _| {
            Ok(drop_invariant(db, &collection, &path.name)?)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn all_invariants(db: &Database, collection: &str) -> Result<Vec<InvariantView>, ApiError> {
    Ok(list_invariants(db, collection)?
        .into_iter()
        .map(view)
        .collect())
}

fn view(info: InvariantInfo) -> InvariantView {
    let kind = match info.spec.rule {
        Rule::Conserve { .. } => InvariantKind::Conserve,
        Rule::FieldBound { .. } => InvariantKind::FieldBound,
        Rule::GroupBound { .. } => InvariantKind::GroupBound,
    };
    let mut out = InvariantView {
        name: info.spec.name,
        rule: info.spec.rule.to_string(),
        kind,
        total: None,
        groups: None,
        lowest: None,
        highest: None,
    };
    match info.state {
        InvariantState::Conserved { total } => out.total = Some(to_json(&total.to_value())),
        InvariantState::FieldBound => {}
        InvariantState::Groups {
            groups,
            lowest,
            highest,
        } => {
            out.groups = Some(groups);
            let group_sum = |(group, sum): (cairn::Value, ExactSum)| GroupSum {
                group: to_json(&group),
                sum: to_json(&sum.to_value()),
            };
            out.lowest = lowest.map(group_sum);
            out.highest = highest.map(group_sum);
        }
    }
    out
}
