//! The bulk build (`create_vector_index` on a collection that fits in memory): the graph it
//! writes answers like brute force, `verify` finds it equal to the documents, and writes
//! made while it runs (recorded as pending, then applied) or after it are all found.
//! (`bulk::tests` checks record for record that it is the graph the incremental build makes.)

mod support;

use cairn_doc::{DocId, Patch};
use cairn_vector::{create_vector_index, search, search_exact, verify, Metric, VectorSpec};
use support::{dataset, doc, open_memory, SMALL};

const N: usize = 2_000;
const DIMS: usize = 16;

#[test]
fn a_bulk_build_answers_like_brute_force_and_keeps_writes_made_during_and_after_it() {
    let db = open_memory();
    db.create_collection("c").unwrap();
    let data = dataset(11, N + 60, DIMS, Metric::L2);
    let mut txn = db.begin().unwrap();
    for (i, v) in data[..N].iter().enumerate() {
        txn.insert("c", doc(i as i64, v)).unwrap();
    }
    txn.commit().unwrap();
    let spec = VectorSpec::with_params("by_emb", "emb", DIMS, Metric::L2, SMALL).unwrap();
    let mut calls = 0;
    let mut seen = Vec::new();
    let indexed = create_vector_index(&db, "c", &spec, &mut |n| {
        seen.push(n);
        calls += 1;
        if calls == 1 {
            // Mid-build: the graph is in memory, these land in the pending table.
            let v = &data[N];
            let patch =
                Patch::from_json_str(&format!(r#"{{"$set": {{"emb": {{"$vector": {v:?}}}}}}}"#))
                    .unwrap();
            db.update("c", &DocId::Int(3), &patch).unwrap();
            db.delete("c", &DocId::Int(4)).unwrap();
            db.insert("c", doc(50_000, &data[N + 1])).unwrap();
        }
    })
    .unwrap();
    assert!(calls >= 3, "progress reported {seen:?}");
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    assert_eq!(
        indexed,
        N as u64 + 2,
        "the snapshot's documents plus the two pending inserts"
    );
    db.insert("c", doc(60_000, &data[N + 2])).unwrap();

    let mut txn = db.read().unwrap();
    let report = verify(&mut txn, "c", "by_emb").unwrap();
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    assert_eq!(report.nodes, N as u64 + 1);
    for (id, v) in [
        (3, &data[N]),
        (50_000, &data[N + 1]),
        (60_000, &data[N + 2]),
    ] {
        let found = search(&mut txn, "c", "by_emb", v, 1, None, None).unwrap();
        assert_eq!(found.hits[0].id, DocId::Int(id));
        assert_eq!(found.hits[0].distance, 0.0);
    }
    let old = search(&mut txn, "c", "by_emb", &data[3], 5, None, None).unwrap();
    assert!(old
        .hits
        .iter()
        .all(|h| h.id != DocId::Int(3) && h.id != DocId::Int(4)));

    let mut found = 0;
    for query in &data[N + 10..] {
        let graph = search(&mut txn, "c", "by_emb", query, 10, None, None).unwrap();
        let exact = search_exact(&mut txn, "c", "by_emb", query, 10, None, None).unwrap();
        assert_eq!(graph.hits.len(), 10);
        found += graph
            .hits
            .iter()
            .filter(|h| exact.hits.iter().any(|e| e.key == h.key))
            .count();
    }
    let recall = found as f64 / 500.0;
    assert!(recall >= 0.9, "recall@10 {recall}");
}
