//! SQLite FTS5 in the text benchmark (rusqlite's bundled SQLite, built with FTS5): the
//! paragraphs in a table, an external-content FTS5 table over it (`porter unicode61
//! remove_diacritics 2`: Porter stemming after Unicode word splitting and folding) built with
//! `rebuild`, top-10 by `rank` (FTS5's BM25). FTS5 has no fuzzy terms.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection};

use super::corpus::{TextQuery, CLASSES};
use super::{Answers, System, K, LOAD_BATCH, VISIBILITY_ROUNDS};

/// The query in FTS5's syntax (every word quoted, so no word reads as an operator).
fn match_string(q: &TextQuery) -> Option<String> {
    let w = &q.words;
    Some(match CLASSES[q.class] {
        "term" => format!("\"{}\"", w[0]),
        "and" => format!("\"{}\" AND \"{}\"", w[0], w[1]),
        "or" => format!("\"{}\" OR \"{}\"", w[0], w[1]),
        "phrase" => format!("\"{} {}\"", w[0], w[1]),
        "prefix" => format!("\"{}\"*", w[0]),
        _ => return None,
    })
}

fn file_bytes(conn: &Connection) -> anyhow::Result<u64> {
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    let size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    Ok((pages * size) as u64)
}

/// Loads, builds and queries.
pub fn run(dir: &Path, docs: &[String], queries: &[TextQuery]) -> anyhow::Result<System> {
    let mut conn = Connection::open(dir.join("fts5.sqlite"))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
         CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT NOT NULL)",
    )?;
    eprintln!("sqlite: loading…");
    for (c, chunk) in docs.chunks(LOAD_BATCH).enumerate() {
        let txn = conn.transaction()?;
        {
            let mut insert = txn.prepare_cached("INSERT INTO docs VALUES (?1, ?2)")?;
            for (j, body) in chunk.iter().enumerate() {
                insert.execute(params![(c * LOAD_BATCH + j) as i64, body])?;
            }
        }
        txn.commit()?;
    }
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    let before = file_bytes(&conn)?;
    eprintln!("sqlite: building FTS5…");
    let started = Instant::now();
    conn.execute_batch(
        "CREATE VIRTUAL TABLE fts USING fts5(body, content='docs', content_rowid='id', \
         tokenize='porter unicode61 remove_diacritics 2'); \
         INSERT INTO fts(fts) VALUES ('rebuild')",
    )?;
    let build_s = started.elapsed().as_secs_f64();
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    let index_bytes = file_bytes(&conn)?.saturating_sub(before);
    let mut answers = Answers::new();
    for _pass in 0..2 {
        answers = Answers::new();
        let mut select =
            conn.prepare_cached("SELECT rowid FROM fts WHERE fts MATCH ?1 ORDER BY rank LIMIT ?2")?;
        for q in queries {
            let Some(text) = match_string(q) else {
                answers.push(None);
                continue;
            };
            let started = Instant::now();
            let ids: rusqlite::Result<Vec<u64>> = select
                .query_map(params![text, K as i64], |r| r.get::<_, i64>(0))
                .and_then(|rows| rows.map(|r| r.map(|i| i as u64)).collect());
            let elapsed = started.elapsed();
            answers.push(ids.ok().map(|ids| (ids, elapsed)));
        }
    }
    let visible_ms = commit_to_searchable(&mut conn, docs.len())?;
    Ok(System {
        name: "SQLite FTS5".to_string(),
        build_s,
        index_bytes,
        visible_ms,
        answers,
        note: "no fuzzy terms".to_string(),
    })
}

fn commit_to_searchable(conn: &mut Connection, first_id: usize) -> anyhow::Result<f64> {
    let mut total = Duration::ZERO;
    for round in 0..VISIBILITY_ROUNDS {
        let word = super::fresh_word(round);
        let id = (first_id + round) as i64;
        let body = format!("a fresh paragraph about {word}");
        let txn = conn.transaction()?;
        txn.execute("INSERT INTO docs VALUES (?1, ?2)", params![id, body])?;
        txn.execute(
            "INSERT INTO fts (rowid, body) VALUES (?1, ?2)",
            params![id, body],
        )?;
        let started = Instant::now();
        txn.commit()?;
        let found: i64 = conn.query_row(
            "SELECT count(*) FROM fts WHERE fts MATCH ?1",
            params![format!("\"{word}\"")],
            |r| r.get(0),
        )?;
        total += started.elapsed();
        anyhow::ensure!(found == 1, "sqlite: a committed paragraph was not found");
    }
    Ok(total.as_secs_f64() * 1e3 / VISIBILITY_ROUNDS as f64)
}
