//! An extension that names the fields it reads at commit (`Extension::commit_fields`) sees
//! exactly those fields of every net change, with the values a whole-document check would
//! see, whatever the id (short ids are held inline by the commit cache, long ones are not).

use std::sync::Arc;

use cairn_doc::{DocId, Patch, Value};
use cairn_engine::{
    Config, Database, DocChange, Extension, ExtensionKind, ExtensionTxn, StorageMode,
};
use parking_lot::Mutex;

/// One net change as (id, old document as JSON, new document as JSON).
type Seen = (DocId, Option<String>, Option<String>);

/// Records what `before_commit` is handed; reads only `v` and `g`.
struct Narrow {
    calls: Arc<Mutex<Vec<Seen>>>,
}

impl Extension for Narrow {
    fn on_write(&self, _: &mut ExtensionTxn<'_>, _: &DocChange<'_>) -> cairn_engine::Result<()> {
        Ok(())
    }

    fn checks_at_commit(&self) -> bool {
        true
    }

    fn commit_fields(&self) -> Option<Vec<String>> {
        Some(vec!["v".to_string(), "g".to_string()])
    }

    fn before_commit(
        &self,
        _: &mut ExtensionTxn<'_>,
        changes: &[DocChange<'_>],
    ) -> cairn_engine::Result<()> {
        let mut calls = self.calls.lock();
        for change in changes {
            calls.push((
                change.id.clone(),
                change.old.map(Value::to_json_string),
                change.new.map(Value::to_json_string),
            ));
        }
        Ok(())
    }
}

struct NarrowKind {
    calls: Arc<Mutex<Vec<Seen>>>,
}

impl ExtensionKind for NarrowKind {
    fn kind(&self) -> &str {
        "narrow"
    }

    fn instantiate(&self, _: &str, _: &str, _: &Value) -> cairn_engine::Result<Arc<dyn Extension>> {
        Ok(Arc::new(Narrow {
            calls: self.calls.clone(),
        }))
    }
}

fn json(text: &str) -> Value {
    Value::from_json_str(text).unwrap()
}

#[test]
fn before_commit_sees_only_the_named_fields_for_short_and_long_ids() {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let mut config = Config::new("", StorageMode::MemoryOnly);
    config.extension_kinds = vec![Arc::new(NarrowKind {
        calls: calls.clone(),
    })];
    let db = Database::open(config).unwrap();
    db.create_collection("c").unwrap();
    let long = "a-string-id-longer-than-the-inline-key-limit-of-the-cache";
    db.insert(
        "c",
        json(r#"{"_id": 1, "v": 1, "g": {"k": [1, 2]}, "x": "other"}"#),
    )
    .unwrap();
    db.insert(
        "c",
        json(&format!(r#"{{"_id": "{long}", "v": 2, "y": 0}}"#)),
    )
    .unwrap();
    db.attach_extension("c", "narrow", "n", Value::Null)
        .unwrap();
    let patch = Patch::from_json_str(r#"{"$set": {"v": 5, "x": "changed"}}"#).unwrap();
    db.transaction(|txn| {
        txn.update("c", &DocId::Int(1), &patch)?;
        txn.update("c", &DocId::String(long.to_string()), &patch)?;
        txn.insert("c", json(r#"{"_id": 3, "z": true}"#))?;
        Ok(())
    })
    .unwrap();
    let mut seen = calls.lock().clone();
    seen.sort_by_key(|(id, _, _)| id.to_string());
    assert_eq!(
        seen,
        vec![
            (
                DocId::Int(1),
                Some(r#"{"g":{"k":[1,2]},"v":1}"#.to_string()),
                Some(r#"{"g":{"k":[1,2]},"v":5}"#.to_string()),
            ),
            (DocId::Int(3), None, Some("{}".to_string())),
            (
                DocId::String(long.to_string()),
                Some(r#"{"v":2}"#.to_string()),
                Some(r#"{"v":5}"#.to_string()),
            ),
        ]
    );
}
