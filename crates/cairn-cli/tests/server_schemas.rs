//! Schema routes over HTTP: set, read, history, and the 4xx classes of schema failures.

mod server_support;

use server_support::Server;

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
    http.get("/v1/collections/people/schema")
        .assert_error(404, "no_schema");
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
