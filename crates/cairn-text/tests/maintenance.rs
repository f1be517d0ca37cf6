//! Index maintenance: transactional visibility, a model-based proptest under random writes,
//! deletes and aborted transactions (checked with `verify` and against a model), online
//! builds on an existing collection, and reopening a persistent database without a rebuild.

use std::collections::BTreeMap;
use std::sync::Arc;

use cairn_doc::{DocId, Value};
use cairn_engine::{Config, Database, StorageMode};
use cairn_text::{
    create_text_index, search, verify_text_index, Language, TextExtensionKind, TextSpec,
};
use proptest::prelude::*;

fn config(dir: std::path::PathBuf, mode: StorageMode) -> Config {
    let mut config = Config::new(dir, mode);
    config.extension_kinds.push(Arc::new(TextExtensionKind));
    config
}

fn open_memory() -> Database {
    Database::open(config(std::path::PathBuf::new(), StorageMode::MemoryOnly)).expect("open")
}

fn spec() -> TextSpec {
    TextSpec::new(
        "t",
        &[("title", 2.0), ("body", 1.0), ("meta.tags", 0.5)],
        Language::English,
        None,
    )
    .unwrap()
}

fn doc(id: i64, title: &str, body: &str) -> Value {
    Value::from_json_str(&format!(
        r#"{{"_id": {id}, "title": "{title}", "body": ["{body}"], "meta": {{"tags": ["{title}"]}}}}"#
    ))
    .unwrap()
}

fn ids(db: &Database, query: &str) -> Vec<i64> {
    let mut txn = db.read().unwrap();
    let mut out: Vec<i64> = search(&mut txn, "c", "t", query, None)
        .unwrap()
        .hits
        .into_iter()
        .map(|h| match h.id {
            DocId::Int(i) => i,
            other => panic!("unexpected id {other:?}"),
        })
        .collect();
    out.sort();
    out
}

fn assert_clean(db: &Database) {
    let mut txn = db.read().unwrap();
    let report = verify_text_index(&mut txn, "c", "t").unwrap();
    assert!(report.is_clean(), "{:?}", report.findings);
}

fn setup() -> Database {
    let db = open_memory();
    db.create_collection("c").unwrap();
    create_text_index(&db, "c", &spec(), &mut |_| {}).unwrap();
    db
}

#[test]
fn visible_at_commit_gone_after_delete_own_writes_and_aborts() {
    let db = setup();
    db.insert("c", doc(1, "quick fox", "jumps over dogs"))
        .unwrap();
    assert_eq!(ids(&db, "fox"), [1], "found right after commit");
    assert_eq!(ids(&db, "dog"), [1], "stemmed");

    let mut txn = db.begin().unwrap();
    txn.insert("c", doc(2, "lazy dog", "sleeps")).unwrap();
    let own = search(&mut txn, "c", "t", "lazy", None).unwrap();
    assert_eq!(own.hits.len(), 1, "a transaction sees its own writes");
    txn.rollback();
    assert!(
        ids(&db, "lazy").is_empty(),
        "an aborted write leaves no trace"
    );

    db.delete("c", &DocId::Int(1)).unwrap();
    assert!(ids(&db, "fox").is_empty(), "never found after delete");
    assert_clean(&db);
}

#[test]
fn online_build_on_existing_collection_with_progress() {
    let db = open_memory();
    db.create_collection("c").unwrap();
    for i in 0..2_500 {
        db.insert("c", doc(i, &format!("title {i}"), "hydrogen fuel"))
            .unwrap();
    }
    let mut reports = Vec::new();
    create_text_index(&db, "c", &spec(), &mut |p| reports.push(p)).unwrap();
    assert_eq!(reports.last().map(|p| p.scanned), Some(2_500));
    assert!(reports.len() >= 3, "progress after every chunk");
    assert_eq!(ids(&db, "hydrogen").len(), 2_500);
    assert_clean(&db);
}

#[test]
fn reopen_without_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(config(dir.path().to_path_buf(), StorageMode::Persistent)).unwrap();
        db.create_collection("c").unwrap();
        create_text_index(&db, "c", &spec(), &mut |_| {}).unwrap();
        db.insert("c", doc(1, "persistent words", "kept")).unwrap();
        db.flush().unwrap();
    }
    // A fresh open with the kind registered finds the index as committed: no build runs
    // (nothing here could run one) and the statistics are intact.
    let db = Database::open(config(dir.path().to_path_buf(), StorageMode::Persistent)).unwrap();
    assert_eq!(ids(&db, "persistent"), [1]);
    assert_clean(&db);
}

/// One step of the model test.
#[derive(Debug, Clone)]
enum Op {
    Put(i64, String, String),
    Delete(i64),
    /// Writes in a transaction that is rolled back.
    Aborted(i64, String),
}

const WORDS: &[&str] = &[
    "fox", "foxes", "dog", "running", "runs", "the", "of", "hydrogen", "café", "cafe", "art",
];

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(WORDS), 0..6).prop_map(|w| w.join(" "))
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0i64..6, text(), text()).prop_map(|(i, t, b)| Op::Put(i, t, b)),
        1 => (0i64..6).prop_map(Op::Delete),
        1 => (0i64..6, text()).prop_map(|(i, t)| Op::Aborted(i, t)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn maintenance_matches_a_model(ops in prop::collection::vec(op(), 1..25)) {
        let db = setup();
        let mut model: BTreeMap<i64, (String, String)> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Put(id, title, body) => {
                    let value = doc(id, &title, &body);
                    if model.contains_key(&id) {
                        db.replace("c", &DocId::Int(id), value).unwrap();
                    } else {
                        db.insert("c", value).unwrap();
                    }
                    model.insert(id, (title, body));
                }
                Op::Delete(id) => {
                    let removed = db.delete("c", &DocId::Int(id)).unwrap();
                    prop_assert_eq!(removed, model.remove(&id).is_some());
                }
                Op::Aborted(id, title) => {
                    let mut txn = db.begin().unwrap();
                    if model.contains_key(&id) {
                        txn.delete("c", &DocId::Int(id)).unwrap();
                    } else {
                        txn.insert("c", doc(id, &title, "aborted")).unwrap();
                    }
                    txn.rollback();
                }
            }
            assert_clean(&db);
            let analyzer = spec().analyzer();
            for word in ["fox", "run", "hydrogen", "cafe", "abort"] {
                let expected: Vec<i64> = model
                    .iter()
                    .filter(|(_, (t, b))| {
                        analyzer.analyze(t, 0).tokens.iter().chain(analyzer.analyze(b, 0).tokens.iter())
                            .any(|tok| tok.term == word)
                    })
                    .map(|(id, _)| *id)
                    .collect();
                prop_assert_eq!(ids(&db, word), expected, "query {}", word);
            }
        }
    }
}

/// Two writers that began from the same snapshot and whose documents fall in different
/// statistics and dictionary stripes both commit: the collection statistics are not one hot
/// key. (Pins the striping in `layout`.)
#[test]
fn concurrent_writers_in_different_stripes_do_not_conflict() {
    use cairn_text::{stats_stripe, term_stripe};
    let db = setup();
    db.insert("c", doc(1000, "seed shared", "words")).unwrap();
    let key = |id: i64| DocId::Int(id).to_key().unwrap();
    let first = 1;
    let second = (2..200)
        .find(|&i| {
            stats_stripe(&key(i)) != stats_stripe(&key(first))
                && term_stripe(&key(i)) != term_stripe(&key(first))
        })
        .expect("ids in other stripes");
    let mut a = db.begin().unwrap();
    let mut b = db.begin().unwrap();
    a.insert("c", doc(first, "shared alpha", "common text"))
        .unwrap();
    b.insert("c", doc(second, "shared beta", "common text"))
        .unwrap();
    a.commit().unwrap();
    b.commit()
        .expect("no conflict on statistics or the shared terms");
    assert_eq!(ids(&db, "shared"), [first, second, 1000]);
    assert_clean(&db);
}

/// A build interrupted after the attach (the process died) while writes went on: the write
/// hook indexed what was written, `resume_text_builds` (run by `cairn::open`) indexes the
/// rest without counting anything twice.
#[test]
fn interrupted_build_with_concurrent_writes_is_resumed_exactly() {
    let db = open_memory();
    db.create_collection("c").unwrap();
    for i in 0..50 {
        db.insert("c", doc(i, "before attach", "hydrogen")).unwrap();
    }
    db.attach_extension_unfilled("c", cairn_text::TEXT_KIND, "t", spec().to_config())
        .unwrap();
    db.replace("c", &DocId::Int(3), doc(3, "rewritten fox", "x"))
        .unwrap();
    db.delete("c", &DocId::Int(4)).unwrap();
    db.insert("c", doc(60, "after attach", "hydrogen")).unwrap();
    {
        let mut txn = db.read().unwrap();
        assert!(matches!(
            search(&mut txn, "c", "t", "fox", None),
            Err(cairn_text::TextError::NotReady { .. })
        ));
    }
    let resumed = cairn_text::resume_text_builds(&db).unwrap();
    assert_eq!(resumed, [("c".to_string(), "t".to_string())]);
    assert_clean(&db);
    assert_eq!(ids(&db, "fox"), [3]);
    assert_eq!(ids(&db, "hydrogen").len(), 48 + 1);
}
