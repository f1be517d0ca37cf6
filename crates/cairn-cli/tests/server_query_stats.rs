//! `cairn serve`'s query statistics against the real binary: queries that differ only in
//! their constants share one shape with its counts and plan, a shape that scans far more than
//! it returns is flagged until an index serves it, every query at or over the configured
//! threshold enters the slow-query log, counts, distincts and pipelines report what they
//! examined, only admins may read or reset the statistics, and `cairn stats --queries
//! --server` prints them.

mod server_support;

use std::process::Command;

use serde_json::{json, Value as Json};
use server_support::{basic, Server, CAIRN, ROOT_PASSWORD};

fn shape<'a>(stats: &'a Json, operation: &str, filter: &str) -> &'a Json {
    stats["shapes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["operation"] == operation && s["filter"] == filter)
        .unwrap_or_else(|| panic!("no {operation} shape {filter} in {stats}"))
}

#[test]
fn query_shapes_are_counted_flagged_and_logged() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cairn.toml");
    std::fs::write(&config, "[limits]\nslow_query_ms = 0\n").unwrap();
    let server = Server::start(
        &dir.path().join("data"),
        &["--config", config.to_str().unwrap()],
    );
    let http = server.root();
    assert_eq!(
        http.post("/v1/collections", r#"{"name": "items"}"#).status,
        201
    );
    let documents: Vec<Json> = (0..300).map(|i| json!({"_id": i, "n": i})).collect();
    let batch = json!({ "documents": documents }).to_string();
    assert_eq!(http.post("/v1/collections/items/batch", &batch).status, 200);

    for low in [295, 296, 297] {
        let body = json!({"filter": {"n": {"$gte": low}}}).to_string();
        let reply = http.post("/v1/collections/items/query", &body);
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    let pipeline = r#"{"pipeline": [{"$match": {"n": {"$lt": 10}}}, {"$group": {"_id": null, "c": {"$count": {}}}}]}"#;
    assert_eq!(
        http.post("/v1/collections/items/aggregate", pipeline)
            .status,
        200
    );

    let stats = http.get("/v1/stats/queries").json();
    let scan = shape(&stats, "find", r#"{"n": {"$gte": ?}}"#);
    assert_eq!(scan["count"], 3, "{scan}");
    assert_eq!(scan["docs_examined"], 900, "{scan}");
    assert_eq!(scan["returned"], 5 + 4 + 3, "{scan}");
    assert_eq!(scan["last_plan"], "full scan", "{scan}");
    assert_eq!(scan["missing_index"], true, "{scan}");
    let grouped = shape(&stats, "aggregate", r#"{"n": {"$lt": ?}}"#);
    assert_eq!(grouped["stages"], json!(["$match", "$group"]), "{grouped}");
    assert_eq!(stats["slow_threshold_ms"], 0);
    assert_eq!(stats["slow"].as_array().unwrap().len(), 4, "{stats}");
    assert_eq!(stats["slow"][0]["operation"], "aggregate");

    let printed = Command::new(CAIRN)
        .args(["stats", "--queries", "--server", &server.url])
        .env("CAIRN_PASSWORD", ROOT_PASSWORD)
        .env_remove("CAIRN_TOKEN")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&printed.stdout);
    assert!(printed.status.success(), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with('!') && l.contains(r#"items find {"n": {"$gte": ?}}"#)),
        "{text}"
    );

    // Counts, distincts and pipelines are shapes too, with what their reads examined; the
    // missing-index flag weighs examined against matched, so a $group over every document
    // is not flagged while a selective count by full scan is.
    let count = http.post(
        "/v1/collections/items/count",
        r#"{"filter": {"n": {"$gte": 290}}}"#,
    );
    assert_eq!(count.json()["count"], 10, "{}", count.text);
    assert_eq!(http.post("/v1/collections/items/count", "{}").status, 200);
    let distinct = http.post(
        "/v1/collections/items/distinct",
        r#"{"field": "n", "filter": {"n": {"$lt": 5}}}"#,
    );
    assert_eq!(distinct.status, 200, "{}", distinct.text);
    let everything = r#"{"pipeline": [{"$group": {"_id": null, "c": {"$count": {}}}}]}"#;
    assert_eq!(
        http.post("/v1/collections/items/aggregate", everything)
            .status,
        200
    );
    let stats = http.get("/v1/stats/queries").json();
    let counted = shape(&stats, "count", r#"{"n": {"$gte": ?}}"#);
    assert_eq!(counted["docs_examined"], 300, "{counted}");
    assert_eq!(counted["returned"], 10, "{counted}");
    assert_eq!(counted["last_plan"], "full scan", "{counted}");
    assert_eq!(counted["missing_index"], true, "{counted}");
    let all = shape(&stats, "count", "{}");
    assert_eq!(all["docs_examined"], 0, "{all}");
    assert_eq!(all["returned"], 300, "{all}");
    assert_eq!(all["last_plan"], "collection document count", "{all}");
    let values = shape(&stats, "distinct", r#"{"n": {"$lt": ?}}"#);
    assert_eq!(values["docs_examined"], 300, "{values}");
    assert_eq!(values["matched"], 5, "{values}");
    assert_eq!(values["returned"], 5, "{values}");
    let grouped = shape(&stats, "aggregate", r#"{"n": {"$lt": ?}}"#);
    assert_eq!(grouped["docs_examined"], 300, "{grouped}");
    assert_eq!(grouped["matched"], 10, "{grouped}");
    assert_eq!(grouped["returned"], 1, "{grouped}");
    assert_eq!(grouped["missing_index"], true, "{grouped}");
    let whole = shape(&stats, "aggregate", "{}");
    assert_eq!(whole["docs_examined"], 300, "{whole}");
    assert_eq!(whole["matched"], 300, "{whole}");
    assert_eq!(whole["missing_index"], false, "{whole}");

    // An index on the filtered field serves the same shape: no longer flagged.
    let index = r#"{"name": "by_n", "fields": ["n"]}"#;
    assert_eq!(
        http.post("/v1/collections/items/indexes", index).status,
        201
    );
    http.post(
        "/v1/collections/items/query",
        r#"{"filter": {"n": {"$gte": 298}}}"#,
    );
    let stats = http.get("/v1/stats/queries").json();
    let served = shape(&stats, "find", r#"{"n": {"$gte": ?}}"#);
    assert_eq!(served["count"], 4, "{served}");
    assert!(
        served["last_plan"].as_str().unwrap().contains("by_n"),
        "{served}"
    );
    assert_eq!(served["missing_index"], false, "{served}");

    // Readers of one collection do not see what is asked of the others.
    let user = r#"{"name": "reader", "password": "reader-password", "role": "read-only"}"#;
    assert_eq!(http.post("/v1/users", user).status, 201);
    let reader = http.with_auth(Some(basic("reader", "reader-password")));
    reader
        .get("/v1/stats/queries")
        .assert_error(403, "forbidden");
    reader
        .delete("/v1/stats/queries")
        .assert_error(403, "forbidden");

    assert_eq!(http.delete("/v1/stats/queries").status, 204);
    let stats = http.get("/v1/stats/queries").json();
    assert_eq!(stats["shapes"], json!([]), "{stats}");
    assert_eq!(stats["slow"], json!([]), "{stats}");
    server.terminate();
}
