//! Data-key rotation through the engine: online under a writer, and how backups follow it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use cairn_doc::Value;
use cairn_engine::backup::{restore, verify_backup, RestoreTarget};
use cairn_engine::{Config, Database, EngineError, KeySource, StorageMode};

type TestResult = Result<(), Box<dyn std::error::Error>>;
type State = BTreeMap<String, String>;

fn config(dir: &Path, key: &KeySource) -> Config {
    let mut config = Config::new(dir, StorageMode::Persistent);
    config.encryption = Some(key.clone());
    config
}

fn doc(i: u64) -> Result<Value, Box<dyn std::error::Error>> {
    Ok(Value::from_json_str(&format!(
        r#"{{"_id": {i}, "name": "patient-{i}", "ward": {{"floor": {}}}, "note": "{}"}}"#,
        i % 7,
        "stable ".repeat((i % 20) as usize)
    ))?)
}

fn state(db: &Database) -> Result<State, Box<dyn std::error::Error>> {
    let mut docs = State::new();
    db.for_each("p", |id, doc| {
        docs.insert(id.to_string(), doc.to_json_string());
        true
    })?;
    Ok(docs)
}

fn insert_range(db: &Database, from: u64, to: u64) -> Result<(), EngineError> {
    db.transaction(|txn| {
        for i in from..to {
            let value = doc(i).map_err(|_| EngineError::Closed)?;
            txn.insert("p", value)?;
        }
        Ok(())
    })?;
    Ok(())
}

#[test]
fn rotation_under_a_writer_keeps_every_document_and_later_backups_use_the_new_key() -> TestResult {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("db");
    let backups = dir.path().join("backups");
    let key = KeySource::raw([8; 32]);
    let db = Arc::new(Database::open(config(&data, &key))?);
    db.create_collection("p")?;
    for chunk in 0..10 {
        insert_range(&db, chunk * 200, (chunk + 1) * 200)?;
    }
    db.backup(&backups, false, &mut |_, _| {})?;
    let before_rotation_seq = db.last_seq();
    let before = state(&db)?;

    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, stop) = (db.clone(), stop.clone());
        std::thread::spawn(move || -> Result<u64, EngineError> {
            let mut next = 100_000;
            while next < 100_000 + 100 || !stop.load(Ordering::Acquire) {
                insert_range(&db, next, next + 20)?;
                next += 20;
            }
            Ok(next)
        })
    };
    let report = db.rotate_data_key(&key, &key, 8, &mut |_, _| {})?;
    stop.store(true, Ordering::Release);
    let written_to = writer.join().map_err(|_| "writer panicked")??;
    assert_eq!(report.key_id, 2);
    assert_eq!(db.data_key_id(), Some(2));

    let mut expected = before.clone();
    for i in 100_000..written_to {
        let value = doc(i)?;
        expected.insert(i.to_string(), value.to_json_string());
    }
    let after = state(&db)?;
    assert_eq!(after, expected);

    // The old chain cannot be continued with the new key; a full backup starts a new chain.
    assert!(matches!(
        db.backup(&backups, true, &mut |_, _| {}),
        Err(EngineError::BackupKeyRotated {
            chain_key: 1,
            database_key: 2,
            ..
        })
    ));
    let piece = db.backup(&backups, false, &mut |_, _| {})?;
    assert_eq!(piece.key_id, 2);
    insert_range(&db, 500_000, 500_010)?;
    let piece = db.backup(&backups, true, &mut |_, _| {})?;
    assert_eq!(piece.key_id, 2);
    let latest = state(&db)?;
    drop(db);

    let manifest = verify_backup(&backups, Some(&key))?;
    assert_eq!(manifest.pieces.len(), 3);
    assert!(backups.join("keyring.1").exists());
    // The chain from before the rotation restores through its kept keyring...
    let old = dir.path().join("old");
    restore(
        &backups,
        &old,
        RestoreTarget::Seq(before_rotation_seq),
        Some(&key),
        &[],
        &mut |_, _| {},
    )?;
    assert_eq!(state(&Database::open(config(&old, &key))?)?, before);
    // ...and the new one through the current keyring.
    let new = dir.path().join("new");
    restore(
        &backups,
        &new,
        RestoreTarget::Latest,
        Some(&key),
        &[],
        &mut |_, _| {},
    )?;
    let restored = Database::open(config(&new, &key))?;
    assert_eq!(restored.data_key_id(), Some(2));
    assert_eq!(state(&restored)?, latest);
    Ok(())
}
