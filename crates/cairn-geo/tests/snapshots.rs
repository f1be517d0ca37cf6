//! The bucket cache never serves a snapshot anything but its own entries: random write
//! batches interleaved with searches; a snapshot opened before a write and searched after it
//! (and after a newer snapshot refilled the cache) answers as of its snapshot, a fresh one
//! sees the write, a read-write transaction (which reads without the cache) agrees, and after
//! a reopen the stored stamp still names exactly the stored entries.

mod support;

use support::{doc, open};

use std::collections::BTreeMap;

use cairn_doc::{DocId, Geometry};
use cairn_engine::{Database, Transaction};
use cairn_geo::index::encode_primitive;
use cairn_geo::index::{create_spatial_index, spatial_indexes, SpatialSpec, Visit};
use cairn_geo::Aabb;
use cairn_geo::{part, part_count};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Put(i64, Geometry),
    Delete(i64),
}

#[derive(Debug, Clone)]
enum Search {
    Box(Aabb),
    Near([f64; 3], f64),
}

fn coord() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => (-40i32..40).prop_map(f64::from),
        1 => -40.0f64..40.0,
    ]
}

fn point() -> impl Strategy<Value = [f64; 3]> {
    [coord(), coord(), coord()]
}

/// Points, small and large triangles, icosahedra, boxes, and shapes far out (the overflow
/// level) or tiny (fine levels).
fn shape() -> BoxedStrategy<Geometry> {
    prop_oneof![
        point().prop_map(Geometry::Point),
        (point(), 0.01f64..30.0)
            .prop_map(|(c, r)| cairn_geo::icosahedron(c, r).expect("icosahedron")),
        (point(), 0.5f64..20.0).prop_map(|(a, s)| {
            Geometry::Triangle([a, [a[0] + s, a[1], a[2]], [a[0], a[1] + s, a[2] + 1.0]])
        }),
        (point(), [0.0f64..15.0, 0.0f64..15.0, 0.0f64..15.0]).prop_map(|(min, size)| {
            Geometry::Box {
                min,
                max: [min[0] + size[0], min[1] + size[1], min[2] + size[2]],
            }
        }),
        point().prop_map(|p| Geometry::Point([p[0] * 1e60, p[1], p[2]])),
        point().prop_map(|p| Geometry::Point([p[0] * 1e-9, p[1] * 1e-9, p[2] * 1e-9])),
    ]
    .boxed()
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0i64..16, shape()).prop_map(|(id, g)| Op::Put(id, g)),
        1 => (0i64..16).prop_map(Op::Delete),
    ]
}

fn search() -> impl Strategy<Value = Search> {
    prop_oneof![
        (point(), [0.0f64..60.0, 0.0f64..60.0, 0.0f64..60.0]).prop_map(|(min, size)| {
            Search::Box(Aabb {
                min,
                max: [min[0] + size[0], min[1] + size[1], min[2] + size[2]],
            })
        }),
        (point(), 0.0f64..40.0).prop_map(|(p, r)| Search::Near(p, r)),
        Just(Search::Box(Aabb {
            min: [-1e300, -1e300, -1e300],
            max: [1e300, 1e300, 1e300],
        })),
    ]
}

type Model = BTreeMap<i64, Geometry>;
/// What a search hands on: (document key, the part's stored bytes), sorted.
type Found = Vec<(Vec<u8>, Vec<u8>)>;

/// The parts a search must hand on, by brute force over the model: those whose bounding box
/// overlaps the query box (and, for a distance search, lies within the distance of the point
/// by the same squared test the index applies).
fn expected(model: &Model, search: &Search) -> Found {
    let mut out = Vec::new();
    for (&id, g) in model {
        for i in 0..part_count(g) {
            let p = part(g, i).expect("part");
            let b = p.bbox();
            let keep = match search {
                Search::Box(q) => b.overlaps(q),
                Search::Near(c, r) => {
                    let around = Aabb::of_point(*c);
                    b.overlaps(&around.expanded(*r))
                        && b.distance_squared(&around) * (1.0 - 2e-9) <= r * r
                }
            };
            if keep {
                out.push((DocId::Int(id).to_key().expect("key"), encode_primitive(&p)));
            }
        }
    }
    out.sort();
    out
}

fn found(txn: &mut Transaction, search: &Search) -> Found {
    let handle = spatial_indexes(txn, "s").expect("indexes").remove(0);
    let mut out = Vec::new();
    let mut visit = |key: &[u8], p: &cairn_geo::Primitive| {
        out.push((key.to_vec(), encode_primitive(p)));
        Ok(Visit::Next)
    };
    match search {
        Search::Box(q) => handle.search(txn, "s", q, &mut visit),
        Search::Near(c, r) => handle.search_near(txn, "s", &Aabb::of_point(*c), *r, &mut visit),
    }
    .expect("search");
    out.sort();
    out
}

fn check(txn: &mut Transaction, model: &Model, searches: &[Search]) -> Result<(), TestCaseError> {
    for s in searches {
        prop_assert_eq!(found(txn, s), expected(model, s), "search {:?}", s);
    }
    Ok(())
}

fn apply(db: &Database, batch: &[Op], model: &mut Model) {
    db.transaction(|txn| {
        for op in batch {
            match op {
                Op::Put(id, g) => {
                    txn.upsert("s", doc(*id, g))?;
                }
                Op::Delete(id) => {
                    txn.delete("s", &DocId::Int(*id))?;
                }
            }
        }
        Ok(())
    })
    .expect("batch");
    for op in batch {
        match op {
            Op::Put(id, g) => {
                model.insert(*id, g.clone());
            }
            Op::Delete(id) => {
                model.remove(id);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn every_snapshot_answers_as_of_itself_through_the_cache(
        first in proptest::collection::vec(op(), 0..6),
        batches in proptest::collection::vec(proptest::collection::vec(op(), 1..5), 1..5),
        searches in proptest::collection::vec(search(), 1..4),
    ) {
        let dir = tempfile::tempdir().expect("dir");
        let db = open(dir.path());
        db.create_collection("s").expect("create");
        let mut model = Model::new();
        // Documents written before the index exist: the online build writes their entries.
        apply(&db, &first, &mut model);
        create_spatial_index(&db, "s", &SpatialSpec::new("where", "shape").expect("spec"))
            .expect("index");
        for batch in &batches {
            let mut old = db.read().expect("read");
            prop_assert!(!old.records_reads());
            let old_model = model.clone();
            check(&mut old, &old_model, &searches)?;
            apply(&db, batch, &mut model);
            // A fresh snapshot sees the write (and fills the cache for the new content: a
            // bucket is decoded on its second use, so twice)...
            let mut fresh = db.read().expect("read");
            check(&mut fresh, &model, &searches)?;
            check(&mut fresh, &model, &searches)?;
            // ...the old one still answers as of its own snapshot...
            check(&mut old, &old_model, &searches)?;
            // ...and a read-write transaction, which never uses the cache, agrees.
            let mut txn = db.begin().expect("begin");
            prop_assert!(txn.records_reads());
            check(&mut txn, &model, &searches)?;
        }
        drop(db);
        // Reopened (this process's cache still holds buckets of the last content): the stored
        // stamp names exactly the stored entries.
        let db = open(dir.path());
        check(&mut db.read().expect("read"), &model, &searches)?;
        check(&mut db.begin().expect("begin"), &model, &searches)?;
    }
}

/// Writes inside a transaction are seen by its own searches (the guided scan overlays them),
/// never by the cache: a snapshot taken meanwhile answers without them.
#[test]
fn a_transactions_own_writes_bypass_the_cache() {
    let dir = tempfile::tempdir().expect("dir");
    let db = open(dir.path());
    db.create_collection("s").expect("create");
    create_spatial_index(&db, "s", &SpatialSpec::new("where", "shape").expect("spec"))
        .expect("index");
    let mut model = Model::new();
    apply(
        &db,
        &[Op::Put(1, Geometry::Point([1.0, 1.0, 1.0]))],
        &mut model,
    );
    let everything = [Search::Box(Aabb {
        min: [-10.0; 3],
        max: [10.0; 3],
    })];
    let mut txn = db.begin().expect("begin");
    txn.upsert("s", doc(2, &Geometry::Point([2.0, 2.0, 2.0])))
        .expect("upsert");
    let mut pending = model.clone();
    pending.insert(2, Geometry::Point([2.0, 2.0, 2.0]));
    assert_eq!(
        found(&mut txn, &everything[0]),
        expected(&pending, &everything[0])
    );
    assert_eq!(
        found(&mut db.read().expect("read"), &everything[0]),
        expected(&model, &everything[0])
    );
    txn.commit().expect("commit");
    assert_eq!(
        found(&mut db.read().expect("read"), &everything[0]),
        expected(&pending, &everything[0])
    );
}
