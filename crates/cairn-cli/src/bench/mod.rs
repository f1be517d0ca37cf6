//! Benchmarks that run Cairn side by side with a reference system on the same data, in one run,
//! and print both figures with their ratio. Each benchmark documents its workload at the top of
//! its module.

pub mod cluster;
pub mod core;
pub mod federation;
pub mod geo;
pub mod graph;
pub mod http;
pub mod invariant;
pub mod limits;
pub mod pg_cluster;
pub mod query;
pub mod schema;
pub mod sql;
pub mod storage;
pub mod text;
pub mod timeseries;
pub mod vector;
