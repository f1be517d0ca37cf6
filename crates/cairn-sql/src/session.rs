//! A SQL session: statements in, results out, each statement in a Cairn transaction.
//!
//! Queries and DML are planned and run by DataFusion over the catalog of [`crate::catalog`];
//! what DataFusion does not own is handled here: transaction blocks (`BEGIN`, `COMMIT`,
//! `ROLLBACK`) as real Cairn transactions, and DDL (`CREATE TABLE` creates a collection with a
//! schema, `CREATE INDEX` builds a Cairn index, `DROP TABLE` drops a collection).
//!
//! Transaction blocks follow PostgreSQL: after `BEGIN`, every statement runs in one Cairn
//! write transaction (its reads conflict-checked: serializable); a failed statement aborts
//! the block (`25P02` until `ROLLBACK`; `COMMIT` then rolls back); `COMMIT` of a block that
//! conflicts with a concurrent commit fails with `40001` and nothing of it is stored.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cairn::{Database, Transaction};
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::{SchemaRef, UInt64Type};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::SessionStateBuilder;
use datafusion::logical_expr::planner::ExprPlanner;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use futures::TryStreamExt;

use crate::catalog::{CairnCatalog, CATALOG, SCHEMA};
use crate::ddl;
use crate::error::{Result, SqlError};
use crate::json::JsonArrows;
use crate::limits::{DEFAULT_STATEMENT_TIMEOUT, MAX_STATEMENT_BYTES};
use crate::source::SourceRegistry;
use crate::txn::{Authorizer, SharedTxn, TxnSlot};

/// What a statement returned.
pub enum Output {
    /// Rows, streamed in record batches (the statement's snapshot stays open until the
    /// stream ends or is dropped).
    Rows(SendableRecordBatchStream),
    /// A command's completion: PostgreSQL's command tag (`INSERT 0 3`, `BEGIN`...).
    Command(String),
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Output::Rows(_) => f.write_str("Rows"),
            Output::Command(tag) => write!(f, "Command({tag})"),
        }
    }
}

/// What kind of statement a parsed one is, for choosing its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Reads only: a snapshot.
    Query,
    /// `INSERT`/`UPDATE`/`DELETE`: a write transaction; the tag's verb.
    Write(&'static str),
}

/// The open transaction block of a session.
pub(crate) struct Block {
    txn: Arc<SharedTxn>,
    failed: bool,
    /// Write statements that succeeded in the block so far.
    writes: u64,
    /// Savepoints, oldest first: name and `writes` when it was set.
    savepoints: Vec<(String, u64)>,
}

/// One SQL session on a database (a `cairn sql` shell, one PostgreSQL connection).
pub struct SqlSession {
    pub(crate) db: Database,
    pub(crate) ctx: SessionContext,
    pub(crate) slot: Arc<TxnSlot>,
    pub(crate) block: Option<Block>,
    pub(crate) timeout: Duration,
    pub(crate) authorizer: Option<Arc<dyn Authorizer>>,
    pushdown: Arc<AtomicBool>,
    pub(crate) sources: Option<Arc<SourceRegistry>>,
    /// The text of the statement being run, for the lineage of an `INSERT … SELECT` (the
    /// extended protocol plans without it: its records carry no statement).
    statement_text: Option<String>,
}

impl SqlSession {
    /// A session on `db` that may read and write everything (the embedded shell).
    pub fn new(db: Database) -> SqlSession {
        SqlSession::with_authorizer(db, None)
    }

    /// A session on `db` whose user may touch what `authorizer` allows (a server session).
    pub fn with_authorizer(db: Database, authorizer: Option<Arc<dyn Authorizer>>) -> SqlSession {
        let slot = Arc::new(TxnSlot::default());
        let pushdown = Arc::new(AtomicBool::new(true));
        let mut config = SessionConfig::new()
            .with_default_catalog_and_schema(CATALOG, SCHEMA)
            .with_create_default_catalog_and_schema(false)
            .with_information_schema(true);
        config = config.with_extension(slot.clone());
        config.options_mut().sql_parser.dialect = datafusion::config::Dialect::PostgreSQL;
        // Join keys reach a Cairn probe scan as an `IN` list up to this many (`runtime_filter`).
        config
            .options_mut()
            .optimizer
            .hash_join_inlist_pushdown_max_distinct_values = crate::limits::MAX_RUNTIME_FILTER_KEYS;
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_default_features()
            .build();
        // `->`/`->>` on JSON text and pgvector's operators first: DataFusion has no planner
        // of its own for them.
        let mut planners: Vec<Arc<dyn ExprPlanner>> = vec![
            Arc::new(JsonArrows),
            Arc::new(crate::functions::ModelOperators::default()),
        ];
        planners.extend(state.expr_planners().iter().cloned());
        // The rank pushdown before DataFusion's rules, which see the scan already ranked.
        let mut rules: Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> = vec![Arc::new(
            crate::functions::rank::RankPushdown::new(pushdown.clone()),
        )];
        rules.extend(state.physical_optimizers().iter().cloned());
        let state = SessionStateBuilder::new_from_existing(state)
            .with_expr_planners(planners)
            .with_physical_optimizer_rules(rules)
            .build();
        let ctx = SessionContext::new_with_state(state);
        ctx.register_udf(crate::json::json_get());
        ctx.register_udf(crate::json::json_get_text());
        crate::functions::register(&ctx);
        ctx.register_udtf(
            crate::functions::text::TEXT_SEARCH,
            Arc::new(crate::functions::text::TextSearch::new(
                db.clone(),
                authorizer.clone(),
            )),
        );
        ctx.register_udtf(
            crate::functions::as_of::AS_OF,
            Arc::new(crate::functions::as_of::AsOfFunction::new(
                db.clone(),
                authorizer.clone(),
            )),
        );
        ctx.register_catalog(
            CATALOG,
            Arc::new(CairnCatalog::new(
                db.clone(),
                authorizer.clone(),
                pushdown.clone(),
            )),
        );
        SqlSession {
            db,
            ctx,
            slot,
            block: None,
            timeout: DEFAULT_STATEMENT_TIMEOUT,
            authorizer,
            pushdown,
            sources: None,
            statement_text: None,
        }
    }

    /// Makes the sources of `registry` catalogs of this session (`source.schema.table`);
    /// sources defined later join at the next statement. Without a call, the session reads
    /// the database's definitions into a registry of its own at its first statement.
    pub fn set_sources(&mut self, registry: Arc<SourceRegistry>) {
        self.sources = Some(registry);
    }

    /// The session's source registry (opened on first use).
    pub fn sources(&mut self) -> Result<Arc<SourceRegistry>> {
        if let Some(registry) = &self.sources {
            return Ok(registry.clone());
        }
        let registry = SourceRegistry::open(self.db.clone())?;
        self.sources = Some(registry.clone());
        Ok(registry)
    }

    /// Registers catalogs for sources defined since the last statement (every statement
    /// does this before it is planned; the extended protocol calls it before planning a
    /// prepared statement).
    pub fn sync_sources(&mut self) -> Result<()> {
        let registry = self.sources()?;
        registry.refresh()?;
        crate::source::catalog::register_all(
            &self.ctx,
            &registry,
            self.authorizer.as_ref(),
            &self.pushdown,
        );
        Ok(())
    }

    /// The database.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// DataFusion's context (for planning prepared statements).
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Whether a transaction block is open (PostgreSQL's `T`/`E` ready-for-query status).
    pub fn in_transaction(&self) -> bool {
        self.block.is_some()
    }

    /// Whether the open block was aborted by a failed statement.
    pub fn transaction_failed(&self) -> bool {
        self.block.as_ref().is_some_and(|b| b.failed)
    }

    /// Switches filter pushdown into Cairn on (the default) or off: with it off, DataFusion
    /// filters every row of a full scan itself. Answers must not change (the SQL tests run
    /// every query both ways).
    pub fn set_pushdown(&self, on: bool) {
        self.pushdown.store(on, Ordering::Relaxed);
    }

    /// Sets the statement timeout (`SET statement_timeout`).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Parses `sql` into statements.
    pub fn parse(sql: &str) -> Result<Vec<DfStatement>> {
        if sql.len() > MAX_STATEMENT_BYTES {
            return Err(SqlError::TooLarge {
                bytes: sql.len(),
                limit: MAX_STATEMENT_BYTES,
            });
        }
        let statements =
            DFParser::parse_sql_with_dialect(sql, &PostgreSqlDialect {}).map_err(SqlError::Plan)?;
        Ok(statements.into_iter().collect())
    }

    /// Runs every statement of `sql` in order, stopping at the first error; row results are
    /// collected (use [`SqlSession::execute_statement`] to stream them).
    pub async fn execute_all(
        &mut self,
        sql: &str,
    ) -> Result<Vec<(Option<SchemaRef>, Vec<RecordBatch>, String)>> {
        let mut out = Vec::new();
        for statement in SqlSession::parse(sql)? {
            match self.execute_statement(statement).await? {
                Output::Command(tag) => out.push((None, Vec::new(), tag)),
                Output::Rows(stream) => {
                    let schema = stream.schema();
                    let batches: Vec<RecordBatch> = self.collect(stream).await?;
                    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
                    out.push((Some(schema), batches, format!("SELECT {rows}")));
                }
            }
        }
        Ok(out)
    }

    /// Collects a row stream under the statement timeout.
    pub async fn collect(&self, stream: SendableRecordBatchStream) -> Result<Vec<RecordBatch>> {
        match tokio::time::timeout(self.timeout, stream.try_collect::<Vec<_>>()).await {
            Ok(batches) => batches.map_err(SqlError::from_datafusion),
            Err(_) => Err(SqlError::Timeout),
        }
    }

    /// Runs one parsed statement.
    pub async fn execute_statement(&mut self, statement: DfStatement) -> Result<Output> {
        let outcome = self.dispatch(statement).await;
        if outcome.is_err() {
            if let Some(block) = self.block.as_mut() {
                block.failed = true;
            }
        }
        outcome
    }

    async fn dispatch(&mut self, statement: DfStatement) -> Result<Output> {
        if let DfStatement::Statement(inner) = &statement {
            match inner.as_ref() {
                Statement::StartTransaction { .. } => return self.begin().await,
                Statement::Commit { .. } => return self.commit().await,
                Statement::Rollback {
                    savepoint: Some(name),
                    ..
                } => return self.rollback_to(&name.value),
                Statement::Rollback { .. } => return Ok(self.rollback()),
                _ => {}
            }
            if self.transaction_failed() {
                return Err(SqlError::TransactionAborted);
            }
            match inner.as_ref() {
                Statement::CreateTable(create) if create.query.is_some() => {
                    return self.create_table_as(create, inner.to_string()).await;
                }
                Statement::Savepoint { name } => return self.savepoint(&name.value),
                Statement::ReleaseSavepoint { name } => return self.release(&name.value),
                _ => {}
            }
            if let Some(tag) = ddl::run(
                &self.db,
                inner,
                self.block.is_some(),
                self.authorizer.as_ref(),
            )
            .await?
            {
                return Ok(Output::Command(tag));
            }
        } else if self.transaction_failed() {
            return Err(SqlError::TransactionAborted);
        }
        self.sync_sources()?;
        let mut statement = statement;
        if let DfStatement::Statement(inner) = &mut statement {
            if let Statement::Insert(insert) = inner.as_mut() {
                crate::functions::vector_literal::rewrite(&self.ctx, insert).await?;
            }
        }
        let kind = kind_of(&statement);
        let text = matches!(kind, Kind::Write("INSERT")).then(|| statement.to_string());
        let plan = self
            .ctx
            .state()
            .statement_to_plan(statement)
            .await
            .map_err(SqlError::from_datafusion)?;
        self.statement_text = text;
        self.execute_plan(plan, kind).await
    }

    /// Runs a planned statement (the extended protocol binds parameters into its plan).
    pub async fn execute_plan(&mut self, plan: LogicalPlan, kind: Kind) -> Result<Output> {
        if self.transaction_failed() {
            return Err(SqlError::TransactionAborted);
        }
        let text = self.statement_text.take();
        let derivation = match kind {
            Kind::Write("INSERT") => {
                crate::lineage::insert_select(&plan, self.sources.as_deref(), text)
            }
            _ => None,
        };
        if derivation.is_some() && self.block.is_none() {
            let db = self.db.clone();
            blocking(move || Ok(cairn::lineage::ensure_collection(&db)?)).await?;
        }
        let (txn, autocommit) = match &self.block {
            Some(block) => (block.txn.clone(), false),
            None => {
                let db = self.db.clone();
                let begin = move || -> Result<Transaction> {
                    Ok(match kind {
                        Kind::Query => db.read()?,
                        Kind::Write(_) => db.begin()?,
                    })
                };
                (SharedTxn::new(blocking(begin).await?), true)
            }
        };
        self.slot.set(Some(txn.clone()));
        let planned = async {
            let frame = self.ctx.execute_logical_plan(plan).await?;
            frame.execute_stream().await
        }
        .await;
        self.slot.set(None);
        let stream = planned.map_err(SqlError::from_datafusion)?;
        let Kind::Write(verb) = kind else {
            return Ok(Output::Rows(stream));
        };
        let batches = self.collect(stream).await?;
        let count = batches
            .first()
            .and_then(|b| b.columns().first().cloned())
            .and_then(|c| c.as_primitive_opt::<UInt64Type>().map(|a| a.value(0)))
            .unwrap_or(0);
        if let Some(mut record) = derivation {
            // In the statement's transaction: the record commits with the rows, or neither.
            record.documents = Some(count);
            let txn = txn.clone();
            blocking(move || txn.with(|t| Ok(cairn::lineage::record_in(t, &record)?))).await?;
        }
        if autocommit {
            if let Some(t) = txn.take() {
                blocking(move || Ok(t.commit()?)).await?;
            }
        } else if let Some(block) = self.block.as_mut() {
            block.writes += 1;
        }
        Ok(Output::Command(match verb {
            "INSERT" => format!("INSERT 0 {count}"),
            verb => format!("{verb} {count}"),
        }))
    }

    async fn begin(&mut self) -> Result<Output> {
        if self.block.is_none() {
            let db = self.db.clone();
            let txn = blocking(move || Ok(db.begin()?)).await?;
            self.block = Some(Block {
                txn: SharedTxn::new(txn),
                failed: false,
                writes: 0,
                savepoints: Vec::new(),
            });
        }
        Ok(Output::Command("BEGIN".into()))
    }

    async fn commit(&mut self) -> Result<Output> {
        let Some(block) = self.block.take() else {
            return Ok(Output::Command("COMMIT".into()));
        };
        if block.failed {
            return Ok(Output::Command("ROLLBACK".into()));
        }
        if let Some(txn) = block.txn.take() {
            blocking(move || Ok(txn.commit()?)).await?;
        }
        Ok(Output::Command("COMMIT".into()))
    }

    /// `SAVEPOINT name`: marks the block's state.
    fn savepoint(&mut self, name: &str) -> Result<Output> {
        let block = self
            .block
            .as_mut()
            .ok_or(SqlError::NoTransactionBlock("SAVEPOINT"))?;
        block.savepoints.push((name.to_string(), block.writes));
        Ok(Output::Command("SAVEPOINT".into()))
    }

    /// `RELEASE [SAVEPOINT] name`: forgets the savepoint and every later one.
    fn release(&mut self, name: &str) -> Result<Output> {
        let block = self
            .block
            .as_mut()
            .ok_or(SqlError::NoTransactionBlock("RELEASE SAVEPOINT"))?;
        let at = savepoint_position(block, name)?;
        block.savepoints.truncate(at);
        Ok(Output::Command("RELEASE".into()))
    }

    /// `ROLLBACK TO [SAVEPOINT] name`: undoes the block back to the savepoint, which stays.
    /// A Cairn transaction has no partial rollback, so this is exact only when no write
    /// succeeded since the savepoint (a failed statement leaves nothing: Cairn undoes each
    /// operation), which is how drivers use savepoints around a catalog lookup or a
    /// statement that may fail; rolling back over writes is refused (`0A000`) and aborts
    /// the block, so nothing is half-undone.
    fn rollback_to(&mut self, name: &str) -> Result<Output> {
        let block = self
            .block
            .as_mut()
            .ok_or(SqlError::NoTransactionBlock("ROLLBACK TO SAVEPOINT"))?;
        let at = savepoint_position(block, name)?;
        if block.savepoints[at].1 != block.writes {
            block.failed = true;
            return Err(SqlError::Unsupported(format!(
                "ROLLBACK TO SAVEPOINT {name} after writes made since the savepoint \
                 (a Cairn transaction rolls back whole: use ROLLBACK)"
            )));
        }
        block.savepoints.truncate(at + 1);
        block.failed = false;
        Ok(Output::Command("ROLLBACK".into()))
    }

    fn rollback(&mut self) -> Output {
        if let Some(block) = self.block.take() {
            drop(block.txn.take());
        }
        Output::Command("ROLLBACK".into())
    }
}

/// Where the newest savepoint named `name` is in `block`.
fn savepoint_position(block: &Block, name: &str) -> Result<usize> {
    block
        .savepoints
        .iter()
        .rposition(|(n, _)| n == name)
        .ok_or_else(|| SqlError::UnknownSavepoint(name.to_string()))
}

/// The kind of a parsed statement.
pub fn kind_of(statement: &DfStatement) -> Kind {
    let DfStatement::Statement(inner) = statement else {
        return Kind::Query;
    };
    match inner.as_ref() {
        Statement::Insert(_) => Kind::Write("INSERT"),
        Statement::Update { .. } => Kind::Write("UPDATE"),
        Statement::Delete(_) => Kind::Write("DELETE"),
        _ => Kind::Query,
    }
}

/// Runs blocking Cairn work off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| SqlError::Plan(datafusion::error::DataFusionError::External(Box::new(e))))?
}
