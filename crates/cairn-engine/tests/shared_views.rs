//! Transactions share one storage view (and what the engine derives from it: the commit number,
//! resolved collections) while no commit lands in between. The sharing must be invisible:
//! a transaction begun after a commit sees it, an older one keeps its state, in every mode.

use std::path::Path;
use std::time::Duration;

use cairn_doc::{DocId, Value};
use cairn_engine::{Config, Database, EngineError, KeySource, StorageMode};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Every storage mode, plus an encrypted persistent database.
fn configs(dir: &Path) -> Vec<(&'static str, Config)> {
    let mut encrypted = Config::new(dir.join("encrypted"), StorageMode::Persistent);
    encrypted.encryption = Some(KeySource::raw([3; 32]));
    vec![
        (
            "persistent",
            Config::new(dir.join("persistent"), StorageMode::Persistent),
        ),
        (
            "memory-first",
            Config::new(
                dir.join("memory-first"),
                StorageMode::MemoryFirst {
                    flush_interval: Duration::from_millis(5),
                },
            ),
        ),
        (
            "hybrid",
            Config::new(
                dir.join("hybrid"),
                StorageMode::Hybrid {
                    memory_budget_bytes: 4 * 1024 * 1024,
                },
            ),
        ),
        (
            "memory-only",
            Config::new(dir.join("memory-only"), StorageMode::MemoryOnly),
        ),
        ("encrypted", encrypted),
    ]
}

fn doc(i: i64) -> Result<Value, Box<dyn std::error::Error>> {
    Ok(Value::from_json_str(&format!(
        r#"{{"_id": {i}, "n": {i}}}"#
    ))?)
}

#[test]
fn a_read_begun_after_a_commit_sees_it_in_every_mode() -> TestResult {
    let dir = tempfile::tempdir()?;
    for (name, config) in configs(dir.path()) {
        let db = Database::open(config)?;
        db.create_collection("c")?;
        for i in 0..6i64 {
            let before = db.read()?;
            let mut also_before = db.read()?;
            assert_eq!(also_before.document_count("c")?, i as u64, "{name}");
            let seq = db.insert("c", doc(i)?).map(|_| db.last_seq())?;
            let mut after = db.read()?;
            assert_eq!(after.snapshot_seq(), seq, "{name}");
            assert_eq!(after.document_count("c")?, i as u64 + 1, "{name}");
            assert_eq!(after.get("c", &DocId::Int(i))?, Some(doc(i)?), "{name}");
            // Begun before the commit: never sees it, though begun on a shared view.
            let mut before = before;
            assert!(before.snapshot_seq() < seq, "{name}");
            assert_eq!(before.get("c", &DocId::Int(i))?, None, "{name}");
            assert_eq!(also_before.document_count("c")?, i as u64, "{name}");
            // A write transaction begun now reads the same state.
            let mut writer = db.begin()?;
            assert_eq!(writer.snapshot_seq(), seq, "{name}");
            assert_eq!(writer.document_count("c")?, i as u64 + 1, "{name}");
        }
    }
    Ok(())
}

#[test]
fn a_long_lived_read_keeps_its_collections_across_drop_and_recreate() -> TestResult {
    let db = Database::open_in_memory()?;
    db.create_collection("c")?;
    db.insert("c", doc(1)?)?;
    let mut old = db.read()?;
    assert_eq!(old.get("c", &DocId::Int(1))?, Some(doc(1)?));
    // Resolved again from the same view by another transaction (the view's memo).
    assert_eq!(db.read()?.document_count("c")?, 1);
    db.drop_collection("c")?;
    let err = db.read()?.document_count("c").expect_err("dropped");
    assert!(
        matches!(err, EngineError::UnknownCollection { .. }),
        "{err}"
    );
    db.create_collection("c")?;
    db.insert("c", doc(2)?)?;
    let mut new = db.read()?;
    assert_eq!(new.get("c", &DocId::Int(1))?, None);
    assert_eq!(new.get("c", &DocId::Int(2))?, Some(doc(2)?));
    assert_eq!(new.document_count("c")?, 1);
    // The old transaction still sees the collection as it was when it began.
    assert_eq!(old.get("c", &DocId::Int(1))?, Some(doc(1)?));
    assert_eq!(old.get("c", &DocId::Int(2))?, None);
    assert_eq!(old.document_count("c")?, 1);
    Ok(())
}

#[test]
fn a_transaction_changing_the_catalog_resolves_from_its_own_writes() -> TestResult {
    let db = Database::open_in_memory()?;
    db.create_collection("a")?;
    // Fill the view's memo with "a", then drop and create in one transaction.
    assert_eq!(db.read()?.document_count("a")?, 0);
    let mut txn = db.begin()?;
    assert_eq!(txn.document_count("a")?, 0);
    txn.drop_collection("a")?;
    let err = txn
        .document_count("a")
        .expect_err("dropped in this transaction");
    assert!(
        matches!(err, EngineError::UnknownCollection { .. }),
        "{err}"
    );
    txn.create_collection("b")?;
    txn.insert("b", doc(5)?)?;
    assert_eq!(txn.get("b", &DocId::Int(5))?, Some(doc(5)?));
    // Other transactions on the same view are unaffected until the commit.
    assert_eq!(db.read()?.document_count("a")?, 0);
    txn.commit()?;
    let mut after = db.read()?;
    assert!(after.document_count("a").is_err());
    assert_eq!(after.document_count("b")?, 1);
    Ok(())
}

#[test]
fn a_collection_resolved_from_the_shared_view_is_still_a_recorded_read() -> TestResult {
    let db = Database::open_in_memory()?;
    db.create_collection("c")?;
    // The view's memo now knows "c"; the writer below resolves it from there.
    assert_eq!(db.read()?.document_count("c")?, 0);
    let mut writer = db.begin()?;
    writer.insert("c", doc(1)?)?;
    // A concurrent drop of the collection must make the writer's commit conflict.
    db.drop_collection("c")?;
    let err = writer
        .commit()
        .expect_err("the collection it resolved was dropped");
    assert!(err.is_retryable(), "{err}");
    Ok(())
}
