//! The routes the web console needed beyond the rest of the API, against the real binary:
//! renaming a collection, following an index build (in the request or in the background),
//! and describing a time-series collection.

mod server_support;

use serde_json::{json, Value as Json};
use server_support::{basic, Http, Server};

/// Polls an index build until it is no longer `building` (bounded: a hang fails the test).
fn wait_for_build(http: &Http, collection: &str, index: &str) -> Json {
    for _ in 0..2_000 {
        let reply = http.get(&format!(
            "/v1/collections/{collection}/indexes/{index}/build"
        ));
        assert_eq!(reply.status, 200, "{}", reply.text);
        let status = reply.json();
        if status["state"] != "building" {
            return status;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("the build of {index} never ended");
}

fn insert_many(http: &Http, collection: &str, count: i64, value: impl Fn(i64) -> Json) {
    let documents: Vec<Json> = (0..count)
        .map(|i| json!({"_id": i, "n": value(i)}))
        .collect();
    let batch = json!({ "documents": documents }).to_string();
    let reply = http.post(&format!("/v1/collections/{collection}/batch"), &batch);
    assert_eq!(reply.status, 200, "{}", reply.text);
}

#[test]
fn collections_are_renamed_with_their_documents_and_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let http = server.root();
    for name in ["old", "taken"] {
        let body = json!({ "name": name }).to_string();
        assert_eq!(http.post("/v1/collections", &body).status, 201);
    }
    insert_many(&http, "old", 3, |i| json!(i));
    let index = r#"{"name": "by_n", "fields": ["n"]}"#;
    assert_eq!(http.post("/v1/collections/old/indexes", index).status, 201);

    let reply = http.post("/v1/collections/old/rename", r#"{"to": "new"}"#);
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["name"], "new");
    http.get("/v1/collections/old/documents/1")
        .assert_error(404, "collection_not_found");
    assert_eq!(http.get("/v1/collections/new/documents/1").status, 200);
    let indexes = http.get("/v1/collections/new/indexes").json();
    assert_eq!(indexes["indexes"][0]["name"], "by_n", "{indexes}");
    let count = http.post("/v1/collections/new/count", "{}").json();
    assert_eq!(count["count"], 3);

    http.post("/v1/collections/new/rename", r#"{"to": "taken"}"#)
        .assert_error(409, "collection_exists");
    http.post("/v1/collections/missing/rename", r#"{"to": "other"}"#)
        .assert_error(404, "collection_not_found");
    http.post("/v1/collections/new/rename", r#"{"to": "_sys_users"}"#)
        .assert_error(403, "reserved_collection");
    http.post("/v1/collections/new/rename", r#"{"to": "no spaces"}"#)
        .assert_error(400, "invalid_collection_name");

    // Renaming needs write access to both names.
    let user = json!({"name": "writer", "password": "writer-password", "role": "none",
                      "grants": {"new": "read-write", "taken": "read-only"}});
    assert_eq!(http.post("/v1/users", &user.to_string()).status, 201);
    let writer = http.with_auth(Some(basic("writer", "writer-password")));
    writer
        .post("/v1/collections/new/rename", r#"{"to": "elsewhere"}"#)
        .assert_error(403, "forbidden");
    server.terminate();
}

#[test]
fn index_builds_report_their_progress_in_the_request_and_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let http = server.root();
    assert_eq!(
        http.post("/v1/collections", r#"{"name": "items"}"#).status,
        201
    );
    insert_many(&http, "items", 2_500, |i| json!(i % 7));

    // In the background: answered at once, building, with the collection's size.
    let reply = http.post(
        "/v1/collections/items/indexes?background=true",
        r#"{"name": "by_n", "fields": ["n"]}"#,
    );
    assert_eq!(reply.status, 202, "{}", reply.text);
    let started = reply.json();
    assert_eq!(started["state"], "building", "{started}");
    assert_eq!(started["total"], 2_500, "{started}");
    assert_eq!(started["index"], "by_n");
    let done = wait_for_build(&http, "items", "by_n");
    assert_eq!(done["state"], "ready", "{done}");
    assert_eq!(done["scanned"], 2_500, "{done}");
    assert_eq!(done["written"], 2_500, "{done}");
    assert!(done["finished_at"].is_string(), "{done}");
    let listed = http.get("/v1/collections/items/indexes").json();
    assert_eq!(listed["indexes"][0]["ready"], true, "{listed}");

    // A taken name is refused at once, even in the background.
    http.post(
        "/v1/collections/items/indexes?background=true",
        r#"{"name": "by_n", "fields": ["n"]}"#,
    )
    .assert_error(409, "index_exists");

    // A build that fails in the background records the error its request would have had.
    let reply = http.post(
        "/v1/collections/items/indexes?background=true",
        r#"{"name": "unique_n", "fields": ["n"], "unique": true}"#,
    );
    assert_eq!(reply.status, 202, "{}", reply.text);
    let failed = wait_for_build(&http, "items", "unique_n");
    assert_eq!(failed["state"], "failed", "{failed}");
    assert_eq!(failed["error"]["code"], "unique_violation", "{failed}");
    let listed = http.get("/v1/collections/items/indexes").json();
    assert_eq!(listed["indexes"].as_array().unwrap().len(), 1, "{listed}");

    // A build in the request is followed the same way.
    let reply = http.post(
        "/v1/collections/items/indexes",
        r#"{"name": "by_id_n", "fields": ["_id", "n"]}"#,
    );
    assert_eq!(reply.status, 201, "{}", reply.text);
    let status = http
        .get("/v1/collections/items/indexes/by_id_n/build")
        .json();
    assert_eq!(status["state"], "ready", "{status}");
    assert_eq!(status["scanned"], 2_500, "{status}");

    http.get("/v1/collections/items/indexes/never/build")
        .assert_error(404, "build_not_found");
    http.post(
        "/v1/collections/items/indexes?background=maybe",
        r#"{"name": "x", "fields": ["n"]}"#,
    )
    .assert_error(400, "invalid_query");

    // Readers may follow a build; they may not start one.
    let user = r#"{"name": "reader", "password": "reader-password", "role": "read-only"}"#;
    assert_eq!(http.post("/v1/users", user).status, 201);
    let reader = http.with_auth(Some(basic("reader", "reader-password")));
    assert_eq!(
        reader
            .get("/v1/collections/items/indexes/by_n/build")
            .status,
        200
    );
    reader
        .post(
            "/v1/collections/items/indexes?background=true",
            r#"{"name": "mine", "fields": ["n"]}"#,
        )
        .assert_error(403, "forbidden");
    server.terminate();
}

#[test]
fn a_time_series_collection_describes_its_options() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let http = server.root();
    let create = r#"{"name": "readings", "time_field": "at", "meta_field": "sensor",
                     "chunk_span": 3600000000, "expire_after": 86400000000}"#;
    assert_eq!(http.post("/v1/series", create).status, 201);
    let reply = http.get("/v1/series/readings");
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!({"name": "readings", "time_field": "at", "meta_field": "sensor",
               "chunk_span": 3_600_000_000_i64, "expire_after": 86_400_000_000_i64})
    );
    assert_eq!(
        http.post("/v1/collections", r#"{"name": "plain"}"#).status,
        201
    );
    http.get("/v1/series/plain")
        .assert_error(400, "not_timeseries_collection");
    http.get("/v1/series/absent")
        .assert_error(404, "collection_not_found");
    server.terminate();
}
