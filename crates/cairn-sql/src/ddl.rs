//! DDL that DataFusion does not own: `CREATE TABLE` (a collection, with a schema from its
//! columns), `CREATE [UNIQUE] INDEX … [USING btree|hash]` (a Cairn index, built online;
//! `USING hnsw|gist|gin` build the models' indexes: `crate::functions::index`),
//! `DROP TABLE` and `DROP INDEX`.
//!
//! Each commits on its own (Cairn's collection and index DDL are their own transactions), so
//! inside `BEGIN … COMMIT` they are refused (`25001`) rather than silently escaping the block.
//! `CREATE TABLE` creates the collection, then sets its schema: two commits; if the schema is
//! refused, the empty collection is dropped again.
//!
//! Column types map to Cairn schema types by name: `int integer bigint smallint serial` →
//! `int`; `real double float numeric decimal` → `float`; `text varchar char string` →
//! `string`; `boolean` → `bool`; `timestamp[tz]` → `datetime`; `uuid`; `bytea` → `bytes`;
//! `json jsonb` → `json`; `T[]` → `array<T>`; `vector(N)` → `vector<N>`; `geometry` and the
//! shape names → that geometry type. `NOT NULL` and `PRIMARY KEY` make a field required;
//! `UNIQUE` and `PRIMARY KEY` make it unique (a unique index). A column named `_id` is the
//! document id (ids are given on insert or generated).

use cairn::index::{IndexKind, IndexSpec};
use cairn::{Database, Object, Value};
use datafusion::sql::sqlparser::ast::{ColumnDef, ObjectType, Statement};

use crate::error::{Result, SqlError};
use crate::session::blocking;
use crate::txn::{authorize, Authorizer};
use crate::types::ID_COLUMN;

/// The work of one DDL statement, run off the async workers.
type DdlWork = Box<dyn FnOnce(&Database) -> Result<()> + Send>;

/// Runs `statement` if it is DDL this module owns, returning its command tag; `None` for
/// every other statement.
pub async fn run(
    db: &Database,
    statement: &Statement,
    in_block: bool,
    authorizer: Option<&std::sync::Arc<dyn Authorizer>>,
) -> Result<Option<String>> {
    let (what, work): (&'static str, DdlWork) = match statement {
        Statement::CreateTable(create) => {
            let name = last_ident(&create.name.to_string());
            let schema = schema_of(&create.columns)?;
            let if_not_exists = create.if_not_exists;
            authorize(authorizer, &name, true)?;
            let owner = authorizer.and_then(|a| a.user());
            (
                "CREATE TABLE",
                Box::new(move |db| {
                    create_table(db, &name, schema, if_not_exists, owner.as_deref())
                }),
            )
        }
        Statement::CreateIndex(create) => {
            let table = last_ident(&create.table_name.to_string());
            let clauses: Vec<String> = create.columns.iter().map(|c| c.to_string()).collect();
            let fields: Vec<String> = clauses.iter().map(|c| first_token(c)).collect();
            let name = create
                .name
                .as_ref()
                .map(|n| last_ident(&n.to_string()))
                .unwrap_or_else(|| format!("{table}_{}_idx", fields.join("_")));
            let using = create
                .using
                .as_ref()
                .map(|u| u.to_string().to_ascii_lowercase());
            if let Some(model) = using.as_deref().and_then(|method| {
                let columns = clauses.iter().map(|c| column_and_class(c)).collect();
                crate::functions::index::model_index(method, &table, &name, columns)
            }) {
                authorize(authorizer, &table, true)?;
                ("CREATE INDEX", model?)
            } else {
                let kind = match using {
                    Some(u) if u == "hash" => IndexKind::Hash,
                    _ => IndexKind::BTree,
                };
                let unique = create.unique;
                authorize(authorizer, &table, true)?;
                (
                    "CREATE INDEX",
                    Box::new(move |db| {
                        let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
                        let spec = IndexSpec::new(&name, &refs, kind, unique)?;
                        Ok(cairn::create_index(db, &table, &spec, &mut |_| {})?)
                    }),
                )
            }
        }
        Statement::Drop {
            object_type: ObjectType::Table,
            names,
            if_exists,
            ..
        } => {
            let names: Vec<String> = names.iter().map(|n| last_ident(&n.to_string())).collect();
            let if_exists = *if_exists;
            for name in &names {
                authorize(authorizer, name, true)?;
            }
            (
                "DROP TABLE",
                Box::new(move |db| {
                    for name in &names {
                        refuse_system(name)?;
                        match db.drop_collection(name) {
                            Err(cairn::EngineError::UnknownCollection { .. }) if if_exists => {}
                            other => other?,
                        }
                    }
                    Ok(())
                }),
            )
        }
        _ => return Ok(None),
    };
    if in_block {
        return Err(SqlError::DdlInTransaction(what));
    }
    let db = db.clone();
    blocking(move || work(&db)).await?;
    Ok(Some(what.to_string()))
}

pub(crate) fn refuse_system(name: &str) -> Result<()> {
    if cairn::is_system_collection(name) {
        return Err(SqlError::Engine(
            cairn::EngineError::InvalidCollectionName {
                name: name.to_string(),
                reason: "names starting with `_sys_` are reserved for Cairn",
            },
        ));
    }
    Ok(())
}

fn create_table(
    db: &Database,
    name: &str,
    schema: Option<Value>,
    if_not_exists: bool,
    owner: Option<&str>,
) -> Result<()> {
    refuse_system(name)?;
    match cairn::catalog::create_collection_owned(db, name, owner) {
        Err(cairn::EngineError::CollectionExists { .. }) if if_not_exists => return Ok(()),
        other => {
            other?;
        }
    }
    if let Some(schema) = schema {
        if let Err(err) = cairn::schema::set_schema(db, name, &schema, "sql") {
            let _ = db.drop_collection(name);
            return Err(err.into());
        }
    }
    Ok(())
}

/// The Cairn schema document of a column list (`None`: no columns but `_id`, schemaless).
fn schema_of(columns: &[ColumnDef]) -> Result<Option<Value>> {
    let mut fields = Object::new();
    for column in columns {
        let name = column.name.value.clone();
        if name == ID_COLUMN {
            continue;
        }
        let mut spec = Object::new();
        spec.insert(
            "type",
            Value::String(type_name(&column.data_type.to_string())?),
        );
        for option in &column.options {
            let text = option.option.to_string().to_ascii_uppercase();
            if text.contains("PRIMARY KEY") {
                spec.insert("required", Value::Bool(true));
                spec.insert("unique", Value::Bool(true));
            } else if text.starts_with("UNIQUE") {
                spec.insert("unique", Value::Bool(true));
            } else if text == "NOT NULL" {
                spec.insert("required", Value::Bool(true));
            }
        }
        fields.insert(name, Value::Object(spec));
    }
    if fields.is_empty() {
        return Ok(None);
    }
    let mut schema = Object::new();
    schema.insert("fields", Value::Object(fields));
    Ok(Some(Value::Object(schema)))
}

/// The Cairn schema type of a SQL type name.
fn type_name(sql: &str) -> Result<String> {
    let upper = sql.trim().to_ascii_uppercase();
    if let Some(element) = upper.strip_suffix("[]") {
        return Ok(format!("array<{}>", type_name(element)?));
    }
    let base = upper.split('(').next().unwrap_or("").trim();
    let name = match base {
        "INT" | "INTEGER" | "BIGINT" | "SMALLINT" | "INT2" | "INT4" | "INT8" | "SERIAL"
        | "BIGSERIAL" => "int",
        "REAL" | "DOUBLE" | "DOUBLE PRECISION" | "FLOAT" | "FLOAT4" | "FLOAT8" | "NUMERIC"
        | "DECIMAL" => "float",
        "TEXT" | "VARCHAR" | "CHARACTER VARYING" | "CHAR" | "CHARACTER" | "STRING" => "string",
        "BOOLEAN" | "BOOL" => "bool",
        "TIMESTAMP"
        | "TIMESTAMPTZ"
        | "TIMESTAMP WITH TIME ZONE"
        | "TIMESTAMP WITHOUT TIME ZONE"
        | "DATE" => "datetime",
        "UUID" => "uuid",
        "BYTEA" | "BLOB" | "BINARY" | "VARBINARY" => "bytes",
        "JSON" | "JSONB" => "json",
        "GEOMETRY" | "POINT" | "SEGMENT" | "TRIANGLE" | "MESH" | "BOX" | "SPHERE" => {
            return Ok(base.to_ascii_lowercase())
        }
        "VECTOR" => {
            let dims = upper
                .split_once('(')
                .and_then(|(_, rest)| rest.trim_end_matches(')').trim().parse::<usize>().ok())
                .ok_or_else(|| {
                    SqlError::Unsupported(format!("{sql}: a vector needs its dimension, vector(N)"))
                })?;
            return Ok(format!("vector<{dims}>"));
        }
        _ => return Err(SqlError::Unsupported(format!("column type {sql}"))),
    };
    Ok(name.to_string())
}

/// The last part of a possibly qualified name (`public.t` → `t`), unquoted.
pub(crate) fn last_ident(name: &str) -> String {
    let last = name.rsplit('.').next().unwrap_or(name);
    last.trim_matches('"').to_string()
}

/// The column and operator class of an index column clause (`emb vector_l2_ops`).
fn column_and_class(clause: &str) -> (String, Option<String>) {
    let mut words = clause.split_whitespace();
    let column = words.next().unwrap_or("").trim_matches('"').to_string();
    let class = words
        .next()
        .filter(|w| !matches!(w.to_ascii_uppercase().as_str(), "ASC" | "DESC" | "NULLS"))
        .map(|w| w.to_ascii_lowercase());
    (column, class)
}

/// The column of an index column clause (`amount DESC` → `amount`), unquoted.
fn first_token(clause: &str) -> String {
    clause
        .split_whitespace()
        .next()
        .unwrap_or("")
        .trim_matches('"')
        .to_string()
}
