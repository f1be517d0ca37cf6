//! Model functions in SQL against the JSON query API: `ORDER BY emb <-> … LIMIT k` equals
//! `$nearVector`, `ORDER BY st_3ddistance(…) LIMIT k` equals `$near`, `st_3ddwithin` equals
//! `$withinDistance`, `text_search` equals `$text` — with and without the models' indexes,
//! and with the pushdown on and off — and `EXPLAIN` names the access path Cairn takes.

use cairn::query::parse_filter;
use cairn::{Database, Object, Query, Value};
use cairn_sql::SqlSession;

use super::{explain, rows};

const DIMS: usize = 8;
const DOCS: i64 = 400;
const WORDS: [&str; 8] = [
    "hydrogen", "helium", "oxygen", "carbon", "neon", "argon", "water", "metal",
];

/// A deterministic pseudo-random sequence (tests must not depend on a seed source).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

async fn loaded() -> (Database, SqlSession) {
    let db = cairn::open_in_memory().expect("open");
    let mut session = SqlSession::new(db.clone());
    rows(
        &mut session,
        "CREATE TABLE pts (n INT NOT NULL, emb vector(8), place geometry, body TEXT)",
    )
    .await
    .expect("create");
    let mut rng = Lcg(7);
    db.transaction(|txn| {
        for i in 0..DOCS {
            let mut doc = Object::new();
            doc.insert("_id", Value::Int(i));
            doc.insert("n", Value::Int(i % 100));
            let v: Vec<f32> = (0..DIMS).map(|_| (rng.next() * 2.0 - 1.0) as f32).collect();
            doc.insert("emb", Value::Vector(cairn::Vector::from_vec(v)));
            let wkt = format!(
                "POINT Z ({} {} {})",
                (rng.next() * 100.0).round(),
                (rng.next() * 100.0).round(),
                (rng.next() * 10.0).round()
            );
            let geometry = cairn::geo::from_wkt(&wkt).expect("wkt");
            doc.insert("place", Value::Geometry(Box::new(geometry)));
            let words: Vec<&str> = (0..4)
                .map(|_| WORDS[(rng.next() * WORDS.len() as f64) as usize % WORDS.len()])
                .collect();
            doc.insert("body", Value::String(words.join(" ")));
            txn.insert("pts", Value::Object(doc))?;
        }
        Ok(())
    })
    .expect("load");
    (db, session)
}

/// The ids the JSON query API returns for `filter`, in its order.
fn json_ids(db: &Database, filter: &str) -> Vec<String> {
    let filter =
        parse_filter(&Value::from_json_expression(filter).expect("filter json")).expect("filter");
    let found = cairn::find(db, "pts", &Query::new(filter)).expect("find");
    found
        .documents
        .iter()
        .map(|d| match d.as_object().and_then(|o| o.get("_id")) {
            Some(Value::Int(i)) => i.to_string(),
            other => panic!("id {other:?}"),
        })
        .collect()
}

/// The SQL answer with the pushdown on, checked equal to the answer with it off.
async fn sql_ids(session: &mut SqlSession, sql: &str) -> Vec<String> {
    let pushed = rows(session, sql).await.expect(sql);
    session.set_pushdown(false);
    let unpushed = rows(session, sql).await.expect(sql);
    session.set_pushdown(true);
    assert_eq!(pushed, unpushed, "pushdown changed the answer of {sql}");
    pushed
}

fn vector_text(q: &[f32]) -> String {
    let parts: Vec<String> = q.iter().map(|f| format!("{f:?}")).collect();
    format!("[{}]", parts.join(", "))
}

const METRICS: [(&str, &str, &str); 3] = [
    ("<->", "l2", "vector_l2_ops"),
    ("<=>", "cosine", "vector_cosine_ops"),
    ("<#>", "dot", "vector_ip_ops"),
];

async fn check_vectors(db: &Database, session: &mut SqlSession, indexed: bool) {
    let mut rng = Lcg(99);
    for (op, metric, _) in METRICS {
        for _ in 0..3 {
            let q: Vec<f32> = (0..DIMS).map(|_| (rng.next() * 2.0 - 1.0) as f32).collect();
            let text = vector_text(&q);
            let got = sql_ids(
                session,
                &format!("SELECT _id FROM pts ORDER BY emb {op} '{text}' LIMIT 10"),
            )
            .await;
            let want = json_ids(
                db,
                &format!(
                    r#"{{"emb": {{"$nearVector": {{"vector": {text}, "k": 10, "metric": "{metric}"}}}}}}"#
                ),
            );
            assert_eq!(got, want, "{metric} (indexed: {indexed})");
            let got = sql_ids(
                session,
                &format!("SELECT _id FROM pts WHERE n < 30 ORDER BY emb {op} '{text}' LIMIT 5"),
            )
            .await;
            let want = json_ids(
                db,
                &format!(
                    r#"{{"n": {{"$lt": 30}}, "emb": {{"$nearVector": {{"vector": {text}, "k": 5, "metric": "{metric}"}}}}}}"#
                ),
            );
            assert_eq!(got, want, "{metric} filtered (indexed: {indexed})");
        }
    }
}

async fn check_geometry(db: &Database, session: &mut SqlSession, indexed: bool) {
    for (x, y, z, r) in [(50, 50, 5, 10.0), (0, 0, 0, 30.0), (99, 10, 3, 12.5)] {
        let p = format!("POINT Z ({x} {y} {z})");
        let got = sql_ids(
            session,
            &format!("SELECT _id FROM pts ORDER BY st_3ddistance(place, '{p}') LIMIT 7"),
        )
        .await;
        let want = json_ids(
            db,
            &format!(r#"{{"place": {{"$near": {{"shape": "{p}", "k": 7}}}}}}"#),
        );
        assert_eq!(got, want, "$near {p} (indexed: {indexed})");
        let mut got = sql_ids(
            session,
            &format!("SELECT _id FROM pts WHERE st_3ddwithin(place, '{p}', {r})"),
        )
        .await;
        let mut want = json_ids(
            db,
            &format!(r#"{{"place": {{"$withinDistance": {{"shape": "{p}", "distance": {r}}}}}}}"#),
        );
        got.sort();
        want.sort();
        assert!(!want.is_empty(), "the test needs matches within {r} of {p}");
        assert_eq!(got, want, "$withinDistance {p} {r} (indexed: {indexed})");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_functions_in_sql_equal_the_json_query_api() {
    let (db, mut session) = loaded().await;
    check_vectors(&db, &mut session, false).await;
    check_geometry(&db, &mut session, false).await;
    let plan = explain(
        &mut session,
        "SELECT _id FROM pts ORDER BY emb <-> '[1,0,0,0,0,0,0,0]' LIMIT 3",
    )
    .await;
    assert!(
        plan.contains("$nearVector on `emb` k=3 through an exact scan"),
        "{plan}"
    );

    for (_, metric, class) in METRICS {
        rows(
            &mut session,
            &format!("CREATE INDEX pts_{metric} ON pts USING hnsw (emb {class})"),
        )
        .await
        .expect("hnsw");
    }
    rows(
        &mut session,
        "CREATE INDEX pts_place ON pts USING gist (place)",
    )
    .await
    .expect("gist");
    check_vectors(&db, &mut session, true).await;
    check_geometry(&db, &mut session, true).await;

    let plan = explain(
        &mut session,
        "SELECT _id FROM pts ORDER BY emb <=> '[1,0,0,0,0,0,0,0]' LIMIT 3",
    )
    .await;
    assert!(
        plan.contains("$nearVector on `emb` k=3 through index `pts_cosine`"),
        "{plan}"
    );
    let plan = explain(
        &mut session,
        "SELECT _id, st_3ddistance(place, 'POINT Z (1 2 3)') AS d FROM pts WHERE n = 4 ORDER BY d LIMIT 2",
    )
    .await;
    assert!(
        plan.contains("$near on `place` k=2 through index `pts_place`"),
        "{plan}"
    );
    let plan = explain(
        &mut session,
        "SELECT _id FROM pts WHERE st_3ddwithin(place, 'POINT Z (1 2 3)', 4)",
    )
    .await;
    assert!(plan.contains("pts_place"), "{plan}");
    assert!(
        !plan.contains("FilterExec"),
        "a declared geometry column is exact: {plan}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_search_equals_text_queries() {
    let (db, mut session) = loaded().await;
    rows(
        &mut session,
        "CREATE INDEX pts_body ON pts USING gin (body)",
    )
    .await
    .expect("gin");
    for (query, k) in [
        ("hydrogen", 10),
        ("helium water", 25),
        ("\"carbon neon\"", 5),
    ] {
        let got = sql_ids(
            &mut session,
            &format!("SELECT _id FROM text_search('pts', '{query}', {k})"),
        )
        .await;
        let quoted = query.replace('"', "\\\"");
        let want = json_ids(
            &db,
            &format!(r#"{{"$text": {{"query": "{quoted}", "k": {k}}}}}"#),
        );
        assert!(!want.is_empty(), "{query}");
        assert_eq!(got, want, "{query}");
    }
    // Scores are BM25's, best first.
    let scores = rows(
        &mut session,
        "SELECT _score FROM text_search('pts', 'argon', 20)",
    )
    .await
    .expect("scores");
    let values: Vec<f64> = scores.iter().map(|s| s.parse().expect("score")).collect();
    assert!(
        values.windows(2).all(|w| w[0] >= w[1]) && values[0] > 0.0,
        "{values:?}"
    );
    let plan = explain(
        &mut session,
        "SELECT _id FROM text_search('pts', 'argon', 3)",
    )
    .await;
    assert!(
        plan.contains("$text k=3 through index `pts_body`"),
        "{plan}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_by_an_indexed_column_limit_reads_the_index_in_order() {
    let db = cairn::open_in_memory().expect("open");
    let mut session = SqlSession::new(db);
    for sql in [
        "CREATE TABLE ranked (score DOUBLE NOT NULL, grp INT NOT NULL)",
        "INSERT INTO ranked (_id, score, grp) SELECT value, (value * 37) % 3001, value % 3 FROM generate_series(1, 3000)",
        "CREATE INDEX ranked_score ON ranked (score)",
    ] {
        rows(&mut session, sql).await.expect(sql);
    }
    let sql = "SELECT _id FROM ranked ORDER BY score DESC LIMIT 5";
    let plan = explain(&mut session, sql).await;
    assert!(
        plan.contains("in `score` order (descending), first 5"),
        "{plan}"
    );
    assert!(
        plan.contains("ranked_score"),
        "the index serves the order: {plan}"
    );
    let got = sql_ids(&mut session, sql).await;
    let want: Vec<String> = (0..5)
        .map(|i| {
            let score = 3000 - i;
            // 37 · 730 ≡ 1 (mod 3001): the id whose score is `score`.
            ((score * 730) % 3001).to_string()
        })
        .collect();
    assert_eq!(got, want);
}
