//! PostgreSQL 15 full text in the text benchmark: a private cluster (`bench::pg_cluster`), the
//! paragraphs copied into a table, then (timed as the build) a stored generated `tsvector`
//! column (`to_tsvector('english', body)`: Snowball English stemming and stop words) and a GIN
//! index over it; top-10 by `ts_rank` (PostgreSQL has no BM25), ties by id. No fuzzy terms
//! (`pg_trgm` similarity is another index over another representation).

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use postgres::{Client, Statement};

use super::corpus::{TextQuery, CLASSES};
use super::{Answers, System, K, VISIBILITY_ROUNDS};
use crate::bench::pg_cluster::PgCluster;

/// The statement (by how the query text is parsed) and the query text.
fn tsquery(q: &TextQuery) -> Option<(usize, String)> {
    let w = &q.words;
    Some(match CLASSES[q.class] {
        "term" => (0, w[0].clone()),
        "and" => (0, format!("{} {}", w[0], w[1])),
        "or" => (1, format!("{} | {}", w[0], w[1])),
        "phrase" => (2, format!("{} {}", w[0], w[1])),
        "prefix" => (1, format!("{}:*", w[0])),
        _ => return None,
    })
}

fn statements(client: &mut Client) -> anyhow::Result<Vec<Statement>> {
    ["plainto_tsquery", "to_tsquery", "phraseto_tsquery"]
        .iter()
        .map(|parse| {
            Ok(client.prepare(&format!(
                "SELECT id FROM docs, {parse}('english', $1) q WHERE tsv @@ q \
                 ORDER BY ts_rank(tsv, q) DESC, id LIMIT {K}"
            ))?)
        })
        .collect()
}

fn table_bytes(client: &mut Client) -> anyhow::Result<u64> {
    let row = client.query_one("SELECT pg_total_relation_size('docs')", &[])?;
    Ok(row.get::<_, i64>(0) as u64)
}

/// Loads, builds and queries.
pub fn run(dir: &Path, docs: &[String], queries: &[TextQuery]) -> anyhow::Result<System> {
    eprintln!("postgres: starting a private cluster and loading…");
    let cluster = PgCluster::create(&dir.join("postgres"))?;
    let mut client = cluster.connect()?;
    client.batch_execute("CREATE TABLE docs (id bigint PRIMARY KEY, body text NOT NULL)")?;
    let mut copy = client.copy_in("COPY docs (id, body) FROM STDIN")?;
    for (i, body) in docs.iter().enumerate() {
        // COPY's text format: tab-separated, backslash escapes.
        let escaped = body
            .replace('\\', "\\\\")
            .replace('\t', "\\t")
            .replace('\n', "\\n")
            .replace('\r', "\\r");
        writeln!(copy, "{i}\t{escaped}")?;
    }
    copy.finish()?;
    // One statement each: several in one batch run as one transaction, which VACUUM refuses.
    client.batch_execute("VACUUM ANALYZE docs")?;
    client.batch_execute("CHECKPOINT")?;
    let before = table_bytes(&mut client)?;
    eprintln!("postgres: building tsvector + GIN…");
    let started = Instant::now();
    client.batch_execute(
        "ALTER TABLE docs ADD COLUMN tsv tsvector \
           GENERATED ALWAYS AS (to_tsvector('english', body)) STORED; \
         CREATE INDEX docs_tsv ON docs USING gin (tsv); ANALYZE docs",
    )?;
    let build_s = started.elapsed().as_secs_f64();
    let index_bytes = table_bytes(&mut client)?.saturating_sub(before);
    let statements = statements(&mut client)?;
    let mut answers = Answers::new();
    for _pass in 0..2 {
        answers = Answers::new();
        for q in queries {
            let Some((which, text)) = tsquery(q) else {
                answers.push(None);
                continue;
            };
            let started = Instant::now();
            let rows = client.query(&statements[which], &[&text]);
            let elapsed = started.elapsed();
            answers.push(rows.ok().map(|rows| {
                let ids = rows.iter().map(|r| r.get::<_, i64>(0) as u64).collect();
                (ids, elapsed)
            }));
        }
    }
    let visible_ms = commit_to_searchable(&mut client, docs.len())?;
    drop(client);
    drop(cluster);
    Ok(System {
        name: "PostgreSQL".to_string(),
        build_s,
        index_bytes,
        visible_ms,
        answers,
        note: "ts_rank, not BM25; no fuzzy terms".to_string(),
    })
}

fn commit_to_searchable(client: &mut Client, first_id: usize) -> anyhow::Result<f64> {
    let mut total = Duration::ZERO;
    for round in 0..VISIBILITY_ROUNDS {
        let word = super::fresh_word(round);
        let id = (first_id + round) as i64;
        let body = format!("a fresh paragraph about {word}");
        let mut txn = client.transaction()?;
        txn.execute("INSERT INTO docs (id, body) VALUES ($1, $2)", &[&id, &body])?;
        let started = Instant::now();
        txn.commit()?;
        let row = client.query_one(
            "SELECT count(*) FROM docs WHERE tsv @@ plainto_tsquery('english', $1)",
            &[&word],
        )?;
        total += started.elapsed();
        anyhow::ensure!(
            row.get::<_, i64>(0) == 1,
            "postgres: a committed paragraph was not found"
        );
    }
    Ok(total.as_secs_f64() * 1e3 / VISIBILITY_ROUNDS as f64)
}
