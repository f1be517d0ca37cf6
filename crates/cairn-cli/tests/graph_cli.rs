//! `cairn collection create --edges`, `cairn collection register-vertices` and what
//! `cairn check` says about edge collections, end to end.

mod support;

use support::{cairn, run_err, run_ok};

#[test]
fn edge_collections_are_created_enforced_and_checked_from_the_command_line() {
    let work = tempfile::tempdir().expect("temporary directory");
    let dir = work.path();
    for coll in ["patients", "admissions", "events"] {
        run_ok(cairn(dir).args(["collection", "create", coll]));
        run_ok(cairn(dir).args(["insert", coll, r#"{"_id": 1}"#]));
    }
    let out = run_ok(cairn(dir).args([
        "collection",
        "create",
        "admitted",
        "--edges",
        "--on-delete",
        "restrict",
        "--vertices",
        "patients,admissions",
    ]));
    assert!(out.contains("on vertex delete: restrict"), "{out}");
    run_ok(cairn(dir).args([
        "insert",
        "admitted",
        r#"{"_from": "patients/1", "_to": {"collection": "admissions", "id": 1}, "weight": 2}"#,
    ]));
    let (_, err) = run_err(cairn(dir).args(["insert", "admitted", r#"{"_to": "patients/1"}"#]));
    assert!(err.contains("`_from`"), "{err}");
    let (_, err) = run_err(cairn(dir).args([
        "insert",
        "admitted",
        r#"{"_from": "patients/1", "_to": "events/1"}"#,
    ]));
    assert!(err.contains("not registered"), "{err}");
    run_ok(cairn(dir).args(["collection", "register-vertices", "admitted", "events"]));
    run_ok(cairn(dir).args([
        "insert",
        "admitted",
        r#"{"_from": "patients/1", "_to": "events/1"}"#,
    ]));
    let (_, err) = run_err(cairn(dir).args(["delete", "patients", "1"]));
    assert!(err.contains("restrict"), "{err}");
    let out = run_ok(cairn(dir).args(["check"]));
    assert!(
        out.contains("1 edge collections match their adjacency"),
        "{out}"
    );

    run_ok(cairn(dir).args([
        "collection",
        "create",
        "links",
        "--edges",
        "--on-delete",
        "none",
    ]));
    run_ok(cairn(dir).args([
        "insert",
        "links",
        r#"{"_from": "patients/1", "_to": "ghosts/9"}"#,
    ]));
    let out = run_ok(cairn(dir).args(["check"]));
    assert!(
        out.contains("note: `links`") && out.contains("ghosts/9"),
        "{out}"
    );
    let (_, err) = run_err(cairn(dir).args(["collection", "create", "x", "--on-delete", "none"]));
    assert!(err.contains("--edges"), "{err}");
}
