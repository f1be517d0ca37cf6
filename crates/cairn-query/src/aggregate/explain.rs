//! `explain` for pipelines: the plan and counters of the source query (leading `$match`
//! stages, answered by the planner) and, for each stage reading another collection
//! (`$lookup`, `$graphLookup`), the plans its queries used — `$graphLookup` runs one per
//! depth, answered by the adjacency index on `_from`/`_to` of an edge collection or by a
//! secondary index on `connectToField` — with their summed counters.

use cairn_doc::{Object, Value};

use crate::exec::ExecStats;

/// What the planner queries of one part of a pipeline did.
#[derive(Debug, Clone, Default)]
pub struct QueriesExplain {
    /// Each plan used and how many queries used it, in order of first use.
    pub plans: Vec<(String, u64)>,
    /// Queries run.
    pub queries: u64,
    /// Their counters, summed (`keys_examined`, `docs_examined`, the access methods' own
    /// such as `adjacency_edges`).
    pub executed: ExecStats,
}

impl QueriesExplain {
    /// Adds one query that ran under `plan` and did `stats`.
    pub(crate) fn record(&mut self, plan: String, stats: &ExecStats) {
        self.queries += 1;
        match self.plans.iter_mut().find(|(known, _)| *known == plan) {
            Some((_, n)) => *n += 1,
            None => self.plans.push((plan, 1)),
        }
        self.executed.keys_examined += stats.keys_examined;
        self.executed.docs_examined += stats.docs_examined;
        self.executed.matched += stats.matched;
        for &(name, n) in &stats.counters {
            self.executed.add(name, n);
        }
    }

    fn to_value(&self) -> Value {
        let mut plans = Vec::new();
        for (plan, n) in &self.plans {
            let mut o = Object::new();
            o.insert("plan", Value::String(plan.clone()));
            o.insert("queries", count(*n));
            plans.push(Value::Object(o));
        }
        let mut executed = Object::new();
        let e = &self.executed;
        for (name, n) in [
            ("queries", self.queries),
            ("keys_examined", e.keys_examined),
            ("docs_examined", e.docs_examined),
            ("matched", e.matched),
        ]
        .into_iter()
        .chain(e.counters.iter().copied())
        {
            executed.insert(name, count(n));
        }
        let mut o = Object::new();
        o.insert("plans", Value::Array(plans));
        o.insert("executed", Value::Object(executed));
        Value::Object(o)
    }
}

/// One stage of a pipeline that reads another collection.
#[derive(Debug, Clone)]
pub struct StageExplain {
    /// Its position in the pipeline.
    pub index: usize,
    /// `$lookup` or `$graphLookup`.
    pub stage: &'static str,
    /// The collection it reads.
    pub from: String,
    /// What its queries did.
    pub queries: QueriesExplain,
}

/// How a pipeline ran (see the module documentation).
#[derive(Debug, Clone)]
pub struct PipelineExplain {
    /// The source query: the leading `$match` stages through the planner.
    pub source: QueriesExplain,
    /// The top-level stages that read other collections, in pipeline order (those inside
    /// `$facet` sub-pipelines are not itemised).
    pub stages: Vec<StageExplain>,
    /// Documents the pipeline returned.
    pub returned: u64,
    /// Wall time, microseconds.
    pub elapsed_us: u64,
}

impl PipelineExplain {
    /// As a document: `{"source", "stages": [{"stage", "index", "from", "plans",
    /// "executed"}], "returned", "elapsed_us"}`.
    pub fn to_value(&self) -> Value {
        let stages = self
            .stages
            .iter()
            .map(|stage| {
                let mut o = match stage.queries.to_value() {
                    Value::Object(o) => o,
                    _ => Object::new(),
                };
                o.insert("stage", Value::String(stage.stage.to_string()));
                o.insert("index", count(stage.index as u64));
                o.insert("from", Value::String(stage.from.clone()));
                Value::Object(o)
            })
            .collect();
        let mut o = Object::new();
        o.insert("source", self.source.to_value());
        o.insert("stages", Value::Array(stages));
        o.insert("returned", count(self.returned));
        o.insert("elapsed_us", count(self.elapsed_us));
        Value::Object(o)
    }
}

fn count(n: u64) -> Value {
    Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
}
