//! `cairn serve`: `as_of` on GET document, query, count and distinct answers the state after that
//! commit; invalid, future and trimmed points are typed 4xx errors.

mod server_support;

use serde_json::json;
use server_support::{ids, Server};

#[test]
fn as_of_reads_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let http = server.root();
    assert_eq!(http.post("/v1/collections", r#"{"name": "t"}"#).status, 201);
    let first = http.post("/v1/collections/t/documents", r#"{"_id": 1, "v": 1}"#);
    assert_eq!(first.status, 201, "{}", first.text);
    let seq1 = first.json()["seq"].as_u64().unwrap();
    let reply = http.put("/v1/collections/t/documents/1", r#"{"_id": 1, "v": 2}"#);
    assert_eq!(reply.status, 200, "{}", reply.text);
    let reply = http.post("/v1/collections/t/documents", r#"{"_id": 2, "v": 5}"#);
    assert_eq!(reply.status, 201, "{}", reply.text);

    // GET as of the first insert: the old value; the later document did not exist.
    let old = http.get(&format!("/v1/collections/t/documents/1?as_of={seq1}"));
    assert_eq!(old.status, 200, "{}", old.text);
    assert_eq!(old.json(), json!({"_id": 1, "v": 1}));
    http.get(&format!("/v1/collections/t/documents/2?as_of={seq1}"))
        .assert_error(404, "document_not_found");
    assert_eq!(
        http.get("/v1/collections/t/documents/1").json(),
        json!({"_id": 1, "v": 2})
    );

    // Query and count as of it.
    let body = format!(r#"{{"filter": {{"v": {{"$gte": 1}}}}, "as_of": "{seq1}"}}"#);
    let page = http.post("/v1/collections/t/query", &body);
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(ids(&page.json()), vec![1]);
    let count = http.post("/v1/collections/t/count", &body);
    assert_eq!(count.status, 200, "{}", count.text);
    assert_eq!(count.json()["count"], json!(1));
    let body = format!(r#"{{"field": "v", "as_of": "{seq1}"}}"#);
    let distinct = http.post("/v1/collections/t/distinct", &body);
    assert_eq!(distinct.status, 200, "{}", distinct.text);
    assert_eq!(distinct.json()["values"], json!([1]));
    let distinct_now = http.post("/v1/collections/t/distinct", r#"{"field": "v"}"#);
    assert_eq!(distinct_now.json()["values"], json!([2, 5]));
    // As of now (an RFC 3339 time far ahead would be "now" too): both documents.
    let now = http.post(
        "/v1/collections/t/count",
        r#"{"as_of": "2999-01-01T00:00:00Z"}"#,
    );
    assert_eq!(now.json()["count"], json!(2), "{}", now.text);

    // Typed errors.
    http.get("/v1/collections/t/documents/1?as_of=yesterday")
        .assert_error(400, "invalid_as_of");
    http.get("/v1/collections/t/documents/1?as_of=99999999")
        .assert_error(422, "as_of_unavailable");
    http.get("/v1/collections/t/documents/1?as_of=1970-01-01T00:00:00Z")
        .assert_error(422, "as_of_unavailable");
    http.post("/v1/collections/t/explain", r#"{"as_of": "1"}"#)
        .assert_error(400, "invalid_request");
}
