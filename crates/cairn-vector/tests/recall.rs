//! Recall of the graph against brute force, per metric: a quality bound, not a timing.
//!
//! Method: 2,000 vectors of 32 dimensions from a seeded mixture of Gaussians (`support`),
//! inserted through ordinary transactions of 250 documents (so the graph is built by the
//! write hook, as in production); 50 queries from the same distribution; recall@10 is the
//! share of the exact top 10 (`search_exact`) the graph search returns. Small graph
//! parameters keep the debug-mode run short; the defaults only do better.

mod support;

use cairn_vector::{create_vector_index, search, search_exact, verify, Metric, VectorSpec};
use support::{dataset, doc, open_memory, SMALL};

const N: usize = 2_000;
const DIMS: usize = 32;
const QUERIES: usize = 50;
const K: usize = 10;

fn recall_at_10(metric: Metric) -> f64 {
    let db = open_memory();
    db.create_collection("c").unwrap();
    let spec = VectorSpec::with_params("by_emb", "emb", DIMS, metric, SMALL).unwrap();
    create_vector_index(&db, "c", &spec, &mut |_| {}).unwrap();
    let data = dataset(42, N + QUERIES, DIMS, metric);
    for (chunk_no, chunk) in data[..N].chunks(250).enumerate() {
        let mut txn = db.begin().unwrap();
        for (i, v) in chunk.iter().enumerate() {
            txn.insert("c", doc((chunk_no * 250 + i) as i64, v))
                .unwrap();
        }
        txn.commit().unwrap();
    }
    let mut txn = db.read().unwrap();
    let mut found = 0usize;
    let mut distances = 0u64;
    for query in &data[N..] {
        let graph = search(&mut txn, "c", "by_emb", query, K, None, None).unwrap();
        let exact = search_exact(&mut txn, "c", "by_emb", query, K, None, None).unwrap();
        assert_eq!(graph.hits.len(), K);
        distances += graph.stats.distances_computed;
        for hit in &graph.hits {
            found += exact.hits.iter().filter(|e| e.key == hit.key).count();
        }
        // The graph must not read the whole index to answer.
        assert!(
            graph.stats.nodes_visited < N as u64 / 2,
            "{:?}",
            graph.stats
        );
    }
    let report = verify(&mut txn, "c", "by_emb").unwrap();
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    let recall = found as f64 / (QUERIES * K) as f64;
    eprintln!(
        "{metric:?}: recall@10 = {recall:.3}, {} distances per query (brute force: {N})",
        distances / QUERIES as u64
    );
    recall
}

#[test]
fn graph_recall_at_10_is_at_least_0_9_under_cosine() {
    let recall = recall_at_10(Metric::Cosine);
    assert!(recall >= 0.9, "recall@10 = {recall}");
}

#[test]
fn graph_recall_at_10_is_at_least_0_9_under_dot() {
    let recall = recall_at_10(Metric::Dot);
    assert!(recall >= 0.9, "recall@10 = {recall}");
}

#[test]
fn graph_recall_at_10_is_at_least_0_9_under_l2() {
    let recall = recall_at_10(Metric::L2);
    assert!(recall >= 0.9, "recall@10 = {recall}");
}

#[test]
fn graph_recall_at_10_is_at_least_0_9_under_poincare() {
    let recall = recall_at_10(Metric::Poincare);
    assert!(recall >= 0.9, "recall@10 = {recall}");
}
