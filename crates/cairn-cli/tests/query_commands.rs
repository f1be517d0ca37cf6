//! `cairn index | query | count | explain | aggregate | catalog | tag` through the real binary.

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

/// The last commit's sequence number, as `cairn stats` prints it.
fn last_commit(data: &std::path::Path) -> String {
    let stats = run_ok(cairn(data).arg("stats"));
    stats
        .lines()
        .find_map(|line| line.strip_prefix("last commit:"))
        .map(|seq| seq.trim().to_string())
        .expect("stats prints the last commit")
}

#[test]
fn get_query_and_count_answer_as_of_an_earlier_commit() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("db");
    run_ok(cairn(&data).args(["collection", "create", "t"]));
    run_ok(cairn(&data).args(["insert", "t", r#"{"_id": 1, "v": 1}"#]));
    let then = last_commit(&data);
    run_ok(cairn(&data).args(["update", "t", "1", r#"{"$set": {"v": 2}}"#]));
    run_ok(cairn(&data).args(["insert", "t", r#"{"_id": 2, "v": 5}"#]));

    let old = run_ok(cairn(&data).args(["get", "t", "1", "--as-of", &then]));
    assert_eq!(lines(&old), [serde_json::json!({"_id": 1, "v": 1})]);
    let now = run_ok(cairn(&data).args(["get", "t", "1"]));
    assert_eq!(lines(&now), [serde_json::json!({"_id": 1, "v": 2})]);
    let (_, absent) = run_err(cairn(&data).args(["get", "t", "2", "--as-of", &then]));
    assert!(absent.contains("did not exist"), "{absent}");

    let page = run_ok(cairn(&data).args(["query", "t", "{}", "--as-of", &then]));
    assert_eq!(lines(&page), [serde_json::json!({"_id": 1, "v": 1})]);
    let count =
        run_ok(cairn(&data).args(["count", "t", r#"{"v": {"$gte": 1}}"#, "--as-of", &then]));
    assert_eq!(count.trim(), "1");
    let future = run_ok(cairn(&data).args(["count", "t", "{}", "--as-of", "2999-01-01T00:00:00Z"]));
    assert_eq!(future.trim(), "2");

    let (_, invalid) = run_err(cairn(&data).args(["count", "t", "{}", "--as-of", "yesterday"]));
    assert!(invalid.contains("RFC 3339"), "{invalid}");
    let (_, before) =
        run_err(cairn(&data).args(["count", "t", "{}", "--as-of", "1970-01-01T00:00:00Z"]));
    assert!(before.contains("as of"), "{before}");
}

#[test]
fn catalog_lists_collections_with_columns_and_tags_filter_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("db");
    run_ok(cairn(&data).args(["collection", "create", "runs"]));
    run_ok(cairn(&data).args(["collection", "create", "other"]));
    let file = dir.path().join("runs.jsonl");
    std::fs::write(&file, "{\"_id\": 1, \"loss\": 0.1}\n").unwrap();
    run_ok(cairn(&data).args(["import", "runs"]).arg(&file));
    run_ok(cairn(&data).args(["index", "create", "runs", "by_loss", "--fields", "loss"]));
    let tags = run_ok(cairn(&data).args(["tag", "set", "runs", "alpha=0.55", "model=v2"]));
    assert_eq!(
        lines(&tags),
        [serde_json::json!({"alpha": "0.55", "model": "v2"})]
    );

    let all = lines(&run_ok(cairn(&data).arg("catalog")));
    let names: Vec<&str> = all.iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["other", "runs"]);
    let runs = &all[1];
    assert_eq!(runs["documents"], 1);
    assert_eq!(runs["column_origin"], "inferred");
    assert!(
        runs["columns"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!({"path": "loss", "types": ["float"]})),
        "{runs}"
    );
    assert!(runs["extensions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["name"] == "by_loss"));
    assert_eq!(runs["tags"]["alpha"], "0.55");

    let tagged = lines(&run_ok(cairn(&data).args([
        "catalog",
        "--tag",
        "alpha=0.55",
    ])));
    assert_eq!(tagged.len(), 1);
    assert_eq!(tagged[0]["name"], "runs");
    let none = run_ok(cairn(&data).args(["catalog", "--tag", "alpha=0.56", "--tag", "model=v2"]));
    assert!(none.trim().is_empty(), "{none}");
    let after = run_ok(cairn(&data).args(["tag", "remove", "runs", "alpha"]));
    assert_eq!(lines(&after), [serde_json::json!({"model": "v2"})]);
    let (_, err) = run_err(cairn(&data).args(["catalog", "--tag", "alpha"]));
    assert!(err.contains("KEY=VALUE"), "{err}");
    let (_, err) = run_err(cairn(&data).args(["tag", "set", "missing", "a=b"]));
    assert!(err.contains("missing"), "{err}");

    // The import left its lineage: the file's name, size and SHA-256.
    let lineage = lines(&run_ok(cairn(&data).args(["lineage", "runs"])));
    assert_eq!(lineage.len(), 1, "{lineage:?}");
    let sha256: String = {
        use sha2::{Digest, Sha256};
        Sha256::digest(std::fs::read(&file).unwrap())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    assert_eq!(lineage[0]["direction"], "upstream");
    assert_eq!(lineage[0]["operation"], "import");
    assert_eq!(lineage[0]["documents"], 1);
    assert_eq!(lineage[0]["inputs"][0]["sha256"], sha256.as_str());
    assert_eq!(
        lineage[0]["inputs"][0]["size_bytes"],
        std::fs::metadata(&file).unwrap().len()
    );
    let events = lines(&run_ok(cairn(&data).args([
        "lineage",
        "runs",
        "--openlineage",
    ])));
    assert_eq!(events[0]["eventType"], "COMPLETE");
    assert_eq!(events[0]["outputs"][0]["name"], "runs");
    assert_eq!(events[0]["inputs"][0]["namespace"], "file");
    // `_sys_lineage` and `_sys_tags` are Cairn's own: never in the catalog.
    let names: Vec<String> = lines(&run_ok(cairn(&data).arg("catalog")))
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["other", "runs"]);
}
