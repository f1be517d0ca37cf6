//! Shared read views: snapshots taken with no commit in between share one storage read
//! transaction, and that sharing never changes what a snapshot sees (MVCC exactly as before).

use std::collections::BTreeMap;
use std::time::Duration;

use cairn_storage::{KeySource, Snapshot, StorageMode, Store, StoreConfig};
use proptest::prelude::*;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Every storage mode, plus an encrypted persistent store.
fn configs(dir: &std::path::Path) -> Vec<(&'static str, StoreConfig)> {
    let mode = |name: &'static str, mode| (name, StoreConfig::new(dir.join(name), mode));
    vec![
        mode("persistent", StorageMode::Persistent),
        mode(
            "memory-first",
            StorageMode::MemoryFirst {
                flush_interval: Duration::from_millis(5),
            },
        ),
        mode(
            "hybrid",
            StorageMode::Hybrid {
                memory_budget_bytes: 4 * 1024 * 1024,
            },
        ),
        mode("memory-only", StorageMode::MemoryOnly),
        (
            "encrypted",
            StoreConfig {
                encryption: Some(KeySource::raw([7; 32])),
                ..StoreConfig::new(dir.join("encrypted"), StorageMode::Persistent)
            },
        ),
    ]
}

fn put(store: &Store, key: &[u8], value: &[u8]) -> TestResult {
    let txn = store.begin_write()?;
    txn.table("t")?.put(key, value)?;
    txn.commit()?;
    Ok(())
}

fn read(snapshot: &Snapshot, key: &[u8]) -> Result<Option<Vec<u8>>, cairn_storage::StorageError> {
    match snapshot.table("t")? {
        Some(table) => table.get(key),
        None => Ok(None),
    }
}

#[test]
fn a_snapshot_taken_after_a_commit_sees_it_in_every_mode() -> TestResult {
    let dir = tempfile::tempdir()?;
    for (name, config) in configs(dir.path()) {
        let store = Store::open(&config)?;
        // A view taken before the table exists, and reused: remembers the table is absent.
        let before = store.snapshot()?;
        assert_eq!(read(&before, b"k")?, None, "{name}");
        for round in 0..5u8 {
            let reused = store.snapshot()?;
            assert_eq!(
                reused.id(),
                store.snapshot()?.id(),
                "{name}: no commit, one view"
            );
            put(&store, b"k", &[round])?;
            let after = store.snapshot()?;
            assert_ne!(
                after.id(),
                reused.id(),
                "{name}: a commit starts a new view"
            );
            assert_eq!(read(&after, b"k")?, Some(vec![round]), "{name}");
            // The earlier view, still held, keeps its state.
            let old = round.checked_sub(1).map(|r| vec![r]);
            assert_eq!(read(&reused, b"k")?, old, "{name}");
        }
        assert_eq!(read(&before, b"k")?, None, "{name}");
        // An empty durable commit (the flusher's, a `flush`) also starts a new view.
        let last = store.snapshot()?;
        store.flush()?;
        assert_eq!(read(&store.snapshot()?, b"k")?, Some(vec![4]), "{name}");
        drop(last);
    }
    Ok(())
}

#[test]
fn a_long_lived_snapshot_keeps_its_state_and_its_opened_tables() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = Store::open(&StoreConfig::new(dir.path(), StorageMode::Persistent))?;
    put(&store, b"a", b"1")?;
    let long = store.snapshot()?;
    let table = long.table("t")?.ok_or("table")?;
    for i in 0..20u8 {
        put(&store, &[b'x', i], b"later")?;
        put(&store, b"a", &[i])?;
        // A reader of the same table in a fresh view sees the commit; the old one does not.
        assert_eq!(read(&store.snapshot()?, b"a")?, Some(vec![i]));
        assert_eq!(table.get(b"a")?, Some(b"1".to_vec()));
        assert_eq!(read(&long, b"a")?, Some(b"1".to_vec()));
        assert_eq!(long.table("t")?.ok_or("table")?.len()?, 1);
    }
    Ok(())
}

#[test]
fn derived_state_is_shared_by_one_view_and_fresh_for_the_next() -> TestResult {
    let store = Store::open(&StoreConfig::new("", StorageMode::MemoryOnly))?;
    let made = std::sync::atomic::AtomicUsize::new(0);
    let make = || made.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let first = store.snapshot()?.derived(make);
    let same = store.snapshot()?.derived(make);
    assert!(std::sync::Arc::ptr_eq(&first, &same));
    assert_eq!(made.load(std::sync::atomic::Ordering::Relaxed), 1);
    put(&store, b"k", b"v")?;
    let next = store.snapshot()?.derived(make);
    assert!(!std::sync::Arc::ptr_eq(&first, &next));
    assert_eq!(made.load(std::sync::atomic::Ordering::Relaxed), 2);
    // Another type than the view's first gets a fresh, unshared value.
    assert_eq!(*store.snapshot()?.derived(|| "other"), "other");
    Ok(())
}

#[test]
fn compaction_is_not_refused_because_of_the_shared_view() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = Store::open(&StoreConfig::new(dir.path(), StorageMode::Persistent))?;
    for i in 0..50u8 {
        put(&store, &[i], &[i; 512])?;
    }
    // Taken and dropped: only the store's cache still holds the view.
    drop(store.snapshot()?.table("t")?);
    store.compact()?;
    assert!(store.check_integrity()?);
    assert_eq!(read(&store.snapshot()?, &[7])?, Some(vec![7; 512]));
    Ok(())
}

#[test]
fn snapshots_from_several_threads_see_every_acknowledged_commit() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = Store::open(&StoreConfig::new(dir.path(), StorageMode::MemoryOnly))?;
    let acknowledged = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|scope| -> TestResult {
        let readers: Vec<_> = (0..3)
            .map(|_| {
                scope.spawn(|| -> Result<(), String> {
                    for _ in 0..300 {
                        let floor = acknowledged.load(std::sync::atomic::Ordering::Acquire);
                        let snapshot = store.snapshot().map_err(|e| e.to_string())?;
                        let seen = read(&snapshot, b"n")
                            .map_err(|e| e.to_string())?
                            .map_or(0, |v| u64::from_be_bytes(v.try_into().unwrap_or([0; 8])));
                        if seen < floor {
                            return Err(format!("saw {seen} after {floor} was acknowledged"));
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        for n in 1..=200u64 {
            put(&store, b"n", &n.to_be_bytes())?;
            acknowledged.store(n, std::sync::atomic::Ordering::Release);
        }
        for reader in readers {
            reader.join().map_err(|_| "reader panicked")??;
        }
        Ok(())
    })?;
    Ok(())
}

#[derive(Debug, Clone)]
enum Step {
    Commit(u8, u8),
    Delete(u8),
    Take,
    Check(usize),
    Release(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0..8u8, any::<u8>()).prop_map(|(k, v)| Step::Commit(k, v)),
        1 => (0..8u8).prop_map(Step::Delete),
        3 => Just(Step::Take),
        3 => (0..16usize).prop_map(Step::Check),
        1 => (0..16usize).prop_map(Step::Release),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Commits and snapshots interleaved at random: every snapshot reads exactly the model's
    /// state at the moment it was taken, however views are shared.
    #[test]
    fn interleaved_commits_and_snapshots_match_a_model(steps in prop::collection::vec(step(), 1..60)) {
        let store = Store::open(&StoreConfig::new("", StorageMode::MemoryOnly)).expect("open");
        let mut model = BTreeMap::<u8, u8>::new();
        let mut held: Vec<(Snapshot, BTreeMap<u8, u8>)> = Vec::new();
        for step in steps {
            match step {
                Step::Commit(k, v) => {
                    let txn = store.begin_write().expect("begin");
                    txn.table("t").expect("table").put(&[k], &[v]).expect("put");
                    txn.commit().expect("commit");
                    model.insert(k, v);
                }
                Step::Delete(k) => {
                    let txn = store.begin_write().expect("begin");
                    txn.table("t").expect("table").delete(&[k]).expect("delete");
                    txn.commit().expect("commit");
                    model.remove(&k);
                }
                Step::Take => held.push((store.snapshot().expect("snapshot"), model.clone())),
                Step::Check(i) if !held.is_empty() => {
                    let (snapshot, expected) = &held[i % held.len()];
                    let mut seen = BTreeMap::new();
                    if let Some(table) = snapshot.table("t").expect("table") {
                        for entry in table.prefix(b"").expect("range") {
                            let entry = entry.expect("entry");
                            seen.insert(entry.key()[0], entry.value()[0]);
                        }
                    }
                    prop_assert_eq!(&seen, expected);
                }
                Step::Release(i) if !held.is_empty() => {
                    let at = i % held.len();
                    held.remove(at);
                }
                Step::Check(_) | Step::Release(_) => {}
            }
        }
    }
}
