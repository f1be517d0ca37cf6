//! A write stream killed mid-way (SIGKILL of `cairn import` into a collection with a vector
//! and a text index) loses nothing it committed and leaves both indexes equal to their
//! documents: `cairn check` passes on the next open, and searches agree with the documents.
//!
//! Method: a collection with both indexes is prepared once; each attempt copies it, starts
//! `cairn import` of `DOCS` documents, kills it after a delay, and counts the stored documents
//! with the engine alone. An attempt counts when some but not all documents are there (the
//! delay moves up when none were, down when all were). Then the real binary checks and
//! searches the copy. The delays only steer where the kill lands; whether it landed mid-import
//! is read from the file.

mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use support::{assert_check_passes, cairn, run_ok};

const DOCS: usize = 6_000;
const ATTEMPTS: usize = 16;

/// Documents stored in `c`, read with the facade (nothing resumes a build here).
fn stored(dir: &Path) -> u64 {
    let db = cairn::open(cairn::Config::new(dir, cairn::StorageMode::Persistent))
        .expect("the killed database opens");
    cairn::count(&db, "c", &cairn::Filter::All).expect("count")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("copy folder");
    for entry in std::fs::read_dir(from).expect("source folder") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("file name");
        if path.is_dir() {
            // The write-ahead log's `wal/` folder.
            copy_dir(&path, &to.join(name));
        } else {
            std::fs::copy(&path, to.join(name)).expect("copy file");
        }
    }
}

#[test]
fn an_import_killed_mid_way_leaves_vector_and_text_indexes_equal_to_the_documents() {
    let work = tempfile::tempdir().expect("temporary directory");
    let prepared = work.path().join("prepared");
    run_ok(cairn(&prepared).args(["--mode", "persistent", "collection", "create", "c"]));
    run_ok(cairn(&prepared).args([
        "index", "create", "c", "v", "--fields", "emb", "--kind", "vector", "--dims", "4",
        "--metric", "l2",
    ]));
    run_ok(cairn(&prepared).args([
        "index", "create", "c", "t", "--fields", "body", "--kind", "text",
    ]));
    let words = ["alpha beta", "gamma delta", "alpha gamma"];
    let lines: String = (0..DOCS)
        .map(|i| {
            let x = i as f64;
            format!(
                "{{\"_id\": {i}, \"emb\": {{\"$vector\": [{}, {}, {}, 1]}}, \"body\": \"{}\", \"w\": {}}}\n",
                (x * 0.37).sin(),
                (x * 0.11).cos(),
                x / DOCS as f64,
                words[i % 3],
                i % 3
            )
        })
        .collect();
    let file = work.path().join("docs.jsonl");
    std::fs::write(&file, lines).expect("documents file");
    let mut delay_ms = 400u64;
    for attempt in 0..ATTEMPTS {
        let dir = work.path().join(format!("attempt-{attempt}"));
        copy_dir(&prepared, &dir);
        let mut child = cairn(&dir)
            .args(["import", "c", "--batch", "200"])
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawning cairn");
        std::thread::sleep(Duration::from_millis(delay_ms));
        // Killing a process that already exited is harmless; `wait` reaps it either way.
        let _ = child.kill();
        let _ = child.wait();
        let count = stored(&dir);
        if count == 0 {
            delay_ms += delay_ms / 2 + 50;
            continue;
        }
        if count == DOCS as u64 {
            delay_ms = delay_ms * 2 / 3;
            continue;
        }
        // Killed mid-import: whole batches only (each one transaction), and both indexes
        // equal their documents.
        assert_eq!(count % 200, 0, "{count} documents: a batch was torn");
        assert_check_passes(&dir);
        let alpha = run_ok(cairn(&dir).args([
            "query",
            "c",
            r#"{"$text": {"query": "alpha", "k": 10000}}"#,
        ]));
        let expected = run_ok(cairn(&dir).args(["query", "c", r#"{"w": {"$in": [0, 2]}}"#]));
        assert_eq!(alpha.lines().count(), expected.lines().count());
        let near = run_ok(cairn(&dir).args([
            "query",
            "c",
            r#"{"emb": {"$nearVector": {"vector": [0, 1, 0, 1], "k": 5}}}"#,
        ]));
        let exact = run_ok(cairn(&dir).args([
            "query",
            "c",
            r#"{"emb": {"$nearVector": {"vector": [0, 1, 0, 1], "k": 5, "exact": true}}}"#,
        ]));
        assert_eq!(near.lines().count(), 5.min(count as usize));
        assert_eq!(exact.lines().count(), 5.min(count as usize));
        return;
    }
    panic!("no kill landed mid-import in {ATTEMPTS} attempts (last delay {delay_ms} ms)");
}
