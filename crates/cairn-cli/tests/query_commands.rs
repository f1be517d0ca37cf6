//! `cairn index | query | count | explain | aggregate` through the real binary.

mod support;

use support::{cairn, run_err, run_ok};

fn lines(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

#[test]
fn index_query_count_explain_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("db");
    run_ok(cairn(&data).args(["collection", "create", "p"]));
    let docs: String = (0..200)
        .map(|i| {
            format!(
                "{{\"_id\": {i}, \"age\": {}, \"city\": \"c{}\", \"contact\": {{\"email\": \"u{i}@x\"}}}}\n",
                i % 50,
                i % 4
            )
        })
        .collect();
    let file = dir.path().join("p.jsonl");
    std::fs::write(&file, docs).unwrap();
    run_ok(cairn(&data).args(["import", "p"]).arg(&file));
    run_ok(cairn(&data).args(["index", "create", "p", "by_age", "--fields", "age"]));
    run_ok(cairn(&data).args([
        "index",
        "create",
        "p",
        "email",
        "--fields",
        "contact.email",
        "--unique",
        "--kind",
        "hash",
    ]));
    let listed = run_ok(cairn(&data).args(["index", "list", "p"]));
    assert!(
        listed.contains("by_age") && listed.contains("email") && listed.contains("ready"),
        "{listed}"
    );

    let out = run_ok(cairn(&data).args([
        "query",
        "p",
        r#"{"age": {"$gte": 48}}"#,
        "--sort",
        r#"{"age": -1, "_id": 1}"#,
        "--project",
        r#"{"age": 1, "_id": 0}"#,
    ]));
    let docs = lines(&out);
    assert_eq!(docs.len(), 8);
    assert_eq!(docs[0], serde_json::json!({"age": 49}));
    assert_eq!(docs[7], serde_json::json!({"age": 48}));

    let count = run_ok(cairn(&data).args(["count", "p", r#"{"city": "c1"}"#]));
    assert_eq!(count.trim(), "50");

    let explained = run_ok(cairn(&data).args(["explain", "p", r#"{"age": 7}"#]));
    let plan: serde_json::Value = serde_json::from_str(explained.trim()).unwrap();
    assert!(
        plan["chosen"]["plan"].as_str().unwrap().contains("by_age"),
        "{plan}"
    );
    assert_eq!(plan["executed"]["returned"], 4);
    assert!(plan["considered"].as_array().unwrap().len() >= 2);

    let (_, err) = run_err(cairn(&data).args(["insert", "p", r#"{"contact": {"email": "u3@x"}}"#]));
    assert!(
        err.contains("unique index `email`") && err.contains("u3@x") && err.contains("`3`"),
        "{err}"
    );
    let (_, err) = run_err(cairn(&data).args(["query", "p", r#"{"age": {"$bogus": 1}}"#]));
    assert!(err.contains("age.$bogus"), "{err}");
    let (_, err) = run_err(cairn(&data).args(["query", "nope", "{}"]));
    assert!(err.contains("nope"), "{err}");

    // Paging: a limited query prints the cursor; following it continues exactly.
    let first = cairn(&data)
        .args([
            "query",
            "p",
            "{}",
            "--sort",
            r#"{"age": 1}"#,
            "--limit",
            "150",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&first.stderr);
    let cursor = stderr
        .split("--after ")
        .nth(1)
        .expect("a cursor")
        .trim()
        .to_string();
    let rest = run_ok(cairn(&data).args([
        "query",
        "p",
        "{}",
        "--sort",
        r#"{"age": 1}"#,
        "--after",
        &cursor,
    ]));
    assert_eq!(lines(&rest).len(), 50);

    run_ok(cairn(&data).args(["index", "drop", "p", "by_age"]));
    let listed = run_ok(cairn(&data).args(["index", "list", "p"]));
    assert!(!listed.contains("by_age"), "{listed}");
}
