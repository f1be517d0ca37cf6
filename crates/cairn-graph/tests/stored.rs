//! Edge properties stored in the adjacency index: a traversal filtering on them and Dijkstra
//! weighing by them read no edge document (shown by `explain`), answers equal those read from
//! the documents, writes keep the stored values current, declaring properties on an existing
//! edge collection rewrites its adjacency in one transaction, `cairn check` compares the
//! stored values with a rebuild, and a restore replaying a declaration stays consistent.

mod common;

use cairn_doc::{DocId, Patch};
use cairn_engine::backup::{restore, RestoreTarget};
use cairn_engine::{Database, StorageMode};
use cairn_graph::{
    create_edge_collection, declare_edge_properties, shortest_path_explained, stored_properties,
    traverse_explained, verify_edges, Direction, EdgeOptions, GraphError, OnVertexDelete,
    Traversal, VertexRef, Walk, EDGE_EXTENSION, OUT_TABLE,
};
use common::{config, doc, memory_db, names};

/// Vertices `p/1..=6`; the same edges in `plain` (nothing stored) and `stored` (`w`,
/// `active` stored): a chain 1→2→3→4 of weight 1 (active) and a shortcut 1→4 of weight 10
/// (inactive), 4→5 inactive weight 1, 5→6 active.
fn graph(db: &Database) {
    db.create_collection("p").unwrap();
    for id in 1..=6 {
        db.insert("p", doc(&format!(r#"{{"_id": {id}}}"#))).unwrap();
    }
    for (name, properties) in [("plain", vec![]), ("stored", names(&["w", "active"]))] {
        let options = EdgeOptions {
            on_vertex_delete: OnVertexDelete::None,
            vertex_collections: vec![],
            properties,
        };
        create_edge_collection(db, name, &options).unwrap();
        for (from, to, w, active) in [
            (1, 2, 1, true),
            (2, 3, 1, true),
            (3, 4, 1, true),
            (1, 4, 10, false),
            (4, 5, 1, false),
            (5, 6, 1, true),
        ] {
            let edge = format!(
                r#"{{"_from": "p/{from}", "_to": "p/{to}", "w": {w}, "active": {active}, "note": "n"}}"#
            );
            db.insert(name, doc(&edge)).unwrap();
        }
    }
}

fn active(doc: &cairn_doc::Value) -> bool {
    doc.as_object().and_then(|o| o.get("active")) == Some(&cairn_doc::Value::Bool(true))
}

/// The vertices reached from p/1 over `edges` following active edges only, and the explain.
fn reach_active(db: &Database, edges: &str) -> (Vec<String>, cairn_graph::GraphExplain) {
    let colls = names(&[edges]);
    let fields = names(&["active"]);
    let mut walk = Walk::new(&colls, Direction::Out);
    walk.edge_filter = Some(&active);
    walk.edge_filter_fields = Some(&fields);
    let spec = Traversal::new(walk, 5);
    let (visits, explain) =
        traverse_explained(&mut db.read().unwrap(), &[VertexRef::new("p", 1)], &spec).unwrap();
    let reached = visits.iter().map(|v| v.vertex.to_text()).collect();
    (reached, explain)
}

fn weighted(db: &Database, edges: &str) -> (f64, cairn_graph::GraphExplain) {
    let colls = names(&[edges]);
    let walk = Walk::new(&colls, Direction::Out);
    let (path, explain) = shortest_path_explained(
        &mut db.read().unwrap(),
        &VertexRef::new("p", 1),
        &VertexRef::new("p", 4),
        &walk,
        Some("w"),
    )
    .unwrap();
    (path.map_or(-1.0, |p| p.weight), explain)
}

#[test]
fn filters_and_weights_on_stored_properties_read_no_edge_document() {
    let db = memory_db();
    graph(&db);
    let (plain, plain_explain) = reach_active(&db, "plain");
    let (stored, stored_explain) = reach_active(&db, "stored");
    assert_eq!(plain, ["p/2", "p/3", "p/4"]);
    assert_eq!(stored, plain);
    assert!(plain_explain.counts.edge_documents_read > 0);
    assert_eq!(
        stored_explain.counts.edge_documents_read, 0,
        "{stored_explain:?}"
    );
    assert_eq!(
        stored_explain.counts.stored_property_reads,
        plain_explain.counts.edge_documents_read
    );
    assert!(
        stored_explain
            .plan
            .contains("edge filter on stored properties"),
        "{}",
        stored_explain.plan
    );
    assert!(
        plain_explain
            .plan
            .contains("edge filter reads edge documents"),
        "{}",
        plain_explain.plan
    );

    let (plain_w, plain_explain) = weighted(&db, "plain");
    let (stored_w, stored_explain) = weighted(&db, "stored");
    assert_eq!((plain_w, stored_w), (3.0, 3.0));
    assert!(plain_explain.counts.edge_documents_read > 0);
    assert_eq!(stored_explain.counts.edge_documents_read, 0);
    assert!(
        stored_explain
            .plan
            .contains("weight `w` stored in the adjacency"),
        "{}",
        stored_explain.plan
    );
    let value = stored_explain.to_value();
    assert!(
        value.to_json_string().contains("\"adjacency_edges\""),
        "{value:?}"
    );
}

#[test]
fn writes_keep_stored_values_current_and_check_compares_them() {
    let db = memory_db();
    graph(&db);
    // Make the shortcut cheap and active: both answers move, stored and read alike.
    let shortcut = {
        let mut txn = db.read().unwrap();
        let found = cairn_graph::neighbours(
            &mut txn,
            &VertexRef::new("p", 1),
            Direction::Out,
            &names(&["stored"]),
            None,
        )
        .unwrap();
        found
            .into_iter()
            .find(|n| n.vertex == VertexRef::new("p", 4))
            .unwrap()
            .edge
            .id
    };
    let patch = Patch::from_json_str(r#"{"$set": {"w": 2, "active": true}}"#).unwrap();
    db.update("stored", &shortcut, &patch).unwrap();
    assert_eq!(weighted(&db, "stored").0, 2.0);
    let (reached, _) = reach_active(&db, "stored");
    assert_eq!(reached, ["p/2", "p/4", "p/3"]);
    // An unstored property changes no entry; removing a stored one is seen as missing.
    let patch =
        Patch::from_json_str(r#"{"$set": {"note": "changed"}, "$unset": {"w": true}}"#).unwrap();
    db.update("stored", &shortcut, &patch).unwrap();
    let colls = names(&["stored"]);
    let err = cairn_graph::shortest_path(
        &mut db.read().unwrap(),
        &VertexRef::new("p", 1),
        &VertexRef::new("p", 4),
        &Walk::new(&colls, Direction::Out),
        Some("w"),
    )
    .unwrap_err();
    assert!(matches!(err, GraphError::InvalidWeight { .. }), "{err:?}");
    let mut txn = db.read().unwrap();
    for name in ["plain", "stored"] {
        let report = verify_edges(&mut txn, name).unwrap();
        assert_eq!(report.problem_count, 0, "{name}: {:?}", report.problems);
    }
    drop(txn);

    // A stale stored value (written behind the index's back) is a problem `check` reports.
    let mut txn = db.begin().unwrap();
    let mut first = None;
    txn.extension_range(
        "stored",
        EDGE_EXTENSION,
        OUT_TABLE,
        std::ops::Bound::Unbounded,
        std::ops::Bound::Unbounded,
        |key, value| {
            first = Some((key.to_vec(), value.to_vec()));
            Ok::<_, cairn_engine::EngineError>(false)
        },
    )
    .unwrap();
    let (key, mut value) = first.unwrap();
    let last = value.len() - 2;
    value[last] ^= 0x01;
    txn.extension_put("stored", EDGE_EXTENSION, OUT_TABLE, &key, &value)
        .unwrap();
    txn.commit().unwrap();
    let report = verify_edges(&mut db.read().unwrap(), "stored").unwrap();
    assert_eq!(report.problem_count, 1, "{:?}", report.problems);
}

#[test]
fn declaring_properties_later_rewrites_the_adjacency_in_one_transaction() {
    let db = memory_db();
    graph(&db);
    assert_eq!(
        stored_properties(&mut db.read().unwrap(), "plain").unwrap(),
        Some(vec![])
    );
    declare_edge_properties(&db, "plain", &names(&["w", "active"])).unwrap();
    assert_eq!(
        stored_properties(&mut db.read().unwrap(), "plain").unwrap(),
        Some(names(&["w", "active"]))
    );
    let (reached, explain) = reach_active(&db, "plain");
    assert_eq!(reached, ["p/2", "p/3", "p/4"]);
    assert_eq!(explain.counts.edge_documents_read, 0);
    assert_eq!(weighted(&db, "plain").0, weighted(&db, "stored").0);
    let report = verify_edges(&mut db.read().unwrap(), "plain").unwrap();
    assert_eq!(report.problem_count, 0, "{:?}", report.problems);
    // And back: nothing stored, the documents are read again.
    declare_edge_properties(&db, "plain", &[]).unwrap();
    let (_, explain) = reach_active(&db, "plain");
    assert!(explain.counts.edge_documents_read > 0);
    let report = verify_edges(&mut db.read().unwrap(), "plain").unwrap();
    assert_eq!(report.problem_count, 0, "{:?}", report.problems);
    for bad in [names(&["a.b"]), names(&["_to"])] {
        assert!(matches!(
            declare_edge_properties(&db, "plain", &bad),
            Err(GraphError::InvalidProperty { .. })
        ));
    }
    assert!(matches!(
        declare_edge_properties(&db, "p", &names(&["w"])),
        Err(GraphError::NotEdgeCollection { .. })
    ));
}

#[test]
fn a_restore_replaying_a_declaration_stays_consistent() {
    let work = tempfile::tempdir().unwrap();
    let (source, backups, restored) = (
        work.path().join("db"),
        work.path().join("backups"),
        work.path().join("restored"),
    );
    let db = Database::open(config(&source, StorageMode::Persistent)).unwrap();
    db.create_collection("seed").unwrap();
    db.backup(&backups, false, &mut |_, _| {}).unwrap();
    graph(&db);
    declare_edge_properties(&db, "plain", &names(&["w", "active"])).unwrap();
    db.insert(
        "plain",
        doc(r#"{"_from": "p/6", "_to": "p/1", "w": 4, "active": true}"#),
    )
    .unwrap();
    db.backup(&backups, true, &mut |_, _| {}).unwrap();
    let expected = (reach_active(&db, "plain").0, weighted(&db, "plain").0);
    drop(db);
    restore(
        &backups,
        &restored,
        RestoreTarget::Latest,
        None,
        &cairn_graph::extension_kinds(),
        &mut |_, _| {},
    )
    .unwrap();
    let db = Database::open(config(&restored, StorageMode::Persistent)).unwrap();
    assert_eq!(
        (reach_active(&db, "plain").0, weighted(&db, "plain").0),
        expected
    );
    for name in ["plain", "stored"] {
        let report = verify_edges(&mut db.read().unwrap(), name).unwrap();
        assert_eq!(report.problem_count, 0, "{name}: {:?}", report.problems);
    }
    assert!(db.get("p", &DocId::Int(1)).unwrap().is_some());
}
