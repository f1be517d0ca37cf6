//! `cairn collection create --edges`, `cairn collection register-vertices`, what `cairn check`
//! says about edge collections, and `cairn traverse` / `cairn path`, end to end.

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

#[test]
fn traverse_and_path_walk_edges_from_the_command_line() {
    let work = tempfile::tempdir().expect("temporary directory");
    let dir = work.path();
    run_ok(cairn(dir).args(["collection", "create", "p"]));
    for id in 1..=4 {
        run_ok(cairn(dir).args(["insert", "p", &format!(r#"{{"_id": {id}}}"#)]));
    }
    run_ok(cairn(dir).args(["collection", "create", "e", "--edges", "--vertices", "p"]));
    for (from, to, w, active) in [
        (1, 2, 5, true),
        (2, 3, 1, true),
        (1, 3, 9, false),
        (3, 4, 1, true),
    ] {
        run_ok(cairn(dir).args([
            "insert",
            "e",
            &format!(r#"{{"_from": "p/{from}", "_to": "p/{to}", "w": {w}, "active": {active}}}"#),
        ]));
    }
    let out = run_ok(cairn(dir).args(["traverse", "p/1", "--edges", "e", "--max-depth", "2"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            r#"{"depth":1,"vertex":"p/2"}"#,
            r#"{"depth":1,"vertex":"p/3"}"#,
            r#"{"depth":2,"vertex":"p/4"}"#
        ],
        "{out}"
    );
    let out = run_ok(cairn(dir).args([
        "traverse",
        "p/1",
        "--edges",
        "e",
        "--max-depth",
        "3",
        "--edge-filter",
        r#"{"active": true}"#,
        "--returns",
        "paths",
        "--limit",
        "2",
    ]));
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.contains(r#""vertices":["p/1","p/2","p/3"]"#), "{out}");
    let out = run_ok(cairn(dir).args(["path", "p/1", "p/4", "--edges", "e"]));
    assert!(out.contains(r#""weight":2.0"#), "{out}");
    let out = run_ok(cairn(dir).args(["path", "p/1", "p/4", "--edges", "e", "--weight", "w"]));
    assert!(
        out.contains(r#""vertices":["p/1","p/2","p/3","p/4"]"#) && out.contains(r#""weight":7.0"#),
        "{out}"
    );
    let (_, err) = run_err(cairn(dir).args(["path", "p/4", "p/1", "--edges", "e"]));
    assert!(err.contains("no path"), "{err}");
    let (_, err) =
        run_err(cairn(dir).args(["traverse", "p/1", "--edges", "e", "--max-depth", "65"]));
    assert!(err.contains("limit is 64"), "{err}");
    let (_, err) = run_err(cairn(dir).args(["traverse", "p/1", "--edges", "p"]));
    assert!(err.contains("not an edge collection"), "{err}");

    // `--explain`: the plan and counters; an edge collection storing `w` and `active` answers
    // the edge filter and the weight without reading edge documents.
    let out = run_ok(cairn(dir).args([
        "traverse",
        "p/1",
        "--edges",
        "e",
        "--max-depth",
        "3",
        "--edge-filter",
        r#"{"active": true}"#,
        "--explain",
    ]));
    assert!(out.contains("edge filter reads edge documents"), "{out}");
    assert!(out.contains(r#""returned":3"#), "{out}");
    run_ok(cairn(dir).args([
        "collection",
        "create",
        "s",
        "--edges",
        "--vertices",
        "p",
        "--store-properties",
        "w,active",
    ]));
    for (from, to, w, active) in [(1, 2, 5, true), (2, 3, 1, true), (1, 3, 9, false)] {
        run_ok(cairn(dir).args([
            "insert",
            "s",
            &format!(r#"{{"_from": "p/{from}", "_to": "p/{to}", "w": {w}, "active": {active}}}"#),
        ]));
    }
    let out = run_ok(cairn(dir).args([
        "path",
        "p/1",
        "p/3",
        "--edges",
        "s",
        "--weight",
        "w",
        "--explain",
    ]));
    assert!(out.contains("weight `w` stored in the adjacency"), "{out}");
    assert!(out.contains(r#""edge_documents_read":0"#), "{out}");
    let out = run_ok(cairn(dir).args([
        "traverse",
        "p/1",
        "--edges",
        "s",
        "--edge-filter",
        r#"{"active": true}"#,
        "--explain",
    ]));
    assert!(out.contains("edge filter on stored properties"), "{out}");
    assert!(out.contains(r#""edge_documents_read":0"#), "{out}");
    let out = run_ok(cairn(dir).args([
        "aggregate",
        "p",
        r#"[{"$match": {"_id": 1}}, {"$graphLookup": {"from": "s", "startWith": "p/1", "connectFromField": "_to", "connectToField": "_from", "as": "r"}}]"#,
        "--explain",
    ]));
    assert!(out.contains("adjacency out (_from)"), "{out}");
    let out = run_ok(cairn(dir).args(["check"]));
    assert!(
        out.contains("2 edge collections match their adjacency"),
        "{out}"
    );
}
