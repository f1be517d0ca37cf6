//! SQLite as a query-benchmark subject: `bench core`'s table and connection settings (WAL,
//! `synchronous=FULL`, 1 GiB cache; JSON text in `docs(id BLOB PRIMARY KEY, doc TEXT)
//! WITHOUT ROWID`), expression indexes on `json_extract(doc, '$.field')`, and queries written
//! with the same expressions so the planner uses those indexes.

use std::hint::black_box;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use anyhow::{ensure, Context};
use rusqlite::{Connection, Params};

use super::subject::{sorted_groups, Answer, Group, Probe, QuerySubject, SORT_FIELD, TOP_LIMIT};
use super::workload::QueryDocs;
use crate::bench::core::sqlite_subject::{insert_in_one_transaction, open, CREATE_TABLE};
use crate::bench::core::subject::timed;

/// Equality on the indexed `account`.
const SELECT_EQUAL: &str = "SELECT doc FROM docs WHERE json_extract(doc, '$.account') = ?1";

/// Half-open range on the indexed `price`.
const SELECT_RANGE: &str = "SELECT doc FROM docs \
     WHERE json_extract(doc, '$.price') >= ?1 AND json_extract(doc, '$.price') < ?2";

/// Per category: count and average price, over the whole table.
const SELECT_GROUP: &str = "SELECT json_extract(doc, '$.category'), count(*), \
     avg(json_extract(doc, '$.price')) FROM docs GROUP BY json_extract(doc, '$.category')";

/// The SQLite side of the benchmark.
pub struct SqliteSide {
    conn: Connection,
    select_top: String,
}

impl SqliteSide {
    /// Creates the database file at `path` (which must not exist) with the benchmark's table.
    pub fn create(path: &Path) -> anyhow::Result<SqliteSide> {
        ensure!(
            !path.exists(),
            "{} already exists; pass an empty --dir",
            path.display()
        );
        let conn = open(path)?;
        conn.execute_batch(CREATE_TABLE)?;
        Ok(SqliteSide {
            conn,
            select_top: format!(
                "SELECT doc FROM docs ORDER BY json_extract(doc, '$.{SORT_FIELD}') LIMIT {TOP_LIMIT}"
            ),
        })
    }

    /// Runs a document query and parses every returned document, as Cairn materialises them.
    fn documents(&self, sql: &str, params: impl Params) -> anyhow::Result<Answer> {
        let mut select = self.conn.prepare_cached(sql)?;
        let mut rows = select.query(params)?;
        let mut count = 0;
        while let Some(row) = rows.next()? {
            let doc: serde_json::Value = serde_json::from_str(row.get_ref(0)?.as_str()?)?;
            black_box(doc);
            count += 1;
        }
        Ok(Answer::Documents(count))
    }

    /// Runs the grouping query.
    fn groups(&self) -> anyhow::Result<Answer> {
        let mut select = self.conn.prepare_cached(SELECT_GROUP)?;
        let groups = select
            .query_map([], |row| {
                Ok(Group {
                    key: row.get(0)?,
                    count: row.get::<_, i64>(1)? as u64,
                    average: row.get(2)?,
                })
            })?
            .collect::<Result<Vec<Group>, _>>()?;
        Ok(sorted_groups(groups))
    }

    /// The SQL of a probe and its parameters.
    fn statement(&self, probe: &Probe) -> (&str, Vec<rusqlite::types::Value>) {
        use rusqlite::types::Value as Sql;
        match *probe {
            Probe::Equal(account) => (SELECT_EQUAL, vec![Sql::Integer(account)]),
            Probe::Range(low, high) => (SELECT_RANGE, vec![Sql::Real(low), Sql::Real(high)]),
            Probe::Top => (&self.select_top, Vec::new()),
            Probe::Group => (SELECT_GROUP, Vec::new()),
        }
    }
}

impl QuerySubject for SqliteSide {
    fn name(&self) -> &'static str {
        "SQLite"
    }

    fn insert_batch(&mut self, docs: &QueryDocs, chunk: Range<usize>) -> anyhow::Result<Duration> {
        let rows: Vec<([u8; 16], String)> = chunk
            .map(|index| (docs.key(index), docs.json_doc(index)))
            .collect();
        insert_in_one_transaction(&mut self.conn, &rows)
    }

    fn create_index(&mut self, field: &str) -> anyhow::Result<Duration> {
        let sql = format!("CREATE INDEX by_{field} ON docs (json_extract(doc, '$.{field}'))");
        let ((), elapsed) = timed(|| {
            self.conn
                .execute_batch(&sql)
                .with_context(|| format!("running {sql}"))
        })?;
        Ok(elapsed)
    }

    fn prepare_queries(&mut self) -> anyhow::Result<()> {
        // Gather the statistics SQLite's planner uses (`sqlite_stat1`), as a tuned deployment
        // would; Cairn's index builds keep theirs as they go.
        self.conn.execute_batch("ANALYZE")?;
        Ok(())
    }

    fn execute(&mut self, probe: &Probe) -> anyhow::Result<Answer> {
        if *probe == Probe::Group {
            return self.groups();
        }
        let (sql, values) = self.statement(probe);
        self.documents(sql, rusqlite::params_from_iter(values))
    }

    fn plan(&mut self, probe: &Probe) -> anyhow::Result<String> {
        let (sql, values) = self.statement(probe);
        let mut explain = self.conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
        let steps = explain
            .query_map(rusqlite::params_from_iter(values), |row| {
                row.get::<_, String>(3)
            })?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(steps.join("; "))
    }
}
