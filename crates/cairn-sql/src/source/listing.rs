//! The sources' tables in Cairn's catalog (`cairn::catalog`, `cairn catalog`, `/v1/catalog`):
//! one entry per table a source's last health check listed, named `source.schema.table`,
//! with its columns and their SQL types as a statement would see them, looked up at the
//! source now. A source that is down lists no tables; a table whose columns cannot be read
//! is listed without columns. Nothing here fails the listing: the catalog of the database's
//! own collections never depends on a source answering.

use std::sync::Arc;

use cairn::catalog::{CatalogEntry, Column};
use datafusion::arrow::datatypes::DataType;

use super::{files, health, postgres, sqlite, SourceHandle, SourceKind, SourceRegistry};

/// The kind of a source's table in the catalog.
pub const EXTERNAL_TABLE: &str = "external_table";

/// Every source's tables as catalog entries, after checking each source's health now.
pub async fn entries(registry: &SourceRegistry) -> Vec<CatalogEntry> {
    if let Err(err) = health::check_all(registry).await {
        tracing::warn!(%err, "reading the source definitions failed");
    }
    let mut out = Vec::new();
    for handle in registry.handles() {
        let tables = handle
            .health
            .lock()
            .as_ref()
            .map(|h| h.tables.clone())
            .unwrap_or_default();
        for (schema, table) in tables {
            let columns = columns(&handle, &schema, &table).await;
            out.push(CatalogEntry::external(
                format!("{}.{schema}.{table}", handle.def.name),
                EXTERNAL_TABLE,
                &handle.def.name,
                columns,
            ));
        }
    }
    out
}

/// The columns of one table (empty when they cannot be read).
async fn columns(handle: &Arc<SourceHandle>, schema: &str, table: &str) -> Vec<Column> {
    let fields: Vec<(String, DataType)> = match handle.def.kind {
        SourceKind::Postgres => postgres::columns(handle, schema, table)
            .await
            .map(|cs| cs.into_iter().map(|c| (c.name, c.data_type)).collect())
            .unwrap_or_default(),
        SourceKind::Sqlite => {
            let owned = handle.clone();
            let name = table.to_string();
            tokio::task::spawn_blocking(move || sqlite::columns(&owned, &name))
                .await
                .ok()
                .and_then(Result::ok)
                .map(|cs| cs.into_iter().map(|c| (c.name, c.data_type)).collect())
                .unwrap_or_default()
        }
        SourceKind::Csv | SourceKind::Json | SourceKind::Parquet => files::table(&handle.def)
            .await
            .map(|t| {
                t.schema()
                    .fields()
                    .iter()
                    .map(|f| (f.name().clone(), f.data_type().clone()))
                    .collect()
            })
            .unwrap_or_default(),
    };
    fields
        .into_iter()
        .map(|(path, ty)| Column {
            path,
            types: vec![sql_type(&ty)],
        })
        .collect()
}

/// The SQL name of an Arrow type as a source's column reads in a statement.
fn sql_type(ty: &DataType) -> String {
    match ty {
        DataType::Int8 | DataType::Int16 => "smallint".into(),
        DataType::Int32 => "integer".into(),
        DataType::Int64 => "bigint".into(),
        DataType::Float32 => "real".into(),
        DataType::Float64 => "double precision".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "text".into(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "bytea".into(),
        DataType::Date32 | DataType::Date64 => "date".into(),
        DataType::Timestamp(_, Some(_)) => "timestamp with time zone".into(),
        DataType::Timestamp(_, None) => "timestamp".into(),
        other => other.to_string().to_lowercase(),
    }
}

/// [`entries`], blocking: on the current Tokio runtime's handle when called on one of its
/// blocking threads (never call it on an async worker), else on a runtime of its own. Wrap
/// the answer in `cairn::catalog::ListedEntries` to hand it to `cairn::catalog::catalog`.
pub fn gather(registry: &SourceRegistry) -> Vec<CatalogEntry> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle.block_on(entries(registry)),
        Err(_) => match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime.block_on(entries(registry)),
            Err(err) => {
                tracing::warn!(%err, "no runtime to list the sources' tables");
                Vec::new()
            }
        },
    }
}
