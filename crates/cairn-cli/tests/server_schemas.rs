//! Schema routes over HTTP: set, read, history, migrations, inference, and the 4xx classes of
//! schema failures.

mod server_support;

use serde_json::{json, Value as Json};
use server_support::{basic, Http, Server};

/// Creates `name` holding `n` documents `{_id: i, a: i}`.
fn collection_of(http: &Http, name: &str, n: i64) {
    let created = http.post("/v1/collections", &json!({ "name": name }).to_string());
    assert_eq!(created.status, 201, "{}", created.text);
    let documents: Vec<Json> = (0..n).map(|i| json!({"_id": i, "a": i})).collect();
    let reply = http.post(
        &format!("/v1/collections/{name}/batch"),
        &json!({ "documents": documents }).to_string(),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
}

/// Renames `a` to `b` (now required) and adds `twice = b * 2`.
fn good_migration() -> Json {
    json!({
        "schema": {"additional_fields": "reject",
                   "fields": {"b": {"type": "int", "required": true}, "twice": "int"}},
        "transform": [{"rename": {"from": "a", "to": "b"}},
                      {"set": {"field": "twice", "to": "b * 2"}}],
    })
}

#[test]
fn schemas_are_set_read_and_enforced_over_http() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let server = Server::start(dir.path(), &[]);
    let http = server.root();
    assert_eq!(
        http.post("/v1/collections", r#"{"name": "teams"}"#).status,
        201
    );
    assert_eq!(
        http.post("/v1/collections", r#"{"name": "people"}"#).status,
        201
    );
    // Schemaless: version 0, no definition.
    let schemaless = http.get("/v1/collections/people/schema");
    assert_eq!(
        schemaless.json(),
        json!({"version": 0, "schema": null, "migrating": false}),
        "{}",
        schemaless.text
    );
    http.get("/v1/collections/nope/schema")
        .assert_error(404, "collection_not_found");
    http.put(
        "/v1/collections/people/schema",
        r#"{"fields": {"a": "integer"}}"#,
    )
    .assert_error(400, "invalid_schema");
    // Every request body must be a JSON object; the body guard says so before the schema parser.
    http.put("/v1/collections/people/schema", r#"[1, 2]"#)
        .assert_error(400, "invalid_request");
    http.put(
        "/v1/collections/people/schema",
        r#"{"fields": {"t": {"type": "string", "references": {"collection": "_sys_users"}}}}"#,
    )
    .assert_error(403, "reserved_collection");
    let schema = r#"{"fields": {"age": {"type": "int", "min": 0},
        "team": {"type": "string", "references": {"collection": "teams"}}},
        "rules": {"adult": "!exists(age) || age >= 18"}}"#;
    let set = http.put("/v1/collections/people/schema", schema);
    assert_eq!(set.status, 200, "{}", set.text);
    assert_eq!(set.json()["version"], 1);
    assert_eq!(
        http.get("/v1/collections/people/schema").json()["schema"]["fields"]["age"]["min"],
        0
    );
    http.post("/v1/collections/people/documents", r#"{"age": -1}"#)
        .assert_error(422, "schema_violation");
    http.post("/v1/collections/people/documents", r#"{"age": 5}"#)
        .assert_error(422, "rule_violation");
    http.post("/v1/collections/people/documents", r#"{"team": "t9"}"#)
        .assert_error(409, "reference_violation");
    http.put(
        "/v1/collections/people/schema",
        r#"{"fields": {"age": {"type": "int", "min": 1}}}"#,
    )
    .assert_error(409, "migration_required");
    let history = http.get("/v1/collections/people/schema/history").json();
    assert_eq!(history["versions"][0]["version"], 1);
    assert_eq!(
        history["versions"][0]["by"], "root",
        "the history names the authenticated user"
    );
}

#[test]
fn migrations_dry_run_run_stop_at_their_budget_and_resume_over_http() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let server = Server::start(dir.path(), &[]);
    let http = server.root();
    collection_of(&http, "c", 10);
    let set = http.put("/v1/collections/c/schema", r#"{"fields": {"a": "int"}}"#);
    assert_eq!(set.status, 200, "{}", set.text);
    let path = "/v1/collections/c/schema/migrations";

    // Without a transform every document lacks the required `b`.
    let bad = json!({"schema": {"fields": {"b": {"type": "int", "required": true}}}});
    let dry = http.post(
        path,
        &json!({"migration": bad, "dry_run": true}).to_string(),
    );
    assert_eq!(dry.status, 200, "{}", dry.text);
    let dry = dry.json();
    assert_eq!(
        (dry["total"].as_u64(), dry["failed"].as_u64()),
        (Some(10), Some(10))
    );
    assert_eq!(dry["reasons"][0]["count"], 10, "{dry}");
    let samples = dry["reasons"][0]["sample_ids"]
        .as_array()
        .expect("sample ids");
    assert!(
        !samples.is_empty() && samples.iter().all(Json::is_i64),
        "{dry}"
    );
    http.post(path, &json!({ "migration": bad }).to_string())
        .assert_error(409, "existing_documents_invalid");
    let dry = http.post(
        path,
        &json!({"migration": good_migration(), "dry_run": true}).to_string(),
    );
    assert_eq!(dry.json()["failed"], 0, "{}", dry.text);

    // Malformed requests.
    http.post(path, "{}").assert_error(400, "invalid_request");
    http.post(path, r#"{"resume": true, "extra": 1}"#)
        .assert_error(400, "invalid_request");
    http.post(path, r#"{"dry_run": true}"#)
        .assert_error(400, "invalid_request");
    http.post(
        path,
        &json!({"migration": good_migration(), "dry_run": true, "resume": true}).to_string(),
    )
    .assert_error(400, "invalid_request");
    http.post(
        path,
        &json!({"migration": good_migration(), "chunk_size": 0}).to_string(),
    )
    .assert_error(400, "invalid_request");
    http.post(
        path,
        r#"{"migration": {"schema": {"fields": {"a": "integer"}}}}"#,
    )
    .assert_error(400, "invalid_schema");
    http.post(path, r#"{"migration": {"schema": {}, "extra": 1}}"#)
        .assert_error(400, "invalid_schema");
    http.post(
        path,
        r#"{"migration": {"schema": {"fields": {"t": {"type": "string", "references": {"collection": "_sys_users"}}}}}}"#,
    )
    .assert_error(403, "reserved_collection");
    http.post(
        "/v1/collections/_sys_users/schema/migrations",
        r#"{"resume": true}"#,
    )
    .assert_error(403, "reserved_collection");
    http.post(path, r#"{"resume": true}"#)
        .assert_error(409, "no_migration");
    http.post(
        "/v1/collections/nope/schema/migrations",
        &json!({"migration": good_migration(), "dry_run": true}).to_string(),
    )
    .assert_error(404, "collection_not_found");

    // A zero budget runs exactly one chunk, then stops resumably.
    let cut = http.post(
        path,
        &json!({"migration": good_migration(), "chunk_size": 2, "max_time_ms": 0}).to_string(),
    );
    cut.assert_error(408, "migration_timeout");
    let details = &cut.json()["error"]["details"];
    assert_eq!(
        (
            details["migrated"].as_u64(),
            details["target_version"].as_u64()
        ),
        (Some(2), Some(2)),
        "{details}"
    );
    assert_eq!(details["resumable"], true);
    assert!(cut.text.contains("resume"), "{}", cut.text);
    let shown = http.get("/v1/collections/c/schema").json();
    assert_eq!(
        (shown["version"].as_u64(), shown["migrating"].as_bool()),
        (Some(2), Some(true))
    );
    assert_eq!(shown["progress"]["migrated"], 2, "{shown}");
    // Another schema change, or another migration, waits for this one.
    http.put("/v1/collections/c/schema", r#"{"fields": {"a": "int"}}"#)
        .assert_error(409, "migration_in_progress");
    let other = json!({"schema": {"fields": {"b": "int"}}, "transform": [{"rename": {"from": "a", "to": "b"}}]});
    let refused = http.post(path, &json!({ "migration": other }).to_string());
    refused.assert_error(409, "migration_in_progress");
    assert_eq!(refused.json()["error"]["details"]["resumable"], true);

    let done = http.post(path, r#"{"resume": true, "chunk_size": 3}"#);
    assert_eq!(done.status, 200, "{}", done.text);
    let done = done.json();
    assert_eq!(done["target_version"], 2, "{done}");
    assert_eq!(done["migrated"], 10, "{done}");
    assert_eq!(done["resumed"], true, "{done}");
    let doc = http.get("/v1/collections/c/documents/7").json();
    assert_eq!(
        doc,
        json!({"_id": 7, "_schema_version": 2, "b": 7, "twice": 14})
    );
    assert_eq!(
        http.get("/v1/collections/c/schema").json()["migrating"],
        false
    );
    http.post(path, r#"{"resume": true}"#)
        .assert_error(409, "no_migration");

    // A migration that fits its budget answers with the final report at once.
    collection_of(&http, "d", 3);
    let done = http.post(
        "/v1/collections/d/schema/migrations",
        &json!({ "migration": good_migration() }).to_string(),
    );
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(
        (
            done.json()["migrated"].as_u64(),
            done.json()["resumed"].as_bool()
        ),
        (Some(3), Some(false))
    );
}

#[test]
fn inferred_schemas_show_fields_and_emit_a_schema_document_over_http() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let server = Server::start(dir.path(), &[]);
    let http = server.root();
    assert_eq!(
        http.post("/v1/collections", r#"{"name": "people"}"#).status,
        201
    );
    http.post(
        "/v1/collections/people/documents",
        r#"{"_id": 1, "name": "a", "age": 3}"#,
    );
    http.post(
        "/v1/collections/people/documents",
        r#"{"_id": 2, "name": "b", "age": 4.5, "tags": ["x"]}"#,
    );
    let inferred = http.get("/v1/collections/people/schema/inferred");
    assert_eq!(inferred.status, 200, "{}", inferred.text);
    let inferred = inferred.json();
    assert_eq!(inferred["documents"], 2);
    assert!(inferred.get("schema").is_none(), "{inferred}");
    let age = inferred["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["path"] == "age")
        .unwrap_or_else(|| panic!("no age: {inferred}"));
    assert_eq!(age["documents"], 2);
    assert_eq!(age["types"], json!({"float": 1, "int": 1}));

    let emitted = http.get("/v1/collections/people/schema/inferred?format=schema");
    assert_eq!(emitted.status, 200, "{}", emitted.text);
    let schema = emitted.json()["schema"].clone();
    assert!(
        schema["fields"]["name"].is_object() || schema["fields"]["name"].is_string(),
        "{schema}"
    );
    // The emitted document is a valid schema the data satisfies.
    let set = http.put("/v1/collections/people/schema", &schema.to_string());
    assert_eq!(set.status, 200, "{}", set.text);

    http.get("/v1/collections/people/schema/inferred?format=yaml")
        .assert_error(400, "invalid_query");
    http.get("/v1/collections/people/schema/inferred?emit=1")
        .assert_error(400, "invalid_query");
    http.get("/v1/collections/nope/schema/inferred")
        .assert_error(404, "collection_not_found");
    http.get("/v1/collections/_sys_inferred_schemas/schema/inferred")
        .assert_error(403, "reserved_collection");
}

#[test]
fn migration_and_inference_routes_follow_roles_and_grants() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let server = Server::start(dir.path(), &[]);
    let root = server.root();
    collection_of(&root, "c", 3);
    collection_of(&root, "secret", 1);
    let created = root.post(
        "/v1/users",
        r#"{"name": "reader", "password": "reader-password", "role": "read-only", "grants": {"secret": "none"}}"#,
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let reader = root.with_auth(Some(basic("reader", "reader-password")));
    let anonymous = root.with_auth(None);
    let path = "/v1/collections/c/schema/migrations";
    let dry = json!({"migration": good_migration(), "dry_run": true}).to_string();
    let run = json!({ "migration": good_migration() }).to_string();

    anonymous.post(path, &dry).assert_error(401, "unauthorized");
    anonymous
        .get("/v1/collections/c/schema/inferred")
        .assert_error(401, "unauthorized");
    // Reading is enough for a dry run and for inference, not for a run.
    assert_eq!(reader.post(path, &dry).status, 200);
    assert_eq!(reader.get("/v1/collections/c/schema/inferred").status, 200);
    reader.post(path, &run).assert_error(403, "forbidden");
    reader
        .post(path, r#"{"resume": true}"#)
        .assert_error(403, "forbidden");
    reader
        .get("/v1/collections/secret/schema/inferred")
        .assert_error(403, "forbidden");
    // A migration referencing a collection the caller may not read is refused as a whole.
    let referencing = json!({"migration": {"schema": {"fields": {"s": {"type": "int", "references": {"collection": "secret"}}}}}, "dry_run": true});
    reader
        .post(path, &referencing.to_string())
        .assert_error(403, "forbidden");
    assert_eq!(root.post(path, &run).status, 200);
}
