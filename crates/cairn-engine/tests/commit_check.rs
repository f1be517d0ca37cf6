//! The commit-time hook: an extension that checks at commit sees each transaction's net
//! document changes once, and can reject the whole transaction.

use std::sync::Arc;

use cairn_doc::{DocId, Patch, Value};
use cairn_engine::{
    Config, Database, DocChange, EngineError, Extension, ExtensionKind, ExtensionTxn, StorageMode,
};
use parking_lot::Mutex;

/// One net change as (id, old `v`, new `v`).
type Seen = (DocId, Option<i64>, Option<i64>);

/// Records every `before_commit` call; refuses a transaction whose final state has `v < 0`.
struct Recorder {
    calls: Arc<Mutex<Vec<Vec<Seen>>>>,
}

fn field(doc: Option<&Value>) -> Option<i64> {
    doc?.as_object()?.get("v")?.as_i64()
}

impl Extension for Recorder {
    fn on_write(&self, _: &mut ExtensionTxn<'_>, _: &DocChange<'_>) -> cairn_engine::Result<()> {
        Ok(())
    }

    fn checks_at_commit(&self) -> bool {
        true
    }

    fn before_commit(
        &self,
        txn: &mut ExtensionTxn<'_>,
        changes: &[DocChange<'_>],
    ) -> cairn_engine::Result<()> {
        let seen: Vec<Seen> = changes
            .iter()
            .map(|c| (c.id.clone(), field(c.old), field(c.new)))
            .collect();
        self.calls.lock().push(seen.clone());
        // The hook's own writes commit with the transaction.
        txn.put("calls", b"last", &(seen.len() as u64).to_le_bytes())?;
        if seen.iter().any(|(_, _, new)| new.is_some_and(|v| v < 0)) {
            return Err(EngineError::ExtensionRejected {
                collection: txn.collection().to_string(),
                extension: txn.extension().to_string(),
                message: "negative".to_string(),
            });
        }
        Ok(())
    }
}

struct RecorderKind {
    calls: Arc<Mutex<Vec<Vec<Seen>>>>,
}

impl ExtensionKind for RecorderKind {
    fn kind(&self) -> &str {
        "recorder"
    }

    fn instantiate(&self, _: &str, _: &str, _: &Value) -> cairn_engine::Result<Arc<dyn Extension>> {
        Ok(Arc::new(Recorder {
            calls: self.calls.clone(),
        }))
    }
}

fn setup() -> (Database, Arc<Mutex<Vec<Vec<Seen>>>>) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let mut config = Config::new("", StorageMode::MemoryOnly);
    config.extension_kinds = vec![Arc::new(RecorderKind {
        calls: calls.clone(),
    })];
    let db = Database::open(config).unwrap();
    db.create_collection("c").unwrap();
    db.create_collection("other").unwrap();
    for n in [3, 4] {
        db.insert("c", json(&format!(r#"{{"_id": {n}, "v": {n}}}"#)))
            .unwrap();
    }
    db.attach_extension("c", "recorder", "rec", Value::Null)
        .unwrap();
    calls.lock().clear();
    (db, calls)
}

fn json(text: &str) -> Value {
    Value::from_json_str(text).unwrap()
}

fn set(v: i64) -> Patch {
    Patch::from_json_str(&format!(r#"{{"$set": {{"v": {v}}}}}"#)).unwrap()
}

#[test]
fn the_hook_sees_net_changes_once_and_never_intermediate_states() {
    let (db, calls) = setup();
    db.transaction(|txn| {
        txn.insert("c", json(r#"{"_id": 1, "v": 10}"#))?;
        txn.update("c", &DocId::Int(1), &set(11))?;
        txn.insert("c", json(r#"{"_id": 2, "v": 20}"#))?;
        txn.delete("c", &DocId::Int(2))?;
        txn.update("c", &DocId::Int(3), &set(-5))?;
        txn.update("c", &DocId::Int(3), &set(30))?;
        txn.delete("c", &DocId::Int(4))?;
        // A failed operation is undone and leaves nothing to check.
        assert!(txn.insert("c", json(r#"{"_id": 3, "v": -1}"#)).is_err());
        txn.insert("other", json(r#"{"_id": 9, "v": -9}"#))?;
        Ok(())
    })
    .unwrap();
    let calls = calls.lock().clone();
    assert_eq!(
        calls,
        vec![vec![
            (DocId::Int(1), None, Some(11)),
            (DocId::Int(3), Some(3), Some(30)),
            (DocId::Int(4), Some(4), None),
        ]]
    );
}

#[test]
fn a_refusal_at_commit_rejects_the_whole_transaction() {
    let (db, calls) = setup();
    let seq = db.last_seq();
    let err = db
        .transaction(|txn| {
            txn.insert("c", json(r#"{"_id": 1, "v": 1}"#))?;
            txn.insert("other", json(r#"{"_id": 1}"#))?;
            txn.update("c", &DocId::Int(3), &set(-1))
        })
        .unwrap_err();
    assert!(
        matches!(err, EngineError::ExtensionRejected { .. }),
        "{err:?}"
    );
    assert_eq!(db.last_seq(), seq);
    assert_eq!(db.get("c", &DocId::Int(1)).unwrap(), None);
    assert_eq!(db.get("other", &DocId::Int(1)).unwrap(), None);
    assert_eq!(
        field(db.get("c", &DocId::Int(3)).unwrap().as_ref()),
        Some(3)
    );
    // Transactions that do not change the collection's documents are not checked.
    calls.lock().clear();
    db.insert("other", json(r#"{"_id": 2}"#)).unwrap();
    db.transaction(|txn| {
        txn.insert("c", json(r#"{"_id": 7, "v": 1}"#))?;
        txn.delete("c", &DocId::Int(7)).map(|_| ())
    })
    .unwrap();
    assert!(calls.lock().is_empty());
}
