//! The aggregation pipeline: MongoDB-style stages over one snapshot of a collection.
//!
//! ```text
//! [{"$match": {"status": "paid"}},
//!  {"$group": {"_id": "$city", "total": {"$sum": "$amount"}, "n": {"$count": {}}}},
//!  {"$sort": {"total": -1}}, {"$limit": 10}]
//! ```
//!
//! Stages: `$match`, `$project`, `$addFields`/`$set`, `$group` (`$sum`, `$avg`, `$min`,
//! `$max`, `$count`, `$first`, `$last`, `$push`, `$addToSet`), `$sort`, `$skip`, `$limit`,
//! `$unwind`, `$count`, `$lookup` (equality form), `$replaceRoot`/`$replaceWith`, `$bucket`,
//! `$sortByCount`, `$facet` and `$bucketByTime` (downsampling into time buckets) (one file each). Build a [`Pipeline`] from JSON with
//! [`Pipeline::parse`] or in Rust with its builder methods, then run it with
//! [`Pipeline::run`]; [`aggregate`] does both.
//!
//! How it runs (see `run.rs`):
//!
//! * **One snapshot.** Everything, `$lookup`s included, reads one read-only transaction
//!   (`Database::read`), so results are consistent however long the pipeline runs.
//! * **Indexes.** Leading `$match` stages become the filter of the source scan
//!   ([`crate::find::for_each_match`]), so the planner answers them with indexes; a `$lookup`
//!   probes the foreign collection the same way, one filter per input document.
//! * **Streaming.** Other stages process one document at a time; `$group`, `$sort` and
//!   `$count`, `$bucket`, `$sortByCount` hold their input until the source is exhausted;
//!   `$facet` streams each document into every sub-pipeline. `$sort` followed by `$limit`
//!   keeps only the top documents.
//! * **Memory is bounded, not spilled.** `$sort` accounts approximate bytes against
//!   [`crate::limits::MAX_SORT_BYTES`]; `$group` (keys, accumulator state, `$push` and
//!   `$addToSet` arrays) and `$lookup` (joined arrays, and documents waiting while the source
//!   scan holds the snapshot) against [`crate::limits::MAX_GROUP_BYTES`]. Past a limit the
//!   pipeline fails with [`QueryError::TooLarge`] naming the stage and what to change; there is
//!   no spilling to disk, which keeps the executor simple and its cost predictable. The result
//!   is capped at [`crate::limits::MAX_RESULT_DOCUMENTS`] documents.
//! * **Time is bounded.** The whole pipeline shares one budget
//!   ([`crate::limits::DEFAULT_TIME_BUDGET`] unless set with [`Pipeline::time_budget`]).
//!
//! Differences from MongoDB worth knowing: expressions are limited to field references,
//! `$$ROOT`, `{"$literal": v}` and objects/arrays of those; a numeric path segment indexes an
//! array (`"$tags.0"`), as everywhere in Cairn; `$group` outputs groups in key order; a
//! `$lookup` whose local field is an empty array matches nothing.

mod bucket;
mod bucket_by_time;
mod explain;
mod expr;
mod facet;
mod graph_lookup;
mod group;
mod lookup;
mod memory;
mod parse;
mod project;
mod replace_root;
mod run;
mod sort;
mod sort_by_count;
mod stage;
#[cfg(test)]
mod tests;

use std::time::Duration;

use cairn_doc::Value;
use cairn_engine::Database;

use crate::error::{QueryError, Result};
use crate::filter::Filter;
use crate::limits::{DEFAULT_TIME_BUDGET, MAX_PIPELINE_STAGES};
use crate::query::SortKey;

pub use bucket::Bucket;
pub use explain::{PipelineExplain, QueriesExplain, StageExplain};
pub use expr::Expr;
pub use facet::Facet;
pub use graph_lookup::GraphLookup;
pub use group::{Accumulator, AccumulatorOp, Group};
pub use lookup::Lookup;
pub use project::{AddFields, Project};
pub use replace_root::ReplaceRoot;
pub use sort_by_count::SortByCount;
pub use stage::{Stage, Unwind};

/// A parsed pipeline: stages and a time budget.
#[derive(Debug, Clone)]
pub struct Pipeline {
    stages: Vec<Stage>,
    time_budget: Duration,
}

impl Default for Pipeline {
    fn default() -> Pipeline {
        Pipeline::new()
    }
}

impl Pipeline {
    /// An empty pipeline (it returns every document); add stages with the builder methods.
    pub fn new() -> Pipeline {
        Pipeline {
            stages: Vec::new(),
            time_budget: DEFAULT_TIME_BUDGET,
        }
    }

    /// Parses a JSON array of stage objects, e.g. from `Value::from_json_expression`.
    /// Errors name the stage and field (`pipeline[2].$group.total`).
    pub fn parse(json: &Value) -> Result<Pipeline> {
        Ok(Pipeline {
            stages: parse::parse_pipeline(json)?,
            time_budget: DEFAULT_TIME_BUDGET,
        })
    }

    /// The stages, in order.
    pub fn stages(&self) -> &[Stage] {
        &self.stages
    }

    /// The collections other than the source that the pipeline reads (`$lookup`'s and
    /// `$graphLookup`'s `from`, inside `$facet` sub-pipelines too), for access checks.
    pub fn foreign_collections(&self) -> Vec<&str> {
        self.stages
            .iter()
            .flat_map(Stage::foreign_collections)
            .collect()
    }

    /// Builder: appends a stage.
    pub fn stage(mut self, stage: Stage) -> Pipeline {
        self.stages.push(stage);
        self
    }

    /// Builder: appends a stage written as JSON (`{"$project": {..}}`).
    pub fn json_stage(self, json: &Value) -> Result<Pipeline> {
        let at = format!("pipeline[{}]", self.stages.len());
        Ok(self.stage(parse::parse_stage(json, &at)?))
    }

    /// Builder: `$match`.
    pub fn filter(self, filter: Filter) -> Pipeline {
        self.stage(Stage::Match(filter))
    }

    /// Builder: `$group`.
    pub fn group(self, group: Group) -> Pipeline {
        self.stage(Stage::Group(group))
    }

    /// Builder: `$sort` (e.g. keys from [`crate::query::parse_sort`]).
    pub fn sort(self, keys: Vec<SortKey>) -> Pipeline {
        self.stage(Stage::Sort(keys))
    }

    /// Builder: `$skip`.
    pub fn skip(self, n: usize) -> Pipeline {
        self.stage(Stage::Skip(n))
    }

    /// Builder: `$limit`.
    pub fn limit(self, n: usize) -> Pipeline {
        self.stage(Stage::Limit(n))
    }

    /// Builder: `$unwind`.
    pub fn unwind(self, unwind: Unwind) -> Pipeline {
        self.stage(Stage::Unwind(unwind))
    }

    /// Builder: `$lookup`.
    pub fn lookup(self, lookup: Lookup) -> Pipeline {
        self.stage(Stage::Lookup(lookup))
    }

    /// Builder: `$count` into the field `name`.
    pub fn count(self, name: &str) -> Result<Pipeline> {
        stage::check_output_name(name, "$count")?;
        Ok(self.stage(Stage::Count(name.to_owned())))
    }

    /// Builder: the time budget of a run (default [`DEFAULT_TIME_BUDGET`]).
    pub fn time_budget(mut self, budget: Duration) -> Pipeline {
        self.time_budget = budget;
        self
    }

    /// Runs the pipeline over `collection` in one snapshot of `db`.
    pub fn run(&self, db: &Database, collection: &str) -> Result<Vec<Value>> {
        self.run_observed(db, collection).map(|(output, _)| output)
    }

    /// [`Pipeline::run`], also saying what reading the source collection did and under which
    /// plan (leading `$match` stages are answered with indexes): for the query statistics.
    pub fn run_observed(
        &self,
        db: &Database,
        collection: &str,
    ) -> Result<(Vec<Value>, crate::find::Observed)> {
        self.check_length()?;
        run::run(db, collection, &self.stages, self.time_budget)
    }

    /// Runs the pipeline like [`Pipeline::run`] and reports how: the source query's plan and
    /// counters, and each `$lookup`/`$graphLookup` stage's plans (the adjacency index, a
    /// secondary index or a scan) with their summed counters.
    pub fn explain(&self, db: &Database, collection: &str) -> Result<PipelineExplain> {
        self.check_length()?;
        run::run_explained(db, collection, &self.stages, self.time_budget)
            .map(|(_, explain, _)| explain)
    }

    fn check_length(&self) -> Result<()> {
        if self.stages.len() > MAX_PIPELINE_STAGES {
            return Err(QueryError::invalid(
                "pipeline",
                format!(
                    "{} stages; the limit is {MAX_PIPELINE_STAGES}",
                    self.stages.len()
                ),
            ));
        }
        Ok(())
    }
}

/// Parses and runs `pipeline` (a JSON array of stages) over `collection`.
pub fn aggregate(db: &Database, collection: &str, pipeline: &Value) -> Result<Vec<Value>> {
    Pipeline::parse(pipeline)?.run(db, collection)
}
