//! `cairn schema set | show | migrate` through the real binary, including a migration killed
//! with SIGKILL mid-way that resumes and finishes.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use support::{cairn, run_err, run_ok, SIGKILL};

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("writing a file");
    path
}

fn load(db: &Path, dir: &Path, count: usize) {
    let lines: Vec<String> = (0..count)
        .map(|i| format!(r#"{{"_id": {i}, "a": {i}}}"#))
        .collect();
    let file = write(dir, "docs.jsonl", &(lines.join("\n") + "\n"));
    run_ok(cairn(db).args(["import", "c"]).arg(&file));
}

#[test]
fn set_show_history_and_refused_changes() {
    let work = tempfile::tempdir().expect("temporary directory");
    let db = work.path().join("db");
    load(&db, work.path(), 3);
    let v1 = write(
        work.path(),
        "v1.yaml",
        "fields:\n  a: {type: int, min: 0}\n",
    );
    assert!(run_ok(cairn(&db).args(["schema", "set", "c"]).arg(&v1)).contains("version 1"));
    let shown = run_ok(cairn(&db).args(["schema", "show", "c"]));
    assert!(
        shown.contains(r#""min":0"#) || shown.contains(r#""min": 0"#),
        "{shown}"
    );
    let (_, stderr) = run_err(cairn(&db).args(["insert", "c", r#"{"a": -1}"#]));
    assert!(stderr.contains("violates the schema at `a`"), "{stderr}");
    let tighter = write(
        work.path(),
        "v2.json",
        r#"{"fields": {"a": {"type": "int", "min": 1}}}"#,
    );
    let (_, stderr) = run_err(cairn(&db).args(["schema", "set", "c"]).arg(&tighter));
    assert!(stderr.contains("needs a migration"), "{stderr}");
    let looser = write(
        work.path(),
        "v2b.json",
        r#"{"fields": {"a": {"type": "float"}, "b": "string"}}"#,
    );
    run_ok(cairn(&db).args(["schema", "set", "c"]).arg(&looser));
    let history = run_ok(cairn(&db).args(["schema", "show", "c", "--history"]));
    assert!(
        history.contains("version 1")
            && history.contains("version 2")
            && history.contains("added field `b`"),
        "{history}"
    );
}

#[test]
fn a_migration_killed_by_sigkill_resumes_and_finishes() {
    let work = tempfile::tempdir().expect("temporary directory");
    let db = work.path().join("db");
    const DOCS: usize = 400;
    load(&db, work.path(), DOCS);
    let v1 = write(work.path(), "v1.json", r#"{"fields": {"a": "int"}}"#);
    run_ok(cairn(&db).args(["schema", "set", "c"]).arg(&v1));
    let migration = write(
        work.path(),
        "m.yaml",
        "schema:\n  additional_fields: reject\n  fields:\n    b: {type: int, required: true}\n    twice: int\ntransform:\n  - rename: {from: a, to: b}\n  - set: {field: twice, to: \"b * 2\"}\n",
    );
    let dry = run_ok(
        cairn(&db)
            .args(["schema", "migrate", "c"])
            .arg(&migration)
            .arg("--dry-run"),
    );
    assert!(
        dry.starts_with(&format!("0 of {DOCS} documents would fail")),
        "{dry}"
    );

    let mut child = cairn(&db)
        .args([
            "schema",
            "migrate",
            "c",
            "--chunk-size",
            "5",
            "--pause-ms",
            "20",
        ])
        .arg(&migration)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawning the migration");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let mut progressed = 0;
    while progressed < 10 {
        match lines.next() {
            Some(Ok(line)) if line.starts_with("progress:") => progressed += 1,
            Some(Ok(_)) => {}
            _ => panic!("the migration ended before it could be killed"),
        }
    }
    // SIGKILL: no destructor, no flush beyond what each committed chunk already made durable.
    let status = support::sigkill(&mut child);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(SIGKILL)
    );

    let shown = cairn(&db)
        .args(["schema", "show", "c"])
        .output()
        .expect("show");
    let state = String::from_utf8_lossy(&shown.stderr);
    assert!(state.contains("migration in progress"), "{state}");
    let (_, stderr) = run_err(cairn(&db).args(["schema", "set", "c"]).arg(&v1));
    assert!(stderr.contains("in progress"), "{stderr}");

    let out = run_ok(cairn(&db).args(["schema", "migrate", "c", "--resume"]));
    assert!(out.contains("resumed and finished"), "{out}");
    let export = run_ok(cairn(&db).args(["export", "c"]));
    let mut count = 0;
    for line in export.lines() {
        let doc: serde_json::Value = serde_json::from_str(line).expect("export is JSON lines");
        let id = doc["_id"].as_i64().expect("int id");
        assert_eq!(doc["b"].as_i64(), Some(id), "{line}");
        assert_eq!(doc["twice"].as_i64(), Some(2 * id), "{line}");
        assert!(doc.get("a").is_none(), "{line}");
        assert_eq!(doc["_schema_version"].as_i64(), Some(2), "{line}");
        count += 1;
    }
    assert_eq!(count, DOCS);
    support::assert_check_passes(&db);
}
