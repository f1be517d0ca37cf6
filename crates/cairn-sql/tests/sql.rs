//! The SQL surface's tests: sqllogictest files (`tests/slt/*.slt`) run against a fresh
//! in-memory database each, plus a few tests that need Rust (streaming, concurrency).
//!
//! The `.slt` format is the subset of sqllogictest that DataFusion's own suite uses:
//!
//! ```text
//! statement ok
//! CREATE TABLE t (a INT)
//!
//! statement error 23505
//! INSERT INTO t VALUES ...
//!
//! query IT rowsort
//! SELECT a, b FROM t
//! ----
//! 1 x
//! ```
//!
//! `statement error` may name the expected SQLSTATE. A `query` prints each row's values
//! separated by single spaces (NULL as `NULL`, an empty string as `(empty)`); `rowsort` sorts
//! the printed rows. Every query runs twice — with filter pushdown into Cairn and without —
//! and both answers must equal the expected one: pushdown changes speed, never answers.
//! A record `session N` switches to session N (for transaction tests), created on first use.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cairn_sql::{Output, SqlSession};

mod sql_lineage;
mod sql_models;

/// One record of an `.slt` file.
#[derive(Debug)]
enum Record {
    Statement {
        line: usize,
        sql: String,
        error: Option<Option<String>>,
    },
    Query {
        line: usize,
        sql: String,
        rowsort: bool,
        expected: Vec<String>,
        error: Option<String>,
    },
    Session(usize),
}

fn parse(text: &str) -> Vec<Record> {
    let lines: Vec<&str> = text.lines().collect();
    let mut records = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        if line.is_empty() || line.starts_with('#') {
            i += 1;
            continue;
        }
        let start = i + 1;
        let words: Vec<&str> = line.split_whitespace().collect();
        i += 1;
        let mut sql = Vec::new();
        while i < lines.len() && !lines[i].trim().is_empty() && lines[i].trim() != "----" {
            sql.push(lines[i]);
            i += 1;
        }
        let sql = sql.join("\n");
        match words.as_slice() {
            ["session", n] => {
                records.push(Record::Session(n.parse().expect("session number")));
            }
            ["statement", "ok"] => records.push(Record::Statement {
                line: start,
                sql,
                error: None,
            }),
            ["statement", "error", rest @ ..] => records.push(Record::Statement {
                line: start,
                sql,
                error: Some(rest.first().map(|s| s.to_string())),
            }),
            ["query", "error", code] => records.push(Record::Query {
                line: start,
                sql,
                rowsort: false,
                expected: Vec::new(),
                error: Some(code.to_string()),
            }),
            ["query", _types, rest @ ..] => {
                let mut expected = Vec::new();
                if i < lines.len() && lines[i].trim() == "----" {
                    i += 1;
                    while i < lines.len() && !lines[i].trim().is_empty() {
                        expected.push(lines[i].trim_end().to_string());
                        i += 1;
                    }
                }
                records.push(Record::Query {
                    line: start,
                    sql,
                    rowsort: rest.contains(&"rowsort"),
                    expected,
                    error: None,
                });
            }
            other => panic!("line {start}: unknown record {other:?}"),
        }
    }
    records
}

/// Runs `sql` and prints its rows (or the error's SQLSTATE).
async fn rows(session: &mut SqlSession, sql: &str) -> Result<Vec<String>, (String, String)> {
    let fail = |e: cairn_sql::SqlError| (e.sqlstate().to_string(), e.to_string());
    let mut out = Vec::new();
    for statement in SqlSession::parse(sql).map_err(fail)? {
        if let Output::Rows(stream) = session.execute_statement(statement).await.map_err(fail)? {
            let batches = session.collect(stream).await.map_err(fail)?;
            out.extend(cairn_sql::text::rows(&batches).map_err(fail)?);
        }
    }
    Ok(out)
}

async fn run_file(path: &Path) {
    let name = path.display().to_string();
    let db = cairn::open_in_memory().expect("open");
    let mut sessions: BTreeMap<usize, SqlSession> = BTreeMap::new();
    let mut current = 0usize;
    let records = parse(&std::fs::read_to_string(path).expect("read slt"));
    assert!(!records.is_empty(), "{name}: no records");
    eprintln!("{name}: {} records", records.len());
    for record in records {
        let session = sessions
            .entry(current)
            .or_insert_with(|| SqlSession::new(db.clone()));
        match record {
            Record::Session(n) => current = n,
            Record::Statement { line, sql, error } => {
                let outcome = rows(session, &sql).await;
                match (error, outcome) {
                    (None, Ok(_)) => {}
                    (None, Err((code, message))) => {
                        panic!("{name}:{line}: statement failed ({code}): {message}\n{sql}")
                    }
                    (Some(_), Ok(_)) => {
                        panic!("{name}:{line}: statement succeeded, expected an error\n{sql}")
                    }
                    (Some(Some(expected)), Err((code, message))) => assert_eq!(
                        code, expected,
                        "{name}:{line}: wrong SQLSTATE ({message})\n{sql}"
                    ),
                    (Some(None), Err(_)) => {}
                }
            }
            Record::Query {
                line,
                sql,
                rowsort,
                expected,
                error,
            } => {
                for pushdown in [true, false] {
                    session.set_pushdown(pushdown);
                    let outcome = rows(session, &sql).await;
                    session.set_pushdown(true);
                    match (&error, outcome) {
                        (Some(code), Err((got, _))) => assert_eq!(&got, code, "{name}:{line}"),
                        (Some(_), Ok(_)) => {
                            panic!("{name}:{line}: query succeeded, expected an error")
                        }
                        (None, Err((code, message))) => {
                            panic!("{name}:{line}: query failed ({code}, pushdown {pushdown}): {message}\n{sql}")
                        }
                        (None, Ok(mut got)) => {
                            if rowsort {
                                got.sort();
                            }
                            assert_eq!(
                                got, expected,
                                "{name}:{line}: wrong answer with pushdown {pushdown}\n{sql}"
                            );
                        }
                    }
                }
            }
        }
    }
}

fn slt_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("tests/slt")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqllogictest_files() {
    let filter = std::env::var("SLT").ok();
    for path in slt_files() {
        if filter
            .as_deref()
            .is_some_and(|f| !path.to_string_lossy().contains(f))
        {
            continue;
        }
        run_file(&path).await;
    }
}

/// The text of `EXPLAIN sql`.
async fn explain(session: &mut SqlSession, sql: &str) -> String {
    rows(session, &format!("EXPLAIN {sql}"))
        .await
        .expect("explain")
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_shows_cairns_access_path_and_exact_pushdown_drops_the_filter() {
    let db = cairn::open_in_memory().expect("open");
    let mut session = SqlSession::new(db);
    for sql in [
        "CREATE TABLE tx (account INT NOT NULL, amount DOUBLE)",
        "CREATE INDEX by_account ON tx (account)",
        "INSERT INTO tx (account, amount) SELECT value % 100, 1.0 FROM generate_series(1, 1000)",
    ] {
        rows(&mut session, sql).await.expect(sql);
    }
    let plan = explain(&mut session, "SELECT amount FROM tx WHERE account = 42").await;
    assert!(plan.contains("CairnScan: collection=tx"), "{plan}");
    assert!(
        plan.contains("by_account"),
        "the index is the access path: {plan}"
    );
    // Declared column: Cairn's answer is exact, so DataFusion keeps no filter of its own.
    assert!(!plan.contains("FilterExec"), "{plan}");

    // Schemaless: the same filter is pushed as a narrowing and re-checked by DataFusion.
    rows(&mut session, "CREATE TABLE loose ()")
        .await
        .expect("create");
    rows(&mut session, "CREATE INDEX loose_a ON loose (a)")
        .await
        .expect("index");
    let db = session.database().clone();
    db.transaction(|txn| {
        for i in 0..1000 {
            let doc = cairn::Value::from_json_str(&format!(r#"{{"a": {}}}"#, i % 100))?;
            txn.insert("loose", doc)?;
        }
        Ok(())
    })
    .expect("load");
    let plan = explain(&mut session, "SELECT a FROM loose WHERE a = 42").await;
    assert!(plan.contains("loose_a"), "{plan}");
    assert!(plan.contains("FilterExec"), "{plan}");
    let got = rows(&mut session, "SELECT count(*) FROM loose WHERE a = 42")
        .await
        .expect("count");
    assert_eq!(got, vec!["10"]);
}

/// The `docs_examined` figure of the Cairn scan in `EXPLAIN ANALYZE sql`, and the plan.
async fn examined(session: &mut SqlSession, sql: &str) -> (usize, String) {
    let plan = rows(session, &format!("EXPLAIN ANALYZE {sql}"))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .join("\n");
    let line = plan
        .lines()
        .find(|l| l.contains("CairnScan: collection="))
        .unwrap_or_else(|| panic!("no Cairn scan in {plan}"));
    // DataFusion prints large counts rounded: `1.00 K`.
    let figure = line
        .split("docs_examined=")
        .nth(1)
        .and_then(|rest| rest.split([',', ']']).next())
        .unwrap_or_else(|| panic!("no docs_examined in {line}"));
    let (number, scale) = match figure.strip_suffix(" K") {
        Some(n) => (n, 1000.0),
        None => (figure, 1.0),
    };
    (
        (number.parse::<f64>().unwrap() * scale).round() as usize,
        plan,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_integer_id_literal_is_a_point_lookup_while_every_id_is_an_integer() {
    let db = cairn::open_in_memory().expect("open");
    let mut session = SqlSession::new(db);
    for sql in [
        "CREATE TABLE points (v INT NOT NULL)",
        "INSERT INTO points (_id, v) SELECT value, value * 2 FROM generate_series(1, 1000)",
    ] {
        rows(&mut session, sql).await.expect(sql);
    }
    let plan = explain(&mut session, "SELECT v FROM points WHERE _id = 42").await;
    assert!(plan.contains("_id"), "{plan}");
    assert!(
        !plan.contains("full scan"),
        "a key lookup, not a scan: {plan}"
    );
    let (read, plan) = examined(&mut session, "SELECT v FROM points WHERE _id = 42").await;
    assert_eq!(read, 1, "one document read: {plan}");
    let (read, _) = examined(
        &mut session,
        "SELECT v FROM points WHERE _id IN (3, 4, 5000)",
    )
    .await;
    assert_eq!(read, 2);
    assert_eq!(
        rows(&mut session, "SELECT v FROM points WHERE _id = 42")
            .await
            .expect("select"),
        vec!["84"]
    );
    // Without the pushdown the same answer comes from reading everything.
    session.set_pushdown(false);
    let (read, _) = examined(&mut session, "SELECT v FROM points WHERE _id = 42").await;
    assert_eq!(read, 1000);
    session.set_pushdown(true);
    // A string id makes `CAST(_id AS BIGINT) = 42` mean more than the integer id 42
    // (`"042"` casts to 42 too): no lookup then, and the answer is SQL's.
    rows(
        &mut session,
        "INSERT INTO points (_id, v) VALUES ('042', 0)",
    )
    .await
    .expect("insert");
    let (read, _) = examined(&mut session, "SELECT v FROM points WHERE _id = 42").await;
    assert!(read >= 1000, "every document is read: {read}");
    let mut got = rows(&mut session, "SELECT v FROM points WHERE _id = 42")
        .await
        .expect("select");
    got.sort();
    assert_eq!(got, vec!["0", "84"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_stream_in_batches() {
    let db = cairn::open_in_memory().expect("open");
    db.create_collection("many").expect("create");
    let docs: Vec<cairn::Value> = (0..3000)
        .map(|i| {
            cairn::Value::from_json_str(&format!(r#"{{"_id": {i}, "n": {i}}}"#)).expect("json")
        })
        .collect();
    db.transaction(|txn| {
        for doc in &docs {
            txn.insert("many", doc.clone())?;
        }
        Ok(())
    })
    .expect("load");
    let mut session = SqlSession::new(db);
    let statement = SqlSession::parse("SELECT n FROM many")
        .expect("parse")
        .remove(0);
    let Output::Rows(stream) = session.execute_statement(statement).await.expect("run") else {
        panic!("rows expected");
    };
    let batches = session.collect(stream).await.expect("collect");
    assert!(
        batches.len() >= 3,
        "one batch per page of {} rows",
        cairn_sql::limits::SCAN_BATCH_ROWS
    );
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 3000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_over_its_timeout_fails_with_57014() {
    let db = cairn::open_in_memory().expect("open");
    let mut session = SqlSession::new(db);
    session.set_timeout(std::time::Duration::from_millis(1));
    let err = rows(
        &mut session,
        "SELECT count(*) FROM generate_series(1, 1000000000) a JOIN generate_series(1, 10) b ON a.value = b.value",
    )
    .await
    .expect_err("a billion rows do not fit in a millisecond");
    assert_eq!(err.0, "57014", "{}", err.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_limit_are_refused_with_53300() {
    use tokio::io::AsyncReadExt;
    let db = cairn::open_in_memory().expect("open");
    let config = cairn_sql::pg::PgConfig {
        max_connections: 1,
        ..cairn_sql::pg::PgConfig::default()
    };
    let server = cairn_sql::pg::PgServer::bind(
        "127.0.0.1:0".parse().expect("addr"),
        db,
        std::sync::Arc::new(cairn_sql::pg::NoUsers),
        config,
    )
    .await
    .expect("bind");
    let address = server.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    let _first = tokio::net::TcpStream::connect(address)
        .await
        .expect("first");
    // Give the server time to accept the first connection (it holds the only permit).
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let mut second = tokio::net::TcpStream::connect(address)
        .await
        .expect("second");
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        second.read_to_end(&mut reply),
    )
    .await;
    assert_eq!(reply.first(), Some(&b'E'), "an ErrorResponse: {reply:?}");
    assert!(String::from_utf8_lossy(&reply).contains("53300"));
    let _ = stop.send(());
    serving.await.expect("server task");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_of_reads_a_table_as_it_was_after_a_commit() {
    let db = cairn::open_in_memory().expect("open");
    let mut session = SqlSession::new(db.clone());
    rows(
        &mut session,
        "CREATE TABLE acct (owner TEXT NOT NULL, balance BIGINT); \
         INSERT INTO acct (_id, owner, balance) VALUES (1, 'ann', 10), (2, 'ben', 20)",
    )
    .await
    .expect("load");
    let before = db.last_seq();
    rows(
        &mut session,
        "UPDATE acct SET balance = 0 WHERE owner = 'ann'; DELETE FROM acct WHERE owner = 'ben'; \
         INSERT INTO acct (_id, owner, balance) VALUES (3, 'cy', 30)",
    )
    .await
    .expect("change");
    let now = rows(
        &mut session,
        "SELECT owner, balance FROM acct ORDER BY owner",
    )
    .await;
    assert_eq!(now, Ok(vec!["ann 0".to_string(), "cy 30".to_string()]));
    // The past, by sequence number (integer or digits), filtered and joined with the present.
    for point in [before.to_string(), format!("'{before}'")] {
        let past = rows(
            &mut session,
            &format!("SELECT owner, balance FROM as_of('acct', {point}) WHERE balance > 5 ORDER BY owner"),
        )
        .await;
        assert_eq!(
            past,
            Ok(vec!["ann 10".to_string(), "ben 20".to_string()]),
            "{point}"
        );
    }
    let joined = rows(
        &mut session,
        &format!(
            "SELECT p.owner, p.balance - c.balance FROM as_of('acct', {before}) p \
             JOIN acct c ON p._id = c._id"
        ),
    )
    .await;
    assert_eq!(joined, Ok(vec!["ann 10".to_string()]));
    // A time reads the state a read at that time saw (today's, for a later time); a sequence
    // number after the last commit, or a point that is neither, fails.
    let latest = rows(
        &mut session,
        "SELECT count(*) FROM as_of('acct', '2999-01-01T00:00:00Z')",
    )
    .await;
    assert_eq!(
        latest,
        Ok(vec!["2".to_string()]),
        "a later time reads the latest commit"
    );
    let future = rows(
        &mut session,
        &format!("SELECT * FROM as_of('acct', {})", db.last_seq() + 10),
    )
    .await;
    assert!(future.is_err(), "{future:?}");
    let bad = rows(&mut session, "SELECT * FROM as_of('acct', 'yesterday')").await;
    assert!(bad.is_err(), "{bad:?}");
    let explain = explain(
        &mut session,
        &format!("SELECT owner FROM as_of('acct', {before})"),
    )
    .await;
    assert!(
        explain.contains(&format!("as of commit {before}")),
        "{explain}"
    );
}
