//! The storage interface's promises: snapshots, atomic multi-table commits, ordered ranges.

use std::ops::Bound;

use cairn_storage::{StorageMode, Store, StoreConfig};
use proptest::prelude::*;

fn open(dir: &std::path::Path, mode: StorageMode) -> Store {
    Store::open(&StoreConfig::new(dir, mode)).expect("open")
}

fn put(store: &Store, table: &str, key: &[u8], value: &[u8]) {
    let txn = store.begin_write().expect("begin");
    txn.table(table)
        .expect("table")
        .put(key, value)
        .expect("put");
    txn.commit().expect("commit");
}

fn get(store: &Store, table: &str, key: &[u8]) -> Option<Vec<u8>> {
    let snapshot = store.snapshot().expect("snapshot");
    snapshot
        .table(table)
        .expect("table")?
        .get(key)
        .expect("get")
}

#[test]
fn a_snapshot_does_not_see_later_commits_and_does_not_block_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path(), StorageMode::Persistent);
    put(&store, "t", b"k", b"1");
    let snapshot = store.snapshot().expect("snapshot");
    put(&store, "t", b"k", b"2");
    put(&store, "t", b"new", b"x");
    let old = snapshot.table("t").expect("table").expect("exists");
    assert_eq!(old.get(b"k").expect("get"), Some(b"1".to_vec()));
    assert_eq!(old.get(b"new").expect("get"), None);
    assert_eq!(get(&store, "t", b"k"), Some(b"2".to_vec()));
}

#[test]
fn a_commit_across_tables_is_all_or_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path(), StorageMode::Persistent);
    let txn = store.begin_write().expect("begin");
    txn.table("a").expect("a").put(b"k", b"1").expect("put");
    txn.table("b").expect("b").put(b"k", b"2").expect("put");
    txn.abort().expect("abort");
    assert_eq!(get(&store, "a", b"k"), None);
    let txn = store.begin_write().expect("begin");
    txn.table("a").expect("a").put(b"k", b"1").expect("put");
    txn.table("b").expect("b").put(b"k", b"2").expect("put");
    drop(txn); // dropped without commit: discarded
    assert_eq!(get(&store, "b", b"k"), None);
    let txn = store.begin_write().expect("begin");
    txn.table("a").expect("a").put(b"k", b"1").expect("put");
    txn.table("b").expect("b").put(b"k", b"2").expect("put");
    txn.commit().expect("commit");
    assert_eq!(
        (get(&store, "a", b"k"), get(&store, "b", b"k")),
        (Some(b"1".to_vec()), Some(b"2".to_vec()))
    );
}

#[test]
fn committed_data_survives_reopen_and_deleted_tables_are_gone() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = open(dir.path(), StorageMode::Persistent);
        put(&store, "keep", b"k", b"v");
        put(&store, "drop", b"k", b"v");
        let txn = store.begin_write().expect("begin");
        assert!(txn.delete_table("drop").expect("delete"));
        txn.commit().expect("commit");
    }
    let mut store = open(dir.path(), StorageMode::Persistent);
    assert_eq!(get(&store, "keep", b"k"), Some(b"v".to_vec()));
    assert!(store
        .snapshot()
        .expect("snapshot")
        .table("drop")
        .expect("table")
        .is_none());
    assert!(store.check_integrity().expect("check"));
}

#[test]
fn memory_first_commits_are_durable_after_an_explicit_flush() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mode = StorageMode::MemoryFirst {
        flush_interval: std::time::Duration::from_secs(3600),
    };
    let store = open(dir.path(), mode);
    put(&store, "t", b"k", b"v");
    assert_eq!(get(&store, "t", b"k"), Some(b"v".to_vec()));
    let fsyncs = store.stats().fsyncs;
    store.flush().expect("flush");
    assert_eq!(store.stats().fsyncs, fsyncs + 1);
    store.flush().expect("second flush has nothing to do");
    assert_eq!(store.stats().fsyncs, fsyncs + 1);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Range scans return exactly the model's keys in order, whatever the bounds.
    #[test]
    fn ranges_match_a_btreemap(
        keys in prop::collection::btree_set(prop::collection::vec(0u8..4, 0..4), 0..40),
        lo in prop::collection::vec(0u8..4, 0..3),
        hi in prop::collection::vec(0u8..4, 0..3),
        prefix in prop::collection::vec(0u8..4, 0..2),
    ) {
        let store = Store::open(&StoreConfig::new(std::path::PathBuf::new(), StorageMode::MemoryOnly)).expect("open");
        let txn = store.begin_write().expect("begin");
        {
            let mut table = txn.table("t").expect("table");
            for key in &keys {
                table.put(key, key).expect("put");
            }
        }
        txn.commit().expect("commit");
        let snapshot = store.snapshot().expect("snapshot");
        let table = snapshot.table("t").expect("table").expect("exists");
        if lo <= hi {
            let got: Vec<Vec<u8>> = table
                .range(Bound::Included(&lo), Bound::Excluded(&hi))
                .expect("range")
                .map(|e| e.expect("entry").key().to_vec())
                .collect();
            let want: Vec<Vec<u8>> = keys.range(lo.clone()..hi.clone()).cloned().collect();
            prop_assert_eq!(got, want);
        }
        let got: Vec<Vec<u8>> = table
            .prefix(&prefix)
            .expect("prefix")
            .map(|e| e.expect("entry").key().to_vec())
            .collect();
        let want: Vec<Vec<u8>> = keys.iter().filter(|k| k.starts_with(&prefix)).cloned().collect();
        prop_assert_eq!(got, want);
    }
}
