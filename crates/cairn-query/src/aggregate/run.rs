//! Running a pipeline over one snapshot.
//!
//! Documents stream through the stages one at a time. Blocking stages (`$group`, `$sort`,
//! `$count`) hold what reaches them and release it, in stage order, once the source is
//! exhausted. `$lookup` needs the snapshot transaction, which the source scan holds while it
//! runs, so documents reaching a `$lookup` during the scan wait in its buffer (accounted like
//! group memory) and are joined when the scan is done; later `$lookup`s join as documents
//! arrive. A `$limit` that is satisfied stops the scan early unless a blocking stage precedes it.

use std::time::{Duration, Instant};

use cairn_doc::{Object, Value};
use cairn_engine::{Database, Transaction};

use super::bucket::BucketTables;
use super::explain::{PipelineExplain, QueriesExplain, StageExplain};
use super::group::GroupTable;
use super::memory::{value_bytes, Memory};
use super::sort::SortBuffer;
use super::stage::{Stage, Unwound};
use crate::error::{QueryError, Result};
use crate::filter::Filter;
use crate::find::{for_each_match_planned, Observed};
use crate::limits::{MAX_FACET_OUTPUT_BYTES, MAX_GROUP_BYTES, MAX_RESULT_DOCUMENTS};

/// The running state of one stage.
enum State<'p> {
    Stateless,
    Skip(usize),
    Limit(usize),
    Sort(SortBuffer),
    Group(GroupTable),
    Count(u64),
    Lookup(Vec<Value>, Memory),
    Bucket(BucketTables),
    SortByCount(GroupTable),
    Facet(FacetRuns<'p>),
    Finished,
}

/// The sub-pipelines of a running `$facet`, each its own [`Run`] fed every input document.
struct FacetRuns<'p> {
    runs: Vec<Run<'p>>,
    /// Whether each sub-pipeline still wants input (a satisfied `$limit` ends it).
    open: Vec<bool>,
    /// Output documents of each sub-pipeline already counted against `memory`.
    counted: Vec<usize>,
    memory: Memory,
}

/// What one stage did with a document.
enum Step {
    /// Hand this document to the next stage.
    Pass(Value),
    /// The document was consumed; `true` if more input is welcome.
    Done(bool),
    /// Hand this document on, then accept no more (a `$limit` reached its count).
    PassLast(Value),
    /// `$unwind` produced one document per element.
    Unwound(Value, Vec<Value>),
}

/// One execution of a pipeline.
struct Run<'p> {
    stages: &'p [Stage],
    states: Vec<State<'p>>,
    /// Per stage: what the queries of a `$lookup`/`$graphLookup` did (for `explain`).
    joins: Vec<QueriesExplain>,
    output: Vec<Value>,
    started: Instant,
    budget: Duration,
    examined: u64,
}

/// Runs `stages` over `collection` in one snapshot of `db` within `budget`; also says what
/// the source read did (the documents `$lookup`s read in other collections are not counted).
pub(super) fn run(
    db: &Database,
    collection: &str,
    stages: &[Stage],
    budget: Duration,
) -> Result<(Vec<Value>, Observed)> {
    run_explained(db, collection, stages, budget).map(|(output, _, observed)| (output, observed))
}

/// [`run`], also returning what the source query and each `$lookup`/`$graphLookup` did.
pub(super) fn run_explained(
    db: &Database,
    collection: &str,
    stages: &[Stage],
    budget: Duration,
) -> Result<(Vec<Value>, PipelineExplain, Observed)> {
    let started = Instant::now();
    let mut txn = db.read()?;
    // Leading `$match` stages become the source filter, answered with indexes.
    let leading = stages
        .iter()
        .take_while(|stage| matches!(stage, Stage::Match(_)))
        .count();
    let filters: Vec<Filter> = stages[..leading]
        .iter()
        .filter_map(|stage| match stage {
            Stage::Match(filter) => Some(filter.clone()),
            _ => None,
        })
        .collect();
    let source = match filters.len() {
        0 => Filter::All,
        1 => filters.into_iter().next().unwrap_or(Filter::All),
        _ => Filter::and(filters),
    };
    let mut run = Run::new(&stages[leading..], started, budget);
    let (stats, plan) =
        for_each_match_planned(&mut txn, collection, &source, budget, &mut |_, doc| {
            run.examined += 1;
            run.feed(0, doc, None)
        })?;
    run.finish(&mut txn)?;
    let mut explain = PipelineExplain {
        source: QueriesExplain::default(),
        stages: Vec::new(),
        returned: run.output.len() as u64,
        elapsed_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
    };
    explain.source.record(plan.clone(), &stats);
    for (i, (stage, queries)) in run.stages.iter().zip(run.joins).enumerate() {
        let from = match stage {
            Stage::Lookup(lookup) => lookup.from(),
            Stage::GraphLookup(search) => search.from(),
            _ => continue,
        };
        explain.stages.push(StageExplain {
            index: leading + i,
            stage: stage.name(),
            from: from.to_string(),
            queries,
        });
    }
    Ok((run.output, explain, Observed { stats, plan }))
}

impl<'p> Run<'p> {
    /// A run of `stages` whose time budget started at `started` (a `$facet`'s sub-pipelines
    /// share the whole pipeline's).
    fn new(stages: &'p [Stage], started: Instant, budget: Duration) -> Run<'p> {
        let states = stages
            .iter()
            .enumerate()
            .map(|(i, stage)| match stage {
                Stage::Skip(n) => State::Skip(*n),
                Stage::Limit(n) => State::Limit(*n),
                Stage::Sort(_) => State::Sort(SortBuffer::new(top_k(&stages[i + 1..]))),
                Stage::Group(_) => State::Group(GroupTable::new()),
                Stage::Count(_) => State::Count(0),
                Stage::Lookup(_) | Stage::GraphLookup(_) => {
                    State::Lookup(Vec::new(), lookup_buffer_memory())
                }
                Stage::Bucket(bucket) => State::Bucket(bucket.tables()),
                Stage::BucketByTime(_) => State::Group(GroupTable::new()),
                Stage::SortByCount(_) => State::SortByCount(GroupTable::new()),
                Stage::Facet(facet) => State::Facet(FacetRuns {
                    runs: facet
                        .pipelines()
                        .iter()
                        .map(|(_, stages)| Run::new(stages, started, budget))
                        .collect(),
                    open: vec![true; facet.pipelines().len()],
                    counted: vec![0; facet.pipelines().len()],
                    memory: Memory::new(
                        "$facet output",
                        MAX_FACET_OUTPUT_BYTES,
                        "add $limit (or $group/$count) inside the $facet's sub-pipelines",
                    ),
                }),
                _ => State::Stateless,
            })
            .collect();
        Run {
            stages,
            states,
            joins: vec![QueriesExplain::default(); stages.len()],
            output: Vec::new(),
            started,
            budget,
            examined: 0,
        }
    }

    /// Pushes `doc` through the stages from `index` on; false when no more input is wanted.
    /// `txn` is `None` while the source scan holds the transaction.
    fn feed(
        &mut self,
        mut index: usize,
        mut doc: Value,
        mut txn: Option<&mut Transaction>,
    ) -> Result<bool> {
        while index < self.stages.len() {
            match self.step(index, doc, txn.as_deref_mut())? {
                Step::Pass(next) => doc = next,
                Step::Done(more) => return Ok(more),
                Step::PassLast(last) => return self.feed(index + 1, last, txn).map(|_| false),
                Step::Unwound(base, items) => return self.feed_unwound(index, base, items, txn),
            }
            index += 1;
        }
        if self.output.len() >= MAX_RESULT_DOCUMENTS {
            return Err(QueryError::TooLarge {
                what: "pipeline result documents",
                limit: MAX_RESULT_DOCUMENTS as u64,
                hint: "add a $limit, or $group/$match to fewer documents",
            });
        }
        self.output.push(doc);
        Ok(true)
    }

    /// Applies stage `index` to `doc`.
    fn step(&mut self, index: usize, doc: Value, txn: Option<&mut Transaction>) -> Result<Step> {
        let stage = &self.stages[index];
        let clock = (self.started, self.budget, self.examined);
        Ok(match (stage, &mut self.states[index]) {
            (Stage::Match(filter), _) if !filter.matches(&doc) => Step::Done(true),
            (Stage::Match(_), _) => Step::Pass(doc),
            (Stage::Project(project), _) => Step::Pass(project.apply(doc)),
            (Stage::AddFields(fields), _) => Step::Pass(fields.apply(doc)),
            (Stage::Skip(_), State::Skip(left)) if *left > 0 => {
                *left -= 1;
                Step::Done(true)
            }
            (Stage::Skip(_), _) => Step::Pass(doc),
            (Stage::Limit(_), State::Limit(0)) => Step::Done(false),
            (Stage::Limit(_), State::Limit(left)) => {
                *left -= 1;
                if *left == 0 {
                    Step::PassLast(doc)
                } else {
                    Step::Pass(doc)
                }
            }
            (Stage::Unwind(unwind), _) => match unwind.split(doc) {
                Unwound::Drop => Step::Done(true),
                Unwound::One(doc) => Step::Pass(doc),
                Unwound::Many(base, items) => Step::Unwound(base, items),
            },
            (Stage::Sort(keys), State::Sort(buffer)) => {
                buffer.push(keys, doc).map(|()| Step::Done(true))?
            }
            (Stage::Group(group), State::Group(table)) => {
                table.add(group, &doc).map(|()| Step::Done(true))?
            }
            (Stage::ReplaceRoot(replace), _) => Step::Pass(replace.apply(doc)?),
            (Stage::Bucket(bucket), State::Bucket(tables)) => {
                bucket.add(tables, &doc).map(|()| Step::Done(true))?
            }
            (Stage::BucketByTime(buckets), State::Group(table)) => {
                buckets.add(table, &doc).map(|()| Step::Done(true))?
            }
            (Stage::SortByCount(by), State::SortByCount(table)) => {
                table.add(by.group(), &doc).map(|()| Step::Done(true))?
            }
            (Stage::Facet(_), State::Facet(facet)) => Step::Done(facet.feed(&doc, txn)?),
            (Stage::Count(_), State::Count(n)) => {
                *n += 1;
                Step::Done(true)
            }
            (Stage::Lookup(_) | Stage::GraphLookup(_), state) => match (txn, state) {
                (Some(txn), _) => Step::Pass(join(
                    stage,
                    txn,
                    doc,
                    remaining(clock.0, clock.1, clock.2)?,
                    &mut self.joins[index],
                )?),
                (None, State::Lookup(pending, memory)) => {
                    memory.grow(value_bytes(&doc))?;
                    pending.push(doc);
                    Step::Done(true)
                }
                (None, _) => return Err(stateless(stage)),
            },
            (stage, _) => return Err(stateless(stage)),
        })
    }

    fn feed_unwound(
        &mut self,
        index: usize,
        base: Value,
        items: Vec<Value>,
        mut txn: Option<&mut Transaction>,
    ) -> Result<bool> {
        let Stage::Unwind(unwind) = &self.stages[index] else {
            return Ok(true);
        };
        for (i, item) in items.into_iter().enumerate() {
            let doc = unwind.element(&base, item, i);
            if !self.feed(index + 1, doc, txn.as_deref_mut())? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Releases what the blocking stages hold, in stage order, now that `txn` is free.
    fn finish(&mut self, txn: &mut Transaction) -> Result<()> {
        let stages = self.stages;
        for (index, stage) in stages.iter().enumerate() {
            let state = std::mem::replace(&mut self.states[index], State::Finished);
            let released: Box<dyn Iterator<Item = Value> + 'p> = match (stage, state) {
                (Stage::Sort(_), State::Sort(buffer)) => Box::new(buffer.into_sorted()),
                (Stage::Group(group), State::Group(table)) => Box::new(table.into_docs(group)),
                (Stage::Bucket(bucket), State::Bucket(tables)) => Box::new(bucket.release(tables)),
                (Stage::BucketByTime(buckets), State::Group(table)) => {
                    Box::new(buckets.release(table))
                }
                (Stage::SortByCount(by), State::SortByCount(table)) => {
                    Box::new(by.release(table).into_iter())
                }
                (Stage::Facet(facet), State::Facet(mut runs)) => {
                    let names = facet.pipelines().iter().map(|(name, _)| name.as_str());
                    Box::new(std::iter::once(runs.finish(names, txn)?))
                }
                (Stage::Count(name), State::Count(n)) if n > 0 => {
                    let mut out = Object::new();
                    out.insert(
                        name.clone(),
                        Value::Int(i64::try_from(n).unwrap_or(i64::MAX)),
                    );
                    Box::new(std::iter::once(Value::Object(out)))
                }
                (Stage::Lookup(_) | Stage::GraphLookup(_), State::Lookup(pending, _)) => {
                    self.release_lookup(index, stage, pending, txn)?;
                    continue;
                }
                (_, state) => {
                    self.states[index] = state;
                    continue;
                }
            };
            for doc in released {
                if !self.feed(index + 1, doc, Some(txn))? {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Joins the documents that reached `$lookup` during the source scan and passes them on.
    fn release_lookup(
        &mut self,
        index: usize,
        stage: &Stage,
        pending: Vec<Value>,
        txn: &mut Transaction,
    ) -> Result<()> {
        for doc in pending {
            let budget = remaining(self.started, self.budget, self.examined)?;
            let joined = join(stage, txn, doc, budget, &mut self.joins[index])?;
            if !self.feed(index + 1, joined, Some(txn))? {
                break;
            }
        }
        Ok(())
    }
}

/// Applies a stage that reads other collections (`$lookup`, `$graphLookup`) to `doc`.
fn join(
    stage: &Stage,
    txn: &mut Transaction,
    doc: Value,
    budget: Duration,
    explain: &mut QueriesExplain,
) -> Result<Value> {
    match stage {
        Stage::Lookup(lookup) => lookup.join(txn, doc, budget, explain),
        Stage::GraphLookup(search) => search.join(txn, doc, budget, explain),
        other => Err(stateless(other)),
    }
}

impl<'p> FacetRuns<'p> {
    /// Feeds one document to every sub-pipeline still open; whether any still wants more.
    fn feed(&mut self, doc: &Value, mut txn: Option<&mut Transaction>) -> Result<bool> {
        for i in 0..self.runs.len() {
            if self.open[i] {
                self.open[i] = self.runs[i].feed(0, doc.clone(), txn.as_deref_mut())?;
                self.account(i)?;
            }
        }
        Ok(self.open.iter().any(|open| *open))
    }

    /// Counts the new output documents of sub-pipeline `i` against the output limit.
    fn account(&mut self, i: usize) -> Result<()> {
        let run = &self.runs[i];
        for doc in &run.output[self.counted[i]..] {
            self.memory.grow(value_bytes(doc))?;
        }
        self.counted[i] = run.output.len();
        Ok(())
    }

    /// Finishes every sub-pipeline; the one output document, a field per sub-pipeline.
    fn finish<'n>(
        &mut self,
        names: impl Iterator<Item = &'n str>,
        txn: &mut Transaction,
    ) -> Result<Value> {
        let mut out = Object::new();
        for (i, name) in names.enumerate() {
            self.runs[i].finish(txn)?;
            self.account(i)?;
            let docs = std::mem::take(&mut self.runs[i].output);
            out.insert(name.to_owned(), Value::Array(docs));
        }
        Ok(Value::Object(out))
    }
}

/// Time left of a budget that started at `started`, or [`QueryError::TimedOut`].
fn remaining(started: Instant, budget: Duration, examined: u64) -> Result<Duration> {
    crate::cancel::check()?;
    budget
        .checked_sub(started.elapsed())
        .filter(|left| !left.is_zero())
        .ok_or(QueryError::TimedOut {
            budget_ms: u64::try_from(budget.as_millis()).unwrap_or(u64::MAX),
            examined,
        })
}

/// How many documents a `$sort` must keep when what follows only takes the first few.
fn top_k(after: &[Stage]) -> Option<usize> {
    match after {
        [Stage::Limit(limit), ..] => Some(*limit),
        [Stage::Skip(skip), Stage::Limit(limit), ..] => Some(skip.saturating_add(*limit)),
        _ => None,
    }
}

fn lookup_buffer_memory() -> Memory {
    Memory::new(
        "documents waiting for $lookup",
        MAX_GROUP_BYTES,
        "$match or $project fewer/smaller documents before the $lookup",
    )
}

/// A stage met without the state it needs: a bug in this module, reported rather than panicking.
fn stateless(stage: &Stage) -> QueryError {
    QueryError::invalid(
        "pipeline",
        format!(
            "internal error: {} stage has no running state",
            stage.name()
        ),
    )
}
