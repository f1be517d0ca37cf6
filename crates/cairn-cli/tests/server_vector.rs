//! `cairn serve`: vector indexes over HTTP against the real binary — created with `kind:
//! vector`, listed with their definition, refused vectors answered 422 naming the field and
//! reason, bad definitions 400, dropped.

mod server_support;

use serde_json::{json, Value as Json};
use server_support::Server;

#[test]
fn vector_indexes_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let http = server.root();
    assert_eq!(http.post("/v1/collections", r#"{"name": "e"}"#).status, 201);
    let documents: Vec<Json> = (0..30)
        .map(|i| json!({"_id": i, "emb": {"$vector": [i as f64, 1.0, 0.5]}}))
        .collect();
    let reply = http.post(
        "/v1/collections/e/batch",
        &json!({ "documents": documents }).to_string(),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);

    for bad in [
        r#"{"name": "v", "fields": ["emb"], "kind": "vector", "metric": "l2"}"#,
        r#"{"name": "v", "fields": ["emb"], "kind": "vector", "dims": 3}"#,
        r#"{"name": "v", "fields": ["emb"], "kind": "vector", "dims": 3, "metric": "l2", "m": 1}"#,
        r#"{"name": "v", "fields": ["emb"], "dims": 3}"#,
        r#"{"name": "v", "fields": ["emb"], "kind": "vector", "dims": 4, "metric": "l2"}"#,
    ] {
        let reply = http.post("/v1/collections/e/indexes", bad);
        assert_eq!(reply.status, 400, "{bad}: {}", reply.text);
    }
    let created = http.post(
        "/v1/collections/e/indexes",
        r#"{"name": "by_emb", "fields": ["emb"], "kind": "vector", "dims": 3, "metric": "cosine", "ef_search": 32}"#,
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let created = created.json();
    assert_eq!(created["kind"], "vector");
    assert_eq!(created["entries"], 30);
    assert_eq!(
        created["vector"],
        json!({"dims": 3, "metric": "cosine", "m": 16, "ef_construction": 128, "ef_search": 32})
    );
    let listed = http.get("/v1/collections/e/indexes").json();
    assert_eq!(listed["indexes"][0]["name"], "by_emb", "{listed}");

    let reply = http.post(
        "/v1/collections/e/documents",
        r#"{"_id": 100, "emb": {"$vector": [1, 2]}}"#,
    );
    reply.assert_error(422, "extension_rejected");
    assert!(
        reply
            .text
            .contains("`emb` has 2 dimensions; the index expects 3"),
        "{}",
        reply.text
    );
    http.post(
        "/v1/collections/e/documents",
        r#"{"_id": 101, "emb": {"$vector": [0, 0, 0]}}"#,
    )
    .assert_error(422, "extension_rejected");
    assert_eq!(http.get("/v1/collections/e/documents/100").status, 404);

    assert_eq!(http.delete("/v1/collections/e/indexes/by_emb").status, 204);
    let listed = http.get("/v1/collections/e/indexes").json();
    assert_eq!(listed["indexes"], json!([]), "{listed}");
}

/// `$nearVector` and `$text` through `/query`, `/explain` and an aggregation's `$match`
/// against the real binary; a text index created with `kind: text`; bad operands are 400s.
#[test]
fn near_vector_and_text_queries_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let http = server.root();
    assert_eq!(http.post("/v1/collections", r#"{"name": "e"}"#).status, 201);
    let words = [
        "hydrogen fuel",
        "helium balloon",
        "heavy water",
        "fuel cell stack",
    ];
    let documents: Vec<Json> = (0..40)
        .map(|i| {
            json!({"_id": i, "emb": {"$vector": [i as f64, 1.0, 0.5]}, "n": i % 4,
                   "body": words[i as usize % 4]})
        })
        .collect();
    let reply = http.post(
        "/v1/collections/e/batch",
        &json!({ "documents": documents }).to_string(),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    let created = http.post(
        "/v1/collections/e/indexes",
        r#"{"name": "by_emb", "fields": ["emb"], "kind": "vector", "dims": 3, "metric": "l2"}"#,
    );
    assert_eq!(created.status, 201, "{}", created.text);
    http.post(
        "/v1/collections/e/indexes",
        r#"{"name": "t", "fields": ["body"], "kind": "text", "language": "klingon"}"#,
    )
    .assert_error(400, "invalid_index");
    let created = http.post(
        "/v1/collections/e/indexes",
        r#"{"name": "t", "fields": ["body"], "kind": "text", "language": "english", "boosts": [2.0]}"#,
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let created = created.json();
    assert_eq!(created["kind"], "text");
    assert_eq!(created["entries"], 40);
    assert_eq!(created["text"]["language"], "english");

    // The 3 nearest to (10.2, 1, 0.5) with n = 2: ids 10, 14, 6; the vector projected away.
    let near = http.post(
        "/v1/collections/e/query",
        r#"{"filter": {"emb": {"$nearVector": {"vector": [10.2, 1, 0.5], "k": 3}}, "n": 2},
            "projection": {"emb": 0}}"#,
    );
    assert_eq!(near.status, 200, "{}", near.text);
    let near = near.json();
    let ids: Vec<i64> = near["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![10, 14, 6], "{near}");
    assert!(near["documents"][0].get("emb").is_none(), "{near}");
    let d = near["documents"][0]["_distance"].as_f64().unwrap();
    assert!((d - 0.2).abs() < 1e-5, "{near}");

    let explained = http.post(
        "/v1/collections/e/explain",
        r#"{"filter": {"emb": {"$nearVector": {"vector": [10.2, 1, 0.5], "k": 3}}}}"#,
    );
    assert_eq!(explained.status, 200, "{}", explained.text);
    assert!(
        explained.text.contains("vector index `by_emb`")
            && explained.text.contains("vector_nodes_visited"),
        "{}",
        explained.text
    );

    let found = http.post(
        "/v1/collections/e/query",
        r#"{"filter": {"$text": {"query": "fuel", "k": 5, "snippets": true}, "n": 0}}"#,
    );
    assert_eq!(found.status, 200, "{}", found.text);
    let found = found.json();
    let docs = found["documents"].as_array().unwrap();
    assert_eq!(docs.len(), 5, "{found}");
    assert!(docs
        .iter()
        .all(|d| d["n"] == 0 && d["_score"].as_f64().unwrap() > 0.0));
    assert_eq!(docs[0]["_snippets"]["body"], "hydrogen <b>fuel</b>");

    let matched = http.post(
        "/v1/collections/e/aggregate",
        r#"{"pipeline": [{"$match": {"$text": {"query": "\"fuel cell\""}}}, {"$count": "n"}]}"#,
    );
    assert_eq!(matched.status, 200, "{}", matched.text);
    assert_eq!(matched.json()["documents"], json!([{"n": 10}]));
    let matched = http.post(
        "/v1/collections/e/aggregate",
        r#"{"pipeline": [{"$match": {"emb": {"$nearVector": {"vector": [0, 1, 0.5], "k": 2}}}}, {"$project": {"_id": 1}}]}"#,
    );
    assert_eq!(matched.status, 200, "{}", matched.text);
    assert_eq!(matched.json()["documents"], json!([{"_id": 0}, {"_id": 1}]));

    for bad in [
        r#"{"filter": {"emb": {"$nearVector": {"vector": [1, 2], "k": 3}}}}"#,
        r#"{"filter": {"emb": {"$nearVector": {"vector": "x", "k": 3}}}}"#,
        r#"{"filter": {"$text": {"query": "\"open"}}}"#,
        r#"{"filter": {"$text": {"query": "x", "index": "nope"}}}"#,
    ] {
        http.post("/v1/collections/e/query", bad)
            .assert_error(400, "invalid_query");
    }
    assert_eq!(http.delete("/v1/collections/e/indexes/t").status, 204);
}
