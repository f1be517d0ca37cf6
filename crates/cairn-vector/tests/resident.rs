//! Resident images change costs, never answers: searches over an image return exactly what
//! the same searches over the tables return (same nodes, same order, same distances), with and
//! without filters; a write makes a new content, which is searched on the tables again until
//! it is loaded; a transaction with its own writes never uses an image.

mod support;

use cairn_vector::{create_vector_index, make_resident, search, Metric, VectorSpec};
use support::{dataset, doc, open_memory, SMALL};

const DIMS: usize = 8;

#[test]
fn an_image_answers_exactly_as_the_tables_and_a_write_retires_it() {
    let db = open_memory();
    db.create_collection("c").unwrap();
    let vectors = dataset(3, 500, DIMS, Metric::L2);
    for (i, v) in vectors.iter().enumerate() {
        db.insert("c", doc(i as i64, v)).unwrap();
    }
    // Delete some, so the graph holds repaired lists (and possibly dangling links).
    for i in (0..500).step_by(7) {
        db.delete("c", &cairn_doc::DocId::Int(i)).unwrap();
    }
    let spec = VectorSpec::with_params("v", "emb", DIMS, Metric::L2, SMALL).unwrap();
    create_vector_index(&db, "c", &spec, &mut |_| {}).unwrap();
    let queries = dataset(77, 20, DIMS, Metric::L2);
    let odd = |key: &[u8]| key.last().is_some_and(|b| b % 2 == 1);
    let run = |filtered: bool| {
        queries
            .iter()
            .map(|q| {
                let mut txn = db.read().unwrap();
                let filter: Option<cairn_vector::KeyFilter<'_>> = filtered.then_some(&odd);
                search(&mut txn, "c", "v", q, 10, Some(30), filter).unwrap()
            })
            .collect::<Vec<_>>()
    };
    // Before: at most a few searches per content, so nothing is loaded yet.
    let tables_plain = run(false);
    let tables_filtered = run(true);
    assert!(make_resident(&db, "c", "v").unwrap());
    let image_plain = run(false);
    let image_filtered = run(true);
    for (tables, image) in [
        (&tables_plain, &image_plain),
        (&tables_filtered, &image_filtered),
    ] {
        for (t, i) in tables.iter().zip(image.iter()) {
            assert_eq!(t.hits, i.hits);
            assert!(i.stats.resident);
        }
    }
    // A write: the next snapshot names a new content, searched on the tables.
    db.insert("c", doc(10_000, &queries[0])).unwrap();
    let mut txn = db.read().unwrap();
    let after = search(&mut txn, "c", "v", &queries[0], 1, None, None).unwrap();
    assert!(!after.stats.resident);
    assert_eq!(after.hits[0].id, cairn_doc::DocId::Int(10_000));
    // A transaction with its own writes reads the tables (and sees its write).
    assert!(make_resident(&db, "c", "v").unwrap());
    let mut txn = db.begin().unwrap();
    txn.insert("c", doc(10_001, &queries[1])).unwrap();
    let own = search(&mut txn, "c", "v", &queries[1], 1, None, None).unwrap();
    assert!(!own.stats.resident);
    assert_eq!(own.hits[0].id, cairn_doc::DocId::Int(10_001));
}
