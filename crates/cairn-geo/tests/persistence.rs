//! The spatial index lives in the database: it is maintained with every commit, survives a
//! reopen without any rebuild, and a refused write leaves no entry behind.

mod support;

use support::{doc, open};

use std::sync::Arc;

use cairn_doc::{DocId, Geometry, Value};
use cairn_geo::index::{
    create_spatial_index, expected_entries, list_spatial_indexes, spatial_indexes, stored_entries,
    SpatialSpec, Visit,
};
use cairn_geo::Aabb;

#[test]
fn index_survives_reopen_and_answers_without_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let spec = SpatialSpec::new("where", "shape").unwrap();
    {
        let db = open(dir.path());
        db.create_collection("s").unwrap();
        create_spatial_index(&db, "s", &spec).unwrap();
        for i in 0..50 {
            let c = [f64::from(i) * 10.0, 0.0, 0.0];
            db.insert("s", doc(i.into(), &cairn_geo::icosahedron(c, 1.0).unwrap()))
                .unwrap();
        }
        db.delete("s", &DocId::Int(3)).unwrap();
    }
    let db = open(dir.path());
    let listed = list_spatial_indexes(&db, "s").unwrap();
    assert_eq!(listed[0].entries, 49 * 20);
    assert!(listed[0].ready);
    let mut txn = db.read().unwrap();
    let handle = spatial_indexes(&mut txn, "s").unwrap().remove(0);
    let mut docs = Vec::new();
    let query = Aabb {
        min: [25.0, -1.0, -1.0],
        max: [41.0, 1.0, 1.0],
    };
    let stats = handle
        .search(&mut txn, "s", &query, &mut |key, _| {
            docs.push(DocId::decode_key(key).unwrap());
            Ok(Visit::Next)
        })
        .unwrap();
    docs.sort();
    docs.dedup();
    // Shape 3 (at x = 30) was deleted; shape 2 spans x 19..21, shape 4 spans 39..41.
    assert_eq!(docs, vec![DocId::Int(4)]);
    // Only the triangles near the box were read, not all 980.
    assert!(stats.entries < 200, "{stats:?}");
    assert_eq!(
        stored_entries(&mut txn, "s", "where").unwrap(),
        expected_entries(&mut txn, "s", &spec).unwrap()
    );
}

#[test]
fn an_invalid_geometry_is_refused_with_its_defect_and_leaves_nothing() {
    let db = open(tempfile::tempdir().unwrap().path());
    db.create_collection("s").unwrap();
    create_spatial_index(&db, "s", &SpatialSpec::new("where", "shape").unwrap()).unwrap();
    let bad = Value::from_json_str(
        r#"{"shape": {"$geometry": {"type": "mesh", "vertices": [[0,0,0],[1,0,0],[0,1,0]], "triangles": [[0,1,5]]}}}"#,
    )
    .unwrap_err();
    assert!(
        bad.to_string().contains("triangle 0 uses vertex 5"),
        "{bad}"
    );
    let flat = doc(1, &Geometry::Triangle([[0.0; 3], [1.0; 3], [2.0; 3]]));
    let err = db.insert("s", flat).unwrap_err();
    assert!(err.to_string().contains("zero area"), "{err}");
    assert_eq!(list_spatial_indexes(&db, "s").unwrap()[0].entries, 0);
}

/// Writers packing entries into the same pages conflict and retry (a page is rewritten
/// whole); whatever interleaving wins, the pages end up holding exactly what a rebuild
/// from the committed documents would.
#[test]
fn concurrent_writers_sharing_pages_leave_the_index_equal_to_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(open(dir.path()));
    db.create_collection("s").unwrap();
    let spec = SpatialSpec::new("where", "shape").unwrap();
    create_spatial_index(&db, "s", &spec).unwrap();
    let threads: Vec<_> = (0..4i64)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                for i in 0..150i64 {
                    // Ids shared between threads, shapes in one small region: the same
                    // documents and the same pages, over and over.
                    let id = (i * 7 + t) % 40;
                    let c = ((i * 13 + t * 5) % 20) as f64;
                    db.transaction(|txn| {
                        if i % 5 == 4 {
                            txn.delete("s", &DocId::Int(id))?;
                        } else {
                            let shape = cairn_geo::icosahedron([c, c / 2.0, 1.0], 0.5 + t as f64)
                                .expect("a valid solid");
                            txn.upsert("s", doc(id, &shape))?;
                        }
                        Ok(())
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let mut txn = db.read().unwrap();
    let stored = stored_entries(&mut txn, "s", "where").unwrap();
    assert!(!stored.is_empty());
    assert_eq!(stored, expected_entries(&mut txn, "s", &spec).unwrap());
}
