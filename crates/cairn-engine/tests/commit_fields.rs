//! An extension that names the fields it reads at commit (`Extension::commit_fields`) sees
//! those fields of every net change, with the values a whole-document check would see,
//! whatever the id (short ids are held inline by the commit cache, long ones are not), and not
//! the other fields of the documents (checked on a large one).

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
                change.old.map(named),
                change.new.map(named),
            ));
            if let Some(fields) = change.new.and_then(Value::as_object) {
                assert!(
                    fields.get("blob").is_none(),
                    "a large document was kept whole"
                );
            }
        }
        Ok(())
    }
}

/// The named fields of a document seen at commit, as JSON.
fn named(doc: &Value) -> String {
    let mut kept = cairn_doc::Object::new();
    if let Some(fields) = doc.as_object() {
        for name in ["g", "v"] {
            if let Some(value) = fields.get(name) {
                kept.insert(name, value.clone());
            }
        }
    }
    Value::Object(kept).to_json_string()
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
        // A large document with a field the extension does not read: 8,192 pseudo-random hex
        // digits, 4 KiB even compressed.
        let blob: String = (0..8192u64)
            .map(|i| {
                let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                x ^= x >> 29;
                x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
                format!("{:x}", x >> 60)
            })
            .collect();
        txn.insert(
            "c",
            Value::from_json_str(&format!(r#"{{"_id": 4, "v": 9, "blob": "{blob}"}}"#))?,
        )?;
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
            (DocId::Int(4), None, Some(r#"{"v":9}"#.to_string())),
            (
                DocId::String(long.to_string()),
                Some(r#"{"v":2}"#.to_string()),
                Some(r#"{"v":5}"#.to_string()),
            ),
        ]
    );
}
