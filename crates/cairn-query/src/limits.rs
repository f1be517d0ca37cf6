//! Limits of the query layer, each a bound on something a query could make grow.

use std::time::Duration;

/// Nesting depth of a filter (`$and`/`$or`/`$not`/`$elemMatch` levels).
pub const MAX_FILTER_DEPTH: usize = 20;
/// Values in one `$in`/`$nin`/`$all` list.
pub const MAX_IN_LIST: usize = 10_000;
/// Bytes of a `$regex` pattern.
pub const MAX_REGEX_PATTERN_BYTES: usize = 1024;
/// Compiled size of a `$regex` (the regex crate's own limit), so hostile patterns fail fast.
pub const MAX_REGEX_COMPILED_BYTES: usize = 1 << 20;
/// Sort keys in one sort specification.
pub const MAX_SORT_FIELDS: usize = 16;
/// Documents one `find` returns at once; page with a cursor for more.
pub const MAX_RESULT_DOCUMENTS: usize = 100_000;
/// Memory a sort (or `$sort` stage) may buffer. A larger sort fails with a clear error
/// (add an index on the sort field, or a limit); it does not spill.
pub const MAX_SORT_BYTES: usize = 256 * 1024 * 1024;
/// Distinct documents of one collection changed since an "as of" point that one as-of read
/// holds (their versions at that point are kept in memory over the present snapshot); an
/// older point fails with a clear error instead of growing without bound.
pub const MAX_AS_OF_CHANGED_DOCUMENTS: usize = 1_000_000;
/// Default time budget of one query.
pub const DEFAULT_TIME_BUDGET: Duration = Duration::from_secs(30);
/// Entries the planner counts in an index range to estimate it exactly; past this it uses
/// the index histogram.
pub const PROBE_CAP: u64 = 256;
/// Largest `k` of a ranking condition (`$near`...): the best documents are collected (and
/// sorted) in memory, and they are one page of results.
pub const MAX_NEAR_K: usize = 10_000;
/// Documents examined between time-budget checks.
pub const BUDGET_CHECK_INTERVAL: u64 = 256;
/// Stages in one aggregation pipeline. Real pipelines have a handful; the cap keeps parsing,
/// per-document work and nesting of computed values (each stage can wrap a value once more)
/// bounded.
pub const MAX_PIPELINE_STAGES: usize = 100;
/// Memory a `$group` stage may hold (keys, accumulator state, `$push`/`$addToSet` arrays), and
/// memory a `$lookup` may hold (one document's joined array, or the documents buffered before
/// the first `$lookup` while the source scan holds the snapshot). Larger fails with a clear
/// error rather than spilling to disk: narrow the input with `$match` first.
pub const MAX_GROUP_BYTES: usize = 256 * 1024 * 1024;
/// Boundaries of one `$bucket` stage. Each document is placed by a binary search over them, so
/// the cost is their logarithm; the bound keeps a hostile spec from holding megabytes of them.
pub const MAX_BUCKET_BOUNDARIES: usize = 10_000;
/// Bytes of the one document a `$facet` stage outputs (its sub-pipelines' results together):
/// MongoDB's document limit, and Cairn's ([`cairn_doc::limits::MAX_DOCUMENT_BYTES`]), so the
/// result can be stored. Larger fails naming the stage: add `$limit` inside the sub-pipelines.
pub const MAX_FACET_OUTPUT_BYTES: usize = cairn_doc::limits::MAX_DOCUMENT_BYTES;
/// Nesting depth of a computed expression (objects and arrays of field references inside a
/// `$project`, `$addFields` or `$group` `_id`), so hostile specs cannot recurse without bound.
pub const MAX_EXPRESSION_DEPTH: usize = 32;

/// Documents one bulk call may match (and so touch): 100,000, the engine's limit on
/// operations in one transaction ([`MAX_TXN_OPS`]), since each touched document is one
/// operation of the call's single transaction. Memory is bounded with it: only the matching
/// documents' keys are held between finding and writing. A call matching more fails with
/// [`QueryError::TooLarge`] before writing anything; split the work by `_id` ranges.
///
/// [`MAX_TXN_OPS`]: cairn_engine::limits::MAX_TXN_OPS
/// [`QueryError::TooLarge`]: crate::QueryError::TooLarge
pub const MAX_BULK_DOCUMENTS: usize = cairn_engine::limits::MAX_TXN_OPS;

/// Bytes one `$graphLookup` search (for one input document) may hold: the documents found and
/// the values searched. MongoDB's limit is 100 MiB; past it the search fails naming the stage
/// rather than growing without bound (set `maxDepth` or `restrictSearchWithMatch`).
pub const MAX_GRAPH_LOOKUP_BYTES: usize = 100 * 1024 * 1024;
/// Query shapes the statistics keep (`statistics::QueryStats`): 1,000, about 1 MiB with their
/// time histograms. A new shape beyond it evicts the least-run one (the count of evictions is
/// reported), as `pg_stat_statements.max` does.
pub const MAX_QUERY_SHAPES: usize = 1_000;
/// Entries of the slow-query log: the newest 100.
pub const MAX_SLOW_QUERIES: usize = 100;
/// Bytes of a shape's filter, sort or plan text kept by the statistics: longer ones are cut
/// (marked with `…`), so a huge filter cannot make one shape large.
pub const MAX_SHAPE_TEXT_BYTES: usize = 2_048;
