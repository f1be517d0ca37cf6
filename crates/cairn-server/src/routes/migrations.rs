//! `/v1/collections/{collection}/schema/migrations`: what `cairn schema migrate` does, over
//! HTTP: a dry run (counts per reason, sample ids), a run, and resuming an interrupted one.
//!
//! A run is a sequence of chunk transactions, each one committed with its progress cursor, so
//! stopping between two chunks leaves a consistent, resumable migration. The handler stops
//! itself before the request timeout (at [`MIGRATION_TIME_SHARE_PERCENT`] of it, or at the
//! request's `max_time_ms`) and answers 408 `migration_timeout` with the progress so far;
//! `{"resume": true}` continues it.

use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use cairn::schema::MigrateOptions;
use cairn::schema::{DryRunReport, Migration, MigrationProgress};
use cairn::{Database, JsonExpression};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::api_error::ApiError;
use crate::auth::credentials::Credentials;
use crate::auth::{Access, Need};
use crate::body::JsonBody;
use crate::collection_name::CollectionName;
use crate::limits::{
    MAX_MIGRATION_CHUNK_DOCUMENTS, MAX_QUERY_TIME_MS, MIGRATION_TIME_SHARE_PERCENT,
};
use crate::openapi::{AnyValueSchema, ErrorResponses};
use crate::routes::schemas::{referenced_collections, to_json};
use crate::state::SharedState;

/// Body of a migration request: a migration to dry-run or run, or `resume` for the one in
/// progress.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MigrationRequest {
    /// The migration document, as `cairn schema migrate` reads it from its file:
    /// `{"schema": {...}, "transform": [...]}` (`transform` optional). Absent with `resume`.
    #[schema(value_type = Option<Object>)]
    #[serde(default)]
    pub migration: Option<JsonExpression>,
    /// Only report how many documents would fail, and why; change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Continue the migration in progress (`migration` may then be omitted, or must be the
    /// same migration).
    #[serde(default)]
    pub resume: bool,
    /// Documents per chunk transaction (default 256, at most 10,000).
    #[schema(value_type = Option<u64>, minimum = 1, maximum = 10_000)]
    #[serde(default)]
    pub chunk_size: Option<usize>,
    /// Stop (resumably) with 408 `migration_timeout` after this many milliseconds (default and
    /// cap: three quarters of the server's request timeout; at most 86,400,000). At least one
    /// chunk always runs.
    #[schema(value_type = Option<u64>, minimum = 0, maximum = 86_400_000)]
    #[serde(default)]
    pub max_time_ms: Option<u64>,
}

/// One reason documents would fail a migration.
#[derive(Debug, Serialize, ToSchema)]
pub struct DryRunReason {
    /// The kind of failure and where (e.g. ``schema `age` ``).
    pub reason: String,
    /// How many documents fail for it.
    pub count: u64,
    /// One failure's message.
    pub example: String,
    /// Some of the failing documents' ids (at most 5).
    #[schema(value_type = Vec<AnyValueSchema>)]
    pub sample_ids: Vec<serde_json::Value>,
}

/// What a dry run found.
#[derive(Debug, Serialize, ToSchema)]
pub struct DryRunResponse {
    /// Documents examined.
    pub total: u64,
    /// Documents that would fail.
    pub failed: u64,
    /// Per reason, ordered by reason (at most 32 reasons).
    pub reasons: Vec<DryRunReason>,
}

/// A finished migration.
#[derive(Debug, Serialize, ToSchema)]
pub struct MigrationReport {
    /// The schema version migrated to.
    pub target_version: u64,
    /// Documents rewritten (across every run of this migration).
    pub migrated: u64,
    /// Documents examined.
    pub scanned: u64,
    /// Documents in the collection at the end.
    pub total: u64,
    /// Whether this request continued a migration started earlier.
    pub resumed: bool,
}

/// What a migration request did: a dry run's findings, or the finished migration.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum MigrationResponse {
    /// `dry_run: true`.
    DryRun(DryRunResponse),
    /// A run that reached the end.
    Finished(MigrationReport),
}

/// Dry-runs, runs or resumes a schema migration. A dry run needs read access to the
/// collection and to the collections the new schema references; a run needs write access to
/// them. A run refused by existing documents (409 `existing_documents_invalid`) changes
/// nothing; one cut off by its time budget (408 `migration_timeout`) is resumable.
#[utoipa::path(post, operation_id = "migrate_schema", path = "/v1/collections/{collection}/schema/migrations", tag = "schemas",
    params(CollectionName),
    request_body = MigrationRequest,
    responses((status = 200, description = "The dry run's findings, or the finished migration", body = MigrationResponse), ErrorResponses))]
pub async fn migrate(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
    JsonBody(request): JsonBody<MigrationRequest>,
) -> Result<Json<MigrationResponse>, ApiError> {
    let migration = match &request.migration {
        Some(JsonExpression(value)) => Some(Migration::from_value(value)?),
        None => None,
    };
    let referenced = match &migration {
        Some(migration) => referenced_collections(&migration.schema)?,
        None => Vec::new(),
    };
    if request.dry_run {
        if request.resume {
            return Err(invalid_request(
                "`dry_run` checks a new migration; it cannot be combined with `resume`",
            ));
        }
        let Some(migration) = migration else {
            return Err(invalid_request("a dry run needs `migration`"));
        };
        let need = needs(&collection, referenced, Access::ReadOnly);
        // A full scan: the blocking pool, not the reader threads meant for short reads.
        let report = state
            .run(credentials, need, move |db, _| {
                Ok(cairn::schema::dry_run(db, &collection, &migration)?)
            })
            .await?;
        return Ok(Json(MigrationResponse::DryRun(dry_run_response(report))));
    }
    if migration.is_none() && !request.resume {
        return Err(invalid_request(
            "give `migration`, or `resume: true` to continue the migration in progress",
        ));
    }
    let chunk_documents = request
        .chunk_size
        .unwrap_or(cairn::schema::limits::MIGRATION_CHUNK_DOCUMENTS);
    if chunk_documents == 0 || chunk_documents > MAX_MIGRATION_CHUNK_DOCUMENTS {
        return Err(invalid_request(format!(
            "`chunk_size` is {chunk_documents}; it must be 1 to {MAX_MIGRATION_CHUNK_DOCUMENTS}"
        ))
        .with_details(json!({ "field": "chunk_size", "limit": MAX_MIGRATION_CHUNK_DOCUMENTS })));
    }
    let budget = time_budget(&state, request.max_time_ms)?;
    let need = needs(&collection, referenced, Access::ReadWrite);
    let report = state
        .run(credentials, need, move |db, principal| {
            let run = BoundedRun {
                collection: &collection,
                by: &principal.name,
                chunk_documents,
                budget,
            };
            run.run(db, migration.as_ref())
        })
        .await?;
    Ok(Json(MigrationResponse::Finished(report)))
}

/// A migration run that stops between chunks once its time budget is spent.
struct BoundedRun<'a> {
    collection: &'a str,
    by: &'a str,
    chunk_documents: usize,
    budget: Duration,
}

impl BoundedRun<'_> {
    /// Starts or resumes the migration and runs chunks until it finishes or the budget is
    /// spent (then 408 `migration_timeout`; every committed chunk stays done).
    fn run(
        &self,
        db: &Database,
        migration: Option<&Migration>,
    ) -> Result<MigrationReport, ApiError> {
        let started = Instant::now();
        // One chunk per call: the schema layer commits each chunk with its cursor, and a
        // call with no migration resumes from that cursor.
        let options = MigrateOptions {
            chunk_documents: self.chunk_documents,
            max_chunks: Some(1),
            ..MigrateOptions::default()
        };
        let first = cairn::schema::migrate(
            db,
            self.collection,
            migration,
            self.by,
            options,
            &mut |_| {},
        )?;
        let resumed = first.resumed;
        let mut progress = first;
        while !progress.finished {
            if started.elapsed() >= self.budget {
                return Err(self.cut_off(&progress));
            }
            progress =
                cairn::schema::migrate(db, self.collection, None, self.by, options, &mut |_| {})?;
        }
        Ok(MigrationReport {
            target_version: progress.target_version,
            migrated: progress.migrated,
            scanned: progress.scanned,
            total: progress.total,
            resumed,
        })
    }

    /// 408 with where the migration stands and how to continue it.
    fn cut_off(&self, progress: &MigrationProgress) -> ApiError {
        let collection = self.collection;
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "migration_timeout",
            format!(
                "the migration of `{collection}` to schema version {} stopped after its time \
                 budget of {} ms with {} documents rewritten ({} of {} examined); every \
                 finished chunk is saved: POST {{\"resume\": true}} to \
                 /v1/collections/{collection}/schema/migrations to continue",
                progress.target_version,
                self.budget.as_millis(),
                progress.migrated,
                progress.scanned,
                progress.total
            ),
        )
        .with_details(json!({
            "collection": collection,
            "target_version": progress.target_version,
            "migrated": progress.migrated,
            "scanned": progress.scanned,
            "total": progress.total,
            "budget_ms": u64::try_from(self.budget.as_millis()).unwrap_or(u64::MAX),
            "resumable": true,
        }))
    }
}

/// The access a request needs: `access` to the collection and to every collection the new
/// schema references.
fn needs(collection: &str, referenced: Vec<String>, access: Access) -> Need {
    let mut needs = vec![(collection.to_string(), access)];
    needs.extend(referenced.into_iter().map(|other| (other, access)));
    Need::Collections(needs)
}

/// The run's time budget: what the request asks for, never more than its share of the
/// request timeout.
fn time_budget(state: &SharedState, max_time_ms: Option<u64>) -> Result<Duration, ApiError> {
    let cap = state.limits.request_timeout() * MIGRATION_TIME_SHARE_PERCENT / 100;
    let Some(ms) = max_time_ms else {
        return Ok(cap);
    };
    if ms > MAX_QUERY_TIME_MS {
        return Err(invalid_request(format!(
            "`max_time_ms` is {ms}; the limit is {MAX_QUERY_TIME_MS}"
        ))
        .with_details(json!({ "field": "max_time_ms", "limit": MAX_QUERY_TIME_MS })));
    }
    Ok(Duration::from_millis(ms).min(cap))
}

fn dry_run_response(report: DryRunReport) -> DryRunResponse {
    DryRunResponse {
        total: report.total,
        failed: report.failed,
        reasons: report
            .reasons
            .into_iter()
            .map(|(reason, count, example, ids)| DryRunReason {
                reason,
                count,
                example,
                sample_ids: ids.iter().map(|id| to_json(&id.to_value())).collect(),
            })
            .collect(),
    }
}

fn invalid_request(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_request", message)
}
