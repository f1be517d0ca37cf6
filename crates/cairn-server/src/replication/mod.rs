//! The seam between the server and a replication layer (the `cairn-cluster` crate): the
//! server never depends on it. On a cluster, `cairn serve` hands the server a
//! [`Replication`]; every replicated write becomes a deterministic [`WriteCommand`] proposed
//! through it, and every read first passes [`Replication::read_barrier`] for its
//! [`Consistency`] level (see [`gate`]). Without one (a single node) the handlers write in
//! place as before; the gate only checks and echoes the requested level.

pub mod command;
pub mod gate;

use std::future::Future;
use std::pin::Pin;

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};
use utoipa::ToSchema;

use crate::api_error::ApiError;

pub use command::{CommandOutcome, WriteCommand};

/// A boxed future, so the trait stays object safe without an `async_trait` dependency.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How much coordination an operation asks for (`consistency` query parameter or
/// `Cairn-Consistency` header). README "Consistency levels" defines each for reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Consistency {
    /// This node's applied state, no coordination; may be stale. Reads only.
    Local,
    /// Reads: this node's applied state while it follows a live leader. Writes: acknowledged
    /// once the leader has accepted the entry, replicated in the background.
    Eventual,
    /// Reads: the leader's applied state without a leadership check. Writes: committed on a
    /// majority and applied on the leader before the answer.
    Quorum,
    /// Linearizable: reads confirm leadership with a heartbeat round (ReadIndex); writes are
    /// committed on a majority and applied before the answer.
    Strong,
}

impl Consistency {
    /// The level's name as clients spell it.
    pub fn name(self) -> &'static str {
        match self {
            Consistency::Local => "local",
            Consistency::Eventual => "eventual",
            Consistency::Quorum => "quorum",
            Consistency::Strong => "strong",
        }
    }

    /// Parses a level; names the accepted ones on a mistake.
    pub fn parse(text: &str) -> Result<Consistency, ApiError> {
        match text {
            "local" => Ok(Consistency::Local),
            "eventual" => Ok(Consistency::Eventual),
            "quorum" => Ok(Consistency::Quorum),
            "strong" => Ok(Consistency::Strong),
            other => Err(ApiError::bad_request(
                "invalid_consistency",
                format!("unknown consistency level {other:?} (accepted: local, eventual, quorum, strong)"),
            )),
        }
    }
}

/// What a read may be served from, as the replication layer decided.
#[derive(Debug, Clone, Copy)]
pub struct ReadStamp {
    /// The log index this node has applied (sent as `Cairn-Applied-Index`).
    pub applied_index: u64,
    /// The answer may miss acknowledged writes (sent as `Cairn-Stale: possible`).
    pub possibly_stale: bool,
}

/// Why the replication layer could not serve an operation here.
#[derive(Debug, Clone)]
pub enum ReplicationError {
    /// This node is not the leader; the leader's HTTP base URL when known.
    NotLeader {
        /// e.g. `http://127.0.0.1:7001`.
        leader_url: Option<String>,
    },
    /// No majority answered (this node is on the minority side, or the cluster has no
    /// leader yet): retry later.
    NoQuorum(String),
    /// A membership change or other request the cluster refused.
    Refused(String),
    /// An unexpected failure (logged).
    Internal(String),
}

impl From<ReplicationError> for ApiError {
    fn from(err: ReplicationError) -> ApiError {
        match err {
            ReplicationError::NotLeader { leader_url } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_leader",
                "this node is not the leader (leadership moved during the request); retry at the leader",
            )
            .with_details(json!({ "leader": leader_url }))
            .with_retry_after(1),
            ReplicationError::NoQuorum(why) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_quorum",
                format!("no majority of the cluster answered; retry later ({why})"),
            )
            .with_retry_after(1),
            ReplicationError::Refused(why) => {
                ApiError::new(StatusCode::CONFLICT, "cluster_refused", why)
            }
            ReplicationError::Internal(why) => ApiError::internal(why),
        }
    }
}

/// A member to add (`POST /v1/cluster/learners`).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    /// The node's id (a positive integer, unique in the cluster).
    #[schema(minimum = 1)]
    pub node_id: u64,
    /// Its cluster (node-to-node) address, `host:port`.
    #[schema(min_length = 1, max_length = 255)]
    pub cluster_addr: String,
    /// Its HTTP API base URL, for redirects, e.g. `http://127.0.0.1:7001`.
    #[schema(min_length = 1, max_length = 255)]
    pub api_url: String,
}

/// A replication layer the server writes and reads through.
pub trait Replication: Send + Sync + 'static {
    /// Proposes `command` and resolves with its outcome once it is as durable as `level`
    /// says. Writes at `Local` are refused by the caller before this.
    fn write(
        &self,
        command: WriteCommand,
        level: Consistency,
    ) -> BoxFuture<'_, Result<CommandOutcome, ReplicationError>>;

    /// Resolves when a read at `level` may be served from this node's applied state.
    fn read_barrier(
        &self,
        level: Consistency,
    ) -> BoxFuture<'_, Result<ReadStamp, ReplicationError>>;

    /// Whether this node is the leader now (writes to a follower are redirected).
    fn is_leader(&self) -> bool;

    /// The leader's HTTP base URL, when this node knows one.
    fn leader_url(&self) -> Option<String>;

    /// The cluster's state for `GET /v1/cluster` and `cairn cluster status`.
    fn status(&self) -> BoxFuture<'_, Json>;

    /// Adds a learner (a read replica that does not vote) and waits until it has caught up.
    fn add_learner(&self, member: NewMember) -> BoxFuture<'_, Result<Json, ReplicationError>>;

    /// Makes a learner a voter.
    fn promote(&self, node_id: u64) -> BoxFuture<'_, Result<Json, ReplicationError>>;

    /// Removes a node (voter or learner) from the cluster.
    fn remove(&self, node_id: u64) -> BoxFuture<'_, Result<Json, ReplicationError>>;

    /// Prometheus text lines for `/metrics` (term, leader, indexes, lag, elections).
    fn metrics_text(&self) -> String;
}

/// Runs a replicated write on a cluster: authenticates and authorizes here, then proposes the
/// command `build` makes and answers with its outcome. Idempotency keys are node-local state,
/// so a keyed write is refused on a cluster rather than deduplicated on one node only.
pub async fn propose(
    state: &crate::state::SharedState,
    cluster: std::sync::Arc<dyn Replication>,
    credentials: crate::auth::credentials::Credentials,
    need: crate::auth::Need,
    level: Consistency,
    idempotency_key: bool,
    build: impl FnOnce() -> Result<WriteCommand, ApiError>,
) -> Result<axum::response::Response, ApiError> {
    if idempotency_key {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "not_replicated",
            "Idempotency-Key is not supported on a cluster yet (its records are per node)",
        ));
    }
    state.run(credentials, need, |_, _| Ok(())).await?;
    let command = build()?;
    answer(cluster, command, level).await
}

/// Like [`propose`] for writes whose command depends on who asks (a schema records its
/// author) or that need more than `need` (a schema's references need write access to the
/// referenced collections) or on the state it changes (a schema's next version number):
/// `build` runs after authentication with this node's database and the principal, and may
/// refuse.
pub async fn propose_as(
    state: &crate::state::SharedState,
    cluster: std::sync::Arc<dyn Replication>,
    credentials: crate::auth::credentials::Credentials,
    need: crate::auth::Need,
    level: Consistency,
    build: impl FnOnce(&cairn::Database, &crate::auth::Principal) -> Result<WriteCommand, ApiError>
        + Send
        + 'static,
) -> Result<axum::response::Response, ApiError> {
    let command = state
        .run(credentials, need, move |db, principal| build(db, principal))
        .await?;
    answer(cluster, command, level).await
}

/// Proposes `command` and turns its outcome into the answer.
async fn answer(
    cluster: std::sync::Arc<dyn Replication>,
    command: WriteCommand,
    level: Consistency,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let outcome = cluster.write(command, level).await?;
    let status = StatusCode::from_u16(outcome.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status == StatusCode::NO_CONTENT {
        return Ok(status.into_response());
    }
    Ok((status, axum::Json(outcome.body)).into_response())
}
