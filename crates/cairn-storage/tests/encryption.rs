//! Encryption at rest at the storage layer: nothing readable on disk, keys checked, tampering
//! detected.

use cairn_storage::{KeySource, StorageError, StorageMode, Store, StoreConfig};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn config(dir: &std::path::Path, key: Option<KeySource>) -> StoreConfig {
    StoreConfig {
        encryption: key,
        ..StoreConfig::new(dir, StorageMode::Persistent)
    }
}

fn write_marker(store: &Store, count: u32) -> TestResult {
    let txn = store.begin_write()?;
    {
        let mut table = txn.table("secret-table-name")?;
        for i in 0..count {
            let key = format!("key-ZEBRA-{i:06}");
            table.put(key.as_bytes(), b"value-QUOKKA-0123456789")?;
        }
    }
    txn.commit()?;
    Ok(())
}

/// Whether any file under `dir` (the write-ahead log's folder included) holds `needle`.
fn files_contain(dir: &std::path::Path, needle: &[u8]) -> std::io::Result<bool> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            if files_contain(&path, needle)? {
                return Ok(true);
            }
            continue;
        }
        let bytes = std::fs::read(path)?;
        if bytes.windows(needle.len()).any(|w| w == needle) {
            return Ok(true);
        }
    }
    Ok(false)
}

#[test]
fn an_encrypted_store_writes_no_plaintext_and_needs_its_key() -> TestResult {
    let dir = tempfile::tempdir()?;
    let key = KeySource::raw([42; 32]);
    {
        let store = Store::open(&config(dir.path(), Some(key.clone())))?;
        write_marker(&store, 2_000)?;
        // While open, the commit lives in the write-ahead log (sealed) and in the data file.
        let wal = dir.path().join(cairn_storage::WAL_DIR_NAME);
        let logged: u64 = std::fs::read_dir(&wal)?
            .map(|entry| Ok(entry?.metadata()?.len()))
            .sum::<std::io::Result<u64>>()?;
        assert!(
            logged > 2_000 * 20,
            "the commit is in the log ({logged} bytes)"
        );
        for needle in [&b"ZEBRA"[..], b"QUOKKA", b"secret-table-name"] {
            assert!(
                !files_contain(dir.path(), needle)?,
                "plaintext {needle:?} on disk while open"
            );
        }
    }
    for needle in [&b"ZEBRA"[..], b"QUOKKA", b"secret-table-name"] {
        assert!(
            !files_contain(dir.path(), needle)?,
            "plaintext {needle:?} on disk"
        );
    }
    assert!(matches!(
        Store::open(&config(dir.path(), None)),
        Err(StorageError::KeyRequired { .. })
    ));
    assert!(matches!(
        Store::open(&config(dir.path(), Some(KeySource::raw([7; 32])))),
        Err(StorageError::WrongKey { .. })
    ));
    let store = Store::open(&config(dir.path(), Some(key)))?;
    let snapshot = store.snapshot()?;
    let table = snapshot
        .table("secret-table-name")?
        .ok_or("table missing")?;
    assert_eq!(table.len()?, 2_000);
    assert_eq!(
        table.get(b"key-ZEBRA-000007")?.as_deref(),
        Some(&b"value-QUOKKA-0123456789"[..])
    );
    assert!(store.verify_blocks()?.is_empty());
    Ok(())
}

#[test]
fn a_plain_store_refuses_a_key_and_a_plain_store_shows_its_data() -> TestResult {
    let dir = tempfile::tempdir()?;
    {
        let store = Store::open(&config(dir.path(), None))?;
        write_marker(&store, 10)?;
    }
    assert!(
        files_contain(dir.path(), b"QUOKKA")?,
        "control: plain data is visible"
    );
    assert!(matches!(
        Store::open(&config(dir.path(), Some(KeySource::raw([1; 32])))),
        Err(StorageError::NotEncrypted { .. })
    ));
    Ok(())
}

#[test]
fn a_flipped_byte_in_an_encrypted_file_is_reported_as_tampering() -> TestResult {
    let dir = tempfile::tempdir()?;
    let key = KeySource::raw([3; 32]);
    {
        let store = Store::open(&config(dir.path(), Some(key.clone())))?;
        write_marker(&store, 500)?;
    }
    let path = dir.path().join(cairn_storage::DATA_FILE_NAME);
    let mut bytes = std::fs::read(&path)?;
    // Inside the ciphertext of a block in the middle of the file (slot 3 onwards holds data).
    let at = 3 * cairn_storage::SLOT_BYTES + 100;
    bytes[at] ^= 0x10;
    std::fs::write(&path, &bytes)?;
    let outcome = Store::open(&config(dir.path(), Some(key)));
    let bad = match outcome {
        Ok(store) => store.verify_blocks()?,
        Err(StorageError::Tampered { block }) => vec![block],
        Err(other) => return Err(other.into()),
    };
    assert_eq!(bad, vec![2]);
    Ok(())
}

#[test]
fn compaction_reports_sizes_and_keeps_data() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = Store::open(&config(dir.path(), Some(KeySource::raw([5; 32]))))?;
    write_marker(&store, 3_000)?;
    let txn = store.begin_write()?;
    txn.delete_table("secret-table-name")?;
    txn.commit()?;
    write_marker(&store, 10)?;
    let (before, after) = store.compact()?;
    assert!(after <= before, "{after} > {before}");
    let snapshot = store.snapshot()?;
    assert_eq!(
        snapshot
            .table("secret-table-name")?
            .map(|t| t.len())
            .transpose()?,
        Some(10)
    );
    Ok(())
}
