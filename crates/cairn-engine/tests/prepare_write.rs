//! `Extension::prepare_write`: rewriting a document before it is staged, refusing an `_id`
//! change, and `Transaction::set_extension_config` rebuilding the instance.

use std::path::PathBuf;
use std::sync::Arc;

use cairn_doc::{DocId, Object, Value};
use cairn_engine::{
    Config, Database, DocChange, EngineError, Extension, ExtensionKind, ExtensionTxn, StorageMode,
};

/// Stamps `stamp = <config>` into every written document; config `"steal"` changes the `_id`.
struct Stamper(Value);

impl Extension for Stamper {
    fn prepare_write(
        &self,
        _txn: &mut ExtensionTxn<'_>,
        _id: &DocId,
        _old: Option<&Value>,
        new: &mut Value,
    ) -> cairn_engine::Result<()> {
        if let Some(obj) = new.as_object_mut() {
            if self.0 == Value::String("steal".into()) {
                obj.insert("_id", Value::Int(-1));
            }
            obj.insert("stamp", self.0.clone());
        }
        Ok(())
    }

    fn on_write(&self, _: &mut ExtensionTxn<'_>, _: &DocChange<'_>) -> cairn_engine::Result<()> {
        Ok(())
    }
}

struct StamperKind;

impl ExtensionKind for StamperKind {
    fn kind(&self) -> &str {
        "stamper"
    }

    fn instantiate(
        &self,
        _: &str,
        _: &str,
        config: &Value,
    ) -> cairn_engine::Result<Arc<dyn Extension>> {
        Ok(Arc::new(Stamper(config.clone())))
    }
}

fn open() -> Database {
    let mut config = Config::new(PathBuf::new(), StorageMode::MemoryOnly);
    config.extension_kinds.push(Arc::new(StamperKind));
    Database::open(config).expect("open")
}

fn stamp(db: &Database, id: i64) -> Option<Value> {
    db.get("c", &DocId::Int(id))
        .ok()
        .flatten()?
        .as_object()?
        .get("stamp")
        .cloned()
}

#[test]
fn prepare_write_rewrites_documents_and_a_new_config_takes_effect() {
    let db = open();
    db.create_collection("c").expect("create");
    db.attach_extension("c", "stamper", "s", Value::Int(1))
        .expect("attach");
    db.insert(
        "c",
        Value::Object(Object::from_iter([("_id".to_string(), Value::Int(1))])),
    )
    .expect("insert");
    assert_eq!(stamp(&db, 1), Some(Value::Int(1)));
    let mut txn = db.begin().expect("begin");
    txn.set_extension_config("c", "s", Value::Int(2))
        .expect("reconfigure");
    txn.commit().expect("commit");
    db.insert(
        "c",
        Value::Object(Object::from_iter([("_id".to_string(), Value::Int(2))])),
    )
    .expect("insert");
    assert_eq!(stamp(&db, 2), Some(Value::Int(2)));
    let changes = db.changes_after(0, 100).expect("changes");
    let stored = changes
        .iter()
        .find(|c| c.id == Some(DocId::Int(2)))
        .and_then(|c| c.new.clone());
    assert_eq!(
        stored.and_then(|d| d.as_object().and_then(|o| o.get("stamp")).cloned()),
        Some(Value::Int(2)),
        "the change log holds the rewritten document"
    );
}

#[test]
fn an_extension_may_not_change_the_id() {
    let db = open();
    db.create_collection("c").expect("create");
    db.attach_extension("c", "stamper", "s", Value::String("steal".into()))
        .expect("attach");
    let seq = db.last_seq();
    let err = db.insert(
        "c",
        Value::Object(Object::from_iter([("_id".to_string(), Value::Int(1))])),
    );
    assert!(
        matches!(err, Err(EngineError::ExtensionFailed { .. })),
        "{err:?}"
    );
    assert_eq!(db.last_seq(), seq);
    assert!(db.get("c", &DocId::Int(1)).expect("get").is_none());
}
