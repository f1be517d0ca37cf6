//! Packed runs (layout 2): random inserts, updates, deletes and range scans — inside
//! transactions, so scans also merge pending writes with stored runs — against a `BTreeMap`
//! model. Document sizes range from tiny to larger than a run, so runs split and merge all the
//! time; after each transaction the whole collection, its count and `check` are compared,
//! and the database is reopened now and then.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;

use cairn_doc::{DocId, Value};
use cairn_engine::{check_database, Config, Database, EngineError, StorageMode, Transaction};
use proptest::prelude::*;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const COLL: &str = "c";

#[derive(Debug, Clone)]
enum Op {
    /// Insert or replace document `id` with a padding of `pad` bytes.
    Put {
        id: i64,
        pad: usize,
    },
    Delete {
        id: i64,
    },
    /// Delete `count` documents from `from` on (empties whole runs: merges).
    DeleteFrom {
        from: i64,
        count: i64,
    },
    Get {
        id: i64,
    },
    Scan {
        lo: i64,
        hi: i64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0i64..400, prop_oneof![0usize..200, 0usize..3_000, 6_000usize..12_000])
            .prop_map(|(id, pad)| Op::Put { id, pad }),
        2 => (0i64..400).prop_map(|id| Op::Delete { id }),
        1 => (0i64..400, 1i64..80).prop_map(|(from, count)| Op::DeleteFrom { from, count }),
        2 => (0i64..400).prop_map(|id| Op::Get { id }),
        2 => (0i64..400, 0i64..400).prop_map(|(lo, hi)| Op::Scan { lo, hi }),
    ]
}

#[derive(Debug, Clone)]
enum Step {
    Txn { ops: Vec<Op>, commit: bool },
    Reopen,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        12 => (prop::collection::vec(op(), 1..40), prop::bool::weighted(0.9))
            .prop_map(|(ops, commit)| Step::Txn { ops, commit }),
        1 => Just(Step::Reopen),
    ]
}

fn doc(id: i64, pad: usize) -> Value {
    // Varied bytes (not one repeated character), so compressed runs differ in size too.
    let pad: String = (0..pad)
        .map(|i| char::from(b'a' + ((i as i64 * 7 + id) % 26) as u8))
        .collect();
    let mut obj = cairn_doc::Object::new();
    obj.insert("_id", Value::Int(id));
    obj.insert("pad", Value::String(pad));
    Value::Object(obj)
}

fn key(id: i64) -> Result<Vec<u8>, EngineError> {
    let mut out = Vec::new();
    DocId::Int(id).encode_key(&mut out)?;
    Ok(out)
}

fn config(dir: &Path) -> Config {
    let mut config = Config::new(dir, StorageMode::Persistent);
    config.packed_runs = true;
    config
}

fn scan(txn: &mut Transaction, lo: i64, hi: i64) -> Result<Vec<(i64, Value)>, EngineError> {
    let (lo_key, hi_key) = (key(lo)?, key(hi)?);
    let mut out = Vec::new();
    txn.scan_documents::<EngineError>(
        COLL,
        Bound::Included(&lo_key[..]),
        Bound::Excluded(&hi_key[..]),
        |_, doc| {
            let id = doc
                .as_object()
                .and_then(|o| o.get("_id"))
                .and_then(Value::as_i64)
                .unwrap_or(-1);
            out.push((id, doc));
            Ok(true)
        },
    )?;
    Ok(out)
}

fn apply(txn: &mut Transaction, model: &mut BTreeMap<i64, Value>, op: &Op) -> TestResult {
    match op {
        Op::Put { id, pad } => {
            let doc = doc(*id, *pad);
            if model.contains_key(id) {
                txn.replace(COLL, &DocId::Int(*id), doc.clone())?;
            } else {
                txn.insert(COLL, doc.clone())?;
            }
            model.insert(*id, doc);
        }
        Op::Delete { id } => {
            let deleted = txn.delete(COLL, &DocId::Int(*id))?;
            assert_eq!(deleted, model.remove(id).is_some());
        }
        Op::DeleteFrom { from, count } => {
            let ids: Vec<i64> = model
                .range(*from..)
                .take(*count as usize)
                .map(|(k, _)| *k)
                .collect();
            for id in ids {
                assert!(txn.delete(COLL, &DocId::Int(id))?);
                model.remove(&id);
            }
        }
        Op::Get { id } => {
            assert_eq!(txn.get(COLL, &DocId::Int(*id))?, model.get(id).cloned());
        }
        Op::Scan { lo, hi } => {
            let want: Vec<(i64, Value)> = match lo < hi {
                true => model
                    .range(*lo..*hi)
                    .map(|(k, v)| (*k, v.clone()))
                    .collect(),
                false => Vec::new(),
            };
            assert_eq!(scan(txn, *lo, *hi)?, want);
        }
    }
    Ok(())
}

fn assert_state(db: &Database, model: &BTreeMap<i64, Value>) -> TestResult {
    let mut txn = db.begin()?;
    assert_eq!(
        scan(&mut txn, i64::MIN, i64::MAX)?,
        model
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect::<Vec<_>>()
    );
    assert_eq!(txn.document_count(COLL)?, model.len() as u64);
    drop(txn);
    for (id, doc) in model.iter().step_by(7) {
        assert_eq!(db.get(COLL, &DocId::Int(*id))?.as_ref(), Some(doc));
    }
    Ok(())
}

/// `cairn check` of the closed database.
fn assert_checks_clean(dir: &Path, model: &BTreeMap<i64, Value>) -> TestResult {
    let report = check_database(&config(dir))?;
    assert!(report.is_clean(), "{:?}", report.findings);
    assert_eq!(report.documents, model.len() as u64);
    Ok(())
}

fn run(steps: &[Step]) -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut db = Database::open(config(dir.path()))?;
    db.create_collection(COLL)?;
    let mut model = BTreeMap::new();
    for step in steps {
        match step {
            Step::Txn { ops, commit } => {
                let mut txn = db.begin()?;
                let mut after = model.clone();
                for op in ops {
                    apply(&mut txn, &mut after, op)?;
                }
                if *commit {
                    txn.commit()?;
                    model = after;
                } else {
                    txn.rollback();
                }
            }
            Step::Reopen => {
                drop(db);
                assert_checks_clean(dir.path(), &model)?;
                db = Database::open(config(dir.path()))?;
            }
        }
        assert_state(&db, &model)?;
    }
    drop(db);
    assert_checks_clean(dir.path(), &model)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn packed_runs_behave_like_a_map(steps in prop::collection::vec(step(), 1..12)) {
        let outcome = run(&steps);
        prop_assert!(outcome.is_ok(), "{:?}", outcome);
    }
}

#[test]
fn a_database_keeps_the_layout_it_was_created_with() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut per_record = Config::new(dir.path(), StorageMode::Persistent);
    per_record.packed_runs = false;
    {
        let db = Database::open(per_record.clone())?;
        db.create_collection(COLL)?;
        for id in 0..50 {
            db.insert(COLL, doc(id, 100))?;
        }
    }
    // Asking for packed runs does not change an existing per-record database.
    let db = Database::open(config(dir.path()))?;
    db.insert(COLL, doc(50, 100))?;
    assert_eq!(db.stats()?.collections[0].documents, 51);
    assert_eq!(db.get(COLL, &DocId::Int(7))?, Some(doc(7, 100)));
    drop(db);
    let report = check_database(&per_record)?;
    assert!(report.is_clean(), "{:?}", report.findings);
    assert_eq!(report.documents, 51);
    Ok(())
}

#[test]
fn packed_runs_hold_many_records_per_entry() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = Database::open(config(dir.path()))?;
    db.create_collection(COLL)?;
    let mut txn = db.begin()?;
    for id in 0..2_000 {
        txn.insert(COLL, doc(id, 100))?;
    }
    txn.commit()?;
    let stats = db.stats()?;
    assert_eq!(stats.collections[0].documents, 2_000);
    let compression = db.compression_stats()?;
    assert_eq!(compression[0].documents, 2_000);
    // Compressed together, the runs store far fewer bytes than the records' plain bodies.
    assert!(
        compression[0].stored_bytes * 2 < compression[0].logical_bytes,
        "{compression:?}"
    );
    Ok(())
}
