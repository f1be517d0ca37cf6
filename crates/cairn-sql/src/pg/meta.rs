//! The catalog queries of `psql`'s meta-commands (`\l`, `\dt`, `\di`, `\d table`), answered
//! from Cairn's catalog.
//!
//! psql's catalog queries use PostgreSQL-only syntax (`OPERATOR(pg_catalog.~)`, `::regclass`
//! casts, `COLLATE pg_catalog.default`) over a dozen `pg_catalog` tables; emulating all of
//! that inside DataFusion would be a PostgreSQL of its own. psql's queries are stable text
//! (they change with psql's major version, rarely), so they are recognised by the tables
//! they read and answered here; any other query on `pg_catalog` gets an empty result, which
//! psql treats as "nothing of that kind" (no policies, no publications, no inheritance...).
//! Tables, columns and oids are [`PgCatalog`]'s, the ones drivers' catalog queries see
//! ([`super::driver_queries`]).

use std::sync::Arc;

use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Statement;
use futures::stream;
use pgwire::api::results::{DataRowEncoder, FieldFormat, FieldInfo, QueryResponse, Response};
use pgwire::api::Type;

use super::pg_catalog::{pg_type_row, PgCatalog, PgColumn};
use crate::catalog::{shape_of, CATALOG, SCHEMA};
use crate::session::{blocking, SqlSession};

/// Whether DataFusion plans `statement` (not a transaction command or DDL of ours).
pub fn is_plannable(statement: &DfStatement) -> bool {
    match statement {
        DfStatement::Statement(inner) => !matches!(
            inner.as_ref(),
            Statement::StartTransaction { .. }
                | Statement::Commit { .. }
                | Statement::Rollback { .. }
                | Statement::Savepoint { .. }
                | Statement::ReleaseSavepoint { .. }
                | Statement::CreateTable(_)
                | Statement::CreateIndex(_)
                | Statement::Drop { .. }
        ),
        _ => true,
    }
}

/// Whether `sql` is an ordinary statement (not one of psql's catalog queries).
pub fn answer_is_none(sql: &str) -> bool {
    !sql.contains("pg_catalog.")
}

/// The answer to one of psql's catalog queries, if `sql` is one.
pub async fn answer(session: &SqlSession, sql: &str) -> Option<Response> {
    if answer_is_none(sql) {
        return None;
    }
    let db = session.database().clone();
    let sql = sql.to_string();
    let rows = blocking(move || Ok(catalog_rows(&db, &sql))).await;
    let (columns, rows) = rows.unwrap_or_else(|_| (vec!["?column?"], Vec::new()));
    Some(text_response(&columns, rows))
}

type Rows = Vec<Vec<Option<String>>>;

fn catalog_rows(db: &cairn::Database, sql: &str) -> (Vec<&'static str>, Rows) {
    let catalog = PgCatalog::names(db).unwrap_or_default();
    let tables: Vec<String> = catalog.tables.iter().map(|t| t.name.clone()).collect();
    let pattern = name_pattern(sql);
    let matches = |name: &str| pattern.as_deref().is_none_or(|p| p == name);
    let oid_of = |name: &str| catalog.table(name).map(|t| t.oid);
    let table_of_oid = |sql: &str| -> Option<String> {
        let oid: u32 = quoted_after(sql, ".oid = '")
            .or_else(|| quoted_after(sql, "attrelid = '"))?
            .parse()
            .ok()?;
        catalog.table_by_oid(oid).map(|t| t.name.clone())
    };
    if sql.contains("pg_catalog.pg_database") {
        let row = vec![
            Some(CATALOG.into()),
            Some("root".into()),
            Some("UTF8".into()),
            Some("C".into()),
            Some("C".into()),
            None,
        ];
        return (
            vec![
                "Name",
                "Owner",
                "Encoding",
                "Collate",
                "Ctype",
                "Access privileges",
            ],
            vec![row],
        );
    }
    if sql.contains("c.relkind IN ('i'") {
        // \di: indexes.
        let mut rows = Vec::new();
        for table in tables.iter().filter(|t| matches(t)) {
            for index in cairn::list_indexes(db, table).unwrap_or_default() {
                rows.push(vec![
                    Some(SCHEMA.into()),
                    Some(index.spec.name.clone()),
                    Some("index".into()),
                    Some("root".into()),
                    Some(table.clone()),
                ]);
            }
        }
        return (vec!["Schema", "Name", "Type", "Owner", "Table"], rows);
    }
    if sql.contains("c.relkind IN ('r'") {
        // \dt: tables.
        let rows = tables
            .iter()
            .filter(|t| matches(t))
            .map(|t| {
                vec![
                    Some(SCHEMA.into()),
                    Some(t.clone()),
                    Some("table".into()),
                    Some("root".into()),
                ]
            })
            .collect();
        return (vec!["Schema", "Name", "Type", "Owner"], rows);
    }
    if sql.contains("c.relchecks") {
        // \d table, step 2: the table's flags (15 columns in psql 15).
        let rows = table_of_oid(sql)
            .map(|_| {
                let mut row: Vec<Option<String>> = [
                    "0", "r", "f", "f", "f", "f", "f", "f", "f", "", "0", "", "p", "d", "heap",
                ]
                .iter()
                .map(|v| Some((*v).to_string()))
                .collect();
                row.truncate(15);
                vec![row]
            })
            .unwrap_or_default();
        return (
            vec![
                "relchecks",
                "relkind",
                "relhasindex",
                "relhasrules",
                "relhastriggers",
                "relrowsecurity",
                "relforcerowsecurity",
                "relhasoids",
                "relispartition",
                "reloptions",
                "reltablespace",
                "reloftype",
                "relpersistence",
                "relreplident",
                "amname",
            ],
            rows,
        );
    }
    if sql.contains("pg_catalog.pg_attribute a") && sql.contains("a.attnum > 0") {
        // \d table, step 3: the columns.
        let rows = table_of_oid(sql)
            .and_then(|t| shape_of(db, &t).ok())
            .map(|shape| {
                shape
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| column_row(&PgColumn::of(i, c)))
                    .collect()
            })
            .unwrap_or_default();
        return (
            vec![
                "attname",
                "format_type",
                "default",
                "attnotnull",
                "attcollation",
                "attidentity",
                "attgenerated",
            ],
            rows,
        );
    }
    if sql.contains("c.relname")
        && sql.contains("n.nspname")
        && sql.contains("OPERATOR(pg_catalog.~)")
        && sql.contains("c.oid")
    {
        // \d table, step 1: oid, schema and name of the matching tables.
        let rows = tables
            .iter()
            .filter(|t| matches(t))
            .filter_map(|t| {
                Some(vec![
                    Some(oid_of(t)?.to_string()),
                    Some(SCHEMA.into()),
                    Some(t.clone()),
                ])
            })
            .collect();
        return (vec!["oid", "nspname", "relname"], rows);
    }
    (vec!["?column?"], Vec::new())
}

/// A column as psql's `\d` shows it (its type as `format_type` names it).
fn column_row(column: &PgColumn) -> Vec<Option<String>> {
    let not_null = if column.not_null { "t" } else { "f" };
    vec![
        Some(column.name.clone()),
        Some(pg_type_row(&column.ty).sql_name.to_string()),
        None,
        Some(not_null.into()),
        None,
        Some(String::new()),
        Some(String::new()),
    ]
}

/// The name a psql pattern (`'^(name)$'`) selects, if the query has one.
fn name_pattern(sql: &str) -> Option<String> {
    let start = sql.find("'^(")? + 3;
    let end = sql[start..].find(")$'")? + start;
    Some(sql[start..end].to_string())
}

/// The text between `marker` and the next `'`.
fn quoted_after(sql: &str, marker: &str) -> Option<String> {
    let start = sql.find(marker)? + marker.len();
    let end = sql[start..].find('\'')? + start;
    Some(sql[start..end].to_string())
}

/// A result of text columns.
fn text_response(columns: &[&str], rows: Rows) -> Response {
    let fields: Arc<Vec<FieldInfo>> = Arc::new(
        columns
            .iter()
            .map(|c| FieldInfo::new((*c).to_string(), None, None, Type::TEXT, FieldFormat::Text))
            .collect(),
    );
    let mut encoder = DataRowEncoder::new(fields.clone());
    let mut encoded = Vec::with_capacity(rows.len());
    for row in rows {
        let mut ok = true;
        for value in &row {
            ok &= encoder.encode_field(value).is_ok();
        }
        let data = encoder.take_row();
        if ok {
            encoded.push(Ok(data));
        }
    }
    Response::Query(QueryResponse::new(fields, stream::iter(encoded)))
}
