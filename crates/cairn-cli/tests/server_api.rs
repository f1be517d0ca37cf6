//! `cairn serve`: every API route and every error class, over HTTP, against the real binary.

mod server_support;

use serde_json::json;
use server_support::Server;

#[test]
fn collections_and_documents_round_trip_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let http = server.root();

    let created = http.post("/v1/collections", r#"{"name": "jobs"}"#);
    assert_eq!(created.status, 201);
    assert_eq!(created.json()["routing"], true);
    http.post("/v1/collections", r#"{"name": "jobs"}"#)
        .assert_error(409, "collection_exists");
    // Routing entries are a choice made at creation (on by default).
    let unrouted = http.post("/v1/collections", r#"{"name": "log", "routing": false}"#);
    assert_eq!(unrouted.status, 201);
    assert_eq!(unrouted.json()["routing"], false);
    http.post("/v1/collections", r#"{"name": "bad", "routing": "no"}"#)
        .assert_error(400, "invalid_request");
    let list = http.get("/v1/collections").json();
    assert_eq!(list["collections"][0]["name"], "jobs");
    assert_eq!(list["collections"][1]["routing"], false);
    assert_eq!(
        list["collections"].as_array().unwrap().len(),
        2,
        "system collections are hidden"
    );

    let generated = http.post("/v1/collections/jobs/documents", r#"{"state": "waiting"}"#);
    assert_eq!(generated.status, 201);
    let uuid = generated.json()["_id"]["$uuid"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        http.get(&format!("/v1/collections/jobs/documents/{uuid}"))
            .json()["state"],
        "waiting"
    );

    let given = http.post(
        "/v1/collections/jobs/documents",
        r#"{"_id": 7, "state": "waiting", "n": 1}"#,
    );
    assert_eq!(given.json()["_id"], 7);
    assert!(given.json()["seq"].as_u64().unwrap() > 0);
    let doc = http.get("/v1/collections/jobs/documents/7");
    assert_eq!(
        (doc.status, doc.content_type.as_str()),
        (200, "application/json")
    );
    assert_eq!(doc.json(), json!({"_id": 7, "state": "waiting", "n": 1}));

    let put_new = http.put("/v1/collections/jobs/documents/%22abc%22", r#"{"v": 1}"#);
    assert_eq!(put_new.status, 201, "{}", put_new.text);
    let put_again = http.put("/v1/collections/jobs/documents/abc", r#"{"v": 2}"#);
    assert_eq!(put_again.status, 200);
    assert_eq!(
        http.get("/v1/collections/jobs/documents/abc").json()["v"],
        2
    );

    let patched = http.patch(
        "/v1/collections/jobs/documents/7",
        r#"{"$inc": {"n": 2}, "$set": {"a.b": true}}"#,
    );
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(
        patched.json()["document"],
        json!({"_id": 7, "state": "waiting", "n": 3, "a": {"b": true}})
    );

    assert_eq!(
        http.delete("/v1/collections/jobs/documents/abc").status,
        204
    );
    http.delete("/v1/collections/jobs/documents/abc")
        .assert_error(404, "document_not_found");
}

#[test]
fn compare_and_swap_batches_and_dropping_a_collection() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let http = server.root();
    assert_eq!(
        http.post("/v1/collections", r#"{"name": "jobs"}"#).status,
        201
    );
    http.post(
        "/v1/collections/jobs/documents",
        r#"{"_id": 7, "state": "waiting"}"#,
    );
    let cas = r#"{"expected": {"state": "waiting"}, "patch": {"$set": {"state": "taken"}}}"#;
    let won = http.post("/v1/collections/jobs/documents/7/cas", cas);
    assert_eq!(won.status, 200);
    assert_eq!(won.json()["document"]["state"], "taken");
    let lost = http.post("/v1/collections/jobs/documents/7/cas", cas);
    lost.assert_error(409, "cas_mismatch");
    assert_eq!(lost.json()["error"]["details"]["actual"], "taken");
    http.post("/v1/collections/jobs/documents/404/cas", cas)
        .assert_error(404, "document_not_found");

    let batch = http.post(
        "/v1/collections/jobs/batch",
        r#"{"documents": [{"_id": 100}, {"_id": 101}, {"x": 1}]}"#,
    );
    assert_eq!(batch.status, 200, "{}", batch.text);
    let ids = batch.json()["ids"].clone();
    assert_eq!((ids[0].clone(), ids[1].clone()), (json!(100), json!(101)));
    assert!(ids[2]["$uuid"].is_string());
    // All or nothing: one duplicate fails the whole batch.
    http.post(
        "/v1/collections/jobs/batch",
        r#"{"documents": [{"_id": 200}, {"_id": 100}]}"#,
    )
    .assert_error(409, "unique_violation");
    http.get("/v1/collections/jobs/documents/200")
        .assert_error(404, "document_not_found");
    let upserted = http.post(
        "/v1/collections/jobs/batch",
        r#"{"documents": [{"_id": 100, "v": 9}], "upsert": true}"#,
    );
    assert_eq!(upserted.status, 200);
    assert_eq!(
        http.get("/v1/collections/jobs/documents/100").json()["v"],
        9
    );

    assert_eq!(http.delete("/v1/collections/jobs/documents/7").status, 204);
    http.delete("/v1/collections/jobs/documents/7")
        .assert_error(404, "document_not_found");
    assert_eq!(http.delete("/v1/collections/jobs").status, 204);
    http.get("/v1/collections/jobs/documents/100")
        .assert_error(404, "collection_not_found");
}

#[test]
fn transactions_apply_all_operations_or_none() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let http = server.root();
    for name in ["a", "b"] {
        assert_eq!(
            http.post("/v1/collections", &format!(r#"{{"name": "{name}"}}"#))
                .status,
            201
        );
    }
    http.post("/v1/collections/a/documents", r#"{"_id": 1, "energy": 10}"#);
    let ok = http.post(
        "/v1/transactions",
        r#"{"operations": [
            {"op": "get", "collection": "a", "id": 1},
            {"op": "update", "collection": "a", "id": 1, "patch": {"$inc": {"energy": -4}}},
            {"op": "insert", "collection": "b", "document": {"_id": "x", "energy": 4}},
            {"op": "upsert", "collection": "b", "document": {"_id": "y"}},
            {"op": "replace", "collection": "b", "id": "y", "document": {"z": 1}},
            {"op": "cas", "collection": "a", "id": 1, "expected": {"energy": 6}, "patch": {"$set": {"checked": true}}},
            {"op": "delete", "collection": "b", "id": "nope"}
        ]}"#,
    );
    assert_eq!(ok.status, 200, "{}", ok.text);
    let body = ok.json();
    let results = body["results"].as_array().unwrap();
    assert_eq!(results[0]["document"]["energy"], 10);
    assert_eq!(results[1]["document"]["energy"], 6);
    assert_eq!(results[2]["_id"], "x");
    assert_eq!(results[3]["upserted"], "inserted");
    assert_eq!(results[5]["document"]["checked"], true);
    assert_eq!(results[6]["deleted"], false);
    assert!(body["seq"].as_u64().unwrap() > 0);

    // A failing operation aborts every earlier one and is named.
    let failed = http.post(
        "/v1/transactions",
        r#"{"operations": [
            {"op": "update", "collection": "a", "id": 1, "patch": {"$inc": {"energy": -6}}},
            {"op": "cas", "collection": "a", "id": 1, "expected": {"energy": 6}, "patch": {"$set": {"x": 1}}}
        ]}"#,
    );
    failed.assert_error(409, "cas_mismatch");
    assert_eq!(failed.json()["error"]["details"]["operation"], 1);
    assert_eq!(
        http.get("/v1/collections/a/documents/1").json()["energy"],
        6
    );
    let unknown = http.post(
        "/v1/transactions",
        r#"{"operations": [{"op": "insert", "collection": "a", "document": {}}, {"op": "get", "collection": "nope", "id": 1}]}"#,
    );
    unknown.assert_error(404, "collection_not_found");
    assert_eq!(unknown.json()["error"]["details"]["operation"], 1);
    http.post("/v1/transactions", r#"{"operations": [{"op": "explode"}]}"#)
        .assert_error(400, "invalid_request");
}

#[test]
fn every_error_class_answers_4xx_in_the_common_format() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &["--max-body-bytes", "2000", "--max-document-bytes", "500"],
    );
    let http = server.root();
    http.post("/v1/collections", r#"{"name": "c"}"#);
    http.post("/v1/collections/c/documents", r#"{"_id": 1"#)
        .assert_error(400, "invalid_json");
    http.post("/v1/collections/c/documents", "[1, 2]")
        .assert_error(400, "invalid_document");
    http.post("/v1/collections/c/documents", r#"{"a.b": 1}"#)
        .assert_error(400, "invalid_document");
    http.post("/v1/collections", r#"{"name": "d", "extra": 1}"#)
        .assert_error(400, "invalid_request");
    http.post("/v1/collections", r#"{"name": "1 bad"}"#)
        .assert_error(400, "invalid_collection_name");
    http.get("/v1/collections/missing/documents/1")
        .assert_error(404, "collection_not_found");
    http.post("/v1/collections/missing/documents", "{}")
        .assert_error(404, "collection_not_found");
    http.get(&format!("/v1/collections/c/documents/{}", "x".repeat(1500)))
        .assert_error(400, "invalid_id");
    http.patch(
        "/v1/collections/c/documents/1",
        r#"{"$frobnicate": {"a": 1}}"#,
    )
    .assert_error(400, "invalid_patch");
    http.post(
        "/v1/collections/c/documents",
        &format!(r#"{{"big": "{}"}}"#, "x".repeat(5000)),
    )
    .assert_error(413, "body_too_large");
    http.post(
        "/v1/collections/c/documents",
        &format!(r#"{{"big": "{}"}}"#, "x".repeat(1000)),
    )
    .assert_error(413, "document_too_large");
    http.post("/v1/collections/c/documents", r#"{"_id": 1}"#);
    http.post("/v1/collections/c/documents", r#"{"_id": 1}"#)
        .assert_error(409, "unique_violation");
    http.put("/v1/collections/c/documents/1", r#"{"_id": 2}"#)
        .assert_error(400, "id_mismatch");
    http.get("/v1/collections/_sys_users/documents/root")
        .assert_error(403, "reserved_collection");
    http.post("/v1/collections", r#"{"name": "_sys_mine"}"#)
        .assert_error(403, "reserved_collection");
    http.get("/v1/nothing-here")
        .assert_error(404, "route_not_found");
    http.send("PUT", "/v1/collections", Some("{}"))
        .assert_error(405, "method_not_allowed");
    http.get("/v1/collections/c/changes?since=abc")
        .assert_error(400, "invalid_query");
}

#[test]
fn probes_metrics_and_the_openapi_document() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let anonymous = server.client(None);
    assert_eq!(anonymous.get("/health").json(), json!({"status": "ok"}));
    assert_eq!(anonymous.get("/ready").json(), json!({"status": "ready"}));
    anonymous.get("/metrics").assert_error(401, "unauthorized");

    let http = server.root();
    http.post("/v1/collections", r#"{"name": "m"}"#);
    http.post("/v1/collections/m/documents", "{}");
    let metrics = http.get("/metrics");
    assert_eq!(metrics.status, 200);
    for needle in [
        "cairn_http_requests_total{method=\"POST\",route=\"/v1/collections/{collection}/documents\",status=\"201\"} 1",
        "cairn_http_request_duration_seconds_bucket",
        "cairn_commits_total",
        "cairn_fsyncs_total",
        "cairn_group_commits_total",
        "cairn_changelog_entries",
        "cairn_collection_documents{collection=\"m\"} 1",
        "cairn_collection_bytes{collection=\"m\"}",
        "process_resident_memory_bytes",
    ] {
        assert!(metrics.text.contains(needle), "missing {needle}:\n{}", metrics.text);
    }

    let spec = anonymous.get("/openapi.json").json();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/v1/collections",
        "/v1/collections/{collection}",
        "/v1/collections/{collection}/documents",
        "/v1/collections/{collection}/documents/{id}",
        "/v1/collections/{collection}/documents/{id}/cas",
        "/v1/collections/{collection}/batch",
        "/v1/collections/{collection}/changes",
        "/v1/transactions",
        "/v1/auth/tokens",
        "/v1/users/{name}",
        "/metrics",
        "/health",
    ] {
        assert!(spec["paths"][path].is_object(), "{path} is not documented");
    }
    assert!(spec["components"]["securitySchemes"]["bearer"].is_object());
}

#[test]
fn auto_create_collections_is_off_by_default_and_creates_on_first_write_when_on() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let http = server.root();
    http.post("/v1/collections/typo/documents", r#"{"a": 1}"#)
        .assert_error(404, "collection_not_found");
    assert_eq!(http.get("/v1/collections").json()["collections"], json!([]));
    drop(server);

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--auto-create-collections"]);
    let http = server.root();
    assert_eq!(
        http.post("/v1/collections/events/documents", r#"{"_id": 1}"#)
            .status,
        201
    );
    assert_eq!(
        http.put("/v1/collections/people/documents/1", r#"{"n": 1}"#)
            .status,
        201
    );
    assert_eq!(
        http.post(
            "/v1/collections/bulk/batch",
            r#"{"documents": [{"_id": 1}, {"_id": 2}]}"#
        )
        .status,
        200
    );
    let txn = http.post(
        "/v1/transactions",
        r#"{"operations": [{"op": "insert", "collection": "t1", "document": {"_id": 1}},
                           {"op": "upsert", "collection": "t2", "document": {"_id": 1}}]}"#,
    );
    assert_eq!(txn.status, 200, "{}", txn.text);
    // Reads and updates never create: a misspelt name still says so.
    http.get("/v1/collections/ghost/documents/1")
        .assert_error(404, "collection_not_found");
    http.patch("/v1/collections/ghost/documents/1", r#"{"$set": {"a": 1}}"#)
        .assert_error(404, "collection_not_found");
    let names: Vec<String> = http.get("/v1/collections").json()["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["bulk", "events", "people", "t1", "t2"]);
    assert_eq!(http.get("/v1/collections/bulk/documents/2").status, 200);
}
