//! One PostgreSQL connection: its SQL session, the simple and the extended query protocol.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::parser::Statement as DfStatement;
use futures::{stream, Sink, StreamExt};
use pgwire::api::copy::CopyHandler;
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{CopyResponse, FieldInfo, QueryResponse, Response, Tag};
use pgwire::api::stmt::QueryParser;
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::copy::{CopyData, CopyDone, CopyFail};
use pgwire::messages::PgWireBackendMessage;
use tokio::sync::Mutex;

use super::auth::PgUsers;
use super::copy::{self, Copy, CopyIn};
use super::driver_queries::{self, DriverQuery};
use super::encode::{encode_batch, fields, pg_type};
use super::meta;
use crate::error::SqlError;
use crate::limits::DEFAULT_STATEMENT_TIMEOUT;
use crate::session::{kind_of, Kind, Output, SqlSession};

/// A connection's state, shared by its handlers and its query parser.
pub struct Connection {
    db: cairn::Database,
    users: Arc<dyn PgUsers>,
    session: Mutex<Option<SqlSession>>,
    timeout: Duration,
    /// A `COPY … FROM STDIN` waiting for its data (CopyData messages until CopyDone).
    copy_in: std::sync::Mutex<Option<CopyIn>>,
}

impl Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Connection")
    }
}

/// A statement prepared with the extended protocol.
#[derive(Clone, Debug)]
pub struct Prepared {
    sql: String,
    statement: Option<DfStatement>,
    plan: Option<LogicalPlan>,
    kind: Kind,
    param_types: Vec<DataType>,
    /// A driver's catalog query, answered by [`driver_queries`] rather than planned.
    catalog: Option<DriverQuery>,
}

impl Connection {
    /// A connection to `db` whose user is checked against `users`.
    pub fn new(
        db: cairn::Database,
        users: Arc<dyn PgUsers>,
        timeout: Option<Duration>,
    ) -> Arc<Connection> {
        Arc::new(Connection {
            db,
            users,
            session: Mutex::new(None),
            timeout: timeout.unwrap_or(DEFAULT_STATEMENT_TIMEOUT),
            copy_in: std::sync::Mutex::new(None),
        })
    }

    /// The session, created at the first statement (the user is known by then).
    async fn session<C: ClientInfo>(
        &self,
        client: &C,
    ) -> PgWireResult<tokio::sync::MutexGuard<'_, Option<SqlSession>>> {
        let mut guard = self.session.lock().await;
        if guard.is_none() {
            let user = client.metadata().get("user").cloned().unwrap_or_default();
            let users = self.users.clone();
            let authorizer = tokio::task::spawn_blocking(move || users.authorizer(&user))
                .await
                .map_err(|e| PgWireError::ApiError(Box::new(e)))?
                .map_err(|e| user_error("28000", e))?;
            let mut session = SqlSession::with_authorizer(self.db.clone(), Some(authorizer));
            session.set_timeout(self.timeout);
            *guard = Some(session);
        }
        Ok(guard)
    }
}

fn user_error(code: &str, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".into(),
        code.into(),
        message,
    )))
}

/// The PostgreSQL error of a failed statement.
pub(crate) fn error_info(err: &SqlError) -> ErrorInfo {
    ErrorInfo::new("ERROR".into(), err.sqlstate().into(), err.to_string())
}

/// The response of a command tag (`BEGIN` and `COMMIT` also move the transaction status).
fn command_response(tag: String) -> Response {
    match tag.as_str() {
        "BEGIN" => Response::TransactionStart(Tag::new(&tag)),
        "COMMIT" | "ROLLBACK" => Response::TransactionEnd(Tag::new(&tag)),
        _ => Response::Execution(Tag::new(&tag)),
    }
}

/// A statement's batches, failing with [`SqlError::Timeout`] when `timeout` passes first.
pub(crate) fn timed(
    stream: datafusion::execution::SendableRecordBatchStream,
    timeout: Duration,
) -> impl futures::Stream<Item = std::result::Result<RecordBatch, SqlError>> + Send + 'static {
    let deadline = tokio::time::Instant::now() + timeout;
    stream::unfold(Some(stream), move |state| async move {
        let mut stream = state?;
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(batch))) => Some((Ok(batch), Some(stream))),
            Ok(Some(Err(e))) => Some((Err(SqlError::from_datafusion(e)), None)),
            Ok(None) => None,
            Err(_) => Some((Err(SqlError::Timeout), None)),
        }
    })
}

/// Streams a result's rows, failing the statement when `timeout` passes first.
fn rows_response(
    stream: datafusion::execution::SendableRecordBatchStream,
    format: &Format,
    timeout: Duration,
) -> Response {
    let fields = Arc::new(fields(stream.schema().as_ref(), format));
    let row_fields = fields.clone();
    let batches = timed(stream, timeout);
    let rows = batches.flat_map(move |batch| {
        let rows: Vec<PgWireResult<_>> = match batch {
            Ok(batch) => match encode_batch(&batch, &row_fields) {
                Ok(rows) => rows.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e)],
            },
            Err(e) => vec![Err(PgWireError::UserError(Box::new(error_info(&e))))],
        };
        stream::iter(rows)
    });
    Response::Query(QueryResponse::new(fields, rows))
}

/// Session settings handled here rather than by DataFusion (`SET statement_timeout`,
/// `SET` of PostgreSQL client variables drivers send on connect, `SHOW` of a few).
fn setting(session: &mut SqlSession, sql: &str) -> Option<Response> {
    let trimmed = sql.trim().trim_end_matches(';').trim();
    let lower = trimmed.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("set ") {
        let rest = rest.trim_start_matches("session ").trim();
        if rest.starts_with("datafusion.") {
            return None;
        }
        let name_end = rest.find(['=', ' ']).unwrap_or(rest.len());
        let (name, value) = rest.split_at(name_end);
        let value = value.trim().trim_start_matches('=').trim();
        let value = value
            .strip_prefix("to ")
            .unwrap_or(value)
            .trim()
            .trim_matches('\'');
        if name == "statement_timeout" {
            let Ok(ms) = value.trim_end_matches("ms").trim().parse::<u64>() else {
                return Some(Response::Error(Box::new(ErrorInfo::new(
                    "ERROR".into(),
                    "22023".into(),
                    format!("invalid value for parameter \"statement_timeout\": \"{value}\""),
                ))));
            };
            let timeout = if ms == 0 {
                Duration::from_secs(u64::from(u32::MAX))
            } else {
                Duration::from_millis(ms)
            };
            session.set_timeout(timeout);
        }
        return Some(Response::Execution(Tag::new("SET")));
    }
    None
}

#[async_trait]
impl SimpleQueryHandler for Handler {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut guard = self.connection.session(client).await?;
        let Some(session) = guard.as_mut() else {
            return Ok(Vec::new());
        };
        if let Some(copy) = copy::parse(query) {
            return Ok(vec![self.start_copy(session, copy).await]);
        }
        if let Some(catalog) = driver_queries::recognize(query) {
            let db = session.database();
            let format = Format::UnifiedText;
            return Ok(vec![
                driver_queries::answer(db, catalog, query, Vec::new(), &format).await,
            ]);
        }
        if let Some(answer) = deallocate(client, query) {
            return Ok(vec![answer]);
        }
        if let Some(answer) = meta::answer(session, query).await {
            return Ok(vec![answer]);
        }
        if let Some(answer) = setting(session, query) {
            return Ok(vec![answer]);
        }
        let statements = match SqlSession::parse(query) {
            Ok(s) => s,
            Err(e) => return Ok(vec![Response::Error(Box::new(error_info(&e)))]),
        };
        let mut out = Vec::with_capacity(statements.len());
        for statement in statements {
            match session.execute_statement(statement).await {
                Ok(Output::Rows(stream)) => out.push(rows_response(
                    stream,
                    &Format::UnifiedText,
                    self.connection.timeout,
                )),
                Ok(Output::Command(tag)) => out.push(command_response(tag)),
                Err(e) => {
                    out.push(Response::Error(Box::new(error_info(&e))));
                    break;
                }
            }
        }
        Ok(out)
    }
}

/// Plans prepared statements on the connection's session.
#[derive(Debug)]
pub struct Parser {
    connection: Arc<Connection>,
}

impl Parser {
    /// The parser of `connection`.
    pub fn new(connection: Arc<Connection>) -> Parser {
        Parser { connection }
    }
}

#[async_trait]
impl QueryParser for Parser {
    type Statement = Prepared;

    async fn parse_sql<C>(
        &self,
        client: &C,
        sql: &str,
        _types: &[Option<Type>],
    ) -> PgWireResult<Option<Prepared>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let mut guard = self.connection.session(client).await?;
        let Some(session) = guard.as_mut() else {
            return Ok(None);
        };
        if let Some(catalog) = driver_queries::recognize(sql) {
            return Ok(Some(Prepared {
                sql: sql.to_string(),
                statement: None,
                plan: None,
                kind: Kind::Query,
                param_types: vec![DataType::Utf8; driver_queries::parameter_count(sql)],
                catalog: Some(catalog),
            }));
        }
        let mut statements =
            SqlSession::parse(sql).map_err(|e| PgWireError::UserError(Box::new(error_info(&e))))?;
        if statements.len() > 1 {
            return Err(user_error(
                "42601",
                "cannot insert multiple commands into a prepared statement".into(),
            ));
        }
        let Some(statement) = statements.pop() else {
            return Ok(None);
        };
        let kind = kind_of(&statement);
        // Sources defined since the last statement become catalogs before planning.
        session
            .sync_sources()
            .map_err(|e| PgWireError::UserError(Box::new(error_info(&e))))?;
        let plannable = meta::is_plannable(&statement)
            && meta::answer_is_none(sql)
            && !sql.trim_start().to_ascii_lowercase().starts_with("set ");
        let plan = if plannable {
            Some(
                session
                    .context()
                    .state()
                    .statement_to_plan(statement.clone())
                    .await
                    .map_err(|e| {
                        PgWireError::UserError(Box::new(error_info(&SqlError::from_datafusion(e))))
                    })?,
            )
        } else {
            None
        };
        let param_types = match &plan {
            Some(plan) => parameter_types(plan),
            None => Vec::new(),
        };
        Ok(Some(Prepared {
            sql: sql.to_string(),
            statement: Some(statement),
            plan,
            kind,
            param_types,
            catalog: None,
        }))
    }

    fn get_parameter_types(&self, stmt: &Prepared) -> PgWireResult<Vec<Type>> {
        Ok(stmt.param_types.iter().map(pg_type).collect())
    }

    fn get_result_schema(
        &self,
        stmt: &Prepared,
        format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        let format = format.unwrap_or(&Format::UnifiedText);
        if let Some(catalog) = stmt.catalog {
            return Ok(driver_queries::fields(&catalog.columns(), format));
        }
        let Some(plan) = &stmt.plan else {
            return Ok(Vec::new());
        };
        if matches!(stmt.kind, Kind::Write(_)) {
            return Ok(Vec::new());
        }
        let schema = plan.schema().as_arrow().clone();
        Ok(fields(&schema, format))
    }
}

/// The types of `$1`, `$2`... in order (text where DataFusion could not infer one).
fn parameter_types(plan: &LogicalPlan) -> Vec<DataType> {
    let Ok(types) = plan.get_parameter_types() else {
        return Vec::new();
    };
    let mut numbered: Vec<(usize, DataType)> = types
        .into_iter()
        .filter_map(|(name, ty)| {
            let n = name.trim_start_matches('$').parse::<usize>().ok()?;
            Some((n, ty.unwrap_or(DataType::Utf8)))
        })
        .collect();
    numbered.sort_by_key(|(n, _)| *n);
    numbered.into_iter().map(|(_, ty)| ty).collect()
}

/// The value of parameter `i` of `portal`, as DataFusion's `ty`.
fn parameter(portal: &Portal<Prepared>, i: usize, ty: &DataType) -> PgWireResult<ScalarValue> {
    let client_type = portal
        .statement
        .parameter_types
        .get(i)
        .cloned()
        .flatten()
        .filter(|t| *t != Type::UNKNOWN)
        .unwrap_or_else(|| pg_type(ty));
    let value = match client_type {
        Type::INT2 => ScalarValue::Int16(portal.parameter::<i16>(i, &client_type)?),
        Type::INT4 => ScalarValue::Int32(portal.parameter::<i32>(i, &client_type)?),
        Type::INT8 => ScalarValue::Int64(portal.parameter::<i64>(i, &client_type)?),
        Type::FLOAT4 => ScalarValue::Float32(portal.parameter::<f32>(i, &client_type)?),
        Type::FLOAT8 => ScalarValue::Float64(portal.parameter::<f64>(i, &client_type)?),
        Type::BOOL => ScalarValue::Boolean(portal.parameter::<bool>(i, &client_type)?),
        _ => ScalarValue::Utf8(portal.parameter::<String>(i, &Type::TEXT)?),
    };
    if value.data_type() == *ty {
        return Ok(value);
    }
    value
        .cast_to(ty)
        .map_err(|e| user_error("22P02", format!("parameter ${}: {e}", i + 1)))
}

/// Parameter `i` of `portal` as text (NULL as `None`), for a driver's catalog query.
fn parameter_text(portal: &Portal<Prepared>, i: usize) -> PgWireResult<Option<String>> {
    Ok(match parameter(portal, i, &DataType::Utf8)? {
        ScalarValue::Utf8(value) => value,
        other if other.is_null() => None,
        other => Some(other.to_string()),
    })
}

/// `DEALLOCATE [PREPARE] name | ALL`: a statement prepared with the extended protocol is
/// removed by name. pgwire's statement store cannot list its names, so `ALL` removes none:
/// the driver prepares its statements again under their names (replacing them) and the
/// connection's close frees them.
fn deallocate<C>(client: &C, sql: &str) -> Option<Response>
where
    C: ClientPortalStore,
    C::PortalStore: PortalStore,
{
    let statement = sql.trim().trim_end_matches(';').trim();
    let words: Vec<&str> = statement.split_whitespace().collect();
    let name = match words.as_slice() {
        [verb, name] if verb.eq_ignore_ascii_case("deallocate") => *name,
        [verb, prepare, name]
            if verb.eq_ignore_ascii_case("deallocate")
                && prepare.eq_ignore_ascii_case("prepare") =>
        {
            *name
        }
        _ => return None,
    };
    if name.eq_ignore_ascii_case("all") {
        return Some(Response::Execution(Tag::new("DEALLOCATE ALL")));
    }
    client.portal_store().rm_statement(name.trim_matches('"'));
    Some(Response::Execution(Tag::new("DEALLOCATE")))
}

/// The query handlers of one connection.
#[derive(Debug)]
pub struct Handler {
    connection: Arc<Connection>,
    parser: Arc<Parser>,
}

impl Handler {
    /// The handlers of `connection`.
    pub fn new(connection: Arc<Connection>) -> Handler {
        Handler {
            parser: Arc::new(Parser::new(connection.clone())),
            connection,
        }
    }
}

#[async_trait]
impl ExtendedQueryHandler for Handler {
    type Statement = Prepared;
    type QueryParser = Parser;

    fn query_parser(&self) -> Arc<Parser> {
        self.parser.clone()
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Prepared>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let prepared = &portal.statement.statement;
        let mut guard = self.connection.session(client).await?;
        let Some(session) = guard.as_mut() else {
            return Ok(Response::EmptyQuery);
        };
        if let Some(catalog) = prepared.catalog {
            let mut params = Vec::with_capacity(prepared.param_types.len());
            for i in 0..portal.parameter_len() {
                params.push(parameter_text(portal, i)?);
            }
            let db = session.database();
            let format = &portal.result_column_format;
            return Ok(driver_queries::answer(db, catalog, &prepared.sql, params, format).await);
        }
        let outcome = match &prepared.plan {
            Some(plan) => {
                let mut values = Vec::with_capacity(prepared.param_types.len());
                for (i, ty) in prepared.param_types.iter().enumerate() {
                    values.push(parameter(portal, i, ty)?);
                }
                let plan = if values.is_empty() {
                    plan.clone()
                } else {
                    plan.clone().with_param_values(values).map_err(|e| {
                        PgWireError::UserError(Box::new(error_info(&SqlError::from_datafusion(e))))
                    })?
                };
                session.execute_plan(plan, prepared.kind).await
            }
            None => {
                if let Some(answer) = deallocate(client, &prepared.sql) {
                    return Ok(answer);
                }
                if let Some(answer) = meta::answer(session, &prepared.sql).await {
                    return Ok(answer);
                }
                if let Some(answer) = setting(session, &prepared.sql) {
                    return Ok(answer);
                }
                match prepared.statement.clone() {
                    Some(statement) => session.execute_statement(statement).await,
                    None => return Ok(Response::EmptyQuery),
                }
            }
        };
        match outcome {
            Ok(Output::Rows(stream)) => Ok(rows_response(
                stream,
                &portal.result_column_format,
                self.connection.timeout,
            )),
            Ok(Output::Command(tag)) => Ok(command_response(tag)),
            Err(e) => Err(PgWireError::UserError(Box::new(error_info(&e)))),
        }
    }
}

impl Handler {
    /// Answers a `COPY` statement: rows for `TO STDOUT`; for `FROM STDIN`, the columns the
    /// data must carry (the data comes through [`CopyHandler`]).
    async fn start_copy(&self, session: &mut SqlSession, copy: crate::Result<Copy>) -> Response {
        let started = match copy {
            Ok(Copy::Out { query, format }) => {
                copy::copy_out(session, &query, format, self.connection.timeout)
                    .await
                    .map(Response::CopyOut)
            }
            Ok(Copy::In(pending)) => copy::prepare_in(session, pending).await.map(|pending| {
                let columns = pending.column_count();
                if let Ok(mut slot) = self.connection.copy_in.lock() {
                    *slot = Some(pending);
                }
                Response::CopyIn(CopyResponse::new(0, columns, stream::empty()))
            }),
            Err(e) => Err(e),
        };
        started.unwrap_or_else(|e| Response::Error(Box::new(error_info(&e))))
    }

    fn take_copy_in(&self) -> Option<CopyIn> {
        self.connection.copy_in.lock().ok()?.take()
    }
}

#[async_trait]
impl CopyHandler for Handler {
    async fn on_copy_data<C>(&self, _client: &mut C, copy_data: CopyData) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if let Ok(mut slot) = self.connection.copy_in.lock() {
            if let Some(pending) = slot.as_mut() {
                pending.push(&copy_data.data);
            }
        }
        Ok(())
    }

    async fn on_copy_done<C>(&self, client: &mut C, _done: CopyDone) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let Some(pending) = self.take_copy_in() else {
            return Err(user_error(
                "08P01",
                "CopyDone without a COPY FROM STDIN".into(),
            ));
        };
        let stored = {
            let mut guard = self.connection.session(client).await?;
            let Some(session) = guard.as_mut() else {
                return Err(user_error("08P01", "no session".into()));
            };
            copy::finish_in(session, pending).await
        };
        match stored {
            Ok(rows) => {
                let tag = Tag::new("COPY").with_rows(rows);
                futures::SinkExt::send(client, PgWireBackendMessage::CommandComplete(tag.into()))
                    .await?;
                Ok(())
            }
            Err(e) => Err(PgWireError::UserError(Box::new(error_info(&e)))),
        }
    }

    async fn on_copy_fail<C>(&self, _client: &mut C, fail: CopyFail) -> PgWireError
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // Nothing was written: the data is only ever stored at CopyDone.
        drop(self.take_copy_in());
        user_error("57014", format!("COPY from stdin failed: {}", fail.message))
    }
}
