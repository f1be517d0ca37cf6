//! An index build killed mid-way (SIGKILL of `cairn index create`) is finished on the next
//! open: the index ends ready, with one entry per document, and `cairn check` passes.
//!
//! Method: a collection of `DOCS` documents is prepared once; each attempt copies it, starts
//! `cairn index create`, kills it after a delay, and inspects the copy with the engine alone
//! (no resume runs there). An attempt counts when the kill landed between the index's attach
//! and its "ready" commit; the delay moves up when the kill came before the attach and down
//! when the build had already finished. Then the real binary reopens the copy.
//! Limits: the delays only steer where the kill lands; whether it landed mid-build is read
//! from the file, never assumed from timing.

mod support;

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use support::{cairn, run_ok};

const DOCS: usize = 40_000;
const ATTEMPTS: usize = 16;

/// The index's (ready, entries) as stored, read without resuming anything; `None` when the
/// index is not attached.
fn stored_index(dir: &Path) -> Option<(bool, u64)> {
    let mut config = cairn::Config::new(dir, cairn::StorageMode::Persistent);
    config.extension_kinds = vec![Arc::new(cairn::index::IndexExtensionKind)];
    let db = cairn::Database::open(config).expect("the killed database opens");
    let indexes = cairn::index::list_indexes(&db, "c").expect("indexes list");
    indexes
        .iter()
        .find(|index| index.spec.name == "by_n")
        .map(|index| (index.ready, index.entries))
}

/// Copies a database folder, the write-ahead log's folder inside it included.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("copy folder");
    for entry in std::fs::read_dir(from).expect("source folder") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("file name");
        if path.is_dir() {
            copy_dir(&path, &to.join(name));
        } else {
            std::fs::copy(&path, to.join(name)).expect("copy file");
        }
    }
}

#[test]
fn an_index_build_killed_mid_way_is_finished_on_the_next_open() {
    let work = tempfile::tempdir().expect("temporary directory");
    let prepared = work.path().join("prepared");
    let lines: String = (0..DOCS)
        .map(|i| {
            format!(
                "{{\"_id\": {i}, \"n\": {}, \"pad\": \"{i:08}\"}}\n",
                i * 7 % 1000
            )
        })
        .collect();
    let file = work.path().join("docs.jsonl");
    std::fs::write(&file, lines).expect("documents file");
    run_ok(
        cairn(&prepared)
            .args(["--mode", "persistent", "import", "c"])
            .arg(&file),
    );
    let mut delay_ms = 150u64;
    for attempt in 0..ATTEMPTS {
        let dir = work.path().join(format!("attempt-{attempt}"));
        copy_dir(&prepared, &dir);
        let mut child = cairn(&dir)
            .args(["index", "create", "c", "by_n", "--fields", "n"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawning cairn");
        std::thread::sleep(Duration::from_millis(delay_ms));
        // Killing a process that already exited is harmless; `wait` reaps it either way.
        let _ = child.kill();
        let _ = child.wait();
        match stored_index(&dir) {
            None => delay_ms += delay_ms / 2 + 20,
            Some((true, _)) => delay_ms = delay_ms * 2 / 3,
            Some((false, _)) => {
                // Killed mid-build. Any open through the binary finishes it.
                let listed = run_ok(cairn(&dir).args(["index", "list", "c"]));
                assert!(listed.contains("by_n"), "{listed}");
                assert_eq!(stored_index(&dir), Some((true, DOCS as u64)));
                run_ok(cairn(&dir).arg("check"));
                let found = run_ok(cairn(&dir).args(["query", "c", r#"{"n": 7}"#]));
                assert_eq!(found.lines().count(), DOCS / 1000, "{found}");
                return;
            }
        }
    }
    panic!("no kill landed mid-build in {ATTEMPTS} attempts (last delay {delay_ms} ms)");
}
