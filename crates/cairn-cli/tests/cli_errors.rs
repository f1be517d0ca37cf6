//! How the `cairn` binary fails: a non-zero exit, a message that names what was wrong (the
//! line, the collection, the id), and no partial effects: a batch that fails is stored not at
//! all, while batches committed before it stay.

mod support;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use support::{cairn, run_err, run_ok};

const COLLECTION: &str = "c";

/// Writes `lines` as a JSONL file in `dir`.
fn jsonl_file(dir: &Path, lines: &[String]) -> std::path::PathBuf {
    let path = dir.join("input.jsonl");
    let mut file = std::fs::File::create(&path).expect("creating the JSONL file");
    for line in lines {
        writeln!(file, "{line}").expect("writing the JSONL file");
    }
    path
}

fn doc(id: i64) -> String {
    format!(r#"{{"_id": {id}, "value": "document {id}"}}"#)
}

/// Integer ids of the collection's documents.
fn stored_ids(dir: &Path) -> BTreeSet<i64> {
    support::export(dir, &[], COLLECTION)
        .iter()
        .map(|doc| doc["_id"].as_i64().expect("integer ids"))
        .collect()
}

#[test]
fn import_stops_at_a_malformed_line_naming_it_and_keeps_only_the_batches_before_it() {
    let work = tempfile::tempdir().expect("temporary directory");
    let db = work.path().join("db");
    let mut lines: Vec<String> = (1..=2500).map(doc).collect();
    lines[1233] = r#"{"_id": 1234, "value": "cut short"#.to_string();
    let file = jsonl_file(work.path(), &lines);

    // Batches of 1,000 (the default): lines 1-1000 commit, line 1234 is in the second batch.
    let (_, stderr) = run_err(cairn(&db).args(["import", COLLECTION]).arg(&file));
    assert!(
        stderr.contains("line 1234"),
        "stderr should name line 1234: {stderr}"
    );
    assert_eq!(
        stored_ids(&db),
        (1..=1000).collect(),
        "exactly the first batch is stored"
    );
}

#[test]
fn import_batch_rejected_by_the_engine_is_stored_not_at_all() {
    let work = tempfile::tempdir().expect("temporary directory");
    let db = work.path().join("db");
    // Line 250 repeats the id of line 10: the third batch of 100 fails as a whole when it commits.
    let mut lines: Vec<String> = (1..=300).map(doc).collect();
    lines[249] = doc(10);
    let file = jsonl_file(work.path(), &lines);

    let (_, stderr) = run_err(
        cairn(&db)
            .args(["import", COLLECTION, "--batch", "100"])
            .arg(&file),
    );
    assert!(
        stderr.contains("line 250"),
        "stderr should name line 250: {stderr}"
    );
    assert!(
        stderr.contains("already exists"),
        "stderr should say why: {stderr}"
    );
    assert_eq!(
        stored_ids(&db),
        (1..=200).collect(),
        "batches 1 and 2 stored, batch 3 not at all"
    );
}

#[test]
fn insert_stream_stops_at_a_malformed_line_after_acknowledging_earlier_batches() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = dir.path();
    run_ok(cairn(db).args(["collection", "create", COLLECTION]));
    let mut input: String = (1..=25).map(|id| doc(id) + "\n").collect();
    input = input.replace(&doc(17), "not json at all");

    let mut child = cairn(db)
        .args(["insert", COLLECTION, "--batch", "10"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning cairn insert");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    stdin.write_all(input.as_bytes()).expect("writing stdin");
    drop(stdin);
    let output = child.wait_with_output().expect("waiting for cairn insert");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert!(
        !output.status.success(),
        "a malformed line must fail the command"
    );
    assert!(
        stderr.contains("line 17"),
        "stderr should name line 17: {stderr}"
    );
    let acked: Vec<i64> = stdout
        .lines()
        .map(|line| line.parse().expect("acknowledgements are ids"))
        .collect();
    assert_eq!(
        acked,
        (1..=10).collect::<Vec<_>>(),
        "only the first batch is acknowledged"
    );
    assert_eq!(
        stored_ids(db),
        (1..=10).collect(),
        "only the first batch is stored"
    );
}

#[test]
fn commands_on_an_unknown_collection_fail_naming_it() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = dir.path();
    run_ok(cairn(db).args(["collection", "create", COLLECTION]));
    let commands: [&[&str]; 6] = [
        &["insert", "nope", r#"{"a": 1}"#],
        &["get", "nope", "1"],
        &["update", "nope", "1", r#"{"$set": {"a": 2}}"#],
        &["delete", "nope", "1"],
        &["export", "nope"],
        &["collection", "drop", "nope"],
    ];
    for args in commands {
        let (stdout, stderr) = run_err(cairn(db).args(args));
        assert!(
            stderr.contains("`nope`"),
            "{args:?}: stderr should name `nope`: {stderr}"
        );
        assert_eq!(stdout, "", "{args:?} printed output despite failing");
    }
    // The stream form fails the same way, and acknowledges nothing.
    let mut child = cairn(db)
        .args(["insert", "nope"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning cairn insert");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    stdin.write_all(b"{\"a\": 1}\n").expect("writing stdin");
    drop(stdin);
    let output = child.wait_with_output().expect("waiting for cairn insert");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "insert into `nope` from stdin succeeded"
    );
    assert!(
        stderr.contains("`nope`"),
        "stderr should name `nope`: {stderr}"
    );
    assert!(output.stdout.is_empty(), "nothing may be acknowledged");
    let collections = run_ok(cairn(db).args(["collection", "list"]));
    assert_eq!(
        collections.lines().collect::<Vec<_>>(),
        [COLLECTION],
        "no collection was created"
    );
}

#[test]
fn get_and_delete_of_a_missing_id_fail_naming_it() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = dir.path();
    run_ok(cairn(db).args(["collection", "create", COLLECTION]));
    run_ok(cairn(db).args(["insert", COLLECTION, &doc(1)]));

    for args in [["get", COLLECTION, "999"], ["delete", COLLECTION, "999"]] {
        let (stdout, stderr) = run_err(cairn(db).args(args));
        assert!(
            stderr.contains("`999`"),
            "{args:?}: stderr should name the id: {stderr}"
        );
        assert_eq!(stdout, "", "{args:?} printed output despite failing");
    }
    // The present document is untouched, and a string id is not the integer id.
    let found = run_ok(cairn(db).args(["get", COLLECTION, "1"]));
    let found: serde_json::Value = serde_json::from_str(&found).expect("get prints JSON");
    assert_eq!(found["value"], "document 1");
    run_err(cairn(db).args(["get", COLLECTION, "\"1\""]));
}

#[test]
fn check_fails_where_there_is_no_database() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let missing = dir.path().join("missing");
    let (_, stderr) = run_err(cairn(&missing).arg("check"));
    assert!(stderr.contains("no database"), "stderr: {stderr}");
    assert!(!missing.exists(), "check must not create a database");
}
