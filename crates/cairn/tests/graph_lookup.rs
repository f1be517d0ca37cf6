//! `$graphLookup` against a naive breadth-first search over an in-memory edge list, on random
//! graphs: over an edge collection (answered by the adjacency index, which `explain` shows)
//! and over an ordinary collection with the same links as integer fields (a scan per depth,
//! and the same again with a secondary index on `connectToField`), with and without
//! `maxDepth` and `restrictSearchWithMatch`. The pipeline's `explain` shows which: the
//! adjacency index, the secondary index. Also its option errors and memory/time limits.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use cairn::graph::{self, EdgeOptions, OnVertexDelete};
use cairn::query::{Pipeline, Query};
use cairn::{create_index, Database, Filter, IndexSpec, Value};

/// SplitMix64, seeded, so a failure names its graph.
struct Rng(u64);

impl Rng {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % below
    }
}

fn json(text: &str) -> Value {
    Value::from_json_expression(text).expect("test JSON")
}

/// (edge id, from, to, weight).
type Edge = (i64, i64, i64, i64);

/// The naive answer: every edge reachable from `start` by following `from -> to`, each at its
/// smallest depth, edges at depth 0 leaving `start`, only edges with weight >= `min_weight`.
fn naive(
    edges: &[Edge],
    start: i64,
    max_depth: Option<u64>,
    min_weight: i64,
) -> BTreeMap<i64, i64> {
    let mut found = BTreeMap::new();
    let mut searched = BTreeSet::from([start]);
    let mut frontier = vec![start];
    let mut depth = 0;
    while !frontier.is_empty() && max_depth.is_none_or(|max| depth <= max) {
        let mut next = Vec::new();
        for &(id, from, to, w) in edges {
            if frontier.contains(&from) && w >= min_weight && !found.contains_key(&id) {
                found.insert(id, depth as i64);
                if searched.insert(to) {
                    next.push(to);
                }
            }
        }
        frontier = next;
        depth += 1;
    }
    found
}

fn setup(rng: &mut Rng) -> (Database, Vec<Edge>, i64) {
    let db = cairn::open_in_memory().expect("open");
    let vertices = 2 + rng.next(20) as i64;
    db.create_collection("v").expect("v");
    db.create_collection("links").expect("links");
    db.create_collection("indexed").expect("indexed");
    let spec = IndexSpec::btree("by_a", &["a"]).expect("spec");
    create_index(&db, "indexed", &spec, &mut |_| {}).expect("index");
    graph::create_edge_collection(
        &db,
        "e",
        &EdgeOptions {
            on_vertex_delete: OnVertexDelete::None,
            vertex_collections: vec![],
            properties: vec![],
        },
    )
    .expect("edges");
    for id in 0..vertices {
        db.insert(
            "v",
            json(&format!(r#"{{"_id": {id}, "key": "v/{id}", "n": {id}}}"#)),
        )
        .expect("vertex");
    }
    let mut edges = Vec::new();
    for id in 0..rng.next(3 * vertices as u64 + 1) as i64 {
        let (from, to, w) = (
            rng.next(vertices as u64) as i64,
            rng.next(vertices as u64) as i64,
            rng.next(10) as i64,
        );
        edges.push((id, from, to, w));
        db.insert(
            "e",
            json(&format!(
                r#"{{"_id": {id}, "_from": "v/{from}", "_to": "v/{to}", "w": {w}}}"#
            )),
        )
        .expect("edge");
        for links in ["links", "indexed"] {
            db.insert(
                links,
                json(&format!(
                    r#"{{"_id": {id}, "a": {from}, "b": {to}, "w": {w}}}"#
                )),
            )
            .expect("link");
        }
    }
    (db, edges, vertices)
}

/// The (edge id, depth) pairs `$graphLookup` attached to vertex `start`.
fn run(db: &Database, start: i64, spec: &str) -> BTreeMap<i64, i64> {
    let pipeline = Pipeline::parse(&json(&format!(
        r#"[{{"$match": {{"_id": {start}}}}}, {{"$graphLookup": {spec}}}]"#
    )))
    .expect("pipeline");
    let out = pipeline.run(db, "v").expect("run");
    let Some(Value::Array(found)) = out[0].as_object().and_then(|o| o.get("reach")).cloned() else {
        panic!("no `reach` in {out:?}");
    };
    let mut pairs = BTreeMap::new();
    for doc in found {
        let object = doc.as_object().expect("object");
        let (Some(Value::Int(id)), Some(Value::Int(depth))) = (object.get("_id"), object.get("d"))
        else {
            panic!("bad found document {doc:?}");
        };
        assert!(pairs.insert(*id, *depth).is_none(), "edge {id} found twice");
    }
    pairs
}

#[test]
fn graph_lookup_matches_a_naive_search_on_random_graphs() {
    let seed = std::env::var("CAIRN_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(18u64);
    let mut rng = Rng(seed);
    for round in 0..40 {
        let (db, edges, vertices) = setup(&mut rng);
        let start = rng.next(vertices as u64) as i64;
        let max_depth = match rng.next(3) {
            0 => None,
            _ => Some(rng.next(4)),
        };
        let min_weight = rng.next(4) as i64;
        let depth = max_depth.map_or(String::new(), |d| format!(r#", "maxDepth": {d}"#));
        let restrict = format!(r#", "restrictSearchWithMatch": {{"w": {{"$gte": {min_weight}}}}}"#);
        let expected = naive(&edges, start, max_depth, min_weight);
        let on_edges = run(
            &db,
            start,
            &format!(
                r#"{{"from": "e", "startWith": "$key", "connectFromField": "_to", "connectToField": "_from", "as": "reach", "depthField": "d"{depth}{restrict}}}"#
            ),
        );
        assert_eq!(
            on_edges, expected,
            "seed {seed} round {round}: edge collection"
        );
        let on_links = run(
            &db,
            start,
            &format!(
                r#"{{"from": "links", "startWith": "$n", "connectFromField": "b", "connectToField": "a", "as": "reach", "depthField": "d"{depth}{restrict}}}"#
            ),
        );
        assert_eq!(
            on_links, expected,
            "seed {seed} round {round}: plain collection"
        );
        let on_indexed = run(
            &db,
            start,
            &format!(
                r#"{{"from": "indexed", "startWith": "$n", "connectFromField": "b", "connectToField": "a", "as": "reach", "depthField": "d"{depth}{restrict}}}"#
            ),
        );
        assert_eq!(
            on_indexed, expected,
            "seed {seed} round {round}: collection with an index on connectToField"
        );
    }
}

#[test]
fn pipeline_explain_shows_the_adjacency_or_the_secondary_index_of_graph_lookup() {
    let db = cairn::open_in_memory().expect("open");
    db.create_collection("v").expect("v");
    db.create_collection("links").expect("links");
    let spec = IndexSpec::btree("by_a", &["a"]).expect("spec");
    create_index(&db, "links", &spec, &mut |_| {}).expect("index");
    let options = EdgeOptions {
        on_vertex_delete: OnVertexDelete::None,
        vertex_collections: vec![],
        properties: vec![],
    };
    graph::create_edge_collection(&db, "e", &options).expect("edges");
    let n = 400;
    for id in 0..n {
        db.insert(
            "v",
            json(&format!(r#"{{"_id": {id}, "key": "v/{id}", "n": {id}}}"#)),
        )
        .expect("vertex");
        for (k, to) in [(0, (id + 1) % n), (1, (id + 7) % n)] {
            let edge = 2 * id + k;
            db.insert(
                "e",
                json(&format!(
                    r#"{{"_id": {edge}, "_from": "v/{id}", "_to": "v/{to}"}}"#
                )),
            )
            .expect("edge");
            db.insert(
                "links",
                json(&format!(r#"{{"_id": {edge}, "a": {id}, "b": {to}}}"#)),
            )
            .expect("link");
        }
    }
    for (from, start, from_field, to_field, plan) in [
        ("e", "$key", "_to", "_from", "adjacency out (_from)"),
        ("links", "$n", "b", "a", "index equality on `by_a`"),
    ] {
        let pipeline = Pipeline::parse(&json(&format!(
            r#"[{{"$match": {{"_id": 5}}}}, {{"$graphLookup": {{"from": "{from}", "startWith": "{start}", "connectFromField": "{from_field}", "connectToField": "{to_field}", "as": "reach", "maxDepth": 2}}}}]"#
        )))
        .expect("pipeline");
        let explain = pipeline.explain(&db, "v").expect("explain");
        assert_eq!(explain.returned, 1);
        assert!(
            explain.source.plans[0].0.starts_with("primary key"),
            "{:?}",
            explain.source
        );
        let [stage] = explain.stages.as_slice() else {
            panic!("{explain:?}");
        };
        assert_eq!(
            (stage.stage, stage.index, stage.from.as_str()),
            ("$graphLookup", 1, from)
        );
        assert_eq!(stage.queries.queries, 3, "one query per depth: {stage:?}");
        assert!(
            stage.queries.plans.iter().all(|(p, _)| p.starts_with(plan)),
            "{from}: {:?}",
            stage.queries.plans
        );
        // Depths 0, 1, 2 search {5}, {6, 12}, {7, 13, 19}: 2 + 4 + 6 edges of the 800.
        assert_eq!(stage.queries.executed.docs_examined, 12, "{stage:?}");
        if from == "e" {
            assert_eq!(
                stage.queries.executed.counter("adjacency_edges"),
                12,
                "{stage:?}"
            );
        }
        let text = explain.to_value().to_json_string();
        assert!(text.contains("\"stages\""), "{text}");
    }
}

#[test]
fn the_adjacency_index_answers_endpoint_equalities_on_edge_collections() {
    let mut rng = Rng(7);
    let (db, edges, _) = setup(&mut rng);
    let plan = cairn::explain(
        &db,
        "e",
        &Query::new(Filter::parse(&json(r#"{"_from": {"$in": ["v/0", "v/1"]}}"#)).expect("filter")),
    )
    .expect("explain");
    assert!(
        plan.chosen
            .description
            .starts_with("adjacency out (_from) of 2 vertices"),
        "{:?}",
        plan.chosen
    );
    let expected = edges.iter().filter(|e| e.1 <= 1).count() as u64;
    assert_eq!(plan.returned, expected);
    let plan = cairn::explain(
        &db,
        "e",
        &Query::new(Filter::parse(&json(r#"{"_to": "v/1", "w": {"$gt": 3}}"#)).expect("filter")),
    )
    .expect("explain");
    assert!(
        plan.chosen.description.starts_with("adjacency in (_to)"),
        "{:?}",
        plan.chosen
    );
    let expected = edges.iter().filter(|e| e.2 == 1 && e.3 > 3).count() as u64;
    assert_eq!(plan.returned, expected);
}

#[test]
fn graph_lookup_options_and_limits_give_clear_errors() {
    for (spec, at) in [
        (
            r#"{"from": "e", "connectFromField": "_to", "connectToField": "_from", "as": "r"}"#,
            "startWith",
        ),
        (
            r#"{"from": "e", "startWith": "$k", "connectFromField": "_to", "connectToField": "_from", "as": "r", "maxDepth": -1}"#,
            "maxDepth",
        ),
        (
            r#"{"from": "e", "startWith": "$k", "connectFromField": "_to", "connectToField": "_from", "as": "r", "depth": 1}"#,
            "depth",
        ),
        (
            r#"{"from": "", "startWith": "$k", "connectFromField": "_to", "connectToField": "_from", "as": "r"}"#,
            "from",
        ),
    ] {
        let err = Pipeline::parse(&json(&format!(r#"[{{"$graphLookup": {spec}}}]"#)))
            .expect_err(spec)
            .to_string();
        assert!(
            err.contains(&format!("pipeline[0].$graphLookup.{at}")),
            "{err}"
        );
    }
    // A search that outlives its budget says so.
    let mut rng = Rng(3);
    let (db, _, _) = setup(&mut rng);
    let pipeline = Pipeline::parse(&json(
        r#"[{"$graphLookup": {"from": "links", "startWith": "$n", "connectFromField": "b", "connectToField": "a", "as": "reach"}}]"#,
    ))
    .expect("pipeline")
    .time_budget(Duration::from_nanos(1));
    let err = pipeline.run(&db, "v").expect_err("timed out").to_string();
    assert!(err.contains("time"), "{err}");
}
