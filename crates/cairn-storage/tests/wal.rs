//! The write-ahead log's promises, seen from outside the store: a commit acknowledged in a
//! durable mode survives the process dying before any checkpoint (replayed at open, exactly
//! once, with deletes and dropped tables), checkpoints let old segments go, a torn tail is
//! cut while damage inside the log is an error naming segment and offset, and an encrypted
//! store's log holds no plaintext.
//!
//! Method: the dying process is this test binary re-run as [`writer_child`] (an `#[ignore]`d
//! test that does nothing unless its environment names a folder). It commits, prints `done`,
//! then calls `abort()`: no destructor runs, so no clean close or checkpoint happens, as with
//! SIGKILL (the kernel keeps written pages, so this pins recovery, not power-loss safety).

use std::path::{Path, PathBuf};
use std::process::Command;

use cairn_storage::{
    KeySource, StorageError, StorageMode, Store, StoreConfig, WalSettings, WAL_DIR_NAME,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Environment variable naming the child's database folder.
const CHILD_DIR_ENV: &str = "CAIRN_WAL_TEST_DIR";
/// Environment variable: commits the child makes.
const CHILD_COMMITS_ENV: &str = "CAIRN_WAL_TEST_COMMITS";
/// Environment variable: set to encrypt the child's store.
const CHILD_KEY_ENV: &str = "CAIRN_WAL_TEST_ENCRYPTED";
/// A marker that must never reach the disk in clear when encrypted.
const SECRET: &[u8] = b"SECRET-PLATYPUS";

fn key() -> KeySource {
    KeySource::raw([9; 32])
}

/// Checkpoints that never come on their own: everything stays in the log.
fn no_checkpoints() -> WalSettings {
    WalSettings {
        checkpoint_bytes: u64::MAX,
        checkpoint_interval: std::time::Duration::from_secs(3600),
    }
}

fn config(dir: &Path, encrypted: bool, wal: WalSettings) -> StoreConfig {
    let mut config = StoreConfig::new(dir, StorageMode::Persistent);
    config.encryption = encrypted.then(key);
    config.wal = wal;
    config
}

/// Commit `i`: puts key `i` in table `t` (and the secret marker), deletes key `i - 2`, and
/// every tenth commit drops and refills table `scratch`.
fn commit(store: &Store, i: u32) -> Result<(), StorageError> {
    let txn = store.begin_write()?;
    {
        let mut table = txn.table("t")?;
        let mut value = SECRET.to_vec();
        value.extend_from_slice(&i.to_be_bytes());
        table.put(&i.to_be_bytes(), &value)?;
        if i >= 2 {
            table.delete(&(i - 2).to_be_bytes())?;
        }
    }
    if i.is_multiple_of(10) {
        txn.delete_table("scratch")?;
        txn.table("scratch")?.put(b"round", &i.to_be_bytes())?;
    }
    txn.commit()
}

/// Runs the child: `commits` commits into `dir`, then an abort.
fn run_child(dir: &Path, commits: u32, encrypted: bool) -> TestResult {
    let mut command = Command::new(std::env::current_exe()?);
    command
        .args(["writer_child", "--exact", "--ignored", "--nocapture"])
        .env(CHILD_DIR_ENV, dir)
        .env(CHILD_COMMITS_ENV, commits.to_string());
    if encrypted {
        command.env(CHILD_KEY_ENV, "1");
    }
    let output = command.output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("done"),
        "child did not finish its commits: {stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!output.status.success(), "the child aborts");
    Ok(())
}

/// Does nothing unless started by a test below.
#[test]
#[ignore = "child-process entry point of the write-ahead log tests"]
fn writer_child() -> TestResult {
    let Ok(dir) = std::env::var(CHILD_DIR_ENV) else {
        return Ok(());
    };
    let commits: u32 = std::env::var(CHILD_COMMITS_ENV)?.parse()?;
    let encrypted = std::env::var(CHILD_KEY_ENV).is_ok();
    let store = Store::open(&config(Path::new(&dir), encrypted, no_checkpoints()))?;
    for i in 0..commits {
        commit(&store, i)?;
    }
    println!("done");
    std::process::abort();
}

/// Checks the state `commits` commits leave.
fn assert_state(store: &Store, commits: u32) -> TestResult {
    let snapshot = store.snapshot()?;
    let table = snapshot.table("t")?.ok_or("table t missing")?;
    assert_eq!(table.len()?, u64::from(commits.min(2)));
    for i in commits.saturating_sub(2)..commits {
        let value = table.get(&i.to_be_bytes())?.ok_or("key missing")?;
        assert_eq!(&value[SECRET.len()..], &i.to_be_bytes());
    }
    let scratch = snapshot.table("scratch")?.ok_or("table scratch missing")?;
    assert_eq!(scratch.len()?, 1);
    let last_round = (commits - 1) / 10 * 10;
    assert_eq!(
        scratch.get(b"round")?.as_deref(),
        Some(&last_round.to_be_bytes()[..])
    );
    Ok(())
}

/// Bytes of a segment up to its last record (the rest is preallocated zeros).
fn records_end(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .rposition(|b| *b != 0)
        .map_or(0, |last| last + 1)
}

fn segments(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir.join(WAL_DIR_NAME))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    paths.sort();
    Ok(paths)
}

#[test]
fn commits_of_a_killed_process_are_replayed_from_the_log_exactly() -> TestResult {
    let dir = tempfile::tempdir()?;
    run_child(dir.path(), 57, false)?;
    assert_eq!(
        segments(dir.path())?.len(),
        1,
        "no checkpoint rotated the log"
    );
    let store = Store::open(&config(dir.path(), false, no_checkpoints()))?;
    assert!(store.log_records_replayed() >= 57);
    assert_state(&store, 57)?;
    // Replayed into the data file and checkpointed: a second open replays nothing.
    drop(store);
    let store = Store::open(&config(dir.path(), false, no_checkpoints()))?;
    assert_eq!(store.log_records_replayed(), 0);
    assert_state(&store, 57)?;
    Ok(())
}

#[test]
fn checkpoints_by_bytes_let_old_segments_go_and_keep_every_commit() -> TestResult {
    let dir = tempfile::tempdir()?;
    let wal = WalSettings {
        checkpoint_bytes: 4 * 1024,
        ..no_checkpoints()
    };
    let store = Store::open(&config(dir.path(), false, wal))?;
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..400 {
        commit(&store, i)?;
        let now = segments(dir.path())?;
        assert!(now.len() <= 2, "old segments kept: {now:?}");
        seen.extend(now);
    }
    assert!(seen.len() >= 5, "the log rotated at checkpoints: {seen:?}");
    let report = store.verify_wal()?.ok_or("a store with files has a log")?;
    assert!(report.records < 100, "{report:?}");
    assert!(!report.torn_tail);
    assert_state(&store, 400)?;
    Ok(())
}

#[test]
fn a_torn_tail_is_cut_at_the_last_whole_commit() -> TestResult {
    let dir = tempfile::tempdir()?;
    run_child(dir.path(), 30, false)?;
    let segment = segments(dir.path())?.pop().ok_or("no segment")?;
    let end = records_end(&std::fs::read(&segment)?) as u64;
    // Cut into the last record (each is well over 5 bytes), as a crash mid-append leaves it.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)?
        .set_len(end - 5)?;
    let store = Store::open(&config(dir.path(), false, no_checkpoints()))?;
    assert_state(&store, 29)?;
    // The store goes on from there: the next commit is number 30 again.
    commit(&store, 29)?;
    commit(&store, 30)?;
    assert_state(&store, 31)?;
    Ok(())
}

#[test]
fn damage_inside_the_log_is_an_error_naming_segment_and_offset() -> TestResult {
    let dir = tempfile::tempdir()?;
    run_child(dir.path(), 30, false)?;
    let segment = segments(dir.path())?.pop().ok_or("no segment")?;
    let mut bytes = std::fs::read(&segment)?;
    let middle = records_end(&bytes) / 2;
    bytes[middle] ^= 0x20;
    std::fs::write(&segment, &bytes)?;
    match Store::open(&config(dir.path(), false, no_checkpoints())) {
        Err(StorageError::WalCorrupt {
            segment: named,
            offset,
            ..
        }) => {
            assert_eq!(named, segment);
            assert!(
                offset > 0 && offset <= middle as u64,
                "offset {offset} is the damaged record's start"
            );
        }
        Err(other) => return Err(format!("expected WalCorrupt, got {other}").into()),
        Ok(_) => return Err("a damaged log opened".into()),
    }
    // Never silently skipped: the segment is still there for inspection.
    assert!(segment.exists());
    Ok(())
}

#[test]
fn an_encrypted_stores_log_holds_no_plaintext_and_replays_with_its_key() -> TestResult {
    let dir = tempfile::tempdir()?;
    run_child(dir.path(), 40, true)?;
    let segment = segments(dir.path())?.pop().ok_or("no segment")?;
    let bytes = std::fs::read(&segment)?;
    assert!(
        bytes.len() > 40 * SECRET.len(),
        "the commits are in the log"
    );
    assert!(
        !bytes.windows(SECRET.len()).any(|w| w == SECRET),
        "plaintext in the encrypted store's log"
    );
    assert!(
        !bytes.windows(7).any(|w| w == b"scratch"),
        "table name in clear"
    );
    assert!(matches!(
        Store::open(&config(dir.path(), false, no_checkpoints())),
        Err(StorageError::KeyRequired { .. })
    ));
    let store = Store::open(&config(dir.path(), true, no_checkpoints()))?;
    assert!(store.log_records_replayed() >= 40);
    assert_state(&store, 40)?;
    Ok(())
}
