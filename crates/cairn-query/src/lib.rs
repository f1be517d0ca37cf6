//! Cairn's query layer: the filter language, the planner, the executor and the aggregation
//! pipeline, over the engine's snapshots and whatever index kinds are registered (it names no
//! model: models plug in through [`access`]).
//!
//! * `filter/`: the predicate tree ([`Filter`]), its JSON parser ([`parse_filter`]) and
//!   evaluator (semantics in `filter/semantics.md`).
//! * `query.rs` and `projection.rs`: sort, skip, limit, projection, cursors.
//! * [`access`]: the access-method seam through which every index kind (B-tree and hash
//!   built in, spatial from `cairn-geo`, ...) and its operators plug in; `ranked.rs`: "order
//!   by distance or score, then limit", shared by every ranking operator.
//! * `plan.rs`: access paths and their costs; `primary_key.rs`: the `_id` access path.
//! * `exec.rs`: running a plan over one snapshot, under a time budget; [`cancel`]: stopping
//!   it early when its caller has left.
//! * `find.rs`: [`find()`], [`count()`], [`distinct()`], [`explain()`].
//! * `as_of.rs`: time travel, reads as of an earlier commit from the change log.
//! * `bulk.rs`: [`update_many`] and [`delete_many`], atomic, with dry runs.
//! * `statistics.rs`: per-shape query statistics and the slow-query log ([`QueryStats`]), fed
//!   by the caller.
//! * [`aggregate`](mod@aggregate): the pipeline (`$match`, `$project`, `$group`, `$sort`,
//!   `$unwind`, `$lookup`...) over one snapshot, leading `$match` stages answered by indexes,
//!   memory and time bounded; [`aggregate()`] parses and runs one, [`Pipeline`] is the parsed
//!   (or built) form.
//!
//! # Surface
//!
//! The items re-exported below, plus four public namespaces: [`access`] (the seam a model
//! implements: traits, costs, helpers), [`aggregate`](mod@aggregate) (the pipeline's stage
//! types, for callers that build a pipeline rather than parse one), [`cancel`] (`scope` and
//! `is_cancelled` read well only qualified) and [`limits`] (the named bounds, so callers can
//! quote them). Every other module is private.

pub mod access;
pub mod aggregate;
mod as_of;
mod bulk;
pub mod cancel;
mod error;
mod exec;
mod filter;
mod find;
mod index_only;
mod key_bounds;
pub mod limits;
mod plan;
mod primary_key;
mod projection;
mod query;
mod ranked;
mod statistics;

pub use aggregate::{aggregate, Pipeline};
pub use as_of::{count_as_of, distinct_as_of, find_as_of, get_as_of, resolve_as_of, AsOf};
pub use bulk::{delete_many, delete_many_in, update_many, update_many_in, BulkOptions, BulkReport};
pub use error::{QueryError, Result};
pub use exec::ExecStats;
pub use filter::{parse_filter, ElemCondition, FieldBuilder, Filter, Op, DOCUMENT_LEVEL_PATH};
pub use find::{
    answers_under_every_plan, count, count_observed, distinct, distinct_observed, explain, find,
    find_in, find_under_every_plan, find_under_every_plan_in, for_each_match,
    for_each_match_observed, Explain, FindResult, Observed, PlanAnswers, PlanLine,
    COUNT_FROM_METADATA,
};
pub use plan::{plan, Candidate, PlanInput};
pub use projection::Projection;
pub use query::{parse_sort, sort_key, sort_value, Query, SortKey};
pub use ranked::{ranked_of, RankedCondition};
pub use statistics::{shape_of, Observation, QueryStats, ShapeSummary, SlowQuery, StatsSnapshot};
