//! Cairn's query layer: the filter language, the planner, the executor and the aggregation
//! pipeline, over the engine's snapshots and the indexes of `cairn-index`.
//!
//! * [`filter`]: the predicate tree, its JSON parser and evaluator (semantics in
//!   `filter/semantics.md`).
//! * [`query`] and [`projection`]: sort, skip, limit, projection, cursors.
//! * [`plan`]: access paths and their costs.
//! * [`exec`]: running a plan over one snapshot, under a time budget.
//! * [`find`]: `find`, `count`, `distinct`, `explain`.
//! * [`aggregate`](mod@aggregate): the pipeline (`$match`, `$project`, `$group`, `$sort`,
//!   `$unwind`, `$lookup`...) over one snapshot, leading `$match` stages answered by indexes,
//!   memory and time bounded; [`aggregate()`] parses and runs one, [`Pipeline`] is the parsed
//!   (or built) form.

pub mod aggregate;
mod error;
pub mod exec;
pub mod filter;
pub mod find;
pub mod limits;
pub mod near;
pub mod plan;
pub mod projection;
pub mod query;

pub use aggregate::{aggregate, Pipeline};
pub use error::{QueryError, Result};
pub use filter::{Filter, Op};
pub use find::{count, distinct, explain, find, find_in, for_each_match, Explain, FindResult};
pub use projection::Projection;
pub use query::{parse_sort, Query, SortKey};
