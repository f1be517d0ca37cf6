//! Geometry differential tests: random shapes (tiny, huge, far away, on query boundaries),
//! random insert/update/delete sequences, random geometric queries. Every answer, under every
//! plan the planner considers (spatial index or scan), equals a brute-force exact computation
//! over all stored shapes, and the spatial index always equals a rebuild. (Moved here from
//! `cairn-query`, which no longer knows any model: the geometric operators and the spatial
//! access method are this crate's, registered with the query layer.)

use std::sync::Arc;

use cairn_doc::{DocId, Geometry, Object, Value};
use cairn_engine::{Config, Database, StorageMode};
use cairn_geo::index::{
    create_spatial_index, expected_entries, stored_entries, SpatialExtensionKind, SpatialSpec,
};
use cairn_geo::GeoOp;
use cairn_index::IndexExtensionKind;
use cairn_query::{answers_under_every_plan, find_under_every_plan, find_under_every_plan_in};
use cairn_query::{find, find_in, Filter, Op, Query};
use proptest::prelude::*;

fn open_memory() -> Database {
    // What the `cairn` facade does before it opens a database.
    cairn_geo::register_query_model();
    let mut config = Config::new(std::path::PathBuf::new(), StorageMode::MemoryOnly);
    config.extension_kinds.push(Arc::new(IndexExtensionKind));
    config.extension_kinds.push(Arc::new(SpatialExtensionKind));
    Database::open(config).expect("open")
}

/// Coordinates: mostly small integers (so shapes sit exactly on query boundaries), sometimes
/// fractional.
fn coord() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => (-20i32..20).prop_map(f64::from),
        1 => -20.0..20.0f64,
    ]
}

fn point() -> impl Strategy<Value = [f64; 3]> {
    [coord(), coord(), coord()]
}

fn shape() -> BoxedStrategy<Geometry> {
    prop_oneof![
        3 => point().prop_map(Geometry::Point),
        2 => (point(), point()).prop_map(|(a, b)| Geometry::Segment([a, b])),
        3 => (point(), point(), point())
            .prop_map(|(a, b, c)| Geometry::Triangle([a, b, c]))
            .prop_filter("valid", |g| g.validate().is_ok()),
        2 => (point(), point()).prop_map(|(a, b)| {
            let min = [0, 1, 2].map(|i| a[i].min(b[i]));
            let max = [0, 1, 2].map(|i| a[i].max(b[i]));
            Geometry::Box { min, max }
        }),
        2 => (point(), 0u32..6).prop_map(|(c, r)| Geometry::Sphere { center: c, radius: f64::from(r) }),
        3 => (point(), 1u32..5).prop_map(|(c, r)| cairn_geo::icosahedron(c, f64::from(r)).expect("ico")),
        // Tiny, huge and far-away shapes.
        1 => point().prop_map(|c| cairn_geo::icosahedron(c, 1e-9).expect("tiny")),
        1 => point().prop_map(|c| Geometry::Box { min: c.map(|x| x - 1e6), max: c.map(|x| x + 1e6) }),
        1 => point().prop_map(|c| Geometry::Point(c.map(|x| x * 1e12))),
    ]
    .boxed()
}

fn field() -> BoxedStrategy<Value> {
    prop_oneof![
        8 => shape().prop_map(Value::from),
        1 => (shape(), shape()).prop_map(|(a, b)| Value::Array(vec![a.into(), b.into()])),
        1 => Just(Value::Int(7)),
    ]
    .boxed()
}

fn document() -> BoxedStrategy<Value> {
    (proptest::option::weighted(0.9, field()), 0i64..4)
        .prop_map(|(shape, tag)| {
            let mut o = Object::new();
            if let Some(shape) = shape {
                o.insert("shape", shape);
            }
            o.insert("tag", Value::Int(tag));
            Value::Object(o)
        })
        .boxed()
}

#[derive(Debug, Clone)]
enum Step {
    Put(i64, Value),
    Delete(i64),
}

fn steps() -> BoxedStrategy<Vec<Step>> {
    proptest::collection::vec(
        prop_oneof![
            4 => (0i64..14, document()).prop_map(|(id, d)| Step::Put(id, d)),
            1 => (0i64..14).prop_map(Step::Delete),
        ],
        1..40,
    )
    .boxed()
}

fn query_op() -> BoxedStrategy<GeoOp> {
    prop_oneof![
        (shape(), 0u32..12).prop_map(|(shape, r)| GeoOp::WithinDistance {
            shape,
            max: f64::from(r)
        }),
        shape().prop_map(|shape| GeoOp::Intersects { shape }),
        (point(), point()).prop_map(|(a, b)| GeoOp::Within {
            region: Geometry::Box {
                min: [0, 1, 2].map(|i| a[i].min(b[i])),
                max: [0, 1, 2].map(|i| a[i].max(b[i])),
            }
        }),
        (point(), 1u32..20).prop_map(|(c, r)| GeoOp::Within {
            region: Geometry::Sphere {
                center: c,
                radius: f64::from(r)
            }
        }),
        (point(), 1u32..6).prop_map(|(c, r)| GeoOp::Within {
            region: cairn_geo::icosahedron(c, f64::from(r) * 4.0).expect("ico")
        }),
    ]
    .boxed()
}

/// The geometries a document's `shape` holds (the value, or its array's elements).
fn geometries(doc: &Value) -> Vec<Geometry> {
    match doc.as_object().and_then(|o| o.get("shape")) {
        Some(Value::Geometry(g)) => vec![(**g).clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_geometry().cloned())
            .collect(),
        _ => Vec::new(),
    }
}

/// Brute force: the operator's meaning, computed directly from the cairn-geo functions.
fn brute(op: &GeoOp, doc: &Value) -> bool {
    geometries(doc).iter().any(|g| match op {
        GeoOp::WithinDistance { shape, max } => cairn_geo::distance(g, shape) <= *max,
        GeoOp::Intersects { shape } => cairn_geo::intersects(g, shape),
        GeoOp::Within { region } => cairn_geo::within(g, region).expect("region"),
        GeoOp::Near { .. } => true,
    })
}

fn ids(docs: &[Value]) -> Vec<DocId> {
    let mut out: Vec<DocId> = docs
        .iter()
        .map(|d| {
            DocId::from_value(d.as_object().and_then(|o| o.get("_id")).expect("_id")).expect("id")
        })
        .collect();
    out.sort();
    out
}

fn apply(db: &Database, steps: &[Step]) {
    for step in steps {
        match step {
            Step::Put(id, doc) => {
                let mut doc = doc.clone();
                if let Value::Object(o) = &mut doc {
                    o.insert("_id", Value::Int(*id));
                }
                db.upsert("g", doc).expect("upsert");
            }
            Step::Delete(id) => {
                db.delete("g", &DocId::Int(*id)).expect("delete");
            }
        }
    }
}

fn all_docs(db: &Database) -> Vec<Value> {
    find(db, "g", &Query::new(Filter::All))
        .expect("all")
        .documents
}

fn check_index_equals_rebuild(db: &Database, spec: &SpatialSpec) {
    let mut txn = db.read().expect("read");
    let stored = stored_entries(&mut txn, "g", &spec.name).expect("stored");
    let expected = expected_entries(&mut txn, "g", spec).expect("expected");
    assert_eq!(stored, expected, "spatial index differs from a rebuild");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn geometric_queries_equal_brute_force_under_every_plan(
        steps in steps(),
        build_first in any::<bool>(),
        queries in proptest::collection::vec((query_op(), proptest::option::of(0i64..4)), 1..6),
    ) {
        let db = open_memory();
        db.create_collection("g").expect("create");
        let spec = SpatialSpec::new("where", "shape").expect("spec");
        if build_first {
            create_spatial_index(&db, "g", &spec).expect("index");
        }
        apply(&db, &steps);
        if !build_first {
            create_spatial_index(&db, "g", &spec).expect("index");
        }
        check_index_equals_rebuild(&db, &spec);
        let docs = all_docs(&db);
        for (op, tag) in &queries {
            let geo = Filter::Field(cairn_doc::FieldPath::parse("shape").expect("path"), vec![Op::Registered(Arc::new(op.clone()))]);
            let filter = match tag {
                Some(t) => Filter::and([geo, Filter::field("tag").expect("tag").lt(*t)]),
                None => geo,
            };
            let expected: Vec<Value> = docs
                .iter()
                .filter(|d| brute(op, d))
                .filter(|d| tag.is_none_or(|t| d.as_object().and_then(|o| o.get("tag")).and_then(Value::as_i64).is_some_and(|x| x < t)))
                .cloned()
                .collect();
            // A read-only snapshot reads the spatial index through the bucket cache, a
            // read-write transaction with the guided scan: both must be exact.
            let query = Query::new(filter);
            let cached = find_under_every_plan(&db, "g", &query).expect("find");
            let mut txn = db.begin().expect("begin");
            let scanned = find_under_every_plan_in(&mut txn, "g", &query).expect("find in txn");
            // Keeping only `_id` lets a spatial plan that decides the filter answer from keys.
            let mut ids_only = query.clone();
            ids_only.projection = Some(
                cairn_query::Projection::parse(&Value::from_json_str(r#"{"_id": 1}"#).expect("json"))
                    .expect("projection"),
            );
            let keys_only = find_under_every_plan(&db, "g", &ids_only).expect("find ids");
            // And from the content's resident image (an R-tree in memory).
            prop_assert!(cairn_geo::index::make_resident(&db, "g", "where").expect("resident"));
            let resident = find_under_every_plan(&db, "g", &query).expect("find resident");
            for plans in [cached, scanned, keys_only, resident] {
                prop_assert!(plans.iter().any(|(p, _)| p.contains("spatial")), "no spatial plan among {:?}", plans.iter().map(|p| &p.0).collect::<Vec<_>>());
                for (plan, result) in plans {
                    prop_assert_eq!(ids(&result.documents), ids(&expected), "plan {}", plan);
                }
            }
        }
    }

    #[test]
    fn near_returns_the_k_nearest_by_exact_distance(
        steps in steps(),
        indexed in any::<bool>(),
        target in shape(),
        k in 1usize..6,
        max in proptest::option::of(0u32..30),
        tag in proptest::option::of(0i64..4),
    ) {
        let db = open_memory();
        db.create_collection("g").expect("create");
        if indexed {
            create_spatial_index(&db, "g", &SpatialSpec::new("where", "shape").expect("spec")).expect("index");
        }
        apply(&db, &steps);
        let max = max.map(f64::from);
        let near = GeoOp::near(target.clone(), k, max, "d");
        let geo = Filter::Field(cairn_doc::FieldPath::parse("shape").expect("path"), vec![Op::Registered(Arc::new(near))]);
        let filter = match tag {
            Some(t) => Filter::and([geo, Filter::field("tag").expect("tag").lt(t)]),
            None => geo,
        };
        let query = Query::new(filter);
        // Through the bucket cache (read-only snapshot) and the guided scan (transaction).
        let result = find(&db, "g", &query).expect("near");
        let in_txn = find_in(&mut db.begin().expect("begin"), "g", &query).expect("near in txn");
        prop_assert_eq!(&in_txn.documents, &result.documents);
        // Keeping only `_id` (answered from the index's keys when `$near` is the whole filter):
        // the same documents, in the same order, with the same distances.
        let mut ids_only = query.clone();
        ids_only.projection = Some(
            cairn_query::Projection::parse(&Value::from_json_str(r#"{"_id": 1}"#).expect("json"))
                .expect("projection"),
        );
        let keyed = find(&db, "g", &ids_only).expect("near ids");
        let id_and_distance = |docs: &[Value]| -> Vec<(Option<Value>, Option<Value>)> {
            docs.iter()
                .map(|d| {
                    let o = d.as_object();
                    (o.and_then(|o| o.get("_id")).cloned(), o.and_then(|o| o.get("d")).cloned())
                })
                .collect()
        };
        prop_assert_eq!(id_and_distance(&keyed.documents), id_and_distance(&result.documents));
        // From the resident image: a best-first walk instead of rounds of radii.
        if indexed {
            prop_assert!(cairn_geo::index::make_resident(&db, "g", "where").expect("resident"));
            let resident = find(&db, "g", &query).expect("near resident");
            prop_assert_eq!(&resident.documents, &result.documents);
            let resident_ids = find(&db, "g", &ids_only).expect("near resident ids");
            prop_assert_eq!(id_and_distance(&resident_ids.documents), id_and_distance(&result.documents));
            let explain = cairn_query::explain(&db, "g", &query).expect("explain");
            prop_assert!(explain.executed.counter("spatial_resident") >= 1, "{:?}", explain.executed);
        }
        // Brute force: every matching document's exact distance, nearest first, ties by id key.
        let mut expected: Vec<(f64, Vec<u8>)> = all_docs(&db)
            .iter()
            .filter(|d| tag.is_none_or(|t| d.as_object().and_then(|o| o.get("tag")).and_then(Value::as_i64).is_some_and(|x| x < t)))
            .filter_map(|d| {
                let best = geometries(d).iter().map(|g| cairn_geo::distance(g, &target)).fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.min(x))))?;
                let id = DocId::from_value(d.as_object()?.get("_id")?).ok()?;
                (max.is_none_or(|m| best <= m)).then(|| (best, id.to_key().expect("key")))
            })
            .collect();
        expected.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        expected.truncate(k);
        let got: Vec<(f64, Vec<u8>)> = result
            .documents
            .iter()
            .map(|d| {
                let o = d.as_object().expect("object");
                let id = DocId::from_value(o.get("_id").expect("_id")).expect("id");
                (o.get("d").and_then(Value::as_f64).expect("distance"), id.to_key().expect("key"))
            })
            .collect();
        // `count` and `distinct` under every plan see the same k documents.
        let mut expected_ids: Vec<Vec<u8>> = expected.iter().map(|(_, key)| key.clone()).collect();
        expected_ids.sort();
        prop_assert_eq!(got, expected);
        for answers in answers_under_every_plan(&db, "g", &query, "_id").expect("answers") {
            prop_assert_eq!(answers.count, expected_ids.len() as u64, "count, plan {}", answers.plan);
            let distinct: Vec<Vec<u8>> = answers
                .distinct
                .iter()
                .map(|id| DocId::from_value(id).expect("id").to_key().expect("key"))
                .collect();
            prop_assert_eq!(distinct, expected_ids.clone(), "distinct, plan {}", answers.plan);
        }
    }
}

/// `$near`'s `k` bounds every entry point: `find`, `count` and `distinct` (which once
/// returned all ten).
#[test]
fn near_k_bounds_find_count_and_distinct() {
    for indexed in [false, true] {
        let db = open_memory();
        db.create_collection("g").expect("create");
        if indexed {
            create_spatial_index(&db, "g", &SpatialSpec::new("where", "p").expect("spec"))
                .expect("index");
        }
        for i in 0..10 {
            let mut o = Object::new();
            o.insert("_id", Value::Int(i));
            o.insert("p", Value::from(Geometry::Point([i as f64, 0.0, 0.0])));
            db.insert("g", Value::Object(o)).expect("insert");
        }
        let filter = Filter::parse(
            &Value::from_json_expression(
                r#"{"p": {"$near": {"shape": {"$geometry": {"type": "point", "coordinates": [0, 0, 0]}}, "k": 2}}}"#,
            )
            .expect("json"),
        )
        .expect("filter");
        let found = find(&db, "g", &Query::new(filter.clone())).expect("find");
        assert_eq!(found.documents.len(), 2, "indexed {indexed}");
        assert_eq!(cairn_query::count(&db, "g", &filter).expect("count"), 2);
        assert_eq!(
            cairn_query::distinct(&db, "g", "_id", &filter).expect("distinct"),
            vec![Value::Int(0), Value::Int(1)],
            "indexed {indexed}"
        );
    }
}

#[test]
fn explain_shows_the_spatial_index_candidates_and_exact_tests() {
    let db = open_memory();
    db.create_collection("g").expect("create");
    create_spatial_index(&db, "g", &SpatialSpec::new("where", "shape").expect("spec"))
        .expect("index");
    for i in 0..200 {
        let c = [f64::from(i % 10) * 10.0, f64::from(i / 10) * 10.0, 0.0];
        let mut o = Object::new();
        o.insert(
            "shape",
            Value::from(cairn_geo::icosahedron(c, 1.0).expect("ico")),
        );
        db.insert("g", Value::Object(o)).expect("insert");
    }
    let filter = Filter::parse(
        &Value::from_json_expression(
            r#"{"shape": {"$withinDistance": {"shape": {"$geometry": {"type": "point", "coordinates": [0, 0, 0]}}, "distance": 1.5}}}"#,
        )
        .expect("json"),
    )
    .expect("filter");
    let explain = cairn_query::explain(&db, "g", &Query::new(filter.clone())).expect("explain");
    assert!(
        explain.chosen.description.contains("spatial index `where`"),
        "{}",
        explain.chosen.description
    );
    assert_eq!(explain.returned, 1);
    assert!(
        explain.executed.counter("spatial_candidates") >= 1
            && explain.executed.counter("spatial_candidates") < 200
    );
    assert!(
        explain.executed.counter("exact_tests") >= 1
            && explain.executed.counter("exact_tests") < 200
    );
    // A read-only snapshot reads through the bucket cache, which decodes a bucket on its
    // second use: the first query read the index uncached, the second decoded what it
    // needed, the third finds all of it decoded. Same candidates every time.
    assert_eq!(
        explain.executed.counter("spatial_bucket_loads"),
        0,
        "{:?}",
        explain.executed
    );
    let second = cairn_query::explain(&db, "g", &Query::new(filter.clone())).expect("explain");
    assert!(
        second.executed.counter("spatial_bucket_loads") >= 1,
        "{:?}",
        second.executed
    );
    let third = cairn_query::explain(&db, "g", &Query::new(filter.clone())).expect("explain");
    assert_eq!(third.returned, 1);
    assert_eq!(
        third.executed.counter("spatial_bucket_loads"),
        0,
        "{:?}",
        third.executed
    );
    assert!(
        third.executed.counter("spatial_bucket_hits") >= 1,
        "{:?}",
        third.executed
    );
    for run in [&second, &third] {
        assert_eq!(
            run.executed.counter("spatial_candidates"),
            explain.executed.counter("spatial_candidates")
        );
    }
    assert_eq!(explain.executed.docs_examined, 1, "{:?}", explain.executed);
    // Keeping only `_id`, the search's exact test decides: no document is read.
    let mut ids_only = Query::new(filter.clone());
    ids_only.projection = Some(
        cairn_query::Projection::parse(&Value::from_json_str(r#"{"_id": 1}"#).expect("json"))
            .expect("projection"),
    );
    let keys = cairn_query::explain(&db, "g", &ids_only).expect("explain");
    assert_eq!(keys.returned, 1);
    assert_eq!(keys.executed.docs_examined, 0, "{:?}", keys.executed);
    let found = cairn_query::find(&db, "g", &ids_only).expect("find");
    let only_id = found.documents[0]
        .as_object()
        .map(|o| o.keys().collect::<Vec<_>>());
    assert_eq!(only_id, Some(vec!["_id"]));
    // Opening never rebuilds: the entries are there in the snapshot before any query.
    let listed = cairn_geo::index::list_spatial_indexes(&db, "g").expect("list");
    assert_eq!(listed[0].entries, 200 * 20);
}
