//! `cairn invariant add | list | drop` and `cairn schema infer [--emit]` end to end.

mod support;

use support::{cairn, run_err, run_ok};

#[test]
fn invariants_are_added_listed_enforced_and_dropped_from_the_command_line() {
    let work = tempfile::tempdir().expect("temporary directory");
    let dir = work.path();
    run_ok(cairn(dir).args(["collection", "create", "ledger"]));
    run_ok(cairn(dir).args([
        "insert",
        "ledger",
        r#"{"_id": 1, "account": "a", "amount": 5}"#,
    ]));
    run_ok(cairn(dir).args([
        "insert",
        "ledger",
        r#"{"_id": 2, "account": "b", "amount": 2}"#,
    ]));
    let out =
        run_ok(cairn(dir).args(["invariant", "add", "ledger", "sum(amount) by account >= 0"]));
    assert!(out.contains("amount_by_account_ge_0"), "{out}");
    let (_, err) = run_err(cairn(dir).args([
        "invariant",
        "add",
        "ledger",
        "amount >= 3",
        "--name",
        "min3",
    ]));
    assert!(
        err.contains("min3") && err.contains("existing document `2`"),
        "{err}"
    );
    let out = run_ok(cairn(dir).args(["invariant", "list", "ledger"]));
    assert!(
        out.contains("2 groups") && out.contains(r#"lowest "b" = 2"#),
        "{out}"
    );
    let (_, err) = run_err(cairn(dir).args([
        "insert",
        "ledger",
        r#"{"_id": 3, "account": "b", "amount": -3}"#,
    ]));
    assert!(err.contains("would sum amount to -1"), "{err}");
    run_ok(cairn(dir).args(["invariant", "drop", "ledger", "amount_by_account_ge_0"]));
    run_ok(cairn(dir).args([
        "insert",
        "ledger",
        r#"{"_id": 3, "account": "b", "amount": -3}"#,
    ]));
    let out = run_ok(cairn(dir).args(["invariant", "list", "ledger"]));
    assert!(out.contains("no invariants"), "{out}");
}

#[test]
fn schema_infer_shows_counts_and_emits_a_schema_document() {
    let work = tempfile::tempdir().expect("temporary directory");
    let dir = work.path();
    run_ok(cairn(dir).args(["collection", "create", "people"]));
    run_ok(cairn(dir).args(["insert", "people", r#"{"_id": 1, "name": "a", "age": 3}"#]));
    run_ok(cairn(dir).args([
        "insert",
        "people",
        r#"{"_id": 2, "name": "b", "age": 4.5, "tags": ["x"]}"#,
    ]));
    let out = run_ok(cairn(dir).args(["schema", "infer", "people"]));
    assert!(out.contains("2 documents"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("age") && l.contains("float 1, int 1")),
        "{out}"
    );
    run_ok(cairn(dir).args(["delete", "people", "2"]));
    let out = run_ok(cairn(dir).args(["schema", "infer", "people", "--emit"]));
    let emitted: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(
        emitted,
        serde_json::json!({"fields": {
            "age": {"type": "int", "required": true},
            "name": {"type": "string", "required": true}}})
    );
}
