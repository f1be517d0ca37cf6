//! External sources in SQL: SQLite files, a real PostgreSQL 15 (a throwaway cluster,
//! `pg_cluster`), CSV/JSON/Parquet files. Every query runs with pushdown on and off and must
//! answer the same; rows transferred from a source must equal the rows its filter matches;
//! a source going down fails only the statements that name it; a password never shows.

mod pg_cluster;

use std::path::Path;
use std::sync::Arc;

use cairn::Value;
use cairn_sql::source::{health, SourceDef, SourceKind, SourceRegistry};
use cairn_sql::{Output, SqlSession};

/// Runs `sql`, returning its rows as text (or the error's text).
async fn rows(session: &mut SqlSession, sql: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for statement in SqlSession::parse(sql).map_err(|e| e.to_string())? {
        if let Output::Rows(stream) = session
            .execute_statement(statement)
            .await
            .map_err(|e| e.to_string())?
        {
            let batches = session.collect(stream).await.map_err(|e| e.to_string())?;
            out.extend(cairn_sql::text::rows(&batches).map_err(|e| e.to_string())?);
        }
    }
    Ok(out)
}

/// The rows of `sql` with pushdown on, after checking they equal the rows with it off.
async fn same_both_ways(session: &mut SqlSession, sql: &str) -> Vec<String> {
    session.set_pushdown(false);
    let plain = rows(session, sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    session.set_pushdown(true);
    let pushed = rows(session, sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    assert_eq!(pushed, plain, "{sql}: pushdown changed the answer");
    pushed
}

/// The statement `EXPLAIN` says goes to the source.
async fn remote_sql(session: &mut SqlSession, sql: &str) -> String {
    let plan = rows(session, &format!("EXPLAIN {sql}"))
        .await
        .expect("explain");
    let line = plan
        .iter()
        .flat_map(|row| row.lines())
        .find(|l| l.contains("RemoteScan"))
        .unwrap_or_else(|| panic!("no RemoteScan in {plan:#?}"));
    line.to_string()
}

/// Rows `sql` returns and rows the source sent meanwhile.
async fn transferred(
    session: &mut SqlSession,
    registry: &Arc<SourceRegistry>,
    source: &str,
    sql: &str,
) -> (usize, u64) {
    let before = registry.rows_transferred(source);
    let result = rows(session, sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    (result.len(), registry.rows_transferred(source) - before)
}

fn stations(db: &cairn::Database) {
    db.create_collection("stations").unwrap();
    for i in 0..10 {
        let doc = Value::from_json_str(&format!(
            r#"{{"_id": {i}, "name": "s{i}", "city": "{}"}}"#,
            if i % 2 == 0 { "Oslo" } else { "Lima" }
        ))
        .unwrap();
        db.insert("stations", doc).unwrap();
    }
}

fn sqlite_file(path: &Path) {
    let connection = rusqlite::Connection::open(path).unwrap();
    connection
        .execute_batch(
            "CREATE TABLE readings (id INTEGER PRIMARY KEY, station TEXT, value REAL, \
             ok BOOLEAN, note TEXT, taken DATE);",
        )
        .unwrap();
    let mut insert = connection
        .prepare("INSERT INTO readings VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
        .unwrap();
    for i in 0..2000i64 {
        let note = (i % 7 == 0).then(|| format!("n{i}"));
        insert
            .execute(rusqlite::params![
                i,
                format!("s{}", i % 10),
                (i * 37 % 1000) as f64 / 10.0,
                i % 3 == 0,
                note,
                format!("2024-01-{:02}", i % 28 + 1),
            ])
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_tables_push_filters_projection_and_limit() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lab.db");
    sqlite_file(&file);
    let db = cairn::open_in_memory().unwrap();
    stations(&db);
    let def = SourceDef::new("lab", SourceKind::Sqlite, &file.display().to_string()).unwrap();
    cairn_sql::source::add(&db, &def).unwrap();
    let mut session = SqlSession::new(db.clone());
    let registry = session.sources().unwrap();

    for sql in [
        "SELECT id, value FROM lab.main.readings WHERE station = 's3' AND value > 50 ORDER BY id",
        "SELECT id FROM lab.main.readings WHERE id BETWEEN 10 AND 20 OR station IN ('s1', 's2') ORDER BY id",
        "SELECT id, ok FROM lab.main.readings WHERE ok = true AND NOT (value >= 10) ORDER BY id",
        "SELECT id FROM lab.main.readings WHERE note IS NULL AND id < 30 ORDER BY id",
        "SELECT id, taken FROM lab.main.readings WHERE taken = '2024-01-03' ORDER BY id",
        "SELECT id FROM lab.main.readings WHERE station LIKE 's1%' ORDER BY id",
        "SELECT count(*), sum(value) FROM lab.main.readings WHERE value < 10",
        "SELECT s.city, count(*) FROM stations s JOIN lab.main.readings r ON r.station = s.name \
         WHERE r.value > 90 GROUP BY s.city ORDER BY s.city",
    ] {
        let answer = same_both_ways(&mut session, sql).await;
        assert!(!answer.is_empty(), "{sql}: no rows");
    }

    // The filter runs in SQLite: rows transferred equal rows matched.
    let sql = "SELECT id FROM lab.main.readings WHERE station = 's3' AND value > 50";
    let (matched, sent) = transferred(&mut session, &registry, "lab", sql).await;
    assert!(matched > 0);
    assert_eq!(sent, matched as u64);
    let statement = remote_sql(&mut session, sql).await;
    assert!(
        statement.contains(r#"SELECT "id" FROM "readings" WHERE"#),
        "{statement}"
    );
    assert!(statement.contains("'s3'"), "{statement}");

    // LIMIT goes with it when every filter was pushed.
    let sql = "SELECT id FROM lab.main.readings WHERE station = 's1' LIMIT 7";
    let (matched, sent) = transferred(&mut session, &registry, "lab", sql).await;
    assert_eq!((matched, sent), (7, 7));
    assert!(remote_sql(&mut session, sql).await.contains("LIMIT 7"));

    // SQLite's LIKE ignores case: never pushed (so the answer above was DataFusion's).
    let statement = remote_sql(
        &mut session,
        "SELECT id FROM lab.main.readings WHERE station LIKE 'S1%'",
    )
    .await;
    assert!(!statement.contains("LIKE"), "{statement}");

    // Unknown tables and sources are plain "not found" errors naming them.
    let err = rows(&mut session, "SELECT * FROM lab.main.nope")
        .await
        .unwrap_err();
    assert!(err.contains("nope"), "{err}");
    let err = rows(&mut session, "SELECT * FROM nosuch.main.readings")
        .await
        .unwrap_err();
    assert!(err.contains("nosuch"), "{err}");

    // The file disappears: statements on it fail naming the source; others still run.
    std::fs::remove_file(&file).unwrap();
    let err = rows(&mut session, "SELECT id FROM lab.main.readings")
        .await
        .unwrap_err();
    assert!(err.contains("source `lab` is unavailable"), "{err}");
    assert_eq!(
        rows(&mut session, "SELECT count(*) FROM stations")
            .await
            .unwrap(),
        ["10"]
    );
    let health = health::check(&registry.handle("lab").unwrap()).await;
    assert!(!health.is_up());
}

/// Documents the Cairn scan of `collection` read (its `docs_examined` metric) in
/// `EXPLAIN ANALYZE sql`.
async fn scanned(session: &mut SqlSession, sql: &str, collection: &str) -> (usize, String) {
    let plan = rows(session, &format!("EXPLAIN ANALYZE {sql}"))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let text = plan.join("\n");
    let line = text
        .lines()
        .find(|l| l.contains(&format!("CairnScan: collection={collection}")))
        .unwrap_or_else(|| panic!("no scan of {collection} in {text}"));
    // DataFusion prints large counts rounded: `3.00 K`.
    let figure = line
        .split("docs_examined=")
        .nth(1)
        .and_then(|rest| rest.split([',', ']']).next())
        .unwrap_or_else(|| panic!("no docs_examined in {line}"));
    let (number, scale) = match figure.strip_suffix(" K") {
        Some(n) => (n, 1000.0),
        None => (figure, 1.0),
    };
    let count = (number.parse::<f64>().unwrap() * scale).round() as usize;
    (count, line.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_reads_only_the_cairn_documents_whose_keys_the_source_matched() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lab.db");
    let connection = rusqlite::Connection::open(&file).unwrap();
    connection
        .execute_batch(
            "CREATE TABLE readings (id INTEGER PRIMARY KEY, station INTEGER, value INTEGER);
             WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 19999)
             INSERT INTO readings SELECT i, i % 2999, i % 1000 FROM n;",
        )
        .unwrap();
    drop(connection);
    let db = cairn::open_in_memory().unwrap();
    db.create_collection("sites").unwrap();
    let mut txn = db.begin().unwrap();
    for i in 0..3000 {
        let doc = format!(r#"{{"_id": {i}, "region": "r{}"}}"#, i % 5);
        txn.insert("sites", Value::from_json_str(&doc).unwrap())
            .unwrap();
    }
    txn.commit().unwrap();
    let def = SourceDef::new("lab", SourceKind::Sqlite, &file.display().to_string()).unwrap();
    cairn_sql::source::add(&db, &def).unwrap();
    let mut session = SqlSession::new(db.clone());

    let sql = "SELECT s.region, count(*) FROM lab.main.readings r JOIN sites s \
               ON s._id = r.station WHERE r.value = 7 GROUP BY s.region ORDER BY s.region";
    let answer = same_both_ways(&mut session, sql).await;
    let total: u32 = answer
        .iter()
        .map(|row| row.rsplit(' ').next().unwrap().parse::<u32>().unwrap())
        .sum();
    assert_eq!(total, 20, "{answer:?}");
    // 20 readings match, on 20 distinct stations: the probe reads those 20 documents (by key:
    // the partitioned join's per-partition lists become one `_id` list).
    let (read, line) = scanned(&mut session, sql, "sites").await;
    assert_eq!(read, 20, "{line}");
    assert!(line.contains("runtime=["), "{line}");
    // With pushdown off the same join reads every document (what the test above guards).
    session.set_pushdown(false);
    let (read, line) = scanned(&mut session, sql, "sites").await;
    assert_eq!(read, 3000, "{line}");
    session.set_pushdown(true);

    // A join key set larger than the runtime-filter limit probes a full scan, same answer.
    let sql = "SELECT count(*) FROM lab.main.readings r JOIN sites s ON s._id = r.station";
    assert_eq!(same_both_ways(&mut session, sql).await, ["20000"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_join_pushdown_and_a_source_going_down() {
    let Some(mut cluster) = pg_cluster::start() else {
        return;
    };
    let client = cluster.client().await;
    client
        .batch_execute(
            "CREATE TABLE measurements (id int8 PRIMARY KEY, station text, value float8, \
               amount numeric, day date, flag bool, small int4);
             INSERT INTO measurements
               SELECT i, 's' || (i % 10), (i * 37 % 10000) / 10.0, i / 3.0,
                      date '2024-01-01' + (i % 28), i % 3 = 0, i % 100
               FROM generate_series(0, 9999) AS i;
             CREATE SCHEMA other;
             CREATE TABLE other.tags (station text, tag text);
             INSERT INTO other.tags VALUES ('s1', 'north'), ('s2', 'south');",
        )
        .await
        .unwrap();
    drop(client);
    let db = cairn::open_in_memory().unwrap();
    stations(&db);
    let url = cluster.url();
    cairn_sql::source::add(
        &db,
        &SourceDef::new("pg", SourceKind::Postgres, &url).unwrap(),
    )
    .unwrap();
    let mut session = SqlSession::new(db.clone());
    let registry = session.sources().unwrap();

    let health = health::check(&registry.handle("pg").unwrap()).await;
    assert!(health.is_up(), "{health:?}");
    assert!(health
        .tables
        .contains(&("public".to_string(), "measurements".to_string())));

    for sql in [
        // The benchmark's shape: a Cairn collection joined with a table filtered to 0.1%.
        "SELECT s.city, m.id, m.value FROM stations s JOIN pg.public.measurements m \
         ON m.station = s.name WHERE m.value < 1 ORDER BY m.id",
        "SELECT id, amount, day FROM pg.public.measurements WHERE amount > 3000 AND day = '2024-01-05' ORDER BY id",
        "SELECT id FROM pg.public.measurements WHERE station LIKE 's1%' AND small IN (1, 2, 3) ORDER BY id",
        "SELECT count(*) FROM pg.public.measurements WHERE flag AND NOT (value BETWEEN 10 AND 900)",
        "SELECT t.tag, count(*) FROM pg.other.tags t JOIN pg.public.measurements m ON m.station = t.station \
         WHERE m.small = 1 GROUP BY t.tag ORDER BY t.tag",
    ] {
        let answer = same_both_ways(&mut session, sql).await;
        assert!(!answer.is_empty(), "{sql}: no rows");
    }

    let sql = "SELECT s.city, m.id FROM stations s JOIN pg.public.measurements m \
               ON m.station = s.name WHERE m.value < 1";
    let (matched, sent) = transferred(&mut session, &registry, "pg", sql).await;
    assert_eq!(matched, 10, "0.1% of 10,000 rows");
    assert_eq!(sent, matched as u64);
    let statement = remote_sql(&mut session, sql).await;
    assert!(
        statement.contains("FROM \"public\".\"measurements\" WHERE ((\"value\" < 1.0))"),
        "{statement}"
    );
    assert!(!statement.contains(pg_cluster::PASSWORD));

    let sql = "SELECT id FROM pg.public.measurements WHERE station = 's4' LIMIT 3";
    assert_eq!(
        transferred(&mut session, &registry, "pg", sql).await,
        (3, 3)
    );

    // The source goes down: statements naming it fail with its name (never its password);
    // the others do not notice.
    cluster.stop();
    let err = rows(
        &mut session,
        "SELECT id FROM pg.public.measurements WHERE id = 1",
    )
    .await
    .unwrap_err();
    assert!(err.contains("source `pg` is unavailable"), "{err}");
    assert!(!err.contains(pg_cluster::PASSWORD), "{err}");
    assert_eq!(
        rows(&mut session, "SELECT count(*) FROM stations")
            .await
            .unwrap(),
        ["10"]
    );
    let health = health::check(&registry.handle("pg").unwrap()).await;
    let error = health.error.clone().expect("down");
    assert!(
        error.contains("pg") && !error.contains(pg_cluster::PASSWORD),
        "{error}"
    );
    assert!(!format!("{registry:?}").contains(pg_cluster::PASSWORD));

    // It comes back: the next statement connects again.
    cluster.start().unwrap();
    assert_eq!(
        rows(
            &mut session,
            "SELECT id FROM pg.public.measurements WHERE id = 1"
        )
        .await
        .unwrap(),
        ["1"]
    );
    assert!(health::check(&registry.handle("pg").unwrap()).await.is_up());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_files_and_json_folders() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("people.csv");
    std::fs::write(&csv, "name,age,city\nana,31,Oslo\nbo,45,Lima\ncy,27,Oslo\n").unwrap();
    let events = dir.path().join("events");
    std::fs::create_dir(&events).unwrap();
    std::fs::write(
        events.join("a.json"),
        "{\"k\": 1, \"v\": \"x\"}\n{\"k\": 2, \"v\": \"y\"}\n",
    )
    .unwrap();
    std::fs::write(events.join("b.json"), "{\"k\": 3, \"v\": \"z\"}\n").unwrap();

    let db = cairn::open_in_memory().unwrap();
    stations(&db);
    for (name, kind, path) in [
        ("people", SourceKind::Csv, &csv),
        ("ev", SourceKind::Json, &events),
    ] {
        let def = SourceDef::new(name, kind, &path.display().to_string()).unwrap();
        cairn_sql::source::add(&db, &def).unwrap();
    }
    let mut session = SqlSession::new(db);
    assert_eq!(
        same_both_ways(
            &mut session,
            "SELECT name FROM people.public.people WHERE age > 30 ORDER BY name"
        )
        .await,
        ["ana", "bo"]
    );
    // A folder is one table: every file in it.
    assert_eq!(
        same_both_ways(
            &mut session,
            "SELECT sum(k), count(*) FROM ev.public.events"
        )
        .await,
        ["6 3"]
    );
    assert_eq!(
        same_both_ways(
            &mut session,
            "SELECT p.name, s.name FROM people.public.people p JOIN stations s ON s.city = p.city \
             WHERE s._id < 2 ORDER BY 1, 2"
        )
        .await,
        ["ana s0", "bo s1", "cy s0"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn materialising_a_source_table_records_its_lineage_and_the_catalog_lists_its_columns() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lab.db");
    sqlite_file(&file);
    let db = cairn::open_in_memory().unwrap();
    stations(&db);
    let def = SourceDef::new("lab", SourceKind::Sqlite, &file.display().to_string()).unwrap();
    cairn_sql::source::add(&db, &def).unwrap();
    let mut session = SqlSession::new(db.clone());

    // A materialisation: a collection filled from a source table joined with a collection.
    let statement = "CREATE TABLE hot AS SELECT r.id AS _id, r.value, s.city \
                     FROM lab.main.readings r JOIN stations s ON r.station = s.name \
                     WHERE r.value > 95";
    let expected = rows(
        &mut session,
        "SELECT count(*) FROM lab.main.readings WHERE value > 95",
    )
    .await
    .unwrap();
    let tags = session.execute_all(statement).await.unwrap();
    assert_eq!(tags[0].2, format!("SELECT {}", expected[0]));
    assert_eq!(
        rows(&mut session, "SELECT count(*) FROM hot")
            .await
            .unwrap(),
        expected
    );
    let hot = cairn::lineage::lineage(&db, "hot").unwrap();
    let inputs = &hot.upstream[0].inputs;
    assert_eq!(inputs.len(), 2, "{inputs:?}");
    let namespace = format!("sqlite://{}", file.display());
    assert!(inputs.contains(&cairn::lineage::LineageInput::Source {
        name: "lab.main.readings".to_string(),
        kind: "sqlite".to_string(),
        namespace: namespace.clone(),
        dataset: "readings".to_string(),
    }));
    assert!(inputs.contains(&cairn::lineage::LineageInput::Collection {
        name: "stations".to_string()
    }));
    // Browsable from the source table's side, and exported with its own namespace.
    let fed = cairn::lineage::lineage(&db, "lab.main.readings").unwrap();
    assert_eq!(fed.downstream.len(), 1);
    assert_eq!(fed.downstream[0].output, "hot");
    let event = cairn::lineage::openlineage_event(&hot.upstream[0]).to_json_string();
    assert!(
        event.contains(&format!(r#""namespace":"{namespace}","name":"readings""#)),
        "{event}"
    );

    // The catalog lists the source's table with its columns, after the collections; the
    // collection made from it shows where it came from.
    let registry = session.sources().unwrap();
    let external = cairn::catalog::ListedEntries {
        name: "sources".to_string(),
        entries: cairn_sql::source::listing::entries(&registry).await,
    };
    let entries = cairn::catalog::catalog(&db, &[&external], &[]).unwrap();
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["hot", "stations", "lab.main.readings"]);
    let readings = &entries[2];
    assert_eq!(readings.kind, "external_table");
    assert_eq!(readings.source.as_deref(), Some("lab"));
    assert_eq!(readings.column_origin, cairn::catalog::ColumnOrigin::Source);
    let columns: Vec<(&str, &str)> = readings
        .columns
        .iter()
        .map(|c| (c.path.as_str(), c.types[0].as_str()))
        .collect();
    assert_eq!(
        &columns[..3],
        [
            ("id", "bigint"),
            ("station", "text"),
            ("value", "double precision")
        ]
    );
    assert_eq!(entries[0].origins[0].operation, "create_table_as");
    assert_eq!(entries[0].origins[0].inputs.len(), 2);
    assert_eq!(entries[0].owner, None, "embedded: no user to own it");

    // A source that is down lists no tables; the collections are still listed.
    std::fs::remove_file(&file).unwrap();
    let down = cairn_sql::source::listing::entries(&registry).await;
    assert!(down.is_empty(), "{down:?}");
}
