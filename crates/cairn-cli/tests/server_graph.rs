//! Graph routes over HTTP: creating an edge collection, edges written as documents,
//! traversals and shortest paths, their errors, and a vertex filter that cannot read what the
//! caller's access hides.

mod server_support;

use serde_json::json;
use server_support::{basic, Server};

#[test]
fn edge_collections_traversals_and_paths_over_http() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let server = Server::start(dir.path(), &[]);
    let http = server.root();
    for name in ["people", "secret"] {
        assert_eq!(
            http.post("/v1/collections", &json!({"name": name}).to_string())
                .status,
            201
        );
    }
    for (coll, id) in [("people", 1), ("people", 2), ("people", 3), ("secret", 1)] {
        let reply = http.post(
            &format!("/v1/collections/{coll}/documents"),
            &json!({"_id": id, "even": id % 2 == 0}).to_string(),
        );
        assert_eq!(reply.status, 201, "{}", reply.text);
    }
    let created = http.post(
        "/v1/graph/edge-collections",
        r#"{"name": "knows", "on_vertex_delete": "restrict", "vertex_collections": ["people", "secret"], "store_properties": ["w"]}"#,
    );
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(
        created.json(),
        json!({"name": "knows", "on_vertex_delete": "restrict"})
    );
    for (from, to, w) in [
        ("people/1", "people/2", 5),
        ("people/2", "people/3", 1),
        ("people/1", "secret/1", 1),
        ("secret/1", "people/3", 1),
    ] {
        let reply = http.post(
            "/v1/collections/knows/documents",
            &json!({"_from": from, "_to": to, "w": w}).to_string(),
        );
        assert_eq!(reply.status, 201, "{}", reply.text);
    }
    http.post("/v1/collections/knows/documents", r#"{"_to": "people/1"}"#)
        .assert_error(422, "schema_violation");
    http.post(
        "/v1/collections/knows/documents",
        r#"{"_from": "people/1", "_to": "people/9"}"#,
    )
    .assert_error(409, "reference_violation");
    http.delete("/v1/collections/people/documents/2")
        .assert_error(409, "reference_violation");

    let reply = http.post(
        "/v1/graph/traverse",
        r#"{"start": ["people/1"], "edges": ["knows"], "max_depth": 2, "returns": "edges"}"#,
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    let results = reply.json()["results"].clone();
    let reached: Vec<_> = results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["vertex"].as_str().unwrap().to_string(),
                r["depth"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        reached,
        [
            ("people/2".to_string(), 1),
            ("secret/1".to_string(), 1),
            ("people/3".to_string(), 2)
        ]
    );
    assert!(results[0]["edge"].as_str().unwrap().starts_with("knows/"));

    let reply = http.post(
        "/v1/graph/path",
        r#"{"from": "people/1", "to": "people/3", "edges": ["knows"], "weight": "w"}"#,
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json()["path"]["vertices"],
        json!(["people/1", "secret/1", "people/3"])
    );
    assert_eq!(reply.json()["path"]["weight"], json!(2.0));
    // explain: the weight comes from the adjacency (stored), no edge document is read.
    let reply = http.post(
        "/v1/graph/path",
        r#"{"from": "people/1", "to": "people/3", "edges": ["knows"], "weight": "w", "explain": true}"#,
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    let explain = reply.json()["explain"].clone();
    assert!(
        explain["plan"]
            .as_str()
            .unwrap()
            .contains("weight `w` stored in the adjacency"),
        "{explain}"
    );
    assert_eq!(
        explain["executed"]["edge_documents_read"],
        json!(0),
        "{explain}"
    );
    assert!(
        explain["executed"]["stored_property_reads"]
            .as_u64()
            .unwrap()
            > 0
    );
    let reply = http.post(
        "/v1/graph/traverse",
        r#"{"start": ["people/1"], "edges": ["knows"], "max_depth": 2, "edge_filter": {"w": {"$lt": 3}}, "explain": true}"#,
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    let explain = reply.json()["explain"].clone();
    assert_eq!(
        explain["executed"]["edge_documents_read"],
        json!(0),
        "{explain}"
    );
    assert_eq!(explain["executed"]["returned"], json!(2), "{explain}");
    assert!(explain["executed"]["adjacency_edges"].as_u64().unwrap() >= 2);
    let reply = http.post(
        "/v1/graph/path",
        r#"{"from": "people/3", "to": "people/1", "edges": ["knows"]}"#,
    );
    assert_eq!(reply.json(), json!({"path": null}));

    http.post(
        "/v1/graph/traverse",
        r#"{"start": ["people/1"], "edges": ["people"]}"#,
    )
    .assert_error(400, "not_edge_collection");
    http.post(
        "/v1/graph/traverse",
        r#"{"start": ["nope"], "edges": ["knows"]}"#,
    )
    .assert_error(400, "invalid_vertex");
    http.post(
        "/v1/graph/traverse",
        r#"{"start": ["people/1"], "edges": ["knows"], "max_depth": 65}"#,
    )
    .assert_error(400, "invalid_query");
    http.post(
        "/v1/graph/traverse",
        r#"{"start": ["people/1"], "edges": ["knows"], "extra": 1}"#,
    )
    .assert_error(400, "invalid_request");

    // A reader of `people` and `knows` only: a vertex filter never reads `secret` documents.
    let created = http.post(
        "/v1/users",
        r#"{"name": "reader", "password": "reader-password", "role": "read-only", "grants": {"secret": "none"}}"#,
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let reader = server.client(Some(basic("reader", "reader-password")));
    let reply = reader.post(
        "/v1/graph/traverse",
        r#"{"start": ["people/1"], "edges": ["knows"], "vertex_filter": {"_id": {"$exists": true}}}"#,
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json()["results"],
        json!([{"vertex": "people/2", "depth": 1}])
    );
    reader
        .post("/v1/graph/edge-collections", r#"{"name": "more"}"#)
        .assert_error(403, "forbidden");
}

#[test]
fn entity_properties_are_read_and_set_by_entity_and_name() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let server = Server::start(dir.path(), &[]);
    let http = server.root();
    assert_eq!(
        http.post("/v1/collections", r#"{"name": "patients"}"#)
            .status,
        201
    );
    let reply = http.post(
        "/v1/collections/patients/documents",
        &json!({"_id": 7, "name": "Ada", "vitals": {"pulse": 60}}).to_string(),
    );
    assert_eq!(reply.status, 201, "{}", reply.text);
    let base = "/v1/collections/patients/documents/7/properties";

    let read = http.get(&format!("{base}/name"));
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(read.json(), json!({"name": "name", "value": "Ada"}));
    let nested = http.get(&format!("{base}/vitals.pulse"));
    assert_eq!(nested.json(), json!({"name": "vitals.pulse", "value": 60}));

    // A write sets that field only and answers the entity as stored.
    let set = http.put(&format!("{base}/vitals.pulse"), r#"{"value": 72}"#);
    assert_eq!(set.status, 200, "{}", set.text);
    assert_eq!(
        set.json()["document"],
        json!({"_id": 7, "name": "Ada", "vitals": {"pulse": 72}})
    );
    let added = http.put(&format!("{base}/ward"), r#"{"value": "North"}"#);
    assert_eq!(added.status, 200, "{}", added.text);
    assert_eq!(
        http.get(&format!("{base}/ward")).json()["value"],
        json!("North")
    );

    // Missing entity, missing property, the key, and a malformed body each say what.
    assert_eq!(
        http.get("/v1/collections/patients/documents/8/properties/name")
            .error_code(),
        "document_not_found"
    );
    assert_eq!(
        http.get(&format!("{base}/height")).error_code(),
        "property_not_found"
    );
    assert_eq!(
        http.put(&format!("{base}/_id"), r#"{"value": 9}"#)
            .error_code(),
        "invalid_property"
    );
    let bad = http.put(&format!("{base}/ward"), r#"{"val": 1}"#);
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert_eq!(
        http.put(
            "/v1/collections/patients/documents/8/properties/name",
            r#"{"value": 1}"#
        )
        .error_code(),
        "document_not_found"
    );
}
