//! SQLite in the SQL benchmark: `bench query`'s layout (JSON text, expression indexes), in
//! process (no wire protocol), WAL, `ANALYZE`d.

use std::path::Path;

use anyhow::Context;
use rusqlite::{params, Connection};

use super::{rounded, Answer, Data, Probe, SqlSystem, LOAD_BATCH, PRICE_RANGE};

pub struct SqliteSide {
    conn: Connection,
}

const QUERIES: [&str; 5] = [
    "SELECT id, json_extract(doc, '$.account'), json_extract(doc, '$.price'), \
     json_extract(doc, '$.category'), json_extract(doc, '$.score') FROM docs WHERE id = ?1",
    "SELECT id, json_extract(doc, '$.price') FROM docs WHERE json_extract(doc, '$.account') = ?1",
    "SELECT json_extract(doc, '$.category'), count(*), avg(json_extract(doc, '$.price')) FROM docs \
     WHERE json_extract(doc, '$.price') >= ?1 AND json_extract(doc, '$.price') < ?2 GROUP BY 1",
    "SELECT json_extract(a.doc, '$.region'), count(*), sum(json_extract(d.doc, '$.price')) \
     FROM docs d JOIN accounts a ON json_extract(d.doc, '$.account') = json_extract(a.doc, '$.account') \
     WHERE json_extract(d.doc, '$.price') >= ?1 AND json_extract(d.doc, '$.price') < ?2 GROUP BY 1",
    "SELECT json_extract(doc, '$.score') FROM docs ORDER BY json_extract(doc, '$.score') LIMIT 10",
];

impl SqliteSide {
    pub fn create(path: &Path, data: &Data) -> anyhow::Result<SqliteSide> {
        let mut conn =
            Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA cache_size = -1048576;
             CREATE TABLE docs (id INTEGER PRIMARY KEY, doc TEXT NOT NULL);
             CREATE TABLE accounts (id INTEGER PRIMARY KEY, doc TEXT NOT NULL);",
        )?;
        for chunk in data.docs.chunks(LOAD_BATCH) {
            let tx = conn.transaction()?;
            {
                let mut insert = tx.prepare_cached("INSERT INTO docs (id, doc) VALUES (?1, ?2)")?;
                for d in chunk {
                    let doc = serde_json::json!({
                        "account": d.account, "price": d.price,
                        "category": d.category, "score": d.score,
                    });
                    insert.execute(params![d.id, doc.to_string()])?;
                }
            }
            tx.commit()?;
        }
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached("INSERT INTO accounts (id, doc) VALUES (?1, ?2)")?;
            for (account, region) in &data.accounts {
                let doc = serde_json::json!({"account": account, "region": region});
                insert.execute(params![account, doc.to_string()])?;
            }
        }
        tx.commit()?;
        conn.execute_batch(
            "CREATE INDEX docs_account ON docs (json_extract(doc, '$.account'));
             CREATE INDEX docs_price ON docs (json_extract(doc, '$.price'));
             CREATE INDEX docs_score ON docs (json_extract(doc, '$.score'));
             CREATE INDEX accounts_account ON accounts (json_extract(doc, '$.account'));
             ANALYZE;",
        )?;
        Ok(SqliteSide { conn })
    }
}

impl SqlSystem for SqliteSide {
    fn name(&self) -> &'static str {
        "SQLite"
    }

    fn run(&mut self, probe: Probe) -> anyhow::Result<Answer> {
        let mut rows: Vec<String> = Vec::new();
        match probe {
            Probe::Point(id) => {
                let mut q = self.conn.prepare_cached(QUERIES[0])?;
                let mut r = q.query(params![id])?;
                while let Some(row) = r.next()? {
                    rows.push(format!(
                        "{}|{}|{}|{}|{}",
                        row.get::<_, i64>(0)?,
                        row.get::<_, i64>(1)?,
                        rounded(row.get(2)?),
                        row.get::<_, String>(3)?,
                        rounded(row.get(4)?)
                    ));
                }
            }
            Probe::Equality(account) => {
                let mut q = self.conn.prepare_cached(QUERIES[1])?;
                let mut r = q.query(params![account])?;
                while let Some(row) = r.next()? {
                    rows.push(format!(
                        "{}|{}",
                        row.get::<_, i64>(0)?,
                        rounded(row.get(1)?)
                    ));
                }
                rows.sort();
            }
            Probe::RangeGroup(low) | Probe::Join(low) => {
                let sql = if matches!(probe, Probe::Join(_)) {
                    QUERIES[3]
                } else {
                    QUERIES[2]
                };
                let mut q = self.conn.prepare_cached(sql)?;
                let mut r = q.query(params![low, low + PRICE_RANGE])?;
                while let Some(row) = r.next()? {
                    rows.push(format!(
                        "{}|{}|{}",
                        row.get::<_, String>(0)?,
                        row.get::<_, i64>(1)?,
                        rounded(row.get(2)?)
                    ));
                }
                rows.sort();
            }
            Probe::TopK => {
                let mut q = self.conn.prepare_cached(QUERIES[4])?;
                let mut r = q.query([])?;
                while let Some(row) = r.next()? {
                    rows.push(rounded(row.get(0)?));
                }
            }
        }
        Ok(rows)
    }
}
