//! `cairn index create … --kind vector` through the real binary: creation over existing
//! documents, listing, refused writes with the field and reason, `cairn check` covering the
//! vector index, and drop.

mod support;

use support::{assert_check_passes, cairn, run_err, run_ok};

#[test]
fn vector_index_create_list_refuse_check_and_drop() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("db");
    run_ok(cairn(&data).args(["collection", "create", "e"]));
    let docs: String = (0..50)
        .map(|i| format!("{{\"_id\": {i}, \"emb\": {{\"$vector\": [{i}, 1, 0.5]}}}}\n"))
        .collect();
    let file = dir.path().join("e.jsonl");
    std::fs::write(&file, docs).unwrap();
    run_ok(cairn(&data).args(["import", "e"]).arg(&file));
    let (_, err) = run_err(cairn(&data).args([
        "index", "create", "e", "by_emb", "--fields", "emb", "--kind", "vector", "--metric", "l2",
    ]));
    assert!(err.contains("needs --dims"), "{err}");
    let (_, err) = run_err(cairn(&data).args([
        "index", "create", "e", "by_emb", "--fields", "emb", "--dims", "3",
    ]));
    assert!(err.contains("apply to --kind vector only"), "{err}");
    let out = run_ok(cairn(&data).args([
        "index", "create", "e", "by_emb", "--fields", "emb", "--kind", "vector", "--dims", "3",
        "--metric", "cosine", "--m", "8",
    ]));
    assert!(
        out.contains("created vector index `by_emb` on `e` (50 vectors"),
        "{out}"
    );
    let listed = run_ok(cairn(&data).args(["index", "list", "e"]));
    assert!(
        listed.contains("by_emb")
            && listed.contains("vector")
            && listed.contains("3 dims, cosine, m 8"),
        "{listed}"
    );
    let (_, err) =
        run_err(cairn(&data).args(["insert", "e", r#"{"_id": 99, "emb": {"$vector": [1, 2]}}"#]));
    assert!(
        err.contains("`emb` has 2 dimensions; the index expects 3"),
        "{err}"
    );
    let (_, err) = run_err(cairn(&data).args([
        "insert",
        "e",
        r#"{"_id": 99, "emb": {"$vector": [0, 0, 0]}}"#,
    ]));
    assert!(err.contains("`emb` is a zero vector"), "{err}");
    assert_check_passes(&data);
    let checked = run_ok(cairn(&data).arg("check"));
    assert!(
        checked.contains("1 indexes match their documents"),
        "{checked}"
    );
    run_ok(cairn(&data).args(["index", "drop", "e", "by_emb"]));
    let listed = run_ok(cairn(&data).args(["index", "list", "e"]));
    assert!(listed.contains("no indexes"), "{listed}");
}

/// `cairn index create … --kind text`, `cairn query` with `$text` and `$nearVector`, `cairn
/// explain` naming the access path and its counters, and `cairn check` covering both indexes.
#[test]
fn text_index_and_ranking_queries_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("db");
    run_ok(cairn(&data).args(["collection", "create", "e"]));
    let words = [
        "hydrogen fuel",
        "helium balloon",
        "heavy water",
        "fuel cell",
    ];
    let docs: String = (0..20)
        .map(|i| {
            format!(
                "{{\"_id\": {i}, \"emb\": {{\"$vector\": [{i}, 1, 0.5]}}, \"body\": \"{}\"}}\n",
                words[i % 4]
            )
        })
        .collect();
    let file = dir.path().join("e.jsonl");
    std::fs::write(&file, docs).unwrap();
    run_ok(cairn(&data).args(["import", "e"]).arg(&file));
    let (_, err) = run_err(cairn(&data).args([
        "index",
        "create",
        "e",
        "t",
        "--fields",
        "body",
        "--language",
        "english",
    ]));
    assert!(err.contains("apply to --kind text only"), "{err}");
    let out = run_ok(cairn(&data).args([
        "index",
        "create",
        "e",
        "t",
        "--fields",
        "body",
        "--kind",
        "text",
        "--language",
        "english",
        "--boosts",
        "2",
    ]));
    assert!(
        out.contains("created text index `t` on `e` (english)"),
        "{out}"
    );
    run_ok(cairn(&data).args([
        "index", "create", "e", "v", "--fields", "emb", "--kind", "vector", "--dims", "3",
        "--metric", "l2",
    ]));
    let listed = run_ok(cairn(&data).args(["index", "list", "e"]));
    assert!(
        listed.contains("body^2") && listed.contains("english"),
        "{listed}"
    );
    let found =
        run_ok(cairn(&data).args(["query", "e", r#"{"$text": {"query": "helium", "k": 2}}"#]));
    assert!(
        found.contains("_score") && found.contains("helium balloon"),
        "{found}"
    );
    let found = run_ok(cairn(&data).args([
        "query",
        "e",
        r#"{"emb": {"$nearVector": {"vector": [7.1, 1, 0.5], "k": 1}}}"#,
    ]));
    assert!(
        found.contains("\"_id\":7") || found.contains("\"_id\": 7"),
        "{found}"
    );
    let explained = run_ok(cairn(&data).args(["explain", "e", r#"{"$text": {"query": "fuel"}}"#]));
    assert!(
        explained.contains("text index `t`") && explained.contains("text_postings_read"),
        "{explained}"
    );
    assert_check_passes(&data);
}
