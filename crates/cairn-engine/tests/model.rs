//! Model-based property test: random sequences of inserts, updates, replaces, deletes, upserts,
//! compare-and-swaps, batches and transactions (some aborted midway, some failing midway) are
//! applied to Cairn and to a `BTreeMap` model; every read is compared, and the whole state is
//! compared after each step and after reopening the database from disk. Each collection is
//! created with or without routing entries (chosen per case): `locate` of every id is compared
//! with the model after each step, and `check_database` must be clean at the end.

use std::collections::BTreeMap;

use cairn_doc::{DocId, FieldPath, Patch, Value};
use cairn_engine::{
    check_database, BatchOp, CasOutcome, CollectionOptions, Config, Database, EngineError,
    StorageMode,
};
use proptest::prelude::*;

const COLLECTIONS: [&str; 2] = ["a", "b"];

type Model = BTreeMap<(usize, i64), Value>;

#[derive(Debug, Clone)]
enum Op {
    Insert {
        coll: usize,
        id: i64,
        v: i64,
    },
    Update {
        coll: usize,
        id: i64,
        inc: i64,
    },
    Replace {
        coll: usize,
        id: i64,
        v: i64,
    },
    Delete {
        coll: usize,
        id: i64,
    },
    Upsert {
        coll: usize,
        id: i64,
        v: i64,
    },
    Cas {
        coll: usize,
        id: i64,
        expect: i64,
        v: i64,
    },
    Get {
        coll: usize,
        id: i64,
    },
}

#[derive(Debug, Clone)]
enum Step {
    Single(Op),
    Batch(Vec<Op>),
    Txn { ops: Vec<Op>, commit: bool },
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    let coll = 0..COLLECTIONS.len();
    let id = 0i64..12;
    let v = -5i64..5;
    prop_oneof![
        (coll.clone(), id.clone(), v.clone()).prop_map(|(coll, id, v)| Op::Insert { coll, id, v }),
        (coll.clone(), id.clone(), v.clone()).prop_map(|(coll, id, inc)| Op::Update {
            coll,
            id,
            inc
        }),
        (coll.clone(), id.clone(), v.clone()).prop_map(|(coll, id, v)| Op::Replace { coll, id, v }),
        (coll.clone(), id.clone()).prop_map(|(coll, id)| Op::Delete { coll, id }),
        (coll.clone(), id.clone(), v.clone()).prop_map(|(coll, id, v)| Op::Upsert { coll, id, v }),
        (coll.clone(), id.clone(), v.clone(), v.clone()).prop_map(|(coll, id, expect, v)| {
            Op::Cas {
                coll,
                id,
                expect,
                v,
            }
        }),
        (coll, id).prop_map(|(coll, id)| Op::Get { coll, id }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => op().prop_map(Step::Single),
        2 => prop::collection::vec(op(), 1..6).prop_map(Step::Batch),
        2 => (prop::collection::vec(op(), 1..6), any::<bool>())
            .prop_map(|(ops, commit)| Step::Txn { ops, commit }),
        1 => Just(Step::Reopen),
    ]
}

fn doc(id: i64, v: i64) -> Value {
    Value::from_json_str(&format!(r#"{{"_id": {id}, "v": {v}, "s": "x{v}"}}"#)).expect("valid")
}

fn field_v(doc: &Value) -> Option<i64> {
    match doc.as_object()?.get("v")? {
        Value::Int(v) => Some(*v),
        _ => None,
    }
}

/// What an operation observably returned, in a form both sides produce.
#[derive(Debug, PartialEq)]
enum Outcome {
    Ok,
    Read(Option<Value>),
    Flag(bool),
}

/// Applies `op` to the model; `Err(())` means the operation fails (and must change nothing).
fn apply_model(model: &mut Model, op: &Op) -> Result<Outcome, ()> {
    match *op {
        Op::Insert { coll, id, v } => {
            if model.contains_key(&(coll, id)) {
                return Err(());
            }
            model.insert((coll, id), doc(id, v));
            Ok(Outcome::Ok)
        }
        Op::Update { coll, id, inc } => {
            let current = model.get(&(coll, id)).ok_or(())?;
            let v = field_v(current).ok_or(())?;
            model.insert((coll, id), doc_with_v_only(current, id, v + inc));
            Ok(Outcome::Read(model.get(&(coll, id)).cloned()))
        }
        Op::Replace { coll, id, v } => {
            model.get(&(coll, id)).ok_or(())?;
            model.insert((coll, id), doc(id, v));
            Ok(Outcome::Ok)
        }
        Op::Delete { coll, id } => Ok(Outcome::Flag(model.remove(&(coll, id)).is_some())),
        Op::Upsert { coll, id, v } => {
            model.insert((coll, id), doc(id, v));
            Ok(Outcome::Ok)
        }
        Op::Cas {
            coll,
            id,
            expect,
            v,
        } => match model.get(&(coll, id)) {
            None => Ok(Outcome::Flag(false)),
            Some(current) if field_v(current) == Some(expect) => {
                let new = doc_with_v_only(current, id, v);
                model.insert((coll, id), new);
                Ok(Outcome::Flag(true))
            }
            Some(_) => Ok(Outcome::Flag(false)),
        },
        Op::Get { coll, id } => Ok(Outcome::Read(model.get(&(coll, id)).cloned())),
    }
}

/// `current` with field `v` set, keeping `s` as it was (what `$set`/`$inc` on `v` do).
fn doc_with_v_only(current: &Value, id: i64, v: i64) -> Value {
    let s = match current.as_object().and_then(|o| o.get("s")) {
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    Value::from_json_str(&format!(r#"{{"_id": {id}, "v": {v}, "s": "{s}"}}"#)).expect("valid")
}

fn apply_cairn(txn: &mut cairn_engine::Transaction, op: &Op) -> Result<Outcome, EngineError> {
    match *op {
        Op::Insert { coll, id, v } => txn
            .insert(COLLECTIONS[coll], doc(id, v))
            .map(|_| Outcome::Ok),
        Op::Update { coll, id, inc } => {
            let patch =
                Patch::from_json_str(&format!(r#"{{"$inc": {{"v": {inc}}}}}"#)).expect("patch");
            txn.update(COLLECTIONS[coll], &DocId::Int(id), &patch)
                .map(|d| Outcome::Read(Some(d)))
        }
        Op::Replace { coll, id, v } => txn
            .replace(COLLECTIONS[coll], &DocId::Int(id), doc(id, v))
            .map(|_| Outcome::Ok),
        Op::Delete { coll, id } => txn
            .delete(COLLECTIONS[coll], &DocId::Int(id))
            .map(Outcome::Flag),
        Op::Upsert { coll, id, v } => txn
            .upsert(COLLECTIONS[coll], doc(id, v))
            .map(|_| Outcome::Ok),
        Op::Cas {
            coll,
            id,
            expect,
            v,
        } => {
            let expected = [(FieldPath::parse("v").expect("path"), Value::Int(expect))];
            let patch =
                Patch::from_json_str(&format!(r#"{{"$set": {{"v": {v}}}}}"#)).expect("patch");
            txn.compare_and_swap(COLLECTIONS[coll], &DocId::Int(id), &expected, &patch)
                .map(|outcome| Outcome::Flag(matches!(outcome, CasOutcome::Applied(_))))
        }
        Op::Get { coll, id } => txn
            .get(COLLECTIONS[coll], &DocId::Int(id))
            .map(Outcome::Read),
    }
}

fn to_batch_op(op: &Op) -> Option<BatchOp> {
    let name = |coll: usize| COLLECTIONS[coll].to_string();
    Some(match *op {
        Op::Insert { coll, id, v } => BatchOp::Insert {
            collection: name(coll),
            doc: doc(id, v),
        },
        Op::Update { coll, id, inc } => BatchOp::Update {
            collection: name(coll),
            id: DocId::Int(id),
            patch: Patch::from_json_str(&format!(r#"{{"$inc": {{"v": {inc}}}}}"#)).expect("patch"),
        },
        Op::Replace { coll, id, v } => BatchOp::Replace {
            collection: name(coll),
            id: DocId::Int(id),
            doc: doc(id, v),
        },
        Op::Delete { coll, id } => BatchOp::Delete {
            collection: name(coll),
            id: DocId::Int(id),
        },
        Op::Upsert { coll, id, v } => BatchOp::Upsert {
            collection: name(coll),
            doc: doc(id, v),
        },
        Op::Cas { .. } | Op::Get { .. } => return None,
    })
}

fn dump(db: &Database) -> Model {
    let mut state = Model::new();
    for (coll, name) in COLLECTIONS.iter().enumerate() {
        db.for_each(name, |id, doc| {
            if let DocId::Int(id) = id {
                state.insert((coll, *id), doc.clone());
            }
            true
        })
        .expect("scan");
    }
    state
}

fn open(dir: &std::path::Path) -> Database {
    Database::open(Config::new(dir, StorageMode::Persistent)).expect("open")
}

/// `locate` of every id the operations use against the model: the collections holding it,
/// and the unrouted collections named as searched by key.
fn check_locate(db: &Database, model: &Model, routing: [bool; 2]) -> Result<(), TestCaseError> {
    let unrouted: Vec<&str> = COLLECTIONS
        .iter()
        .zip(routing)
        .filter(|(_, routed)| !routed)
        .map(|(name, _)| *name)
        .collect();
    for id in 0..12 {
        let located = db.locate(&DocId::Int(id)).expect("locate");
        let holding: Vec<&str> = (0..COLLECTIONS.len())
            .filter(|coll| model.contains_key(&(*coll, id)))
            .map(|coll| COLLECTIONS[coll])
            .collect();
        prop_assert_eq!(&located.collections, &holding, "id {}", id);
        prop_assert_eq!(&located.searched_by_key, &unrouted);
    }
    Ok(())
}

fn run_steps(steps: Vec<Step>, routing: [bool; 2]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut db = open(dir.path());
    for (name, routed) in COLLECTIONS.iter().zip(routing) {
        let options = CollectionOptions::with_routing(routed);
        db.create_collection_with(name, &options).expect("create");
    }
    let mut model = Model::new();
    for step in steps {
        match step {
            Step::Single(op) => {
                let mut scratch = model.clone();
                let expected = apply_model(&mut scratch, &op);
                let mut txn = db.begin().expect("begin");
                let actual = apply_cairn(&mut txn, &op);
                match (expected, actual) {
                    (Ok(want), Ok(got)) => {
                        prop_assert_eq!(want, got, "op {:?}", op);
                        txn.commit().expect("commit");
                        model = scratch;
                    }
                    (Err(()), Err(err)) => prop_assert!(!err.is_retryable(), "{err}"),
                    (want, got) => prop_assert!(
                        false,
                        "op {:?}: model {:?}, cairn {:?}",
                        op,
                        want,
                        got.map_err(|e| e.to_string())
                    ),
                }
            }
            Step::Batch(ops) => {
                let batch: Vec<BatchOp> = ops.iter().filter_map(to_batch_op).collect();
                let mut scratch = model.clone();
                let expected: Result<Vec<_>, ()> = ops
                    .iter()
                    .filter(|op| to_batch_op(op).is_some())
                    .map(|op| apply_model(&mut scratch, op))
                    .collect();
                let actual = db.batch(&batch);
                prop_assert_eq!(expected.is_ok(), actual.is_ok(), "batch {:?}", ops);
                if expected.is_ok() {
                    model = scratch;
                }
            }
            Step::Txn { ops, commit } => {
                let mut scratch = model.clone();
                let mut txn = db.begin().expect("begin");
                for op in &ops {
                    // A failing operation leaves the transaction as it was; both sides skip it.
                    let mut attempt = scratch.clone();
                    let want = apply_model(&mut attempt, op);
                    let got = apply_cairn(&mut txn, op);
                    match (want, got) {
                        (Ok(want), Ok(got)) => {
                            prop_assert_eq!(want, got, "txn op {:?}", op);
                            scratch = attempt;
                        }
                        (Err(()), Err(_)) => {}
                        (want, got) => prop_assert!(
                            false,
                            "txn op {:?}: model {:?}, cairn {:?}",
                            op,
                            want,
                            got.map_err(|e| e.to_string())
                        ),
                    }
                }
                if commit {
                    txn.commit().expect("commit");
                    model = scratch;
                }
            }
            Step::Reopen => {
                drop(db);
                db = open(dir.path());
            }
        }
        prop_assert_eq!(&dump(&db), &model);
        // Point reads outside transactions go through the shared read view: check them too.
        for (coll, name) in COLLECTIONS.iter().enumerate() {
            for id in 0..12 {
                let got = db.get(name, &DocId::Int(id)).expect("get");
                prop_assert_eq!(got.as_ref(), model.get(&(coll, id)));
            }
        }
        check_locate(&db, &model, routing)?;
    }
    drop(db);
    // Routing entries exactly for the routed collections' documents (and everything else).
    let report = check_database(&Config::new(dir.path(), StorageMode::Persistent)).expect("check");
    prop_assert!(report.is_clean(), "{:?}", report.findings);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn cairn_matches_a_btreemap_model(
        steps in prop::collection::vec(step(), 1..40),
        routing in any::<[bool; 2]>(),
    ) {
        run_steps(steps, routing)?;
    }
}
