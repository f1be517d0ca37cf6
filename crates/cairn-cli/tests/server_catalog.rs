//! `cairn serve`: the catalog (`GET /v1/catalog`, filtered by tags and by what the caller may
//! read) and collection tags (`GET|PATCH /v1/collections/{c}/tags`).

mod server_support;

use serde_json::json;
use server_support::{basic, Server};

#[test]
fn catalog_lists_readable_collections_and_filters_by_tags() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let http = server.root();
    for name in ["runs", "secret"] {
        let reply = http.post("/v1/collections", &json!({ "name": name }).to_string());
        assert_eq!(reply.status, 201, "{}", reply.text);
    }
    let reply = http.post(
        "/v1/collections/runs/documents",
        r#"{"_id": 1, "loss": 0.1}"#,
    );
    assert_eq!(reply.status, 201, "{}", reply.text);
    let tagged = http.patch(
        "/v1/collections/runs/tags",
        r#"{"set": {"alpha": "0.55", "model": "v2"}}"#,
    );
    assert_eq!(tagged.status, 200, "{}", tagged.text);
    assert_eq!(
        tagged.json()["tags"],
        json!({"alpha": "0.55", "model": "v2"})
    );

    let all = http.get("/v1/catalog");
    assert_eq!(all.status, 200, "{}", all.text);
    let entries = all.json()["entries"].clone();
    assert_eq!(entries.as_array().unwrap().len(), 2, "{entries}");
    assert_eq!(entries[0]["name"], "runs");
    assert_eq!(entries[0]["documents"], 1);
    assert!(
        entries[0]["columns"]
            .as_array()
            .unwrap()
            .contains(&json!({"path": "loss", "types": ["float"]})),
        "{entries}"
    );
    let filtered = http.get("/v1/catalog?tags=alpha=0.55,model=v2").json();
    assert_eq!(filtered["entries"].as_array().unwrap().len(), 1);
    let none = http.get("/v1/catalog?tags=alpha=0.56").json();
    assert_eq!(none["entries"], json!([]));

    let removed = http.patch("/v1/collections/runs/tags", r#"{"remove": ["alpha"]}"#);
    assert_eq!(removed.json()["tags"], json!({"model": "v2"}));
    assert_eq!(
        http.get("/v1/collections/runs/tags").json()["tags"],
        json!({"model": "v2"})
    );

    http.get("/v1/catalog?tags=novalue")
        .assert_error(400, "invalid_tag");
    http.patch("/v1/collections/runs/tags", r#"{"set": {"": "x"}}"#)
        .assert_error(400, "invalid_tag");
    http.patch("/v1/collections/nope/tags", r#"{"set": {"a": "b"}}"#)
        .assert_error(404, "collection_not_found");

    // Nothing was imported here: no lineage yet, in either form.
    let lineage = http.get("/v1/collections/runs/lineage?format=openlineage");
    assert_eq!(lineage.status, 200, "{}", lineage.text);
    assert_eq!(
        lineage.json(),
        json!({"upstream": [], "downstream": [], "openlineage": []})
    );
    http.get("/v1/collections/runs/lineage?format=xml")
        .assert_error(400, "invalid_query");
    http.get("/v1/collections/nope/lineage")
        .assert_error(404, "collection_not_found");

    // A user who may read only `runs` sees only `runs`, and may not tag it.
    let reply = http.post(
        "/v1/users",
        r#"{"name": "reader", "password": "reader-password", "role": "none", "grants": {"runs": "read-only"}}"#,
    );
    assert_eq!(reply.status, 201, "{}", reply.text);
    let reader = server.client(Some(basic("reader", "reader-password")));
    let seen = reader.get("/v1/catalog").json();
    assert_eq!(seen["entries"].as_array().unwrap().len(), 1, "{seen}");
    assert_eq!(seen["entries"][0]["name"], "runs");
    reader
        .patch("/v1/collections/runs/tags", r#"{"set": {"a": "b"}}"#)
        .assert_error(403, "forbidden");
}
