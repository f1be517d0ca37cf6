//! `cairn update-many | delete-many` through the real binary: counts, dry runs, atomicity and
//! the document guard.

mod support;

use serde_json::{json, Value as Json};
use support::{cairn, export, run_err, run_ok};

fn report(out: &str) -> Json {
    serde_json::from_str(out.trim()).expect("one JSON report line")
}

/// A database with `jobs`: `_id` 0..10, `state` waiting for even ids, done for odd ones, and a
/// unique index on `slot`.
fn jobs(dir: &std::path::Path) -> std::path::PathBuf {
    let data = dir.join("db");
    run_ok(cairn(&data).args(["collection", "create", "jobs"]));
    let docs: String = (0..10)
        .map(|i| {
            let state = if i % 2 == 0 { "waiting" } else { "done" };
            format!("{{\"_id\": {i}, \"state\": \"{state}\", \"slot\": {i}}}\n")
        })
        .collect();
    let file = dir.join("jobs.jsonl");
    std::fs::write(&file, docs).unwrap();
    run_ok(cairn(&data).args(["import", "jobs"]).arg(&file));
    run_ok(cairn(&data).args([
        "index", "create", "jobs", "slot", "--fields", "slot", "--unique",
    ]));
    data
}

#[test]
fn update_many_reports_counts_and_dry_runs_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = jobs(dir.path());
    let before = export(&data, &[], "jobs");

    let args = [
        "update-many",
        "jobs",
        "--filter",
        r#"{"state": "waiting"}"#,
        "--patch",
        r#"{"$set": {"state": "queued"}}"#,
    ];
    let dry = report(&run_ok(cairn(&data).args(args).arg("--dry-run")));
    assert_eq!(dry, json!({"matched": 5, "changed": 5, "dry_run": true}));
    assert_eq!(export(&data, &[], "jobs"), before);

    let real = report(&run_ok(cairn(&data).args(args)));
    assert_eq!((&real["matched"], &real["changed"]), (&json!(5), &json!(5)));
    assert!(real["seq"].as_u64().is_some(), "{real}");
    let out = run_ok(cairn(&data).args(["count", "jobs", r#"{"state": "queued"}"#]));
    assert_eq!(out.trim(), "5");

    // Nothing left to change: matched, unchanged, no commit.
    let again = report(&run_ok(cairn(&data).args([
        "update-many",
        "jobs",
        "--filter",
        r#"{"state": "queued"}"#,
        "--patch",
        r#"{"$set": {"state": "queued"}}"#,
    ])));
    assert_eq!(again, json!({"matched": 5, "changed": 0, "dry_run": false}));
}

#[test]
fn failures_and_the_guard_leave_the_collection_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let data = jobs(dir.path());
    let before = export(&data, &[], "jobs");

    // Every match takes slot 100: the second one violates the unique index.
    let (_, err) = run_err(cairn(&data).args([
        "update-many",
        "jobs",
        "--filter",
        "{}",
        "--patch",
        r#"{"$set": {"slot": 100}}"#,
    ]));
    assert!(err.contains("unique"), "{err}");
    // `$inc` on a string fails on the first match.
    let (_, err) = run_err(cairn(&data).args([
        "update-many",
        "jobs",
        "--filter",
        "{}",
        "--patch",
        r#"{"$inc": {"state": 1}}"#,
    ]));
    assert!(err.contains("state"), "{err}");
    // More matches than the guard allows.
    let (_, err) = run_err(cairn(&data).args([
        "delete-many",
        "jobs",
        "--filter",
        r#"{"state": "done"}"#,
        "--max-documents",
        "4",
    ]));
    assert!(err.contains("limit of 4"), "{err}");
    assert_eq!(export(&data, &[], "jobs"), before);

    // Malformed input is a clear error too.
    let (_, err) = run_err(cairn(&data).args(["delete-many", "jobs", "--filter", "{"]));
    assert!(err.contains("--filter"), "{err}");
    let (_, err) = run_err(cairn(&data).args(["delete-many", "nope", "--filter", "{}"]));
    assert!(err.contains("nope"), "{err}");

    let dry = report(&run_ok(cairn(&data).args([
        "delete-many",
        "jobs",
        "--filter",
        r#"{"state": "done"}"#,
        "--dry-run",
    ])));
    assert_eq!(dry, json!({"matched": 5, "changed": 5, "dry_run": true}));
    let deleted = report(&run_ok(cairn(&data).args([
        "delete-many",
        "jobs",
        "--filter",
        r#"{"state": "done"}"#,
        "--max-documents",
        "5",
    ])));
    assert_eq!(deleted["changed"], 5);
    let left: Vec<i64> = export(&data, &[], "jobs")
        .iter()
        .map(|d| d["_id"].as_i64().unwrap())
        .collect();
    assert_eq!(left, vec![0, 2, 4, 6, 8]);
}
