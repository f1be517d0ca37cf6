//! Cairn as a query-benchmark subject: one `persistent` database with one collection, B-tree
//! indexes built online with `cairn::create_index`, queries through `cairn::find` and the
//! aggregation pipeline.

use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use anyhow::{ensure, Context};
use cairn::query::{Op, Pipeline};
use cairn::{Config, Database, Filter, IndexSpec, Query, StorageMode, Value};

use super::subject::{sorted_groups, Answer, Group, Probe, QuerySubject, SORT_FIELD, TOP_LIMIT};
use super::workload::QueryDocs;
use crate::bench::core::cairn_subject::insert_in_one_transaction;
use crate::bench::core::subject::timed;

/// The collection holding the benchmark's documents.
const COLLECTION: &str = "docs";

/// The `$group` query: per category, the document count and the average price.
const GROUP_PIPELINE: &str =
    r#"[{"$group": {"_id": "$category", "n": {"$count": {}}, "avg": {"$avg": "$price"}}}]"#;

/// The Cairn side of the benchmark.
pub struct CairnSide {
    db: Database,
    group: Pipeline,
}

impl CairnSide {
    /// Creates a new `persistent` database in `dir` (which must not hold one) with the
    /// benchmark's collection.
    pub fn create(dir: &Path) -> anyhow::Result<CairnSide> {
        let db = cairn::open(Config::new(dir, StorageMode::Persistent))
            .with_context(|| format!("opening a Cairn database in {}", dir.display()))?;
        ensure!(
            db.list_collections()?.is_empty(),
            "{} already holds a Cairn database; pass an empty --dir",
            dir.display()
        );
        db.create_collection(COLLECTION)?;
        let group = Pipeline::parse(&Value::from_json_expression(GROUP_PIPELINE)?)?;
        Ok(CairnSide { db, group })
    }

    /// The find query behind an equality, range or sorted probe.
    fn query(probe: &Probe) -> anyhow::Result<Query> {
        Ok(match *probe {
            Probe::Equal(account) => Query::new(Filter::field("account")?.eq(account)),
            Probe::Range(low, high) => Query::new(
                Filter::field("price")?.ops(vec![Op::Gte(low.into()), Op::Lt(high.into())]),
            ),
            Probe::Top => Query::new(Filter::All)
                .sort_by(SORT_FIELD, false)?
                .limit(TOP_LIMIT),
            Probe::Group => anyhow::bail!("$group is not a find query"),
        })
    }

    /// Runs the `$group` pipeline and reads its groups.
    fn group(&self) -> anyhow::Result<Answer> {
        let rows = self.group.run(&self.db, COLLECTION)?;
        let groups = rows
            .iter()
            .map(|row| {
                let field = |name: &str| row.as_object().and_then(|o| o.get(name));
                Ok(Group {
                    key: field("_id")
                        .and_then(Value::as_str)
                        .context("a $group row without a string _id")?
                        .to_string(),
                    count: field("n")
                        .and_then(Value::as_i64)
                        .context("a $group row without an integer n")?
                        as u64,
                    average: field("avg")
                        .and_then(Value::as_f64)
                        .context("a $group row without a numeric avg")?,
                })
            })
            .collect::<anyhow::Result<Vec<Group>>>()?;
        Ok(sorted_groups(groups))
    }
}

impl QuerySubject for CairnSide {
    fn name(&self) -> &'static str {
        "Cairn"
    }

    fn insert_batch(&mut self, docs: &QueryDocs, chunk: Range<usize>) -> anyhow::Result<Duration> {
        let values: Vec<Value> = chunk.map(|index| docs.cairn_doc(index)).collect();
        insert_in_one_transaction(&self.db, COLLECTION, values)
    }

    fn create_index(&mut self, field: &str) -> anyhow::Result<Duration> {
        let spec = IndexSpec::btree(&format!("by_{field}"), &[field])?;
        let ((), elapsed) = timed(|| {
            cairn::create_index(&self.db, COLLECTION, &spec, &mut |_progress| {})?;
            Ok(())
        })?;
        Ok(elapsed)
    }

    fn prepare_queries(&mut self) -> anyhow::Result<()> {
        // Index statistics are kept by the index build itself; nothing to do.
        Ok(())
    }

    fn execute(&mut self, probe: &Probe) -> anyhow::Result<Answer> {
        if *probe == Probe::Group {
            return self.group();
        }
        let found = cairn::find(&self.db, COLLECTION, &Self::query(probe)?)?;
        // Only the limited top-100 query may leave documents for a next page.
        ensure!(
            found.cursor.is_none() || *probe == Probe::Top,
            "Cairn paged the result of {probe:?}; the benchmark expects one page"
        );
        Ok(Answer::Documents(found.documents.len()))
    }

    fn plan(&mut self, probe: &Probe) -> anyhow::Result<String> {
        let (query, suffix) = match probe {
            // The pipeline has no `$match`, so its source is the plan of an empty filter.
            Probe::Group => (Query::new(Filter::All), ", then $group in memory"),
            other => (Self::query(other)?, ""),
        };
        let explain = cairn::explain(&self.db, COLLECTION, &query)?;
        Ok(format!(
            "{}{suffix} (est. {:.0} rows; examined {} keys, {} docs)",
            explain.chosen.description,
            explain.chosen.estimated_rows,
            explain.executed.keys_examined,
            explain.executed.docs_examined
        ))
    }
}
