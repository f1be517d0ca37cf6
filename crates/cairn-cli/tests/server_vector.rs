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
