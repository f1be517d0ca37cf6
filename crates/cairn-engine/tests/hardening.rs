//! Storage hardening end to end: compression with dictionaries, encryption at rest, the deep
//! check, backups taken under load, and point-in-time restore.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use cairn_doc::{DocId, Value};
use cairn_engine::backup::{restore, verify_backup, RestoreTarget};
use cairn_engine::{
    check_database, Compression, Config, Database, EngineError, Finding, KeySource, StorageMode,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;
type State = BTreeMap<String, BTreeMap<String, String>>;

fn config(dir: &Path, key: Option<KeySource>) -> Config {
    let mut config = Config::new(dir, StorageMode::Persistent);
    config.encryption = key;
    config
}

fn doc(i: u64, marker: &str) -> Result<Value, Box<dyn std::error::Error>> {
    Ok(Value::from_json_str(&format!(
        r#"{{"_id": {i}, "name": "patient-{marker}-{i}", "ward": {{"floor": {}, "wing": "north"}}, "tags": ["alpha", "beta"], "score": {}}}"#,
        i % 7,
        i * 31 % 1000
    ))?)
}

/// Every collection's documents as JSON, for comparing two databases.
fn state(db: &Database) -> Result<State, Box<dyn std::error::Error>> {
    let mut out = State::new();
    for meta in db.list_collections()? {
        let mut docs = BTreeMap::new();
        db.for_each(&meta.name, |id, doc| {
            docs.insert(id.to_string(), doc.to_json_string());
            true
        })?;
        out.insert(meta.name, docs);
    }
    Ok(out)
}

fn no_progress() -> impl FnMut(u64, u64) {
    |_, _| {}
}

#[test]
fn dictionaries_shrink_documents_and_old_records_stay_readable() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = Database::open(config(dir.path(), None))?;
    db.create_collection("p")?;
    for chunk in 0..3u64 {
        db.transaction(|txn| {
            for i in chunk * 1000..(chunk + 1) * 1000 {
                txn.insert("p", doc(i, "x").map_err(|_| EngineError::Closed)?)?;
            }
            Ok(())
        })?;
        if chunk == 0 {
            assert_eq!(db.train_dictionaries()?, vec!["p".to_string()]);
        }
    }
    let stats = db.compression_stats()?;
    assert_eq!(stats[0].documents, 3000);
    assert_eq!(stats[0].dictionaries, 1);
    assert!(stats[0].ratio() < 0.7, "ratio {}", stats[0].ratio());
    assert_eq!(db.get("p", &DocId::Int(5))?, Some(doc(5, "x")?));
    assert_eq!(db.get("p", &DocId::Int(2500))?, Some(doc(2500, "x")?));
    let before = state(&db)?;
    drop(db);
    // Reopened with compression off: everything written compressed still reads.
    let mut plain = config(dir.path(), None);
    plain.compression = Compression::OFF;
    let db = Database::open(plain)?;
    assert_eq!(state(&db)?, before);
    let changes = db.changes_after(0, 10)?;
    assert!(changes.iter().any(|c| c.new.is_some()));
    drop(db);
    let report = check_database(&config(dir.path(), None))?;
    assert!(report.is_clean(), "{:?}", report.findings);
    assert_eq!(report.documents, 3000);
    Ok(())
}

/// Every file under `folders` (recursively: the write-ahead log has its own folder).
fn files_under(folders: &[&Path]) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut files = Vec::new();
    let mut pending: Vec<std::path::PathBuf> = folders.iter().map(|f| f.to_path_buf()).collect();
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(folder)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    Ok(files)
}

fn assert_no_plaintext(folders: &[&Path]) -> TestResult {
    for path in files_under(folders)? {
        let bytes = std::fs::read(&path)?;
        for needle in [
            &b"ZANZIBAR"[..],
            b"secretcollection",
            b"987654321",
            b"patient",
            b"north",
        ] {
            let found = bytes.windows(needle.len()).any(|w| w == needle);
            assert!(
                !found,
                "{:?} readable in {}",
                String::from_utf8_lossy(needle),
                path.display()
            );
        }
    }
    Ok(())
}

#[test]
fn nothing_written_by_an_encrypted_database_is_readable_on_disk() -> TestResult {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("db");
    let backups = dir.path().join("backups");
    let key = KeySource::passphrase("correct horse battery staple");
    {
        let db = Database::open(config(&data, Some(key.clone())))?;
        db.create_collection("secretcollection")?;
        for i in 0..300 {
            db.insert("secretcollection", doc(i + 987_654_321, "ZANZIBAR")?)?;
        }
        db.backup(&backups, false, &mut no_progress())?;
        db.insert("secretcollection", doc(5, "ZANZIBAR")?)?;
        db.backup(&backups, true, &mut no_progress())?;
        // While open, the latest commits are in the write-ahead log too (sealed).
        assert_no_plaintext(&[&data, &backups])?;
    }
    assert_no_plaintext(&[&data, &backups])?;
    let wrong = Database::open(config(&data, Some(KeySource::passphrase("wrong"))));
    assert!(matches!(
        wrong,
        Err(EngineError::Storage(
            cairn_storage::StorageError::WrongKey { .. }
        ))
    ));
    assert!(matches!(
        Database::open(config(&data, None)),
        Err(EngineError::Storage(
            cairn_storage::StorageError::KeyRequired { .. }
        ))
    ));
    // Rotation: the new passphrase opens the database, the old one no longer does.
    let new_key = KeySource::passphrase("new passphrase");
    cairn_engine::rekey(&data, &key, &new_key)?;
    assert!(Database::open(config(&data, Some(key.clone()))).is_err());
    let db = Database::open(config(&data, Some(new_key)))?;
    assert_eq!(
        db.get("secretcollection", &DocId::Int(5))?,
        Some(doc(5, "ZANZIBAR")?)
    );
    drop(db);
    verify_backup(&backups, Some(&key))?;
    let restored = dir.path().join("restored");
    restore(
        &backups,
        &restored,
        RestoreTarget::Latest,
        Some(&key),
        &[],
        &mut no_progress(),
    )?;
    let db = Database::open(config(&restored, Some(key)))?;
    assert_eq!(
        db.get("secretcollection", &DocId::Int(5))?,
        Some(doc(5, "ZANZIBAR")?)
    );
    Ok(())
}

#[test]
fn a_flipped_byte_in_the_data_file_is_found_by_check() -> TestResult {
    for key in [None, Some(KeySource::raw([9; 32]))] {
        let dir = tempfile::tempdir()?;
        {
            let mut plain = config(dir.path(), key.clone());
            plain.compression = Compression::OFF;
            let db = Database::open(plain)?;
            db.create_collection("c")?;
            db.insert(
                "c",
                Value::from_json_str(r#"{"_id": 1, "text": "FINDME-FINDME-FINDME"}"#)?,
            )?;
        }
        let clean = check_database(&config(dir.path(), key.clone()))?;
        assert!(clean.is_clean(), "{:?}", clean.findings);
        let path = dir.path().join(cairn_engine::DATA_FILE_NAME);
        let mut bytes = std::fs::read(&path)?;
        let at = match key {
            // Where the document text is.
            None => bytes
                .windows(6)
                .position(|w| w == b"FINDME")
                .ok_or("text not found")?,
            // A data block's ciphertext (slots 0 and 1 hold block 0).
            Some(_) => 3 * cairn_storage::SLOT_BYTES + 64,
        };
        bytes[at] ^= 0x01;
        std::fs::write(&path, &bytes)?;
        let report = check_database(&config(dir.path(), key))?;
        assert!(!report.is_clean(), "flipped byte at {at} not detected");
    }
    Ok(())
}

#[test]
fn a_backup_under_concurrent_writes_restores_to_the_state_at_its_sequence() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = Database::open(config(&dir.path().join("db"), None))?;
    db.create_collection("load")?;
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, stop) = (db.clone(), stop.clone());
        std::thread::spawn(move || -> Result<u64, EngineError> {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) && i < 20_000 {
                let doc = Value::from_json_str(&format!(r#"{{"_id": {i}, "n": {i}}}"#))?;
                db.upsert("load", doc)?;
                if i % 3 == 0 {
                    db.delete("load", &DocId::Int((i / 2) as i64))?;
                }
                i += 1;
            }
            Ok(i)
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(200));
    let backups = dir.path().join("b");
    let piece = db.backup(&backups, false, &mut no_progress())?;
    stop.store(true, Ordering::Relaxed);
    writer.join().map_err(|_| "writer panicked")??;
    // Replay the source's log up to the backup's sequence number onto an empty model.
    let mut expected: BTreeMap<String, String> = BTreeMap::new();
    let mut after = 0;
    loop {
        let changes = db.changes_after(after, 1000)?;
        let Some(last) = changes.last() else { break };
        after = last.seq;
        for change in changes.iter().filter(|c| c.seq <= piece.to_seq) {
            if let (Some(id), true) = (&change.id, change.collection == "load") {
                match &change.new {
                    Some(new) => expected.insert(id.to_string(), new.to_json_string()),
                    None => expected.remove(&id.to_string()),
                };
            }
        }
    }
    let restored = dir.path().join("r");
    let report = restore(
        &backups,
        &restored,
        RestoreTarget::Latest,
        None,
        &[],
        &mut no_progress(),
    )?;
    assert_eq!(report.seq, piece.to_seq);
    let restored = Database::open(config(&restored, None))?;
    assert_eq!(
        state(&restored)?.remove("load").unwrap_or_default(),
        expected
    );
    Ok(())
}

#[test]
fn point_in_time_restores_match_the_source_at_each_sequence() -> TestResult {
    let dir = tempfile::tempdir()?;
    let backups = dir.path().join("b");
    let db = Database::open(config(&dir.path().join("db"), None))?;
    db.create_collection("a")?;
    let mut expected: BTreeMap<u64, State> = BTreeMap::new();
    db.backup(&backups, false, &mut no_progress())?;
    expected.insert(db.last_seq(), state(&db)?);
    for round in 0..4u64 {
        for i in 0..5 {
            db.upsert("a", doc(round * 3 + i, &format!("r{round}"))?)?;
            expected.insert(db.last_seq(), state(&db)?);
        }
        db.delete("a", &DocId::Int(round as i64))?;
        if round == 2 {
            db.create_collection("b")?;
            db.insert("b", doc(1, "b")?)?;
            db.rename_collection("b", "c")?;
        }
        expected.insert(db.last_seq(), state(&db)?);
        db.backup(&backups, true, &mut no_progress())?;
    }
    verify_backup(&backups, None)?;
    let seqs: Vec<u64> = expected.keys().copied().collect();
    for (n, seq) in seqs
        .iter()
        .enumerate()
        .filter(|(n, _)| n % 4 == 1 || *n == seqs.len() - 1)
    {
        let to = dir.path().join(format!("r{n}"));
        let report = restore(
            &backups,
            &to,
            RestoreTarget::Seq(*seq),
            None,
            &[],
            &mut no_progress(),
        )?;
        assert_eq!(report.seq, *seq);
        let restored = Database::open(config(&to, None))?;
        assert_eq!(Some(&state(&restored)?), expected.get(seq), "at seq {seq}");
    }
    Ok(())
}

#[test]
fn a_damaged_or_missing_backup_piece_is_reported() -> TestResult {
    let dir = tempfile::tempdir()?;
    let backups = dir.path().join("b");
    let db = Database::open(config(&dir.path().join("db"), None))?;
    db.create_collection("a")?;
    db.insert("a", doc(1, "x")?)?;
    let full = db.backup(&backups, false, &mut no_progress())?;
    db.insert("a", doc(2, "x")?)?;
    let incr = db.backup(&backups, true, &mut no_progress())?;
    let path = backups.join(&full.file);
    let mut bytes = std::fs::read(&path)?;
    let last = bytes.len() - 20;
    bytes[last] ^= 0x40;
    std::fs::write(&path, &bytes)?;
    assert!(matches!(
        verify_backup(&backups, None),
        Err(EngineError::BackupCorrupt { .. })
    ));
    bytes[last] ^= 0x40;
    std::fs::write(&path, &bytes)?;
    verify_backup(&backups, None)?;
    std::fs::remove_file(backups.join(&incr.file))?;
    assert!(matches!(
        verify_backup(&backups, None),
        Err(EngineError::BackupPieceMissing { .. })
    ));
    let target = dir.path().join("r");
    assert!(restore(
        &backups,
        &target,
        RestoreTarget::Latest,
        None,
        &[],
        &mut no_progress()
    )
    .is_err());
    assert!(
        !target.exists(),
        "a failed restore must leave nothing behind"
    );
    Ok(())
}

#[test]
fn an_incremental_backup_behind_retention_fails_clearly() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut cfg = config(&dir.path().join("db"), None);
    cfg.changelog_retention = 5;
    let db = Database::open(cfg)?;
    db.create_collection("a")?;
    let backups = dir.path().join("b");
    db.backup(&backups, false, &mut no_progress())?;
    for i in 0..20 {
        db.insert("a", doc(i, "x")?)?;
    }
    let outcome = db.backup(&backups, true, &mut no_progress());
    assert!(
        matches!(outcome, Err(EngineError::BackupBaseTrimmed { .. })),
        "{outcome:?}"
    );
    Ok(())
}

#[test]
fn check_names_the_collection_and_id_of_a_missing_routing_entry() -> TestResult {
    let dir = tempfile::tempdir()?;
    {
        let db = Database::open(config(dir.path(), None))?;
        db.create_collection("c")?;
        db.insert("c", doc(42, "x")?)?;
    }
    {
        let store = cairn_storage::Store::open(&cairn_storage::StoreConfig::new(
            dir.path(),
            StorageMode::Persistent,
        ))?;
        let txn = store.begin_write()?;
        txn.delete_table(cairn_engine::layout::ROUTING_TABLE)?;
        txn.commit()?;
    }
    let report = check_database(&config(dir.path(), None))?;
    assert_eq!(
        report.findings,
        vec![Finding::MissingRouting {
            collection: "c".to_string(),
            id: "42".to_string()
        }]
    );
    Ok(())
}

#[test]
fn a_failed_or_killed_restore_leaves_no_staging_folder() -> TestResult {
    let dir = tempfile::tempdir()?;
    let backups = dir.path().join("b");
    let db = Database::open(config(&dir.path().join("db"), None))?;
    db.create_collection("a")?;
    db.insert("a", doc(1, "x")?)?;
    db.backup(&backups, false, &mut no_progress())?;
    db.insert("a", doc(2, "x")?)?;
    let incr = db.backup(&backups, true, &mut no_progress())?;
    drop(db);
    let target = dir.path().join("r");
    let staging = dir.path().join("r.restoring");
    // A stale staging folder, as a killed restore leaves it: the next restore replaces it.
    std::fs::create_dir_all(&staging)?;
    std::fs::write(staging.join("data.redb"), b"half a database")?;
    restore(
        &backups,
        &target,
        RestoreTarget::Latest,
        None,
        &[],
        &mut no_progress(),
    )?;
    assert!(!staging.exists(), "the stale staging folder is gone");
    assert_eq!(
        state(&Database::open(config(&target, None))?)?["a"].len(),
        2
    );
    // A restore that fails while replaying (a damaged incremental piece) removes its own.
    let path = backups.join(&incr.file);
    let mut bytes = std::fs::read(&path)?;
    let last = bytes.len() - 20;
    bytes[last] ^= 0x40;
    std::fs::write(&path, &bytes)?;
    let failed = dir.path().join("r2");
    let outcome = restore(
        &backups,
        &failed,
        RestoreTarget::Latest,
        None,
        &[],
        &mut no_progress(),
    );
    assert!(outcome.is_err());
    assert!(!failed.exists());
    assert!(
        !dir.path().join("r2.restoring").exists(),
        "a failed restore must not leave its staging folder behind"
    );
    Ok(())
}

#[test]
fn check_reports_a_damaged_copy_of_the_encrypted_header() -> TestResult {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("db");
    let key = KeySource::raw([7u8; cairn_engine::KEY_BYTES]);
    {
        let db = Database::open(config(&data, Some(key.clone())))?;
        db.create_collection("a")?;
        for i in 0..3 {
            db.insert("a", doc(i, "x")?)?;
        }
    }
    assert!(check_database(&config(&data, Some(key.clone())))?.is_clean());
    let file = data.join(cairn_engine::DATA_FILE_NAME);
    let pristine = std::fs::read(&file)?;
    // Block 0 lives in slots 0 and 1; the head's low 48 bits count its generations.
    let generation = |slot: usize| -> u64 {
        let at = slot * cairn_storage::SLOT_BYTES;
        let head = u64::from_le_bytes(pristine[at..at + 8].try_into().unwrap_or_default());
        head & ((1 << 48) - 1)
    };
    let older = if generation(0) < generation(1) { 0 } else { 1 };
    let mut damaged = pristine.clone();
    damaged[older * cairn_storage::SLOT_BYTES + 100] ^= 0x01;
    std::fs::write(&file, &damaged)?;
    // The database still opens and reads (from the intact copy)...
    {
        let db = Database::open(config(&data, Some(key.clone())))?;
        assert_eq!(db.get("a", &DocId::Int(1))?, Some(doc(1, "x")?));
    }
    std::fs::write(&file, &damaged)?;
    // ...but check reports the damaged copy.
    let report = check_database(&config(&data, Some(key)))?;
    assert!(
        report
            .findings
            .contains(&Finding::DamagedHeaderCopy { slot: older as u64 }),
        "{:?}",
        report.findings
    );
    Ok(())
}
