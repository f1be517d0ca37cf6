//! `find`, `count`, `distinct` and `explain`: queries over one snapshot.

use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use cairn_doc::{FieldPath, Value};
use cairn_engine::{Database, Transaction};
use cairn_index::{keys, path_values};

use crate::access::{access_methods, AccessMethod};
use crate::error::{QueryError, Result};
use crate::exec::{ExecStats, Executor};
use crate::filter::Filter;
use crate::limits::{MAX_RESULT_DOCUMENTS, MAX_SORT_BYTES};
use crate::plan::{plan, Access, Candidate, PlanInput};
use crate::query::{sort_key, Query, SortKey};
use crate::ranked::{ranked_of, run_ranked, with_rank, RankedCondition};

/// One page of a query's results.
#[derive(Debug, Clone)]
pub struct FindResult {
    /// The documents, in order, projected.
    pub documents: Vec<Value>,
    /// Pass to [`Query::after`] for the next page; `None` when this page ends the results.
    pub cursor: Option<String>,
    /// What the execution did.
    pub stats: ExecStats,
    /// The plan that ran, as `explain` describes it (`full scan`, `index by_age [18, +inf)`).
    pub plan: String,
}

/// A query plan as `explain` shows it.
#[derive(Debug, Clone)]
pub struct Explain {
    /// The chosen plan.
    pub chosen: PlanLine,
    /// Every plan considered, cheapest first (the chosen one included).
    pub considered: Vec<PlanLine>,
    /// What running the chosen plan did.
    pub executed: ExecStats,
    /// Documents returned.
    pub returned: u64,
    /// Wall time of the execution, microseconds.
    pub elapsed_us: u64,
}

/// One plan in `explain`.
#[derive(Debug, Clone)]
pub struct PlanLine {
    /// What it does.
    pub description: String,
    /// Estimated documents read.
    pub estimated_rows: f64,
    /// Estimated cost.
    pub cost: f64,
}

impl Explain {
    /// As a JSON-like value.
    pub fn to_value(&self) -> Value {
        let line = |p: &PlanLine| {
            let mut o = cairn_doc::Object::new();
            o.insert("plan", Value::String(p.description.clone()));
            o.insert("estimated_rows", Value::Float(p.estimated_rows.round()));
            o.insert("cost", Value::Float((p.cost * 10.0).round() / 10.0));
            Value::Object(o)
        };
        let mut o = cairn_doc::Object::new();
        o.insert("chosen", line(&self.chosen));
        o.insert(
            "considered",
            Value::Array(self.considered.iter().map(line).collect()),
        );
        let mut ex = cairn_doc::Object::new();
        let e = &self.executed;
        for (name, count) in [
            ("keys_examined", e.keys_examined),
            ("docs_examined", e.docs_examined),
        ]
        .into_iter()
        .chain(e.counters.iter().copied())
        {
            ex.insert(name, Value::Int(count as i64));
        }
        ex.insert("returned", Value::Int(self.returned as i64));
        ex.insert("elapsed_us", Value::Int(self.elapsed_us as i64));
        o.insert("executed", Value::Object(ex));
        Value::Object(o)
    }
}

/// Runs a query on the latest committed state (one snapshot; writers are never blocked).
pub fn find(db: &Database, collection: &str, query: &Query) -> Result<FindResult> {
    let mut txn = db.read()?;
    find_in(&mut txn, collection, query)
}

/// Runs a query inside a transaction (seeing its own writes; reads are conflict-checked if
/// the transaction writes).
pub fn find_in(txn: &mut Transaction, collection: &str, query: &Query) -> Result<FindResult> {
    let indexes = access_methods(txn, collection, &query.filter)?;
    let chosen = choose(txn, collection, &indexes, query)?;
    run(txn, collection, &indexes, query, &chosen)
}

/// Plans and runs a query, returning the plan choice, the alternatives and what ran.
pub fn explain(db: &Database, collection: &str, query: &Query) -> Result<Explain> {
    let mut txn = db.read()?;
    let indexes = access_methods(&mut txn, collection, &query.filter)?;
    let candidates = candidates(&mut txn, collection, &indexes, query)?;
    let chosen = candidates
        .first()
        .cloned()
        .ok_or_else(|| QueryError::invalid("plan", "no plan"))?;
    let started = Instant::now();
    let line = |c: &Candidate| PlanLine {
        description: c.access.describe(),
        estimated_rows: c.estimated_rows,
        cost: c.cost,
    };
    let mut chosen_line = line(&chosen);
    if let Some(source) = crate::access::source(&mut txn, collection)? {
        chosen_line.description = source.describe();
    }
    let result = match ranked_of(&query.filter)? {
        Some(ranked) => {
            let (result, description) =
                run_ranked_query(&mut txn, collection, &indexes, query, &ranked)?;
            chosen_line.description = description;
            result
        }
        None => run(&mut txn, collection, &indexes, query, &chosen)?,
    };
    Ok(Explain {
        chosen: chosen_line,
        considered: candidates.iter().map(line).collect(),
        executed: result.stats,
        returned: result.documents.len() as u64,
        elapsed_us: started.elapsed().as_micros() as u64,
    })
}

/// What a `count`, `distinct` or pipeline read did, for the query statistics (`find` and
/// `explain` carry the same figures in their own results).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// What the execution read and matched.
    pub stats: ExecStats,
    /// The plan that ran, as `explain` describes it.
    pub plan: String,
}

/// The plan description of a count answered from the collection's document count, which
/// reads no document.
pub const COUNT_FROM_METADATA: &str = "collection document count";

/// Counts the documents matching `filter`.
pub fn count(db: &Database, collection: &str, filter: &Filter) -> Result<u64> {
    count_observed(db, collection, filter).map(|(n, _)| n)
}

/// [`count`], also saying what it read and under which plan (for the query statistics).
pub fn count_observed(db: &Database, collection: &str, filter: &Filter) -> Result<(u64, Observed)> {
    let mut txn = db.read()?;
    // A model's source (time series) has no stored documents to count.
    if matches!(filter, Filter::All) && crate::access::source(&mut txn, collection)?.is_none() {
        let n = txn.document_count(collection)?;
        let stats = ExecStats {
            matched: n,
            ..ExecStats::default()
        };
        let plan = COUNT_FROM_METADATA.to_string();
        return Ok((n, Observed { stats, plan }));
    }
    let indexes = access_methods(&mut txn, collection, filter)?;
    let query = Query::new(filter.clone());
    let chosen = choose(&mut txn, collection, &indexes, &query)?;
    count_with(&mut txn, collection, &indexes, &query, &chosen)
}

fn count_with(
    txn: &mut Transaction,
    collection: &str,
    indexes: &[Arc<dyn AccessMethod>],
    query: &Query,
    chosen: &Candidate,
) -> Result<(u64, Observed)> {
    if ranked_of(&query.filter)?.is_none() {
        let mut executor = executor(txn, collection, query)?;
        if let Some(found) = executor.count_from_keys(&chosen.access)? {
            let plan = describe(&executor, chosen);
            return Ok((
                found,
                Observed {
                    stats: executor.stats,
                    plan,
                },
            ));
        }
    }
    let mut n = 0u64;
    let observed = each_match(txn, collection, indexes, query, chosen, &mut |_, _| {
        n += 1;
        Ok(true)
    })?;
    Ok((n, observed))
}

/// The distinct values of `field` among documents matching `filter` (array elements count
/// separately), in the total value order.
pub fn distinct(
    db: &Database,
    collection: &str,
    field: &str,
    filter: &Filter,
) -> Result<Vec<Value>> {
    distinct_observed(db, collection, field, filter).map(|(values, _)| values)
}

/// [`distinct`], also saying what it read and under which plan (for the query statistics).
pub fn distinct_observed(
    db: &Database,
    collection: &str,
    field: &str,
    filter: &Filter,
) -> Result<(Vec<Value>, Observed)> {
    let path =
        FieldPath::parse(field).map_err(|err| QueryError::invalid(field, err.to_string()))?;
    let mut txn = db.read()?;
    let indexes = access_methods(&mut txn, collection, filter)?;
    let query = Query::new(filter.clone());
    let chosen = choose(&mut txn, collection, &indexes, &query)?;
    distinct_with(&mut txn, collection, &indexes, &query, &chosen, &path)
}

fn distinct_with(
    txn: &mut Transaction,
    collection: &str,
    indexes: &[Arc<dyn AccessMethod>],
    query: &Query,
    chosen: &Candidate,
    path: &FieldPath,
) -> Result<(Vec<Value>, Observed)> {
    let mut values = DistinctValues::default();
    let observed = each_match(txn, collection, indexes, query, chosen, &mut |_, doc| {
        values.add(path, &doc)?;
        Ok(true)
    })?;
    Ok((values.into_values(), observed))
}

/// The distinct values of one field, gathered document by document (an array contributes
/// its elements), in the value order, bounded by [`MAX_SORT_BYTES`]. Shared by `distinct`
/// and its "as of" form so both answer alike.
#[derive(Default)]
pub(crate) struct DistinctValues {
    seen: std::collections::BTreeMap<Vec<u8>, Value>,
    bytes: usize,
}

impl DistinctValues {
    /// Adds the values `path` reaches in `doc`.
    pub(crate) fn add(&mut self, path: &FieldPath, doc: &Value) -> Result<()> {
        let mut reached = Vec::new();
        path_values::collect(path, doc, &mut reached);
        for value in &reached {
            let items: Vec<&Value> = match value {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            for item in items {
                let key = keys::encode_to_vec(item);
                self.bytes += key.len();
                self.seen.entry(key).or_insert_with(|| item.clone());
            }
        }
        if self.bytes > MAX_SORT_BYTES {
            return Err(QueryError::TooLarge {
                what: "distinct values",
                limit: MAX_SORT_BYTES as u64,
                hint: "narrow the filter",
            });
        }
        Ok(())
    }

    /// The values, in order.
    pub(crate) fn into_values(self) -> Vec<Value> {
        self.seen.into_values().collect()
    }
}

/// Hands every document matching `query`'s filter to `emit` (in no particular order) until
/// it returns false: under plan `chosen`, or, when the filter holds a ranking condition
/// (`$near`), only its `k` best. `count`, `distinct` and `for_each_match` all go through here, so none of them
/// can forget `k`.
fn each_match(
    txn: &mut Transaction,
    collection: &str,
    indexes: &[Arc<dyn AccessMethod>],
    query: &Query,
    chosen: &Candidate,
    emit: &mut dyn FnMut(&[u8], Value) -> Result<bool>,
) -> Result<Observed> {
    let mut executor = executor(txn, collection, query)?;
    if let Some(ranked) = ranked_of(&query.filter)? {
        let found = run_ranked(&mut executor, indexes, &ranked)?;
        // Documents go on unchanged (no rank field): callers such as bulk updates write
        // back what they receive.
        for row in found.rows {
            if !emit(&row.key, row.doc)? {
                break;
            }
        }
    } else {
        executor.run(&chosen.access, None, emit)?;
    }
    let plan = describe(&executor, chosen);
    Ok(Observed {
        stats: executor.stats,
        plan,
    })
}

/// The plan as `explain` names it: the model's source when it keeps the documents (time
/// series), else the chosen access.
fn describe(executor: &Executor<'_>, chosen: &Candidate) -> String {
    match &executor.source {
        Some(source) => source.describe(),
        None => chosen.access.describe(),
    }
}

fn needed(query: &Query) -> Option<usize> {
    query.limit.map(|l| l.saturating_add(query.skip))
}

fn candidates(
    txn: &mut Transaction,
    collection: &str,
    indexes: &[Arc<dyn AccessMethod>],
    query: &Query,
) -> Result<Vec<Candidate>> {
    let input = PlanInput {
        filter: &query.filter,
        sort: &query.sort,
        needed: needed(query),
    };
    plan(txn, collection, indexes, &input)
}

fn choose(
    txn: &mut Transaction,
    collection: &str,
    indexes: &[Arc<dyn AccessMethod>],
    query: &Query,
) -> Result<Candidate> {
    candidates(txn, collection, indexes, query)?
        .into_iter()
        .next()
        .ok_or_else(|| QueryError::invalid("plan", "no plan"))
}

fn executor<'a>(
    txn: &'a mut Transaction,
    collection: &'a str,
    query: &'a Query,
) -> Result<Executor<'a>> {
    let source = crate::access::source(txn, collection)?;
    Ok(Executor {
        source,
        txn,
        collection,
        filter: &query.filter,
        started: Instant::now(),
        budget: query.time_budget,
        stats: ExecStats::default(),
        ids_only: query.sort.is_empty()
            && query.projection.as_ref().is_some_and(|p| p.keeps_only_id()),
    })
}

/// Cursor bytes: a format byte, a fingerprint of the sort, then the last sort key returned.
const CURSOR_FORMAT: u8 = 1;

fn sort_fingerprint(sort: &[SortKey]) -> [u8; 8] {
    let text: String = sort
        .iter()
        .map(|k| format!("{}:{};", k.path, if k.descending { -1 } else { 1 }))
        .collect();
    // The index layer's stable 64-bit hash; any change of sort gives another fingerprint.
    cairn_index::hash_tuple(text.as_bytes()).to_be_bytes()
}

fn encode_cursor(sort: &[SortKey], key: &[u8]) -> String {
    let mut bytes = vec![CURSOR_FORMAT];
    bytes.extend_from_slice(&sort_fingerprint(sort));
    bytes.extend_from_slice(key);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn decode_cursor(sort: &[SortKey], cursor: &str) -> Result<Vec<u8>> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| QueryError::InvalidCursor("not a cursor returned by Cairn".into()))?;
    if bytes.first() != Some(&CURSOR_FORMAT) || bytes.len() < 9 {
        return Err(QueryError::InvalidCursor("unknown cursor format".into()));
    }
    if bytes[1..9] != sort_fingerprint(sort) {
        return Err(QueryError::InvalidCursor(
            "the cursor belongs to a query with a different sort".into(),
        ));
    }
    Ok(bytes[9..].to_vec())
}

/// Runs the chosen plan and assembles the page.
fn run(
    txn: &mut Transaction,
    collection: &str,
    indexes: &[Arc<dyn AccessMethod>],
    query: &Query,
    chosen: &Candidate,
) -> Result<FindResult> {
    if let Some(ranked) = ranked_of(&query.filter)? {
        return Ok(run_ranked_query(txn, collection, indexes, query, &ranked)?.0);
    }
    let after = query
        .after
        .as_deref()
        .map(|c| decode_cursor(&query.sort, c))
        .transpose()?;
    let page = query
        .limit
        .unwrap_or(MAX_RESULT_DOCUMENTS)
        .min(MAX_RESULT_DOCUMENTS);
    // Collect one more than the page to know whether another page exists.
    let want = query.skip.saturating_add(page).saturating_add(1);
    // Sized from the plan's estimate, so the buffer is not regrown (and its old copies freed)
    // as rows arrive; capped, as an estimate may be far off.
    let expected = (chosen.estimated_rows.max(0.0) as usize)
        .saturating_add(1)
        .min(want)
        .min(RESERVED_ROWS_MAX);
    let mut rows: Vec<(Vec<u8>, Value)> = Vec::with_capacity(expected);
    let mut bytes = 0usize;
    let mut key = Vec::new();
    let mut executor = executor(txn, collection, query)?;
    {
        let mut emit = |doc_key: &[u8], doc: Value| -> Result<bool> {
            key.clear();
            sort_key(&query.sort, &doc, doc_key, &mut key);
            if after
                .as_ref()
                .is_some_and(|a| key.as_slice() <= a.as_slice())
            {
                return Ok(true);
            }
            bytes += key.len() + 64;
            rows.push((key.clone(), doc));
            if chosen.ordered {
                return Ok(rows.len() < want);
            }
            if rows.len() >= want.saturating_mul(2).max(1024) {
                // Keep only the best `want` rows: memory stays proportional to the page.
                rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                rows.truncate(want);
                bytes = rows.iter().map(|r| r.0.len() + 64).sum();
            }
            if bytes > MAX_SORT_BYTES {
                return Err(QueryError::TooLarge {
                    what: "sort buffer",
                    limit: MAX_SORT_BYTES as u64,
                    hint: "add an index on the sort fields, a limit, or a narrower filter",
                });
            }
            Ok(true)
        };
        let start_after = match (&chosen.access, query.sort.is_empty(), &after) {
            (Access::FullScan | Access::PrimaryKey(_), true, Some(a)) => Some(a.as_slice()),
            _ => None,
        };
        if chosen.ordered && matches!(chosen.access, Access::Index { .. }) {
            executor.run_ordered(&chosen.access, &mut emit)?;
        } else {
            executor.run(&chosen.access, start_after, &mut emit)?;
        }
    }
    let plan = describe(&executor, chosen);
    let stats = executor.stats;
    if !chosen.ordered {
        rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    }
    let has_more = rows.len() > query.skip.saturating_add(page);
    let page_rows: Vec<(Vec<u8>, Value)> = rows.into_iter().skip(query.skip).take(page).collect();
    let cursor = if has_more {
        page_rows.last().map(|(k, _)| encode_cursor(&query.sort, k))
    } else {
        None
    };
    let (documents, cursor) = project_page(query, page_rows, cursor)?;
    Ok(FindResult {
        documents,
        cursor,
        stats,
        plan,
    })
}

/// Most result rows reserved up front from a plan's estimate.
const RESERVED_ROWS_MAX: usize = 4096;

/// Projects a page's documents, ending the page early (with a cursor after its last
/// document) where [`Query::max_page_bytes`] would be passed.
fn project_page(
    query: &Query,
    rows: Vec<(Vec<u8>, Value)>,
    cursor: Option<String>,
) -> Result<(Vec<Value>, Option<String>)> {
    let mut documents = Vec::with_capacity(rows.len());
    let mut bytes = 0usize;
    let mut last_key: Option<Vec<u8>> = None;
    for (key, doc) in rows {
        let doc = match &query.projection {
            Some(p) => p.apply(doc),
            None => doc,
        };
        if let Some(max) = query.max_page_bytes {
            // A document that cannot be encoded could not have been stored: count it as
            // large as the budget, so it still ends the page.
            bytes = bytes.saturating_add(cairn_doc::encoded_len(&doc).unwrap_or(max));
            if bytes > max {
                let Some(last) = last_key else {
                    return Err(QueryError::TooLarge {
                        what: "result page (its first document alone)",
                        limit: max as u64,
                        hint: "project fewer fields, or raise the server's response limit",
                    });
                };
                return Ok((documents, Some(encode_cursor(&query.sort, &last))));
            }
        }
        documents.push(doc);
        last_key = Some(key);
    }
    Ok((documents, cursor))
}

/// Streams the documents matching `filter` (using indexes as the planner chooses) in no
/// particular order, until `emit` returns false. The building block of pipelines that start
/// with `$match` and of bulk updates.
pub fn for_each_match(
    txn: &mut Transaction,
    collection: &str,
    filter: &Filter,
    budget: std::time::Duration,
    emit: &mut dyn FnMut(&[u8], Value) -> Result<bool>,
) -> Result<ExecStats> {
    for_each_match_planned(txn, collection, filter, budget, emit).map(|(stats, _)| stats)
}

/// [`for_each_match`], also returning the chosen plan as `explain` describes it (a pipeline's
/// explain reports the plans of its source and of each `$lookup`/`$graphLookup` query).
pub(crate) fn for_each_match_planned(
    txn: &mut Transaction,
    collection: &str,
    filter: &Filter,
    budget: std::time::Duration,
    emit: &mut dyn FnMut(&[u8], Value) -> Result<bool>,
) -> Result<(ExecStats, String)> {
    let indexes = access_methods(txn, collection, filter)?;
    let mut query = Query::new(filter.clone());
    query.time_budget = budget;
    let chosen = choose(txn, collection, &indexes, &query)?;
    let observed = each_match(txn, collection, &indexes, &query, &chosen, emit)?;
    Ok((observed.stats, observed.plan))
}

/// [`for_each_match`], also naming the plan that ran (what a pipeline's source read reports
/// to the query statistics).
pub fn for_each_match_observed(
    txn: &mut Transaction,
    collection: &str,
    filter: &Filter,
    budget: std::time::Duration,
    emit: &mut dyn FnMut(&[u8], Value) -> Result<bool>,
) -> Result<Observed> {
    for_each_match_planned(txn, collection, filter, budget, emit)
        .map(|(stats, plan)| Observed { stats, plan })
}

/// Runs a query once under every plan the planner considers, returning each plan's
/// description and result. Plans differ in cost, never in answers; this is how tests (and
/// a suspicious operator) check that.
pub fn find_under_every_plan(
    db: &Database,
    collection: &str,
    query: &Query,
) -> Result<Vec<(String, FindResult)>> {
    find_under_every_plan_in(&mut db.read()?, collection, query)
}

/// [`find_under_every_plan`] inside a transaction: a read-write one reads every index the
/// conflict-checked way (no shared caches), a read-only snapshot the cached way, so tests
/// run both.
pub fn find_under_every_plan_in(
    txn: &mut Transaction,
    collection: &str,
    query: &Query,
) -> Result<Vec<(String, FindResult)>> {
    let indexes = access_methods(txn, collection, &query.filter)?;
    let mut out = Vec::new();
    for candidate in candidates(txn, collection, &indexes, query)? {
        let result = run(txn, collection, &indexes, query, &candidate)?;
        out.push((candidate.access.describe(), result));
    }
    Ok(out)
}

/// What one plan answers to a query: its page of `find`, its `count` and its `distinct`
/// values of one field. Plans differ in cost, never in any of these.
#[derive(Debug, Clone)]
pub struct PlanAnswers {
    /// The plan's description.
    pub plan: String,
    /// `find`'s page.
    pub found: FindResult,
    /// `count` of the filter.
    pub count: u64,
    /// `distinct` of the field under the filter.
    pub distinct: Vec<Value>,
}

/// Answers `find`, `count` and `distinct` (of `field`) under every plan the planner
/// considers for `query`, on one snapshot: differential tests compare them with each other
/// and with a naive evaluation.
pub fn answers_under_every_plan(
    db: &Database,
    collection: &str,
    query: &Query,
    field: &str,
) -> Result<Vec<PlanAnswers>> {
    let path =
        FieldPath::parse(field).map_err(|err| QueryError::invalid(field, err.to_string()))?;
    let mut txn = db.read()?;
    let indexes = access_methods(&mut txn, collection, &query.filter)?;
    // `count` and `distinct` take the filter alone: no sort, skip, limit or projection.
    let whole = Query::new(query.filter.clone());
    let mut out = Vec::new();
    for candidate in candidates(&mut txn, collection, &indexes, query)? {
        out.push(PlanAnswers {
            plan: candidate.access.describe(),
            found: run(&mut txn, collection, &indexes, query, &candidate)?,
            count: count_with(&mut txn, collection, &indexes, &whole, &candidate)?.0,
            distinct: distinct_with(&mut txn, collection, &indexes, &whole, &candidate, &path)?.0,
        });
    }
    Ok(out)
}

/// Runs a query with a ranking condition (`$near`): the `k` best matches, best first unless
/// the query sorts, then skip, limit and projection; each document gets its rank (distance)
/// in the condition's output field. The result is one page (`k` is bounded), so cursors are
/// refused.
fn run_ranked_query(
    txn: &mut Transaction,
    collection: &str,
    indexes: &[Arc<dyn AccessMethod>],
    query: &Query,
    ranked: &RankedCondition,
) -> Result<(FindResult, String)> {
    if query.after.is_some() {
        return Err(QueryError::InvalidCursor(format!(
            "a `{}` query returns at most k documents in one page; it has no cursor",
            ranked.op.name()
        )));
    }
    let mut executor = executor(txn, collection, query)?;
    let found = run_ranked(&mut executor, indexes, ranked)?;
    let mut rows = found.rows;
    if !query.sort.is_empty() {
        let mut keyed: Vec<(Vec<u8>, crate::access::RankedRow)> = rows
            .into_iter()
            .map(|mut row| {
                // The rank (a `$text` score, a distance) is a sort key like any field, so it
                // is in the document before the sort reads it (ties by `_id`, as every sort).
                row.doc = with_rank(
                    row.doc,
                    &ranked.ranking.output_field,
                    ranked.op.shown_rank(row.rank),
                );
                let mut key = Vec::new();
                sort_key(&query.sort, &row.doc, &row.key, &mut key);
                (key, row)
            })
            .collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        rows = keyed.into_iter().map(|(_, row)| row).collect();
    }
    let page = query
        .limit
        .unwrap_or(MAX_RESULT_DOCUMENTS)
        .min(MAX_RESULT_DOCUMENTS);
    let documents = rows
        .into_iter()
        .skip(query.skip)
        .take(page)
        .map(|row| {
            let doc = match &query.projection {
                Some(p) => p.apply(row.doc),
                None => row.doc,
            };
            with_rank(
                doc,
                &ranked.ranking.output_field,
                ranked.op.shown_rank(row.rank),
            )
        })
        .collect();
    Ok((
        FindResult {
            documents,
            cursor: None,
            stats: executor.stats,
            plan: found.description.clone(),
        },
        found.description,
    ))
}
