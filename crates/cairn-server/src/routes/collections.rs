//! `/v1/collections`: list, create, rename, drop.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api_error::ApiError;
use crate::auth::credentials::Credentials;
use crate::auth::{Access, Need};
use crate::body::JsonBody;
use crate::collection_name::{self, CollectionName};
use crate::extract::ApiQuery;
use crate::openapi::ErrorResponses;
use crate::replication::gate::WriteLevel;
use crate::replication::{self, WriteCommand};
use crate::state::SharedState;

/// A collection.
#[derive(Debug, Serialize, ToSchema)]
pub struct CollectionInfo {
    /// Its name.
    pub name: String,
    /// When it was created (RFC 3339, UTC).
    pub created_at: String,
    /// Whether each document has a routing entry, so `cairn locate` (and the entity API)
    /// finds its collection from the id alone; chosen at creation.
    pub routing: bool,
    /// Number of documents (listed with `?stats=true` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub documents: Option<u64>,
    /// Bytes of pages its tables use (listed with `?stats=true` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

/// Query of `GET /v1/collections`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Also count each collection's documents and bytes. It walks every table's pages, so it
    /// costs time in proportion to the database's size: ask for it when showing them.
    #[serde(default)]
    pub stats: Option<bool>,
}

/// The collections the caller may read.
#[derive(Debug, Serialize, ToSchema)]
pub struct CollectionList {
    /// In name order.
    pub collections: Vec<CollectionInfo>,
}

/// Body of `POST /v1/collections`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCollection {
    /// 1 to 128 ASCII letters, digits, `_` and `-`, starting with a letter or `_`.
    #[schema(pattern = r"^[A-Za-z_][A-Za-z0-9_-]{0,127}$")]
    pub name: String,
    /// Keep a routing entry per document (default `true`): `cairn locate` and the entity API
    /// then find the collection of any id from one index read. `false` saves one B-tree
    /// write per insert and delete; locating then searches the collection by primary key.
    /// Chosen once, at creation.
    #[serde(default)]
    pub routing: Option<bool>,
}

/// Body of `POST /v1/collections/{collection}/rename`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameCollection {
    /// The new name (the rules of `POST /v1/collections`); no collection may have it.
    #[schema(pattern = r"^[A-Za-z_][A-Za-z0-9_-]{0,127}$")]
    pub to: String,
}

impl From<cairn::CollectionMeta> for CollectionInfo {
    fn from(meta: cairn::CollectionMeta) -> CollectionInfo {
        CollectionInfo {
            name: meta.name,
            created_at: meta.created_at.to_string(),
            routing: meta.routing,
            documents: None,
            bytes: None,
        }
    }
}

/// Lists the collections the caller may read; with `?stats=true` also their documents and
/// bytes.
#[utoipa::path(get, operation_id = "list_collections", path = "/v1/collections", tag = "collections",
    params(ListQuery),
    responses((status = 200, description = "The collections", body = CollectionList), ErrorResponses))]
pub async fn list(
    State(state): State<SharedState>,
    credentials: Credentials,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<CollectionList>, ApiError> {
    let with_stats = query.stats.unwrap_or(false);
    let work = move |db: &cairn::Database,
                     principal: &crate::auth::Principal|
          -> Result<Vec<CollectionInfo>, ApiError> {
        let mut collections: Vec<CollectionInfo> = db
            .list_collections()?
            .into_iter()
            .filter(|meta| !cairn::is_system_collection(&meta.name))
            .filter(|meta| principal.access(&meta.name) >= Access::ReadOnly)
            .map(CollectionInfo::from)
            .collect();
        if with_stats {
            let stats = db.stats()?;
            for info in &mut collections {
                if let Some(found) = stats.collections.iter().find(|c| c.name == info.name) {
                    info.documents = Some(found.documents);
                    info.bytes = Some(found.bytes);
                }
            }
        }
        Ok(collections)
    };
    // Counting walks every table: the scan lane, so point reads are not held up behind it.
    let collections = if with_stats {
        state.scan(credentials, Need::Authenticated, work).await?
    } else {
        state.read(credentials, Need::Authenticated, work).await?
    };
    Ok(Json(CollectionList { collections }))
}

/// Creates a collection (needs write access to its name).
#[utoipa::path(post, operation_id = "create_collection", path = "/v1/collections", tag = "collections", request_body = CreateCollection,
    responses((status = 201, description = "Created", body = CollectionInfo), ErrorResponses))]
pub async fn create(
    State(state): State<SharedState>,
    credentials: Credentials,
    WriteLevel(level): WriteLevel,
    JsonBody(request): JsonBody<CreateCollection>,
) -> Result<Response, ApiError> {
    collection_name::check(&request.name)?;
    let need = Need::write(&request.name);
    if let Some(cluster) = state.cluster.clone() {
        return replication::propose(&state, cluster, credentials, need, level, false, || {
            Ok(WriteCommand::CreateCollection {
                name: request.name,
                routing: request.routing,
            })
        })
        .await;
    }
    let options = cairn::CollectionOptions {
        routing: request.routing,
    };
    let meta = state
        .run(credentials, need, move |db, principal| {
            Ok(cairn::catalog::create_collection_owned_with(
                db,
                &request.name,
                owner_of(principal).as_deref(),
                &options,
            )?)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(CollectionInfo::from(meta))).into_response())
}

/// Renames a collection, as `cairn collection rename` does: its documents, indexes and schema
/// stay (they are stored under its id), and the change stream records the rename. Needs write
/// access to both names. Names stored inside documents are not rewritten: edges' `_from` and
/// `_to`, an edge collection's vertex collections and `$lookup`s keep the old name. 409
/// `collection_exists` when the new name is taken.
#[utoipa::path(post, operation_id = "rename_collection", path = "/v1/collections/{collection}/rename", tag = "collections",
    params(CollectionName),
    request_body = RenameCollection,
    responses((status = 200, description = "Renamed", body = CollectionInfo), ErrorResponses))]
pub async fn rename(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
    WriteLevel(level): WriteLevel,
    JsonBody(request): JsonBody<RenameCollection>,
) -> Result<Response, ApiError> {
    collection_name::check(&request.to)?;
    let need = Need::Collections(vec![
        (collection.clone(), Access::ReadWrite),
        (request.to.clone(), Access::ReadWrite),
    ]);
    if let Some(cluster) = state.cluster.clone() {
        return replication::propose(&state, cluster, credentials, need, level, false, || {
            Ok(WriteCommand::RenameCollection {
                from: collection,
                to: request.to,
            })
        })
        .await;
    }
    let meta = state
        .run(credentials, need, move |db, _| {
            rename_in(db, &collection, &request.to, &|_| Ok(()))
        })
        .await?;
    Ok((StatusCode::OK, Json(CollectionInfo::from(meta))).into_response())
}

/// Renames `from` to `to` in one transaction that also runs `mark` (a cluster records the
/// applied log position there); what the route and a replicated rename both run.
pub fn rename_in(
    db: &cairn::Database,
    from: &str,
    to: &str,
    mark: &dyn Fn(&mut cairn::Transaction) -> Result<(), cairn::EngineError>,
) -> Result<cairn::CollectionMeta, ApiError> {
    let (meta, _) = crate::transact::run(db, |txn| {
        txn.rename_collection(from, to)?;
        mark(txn)?;
        Ok(txn.collection_meta(to)?.as_ref().clone())
    })?;
    Ok(meta)
}

/// Drops a collection and every document in it (needs write access to it).
#[utoipa::path(delete, operation_id = "drop_collection", path = "/v1/collections/{collection}", tag = "collections",
    params(CollectionName),
    responses((status = 204, description = "Dropped"), ErrorResponses))]
pub async fn drop(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
    WriteLevel(level): WriteLevel,
) -> Result<Response, ApiError> {
    let need = Need::write(&collection);
    if let Some(cluster) = state.cluster.clone() {
        return replication::propose(&state, cluster, credentials, need, level, false, || {
            Ok(WriteCommand::DropCollection { name: collection })
        })
        .await;
    }
    state
        .run(credentials, need, move |db, _| {
            Ok(db.drop_collection(&collection)?)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The owner recorded for a collection `principal` creates (the catalog's `owner`): the
/// authenticated user; none with authentication off.
pub fn owner_of(principal: &crate::auth::Principal) -> Option<String> {
    principal.stamp.is_some().then(|| principal.name.clone())
}

/// Creates collection `name` unless it exists: what writes that store documents (insert, put,
/// batch, a transaction's insert and upsert operations) do first when the server's
/// `auto_create_collections` setting is on, as MongoDB users expect. The creation is its own
/// commit, so it stays even if the write then fails (as in MongoDB). Creating needs the same
/// access as writing to the name, which the write already required.
pub fn create_if_missing(db: &cairn::Database, name: &str) -> Result<(), ApiError> {
    match db.read()?.collection_meta(name) {
        Ok(_) => Ok(()),
        Err(cairn::EngineError::UnknownCollection { .. }) => match db.create_collection(name) {
            // A concurrent request created it first: just as good.
            Ok(_) | Err(cairn::EngineError::CollectionExists { .. }) => Ok(()),
            Err(err) => Err(err.into()),
        },
        Err(err) => Err(err.into()),
    }
}
