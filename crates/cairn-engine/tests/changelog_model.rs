//! The change log against a naive reference: random inserts, updates, deletes, transactions
//! (committed, aborted, writing one key several times, with failing operations), collection
//! drops (reclaimed) and recreations, reopens, in both document layouts, under a small
//! retention that trims all the time.
//!
//! Every commit's records are first checked against what the step did; the reference keeps
//! them as a naive log that stores every document in full. After every later step — when the
//! documents they elide have been superseded, deleted, reclaimed or trimmed away — every record
//! still in the log must read back exactly as the reference holds it, and `cairn check` must
//! find nothing.

use std::collections::BTreeMap;

use cairn_doc::{DocId, Value};
use cairn_engine::{
    check_database, Change, ChangeOp, Config, Database, EngineError, StorageMode, Transaction,
};
use proptest::prelude::*;

const COLLECTIONS: [&str; 2] = ["a", "b"];
const IDS: i64 = 6;

#[derive(Debug, Clone)]
enum Op {
    /// Insert when absent, replace when present.
    Put {
        coll: usize,
        id: i64,
        v: i64,
    },
    Delete {
        coll: usize,
        id: i64,
    },
    /// Insert of an id that may exist: fails (leaving the transaction as it was) when it does.
    TryInsert {
        coll: usize,
        id: i64,
        v: i64,
    },
}

#[derive(Debug, Clone)]
enum Step {
    Txn { ops: Vec<Op>, commit: bool },
    DropAndRecreate { coll: usize },
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    let coll = 0..COLLECTIONS.len();
    let id = 0..IDS;
    prop_oneof![
        4 => (coll.clone(), id.clone(), 0i64..100).prop_map(|(coll, id, v)| Op::Put { coll, id, v }),
        2 => (coll.clone(), id.clone()).prop_map(|(coll, id)| Op::Delete { coll, id }),
        1 => (coll, id, 0i64..100).prop_map(|(coll, id, v)| Op::TryInsert { coll, id, v }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        12 => (prop::collection::vec(op(), 1..6), prop::bool::weighted(0.85))
            .prop_map(|(ops, commit)| Step::Txn { ops, commit }),
        1 => (0..COLLECTIONS.len()).prop_map(|coll| Step::DropAndRecreate { coll }),
        1 => Just(Step::Reopen),
    ]
}

fn doc(id: i64, v: i64) -> Value {
    // Long enough to be compressed, different per version.
    let text = format!("version {v} of document {id}, ").repeat(8);
    Value::from_json_str(&format!(r#"{{"_id": {id}, "v": {v}, "text": "{text}"}}"#))
        .unwrap_or(Value::Null)
}

/// What a change must say: op name, collection, id, new, old.
type Expected = (
    &'static str,
    String,
    Option<DocId>,
    Option<Value>,
    Option<Value>,
);

fn expected_of(change: &Change) -> Expected {
    (
        change.op.name(),
        change.collection.clone(),
        change.id.clone(),
        change.new.clone(),
        change.old.clone(),
    )
}

type State = BTreeMap<(usize, i64), Value>;

/// Runs one op on Cairn and on the state; returns the change it logs (`None` when it failed
/// or did nothing).
fn apply(
    txn: &mut Transaction,
    state: &mut State,
    op: &Op,
) -> Result<Option<Expected>, TestCaseError> {
    let (coll, id) = match op {
        Op::Put { coll, id, .. } | Op::Delete { coll, id } | Op::TryInsert { coll, id, .. } => {
            (*coll, *id)
        }
    };
    let name = COLLECTIONS[coll].to_string();
    let old = state.get(&(coll, id)).cloned();
    let doc_id = Some(DocId::Int(id));
    Ok(match op {
        Op::Put { v, .. } | Op::TryInsert { v, .. } => {
            let new = doc(id, *v);
            let outcome = match (op, &old) {
                (Op::TryInsert { .. }, Some(_)) => {
                    let refused = txn.insert(&name, new.clone());
                    let duplicate = matches!(refused, Err(EngineError::DuplicateId { .. }));
                    prop_assert!(duplicate, "{:?}", refused);
                    return Ok(None);
                }
                (_, Some(_)) => txn
                    .replace(&name, &DocId::Int(id), new.clone())
                    .map(|()| "update"),
                (_, None) => txn.insert(&name, new.clone()).map(|_| "insert"),
            };
            let op_name = outcome.map_err(|err| TestCaseError::fail(err.to_string()))?;
            state.insert((coll, id), new.clone());
            Some((op_name, name, doc_id, Some(new), old))
        }
        Op::Delete { .. } => {
            let deleted = txn
                .delete(&name, &DocId::Int(id))
                .map_err(|err| TestCaseError::fail(err.to_string()))?;
            prop_assert_eq!(deleted, old.is_some());
            state.remove(&(coll, id));
            old.map(|old| ("delete", name, doc_id, None, Some(old)))
        }
    })
}

/// Every record in the log, read in pages from the oldest one retention kept.
fn read_log(db: &Database) -> Result<Vec<Change>, TestCaseError> {
    let mut after = match db.changes_after(0, 1) {
        Ok(_) => 0,
        Err(EngineError::ChangeLogTrimmed {
            oldest_available, ..
        }) => oldest_available - 1,
        Err(err) => return Err(TestCaseError::fail(err.to_string())),
    };
    let mut all = Vec::new();
    loop {
        let page = db
            .changes_after(after, 7)
            .map_err(|err| TestCaseError::fail(err.to_string()))?;
        let Some(last) = page.last() else {
            return Ok(all);
        };
        after = last.seq;
        all.extend(page);
    }
}

fn open(dir: &std::path::Path, packed: bool) -> Database {
    let mut config = Config::new(dir, StorageMode::Persistent);
    config.changelog_retention = 23;
    config.packed_runs = packed;
    Database::open(config).expect("open")
}

fn run(steps: Vec<Step>, packed: bool) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut db = open(dir.path(), packed);
    for name in COLLECTIONS {
        db.create_collection(name).expect("create");
    }
    let mut state = State::new();
    // The naive log: (seq, index) → the change in full.
    let mut reference: BTreeMap<(u64, u32), Expected> = read_log(&db)?
        .iter()
        .map(|change| ((change.seq, change.index), expected_of(change)))
        .collect();
    prop_assert_eq!(reference.len(), COLLECTIONS.len());
    for step in steps {
        let before = db.last_seq();
        let mut want: Vec<Expected> = Vec::new();
        match step {
            Step::Txn { ops, commit } => {
                let mut txn = db.begin().expect("begin");
                let mut scratch = state.clone();
                for op in &ops {
                    want.extend(apply(&mut txn, &mut scratch, op)?);
                }
                if commit && !want.is_empty() {
                    txn.commit().expect("commit");
                    state = scratch;
                } else {
                    want.clear();
                }
            }
            Step::DropAndRecreate { coll } => {
                let name = COLLECTIONS[coll];
                db.drop_collection(name).expect("drop");
                db.create_collection(name).expect("create");
                state.retain(|(c, _), _| *c != coll);
                want.push(("drop_collection", name.to_string(), None, None, None));
                want.push(("create_collection", name.to_string(), None, None, None));
            }
            Step::Reopen => {
                drop(db);
                db = open(dir.path(), packed);
            }
        }
        // What this step committed, reclamation commits aside, is what it did.
        let mut committed = Vec::new();
        for change in read_log(&db)?.into_iter().filter(|c| c.seq > before) {
            if change.op != ChangeOp::ReclaimDropped {
                committed.push(((change.seq, change.index), expected_of(&change)));
            }
        }
        let got: Vec<_> = committed.iter().map(|(_, e)| e.clone()).collect();
        prop_assert_eq!(&got, &want);
        reference.extend(committed);
        // Every record still in the log reads back as the naive log holds it.
        let log = read_log(&db)?;
        prop_assert!(!log.is_empty());
        for change in &log {
            if change.op == ChangeOp::ReclaimDropped {
                continue;
            }
            let at = (change.seq, change.index);
            prop_assert_eq!(
                Some(&expected_of(change)),
                reference.get(&at),
                "record {:?}",
                at
            );
        }
    }
    drop(db);
    let mut config = Config::new(dir.path(), StorageMode::Persistent);
    config.packed_runs = packed;
    let report = check_database(&config).map_err(|err| TestCaseError::fail(err.to_string()))?;
    prop_assert!(report.is_clean(), "{:?}", report.findings);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn every_change_record_reads_back_as_a_full_payload_log_holds_it(
        steps in prop::collection::vec(step(), 1..30),
        packed in any::<bool>(),
    ) {
        run(steps, packed)?;
    }
}
