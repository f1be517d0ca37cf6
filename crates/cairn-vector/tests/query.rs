//! `$nearVector` through the query layer: parsed from JSON, ranked by the vector index (graph
//! or exact) with the rest of the filter applied during the walk, and every answer checked
//! against brute force over the documents; `explain` shows the path and its counters, and the
//! planner's choice between a filtered walk and an exact ranking of what a B-tree finds.

mod support;

use cairn_doc::Value;
use cairn_engine::Database;
use cairn_query::{explain, find, find_in, Filter, Query};
use cairn_vector::{create_vector_index, Metric, VectorSpec};
use support::{dataset, doc, open_memory, SMALL};

const DIMS: usize = 8;
const N: usize = 400;

fn filled(metric: Metric) -> (Database, Vec<Vec<f32>>) {
    cairn_vector::register_query_model();
    let db = open_memory();
    db.create_collection("c").unwrap();
    let vectors = dataset(7, N, DIMS, metric);
    for (i, v) in vectors.iter().enumerate() {
        db.insert("c", doc(i as i64, v)).unwrap();
    }
    let spec = VectorSpec::with_params("by_emb", "emb", DIMS, metric, SMALL).unwrap();
    create_vector_index(&db, "c", &spec, &mut |_| {}).unwrap();
    (db, vectors)
}

fn json_vector(v: &[f32]) -> String {
    let parts: Vec<String> = v.iter().map(|x| format!("{x}")).collect();
    format!("[{}]", parts.join(","))
}

fn query(json: &str) -> Query {
    Query::new(Filter::parse(&Value::from_json_expression(json).unwrap()).unwrap())
}

/// The `k` nearest ids among documents with `tag` in `tags` (all when `None`), brute force.
fn brute(
    vectors: &[Vec<f32>],
    metric: Metric,
    q: &[f32],
    k: usize,
    tags: Option<&[i64]>,
) -> Vec<(i64, f32)> {
    let mut all: Vec<(i64, f32)> = vectors
        .iter()
        .enumerate()
        .filter(|(i, _)| tags.is_none_or(|t| t.contains(&(*i as i64 % 10))))
        .map(|(i, v)| (i as i64, metric.distance(q, v)))
        .collect();
    all.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    all.truncate(k);
    all
}

fn ids_and_distances(found: &[Value]) -> Vec<(i64, f32)> {
    found
        .iter()
        .map(|d| {
            let o = d.as_object().unwrap();
            let id = o.get("_id").and_then(Value::as_i64).unwrap();
            let dist = o.get("_distance").and_then(Value::as_f64).unwrap();
            (id, dist as f32)
        })
        .collect()
}

#[test]
fn exact_mode_equals_brute_force_with_and_without_a_filter() {
    for metric in [Metric::L2, Metric::Cosine] {
        let (db, vectors) = filled(metric);
        for q in dataset(99, 5, DIMS, metric) {
            let v = json_vector(&q);
            let plain = find(
                &db,
                "c",
                &query(&format!(
                    r#"{{"emb": {{"$nearVector": {{"vector": {v}, "k": 10, "exact": true}}}}}}"#
                )),
            )
            .unwrap();
            assert_eq!(
                ids_and_distances(&plain.documents),
                brute(&vectors, metric, &q, 10, None)
            );
            let filtered = find(
                &db,
                "c",
                &query(&format!(
                    r#"{{"emb": {{"$nearVector": {{"vector": {v}, "k": 10, "exact": true}}}}, "tag": {{"$in": [3]}}}}"#
                )),
            )
            .unwrap();
            assert_eq!(
                ids_and_distances(&filtered.documents),
                brute(&vectors, metric, &q, 10, Some(&[3]))
            );
        }
    }
}

#[test]
fn graph_mode_returns_k_with_exact_distances_and_good_recall_at_any_selectivity() {
    let metric = Metric::L2;
    let (db, vectors) = filled(metric);
    let mut hit = 0usize;
    let mut total = 0usize;
    for q in dataset(99, 10, DIMS, metric) {
        let v = json_vector(&q);
        for (filter, tags) in [
            ("", None),
            (r#", "tag": 3"#, Some(&[3i64][..])),
            // 1% of 400 is 4 documents: fewer than k match, all of them are returned.
            (r#", "_id": {"$in": [5, 17, 250, 399]}"#, None),
        ] {
            let found = find(
                &db,
                "c",
                &query(&format!(
                    r#"{{"emb": {{"$nearVector": {{"vector": {v}, "k": 10, "ef": 40}}}}{filter}}}"#
                )),
            )
            .unwrap();
            let got = ids_and_distances(&found.documents);
            let truth = match (filter.contains("_id"), tags) {
                (true, _) => {
                    let mut t: Vec<(i64, f32)> = [5i64, 17, 250, 399]
                        .iter()
                        .map(|&i| (i, metric.distance(&q, &vectors[i as usize])))
                        .collect();
                    t.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
                    t
                }
                (false, tags) => brute(&vectors, metric, &q, 10, tags),
            };
            assert_eq!(got.len(), truth.len(), "min(k, matches) results");
            for (id, d) in &got {
                assert_eq!(
                    *d,
                    metric.distance(&q, &vectors[*id as usize]),
                    "exact distance"
                );
                if let Some(tags) = tags {
                    assert!(tags.contains(&(id % 10)), "the filter holds");
                }
            }
            assert!(got.windows(2).all(|w| w[0].1 <= w[1].1), "nearest first");
            hit += got
                .iter()
                .filter(|g| truth.iter().any(|t| t.0 == g.0))
                .count();
            total += truth.len();
        }
    }
    let recall = hit as f64 / total as f64;
    assert!(recall >= 0.9, "recall@10 {recall}");
}

#[test]
fn a_transaction_sees_its_own_vectors_and_projection_can_drop_the_vector() {
    let (db, _) = filled(Metric::L2);
    let far = [50.0f32; DIMS];
    let mut txn = db.begin().unwrap();
    txn.insert("c", doc(10_000, &far)).unwrap();
    let v = json_vector(&far);
    let mut q = query(&format!(
        r#"{{"emb": {{"$nearVector": {{"vector": {v}, "k": 1}}}}}}"#
    ));
    q.projection = Some(
        cairn_query::Projection::parse(&Value::from_json_str(r#"{"emb": 0}"#).unwrap()).unwrap(),
    );
    let found = find_in(&mut txn, "c", &q).unwrap();
    let first = found.documents[0].as_object().unwrap();
    assert_eq!(first.get("_id"), Some(&Value::Int(10_000)));
    assert_eq!(first.get("_distance"), Some(&Value::Float(0.0)));
    assert!(first.get("emb").is_none(), "projected away");
    drop(txn);
    // Aborted: not there for anyone else.
    let after = find(&db, "c", &q).unwrap();
    assert_ne!(
        after.documents[0].as_object().unwrap().get("_id"),
        Some(&Value::Int(10_000))
    );
}

#[test]
fn explain_names_the_vector_path_and_counts_nodes_and_distances() {
    let (db, _) = filled(Metric::L2);
    let v = json_vector(&[0.5; DIMS]);
    let e = explain(
        &db,
        "c",
        &query(&format!(
            r#"{{"emb": {{"$nearVector": {{"vector": {v}, "k": 5}}}}, "tag": 1}}"#
        )),
    )
    .unwrap();
    assert!(
        e.chosen.description.contains("vector index `by_emb`")
            && e.chosen.description.contains("filter during traversal"),
        "{}",
        e.chosen.description
    );
    let counter = |name| {
        e.executed
            .counters
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    };
    assert!(counter("vector_nodes_visited").unwrap_or(0) > 0);
    assert!(counter("vector_distances").unwrap_or(0) > 0);
    assert_eq!(e.returned, 5);
}

#[test]
fn bad_query_vectors_are_named_errors() {
    let (db, _) = filled(Metric::L2);
    for (json, says) in [
        (
            r#"{"emb": {"$nearVector": {"vector": [1, 2], "k": 3}}}"#,
            "dimensions",
        ),
        (
            r#"{"emb": {"$nearVector": {"vector": [1, "x"], "k": 3}}}"#,
            "not a number",
        ),
        (
            r#"{"emb": {"$nearVector": {"vector": [1, 2], "k": 0}}}"#,
            "`k`",
        ),
        (
            r#"{"emb": {"$nearVector": {"vector": [1, 2], "k": 1, "speed": 1}}}"#,
            "unknown option",
        ),
        (
            r#"{"other": {"$nearVector": {"vector": [1, 2], "k": 1}}}"#,
            "needs a ready vector index",
        ),
    ] {
        let err = Filter::parse(&Value::from_json_expression(json).unwrap())
            .map_err(|e| e.to_string())
            .and_then(|f| find(&db, "c", &Query::new(f)).map_err(|e| e.to_string()))
            .expect_err(json);
        assert!(err.contains(says), "{json}: {err}");
    }
}

/// `filled` plus a B-tree index on `tag`, which narrows `tag` conditions for the planner.
fn filled_with_tag_index(metric: Metric) -> (Database, Vec<Vec<f32>>) {
    cairn_vector::register_query_model();
    let mut config = cairn_engine::Config::new(
        std::path::PathBuf::new(),
        cairn_engine::StorageMode::MemoryOnly,
    );
    config
        .extension_kinds
        .push(std::sync::Arc::new(cairn_vector::VectorExtensionKind));
    config
        .extension_kinds
        .push(std::sync::Arc::new(cairn_index::IndexExtensionKind));
    let db = Database::open(config).unwrap();
    db.create_collection("c").unwrap();
    let vectors = dataset(7, N, DIMS, metric);
    for (i, v) in vectors.iter().enumerate() {
        db.insert("c", doc(i as i64, v)).unwrap();
    }
    let spec = VectorSpec::with_params("by_emb", "emb", DIMS, metric, SMALL).unwrap();
    create_vector_index(&db, "c", &spec, &mut |_| {}).unwrap();
    let tag = cairn_index::IndexSpec::new("by_tag", &["tag"], cairn_index::IndexKind::BTree, false)
        .unwrap();
    cairn_index::create_index(&db, "c", &tag, &mut |_| {}).unwrap();
    (db, vectors)
}

#[test]
fn a_selective_filter_a_btree_serves_is_ranked_exactly_and_explain_names_the_choice() {
    let metric = Metric::L2;
    let (db, vectors) = filled_with_tag_index(metric);
    for q in dataset(98, 5, DIMS, metric) {
        let v = json_vector(&q);
        for exact in ["", r#", "exact": true"#] {
            let q_json = format!(
                r#"{{"emb": {{"$nearVector": {{"vector": {v}, "k": 10, "ef": 40{exact}}}}}, "tag": 3}}"#
            );
            // 40 of 400 documents have tag 3: ranking them beats a walk testing ~400.
            let found = find(&db, "c", &query(&q_json)).unwrap();
            assert_eq!(
                ids_and_distances(&found.documents),
                brute(&vectors, metric, &q, 10, Some(&[3])),
                "the exact answer"
            );
            let e = explain(&db, "c", &query(&q_json)).unwrap();
            let description = &e.chosen.description;
            assert!(
                description.contains("exact over the filtered set")
                    && description.contains("index equality"),
                "{description}"
            );
            let narrowed = e
                .executed
                .counters
                .iter()
                .find(|(n, _)| *n == "vector_narrowed_candidates");
            assert_eq!(narrowed, Some(&("vector_narrowed_candidates", 40)));
        }
    }
    // A condition the index finds true of every document: the walk is cheaper, and explain
    // names the narrowing it turned down.
    let v = json_vector(&[0.5; DIMS]);
    let e = explain(
        &db,
        "c",
        &query(&format!(
            r#"{{"emb": {{"$nearVector": {{"vector": {v}, "k": 10, "ef": 40}}}}, "tag": {{"$gte": 0}}}}"#
        )),
    )
    .unwrap();
    assert!(
        e.chosen.description.contains("filter during traversal")
            && e.chosen
                .description
                .contains("cheaper than ranking [index range"),
        "{}",
        e.chosen.description
    );
    assert_eq!(e.returned, 10);
}
