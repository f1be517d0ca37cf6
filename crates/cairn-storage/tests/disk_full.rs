//! A full disk disables writes only while it is full: once space is freed, the next write
//! reopens the data file and succeeds, without a restart, and every acknowledged commit is
//! still there.
//!
//! Method: a small tmpfs is mounted (the tests run as root on the CI machines; where mounting
//! is refused the test says so and returns), a filler file takes part of it, and commits of
//! 16 KiB values run until one fails with `DiskFull`. Then the filler is removed.

use std::path::{Path, PathBuf};
use std::process::Command;

use cairn_storage::{StorageError, StorageMode, Store, StoreConfig};

/// Size of the scratch filesystem: 8 MiB, room for redb's initial file and some commits.
const FILESYSTEM_BYTES: u64 = 8 << 20;
const FILLER_BYTES: usize = 3 << 20;
const VALUE_BYTES: usize = 16 << 10;
/// Log bytes between checkpoints: 512 KiB, a sixteenth of the scratch filesystem.
const CHECKPOINT_BYTES: u64 = 512 << 10;

/// A tmpfs mounted for the test's lifetime.
struct Mount(PathBuf);

impl Mount {
    fn new(dir: &Path) -> Option<Mount> {
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={FILESYSTEM_BYTES}")])
            .arg("tmpfs")
            .arg(dir)
            .status()
            .ok()?;
        status.success().then(|| Mount(dir.to_path_buf()))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn commit(store: &Store, key: u32) -> Result<(), StorageError> {
    let txn = store.begin_write()?;
    txn.table("t")?
        .put(&key.to_be_bytes(), &vec![key as u8; VALUE_BYTES])?;
    txn.commit()
}

#[test]
fn writes_resume_after_a_full_disk_gets_space_back() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let Some(mount) = Mount::new(scratch.path()) else {
        eprintln!("skipped: cannot mount a tmpfs here (not root?)");
        return;
    };
    let filler = mount.0.join("filler");
    std::fs::write(&filler, vec![1u8; FILLER_BYTES]).expect("filler");
    let dir = mount.0.join("db");
    // The write-ahead log holds commits until a checkpoint copies them into the data file,
    // and a reopen replays it into that file before the segments go: on a disk this small,
    // checkpoints must come often enough that log and replay fit beside each other.
    let mut config = StoreConfig::new(&dir, StorageMode::Persistent);
    config.wal.checkpoint_bytes = CHECKPOINT_BYTES;
    let store = Store::open(&config).expect("open");
    let mut acknowledged = Vec::new();
    let mut full = None;
    for key in 0..10_000u32 {
        match commit(&store, key) {
            Ok(()) => acknowledged.push(key),
            Err(err) => {
                full = Some(err);
                break;
            }
        }
    }
    assert!(
        matches!(full, Some(StorageError::DiskFull { .. })),
        "{full:?}"
    );
    assert!(!acknowledged.is_empty());
    // Still full: writes keep failing, as disk-full, and the store says why.
    assert!(matches!(
        commit(&store, 1_000_000),
        Err(StorageError::DiskFull { .. })
    ));
    assert!(matches!(
        store.write_failure(),
        Some(StorageError::DiskFull { .. })
    ));
    std::fs::remove_file(&filler).expect("free space");
    // The next write reopens the file and succeeds; nothing acknowledged was lost.
    commit(&store, 2_000_000).expect("a write after space came back");
    assert!(store.write_failure().is_none());
    let snapshot = store.snapshot().expect("snapshot");
    let table = snapshot.table("t").expect("table").expect("exists");
    for key in acknowledged.iter().chain([&2_000_000]) {
        let value = table.get(&key.to_be_bytes()).expect("read");
        assert_eq!(value.map(|v| v.len()), Some(VALUE_BYTES), "key {key}");
    }
    drop(table);
    drop(snapshot);
    drop(store);
}
