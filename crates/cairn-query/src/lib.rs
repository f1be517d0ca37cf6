//! Cairn's query layer: the filter language, the planner, the executor and the aggregation
//! pipeline, over the engine's snapshots and whatever index kinds are registered (it names no
//! model: models plug in through [`access`]).
//!
//! * [`filter`]: the predicate tree, its JSON parser and evaluator (semantics in
//!   `filter/semantics.md`).
//! * [`query`] and [`projection`]: sort, skip, limit, projection, cursors.
//! * [`access`]: the access-method seam through which every index kind (B-tree and hash
//!   built in, spatial from `cairn-geo`, ...) and its operators plug in; [`ranked`]: "order by
//!   distance or score, then limit", shared by every ranking operator.
//! * [`plan`]: access paths and their costs; [`primary_key`]: the `_id` access path.
//! * [`exec`]: running a plan over one snapshot, under a time budget; [`cancel`]: stopping it
//!   early when its caller has left.
//! * [`find`]: `find`, `count`, `distinct`, `explain`.
//! * [`as_of`](mod@as_of): time travel, reads as of an earlier commit from the change log.
//! * [`bulk`]: `update_many` and `delete_many`, atomic, with dry runs.
//! * [`statistics`]: per-shape query statistics and the slow-query log, fed by the caller.
//! * [`aggregate`](mod@aggregate): the pipeline (`$match`, `$project`, `$group`, `$sort`,
//!   `$unwind`, `$lookup`...) over one snapshot, leading `$match` stages answered by indexes,
//!   memory and time bounded; [`aggregate()`] parses and runs one, [`Pipeline`] is the parsed
//!   (or built) form.

pub mod access;
pub mod aggregate;
pub mod as_of;
pub mod bulk;
pub mod cancel;
mod error;
pub mod exec;
pub mod filter;
pub mod find;
mod index_only;
mod key_bounds;
pub mod limits;
pub mod plan;
pub mod primary_key;
pub mod projection;
pub mod query;
pub mod ranked;
pub mod statistics;

pub use aggregate::{aggregate, Pipeline};
pub use as_of::{count_as_of, distinct_as_of, find_as_of, get_as_of, resolve_as_of, AsOf};
pub use bulk::{delete_many, update_many, BulkOptions, BulkReport};
pub use error::{QueryError, Result};
pub use filter::{Filter, Op, DOCUMENT_LEVEL_PATH};
pub use find::{count, distinct, explain, find, find_in, for_each_match, Explain, FindResult};
pub use projection::Projection;
pub use query::{parse_sort, Query, SortKey};
