//! Cairn's SQL surface: every collection a table of Apache DataFusion's catalog, scans pushed
//! into Cairn's planner, writes and transaction blocks through Cairn transactions.
//!
//! * [`types`]: how a collection looks as a table (columns from its declared or inferred
//!   schema); [`convert`]: documents to Arrow batches and back.
//! * [`pushdown`]: which SQL filters Cairn answers, exactly or as a narrowing.
//! * [`provider`], [`scan`], [`sink`]: the table provider, its streaming scan and its writes.
//! * [`functions`]: Cairn's models in SQL (pgvector's operators, geometry functions,
//!   full-text search), pushed into the access methods that serve them.
//! * [`catalog`]: the database as a DataFusion catalog; [`ddl`]: `CREATE TABLE/INDEX`, `DROP`;
//!   `ctas`: `CREATE TABLE … AS SELECT` in one transaction; [`lineage`]: what SQL
//!   derivations read, recorded with their rows.
//! * [`txn`]: the one Cairn transaction each statement runs in; [`session`]: statements in,
//!   results out, `BEGIN … COMMIT` as real Cairn transactions.
//! * [`source`]: external sources (PostgreSQL, SQLite, files) as catalogs `source.schema.table`.
//!
//! DataFusion is a dependency of this crate only: the query layer never sees it, and the
//! interfaces (the CLI's `cairn sql`, the PostgreSQL wire server) use it through this crate.

pub mod catalog;
pub mod convert;
mod ctas;
pub mod ddl;
mod error;
pub mod functions;
pub mod json;
pub mod limits;
pub mod lineage;
pub mod pg;
pub mod provider;
pub mod pushdown;
mod runtime_filter;
pub mod scan;
pub mod session;
pub mod sink;
pub mod source;
pub mod text;
pub mod txn;
pub mod types;

pub use error::{engine_sqlstate, Result, SqlError};
pub use session::{Kind, Output, SqlSession};
