//! Online data-key rotation at the storage layer: the file ends up sealed under the new key
//! only, while a writer keeps committing, and nothing is lost or changed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use cairn_storage::{
    keyring_path, slot_key_ids, unlock_keys, KeySource, StorageError, StorageMode, Store,
    StoreConfig, DATA_FILE_NAME, ROTATION_JOURNAL_FILE_NAME, SLOT_BYTES,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn config(dir: &std::path::Path, key: &KeySource) -> StoreConfig {
    StoreConfig {
        encryption: Some(key.clone()),
        ..StoreConfig::new(dir, StorageMode::Persistent)
    }
}

fn put_batch(store: &Store, from: u32, to: u32) -> Result<(), StorageError> {
    let txn = store.begin_write()?;
    {
        let mut table = txn.table("t")?;
        for i in from..to {
            table.put(format!("k{i:08}").as_bytes(), &value(i))?;
        }
    }
    txn.commit()
}

fn value(i: u32) -> Vec<u8> {
    format!("value-{i}-")
        .repeat(1 + (i % 7) as usize)
        .into_bytes()
}

fn contents(store: &Store) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, StorageError> {
    let snapshot = store.snapshot()?;
    let Some(table) = snapshot.table("t")? else {
        return Ok(BTreeMap::new());
    };
    let mut out = BTreeMap::new();
    for entry in table.prefix(b"")? {
        let entry = entry?;
        out.insert(entry.key().to_vec(), entry.value().to_vec());
    }
    Ok(out)
}

#[test]
fn rotation_under_a_concurrent_writer_leaves_every_block_under_the_new_key() -> TestResult {
    let dir = tempfile::tempdir()?;
    let key = KeySource::raw([3; 32]);
    let new_key = KeySource::passphrase("a new passphrase");
    let store = Arc::new(Store::open(&config(dir.path(), &key))?);
    for batch in 0..20 {
        put_batch(&store, batch * 500, (batch + 1) * 500)?;
    }
    let before = contents(&store)?;
    let old_id = store.data_key_id();
    assert_eq!(old_id, Some(1));

    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (store, stop) = (store.clone(), stop.clone());
        std::thread::spawn(move || -> Result<u32, StorageError> {
            let mut next = 1_000_000;
            // At least a few batches, then until the rotation is done.
            while next < 1_000_000 + 5 * 50 || !stop.load(Ordering::Acquire) {
                put_batch(&store, next, next + 50)?;
                next += 50;
            }
            Ok(next)
        })
    };
    let mut calls = 0;
    // Small chunks, so the writer's commits land between many of them.
    let report = store.rotate_data_key(&key, &new_key, 16, &mut |done, total| {
        calls += 1;
        assert!(done <= total);
    })?;
    stop.store(true, Ordering::Release);
    let written_to = writer.join().map_err(|_| "writer panicked")??;
    assert!(calls > 1, "the pass ran in chunks");
    assert_eq!(report.key_id, 2);
    assert!(report.resealed_blocks > 0);
    assert!(!store.rotation_pending());

    let mut expected = before;
    for i in 1_000_000..written_to {
        expected.insert(format!("k{i:08}").into_bytes(), value(i));
    }
    assert_eq!(contents(&store)?, expected);
    assert!(store.verify_blocks()?.is_empty());
    drop(store);

    // The file: every written slot names key 2; the keyring holds key 2 only.
    let slots = slot_key_ids(&dir.path().join(DATA_FILE_NAME))?;
    assert!(slots.len() > 20);
    let stale: Vec<_> = slots.iter().filter(|(_, id)| *id != 2).collect();
    assert!(stale.is_empty(), "slots under another key: {stale:?}");
    let keys = unlock_keys(&keyring_path(dir.path()), &new_key)?;
    assert_eq!(keys.ids(), vec![2]);
    assert!(!dir.path().join(ROTATION_JOURNAL_FILE_NAME).exists());
    assert!(matches!(
        Store::open(&config(dir.path(), &key)),
        Err(StorageError::KeyKindMismatch { .. })
    ));
    let store = Store::open(&config(dir.path(), &new_key))?;
    assert_eq!(contents(&store)?, expected);
    Ok(())
}

#[test]
fn an_interrupted_rotation_stays_readable_and_finishes_on_the_next_call() -> TestResult {
    let dir = tempfile::tempdir()?;
    let key = KeySource::raw([4; 32]);
    let store = Store::open(&config(dir.path(), &key))?;
    for batch in 0..10 {
        put_batch(&store, batch * 500, (batch + 1) * 500)?;
    }
    // Into the data file under key 1 (until a checkpoint, commits are in the log and redb's
    // write buffer, and the first data-file write would seal them under the new key).
    store.checkpoint()?;
    let expected = contents(&store)?;
    // Stop the pass after its third chunk, as a crash would (the keyring then holds both keys
    // and the journal names the chunk in flight).
    let mut chunks = 0;
    let stopped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        store.rotate_data_key(&key, &key, 8, &mut |_, _| {
            chunks += 1;
            if chunks == 3 {
                panic!("simulated crash");
            }
        })
    }));
    assert!(stopped.is_err());
    drop(store);
    let ids: Vec<u32> = slot_key_ids(&dir.path().join(DATA_FILE_NAME))?
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    assert!(ids.contains(&1) && ids.contains(&2), "{ids:?}");

    let store = Store::open(&config(dir.path(), &key))?;
    assert!(store.rotation_pending());
    assert_eq!(contents(&store)?, expected);
    put_batch(&store, 100_000, 100_010)?;
    let report = store.rotate_data_key(&key, &key, 0, &mut |_, _| {})?;
    assert!(report.resumed);
    assert_eq!(report.key_id, 2);
    assert!(!store.rotation_pending());
    drop(store);
    let ids = slot_key_ids(&dir.path().join(DATA_FILE_NAME))?;
    assert!(ids.iter().all(|(_, id)| *id == 2), "{ids:?}");
    Ok(())
}

#[test]
fn a_tampered_block_is_still_detected_after_rotation() -> TestResult {
    let dir = tempfile::tempdir()?;
    let key = KeySource::raw([5; 32]);
    {
        let store = Store::open(&config(dir.path(), &key))?;
        put_batch(&store, 0, 3_000)?;
        store.rotate_data_key(&key, &key, 0, &mut |_, _| {})?;
        assert!(store.verify_blocks()?.is_empty());
    }
    let path = dir.path().join(DATA_FILE_NAME);
    let mut bytes = std::fs::read(&path)?;
    // A ciphertext byte of block 3 (slot 4).
    bytes[4 * SLOT_BYTES + 100] ^= 0x01;
    std::fs::write(&path, bytes)?;
    // Detected when opening reads the block, else by the block check.
    match Store::open(&config(dir.path(), &key)) {
        Err(StorageError::Tampered { block }) => assert_eq!(block, 3),
        Ok(store) => assert_eq!(store.verify_blocks()?, vec![3]),
        Err(other) => return Err(other.into()),
    }
    Ok(())
}
