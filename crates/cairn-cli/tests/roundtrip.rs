//! `cairn export` and `cairn import` round-trip every value type, and `cairn stats` reports
//! what was stored.

use std::path::Path;
use std::process::{Command, Output};

fn cairn(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn"))
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .expect("run cairn")
}

fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "cairn failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

const DOCS: &str = r#"{"_id":1,"s":"text with \"quotes\" and ünïcode","i":-9223372036854775808,"f":1.5,"t":true,"n":null}
{"_id":"two","nested":{"a":[1,2.25,{"b":[]}],"e":{}},"when":{"$date":"2024-05-01T10:30:00.123456Z"}}
{"_id":{"$uuid":"0190c3c0-0000-7000-8000-000000000001"},"raw":{"$bytes":"AAEC/w=="},"emb":{"$vector":[0.5,-1.0,2.25]}}
"#;

#[test]
fn export_then_import_reproduces_every_document_exactly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (source, copy) = (dir.path().join("source"), dir.path().join("copy"));
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, DOCS).expect("write input");
    ok(cairn(
        &source,
        &["import", "things", input.to_str().expect("path")],
    ));
    let exported = ok(cairn(&source, &["export", "things"]));
    let file = dir.path().join("out.jsonl");
    std::fs::write(&file, &exported).expect("write export");
    ok(cairn(
        &copy,
        &["import", "things", file.to_str().expect("path")],
    ));
    let again = ok(cairn(&copy, &["export", "things"]));
    assert_eq!(exported, again);
    // Exported in _id order (ints < strings < uuids), with every type preserved.
    let mut expected: Vec<&str> = DOCS.lines().collect();
    expected.sort_by_key(|line| match line {
        l if l.starts_with(r#"{"_id":1"#) => 0,
        l if l.starts_with(r#"{"_id":"two""#) => 1,
        _ => 2,
    });
    assert_eq!(exported.lines().collect::<Vec<_>>(), expected);
}

#[test]
fn stats_reports_documents_and_the_storage_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("db");
    ok(cairn(
        &data,
        &["--mode", "memory-first", "collection", "create", "a"],
    ));
    ok(cairn(&data, &["insert", "a", r#"{"x": 1}"#]));
    ok(cairn(&data, &["insert", "a", r#"{"x": 2}"#]));
    let stats = ok(cairn(&data, &["stats"]));
    assert!(stats.contains("storage mode: memory-first"), "{stats}");
    let row = stats
        .lines()
        .find(|line| line.starts_with("a "))
        .expect("a row for collection a");
    assert_eq!(row.split_whitespace().nth(1), Some("2"), "{row}");
}

#[test]
fn collection_commands_create_list_rename_and_drop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("db");
    ok(cairn(&data, &["collection", "create", "a"]));
    ok(cairn(&data, &["collection", "create", "b"]));
    ok(cairn(&data, &["collection", "rename", "a", "c"]));
    assert_eq!(ok(cairn(&data, &["collection", "list"])), "b\nc\n");
    ok(cairn(&data, &["collection", "drop", "b"]));
    assert_eq!(ok(cairn(&data, &["collection", "list"])), "c\n");
    let clash = cairn(&data, &["collection", "create", "c"]);
    assert!(!clash.status.success());
    assert!(String::from_utf8_lossy(&clash.stderr).contains("already exists"));
}
