//! Edge collections: the edge form, the adjacency index kept in the writing transaction,
//! referential behaviour on vertex delete, reopen without rebuild, and query limits.

mod common;

use cairn_doc::{DocId, Value};
use cairn_engine::{EngineError, StorageMode};
use cairn_graph::{
    khop_count, neighbours, shortest_path, traverse, verify_edges, Budget, Direction, GraphError,
    OnVertexDelete, Traversal, VertexRef, Walk,
};
use common::{doc, memory_db, names, setup};

fn out_of(db: &cairn_engine::Database, vertex: &VertexRef) -> Vec<String> {
    let mut txn = db.read().unwrap();
    neighbours(&mut txn, vertex, Direction::Out, &names(&["edges"]), None)
        .unwrap()
        .into_iter()
        .map(|n| n.vertex.to_text())
        .collect()
}

#[test]
fn malformed_endpoints_are_refused_naming_the_field() {
    let db = memory_db();
    setup(&db, OnVertexDelete::None, 2);
    let cases = [
        (r#"{"_to": "patients/1"}"#, "_from"),
        (r#"{"_from": "patients/1"}"#, "_to"),
        (r#"{"_from": 5, "_to": "patients/1"}"#, "_from"),
        (r#"{"_from": "patients/1", "_to": "no slash"}"#, "_to"),
        (
            r#"{"_from": {"collection": "patients"}, "_to": "patients/1"}"#,
            "_from",
        ),
        (
            r#"{"_from": "patients/1", "_to": {"collection": "p", "id": 1, "x": 2}}"#,
            "_to",
        ),
    ];
    for (json, field) in cases {
        match db.insert("edges", doc(json)) {
            Err(EngineError::SchemaViolation { path, .. }) => assert_eq!(path, field, "{json}"),
            other => panic!("{json}: {other:?}"),
        }
    }
    assert_eq!(
        db.stats()
            .unwrap()
            .collections
            .iter()
            .find(|c| c.name == "edges")
            .map(|c| c.documents),
        Some(0)
    );
}

#[test]
fn both_endpoint_forms_are_stored_as_canonical_text() {
    let db = memory_db();
    setup(&db, OnVertexDelete::Restrict, 2);
    let id = db
        .insert(
            "edges",
            doc(r#"{"_from": {"collection": "patients", "id": 1}, "_to": "admissions/2", "w": 1}"#),
        )
        .unwrap();
    let stored = db.get("edges", &id).unwrap().unwrap();
    let obj = stored.as_object().unwrap();
    assert_eq!(obj.get("_from"), Some(&Value::String("patients/1".into())));
    assert_eq!(obj.get("_to"), Some(&Value::String("admissions/2".into())));
    assert_eq!(
        out_of(&db, &VertexRef::new("patients", 1)),
        ["admissions/2"]
    );
}

#[test]
fn adjacency_follows_updates_and_deletes_of_edges() {
    let db = memory_db();
    setup(&db, OnVertexDelete::Restrict, 3);
    let id = db
        .insert(
            "edges",
            doc(r#"{"_from": "patients/1", "_to": "patients/2"}"#),
        )
        .unwrap();
    let moved =
        cairn_doc::Patch::from_json_str(r#"{"$set": {"_to": "patients/3", "w": 2}}"#).unwrap();
    db.update("edges", &id, &moved).unwrap();
    assert_eq!(out_of(&db, &VertexRef::new("patients", 1)), ["patients/3"]);
    let mut txn = db.read().unwrap();
    let incoming = neighbours(
        &mut txn,
        &VertexRef::new("patients", 2),
        Direction::In,
        &names(&["edges"]),
        None,
    )
    .unwrap();
    assert!(incoming.is_empty());
    drop(txn);
    db.delete("edges", &id).unwrap();
    assert!(out_of(&db, &VertexRef::new("patients", 1)).is_empty());
    let mut txn = db.read().unwrap();
    assert!(verify_edges(&mut txn, "edges")
        .unwrap()
        .is_clean(OnVertexDelete::Restrict));
}

#[test]
fn restrict_refuses_deleting_a_vertex_while_edges_name_it() {
    let db = memory_db();
    setup(&db, OnVertexDelete::Restrict, 2);
    let edge = db
        .insert(
            "edges",
            doc(r#"{"_from": "patients/1", "_to": "admissions/1"}"#),
        )
        .unwrap();
    for (coll, id) in [("patients", 1), ("admissions", 1)] {
        match db.delete(coll, &DocId::Int(id)) {
            Err(EngineError::ReferenceViolation { reason, .. }) => {
                assert!(reason.contains("restrict"), "{reason}")
            }
            other => panic!("{coll}/{id}: {other:?}"),
        }
    }
    assert!(db.get("patients", &DocId::Int(1)).unwrap().is_some());
    db.delete("edges", &edge).unwrap();
    assert!(db.delete("patients", &DocId::Int(1)).unwrap());
}

#[test]
fn cascade_deletes_the_edges_of_a_deleted_vertex_in_the_same_transaction() {
    let db = memory_db();
    setup(&db, OnVertexDelete::Cascade, 3);
    for json in [
        r#"{"_from": "patients/1", "_to": "patients/2"}"#,
        r#"{"_from": "patients/3", "_to": "patients/1"}"#,
        r#"{"_from": "patients/1", "_to": "patients/1"}"#,
        r#"{"_from": "patients/2", "_to": "patients/3"}"#,
    ] {
        db.insert("edges", doc(json)).unwrap();
    }
    let before = db.last_seq();
    db.delete("patients", &DocId::Int(1)).unwrap();
    assert_eq!(db.last_seq(), before + 1, "one commit");
    let mut remaining = Vec::new();
    db.for_each("edges", |_, d| {
        remaining.push(d.as_object().unwrap().get("_from").cloned());
        true
    })
    .unwrap();
    assert_eq!(remaining, [Some(Value::String("patients/2".into()))]);
    let mut txn = db.read().unwrap();
    assert!(verify_edges(&mut txn, "edges")
        .unwrap()
        .is_clean(OnVertexDelete::Cascade));
}

#[test]
fn none_allows_dangling_edges_and_verify_reports_them() {
    let db = memory_db();
    setup(&db, OnVertexDelete::None, 2);
    db.insert(
        "edges",
        doc(r#"{"_from": "patients/1", "_to": "ghosts/9"}"#),
    )
    .unwrap();
    db.insert(
        "edges",
        doc(r#"{"_from": "patients/2", "_to": "patients/1"}"#),
    )
    .unwrap();
    db.delete("patients", &DocId::Int(1)).unwrap();
    let mut txn = db.read().unwrap();
    let report = verify_edges(&mut txn, "edges").unwrap();
    assert_eq!(report.problem_count, 0);
    assert_eq!(report.dangling_count, 3, "{:?}", report.dangling);
    assert!(report.is_clean(OnVertexDelete::None));
    assert!(!report.is_clean(OnVertexDelete::Restrict));
}

#[test]
fn edges_to_missing_or_unregistered_vertices_are_refused_under_restrict_and_cascade() {
    for mode in [OnVertexDelete::Restrict, OnVertexDelete::Cascade] {
        let db = memory_db();
        setup(&db, mode, 2);
        db.create_collection("events").unwrap();
        db.insert("events", doc(r#"{"_id": 1}"#)).unwrap();
        for (json, needle) in [
            (
                r#"{"_from": "patients/1", "_to": "patients/7"}"#,
                "does not exist",
            ),
            (
                r#"{"_from": "nowhere/1", "_to": "patients/1"}"#,
                "does not exist",
            ),
            (
                r#"{"_from": "patients/1", "_to": "events/1"}"#,
                "not registered",
            ),
        ] {
            match db.insert("edges", doc(json)) {
                Err(EngineError::ReferenceViolation { reason, .. }) => {
                    assert!(reason.contains(needle), "{mode:?} {json}: {reason}")
                }
                other => panic!("{mode:?} {json}: {other:?}"),
            }
        }
        cairn_graph::register_vertex_collection(&db, "edges", "events").unwrap();
        db.insert(
            "edges",
            doc(r#"{"_from": "patients/1", "_to": "events/1"}"#),
        )
        .unwrap();
    }
}

#[test]
fn a_new_edge_and_a_delete_of_its_vertex_cannot_both_commit() {
    let db = memory_db();
    setup(&db, OnVertexDelete::Restrict, 2);
    let mut add = db.begin().unwrap();
    add.insert(
        "edges",
        doc(r#"{"_from": "patients/1", "_to": "patients/2"}"#),
    )
    .unwrap();
    let mut remove = db.begin().unwrap();
    assert!(remove.delete("patients", &DocId::Int(2)).unwrap());
    add.commit().unwrap();
    assert!(matches!(remove.commit(), Err(EngineError::Conflict { .. })));
    let mut txn = db.read().unwrap();
    assert_eq!(verify_edges(&mut txn, "edges").unwrap().dangling_count, 0);
}

#[test]
fn queries_in_a_transaction_see_its_own_writes() {
    let db = memory_db();
    setup(&db, OnVertexDelete::Restrict, 3);
    let mut txn = db.begin().unwrap();
    txn.insert(
        "edges",
        doc(r#"{"_from": "patients/1", "_to": "patients/2"}"#),
    )
    .unwrap();
    txn.insert(
        "edges",
        doc(r#"{"_from": "patients/2", "_to": "patients/3"}"#),
    )
    .unwrap();
    let edges = names(&["edges"]);
    let walk = Walk::new(&edges, Direction::Out);
    let path = shortest_path(
        &mut txn,
        &VertexRef::new("patients", 1),
        &VertexRef::new("patients", 3),
        &walk,
        None,
    )
    .unwrap()
    .unwrap();
    assert_eq!(path.edges.len(), 2);
    txn.rollback();
    assert!(out_of(&db, &VertexRef::new("patients", 1)).is_empty());
}

#[test]
fn reopening_reads_the_adjacency_without_rebuilding_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::config(dir.path(), StorageMode::Persistent);
    let seq = {
        let db = cairn_engine::Database::open(config.clone()).unwrap();
        setup(&db, OnVertexDelete::Cascade, 3);
        db.insert(
            "edges",
            doc(r#"{"_from": "patients/1", "_to": "admissions/3"}"#),
        )
        .unwrap();
        db.last_seq()
    };
    let db = cairn_engine::Database::open(config).unwrap();
    assert_eq!(db.last_seq(), seq, "opening wrote nothing (no rebuild)");
    assert_eq!(
        out_of(&db, &VertexRef::new("patients", 1)),
        ["admissions/3"]
    );
    db.delete("admissions", &DocId::Int(3)).unwrap();
    assert!(out_of(&db, &VertexRef::new("patients", 1)).is_empty());
}

#[test]
fn queries_stop_at_their_memory_and_time_budgets() {
    let db = memory_db();
    setup(&db, OnVertexDelete::Restrict, 50);
    for i in 1..50 {
        db.insert(
            "edges",
            doc(&format!(
                r#"{{"_from": "patients/{i}", "_to": "patients/{}"}}"#,
                i + 1
            )),
        )
        .unwrap();
    }
    let edges = names(&["edges"]);
    let start = VertexRef::new("patients", 1);
    let mut txn = db.read().unwrap();
    let mut walk = Walk::new(&edges, Direction::Out);
    walk.budget = Budget {
        memory_bytes: 2_000,
        ..Budget::default()
    };
    let err = traverse(
        &mut txn,
        std::slice::from_ref(&start),
        &Traversal::new(walk, 60),
    )
    .unwrap_err();
    assert!(
        matches!(err, GraphError::MemoryLimitExceeded { limit_bytes: 2_000 }),
        "{err:?}"
    );
    walk.budget = Budget {
        time: std::time::Duration::ZERO,
        ..Budget::default()
    };
    let err = khop_count(&mut txn, &start, &walk, 3).unwrap_err();
    assert!(
        matches!(err, GraphError::TimeBudgetExceeded { .. }),
        "{err:?}"
    );
    let err = traverse(
        &mut txn,
        &[start],
        &Traversal::new(Walk::new(&edges, Direction::Out), 65),
    )
    .unwrap_err();
    assert!(matches!(err, GraphError::InvalidQuery { .. }), "{err:?}");
}

#[test]
fn dijkstra_refuses_negative_and_missing_weights() {
    let db = memory_db();
    setup(&db, OnVertexDelete::Restrict, 3);
    db.insert(
        "edges",
        doc(r#"{"_from": "patients/1", "_to": "patients/2", "w": -1}"#),
    )
    .unwrap();
    db.insert(
        "edges",
        doc(r#"{"_from": "patients/2", "_to": "patients/3"}"#),
    )
    .unwrap();
    let edges = names(&["edges"]);
    let walk = Walk::new(&edges, Direction::Out);
    let mut txn = db.read().unwrap();
    let (a, c) = (VertexRef::new("patients", 1), VertexRef::new("patients", 3));
    let err = shortest_path(&mut txn, &a, &c, &walk, Some("w")).unwrap_err();
    assert!(
        matches!(err, GraphError::InvalidWeight { ref field, .. } if field == "w"),
        "{err:?}"
    );
    let err = shortest_path(
        &mut txn,
        &VertexRef::new("patients", 2),
        &c,
        &walk,
        Some("w"),
    )
    .unwrap_err();
    assert!(
        matches!(err, GraphError::InvalidWeight { ref reason, .. } if reason == "missing"),
        "{err:?}"
    );
}
