//! Cairn's SQL surface: every collection a table of Apache DataFusion's catalog, scans pushed
//! into Cairn's planner, writes and transaction blocks through Cairn transactions.
//!
//! * `types.rs`: how a collection looks as a table (columns from its declared or inferred
//!   schema); `convert.rs`: documents to Arrow batches and back.
//! * `pushdown.rs`: which SQL filters Cairn answers, exactly or as a narrowing.
//! * `provider.rs`, `scan.rs`, `sink.rs`: the table provider, its streaming scan and its
//!   writes.
//! * `functions/`: Cairn's models in SQL (pgvector's operators, geometry functions,
//!   full-text search), pushed into the access methods that serve them.
//! * `catalog.rs`: the database as a DataFusion catalog; `ddl.rs`: `CREATE TABLE/INDEX`,
//!   `DROP`; `ctas.rs`: `CREATE TABLE … AS SELECT` in one transaction; `lineage.rs`: what SQL
//!   derivations read, recorded with their rows.
//! * `txn.rs`: the one Cairn transaction each statement runs in; `session.rs`: statements in,
//!   results out, `BEGIN … COMMIT` as real Cairn transactions ([`SqlSession`]).
//! * [`source`]: external sources (PostgreSQL, SQLite, files) as catalogs `source.schema.table`.
//! * [`pg`]: the PostgreSQL wire protocol server; [`text`]: results as psql-like text.
//!
//! DataFusion is a dependency of this crate only: the query layer never sees it, and the
//! interfaces (the CLI's `cairn sql`, the PostgreSQL wire server) use it through this crate.
//!
//! Surface: the items re-exported below, plus four public namespaces: [`pg`] (the wire server,
//! its configuration and the `PgUsers` seam the CLI implements), [`source`] (defining and
//! checking external sources), [`text`] (`run`, `rows`, `aligned` read well only qualified) and
//! [`limits`] (the named bounds, so callers can quote them). Every other module is private.

mod catalog;
mod convert;
mod ctas;
mod ddl;
mod error;
mod functions;
mod json;
pub mod limits;
mod lineage;
pub mod pg;
mod provider;
mod pushdown;
mod runtime_filter;
mod scan;
mod session;
mod sink;
pub mod source;
pub mod text;
mod txn;
mod types;

pub use error::{engine_sqlstate, Result, SqlError};
pub use session::{Kind, Output, SqlSession};
pub use txn::Authorizer;
