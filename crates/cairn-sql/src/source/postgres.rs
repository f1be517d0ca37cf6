//! PostgreSQL sources over `tokio-postgres`: one connection per source, kept between
//! statements and opened again when it closes; tables and columns from
//! `information_schema`; rows streamed and converted to Arrow as they arrive.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::DataType;
use datafusion::error::DataFusionError;
use futures::StreamExt;
use tokio::sync::mpsc::Sender;
use tokio_postgres::types::Type;
use tokio_postgres::{NoTls, Row};

use super::remote::{quote, BatchBuilder, Cell, RemoteColumn};
use super::{SourceError, SourceHandle};
use crate::limits::{SOURCE_BATCH_ROWS, SOURCE_CONNECT_TIMEOUT};

/// The open connection to the source, connecting first if there is none (or it closed).
pub async fn client(handle: &SourceHandle) -> Result<Arc<tokio_postgres::Client>, SourceError> {
    let mut slot = handle.client.lock().await;
    if let Some(client) = slot.as_ref() {
        if !client.is_closed() {
            return Ok(client.clone());
        }
    }
    let def = &handle.def;
    let mut config: tokio_postgres::Config = def.url.parse().map_err(|e| def.unavailable(e))?;
    config.connect_timeout(SOURCE_CONNECT_TIMEOUT);
    let (client, connection) = tokio::time::timeout(SOURCE_CONNECT_TIMEOUT, config.connect(NoTls))
        .await
        .map_err(|_| def.unavailable("connecting timed out"))?
        .map_err(|e| def.unavailable_chain(&e))?;
    let name = def.name.clone();
    // The connection task ends when the client is dropped or the server goes away; its
    // error is the source's health, logged without the URL.
    tokio::spawn(async move {
        if let Err(err) = connection.await {
            tracing::debug!(source = %name, %err, "source connection ended");
        }
    });
    let client = Arc::new(client);
    *slot = Some(client.clone());
    Ok(client)
}

/// Forgets the connection (after an error, so the next statement connects afresh).
async fn reset(handle: &SourceHandle) {
    *handle.client.lock().await = None;
}

/// Runs `SELECT 1`: the health check.
pub async fn ping(handle: &SourceHandle) -> Result<(), SourceError> {
    let client = client(handle).await?;
    if let Err(err) = client.simple_query("SELECT 1").await {
        reset(handle).await;
        return Err(handle.def.unavailable(err));
    }
    Ok(())
}

/// The user tables and views of the source, as `(schema, table)` pairs.
pub async fn tables(handle: &SourceHandle) -> Result<Vec<(String, String)>, SourceError> {
    let client = client(handle).await?;
    let rows = client
        .query(
            "SELECT table_schema::text, table_name::text FROM information_schema.tables \
             WHERE table_schema NOT IN ('pg_catalog', 'information_schema') \
             ORDER BY 1, 2",
            &[],
        )
        .await
        .map_err(|e| handle.def.unavailable_chain(&e))?;
    Ok(rows
        .iter()
        .map(|row| (row.get::<_, String>(0), row.get::<_, String>(1)))
        .collect())
}

/// The columns of `schema.table` (none: no such table).
pub async fn columns(
    handle: &SourceHandle,
    schema: &str,
    table: &str,
) -> Result<Vec<RemoteColumn>, SourceError> {
    let client = client(handle).await?;
    let rows = client
        .query(
            "SELECT column_name::text, udt_name::text FROM information_schema.columns \
             WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
            &[&schema, &table],
        )
        .await
        .map_err(|e| handle.def.unavailable_chain(&e))?;
    Ok(rows
        .iter()
        .map(|row| column(row.get::<_, String>(0), &row.get::<_, String>(1)))
        .collect())
}

/// How a column of PostgreSQL type `udt` is read: integers, floats, booleans and text in
/// their own type; `numeric` as `float8`; everything else as its text form.
fn column(name: String, udt: &str) -> RemoteColumn {
    let quoted = quote(&name);
    let (data_type, native, select) = match udt {
        "int2" | "int4" | "int8" | "oid" => (DataType::Int64, true, format!("{quoted}::int8")),
        "float4" | "float8" => (DataType::Float64, true, format!("{quoted}::float8")),
        "numeric" => (DataType::Float64, false, format!("{quoted}::float8")),
        "bool" => (DataType::Boolean, true, quoted.clone()),
        "text" | "varchar" | "bpchar" | "name" | "citext" => {
            (DataType::Utf8, true, format!("{quoted}::text"))
        }
        "bytea" => (DataType::Binary, true, quoted.clone()),
        _ => (DataType::Utf8, false, format!("{quoted}::text")),
    };
    RemoteColumn {
        name,
        data_type,
        native,
        select,
    }
}

/// Sends `sql` and streams its rows into `tx` in batches.
pub async fn fetch(
    handle: &SourceHandle,
    sql: &str,
    mut batches: BatchBuilder,
    tx: &Sender<Result<RecordBatch, DataFusionError>>,
) -> Result<(), SourceError> {
    let client = client(handle).await?;
    let rows = match client.query_raw(sql, std::iter::empty::<&str>()).await {
        Ok(rows) => rows,
        Err(err) => {
            if client.is_closed() {
                reset(handle).await;
            }
            return Err(handle.def.unavailable(err));
        }
    };
    futures::pin_mut!(rows);
    while let Some(row) = rows.next().await {
        let row = row.map_err(|e| handle.def.unavailable_chain(&e))?;
        handle.count_rows(1);
        batches.push(cells(&row))?;
        if batches.len() >= SOURCE_BATCH_ROWS {
            let batch = batches
                .finish()
                .map_err(|e| handle.def.unavailable_chain(&e))?;
            if tx.send(Ok(batch)).await.is_err() {
                return Ok(());
            }
        }
    }
    if !batches.is_empty() {
        let batch = batches
            .finish()
            .map_err(|e| handle.def.unavailable_chain(&e))?;
        let _ = tx.send(Ok(batch)).await;
    }
    Ok(())
}

/// A row's values as cells (by each column's wire type; NULL and unreadable values as NULL).
fn cells(row: &Row) -> Vec<Cell> {
    row.columns()
        .iter()
        .enumerate()
        .map(|(i, column)| {
            let t = column.type_();
            let cell = if *t == Type::INT8 {
                row.try_get::<_, Option<i64>>(i)
                    .ok()
                    .flatten()
                    .map(Cell::Int)
            } else if *t == Type::FLOAT8 {
                row.try_get::<_, Option<f64>>(i)
                    .ok()
                    .flatten()
                    .map(Cell::Float)
            } else if *t == Type::BOOL {
                row.try_get::<_, Option<bool>>(i)
                    .ok()
                    .flatten()
                    .map(Cell::Bool)
            } else if *t == Type::BYTEA {
                row.try_get::<_, Option<Vec<u8>>>(i)
                    .ok()
                    .flatten()
                    .map(Cell::Bytes)
            } else {
                row.try_get::<_, Option<String>>(i)
                    .ok()
                    .flatten()
                    .map(Cell::Text)
            };
            cell.unwrap_or(Cell::Null)
        })
        .collect()
}
