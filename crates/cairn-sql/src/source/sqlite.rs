//! SQLite sources over `rusqlite` (the workspace's SQLite): the file is opened read-only for
//! each statement (an open costs microseconds, and a connection is never shared between
//! threads); its tables and views are the schema `main`; column types follow SQLite's
//! affinity rules.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::DataType;
use datafusion::error::DataFusionError;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::mpsc::Sender;

use super::remote::{quote, BatchBuilder, Cell, RemoteColumn};
use super::{SourceError, SourceHandle};
use crate::limits::SOURCE_BATCH_ROWS;

/// The one schema of a SQLite source.
pub const SCHEMA: &str = "main";

/// Opens the source's file read-only (a missing file is an error, never created).
pub fn open(handle: &SourceHandle) -> Result<Connection, SourceError> {
    let def = &handle.def;
    let connection = Connection::open_with_flags(
        def.path(),
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| def.unavailable(e))?;
    Ok(connection)
}

/// Opens the file and reads its schema: the health check.
pub fn ping(handle: &SourceHandle) -> Result<(), SourceError> {
    tables(handle).map(|_| ())
}

/// The tables and views of the file.
pub fn tables(handle: &SourceHandle) -> Result<Vec<String>, SourceError> {
    let def = &handle.def;
    let connection = open(handle)?;
    let mut statement = connection
        .prepare(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') \
             AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .map_err(|e| def.unavailable(e))?;
    let names = statement
        .query_map([], |row| row.get::<_, String>(0))
        .map_err(|e| def.unavailable(e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| def.unavailable(e))?;
    Ok(names)
}

/// The columns of `table` (none: no such table).
pub fn columns(handle: &SourceHandle, table: &str) -> Result<Vec<RemoteColumn>, SourceError> {
    let def = &handle.def;
    let connection = open(handle)?;
    let mut statement = connection
        .prepare(&format!("PRAGMA table_info({})", quote(table)))
        .map_err(|e| def.unavailable(e))?;
    let columns = statement
        .query_map([], |row| {
            Ok(column(row.get::<_, String>(1)?, &row.get::<_, String>(2)?))
        })
        .map_err(|e| def.unavailable(e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| def.unavailable(e))?;
    Ok(columns)
}

/// How a column declared `declared` is read, by SQLite's affinity rules (section 3.1 of
/// "Datatypes In SQLite"): INTEGER → Int64, REAL → Float64, TEXT → Utf8, `BOOL…` → Boolean;
/// NUMERIC and untyped columns may hold anything, so they are read as text and their
/// filters are not pushed.
fn column(name: String, declared: &str) -> RemoteColumn {
    let upper = declared.to_ascii_uppercase();
    let quoted = quote(&name);
    let (data_type, native, select) = if upper.starts_with("BOOL") {
        (DataType::Boolean, true, quoted.clone())
    } else if upper.contains("INT") {
        (DataType::Int64, true, quoted.clone())
    } else if upper.contains("CHAR") || upper.contains("CLOB") || upper.contains("TEXT") {
        (DataType::Utf8, true, quoted.clone())
    } else if upper.contains("REAL") || upper.contains("FLOA") || upper.contains("DOUB") {
        (DataType::Float64, true, quoted.clone())
    } else {
        (DataType::Utf8, false, format!("CAST({quoted} AS TEXT)"))
    };
    RemoteColumn {
        name,
        data_type,
        native,
        select,
    }
}

/// Runs `sql` and sends its rows into `tx` in batches (blocking: runs on the blocking pool).
pub fn fetch(
    handle: &SourceHandle,
    sql: &str,
    mut batches: BatchBuilder,
    tx: &Sender<Result<RecordBatch, DataFusionError>>,
) -> Result<(), SourceError> {
    let def = &handle.def;
    let connection = open(handle)?;
    let mut statement = connection.prepare(sql).map_err(|e| def.unavailable(e))?;
    let width = statement.column_count();
    let mut rows = statement.query([]).map_err(|e| def.unavailable(e))?;
    while let Some(row) = rows.next().map_err(|e| def.unavailable(e))? {
        handle.count_rows(1);
        let mut cells = Vec::with_capacity(width);
        for i in 0..width {
            let value = row.get_ref(i).map_err(|e| def.unavailable(e))?;
            cells.push(match value {
                ValueRef::Null => Cell::Null,
                ValueRef::Integer(v) => Cell::Int(v),
                ValueRef::Real(v) => Cell::Float(v),
                ValueRef::Text(v) => Cell::Text(String::from_utf8_lossy(v).into_owned()),
                ValueRef::Blob(v) => Cell::Bytes(v.to_vec()),
            });
        }
        batches.push(cells)?;
        if batches.len() >= SOURCE_BATCH_ROWS {
            let batch = batches.finish().map_err(|e| def.unavailable(e))?;
            if tx.blocking_send(Ok(batch)).is_err() {
                return Ok(());
            }
        }
    }
    if !batches.is_empty() {
        let batch = batches.finish().map_err(|e| def.unavailable(e))?;
        let _ = tx.blocking_send(Ok(batch));
    }
    Ok(())
}
