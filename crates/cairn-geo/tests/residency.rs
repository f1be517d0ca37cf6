//! A content queried often becomes resident in memory by itself, answers as the pages do, and
//! its background load never keeps a dropped database open. One test per binary: resident
//! images are process-wide.

mod support;

use support::{doc, open};

use std::time::{Duration, Instant};

use cairn_doc::{DocId, Value};
use cairn_engine::Database;
use cairn_geo::index::{
    create_spatial_index, resident_bytes, spatial_indexes, SpatialSpec, Visit,
    RESIDENT_AFTER_SEARCHES,
};
use cairn_geo::Aabb;

/// The documents with a part in `query`, and whether the resident image answered.
fn search(db: &Database, query: &Aabb, in_txn: bool) -> (Vec<DocId>, bool) {
    let mut txn = if in_txn {
        db.begin().expect("begin")
    } else {
        db.read().expect("read")
    };
    let handle = spatial_indexes(&mut txn, "s").expect("indexes").remove(0);
    let mut docs = Vec::new();
    let stats = handle
        .search(&mut txn, "s", query, &mut |key, _| {
            docs.push(DocId::decode_key(key).expect("key"));
            Ok(Visit::Next)
        })
        .expect("search");
    docs.sort();
    docs.dedup();
    (docs, stats.resident > 0)
}

fn query(i: u32) -> Aabb {
    let x = f64::from(i % 40) * 25.0;
    Aabb {
        min: [x, -5.0, -5.0],
        max: [x + 30.0, 5.0, 5.0],
    }
}

#[test]
fn a_content_queried_often_becomes_resident_and_a_drop_mid_load_frees_the_folder() {
    let dir = tempfile::tempdir().expect("dir");
    let spec = SpatialSpec::new("where", "shape").expect("spec");
    let db = open(dir.path());
    db.create_collection("s").expect("create");
    let docs: Vec<Value> = (0..2_000)
        .map(|i| {
            let c = [f64::from(i % 200) * 5.0, f64::from(i / 200) * 3.0, 0.0];
            doc(i.into(), &cairn_geo::icosahedron(c, 1.0).expect("ico"))
        })
        .collect();
    for chunk in docs.chunks(500) {
        db.transaction(|txn| {
            for d in chunk {
                txn.insert("s", d.clone())?;
            }
            Ok(())
        })
        .expect("insert");
    }
    create_spatial_index(&db, "s", &spec).expect("index");

    // The first searches read the pages; then a background load makes the content resident.
    for i in 0..RESIDENT_AFTER_SEARCHES {
        let (_, resident) = search(&db, &query(i), false);
        assert!(!resident, "resident before the threshold (search {i})");
    }
    let started = Instant::now();
    while resident_bytes() == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never became resident"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    for i in 0..40 {
        let (from_image, resident) = search(&db, &query(i), false);
        assert!(resident, "search {i} did not use the resident image");
        // A read-write transaction records its reads, so it walks the pages.
        let (from_pages, paged) = search(&db, &query(i), true);
        assert!(!paged);
        assert_eq!(from_image, from_pages, "query {i}");
        assert!(!from_image.is_empty() || i % 40 >= 40);
    }

    // A write makes a new content: searches go back to the pages, and see the write.
    db.delete("s", &DocId::Int(0)).expect("delete");
    let (after, resident) = search(&db, &query(0), false);
    assert!(!resident);
    assert!(!after.contains(&DocId::Int(0)));

    // Trigger a load of the new content and drop the database at once: the folder re-opens.
    for i in 0..RESIDENT_AFTER_SEARCHES {
        search(&db, &query(i), false);
    }
    drop(db);
    let db = open(dir.path());
    let (reopened, _) = search(&db, &query(0), false);
    assert_eq!(reopened, after);
}
