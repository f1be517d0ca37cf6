//! The full-text index kind is built in: `cairn::open` registers it, so an index created
//! through the facade is maintained by every write and survives a reopen.

use cairn::text::{create_text_index, search, Language, TextSpec};
use cairn_doc::Value;

#[test]
fn text_index_is_a_builtin_kind_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let config = || cairn_engine::Config::new(dir.path(), cairn_engine::StorageMode::Persistent);
    {
        let db = cairn::open(config()).unwrap();
        db.create_collection("docs").unwrap();
        let spec = TextSpec::new("body", &[("body", 1.0)], Language::English, None).unwrap();
        create_text_index(&db, "docs", &spec, &mut |_| {}).unwrap();
        db.insert(
            "docs",
            Value::from_json_str(r#"{"_id": 1, "body": "Hydrogen fuel cells"}"#).unwrap(),
        )
        .unwrap();
        db.flush().unwrap();
    }
    let db = cairn::open(config()).unwrap();
    let mut txn = db.read().unwrap();
    let found = search(&mut txn, "docs", "body", "hydrogen AND cell", Some(10)).unwrap();
    assert_eq!(found.hits.len(), 1);
}
