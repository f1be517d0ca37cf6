//! `$text` through the query layer: parsed from JSON at the top of a filter, ranked by the
//! text index with the rest of the filter applied, scores and order equal to the index's own
//! search, snippets on request, `explain` counters, and named errors.

use std::sync::Arc;

use cairn_doc::Value;
use cairn_engine::{Config, Database, StorageMode};
use cairn_query::{explain, find, find_in, Filter, Query};
use cairn_text::{create_text_index, search, Language, TextExtensionKind, TextSpec};

fn open_memory() -> Database {
    cairn_text::register_query_model();
    let mut config = Config::new(std::path::PathBuf::new(), StorageMode::MemoryOnly);
    config.extension_kinds.push(Arc::new(TextExtensionKind));
    Database::open(config).expect("open")
}

const WORDS: &[&str] = &[
    "hydrogen", "helium", "water", "heavy", "fuel", "cell", "oxygen", "carbon", "engine", "rocket",
];

/// 300 documents of a few words each, `n` = id % 7.
fn filled() -> Database {
    let db = open_memory();
    db.create_collection("c").unwrap();
    let mut seed = 11u64;
    for id in 0..300i64 {
        let mut words = Vec::new();
        for _ in 0..(3 + id % 5) {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            words.push(WORDS[(seed >> 33) as usize % WORDS.len()]);
        }
        let doc = format!(
            r#"{{"_id": {id}, "body": "{}", "n": {}}}"#,
            words.join(" "),
            id % 7
        );
        db.insert("c", Value::from_json_str(&doc).unwrap()).unwrap();
    }
    let spec = TextSpec::new("t", &[("body", 1.0)], Language::English, None).unwrap();
    create_text_index(&db, "c", &spec, &mut |_| {}).unwrap();
    db
}

fn query(json: &str) -> Query {
    Query::new(Filter::parse(&Value::from_json_expression(json).unwrap()).unwrap())
}

fn rows(found: &[Value]) -> Vec<(i64, f64)> {
    found
        .iter()
        .map(|d| {
            let o = d.as_object().unwrap();
            (
                o.get("_id").and_then(Value::as_i64).unwrap(),
                o.get("_score").and_then(Value::as_f64).unwrap(),
            )
        })
        .collect()
}

/// The index's own ranking of every match, with `keep` applied, first `k`.
fn reference(db: &Database, q: &str, k: usize, keep: impl Fn(i64) -> bool) -> Vec<(i64, f64)> {
    let mut txn = db.read().unwrap();
    search(&mut txn, "c", "t", q, None)
        .unwrap()
        .hits
        .into_iter()
        .map(|h| match h.id {
            cairn_doc::DocId::Int(i) => (i, h.score),
            other => panic!("unexpected id {other:?}"),
        })
        .filter(|(id, _)| keep(*id))
        .take(k)
        .collect()
}

#[test]
fn text_ranks_like_the_index_search_with_and_without_filters() {
    let db = filled();
    for q in [
        "hydrogen",
        "heavy water",
        "+fuel -rocket",
        "\"fuel cell\"",
        "hel*",
        "oxigen~1",
    ] {
        let escaped = q.replace('"', "\\\"");
        let plain = find(
            &db,
            "c",
            &query(&format!(
                r#"{{"$text": {{"query": "{escaped}", "k": 10}}}}"#
            )),
        )
        .unwrap();
        assert_eq!(
            rows(&plain.documents),
            reference(&db, q, 10, |_| true),
            "{q}"
        );
        let filtered = find(
            &db,
            "c",
            &query(&format!(
                r#"{{"$text": {{"query": "{escaped}", "k": 10}}, "n": 3}}"#
            )),
        )
        .unwrap();
        assert_eq!(
            rows(&filtered.documents),
            reference(&db, q, 10, |id| id % 7 == 3),
            "{q} with n = 3"
        );
    }
}

#[test]
fn a_transaction_finds_its_own_text_and_snippets_mark_the_match() {
    let db = filled();
    let mut txn = db.begin().unwrap();
    txn.insert(
        "c",
        Value::from_json_str(r#"{"_id": 1000, "body": "a zeppelin filled with helium", "n": 0}"#)
            .unwrap(),
    )
    .unwrap();
    let q = query(r#"{"$text": {"query": "zeppelin", "snippets": true}}"#);
    let found = find_in(&mut txn, "c", &q).unwrap();
    assert_eq!(found.documents.len(), 1);
    let doc = found.documents[0].as_object().unwrap();
    let snippet = doc
        .get("_snippets")
        .and_then(Value::as_object)
        .and_then(|s| s.get("body"))
        .and_then(Value::as_str)
        .unwrap();
    assert!(snippet.contains("<b>zeppelin</b>"), "{snippet}");
    drop(txn);
    assert!(find(&db, "c", &q).unwrap().documents.is_empty(), "aborted");
}

#[test]
fn explain_counts_postings_and_documents_scored() {
    let db = filled();
    let e = explain(
        &db,
        "c",
        &query(r#"{"$text": {"query": "hydrogen helium", "k": 3}}"#),
    )
    .unwrap();
    assert!(
        e.chosen.description.contains("text index `t`"),
        "{}",
        e.chosen.description
    );
    let counter = |name| {
        e.executed
            .counters
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, v)| *v)
    };
    assert!(counter("text_postings_read") > 0);
    assert!(counter("text_documents_scored") > 0);
    assert_eq!(e.returned, 3);
}

#[test]
fn text_errors_are_named() {
    let db = filled();
    db.create_collection("bare").unwrap();
    for (collection, json, says) in [
        (
            "c",
            r#"{"$text": {"query": 3}}"#,
            "`query` must be a string",
        ),
        (
            "c",
            r#"{"$text": {"query": "\"open phrase"}}"#,
            "invalid text query",
        ),
        ("c", r#"{"$text": {"query": "x", "k": 0}}"#, "`k`"),
        (
            "c",
            r#"{"body": {"$text": {"query": "x"}}}"#,
            "top-level operator",
        ),
        (
            "c",
            r#"{"$or": [{"$text": {"query": "x"}}, {"n": 1}]}"#,
            "top-level condition",
        ),
        (
            "bare",
            r#"{"$text": {"query": "x"}}"#,
            "no ready text index",
        ),
        (
            "c",
            r#"{"$text": {"query": "x", "index": "nope"}}"#,
            "named `nope`",
        ),
    ] {
        let err = Filter::parse(&Value::from_json_expression(json).unwrap())
            .map_err(|e| e.to_string())
            .and_then(|f| find(&db, collection, &Query::new(f)).map_err(|e| e.to_string()))
            .expect_err(json);
        assert!(err.contains(says), "{json}: {err}");
    }
}
