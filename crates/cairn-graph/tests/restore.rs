//! An incremental restore replays edge collections whole: the edge extension (and its mode in
//! `meta`, written by `backfilled` on the replayed attach), the vertex-side registrations, and
//! every edge through the write hook, so the restored adjacency equals the source's and
//! referential behaviour still holds.

mod common;

use cairn_doc::DocId;
use cairn_engine::backup::{restore, RestoreTarget};
use cairn_engine::{Database, StorageMode};
use cairn_graph::{
    create_edge_collection, neighbours, verify_edges, Direction, EdgeOptions, OnVertexDelete,
    VertexRef,
};
use common::{config, doc, names};

fn out(db: &Database, vertex: &VertexRef) -> Vec<String> {
    let mut txn = db.read().unwrap();
    neighbours(&mut txn, vertex, Direction::Any, &names(&["e"]), None)
        .unwrap()
        .into_iter()
        .map(|n| n.vertex.to_text())
        .collect()
}

#[test]
fn an_incremental_restore_rebuilds_edges_registrations_and_modes() {
    let work = tempfile::tempdir().unwrap();
    let (source, backups, restored) = (
        work.path().join("db"),
        work.path().join("backups"),
        work.path().join("restored"),
    );
    let db = Database::open(config(&source, StorageMode::Persistent)).unwrap();
    db.create_collection("p").unwrap();
    db.insert("p", doc(r#"{"_id": 1}"#)).unwrap();
    db.backup(&backups, false, &mut |_, _| {}).unwrap();
    let options = EdgeOptions {
        on_vertex_delete: OnVertexDelete::Cascade,
        vertex_collections: vec!["p".into()],
        properties: vec![],
    };
    create_edge_collection(&db, "e", &options).unwrap();
    for id in 2..=4 {
        db.insert("p", doc(&format!(r#"{{"_id": {id}}}"#))).unwrap();
    }
    for (from, to) in [(1, 2), (2, 3), (3, 4), (4, 1)] {
        db.insert(
            "e",
            doc(&format!(r#"{{"_from": "p/{from}", "_to": "p/{to}"}}"#)),
        )
        .unwrap();
    }
    db.delete("p", &DocId::Int(4)).unwrap();
    db.backup(&backups, true, &mut |_, _| {}).unwrap();
    let expected = out(&db, &VertexRef::new("p", 3));
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
    assert_eq!(out(&db, &VertexRef::new("p", 3)), expected);
    assert_eq!(expected, ["p/2"]);
    let mut txn = db.read().unwrap();
    assert!(verify_edges(&mut txn, "e")
        .unwrap()
        .is_clean(OnVertexDelete::Cascade));
    drop(txn);
    db.delete("p", &DocId::Int(2)).unwrap();
    assert!(
        out(&db, &VertexRef::new("p", 3)).is_empty(),
        "cascade still on"
    );
    assert!(db
        .insert("e", doc(r#"{"_from": "p/1", "_to": "p/9"}"#))
        .is_err());
}
