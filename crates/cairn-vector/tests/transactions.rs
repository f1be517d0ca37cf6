//! The vector index is part of the transaction: a refused vector stores nothing, a commit
//! makes a document findable, an abort leaves no trace, a transaction sees its own writes,
//! old vectors never come back, and a reopened database answers without any rebuild.

mod support;

use cairn_doc::{DocId, Object, Patch, Value, Vector};
use cairn_vector::{
    create_vector_index, drop_vector_index, list_vector_indexes, search, search_exact, verify,
    Metric, VectorSpec,
};
use support::{dataset, doc, open, open_memory, SMALL};

fn with_index(metric: Metric, dims: usize) -> cairn_engine::Database {
    let db = open_memory();
    db.create_collection("c").unwrap();
    let spec = VectorSpec::with_params("by_emb", "emb", dims, metric, SMALL).unwrap();
    create_vector_index(&db, "c", &spec, &mut |_| {}).unwrap();
    db
}

fn ids(outcome: &cairn_vector::SearchOutcome) -> Vec<DocId> {
    outcome.hits.iter().map(|h| h.id.clone()).collect()
}

fn assert_clean(db: &cairn_engine::Database) {
    let report = verify(&mut db.read().unwrap(), "c", "by_emb").unwrap();
    assert!(report.findings.is_empty(), "{:?}", report.findings);
}

#[test]
fn invalid_vectors_are_refused_naming_the_field_and_the_reason_and_nothing_is_stored() {
    let cases: [(Metric, Value, &str); 5] = [
        (
            Metric::L2,
            Value::Vector(Vector::from(vec![1.0, 2.0])),
            "`emb` has 2 dimensions; the index expects 3",
        ),
        (
            Metric::L2,
            Value::Vector(Vector::from(vec![1.0, f32::NAN, 0.0])),
            "`emb` component 1 is NaN",
        ),
        (
            Metric::Dot,
            Value::Vector(Vector::from(vec![f32::INFINITY, 0.0, 0.0])),
            "`emb` component 0 is inf",
        ),
        (
            Metric::Cosine,
            Value::Vector(Vector::from(vec![0.0; 3])),
            "`emb` is a zero vector",
        ),
        (
            Metric::Poincare,
            Value::Vector(Vector::from(vec![0.6, 0.8, 0.1])),
            "strictly inside the unit ball",
        ),
    ];
    for (metric, value, expected) in cases {
        let db = with_index(metric, 3);
        let mut o = Object::new();
        o.insert("_id", Value::Int(1));
        o.insert("emb", value);
        let err = db.insert("c", Value::Object(o)).unwrap_err();
        assert!(
            matches!(&err, cairn_engine::EngineError::ExtensionRejected { extension, .. } if extension == "by_emb"),
            "{err:?}"
        );
        let err = err.to_string();
        assert!(err.contains(expected), "{metric:?}: {err}");
        assert_eq!(db.get("c", &DocId::Int(1)).unwrap(), None);
        let report = verify(&mut db.read().unwrap(), "c", "by_emb").unwrap();
        assert_eq!((report.nodes, report.documents_with_vectors), (0, 0));
    }
    // Not a vector at all; and an update to a bad vector keeps the stored document.
    let db = with_index(Metric::L2, 3);
    let mut o = Object::new();
    o.insert("_id", Value::Int(1));
    o.insert("emb", Value::String("soon".into()));
    let err = db.insert("c", Value::Object(o)).unwrap_err().to_string();
    assert!(err.contains("`emb` holds a string"), "{err}");
    db.insert("c", doc(2, &[1.0, 2.0, 3.0])).unwrap();
    let patch = Patch::from_json_str(r#"{"$set": {"emb": {"$vector": [1, 2]}}}"#).unwrap();
    let err = db
        .update("c", &DocId::Int(2), &patch)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`emb` has 2 dimensions"), "{err}");
    let mut txn = db.read().unwrap();
    let found = search(&mut txn, "c", "by_emb", &[1.0, 2.0, 3.0], 1, None, None).unwrap();
    assert_eq!(found.hits[0].distance, 0.0);
    assert_clean(&db);
}

#[test]
fn a_committed_document_is_found_and_an_aborted_one_leaves_no_trace() {
    let db = with_index(Metric::L2, 2);
    db.insert("c", doc(1, &[0.0, 0.0])).unwrap();
    let mut txn = db.begin().unwrap();
    txn.insert("c", doc(2, &[1.0, 1.0])).unwrap();
    txn.delete("c", &DocId::Int(1)).unwrap();
    txn.rollback();
    let mut txn = db.read().unwrap();
    let found = search(&mut txn, "c", "by_emb", &[1.0, 1.0], 5, None, None).unwrap();
    assert_eq!(ids(&found), vec![DocId::Int(1)]);
    assert_clean(&db);
}

#[test]
fn a_search_inside_a_transaction_sees_its_own_writes() {
    let db = with_index(Metric::L2, 2);
    db.insert("c", doc(1, &[0.0, 0.0])).unwrap();
    let mut txn = db.begin().unwrap();
    txn.insert("c", doc(2, &[5.0, 5.0])).unwrap();
    txn.delete("c", &DocId::Int(1)).unwrap();
    let found = search(&mut txn, "c", "by_emb", &[0.0, 0.0], 5, None, None).unwrap();
    assert_eq!(ids(&found), vec![DocId::Int(2)]);
    // Another reader still sees the committed state.
    let mut other = db.read().unwrap();
    let found = search(&mut other, "c", "by_emb", &[0.0, 0.0], 5, None, None).unwrap();
    assert_eq!(ids(&found), vec![DocId::Int(1)]);
    txn.commit().unwrap();
    assert_clean(&db);
}

#[test]
fn an_updated_or_deleted_document_never_comes_back_with_its_old_vector() {
    let db = with_index(Metric::L2, 2);
    for i in 0..40 {
        db.insert("c", doc(i, &[i as f32, 0.0])).unwrap();
    }
    let patch = Patch::from_json_str(r#"{"$set": {"emb": {"$vector": [100, 100]}}}"#).unwrap();
    db.update("c", &DocId::Int(5), &patch).unwrap();
    db.delete("c", &DocId::Int(6)).unwrap();
    let mut txn = db.read().unwrap();
    let found = search(&mut txn, "c", "by_emb", &[5.5, 0.0], 4, None, None).unwrap();
    assert_eq!(ids(&found).len(), 4);
    assert!(!ids(&found).contains(&DocId::Int(5)) && !ids(&found).contains(&DocId::Int(6)));
    let found = search(&mut txn, "c", "by_emb", &[100.0, 100.0], 1, None, None).unwrap();
    assert_eq!(
        (ids(&found), found.hits[0].distance),
        (vec![DocId::Int(5)], 0.0)
    );
    // An update of another field leaves the node alone; removing the field removes it.
    let patch = Patch::from_json_str(r#"{"$set": {"tag": 99}}"#).unwrap();
    db.update("c", &DocId::Int(7), &patch).unwrap();
    let patch = Patch::from_json_str(r#"{"$unset": {"emb": ""}}"#).unwrap();
    db.update("c", &DocId::Int(8), &patch).unwrap();
    let mut txn = db.read().unwrap();
    let all = search_exact(&mut txn, "c", "by_emb", &[0.0, 0.0], 100, None, None).unwrap();
    assert_eq!(all.hits.len(), 38);
    assert!(!ids(&all).contains(&DocId::Int(8)));
    assert_clean(&db);
}

#[test]
fn filtered_search_returns_k_results_at_one_percent_selectivity() {
    let db = with_index(Metric::L2, 8);
    let data = dataset(7, 1_000, 8, Metric::L2);
    let mut txn = db.begin().unwrap();
    for (i, v) in data.iter().enumerate() {
        txn.insert("c", doc(i as i64, v)).unwrap();
    }
    txn.commit().unwrap();
    let one_percent =
        |key: &[u8]| matches!(DocId::decode_key(key), Ok(DocId::Int(i)) if i % 100 == 0);
    let mut txn = db.read().unwrap();
    for k in [5, 10, 20] {
        let graph = search(
            &mut txn,
            "c",
            "by_emb",
            &data[3],
            k,
            None,
            Some(&one_percent),
        )
        .unwrap();
        let exact = search_exact(
            &mut txn,
            "c",
            "by_emb",
            &data[3],
            k,
            None,
            Some(&one_percent),
        )
        .unwrap();
        assert_eq!(graph.hits.len(), k.min(10), "k = {k}: {:?}", graph.stats);
        assert_eq!(exact.hits.len(), k.min(10));
        assert!(graph.hits.iter().all(|h| one_percent(&h.key)));
        // Over a candidate set (what a B-tree would hand the exact mode).
        let keys: Vec<Vec<u8>> = (0..10)
            .map(|i| DocId::Int(i * 100).to_key().unwrap())
            .collect();
        let over = search_exact(&mut txn, "c", "by_emb", &data[3], k, Some(&keys), None).unwrap();
        assert_eq!(ids(&over), ids(&exact));
    }
}

#[test]
fn an_online_build_indexes_existing_documents_and_refuses_invalid_ones() {
    let db = open_memory();
    db.create_collection("c").unwrap();
    let data = dataset(3, 1_200, 4, Metric::Cosine);
    for chunk in data.chunks(300).enumerate() {
        let mut txn = db.begin().unwrap();
        for (i, v) in chunk.1.iter().enumerate() {
            txn.insert("c", doc((chunk.0 * 300 + i) as i64, v)).unwrap();
        }
        txn.commit().unwrap();
    }
    let spec = VectorSpec::with_params("by_emb", "emb", 4, Metric::Cosine, SMALL).unwrap();
    let mut seen = Vec::new();
    let indexed = create_vector_index(&db, "c", &spec, &mut |n| seen.push(n)).unwrap();
    assert_eq!(indexed, 1_200);
    assert_eq!(seen.last(), Some(&1_200));
    assert_clean(&db);
    let listed = list_vector_indexes(&db, "c").unwrap();
    assert!(listed[0].ready && listed[0].vectors == 1_200, "{listed:?}");
    drop_vector_index(&db, "c", "by_emb").unwrap();
    // A document whose vector does not fit the definition stops the build; no index is left.
    let wrong = VectorSpec::with_params("by_emb", "emb", 5, Metric::Cosine, SMALL).unwrap();
    let err = create_vector_index(&db, "c", &wrong, &mut |_| {}).unwrap_err();
    assert!(
        err.to_string()
            .contains("`emb` has 4 dimensions; the index expects 5"),
        "{err}"
    );
    assert!(list_vector_indexes(&db, "c").unwrap().is_empty());
}

#[test]
fn an_index_survives_reopen_and_answers_without_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(11, 600, 16, Metric::Poincare);
    {
        let db = open(dir.path());
        db.create_collection("c").unwrap();
        let spec = VectorSpec::with_params("by_emb", "emb", 16, Metric::Poincare, SMALL).unwrap();
        create_vector_index(&db, "c", &spec, &mut |_| {}).unwrap();
        let mut txn = db.begin().unwrap();
        for (i, v) in data.iter().enumerate() {
            txn.insert("c", doc(i as i64, v)).unwrap();
        }
        txn.commit().unwrap();
        db.delete("c", &DocId::Int(0)).unwrap();
    }
    let db = open(dir.path());
    let mut txn = db.read().unwrap();
    let found = search(&mut txn, "c", "by_emb", &data[1], 3, None, None).unwrap();
    assert_eq!(found.hits[0].id, DocId::Int(1));
    // The graph is read as stored: a search reads a fraction of the nodes, nothing rebuilt
    // it (opening reads no index data at all).
    assert!(found.stats.nodes_visited < 300, "{:?}", found.stats);
    let report = verify(&mut txn, "c", "by_emb").unwrap();
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    assert_eq!(report.nodes, 599);
}

#[test]
fn verify_reports_an_index_out_of_step_with_its_documents_and_search_refuses_it() {
    let db = with_index(Metric::L2, 2);
    for i in 0..20 {
        db.insert("c", doc(i, &[i as f32, 1.0])).unwrap();
    }
    assert_clean(&db);
    // Tamper with the index behind the hook's back: another vector for document 3, a
    // vector for a document that does not exist.
    let mut txn = db.begin().unwrap();
    let key3 = DocId::Int(3).to_key().unwrap();
    let bytes: Vec<u8> = [50.0f32, 50.0]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    txn.extension_put("c", "by_emb", "vectors", &key3, &bytes)
        .unwrap();
    let key99 = DocId::Int(99).to_key().unwrap();
    txn.extension_put("c", "by_emb", "vectors", &key99, &bytes)
        .unwrap();
    txn.commit().unwrap();
    let mut txn = db.read().unwrap();
    let report = verify(&mut txn, "c", "by_emb").unwrap();
    let problems: Vec<_> = report
        .findings
        .iter()
        .map(|f| (f.subject.as_str(), f.problem))
        .collect();
    assert!(
        problems.contains(&("Int(3)", "the index holds another vector than the document")),
        "{problems:?}"
    );
    assert!(
        problems.contains(&("Int(99)", "the index holds a vector for no document")),
        "{problems:?}"
    );
    // The recheck against the snapshot's document catches the stale copy.
    let err = search(&mut txn, "c", "by_emb", &[50.0, 50.0], 1, None, None).unwrap_err();
    assert!(
        matches!(err, cairn_vector::VectorError::OutOfStep { .. }),
        "{err}"
    );
}

#[test]
fn concurrent_writers_each_commit_and_the_graph_stays_whole() {
    let db = std::sync::Arc::new(with_index(Metric::Cosine, 8));
    let data = std::sync::Arc::new(dataset(5, 200, 8, Metric::Cosine));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (db, data) = (db.clone(), data.clone());
            std::thread::spawn(move || {
                for i in (w..200).step_by(2) {
                    // `transaction` retries a commit that conflicts on shared neighbour lists.
                    db.transaction(|txn| txn.insert("c", doc(i as i64, &data[i])).map(|_| ()))
                        .unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    let mut txn = db.read().unwrap();
    let report = verify(&mut txn, "c", "by_emb").unwrap();
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    assert_eq!(report.nodes, 200);
    let found = search(&mut txn, "c", "by_emb", &data[17], 1, None, None).unwrap();
    assert_eq!(found.hits[0].id, DocId::Int(17));
}

#[test]
fn writes_during_an_online_build_are_indexed_exactly_once_as_they_end_up() {
    let db = std::sync::Arc::new(open_memory());
    db.create_collection("c").unwrap();
    let data = dataset(9, 1_500, 4, Metric::L2);
    for (n, chunk) in data[..1_000].chunks(250).enumerate() {
        let mut txn = db.begin().unwrap();
        for (i, v) in chunk.iter().enumerate() {
            txn.insert("c", doc((n * 250 + i) as i64, v)).unwrap();
        }
        txn.commit().unwrap();
    }
    let writer = {
        let (db, data) = (db.clone(), data.clone());
        std::thread::spawn(move || {
            for i in 0..300usize {
                let id = (i * 7 % 1_000) as i64;
                match i % 3 {
                    0 => {
                        let v = &data[1_000 + i];
                        let patch = Patch::from_json_str(&format!(
                            r#"{{"$set": {{"emb": {{"$vector": {v:?}}}}}}}"#
                        ))
                        .unwrap();
                        let _ = db.update("c", &DocId::Int(id), &patch);
                    }
                    1 => {
                        let _ = db.delete("c", &DocId::Int(id));
                    }
                    _ => {
                        db.insert("c", doc(10_000 + i as i64, &data[1_000 + i]))
                            .unwrap();
                    }
                }
            }
        })
    };
    let spec = VectorSpec::with_params("by_emb", "emb", 4, Metric::L2, SMALL).unwrap();
    create_vector_index(&db, "c", &spec, &mut |_| {}).unwrap();
    writer.join().unwrap();
    assert_clean(&db);
}

#[test]
fn two_vector_fields_of_one_collection_have_independent_indexes() {
    let db = open_memory();
    db.create_collection("c").unwrap();
    let a = VectorSpec::with_params("by_a", "a", 2, Metric::L2, SMALL).unwrap();
    let b = VectorSpec::with_params("by_b", "b", 3, Metric::Poincare, SMALL).unwrap();
    create_vector_index(&db, "c", &a, &mut |_| {}).unwrap();
    create_vector_index(&db, "c", &b, &mut |_| {}).unwrap();
    for i in 0..30i64 {
        let doc = Value::from_json_str(&format!(
            r#"{{"_id": {i}, "a": {{"$vector": [{i}, 0]}}, "b": {{"$vector": [0, 0, {}]}}}}"#,
            (30 - i) as f32 / 40.0
        ))
        .unwrap();
        db.insert("c", doc).unwrap();
    }
    // Only `b` is refused: the error names that field.
    let err = db
        .insert(
            "c",
            Value::from_json_str(
                r#"{"_id": 99, "a": {"$vector": [1, 1]}, "b": {"$vector": [0, 0, 1]}}"#,
            )
            .unwrap(),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("`b` has norm 1"), "{err}");
    let mut txn = db.read().unwrap();
    let by_a = search(&mut txn, "c", "by_a", &[0.0, 0.0], 1, None, None).unwrap();
    let by_b = search(&mut txn, "c", "by_b", &[0.0, 0.0, 0.0], 1, None, None).unwrap();
    assert_eq!(
        (ids(&by_a), ids(&by_b)),
        (vec![DocId::Int(0)], vec![DocId::Int(29)])
    );
    assert_eq!(list_vector_indexes(&db, "c").unwrap().len(), 2);
    for name in ["by_a", "by_b"] {
        let report = verify(&mut txn, "c", name).unwrap();
        assert!(
            report.findings.is_empty() && report.nodes == 30,
            "{name}: {report:?}"
        );
    }
}
