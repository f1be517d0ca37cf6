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
    ok(cairn(&data, &["insert", "b", r#"{"_id": 1}"#]));
    ok(cairn(&data, &["collection", "rename", "a", "c"]));
    assert_eq!(ok(cairn(&data, &["collection", "list"])), "b\nc\n");
    ok(cairn(&data, &["collection", "drop", "b"]));
    assert_eq!(ok(cairn(&data, &["collection", "list"])), "c\n");
    let clash = cairn(&data, &["collection", "create", "c"]);
    assert!(!clash.status.success());
    assert!(String::from_utf8_lossy(&clash.stderr).contains("already exists"));
    // The dropped documents' routing entries went with them: the database checks clean.
    ok(cairn(&data, &["check"]));
    assert!(err(cairn(&data, &["locate", "1"])).contains("no collection holds"));
}

#[test]
fn a_collection_created_without_routing_is_located_by_key_and_checks_clean() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("db");
    ok(cairn(&data, &["collection", "create", "routed"]));
    let created = ok(cairn(
        &data,
        &["collection", "create", "quick", "--no-routing"],
    ));
    assert_eq!(created, "created collection `quick` (no routing index)\n");
    for collection in ["routed", "quick"] {
        ok(cairn(&data, &["insert", collection, r#"{"_id": 1}"#]));
    }
    ok(cairn(&data, &["insert", "quick", r#"{"_id": 2}"#]));
    // Both found; stderr says which collections were searched by primary key.
    let found = cairn(&data, &["locate", "1"]);
    assert_eq!(ok(found.clone()), "quick\nrouted\n");
    let note = String::from_utf8_lossy(&found.stderr);
    assert!(
        note.contains(
            "1 collection(s) keep no routing index and were searched by primary key: quick"
        ),
        "{note}"
    );
    assert_eq!(ok(cairn(&data, &["locate", "2"])), "quick\n");
    let missing = err(cairn(&data, &["locate", "3"]));
    assert!(
        missing.contains("searched by primary key: quick"),
        "{missing}"
    );
    assert!(missing.contains("no collection holds"), "{missing}");
    ok(cairn(&data, &["check"]));
    ok(cairn(&data, &["collection", "drop", "quick"]));
    ok(cairn(&data, &["check"]));
    assert_eq!(ok(cairn(&data, &["locate", "1"])), "routed\n");
    // Edge and time-series collections keep routing (their crates create them).
    let refused = err(cairn(
        &data,
        &["collection", "create", "e", "--edges", "--no-routing"],
    ));
    assert!(refused.contains("--no-routing"), "{refused}");
}

fn err(output: Output) -> String {
    assert!(!output.status.success(), "cairn unexpectedly succeeded");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// What `mongoexport --jsonArray` writes for three documents, the second with an error.
const MONGO_ARRAY: &str = r#"[{"_id":{"$oid":"5f1d7a3b9c8e4f2a1b3c4d5e"},"when":{"$date":{"$numberLong":"1600000000000"}},"n":{"$numberLong":"5"}},
{"_id":{"$oid":"5f1d7a3b9c8e4f2a1b3c4d5f"},"bad":{"$numberDouble":"NaN"}},
{"_id":{"$oid":"5f1d7a3b9c8e4f2a1b3c4d60"},"when":{"$date":1600000000000},"raw":{"$binary":{"base64":"aGk=","subType":"00"}}}
]"#;

#[test]
fn mongo_exports_import_with_milliseconds_dates_and_bad_lines_skipped_to_a_rejects_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let input = dir.path().join("mongo.json");
    let rejects = dir.path().join("rejects.jsonl");
    std::fs::write(&input, MONGO_ARRAY).expect("write input");
    let path = input.to_str().expect("path");
    // Without --skip-errors the bad line stops the import and says what was committed.
    let stderr = err(cairn(&data, &["import", "m", path, "--batch", "1"]));
    assert!(stderr.contains("line 2"), "{stderr}");
    assert!(stderr.contains("--resume-from 2"), "{stderr}");
    // Resuming past it with one skip allowed finishes the rest.
    let stdout = ok(cairn(
        &data,
        &[
            "import",
            "m",
            path,
            "--resume-from",
            "2",
            "--skip-errors",
            "1",
            "--rejects",
            rejects.to_str().expect("path"),
        ],
    ));
    assert!(stdout.contains("imported 1 documents"), "{stdout}");
    assert!(stdout.contains("skipped 1 bad lines"), "{stdout}");
    let rejected = std::fs::read_to_string(&rejects).expect("rejects file");
    assert!(rejected.contains("NaN"), "{rejected}");
    let exported = ok(cairn(&data, &["export", "m"]));
    // Integer $date is milliseconds (2020-09-13), not microseconds (1970-01-19).
    assert_eq!(
        exported.matches("2020-09-13T12:26:40.000000Z").count(),
        2,
        "{exported}"
    );
    assert!(exported.contains(r#""_id":"5f1d7a3b9c8e4f2a1b3c4d5e""#));
    assert!(exported.contains(r#""n":5"#));
    let mongo = ok(cairn(&data, &["export", "m", "--format", "mongo"]));
    assert!(
        mongo.contains(r#"{"$binary":{"base64":"aGk=","subType":"00"}}"#),
        "{mongo}"
    );
    assert!(
        mongo.contains(r#"{"$date":"2020-09-13T12:26:40.000Z"}"#),
        "{mongo}"
    );
}

#[test]
fn upsert_makes_a_repeated_import_replace_instead_of_fail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, "{\"_id\":1,\"v\":1}\n{\"_id\":2,\"v\":2}\n").expect("write");
    let path = input.to_str().expect("path");
    ok(cairn(&data, &["import", "c", path]));
    let stderr = err(cairn(&data, &["import", "c", path]));
    assert!(
        stderr.contains("line 1") && stderr.contains("already exists"),
        "{stderr}"
    );
    std::fs::write(&input, "{\"_id\":1,\"v\":10}\n{\"_id\":3,\"v\":3}\n").expect("write");
    ok(cairn(&data, &["import", "c", path, "--upsert"]));
    let exported = ok(cairn(&data, &["export", "c"]));
    assert_eq!(
        exported.lines().collect::<Vec<_>>(),
        [
            r#"{"_id":1,"v":10}"#,
            r#"{"_id":2,"v":2}"#,
            r#"{"_id":3,"v":3}"#
        ]
    );
}

#[test]
fn a_closed_output_pipe_ends_a_command_quietly() {
    use std::io::Read;
    use std::process::Stdio;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let input = dir.path().join("in.jsonl");
    let lines: String = (0..5_000).map(|i| format!("{{\"i\":{i}}}\n")).collect();
    std::fs::write(&input, lines).expect("write");
    ok(cairn(
        &data,
        &["import", "c", input.to_str().expect("path")],
    ));
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .arg("--data")
        .arg(&data)
        .args(["query", "c", "{}", "--limit", "5000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut first = [0u8; 16];
    child
        .stdout
        .take()
        .expect("stdout")
        .read_exact(&mut first)
        .expect("read");
    // The pipe is closed now (its read end dropped), like `| head -c 16`: the command ends
    // without a panic (exit 101) or an error message, as `grep` does.
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.is_empty(), "{stderr}");
    assert_ne!(output.status.code(), Some(101), "{stderr}");
}

#[test]
fn csv_exports_with_a_header_and_imports_back_with_types_and_nesting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let input = dir.path().join("in.jsonl");
    std::fs::write(
        &input,
        "{\"_id\":1,\"name\":\"Ada; L.\",\"ward\":{\"floor\":3},\"score\":2.5,\"ok\":true}\n{\"_id\":2,\"name\":\"Grace\"}\n",
    )
    .expect("write");
    ok(cairn(
        &data,
        &["import", "c", input.to_str().expect("path")],
    ));
    let csv = dir.path().join("out.csv");
    ok(cairn(
        &data,
        &[
            "export",
            "c",
            csv.to_str().expect("path"),
            "--format",
            "csv",
            "--delimiter",
            ";",
        ],
    ));
    let text = std::fs::read_to_string(&csv).expect("csv");
    assert_eq!(
        text,
        "_id;name;ward.floor;score;ok\n1;\"Ada; L.\";3;2.5;true\n2;Grace;;;\n"
    );
    ok(cairn(
        &data,
        &[
            "import",
            "d",
            csv.to_str().expect("path"),
            "--format",
            "csv",
            "--delimiter",
            ";",
        ],
    ));
    assert_eq!(
        ok(cairn(&data, &["export", "d"])),
        ok(cairn(&data, &["export", "c"]))
    );
    // A ragged row is named by its line and can be skipped.
    std::fs::write(&csv, "a,b\n1,2\n3\n4,5\n").expect("write");
    let stderr = err(cairn(
        &data,
        &[
            "import",
            "e",
            csv.to_str().expect("path"),
            "--format",
            "csv",
        ],
    ));
    assert!(stderr.contains("line 3"), "{stderr}");
}

#[test]
fn insert_creates_a_missing_collection_only_when_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let stderr = err(cairn(&data, &["insert", "fresh", r#"{"_id": 1}"#]));
    assert!(
        stderr.contains("does not exist") && stderr.contains("--create"),
        "{stderr}"
    );
    assert_eq!(
        ok(cairn(
            &data,
            &["insert", "fresh", r#"{"_id": 1}"#, "--create"]
        )),
        "1\n"
    );
    assert_eq!(
        ok(cairn(
            &data,
            &["insert", "fresh", r#"{"_id": 2}"#, "--create"]
        )),
        "2\n"
    );
}
