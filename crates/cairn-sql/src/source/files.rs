//! File sources: a CSV or newline-delimited JSON file, or a folder of them read as one table,
//! through DataFusion's listing table (schema inferred from the files when a statement is
//! planned; filters and projection applied while reading).
//!
//! Parquet sources are refused when defined ([`PARQUET_UNSUPPORTED`]): DataFusion reads
//! Parquet (with row-group pruning) only with its `parquet` feature, which rebuilds every
//! DataFusion crate; turning it on is the whole change (`ParquetFormat` in [`table`]).

use std::path::Path;
use std::sync::Arc;

use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::file_format::json::JsonFormat;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::TableProvider;
use datafusion::prelude::SessionContext;

use super::{SourceDef, SourceError, SourceKind};

/// Why a Parquet source is refused (see the module's note).
pub const PARQUET_UNSUPPORTED: &str =
    "this build of Cairn has no Parquet reader in its SQL layer (DataFusion's `parquet` feature is off)";

/// The one schema of a file source.
pub const SCHEMA: &str = "public";

/// The table's name: the file's name without its extension, or the folder's name.
pub fn table_name(def: &SourceDef) -> String {
    let path = Path::new(def.path().trim_end_matches('/'));
    let stem = if path.is_dir() {
        path.file_name()
    } else {
        path.file_stem()
    };
    stem.map(|s| s.to_string_lossy().to_lowercase())
        .unwrap_or_else(|| def.name.clone())
}

/// Whether the file or folder exists: the health check.
pub fn ping(def: &SourceDef) -> Result<(), SourceError> {
    std::fs::metadata(def.path())
        .map(|_| ())
        .map_err(|e| def.unavailable(e))
}

/// The listing table of the source (schema inferred now from the files).
pub async fn table(def: &SourceDef) -> Result<Arc<dyn TableProvider>, SourceError> {
    ping(def)?;
    let (format, extension): (Arc<dyn FileFormat>, &str) = match def.kind {
        SourceKind::Csv => (Arc::new(CsvFormat::default().with_has_header(true)), ".csv"),
        SourceKind::Json => (Arc::new(JsonFormat::default()), ".json"),
        SourceKind::Parquet | SourceKind::Postgres | SourceKind::Sqlite => {
            return Err(def.unavailable("not a CSV or JSON source"));
        }
    };
    let path = def.path();
    let mut location = path.to_string();
    if Path::new(path).is_dir() && !location.ends_with('/') {
        location.push('/');
    }
    let url = ListingTableUrl::parse(&location).map_err(|e| def.unavailable(e))?;
    let options = ListingOptions::new(format).with_file_extension(extension);
    // Inference needs a session only for its object stores (the local file system).
    let state = SessionContext::new().state();
    let schema = options
        .infer_schema(&state, &url)
        .await
        .map_err(|e| def.unavailable(e))?;
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(schema);
    let table = ListingTable::try_new(config).map_err(|e| def.unavailable(e))?;
    Ok(Arc::new(table))
}
