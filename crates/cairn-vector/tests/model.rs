//! Model-based test: random transactions of inserts, updates and deletes, some aborted,
//! applied to a database with a vector index and to a `BTreeMap` of the live vectors. After
//! every transaction, for random queries: the exact search equals brute force over the
//! model; the graph search returns `min(k, matches)` live documents, each with its correct
//! distance, under a random filter; and `verify` finds the index equal to its documents.

mod support;

use std::collections::BTreeMap;

use cairn_doc::{DocId, Patch};
use cairn_vector::{
    create_vector_index, search, search_exact, verify, HnswParams, Metric, VectorSpec,
};
use proptest::prelude::*;
use support::{doc, open_memory};

const DIMS: usize = 4;

#[derive(Debug, Clone)]
enum Write {
    /// Insert or replace document `id` with a vector.
    Put(i64, [i8; DIMS]),
    /// Delete document `id` (if present).
    Delete(i64),
}

#[derive(Debug, Clone)]
struct Txn {
    writes: Vec<Write>,
    commit: bool,
    /// Queries run after the transaction: (vector, k, filter modulus, remainder).
    queries: Vec<([i8; DIMS], usize, i64, i64)>,
}

/// Components in [-0.2, 0.2] (never all zero: `+ 0.01` on the first), valid for every metric.
fn vector(raw: &[i8; DIMS]) -> Vec<f32> {
    let mut v: Vec<f32> = raw.iter().map(|x| *x as f32 / 640.0).collect();
    v[0] += 0.01;
    v
}

fn txn() -> impl Strategy<Value = Txn> {
    let write = prop_oneof![
        3 => (0i64..40, any::<[i8; DIMS]>()).prop_map(|(id, v)| Write::Put(id, v)),
        1 => (0i64..40).prop_map(Write::Delete),
    ];
    (
        prop::collection::vec(write, 1..12),
        prop::bool::weighted(0.8),
        prop::collection::vec((any::<[i8; DIMS]>(), 1usize..12, 1i64..5, 0i64..5), 1..3),
    )
        .prop_map(|(writes, commit, queries)| Txn {
            writes,
            commit,
            queries,
        })
}

fn check(db: &cairn_engine::Database, metric: Metric, model: &BTreeMap<i64, Vec<f32>>, txn: &Txn) {
    let mut read = db.read().unwrap();
    for (raw, k, modulus, remainder) in &txn.queries {
        let query = vector(raw);
        let accepts = |id: i64| id % modulus == remainder % modulus;
        let filter = |key: &[u8]| matches!(DocId::decode_key(key), Ok(DocId::Int(i)) if accepts(i));
        let mut expected: Vec<(f32, i64)> = model
            .iter()
            .filter(|(id, _)| accepts(**id))
            .map(|(id, v)| (metric.distance(&query, v), *id))
            .collect();
        expected.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        expected.truncate(*k);
        let exact = search_exact(&mut read, "c", "v", &query, *k, None, Some(&filter)).unwrap();
        let got: Vec<(f32, i64)> = exact
            .hits
            .iter()
            .map(|h| match h.id {
                DocId::Int(i) => (h.distance, i),
                ref other => panic!("unexpected id {other:?}"),
            })
            .collect();
        assert_eq!(got, expected, "exact search, query {query:?}");
        let graph = search(&mut read, "c", "v", &query, *k, Some(4), Some(&filter)).unwrap();
        assert_eq!(
            graph.hits.len(),
            expected.len(),
            "graph search returns min(k, matches)"
        );
        let mut seen = std::collections::HashSet::new();
        for hit in &graph.hits {
            let DocId::Int(id) = hit.id else {
                panic!("unexpected id")
            };
            assert!(
                accepts(id) && seen.insert(id),
                "hit {id} is filtered out or repeated"
            );
            let live = model.get(&id).expect("a live document");
            assert_eq!(hit.distance, metric.distance(&query, live));
        }
    }
    let report = verify(&mut read, "c", "v").unwrap();
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    assert_eq!(report.nodes as usize, model.len());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn index_matches_a_model_of_live_documents(
        metric in prop::sample::select(Metric::ALL.to_vec()),
        txns in prop::collection::vec(txn(), 1..10),
    ) {
        let db = open_memory();
        db.create_collection("c").unwrap();
        let params = HnswParams { m: 2, ef_construction: 4, ef_search: 4 };
        let spec = VectorSpec::with_params("v", "emb", DIMS, metric, params).unwrap();
        create_vector_index(&db, "c", &spec, &mut |_| {}).unwrap();
        let mut model: BTreeMap<i64, Vec<f32>> = BTreeMap::new();
        for t in &txns {
            let mut staged = model.clone();
            let mut txn = db.begin().unwrap();
            for write in &t.writes {
                match write {
                    Write::Put(id, raw) => {
                        let v = vector(raw);
                        if staged.contains_key(id) && raw[0] % 2 == 0 {
                            // An update: the hook sees the old and the new vector at once.
                            let patch = Patch::from_json_str(&format!(
                                r#"{{"$set": {{"emb": {{"$vector": {v:?}}}}}}}"#
                            ))
                            .unwrap();
                            txn.update("c", &DocId::Int(*id), &patch).unwrap();
                        } else {
                            // Delete and insert again: the same key comes back as a new node.
                            txn.delete("c", &DocId::Int(*id)).unwrap();
                            txn.insert("c", doc(*id, &v)).unwrap();
                        }
                        staged.insert(*id, v);
                    }
                    Write::Delete(id) => {
                        txn.delete("c", &DocId::Int(*id)).unwrap();
                        staged.remove(id);
                    }
                }
            }
            if t.commit {
                txn.commit().unwrap();
                model = staged;
            } else {
                txn.rollback();
            }
            check(&db, metric, &model, t);
        }
    }
}
